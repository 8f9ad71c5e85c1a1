/* server_opts — the options every serving role shares (bind address, limits,
 * auth, logging) and the life of a server process: start, wait for SIGINT or
 * SIGTERM, stop cleanly. */
#ifndef RAGD_APP_SERVER_OPTS_H
#define RAGD_APP_SERVER_OPTS_H

#include "app/options.h"
#include "app/routes.h"
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
    const char *log_level;
    const char *loki_url;
} server_opts;

/* Defaults for a role listening on port. */
void server_opts_defaults(server_opts *o, int port);

/* The option_spec entries for o (SERVER_OPTS_COUNT of them) written to specs. */
#define SERVER_OPTS_COUNT 11
void server_opts_specs(server_opts *o, option_spec *specs);

/* Apply logging options (level, Loki push) for role and register the metric
 * families every role exports. Returns -1 with a message on a bad value. */
int server_opts_apply_logging(const server_opts *o, const char *role);
/* Release what apply_logging started (the Loki client). */
void server_opts_stop_logging(void);

/* Start the HTTP server on these options and routes, log where it listens,
 * block until SIGINT/SIGTERM, then stop it. Returns the exit status. */
int server_run(const server_opts *o, const char *role, const route_list *routes);

/* The same, split: start… */
http_server *server_start(const server_opts *o, const char *role, const route_list *routes);
/* …and wait for SIGINT or SIGTERM (server_block_signals must have run). */
void server_wait_for_signal(void);
/* Take over SIGINT/SIGTERM (and ignore SIGPIPE): call first thing in a
 * server command. Until server_wait_for_signal runs, a stop signal exits at
 * once; afterwards it makes that call return. */
void server_block_signals(void);

#endif
