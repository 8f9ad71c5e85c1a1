/* ask — POST /ask: question → passages → answer, as JSON or Server-Sent Events.
 *
 * The same pipeline answers other APIs (POST /v1/chat/completions): they
 * check their request into an ask_params, and an ask_format writes the
 * job's results in their own wire format. */
#ifndef RAGD_APP_ASK_H
#define RAGD_APP_ASK_H

#include <jansson.h>
#include <stdbool.h>

#include "app/pipeline.h"
#include "app/options.h"
#include "app/request_check.h"
#include "app/routes.h"

/* What one question asks for. Nothing is owned: ask_submit copies it. */
typedef struct ask_params {
    const char *question;
    size_t question_len;
    const char *topic;     /* NULL: every partition */
    int top_k;
    search_mode mode;
    int max_per_article;   /* sources of one article at most (0: no cap) */
    char date_from[11], date_to[11]; /* "YYYY-MM-DD" or "" for an open end */
    bool explain;          /* each source says its lexical, vector and fused ranks */
    bool stream;
    bool cite;             /* a piece from source n ends in " [n]" (and later ones start with a space) */
    uint64_t seed;         /* 0: random */
    const llm_turn *history; /* earlier turns for the LLM, oldest first */
    int nhistory;
} ask_params;

/* The finished answer handed to ask_format.done. */
typedef struct ask_result {
    json_t *sources;       /* the JSON array /ask returns; owned by the callee */
    json_t *timings;       /* {"encode","search","llm","total"} in ms; owned by the callee */
} ask_result;

/* How a job's results reach its client. Every call runs on the job's worker
 * thread; exactly one of done/fail ends the request (answer it or end its
 * stream). A client that left is handled by ask.c (counted, stream ended). */
typedef struct ask_format {
    const char *route;     /* label of ragd_requests_cancelled_total */
    /* Streaming only: the stream is open and the passages are found (borrowed). <0: client gone. */
    int (*sources)(void *ctx, http_request *r, const json_t *sources);
    /* One piece of the answer (already cited when params.cite); keep it for
     * done or write it to the stream. <0: client gone. */
    int (*piece)(void *ctx, http_request *r, const char *text, size_t len);
    void (*done)(void *ctx, http_request *r, const ask_result *result);
    /* streaming: the stream is open (say it in-band and end it); else answer
     * (a 429 or 503 with Retry-After: retry_after_s). */
    void (*fail)(void *ctx, http_request *r, bool streaming, int status, int retry_after_s,
                 const char *message);
    void (*release)(void *ctx);
} ask_format;

/* Check the question's text (NUL characters already dropped, see
 * json_text_without_nul): something besides white space, within the limit.
 * Read the retrieval options of body — "top_k", "topic", "mode",
 * "max_per_article", "date_from", "date_to", "explain", "seed" —
 * into params (topic borrows from body). false with pb filled (pb->param
 * names the field at fault). */
bool ask_check_question(const pipeline *p, const char *question, size_t len, request_problem *pb);
bool ask_read_options(const pipeline *p, const json_t *body, ask_params *params,
                      request_problem *pb);

/* Queue the job; call from the handler. On success the job owns fmt_ctx and
 * releases it through fmt->release; -1 (the workers' queue is full): nothing
 * was sent or taken, and the caller answers 429. */
int ask_submit(pipeline *p, http_request *r, const ask_params *params, const ask_format *fmt,
               void *fmt_ctx);

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
