/* local_pipeline — in-process encode and generate for /ask (see local_pipeline.h). */
#include "app/local_pipeline.h"


static int local_embed(void *ctx, const char *text, size_t len, float *vec, pipeline_error *e) {
    local_backend *b = ctx;
    const char *texts[1] = {text};
    size_t lens[1] = {len};
    batcher_status st = batcher_embed_at(b->batcher, b->query_precision, 1, texts, lens, vec, NULL,
                                         e->message, sizeof e->message);
    if (st != BATCHER_OK) {
        e->code = st == BATCHER_ENCODER_FAILED ? PIPELINE_INTERNAL : PIPELINE_OVERLOADED;
        return -1;
    }
    return 0;
}

static int local_embed_passages(void *ctx, int n, const char *const *texts, const size_t *lens,
                                float *vecs, pipeline_error *e) {
    local_backend *b = ctx;
    /* The bulk lane: a /documents write's passages queue behind no question. */
    batcher_status st = batcher_embed_bulk(b->batcher, n, texts, lens, vecs, NULL, e->message,
                                           sizeof e->message);
    if (st != BATCHER_OK) {
        e->code = st == BATCHER_ENCODER_FAILED ? PIPELINE_INTERNAL : PIPELINE_OVERLOADED;
        return -1;
    }
    return 0;
}

static int local_generate(void *ctx, const llm_prompt *prompt, uint64_t seed, llm_emit_fn emit,
                          void *emit_ctx, pipeline_error *e) {
    local_backend *b = ctx;
    int rc = llm_generate(b->llm, prompt, 1, seed, emit, emit_ctx, e->message, sizeof e->message);
    if (rc < 0) e->code = PIPELINE_UPSTREAM_FAILED;
    return rc;
}

void local_pipeline_init(pipeline *p, local_backend *b) {
    p->embed = local_embed;
    p->embed_passages = local_embed_passages;
    p->generate = local_generate;
    p->ctx = b;
}
