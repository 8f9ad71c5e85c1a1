/* cmd_serve — `ragd serve`, the embedded default: gateway, model and store in
 * one process, with no network hop between them. On first start (no store
 * in the data directory) it ingests the corpus, then serves: /ask, the model
 * service's routes, and the common ones. */
#include "app/ask.h"
#include "app/commands.h"
#include "app/local_pipeline.h"
#include "app/model_stack.h"
#include "app/openai_models.h"
#include "app/role.h"
#include "app/store_facts.h"
#include "app/web.h"
#include "ingest/ingest.h"
#include "obs/log.h"
#include "store/store.h"
#include "util/util.h"

typedef struct serve_state {
    model_stack model;
    store *store;
} serve_state;

static void describe(void *ctx, json_t *health) {
    serve_state *s = ctx;
    model_stack_describe(&s->model, health);
    store_facts_describe(s->store, health);
}

static bool ready(void *ctx, buf *why) {
    serve_state *s = ctx;
    return store_facts_ready(s->store, why);
}

/* The store in data_dir, ingesting csv first when there is none (unless
 * no_ingest). NULL after logging why. */
static store *open_store(serve_state *s, const char *data_dir, const char *csv, bool no_ingest) {
    char err[512];
    if (!store_exists(data_dir)) {
        if (no_ingest) {
            log_error("ragd serve: no store in %s (run 'ragd ingest --data-dir %s')", data_dir, data_dir);
            return NULL;
        }
        log_info("no store in %s yet: ingesting %s first", data_dir, csv);
        ingest_options io = {.csv_path = csv, .data_dir = data_dir};
        if (ingest_run(&io, s->model.encoder, err, sizeof err) < 0) {
            log_error("ragd serve: ingest failed: %s", err);
            return NULL;
        }
    }
    const encoder_info *einfo = encoder_get_info(s->model.encoder);
    store *st = store_open(data_dir, encoder_tokenizer(s->model.encoder), encoder_identity(einfo),
                           err, sizeof err);
    if (!st) log_error("ragd serve: %s", err);
    return st;
}

int cmd_serve(int argc, char **argv) {
    role r;
    role_init_server(&r, "serve", "Run the all-in-one server: gateway, model and store in one process.", 8000);
    model_opts mo;
    model_opts_add(&r.options, &mo);
    const char *data_dir = "./data";
    const char *csv = "../shared/data/news-articles/Articles.csv";
    bool no_ingest = false;
    const option_spec own[] = {
        {"data-dir", "RAGD_DATA_DIR", OPT_STRING, &data_dir, "the store's directory", 0, 0},
        {"csv", "RAGD_CSV", OPT_STRING, &csv, "corpus ingested on first start", 0, 0},
        {"no-ingest", "RAGD_NO_INGEST", OPT_BOOL, &no_ingest, "fail instead of ingesting when the data directory holds no store", 0, 0},
    };
    options_add_all(&r.options, own, ARRAY_LEN(own));
    ask_opts ao;
    ask_opts_add(&r.options, &ao, "threads running /ask (they wait on the encoder's batches)");
    if (!role_begin(&r, argc, argv)) return role_end(&r, r.exit_status);

    serve_state s = {0};
    if (model_stack_open(&s.model, &mo, "serve") < 0) return role_end(&r, 1);
    s.store = open_store(&s, data_dir, csv, no_ingest);
    if (!s.store) {
        model_stack_close(&s.model);
        return role_end(&r, 1);
    }
    store_facts_publish(s.store);

    local_backend backend = {.batcher = s.model.batcher, .llm = s.model.llm};
    pipeline p = {.store = s.store, .workers = ask_workers_start(&ao, "serve")};
    int rc = 1;
    if (p.workers) {
        local_pipeline_init(&p, &backend);
        web_role facts = {.role = "serve", .ready = ready, .describe = describe, .ctx = &s};
        route_list routes = ROUTE_LIST_INIT;
        web_add_routes(&routes, &facts);
        ask_add_routes(&routes, &p);
        model_routes_add(&routes, &s.model.service);
        openai_catalog models;
        openai_catalog_init(&models);
        openai_models_add_routes(&routes, &models);
        rc = role_serve(&r, &routes);
        routes_free(&routes);
        workqueue_stop(p.workers);
    }
    store_close(s.store);
    model_stack_close(&s.model);
    return role_end(&r, rc);
}
