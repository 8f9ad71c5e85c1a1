/* test_bad_input — the bad-input table of the model service over real HTTP:
 * `ragd model` on loopback gets every kind of malformed request on POST
 * /encode, POST /v1/embeddings and GET|POST /llm_ask — invalid JSON, wrong
 * types, missing fields, empty strings and arrays, huge strings and bodies,
 * invalid UTF-8, NUL characters, deep nesting, numbers out of range, wrong
 * methods and content types, truncated, chunked and pipelined bodies.
 *
 * Every bad case must get its 4xx status with the JSON error body
 * {"error":{"code":…,"message":…}} (the OpenAI routes add type and param to
 * it; test_openai_api checks those), every valid one its 2xx answer, and after
 * each case the server must still answer a good request. The cases run in
 * one table so a new one is one line.
 *
 * Leaks: the model service is stopped with SIGTERM after all of it and must
 * exit cleanly with nothing in its log from a sanitizer; then a `ragd serve`
 * (ask_fixture's small corpus) gets one request of every kind — /ask as JSON
 * and SSE in each mode, its bad cases, a client leaving mid-stream, the
 * model routes and the common ones — and must exit cleanly too. In the
 * sanitizer build (scripts/test.sh runs it with ASAN_OPTIONS=detect_leaks=1,
 * and RAGD_BIN is the sanitized binary) that is LeakSanitizer's verdict on a
 * full request cycle of every route; in the release build it checks the
 * clean shutdown only.
 */
#include <arpa/inet.h>
#include <errno.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ask_fixture.h"
#include "harness.h"
#include "util/util.h"

/* Small limits so the "too large" cases stay cheap: 8 texts of 1 KiB per
 * request (so the /encode body limit is 8 KiB), 64 prompts, 50 contexts. */
static const char *const model_args[] = {"model",         "--threads",     "1", "--llm-workers",
                                         "4",             "--max-texts",   "8", "--max-text-kb",
                                         "1",             NULL};
static ragd_proc server;

static int start_server(void **state) {
    return ragd_start(&server, model_args, 60);
}

static int stop_server(void **state) {
    if (server.pid > 0) ragd_stop(&server);
    return 0;
}

/* ---- checking answers ---- */

/* {"error":{"code":str,"message":non-empty str}} with Content-Type application/json. */
static void check_json_error(const char *what, long status, const char *headers,
                             const char *body, long want_status, const char *want_code) {
    if (status != want_status)
        fail_msg("%s: status %ld, expected %ld; body: %.300s", what, status, want_status, body);
    const char *ct = strcasestr(headers, "\nContent-Type:");
    if (!ct || strncasecmp(ct + 14 + strspn(ct + 14, " "), "application/json", 16))
        fail_msg("%s: the error is not application/json; headers:\n%s", what, headers);
    json_error_t jerr;
    json_t *doc = json_loads(body, 0, &jerr);
    if (!doc) fail_msg("%s: the error body is not JSON (%s): %.300s", what, jerr.text, body);
    json_t *err = json_object_get(doc, "error");
    const char *code = json_string_value(json_object_get(err, "code"));
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (!code || !msg || !*msg) fail_msg("%s: not {\"error\":{code,message}}: %.300s", what, body);
    if (want_code && strcmp(code, want_code))
        fail_msg("%s: code '%s', expected '%s' (%s)", what, code, want_code, msg);
    json_decref(doc);
}

static void url_of(const char *path, char *out, size_t outlen) { ragd_url(&server, path, out, outlen); }

/* The good request that must work after every bad one. */
static void assert_still_serving(const char *after) {
    if (!ragd_alive(&server)) fail_msg("ragd model died after: %s", after);
    char url[256];
    url_of("/encode", url, sizeof url);
    http_reply r;
    const char body[] = "{\"texts\":[\"still serving\"]}";
    if (http_call("POST", url, "application/json", body, sizeof body - 1, NULL, &r) != 0)
        fail_msg("no answer to a good /encode after: %s", after);
    if (r.status != 200) fail_msg("good /encode got %ld after: %s", r.status, after);
    json_t *doc = json_loads(r.body.data, 0, NULL);
    json_t *emb = json_array_get(json_object_get(doc, "embeddings"), 0);
    if (json_array_size(emb) != 384) fail_msg("good /encode lost its vector after: %s", after);
    json_decref(doc);
    http_reply_free(&r);
}

/* ---- the table over curl ---- */

typedef struct bad_case {
    const char *name;
    const char *method;
    const char *path;         /* with the query string for GET */
    const char *content_type; /* NULL: none sent */
    const char *body;         /* NULL: no body */
    size_t body_len;          /* 0: strlen(body) */
    long status;
    const char *code;         /* the error code, or NULL for a 2xx answer */
} bad_case;

#define JSON "application/json"

