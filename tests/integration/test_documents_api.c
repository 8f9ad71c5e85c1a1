/* test_documents_api — the /documents API (issue #12) over real HTTP on
 * loopback, against `ragd serve --api-key` over the 20-article ask_fixture
 * corpus and against the split deployment (`ragd gateway` encoding through
 * two `ragd model` services): read-your-writes in every retrieval mode, a
 * replace that leaves no trace of the old text, a delete gone from every
 * mode, topic filter and listing, list pagination, every kind of bad input
 * rejected with nothing changed, all-or-nothing batches, the API key, and
 * `ragd ingest --url`. */
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include <cmocka.h>

#include "ask_fixture.h"
#include "documents_client.h"
#include "json_error.h"
#include "util/util.h"

#define KEY "d0cs-key"

static ask_fixture fx;
static const char *key; /* KEY on serve, NULL on the gateway */

static int setup(void **state) {
    (void)state;
    key = KEY;
    const char *extra[] = {"--api-key", KEY, "--max-batch-documents", "5", "--max-document-kb", "16", NULL};
    return ask_fixture_start(&fx, extra);
}

static int setup_gateway(void **state) {
    (void)state;
    key = NULL;
    return ask_fixture_start_gateway(&fx);
}

static int teardown(void **state) {
    (void)state;
    int rc = ask_fixture_stop(&fx, true);
    if (rc != 0) fprintf(stderr, "the server exited with %d\n", rc);
    return rc == 0 ? 0 : -1;
}

static json_t *get(const char *path, long want) {
    return doc_call_json(&fx.server, key, "GET", path, NULL, want);
}

static json_t *get_document(const char *id, long want) {
    char path[256];
    snprintf(path, sizeof path, "/documents/%s", id);
    return get(path, want);
}

/* true if the JSON text of doc contains needle. */
static bool json_mentions(const json_t *doc, const char *needle) {
    char *text = json_dumps(doc, JSON_COMPACT);
    bool found = text && strstr(text, needle);
    free(text);
    return found;
}

static const char *const modes[] = {"lexical", "hybrid", "vector"};

/* The passages GET reports equal what the PUT said, and their texts. */
static void assert_stored(const char *id, const json_t *put_answer, const char *heading, const char *topic) {
    json_t *d = get_document(id, 200);
    json_t *passages = json_object_get(d, "passages");
    assert_int_equal(json_array_size(passages), json_integer_value(json_object_get(put_answer, "passages")));
    assert_string_equal(json_string_value(json_object_get(d, "heading")), heading);
    assert_string_equal(json_string_value(json_object_get(d, "topic")), topic);
    for (size_t i = 0; i < json_array_size(passages); i++)
        assert_int_equal(json_integer_value(json_object_get(json_array_get(passages, i), "index")), (json_int_t)i);
    json_decref(d);
}

static void put_is_found_at_once_in_every_mode(void **state) {
    (void)state;
    const char *text = "The quixotrandel regatta on Keenjhar lake drew sailors from six provinces. "
                       "Organisers said the quixotrandel will return next spring.";
    json_t *a = doc_put(&fx.server, key, "live-put-1", "Regatta on the lake", text, "2016-05-01", " Culture ");
    assert_string_equal(json_string_value(json_object_get(a, "id")), "live-put-1");
    assert_true(json_is_true(json_object_get(a, "created")));
    assert_true(json_integer_value(json_object_get(a, "passages")) >= 1);
    assert_stored("live-put-1", a, "Regatta on the lake", "culture");
    json_decref(a);
    assert_int_equal(doc_ask_rank(&fx.server, key, "quixotrandel regatta", "lexical", NULL, 5, "live-put-1"), 1);
    assert_int_equal(doc_ask_rank(&fx.server, key, "quixotrandel regatta", "hybrid", NULL, 5, "live-put-1"), 1);
    int vector_rank = doc_ask_rank(&fx.server, key, text, "vector", NULL, 5, "live-put-1");
    assert_true(vector_rank >= 1 && vector_rank <= 3);
    /* The new topic is a partition of its own. */
    assert_int_equal(doc_ask_rank(&fx.server, key, "quixotrandel", "lexical", "culture", 5, "live-put-1"), 1);
    assert_int_equal(doc_ask_rank(&fx.server, key, "quixotrandel", "lexical", "business", 5, "live-put-1"), 0);
    json_t *topics = get("/topics", 200);
    assert_true(json_mentions(topics, "\"culture\""));
    json_decref(topics);
}

