/* test_chat_routes — the chat routes on both deployments (ask_fixture: `ragd
 * serve`, and `ragd gateway` in front of two `ragd model` services), read
 * with libcurl as raw bytes: POST /v1/chat/completions (the completion object,
 * and the chunk stream to its `data: [DONE]`, both grounded in the passages
 * POST /ask finds), GET /topics against the fixture's corpus, GET /chat, and
 * /ask's opt-in "cite", /llm_ask's history field. Then, on serve with --api-key: /chat loads without the
 * key, and the chat route's 401 is OpenAI-shaped while /ask's stays ragd's. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <cmocka.h>

#include "ask_fixture.h"
#include "json_error.h"
#include "model/llm.h"
#include "util/util.h"

static ask_fixture fx;

static int setup(void **state) { return ask_fixture_start(&fx, NULL); }
static int setup_gateway(void **state) { return ask_fixture_start_gateway(&fx); }
static int teardown(void **state) {
    int rc = ask_fixture_stop(&fx, true);
    if (rc != 0) fprintf(stderr, "ragd exited with %d\n", rc);
    return rc == 0 ? 0 : -1;
}

static void post(const ragd_proc *p, const char *path, const char *body, const char *const *headers,
                 http_reply *r) {
    char url[160];
    ragd_url(p, path, url, sizeof url);
    assert_int_equal(http_call("POST", url, "application/json", body, strlen(body), headers, r), 0);
}

static json_t *parse(const char *text) {
    json_error_t jerr;
    json_t *doc = json_loads(text, 0, &jerr);
    if (!doc) fail_msg("not JSON (%s): %.300s", jerr.text, text);
    return doc;
}

/* The headings of a sources array, joined by '|' (the caller frees). */
static char *headings(const json_t *sources) {
    buf b = BUF_INIT;
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s) buf_printf(&b, "%s%s", i ? "|" : "", json_string_value(json_object_get(s, "heading")));
    return b.data ? buf_detach(&b) : xstrdup("");
}

