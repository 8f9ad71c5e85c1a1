/* test_pg_gateways — the split deployment on one PostgreSQL database, over
 * real HTTP on loopback: two `ragd gateway` processes (and the fixture's two
 * `ragd model` services) on one throwaway cluster.
 *
 *   - a write through one gateway is read through the other at once (GET and
 *     /ask), a delete likewise;
 *   - a streaming standby (pg_basebackup -R) given as --store-read-url serves
 *     a third gateway's searches; with the primary stopped its writes are 503
 *     with Retry-After while its searches go on from the standby, and a
 *     gateway without a standby says 503 on /ready and /ask;
 *   - the primary started again: /ready is 200 again and /ask and writes work,
 *     without restarting any ragd;
 *   - a frozen database (SIGSTOP): /ask and /ready 503 within the statement
 *     timeout, not a hang, and recovery once it runs again;
 *   - `ragd ingest --store-url` skips the articles the database holds before
 *     encoding (an interrupted run is a committed prefix: the next run loads
 *     only the rest) and keeps an article written through the API since;
 *   - `ragd ingest --store-url --from-data-dir` moves an embedded store into a
 *     database without encoding, and `ragd search` then ranks the same;
 *   - bad connection strings, an unreachable server and a database without a
 *     ragd store: one clear line at start and exit status 2.
 *
 * The fixture (ask_fixture_start_gateway with RAGD_TEST_STORE=postgres, set
 * by CMake) makes the cluster, ingests its 20 articles with --store-url and
 * starts the models and the first gateway. */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "ask_fixture.h"
#include "documents_client.h"
#include "pg_cluster.h"
#include "util/buf.h"
#include "util/util.h"

#define WAIT_S 60 /* a bound against hanging, not a speed requirement */

static ask_fixture fx;
static ragd_proc gw2;      /* a second gateway on the same database */
static ragd_proc gw_read;  /* a gateway reading from the standby */
static pg_cluster standby;
static char model_urls[2][64];

static int setup(void **state) {
    (void)state;
    if (!ask_fixture_on_pg()) {
        fprintf(stderr, "test_pg_gateways: run with RAGD_TEST_STORE=postgres (ctest sets it)\n");
        return -1;
    }
    if (ask_fixture_start_gateway(&fx) < 0) return -1;
    for (int i = 0; i < 2; i++) ragd_url(&fx.models[i], "", model_urls[i], sizeof model_urls[i]);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    int rc = 0;
    if (gw2.pid > 0) rc |= ragd_stop(&gw2);
    if (gw_read.pid > 0) rc |= ragd_stop(&gw_read);
    pg_cluster_destroy(&standby);
    rc |= ask_fixture_stop(&fx, true);
    return rc == 0 ? 0 : -1;
}

/* A gateway on the fixture's models with these store flags; waits for /ready 200. */
static void start_gateway(ragd_proc *p, const char *const *store_args) {
    const char *args[16] = {"gateway", "--model-url", model_urls[0], "--model-url", model_urls[1]};
    int n = 5;
    for (int i = 0; store_args[i]; i++) args[n++] = store_args[i];
    args[n] = NULL;
    assert_int_equal(ragd_start(p, args, WAIT_S), 0);
}

static long status_of(const ragd_proc *p, const char *method, const char *path, const char *body,
                      char **retry_after) {
    http_reply r;
    assert_int_equal(doc_call(p, NULL, method, path, body, &r), 0);
    long status = r.status;
    if (retry_after) *retry_after = http_reply_header(&r, "Retry-After");
    http_reply_free(&r);
    return status;
}

/* Poll GET path until it answers want (or WAIT_S passes): the answer's status. */
static long wait_status(const ragd_proc *p, const char *path, long want) {
    long status = 0;
    for (int i = 0; i < WAIT_S * 20 && (status = status_of(p, "GET", path, NULL, NULL)) != want; i++)
        usleep(50 * 1000);
    return status;
}

static const char *ask_lexical(const char *q) {
    static char body[256];
    snprintf(body, sizeof body, "{\"question\": \"%s\", \"mode\": \"lexical\"}", q);
    return body;
}