static const bad_case cases[] = {
    /* ---- POST /encode ---- */
    {"encode: invalid JSON", "POST", "/encode", JSON, "{\"texts\": [\"a\"", 0, 400, "bad_request"},
    {"encode: trailing garbage", "POST", "/encode", JSON, "{\"text\":\"a\"} x", 0, 400, "bad_request"},
    {"encode: body not an object", "POST", "/encode", JSON, "[\"a\",\"b\"]", 0, 400, "bad_request"},
    {"encode: body a bare string", "POST", "/encode", JSON, "\"a\"", 0, 400, "bad_request"},
    {"encode: empty body", "POST", "/encode", JSON, "", 0, 400, "bad_request"},
    {"encode: texts a number", "POST", "/encode", JSON, "{\"texts\":5}", 0, 400, "bad_request"},
    {"encode: texts an object", "POST", "/encode", JSON, "{\"texts\":{\"a\":1}}", 0, 400, "bad_request"},
    {"encode: texts with a number", "POST", "/encode", JSON, "{\"texts\":[\"a\",1]}", 0, 400, "bad_request"},
    {"encode: texts with null", "POST", "/encode", JSON, "{\"texts\":[null]}", 0, 400, "bad_request"},
    {"encode: text a number", "POST", "/encode", JSON, "{\"text\":5}", 0, 400, "bad_request"},
    {"encode: text an array of arrays", "POST", "/encode", JSON, "{\"texts\":[[\"a\"]]}", 0, 400, "bad_request"},
    {"encode: missing texts and text", "POST", "/encode", JSON, "{\"txt\":\"a\"}", 0, 422, "unprocessable_entity"},
    {"encode: empty object", "POST", "/encode", JSON, "{}", 0, 422, "unprocessable_entity"},
    {"encode: empty texts", "POST", "/encode", JSON, "{\"texts\":[]}", 0, 422, "unprocessable_entity"},
    {"encode: duplicate key", "POST", "/encode", JSON, "{\"text\":\"a\",\"text\":\"b\"}", 0, 400, "bad_request"},
    {"encode: invalid UTF-8", "POST", "/encode", JSON, "{\"texts\":[\"caf\xe9\"]}", 0, 400, "bad_request"},
    {"encode: overlong UTF-8", "POST", "/encode", JSON, "{\"texts\":[\"\xc0\xaf\"]}", 0, 400, "bad_request"},
    {"encode: lone surrogate escape", "POST", "/encode", JSON, "{\"texts\":[\"\\ud800\"]}", 0, 400, "bad_request"},
    {"encode: texts a string (422: 'text' is the one-string form)", "POST", "/encode", JSON, "{\"texts\":\"abc\"}", 0, 422, "unprocessable_entity"},
    {"encode: valid, \\u0000 in a string", "POST", "/encode", JSON, "{\"texts\":[\"a\\u0000b\"]}", 0, 200, NULL},
    {"encode: valid, \\u0000 alone", "POST", "/encode", JSON, "{\"text\":\"\\u0000\"}", 0, 200, NULL},
    {"encode: valid, C0 controls", "POST", "/encode", JSON, "{\"texts\":[\"control\\u0007char\\u0000nul\\u001b\\u0001\"]}", 0, 200, NULL},
    {"encode: valid, lone combining mark", "POST", "/encode", JSON, "{\"texts\":[\"\\u0301\",\"a\\u0000\\u0301b\"]}", 0, 200, NULL},
    {"encode: raw NUL byte in the body", "POST", "/encode", JSON, "{\"texts\":[\"a\0b\"]}",
     sizeof "{\"texts\":[\"a\0b\"]}" - 1, 400, "bad_request"},
    {"encode: raw control character", "POST", "/encode", JSON, "{\"texts\":[\"a\x01\"]}", 0, 400, "bad_request"},
    {"encode: 9 texts (limit 8)", "POST", "/encode", JSON,
     "{\"texts\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}", 0, 413, "payload_too_large"},
    {"encode: wrong content type", "POST", "/encode", "text/plain", "{\"text\":\"a\"}", 0, 415, "unsupported_media_type"},
    {"encode: form content type", "POST", "/encode", "application/x-www-form-urlencoded", "text=a", 0, 415, "unsupported_media_type"},
    {"encode: json prefix type", "POST", "/encode", "application/jsonp", "{\"text\":\"a\"}", 0, 415, "unsupported_media_type"},
    {"encode: no content type", "POST", "/encode", NULL, "{\"text\":\"a\"}", 0, 415, "unsupported_media_type"},
    {"encode: GET", "GET", "/encode", NULL, NULL, 0, 405, "method_not_allowed"},
    {"encode: PUT", "PUT", "/encode", JSON, "{\"text\":\"a\"}", 0, 405, "method_not_allowed"},
    {"encode: DELETE", "DELETE", "/encode", NULL, NULL, 0, 405, "method_not_allowed"},
    {"encode: valid, charset parameter", "POST", "/encode", "application/json; charset=utf-8", "{\"text\":\"a\"}", 0, 200, NULL},
    {"encode: valid, empty string", "POST", "/encode", JSON, "{\"texts\":[\"\"]}", 0, 200, NULL},
    {"encode: valid, escapes and emoji", "POST", "/encode", JSON, "{\"texts\":[\"caf\\u00e9 \\ud83d\\ude00 \\\"q\\\"\"]}", 0, 200, NULL},
    {"encode: valid, 8 texts", "POST", "/encode", JSON,
     "{\"texts\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\"]}", 0, 200, NULL},

    /* ---- POST /v1/embeddings ---- */
    {"embeddings: invalid JSON", "POST", "/v1/embeddings", JSON, "{\"input\":", 0, 400, "bad_request"},
    {"embeddings: missing input", "POST", "/v1/embeddings", JSON, "{\"model\":\"x\"}", 0, 422, "unprocessable_entity"},
    {"embeddings: input a number", "POST", "/v1/embeddings", JSON, "{\"input\":5}", 0, 400, "bad_request"},
    {"embeddings: empty input", "POST", "/v1/embeddings", JSON, "{\"input\":[]}", 0, 422, "unprocessable_entity"},
    {"embeddings: format a number", "POST", "/v1/embeddings", JSON, "{\"input\":\"a\",\"encoding_format\":1}", 0, 400, "bad_request"},
    {"embeddings: invalid UTF-8", "POST", "/v1/embeddings", JSON, "{\"input\":\"\xff\xfe\"}", 0, 400, "bad_request"},
    {"embeddings: wrong content type", "POST", "/v1/embeddings", "text/json", "{\"input\":\"a\"}", 0, 415, "unsupported_media_type"},
    {"embeddings: GET", "GET", "/v1/embeddings", NULL, NULL, 0, 405, "method_not_allowed"},
    {"embeddings: valid, token arrays", "POST", "/v1/embeddings", JSON, "{\"input\":[[1,2,3]]}", 0, 200, NULL},
    {"embeddings: valid, base64", "POST", "/v1/embeddings", JSON, "{\"input\":\"a\",\"encoding_format\":\"base64\"}", 0, 200, NULL},
    {"embeddings: valid", "POST", "/v1/embeddings", JSON, "{\"input\":[\"a\",\"b\"],\"model\":\"all-MiniLM-L6-v2\",\"encoding_format\":\"float\"}", 0, 200, NULL},

    /* ---- POST /llm_ask ---- */
    {"llm POST: invalid JSON", "POST", "/llm_ask", JSON, "{\"prompts\":[{]}", 0, 400, "bad_request"},
    {"llm POST: missing prompts", "POST", "/llm_ask", JSON, "{\"question\":\"q\"}", 0, 422, "unprocessable_entity"},
    {"llm POST: prompts an object", "POST", "/llm_ask", JSON, "{\"prompts\":{\"question\":\"q\"}}", 0, 400, "bad_request"},
    {"llm POST: empty prompts", "POST", "/llm_ask", JSON, "{\"prompts\":[]}", 0, 422, "unprocessable_entity"},
    {"llm POST: prompt a string", "POST", "/llm_ask", JSON, "{\"prompts\":[\"q\"]}", 0, 400, "bad_request"},
    {"llm POST: question missing", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"context\":[\"a\"]}]}", 0, 400, "bad_request"},
    {"llm POST: question a number", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":1}]}", 0, 400, "bad_request"},
    {"llm POST: context a string", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\",\"context\":\"a\"}]}", 0, 400, "bad_request"},
    {"llm POST: context with a number", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\",\"context\":[\"a\",2]}]}", 0, 400, "bad_request"},
    {"llm POST: second prompt bad", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\"},{\"question\":null}]}", 0, 400, "bad_request"},
    {"llm POST: seed negative", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\"}],\"seed\":-1}", 0, 400, "bad_request"},
    {"llm POST: seed a float", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\"}],\"seed\":1.5}", 0, 400, "bad_request"},
    {"llm POST: seed a string", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\"}],\"seed\":\"7\"}", 0, 400, "bad_request"},
    {"llm POST: seed beyond int64", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\"}],\"seed\":99999999999999999999}", 0, 400, "bad_request"},
    {"llm POST: number overflow", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\"}],\"seed\":1e400}", 0, 400, "bad_request"},
    {"llm POST: NaN literal", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\"}],\"seed\":NaN}", 0, 400, "bad_request"},
    {"llm POST: valid, \\u0000 in a question", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"a\\u0000b\"}]}", 0, 200, NULL},
    {"llm POST: valid, \\u0000 in a context", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\",\"context\":[\"x\\u0000y\\u0007\"]}]}", 0, 200, NULL},
    {"embeddings: valid, \\u0000", "POST", "/v1/embeddings", JSON, "{\"input\":\"a\\u0000b\"}", 0, 200, NULL},
    {"llm POST: invalid UTF-8 in context", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\",\"context\":[\"\xed\xa0\x80\"]}]}", 0, 400, "bad_request"},
    {"llm POST: wrong content type", "POST", "/llm_ask", "text/plain", "{\"prompts\":[]}", 0, 415, "unsupported_media_type"},
    {"llm: PUT", "PUT", "/llm_ask", JSON, "{}", 0, 405, "method_not_allowed"},
    {"llm: DELETE", "DELETE", "/llm_ask", NULL, NULL, 0, 405, "method_not_allowed"},
    {"llm POST: valid", "POST", "/llm_ask", JSON,
     "{\"prompts\":[{\"question\":\"What rose?\",\"context\":[\"Oil prices rose on Friday.\",\"Gold fell.\"]}],\"seed\":3}", 0, 200, NULL},
    {"llm POST: valid, seed null", "POST", "/llm_ask", JSON, "{\"prompts\":[{\"question\":\"q\",\"context\":[]}],\"seed\":null}", 0, 200, NULL},

    /* ---- GET /llm_ask ---- */
    {"llm GET: no question", "GET", "/llm_ask?context=a", NULL, NULL, 0, 422, "unprocessable_entity"},
    {"llm GET: seed negative", "GET", "/llm_ask?question=q&seed=-1", NULL, NULL, 0, 400, "bad_request"},
    {"llm GET: seed not a number", "GET", "/llm_ask?question=q&seed=abc", NULL, NULL, 0, 400, "bad_request"},
    {"llm GET: seed empty", "GET", "/llm_ask?question=q&seed=", NULL, NULL, 0, 400, "bad_request"},
    {"llm GET: seed with junk", "GET", "/llm_ask?question=q&seed=12x", NULL, NULL, 0, 400, "bad_request"},
    {"llm GET: invalid UTF-8 in context", "GET", "/llm_ask?question=q&context=%FF%FEab%C3", NULL, NULL, 0, 400, "bad_request"},
    {"llm GET: invalid UTF-8 in question", "GET", "/llm_ask?question=%C0%AF", NULL, NULL, 0, 400, "bad_request"},
    {"llm GET: valid", "GET", "/llm_ask?question=What%20rose%3F&context=Oil%20prices%20rose.&context=Gold%20fell.&seed=5", NULL, NULL, 0, 200, NULL},
    {"llm GET: valid, UTF-8", "GET", "/llm_ask?question=caf%C3%A9&context=na%C3%AFve%20caf%C3%A9", NULL, NULL, 0, 200, NULL},
    {"llm HEAD: valid", "HEAD", "/llm_ask?question=q", NULL, NULL, 0, 200, NULL},

    /* ---- unknown paths ---- */
    {"unknown path", "POST", "/encodex", JSON, "{}", 0, 404, "not_found"},
    {"path traversal", "GET", "/../../etc/passwd", NULL, NULL, 0, 404, "not_found"},
};

