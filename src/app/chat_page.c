/* chat_page — GET /chat (see chat_page.h). The page is one self-contained
 * HTML document (its CSS and JS inline, nothing fetched but this server's own
 * API), so the policy below can forbid every other origin. */
#include "app/chat_page.h"

#include "app/embedded.h"

static void get_chat(http_request *r, void *ctx) {
    http_add_header(r, "Content-Security-Policy",
                    "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; "
                    "connect-src 'self'; img-src 'self' data:; base-uri 'none'; form-action 'none'");
    http_add_header(r, "X-Content-Type-Options", "nosniff");
    http_add_header(r, "Referrer-Policy", "no-referrer");
    http_respond(r, 200, "text/html; charset=utf-8", (const char *)embedded_chat_html,
                 embedded_chat_html_len);
}

void chat_page_add_routes(route_list *routes) {
    /* A static page with no data in it: it loads without the API key so that
     * it can ask the person for it, and during a first ingest (first_ingest.c). */
    routes_add_open(routes, "GET", "/chat", get_chat, NULL);
}
