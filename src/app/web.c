/* web — common routes (see web.h). The README (English and Russian) and the
 * API reference are rendered from Markdown once, at the first request, and
 * then served from memory. */
#include "app/web.h"

#include <md4c-html.h>
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "app/embedded.h"
#include "app/version.h"
#include "http/accept_language.h"
#include "obs/metrics.h"
#include "util/util.h"

static const char page_head[] =
    "<!doctype html>\n<html lang=\"%s\"><head><meta charset=\"utf-8\">"
    "<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">"
    "<title>%s</title><style>"
    "body{font:16px/1.5 system-ui,sans-serif;max-width:60rem;margin:2rem auto;padding:0 1rem;color:#222}"
    "pre,code{font:14px/1.4 ui-monospace,monospace;background:#f5f5f5}pre{padding:.8rem;overflow:auto}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3rem .6rem;text-align:left}"
    "h1,h2,h3{line-height:1.2}</style></head><body>\n";

static void md_out(const MD_CHAR *text, MD_SIZE size, void *ctx) { buf_append(ctx, text, size); }

static char *markdown_page_in(const char *lang, const char *title, const char *markdown,
                              size_t len) {
    buf page = BUF_INIT;
    buf_printf(&page, page_head, lang, title);
    if (md_html(markdown, (MD_SIZE)len, md_out, &page, MD_DIALECT_GITHUB, 0) != 0)
        buf_puts(&page, "<p>(the document could not be rendered)</p>");
    buf_puts(&page, "</body></html>\n");
    return buf_detach(&page);
}

char *web_markdown_page(const char *title, const char *markdown, size_t len) {
    return markdown_page_in("en", title, markdown, len);
}

/* The READMEs' language links (`[Русский](./README.ru.md) | [English](./README.md)`)
 * point at files, which is right on GitHub; served at /, they must point at
 * the page in the other language instead, whatever Accept-Language says. */
static const struct {
    const char *from, *to;
} readme_links[] = {
    {"href=\"./README.ru.md\"", "href=\"/?lang=ru\""},
    {"href=\"./README.md\"", "href=\"/?lang=en\""},
};

/* html with every occurrence of from replaced by to; takes html, returns a new string. */
static char *replace_all(char *html, const char *from, const char *to) {
    buf out = BUF_INIT;
    size_t from_len = strlen(from);
    const char *p = html;
    for (const char *hit; (hit = strstr(p, from)); p = hit + from_len) {
        buf_append(&out, p, (size_t)(hit - p));
        buf_puts(&out, to);
    }
    buf_puts(&out, p);
    free(html);
    return buf_detach(&out);
}

/* GET / in each language the README is written in; the first is the default. */
static const char *const readme_langs[] = {"en", "ru"};
static char *readme_html[ARRAY_LEN(readme_langs)];

static char *readme_page(const char *lang, const unsigned char *markdown, size_t len) {
    char *html = markdown_page_in(lang, "ragd", (const char *)markdown, len);
    for (size_t i = 0; i < ARRAY_LEN(readme_links); i++)
        html = replace_all(html, readme_links[i].from, readme_links[i].to);
    return html;
}

static pthread_once_t render_once = PTHREAD_ONCE_INIT;
static char *api_html;
static time_t started_at;

static void render_pages(void) {
    readme_html[0] = readme_page("en", embedded_readme, embedded_readme_len);
    readme_html[1] = readme_page("ru", embedded_readme_ru, embedded_readme_ru_len);
    api_html = web_markdown_page("ragd API", (const char *)embedded_api_md, embedded_api_md_len);
}

/* ?lang= picks the language outright (the pages' language links use it);
 * without it, the client's Accept-Language does. */
static void get_index(http_request *r, void *ctx) {
    size_t lang = 0;
    const char *asked = http_request_query(r, "lang");
    if (asked) {
        while (lang < ARRAY_LEN(readme_langs) && strcmp(asked, readme_langs[lang]) != 0) lang++;
        if (lang == ARRAY_LEN(readme_langs)) {
            http_respond_error(r, 400, "lang must be \"en\" or \"ru\"");
            return;
        }
    } else {
        lang = accept_language_pick(http_request_header(r, "Accept-Language"), readme_langs,
                                    ARRAY_LEN(readme_langs));
    }
    pthread_once(&render_once, render_pages);
    /* Vary on every answer of /, even to ?lang=: declaring too much only costs a
     * cache a copy, declaring too little serves someone the wrong language. */
    http_add_header(r, "Vary", "Accept-Language");
    http_add_header(r, "Content-Language", readme_langs[lang]);
    http_respond(r, 200, "text/html; charset=utf-8", readme_html[lang], strlen(readme_html[lang]));
}

static void get_docs(http_request *r, void *ctx) {
    pthread_once(&render_once, render_pages);
    http_respond(r, 200, "text/html; charset=utf-8", api_html, strlen(api_html));
}

static void get_openapi(http_request *r, void *ctx) {
    http_respond(r, 200, "application/json", (const char *)embedded_openapi, embedded_openapi_len);
}

static void get_health(http_request *r, void *ctx) {
    web_role *role = ctx;
    json_t *h = json_pack("{s:s, s:s, s:s, s:I}", "status", "ok", "role", role->role, "version",
                          RAGD_VERSION, "uptime_s", (json_int_t)(time(NULL) - started_at));
    if (role->describe) role->describe(role->ctx, h);
    http_respond_json(r, 200, h);
}

static void get_ready(http_request *r, void *ctx) {
    web_role *role = ctx;
    buf why = BUF_INIT;
    if (role->ready && !role->ready(role->ctx, &why)) {
        http_respond_overloaded(r, 503, 5, why.data ? why.data : "not ready");
    } else {
        http_respond_json(r, 200, json_pack("{s:s}", "status", "ready"));
    }
    buf_free(&why);
}

static void get_metrics(http_request *r, void *ctx) {
    buf out = BUF_INIT;
    metrics_render(&out);
    http_respond(r, 200, "text/plain; version=0.0.4; charset=utf-8", out.data ? out.data : "",
                 out.len);
    buf_free(&out);
}

void web_add_routes(route_list *routes, web_role *role) {
    if (!started_at) started_at = time(NULL);
    routes_add(routes, "GET", "/", get_index, NULL, 0);
    routes_add(routes, "GET", "/docs", get_docs, NULL, 0);
    routes_add(routes, "GET", "/openapi.json", get_openapi, NULL, 0);
    /* Probes and scrapes answer without the API key; the two polled every
     * few seconds log at debug level. */
    routes_add_route(routes, (http_route){.method = "GET", .path = "/health", .handler = get_health,
                                          .ctx = role, .open = true, .quiet = true});
    routes_add_open(routes, "GET", "/ready", get_ready, role);
    routes_add_route(routes, (http_route){.method = "GET", .path = "/metrics", .handler = get_metrics,
                                          .open = true, .quiet = true});
}
