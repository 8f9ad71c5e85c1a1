/* first_ingest — `ragd serve`'s first start on an empty data directory: the
 * corpus (into the data directory, or into an empty PostgreSQL database) is
 * ingested on a thread of its own while the server already
 * listens, so a user or an orchestrator sees a live server from the first
 * second rather than a refused connection for the minutes the ingest takes.
 *
 * While it runs:
 *   - /health answers 200 (with an "ingest" object saying how far it is);
 *   - /ready answers 503 {"status":"ingesting","done":N,"total":M,
 *     "eta_seconds":…} with Retry-After;
 *   - every route that needs the store or the encoder (/ask, the model
 *     routes) answers 503 with Retry-After and the percentage done: the
 *     encoder belongs to the ingest until it is over;
 *   - /, /docs, /openapi.json and /metrics are served as usual, /metrics with
 *     ragd_ingest_passages_done and ragd_ingest_passages_total.
 * The moment the commit is done the store is opened and handed to the
 * caller (on_ready), and every route behaves as after a normal start.
 *
 * A failed ingest is logged, reported on /ready ({"status":"failed",
 * "error":…}) for FIRST_INGEST_FAILED_LINGER_S seconds so a probe can see
 * why, and then the server stops; the process exits non-zero. */
#ifndef RAGD_APP_FIRST_INGEST_H
#define RAGD_APP_FIRST_INGEST_H

#include <jansson.h>
#include <stdbool.h>

#include "app/routes.h"
#include "model/encoder.h"
#include "store/documents.h"

#define FIRST_INGEST_FAILED_LINGER_S 10

typedef struct first_ingest first_ingest;

typedef struct first_ingest_config {
    const char *csv_path;
    const char *data_dir;  /* the embedded store to build, or NULL with into */
    /* Or: an open, empty store on a PostgreSQL server to load (pg_ingest.h);
     * first_ingest owns it until it hands it to on_ready (closed if the
     * ingest fails or is interrupted). */
    store *into;
    encoder *encoder;  /* the ingest's alone until the store is ready */
    /* Called on the ingest thread with the opened store (ownership passes to
     * the callee), before any gated route lets a request through. */
    void (*on_ready)(store *st, void *ctx);
    void *ctx;
} first_ingest_config;

/* Start the ingest thread. The strings in c must outlive it. */
first_ingest *first_ingest_start(const first_ingest_config *c);

/* Wrap routes so that they wait for the store as described above. Call once
 * every route is added and before the server starts. */
void first_ingest_gate_routes(first_ingest *fi, route_list *routes);

/* Add {"ingest": {...}} to a /health object while the store is not ready. */
void first_ingest_describe(first_ingest *fi, json_t *health);

/* Interrupt an ingest still running (it resumes on the next start), join
 * the thread and free everything. Returns true if the ingest had failed. */
bool first_ingest_finish(first_ingest *fi);

#endif
