/* test_retrieval_api — retrieval as a client sees it, against a real
 * `ragd serve` (ask_fixture, on the random twin): `ragd search` ranks
 * exactly as /ask does (same default mode, fusion and article cap, one
 * owner in app/retrieval.c); explain: true says where each source came
 * from; date_from / date_to keep to their range even when it excludes the
 * best hit; bad dates, a reversed range and a bad max_per_article are 422
 * or 400 JSON errors; `ragd eval` gives the same figures in-process and
 * through /ask. */
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <unistd.h>

#include <cmocka.h>

#include "ask_fixture.h"
#include "util/util.h"

static ask_fixture fx;

static int setup(void **state) {
    (void)state;
    return ask_fixture_start(&fx, NULL) < 0 ? -1 : 0;
}

static int teardown(void **state) {
    (void)state;
    return ask_fixture_stop(&fx, true) == 0 ? 0 : -1;
}

static json_t *ask(const char *body, long want_status) {
    http_reply r;
    assert_int_equal(ask_post(&fx.server, body, false, &r), 0);
    if (r.status != want_status)
        fail_msg("POST /ask %s → %ld (want %ld) %s", body, r.status, want_status, r.body.data);
    json_t *doc = json_loads(r.body.data, 0, NULL);
    assert_non_null(doc);
    http_reply_free(&r);
    return doc;
}

/* `ragd search --json --data-dir <the server's> args…`: stdout (caller frees). */
static char *search(const char *const *args) {
    char out_path[128];
    snprintf(out_path, sizeof out_path, "%s/search.out", fx.dir);
    const char *argv[32] = {getenv("RAGD_BIN"), "search", "--json", fx.store_flag, fx.store_value,
                            "--log-level", "error"};
    int n = 7;
    for (int i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, STDOUT_FILENO);
        close(o);
        unsetenv("RAGD_MAX_PER_ARTICLE");
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    char *out = read_file(out_path, NULL, NULL, 0);
    assert_non_null(out);
    return out;
}

/* The passage ids of `ragd search --json` output, one JSON object a line. */
static int search_ids(char *out, json_int_t *ids, int cap) {
    int n = 0;
    for (char *line = strtok(out, "\n"); line && n < cap; line = strtok(NULL, "\n")) {
        json_t *o = json_loads(line, 0, NULL);
        assert_non_null(o);
        ids[n++] = json_integer_value(json_object_get(o, "id"));
        json_decref(o);
    }
    return n;
}

static void search_and_ask_rank_the_same(void **state) {
    (void)state;
    const char *questions[] = {"crude stockpiles", "who won the tennis final", "the team won",
                               "money for exporters and banks", "zzqx unknownword"};
    const char *modes[] = {NULL, "lexical", "vector", "hybrid"};
    for (size_t q = 0; q < ARRAY_LEN(questions); q++)
        for (size_t m = 0; m < ARRAY_LEN(modes); m++) {
            json_t *req = json_pack("{s:s, s:i}", "question", questions[q], "top_k", 6);
            if (modes[m]) json_object_set_new(req, "mode", json_string(modes[m]));
            char *body = json_dumps(req, JSON_COMPACT);
            json_t *doc = ask(body, 200);
            json_t *sources = json_object_get(doc, "sources");
            const char *args[] = {"-k", "6", modes[m] ? "--mode" : questions[q],
                                  modes[m] ? modes[m] : NULL, modes[m] ? questions[q] : NULL, NULL};
            char *out = search(args);
            json_int_t ids[16];
            int n = search_ids(out, ids, 16);
            if ((size_t)n != json_array_size(sources))
                fail_msg("%s (%s): search gave %d hits, /ask %zu sources", questions[q],
                         modes[m] ? modes[m] : "default", n, json_array_size(sources));
            for (int i = 0; i < n; i++)
                assert_int_equal(ids[i],
                                 json_integer_value(json_object_get(json_array_get(sources, (size_t)i), "id")));
            free(out);
            free(body);
            json_decref(req);
            json_decref(doc);
        }
}

