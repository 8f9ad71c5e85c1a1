/* test_openai_api — the OpenAI-compatible routes on the wire, over curl:
 * POST /v1/embeddings (float and base64 answers, token-id input, dimensions,
 * usage) and GET /v1/models[/{id}], against a real `ragd model`, then
 * /v1/models on `ragd serve` and `ragd gateway`.
 *
 * Vectors are compared across forms: base64 (decoded here, little-endian
 * float32) against the float answer and against /encode, token ids (made
 * with the model's own tokenizer, with and without [CLS]/[SEP]) against the
 * text they came from. Bad inputs must get OpenAI's error shape
 * {"error":{"message","type","param","code"}} with the right status and param.
 * Every server must then exit with status 0 on SIGTERM (under the sanitizer
 * build: no leak, no UB on any of these paths).
 */
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ask_fixture.h"
#include "harness.h"
#include "model/tokenizer.h"
#include "util/util.h"

#define DIM 384
#define JSON "application/json"

static const char *const model_args[] = {"model", "--threads", "1", "--max-texts", "8", NULL};
static ragd_proc model;
static tokenizer *tok;

static int setup(void **state) {
    const char *d = getenv("RAGD_SHARED_DIR");
    char vocab[4096], err[256] = "";
    snprintf(vocab, sizeof vocab, "%s/models/all-MiniLM-L6-v2/vocab.txt", d && *d ? d : "../shared");
    if (!(tok = tokenizer_open(vocab, err, sizeof err))) {
        fprintf(stderr, "tokenizer_open: %s\n", err);
        return -1;
    }
    return ragd_start(&model, model_args, 60);
}

static int teardown(void **state) {
    if (model.pid > 0) ragd_stop(&model); /* a test failed before stopping it */
    tokenizer_close(tok);
    return 0;
}

/* ---- talking to it ---- */

static void call(const ragd_proc *p, const char *method, const char *path, const char *ctype,
                 const char *body, http_reply *r) {
    char url[2048];
    ragd_url(p, path, url, sizeof url);
    if (http_call(method, url, ctype, body, body ? strlen(body) : 0, NULL, r) != 0)
        fail_msg("%s %s: no HTTP answer", method, path);
}

/* POST /v1/embeddings with body; asserts 200 and returns the parsed answer. */
static json_t *embed(const char *body) {
    http_reply r;
    call(&model, "POST", "/v1/embeddings", JSON, body, &r);
    if (r.status != 200) fail_msg("%s: %ld %s", body, r.status, r.body.data);
    json_t *doc = json_loads(r.body.data, 0, NULL);
    assert_non_null(doc);
    http_reply_free(&r);
    assert_string_equal(json_string_value(json_object_get(doc, "object")), "list");
    assert_string_equal(json_string_value(json_object_get(doc, "model")), "all-MiniLM-L6-v2");
    json_t *data = json_object_get(doc, "data");
    for (size_t i = 0; i < json_array_size(data); i++) {
        json_t *e = json_array_get(data, i);
        assert_string_equal(json_string_value(json_object_get(e, "object")), "embedding");
        assert_int_equal(json_integer_value(json_object_get(e, "index")), (json_int_t)i);
    }
    return doc;
}

static int b64_value(char c) {
    const char *a = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const char *p = c ? strchr(a, c) : NULL;
    return p ? (int)(p - a) : -1;
}

/* The i-th vector of an answer, float or base64 (decoded here as OpenAI's
 * clients do: little-endian float32). */