static void a_write_through_one_is_read_through_the_other(void **state) {
    (void)state;
    const char *url_args[] = {"--store-url", fx.pg.url, NULL};
    start_gateway(&gw2, url_args);

    json_t *a = doc_put(&fx.server, NULL, "shared-1", "Glaciers retreat",
                        "The quillwort glacier retreated by forty metres last summer.", "2016-08-01",
                        "science");
    assert_true(json_is_true(json_object_get(a, "created")));
    json_decref(a);
    /* at once, no waiting: one database */
    json_t *d = doc_call_json(&gw2, NULL, "GET", "/documents/shared-1", NULL, 200);
    assert_string_equal(json_string_value(json_object_get(d, "heading")), "Glaciers retreat");
    assert_string_equal(json_string_value(json_object_get(d, "topic")), "science");
    json_decref(d);
    assert_int_equal(doc_ask_rank(&gw2, NULL, "quillwort glacier", "lexical", NULL, 5, "shared-1"), 1);
    /* a topic the other gateway created is known here at once */
    assert_int_equal(doc_ask_rank(&gw2, NULL, "quillwort glacier", "lexical", "science", 5, "shared-1"), 1);
    json_t *topics = doc_call_json(&gw2, NULL, "GET", "/topics", NULL, 200);
    char *text = json_dumps(topics, JSON_COMPACT);
    assert_non_null(strstr(text, "\"science\""));
    free(text);
    json_decref(topics);

    /* a replace through the second is seen by the first; a delete too */
    json_decref(doc_put(&gw2, NULL, "shared-1", "Glaciers retreat", "The glacier grew back a little.",
                        "2016-08-02", "science"));
    assert_int_equal(doc_ask_rank(&fx.server, NULL, "quillwort", "lexical", NULL, 5, "shared-1"), 0);
    json_decref(doc_call_json(&gw2, NULL, "DELETE", "/documents/shared-1", NULL, 200));
    assert_int_equal(status_of(&fx.server, "GET", "/documents/shared-1", NULL, NULL), 404);
}

static void the_standby_serves_searches_and_the_primary_stopped(void **state) {
    (void)state;
    assert_int_equal(pg_cluster_start_standby(&fx.pg, &standby), 0);
    const char *split_args[] = {"--store-url", fx.pg.url, "--store-read-url", standby.url, NULL};
    start_gateway(&gw_read, split_args);
    /* a write goes to the primary and shows up on the standby once replayed */
    json_decref(doc_put(&gw_read, NULL, "replica-1", "Ferry timetable",
                        "The xylocarp ferry now sails twice a day.", "2016-09-01", "business"));
    int rank = 0;
    for (int i = 0; i < WAIT_S * 20 && rank != 1; i++) {
        rank = doc_ask_rank(&gw_read, NULL, "xylocarp ferry", "lexical", NULL, 5, "replica-1");
        if (rank != 1) usleep(50 * 1000);
    }
    assert_int_equal(rank, 1);

    assert_int_equal(pg_cluster_stop(&fx.pg), 0);
    /* writes: 503 with Retry-After, through every gateway */
    char *retry = NULL;
    const char *put = "{\"heading\": \"h\", \"text\": \"never written\", \"date\": \"2016-01-01\", "
                      "\"topic\": \"business\"}";
    assert_int_equal(status_of(&gw_read, "PUT", "/documents/replica-2", put, &retry), 503);
    assert_non_null(retry);
    assert_string_equal(retry, "2");
    free(retry);
    assert_int_equal(status_of(&gw_read, "DELETE", "/documents/replica-1", NULL, NULL), 503);
    /* reads go on from the standby */
    assert_int_equal(doc_ask_rank(&gw_read, NULL, "xylocarp ferry", "lexical", NULL, 5, "replica-1"), 1);
    json_decref(doc_call_json(&gw_read, NULL, "GET", "/documents/replica-1", NULL, 200));
    assert_int_equal(status_of(&gw_read, "GET", "/ready", NULL, NULL), 200);
    /* a gateway without a standby cannot serve: 503 with Retry-After, not a hang */
    assert_int_equal(status_of(&gw2, "GET", "/ready", NULL, NULL), 503);
    assert_int_equal(status_of(&gw2, "POST", "/ask", ask_lexical("xylocarp ferry"), &retry), 503);
    assert_non_null(retry);
    assert_string_equal(retry, "2");
    free(retry);
    assert_int_equal(status_of(&gw2, "POST", "/ask", "{\"question\": \"ferry\", \"stream\": true}", NULL), 503);
    assert_int_equal(status_of(&gw2, "GET", "/documents/replica-1", NULL, NULL), 503);
    assert_int_equal(status_of(&gw2, "GET", "/documents?limit=2", NULL, NULL), 503);
    assert_int_equal(status_of(&gw2, "GET", "/topics", NULL, NULL), 503);
}

