/* test_ingest_corpus — the whole pipeline on the real corpus, end to end.
 *
 *   1. `ragd ingest` (the binary) on the first 150 articles, killed with
 *      SIGKILL once some passages are in its log; ingest_run() then resumes
 *      in-process: it keeps what the killed run wrote, encodes only the rest,
 *      and the store holds each passage exactly once.
 *   2. ingest_run() over the first 1,200 articles (2,600-odd passages) into a
 *      fresh directory; the whole corpus is read and checked (2,692 articles,
 *      108 repeated texts) but not all encoded: the full encode took 12-15
 *      minutes of the CI's 25 (bench/ and a first start measure it).
 *   3. Every article's heading finds that article in the top 10 (hybrid) for
 *      at least 90% of articles; the topic filter never returns the other
 *      topic in any mode.
 *   4. A second run over the same CSV encodes nothing and leaves store.bin
 *      untouched.
 *   5. The resumed prefix store equals the full store's first passages
 *      (same ids, texts, metadata; vectors equal within float noise), so an
 *      interrupted run ends where an uninterrupted one would.
 *   6. The store refuses to open for the real model when built on the twin
 *      (and the other way round), saying to re-run ingest; `ragd search`
 *      prints the hits, the first article among them for its own heading.
 *
 * This encodes ~2,600 passages of up to 256 pieces: minutes on 2 cores, hence
 * its own executable and a long ctest timeout.
 */
#include <errno.h>
#include <fcntl.h>
#include <math.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include <cmocka.h>

#include "ingest/corpus.h"
#include "ingest/ingest.h"
#include "ingest_test_util.h"
#include "store/store.h"
#include "../store/test_views.h"
#include "util/util.h"

enum { PREFIX_ARTICLES = 150, PART_ARTICLES = 1200 };

static encoder *enc;
static char model_dir[4096];
static char full_dir[512], prefix_dir[512], prefix_csv[600], part_csv[600];
static corpus all;
static ingest_summary full_summary;

static char *make_tempdir(char *out, size_t n, const char *what) {
    const char *base = getenv("TMPDIR");
    snprintf(out, n, "%s/ragd-ingest-%s-XXXXXX", base && *base ? base : "/tmp", what);
    return mkdtemp(out);
}

static void remove_dir(const char *dir) {
    if (!*dir) return;
    char cmd[1200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}

/* The corpus file cut just before the record of data row `rows` (bytes kept
 * as they are: cp1252, CRLF, quoted line breaks). */
static int write_prefix_csv(const char *path, long line_of_next) {
    size_t len;
    char err[256];
    char *data = read_file(corpus_path(), &len, err, sizeof err);
    if (!data) return -1;
    size_t off = 0;
    for (long line = 1; line < line_of_next && off < len; off++)
        if (data[off] == '\n') line++;
    FILE *f = fopen(path, "wb");
    if (!f) {
        free(data);
        return -1;
    }
    size_t w = fwrite(data, 1, off, f);
    free(data);
    return fclose(f) == 0 && w == off ? 0 : -1;
}

static int setup(void **state) {
    (void)state;
    char err[1024] = "";
    snprintf(model_dir, sizeof model_dir, "%s/models/all-MiniLM-L6-v2", shared_dir());
    enc = encoder_open(model_dir, 0, err, sizeof err);
    if (!enc) {
        fprintf(stderr, "encoder_open: %s\n", err);
        return -1;
    }
    if (corpus_load(corpus_path(), &all, err, sizeof err) < 0) {
        fprintf(stderr, "corpus_load: %s\n", err);
        return -1;
    }
    if (!make_tempdir(full_dir, sizeof full_dir, "full") ||
        !make_tempdir(prefix_dir, sizeof prefix_dir, "prefix"))
        return -1;
    snprintf(prefix_csv, sizeof prefix_csv, "%s.csv", prefix_dir);
    snprintf(part_csv, sizeof part_csv, "%s.csv", full_dir);
    if (all.count <= PART_ARTICLES) return -1;
    if (write_prefix_csv(part_csv, all.articles[PART_ARTICLES].line) < 0) return -1;
    return write_prefix_csv(prefix_csv, all.articles[PREFIX_ARTICLES].line);
}

static int teardown(void **state) {
    (void)state;
    encoder_close(enc);
    corpus_free(&all);
    remove_dir(full_dir);
    remove_dir(prefix_dir);
    unlink(prefix_csv);
    unlink(part_csv);
    return 0;
}

static long file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? (long)st.st_size : -1;
}