static void vector_of(json_t *doc, size_t i, float *out) {
    json_t *e = json_object_get(json_array_get(json_object_get(doc, "data"), i), "embedding");
    if (json_is_array(e)) {
        assert_int_equal(json_array_size(e), DIM);
        for (size_t k = 0; k < DIM; k++) out[k] = (float)json_number_value(json_array_get(e, k));
        return;
    }
    const char *s = json_string_value(e);
    assert_non_null(s);
    assert_int_equal(strlen(s), 2048); /* 1536 bytes: 512 groups of 4, no padding */
    unsigned char bytes[DIM * 4];
    size_t n = 0;
    for (const char *p = s; *p; p += 4) {
        uint32_t w = 0;
        for (int k = 0; k < 4; k++) {
            int v = b64_value(p[k]);
            assert_true(v >= 0);
            w = w << 6 | (uint32_t)v;
        }
        bytes[n++] = (unsigned char)(w >> 16), bytes[n++] = (unsigned char)(w >> 8), bytes[n++] = (unsigned char)w;
    }
    assert_int_equal(n, sizeof bytes);
    for (size_t k = 0; k < DIM; k++) {
        uint32_t bits = (uint32_t)bytes[4 * k] | (uint32_t)bytes[4 * k + 1] << 8 |
                        (uint32_t)bytes[4 * k + 2] << 16 | (uint32_t)bytes[4 * k + 3] << 24;
        memcpy(&out[k], &bits, sizeof bits);
    }
}

static double cosine(const float *a, const float *b) {
    double ab = 0, aa = 0, bb = 0;
    for (int k = 0; k < DIM; k++) ab += (double)a[k] * b[k], aa += (double)a[k] * a[k], bb += (double)b[k] * b[k];
    return ab / sqrt(aa * bb);
}

/* Same vector within float32 rounding (the float form is printed decimals). */
static void assert_same_vector(const char *what, const float *a, const float *b) {
    double c = cosine(a, b);
    float worst = 0;
    for (int k = 0; k < DIM; k++) worst = fmaxf(worst, fabsf(a[k] - b[k]));
    if (c < 1 - 1e-6 || worst > 1e-6f) fail_msg("%s: cosine %.9f, largest difference %g", what, c, worst);
}

static long prompt_tokens(json_t *doc) {
    json_t *u = json_object_get(doc, "usage");
    long p = (long)json_integer_value(json_object_get(u, "prompt_tokens"));
    assert_int_equal(p, json_integer_value(json_object_get(u, "total_tokens")));
    return p;
}

/* The ids of text as the model tokenises it, as a JSON array ("[101,…,102]"),
 * with or without [CLS] and [SEP]. */
static void ids_json(const char *text, bool specials, buf *out) {
    int32_t ids[256];
    int n = tokenizer_encode(tok, text, strlen(text), ids, 256, NULL);
    buf_putc(out, '[');
    int from = specials ? 0 : 1, to = specials ? n : n - 1;
    for (int i = from; i < to; i++) buf_printf(out, "%s%d", i > from ? "," : "", ids[i]);
    buf_putc(out, ']');
}

/* ---- the tests ---- */

static const char *const texts[] = {"Oil prices fall as supply rises", "The striker scored twice in the final",
                                    "caf\xc3\xa9 na\xc3\xafve \xe2\x80\x94 r\xc3\xa9sum\xc3\xa9"};
#define NTEXTS 3