static void run_case(const bad_case *c) {
    char url[2048];
    url_of(c->path, url, sizeof url);
    size_t len = c->body ? (c->body_len ? c->body_len : strlen(c->body)) : 0;
    http_reply r;
    if (http_call(c->method, url, c->content_type, c->body, len, NULL, &r) != 0)
        fail_msg("%s: no HTTP answer", c->name);
    const char *body = r.body.data ? r.body.data : "";
    if (c->code) {
        check_json_error(c->name, r.status, r.headers.data ? r.headers.data : "", body, c->status, c->code);
    } else {
        if (r.status != c->status)
            fail_msg("%s: status %ld, expected %ld; body: %.300s", c->name, r.status, c->status, body);
        if (!strcmp(c->path, "/encode") || !strcmp(c->path, "/v1/embeddings")) {
            json_t *doc = json_loads(body, 0, NULL);
            if (!doc) fail_msg("%s: the answer is not JSON", c->name);
            json_decref(doc);
        } else if (strcmp(c->method, "HEAD") != 0) {
            if (!strstr(body, "event: done")) fail_msg("%s: the stream has no done event: %.300s", c->name, body);
            /* Every event's data is JSON (valid UTF-8 included). */
            for (const char *p = strstr(body, "data: "); p; p = strstr(p, "data: ")) {
                p += 6;
                size_t n = strcspn(p, "\n");
                json_t *d = json_loadb(p, n, 0, NULL);
                if (!d) fail_msg("%s: event data is not JSON: %.*s", c->name, (int)n, p);
                json_decref(d);
            }
        }
    }
    if (c->status == 405) {
        char *allow = http_reply_header(&r, "Allow");
        if (!allow) fail_msg("%s: 405 without Allow", c->name);
        free(allow);
    }
    http_reply_free(&r);
    assert_still_serving(c->name);
}

