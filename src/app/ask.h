/* ask — POST /ask: question → passages → answer, as JSON or Server-Sent Events. */
#ifndef RAGD_APP_ASK_H
#define RAGD_APP_ASK_H

#include "app/pipeline.h"
#include "app/options.h"
#include "app/routes.h"

/* The /ask workers: how many threads, and how many questions may wait; and
 * the sources of one article a question gets by default (0: no cap). */
typedef struct ask_opts {
    int workers;
    int max_inflight;
    int max_per_article;
} ask_opts;

/* Set o to the defaults and append --workers (described by workers_help:
 * what a worker waits on in this role), --max-inflight and --max-per-article to l. */
void ask_opts_add(option_list *l, ask_opts *o, const char *workers_help);
/* o's --max-per-article as pipeline.max_per_article takes it. */
int ask_pipeline_max_per_article(const ask_opts *o);
/* The worker pool /ask runs on; NULL after logging why. */
workqueue *ask_workers_start(const ask_opts *o, const char *role);

/* Adds POST /ask; p must outlive the server. p->store may still be NULL (a
 * first ingest fills it in before the gated route lets a request through):
 * how a search fuses is decided per query, from the store (retrieval.h). */
void ask_add_routes(route_list *routes, pipeline *p);

#endif
