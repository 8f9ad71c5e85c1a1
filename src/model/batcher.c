/* batcher — dynamic batching in two lanes (see batcher.h for the design).
 *
 * Scheduling, decided each time the encoder thread is free:
 * - interactive jobs waiting, and fewer than bulk_every interactive batches
 *   in a row since the last bulk call (or no bulk waiting): take every
 *   queued interactive job as one batch, as before the lanes existed;
 * - otherwise, with bulk waiting: one bulk call, the next texts of the
 *   oldest bulk job in its own order, at most bulk_batch_tokens padded.
 * So a question waits for at most one small bulk call plus the interactive
 * batch ahead of it, and a bulk job is never starved: under a steady stream
 * of questions it still gets one call in every bulk_every + 1, and all the
 * encoder when questions pause. A bulk job's done runs after its last call,
 * so a /documents write acknowledges only whole articles.
 *
 * Queue limits are per lane: max_queued_texts texts waiting in each, so a
 * backlog of article passages never turns questions away with 429 (and the
 * reverse). A bulk job's texts stop counting as they are encoded. */
#include "model/batcher.h"

#include <assert.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "obs/log.h"
#include "obs/ragd_metrics.h"
#include "util/util.h"

typedef struct job {
    int n;
    encoder_precision precision;
    int32_t **ids;       /* n token-id arrays */
    int *lens;           /* their lengths */
    float *vectors;      /* n * ENCODER_DIM, filled by the batcher */
    batcher_done_fn done;
    void *ctx;
    uint64_t queued_ns;
    int next_text;       /* bulk: texts before this one are encoded */
    struct job *next;
} job;

struct batcher {
    encoder *enc;
    batcher_options opt;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    job *head, *tail;    /* interactive lane */
    int queued_texts;
    job *bulk_head, *bulk_tail; /* bulk lane: the head may be partly encoded */
    int bulk_queued_texts;
    int interactive_streak; /* interactive batches since the last bulk call, bulk waiting */
    bool stopping;
    pthread_t thread;
    /* Scratch reused across batches (owned by the batcher thread). */
    const int32_t **batch_ids;
    int *batch_lens;
    int *order;
    float *batch_out;
    int scratch_cap;
};

static void job_free(job *j) {
    for (int i = 0; i < j->n; i++) free(j->ids[i]);
    free(j->ids);
    free(j->lens);
    free(j->vectors);
    free(j);
}

static void ensure_scratch(batcher *b, int n) {
    if (n <= b->scratch_cap) return;
    b->scratch_cap = n * 2;
    b->batch_ids = xrealloc(b->batch_ids, (size_t)b->scratch_cap * sizeof *b->batch_ids);
    b->batch_lens = xrealloc(b->batch_lens, (size_t)b->scratch_cap * sizeof *b->batch_lens);
    b->order = xrealloc(b->order, (size_t)b->scratch_cap * sizeof *b->order);
    b->batch_out = xrealloc(b->batch_out, (size_t)b->scratch_cap * ENCODER_DIM * sizeof(float));
}

typedef struct text_ref {
    job *j;
    int i;
} text_ref;

/* Grouped by precision (one encoder call runs at one), shortest first. */
static int by_precision_length(const void *a, const void *b, void *arg) {
    const text_ref *refs = arg;
    const text_ref *x = &refs[*(const int *)a], *y = &refs[*(const int *)b];
    if (x->j->precision != y->j->precision) return (int)x->j->precision - (int)y->j->precision;
    return x->j->lens[x->i] - y->j->lens[y->i];
}

/* Encode every text of the jobs in list, shortest first, in sub-batches whose
 * padded size stays within the token budget. Returns 0 or -1 with err. */