static void replace_leaves_no_trace_of_the_old_text(void **state) {
    (void)state;
    json_t *a = doc_put(&fx.server, key, "live-rep-1", "Old title", "The flumbergast mill closed in March.",
                        "2016-01-02", "business");
    assert_true(json_is_true(json_object_get(a, "created")));
    json_decref(a);
    assert_int_equal(doc_ask_rank(&fx.server, key, "flumbergast", "lexical", NULL, 5, "live-rep-1"), 1);
    a = doc_put(&fx.server, key, "live-rep-1", "New title", "The glorpendale bakery opened in April.",
                "2016-01-03", "business");
    assert_false(json_is_true(json_object_get(a, "created")));
    assert_stored("live-rep-1", a, "New title", "business");
    json_decref(a);
    assert_int_equal(doc_ask_rank(&fx.server, key, "glorpendale bakery", "lexical", NULL, 5, "live-rep-1"), 1);
    assert_int_equal(doc_ask_rank(&fx.server, key, "flumbergast", "lexical", NULL, 50, "live-rep-1"), 0);
    /* Vector mode with top_k past the store's size returns every passage:
     * exactly one of the article (no old passage beside the new). */
    json_t *q = json_pack("{s:s, s:s, s:i, s:i}", "question", "mill bakery", "mode", "vector", "top_k", 50,
                          "max_per_article", 0);
    json_t *ans = doc_call_json(&fx.server, key, "POST", "/ask", q, 200);
    int seen = 0;
    size_t i;
    json_t *s;
    json_array_foreach(json_object_get(ans, "sources"), i, s) {
        if (!strcmp(json_string_value(json_object_get(s, "article_id")), "live-rep-1")) {
            seen++;
            assert_null(strstr(json_string_value(json_object_get(s, "text")), "flumbergast"));
        }
    }
    assert_int_equal(seen, 1);
    json_decref(ans);
}

static void delete_is_gone_from_every_mode_filter_and_listing(void **state) {
    (void)state;
    json_t *a = doc_put(&fx.server, key, "live-del-1", "Snarfblatt obituary", "The snarfblatt collector died aged 90.",
                        "2016-02-02", "obituaries");
    json_decref(a);
    assert_int_equal(doc_ask_rank(&fx.server, key, "snarfblatt", "lexical", "obituaries", 5, "live-del-1"), 1);
    json_t *d = doc_call_json(&fx.server, key, "DELETE", "/documents/live-del-1", NULL, 200);
    assert_true(json_is_true(json_object_get(d, "deleted")));
    json_decref(d);
    http_reply r;
    assert_int_equal(doc_call(&fx.server, key, "DELETE", "/documents/live-del-1", NULL, &r), 0);
    assert_json_error(&r, 404, NULL);
    http_reply_free(&r);
    json_decref(get_document("live-del-1", 404));
    for (size_t m = 0; m < ARRAY_LEN(modes); m++)
        assert_int_equal(doc_ask_rank(&fx.server, key, "snarfblatt collector died", modes[m], NULL, 50, "live-del-1"), 0);
    /* The topic had only this article: it is gone as a partition too. */
    assert_int_equal(doc_call(&fx.server, key, "POST", "/ask",
                              "{\"question\":\"snarfblatt\",\"topic\":\"obituaries\",\"mode\":\"lexical\"}", &r), 0);
    assert_json_error(&r, 422, NULL);
    http_reply_free(&r);
    json_t *l = get("/documents?topic=obituaries", 200);
    assert_int_equal(json_array_size(json_object_get(l, "documents")), 0);
    json_decref(l);
    l = get("/documents?limit=1000", 200);
    assert_false(json_mentions(l, "live-del-1"));
    json_decref(l);
}

