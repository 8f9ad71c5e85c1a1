/* pipeline — what answering a question needs, behind one interface, so the
 * /ask code is the same whether the model runs in this process (`ragd serve`:
 * the batcher and an in-process LLM) or in model services across the network
 * (`ragd gateway`: HTTP to `ragd model` replicas).
 *
 * Both calls block the calling worker thread; failures carry the HTTP status
 * the client should see (503 overloaded, 502 upstream failed, 504 timed out).
 */
#ifndef RAGD_APP_PIPELINE_H
#define RAGD_APP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "model/llm.h"
#include "store/store.h"
#include "util/workqueue.h"

typedef struct pipeline_error {
    int status;        /* HTTP status for the client */
    char message[256];
} pipeline_error;

typedef struct pipeline {
    /* One unit vector (ENCODER_DIM floats) for text. 0, or -1 with e set. */
    int (*embed)(void *ctx, const char *text, size_t len, float *vec, pipeline_error *e);
    /* Stream the answer for one prompt through emit. 0 done, 1 cancelled by
     * emit, -1 with e set. */
    int (*generate)(void *ctx, const llm_prompt *prompt, uint64_t seed, llm_emit_fn emit,
                    void *emit_ctx, pipeline_error *e);
    void *ctx;
    store *store;          /* searched in this process in every role */
    workqueue *workers;    /* where /ask requests run */
    int max_top_k;         /* largest top_k accepted */
    size_t max_question;   /* bytes */
    /* Sources of one article a question gets by default: 0 means
     * RETRIEVAL_DEFAULT_MAX_PER_ARTICLE (retrieval.h), -1 no cap. */
    int max_per_article;
} pipeline;

#endif