/* After the one above: the primary comes back, nothing is restarted. */
static void the_primary_started_again_everything_recovers(void **state) {
    (void)state;
    assert_int_equal(pg_cluster_restart(&fx.pg), 0);
    assert_int_equal(wait_status(&gw2, "/ready", 200), 200);
    assert_int_equal(wait_status(&fx.server, "/ready", 200), 200);
    assert_int_equal(doc_ask_rank(&gw2, NULL, "xylocarp ferry", "lexical", NULL, 5, "replica-1"), 1);
    assert_int_equal(doc_ask_rank(&fx.server, NULL, "xylocarp ferry", "lexical", NULL, 5, "replica-1"), 1);
    json_decref(doc_put(&gw_read, NULL, "replica-2", "Back", "The zephyrine primary is back.",
                        "2016-09-02", "business"));
    json_decref(doc_call_json(&fx.server, NULL, "GET", "/documents/replica-2", NULL, 200));
    json_decref(doc_call_json(&fx.server, NULL, "DELETE", "/documents/replica-2", NULL, 200));
}

/* A database that accepts bytes and never answers (every postgres process
 * SIGSTOPped): /ask and /ready answer 503 within the statement timeout and
 * its grace instead of holding a thread, and all is well once it runs again.
 * The harness's deadline is what would catch a hang. */
static void a_frozen_database_is_503_not_a_hang(void **state) {
    (void)state;
    ragd_proc quick;
    const char *args[] = {"--store-url", fx.pg.url, "--store-timeout-ms", "1000", NULL};
    start_gateway(&quick, args);
    assert_int_equal(doc_ask_rank(&quick, NULL, "wrestling federation", "lexical", NULL, 5, "19"), 1);
    assert_int_equal(pg_cluster_freeze(&fx.pg, true), 0);
    char *retry = NULL;
    long ask = status_of(&quick, "POST", "/ask", ask_lexical("wrestling federation"), &retry);
    long ready = status_of(&quick, "GET", "/ready", NULL, NULL);
    assert_int_equal(pg_cluster_freeze(&fx.pg, false), 0);
    assert_int_equal(ask, 503);
    assert_non_null(retry);
    free(retry);
    assert_int_equal(ready, 503);
    assert_int_equal(wait_status(&quick, "/ready", 200), 200);
    assert_int_equal(doc_ask_rank(&quick, NULL, "wrestling federation", "lexical", NULL, 5, "19"), 1);
    assert_int_equal(ragd_stop(&quick), 0);
}

