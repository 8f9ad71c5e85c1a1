/* web — the routes every role serves besides its own: GET / (the README as
 * HTML), /docs (the API reference as HTML), /openapi.json, /health, /ready
 * and /metrics. */
#ifndef RAGD_APP_WEB_H
#define RAGD_APP_WEB_H

#include <jansson.h>
#include <stdbool.h>

#include "app/routes.h"
#include "util/buf.h"

typedef struct web_role {
    const char *role;  /* "serve", "gateway", "model" */
    /* Ready to answer? On false, why says what is missing. NULL: always ready. */
    bool (*ready)(void *ctx, buf *why);
    /* Adds role facts (model, store size, upstreams…) to the /health object. */
    void (*describe)(void *ctx, json_t *health);
    void *ctx;
} web_role;

/* Add the common routes; role must outlive the server. */
void web_add_routes(route_list *routes, web_role *role);

/* Markdown (GitHub dialect: tables) → a complete HTML page. The caller frees. */
char *web_markdown_page(const char *title, const char *markdown, size_t len);

#endif