static const bad_case *find_case(const char *name) {
    for (size_t i = 0; i < ARRAY_LEN(cases); i++)
        if (!strcmp(cases[i].name, name)) return &cases[i];
    fail_msg("no case named %s", name);
    return NULL;
}

static void table_of_cases(void **state) {
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) run_case(&cases[i]);
    print_message("%zu table cases\n", ARRAY_LEN(cases));
}

/* ---- sizes ---- */

static void huge_inputs_are_413(void **state) {
    char url[256];
    http_reply r;
    /* One text over --max-text-kb 1. */
    size_t n = 1500;
    buf b = BUF_INIT;
    buf_puts(&b, "{\"text\":\"");
    for (size_t i = 0; i < n; i++) buf_putc(&b, 'a' + (char)(i % 26));
    buf_puts(&b, "\"}");
    url_of("/encode", url, sizeof url);
    assert_int_equal(http_call("POST", url, JSON, b.data, b.len, NULL, &r), 0);
    check_json_error("encode: 1500-byte text", r.status, r.headers.data, r.body.data, 413, "payload_too_large");
    http_reply_free(&r);
    assert_still_serving("a 1500-byte text");

    /* The body over the route's limit (8 texts × 1 KiB). */
    buf_clear(&b);
    buf_puts(&b, "{\"texts\":[\"");
    for (size_t i = 0; i < 100000; i++) buf_putc(&b, 'x');
    buf_puts(&b, "\"]}");
    assert_int_equal(http_call("POST", url, JSON, b.data, b.len, NULL, &r), 0);
    check_json_error("encode: 100 KB body", r.status, r.headers.data, r.body.data, 413, "payload_too_large");
    http_reply_free(&r);
    assert_still_serving("a 100 KB body");

    url_of("/v1/embeddings", url, sizeof url);
    assert_int_equal(http_call("POST", url, JSON, b.data, b.len, NULL, &r), 0);
    check_json_error("embeddings: 100 KB body", r.status, r.headers.data, r.body.data, 413, "payload_too_large");
    http_reply_free(&r);

    /* 65 prompts (limit 64), and 51 contexts (limit 50). */
    buf_clear(&b);
    buf_puts(&b, "{\"prompts\":[");
    for (int i = 0; i < 65; i++) buf_printf(&b, "%s{\"question\":\"q%d\"}", i ? "," : "", i);
    buf_puts(&b, "]}");
    url_of("/llm_ask", url, sizeof url);
    assert_int_equal(http_call("POST", url, JSON, b.data, b.len, NULL, &r), 0);
    check_json_error("llm POST: 65 prompts", r.status, r.headers.data, r.body.data, 413, "payload_too_large");
    http_reply_free(&r);
    buf_clear(&b);
    buf_puts(&b, "{\"prompts\":[{\"question\":\"q\",\"context\":[");
    for (int i = 0; i < 51; i++) buf_printf(&b, "%s\"c%d\"", i ? "," : "", i);
    buf_puts(&b, "]}]}");
    assert_int_equal(http_call("POST", url, JSON, b.data, b.len, NULL, &r), 0);
    check_json_error("llm POST: 51 contexts", r.status, r.headers.data, r.body.data, 413, "payload_too_large");
    http_reply_free(&r);
    buf_clear(&b);
    buf_puts(&b, "/llm_ask?question=q");
    for (int i = 0; i < 51; i++) buf_printf(&b, "&context=c%d", i);
    char long_url[2048];
    url_of(b.data, long_url, sizeof long_url);
    assert_int_equal(http_call("GET", long_url, NULL, NULL, 0, NULL, &r), 0);
    check_json_error("llm GET: 51 contexts", r.status, r.headers.data, r.body.data, 413, "payload_too_large");
    http_reply_free(&r);

    /* A 17 MiB /llm_ask body (its limit is 16 MiB). */
    size_t big = 17u << 20;
    char *huge = xmalloc(big);
    memset(huge, ' ', big);
    memcpy(huge, "{\"prompts\":[{\"question\":\"", 25);
    url_of("/llm_ask", url, sizeof url);
    assert_int_equal(http_call("POST", url, JSON, huge, big, NULL, &r), 0);
    check_json_error("llm POST: 17 MiB body", r.status, r.headers.data, r.body.data, 413, "payload_too_large");
    http_reply_free(&r);
    free(huge);
    assert_still_serving("a 17 MiB body");
    buf_free(&b);
}

