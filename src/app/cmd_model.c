/* cmd_model — `ragd model`: the model service role. CPU-bound and stateless:
 * POST /encode, POST /v1/embeddings, GET|POST /llm_ask; scale it out with
 * replicas behind one or more gateways. */
#include <stdio.h>
#include <string.h>

#include "app/commands.h"
#include "app/model_stack.h"
#include "app/openai_models.h"
#include "app/server_opts.h"
#include "app/web.h"
#include "obs/ragd_metrics.h"
#include "app/version.h"

static void describe(void *ctx, json_t *health) {
    model_stack *m = ctx;
    const encoder_info *info = encoder_get_info(m->encoder);
    json_object_set_new(health, "model", json_string(info->model_name));
    json_object_set_new(health, "weights", json_string(info->real_weights ? "real" : "random twin"));
    json_object_set_new(health, "llm", json_string(llm_name(m->llm)));
    json_object_set_new(health, "encode_queue", json_integer(batcher_queued(m->batcher)));
}

int cmd_model(int argc, char **argv) {
    server_opts so;
    encoder_opts eo;
    llm_opts lo;
    server_opts_defaults(&so, 8080);
    encoder_opts_defaults(&eo);
    llm_opts_defaults(&lo);
    option_spec specs[SERVER_OPTS_COUNT + ENCODER_OPTS_COUNT + LLM_OPTS_COUNT];
    server_opts_specs(&so, specs);
    encoder_opts_specs(&eo, specs + SERVER_OPTS_COUNT);
    llm_opts_specs(&lo, specs + SERVER_OPTS_COUNT + ENCODER_OPTS_COUNT);
    command_info info = {"model", "", "Run the model service: sentence embeddings and the LLM over HTTP."};
    int npos = 0;
    int rc = options_parse(&info, specs, (int)(sizeof specs / sizeof specs[0]), argc, argv, &npos);
    if (rc != OPTIONS_OK) return rc == OPTIONS_HELP ? 0 : 2;
    if (npos) {
        fprintf(stderr, "ragd model: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    if (server_opts_apply_logging(&so, "model") < 0) return 2;
    server_block_signals();

    model_stack m;
    if (model_stack_open(&m, &eo, &lo, "model") < 0) return 1;
    web_role role = {.role = "model", .describe = describe, .ctx = &m};
    route_list routes = {0};
    web_add_routes(&routes, &role);
    model_routes_add(&routes, &m.service);
    openai_catalog models;
    openai_catalog_init(&models);
    openai_catalog_add(&models, ENCODER_MODEL_NAME, "sentence-transformers");
    openai_models_add_routes(&routes, &models);
    rc = server_run(&so, "model", &routes);
    model_stack_close(&m);
    server_opts_stop_logging();
    return rc;
}
