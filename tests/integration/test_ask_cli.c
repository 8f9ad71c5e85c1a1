/* test_ask_cli — `ragd ask`, the command-line client, against a real
 * `ragd serve` (ask_fixture): the streamed answer is the server's answer
 * (the same text the JSON API gives for the same seed), followed by the
 * numbered sources and timings; --json prints the API's JSON; flags and
 * their environment variables reach the server; a refused connection, an
 * error from the server, a missing key and bad usage each exit non-zero with
 * a message on stderr. */
#include <arpa/inet.h>
#include <fcntl.h>
#include <jansson.h>
#include <netinet/in.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ask_fixture.h"
#include "util/buf.h"
#include "util/util.h"

static ask_fixture fx;
static char url[128];

static int setup(void **state) {
    (void)state;
    if (ask_fixture_start(&fx, NULL) < 0) return -1;
    ragd_url(&fx.server, "", url, sizeof url);
    return 0;
}

static int teardown(void **state) {
    (void)state;
    int rc = ask_fixture_stop(&fx, true);
    if (rc != 0) fprintf(stderr, "ragd serve exited with %d\n", rc);
    return rc == 0 ? 0 : -1;
}

typedef struct run_result {
    int status; /* exit status, or 128+signal */
    char *out;
    char *err;
} run_result;

static void run_result_free(run_result *r) {
    free(r->out);
    free(r->err);
}

/* Run `ragd ask <args…>` with env ("NAME=value" strings, NULL-terminated, or
 * NULL) added to the environment; RAGD_URL and RAGD_API_KEY are cleared first
 * so the test's outer environment cannot leak in. */