static void list_pages_with_a_cursor(void **state) {
    (void)state;
    json_t *docs = json_array();
    for (int i = 0; i < 5; i++) {
        char id[16];
        snprintf(id, sizeof id, "page-%02d", i);
        json_array_append_new(docs, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", id, "heading", id, "text",
                                              "A paging test article about the paging topic.", "date",
                                              "2016-03-03", "topic", "paging"));
    }
    json_decref(doc_call_json(&fx.server, key, "POST", "/documents", json_pack("{s:o}", "documents", docs), 200));
    json_decref(doc_put(&fx.server, key, "page-05", "page-05", "One more paging article.", "2016-03-04", "Paging"));
    /* Pages of 4 through the topic: 4 then 2, in id order, then no cursor. */
    const char *expect[] = {"page-00", "page-01", "page-02", "page-03", "page-04", "page-05"};
    char path[128] = "/documents?topic=paging&limit=4";
    size_t got = 0;
    for (int page = 0; page < 2; page++) {
        json_t *l = get(path, 200);
        json_t *list = json_object_get(l, "documents");
        assert_int_equal(json_array_size(list), page == 0 ? 4 : 2);
        for (size_t i = 0; i < json_array_size(list); i++, got++) {
            json_t *e = json_array_get(list, i);
            assert_string_equal(json_string_value(json_object_get(e, "id")), expect[got]);
            assert_string_equal(json_string_value(json_object_get(e, "date")), got == 5 ? "2016-03-04" : "2016-03-03");
        }
        json_t *next = json_object_get(l, "next_cursor");
        if (page == 0) {
            assert_string_equal(json_string_value(next), "page-03");
            snprintf(path, sizeof path, "/documents?topic=paging&limit=4&cursor=%s", json_string_value(next));
        } else {
            assert_true(json_is_null(next));
        }
        json_decref(l);
    }
    assert_int_equal(got, 6);
    /* Every article, in pages of 7: ids strictly increasing, the corpus's 20 among them. */
    char cursor[160] = "";
    size_t total = 0, corpus_ids = 0;
    char last[160] = "";
    for (int guard = 0; guard < 100; guard++) {
        snprintf(path, sizeof path, "/documents?limit=7%s%s", cursor[0] ? "&cursor=" : "", cursor);
        json_t *l = get(path, 200);
        size_t i;
        json_t *e;
        json_array_foreach(json_object_get(l, "documents"), i, e) {
            const char *id = json_string_value(json_object_get(e, "id"));
            assert_true(strcmp(last, id) < 0);
            snprintf(last, sizeof last, "%s", id);
            total++;
            corpus_ids += strspn(id, "0123456789") == strlen(id);
        }
        json_t *next = json_object_get(l, "next_cursor");
        bool more = json_is_string(next);
        if (more) snprintf(cursor, sizeof cursor, "%s", json_string_value(next));
        json_decref(l);
        if (!more) break;
    }
    assert_int_equal(corpus_ids, (size_t)ask_corpus_len);
    assert_true(total >= (size_t)ask_corpus_len + 6);
}

/* A request that must be refused with status and leave keep-1 as it was. */
static void refused(const char *method, const char *path, const char *body, long status) {
    http_reply r;
    assert_int_equal(doc_call(&fx.server, key, method, path, body, &r), 0);
    assert_json_error(&r, status, NULL);
    http_reply_free(&r);
}

static void bad_input_is_refused_and_changes_nothing(void **state) {
    (void)state;
    json_decref(doc_put(&fx.server, key, "keep-1", "Kept", "The kept article stays as it is.", "2016-04-04", "business"));
    json_t *before = get_document("keep-1", 200);
    const char *p = "/documents/keep-1";
    refused("PUT", p, "{\"text\":\"x y\",\"date\":\"2016-04-04\",\"topic\":\"b\"}", 422);                 /* no heading */
    refused("PUT", p, "{\"heading\":\"h\",\"text\":\"\",\"date\":\"2016-04-04\",\"topic\":\"b\"}", 422);  /* empty text */
    refused("PUT", p, "{\"heading\":\"h\",\"text\":\"<br/> &nbsp; \",\"date\":\"2016-04-04\",\"topic\":\"b\"}", 422);
    refused("PUT", p, "{\"heading\":\"h\",\"text\":\"x\",\"date\":\"2016-02-30\",\"topic\":\"b\"}", 422); /* bad date */
    refused("PUT", p, "{\"heading\":\"h\",\"text\":\"x\",\"date\":\"4/4/2016\",\"topic\":\"b\"}", 422);
    refused("PUT", p, "{\"heading\":\"h\",\"text\":\"x\",\"date\":\"2016-04-04\",\"topic\":\"  \"}", 422);
    refused("PUT", p, "{\"heading\":\"h\",\"text\":\"x\",\"date\":\"2016-04-04\"}", 422);                 /* no topic */
    refused("PUT", p, "{\"heading\":\"h\",\"text\":7,\"date\":\"2016-04-04\",\"topic\":\"b\"}", 400);     /* wrong type */
    refused("PUT", p, "{\"heading\":\"h\",\"text\":\"x\",\"date\":\"2016-04-04\",\"topic\":\"b\",\"tpoic\":1}", 422);
    refused("PUT", p, "{\"id\":\"other\",\"heading\":\"h\",\"text\":\"x\",\"date\":\"2016-04-04\",\"topic\":\"b\"}", 422);
    refused("PUT", p, "[1]", 400);
    refused("PUT", p, "not json", 400);
    refused("PUT", "/documents/keep%201", "{\"heading\":\"h\",\"text\":\"x\",\"date\":\"2016-04-04\",\"topic\":\"b\"}", 422);
    char long_path[256] = "/documents/";
    memset(long_path + strlen(long_path), 'k', 129);
    refused("PUT", long_path, "{\"heading\":\"h\",\"text\":\"x\",\"date\":\"2016-04-04\",\"topic\":\"b\"}", 422);
    refused("DELETE", "/documents/keep%2F1", NULL, 422);
    /* Body past --max-document-kb 16: 413. */
    buf big = BUF_INIT;
    buf_puts(&big, "{\"heading\":\"h\",\"date\":\"2016-04-04\",\"topic\":\"b\",\"text\":\"");
    for (int i = 0; i < 20 * 1024 / 8; i++) buf_puts(&big, "kept art");
    buf_puts(&big, "\"}");
    refused("PUT", p, big.data, 413);
    buf_free(&big);
    /* More than --max-batch-documents 5 in one batch: 413. */
    json_t *docs = json_array();
    for (int i = 0; i < 6; i++)
        json_array_append_new(docs, json_pack("{s:s, s:s, s:s, s:s, s:s}", "id", "keep-1", "heading", "h", "text", "x",
                                              "date", "2016-04-04", "topic", "b"));
    json_t *batch = json_pack("{s:o}", "documents", docs);
    char *body = json_dumps(batch, JSON_COMPACT);
    json_decref(batch);
    refused("POST", "/documents", body, 413);
    free(body);
    refused("POST", "/documents", "{\"documents\":[]}", 422);
    refused("POST", "/documents", "{\"documents\":{}}", 400);
    refused("GET", "/documents?limit=0", NULL, 422);
    refused("GET", "/documents?limit=x", NULL, 422);
    refused("GET", "/documents?cursor=a%20b", NULL, 422);
    json_t *after = get_document("keep-1", 200);
    assert_true(json_equal(before, after));
    json_decref(before);
    json_decref(after);
}

