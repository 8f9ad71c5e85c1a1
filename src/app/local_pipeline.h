/* local_pipeline — the pipeline (pipeline.h) of `ragd serve`: the encoder's
 * batcher and the LLM in this process, no network hop. */
#ifndef RAGD_APP_LOCAL_PIPELINE_H
#define RAGD_APP_LOCAL_PIPELINE_H

#include "app/pipeline.h"
#include "model/batcher.h"
#include "model/llm.h"

typedef struct local_backend {
    batcher *batcher;
    llm *llm;
    encoder_precision query_precision; /* of the question vector (--query-precision) */
} local_backend;

/* Point p's calls at b (which must outlive p). */
void local_pipeline_init(pipeline *p, local_backend *b);

#endif
