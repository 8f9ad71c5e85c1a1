/* request_check — see request_check.h. */
#include "app/request_check.h"

#include <assert.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "util/util.h"

bool request_reject(request_problem *p, int status, const char *fmt, ...) {
    assert(status >= 400 && status < 500); /* server faults are not a request's problem */
    p->status = status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(p->message, sizeof p->message, fmt, ap);
    va_end(ap);
    return false;
}

void http_respond_problem(http_request *r, const request_problem *p) {
    assert(p->status >= 400);
    http_respond_error(r, p->status, "%s", p->message);
}

bool check_seed(json_t *body, uint64_t *seed, request_problem *p) {
    json_t *s = json_object_get(body, "seed");
    if (!s || json_is_null(s)) return true;
    if (!json_is_integer(s) || json_integer_value(s) < 0)
        return request_reject(p, 400, "'seed' must be a non-negative integer");
    *seed = (uint64_t)json_integer_value(s);
    return true;
}

char *json_text_without_nul(const json_t *s, size_t *len) {
    const char *text = json_string_value(s);
    size_t n = json_string_length(s);
    char *out = xmalloc(n + 1);
    size_t k = 0;
    for (size_t i = 0; i < n; i++)
        if (text[i]) out[k++] = text[i];
    out[k] = '\0';
    if (len) *len = k;
    return out;
}