static void base64_equals_float_equals_encode(void **state) {
    buf b = BUF_INIT;
    buf_puts(&b, "[");
    for (int i = 0; i < NTEXTS; i++) {
        buf_printf(&b, "%s\"", i ? "," : "");
        buf_json_escape(&b, texts[i], strlen(texts[i]));
        buf_putc(&b, '"');
    }
    buf_puts(&b, "]");
    char body[4096];
    snprintf(body, sizeof body, "{\"input\":%s,\"model\":\"all-MiniLM-L6-v2\",\"encoding_format\":\"base64\"}", b.data);
    json_t *as_b64 = embed(body);
    snprintf(body, sizeof body, "{\"input\":%s,\"encoding_format\":\"float\",\"user\":\"u-1\",\"dimensions\":384}", b.data);
    json_t *as_float = embed(body);
    snprintf(body, sizeof body, "{\"input\":%s}", b.data); /* no encoding_format: float */
    json_t *as_default = embed(body);
    snprintf(body, sizeof body, "{\"texts\":%s}", b.data);
    http_reply r;
    call(&model, "POST", "/encode", JSON, body, &r);
    assert_int_equal(r.status, 200);
    json_t *encoded = json_loads(r.body.data, 0, NULL);
    http_reply_free(&r);
    assert_true(json_is_array(json_object_get(json_array_get(json_object_get(as_default, "data"), 0), "embedding")));

    long tokens = 0;
    for (int i = 0; i < NTEXTS; i++) {
        float v64[DIM], vf[DIM], vd[DIM], ve[DIM];
        vector_of(as_b64, (size_t)i, v64);
        vector_of(as_float, (size_t)i, vf);
        vector_of(as_default, (size_t)i, vd);
        json_t *e = json_array_get(json_object_get(encoded, "embeddings"), (size_t)i);
        for (size_t k = 0; k < DIM; k++) ve[k] = (float)json_number_value(json_array_get(e, k));
        assert_same_vector("base64 vs float", v64, vf);
        assert_same_vector("base64 vs /encode", v64, ve);
        assert_same_vector("default vs float", vd, vf);
        /* A unit vector: what base64 carries is the real float32, not noise. */
        assert_true(fabs(cosine(v64, v64) - 1) < 1e-6);
        tokens += (long)json_integer_value(json_array_get(json_object_get(encoded, "tokens"), (size_t)i));
    }
    /* usage counts what /encode counts, [CLS] and [SEP] included. */
    assert_int_equal(prompt_tokens(as_b64), tokens);
    assert_int_equal(prompt_tokens(as_float), tokens);
    json_decref(as_b64), json_decref(as_float), json_decref(as_default), json_decref(encoded);
    buf_free(&b);
}

static void token_ids_equal_their_text(void **state) {
    for (int i = 0; i < NTEXTS; i++) {
        buf body = BUF_INIT;
        buf_puts(&body, "{\"input\":\"");
        buf_json_escape(&body, texts[i], strlen(texts[i]));
        buf_puts(&body, "\",\"encoding_format\":\"base64\"}");
        json_t *from_text = embed(body.data);
        float vt[DIM];
        vector_of(from_text, 0, vt);

        /* One list of ids, with the specials and without; and a list of such lists. */
        for (int form = 0; form < 3; form++) {
            buf_clear(&body);
            buf_puts(&body, "{\"encoding_format\":\"base64\",\"input\":");
            if (form == 2) buf_putc(&body, '[');
            ids_json(texts[i], form != 1, &body);
            if (form == 2) buf_putc(&body, ']');
            buf_puts(&body, "}");
            json_t *from_ids = embed(body.data);
            float vi[DIM];
            vector_of(from_ids, 0, vi);
            assert_same_vector(body.data, vt, vi);
            assert_int_equal(prompt_tokens(from_ids), prompt_tokens(from_text));
            json_decref(from_ids);
        }
        json_decref(from_text);
        buf_free(&body);
    }
    /* A batch of lists, one with [CLS]/[SEP] and one without, in order. */
    buf body = BUF_INIT;
    buf_puts(&body, "{\"input\":[");
    ids_json(texts[0], true, &body);
    buf_putc(&body, ',');
    ids_json(texts[1], false, &body);
    buf_puts(&body, "]}");
    json_t *batch = embed(body.data);
    assert_int_equal(json_array_size(json_object_get(batch, "data")), 2);
    for (int i = 0; i < 2; i++) {
        buf_clear(&body);
        buf_puts(&body, "{\"input\":\"");
        buf_json_escape(&body, texts[i], strlen(texts[i]));
        buf_puts(&body, "\"}");
        json_t *one = embed(body.data);
        float a[DIM], c[DIM];
        vector_of(batch, (size_t)i, a);
        vector_of(one, 0, c);
        assert_same_vector("batch of id lists", a, c);
        json_decref(one);
    }
    json_decref(batch);
    buf_free(&body);
}

