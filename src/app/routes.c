/* routes — see routes.h. */
#include "app/routes.h"

#include <assert.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

void routes_add_route(route_list *l, http_route route) {
    assert(route.method && route.path && route.path[0] == '/' && route.handler);
    for (int i = 0; i < l->n; i++) {
        if (!strcmp(l->items[i].path, route.path) && !strcmp(l->items[i].method, route.method)) {
            fprintf(stderr, "ragd: route %s %s added twice\n", route.method, route.path);
            abort();
        }
    }
    l->items = xgrow(l->items, l->n, &l->cap, sizeof *l->items);
    l->items[l->n++] = route;
    assert(l->n <= l->cap);
}

void routes_add(route_list *l, const char *method, const char *path, http_handler_fn fn,
                void *ctx, size_t max_body) {
    routes_add_route(l, (http_route){.method = method, .path = path, .handler = fn, .ctx = ctx,
                                     .max_body = max_body});
}

void routes_add_open(route_list *l, const char *method, const char *path, http_handler_fn fn,
                     void *ctx) {
    routes_add_route(l, (http_route){.method = method, .path = path, .handler = fn, .ctx = ctx,
                                     .open = true});
}

void routes_free(route_list *l) {
    free(l->items);
    *l = (route_list)ROUTE_LIST_INIT;
}