static void test_killed_ingest_resumes(void **state) {
    (void)state;
    const char *bin = getenv("RAGD_BIN");
    if (!bin || !*bin) skip();
    char log_path[700];
    snprintf(log_path, sizeof log_path, "%s/ingest.log", prefix_dir);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        int devnull = open("/dev/null", O_WRONLY);
        if (devnull >= 0) {
            dup2(devnull, STDOUT_FILENO);
            dup2(devnull, STDERR_FILENO);
        }
        execl(bin, "ragd", "ingest", "--csv", prefix_csv, "--data-dir", prefix_dir,
              "--model-dir", model_dir, "--batch", "8", "--no-progress", (char *)NULL);
        _exit(127);
    }
    /* Kill it once the log holds a few dozen passages (~2.6 KB each). */
    int status = 0;
    bool exited = false;
    for (;;) {
        if (waitpid(pid, &status, WNOHANG) == pid) {
            exited = true;
            break;
        }
        if (file_size(log_path) > 60 * 1024) break;
        nanosleep(&(struct timespec){0, 20 * 1000 * 1000}, NULL);
    }
    if (!exited) {
        kill(pid, SIGKILL);
        assert_int_equal(waitpid(pid, &status, 0), pid);
    }
    if (!WIFSIGNALED(status))
        fail_msg("the ingest child was not killed mid-run (exit status %d)",
                 WIFEXITED(status) ? WEXITSTATUS(status) : -1);
    assert_int_equal(WTERMSIG(status), SIGKILL);
    assert_false(store_exists(prefix_dir));

    ingest_summary sum;
    char err[1024] = "";
    ingest_options o = {.csv_path = prefix_csv, .data_dir = prefix_dir, .summary = &sum};
    if (ingest_run(&o, enc, err, sizeof err) < 0) fail_msg("resume: %s", err);
    fprintf(stderr, "resumed: %ld passages, %ld kept from the killed run, %ld encoded now\n",
            sum.passages, sum.already, sum.encoded);
    assert_int_equal(sum.articles, PREFIX_ARTICLES);
    assert_true(sum.already > 0);
    assert_true(sum.encoded > 0);
    assert_int_equal(sum.already + sum.encoded, sum.passages);
    assert_int_equal(sum.store_total, sum.passages);
    store *s = store_open(prefix_dir, encoder_identity(encoder_get_info(enc)), err,
                          sizeof err);
    if (!s) fail_msg("store_open: %s", err);
    assert_int_equal(store_count(test_view(s), NULL), (size_t)sum.passages);
    test_close(s);
}

static void test_full_ingest(void **state) {
    (void)state;
    char err[1024] = "";
    /* The whole corpus as the reader sees it. */
    assert_int_equal(all.count, 2692);
    assert_int_equal(all.duplicates, 108);
    assert_int_equal(all.nproblems, 0);
    long part_duplicates = 0;
    for (size_t i = 0; i < PART_ARTICLES; i++) part_duplicates += all.articles[i].duplicate_of >= 0;
    ingest_options o = {.csv_path = part_csv, .data_dir = full_dir, .batch_size = 32,
                        .summary = &full_summary};
    if (ingest_run(&o, enc, err, sizeof err) < 0) fail_msg("ingest: %s", err);
    const ingest_summary *s = &full_summary;
    fprintf(stderr, "first %d articles: %ld articles, %ld passages, %.1f s (encoding %.1f s)\n",
            PART_ARTICLES, s->articles, s->passages, s->seconds, s->encode_seconds);
    assert_int_equal(s->articles, PART_ARTICLES);
    assert_int_equal(s->duplicates, part_duplicates);
    assert_int_equal(s->malformed, 0);
    assert_int_equal(s->already, 0);
    assert_int_equal(s->encoded, s->passages);
    assert_int_equal(s->store_total, s->passages);
    assert_true(s->passages > PART_ARTICLES - part_duplicates);
}