static int encode_jobs(batcher *b, job *list, int ntexts, char *err, size_t errlen) {
    text_ref *refs = xmalloc((size_t)ntexts * sizeof *refs);
    int k = 0;
    for (job *j = list; j; j = j->next)
        for (int i = 0; i < j->n; i++) refs[k++] = (text_ref){j, i};
    ensure_scratch(b, ntexts);
    for (int i = 0; i < ntexts; i++) b->order[i] = i;
    qsort_r(b->order, (size_t)ntexts, sizeof *b->order, by_precision_length, refs);

    int rc = 0;
    for (int start = 0; start < ntexts && rc == 0;) {
        /* Sorted ascending, so the last text taken is the longest: the padded
         * cost of a sub-batch is its count times that length. */
        int end = start;
        encoder_precision precision = refs[b->order[start]].j->precision;
        while (end < ntexts) {
            text_ref *r = &refs[b->order[end]];
            int len = r->j->lens[r->i];
            if (r->j->precision != precision) break;
            if (end > start && (end - start + 1) * len > b->opt.max_batch_tokens) break;
            b->batch_ids[end - start] = r->j->ids[r->i];
            b->batch_lens[end - start] = len;
            end++;
        }
        int n = end - start;
        uint64_t t0 = now_ns();
        rc = encoder_embed_ids_at(b->enc, precision, n, b->batch_ids, b->batch_lens, b->batch_out,
                                  err, errlen);
        long tokens = 0;
        for (int i = 0; i < n; i++) tokens += b->batch_lens[i];
        ragd_metrics_encode((size_t)n, (size_t)tokens, (double)(now_ns() - t0) / 1e9);
        for (int i = 0; rc == 0 && i < n; i++) {
            text_ref *r = &refs[b->order[start + i]];
            memcpy(r->j->vectors + (size_t)r->i * ENCODER_DIM, b->batch_out + (size_t)i * ENCODER_DIM,
                   ENCODER_DIM * sizeof(float));
        }
        start = end;
    }
    free(refs);
    return rc;
}

/* The next bulk call's texts of j: from next_text, in order, while the padded
 * cost (count times the longest) stays within the bulk budget; at least one. */
static int bulk_call_end(const batcher *b, const job *j) {
    int end = j->next_text, longest = 0;
    while (end < j->n) {
        int longer = j->lens[end] > longest ? j->lens[end] : longest;
        if (end > j->next_text && (end - j->next_text + 1) * longer > b->opt.bulk_batch_tokens) break;
        longest = longer;
        end++;
    }
    return end;
}

/* One bulk call on the oldest bulk job; called and returns with mu held. Its
 * done runs (unlocked) once its last text is encoded or the encoder fails. */
static void run_bulk_call(batcher *b) {
    job *j = b->bulk_head;
    assert(j && j->next_text < j->n);
    int start = j->next_text, end = bulk_call_end(b, j);
    pthread_mutex_unlock(&b->mu);

    if (start == 0) ragd_metrics_queue_wait("encode_bulk", (double)(now_ns() - j->queued_ns) / 1e9);
    int n = end - start;
    ensure_scratch(b, n);
    long tokens = 0;
    for (int i = 0; i < n; i++) {
        b->batch_ids[i] = j->ids[start + i];
        b->batch_lens[i] = j->lens[start + i];
        tokens += j->lens[start + i];
    }
    char err[256] = "";
    uint64_t t0 = now_ns();
    int rc = encoder_embed_ids_at(b->enc, j->precision, n, b->batch_ids, b->batch_lens,
                                  j->vectors + (size_t)start * ENCODER_DIM, err, sizeof err);
    ragd_metrics_encode((size_t)n, (size_t)tokens, (double)(now_ns() - t0) / 1e9);

    pthread_mutex_lock(&b->mu);
    bool finished = rc != 0 || end == j->n;
    /* A failed job leaves the queue whole: its unencoded texts stop counting too. */
    b->bulk_queued_texts -= finished ? j->n - start : n;
    j->next_text = end;
    if (finished) {
        b->bulk_head = j->next;
        if (!b->bulk_head) b->bulk_tail = NULL;
    }
    int depth = b->bulk_queued_texts;
    pthread_mutex_unlock(&b->mu);
    ragd_metrics_queue("encode_bulk", depth);
    if (finished) {
        batcher_status st = rc == 0 ? BATCHER_OK : BATCHER_ENCODER_FAILED;
        j->done(j->ctx, st, j->n, j->vectors, j->lens, st == BATCHER_OK ? NULL : err);
        job_free(j);
    }
    pthread_mutex_lock(&b->mu);
}

