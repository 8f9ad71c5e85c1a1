/* test_documents_crash — durability of the /documents writes (issue #12):
 * `ragd serve` is killed with SIGKILL at a random moment during a stream of
 * PUT and DELETE, CRASH_ROUNDS times, and restarted on the same data
 * directory each time. After every restart each write acknowledged with a
 * 200 is there, the one write that was in flight is there entirely or not
 * at all, and no article is half of one version and half of another: every
 * passage GET /documents/{id} returns carries the version's tag, and their
 * count equals what the PUT of that version answered.
 *
 * The writer is a child process that logs "S id op version" before it sends
 * a write and "A id op version passages" once it is acknowledged; it stops
 * when the server is gone. Versions alternate short (one passage) and long
 * (several) texts, so a replace changes the passage count. The kill comes
 * a random 0-400 ms after the round's second acknowledgement (a fixed seed,
 * printed, so a failure can be replayed). */
#include <fcntl.h>
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
#include "util/buf.h"
#include "util/util.h"

#define CRASH_ROUNDS 24
#define CRASH_IDS 4
#define CRASH_SEED 12345u
#define CRASH_MIN_ACKS 2 /* acknowledged writes per round before the kill may come */

static ask_fixture fx;

typedef struct known {
    bool present;
    int version;
    int passages; /* as the PUT answered */
} known;

/* Sentences per version: every passage of a long one is cut at a sentence,
 * and every sentence names the version. */
static int sentences_of(int version) {
    static const int classes[] = {2, 16, 32};
    return classes[version % 3];
}

static char *text_of(int version) {
    buf b = BUF_INIT;
    for (int i = 0; i < sentences_of(version); i++)
        buf_printf(&b, "Sentence %d of tagv%d reports on harbour traffic and grain prices in the port today. ",
                   i, version);
    return buf_detach(&b);
}

/* The writer: PUT/DELETE until the server is gone; log lines as above. */
static void writer(const ragd_proc *server, int round, const char *log_path) {
    int fd = open(log_path, O_WRONLY | O_CREAT | O_TRUNC | O_APPEND, 0644);
    if (fd < 0) _exit(2);
    unsigned seed = CRASH_SEED + (unsigned)round;
    for (int k = 0;; k++) {
        int idn = rand_r(&seed) % CRASH_IDS;
        bool del = rand_r(&seed) % 4 == 0;
        int version = round * 1000 + k;
        char path[64];
        snprintf(path, sizeof path, "/documents/crash-%d", idn);
        dprintf(fd, "S %d %s %d\n", idn, del ? "del" : "put", version);
        http_reply r;
        int rc;
        if (del) {
            rc = doc_call(server, NULL, "DELETE", path, NULL, &r);
        } else {
            char *text = text_of(version);
            json_t *body = json_pack("{s:s, s:s, s:s, s:s}", "heading", "Harbour report", "text", text, "date",
                                     "2016-08-08", "topic", "harbour");
            char *s = json_dumps(body, JSON_COMPACT);
            rc = doc_call(server, NULL, "PUT", path, s, &r);
            free(s);
            json_decref(body);
            free(text);
        }
        if (rc != 0) _exit(0); /* killed: what was in flight may or may not be stored */
        if (r.status != 200 && !(del && r.status == 404)) {
            dprintf(fd, "E %ld %s\n", r.status, r.body.data ? r.body.data : "");
            _exit(3);
        }
        int passages = 0;
        if (!del) {
            json_t *a = json_loads(r.body.data, 0, NULL);
            passages = (int)json_integer_value(json_object_get(a, "passages"));
            json_decref(a);
        }
        dprintf(fd, "A %d %s %d %d %ld\n", idn, del ? "del" : "put", version, passages, r.status);
        http_reply_free(&r);
    }
}

/* Check crash-idn against what it must be: exactly expect, or (when
 * in_flight) the version that was being written. Updates *state to what is
 * stored. */
