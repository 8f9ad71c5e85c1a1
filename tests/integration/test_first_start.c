/* test_first_start — `ragd serve` on an empty data directory listens at once
 * and ingests meanwhile: /health 200, /ready 503 with its progress, /ask and
 * the model routes 503 with Retry-After and the percentage, the documents
 * and /metrics (with the ingest's gauges) served; /ready turns 200 and /ask
 * answers once the store is committed. A failed first ingest is reported on
 * /ready and in the log, and the process exits non-zero by itself.
 *
 * The corpus comes through a named pipe, so the ingest cannot get past
 * reading it until the test writes it: the "ingesting" state is observed
 * deterministically, with no knob that slows the server. The server's open
 * of the pipe waits for the test's (a FIFO opens for reading only once it
 * has a writer, and the other way round), so the test cannot write and
 * close before the server is reading: the data would be dropped with the
 * last descriptor and the server's later open would wait forever (seen in
 * CI, when the ingest thread ran late under load). */
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cmocka.h>

#include "ask_fixture.h"
#include "harness.h"
#include "json_error.h"
#include "util/util.h"

/* Copies of the fixture's articles (each made distinct, or ingest would
 * drop them as duplicates): several encoder batches of passages. */
#define COPIES 5

static char dir[64];
static ragd_proc server;
static char corpus_path[128]; /* the named pipe, until the test has fed it */

static int remove_entry(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)st, (void)type, (void)ftw;
    return remove(path);
}

static int make_dir(void **state) {
    (void)state;
    snprintf(dir, sizeof dir, "/tmp/ragd-first-XXXXXX");
    return mkdtemp(dir) ? 0 : -1;
}