static char *ask_headings(const char *question, int top_k) {
    char body[256];
    snprintf(body, sizeof body, "{\"question\":\"%s\",\"top_k\":%d,\"seed\":5}", question, top_k);
    http_reply r;
    assert_int_equal(ask_post(&fx.server, body, false, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *doc = parse(r.body.data);
    char *h = headings(json_object_get(doc, "sources"));
    json_decref(doc);
    http_reply_free(&r);
    return h;
}

static void test_completion(void **state) {
    http_reply r;
    post(&fx.server, "/v1/chat/completions",
         "{\"model\":\"ragd\",\"top_k\":3,\"seed\":5,\"messages\":[{\"role\":\"user\",\"content\":\"oil prices exporters\"}]}",
         NULL, &r);
    if (r.status != 200) fail_msg("%ld %s", r.status, r.body.data);
    json_t *doc = parse(r.body.data);
    assert_string_equal(json_string_value(json_object_get(doc, "object")), "chat.completion");
    json_t *choice = json_array_get(json_object_get(doc, "choices"), 0);
    const char *content = json_string_value(json_object_get(json_object_get(choice, "message"), "content"));
    assert_non_null(strstr(content, " [1]"));
    assert_non_null(strstr(content, " [3]"));
    assert_string_equal(json_string_value(json_object_get(choice, "finish_reason")), "stop");
    json_t *usage = json_object_get(doc, "usage");
    assert_true(json_integer_value(json_object_get(usage, "completion_tokens")) > 0);
    char *got = headings(json_object_get(doc, "sources"));
    char *want = ask_headings("oil prices exporters", 3);
    assert_string_equal(got, want);
    assert_non_null(ask_article_by_heading(strtok(got, "|")));
    free(got);
    free(want);
    json_decref(doc);
    http_reply_free(&r);
}

static void test_chunk_stream(void **state) {
    http_reply r;
    post(&fx.server, "/v1/chat/completions",
         "{\"stream\":true,\"top_k\":2,\"seed\":5,\"messages\":[{\"role\":\"user\",\"content\":\"oil prices exporters\"}]}",
         NULL, &r);
    assert_int_equal(r.status, 200);
    char *ctype = http_reply_header(&r, "Content-Type");
    assert_non_null(strstr(ctype, "text/event-stream"));
    free(ctype);
    wire_event *ev;
    int n = wire_events_parse(r.body.data, &ev);
    assert_int_equal(n, 1 + 2 + 1 + 1); /* role+sources, a piece per source, stop, [DONE] */
    for (int i = 0; i < n; i++) assert_string_equal(ev[i].name, "message"); /* data-only, as OpenAI's */
    assert_string_equal(ev[n - 1].data, "[DONE]");
    json_t *first = parse(ev[0].data);
    assert_string_equal(json_string_value(json_object_get(first, "object")), "chat.completion.chunk");
    json_t *delta = json_object_get(json_array_get(json_object_get(first, "choices"), 0), "delta");
    assert_string_equal(json_string_value(json_object_get(delta, "role")), "assistant");
    char *got = headings(json_object_get(first, "sources"));
    char *want = ask_headings("oil prices exporters", 2);
    assert_string_equal(got, want);
    free(got);
    free(want);
    for (int i = 1; i <= 2; i++) {
        json_t *c = parse(ev[i].data);
        const char *text = json_string_value(json_object_get(
            json_object_get(json_array_get(json_object_get(c, "choices"), 0), "delta"), "content"));
        char cite[8];
        snprintf(cite, sizeof cite, " [%d]", i);
        assert_non_null(text);
        assert_string_equal(text + strlen(text) - strlen(cite), cite);
        json_decref(c);
    }
    json_t *stop = parse(ev[3].data);
    assert_string_equal(json_string_value(json_object_get(json_array_get(json_object_get(stop, "choices"), 0), "finish_reason")), "stop");
    json_decref(stop);
    json_decref(first);
    wire_events_free(ev, n);
    http_reply_free(&r);
}

static void test_topics_and_page(void **state) {
    char url[160];
    http_reply r;
    ragd_url(&fx.server, "/topics", url, sizeof url);
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *doc = parse(r.body.data);
    int business = 0, sports = 0;
    for (int i = 0; i < ask_corpus_len; i++) {
        business += !strcmp(ask_corpus[i].topic, "business");
        sports += !strcmp(ask_corpus[i].topic, "sports");
    }
    json_int_t total = 0;
    size_t i;
    json_t *t;
    json_array_foreach(json_object_get(doc, "topics"), i, t) {
        const char *name = json_string_value(json_object_get(t, "name"));
        json_int_t passages = json_integer_value(json_object_get(t, "passages"));
        /* at least one passage per article of the topic (long ones split) */
        assert_true(passages >= (!strcmp(name, "business") ? business : sports));
        total += passages;
    }
    assert_int_equal(json_array_size(json_object_get(doc, "topics")), 2);
    assert_int_equal(json_integer_value(json_object_get(doc, "passages")), total);
    json_decref(doc);
    http_reply_free(&r);
    ragd_url(&fx.server, "/health", url, sizeof url);
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, NULL, &r), 0);
    doc = parse(r.body.data);
    assert_int_equal(json_integer_value(json_object_get(doc, "passages")), total);
    json_decref(doc);
    http_reply_free(&r);

    ragd_url(&fx.server, "/chat", url, sizeof url);
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200);
    assert_non_null(strstr(r.body.data, "<title>ragd · chat</title>"));
    assert_true(r.body.len < 60 * 1024);
    http_reply_free(&r);
}

static void test_ask_cite(void **state) {
    http_reply r;
    assert_int_equal(ask_post(&fx.server, "{\"question\":\"oil prices\",\"top_k\":3,\"cite\":true}", true, &r), 0);
    wire_event *ev;
    int n = wire_events_parse(r.body.data, &ev);
    assert_int_equal(n, 1 + 3 + 1);
    for (int i = 1; i <= 3; i++) {
        char cite[8];
        snprintf(cite, sizeof cite, " [%d]", i);
        assert_string_equal(ev[i].name, "token");
        assert_string_equal(ev[i].data + strlen(ev[i].data) - strlen(cite), cite);
        assert_true(i == 1 || ev[i].data[0] == ' '); /* later pieces start with a space */
    }
    wire_events_free(ev, n);
    http_reply_free(&r);
    assert_int_equal(ask_post(&fx.server, "{\"question\":\"oil\",\"cite\":\"yes\"}", false, &r), 0);
    assert_json_error(&r, 400, "bad_request");
    http_reply_free(&r);
}

