/* test_store_durability — the store survives interruption and refuses what
 * it cannot trust: a torn log tail is cut and the build resumes; kill -9 at
 * random moments during ingest and commit always leaves a consistent store;
 * a second commit of the same log rewrites nothing; flipped bytes, another
 * model or dim are refused with a clear message; a snapshot of another
 * format version or BM25 analyzer is refused by the reader and rebuilt from
 * the log by the writer. */
#include <fcntl.h>
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>

#include <cmocka.h>

#include "store/analyzer.h"
#include "store/format.h"
#include "store_test_util.h"

#define DIM 16

static void vector_of(int i, float *v) {
    uint64_t rng = (uint64_t)i * 7919 + 1;
    test_unit_vector(&rng, v, DIM);
}

static int add_passage(store_writer *w, int i, char *err, size_t errlen) {
    char key[32], text[64], art[32];
    snprintf(key, sizeof key, "key-%d", i);
    snprintf(art, sizeof art, "article-%d", i);
    snprintf(text, sizeof text, "text of passage %d", i);
    float v[DIM];
    vector_of(i, v);
    store_passage p = {.article_id = art, .heading = "heading", .date = "2017-03-27",
                       .topic = i % 2 ? "sports" : "business", .text = text, .passage_index = 0};
    return store_writer_add(w, key, &p, v, err, errlen);
}

/* Every passage 0..n-1 is in the committed store, with its own content. */
static void assert_store_holds(const char *dir, int n) {
    char err[512];
    store *s = store_open(dir, "m1", err, sizeof err);
    if (s == NULL) fail_msg("store_open: %s", err);
    assert_int_equal(store_count(test_view(s), NULL), n);
    for (int i = 0; i < n; i++) {
        store_passage p;
        assert_int_equal(store_get(test_view(s), (uint32_t)i, &p), 0);
        char text[64];
        snprintf(text, sizeof text, "text of passage %d", i);
        assert_string_equal(p.text, text);
        assert_string_equal(p.topic, i % 2 ? "sports" : "business");
        float v[DIM];
        vector_of(i, v);
        assert_memory_equal(store_vector(test_view(s), (uint32_t)i), v, sizeof v);
    }
    test_close(s);
}

static off_t file_size(const char *path) {
    struct stat st;
    return stat(path, &st) == 0 ? st.st_size : -1;
}

static void test_torn_tail_resumes(void **state) {
    (void)state;
    char *dir = test_tempdir(), err[512], log[600];
    snprintf(log, sizeof log, "%s/%s", dir, LOG_FILE);
    store_writer *w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    assert_non_null(w);
    for (int i = 0; i < 50; i++) assert_int_equal(add_passage(w, i, err, sizeof err), 0);
    assert_int_equal(add_passage(w, 7, err, sizeof err), 0); /* a known key is skipped */
    assert_int_equal(store_writer_count(w), 50);
    store_writer_close(w); /* no commit: as if the process died */

    /* Cut the last record in half, then append garbage after it. */
    assert_int_equal(truncate(log, file_size(log) - 20), 0);
    int fd = open(log, O_WRONLY | O_APPEND);
    assert_true(fd >= 0);
    assert_int_equal(write(fd, "\x31\x43\x45\x52garbage-garbage-garbage", 27), 27);
    close(fd);

    w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(store_writer_count(w), 49);
    assert_true(store_writer_has(w, "key-48"));
    assert_false(store_writer_has(w, "key-49"));
    for (int i = 49; i < 80; i++) assert_int_equal(add_passage(w, i, err, sizeof err), 0);
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    store_writer_close(w);
    assert_store_holds(dir, 80);
    test_rmdir(dir);
    free(dir);
}

static void test_second_commit_changes_nothing(void **state) {
    (void)state;
    char *dir = test_tempdir(), err[512], path[600];
    snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
    store_writer *w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    for (int i = 0; i < 30; i++) assert_int_equal(add_passage(w, i, err, sizeof err), 0);
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    store_writer_close(w);
    struct stat before, after;
    assert_int_equal(stat(path, &before), 0);

    w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    assert_non_null(w);
    for (int i = 0; i < 30; i++) {
        assert_true(store_writer_has(w, "key-0"));
        assert_int_equal(add_passage(w, i, err, sizeof err), 0);
    }
    assert_int_equal(store_writer_count(w), 30);
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    store_writer_close(w);
    assert_int_equal(stat(path, &after), 0);
    assert_int_equal(before.st_ino, after.st_ino); /* not rewritten (commit renames a new file) */
    assert_store_holds(dir, 30);
    test_rmdir(dir);
    free(dir);
}

static void test_second_writer_locked_out(void **state) {
    (void)state;
    char *dir = test_tempdir(), err[512] = "";
    store_writer *w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    assert_non_null(w);
    assert_null(store_writer_open(dir, "m1", DIM, err, sizeof err));
    assert_non_null(strstr(err, "another process"));
    store_writer_close(w);
    test_rmdir(dir);
    free(dir);
}

/* A child ingests (committing every 20-120 passages) until killed with SIGKILL
 * at a random moment; after each kill the committed store (if any) opens and
 * is consistent, and the next writer resumes from the log. */