static store *open_full(void) {
    char err[1024] = "";
    store *s = store_open(full_dir, encoder_identity(encoder_get_info(enc)), err,
                          sizeof err);
    if (!s) fail_msg("store_open: %s", err);
    return s;
}

static void test_headings_find_articles(void **state) {
    (void)state;
    store *s = open_full();
    assert_int_equal(store_count(test_view(s), NULL), (size_t)full_summary.passages);
    assert_int_equal(store_count(test_view(s), "business") + store_count(test_view(s), "sports"), store_count(test_view(s), NULL));
    enum { BATCH = 64, K = 10 };
    float *vecs = malloc((size_t)BATCH * ENCODER_DIM * sizeof *vecs);
    const char *texts[BATCH];
    size_t lens[BATCH];
    search_hit hits[K];
    long found = 0, leaks = 0, checked_filters = 0;
    char err[512];
    const size_t n_articles = PART_ARTICLES;
    for (size_t b = 0; b < n_articles; b += BATCH) {
        int m = (int)(n_articles - b < BATCH ? n_articles - b : BATCH);
        for (int i = 0; i < m; i++) {
            texts[i] = all.articles[b + (size_t)i].heading;
            lens[i] = strlen(texts[i]);
        }
        if (encoder_embed(enc, m, texts, lens, vecs, NULL, err, sizeof err) < 0)
            fail_msg("embed: %s", err);
        for (int i = 0; i < m; i++) {
            const article *a = &all.articles[b + (size_t)i];
            const article *want = a->duplicate_of >= 0 ? &all.articles[a->duplicate_of] : a;
            store_query q = {.vector = vecs + (size_t)i * ENCODER_DIM, .text = a->heading,
                             .text_len = lens[i], .k = K, .mode = SEARCH_HYBRID};
            int n = store_search(test_view(s), &q, hits, err, sizeof err);
            if (n < 0) fail_msg("search: %s", err);
            for (int h = 0; h < n; h++) {
                store_passage p;
                assert_int_equal(store_get(test_view(s), hits[h].passage_id, &p), 0);
                if (!strcmp(p.article_id, want->id)) {
                    found++;
                    break;
                }
            }
            /* the topic filter, every fourth article, both topics, every mode */
            if ((b + (size_t)i) % 4) continue;
            static const char *const topics[] = {"business", "sports"};
            static const search_mode modes[] = {SEARCH_HYBRID, SEARCH_VECTOR, SEARCH_LEXICAL};
            for (int t = 0; t < 2; t++)
                for (int md = 0; md < 3; md++) {
                    q.topic = topics[t];
                    q.mode = modes[md];
                    n = store_search(test_view(s), &q, hits, err, sizeof err);
                    if (n < 0) fail_msg("search: %s", err);
                    if (modes[md] != SEARCH_LEXICAL) assert_int_equal(n, K);
                    checked_filters++;
                    for (int h = 0; h < n; h++) {
                        store_passage p;
                        assert_int_equal(store_get(test_view(s), hits[h].passage_id, &p), 0);
                        leaks += strcmp(p.topic, topics[t]) != 0;
                    }
                }
        }
    }
    free(vecs);
    test_close(s);
    double rate = (double)found / (double)n_articles;
    fprintf(stderr, "headings: %ld of %zu articles in the top %d (%.1f%%); %ld filtered queries, %ld leaks\n",
            found, n_articles, K, 100 * rate, checked_filters, leaks);
    assert_true(rate >= 0.90);
    assert_int_equal(leaks, 0);
    assert_true(checked_filters >= 1800); /* every fourth of 1,200 articles, 2 topics x 3 modes */
}