static void deep_nesting_is_400(void **state) {
    /* 10000 levels where the body limit allows it (/llm_ask), 4000 (past
     * the parser's depth limit too) within /encode's 8 KiB. */
    struct {
        const char *path, *key;
        size_t depth;
    } targets[] = {{"/encode", "texts", 4000}, {"/v1/embeddings", "input", 4000},
                   {"/llm_ask", "prompts", 10000}};
    for (size_t t = 0; t < ARRAY_LEN(targets); t++) {
        size_t depth = targets[t].depth;
        char *deep = xmalloc(2 * depth + 64);
        size_t n = (size_t)sprintf(deep, "{\"%s\":", targets[t].key), open_at = n;
        for (size_t i = 0; i < depth; i++) deep[n++] = '[';
        for (size_t i = 0; i < depth; i++) deep[n++] = ']';
        deep[n++] = '}';
        char url[256];
        url_of(targets[t].path, url, sizeof url);
        http_reply r;
        assert_int_equal(http_call("POST", url, JSON, deep, n, NULL, &r), 0);
        check_json_error(targets[t].path, r.status, r.headers.data, r.body.data, 400, "bad_request");
        http_reply_free(&r);
        /* Only the opening brackets, never closed. */
        assert_int_equal(http_call("POST", url, JSON, deep + open_at, depth, NULL, &r), 0);
        check_json_error(targets[t].path, r.status, r.headers.data, r.body.data, 400, "bad_request");
        http_reply_free(&r);
        free(deep);
    }
    assert_still_serving("deep nesting");
}