static void test_kill9_anywhere(void **state) {
    (void)state;
    char *dir = test_tempdir(), err[512];
    uint64_t rng = (uint64_t)time(NULL);
    int reached = 0, with_store = 0;
    for (int round = 0; round < 12; round++) {
        int every = 20 + (int)(test_rng(&rng) % 100);
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            char cerr[512];
            store_writer *w = store_writer_open(dir, "m1", DIM, cerr, sizeof cerr);
            if (w == NULL) _exit(2);
            for (int i = (int)store_writer_count(w);; i++) {
                if (add_passage(w, i, cerr, sizeof cerr) != 0) _exit(3);
                if (i % every == every - 1 && store_writer_commit(w, cerr, sizeof cerr) != 0) _exit(4);
            }
        }
        struct timespec ts = {0, (long)(1000000 + test_rng(&rng) % 400000000)};
        nanosleep(&ts, NULL);
        kill(pid, SIGKILL);
        int status;
        waitpid(pid, &status, 0);
        assert_true(WIFSIGNALED(status)); /* it was still running, not failed */

        if (store_exists(dir)) {
            with_store++;
            char serr[512];
            store *s = store_open(dir, "m1", serr, sizeof serr);
            if (s == NULL) fail_msg("store after kill -9: %s", serr);
            int n = (int)store_count(test_view(s), NULL);
            test_close(s);
            assert_store_holds(dir, n);
        }
        store_writer *w = store_writer_open(dir, "m1", DIM, err, sizeof err);
        if (w == NULL) fail_msg("reopen after kill -9: %s", err);
        int n = (int)store_writer_count(w);
        assert_true(n >= reached); /* nothing durable was lost */
        char key[32];
        for (int i = 0; i < n; i++) {
            snprintf(key, sizeof key, "key-%d", i);
            assert_true(store_writer_has(w, key));
        }
        reached = n;
        store_writer_close(w);
    }
    store_writer *w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    assert_non_null(w);
    int n = (int)store_writer_count(w);
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    store_writer_close(w);
    assert_store_holds(dir, n);
    printf("kill -9: 12 rounds (%d with a committed store to check), %d passages survived\n",
           with_store, n);
    test_rmdir(dir);
    free(dir);
}

static char *build_small(void) {
    char *dir = test_tempdir(), err[512];
    store_writer *w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    for (int i = 0; i < 40; i++) add_passage(w, i, err, sizeof err);
    if (store_writer_commit(w, err, sizeof err) != 0) fail_msg("%s", err);
    store_writer_close(w);
    return dir;
}

static void flip_byte(const char *path, off_t off) {
    int fd = open(path, O_RDWR);
    assert_true(fd >= 0);
    unsigned char c;
    assert_int_equal(pread(fd, &c, 1, off), 1);
    c ^= 0x5a;
    assert_int_equal(pwrite(fd, &c, 1, off), 1);
    close(fd);
}

