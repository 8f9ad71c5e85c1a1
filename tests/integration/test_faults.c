/* test_faults — hardening cases the other integration tests leave out, each
 * against the real binary: CORS on and off, a data directory that runs out of
 * space during an ingest (clear error, the old store still answers), and a
 * Loki that is not there (requests keep succeeding, the server still stops
 * cleanly).
 *
 * One serve over the ask fixture's corpus (ingested once, no CORS) is shared;
 * the cases that need other flags start a second serve on the same data
 * directory. The disk-full case mounts a small tmpfs, so it needs root: where
 * mounting is not permitted it is skipped with a message, not passed. */
#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ask_fixture.h"
#include "harness.h"
#include "json_error.h"
#include "util/buf.h"
#include "util/util.h"

static ask_fixture fixture;

static int start_fixture(void **state) {
    (void)state;
    return ask_fixture_start(&fixture, NULL) < 0 ? -1 : 0;
}

static int stop_fixture(void **state) {
    (void)state;
    int rc = ask_fixture_stop(&fixture, true);
    if (rc != 0) fprintf(stderr, "ragd serve exited with %d\n", rc);
    return rc == 0 ? 0 : -1;
}

static void call(const ragd_proc *p, const char *method, const char *path, const char *const *headers,
                 http_reply *r) {
    char url[256];
    ragd_url(p, path, url, sizeof url);
    assert_int_equal(http_call(method, url, NULL, NULL, 0, headers, r), 0);
}

static void assert_header(const http_reply *r, const char *name, const char *want) {
    char *got = http_reply_header(r, name);
    if (!got) fail_msg("no %s header in a %ld answer", name, r->status);
    if (strcmp(got, want)) fail_msg("%s: want '%s', got '%s'", name, want, got);
    free(got);
}

static void assert_header_contains(const http_reply *r, const char *name, const char *part) {
    char *got = http_reply_header(r, name);
    if (!got) fail_msg("no %s header in a %ld answer", name, r->status);
    if (!strstr(got, part)) fail_msg("%s '%s' does not contain '%s'", name, got, part);
    free(got);
}

static void assert_no_header(const http_reply *r, const char *name) {
    char *got = http_reply_header(r, name);
    if (got) fail_msg("unexpected %s: %s", name, got);
}

/* ---- CORS ---- */

static const char *const from_example[] = {"Origin: https://example.org", NULL};

static void cors_origin_is_announced_and_preflight_answered(void **state) {
    (void)state;
    ragd_proc cors;
    const char *args[] = {"--cors-origin", "https://example.org", NULL};
    assert_int_equal(ask_fixture_start_again(&fixture, &cors, args), 0);

    http_reply r;
    call(&cors, "GET", "/health", from_example, &r);
    assert_int_equal(r.status, 200);
    assert_header(&r, "Access-Control-Allow-Origin", "https://example.org");
    assert_header_contains(&r, "Vary", "Origin");
    http_reply_free(&r);

    char url[256];
    ragd_url(&cors, "/ask", url, sizeof url);
    const char body[] = "{\"question\":\"who won the football derby?\"}";
    assert_int_equal(http_call("POST", url, "application/json", body, sizeof body - 1, from_example, &r), 0);
    if (r.status != 200) fail_msg("/ask answered %ld: %s", r.status, r.body.data);
    assert_header(&r, "Access-Control-Allow-Origin", "https://example.org");
    assert_header_contains(&r, "Vary", "Origin");
    http_reply_free(&r);

    /* An error answer carries it too, or the browser hides the error from the page. */
    call(&cors, "GET", "/no-such-route", from_example, &r);
    assert_json_error(&r, 404, NULL);
    assert_header(&r, "Access-Control-Allow-Origin", "https://example.org");
    http_reply_free(&r);

    const char *preflight[] = {"Origin: https://example.org", "Access-Control-Request-Method: POST",
                               "Access-Control-Request-Headers: content-type", NULL};
    call(&cors, "OPTIONS", "/ask", preflight, &r);
    assert_int_equal(r.status, 204);
    assert_header(&r, "Access-Control-Allow-Origin", "https://example.org");
    assert_header_contains(&r, "Access-Control-Allow-Methods", "POST");
    assert_header_contains(&r, "Access-Control-Allow-Headers", "Content-Type");
    assert_int_equal(r.body.len, 0);
    http_reply_free(&r);

    assert_int_equal(ragd_stop(&cors), 0);
}

static void without_cors_origin_nothing_is_allowed(void **state) {
    (void)state;
    http_reply r;
    call(&fixture.server, "GET", "/health", from_example, &r);
    assert_int_equal(r.status, 200);
    assert_no_header(&r, "Access-Control-Allow-Origin");
    http_reply_free(&r);

    const char *preflight[] = {"Origin: https://example.org", "Access-Control-Request-Method: POST", NULL};
    call(&fixture.server, "OPTIONS", "/ask", preflight, &r);
    /* /ask exists but not for OPTIONS: the usual 405 with Allow, and no CORS grant. */
    assert_json_error(&r, 405, NULL);
    assert_header_contains(&r, "Allow", "POST");
    assert_no_header(&r, "Access-Control-Allow-Origin");
    assert_no_header(&r, "Access-Control-Allow-Methods");
    http_reply_free(&r);
}

