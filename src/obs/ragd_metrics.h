/* ragd_metrics — ragd's own metrics, one place for their names so the
 * dashboards in deploy/grafana and the code agree.
 *
 *   ragd_encode_batch_size           histogram  texts per encoder batch
 *   ragd_encode_seconds              histogram  encoder time per batch
 *   ragd_tokens_encoded_total        counter    word pieces encoded
 *   ragd_queue_depth{queue}          gauge      jobs waiting ("encode", "llm")
 *   ragd_queue_wait_seconds{queue}   histogram  time from enqueue to start
 *   ragd_search_seconds{mode}        histogram  store search ("hybrid", "vector", "lexical")
 *   ragd_llm_seconds                 histogram  LLM call, start to last event
 *   ragd_llm_first_event_seconds     histogram  LLM call, start to first event
 *   ragd_store_passages{topic}       gauge      passages in the store per topic
 *   ragd_store_articles{topic}       gauge      live articles per topic
 *   ragd_store_live_passages         gauge      passages in the live segment (not yet merged)
 *   ragd_store_tombstones            gauge      snapshot passages hidden by deletes/replaces
 *   ragd_store_writes_total{op}      counter    acknowledged writes ("put", "delete")
 *   ragd_store_write_seconds         histogram  a write, validation to visible (fsync included)
 *   ragd_store_fsyncs_total          counter    fsyncs of documents.log (group commit)
 *   ragd_store_merges_total          counter    merges of the live segment into a snapshot
 *   ragd_store_merge_seconds         histogram  merge duration
 *   ragd_model_up{url}               gauge      1/0: a model service as the gateway sees it
 *   ragd_log_lines_dropped_total     counter    log lines the Loki client had to drop
 *   ragd_log_lines_pushed_total      counter    log lines Loki accepted
 *   ragd_requests_cancelled_total{route} counter questions whose client left before the answer ended
 *   ragd_document_writes_total{kind,outcome} counter /documents writes (put, batch, delete)
 *   ragd_document_write_seconds{kind} histogram  request to acknowledged write (ok ones)
 *   ragd_store_pool_connections{pool,state} gauge  PostgreSQL store connections ("reads", "writes"; "idle", "busy"), read at scrape
 *   ragd_store_pool_max_connections{pool} gauge   the pools' limit (--store-pool), read at scrape
 *   ragd_store_pool_waits_total{pool}  counter    takes that found the pool full and waited
 *   ragd_store_pool_wait_seconds       histogram  how long those waited (got one or timed out)
 *   ragd_store_pool_timeouts_total{pool} counter  waits that ended without a connection
 *   ragd_store_query_seconds{kind}     histogram  PostgreSQL store operations ("search", "get", "list", "count", "topics", "put", "delete", "check")
 *   ragd_store_unavailable_total{kind} counter    those that failed because the server could not be reached
 *   (ragd_build_info{version} and process_* come from process_metrics.h)
 *
 * ragd_metrics_register() (every role calls it at start-up, before serving)
 * fills the globals below: unlabelled metrics as ready series, labelled ones
 * as families for metric_with(). Until then they are NULL, and the helper
 * functions below do nothing — code that also runs in unit tests without a
 * registry uses the helpers rather than the globals.
 */
#ifndef RAGD_OBS_RAGD_METRICS_H
#define RAGD_OBS_RAGD_METRICS_H

#include <stddef.h>

#include "obs/metrics.h"

extern metric_series *ragd_encode_batch_size;
extern metric_series *ragd_encode_seconds;
extern metric_series *ragd_tokens_encoded_total;
extern metric *ragd_queue_depth;       /* {queue} */
extern metric *ragd_queue_wait_seconds; /* {queue} */
extern metric *ragd_search_seconds;    /* {mode} */
extern metric_series *ragd_llm_seconds;
extern metric_series *ragd_llm_first_event_seconds;
extern metric *ragd_store_passages; /* {topic} */
extern metric *ragd_model_up;       /* {url} */
extern metric_series *ragd_log_lines_dropped_total;
extern metric_series *ragd_log_lines_pushed_total;
extern metric *ragd_requests_cancelled_total; /* {route} */

/* Register every family above (idempotent; again after metrics_reset()). */
void ragd_metrics_register(void);

/* NULL-safe helpers, one per event. */
void ragd_metrics_encode(size_t batch_size, size_t tokens, double seconds);
void ragd_metrics_queue(const char *queue, double depth);
void ragd_metrics_queue_wait(const char *queue, double seconds);
void ragd_metrics_search(const char *mode, double seconds);
void ragd_metrics_llm(double first_event_seconds, double total_seconds);
void ragd_metrics_store_passages(const char *topic, double passages);
void ragd_metrics_store_articles(const char *topic, double articles);
/* The live segment's size and the tombstones after a write or merge. */
void ragd_metrics_store_live(double live_passages, double tombstones);
/* One acknowledged write ("put" or "delete") and the fsyncs it started (0 or 1). */
void ragd_metrics_store_write(const char *op, double seconds, int fsyncs);
void ragd_metrics_store_merge(double seconds);
void ragd_metrics_model_up(const char *url, int up);
void ragd_metrics_cancelled(const char *route);

/* /documents writes (issue #12). */
extern metric *ragd_document_writes_total;  /* {kind, outcome} */
extern metric *ragd_document_write_seconds; /* {kind} */
/* kind: "put", "batch", "delete"; outcome: "ok", "rejected", "not_found",
 * "overloaded", "failed". The latency is observed for "ok" only. */
void ragd_metrics_document_write(const char *kind, const char *outcome, double seconds);

/* The PostgreSQL store (issue #13). kind: as ragd_store_query_seconds;
 * pool: "reads" or "writes". */
void ragd_metrics_store_query(const char *kind, double seconds);
void ragd_metrics_store_unavailable(const char *kind);
void ragd_metrics_store_pool_wait(const char *pool, double seconds, int timed_out);

/* The pools' connections are read when /metrics is scraped: every open
 * PostgreSQL store adds a reader (ctx names it) that fills
 * counts[pool][state] — pool 0 reads, 1 writes; state 0 idle, 1 busy, and in
 * column 2 the pool's limit (--store-pool) — and
 * removes it before it closes (after remove returns no read is running).
 * The figures of every store in the process are summed. */
typedef void (*ragd_pool_reader)(void *ctx, int counts[2][3]);
void ragd_metrics_store_pools_add(ragd_pool_reader read, void *ctx);
void ragd_metrics_store_pools_remove(void *ctx);

#endif
