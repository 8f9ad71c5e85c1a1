/* role — what every ragd command does before and after its own work, in one
 * place, so each cmd_*.c reads as a short main:
 *
 *     role r;
 *     role_init_server(&r, "model", "Run the model service…", 8080);
 *     model_opts_add(&r.options, &mo);             // option groups, then its own
 *     if (!role_begin(&r, argc, argv)) return role_end(&r, r.exit_status);
 *     … build the routes …
 *     return role_end(&r, role_serve(&r, &routes));
 *
 * role_begin parses the flags (environment, then the command line), checks
 * the count of positional arguments, sets up logging (--log-level, and for
 * servers --loki-url), and for servers registers every metric family (once,
 * for every role alike) and takes SIGINT/SIGTERM. role_serve starts the HTTP
 * server, logs where it listens, waits for a stop signal and stops it.
 */
#ifndef RAGD_APP_ROLE_H
#define RAGD_APP_ROLE_H

#include <stdbool.h>

#include "app/options.h"
#include "app/routes.h"
#include "app/server_opts.h"
#include "http/http.h"

typedef struct role {
    command_info info;       /* name, positional arguments, summary */
    option_list options;     /* the command's flags; append before role_begin */
    bool serves;             /* a server role: server options, metrics, signals */
    server_opts server;      /* filled when serves */
    const char *log_level;
    int min_positional, max_positional; /* both 0 by default: none allowed */
    int npositional;         /* after role_begin: their count (argv[1..]) */
    int exit_status;         /* after a false role_begin: 0 (help shown) or 2 */
} role;

/* A command-line tool: --log-level only. */
void role_init(role *r, const char *name, const char *args, const char *summary);
/* A server listening on default_port: the serving options as well. */
void role_init_server(role *r, const char *name, const char *summary, int default_port);

/* Parse and set up (see above). false: stop with r->exit_status. */
bool role_begin(role *r, int argc, char **argv);

/* Start the server on routes. NULL after logging why. */
http_server *role_listen(role *r, const route_list *routes);
/* role_listen, then block until SIGINT/SIGTERM and stop. The exit status. */
int role_serve(role *r, const route_list *routes);

/* Release what role_begin set up; returns status, for `return role_end(&r, rc)`. */
int role_end(role *r, int status);

#endif
