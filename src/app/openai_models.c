/* openai_models — GET /v1/models, GET /v1/models/{id} (see openai_models.h). */
#include "app/openai_models.h"

#include <assert.h>
#include <string.h>
#include <time.h>

#include "app/openai_error.h"
#include "model/encoder.h"
#include "util/utf8.h"

void openai_catalog_init(openai_catalog *c) {
    memset(c, 0, sizeof *c);
    c->created = (int64_t)time(NULL);
    int added = openai_catalog_add(c, ENCODER_MODEL_NAME, "sentence-transformers");
    assert(added == 0);
    (void)added;
}

const openai_model *openai_catalog_find(const openai_catalog *c, const char *id) {
    for (int i = 0; i < c->n; i++)
        if (!strcmp(c->models[i].id, id)) return &c->models[i];
    return NULL;
}

int openai_catalog_add(openai_catalog *c, const char *id, const char *owned_by) {
    assert(id && *id && owned_by);
    if (c->n >= OPENAI_MODELS_MAX || openai_catalog_find(c, id)) return -1;
    c->models[c->n++] = (openai_model){.id = id, .owned_by = owned_by};
    return 0;
}

static json_t *model_object(const openai_catalog *c, const openai_model *m) {
    return json_pack("{s:s, s:s, s:I, s:s}", "id", m->id, "object", "model", "created",
                     (json_int_t)c->created, "owned_by", m->owned_by);
}

static void get_models(http_request *r, void *ctx) {
    const openai_catalog *c = ctx;
    json_t *data = json_array();
    for (int i = 0; i < c->n; i++) json_array_append_new(data, model_object(c, &c->models[i]));
    http_respond_json(r, 200, json_pack("{s:s, s:o}", "object", "list", "data", data));
}

static void get_model(http_request *r, void *ctx) {
    const openai_catalog *c = ctx;
    const char *id = http_request_path_tail(r);
    const openai_model *m = openai_catalog_find(c, id);
    if (!m && !utf8_valid(id, strlen(id))) {
        /* The decoded path is not checked by anyone before: never echo bad UTF-8 into JSON. */
        openai_respond_error(r, 404, "model", "model_not_found", "The model id is not valid UTF-8");
        return;
    }
    if (!m) {
        openai_respond_error(r, 404, "model", "model_not_found",
                             "The model '%s' does not exist here (GET /v1/models lists the models)", id);
        return;
    }
    http_respond_json(r, 200, model_object(c, m));
}

void openai_models_add_routes(route_list *routes, const openai_catalog *c) {
    /* The handlers only read the catalog: the cast drops const for the ctx slot. */
    routes_add(routes, "GET", "/v1/models", get_models, (void *)c, 0);
    routes_add(routes, "GET", "/v1/models/*", get_model, (void *)c, 0);
}
