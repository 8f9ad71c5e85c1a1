/* server_opts — see server_opts.h. */
#include "app/server_opts.h"

void server_opts_defaults(server_opts *o, int port) {
    *o = (server_opts){.host = "0.0.0.0", .port = port, .http_threads = 2, .max_body_kb = 1024,
                       .max_connections = 4096, .timeout_s = 30, .max_header_kb = 32,
                       .api_key = NULL, .cors_origin = NULL, .loki_url = NULL};
}

void server_opts_add(option_list *l, server_opts *o) {
    const option_spec specs[] = {
        {"host", "RAGD_HOST", OPT_STRING, &o->host, "address to listen on", 0, 0},
        {"port", "RAGD_PORT", OPT_INT, &o->port, "port to listen on (0: any free port)", 0, 65535},
        {"http-threads", "RAGD_HTTP_THREADS", OPT_INT, &o->http_threads, "HTTP event-loop threads", 1, 64},
        {"max-body-kb", "RAGD_MAX_BODY_KB", OPT_INT, &o->max_body_kb, "largest request body, KiB (413 past it)", 1, 1 << 20},
        {"max-connections", "RAGD_MAX_CONNECTIONS", OPT_INT, &o->max_connections, "concurrent connections", 1, 1 << 20},
        {"timeout", "RAGD_TIMEOUT", OPT_INT, &o->timeout_s, "seconds an idle or slow client may hold a connection", 1, 3600},
        {"max-header-kb", "RAGD_MAX_HEADER_KB", OPT_INT, &o->max_header_kb, "memory per connection for the request line and headers, KiB", 4, 1024},
        {"api-key", "RAGD_API_KEY", OPT_STRING, &o->api_key, "require 'Authorization: Bearer KEY' (all but /health, /ready, /metrics)", 0, 0},
        {"cors-origin", "RAGD_CORS_ORIGIN", OPT_STRING, &o->cors_origin, "Access-Control-Allow-Origin value (off when unset)", 0, 0},
        {"loki-url", "RAGD_LOKI_URL", OPT_STRING, &o->loki_url, "push logs to this Loki (http://host:3100)", 0, 0},
    };
    options_add_all(l, specs, sizeof specs / sizeof specs[0]);
}

http_config server_opts_http_config(const server_opts *o, const char *role) {
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
    return cfg;
}
