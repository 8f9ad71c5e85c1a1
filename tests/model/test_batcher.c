/* test_batcher — dynamic batching must be invisible in the results: texts
 * submitted concurrently from many threads, batched and length-sorted by the
 * batcher, get the same vectors as one direct encoder call per text; a full
 * queue refuses at once; stopping drains what was queued. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "model/batcher.h"
#include "util/util.h"

static const char *texts[] = {
    "Oil prices fell sharply on Monday",
    "Pakistan won the second Test by seven wickets after a dramatic final day in Dubai",
    "a",
    "The central bank kept its policy rate unchanged, citing inflation that remains above the "
    "target band and a current account deficit that has widened for three quarters in a row.",
    "Karachi Stock Exchange closes higher",
    "ÉLAN café — naïve résumé",
};
#define NTEXTS ((int)ARRAY_LEN(texts))
#define THREADS 6
#define ROUNDS 5

static encoder *enc;
static float direct[NTEXTS][ENCODER_DIM];

static int setup(void **state) {
    char err[512];
    enc = encoder_open(NULL, 2, err, sizeof err);
    if (!enc) {
        fprintf(stderr, "encoder_open: %s\n", err);
        return -1;
    }
    for (int i = 0; i < NTEXTS; i++) {
        size_t len = strlen(texts[i]);
        if (encoder_embed(enc, 1, &texts[i], &len, direct[i], NULL, err, sizeof err) < 0) return -1;
    }
    return 0;
}

static int teardown(void **state) {
    encoder_close(enc);
    return 0;
}

static float cosine(const float *a, const float *b) {
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < ENCODER_DIM; i++) dot += a[i] * b[i], na += a[i] * a[i], nb += b[i] * b[i];
    return (float)(dot / sqrt(na * nb));
}

typedef struct worker_arg {
    batcher *b;
    int id;
    int failures;
} worker_arg;

static void *submitter(void *p) {
    worker_arg *w = p;
    for (int round = 0; round < ROUNDS; round++) {
        /* Each thread sends a different mix so batches mix lengths. */
        int n = 1 + (w->id + round) % NTEXTS;
        const char *mine[NTEXTS];
        size_t lens[NTEXTS];
        int which[NTEXTS];
        for (int i = 0; i < n; i++) {
            which[i] = (w->id * 7 + round * 3 + i) % NTEXTS;
            mine[i] = texts[which[i]];
            lens[i] = strlen(mine[i]);
        }
        float out[NTEXTS * ENCODER_DIM];
        int ntok[NTEXTS];
        char err[256];
        if (batcher_embed(w->b, n, mine, lens, out, ntok, err, sizeof err) != BATCHER_OK) {
            w->failures++;
            continue;
        }
        for (int i = 0; i < n; i++) {
            if (cosine(out + (size_t)i * ENCODER_DIM, direct[which[i]]) < 0.99999f) w->failures++;
            if (ntok[i] < 3) w->failures++; /* [CLS] piece [SEP] at least */
        }
    }
    return NULL;
}

static void concurrent_batches_equal_direct_encoding(void **state) {
    batcher *b = batcher_start(enc, &(batcher_options){.max_batch_tokens = 512}, NULL, 0);
    assert_non_null(b);
    pthread_t t[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){.b = b, .id = i};
        pthread_create(&t[i], NULL, submitter, &args[i]);
    }
    int failures = 0;
    for (int i = 0; i < THREADS; i++) {
        pthread_join(t[i], NULL);
        failures += args[i].failures;
    }
    batcher_stop(b);
    assert_int_equal(failures, 0);
}

typedef struct counter {
    pthread_mutex_t mu;
    int done;
} counter;

static void count_done(void *ctx, batcher_status status, int n, const float *v, const int *ntok, const char *err) {
    counter *c = ctx;
    pthread_mutex_lock(&c->mu);
    c->done += status == BATCHER_OK;
    pthread_mutex_unlock(&c->mu);
}

static void full_queue_refuses_and_stop_drains(void **state) {
    batcher *b = batcher_start(enc, &(batcher_options){.max_queued_texts = 4}, NULL, 0);
    assert_non_null(b);
    counter c = {.done = 0};
    pthread_mutex_init(&c.mu, NULL);
    size_t len = strlen(texts[3]);
    const char *many[5] = {texts[3], texts[3], texts[3], texts[3], texts[3]};
    size_t lens[5] = {len, len, len, len, len};
    /* Five texts in one job can never fit a four-text queue. */
    assert_int_equal(batcher_submit(b, 5, many, lens, count_done, &c), BATCHER_QUEUE_FULL);
    int accepted = 0;
    for (int i = 0; i < 8; i++) accepted += batcher_submit(b, 1, many, lens, count_done, &c) == BATCHER_OK;
    assert_true(accepted >= 1);
    batcher_stop(b); /* returns only after every accepted job completed */
    assert_int_equal(c.done, accepted);
    pthread_mutex_destroy(&c.mu);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_batches_equal_direct_encoding),
        cmocka_unit_test(full_queue_refuses_and_stop_drains),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
