/* openai_error — OpenAI-shaped error answers and body parsing (see openai_error.h). */
#include "app/openai_error.h"

#include <stdarg.h>
#include <string.h>
#include <strings.h>

#include "util/buf.h"

const char *openai_error_type(int status) {
    if (status == 401) return "authentication_error";
    if (status == 403) return "permission_error";
    if (status == 429) return "rate_limit_error";
    if (status >= 500) return "server_error";
    return "invalid_request_error";
}

void openai_respond_error(http_request *r, int status, const char *param, const char *code,
                          const char *fmt, ...) {
    buf msg = BUF_INIT;
    va_list ap;
    va_start(ap, fmt);
    buf_vprintf(&msg, fmt, ap);
    va_end(ap);
    json_t *err = json_object();
    json_object_set_new(err, "message", json_stringn(msg.data ? msg.data : "", msg.len));
    json_object_set_new(err, "type", json_string(openai_error_type(status)));
    json_object_set_new(err, "param", param ? json_string(param) : json_null());
    json_object_set_new(err, "code", json_string(code ? code : http_error_code(status)));
    buf_free(&msg);
    json_t *body = json_object();
    json_object_set_new(body, "error", err);
    http_respond_json(r, status, body);
}

json_t *openai_request_json(http_request *r) {
    const char *ctype = http_request_header(r, "Content-Type");
    if (!ctype || strncasecmp(ctype, "application/json", 16) ||
        (ctype[16] && ctype[16] != ';' && ctype[16] != ' ')) {
        openai_respond_error(r, 415, NULL, NULL, "Content-Type must be application/json (got %s)",
                             ctype ? ctype : "none");
        return NULL;
    }
    size_t len;
    const char *body = http_request_body(r, &len);
    if (len == 0) {
        openai_respond_error(r, 400, NULL, NULL, "the request body is empty; a JSON object is expected");
        return NULL;
    }
    json_error_t jerr;
    json_t *doc = json_loadb(body, len, JSON_REJECT_DUPLICATES | JSON_ALLOW_NUL, &jerr);
    if (!doc) {
        openai_respond_error(r, 400, NULL, NULL, "invalid JSON at line %d, column %d: %s", jerr.line,
                             jerr.column, jerr.text);
        return NULL;
    }
    if (!json_is_object(doc)) {
        json_decref(doc);
        openai_respond_error(r, 400, NULL, NULL, "the body must be a JSON object");
        return NULL;
    }
    return doc;
}
