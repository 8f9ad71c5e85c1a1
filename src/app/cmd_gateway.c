/* cmd_gateway — `ragd gateway`: the entry point of the split deployment
 * (the Python system's FastAPI gateway). IO-bound by design: it answers
 * POST /ask from the store in its data directory, and asks `ragd model`
 * replicas over HTTP for everything CPU-heavy (encoding the question, the
 * LLM) through a round-robin, health-checked client (model_client.h).
 *
 * What it loads itself: the store (whose BM25 analyzer is built in) — never
 * the model.
 *
 * Which model: the store records the identity of the model its vectors came
 * from; the gateway opens the store accepting any identity and then requires
 * every replica to run that one (a replica's /health says "weights": "real"
 * or "random twin"). The check is continuous, in the health prober, rather
 * than once at start-up, so the gateway can start before its model services,
 * and a replica restarted with other weights is taken out of rotation with
 * the reason in /health instead of silently making vector search meaningless.
 */
#include <limits.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "app/ask.h"
#include "app/commands.h"
#include "app/model_client.h"
#include "app/remote_pipeline.h"
#include "app/retrieval.h"
#include "app/server_opts.h"
#include "app/version.h"
#include "app/web.h"
#include "model/encoder.h"
#include "obs/log.h"
#include "obs/process_metrics.h"
#include "obs/ragd_metrics.h"
#include "store/store.h"
#include "util/util.h"

#define MAX_MODEL_URLS 64

typedef struct gateway_state {
    store *store;
    model_client *client;
} gateway_state;

static void describe(void *ctx, json_t *health) {
    gateway_state *g = ctx;
    json_object_set_new(health, "model", json_string(store_model(g->store)));
    json_object_set_new(health, "passages", json_integer((json_int_t)store_count(g->store, NULL)));
    json_object_set_new(health, "model_services_up", json_integer(model_client_up_count(g->client)));
    json_object_set_new(health, "model_services", model_client_describe(g->client));
}