static int remove_dir(void **state) {
    (void)state;
    nftw(dir, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
    return 0;
}

/* Whatever a failed assertion left: a server waiting in its open of the
 * pipe is let through (an empty corpus; it stops either way), then stopped. */
static int cleanup(void **state) {
    (void)state;
    if (corpus_path[0]) {
        int fd = open(corpus_path, O_WRONLY | O_NONBLOCK | O_CLOEXEC); /* ENXIO: no reader waits */
        if (fd >= 0) close(fd);
        corpus_path[0] = '\0';
    }
    if (server.pid > 0) ragd_stop(&server);
    return 0;
}

static void csv_field(buf *b, const char *s) {
    buf_putc(b, '"');
    for (; *s; s++) {
        if (*s == '"') buf_putc(b, '"');
        buf_putc(b, *s);
    }
    buf_putc(b, '"');
}

static void corpus_csv(buf *b) {
    buf_puts(b, "Article,Date,Heading,NewsType\r\n");
    for (int copy = 0; copy < COPIES; copy++)
        for (int i = 0; i < ask_corpus_len; i++) {
            const ask_article *a = &ask_corpus[i];
            buf text = BUF_INIT;
            buf_printf(&text, "%s Edition %d.", a->text, copy + 1);
            csv_field(b, text.data);
            buf_printf(b, ",%s,%s,%s\r\n", a->date_csv, a->heading, a->topic);
            buf_free(&text);
        }
}

/* mkfifo name in dir; nobody opens it until the test feeds it. */
static void make_corpus_pipe(const char *name, char *path, size_t pathlen) {
    snprintf(path, pathlen, "%s/%s", dir, name);
    assert_int_equal(mkfifo(path, 0600), 0);
    snprintf(corpus_path, sizeof corpus_path, "%s", path);
}

/* The open returns once the server has the pipe open to read; it then
 * reads everything and sees end of file at our close. */
static void feed_and_close(const char *data, size_t len) {
    int fd = open(corpus_path, O_WRONLY | O_CLOEXEC); /* bounded by the harness's deadline */
    assert_true(fd >= 0);
    corpus_path[0] = '\0';
    for (size_t off = 0; off < len;) {
        ssize_t w = write(fd, data + off, len - off);
        assert_true(w > 0);
        off += (size_t)w;
    }
    assert_int_equal(close(fd), 0);
}

static void start_serve(const char *data_name, const char *csv) {
    char data_dir[128];
    snprintf(data_dir, sizeof data_dir, "%s/%s", dir, data_name);
    const char *args[] = {"serve", "--data-dir", data_dir, "--csv", csv, NULL};
    assert_int_equal(ragd_start(&server, args, 60), 0);
}

static void get(const char *path, http_reply *r) {
    char url[256];
    ragd_url(&server, path, url, sizeof url);
    assert_int_equal(http_call("GET", url, NULL, NULL, 0, NULL, r), 0);
}

static json_t *json_of(const http_reply *r) {
    json_t *doc = json_loads(r->body.data, 0, NULL);
    if (!doc) fail_msg("not JSON: %s", r->body.data);
    return doc;
}

static void assert_retry_after(const http_reply *r) {
    char *retry = http_reply_header(r, "Retry-After");
    if (!retry) fail_msg("no Retry-After on a %ld", r->status);
    assert_true(atoi(retry) >= 1);
    free(retry);
}

static double metric(const char *text, const char *name) {
    size_t n = strlen(name);
    for (const char *l = text; l && *l; l = strchr(l, '\n') ? strchr(l, '\n') + 1 : NULL)
        if (!strncmp(l, name, n) && l[n] == ' ') return strtod(l + n + 1, NULL);
    fail_msg("no %s in /metrics", name);
    return -1;
}

static void serves_at_once_while_ingesting(void **state) {
    (void)state;
    char csv[128];
    make_corpus_pipe("corpus.csv", csv, sizeof csv);
    start_serve("data", csv);

    /* nothing can be ingested yet: the corpus has not been written */
    http_reply r;
    get("/health", &r);
    assert_int_equal(r.status, 200);
    json_t *doc = json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(doc, "passages")), 0);
    assert_string_equal(json_string_value(json_object_get(json_object_get(doc, "ingest"), "status")),
                        "ingesting");
    json_decref(doc);
    http_reply_free(&r);

    get("/ready", &r);
    assert_int_equal(r.status, 503);
    assert_retry_after(&r);
    doc = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "ingesting");
    assert_true(json_is_integer(json_object_get(doc, "done")));
    assert_int_equal(json_integer_value(json_object_get(doc, "done")), 0);
    assert_int_equal(json_integer_value(json_object_get(doc, "total")), 0);
    assert_true(json_is_null(json_object_get(doc, "eta_seconds")));
    json_decref(doc);
    http_reply_free(&r);

    assert_int_equal(ask_post(&server, "{\"question\": \"hockey olympics\"}", false, &r), 0);
    assert_json_error(&r, 503, "unavailable");
    assert_retry_after(&r);
    assert_non_null(strstr(r.body.data, "% done"));
    http_reply_free(&r);

    /* the encoder is the ingest's until it is over */
    char url[128];
    ragd_url(&server, "/encode", url, sizeof url);
    const char *texts = "{\"texts\": [\"hello\"]}";
    assert_int_equal(http_call("POST", url, "application/json", texts, strlen(texts), NULL, &r), 0);
    assert_json_error(&r, 503, "unavailable");
    assert_retry_after(&r);
    http_reply_free(&r);

    /* the chat's data routes need the store; its page does not (it says
     * the 503 of its questions) */
    ragd_url(&server, "/v1/chat/completions", url, sizeof url);
    const char *chat = "{\"messages\": [{\"role\": \"user\", \"content\": \"hockey\"}]}";
    assert_int_equal(http_call("POST", url, "application/json", chat, strlen(chat), NULL, &r), 0);
    assert_json_error(&r, 503, "unavailable");
    assert_retry_after(&r);
    http_reply_free(&r);
    get("/topics", &r);
    assert_json_error(&r, 503, "unavailable");
    http_reply_free(&r);

    const char *served[] = {"/", "/docs", "/openapi.json", "/chat"};
    for (size_t i = 0; i < ARRAY_LEN(served); i++) {
        get(served[i], &r);
        assert_int_equal(r.status, 200);
        http_reply_free(&r);
    }
    get("/metrics", &r);
    assert_int_equal(r.status, 200);
    assert_true(metric(r.body.data, "ragd_ingest_passages_done") == 0);
    assert_true(metric(r.body.data, "ragd_ingest_passages_total") == 0);
    http_reply_free(&r);

    /* now the corpus: /ready reports progress until it turns 200 */
    buf b = BUF_INIT;
    corpus_csv(&b);
    feed_and_close(b.data, b.len);
    buf_free(&b);
    long last_done = 0, total = 0;
    int partial = 0; /* answers seen between the first and the last batch (not asserted: timing) */
    for (;;) { /* bounded by the harness's deadline */
        get("/ready", &r);
        if (r.status == 200) break;
        assert_int_equal(r.status, 503);
        doc = json_of(&r);
        assert_string_equal(json_string_value(json_object_get(doc, "status")), "ingesting");
        long done = (long)json_integer_value(json_object_get(doc, "done"));
        long t = (long)json_integer_value(json_object_get(doc, "total"));
        assert_true(done >= last_done); /* progress only grows */
        if (total) assert_int_equal(t, total); /* and the total, once known, stays */
        assert_true(done <= t || t == 0);
        if (done > 0 && done < t) partial++;
        last_done = done;
        total = t;
        json_decref(doc);
        http_reply_free(&r);
        usleep(20 * 1000);
    }
    doc = json_of(&r);
    assert_string_equal(json_string_value(json_object_get(doc, "status")), "ready");
    json_decref(doc);
    http_reply_free(&r);
    fprintf(stderr, "progress answers seen between the first and last batch: %d\n", partial);

    get("/metrics", &r);
    double done = metric(r.body.data, "ragd_ingest_passages_done");
    assert_true(done >= ask_corpus_len * COPIES);
    assert_true(done == metric(r.body.data, "ragd_ingest_passages_total"));
    http_reply_free(&r);
    get("/health", &r);
    doc = json_of(&r);
    assert_int_equal(json_integer_value(json_object_get(doc, "passages")), (json_int_t)done);
    assert_null(json_object_get(doc, "ingest"));
    json_decref(doc);
    http_reply_free(&r);

    /* and the store answers */
    assert_int_equal(ask_post(&server, "{\"question\": \"hockey olympics\", \"mode\": \"lexical\"}", false, &r), 0);
    assert_int_equal(r.status, 200);
    doc = json_of(&r);
    json_t *first = json_array_get(json_object_get(doc, "sources"), 0);
    assert_string_equal(json_string_value(json_object_get(first, "heading")),
                        "hockey team qualifies for olympics");
    json_decref(doc);
    http_reply_free(&r);
    ragd_url(&server, "/encode", url, sizeof url);
    assert_int_equal(http_call("POST", url, "application/json", texts, strlen(texts), NULL, &r), 0);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    assert_int_equal(ragd_stop(&server), 0);

    /* the next start finds the store: ready from the start */
    start_serve("data", csv);
    get("/ready", &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    assert_int_equal(ragd_stop(&server), 0);
}