static void check_article(int idn, known *state, bool in_flight, bool pending_del, int pending_version,
                          const int *passages_of_class) {
    char path[64];
    snprintf(path, sizeof path, "/documents/crash-%d", idn);
    http_reply r;
    assert_int_equal(doc_call(&fx.server, NULL, "GET", path, NULL, &r), 0);
    bool present = r.status == 200;
    if (!present) assert_int_equal(r.status, 404);
    int version = -1, n = 0;
    if (present) {
        json_t *d = json_loads(r.body.data, 0, NULL);
        assert_non_null(d);
        json_t *passages = json_object_get(d, "passages");
        n = (int)json_array_size(passages);
        assert_true(n >= 1);
        const char *text = json_string_value(json_object_get(d, "text"));
        assert_non_null(text);
        const char *tag = strstr(text, "tagv");
        assert_non_null(tag);
        version = atoi(tag + 4);
        char want[32];
        snprintf(want, sizeof want, "tagv%d ", version);
        for (int i = 0; i < n; i++) { /* no passage of another version */
            const char *pt = json_string_value(json_object_get(json_array_get(passages, (size_t)i), "text"));
            if (!strstr(pt, want)) fail_msg("crash-%d: passage %d is not of version %d: %.80s", idn, i, version, pt);
        }
        json_decref(d);
    }
    http_reply_free(&r);
    bool as_acked = present == state->present && (!present || (version == state->version && n == state->passages));
    bool as_pending = in_flight && (pending_del ? !present
                                                : present && version == pending_version &&
                                                      (passages_of_class[version % 3] == 0 ||
                                                       n == passages_of_class[version % 3]));
    if (!as_acked && !as_pending)
        fail_msg("crash-%d: stored %s v%d (%d passages); acknowledged %s v%d (%d passages)%s", idn,
                 present ? "present" : "absent", version, n, state->present ? "present" : "absent",
                 state->version, state->passages, in_flight ? ", a write was in flight" : "");
    *state = (known){.present = present, .version = version, .passages = n};
}

/* The writer's "A" lines so far. */
static int acknowledged_in(const char *log_path) {
    FILE *f = fopen(log_path, "r");
    if (!f) return 0;
    int n = 0;
    char line[256];
    while (fgets(line, sizeof line, f)) n += line[0] == 'A';
    fclose(f);
    return n;
}

static void acknowledged_writes_survive_kill_9(void **state) {
    (void)state;
    printf("seed %u, %d rounds\n", CRASH_SEED, CRASH_ROUNDS);
    known articles[CRASH_IDS] = {0};
    int passages_of_class[3] = {0}; /* learnt from acknowledgements */
    unsigned seed = CRASH_SEED;
    for (int round = 0; round < CRASH_ROUNDS; round++) {
        char log_path[160];
        snprintf(log_path, sizeof log_path, "%s/writer-%d.log", fx.dir, round);
        pid_t pid = harness_fork();
        assert_true(pid >= 0);
        if (pid == 0) writer(&fx.server, round, log_path);
        /* Kill at a random moment once the round has made progress (so every
         * round replaces something, however slow the machine). */
        while (acknowledged_in(log_path) < CRASH_MIN_ACKS) usleep(10 * 1000); /* bounded by the harness deadline */
        usleep((useconds_t)(rand_r(&seed) % 400000));
        ragd_kill(&fx.server);
        assert_int_equal(harness_wait(pid), 0);
        assert_int_equal(ask_fixture_start_again(&fx, &fx.server, NULL), 0);

        /* Replay the writer's log: acknowledged states, and the one in flight. */
        FILE *f = fopen(log_path, "r");
        assert_non_null(f);
        char op[8];
        int idn, version, passages;
        long status;
        char kind;
        bool in_flight = false, pending_del = false;
        int pending_id = -1, pending_version = -1, acked = 0;
        while (fscanf(f, " %c", &kind) == 1) {
            if (kind == 'S') {
                assert_int_equal(fscanf(f, "%d %7s %d", &idn, op, &version), 3);
                in_flight = true, pending_id = idn, pending_version = version, pending_del = !strcmp(op, "del");
            } else {
                assert_int_equal(kind, 'A');
                assert_int_equal(fscanf(f, "%d %7s %d %d %ld", &idn, op, &version, &passages, &status), 5);
                in_flight = false, acked++;
                if (!strcmp(op, "del")) {
                    articles[idn] = (known){0};
                } else {
                    articles[idn] = (known){.present = true, .version = version, .passages = passages};
                    passages_of_class[version % 3] = passages;
                }
            }
        }
        fclose(f);
        for (int i = 0; i < CRASH_IDS; i++)
            check_article(i, &articles[i], in_flight && pending_id == i, pending_del, pending_version,
                          passages_of_class);
        printf("round %d: %d writes acknowledged%s\n", round, acked, in_flight ? ", one in flight" : "");
    }
    printf("passages per version class: %d %d %d\n", passages_of_class[0], passages_of_class[1],
           passages_of_class[2]);
    /* The stream did replace short versions by long ones and back. */
    assert_int_equal(passages_of_class[0], 1);
    assert_true(passages_of_class[2] > 1);
}

static int setup(void **state) {
    (void)state;
    return ask_fixture_start(&fx, NULL);
}

static int teardown(void **state) {
    (void)state;
    return ask_fixture_stop(&fx, true) == 0 ? 0 : -1;
}

int main(void) {
    const struct CMUnitTest tests[] = {cmocka_unit_test(acknowledged_writes_survive_kill_9)};
    return cmocka_run_group_tests(tests, setup, teardown);
}
