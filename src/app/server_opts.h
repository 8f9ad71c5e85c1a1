/* server_opts — the options every serving role shares: bind address, limits,
 * auth, CORS, logging destination; and the http_config they make. */
#ifndef RAGD_APP_SERVER_OPTS_H
#define RAGD_APP_SERVER_OPTS_H

#include "app/options.h"
#include "http/http.h"

typedef struct server_opts {
    const char *host;
    int port;
    int http_threads;
    int max_body_kb;
    int max_connections;
    int timeout_s;
    int max_header_kb;
    const char *api_key;
    const char *cors_origin;
    const char *loki_url;
} server_opts;

/* Defaults for a role listening on port. */
void server_opts_defaults(server_opts *o, int port);
/* Append the serving options (targets in o) to l. */
void server_opts_add(option_list *l, server_opts *o);
/* The HTTP server's configuration for role; strings point into o. */
http_config server_opts_http_config(const server_opts *o, const char *role);

#endif