static void failed_first_ingest_is_reported_and_exits_nonzero(void **state) {
    (void)state;
    char csv[128];
    make_corpus_pipe("bad.csv", csv, sizeof csv);
    start_serve("bad-data", csv);
    const char bad[] = "Title,Body\r\nnot,the corpus\r\n";
    feed_and_close(bad, sizeof bad - 1);
    http_reply r;
    json_t *doc = NULL;
    for (;;) { /* until /ready reports the failure (bounded by the deadline) */
        char url[128];
        ragd_url(&server, "/ready", url, sizeof url);
        if (http_call("GET", url, NULL, NULL, 0, NULL, &r) != 0)
            fail_msg("the server went away before /ready reported the failure");
        assert_int_equal(r.status, 503);
        doc = json_of(&r);
        http_reply_free(&r);
        if (!strcmp(json_string_value(json_object_get(doc, "status")), "failed")) break;
        assert_string_equal(json_string_value(json_object_get(doc, "status")), "ingesting");
        json_decref(doc);
        usleep(20 * 1000);
    }
    const char *why = json_string_value(json_object_get(doc, "error"));
    assert_non_null(why);
    assert_non_null(strstr(why, "no column 'Article'"));
    json_decref(doc);
    assert_int_equal(ask_post(&server, "{\"question\": \"anything\"}", false, &r), 0);
    assert_json_error(&r, 503, "unavailable");
    assert_non_null(strstr(r.body.data, "failed"));
    http_reply_free(&r);

    char *log = NULL;
    int rc = ragd_wait(&server, &log); /* it stops by itself */
    if (rc != 1) fprintf(stderr, "exit status %d; log:\n%s\n", rc, log);
    assert_int_equal(rc, 1);
    assert_non_null(strstr(log, "the first ingest failed"));
    assert_non_null(strstr(log, "no column 'Article'"));
    free(log);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(serves_at_once_while_ingesting, cleanup),
        cmocka_unit_test_teardown(failed_first_ingest_is_reported_and_exits_nonzero, cleanup),
    };
    return cmocka_run_group_tests(tests, make_dir, remove_dir);
}