static void explain_says_where_each_source_came_from(void **state) {
    (void)state;
    json_t *doc = ask("{\"question\": \"crude stockpiles in storage\", \"top_k\": 5, \"explain\": true}", 200);
    json_t *sources = json_object_get(doc, "sources");
    assert_int_equal(json_array_size(sources), 5);
    /* The twin fuses lexical-first: the crude article is BM25's first, and
     * the lexical ranks lead the list in order. */
    const ask_article *a = ask_article_by_heading(
        json_string_value(json_object_get(json_array_get(sources, 0), "heading")));
    assert_non_null(a);
    assert_string_equal(a->keyword, "crude");
    int last_lexical = 0;
    for (size_t i = 0; i < 5; i++) {
        json_t *s = json_array_get(sources, i);
        json_t *e = json_object_get(s, "explain");
        assert_true(json_is_object(e));
        json_t *lr = json_object_get(e, "lexical_rank"), *ls = json_object_get(e, "lexical_score");
        json_t *vr = json_object_get(e, "vector_rank"), *vs = json_object_get(e, "vector_score");
        assert_true(json_is_integer(lr) || json_is_null(lr));
        assert_true(json_is_null(lr) == json_is_null(ls));
        assert_true(json_is_integer(vr) && json_is_real(vs)); /* the vector half ranks every row */
        if (json_is_integer(lr)) {
            assert_int_equal(json_integer_value(lr), ++last_lexical);
            assert_true(json_real_value(ls) > 0);
        }
        assert_float_equal(json_real_value(json_object_get(e, "fused_score")),
                           json_real_value(json_object_get(s, "score")), 1e-9);
    }
    assert_true(last_lexical >= 1);
    json_decref(doc);
    /* Without explain there is no explain field. */
    doc = ask("{\"question\": \"crude\", \"top_k\": 2}", 200);
    assert_null(json_object_get(json_array_get(json_object_get(doc, "sources"), 0), "explain"));
    json_decref(doc);
}

static void date_range_excludes_the_best_hit(void **state) {
    (void)state;
    /* "crude" is the 2016-01-12 article's word; from February it is out, and
     * every source keeps to the range. */
    json_t *doc = ask("{\"question\": \"crude stockpiles\", \"top_k\": 5, \"date_from\": "
                      "\"2016-02-01\", \"date_to\": \"2016-12-31\"}", 200);
    json_t *sources = json_object_get(doc, "sources");
    assert_int_equal(json_array_size(sources), 5);
    size_t i;
    json_t *s;
    json_array_foreach(sources, i, s) {
        const char *date = json_string_value(json_object_get(s, "date"));
        assert_true(strcmp(date, "2016-02-01") >= 0 && strcmp(date, "2016-12-31") <= 0);
        const ask_article *a = ask_article_by_heading(json_string_value(json_object_get(s, "heading")));
        assert_string_not_equal(a->keyword, "crude");
    }
    json_decref(doc);
    /* One day, inclusive: only that day's article. */
    doc = ask("{\"question\": \"anything at all\", \"top_k\": 5, \"date_from\": \"2016-01-12\", "
              "\"date_to\": \"2016-01-12\"}", 200);
    sources = json_object_get(doc, "sources");
    assert_int_equal(json_array_size(sources), 1);
    assert_string_equal(json_string_value(json_object_get(json_array_get(sources, 0), "date")),
                        "2016-01-12");
    json_decref(doc);
    /* ragd search takes the same range. */
    const char *args[] = {"--date-from", "2016-02-01", "--date-to", "2016-12-31", "crude", NULL};
    char *out = search(args);
    assert_null(strstr(out, "\"date\":\"2016-01-12\""));
    free(out);
}

static void bad_filters_are_json_errors(void **state) {
    (void)state;
    const struct {
        const char *body;
        long status;
        const char *says;
    } cases[] = {
        {"{\"question\": \"q\", \"date_from\": \"2016-13-01\"}", 422, "date_from"},
        {"{\"question\": \"q\", \"date_to\": \"2016-02-30\"}", 422, "date_to"},
        {"{\"question\": \"q\", \"date_from\": \"1/2/2016\"}", 422, "YYYY-MM-DD"},
        {"{\"question\": \"q\", \"date_from\": 20160101}", 400, "date_from"},
        {"{\"question\": \"q\", \"date_from\": \"2016-05-01\", \"date_to\": \"2016-04-30\"}", 422, "after"},
        {"{\"question\": \"q\", \"max_per_article\": -1}", 422, "max_per_article"},
        {"{\"question\": \"q\", \"max_per_article\": 51}", 422, "max_per_article"},
        {"{\"question\": \"q\", \"max_per_article\": \"2\"}", 400, "max_per_article"},
        {"{\"question\": \"q\", \"explain\": \"yes\"}", 400, "explain"},
    };
    for (size_t i = 0; i < ARRAY_LEN(cases); i++) {
        json_t *doc = ask(cases[i].body, cases[i].status);
        const char *msg = json_string_value(json_object_get(json_object_get(doc, "error"), "message"));
        if (!msg || !strstr(msg, cases[i].says))
            fail_msg("%s: message '%s' does not say '%s'", cases[i].body, msg ? msg : "(none)",
                     cases[i].says);
        json_decref(doc);
    }
}

