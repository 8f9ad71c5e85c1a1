/* batcher — dynamic batching (see batcher.h for the design). */
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
    int32_t **ids;       /* n token-id arrays */
    int *lens;           /* their lengths */
    float *vectors;      /* n * ENCODER_DIM, filled by the batcher */
    batcher_done_fn done;
    void *ctx;
    uint64_t queued_ns;
    struct job *next;
} job;

struct batcher {
    encoder *enc;
    batcher_options opt;
    pthread_mutex_t mu;
    pthread_cond_t wake;
    job *head, *tail;
    int queued_texts;
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

static int by_length(const void *a, const void *b, void *arg) {
    const text_ref *refs = arg;
    const text_ref *x = &refs[*(const int *)a], *y = &refs[*(const int *)b];
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
    qsort_r(b->order, (size_t)ntexts, sizeof *b->order, by_length, refs);

    int rc = 0;
    for (int start = 0; start < ntexts && rc == 0;) {
        /* Sorted ascending, so the last text taken is the longest: the padded
         * cost of a sub-batch is its count times that length. */
        int end = start;
        while (end < ntexts) {
            text_ref *r = &refs[b->order[end]];
            int len = r->j->lens[r->i];
            if (end > start && (end - start + 1) * len > b->opt.max_batch_tokens) break;
            b->batch_ids[end - start] = r->j->ids[r->i];
            b->batch_lens[end - start] = len;
            end++;
        }
        int n = end - start;
        uint64_t t0 = now_ns();
        rc = encoder_embed_ids(b->enc, n, b->batch_ids, b->batch_lens, b->batch_out, err, errlen);
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

static void *batcher_main(void *arg) {
    batcher *b = arg;
    pthread_setname_np(pthread_self(), "ragd-encoder");
    for (;;) {
        pthread_mutex_lock(&b->mu);
        while (!b->head && !b->stopping) pthread_cond_wait(&b->wake, &b->mu);
        if (!b->head) {
            pthread_mutex_unlock(&b->mu);
            break;
        }
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
    }
    return NULL;
}

batcher *batcher_start(encoder *enc, const batcher_options *opts, char *err, size_t errlen) {
    batcher *b = xcalloc(1, sizeof *b);
    b->enc = enc;
    b->opt = (batcher_options){.max_batch_tokens = 8192, .max_queued_texts = 4096, .max_wait_us = 0};
    if (opts) {
        if (opts->max_batch_tokens > 0) b->opt.max_batch_tokens = opts->max_batch_tokens;
        if (opts->max_queued_texts > 0) b->opt.max_queued_texts = opts->max_queued_texts;
        if (opts->max_wait_us > 0) b->opt.max_wait_us = opts->max_wait_us;
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

static job *job_new(int n, batcher_done_fn done, void *ctx) {
    assert(n >= 0 && done);
    job *j = xcalloc(1, sizeof *j);
    j->n = n;
    j->ids = xcalloc((size_t)(n ? n : 1), sizeof *j->ids);
    j->lens = xcalloc((size_t)(n ? n : 1), sizeof *j->lens);
    j->vectors = xmalloc((size_t)(n ? n : 1) * ENCODER_DIM * sizeof(float));
    j->done = done;
    j->ctx = ctx;
    return j;
}

static batcher_status enqueue(batcher *b, job *j) {
    pthread_mutex_lock(&b->mu);
    if (b->stopping || b->queued_texts + j->n > b->opt.max_queued_texts) {
        batcher_status why = b->stopping ? BATCHER_STOPPING : BATCHER_QUEUE_FULL;
        pthread_mutex_unlock(&b->mu);
        job_free(j);
        return why;
    }
    j->queued_ns = now_ns();
    if (b->tail) b->tail->next = j;
    else b->head = j;
    b->tail = j;
    b->queued_texts += j->n;
    int depth = b->queued_texts;
    pthread_cond_signal(&b->wake);
    pthread_mutex_unlock(&b->mu);
    ragd_metrics_queue("encode", depth);
    return BATCHER_OK;
}

batcher_status batcher_submit(batcher *b, int n, const char *const *texts, const size_t *lens,
                              batcher_done_fn done, void *ctx) {
    assert(n == 0 || (texts && lens));
    job *j = job_new(n, done, ctx);
    const tokenizer *tok = encoder_tokenizer(b->enc);
    int32_t scratch[ENCODER_MAX_TOKENS];
    for (int i = 0; i < n; i++) {
        int len = tokenizer_encode(tok, texts[i], lens[i], scratch, ENCODER_MAX_TOKENS, NULL);
        j->ids[i] = xmalloc((size_t)len * sizeof(int32_t));
        memcpy(j->ids[i], scratch, (size_t)len * sizeof(int32_t));
        j->lens[i] = len;
    }
    return enqueue(b, j);
}

batcher_status batcher_submit_ids(batcher *b, int n, const int32_t *const *ids, const int *lens,
                                  batcher_done_fn done, void *ctx) {
    assert(n == 0 || (ids && lens));
    job *j = job_new(n, done, ctx);
    for (int i = 0; i < n; i++) {
        assert(lens[i] >= 2 && lens[i] <= ENCODER_MAX_TOKENS);
        assert(ids[i][0] == TOKEN_CLS && ids[i][lens[i] - 1] == TOKEN_SEP);
        j->ids[i] = xmalloc((size_t)lens[i] * sizeof(int32_t));
        memcpy(j->ids[i], ids[i], (size_t)lens[i] * sizeof(int32_t));
        j->lens[i] = lens[i];
    }
    return enqueue(b, j);
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
    waiter w = {.out = out, .ntokens = ntokens, .err = err, .errlen = errlen};
    pthread_mutex_init(&w.mu, NULL);
    pthread_cond_init(&w.cv, NULL);
    batcher_status rc = batcher_submit(b, n, texts, lens, wake_waiter, &w);
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

int batcher_queued(batcher *b) {
    pthread_mutex_lock(&b->mu);
    int n = b->queued_texts;
    pthread_mutex_unlock(&b->mu);
    return n;
}

encoder *batcher_encoder(batcher *b) { return b->enc; }