static void long_token_lists_are_cut_as_text_is(void **state) {
    /* 400 ids of word pieces: cut to [CLS] + the first 254 + [SEP], like text. */
    buf full = BUF_INIT, cut = BUF_INIT;
    buf_puts(&full, "{\"input\":[");
    buf_puts(&cut, "{\"input\":[101");
    for (int i = 0; i < 400; i++) {
        int id = 2000 + i * 7;
        buf_printf(&full, "%s%d", i ? "," : "", id);
        if (i < 254) buf_printf(&cut, ",%d", id);
    }
    buf_puts(&full, "]}");
    buf_puts(&cut, ",102]}");
    json_t *a = embed(full.data), *b = embed(cut.data);
    assert_int_equal(prompt_tokens(a), 256);
    assert_int_equal(prompt_tokens(b), 256);
    float va[DIM], vb[DIM];
    vector_of(a, 0, va);
    vector_of(b, 0, vb);
    assert_same_vector("400 ids vs their first 254", va, vb);
    json_decref(a), json_decref(b);

    /* And text: usage shows the same 256 for a text of more pieces. */
    buf_clear(&full);
    buf_puts(&full, "{\"input\":\"");
    for (int i = 0; i < 300; i++) buf_puts(&full, "word ");
    buf_puts(&full, "\"}");
    json_t *t = embed(full.data);
    assert_int_equal(prompt_tokens(t), 256);
    json_decref(t);
    buf_free(&full), buf_free(&cut);
}

/* {"error":{"message":non-empty,"type":type,"param":param or null,"code":code}}. */
static void check_openai_error(const char *what, const http_reply *r, long status, const char *type,
                               const char *param, const char *code) {
    if (r->status != status) fail_msg("%s: status %ld, expected %ld: %s", what, r->status, status, r->body.data);
    char *ctype = http_reply_header(r, "Content-Type");
    if (!ctype || strcmp(ctype, JSON)) fail_msg("%s: Content-Type %s", what, ctype ? ctype : "none");
    free(ctype);
    json_t *doc = json_loads(r->body.data, 0, NULL);
    if (!doc) fail_msg("%s: not JSON: %s", what, r->body.data);
    json_t *err = json_object_get(doc, "error");
    const char *msg = json_string_value(json_object_get(err, "message"));
    if (!msg || !*msg) fail_msg("%s: no message: %s", what, r->body.data);
    if (json_object_size(err) != 4) fail_msg("%s: not the four OpenAI keys: %s", what, r->body.data);
    const char *got_type = json_string_value(json_object_get(err, "type"));
    if (!got_type || strcmp(got_type, type)) fail_msg("%s: type %s, expected %s", what, got_type, type);
    json_t *p = json_object_get(err, "param");
    if (param ? !json_is_string(p) || strcmp(json_string_value(p), param) : !json_is_null(p))
        fail_msg("%s: param wrong (expected %s): %s", what, param ? param : "null", r->body.data);
    const char *got_code = json_string_value(json_object_get(err, "code"));
    if (!got_code || strcmp(got_code, code)) fail_msg("%s: code %s, expected %s", what, got_code, code);
    json_decref(doc);
}

typedef struct bad_case {
    const char *name;
    const char *content_type;
    const char *body;
    long status;
    const char *param; /* NULL: null */
    const char *code;
} bad_case;

