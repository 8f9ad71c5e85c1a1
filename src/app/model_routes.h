/* model_routes — the model service's routes: POST /encode, POST /v1/embeddings,
 * GET|POST /llm_ask. Served by `ragd model` and, in-process, by `ragd serve`. */
#ifndef RAGD_APP_MODEL_ROUTES_H
#define RAGD_APP_MODEL_ROUTES_H

#include "app/routes.h"
#include "model/batcher.h"
#include "model/llm.h"
#include "util/workqueue.h"

typedef struct model_service {
    batcher *batcher;       /* encodes (owns the encoder's only thread of use) */
    llm *llm;               /* answers /llm_ask */
    workqueue *llm_workers; /* /llm_ask runs here: a backend may block on I/O */
    int max_texts;          /* texts per /encode request (413 past it) */
    size_t max_text_bytes;  /* bytes per text (413 past it) */
    int max_prompts;        /* prompts per /llm_ask request */
    int max_context;        /* context articles per prompt */
} model_service;

void model_routes_add(route_list *routes, model_service *m);

#endif
