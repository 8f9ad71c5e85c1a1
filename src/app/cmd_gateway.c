/* cmd_gateway — `ragd gateway`: the entry point of the split deployment
 * (the Python system's FastAPI gateway). IO-bound by design: it answers
 * POST /ask from the store in its data directory, and asks `ragd model`
 * replicas over HTTP for everything CPU-heavy (encoding the question, the
 * LLM) through a round-robin, health-checked client (model_client.h).
 *
 * What it loads itself: the store (whose BM25 analyzer is built in) and the
 * model's vocabulary (vocab.txt, to split /documents articles into passages
 * that fit the encoder's window as ingest does) — never the model's weights.
 *
 * Which model: the store records the identity of the model its vectors came
 * from; the gateway opens the store accepting any identity and then requires
 * every replica to run that one (a replica's /health says "weights": "real"
 * or "random twin"). The check is continuous, in the health prober, rather
 * than once at start-up, so the gateway can start before its model services,
 * and a replica restarted with other weights is taken out of rotation with
 * the reason in /health instead of silently making vector search meaningless.
 */
#include <stdio.h>
#include <string.h>

#include "app/ask.h"
#include "app/chat_completions.h"
#include "app/chat_page.h"
#include "app/commands.h"
#include "app/documents_routes.h"
#include "app/model_client.h"
#include "app/openai_models.h"
#include "app/remote_pipeline.h"
#include "app/role.h"
#include "app/store_facts.h"
#include "app/store_open.h"
#include "app/topics.h"
#include "app/web.h"
#include "model/model_dirs.h"
#include "model/tokenizer.h"
#include "obs/log.h"
#include "store/documents.h"
#include "util/util.h"

#define MAX_MODEL_URLS 64

typedef struct gateway_state {
    store *store;
    model_client *client;
    tokenizer *tokenizer; /* splits /documents articles */
} gateway_state;

static void describe(void *ctx, json_t *health) {
    gateway_state *g = ctx;
    json_object_set_new(health, "model", json_string(store_model_of(g->store)));
    store_facts_describe(g->store, health);
    json_object_set_new(health, "model_services_up", json_integer(model_client_up_count(g->client)));
    json_object_set_new(health, "model_services", model_client_describe(g->client));
}

static bool ready(void *ctx, buf *why) {
    gateway_state *g = ctx;
    if (!store_facts_ready(g->store, why)) return false;
    if (model_client_up_count(g->client) == 0) {
        buf_puts(why, "no model service is up: ");
        model_client_why_down(g->client, why);
        return false;
    }
    return true;
}

/* The URLs of every --model-url value, each possibly comma-separated, into
 * urls (strings owned by *storage). Returns the count, or -1 after a message. */
static int split_urls(const option_strings *given, char **storage, const char **urls) {
    buf all = BUF_INIT;
    for (int i = 0; i < given->n; i++) buf_printf(&all, "%s%s", i ? "," : "", given->items[i]);
    *storage = buf_detach(&all);
    int n = 0;
    char *save = NULL;
    for (char *u = strtok_r(*storage ? *storage : "", ", \t", &save); u; u = strtok_r(NULL, ", \t", &save)) {
        if (n == MAX_MODEL_URLS) {
            fprintf(stderr, "ragd gateway: more than %d model service URLs\n", MAX_MODEL_URLS);
            return -1;
        }
        urls[n++] = u;
    }
    if (n == 0) fprintf(stderr, "ragd gateway: --model-url is empty\n");
    return n ? n : -1;
}

/* The vocabulary that splits /documents articles. 0, or -1 after logging why. */
static int open_vocabulary(gateway_state *g, const char *model_dir) {
    char err[512];
    char *vocab = model_find_file(model_dir, "vocab.txt");
    if (!vocab) {
        log_error("ragd gateway: no vocab.txt in %s (give --model-dir: the model folder; only its "
                  "vocabulary is read, to split /documents articles into passages)",
                  model_dir ? model_dir : "./models or ../shared/models");
        return -1;
    }
    g->tokenizer = tokenizer_open(vocab, err, sizeof err);
    if (!g->tokenizer) log_error("ragd gateway: %s", err);
    free(vocab);
    return g->tokenizer ? 0 : -1;
}

/* Everything the gateway answers from: the store (its BM25 analyzer is built
 * in), the vocabulary and the client of the model services.
 * 0, or the exit status after logging why (what was opened is in g, for the
 * caller to close). */
static int open_gateway(gateway_state *g, const store_opts *so, const char *model_dir,
                        const model_client_options *base) {
    char err[1024];
    if (open_vocabulary(g, model_dir) < 0) return 1;
    if (!store_opts_on_server(so) && !store_exists(so->data_dir)) {
        log_error("ragd gateway: no store in %s (build it with 'ragd ingest --data-dir %s')",
                  so->data_dir, so->data_dir);
        return 1;
    }
    int status = 1;
    /* NULL model: the store's own, which the model services must then run */
    if (!(g->store = store_opts_open(so, NULL, true, err, sizeof err, &status))) {
        log_error("ragd gateway: %s", err);
        return status;
    }
    store_facts_publish(g->store);
    model_client_options mo = *base;
    mo.expected_model = store_model_of(g->store);
    if (!(g->client = model_client_start(&mo, err, sizeof err))) {
        log_error("ragd gateway: %s", err);
        return 1;
    }
    return 0;
}

