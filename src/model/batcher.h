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
 * Texts are tokenised by the submitting thread (cheap, and it keeps the
 * encoder thread on matrix work). Completion callbacks run on the batcher's
 * thread and must be quick: hand anything slow to a workqueue.
 */
#ifndef RAGD_MODEL_BATCHER_H
#define RAGD_MODEL_BATCHER_H

#include <stddef.h>

#include "model/encoder.h"

typedef struct batcher batcher;

typedef struct batcher_options {
    int max_batch_tokens;   /* padded tokens per encoder call (default 8192) */
    int max_queued_texts;   /* beyond this, submit fails: answer 429 (default 4096) */
    int max_wait_us;        /* optional window to gather a batch (default 0) */
} batcher_options;

/* status 0: vectors holds n * ENCODER_DIM floats and ntokens n counts, both
 * valid only during the call. status -1: err says why. */
typedef void (*batcher_done_fn)(void *ctx, int status, int n, const float *vectors,
                                const int *ntokens, const char *err);

/* The batcher borrows enc (which must outlive it) and is its only user. */
batcher *batcher_start(encoder *enc, const batcher_options *opts);
void batcher_stop(batcher *b);

/* Queue n texts as one job (copied). 0 queued; -1 the queue is full. */
int batcher_submit(batcher *b, int n, const char *const *texts, const size_t *lens,
                   batcher_done_fn done, void *ctx);
/* The same at a chosen precision (batcher_submit is ENCODER_FP32); the
 * precision must have been enabled on the encoder. Jobs of different
 * precisions never share an encoder call. */
int batcher_submit_at(batcher *b, encoder_precision precision, int n, const char *const *texts,
                      const size_t *lens, batcher_done_fn done, void *ctx);
/* Blocking form: waits for the job. 0, or -1 with err set (queue full: errno-free
 * message "queue full"). */
int batcher_embed(batcher *b, int n, const char *const *texts, const size_t *lens, float *out,
                  int *ntokens, char *err, size_t errlen);
int batcher_embed_at(batcher *b, encoder_precision precision, int n, const char *const *texts,
                     const size_t *lens, float *out, int *ntokens, char *err, size_t errlen);
/* Texts waiting (for the queue-depth metric and 429 decisions). */
int batcher_queued(batcher *b);
encoder *batcher_encoder(batcher *b);

#endif