static void test_second_run_changes_nothing(void **state) {
    (void)state;
    char bin[600];
    snprintf(bin, sizeof bin, "%s/store.bin", full_dir);
    struct stat before, after;
    assert_int_equal(stat(bin, &before), 0);
    ingest_summary sum;
    char err[1024] = "";
    ingest_options o = {.csv_path = part_csv, .data_dir = full_dir, .summary = &sum};
    if (ingest_run(&o, enc, err, sizeof err) < 0) fail_msg("second run: %s", err);
    fprintf(stderr, "second run: %.2f s\n", sum.seconds);
    assert_int_equal(sum.encoded, 0);
    assert_int_equal(sum.already, full_summary.passages);
    assert_int_equal(sum.store_total, full_summary.passages);
    assert_int_equal(stat(bin, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino);
    assert_int_equal(before.st_size, after.st_size);
    assert_true(before.st_mtim.tv_sec == after.st_mtim.tv_sec &&
                before.st_mtim.tv_nsec == after.st_mtim.tv_nsec);
}

static void test_resumed_equals_uninterrupted(void **state) {
    (void)state;
    char err[1024] = "";
    store *full = open_full();
    store *pre = store_open(prefix_dir, encoder_identity(encoder_get_info(enc)), err,
                            sizeof err);
    if (!pre) fail_msg("store_open prefix: %s", err);
    size_t n = store_count(test_view(pre), NULL);
    assert_true(n > 100);
    double worst = 0;
    for (uint32_t id = 0; id < n; id++) {
        store_passage a, b;
        assert_int_equal(store_get(test_view(pre), id, &a), 0);
        assert_int_equal(store_get(test_view(full), id, &b), 0);
        assert_string_equal(a.article_id, b.article_id);
        assert_int_equal(a.passage_index, b.passage_index);
        assert_string_equal(a.heading, b.heading);
        assert_string_equal(a.date, b.date);
        assert_string_equal(a.topic, b.topic);
        assert_string_equal(a.text, b.text);
        const float *va = store_vector(test_view(pre), id), *vb = store_vector(test_view(full), id);
        for (int d = 0; d < ENCODER_DIM; d++) {
            double diff = fabs((double)va[d] - (double)vb[d]);
            if (diff > worst) worst = diff;
        }
    }
    fprintf(stderr, "resumed prefix vs full store: %zu passages, worst vector difference %.3g\n",
            n, worst);
    assert_true(worst < 1e-4);
    test_close(pre);
    test_close(full);
}

static void test_model_identity_and_search_command(void **state) {
    (void)state;
    char err[1024] = "";
    encoder_info flipped = *encoder_get_info(enc);
    flipped.real_weights = !flipped.real_weights;
    const char *other = encoder_identity(&flipped);
    assert_string_not_equal(other, encoder_identity(encoder_get_info(enc)));
    store *s = store_open(full_dir, other, err, sizeof err);
    assert_null(s);
    assert_non_null(strstr(err, "ingest"));

    const char *bin = getenv("RAGD_BIN");
    if (!bin || !*bin) skip();
    const article *a = &all.articles[0];
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "'%s' search --data-dir '%s' --model-dir '%s' --json -k 10 --topic %s \"$RAGD_Q\" 2>/dev/null",
             bin, full_dir, model_dir, a->topic);
    setenv("RAGD_Q", a->heading, 1);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    char line[65536];
    int lines = 0;
    bool found = false;
    char want[64];
    snprintf(want, sizeof want, "\"article_id\":\"%s\"", a->id);
    while (fgets(line, sizeof line, p)) {
        lines++;
        assert_non_null(strstr(line, "\"rank\":"));
        if (strstr(line, want)) found = true;
    }
    assert_int_equal(pclose(p), 0);
    assert_int_equal(lines, 10);
    assert_true(found);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_killed_ingest_resumes),
        cmocka_unit_test(test_full_ingest),
        cmocka_unit_test(test_headings_find_articles),
        cmocka_unit_test(test_second_run_changes_nothing),
        cmocka_unit_test(test_resumed_equals_uninterrupted),
        cmocka_unit_test(test_model_identity_and_search_command),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
