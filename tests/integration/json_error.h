/* json_error — the check every integration test makes of an error answer:
 * the expected status, a JSON body {"error":{"code":…,"message":…}} with a
 * non-empty message (and the given code, unless code is NULL), and
 * Content-Type application/json. Include after <cmocka.h> and jansson. */
#ifndef RAGD_TESTS_JSON_ERROR_H
#define RAGD_TESTS_JSON_ERROR_H

#include <stdlib.h>
#include <string.h>

#include "harness.h"

static inline void assert_json_error(const http_reply *r, long status, const char *code) {
    if (r->status != status) fail_msg("expected %ld, got %ld: %s", status, r->status, r->body.data);
    json_t *doc = json_loads(r->body.data, 0, NULL);
    if (!doc) fail_msg("error body is not JSON: %s", r->body.data);
    json_t *err = json_object_get(doc, "error");
    assert_true(json_is_object(err));
    const char *got = json_string_value(json_object_get(err, "code"));
    assert_non_null(got);
    if (code) assert_string_equal(got, code);
    const char *msg = json_string_value(json_object_get(err, "message"));
    assert_non_null(msg);
    assert_true(strlen(msg) > 0);
    json_decref(doc);
    char *ctype = http_reply_header(r, "Content-Type");
    assert_non_null(ctype);
    assert_string_equal(ctype, "application/json");
    free(ctype);
}

#endif