static run_result run_ask(const char *const *env, const char *const *args) {
    char out_path[96], err_path[96];
    snprintf(out_path, sizeof out_path, "%s/ask.out", fx.dir);
    snprintf(err_path, sizeof err_path, "%s/ask.err", fx.dir);
    const char *argv[32] = {getenv("RAGD_BIN"), "ask"};
    int n = 2;
    for (int i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    pid_t pid = harness_fork(); /* dies with the test, killed by its watchdog */
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        int e = open(err_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, STDOUT_FILENO);
        dup2(e, STDERR_FILENO);
        close(o);
        close(e);
        unsetenv("RAGD_URL");
        unsetenv("RAGD_API_KEY");
        for (int i = 0; env && env[i]; i++) putenv((char *)env[i]);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status = harness_wait(pid);
    assert_true(status >= 0);
    run_result r = {.status = status};
    r.out = read_file(out_path, NULL, NULL, 0);
    r.err = read_file(err_path, NULL, NULL, 0);
    assert_non_null(r.out);
    assert_non_null(r.err);
    return r;
}

static void expect_status(const run_result *r, int status) {
    if (r->status != status)
        fail_msg("ragd ask exited %d (expected %d)\nstdout:\n%s\nstderr:\n%s", r->status, status,
                 r->out, r->err);
}

/* The server's JSON answer for a body, parsed. */
static json_t *api_answer(const char *body) {
    http_reply r;
    assert_int_equal(ask_post(&fx.server, body, false, &r), 0);
    assert_int_equal(r.status, 200);
    json_t *doc = json_loads(r.body.data, 0, NULL);
    assert_non_null(doc);
    http_reply_free(&r);
    return doc;
}

/* The streamed answer is the first line of stdout and equals the JSON
 * answer for the same question and seed; then come the sources, numbered,
 * each with heading, date, topic and score, and the timings. */
static void streams_answer_then_sources_and_timings(void **state) {
    (void)state;
    const char *args[] = {"--url", url, "--seed", "42", "-k", "3", "who", "won", "the", "tennis", "final", NULL};
    run_result r = run_ask(NULL, args);
    expect_status(&r, 0);
    json_t *api = api_answer("{\"question\": \"who won the tennis final\", \"seed\": 42, \"top_k\": 3}");
    const char *answer = json_string_value(json_object_get(api, "answer"));
    assert_true(strlen(answer) > 0);
    /* the answer may hold line breaks of its own: compare by length */
    size_t alen = strlen(answer);
    if (strncmp(r.out, answer, alen) || r.out[alen] != '\n')
        fail_msg("streamed answer differs from the API's\nstdout:\n%s\nAPI:\n%s", r.out, answer);
    const char *rest = r.out + alen + 1;

    const char *sources_at = strstr(rest, "Sources:");
    assert_non_null(sources_at);
    json_t *sources = json_object_get(api, "sources");
    assert_int_equal(json_array_size(sources), 3);
    const char *at = sources_at;
    for (size_t i = 0; i < 3; i++) {
        json_t *s = json_array_get(sources, i);
        char line[512];
        snprintf(line, sizeof line, "[%zu] %s\n", i + 1, json_string_value(json_object_get(s, "heading")));
        const char *found = strstr(at, line);
        if (!found) fail_msg("stdout lacks '%s' in order:\n%s", line, rest);
        snprintf(line, sizeof line, "%s · %s · score %.4f", json_string_value(json_object_get(s, "date")),
                 json_string_value(json_object_get(s, "topic")),
                 json_number_value(json_object_get(s, "score")));
        assert_non_null(strstr(found, line));
        at = found + 1;
    }
    assert_null(strstr(sources_at, "[4]"));
    const char *timings = strstr(at, "Timings: encode ");
    assert_non_null(timings);
    assert_non_null(strstr(timings, " ms, total "));
    assert_string_equal(r.err, "");
    json_decref(api);
    run_result_free(&r);
}

/* --json prints the API's JSON answer; --topic, --top-k and --mode reach the server. */
static void json_output_parses_and_flags_reach_the_server(void **state) {
    (void)state;
    const char *modes[] = {"hybrid", "vector", "lexical"};
    for (size_t m = 0; m < ARRAY_LEN(modes); m++) {
        const char *args[] = {"--url", url, "--json", "--topic", "business", "--top-k", "4", "--mode",
                              modes[m], "--seed", "5", "crude oil prices and inflation", NULL};
        run_result r = run_ask(NULL, args);
        expect_status(&r, 0);
        json_error_t jerr;
        json_t *doc = json_loads(r.out, 0, &jerr);
        if (!doc) fail_msg("--json output is not JSON (%s): %s", jerr.text, r.out);
        assert_true(json_is_string(json_object_get(doc, "answer")));
        assert_true(json_is_object(json_object_get(doc, "timings_ms")));
        json_t *sources = json_object_get(doc, "sources");
        size_t n = json_array_size(sources);
        assert_true(n >= 1 && n <= 4);
        if (strcmp(modes[m], "lexical")) assert_int_equal(n, 4);
        for (size_t i = 0; i < n; i++)
            assert_string_equal(json_string_value(json_object_get(json_array_get(sources, i), "topic")),
                                "business");
        /* the same request through the API gives the same answer (seeded), so nothing was lost */
        char body[256];
        snprintf(body, sizeof body,
                 "{\"question\": \"crude oil prices and inflation\", \"topic\": \"business\", "
                 "\"top_k\": 4, \"mode\": \"%s\", \"seed\": 5}", modes[m]);
        json_t *api = api_answer(body);
        assert_string_equal(json_string_value(json_object_get(doc, "answer")),
                            json_string_value(json_object_get(api, "answer")));
        json_decref(api);
        json_decref(doc);
        run_result_free(&r);
    }
}

/* RAGD_URL stands in for --url, and --url wins over it. */
static void url_comes_from_the_environment(void **state) {
    (void)state;
    char env_url[160];
    snprintf(env_url, sizeof env_url, "RAGD_URL=%s", url);
    const char *env[] = {env_url, NULL};
    const char *args[] = {"--json", "-k", "2", "polo", NULL};
    run_result r = run_ask(env, args);
    expect_status(&r, 0);
    json_t *doc = json_loads(r.out, 0, NULL);
    assert_non_null(doc);
    assert_int_equal(json_array_size(json_object_get(doc, "sources")), 2);
    json_decref(doc);
    run_result_free(&r);

    const char *wrong[] = {"RAGD_URL=http://127.0.0.1:1", NULL};
    const char *args2[] = {"--url", url, "--json", "polo", NULL};
    r = run_ask(wrong, args2);
    expect_status(&r, 0);
    run_result_free(&r);
}

/* A port nobody listens on: bind one, note it, close it. */
static int closed_port(void) {
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    struct sockaddr_in a = {.sin_family = AF_INET};
    inet_pton(AF_INET, "127.0.0.1", &a.sin_addr);
    assert_int_equal(bind(fd, (struct sockaddr *)&a, sizeof a), 0);
    socklen_t len = sizeof a;
    assert_int_equal(getsockname(fd, (struct sockaddr *)&a, &len), 0);
    close(fd);
    return ntohs(a.sin_port);
}

static void refused_connection_fails_with_a_message(void **state) {
    (void)state;
    char dead[64];
    snprintf(dead, sizeof dead, "http://127.0.0.1:%d", closed_port());
    for (int json = 0; json < 2; json++) {
        const char *args[] = {"--url", dead, json ? "--json" : "--no-json", "anyone there?", NULL};
        run_result r = run_ask(NULL, args);
        assert_int_equal(r.status, 1);
        assert_string_equal(r.out, "");
        assert_non_null(strstr(r.err, "cannot reach ragd"));
        assert_non_null(strstr(r.err, dead));
        run_result_free(&r);
    }
}

/* The server's JSON error becomes the message, in its own words. */
static void server_errors_fail_with_their_message(void **state) {
    (void)state;
    struct {
        const char *flag, *value, *expect;
    } cases[] = {
        {"--topic", "golf", "unknown topic 'golf'"},
        {"-k", "0", "'top_k' must be between"},
        {"--top-k", "1000", "'top_k' must be between"},
        {"--mode", "semantic", "'mode' must be"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        for (int json = 0; json < 2; json++) {
            const char *args[] = {"--url", url, cases[i].flag, cases[i].value,
                                  json ? "--json" : "--no-json", "question", NULL};
            run_result r = run_ask(NULL, args);
            assert_int_equal(r.status, 1);
            assert_non_null(strstr(r.err, "422"));
            if (!strstr(r.err, cases[i].expect))
                fail_msg("stderr lacks \"%s\": %s", cases[i].expect, r.err);
            assert_string_equal(r.out, "");
            run_result_free(&r);
        }
    }
    const char *blank[] = {"--url", url, "   ", NULL};
    run_result r = run_ask(NULL, blank);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "must not be empty"));
    run_result_free(&r);
}

