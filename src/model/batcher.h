/* batcher — dynamic batching in front of one encoder.
 *
 * Requests arrive one at a time from many connections; the encoder is most
 * efficient on batches. The batcher owns the encoder and one thread. While
 * the encoder works on a batch, new jobs queue up; when it finishes, it takes
 * everything queued (up to a token budget) as the next batch. At low load a
 * lone query is encoded at once (no waiting window, so no added latency); at
 * high load batches grow by themselves, so throughput rises with load instead
 * of collapsing. Inside a batch, texts are sorted by length and cut into
 * sub-batches so that padding wastes little.
 *
 * Two lanes. Interactive jobs (questions: /ask, /encode, /v1/embeddings) are
 * served first and batched as above. Bulk jobs (article passages of
 * /documents writes) are encoded in small calls of at most bulk_batch_tokens
 * padded tokens, one call at a time, so a question that arrives while a bulk
 * call runs waits for that one small call only. Bulk and interactive texts
 * never share an encoder call (see batcher.c for the starvation rule).
 *
 * Texts are tokenised by the submitting thread (cheap, and it keeps the
 * encoder thread on matrix work). Completion callbacks run on the batcher's
 * thread and must be quick: hand anything slow to a workqueue.
 */
#ifndef RAGD_MODEL_BATCHER_H
#define RAGD_MODEL_BATCHER_H

#include <stddef.h>
#include <stdint.h>

#include "model/encoder.h"

typedef struct batcher batcher;

typedef struct batcher_options {
    int max_batch_tokens;   /* padded tokens per encoder call (default 8192) */
    int max_queued_texts;   /* per lane: beyond this many texts waiting in a lane, a submit
                               to that lane fails: answer 429 (default 4096) */
    int max_wait_us;        /* optional window to gather an interactive batch (default 0) */
    int bulk_batch_tokens;  /* padded tokens per bulk encoder call (default 1024) */
    int bulk_every;         /* with bulk texts waiting, one bulk call at the latest after this
                               many interactive batches in a row (default 4) */
} batcher_options;

/* What became of a job: the contract callers branch on (an HTTP status is
 * chosen from it); the err strings are for people only. */
typedef enum batcher_status {
    BATCHER_OK = 0,
    BATCHER_QUEUE_FULL,      /* more texts waiting than max_queued_texts: retry later */
    BATCHER_STOPPING,        /* the batcher is shutting down */
    BATCHER_ENCODER_FAILED,  /* the encoder refused the batch (err says why) */
} batcher_status;

/* BATCHER_OK: vectors holds n * ENCODER_DIM floats and ntokens n counts, both
 * valid only during the call. Otherwise err says why. */
typedef void (*batcher_done_fn)(void *ctx, batcher_status status, int n, const float *vectors,
                                const int *ntokens, const char *err);

/* The batcher borrows enc (which must outlive it) and is its only user.
 * NULL (with err set) if its thread cannot be started. */
batcher *batcher_start(encoder *enc, const batcher_options *opts, char *err, size_t errlen);
void batcher_stop(batcher *b);

/* Queue n texts as one job (copied): BATCHER_OK, or BATCHER_QUEUE_FULL /
 * BATCHER_STOPPING without calling done. */
batcher_status batcher_submit(batcher *b, int n, const char *const *texts, const size_t *lens,
                              batcher_done_fn done, void *ctx);
/* The same at a chosen precision (batcher_submit is ENCODER_FP32); the
 * precision must have been enabled on the encoder. Jobs of different
 * precisions never share an encoder call. */
batcher_status batcher_submit_at(batcher *b, encoder_precision precision, int n,
                                 const char *const *texts, const size_t *lens, batcher_done_fn done,
                                 void *ctx);
/* The bulk lane (article passages), always ENCODER_FP32 like stored passages. */
batcher_status batcher_submit_bulk(batcher *b, int n, const char *const *texts, const size_t *lens,
                                   batcher_done_fn done, void *ctx);
/* Blocking form: waits for the job; err set when the status is not BATCHER_OK. */
batcher_status batcher_embed(batcher *b, int n, const char *const *texts, const size_t *lens,
                             float *out, int *ntokens, char *err, size_t errlen);
batcher_status batcher_embed_at(batcher *b, encoder_precision precision, int n,
                                const char *const *texts, const size_t *lens, float *out,
                                int *ntokens, char *err, size_t errlen);
/* Blocking form of batcher_submit_bulk. */
batcher_status batcher_embed_bulk(batcher *b, int n, const char *const *texts, const size_t *lens,
                                  float *out, int *ntokens, char *err, size_t errlen);
/* The same for sequences already tokenised by the caller: each starts with
 * [CLS], ends with [SEP] and is 2..ENCODER_MAX_TOKENS ids of the encoder's
 * vocabulary (asserted: validate before). Copied; ntokens in done are lens. Always
 * encoded at ENCODER_FP32 (/v1/embeddings stays exact). */
batcher_status batcher_submit_ids(batcher *b, int n, const int32_t *const *ids, const int *lens,
                                  batcher_done_fn done, void *ctx);
/* Texts waiting in both lanes (for the queue-depth metric). */
int batcher_queued(batcher *b);
encoder *batcher_encoder(batcher *b);

#endif