/* ---- disk full ---- */

static char mount_dir[128];
static bool mounted;

static int unmount_tmpfs(void **state) {
    (void)state;
    if (mounted) {
        char cmd[256];
        snprintf(cmd, sizeof cmd, "umount -l %s", mount_dir);
        if (system(cmd) != 0) fprintf(stderr, "test_faults: '%s' failed\n", cmd);
        mounted = false;
    }
    if (mount_dir[0]) rmdir(mount_dir);
    mount_dir[0] = '\0';
    return 0;
}

static off_t used_bytes;

static int add_usage(const char *path, const struct stat *st, int type, struct FTW *ftw) {
    (void)path, (void)ftw;
    if (type == FTW_F) used_bytes += (st->st_size + 4095) / 4096 * 4096;
    else used_bytes += 4096;
    return 0;
}

/* Run `ragd args…` to the end with stdout and stderr in files; its exit status. */
static int run_ragd(const char *const *args, const char *out_path, const char *err_path) {
    const char *bin = getenv("RAGD_BIN");
    assert_non_null(bin);
    const char *argv[32] = {bin};
    int n = 1;
    for (int i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = harness_fork(); /* dies with the test, killed by its watchdog */
    assert_true(pid >= 0);
    if (pid == 0) {
        int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        if (out < 0 || err < 0) _exit(126);
        dup2(out, STDOUT_FILENO);
        dup2(err, STDERR_FILENO);
        execv(bin, (char *const *)argv);
        _exit(127);
    }
    int rc = harness_wait(pid);
    assert_true(rc >= 0);
    return rc;
}

/* Many long articles in the fixture's CSV format, none in the small corpus. */
static void write_bigger_csv(const char *path) {
    buf b = BUF_INIT;
    buf_puts(&b, "Article,Date,Heading,NewsType\r\n");
    for (int i = 0; i < 400; i++) {
        buf_puts(&b, "\"");
        for (int s = 0; s < 12; s++)
            buf_printf(&b, "Report %d part %d: the harbour authority counted %d container ships and "
                           "said cargo volumes had grown for the %dth straight quarter. ",
                       i, s, 100 + i * 7 + s, s + 2);
        buf_printf(&b, "\",%d/%d/2016,harbour report number %d,%s\r\n", i % 12 + 1, i % 28 + 1, i,
                   i % 2 ? "sports" : "business");
    }
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(b.data, 1, b.len, f), b.len);
    assert_int_equal(fclose(f), 0);
    buf_free(&b);
}

static void full_disk_fails_ingest_and_keeps_old_store(void **state) {
    (void)state;
    snprintf(mount_dir, sizeof mount_dir, "%s/small", fixture.dir);
    assert_int_equal(mkdir(mount_dir, 0755), 0);

    used_bytes = 0;
    assert_int_equal(nftw(fixture.data_dir, add_usage, 16, FTW_PHYS), 0);
    /* room for a copy of the store and a little more, far less than the bigger corpus needs */
    long size_k = (long)(used_bytes / 1024) + 192;
    char cmd[512];
    snprintf(cmd, sizeof cmd, "mount -t tmpfs -o size=%ldk tmpfs %s 2>/dev/null", size_k, mount_dir);
    if (system(cmd) != 0) {
        printf("test_faults: SKIPPED disk-full case: cannot mount a tmpfs here (needs root / CAP_SYS_ADMIN)\n");
        skip();
    }
    mounted = true;

    char data[192];
    snprintf(data, sizeof data, "%s/data", mount_dir);
    snprintf(cmd, sizeof cmd, "cp -a %s %s", fixture.data_dir, data);
    assert_int_equal(system(cmd), 0);
    char store_path[256];
    snprintf(store_path, sizeof store_path, "%s/store.bin", data);
    size_t before_len = 0;
    char *before = read_file(store_path, &before_len, NULL, 0);
    if (!before) fail_msg("no store.bin in the copied data directory %s", data);

    char big_csv[192], out[192], err[192];
    snprintf(big_csv, sizeof big_csv, "%s/bigger.csv", fixture.dir);
    snprintf(out, sizeof out, "%s/ingest.out", fixture.dir);
    snprintf(err, sizeof err, "%s/ingest.err", fixture.dir);
    write_bigger_csv(big_csv);
    const char *ingest[] = {"ingest", "--csv", big_csv, "--data-dir", data, "--no-progress", NULL};
    int rc = run_ragd(ingest, out, err);
    char *err_text = read_file(err, NULL, NULL, 0);
    assert_non_null(err_text);
    size_t end = strlen(err_text);
    while (end && err_text[end - 1] == '\n') err_text[--end] = '\0';
    char *last_line = strrchr(err_text, '\n');
    printf("test_faults: ingest into a %ldk tmpfs exited %d: %s\n", size_k, rc,
           last_line ? last_line + 1 : err_text);
    assert_int_not_equal(rc, 0);
    if (!strcasestr(err_text, "space")) fail_msg("the ingest error does not say the disk is full:\n%s", err_text);
    free(err_text);

    /* the old snapshot is untouched, byte for byte */
    size_t after_len = 0;
    char *after = read_file(store_path, &after_len, NULL, 0);
    assert_non_null(after);
    assert_int_equal(after_len, before_len);
    assert_memory_equal(after, before, before_len);
    free(after);
    free(before);

    /* …and opens and answers: the football article for its keyword */
    snprintf(out, sizeof out, "%s/search.out", fixture.dir);
    snprintf(err, sizeof err, "%s/search.err", fixture.dir);
    const char *search[] = {"search", "--data-dir", data, "--mode", "lexical", "--json", "--top-k", "1",
                            "football derby", NULL};
    rc = run_ragd(search, out, err);
    if (rc != 0) {
        char *e = read_file(err, NULL, NULL, 0);
        fail_msg("search on the old store exited %d: %s", rc, e ? e : "");
    }
    char *hits = read_file(out, NULL, NULL, 0);
    assert_non_null(hits);
    json_t *hit = json_loads(hits, JSON_DISABLE_EOF_CHECK, NULL);
    if (!hit) fail_msg("search printed no JSON hit: %s", hits);
    assert_string_equal(json_string_value(json_object_get(hit, "heading")), "late goal settles football derby");
    json_decref(hit);
    free(hits);
}

