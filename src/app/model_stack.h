/* model_stack — everything a process needs to play the model role: the
 * encoder, its batcher, the LLM and the worker pool /llm_ask runs on, built
 * from flags. `ragd model` serves it over HTTP; `ragd serve` also calls it
 * in-process. */
#ifndef RAGD_APP_MODEL_STACK_H
#define RAGD_APP_MODEL_STACK_H

#include <jansson.h>

#include "app/llm_opts.h"
#include "app/model_routes.h"
#include "app/options.h"
#include "model/batcher.h"
#include "model/encoder.h"

typedef struct encoder_opts {
    const char *model_dir;
    int threads;
    int max_batch_tokens;
    int bulk_batch_tokens; /* per encoder call on the bulk lane (/documents passages) */
    int batch_wait_us;
    int max_queue;
    int max_texts;
    int max_text_kb;
    int llm_workers;
    const char *query_precision; /* "auto", "fp32", "int16" or "int8": /ask's question vectors */
} encoder_opts;

/* Everything a model_stack is built from. */
typedef struct model_opts {
    encoder_opts encoder;
    llm_opts llm;
} model_opts;

/* Set o to the defaults and append the encoder's and the LLM's options to l. */
void model_opts_add(option_list *l, model_opts *o);

typedef struct model_stack {
    encoder *encoder;
    batcher *batcher;
    llm *llm;
    workqueue *llm_workers;
    model_service service;
    encoder_precision query_precision; /* parsed from encoder_opts, enabled on the encoder */
} model_stack;

/* 0, or -1 after printing why. */
int model_stack_open(model_stack *m, const model_opts *o, const char *cmd);
void model_stack_close(model_stack *m);
/* The model's facts for /health: "model", "weights" (real or random twin), "llm". */
void model_stack_describe(const model_stack *m, json_t *health);

#endif
