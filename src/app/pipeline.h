/* pipeline — what answering a question needs, behind one interface, so the
 * /ask code is the same whether the model runs in this process (`ragd serve`:
 * the batcher and an in-process LLM) or in model services across the network
 * (`ragd gateway`: HTTP to `ragd model` replicas).
 *
 * Both calls block the calling worker thread; a failure carries what went
 * wrong as a pipeline_failure (the contract: /ask maps it to the HTTP status
 * with pipeline_http_status) and a message for people.
 */
#ifndef RAGD_APP_PIPELINE_H
#define RAGD_APP_PIPELINE_H

#include <stddef.h>
#include <stdint.h>

#include "model/llm.h"
#include "store/documents.h"
#include "util/workqueue.h"

typedef enum pipeline_failure {
    PIPELINE_OK = 0,
    PIPELINE_OVERLOADED,       /* queue full or no model service up: 503, retry later */
    PIPELINE_BAD_INPUT,        /* the question cannot be sent on: 400 */
    PIPELINE_UPSTREAM_FAILED,  /* the encoder, LLM or a model service failed: 502 */
    PIPELINE_UPSTREAM_TIMEOUT, /* a model service did not answer in time: 504 */
    PIPELINE_INTERNAL,         /* a fault of this process: 500 */
} pipeline_failure;

typedef struct pipeline_error {
    pipeline_failure code;
    char message[256];         /* for people (logs, the error body); never parsed */
} pipeline_error;

/* The HTTP status a client sees for a failure. */
static inline int pipeline_http_status(pipeline_failure f) {
    switch (f) {
    case PIPELINE_OK: return 200;
    case PIPELINE_OVERLOADED: return 503;
    case PIPELINE_BAD_INPUT: return 400;
    case PIPELINE_UPSTREAM_FAILED: return 502;
    case PIPELINE_UPSTREAM_TIMEOUT: return 504;
    case PIPELINE_INTERNAL: return 500;
    }
    return 500;
}

typedef struct pipeline {
    /* One unit vector (ENCODER_DIM floats) for text. 0, or -1 with e set. */
    int (*embed)(void *ctx, const char *text, size_t len, float *vec, pipeline_error *e);
    /* n unit vectors (n × ENCODER_DIM floats into vecs) for passages being
     * stored, at full precision (ingest's vectors): the /documents writes.
     * 0, or -1 with e set. */
    int (*embed_passages)(void *ctx, int n, const char *const *texts, const size_t *lens,
                          float *vecs, pipeline_error *e);
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