static void bad_usage_exits_2(void **state) {
    (void)state;
    const char *none[] = {"--url", url, NULL};
    run_result r = run_ask(NULL, none);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "give a question"));
    run_result_free(&r);
    const char *bad_seed[] = {"--url", url, "--seed", "-4", "q", NULL};
    r = run_ask(NULL, bad_seed);
    assert_int_equal(r.status, 2);
    assert_non_null(strstr(r.err, "--seed"));
    run_result_free(&r);
    const char *bad_flag[] = {"--url", url, "--no-such-flag", "q", NULL};
    r = run_ask(NULL, bad_flag);
    assert_int_equal(r.status, 2);
    run_result_free(&r);
    const char *help[] = {"--help", NULL};
    r = run_ask(NULL, help);
    assert_int_equal(r.status, 0);
    assert_non_null(strstr(r.out, "--top-k"));
    assert_non_null(strstr(r.out, "RAGD_URL"));
    run_result_free(&r);
}

/* A server that wants a key: refused without it (401, exit 1), answered with
 * --api-key or RAGD_API_KEY. */
static void api_key_is_sent(void **state) {
    (void)state;
    ragd_proc keyed;
    const char *extra[] = {"--api-key", "k3y-for-ask", NULL};
    assert_int_equal(ask_fixture_start_again(&fx, &keyed, extra), 0);
    char keyed_url[128];
    ragd_url(&keyed, "", keyed_url, sizeof keyed_url);

    const char *args[] = {"--url", keyed_url, "hockey", NULL};
    run_result r = run_ask(NULL, args);
    assert_int_equal(r.status, 1);
    assert_non_null(strstr(r.err, "401"));
    run_result_free(&r);

    const char *with_key[] = {"--url", keyed_url, "--api-key", "k3y-for-ask", "hockey", NULL};
    r = run_ask(NULL, with_key);
    expect_status(&r, 0);
    assert_non_null(strstr(r.out, "hockey team qualifies for olympics"));
    run_result_free(&r);

    const char *env[] = {"RAGD_API_KEY=k3y-for-ask", NULL};
    r = run_ask(env, args);
    expect_status(&r, 0);
    assert_non_null(strstr(r.out, "Sources:"));
    run_result_free(&r);
    assert_int_equal(ragd_stop(&keyed), 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(streams_answer_then_sources_and_timings),
        cmocka_unit_test(json_output_parses_and_flags_reach_the_server),
        cmocka_unit_test(url_comes_from_the_environment),
        cmocka_unit_test(refused_connection_fails_with_a_message),
        cmocka_unit_test(server_errors_fail_with_their_message),
        cmocka_unit_test(bad_usage_exits_2),
        cmocka_unit_test(api_key_is_sent),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