/* ---- framing, over a raw socket ---- */

static int connect_raw(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)server.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    struct timeval tv = {.tv_sec = 60};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    return fd;
}

static void send_raw(int fd, const char *data, size_t len) {
    while (len) {
        ssize_t w = send(fd, data, len, MSG_NOSIGNAL);
        assert_true(w > 0);
        data += w, len -= (size_t)w;
    }
}

static char *read_until_close(int fd) {
    buf b = BUF_INIT;
    char chunk[4096];
    ssize_t n;
    while ((n = read(fd, chunk, sizeof chunk)) > 0) buf_append(&b, chunk, (size_t)n);
    return buf_detach(&b);
}

static int count_status(const char *answer, const char *status) {
    int n = 0;
    for (const char *p = answer; (p = strstr(p, "HTTP/1.1 ")); p += 9)
        if (!strncmp(p + 9, status, 3)) n++;
    return n;
}

static void chunked_bodies_are_read_whole(void **state) {
    int fd = connect_raw();
    const char req[] = "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                       "6\r\n{\"text\r\n"
                       "3;ext=1\r\n\":\"\r\n"
                       "e\r\nchunked body\"}\r\n"
                       "0\r\n\r\n";
    send_raw(fd, req, sizeof req - 1);
    char *answer = read_until_close(fd);
    close(fd);
    assert_int_equal(count_status(answer, "200"), 1);
    assert_non_null(strstr(answer, "\"embeddings\":[["));
    free(answer);

    /* A chunked /llm_ask body, and a chunked bad body still gets its JSON error. */
    fd = connect_raw();
    const char llm[] = "POST /llm_ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                       "d\r\n{\"prompts\":[{\r\n"
                       "1a\r\n\"question\":\"q\",\"context\":[\r\n"
                       "9\r\n\"a b c\"]}\r\n"
                       "2\r\n]}\r\n"
                       "0\r\n\r\n";
    send_raw(fd, llm, sizeof llm - 1);
    answer = read_until_close(fd);
    close(fd);
    assert_int_equal(count_status(answer, "200"), 1);
    assert_non_null(strstr(answer, "event: done"));
    free(answer);

    fd = connect_raw();
    const char bad[] = "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                       "Transfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
                       "5\r\n{\"tex\r\n0\r\n\r\n";
    send_raw(fd, bad, sizeof bad - 1);
    answer = read_until_close(fd);
    close(fd);
    assert_int_equal(count_status(answer, "400"), 1);
    assert_non_null(strstr(answer, "\"error\":{\"code\":\"bad_request\""));
    free(answer);
    assert_still_serving("chunked bodies");
}

static void malformed_framing_is_survived(void **state) {
    struct {
        const char *name;
        const char *bytes;
        size_t len; /* 0: strlen */
    } raw[] = {
        /* Content-Length larger than what is sent, then the client leaves. */
        {"truncated body", "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Content-Length: 1000\r\n\r\n{\"texts\":[\"only part", 0},
        {"truncated chunk", "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Transfer-Encoding: chunked\r\n\r\n100\r\n{\"texts\":", 0},
        {"bad chunk size", "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                           "Transfer-Encoding: chunked\r\n\r\nzz\r\n{}\r\n0\r\n\r\n", 0},
        {"negative length", "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                            "Content-Length: -5\r\n\r\n{}", 0},
        {"huge length", "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 99999999999999999999999\r\n\r\n{}", 0},
        {"two lengths", "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                        "Content-Length: 2\r\nContent-Length: 40\r\n\r\n{}", 0},
        {"length and chunked", "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                               "Content-Length: 4\r\nTransfer-Encoding: chunked\r\n\r\n2\r\n{}\r\n0\r\n\r\n", 0},
        {"headers cut", "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Ty", 0},
        {"NUL in the request line", "POST /enc\0ode HTTP/1.1\r\nHost: x\r\n\r\n",
         sizeof "POST /enc\0ode HTTP/1.1\r\nHost: x\r\n\r\n" - 1},
        {"HTTP/0.9", "GET /health\r\n", 0},
        {"bare LF lines", "POST /encode HTTP/1.1\nHost: x\nContent-Type: application/json\nContent-Length: 12\n\n{\"text\":\"a\"}", 0},
    };
    for (size_t i = 0; i < ARRAY_LEN(raw); i++) {
        int fd = connect_raw();
        size_t len = raw[i].len ? raw[i].len : strlen(raw[i].bytes);
        send_raw(fd, raw[i].bytes, len);
        shutdown(fd, SHUT_WR);
        char *answer = read_until_close(fd);
        close(fd);
        /* Nothing, or an error status; never a success for a broken request. */
        if (count_status(answer, "200") && strcmp(raw[i].name, "bare LF lines"))
            fail_msg("%s: answered 200:\n%.500s", raw[i].name, answer);
        free(answer);
        assert_still_serving(raw[i].name);
    }
    /* Sent in pieces with pauses: the body arrives late but whole. */
    int fd = connect_raw();
    const char part1[] = "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                         "Content-Length: 19\r\nConnection: close\r\n\r\n{\"text\":";
    const char part2[] = "\"in parts\"}";
    send_raw(fd, part1, sizeof part1 - 1);
    usleep(200 * 1000);
    send_raw(fd, part2, sizeof part2 - 1);
    char *answer = read_until_close(fd);
    close(fd);
    assert_int_equal(count_status(answer, "200"), 1);
    free(answer);
}

static void pipelined_requests_answered_in_order(void **state) {
    int fd = connect_raw();
    const char reqs[] =
        "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 12\r\n\r\n"
        "{\"text\":\"a\"}"
        "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 9\r\n\r\n"
        "{\"text\":}"
        "POST /encode HTTP/1.1\r\nHost: x\r\nContent-Type: text/plain\r\nContent-Length: 2\r\n\r\n"
        "{}"
        "GET /llm_ask?question=q&context=a+b HTTP/1.1\r\nHost: x\r\n\r\n"
        "POST /v1/embeddings HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: 13\r\n\r\n"
        "{\"input\":\"b\"}"
        "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n";
    send_raw(fd, reqs, sizeof reqs - 1);
    char *answer = read_until_close(fd);
    close(fd);
    const char *order[] = {"200", "400", "415", "200", "200", "200"};
    const char *p = answer;
    for (size_t i = 0; i < ARRAY_LEN(order); i++) {
        p = strstr(p, "HTTP/1.1 ");
        if (!p) fail_msg("pipelined: only %zu of %zu answers:\n%.2000s", i, ARRAY_LEN(order), answer);
        if (strncmp(p + 9, order[i], 3))
            fail_msg("pipelined: answer %zu is %.3s, expected %s", i, p + 9, order[i]);
        p += 9;
    }
    assert_null(strstr(p, "HTTP/1.1 "));
    free(answer);
    assert_still_serving("pipelined requests");
}

/* Issue 10 item 5: a string under "texts" is a type error whose message
 * points at "text", the one-string form. */
static void texts_as_a_string_names_text(void **state) {
    char url[256];
    url_of("/encode", url, sizeof url);
    http_reply r;
    const char body[] = "{\"texts\":\"abc\"}";
    assert_int_equal(http_call("POST", url, JSON, body, sizeof body - 1, NULL, &r), 0);
    check_json_error("texts a string", r.status, r.headers.data, r.body.data, 422, "unprocessable_entity");
    if (!strstr(r.body.data, "'text'")) fail_msg("the 422 does not name 'text': %s", r.body.data);
    http_reply_free(&r);
}

/* Issue 10 item 3: \u0000 is text like any other; BERT's cleaning drops it
 * (and other C0 controls), so the vector is the one of the text without it. */
static void nul_is_dropped_like_bert_does(void **state) {
    char url[256];
    url_of("/encode", url, sizeof url);
    http_reply r;
    const char body[] = "{\"texts\":[\"a\\u0000b c\\u0007d\", \"ab cd\"]}";
    assert_int_equal(http_call("POST", url, JSON, body, sizeof body - 1, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *doc = json_loads(r.body.data, 0, NULL);
    json_t *emb = json_object_get(doc, "embeddings");
    assert_int_equal(json_array_size(emb), 2);
    for (size_t i = 0; i < 384; i++)
        assert_true(json_real_value(json_array_get(json_array_get(emb, 0), i)) ==
                    json_real_value(json_array_get(json_array_get(emb, 1), i)));
    json_t *tokens = json_object_get(doc, "tokens");
    assert_int_equal(json_integer_value(json_array_get(tokens, 0)), json_integer_value(json_array_get(tokens, 1)));
    json_decref(doc);
    http_reply_free(&r);
}

/* Last: stop with SIGTERM; a clean exit and no sanitizer report in the log
 * (under the sanitizer build, LeakSanitizer checks at exit). */
static void exits_cleanly_without_leaks(void **state) {
    /* One more full cycle of each route first, streaming included. */
    run_case(find_case("encode: valid, 8 texts"));
    run_case(find_case("embeddings: valid"));
    run_case(find_case("llm POST: valid"));
    run_case(find_case("llm GET: valid"));
    assert_true(ragd_alive(&server));
    kill(server.pid, SIGTERM);
    int status = 0;
    pid_t got = 0;
    for (int i = 0; i < 3000 && got != server.pid; i++) { /* bounded only against a hang */
        got = waitpid(server.pid, &status, WNOHANG);
        if (got != server.pid) usleep(10 * 1000);
    }
    if (got != server.pid) {
        kill(server.pid, SIGKILL);
        waitpid(server.pid, &status, 0);
        server.pid = 0;
        fail_msg("ragd model did not exit after SIGTERM");
    }
    server.pid = 0;
    char *log = ragd_log(&server);
    unlink(server.log_path);
    if (strstr(log, "LeakSanitizer") || strstr(log, "AddressSanitizer") || strstr(log, "runtime error"))
        fail_msg("sanitizer report at exit:\n%s", strstr(log, "=="));
    if (!WIFEXITED(status) || WEXITSTATUS(status) != 0)
        fail_msg("ragd model exited with status %d (signal %d)", WIFEXITED(status) ? WEXITSTATUS(status) : -1,
                 WIFSIGNALED(status) ? WTERMSIG(status) : 0);
    free(log);
}

/* `ragd serve`: one request of every kind, then SIGTERM: exit status 0 (a
 * leak report under the sanitizer build makes it non-zero). */
static void serve_request_cycle_exits_cleanly(void **state) {
    ask_fixture f;
    assert_int_equal(ask_fixture_start(&f, NULL), 0);
    struct {
        const char *body;
        bool sse;
        long status;
    } asks[] = {
        {"{\"question\":\"interest rates\",\"top_k\":3}", false, 200},
        {"{\"question\":\"cricket match\",\"mode\":\"lexical\",\"stream\":true}", false, 200},
        {"{\"question\":\"oil prices\",\"mode\":\"vector\",\"topic\":\"business\"}", true, 200},
        {"{\"question\":\"   \"}", false, 422},
        {"{\"question\":\"x\",\"top_k\":0}", false, 422},
        {"{\"question\":\"x\",\"top_k\":\"3\"}", false, 400},
        {"{\"question\":\"x\",\"topic\":\"weather\"}", false, 422},
        {"{\"question\":\"x\",\"mode\":\"fuzzy\"}", false, 422},
        {"{\"question\":[\"x\"]}", false, 400},
        {"{\"question\":\"a\\u0000b\"}", false, 200},
        {"{\"question\":\"a\\u0000b\\u0007\"}", true, 200},
        {"{\"question\":\"\\u0000\"}", false, 422}, /* nothing but a NUL: empty */
        {"{\"question\":", false, 400},
        {"{}", false, 422},
    };
    for (size_t i = 0; i < ARRAY_LEN(asks); i++) {
        http_reply r;
        assert_int_equal(ask_post(&f.server, asks[i].body, asks[i].sse, &r), 0);
        if (r.status != asks[i].status)
            fail_msg("/ask %s: status %ld, expected %ld: %.300s", asks[i].body, r.status, asks[i].status, r.body.data);
        if (r.status >= 400)
            check_json_error(asks[i].body, r.status, r.headers.data, r.body.data, asks[i].status, NULL);
        http_reply_free(&r);
    }
    /* A client that leaves while its answer streams. */
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)f.server.port)};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(connect(fd, (struct sockaddr *)&a, sizeof a), 0);
    const char body[] = "{\"question\":\"the bank\"}";
    char req[512];
    int n = snprintf(req, sizeof req,
                     "POST /ask HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n"
                     "Accept: text/event-stream\r\nContent-Length: %zu\r\n\r\n%s", sizeof body - 1, body);
    assert_true(send(fd, req, (size_t)n, MSG_NOSIGNAL) > 0);
    char first[64];
    assert_true(read(fd, first, sizeof first) > 0);
    close(fd);
    const char *gets[] = {"/", "/docs", "/openapi.json", "/health", "/ready", "/metrics",
                          "/llm_ask?question=q&context=a+b", "/nope"};
    for (size_t i = 0; i < ARRAY_LEN(gets); i++) {
        char url[512];
        ragd_url(&f.server, gets[i], url, sizeof url);
        http_reply r;
        assert_int_equal(http_call("GET", url, NULL, NULL, 0, NULL, &r), 0);
        assert_int_equal(r.status, strcmp(gets[i], "/nope") ? 200 : 404);
        http_reply_free(&r);
    }
    const char *posts[][2] = {{"/encode", "{\"texts\":[\"a\",\"b\"]}"},
                              {"/v1/embeddings", "{\"input\":\"a\"}"},
                              {"/llm_ask", "{\"prompts\":[{\"question\":\"q\",\"context\":[\"a b\"]}]}"}};
    for (size_t i = 0; i < ARRAY_LEN(posts); i++) {
        char url[512];
        ragd_url(&f.server, posts[i][0], url, sizeof url);
        http_reply r;
        assert_int_equal(http_call("POST", url, JSON, posts[i][1], strlen(posts[i][1]), NULL, &r), 0);
        assert_int_equal(r.status, 200);
        http_reply_free(&r);
    }
    assert_int_equal(ask_fixture_stop(&f, true), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(table_of_cases),
        cmocka_unit_test(huge_inputs_are_413),
        cmocka_unit_test(deep_nesting_is_400),
        cmocka_unit_test(chunked_bodies_are_read_whole),
        cmocka_unit_test(malformed_framing_is_survived),
        cmocka_unit_test(pipelined_requests_answered_in_order),
        cmocka_unit_test(texts_as_a_string_names_text),
        cmocka_unit_test(nul_is_dropped_like_bert_does),
        cmocka_unit_test(exits_cleanly_without_leaks),
        cmocka_unit_test(serve_request_cycle_exits_cleanly),
    };
    return cmocka_run_group_tests(tests, start_server, stop_server);
}
