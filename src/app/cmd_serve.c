/* cmd_serve — `ragd serve`, the embedded default: gateway, model and store in
 * one process, with no network hop between them. It serves /ask, the model
 * service's routes, and the common ones; on first start (no store in the
 * data directory, or an empty PostgreSQL database) it listens at once and ingests the corpus meanwhile
 * (first_ingest.h). */
#include <stdatomic.h>

#include "app/ask.h"
#include "app/chat_completions.h"
#include "app/chat_page.h"
#include "app/commands.h"
#include "app/documents_routes.h"
#include "app/first_ingest.h"
#include "app/local_pipeline.h"
#include "app/model_stack.h"
#include "app/openai_models.h"
#include "app/role.h"
#include "app/store_facts.h"
#include "app/store_open.h"
#include "app/topics.h"
#include "app/web.h"
#include "obs/log.h"
#include "store/documents.h"
#include "util/util.h"

typedef struct serve_state {
    model_stack model;
    _Atomic(store *) store;  /* set later by a first ingest's thread */
    pipeline *pipeline;
    first_ingest *first;     /* NULL unless this start ingests */
    int merge_threshold;     /* --merge-threshold */
} serve_state;

static void describe(void *ctx, json_t *health) {
    serve_state *s = ctx;
    model_stack_describe(&s->model, health);
    store_facts_describe(atomic_load(&s->store), health);
    if (s->first) first_ingest_describe(s->first, health);
}

static bool ready(void *ctx, buf *why) {
    serve_state *s = ctx;
    return store_facts_ready(atomic_load(&s->store), why);
}

/* The store, once open: on the main thread at start, or on the first
 * ingest's thread before any gated request gets through. */
static void store_ready(store *st, void *ctx) {
    serve_state *s = ctx;
    s->pipeline->store = st;
    store_set_merge_threshold(st, (size_t)s->merge_threshold);
    store_facts_publish(st);
    atomic_store(&s->store, st);
}

/* Open the store the options name, or start the first ingest that will
 * build it (unless no_ingest): an empty data directory, or a database that
 * holds no passage yet (one that holds some is served as it is). 0, or the
 * exit status after logging why. */
static int open_or_ingest(serve_state *s, const store_opts *so, const char *csv, bool no_ingest) {
    const encoder_info *einfo = encoder_get_info(s->model.encoder);
    char err[1024], where[300];
    store_opts_where(so, where, sizeof where);
    store *st = NULL;
    if (store_opts_on_server(so)) {
        int status = 1;
        if (!(st = store_opts_open(so, encoder_identity(einfo), true, err, sizeof err, &status))) {
            log_error("ragd serve: %s", err);
            return status;
        }
        if (store_passages_now(st) > 0) {
            store_ready(st, s);
            return 0;
        }
    } else if (store_exists(so->data_dir)) {
        if (!(st = store_open_writable(so->data_dir, encoder_identity(einfo), err, sizeof err))) {
            log_error("ragd serve: %s", err);
            return 1;
        }
        store_ready(st, s);
        return 0;
    }
    if (no_ingest) {
        log_error("ragd serve: no store in the %s (run 'ragd ingest %s')", where,
                  st ? "--store-url …" : "--data-dir …");
        store_close(st);
        return 1;
    }
    s->first = first_ingest_start(&(first_ingest_config){.csv_path = csv, .data_dir = so->data_dir,
                                                        .into = st, .encoder = s->model.encoder,
                                                        .on_ready = store_ready, .ctx = s});
    return 0;
}

int cmd_serve(int argc, char **argv) {
    role r;
    role_init_server(&r, "serve", "Run the all-in-one server: gateway, model and store in one process.", 8000);
    model_opts mo;
    model_opts_add(&r.options, &mo);
    const char *csv = "../shared/data/news-articles/Articles.csv";
    bool no_ingest = false;
    int merge_threshold = STORE_DEFAULT_MERGE_PASSAGES;
    const option_spec own[] = {
        {"csv", "RAGD_CSV", OPT_STRING, &csv, "corpus ingested on first start, while serving (/ready reports progress)", 0, 0},
        {"no-ingest", "RAGD_NO_INGEST", OPT_BOOL, &no_ingest, "fail instead of ingesting when the data directory holds no store", 0, 0},
        {"merge-threshold", "RAGD_MERGE_THRESHOLD", OPT_INT, &merge_threshold, "live passages plus tombstones that start a background merge into a new snapshot (0: never)", 0, 100000000},
    };
    options_add_all(&r.options, own, ARRAY_LEN(own));
    store_opts so;
    store_opts_add(&r.options, &so, "the store's directory");
    ask_opts ao;
    ask_opts_add(&r.options, &ao, "threads running /ask (they wait on the encoder's batches)");
    documents_opts dopts;
    documents_opts_add(&r.options, &dopts);
    if (!role_begin(&r, argc, argv)) return role_end(&r, r.exit_status);
    if (store_opts_check(&so, "serve") < 0) return role_end(&r, 2);

    serve_state s = {.merge_threshold = merge_threshold};
    if (model_stack_open(&s.model, &mo, "serve") < 0) return role_end(&r, 1);
    local_backend backend = {.batcher = s.model.batcher, .llm = s.model.llm,
                             .query_precision = s.model.query_precision};
    pipeline p = {.max_per_article = ask_pipeline_max_per_article(&ao)};
    s.pipeline = &p;
    int opened = open_or_ingest(&s, &so, csv, no_ingest);
    if (opened) {
        model_stack_close(&s.model);
        return role_end(&r, opened);
    }

    p.workers = ask_workers_start(&ao, "serve");
    int rc = 1;
    if (p.workers) {
        local_pipeline_init(&p, &backend);
        web_role facts = {.role = "serve", .ready = ready, .describe = describe, .ctx = &s};
        route_list routes = ROUTE_LIST_INIT;
        web_add_routes(&routes, &facts);
        ask_add_routes(&routes, &p);
        chat_completions_add_routes(&routes, &p);
        topics_add_routes(&routes, &p);
        documents_service docs = {.pipeline = &p, .tokenizer = encoder_tokenizer(s.model.encoder),
                                  .opts = dopts};
        documents_add_routes(&routes, &docs);
        chat_page_add_routes(&routes);
        model_routes_add(&routes, &s.model.service);
        openai_catalog models;
        openai_catalog_init(&models);
        openai_catalog_add(&models, CHAT_MODEL_NAME, "ragd");
        openai_models_add_routes(&routes, &models);
        if (s.first) first_ingest_gate_routes(s.first, &routes);
        rc = role_serve(&r, &routes);
        routes_free(&routes);
        workqueue_stop(p.workers);
    }
    if (first_ingest_finish(s.first)) rc = 1; /* the failure is logged already */
    store *st = atomic_load(&s.store);
    if (st) store_close(st);
    model_stack_close(&s.model);
    return role_end(&r, rc);
}