/* Every queued interactive job as one batch; called and returns with mu held. */
static void run_interactive_batch(batcher *b) {
    if (b->opt.max_wait_us > 0 && !b->stopping) {
        /* Optional gathering window: trade a little latency for bigger batches. */
        struct timespec until;
        clock_gettime(CLOCK_REALTIME, &until);
        until.tv_nsec += (long)b->opt.max_wait_us * 1000;
        while (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
        while (b->queued_texts * ENCODER_MAX_TOKENS < b->opt.max_batch_tokens &&
               pthread_cond_timedwait(&b->wake, &b->mu, &until) == 0) {
        }
    }
    /* Take every queued job: the budget applies per encoder call below. */
    job *list = b->head;
    int ntexts = b->queued_texts;
    b->head = b->tail = NULL;
    b->queued_texts = 0;
    pthread_mutex_unlock(&b->mu);
    ragd_metrics_queue("encode", 0);

    uint64_t now = now_ns();
    for (job *j = list; j; j = j->next)
        ragd_metrics_queue_wait("encode", (double)(now - j->queued_ns) / 1e9);
    char err[256] = "";
    batcher_status st = encode_jobs(b, list, ntexts, err, sizeof err) == 0
                            ? BATCHER_OK : BATCHER_ENCODER_FAILED;
    while (list) {
        job *j = list;
        list = j->next;
        j->done(j->ctx, st, j->n, j->vectors, j->lens, st == BATCHER_OK ? NULL : err);
        job_free(j);
    }
    pthread_mutex_lock(&b->mu);
}

static void *batcher_main(void *arg) {
    batcher *b = arg;
    pthread_setname_np(pthread_self(), "ragd-encoder");
    pthread_mutex_lock(&b->mu);
    for (;;) {
        while (!b->head && !b->bulk_head && !b->stopping) pthread_cond_wait(&b->wake, &b->mu);
        if (b->head && (!b->bulk_head || b->interactive_streak < b->opt.bulk_every)) {
            if (b->bulk_head) b->interactive_streak++;
            run_interactive_batch(b);
        } else if (b->bulk_head) {
            b->interactive_streak = 0;
            run_bulk_call(b);
        } else {
            break; /* stopping, both lanes drained */
        }
    }
    pthread_mutex_unlock(&b->mu);
    return NULL;
}

batcher *batcher_start(encoder *enc, const batcher_options *opts, char *err, size_t errlen) {
    batcher *b = xcalloc(1, sizeof *b);
    b->enc = enc;
    b->opt = (batcher_options){.max_batch_tokens = 8192, .max_queued_texts = 4096, .max_wait_us = 0,
                               .bulk_batch_tokens = 1024, .bulk_every = 4};
    if (opts) {
        if (opts->max_batch_tokens > 0) b->opt.max_batch_tokens = opts->max_batch_tokens;
        if (opts->max_queued_texts > 0) b->opt.max_queued_texts = opts->max_queued_texts;
        if (opts->max_wait_us > 0) b->opt.max_wait_us = opts->max_wait_us;
        if (opts->bulk_batch_tokens > 0) b->opt.bulk_batch_tokens = opts->bulk_batch_tokens;
        if (opts->bulk_every > 0) b->opt.bulk_every = opts->bulk_every;
    }
    if (b->opt.max_batch_tokens < ENCODER_MAX_TOKENS) b->opt.max_batch_tokens = ENCODER_MAX_TOKENS;
    pthread_mutex_init(&b->mu, NULL);
    pthread_cond_init(&b->wake, NULL);
    int rc = pthread_create(&b->thread, NULL, batcher_main, b);
    if (rc != 0) {
        seterr(err, errlen, "cannot start the encoder's batching thread: %s", strerror(rc));
        pthread_cond_destroy(&b->wake);
        pthread_mutex_destroy(&b->mu);
        free(b);
        return NULL;
    }
    return b;
}

void batcher_stop(batcher *b) {
    if (!b) return;
    pthread_mutex_lock(&b->mu);
    b->stopping = true;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mu);
    pthread_join(b->thread, NULL); /* the thread drains the queue before it exits */
    pthread_cond_destroy(&b->wake);
    pthread_mutex_destroy(&b->mu);
    free(b->batch_ids);
    free(b->batch_lens);
    free(b->order);
    free(b->batch_out);
    free(b);
}