static const bad_case bad[] = {
    {"dimensions 100", JSON, "{\"input\":\"a\",\"dimensions\":100}", 400, "dimensions", "bad_request"},
    {"dimensions 0", JSON, "{\"input\":\"a\",\"dimensions\":0}", 400, "dimensions", "bad_request"},
    {"dimensions a string", JSON, "{\"input\":\"a\",\"dimensions\":\"384\"}", 400, "dimensions", "bad_request"},
    {"dimensions a float", JSON, "{\"input\":\"a\",\"dimensions\":384.0}", 400, "dimensions", "bad_request"},
    {"token id past the vocabulary", JSON, "{\"input\":[[101,30522,102]]}", 400, "input", "bad_request"},
    {"token id negative", JSON, "{\"input\":[5,-1]}", 400, "input", "bad_request"},
    {"token id huge", JSON, "{\"input\":[99999999999]}", 400, "input", "bad_request"},
    {"token id a float", JSON, "{\"input\":[[101,2.5,102]]}", 400, "input", "bad_request"},
    {"token id a string in a list", JSON, "{\"input\":[[101,\"7\",102]]}", 400, "input", "bad_request"},
    {"empty input list", JSON, "{\"input\":[]}", 422, "input", "unprocessable_entity"},
    {"empty token list", JSON, "{\"input\":[[]]}", 400, "input", "bad_request"},
    {"second token list empty", JSON, "{\"input\":[[7],[]]}", 400, "input", "bad_request"},
    {"missing input", JSON, "{\"model\":\"all-MiniLM-L6-v2\"}", 422, "input", "unprocessable_entity"},
    {"input a number", JSON, "{\"input\":5.5}", 400, "input", "bad_request"},
    {"input an object", JSON, "{\"input\":{\"a\":1}}", 400, "input", "bad_request"},
    {"input null", JSON, "{\"input\":null}", 400, "input", "bad_request"},
    {"input [true]", JSON, "{\"input\":[true]}", 400, "input", "bad_request"},
    {"input [null]", JSON, "{\"input\":[null]}", 400, "input", "bad_request"},
    {"strings then a number", JSON, "{\"input\":[\"a\",1]}", 400, "input", "bad_request"},
    {"ids then a string", JSON, "{\"input\":[1,\"a\"]}", 400, "input", "bad_request"},
    {"lists then a string", JSON, "{\"input\":[[1],\"a\"]}", 400, "input", "bad_request"},
    {"a list of strings in a list", JSON, "{\"input\":[[\"a\"]]}", 400, "input", "bad_request"},
    {"lists nested deeper", JSON, "{\"input\":[[[1]]]}", 400, "input", "bad_request"},
    {"9 inputs (limit 8)", JSON, "{\"input\":[\"1\",\"2\",\"3\",\"4\",\"5\",\"6\",\"7\",\"8\",\"9\"]}", 413, "input", "payload_too_large"},
    {"9 token lists (limit 8)", JSON, "{\"input\":[[1],[2],[3],[4],[5],[6],[7],[8],[9]]}", 413, "input", "payload_too_large"},
    {"unknown encoding_format", JSON, "{\"input\":\"a\",\"encoding_format\":\"int8\"}", 400, "encoding_format", "bad_request"},
    {"encoding_format in capitals", JSON, "{\"input\":\"a\",\"encoding_format\":\"BASE64\"}", 400, "encoding_format", "bad_request"},
    {"encoding_format a number", JSON, "{\"input\":\"a\",\"encoding_format\":1}", 400, "encoding_format", "bad_request"},
    {"invalid JSON", JSON, "{\"input\":", 400, NULL, "bad_request"},
    {"body an array", JSON, "[\"a\"]", 400, NULL, "bad_request"},
    {"empty body", JSON, "", 400, NULL, "bad_request"},
    {"duplicate key", JSON, "{\"input\":\"a\",\"input\":\"b\"}", 400, NULL, "bad_request"},
    {"wrong content type", "text/plain", "{\"input\":\"a\"}", 415, NULL, "unsupported_media_type"},
};

static void bad_inputs_get_openai_errors(void **state) {
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        http_reply r;
        call(&model, "POST", "/v1/embeddings", bad[i].content_type, bad[i].body, &r);
        check_openai_error(bad[i].name, &r, bad[i].status, "invalid_request_error", bad[i].param, bad[i].code);
        http_reply_free(&r);
    }
    /* Nothing changed: a good request still works. */
    json_decref(embed("{\"input\":\"still serving\"}"));
    print_message("%zu bad cases\n", ARRAY_LEN(bad));
}

