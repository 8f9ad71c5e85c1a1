/* routes — the growable list of HTTP routes that each role fills before it
 * starts its server (web.c, ask.c, model_routes.c and any later file add
 * theirs; nobody counts them). */
#ifndef RAGD_APP_ROUTES_H
#define RAGD_APP_ROUTES_H

#include "http/http.h"

typedef struct route_list {
    http_route *items;
    int n, cap;
} route_list;

#define ROUTE_LIST_INIT {NULL, 0, 0}

/* A route behind the API key (when one is set). max_body 0: the server's default. */
void routes_add(route_list *l, const char *method, const char *path, http_handler_fn fn,
                void *ctx, size_t max_body);
/* A route open without the API key: health probes and metrics scrapes. */
void routes_add_open(route_list *l, const char *method, const char *path, http_handler_fn fn,
                     void *ctx);
/* Append any route as given (open, quiet …). Aborts on a duplicate method + path. */
void routes_add_route(route_list *l, http_route route);
void routes_free(route_list *l);

#endif