static job *job_new(int n, encoder_precision precision, batcher_done_fn done, void *ctx) {
    assert(n >= 0 && done);
    job *j = xcalloc(1, sizeof *j);
    j->n = n;
    j->precision = precision;
    j->ids = xcalloc((size_t)(n ? n : 1), sizeof *j->ids);
    j->lens = xcalloc((size_t)(n ? n : 1), sizeof *j->lens);
    j->vectors = xmalloc((size_t)(n ? n : 1) * ENCODER_DIM * sizeof(float));
    j->done = done;
    j->ctx = ctx;
    return j;
}

static batcher_status enqueue(batcher *b, job *j, bool bulk) {
    pthread_mutex_lock(&b->mu);
    int *queued = bulk ? &b->bulk_queued_texts : &b->queued_texts;
    if (b->stopping || *queued + j->n > b->opt.max_queued_texts) {
        batcher_status why = b->stopping ? BATCHER_STOPPING : BATCHER_QUEUE_FULL;
        pthread_mutex_unlock(&b->mu);
        job_free(j);
        return why;
    }
    j->queued_ns = now_ns();
    if (j->n == 0 && bulk) {
        /* Nothing to encode: the bulk loop needs a text per call, so answer at once. */
        pthread_mutex_unlock(&b->mu);
        j->done(j->ctx, BATCHER_OK, 0, j->vectors, j->lens, NULL);
        job_free(j);
        return BATCHER_OK;
    }
    job **head = bulk ? &b->bulk_head : &b->head, **tail = bulk ? &b->bulk_tail : &b->tail;
    if (*tail) (*tail)->next = j;
    else *head = j;
    *tail = j;
    *queued += j->n;
    int depth = *queued;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mu);
    ragd_metrics_queue(bulk ? "encode_bulk" : "encode", depth);
    return BATCHER_OK;
}

batcher_status batcher_submit(batcher *b, int n, const char *const *texts, const size_t *lens,
                              batcher_done_fn done, void *ctx) {
    return batcher_submit_at(b, ENCODER_FP32, n, texts, lens, done, ctx);
}

static batcher_status submit_texts(batcher *b, bool bulk, encoder_precision precision, int n,
                                   const char *const *texts, const size_t *lens,
                                   batcher_done_fn done, void *ctx) {
    assert(n == 0 || (texts && lens));
    job *j = job_new(n, precision, done, ctx);
    const tokenizer *tok = encoder_tokenizer(b->enc);
    int32_t scratch[ENCODER_MAX_TOKENS];
    for (int i = 0; i < n; i++) {
        int len = tokenizer_encode(tok, texts[i], lens[i], scratch, ENCODER_MAX_TOKENS, NULL);
        j->ids[i] = xmalloc((size_t)len * sizeof(int32_t));
        memcpy(j->ids[i], scratch, (size_t)len * sizeof(int32_t));
        j->lens[i] = len;
    }
    return enqueue(b, j, bulk);
}

batcher_status batcher_submit_at(batcher *b, encoder_precision precision, int n,
                                 const char *const *texts, const size_t *lens, batcher_done_fn done,
                                 void *ctx) {
    return submit_texts(b, false, precision, n, texts, lens, done, ctx);
}

batcher_status batcher_submit_bulk(batcher *b, int n, const char *const *texts, const size_t *lens,
                                   batcher_done_fn done, void *ctx) {
    return submit_texts(b, true, ENCODER_FP32, n, texts, lens, done, ctx);
}