/* GET /v1/models names the model; GET /v1/models/{id} retrieves it; an unknown id is 404. */
static void check_models(const ragd_proc *p) {
    http_reply r;
    call(p, "GET", "/v1/models", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *doc = json_loads(r.body.data, 0, NULL);
    http_reply_free(&r);
    assert_string_equal(json_string_value(json_object_get(doc, "object")), "list");
    json_t *m = json_array_get(json_object_get(doc, "data"), 0);
    assert_string_equal(json_string_value(json_object_get(m, "id")), "all-MiniLM-L6-v2");
    assert_string_equal(json_string_value(json_object_get(m, "object")), "model");
    assert_string_equal(json_string_value(json_object_get(m, "owned_by")), "sentence-transformers");
    assert_true(json_integer_value(json_object_get(m, "created")) > 1600000000);
    call(p, "GET", "/v1/models/all-MiniLM-L6-v2", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    json_t *one = json_loads(r.body.data, 0, NULL);
    http_reply_free(&r);
    assert_true(json_equal(one, m));
    json_decref(one), json_decref(doc);

    call(p, "GET", "/v1/models/text-embedding-3-small", NULL, NULL, &r);
    check_openai_error("unknown model", &r, 404, "invalid_request_error", "model", "model_not_found");
    http_reply_free(&r);
    call(p, "GET", "/v1/models/sentence-transformers%2Fall-MiniLM-L6-v2", NULL, NULL, &r);
    check_openai_error("model id with a slash", &r, 404, "invalid_request_error", "model", "model_not_found");
    http_reply_free(&r);
    call(p, "GET", "/v1/models/%FF%FE", NULL, NULL, &r); /* not UTF-8: still a JSON answer */
    check_openai_error("model id not UTF-8", &r, 404, "invalid_request_error", "model", "model_not_found");
    http_reply_free(&r);
    call(p, "HEAD", "/v1/models", NULL, NULL, &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    call(p, "POST", "/v1/models/all-MiniLM-L6-v2", JSON, "{}", &r);
    assert_int_equal(r.status, 405);
    http_reply_free(&r);
}

static void models_on_the_model_service(void **state) { check_models(&model); }

static void models_on_serve_and_gateway(void **state) {
    ask_fixture f;
    const char *const serve_args[] = {"--threads", "1", NULL};
    assert_int_equal(ask_fixture_start(&f, serve_args), 0);
    check_models(&f.server);
    /* serve embeds in-process: the default client call works there too. */
    http_reply r;
    call(&f.server, "POST", "/v1/embeddings", JSON, "{\"input\":[\"a\"],\"encoding_format\":\"base64\"}", &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);

    char model_url[128];
    ragd_url(&model, "", model_url, sizeof model_url);
    const char *gw_args[] = {"gateway", "--model-url", model_url, f.store_flag, f.store_value, NULL};
    ragd_proc gw;
    assert_int_equal(ragd_start(&gw, gw_args, 60), 0);
    check_models(&gw);
    assert_int_equal(ragd_stop(&gw), 0);
    assert_int_equal(ask_fixture_stop(&f, true), 0);
}

/* Last: SIGTERM must end it with status 0 (in the sanitizer build, also no
 * leak after every request above). */
static void the_model_service_exits_cleanly(void **state) { assert_int_equal(ragd_stop(&model), 0); }

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(base64_equals_float_equals_encode),
        cmocka_unit_test(token_ids_equal_their_text),
        cmocka_unit_test(long_token_lists_are_cut_as_text_is),
        cmocka_unit_test(bad_inputs_get_openai_errors),
        cmocka_unit_test(models_on_the_model_service),
        cmocka_unit_test(models_on_serve_and_gateway),
        cmocka_unit_test(the_model_service_exits_cleanly),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
