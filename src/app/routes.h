/* routes — a growable list of HTTP routes that each role fills before it
 * starts its server. */
#ifndef RAGD_APP_ROUTES_H
#define RAGD_APP_ROUTES_H

#include <string.h>

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

/* A route of OpenAI's API: its errors in OpenAI's shape (http_route.openai_errors). */
static inline void routes_add_openai(route_list *l, const char *method, const char *path,
                                     http_handler_fn fn, void *ctx, size_t max_body) {
    routes_add(l, method, path, fn, ctx, max_body);
    if (l->n > 0 && !strcmp(l->items[l->n - 1].path, path)) l->items[l->n - 1].openai_errors = true;
}

#endif
