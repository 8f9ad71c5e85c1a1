/* routes — a growable list of HTTP routes that each role fills before it
 * starts its server. */
#ifndef RAGD_APP_ROUTES_H
#define RAGD_APP_ROUTES_H

#include "http/http.h"

#define ROUTES_MAX 32

typedef struct route_list {
    http_route items[ROUTES_MAX];
    int n;
} route_list;

static inline void routes_add(route_list *l, const char *method, const char *path,
                              http_handler_fn fn, void *ctx, size_t max_body) {
    if (l->n < ROUTES_MAX)
        l->items[l->n++] = (http_route){.method = method, .path = path, .handler = fn,
                                        .ctx = ctx, .max_body = max_body};
}

#endif
