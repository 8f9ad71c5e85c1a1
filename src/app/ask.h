/* ask — POST /ask: question → passages → answer, as JSON or Server-Sent Events. */
#ifndef RAGD_APP_ASK_H
#define RAGD_APP_ASK_H

#include "app/pipeline.h"
#include "app/options.h"
#include "app/routes.h"

/* The /ask workers: how many threads, and how many questions may wait. */
typedef struct ask_opts {
    int workers;
    int max_inflight;
} ask_opts;

/* Set o to the defaults and append --workers (described by workers_help:
 * what a worker waits on in this role) and --max-inflight to l. */
void ask_opts_add(option_list *l, ask_opts *o, const char *workers_help);
/* The worker pool /ask runs on; NULL after logging why. */
workqueue *ask_workers_start(const ask_opts *o, const char *role);

/* Adds POST /ask; p must outlive the server. p->store may still be NULL
 * (a first ingest fills it in later) only if p->vector_weight is set. */
void ask_add_routes(route_list *routes, pipeline *p);
/* The hybrid fusion weight of the vector half for a store built by this model identity. */
float ask_vector_weight_for(const char *store_model);

#endif
