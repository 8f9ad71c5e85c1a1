/* test_batcher — dynamic batching must be invisible in the results: texts
 * submitted concurrently from many threads, batched and length-sorted by the
 * batcher, get the same vectors as one direct encoder call per text; a full
 * queue refuses at once; stopping drains what was queued; questions at int16
 * and texts at fp32 queued together each get their own precision. Two lanes:
 * a question submitted after a long bulk job (article passages) completes
 * before it, bulk results equal direct encoding, a steady stream of questions
 * does not starve a bulk job, and each lane has its own queue limit. The lane
 * tests hold the batcher's thread in a completion callback (a gate) while
 * they queue, so the order they check does not depend on timing. */
#include <math.h>
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stdbool.h>
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
    encoder_precision precision;
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
        if (batcher_embed_at(w->b, w->precision, n, mine, lens, out, ntok, err, sizeof err) != BATCHER_OK) {
            w->failures++;
            continue;
        }
        for (int i = 0; i < n; i++) {
            const float *v = out + (size_t)i * ENCODER_DIM;
            if (w->precision == ENCODER_FP32) {
                if (cosine(v, direct[which[i]]) < 0.99999f) w->failures++;
            } else {
                /* close to fp32, and not fp32 itself (the precision was applied) */
                if (cosine(v, direct[which[i]]) < 0.9999f) w->failures++;
                if (!memcmp(v, direct[which[i]], sizeof direct[0])) w->failures++;
            }
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

static void mixed_precisions_never_share_a_call(void **state) {
    char err[256];
    if (encoder_enable_precision(enc, ENCODER_INT16, err, sizeof err)) {
        printf("%s: skipped\n", err);
        skip();
    }
    batcher *b = batcher_start(enc, &(batcher_options){.max_batch_tokens = 512}, NULL, 0);
    pthread_t t[THREADS];
    worker_arg args[THREADS];
    for (int i = 0; i < THREADS; i++) {
        args[i] = (worker_arg){.b = b, .id = i, .precision = i % 2 ? ENCODER_INT16 : ENCODER_FP32};
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

static void unknown_precision_names_are_refused(void **state) {
    encoder_precision p = ENCODER_FP32;
    assert_int_equal(encoder_precision_parse("int16", &p), 0);
    assert_int_equal(p, ENCODER_INT16);
    assert_int_equal(encoder_precision_parse("auto", &p), 0); /* one of the two, per CPU */
    assert_true(p == ENCODER_INT16 || p == ENCODER_FP32);
    assert_int_equal(encoder_precision_parse("int16", &p), 0);
    assert_int_equal(encoder_precision_parse("bf16", &p), -1);
    assert_int_equal(encoder_precision_parse("", &p), -1);
    assert_int_equal(encoder_precision_parse(NULL, &p), -1);
    assert_int_equal(p, ENCODER_INT16); /* untouched by a refusal */
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

/* Holds the batcher's thread inside a completion callback until opened. */
typedef struct gate {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool entered, open;
} gate;

static void gate_done(void *ctx, batcher_status status, int n, const float *v, const int *ntok, const char *err) {
    gate *g = ctx;
    pthread_mutex_lock(&g->mu);
    g->entered = true;
    pthread_cond_broadcast(&g->cv);
    while (!g->open) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

/* Submits a one-text question whose completion holds the thread; returns once it does. */
static void gate_close(batcher *b, gate *g) {
    pthread_mutex_init(&g->mu, NULL);
    pthread_cond_init(&g->cv, NULL);
    g->entered = g->open = false;
    size_t len = strlen(texts[0]);
    assert_int_equal(batcher_submit(b, 1, &texts[0], &len, gate_done, g), BATCHER_OK);
    pthread_mutex_lock(&g->mu);
    while (!g->entered) pthread_cond_wait(&g->cv, &g->mu);
    pthread_mutex_unlock(&g->mu);
}

static void gate_open(gate *g) {
    pthread_mutex_lock(&g->mu);
    g->open = true;
    pthread_cond_broadcast(&g->cv);
    pthread_mutex_unlock(&g->mu);
}

static void gate_destroy(gate *g) {
    pthread_cond_destroy(&g->cv);
    pthread_mutex_destroy(&g->mu);
}

#define BULK_TEXTS 24

/* Completions in order, all on the batcher's one thread; the lock and cv let
 * the test's thread wait for the long bulk job (submits from callbacks would
 * be refused once batcher_stop began). */
typedef struct lane_run {
    batcher *b;
    pthread_mutex_t mu;
    pthread_cond_t cv;
    char order[8];
    int norder;
    int bulk_failures;
    int failures;             /* in question callbacks (cmocka asserts only on the test's thread) */
    int questions;            /* questions completed so far */
    int questions_at_bulk_end;
    bool bulk_done;
    int which[BULK_TEXTS];    /* the text behind each bulk passage */
} lane_run;

static void question_done(void *ctx, batcher_status status, int n, const float *v, const int *ntok, const char *err) {
    lane_run *r = ctx;
    r->failures += status != BATCHER_OK || cosine(v, direct[1]) < 0.99999f;
    r->order[r->norder++] = 'q';
}

static void long_bulk_done(void *ctx, batcher_status status, int n, const float *v, const int *ntok, const char *err) {
    lane_run *r = ctx;
    r->order[r->norder++] = 'B';
    r->questions_at_bulk_end = r->questions;
    if (status != BATCHER_OK || n != BULK_TEXTS) r->bulk_failures++;
    for (int i = 0; status == BATCHER_OK && i < n; i++)
        r->bulk_failures += cosine(v + (size_t)i * ENCODER_DIM, direct[r->which[i]]) < 0.99999f;
    pthread_mutex_lock(&r->mu);
    r->bulk_done = true;
    pthread_cond_signal(&r->cv);
    pthread_mutex_unlock(&r->mu);
}

static void lane_run_init(lane_run *r, const batcher_options *opts) {
    *r = (lane_run){.b = batcher_start(enc, opts, NULL, 0)};
    assert_non_null(r->b);
    pthread_mutex_init(&r->mu, NULL);
    pthread_cond_init(&r->cv, NULL);
}

/* Waits for the long bulk job, then stops the batcher (draining the rest). */
static void lane_run_finish(lane_run *r) {
    pthread_mutex_lock(&r->mu);
    while (!r->bulk_done) pthread_cond_wait(&r->cv, &r->mu);
    pthread_mutex_unlock(&r->mu);
    batcher_stop(r->b);
    pthread_cond_destroy(&r->cv);
    pthread_mutex_destroy(&r->mu);
}

/* The first bulk job's completion asks a question: it arrives with the long
 * bulk job queued and must be answered before that job's remaining calls. */
static void short_bulk_done(void *ctx, batcher_status status, int n, const float *v, const int *ntok, const char *err) {
    lane_run *r = ctx;
    r->failures += status != BATCHER_OK;
    r->order[r->norder++] = 'b';
    size_t len = strlen(texts[1]);
    r->failures += batcher_submit(r->b, 1, &texts[1], &len, question_done, r) != BATCHER_OK;
}

static void submit_long_bulk(lane_run *r) {
    const char *bulk[BULK_TEXTS];
    size_t lens[BULK_TEXTS];
    for (int i = 0; i < BULK_TEXTS; i++) {
        r->which[i] = i % NTEXTS;
        bulk[i] = texts[r->which[i]];
        lens[i] = strlen(bulk[i]);
    }
    assert_int_equal(batcher_submit_bulk(r->b, BULK_TEXTS, bulk, lens, long_bulk_done, r), BATCHER_OK);
}

static void question_overtakes_a_long_bulk_job(void **state) {
    /* 256 padded tokens: a few passages per call, so the long job takes several calls. */
    lane_run r;
    lane_run_init(&r, &(batcher_options){.bulk_batch_tokens = 256});
    gate g;
    gate_close(r.b, &g);
    size_t len = strlen(texts[4]);
    assert_int_equal(batcher_submit_bulk(r.b, 1, &texts[4], &len, short_bulk_done, &r), BATCHER_OK);
    submit_long_bulk(&r);
    gate_open(&g);
    lane_run_finish(&r);
    gate_destroy(&g);
    r.order[r.norder] = '\0';
    assert_string_equal(r.order, "bqB"); /* one FIFO would give "bBq" */
    assert_int_equal(r.bulk_failures, 0);
    assert_int_equal(r.failures, 0);
}

/* Each answered question asks the next until the bulk job is done: the
 * interactive lane is never empty when the batcher chooses. */
static void endless_question_done(void *ctx, batcher_status status, int n, const float *v, const int *ntok, const char *err) {
    lane_run *r = ctx;
    r->questions++;
    r->failures += status != BATCHER_OK;
    if (r->bulk_done || r->questions >= 1000) return;
    size_t len = strlen(texts[1]);
    r->failures += batcher_submit(r->b, 1, &texts[1], &len, endless_question_done, r) != BATCHER_OK;
}

static void steady_questions_do_not_starve_bulk(void **state) {
    enum { EVERY = 2 };
    lane_run r;
    lane_run_init(&r, &(batcher_options){.bulk_batch_tokens = 256, .bulk_every = EVERY});
    gate g;
    gate_close(r.b, &g);
    submit_long_bulk(&r);
    size_t len = strlen(texts[1]);
    assert_int_equal(batcher_submit(r.b, 1, &texts[1], &len, endless_question_done, &r), BATCHER_OK);
    gate_open(&g);
    lane_run_finish(&r);
    gate_destroy(&g);
    assert_int_equal(r.bulk_failures, 0);
    assert_int_equal(r.failures, 0);
    /* At most EVERY questions between bulk calls, and a bulk call takes at
     * least one passage; starved, the bulk job would wait for all 1000. */
    assert_true(r.questions_at_bulk_end >= 1);
    assert_true(r.questions_at_bulk_end <= EVERY * BULK_TEXTS);
    assert_true(r.questions_at_bulk_end < 1000);
}

static void each_lane_has_its_own_queue_limit(void **state) {
    batcher *b = batcher_start(enc, &(batcher_options){.max_queued_texts = 4}, NULL, 0);
    assert_non_null(b);
    counter c = {.done = 0};
    pthread_mutex_init(&c.mu, NULL);
    gate g;
    gate_close(b, &g); /* nothing is taken off either queue until it opens */
    size_t len = strlen(texts[3]);
    const char *four[4] = {texts[3], texts[3], texts[3], texts[3]};
    size_t lens[4] = {len, len, len, len};
    assert_int_equal(batcher_submit_bulk(b, 4, four, lens, count_done, &c), BATCHER_OK);
    assert_int_equal(batcher_submit_bulk(b, 1, four, lens, count_done, &c), BATCHER_QUEUE_FULL);
    /* A full bulk lane leaves questions their whole limit. */
    assert_int_equal(batcher_submit(b, 4, four, lens, count_done, &c), BATCHER_OK);
    assert_int_equal(batcher_submit(b, 1, four, lens, count_done, &c), BATCHER_QUEUE_FULL);
    assert_int_equal(batcher_queued(b), 8);
    gate_open(&g);
    batcher_stop(b);
    gate_destroy(&g);
    assert_int_equal(c.done, 2);
    pthread_mutex_destroy(&c.mu);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(concurrent_batches_equal_direct_encoding),
        cmocka_unit_test(full_queue_refuses_and_stop_drains),
        cmocka_unit_test(mixed_precisions_never_share_a_call),
        cmocka_unit_test(unknown_precision_names_are_refused),
        cmocka_unit_test(question_overtakes_a_long_bulk_job),
        cmocka_unit_test(steady_questions_do_not_starve_bulk),
        cmocka_unit_test(each_lane_has_its_own_queue_limit),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