/* `ragd args…` to its end; its output (stdout and stderr) into *out. Exit status. */
static int run_ragd(const char *const *args, char **out) {
    const char *bin = getenv("RAGD_BIN");
    assert_non_null(bin);
    char log_path[160];
    snprintf(log_path, sizeof log_path, "%s/run.log", fx.dir);
    const char *argv[24] = {bin};
    int n = 1;
    for (int i = 0; args[i] && n < 23; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = harness_fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (fd >= 0) {
            dup2(fd, STDOUT_FILENO);
            dup2(fd, STDERR_FILENO);
            close(fd);
        }
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int rc = harness_wait(pid);
    *out = read_file(log_path, NULL, NULL, 0);
    assert_non_null(*out);
    return rc;
}

/* The first corpus articles (ids 0 … n-1), in the fixture's CSV format. */
static void write_prefix_csv(const char *path, int n) {
    buf b = BUF_INIT;
    buf_puts(&b, "Article,Date,Heading,NewsType\r\n");
    for (int i = 0; i < n; i++) {
        buf_putc(&b, '"');
        for (const char *s = ask_corpus[i].text; *s; s++) {
            if (*s == '"') buf_putc(&b, '"');
            buf_putc(&b, *s);
        }
        buf_printf(&b, "\",%s,%s,%s\r\n", ask_corpus[i].date_csv, ask_corpus[i].heading,
                   ask_corpus[i].topic);
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
    assert_int_equal(fclose(f), 0);
    buf_free(&b);
}

/* "N loaded (M passages encoded)" of an ingest summary line: N, M into out. */
static void loaded_and_encoded(const char *log, long out[2]) {
    const char *at = strstr(log, " loaded (");
    assert_non_null(at);
    const char *line = at;
    while (line > log && line[-1] != '\n') line--;
    assert_int_equal(sscanf(strstr(line, "already in the"), "already in the %*[^,], %ld loaded (%ld",
                            &out[0], &out[1]), 2);
}

static void ingest_skips_what_the_database_holds(void **state) {
    (void)state;
    assert_int_equal(pg_cluster_exec(&fx.pg, "CREATE DATABASE resume"), 0);
    char url[160], prefix[160];
    snprintf(url, sizeof url, "postgres://postgres@127.0.0.1:%d/resume", fx.pg.port);
    snprintf(prefix, sizeof prefix, "%s/prefix.csv", fx.dir);
    write_prefix_csv(prefix, 8);
    char *log;
    const char *first[] = {"ingest", "--store-url", url, "--csv", prefix, "--no-progress", NULL};
    assert_int_equal(run_ragd(first, &log), 0);
    long counts[2];
    loaded_and_encoded(log, counts);
    assert_int_equal(counts[0], 8);
    long prefix_passages = counts[1];
    assert_true(prefix_passages >= 8);
    free(log);

    /* an API write to a corpus id not loaded yet: the next ingest keeps it */
    const char *store_args[] = {"--store-url", url, NULL};
    ragd_proc gw;
    start_gateway(&gw, store_args);
    json_decref(doc_put(&gw, NULL, "12", "Edited", "An edited text about the final.", "2016-09-12",
                        "sports"));

    /* the whole corpus: only the 11 articles neither loaded nor written are encoded */
    const char *all[] = {"ingest", "--store-url", url, "--csv", fx.csv_path, "--no-progress", NULL};
    assert_int_equal(run_ragd(all, &log), 0);
    loaded_and_encoded(log, counts);
    assert_int_equal(counts[0], ask_corpus_len - 9);
    assert_true(counts[1] > 0);
    assert_non_null(strstr(log, "-> 9 already in the"));
    free(log);
    json_t *d = doc_call_json(&gw, NULL, "GET", "/documents/12", NULL, 200);
    assert_string_equal(json_string_value(json_object_get(d, "heading")), "Edited");
    json_decref(d);
    assert_int_equal(doc_ask_rank(&gw, NULL, "wrestling federation", "lexical", NULL, 5, "19"), 1);

    /* a third run: nothing to encode */
    assert_int_equal(run_ragd(all, &log), 0);
    loaded_and_encoded(log, counts);
    assert_int_equal(counts[0], 0);
    assert_int_equal(counts[1], 0);
    free(log);
    assert_int_equal(ragd_stop(&gw), 0);
}

/* One line naming the cause, and exit status 2. */
static void refused_at_start(const char *const *args, const char *needle) {
    char *log;
    int rc = run_ragd(args, &log);
    if (rc != 2 || !strstr(log, needle))
        fail_msg("ragd %s: exit %d, wanted 2 and '%s' in:\n%s", args[0], rc, needle, log);
    assert_null(strstr(log, "s3cret")); /* a password is never printed */
    free(log);
}

/* text without its JSON log lines (the encoder's warnings carry timestamps). */
static void drop_log_lines(char *text) {
    char *out = text;
    for (char *line = text; *line;) {
        size_t len = strcspn(line, "\n");
        size_t next = len + (line[len] == '\n');
        if (line[0] != '{') {
            memmove(out, line, next);
            out += next;
        }
        line += next;
    }
    *out = '\0';
}

/* A data directory moved into a database: the same answers, nothing encoded. */
static void ingest_copies_a_data_directory(void **state) {
    (void)state;
    char *log;
    const char *to_dir[] = {"ingest", "--data-dir", fx.data_dir, "--csv", fx.csv_path, "--no-progress", NULL};
    assert_int_equal(run_ragd(to_dir, &log), 0);
    free(log);
    assert_int_equal(pg_cluster_exec(&fx.pg, "CREATE DATABASE copied"), 0);
    char url[160], want[64];
    snprintf(url, sizeof url, "postgres://postgres@127.0.0.1:%d/copied", fx.pg.port);
    const char *copy[] = {"ingest", "--store-url", url, "--from-data-dir", fx.data_dir, "--no-progress", NULL};
    assert_int_equal(run_ragd(copy, &log), 0);
    snprintf(want, sizeof want, "%d articles in", ask_corpus_len);
    assert_non_null(strstr(log, want));
    snprintf(want, sizeof want, "0 already in the");
    assert_non_null(strstr(log, want));
    snprintf(want, sizeof want, ", %d copied", ask_corpus_len);
    assert_non_null(strstr(log, want));
    free(log);
    assert_int_equal(run_ragd(copy, &log), 0); /* again: nothing to copy */
    assert_non_null(strstr(log, ", 0 copied"));
    free(log);
    /* every mode ranks the same from the directory and the database */
    const char *modes[] = {"lexical", "vector", "hybrid"};
    for (int m = 0; m < 3; m++) {
        char *from_dir, *from_db;
        const char *q_dir[] = {"search", "--log-level", "warn", "--mode", modes[m], "-k", "5",
                               "--data-dir", fx.data_dir, "bank prices and the final", NULL};
        const char *q_db[] = {"search", "--log-level", "warn", "--mode", modes[m], "-k", "5",
                              "--store-url", url, "bank prices and the final", NULL};
        assert_int_equal(run_ragd(q_dir, &from_dir), 0);
        assert_int_equal(run_ragd(q_db, &from_db), 0);
        drop_log_lines(from_dir);
        drop_log_lines(from_db);
        assert_non_null(strstr(from_dir, " 1. "));
        assert_string_equal(from_db, from_dir);
        free(from_dir);
        free(from_db);
    }
    const char *no_url[] = {"ingest", "--from-data-dir", fx.data_dir, NULL};
    refused_at_start(no_url, "give --store-url");
}

static void bad_connection_strings_are_refused_at_start(void **state) {
    (void)state;
    const char *bad_uri[] = {"gateway", "--store-url", "postgres://u:s3cret@[::1", NULL};
    refused_at_start(bad_uri, "bad PostgreSQL connection string");
    const char *bad_key[] = {"search", "--store-url", "host=127.0.0.1 password=s3cret colour=blue", "x", NULL};
    refused_at_start(bad_key, "invalid connection option");
    const char *bad_read[] = {"serve", "--store-url", fx.pg.url, "--store-read-url", "host=x colour=1", NULL};
    refused_at_start(bad_read, "--store-read-url");
    const char *read_alone[] = {"gateway", "--store-read-url", fx.pg.url, NULL};
    refused_at_start(read_alone, "--store-read-url needs --store-url");
    char closed[160];
    snprintf(closed, sizeof closed, "postgres://postgres:s3cret@127.0.0.1:1/postgres"); /* nothing listens on 1 */
    const char *unreachable[] = {"gateway", "--store-url", closed, "--model-url", model_urls[0], NULL};
    refused_at_start(unreachable, "cannot connect to PostgreSQL");
    const char *unreachable_ingest[] = {"ingest", "--store-url", closed, "--csv", fx.csv_path, NULL};
    refused_at_start(unreachable_ingest, "cannot connect to PostgreSQL");
    assert_int_equal(pg_cluster_exec(&fx.pg, "CREATE DATABASE empty"), 0);
    char empty[160];
    snprintf(empty, sizeof empty, "postgres://postgres@127.0.0.1:%d/empty", fx.pg.port);
    const char *no_store[] = {"gateway", "--store-url", empty, "--model-url", model_urls[0], NULL};
    refused_at_start(no_store, "holds no ragd store");
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(a_write_through_one_is_read_through_the_other),
        cmocka_unit_test(the_standby_serves_searches_and_the_primary_stopped),
        cmocka_unit_test(the_primary_started_again_everything_recovers),
        cmocka_unit_test(a_frozen_database_is_503_not_a_hang),
        cmocka_unit_test(ingest_skips_what_the_database_holds),
        cmocka_unit_test(ingest_copies_a_data_directory),
        cmocka_unit_test(bad_connection_strings_are_refused_at_start),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