static void test_corruption_refused(void **state) {
    (void)state;
    char *dir = build_small(), path[600], err[512];
    snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
    disk_header h;
    int fd = open(path, O_RDONLY);
    assert_int_equal(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    close(fd);
    /* A byte in the header, then one inside every section. */
    off_t offs[SEC_COUNT + 2];
    int n = 0;
    offs[n++] = offsetof(disk_header, n_passages);
    offs[n++] = offsetof(disk_header, sections) + 3;
    for (int i = 0; i < SEC_COUNT; i++)
        if (h.sections[i].size > 0) offs[n++] = (off_t)(h.sections[i].offset + h.sections[i].size / 2);
    for (int i = 0; i < n; i++) {
        flip_byte(path, offs[i]);
        err[0] = '\0';
        store *s = store_open(dir, "m1", err, sizeof err);
        assert_null(s);
        assert_non_null(strstr(err, "corrupted"));
        assert_non_null(strstr(err, "rebuild"));
        flip_byte(path, offs[i]);
    }
    /* Truncated. */
    off_t size = file_size(path);
    assert_int_equal(truncate(path, size - 100), 0);
    assert_null(store_open(dir, "m1", err, sizeof err));
    assert_non_null(strstr(err, "corrupted"));
    /* The writer rebuilds a corrupted store.bin from the log at commit. */
    store_writer *w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    store_writer_close(w);
    assert_store_holds(dir, 40);
    test_rmdir(dir);
    free(dir);
}

static void test_other_model_dim_version_analyzer(void **state) {
    (void)state;
    char *dir = build_small(), path[600], err[512] = "";
    snprintf(path, sizeof path, "%s/%s", dir, STORE_FILE);
    assert_null(store_open(dir, "minilm-l6-h384-random", err, sizeof err));
    assert_non_null(strstr(err, "\"m1\""));
    assert_non_null(strstr(err, "minilm-l6-h384-random"));
    assert_null(store_writer_open(dir, "m2", DIM, err, sizeof err));
    assert_non_null(strstr(err, "\"m1\""));
    assert_non_null(strstr(err, "m2"));
    assert_null(store_writer_open(dir, "m1", DIM * 2, err, sizeof err));
    assert_non_null(strstr(err, "16-dimensional"));
    /* Another format version (written by a future ragd). */
    int fd = open(path, O_RDWR);
    uint32_t v = 99;
    assert_int_equal(pwrite(fd, &v, 4, offsetof(disk_header, version)), 4);
    close(fd);
    assert_null(store_open(dir, "m1", err, sizeof err));
    assert_non_null(strstr(err, "format version 99"));
    assert_non_null(strstr(err, "ragd ingest"));
    /* The snapshot is derived from the log: the writer rebuilds it (no
     * passage is added again) instead of refusing. */
    store_writer *w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    if (w == NULL) fail_msg("%s", err);
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    store_writer_close(w);
    assert_store_holds(dir, 40);
    /* A snapshot indexed by another BM25 analyzer: refused by name, rebuilt
     * by the writer. */
    disk_header h;
    fd = open(path, O_RDWR);
    assert_int_equal(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    memset(h.analyzer, 0, sizeof h.analyzer);
    memcpy(h.analyzer, "english-porter-v0", 17);
    h.header_crc = store_crc32(&h, offsetof(disk_header, header_crc));
    assert_int_equal(pwrite(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    close(fd);
    assert_null(store_open(dir, "m1", err, sizeof err));
    assert_non_null(strstr(err, "analyzer \"english-porter-v0\""));
    assert_non_null(strstr(err, ANALYZER_ID));
    w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    if (w == NULL) fail_msg("%s", err);
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    store_writer_close(w);
    assert_store_holds(dir, 40);
    /* Scoring parameters in the BM25 section that the formula cannot take
     * (b outside [0, 1]), checksums made to match: refused, not divided by. */
    fd = open(path, O_RDWR);
    assert_int_equal(pread(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    disk_section *bm = &h.sections[SEC_BM25];
    uint8_t *blob = malloc(bm->size);
    assert_int_equal(pread(fd, blob, bm->size, (off_t)bm->offset), (ssize_t)bm->size);
    float bad_b = 2.0f;
    memcpy(blob + 6 * 4, &bad_b, 4);
    bm->crc = store_crc32(blob, bm->size);
    h.header_crc = store_crc32(&h, offsetof(disk_header, header_crc));
    assert_int_equal(pwrite(fd, blob, bm->size, (off_t)bm->offset), (ssize_t)bm->size);
    assert_int_equal(pwrite(fd, &h, sizeof h, 0), (ssize_t)sizeof h);
    close(fd);
    free(blob);
    assert_null(store_open(dir, "m1", err, sizeof err));
    assert_non_null(strstr(err, "bad scoring parameters"));
    w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    if (w == NULL) fail_msg("%s", err);
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    store_writer_close(w);
    assert_store_holds(dir, 40);
    /* A log of another log format is refused: it is the source of truth. */
    snprintf(path, sizeof path, "%s/%s", dir, LOG_FILE);
    disk_log_header lh;
    fd = open(path, O_RDWR);
    assert_int_equal(pread(fd, &lh, sizeof lh, 0), (ssize_t)sizeof lh);
    lh.version = 99;
    lh.crc = store_crc32(&lh, offsetof(disk_log_header, crc));
    assert_int_equal(pwrite(fd, &lh, sizeof lh, 0), (ssize_t)sizeof lh);
    close(fd);
    assert_null(store_writer_open(dir, "m1", DIM, err, sizeof err));
    assert_non_null(strstr(err, "log format version 99"));
    /* No store at all. */
    char *empty = test_tempdir();
    assert_false(store_exists(empty));
    assert_null(store_open(empty, "m1", err, sizeof err));
    assert_non_null(strstr(err, "ragd ingest"));
    test_rmdir(empty);
    free(empty);
    test_rmdir(dir);
    free(dir);
}

/* A commit with nothing added is a valid, empty store. */
static void test_empty_store(void **state) {
    (void)state;
    char *dir = test_tempdir(), err[512];
    store_writer *w = store_writer_open(dir, "m1", DIM, err, sizeof err);
    assert_non_null(w);
    assert_int_equal(store_writer_commit(w, err, sizeof err), 0);
    store_writer_close(w);
    store *s = store_open(dir, "m1", err, sizeof err);
    if (s == NULL) fail_msg("%s", err);
    assert_int_equal(store_count(test_view(s), NULL), 0);
    const char *const *names;
    assert_int_equal(store_topics(test_view(s), &names), 0);
    float q[DIM] = {1};
    search_hit hits[3];
    store_query sq = {.vector = q, .text = "x", .text_len = 1, .k = 3, .mode = SEARCH_HYBRID};
    assert_int_equal(store_search(test_view(s), &sq, hits, err, sizeof err), 0);
    test_close(s);
    test_rmdir(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_torn_tail_resumes),
        cmocka_unit_test(test_second_commit_changes_nothing),
        cmocka_unit_test(test_second_writer_locked_out),
        cmocka_unit_test(test_kill9_anywhere),
        cmocka_unit_test(test_corruption_refused),
        cmocka_unit_test(test_other_model_dim_version_analyzer),
        cmocka_unit_test(test_empty_store),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
