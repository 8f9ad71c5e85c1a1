/* cmd_model — `ragd model`: the model service role. CPU-bound and stateless:
 * POST /encode, POST /v1/embeddings, GET|POST /llm_ask; scale it out with
 * replicas behind one or more gateways. */
#include "app/commands.h"
#include "app/model_stack.h"
#include "app/openai_models.h"
#include "app/role.h"
#include "app/web.h"

static void describe(void *ctx, json_t *health) {
    model_stack *m = ctx;
    model_stack_describe(m, health);
    json_object_set_new(health, "encode_queue", json_integer(batcher_queued(m->batcher)));
}

int cmd_model(int argc, char **argv) {
    role r;
    role_init_server(&r, "model", "Run the model service: sentence embeddings and the LLM over HTTP.", 8080);
    model_opts mo;
    model_opts_add(&r.options, &mo);
    if (!role_begin(&r, argc, argv)) return role_end(&r, r.exit_status);

    model_stack m;
    if (model_stack_open(&m, &mo, "model") < 0) return role_end(&r, 1);
    web_role facts = {.role = "model", .describe = describe, .ctx = &m};
    route_list routes = ROUTE_LIST_INIT;
    web_add_routes(&routes, &facts);
    model_routes_add(&routes, &m.service);
    openai_catalog models;
    openai_catalog_init(&models);
    openai_models_add_routes(&routes, &models);
    int rc = role_serve(&r, &routes);
    routes_free(&routes);
    model_stack_close(&m);
    return role_end(&r, rc);
}