batcher_status batcher_submit_ids(batcher *b, int n, const int32_t *const *ids, const int *lens,
                                  batcher_done_fn done, void *ctx) {
    assert(n == 0 || (ids && lens));
    /* Always fp32: /v1/embeddings returns vectors to compare with stored ones, so exact. */
    job *j = job_new(n, ENCODER_FP32, done, ctx);
    for (int i = 0; i < n; i++) {
        assert(lens[i] >= 2 && lens[i] <= ENCODER_MAX_TOKENS);
        assert(ids[i][0] == TOKEN_CLS && ids[i][lens[i] - 1] == TOKEN_SEP);
        j->ids[i] = xmalloc((size_t)lens[i] * sizeof(int32_t));
        memcpy(j->ids[i], ids[i], (size_t)lens[i] * sizeof(int32_t));
        j->lens[i] = lens[i];
    }
    return enqueue(b, j, false);
}

typedef struct waiter {
    pthread_mutex_t mu;
    pthread_cond_t cv;
    bool finished;
    batcher_status status;
    float *out;
    int *ntokens;
    char *err;
    size_t errlen;
} waiter;

static void wake_waiter(void *ctx, batcher_status status, int n, const float *vectors, const int *ntokens,
                        const char *err) {
    waiter *w = ctx;
    pthread_mutex_lock(&w->mu);
    w->status = status;
    if (status == BATCHER_OK) {
        memcpy(w->out, vectors, (size_t)n * ENCODER_DIM * sizeof(float));
        if (w->ntokens) memcpy(w->ntokens, ntokens, (size_t)n * sizeof(int));
    } else {
        seterr(w->err, w->errlen, "%s", err);
    }
    w->finished = true;
    pthread_cond_signal(&w->cv);
    pthread_mutex_unlock(&w->mu);
}

batcher_status batcher_embed(batcher *b, int n, const char *const *texts, const size_t *lens,
                             float *out, int *ntokens, char *err, size_t errlen) {
    return batcher_embed_at(b, ENCODER_FP32, n, texts, lens, out, ntokens, err, errlen);
}

static batcher_status embed_and_wait(batcher *b, bool bulk, encoder_precision precision, int n,
                                     const char *const *texts, const size_t *lens, float *out,
                                     int *ntokens, char *err, size_t errlen) {
    waiter w = {.out = out, .ntokens = ntokens, .err = err, .errlen = errlen};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    batcher_status rc = submit_texts(b, bulk, precision, n, texts, lens, wake_waiter, &w);
    if (rc != BATCHER_OK) {
        seterr(err, errlen, rc == BATCHER_STOPPING ? "the encoder is shutting down"
                                                   : "the encoder queue is full");
    } else {
        pthread_mutex_lock(&w.mu);
        while (!w.finished) pthread_cond_wait(&w.cv, &w.mu);
        pthread_mutex_unlock(&w.mu);
        rc = w.status;
    }
    pthread_cond_destroy(&w.cv);
    pthread_mutex_destroy(&w.mu);
    return rc;
}

batcher_status batcher_embed_at(batcher *b, encoder_precision precision, int n,
                                const char *const *texts, const size_t *lens, float *out,
                                int *ntokens, char *err, size_t errlen) {
    return embed_and_wait(b, false, precision, n, texts, lens, out, ntokens, err, errlen);
}

batcher_status batcher_embed_bulk(batcher *b, int n, const char *const *texts, const size_t *lens,
                                  float *out, int *ntokens, char *err, size_t errlen) {
    return embed_and_wait(b, true, ENCODER_FP32, n, texts, lens, out, ntokens, err, errlen);
}

int batcher_queued(batcher *b) {
    pthread_mutex_lock(&b->mu);
    int n = b->queued_texts + b->bulk_queued_texts;
    pthread_mutex_unlock(&b->mu);
    return n;
}

encoder *batcher_encoder(batcher *b) { return b->enc; }