static bool ready(void *ctx, buf *why) {
    gateway_state *g = ctx;
    if (store_count(g->store, NULL) == 0) {
        buf_puts(why, "the store is empty");
        return false;
    }
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

static void publish_store_metrics(const store *st) {
    const char *const *names;
    int n = store_topics(st, &names);
    for (int i = 0; i < n; i++) ragd_metrics_store_passages(names[i], (double)store_count(st, names[i]));
}

int cmd_gateway(int argc, char **argv) {
    server_opts so;
    server_opts_defaults(&so, 8000);
    option_strings model_urls = {.items = {"http://127.0.0.1:8080"}, .n = 1, .provisional = true};
    const char *data_dir = "./data";
    int max_per_article = RETRIEVAL_DEFAULT_MAX_PER_ARTICLE;
    int workers = 64, max_inflight = 1024;
    double upstream_timeout = 30, connect_timeout = 1, health_interval = 1;
    enum { EXTRA = 8 };
    option_spec specs[SERVER_OPTS_COUNT + EXTRA];
    server_opts_specs(&so, specs);
    int n = SERVER_OPTS_COUNT;
    specs[n++] = (option_spec){"model-url", "RAGD_MODEL_URLS", OPT_STRING_LIST, &model_urls, "a model service's base URL (commas separate several)", 0, 0};
    specs[n++] = (option_spec){"data-dir", "RAGD_DATA_DIR", OPT_STRING, &data_dir, "the store's directory (built by 'ragd ingest')", 0, 0};
    specs[n++] = (option_spec){"workers", "RAGD_WORKERS", OPT_INT, &workers, "threads running /ask (each waits on the model services)", 1, 4096};
    specs[n++] = (option_spec){"max-inflight", "RAGD_MAX_INFLIGHT", OPT_INT, &max_inflight, "questions queued or running before 429", 1, 1 << 20};
    specs[n++] = (option_spec){"max-per-article", "RAGD_MAX_PER_ARTICLE", OPT_INT, &max_per_article, "sources of one article a question gets unless it says 'max_per_article' (0: no cap)", 0, RETRIEVAL_MAX_PER_ARTICLE_LIMIT};
    specs[n++] = (option_spec){"upstream-timeout", "RAGD_UPSTREAM_TIMEOUT", OPT_DOUBLE, &upstream_timeout, "seconds one model-service call may take, answer stream included, before 504 (0: no limit)", 0, 0};
    specs[n++] = (option_spec){"connect-timeout", "RAGD_CONNECT_TIMEOUT", OPT_DOUBLE, &connect_timeout, "seconds to connect to a model service", 0, 0};
    specs[n++] = (option_spec){"health-interval", "RAGD_HEALTH_INTERVAL", OPT_DOUBLE, &health_interval, "seconds between health probes of the model services", 0, 0};
    command_info info = {"gateway", "",
                         "Run the gateway: POST /ask from the local store, encoding and the LLM on "
                         "remote model services."};
    int npos = 0;
    int rc = options_parse(&info, specs, n, argc, argv, &npos);
    if (rc != OPTIONS_OK) return rc == OPTIONS_HELP ? 0 : 2;
    if (npos) {
        fprintf(stderr, "ragd gateway: unexpected argument '%s'\n", argv[1]);
        return 2;
    }
    if (upstream_timeout < 0 || connect_timeout < 0 || health_interval <= 0) {
        fprintf(stderr, "ragd gateway: timeouts must be >= 0 and --health-interval > 0\n");
        return 2;
    }
    char *url_storage = NULL;
    const char *urls[MAX_MODEL_URLS];
    int nurls = split_urls(&model_urls, &url_storage, urls);
    if (nurls < 0) {
        free(url_storage);
        return 2;
    }
    if (server_opts_apply_logging(&so, "gateway") < 0) {
        free(url_storage);
        return 2;
    }
    server_block_signals();
    ragd_metrics_register();
    process_metrics_register(RAGD_VERSION);

    char err[512];
    gateway_state g = {0};
    rc = 1;
    if (!store_exists(data_dir)) {
        log_error("ragd gateway: no store in %s (build it with 'ragd ingest --data-dir %s')",
                  data_dir, data_dir);
        goto out;
    }
    if (!(g.store = store_open(data_dir, NULL, err, sizeof err))) {
        log_error("ragd gateway: %s", err);
        goto out;
    }
    publish_store_metrics(g.store);
    model_client_options mo = {.urls = urls, .nurls = nurls, .timeout_s = upstream_timeout,
                               .connect_timeout_s = connect_timeout,
                               .probe_interval_s = health_interval,
                               .probe_timeout_s = health_interval < 1 ? health_interval / 2 : 0.5,
                               .expected_model = store_model(g.store)};
    if (!(g.client = model_client_start(&mo, err, sizeof err))) {
        log_error("ragd gateway: %s", err);
        goto out;
    }
    log_fields(LOG_INFO, "gateway ready",
               (log_field[]){LOG_STR("data_dir", data_dir), LOG_STR("model", store_model(g.store)),
                             LOG_INT("passages", store_count(g.store, NULL)),
                             LOG_INT("model_services", nurls),
                             LOG_INT("model_services_up", model_client_up_count(g.client))},
               5);

    pipeline p = {.store = g.store, .workers = workqueue_start("ragd-ask", workers, max_inflight)};
    p.max_per_article = max_per_article ? max_per_article : -1;
    remote_pipeline_init(&p, g.client);
    web_role role = {.role = "gateway", .ready = ready, .describe = describe, .ctx = &g};
    route_list routes = {0};
    web_add_routes(&routes, &role);
    ask_add_routes(&routes, &p);
    rc = server_run(&so, "gateway", &routes);
    workqueue_stop(p.workers); /* its threads' curl handles go with them */
out:
    model_client_stop(g.client);
    if (g.store) store_close(g.store);
    free(url_storage);
    server_opts_stop_logging();
    return rc;
}
