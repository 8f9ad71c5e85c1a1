/* server_opts — shared serving options and process life (see server_opts.h). */
#include "app/server_opts.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdbool.h>
#include <unistd.h>
#include <stdio.h>
#include <string.h>

#include "app/version.h"
#include "obs/http_metrics.h"
#include "obs/log.h"
#include "obs/loki.h"
#include "obs/process_metrics.h"
#include "obs/ragd_metrics.h"
#include "util/util.h"

void server_opts_defaults(server_opts *o, int port) {
    *o = (server_opts){.host = "0.0.0.0", .port = port, .http_threads = 2, .max_body_kb = 1024,
                       .max_connections = 4096, .timeout_s = 30, .max_header_kb = 32,
                       .api_key = NULL, .cors_origin = NULL, .log_level = "info",
                       .loki_url = NULL};
}

void server_opts_specs(server_opts *o, option_spec *s) {
    int i = 0;
    s[i++] = (option_spec){"host", "RAGD_HOST", OPT_STRING, &o->host, "address to listen on", 0, 0};
    s[i++] = (option_spec){"port", "RAGD_PORT", OPT_INT, &o->port, "port to listen on (0: any free port)", 0, 65535};
    s[i++] = (option_spec){"http-threads", "RAGD_HTTP_THREADS", OPT_INT, &o->http_threads, "HTTP event-loop threads", 1, 64};
    s[i++] = (option_spec){"max-body-kb", "RAGD_MAX_BODY_KB", OPT_INT, &o->max_body_kb, "largest request body, KiB (413 past it)", 1, 1 << 20};
    s[i++] = (option_spec){"max-connections", "RAGD_MAX_CONNECTIONS", OPT_INT, &o->max_connections, "concurrent connections", 1, 1 << 20};
    s[i++] = (option_spec){"timeout", "RAGD_TIMEOUT", OPT_INT, &o->timeout_s, "seconds an idle or slow client may hold a connection", 1, 3600};
    s[i++] = (option_spec){"max-header-kb", "RAGD_MAX_HEADER_KB", OPT_INT, &o->max_header_kb, "memory per connection for the request line and headers, KiB", 4, 1024};
    s[i++] = (option_spec){"api-key", "RAGD_API_KEY", OPT_STRING, &o->api_key, "require 'Authorization: Bearer KEY' (all but /health, /ready, /metrics)", 0, 0};
    s[i++] = (option_spec){"cors-origin", "RAGD_CORS_ORIGIN", OPT_STRING, &o->cors_origin, "Access-Control-Allow-Origin value (off when unset)", 0, 0};
    s[i++] = (option_spec){"log-level", "RAGD_LOG_LEVEL", OPT_STRING, &o->log_level, "debug, info, warn or error", 0, 0};
    s[i++] = (option_spec){"loki-url", "RAGD_LOKI_URL", OPT_STRING, &o->loki_url, "push logs to this Loki (http://host:3100)", 0, 0};
}

static loki_client *loki;

int server_opts_apply_logging(const server_opts *o, const char *role) {
    log_level level;
    if (log_parse_level(o->log_level, &level) < 0) {
        fprintf(stderr, "ragd %s: --log-level must be debug, info, warn or error, got '%s'\n", role,
                o->log_level);
        return -1;
    }
    log_set_level(level);
    /* Every role exports the same families from its first scrape on. */
    http_metrics_register();
    ragd_metrics_register();
    process_metrics_register(RAGD_VERSION);
    if (o->loki_url && *o->loki_url) {
        char err[256];
        loki = loki_start(o->loki_url, role, err, sizeof err);
        if (!loki) {
            fprintf(stderr, "ragd %s: %s\n", role, err);
            return -1;
        }
    }
    return 0;
}

void server_opts_stop_logging(void) {
    loki_stop(loki);
    loki = NULL;
}

/* Stop signals: a handler, run by whichever thread the kernel picks (some
 * threads, like OpenBLAS's pool, exist before main() and cannot be made to
 * block them), writes one byte to a pipe that the main thread reads. Before
 * the server is up (the encoder loading, a first-start ingest) the handler
 * ends the process at once, which is safe: ingest is resumable and survives
 * kill -9. write() and _exit() are async-signal-safe. */
static int signal_pipe[2] = {-1, -1};
static volatile sig_atomic_t serving;
static volatile sig_atomic_t stop_signal;

static void on_stop_signal(int sig) {
    if (!serving) _exit(128 + sig);
    stop_signal = sig;
    unsigned char byte = (unsigned char)sig;
    ssize_t ignored = write(signal_pipe[1], &byte, 1);
    (void)ignored;
}

void server_block_signals(void) {
    signal(SIGPIPE, SIG_IGN);
    if (signal_pipe[0] < 0 && pipe2(signal_pipe, O_CLOEXEC) != 0) return;
    struct sigaction sa;
    memset(&sa, 0, sizeof sa);
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
}

void server_wait_for_signal(void) {
    serving = 1;
    unsigned char byte;
    while (read(signal_pipe[0], &byte, 1) < 0 && errno == EINTR) {
    }
}

http_server *server_start(const server_opts *o, const char *role, const route_list *routes) {
    signal(SIGPIPE, SIG_IGN);
    http_config cfg = HTTP_CONFIG_DEFAULTS;
    cfg.role = role;
    cfg.host = o->host;
    cfg.port = o->port;
    cfg.threads = o->http_threads;
    cfg.max_body = (size_t)o->max_body_kb * 1024;
    cfg.max_connections = o->max_connections;
    cfg.connection_timeout_s = o->timeout_s;
    cfg.max_header_bytes = (size_t)o->max_header_kb * 1024;
    cfg.api_key = o->api_key;
    cfg.cors_origin = o->cors_origin;
    char err[256];
    http_server *s = http_server_start(&cfg, routes->items, routes->n, err, sizeof err);
    if (!s) {
        log_error("ragd %s: %s", role, err);
        return NULL;
    }
    log_fields(LOG_INFO, "listening",
               (log_field[]){LOG_STR("role", role), LOG_STR("host", o->host),
                             LOG_INT("port", http_server_port(s)),
                             LOG_STR("auth", o->api_key && *o->api_key ? "api-key" : "none")},
               4);
    return s;
}

int server_run(const server_opts *o, const char *role, const route_list *routes) {
    http_server *s = server_start(o, role, routes);
    if (!s) return 1;
    server_wait_for_signal();
    log_info("stopping on signal %d", (int)stop_signal);
    http_server_stop(s);
    return 0;
}