static void batch_is_all_or_nothing(void **state) {
    (void)state;
    const char *bad = "{\"documents\":["
                      "{\"id\":\"bat-1\",\"heading\":\"h\",\"text\":\"batch one\",\"date\":\"2016-05-05\",\"topic\":\"b\"},"
                      "{\"id\":\"bat-2\",\"heading\":\"h\",\"text\":\"batch two\",\"date\":\"2016-13-05\",\"topic\":\"b\"},"
                      "{\"id\":\"bat-3\",\"heading\":\"h\",\"text\":\"batch three\",\"date\":\"2016-05-05\",\"topic\":\"b\"},"
                      "{\"id\":\"bat-1\",\"heading\":\"h\",\"text\":\"batch again\",\"date\":\"2016-05-05\",\"topic\":\"b\"}]}";
    http_reply r;
    assert_int_equal(doc_call(&fx.server, key, "POST", "/documents", bad, &r), 0);
    assert_json_error(&r, 422, NULL);
    json_t *e = json_loads(r.body.data, 0, NULL);
    json_t *items = json_object_get(json_object_get(e, "error"), "documents");
    assert_int_equal(json_array_size(items), 2);
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 0), "index")), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 0), "field")), "date");
    assert_int_equal(json_integer_value(json_object_get(json_array_get(items, 1), "index")), 3);
    assert_string_equal(json_string_value(json_object_get(json_array_get(items, 1), "id")), "bat-1");
    json_decref(e);
    http_reply_free(&r);
    json_decref(get_document("bat-1", 404));
    json_decref(get_document("bat-3", 404));
    const char *good = "{\"documents\":["
                       "{\"id\":\"bat-1\",\"heading\":\"h1\",\"text\":\"batch one\",\"date\":\"2016-05-05\",\"topic\":\"b\"},"
                       "{\"id\":\"bat-2\",\"heading\":\"h2\",\"text\":\"batch two\",\"date\":\"2016-05-06\",\"topic\":\"b\"}]}";
    json_t *ok = doc_call_json(&fx.server, key, "POST", "/documents", json_loads(good, 0, NULL), 200);
    json_t *results = json_object_get(ok, "documents");
    assert_int_equal(json_array_size(results), 2);
    assert_string_equal(json_string_value(json_object_get(json_array_get(results, 1), "id")), "bat-2");
    assert_true(json_is_true(json_object_get(json_array_get(results, 1), "created")));
    assert_stored("bat-1", json_array_get(results, 0), "h1", "b");
    assert_stored("bat-2", json_array_get(results, 1), "h2", "b");
    json_decref(ok);
}