/* ---- Loki down ---- */

/* A loopback port nothing listens on: bound, then closed. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

/* The value of an unlabelled series in a Prometheus text page, or -1 if absent. */
static double metric_value(const char *page, const char *name) {
    size_t n = strlen(name);
    for (const char *line = page; line && *line; line = strchr(line, '\n') ? strchr(line, '\n') + 1 : NULL) {
        if (!strncmp(line, name, n) && line[n] == ' ') return strtod(line + n + 1, NULL);
    }
    return -1;
}

static void loki_down_costs_log_lines_not_requests(void **state) {
    (void)state;
    char loki_url[64];
    snprintf(loki_url, sizeof loki_url, "http://127.0.0.1:%d", closed_port());
    ragd_proc logged;
    const char *args[] = {"--loki-url", loki_url, NULL};
    assert_int_equal(ask_fixture_start_again(&fixture, &logged, args), 0);

    const char *questions[] = {"who won the football derby?", "why did crude prices slide?",
                               "what did the state bank do about inflation?", "who won the polo cup?"};
    for (int i = 0; i < 50; i++) {
        http_reply r;
        char body[160];
        snprintf(body, sizeof body, "{\"question\":\"%s\",\"seed\":%d}", questions[i % 4], i);
        assert_int_equal(ask_post(&logged, body, false, &r), 0);
        if (r.status != 200) fail_msg("/ask %d of 50 answered %ld: %s", i + 1, r.status, r.body.data);
        http_reply_free(&r);
    }

    /* The sender has tried (a batch waits at most a second) and failed; it says so
     * once, and nothing was accepted. Poll rather than sleep a guessed time. */
    char *log = NULL;
    for (int i = 0; i < 200; i++) {
        free(log);
        log = ragd_log(&logged);
        if (log && strstr(log, "loki: push to")) break;
        usleep(50 * 1000);
    }
    if (!log || !strstr(log, "loki: push to")) fail_msg("no warning about the failing Loki push in:\n%s", log);
    assert_non_null(strstr(log, loki_url));
    free(log);

    http_reply r;
    call(&logged, "GET", "/metrics", NULL, &r);
    assert_int_equal(r.status, 200);
    double pushed = metric_value(r.body.data, "ragd_log_lines_pushed_total");
    double dropped = metric_value(r.body.data, "ragd_log_lines_dropped_total");
    printf("test_faults: with Loki down after 50 asks: pushed %.0f, dropped %.0f (lines are retried up to "
           "10 times with backoff before they count as dropped)\n", pushed, dropped);
    assert_true(pushed == 0);
    assert_true(dropped >= 0); /* the family is exported */
    http_reply_free(&r);

    /* still serving after the burst, and SIGTERM ends it cleanly despite the
     * sender being mid-backoff (ragd_stop kills after 10 s, which would not be 0) */
    call(&logged, "GET", "/health", NULL, &r);
    assert_int_equal(r.status, 200);
    http_reply_free(&r);
    assert_int_equal(ragd_stop(&logged), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(cors_origin_is_announced_and_preflight_answered),
        cmocka_unit_test(without_cors_origin_nothing_is_allowed),
        cmocka_unit_test_teardown(full_disk_fails_ingest_and_keeps_old_store, unmount_tmpfs),
        cmocka_unit_test(loki_down_costs_log_lines_not_requests),
    };
    return cmocka_run_group_tests(tests, start_fixture, stop_fixture);
}
