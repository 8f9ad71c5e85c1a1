/* cmd_serve — `ragd serve`, the embedded default: gateway, model and store in
 * one process, with no network hop between them. On first start (no store
 * in the data directory) it ingests the corpus, then serves: /ask, the model
 * service's routes, and the common ones. */
#include <stdio.h>
#include <string.h>

#include "app/ask.h"
#include "app/commands.h"
#include "app/local_pipeline.h"
#include "app/model_stack.h"
#include "app/retrieval.h"
#include "app/server_opts.h"
#include "app/version.h"
#include "app/web.h"
#include "ingest/ingest.h"
#include "obs/log.h"
#include "obs/ragd_metrics.h"
#include "store/store.h"

typedef struct serve_state {
    model_stack model;
    store *store;
} serve_state;

static void describe(void *ctx, json_t *health) {
    serve_state *s = ctx;
    const encoder_info *info = encoder_get_info(s->model.encoder);
    json_object_set_new(health, "model", json_string(info->model_name));
    json_object_set_new(health, "weights", json_string(info->real_weights ? "real" : "random twin"));
    json_object_set_new(health, "llm", json_string(llm_name(s->model.llm)));
    json_object_set_new(health, "passages", json_integer((json_int_t)store_count(s->store, NULL)));
}

static bool ready(void *ctx, buf *why) {
    serve_state *s = ctx;
    if (!s->store || store_count(s->store, NULL) == 0) {
        buf_puts(why, "the store is empty");
        return false;
    }
    return true;
}

/* Store passages per topic, for /metrics. */
static void publish_store_metrics(const store *st) {
    const char *const *names;
    int n = store_topics(st, &names);
    for (int i = 0; i < n; i++) ragd_metrics_store_passages(names[i], (double)store_count(st, names[i]));
}

int cmd_serve(int argc, char **argv) {
    server_opts so;
    encoder_opts eo;
    llm_opts lo;
    server_opts_defaults(&so, 8000);
    encoder_opts_defaults(&eo);
    llm_opts_defaults(&lo);
    const char *data_dir = "./data";
    const char *csv = "../shared/data/news-articles/Articles.csv";
    int max_per_article = RETRIEVAL_DEFAULT_MAX_PER_ARTICLE;
    int workers = 64, max_inflight = 1024;
    bool no_ingest = false;
    enum { EXTRA = 6 };
    option_spec specs[SERVER_OPTS_COUNT + ENCODER_OPTS_COUNT + LLM_OPTS_COUNT + EXTRA];
    int n = 0;
    server_opts_specs(&so, specs);
    n += SERVER_OPTS_COUNT;
    encoder_opts_specs(&eo, specs + n);
    n += ENCODER_OPTS_COUNT;
    llm_opts_specs(&lo, specs + n);
    n += LLM_OPTS_COUNT;
    specs[n++] = (option_spec){"data-dir", "RAGD_DATA_DIR", OPT_STRING, &data_dir, "the store's directory", 0, 0};
    specs[n++] = (option_spec){"csv", "RAGD_CSV", OPT_STRING, &csv, "corpus ingested on first start", 0, 0};
    specs[n++] = (option_spec){"no-ingest", "RAGD_NO_INGEST", OPT_BOOL, &no_ingest, "fail instead of ingesting when the data directory holds no store", 0, 0};
    specs[n++] = (option_spec){"workers", "RAGD_WORKERS", OPT_INT, &workers, "threads running /ask (they wait on the encoder's batches)", 1, 4096};
    specs[n++] = (option_spec){"max-inflight", "RAGD_MAX_INFLIGHT", OPT_INT, &max_inflight, "questions queued or running before 429", 1, 1 << 20};
    specs[n++] = (option_spec){"max-per-article", "RAGD_MAX_PER_ARTICLE", OPT_INT, &max_per_article, "sources of one article a question gets unless it says 'max_per_article' (0: no cap)", 0, RETRIEVAL_MAX_PER_ARTICLE_LIMIT};
    command_info info = {"serve", "", "Run the all-in-one server: gateway, model and store in one process."};
    int npos = 0;
    int rc = options_parse(&info, specs, n, argc, argv, &npos);
    if (rc != OPTIONS_OK) return rc == OPTIONS_HELP ? 0 : 2;
    if (npos) {
        fprintf(stderr, "ragd serve: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    if (server_opts_apply_logging(&so, "serve") < 0) return 2;
    server_block_signals();

    serve_state s = {0};
    if (model_stack_open(&s.model, &eo, &lo, "serve") < 0) return 1;
    const encoder_info *einfo = encoder_get_info(s.model.encoder);
    char err[512];
    if (!store_exists(data_dir)) {
        if (no_ingest) {
            log_error("ragd serve: no store in %s (run 'ragd ingest --data-dir %s')", data_dir, data_dir);
            model_stack_close(&s.model);
            return 1;
        }
        log_info("no store in %s yet: ingesting %s first", data_dir, csv);
        ingest_options io = {.csv_path = csv, .data_dir = data_dir};
        if (ingest_run(&io, s.model.encoder, err, sizeof err) < 0) {
            log_error("ragd serve: ingest failed: %s", err);
            model_stack_close(&s.model);
            return 1;
        }
    }
    s.store = store_open(data_dir, encoder_identity(einfo), err,
                         sizeof err);
    if (!s.store) {
        log_error("ragd serve: %s", err);
        model_stack_close(&s.model);
        return 1;
    }
    publish_store_metrics(s.store);

    local_backend backend = {.batcher = s.model.batcher, .llm = s.model.llm};
    pipeline p = {.store = s.store, .workers = workqueue_start("ragd-ask", workers, max_inflight)};
    p.max_per_article = max_per_article ? max_per_article : -1;
    local_pipeline_init(&p, &backend);
    web_role role = {.role = "serve", .ready = ready, .describe = describe, .ctx = &s};
    route_list routes = {0};
    web_add_routes(&routes, &role);
    ask_add_routes(&routes, &p);
    model_routes_add(&routes, &s.model.service);
    rc = server_run(&so, "serve", &routes);
    workqueue_stop(p.workers);
    store_close(s.store);
    model_stack_close(&s.model);
    server_opts_stop_logging();
    return rc;
}
