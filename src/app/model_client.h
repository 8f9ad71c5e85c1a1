/* model_client — the gateway's connection to its model services (`ragd
 * model` replicas): N base URLs, balanced round-robin over the ones that are
 * up, with the failures a client of the gateway should see already mapped to
 * an HTTP status.
 *
 * Design:
 *   - Health. A background thread probes GET /health on every replica at
 *     once (curl multi) about every second with a short timeout, and marks
 *     each up or down (gauge ragd_model_up{url}). A replica is up when it
 *     answers 200 and, if the client was given the store's model identity,
 *     runs the weights the store's vectors came from: vectors of another
 *     model would make vector search silently meaningless. A request that
 *     cannot connect marks its replica down at once (passive check), so the
 *     next requests skip it before the next probe; only a probe brings it
 *     back.
 *   - Retry. A request whose replica fails at the connection level (refused,
 *     reset, closed before any byte of the answer) is retried once on the
 *     next replica that is up. Safe because both model routes are free of
 *     side effects. Nothing is retried once answer bytes were delivered.
 *   - Connections. One CURL easy handle per worker thread per replica, kept
 *     in thread-local storage (a pthread key whose destructor frees them when
 *     the thread ends), so every request reuses a kept-alive connection and
 *     no two threads ever share a handle.
 *   - Errors, as the gateway's client sees them: every replica marked down →
 *     503; connection failures on every try → 502; timeout → 504; the
 *     replica answered 429 or 503 (overloaded) → 503; any other 4xx/5xx → 502
 *     carrying the replica's own message.
 */
#ifndef RAGD_APP_MODEL_CLIENT_H
#define RAGD_APP_MODEL_CLIENT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "app/pipeline.h"
#include "util/buf.h"

typedef struct model_client model_client;

typedef struct model_client_options {
    const char *const *urls;   /* base URLs, "http://host:port" (a trailing '/' is dropped) */
    int nurls;
    double timeout_s;          /* one whole request, answer stream included; <= 0: none */
    double connect_timeout_s;  /* <= 0: 1 s */
    double probe_interval_s;   /* <= 0: 1 s */
    double probe_timeout_s;    /* <= 0: 0.5 s */
    /* The model identity (encoder_identity) a replica must run, or NULL to
     * accept any. */
    const char *expected_model;
} model_client_options;

/* Probe every replica once (so the state is known before serving), then
 * start the prober thread. NULL with err set on unusable options. */
model_client *model_client_start(const model_client_options *o, char *err, size_t errlen);
/* Stop the prober and free everything. Threads that used the client must
 * have ended (their handles are freed by the key's destructor) or be the
 * calling thread. */
void model_client_stop(model_client *c);

/* Receives a successful answer's body as it arrives; non-zero aborts the
 * transfer (the connection is dropped, so the replica stops working on it). */
typedef int (*model_client_sink)(const char *data, size_t len, void *ctx);

/* Calls are balanced round-robin per lane: a caller that alternates two
 * kinds of calls (encode, then generate) gives each its own lane, or with two
 * replicas every call of one kind would land on the same replica. */
#define MODEL_CLIENT_LANES 4

typedef struct model_call {
    const char *path;       /* "/encode" */
    unsigned lane;          /* < MODEL_CLIENT_LANES */
    const char *body;       /* JSON request body */
    size_t len;
    bool event_stream;      /* ask for text/event-stream */
    model_client_sink sink; /* gets the body of a 2xx answer */
    void *ctx;
} model_call;

/* POST call->body to a replica that is up (see the design above). Returns 0
 * (a 2xx answer was delivered to the sink in full), 1 (the sink aborted), or
 * -1 with e set (status and message for the gateway's client). */
int model_client_post(model_client *c, const model_call *call, pipeline_error *e);

/* Replicas currently up. */
int model_client_up_count(model_client *c);
/* A JSON array describing every replica (url, up, model, error, counts). */
json_t *model_client_describe(model_client *c);
/* Why none is up, for /ready ("http://…: connection refused; …"). */
void model_client_why_down(model_client *c, buf *out);

#endif