/* Run `ragd eval --json args…` and parse its stdout. */
static json_t *eval_json(const char *const *args) {
    char out_path[128];
    snprintf(out_path, sizeof out_path, "%s/eval.out", fx.dir);
    const char *argv[32] = {getenv("RAGD_BIN"), "eval", "--json"};
    int n = 3;
    for (int i = 0; args[i] && n < 31; i++) argv[n++] = args[i];
    argv[n] = NULL;
    fflush(NULL);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int o = open(out_path, O_WRONLY | O_CREAT | O_TRUNC, 0644);
        dup2(o, STDOUT_FILENO);
        close(o);
        execv(argv[0], (char *const *)argv);
        _exit(127);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFEXITED(status) && WEXITSTATUS(status) == 0);
    json_t *doc = json_load_file(out_path, 0, NULL);
    assert_non_null(doc);
    return doc;
}

static const json_t *eval_row(const json_t *doc, const char *mode, const char *kind) {
    size_t i;
    json_t *r;
    json_array_foreach(json_object_get(doc, "results"), i, r) {
        if (!strcmp(json_string_value(json_object_get(r, "mode")), mode) &&
            !strcmp(json_string_value(json_object_get(r, "kind")), kind))
            return r;
    }
    fail_msg("no %s/%s row", mode, kind);
    return NULL;
}

/* ragd eval in-process and through /ask agree, and score questions whose
 * article is known: keyword questions find theirs first; one question about
 * an article that shares none of its words is missed in lexical mode. */
static void eval_in_process_and_over_http_agree(void **state) {
    (void)state;
    char qrels[128], url[128];
    snprintf(qrels, sizeof qrels, "%s/qrels.jsonl", fx.dir);
    FILE *f = fopen(qrels, "w");
    assert_non_null(f);
    const char *keywords[] = {"crude", "tennis", "polo", "wheat"};
    for (int k = 0; k < 4; k++)
        for (int i = 0; i < ask_corpus_len; i++)
            if (!strcmp(ask_corpus[i].keyword, keywords[k]))
                fprintf(f, "{\"question\": \"news about %s\", \"article_id\": \"%d\", \"kind\": \"keyword\"}\n",
                        keywords[k], i);
    fprintf(f, "{\"question\": \"zzqx\", \"article_id\": \"0\", \"kind\": \"miss\"}\n");
    fclose(f);
    ragd_url(&fx.server, "", url, sizeof url);
    const char *local[] = {"--qrels", qrels, fx.store_flag, fx.store_value, NULL};
    const char *http[] = {"--qrels", qrels, "--url", url, NULL};
    json_t *a = eval_json(local), *b = eval_json(http);
    const char *modes[] = {"default", "hybrid", "vector", "lexical"};
    const char *fields[] = {"n", "r1", "r5", "r10", "mrr10", "ndcg10", "short"};
    for (int m = 0; m < 4; m++)
        for (size_t k = 0; k < ARRAY_LEN(fields); k++) {
            const json_t *x = json_object_get(eval_row(a, modes[m], "all"), fields[k]);
            const json_t *y = json_object_get(eval_row(b, modes[m], "all"), fields[k]);
            if (!x || !y || fabs(json_number_value(x) - json_number_value(y)) > 1e-9)
                fail_msg("%s %s: in-process %g, over HTTP %g", modes[m], fields[k],
                         json_number_value(x), json_number_value(y));
        }
    const json_t *kw = eval_row(a, "lexical", "keyword");
    assert_int_equal(json_integer_value(json_object_get(kw, "n")), 4);
    assert_float_equal(json_real_value(json_object_get(kw, "r1")), 1.0, 1e-9);
    assert_float_equal(json_real_value(json_object_get(kw, "mrr10")), 1.0, 1e-9);
    const json_t *miss = eval_row(a, "lexical", "miss");
    assert_float_equal(json_real_value(json_object_get(miss, "r10")), 0.0, 0);
    /* Lexical-first fusion (the twin) keeps lexical's first place. */
    assert_float_equal(json_real_value(json_object_get(eval_row(a, "default", "keyword"), "r1")), 1.0, 1e-9);
    /* Few of the 20 one-passage articles share a word with a question, so
     * lexical lists are short; the default fills its ten places. */
    assert_int_equal(json_integer_value(json_object_get(eval_row(a, "lexical", "all"), "short")), 5);
    assert_int_equal(json_integer_value(json_object_get(eval_row(a, "default", "all"), "short")), 0);
    json_decref(a);
    json_decref(b);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(search_and_ask_rank_the_same),
        cmocka_unit_test(explain_says_where_each_source_came_from),
        cmocka_unit_test(date_range_excludes_the_best_hit),
        cmocka_unit_test(bad_filters_are_json_errors),
        cmocka_unit_test(eval_in_process_and_over_http_agree),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
