/* test_store_crash — crash safety of live writes at the store level: a
 * child process puts, replaces and deletes articles (and merges now and
 * then), telling the parent through a pipe what it is about to do and what
 * was acknowledged; the parent kills it with SIGKILL at a random point (after
 * a random number of acknowledgements), 24 rounds over the same directory.
 * After each kill the store must open with every acknowledged write in it,
 * no half article (all passages of one version), and the one write in
 * flight either fully there or not at all. */
#include <setjmp.h>
#include <signal.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/wait.h>

#include <cmocka.h>

#include "harness.h"
#include "live_test_util.h"

#define CRASH_IDS 24
#define ROUNDS 24

/* The state of one id: version (-1: absent). */
typedef struct crash_state {
    int version[CRASH_IDS];
} crash_state;

static size_t passages_of(int version) { return 1 + (size_t)version % 3; }

static void child_put(store *s, int id, int version) {
    char name[16], whole[32], texts[3][64];
    const char *pp[3];
    float vecs[3 * LDIM];
    uint64_t rng = (uint64_t)version * 31 + 7;
    snprintf(name, sizeof name, "c%02d", id);
    snprintf(whole, sizeof whole, "v%d", version);
    size_t n = passages_of(version);
    for (size_t p = 0; p < n; p++) {
        snprintf(texts[p], sizeof texts[p], "crash v%d p%zu", version, p);
        pp[p] = texts[p];
        test_unit_vector(&rng, vecs + p * LDIM, LDIM);
    }
    store_article a = {name, "crash heading", "2016-02-02", (version % 2) ? "odd" : "even", whole,
                       n, pp, vecs};
    store_write_result r;
    char err[256];
    if (store_put(s, &a, 1, &r, err, sizeof err) != 0) _exit(3);
}

/* The child: ops forever, "I op id ver" before each, "A" after its ack. */
static void child_main(const char *dir, int round, int fd) {
    char err[256];
    store *s = store_open_writable(dir, "m", err, sizeof err);
    if (s == NULL) _exit(2);
    store_set_merge_threshold(s, 0);
    uint64_t rng = 0xc0ffee + (uint64_t)round;
    for (int i = 0;; i++) {
        int op = (int)(test_rng(&rng) % 10), id = (int)(test_rng(&rng) % CRASH_IDS);
        int version = round * 10000 + i;
        char line[64];
        int len;
        if (op == 9) len = snprintf(line, sizeof line, "I M 0 0\n");
        else if (op >= 7) len = snprintf(line, sizeof line, "I D %d 0\n", id);
        else len = snprintf(line, sizeof line, "I P %d %d\n", id, version);
        if (write(fd, line, (size_t)len) != len) _exit(4);
        if (op == 9) {
            if (store_merge(s, err, sizeof err) != 0) _exit(5);
        } else if (op >= 7) {
            char name[16];
            snprintf(name, sizeof name, "c%02d", id);
            if (store_delete(s, name, err, sizeof err) < 0) _exit(6);
        } else {
            child_put(s, id, version);
        }
        if (write(fd, "A\n", 2) != 2) _exit(4);
    }
}

static void apply_op(crash_state *st, char op, int id, int version) {
    if (op == 'P') st->version[id] = version;
    else if (op == 'D') st->version[id] = -1;
}

/* The store's state of every id; fails on a half article. */
static void read_state(store *s, crash_state *out) {
    const store_view *v = store_acquire(s);
    for (int id = 0; id < CRASH_IDS; id++) {
        char name[16];
        snprintf(name, sizeof name, "c%02d", id);
        store_article_info info;
        out->version[id] = -1;
        if (store_article_get(v, name, &info) != 0) continue;
        int version = atoi(info.text + 1);
        assert_int_equal(info.n_passages, passages_of(version));
        for (size_t p = 0; p < info.n_passages; p++) {
            store_passage ps;
            assert_int_equal(store_get(v, info.first_passage + (uint32_t)p, &ps), 0);
            char want[64];
            snprintf(want, sizeof want, "crash v%d p%zu", version, p);
            assert_string_equal(ps.text, want);
            assert_string_equal(ps.article_id, name);
        }
        out->version[id] = version;
    }
    /* Search sees exactly the listed articles' passages. */
    store_query q = {.text = "crash", .text_len = 5, .k = 200, .mode = SEARCH_LEXICAL};
    search_hit hits[200];
    char err[256];
    int n = store_search(v, &q, hits, err, sizeof err);
    size_t want = 0;
    for (int id = 0; id < CRASH_IDS; id++)
        if (out->version[id] >= 0) want += passages_of(out->version[id]);
    assert_int_equal((size_t)n, want);
    store_release(v);
}

static void test_kill9_keeps_every_acknowledged_write(void **state) {
    (void)state;
    char *dir = NULL;
    store *s = live_empty_store(&dir);
    assert_non_null(s);
    store_close(s);
    crash_state acked = {0};
    for (int id = 0; id < CRASH_IDS; id++) acked.version[id] = -1;
    uint64_t rng = 77;
    int total_acks = 0;
    for (int round = 0; round < ROUNDS; round++) {
        int fds[2];
        assert_int_equal(pipe(fds), 0);
        pid_t pid = harness_fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            close(fds[0]);
            child_main(dir, round, fds[1]);
        }
        close(fds[1]);
        FILE *in = fdopen(fds[0], "r");
        int kill_after = 1 + (int)(test_rng(&rng) % 30), acks = 0;
        char line[64], op = 0;
        int id = 0, version = 0;
        bool in_flight = false, killed = false;
        while (fgets(line, sizeof line, in)) {
            if (line[0] == 'I') {
                assert_int_equal(sscanf(line, "I %c %d %d", &op, &id, &version), 3);
                in_flight = true;
            } else if (line[0] == 'A') {
                assert_true(in_flight);
                apply_op(&acked, op, id, version);
                in_flight = false;
                if (++acks == kill_after && !killed) {
                    kill(pid, SIGKILL);
                    killed = true;
                }
            }
        }
        fclose(in);
        int status = harness_wait(pid);
        assert_int_equal(status, 128 + SIGKILL); /* the child never ends by itself */
        total_acks += acks;
        char err[256];
        s = store_open_writable(dir, "m", err, sizeof err);
        if (s == NULL) fail_msg("round %d: reopen failed: %s", round, err);
        crash_state got;
        read_state(s, &got);
        store_close(s);
        crash_state alt = acked;
        if (in_flight) apply_op(&alt, op, id, version);
        for (int i = 0; i < CRASH_IDS; i++)
            if (got.version[i] != acked.version[i] && got.version[i] != alt.version[i])
                fail_msg("round %d: c%02d is at version %d; acknowledged %d", round, i,
                         got.version[i], acked.version[i]);
        acked = got; /* the in-flight write, if it landed, is now the state */
    }
    printf("kill -9: %d rounds, %d acknowledged writes, all present\n", ROUNDS, total_acks);
    test_rmdir(dir);
    free(dir);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_kill9_keeps_every_acknowledged_write),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