static void writes_need_the_api_key(void **state) {
    (void)state;
    const char *body = "{\"heading\":\"h\",\"text\":\"no key\",\"date\":\"2016-04-04\",\"topic\":\"b\"}";
    http_reply r;
    assert_int_equal(doc_call(&fx.server, NULL, "PUT", "/documents/nokey-1", body, &r), 0);
    assert_json_error(&r, 401, NULL);
    http_reply_free(&r);
    assert_int_equal(doc_call(&fx.server, "wrong", "DELETE", "/documents/keep-1", NULL, &r), 0);
    assert_json_error(&r, 401, NULL);
    http_reply_free(&r);
    json_decref(get_document("nokey-1", 404));
    json_decref(get_document("keep-1", 200));
}

/* Last: it replaces two of the corpus's articles (ids 0 and 1). */
static void ingest_url_pushes_a_csv(void **state) {
    (void)state;
    char csv[160];
    snprintf(csv, sizeof csv, "%s/push.csv", fx.dir);
    FILE *f = fopen(csv, "w");
    assert_non_null(f);
    fputs("Article,Date,Heading,NewsType\r\n"
          "\"The wibbleton ferry resumed service after repairs.\",6/1/2016,Ferry back,Transport\r\n"
          "\"Wibbleton farmers expect a record <b>mango</b> crop.\",6/2/2016,Mango crop,business\r\n",
          f);
    assert_int_equal(fclose(f), 0);
    char url[128];
    ragd_url(&fx.server, "", url, sizeof url);
    const char *bin = getenv("RAGD_BIN");
    assert_non_null(bin);
    pid_t pid = harness_fork();
    if (pid == 0) {
        execl(bin, bin, "ingest", "--url", url, "--csv", csv, "--api-key", KEY, "--batch-documents", "1",
              "--no-progress", (char *)NULL);
        _exit(127);
    }
    assert_int_equal(harness_wait(pid), 0);
    json_t *d = get_document("0", 200);
    assert_string_equal(json_string_value(json_object_get(d, "heading")), "Ferry back");
    assert_string_equal(json_string_value(json_object_get(d, "topic")), "transport");
    assert_string_equal(json_string_value(json_object_get(d, "date")), "2016-06-01");
    json_decref(d);
    d = get_document("1", 200);
    assert_string_equal(json_string_value(json_object_get(d, "text")), "Wibbleton farmers expect a record mango crop.");
    json_decref(d);
    assert_int_equal(doc_ask_rank(&fx.server, key, "wibbleton ferry", "lexical", NULL, 5, "0"), 1);
}

/* The split deployment: the gateway splits, the model services encode. */
static void gateway_write_is_encoded_by_the_model_services(void **state) {
    (void)state;
    const char *text = "The zorblex observatory in Quetta recorded a meteor shower overnight.";
    json_t *a = doc_put(&fx.server, NULL, "gw-1", "Meteor shower", text, "2016-07-07", "science");
    assert_true(json_is_true(json_object_get(a, "created")));
    assert_stored("gw-1", a, "Meteor shower", "science");
    json_decref(a);
    assert_int_equal(doc_ask_rank(&fx.server, NULL, "zorblex observatory", "lexical", NULL, 5, "gw-1"), 1);
    int vector_rank = doc_ask_rank(&fx.server, NULL, text, "vector", NULL, 5, "gw-1");
    assert_true(vector_rank >= 1 && vector_rank <= 3);
    json_decref(doc_call_json(&fx.server, NULL, "DELETE", "/documents/gw-1", NULL, 200));
    assert_int_equal(doc_ask_rank(&fx.server, NULL, text, "vector", NULL, 50, "gw-1"), 0);
}

int main(void) {
    const struct CMUnitTest serve[] = {
        cmocka_unit_test(put_is_found_at_once_in_every_mode),
        cmocka_unit_test(replace_leaves_no_trace_of_the_old_text),
        cmocka_unit_test(delete_is_gone_from_every_mode_filter_and_listing),
        cmocka_unit_test(list_pages_with_a_cursor),
        cmocka_unit_test(bad_input_is_refused_and_changes_nothing),
        cmocka_unit_test(batch_is_all_or_nothing),
        cmocka_unit_test(writes_need_the_api_key),
        cmocka_unit_test(ingest_url_pushes_a_csv),
    };
    const struct CMUnitTest gateway[] = {
        cmocka_unit_test(gateway_write_is_encoded_by_the_model_services),
    };
    int failed = cmocka_run_group_tests_name("serve", serve, setup, teardown);
    failed += cmocka_run_group_tests_name("gateway", gateway, setup_gateway, teardown);
    return failed;
}
