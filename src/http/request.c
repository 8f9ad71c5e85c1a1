/* request — what a handler can read about its request: method, path, id,
 * headers, query parameters and the body (raw or as a JSON object). */
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "http/server_internal.h"
#include "util/util.h"

const char *http_request_method(const http_request *r) { return r->method; }
const char *http_request_path(const http_request *r) { return r->path; }
const char *http_request_id(const http_request *r) { return r->id; }

const char *http_request_header(const http_request *r, const char *name) {
    return r->conn ? MHD_lookup_connection_value(r->conn, MHD_HEADER_KIND, name) : NULL;
}

const char *http_request_query(const http_request *r, const char *name) {
    return r->conn ? MHD_lookup_connection_value(r->conn, MHD_GET_ARGUMENT_KIND, name) : NULL;
}

typedef struct query_walk {
    const char *name;
    http_query_fn fn;
    void *ctx;
    int count;
} query_walk;

static enum MHD_Result query_visit(void *cls, enum MHD_ValueKind kind, const char *key,
                                   const char *value) {
    query_walk *w = cls;
    if (key && !strcmp(key, w->name)) {
        w->fn(value ? value : "", w->ctx);
        w->count++;
    }
    return MHD_YES;
}

int http_request_query_all(const http_request *r, const char *name, http_query_fn fn, void *ctx) {
    if (!r->conn) return 0;
    query_walk w = {name, fn, ctx, 0};
    MHD_get_connection_values(r->conn, MHD_GET_ARGUMENT_KIND, query_visit, &w);
    return w.count;
}

const char *http_request_body(const http_request *r, size_t *len) {
    if (len) *len = r->body.len;
    return r->body.data ? r->body.data : "";
}

bool http_request_wants_sse(const http_request *r) {
    const char *accept = http_request_header(r, "Accept");
    return accept && strcasestr(accept, "text/event-stream");
}

double http_request_elapsed(const http_request *r) {
    return (double)(now_ns() - r->start_ns) / 1e9;
}

json_t *http_request_json(http_request *r) {
    if (r->parsed) return r->parsed;
    const char *ctype = http_request_header(r, "Content-Type");
    if (!ctype || strncasecmp(ctype, "application/json", 16) ||
        (ctype[16] && ctype[16] != ';' && ctype[16] != ' ')) {
        http_respond_error(r, 415, "Content-Type must be application/json (got %s)",
                           ctype ? ctype : "none");
        return NULL;
    }
    if (r->body.len == 0) {
        http_respond_error(r, 400, "the request body is empty; a JSON object is expected");
        return NULL;
    }
    json_error_t jerr;
    /* JSON_ALLOW_NUL: "\u0000" is a valid JSON string; handlers read strings
     * with json_string_length. A raw control byte is still invalid JSON. */
    json_t *doc = json_loadb(r->body.data, r->body.len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!doc) {
        http_respond_error(r, 400, "invalid JSON at line %d, column %d: %s", jerr.line,
                           jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        http_respond_error(r, 400, "the body must be a JSON object");
        return NULL;
    }
    r->parsed = doc;
    return doc;
}