/* /llm_ask's history field (what the gateway sends for a conversation): checked, then taken. */
static void test_llm_ask_history(void **state) {
    static const char *const bad[] = {
        "{\"prompts\":[{\"question\":\"q\",\"context\":[\"c\"],\"history\":\"no\"}]}",
        "{\"prompts\":[{\"question\":\"q\",\"history\":[{\"role\":\"system\",\"content\":\"x\"}]}]}",
        "{\"prompts\":[{\"question\":\"q\",\"history\":[{\"role\":\"user\",\"content\":5}]}]}",
        "{\"prompts\":[{\"question\":\"q\",\"history\":[\"turn\"]}]}",
    };
    http_reply r;
    for (size_t i = 0; i < ARRAY_LEN(bad); i++) {
        post(&fx.server, "/llm_ask", bad[i], NULL, &r);
        assert_json_error(&r, 400, "bad_request");
        http_reply_free(&r);
    }
    buf many = BUF_INIT;
    buf_puts(&many, "{\"prompts\":[{\"question\":\"q\",\"history\":[");
    for (int i = 0; i <= LLM_MAX_HISTORY; i++)
        buf_printf(&many, "%s{\"role\":\"user\",\"content\":\"t%d\"}", i ? "," : "", i);
    buf_puts(&many, "]}]}");
    post(&fx.server, "/llm_ask", many.data, NULL, &r);
    assert_json_error(&r, 413, "payload_too_large");
    http_reply_free(&r);
    buf_free(&many);
    post(&fx.server, "/llm_ask",
         "{\"prompts\":[{\"question\":\"q\",\"context\":[\"one passage\"],\"history\":[{\"role\":\"user\",\"content\":\"a\"},{\"role\":\"assistant\",\"content\":\"b\"}]}],\"seed\":1}",
         NULL, &r);
    assert_int_equal(r.status, 200);
    wire_event *ev;
    int n = wire_events_parse(r.body.data, &ev);
    assert_int_equal(n, 2); /* the mock ignores history: one piece, then done */
    assert_string_equal(ev[1].name, "done");
    wire_events_free(ev, n);
    http_reply_free(&r);
}

static void test_api_key(void **state) {
    ragd_proc keyed;
    const char *args[] = {"--api-key", "sesame", NULL};
    assert_int_equal(ask_fixture_start_again(&fx, &keyed, args), 0);
    char url[160];
    http_reply r;
    ragd_url(&keyed, "/chat", url, sizeof url);
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, NULL, &r), 0);
    assert_int_equal(r.status, 200); /* the page loads, then asks for the key */
    http_reply_free(&r);

    post(&keyed, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"oil\"}]}", NULL, &r);
    /* the HTTP layer answers before the route runs, in ragd's shape (as on
     * every /v1 route); OpenAI's clients read its error.message too */
    assert_json_error(&r, 401, "unauthorized");
    http_reply_free(&r);

    post(&keyed, "/ask", "{\"question\":\"oil\"}", NULL, &r);
    assert_json_error(&r, 401, "unauthorized");
    http_reply_free(&r);
    const char *auth[] = {"Authorization: Bearer sesame", NULL};
    post(&keyed, "/v1/chat/completions", "{\"messages\":[{\"role\":\"user\",\"content\":\"oil\"}]}", auth, &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    assert_int_equal(ragd_stop(&keyed), 0);
}

int main(void) {
    const struct CMUnitTest on_serve[] = {
        cmocka_unit_test(test_completion),
        cmocka_unit_test(test_chunk_stream),
        cmocka_unit_test(test_topics_and_page),
        cmocka_unit_test(test_ask_cite),
        cmocka_unit_test(test_llm_ask_history),
        cmocka_unit_test(test_api_key),
    };
    const struct CMUnitTest on_gateway[] = {
        cmocka_unit_test(test_completion),
        cmocka_unit_test(test_chunk_stream),
        cmocka_unit_test(test_topics_and_page),
        cmocka_unit_test(test_ask_cite),
    };
    int failed = cmocka_run_group_tests_name("serve", on_serve, setup, teardown);
    failed += cmocka_run_group_tests_name("gateway", on_gateway, setup_gateway, teardown);
    return failed;
}