int cmd_gateway(int argc, char **argv) {
    role r;
    role_init_server(&r, "gateway",
                     "Run the gateway: POST /ask from the local store, encoding and the LLM on "
                     "remote model services.", 8000);
    option_strings model_urls = {.items = {"http://127.0.0.1:8080"}, .n = 1, .provisional = true};
    const char *model_dir = NULL;
    double upstream_timeout = 30, connect_timeout = 1, health_interval = 1;
    int merge_threshold = STORE_DEFAULT_MERGE_PASSAGES;
    const option_spec own[] = {
        {"model-url", "RAGD_MODEL_URLS", OPT_STRING_LIST, &model_urls, "a model service's base URL (commas separate several)", 0, 0},
        {"model-dir", "RAGD_MODEL_DIR", OPT_STRING, &model_dir, "the model folder whose vocab.txt splits /documents articles (default: ./models, then ../shared/models)", 0, 0},
        {"upstream-timeout", "RAGD_UPSTREAM_TIMEOUT", OPT_DOUBLE, &upstream_timeout, "seconds one model-service call may take, answer stream included, before 504 (0: no limit)", 0, 0},
        {"connect-timeout", "RAGD_CONNECT_TIMEOUT", OPT_DOUBLE, &connect_timeout, "seconds to connect to a model service", 0, 0},
        {"health-interval", "RAGD_HEALTH_INTERVAL", OPT_DOUBLE, &health_interval, "seconds between health probes of the model services", 0, 0},
        {"merge-threshold", "RAGD_MERGE_THRESHOLD", OPT_INT, &merge_threshold, "live passages plus tombstones that start a background merge into a new snapshot (0: never)", 0, 100000000},
    };
    options_add_all(&r.options, own, ARRAY_LEN(own));
    store_opts so;
    store_opts_add(&r.options, &so, "the store's directory (built by 'ragd ingest')");
    ask_opts ao;
    ask_opts_add(&r.options, &ao, "threads running /ask and /documents writes (each waits on the model services)");
    documents_opts dopts;
    documents_opts_add(&r.options, &dopts);
    if (!role_begin(&r, argc, argv)) return role_end(&r, r.exit_status);
    if (upstream_timeout < 0 || connect_timeout < 0 || health_interval <= 0) {
        fprintf(stderr, "ragd gateway: timeouts must be >= 0 and --health-interval > 0\n");
        return role_end(&r, 2);
    }
    if (store_opts_check(&so, "gateway") < 0) return role_end(&r, 2);
    char *url_storage = NULL;
    const char *urls[MAX_MODEL_URLS];
    int nurls = split_urls(&model_urls, &url_storage, urls);
    if (nurls < 0) {
        free(url_storage);
        return role_end(&r, 2);
    }

    gateway_state g = {0};
    int rc = 1;
    model_client_options mo = {.urls = urls, .nurls = nurls, .timeout_s = upstream_timeout,
                               .connect_timeout_s = connect_timeout,
                               .probe_interval_s = health_interval,
                               .probe_timeout_s = health_interval < 1 ? health_interval / 2 : 0.5};
    int opened = open_gateway(&g, &so, model_dir, &mo);
    if (opened) rc = opened;
    if (opened == 0) {
        store_set_merge_threshold(g.store, (size_t)merge_threshold);
        char where[300];
        store_opts_where(&so, where, sizeof where);
        log_fields(LOG_INFO, "gateway ready",
                   (log_field[]){LOG_STR("store", where), LOG_STR("model", store_model_of(g.store)),
                                 LOG_INT("passages", store_passages_now(g.store)),
                                 LOG_INT("model_services", nurls),
                                 LOG_INT("model_services_up", model_client_up_count(g.client))},
                   5);
        pipeline p = {.store = g.store, .workers = ask_workers_start(&ao, "gateway"),
                      .max_per_article = ask_pipeline_max_per_article(&ao)};
        if (p.workers) {
            remote_pipeline_init(&p, g.client);
            web_role facts = {.role = "gateway", .ready = ready, .describe = describe, .ctx = &g};
            route_list routes = ROUTE_LIST_INIT;
            web_add_routes(&routes, &facts);
            ask_add_routes(&routes, &p);
            chat_completions_add_routes(&routes, &p);
            topics_add_routes(&routes, &p);
            documents_service docs = {.pipeline = &p, .tokenizer = g.tokenizer, .opts = dopts};
            documents_add_routes(&routes, &docs);
            chat_page_add_routes(&routes);
            openai_catalog models;
            openai_catalog_init(&models);
            openai_catalog_add(&models, CHAT_MODEL_NAME, "ragd");
            openai_models_add_routes(&routes, &models);
            rc = role_serve(&r, &routes);
            routes_free(&routes);
            workqueue_stop(p.workers); /* its threads' curl handles go with them */
        }
    }
    model_client_stop(g.client);
    if (g.store) store_close(g.store);
    if (g.tokenizer) tokenizer_close(g.tokenizer);
    free(url_storage);
    return role_end(&r, rc);
}
