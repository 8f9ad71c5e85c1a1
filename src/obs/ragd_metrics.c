/* ragd_metrics — registration of ragd's own metrics (see ragd_metrics.h).
 *
 * Buckets follow what each measures on this kind of hardware: batch sizes are
 * powers of two up to the model service's largest batch; encoder and search
 * times span sub-millisecond (one short text, exact search over a topic) to
 * seconds (a full 256-piece batch on a small CPU); LLM times reach a minute
 * because real backends stream for that long.
 */
#include "obs/ragd_metrics.h"

#include <assert.h>
#include <pthread.h>
#include <string.h>

#include "util/util.h"

metric_series *ragd_encode_batch_size;
metric_series *ragd_encode_seconds;
metric_series *ragd_tokens_encoded_total;
metric *ragd_queue_depth;
metric *ragd_queue_wait_seconds;
metric *ragd_search_seconds;
metric_series *ragd_llm_seconds;
metric_series *ragd_llm_first_event_seconds;
metric *ragd_store_passages;
static metric *ragd_store_articles, *ragd_store_writes_total;
static metric_series *ragd_store_live_passages, *ragd_store_tombstones, *ragd_store_write_seconds,
    *ragd_store_fsyncs_total, *ragd_store_merges_total, *ragd_store_merge_seconds;
metric *ragd_model_up;
metric_series *ragd_log_lines_dropped_total;
metric_series *ragd_log_lines_pushed_total;
metric *ragd_requests_cancelled_total;

static const double batch_buckets[] = {1, 2, 4, 8, 16, 32, 64, 128, 256};
static const double fast_buckets[] = {0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                      0.1,    0.25,  0.5,    1,     2.5,  5,     10};
static const double llm_buckets[] = {0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1,
                                     2.5,   5,    10,    20,   30,  60};

#define NB(a) ((int)ARRAY_LEN(a))

static void register_document_writes(void);
static void register_store_pg(void);

void ragd_metrics_register(void) {
    static const char *const queue[] = {"queue"};
    static const char *const mode[] = {"mode"};
    static const char *const topic[] = {"topic"};
    static const char *const url[] = {"url"};
    static const char *const route[] = {"route"};
    ragd_encode_batch_size = metric_with(
        metric_histogram("ragd_encode_batch_size", "Texts per encoder batch.", batch_buckets,
                         NB(batch_buckets), 0, NULL),
        NULL);
    ragd_encode_seconds = metric_with(
        metric_histogram("ragd_encode_seconds", "Encoder time per batch in seconds.",
                         fast_buckets, NB(fast_buckets), 0, NULL),
        NULL);
    ragd_tokens_encoded_total = metric_with(
        metric_counter("ragd_tokens_encoded_total", "Word pieces run through the encoder.", 0,
                       NULL),
        NULL);
    ragd_queue_depth =
        metric_gauge("ragd_queue_depth", "Jobs waiting in a work queue.", 1, queue);
    ragd_queue_wait_seconds = metric_histogram(
        "ragd_queue_wait_seconds", "Time a job waited in a work queue before it started.",
        fast_buckets, NB(fast_buckets), 1, queue);
    ragd_search_seconds =
        metric_histogram("ragd_search_seconds", "Store search time in seconds by retrieval mode.",
                         fast_buckets, NB(fast_buckets), 1, mode);
    ragd_llm_seconds = metric_with(
        metric_histogram("ragd_llm_seconds", "LLM call time, start to last event, in seconds.",
                         llm_buckets, NB(llm_buckets), 0, NULL),
        NULL);
    ragd_llm_first_event_seconds = metric_with(
        metric_histogram("ragd_llm_first_event_seconds",
                         "LLM call time to its first event, in seconds.", llm_buckets,
                         NB(llm_buckets), 0, NULL),
        NULL);
    ragd_store_passages =
        metric_gauge("ragd_store_passages", "Passages in the store by topic.", 1, topic);
    static const char *const op[] = {"op"};
    ragd_store_articles =
        metric_gauge("ragd_store_articles", "Live articles in the store by topic.", 1, topic);
    ragd_store_live_passages = metric_with(
        metric_gauge("ragd_store_live_passages", "Passages in the live segment, not yet merged.", 0, NULL),
        NULL);
    ragd_store_tombstones = metric_with(
        metric_gauge("ragd_store_tombstones", "Snapshot passages hidden by deletes and replaces.", 0, NULL),
        NULL);
    ragd_store_writes_total = metric_counter(
        "ragd_store_writes_total", "Acknowledged live writes by operation.", 1, op);
    ragd_store_write_seconds = metric_with(
        metric_histogram("ragd_store_write_seconds",
                         "One live write, validation to visible, fsync included, in seconds.",
                         fast_buckets, NB(fast_buckets), 0, NULL),
        NULL);
    ragd_store_fsyncs_total = metric_with(
        metric_counter("ragd_store_fsyncs_total", "fsyncs of documents.log (shared by group commit).", 0, NULL),
        NULL);
    ragd_store_merges_total = metric_with(
        metric_counter("ragd_store_merges_total", "Merges of the live segment into a new snapshot.", 0, NULL),
        NULL);
    ragd_store_merge_seconds = metric_with(
        metric_histogram("ragd_store_merge_seconds", "Merge duration in seconds.", llm_buckets,
                         NB(llm_buckets), 0, NULL),
        NULL);
    ragd_model_up = metric_gauge(
        "ragd_model_up", "Whether a model service answered its last health check (1) or not (0).",
        1, url);
    ragd_log_lines_dropped_total = metric_with(
        metric_counter("ragd_log_lines_dropped_total",
                       "Log lines dropped because Loki was unreachable or too slow.", 0, NULL),
        NULL);
    ragd_log_lines_pushed_total = metric_with(
        metric_counter("ragd_log_lines_pushed_total", "Log lines Loki accepted.", 0, NULL),
        NULL);
    /* The status of a stream that began is already 200, so http_requests_total
     * cannot tell an answer the client stopped from one it read to the end. */
    ragd_requests_cancelled_total = metric_counter(
        "ragd_requests_cancelled_total",
        "Questions whose client went away (or pressed Stop) before the answer was finished.", 1,
        route);
    register_document_writes();
    register_store_pg();
}

void ragd_metrics_encode(size_t batch_size, size_t tokens, double seconds) {
    if (!ragd_encode_batch_size) return;
    metric_observe(ragd_encode_batch_size, (double)batch_size);
    metric_observe(ragd_encode_seconds, seconds);
    metric_add(ragd_tokens_encoded_total, (double)tokens);
}

void ragd_metrics_queue(const char *queue, double depth) {
    if (ragd_queue_depth) metric_set(metric_with(ragd_queue_depth, &queue), depth);
}

void ragd_metrics_queue_wait(const char *queue, double seconds) {
    if (ragd_queue_wait_seconds) metric_observe(metric_with(ragd_queue_wait_seconds, &queue), seconds);
}

void ragd_metrics_search(const char *mode, double seconds) {
    if (ragd_search_seconds) metric_observe(metric_with(ragd_search_seconds, &mode), seconds);
}

void ragd_metrics_llm(double first_event_seconds, double total_seconds) {
    if (!ragd_llm_seconds) return;
    if (first_event_seconds >= 0) metric_observe(ragd_llm_first_event_seconds, first_event_seconds);
    metric_observe(ragd_llm_seconds, total_seconds);
}

void ragd_metrics_store_passages(const char *topic, double passages) {
    if (ragd_store_passages) metric_set(metric_with(ragd_store_passages, &topic), passages);
}

void ragd_metrics_store_articles(const char *topic, double articles) {
    if (ragd_store_articles) metric_set(metric_with(ragd_store_articles, &topic), articles);
}

void ragd_metrics_store_live(double live_passages, double tombstones) {
    if (ragd_store_live_passages) metric_set(ragd_store_live_passages, live_passages);
    if (ragd_store_tombstones) metric_set(ragd_store_tombstones, tombstones);
}

void ragd_metrics_store_write(const char *op, double seconds, int fsyncs) {
    if (ragd_store_writes_total) metric_inc(metric_with(ragd_store_writes_total, &op));
    if (ragd_store_write_seconds) metric_observe(ragd_store_write_seconds, seconds);
    if (ragd_store_fsyncs_total && fsyncs > 0) metric_add(ragd_store_fsyncs_total, fsyncs);
}

void ragd_metrics_store_merge(double seconds) {
    if (ragd_store_merges_total) metric_inc(ragd_store_merges_total);
    if (ragd_store_merge_seconds) metric_observe(ragd_store_merge_seconds, seconds);
}

void ragd_metrics_model_up(const char *url, int up) {
    if (ragd_model_up) metric_set(metric_with(ragd_model_up, &url), up ? 1 : 0);
}

void ragd_metrics_cancelled(const char *route) {
    if (ragd_requests_cancelled_total) metric_inc(metric_with(ragd_requests_cancelled_total, &route));
}

/* ---- /documents writes (issue #12) ---- */

metric *ragd_document_writes_total;  /* {kind, outcome} */
metric *ragd_document_write_seconds; /* {kind} */

static void register_document_writes(void) {
    static const char *const kind_outcome[] = {"kind", "outcome"};
    static const char *const kind[] = {"kind"};
    ragd_document_writes_total = metric_counter(
        "ragd_document_writes_total",
        "/documents writes by kind (put, batch, delete) and outcome (ok, rejected, not_found, "
        "overloaded, unavailable, failed).",
        2, kind_outcome);
    /* Writes are bound by encoding (an article is ~2-20 passages) and an fsync. */
    ragd_document_write_seconds = metric_histogram(
        "ragd_document_write_seconds",
        "Time of a /documents write from request to acknowledgement (encoding and fsync included).",
        llm_buckets, NB(llm_buckets), 1, kind);
}

void ragd_metrics_document_write(const char *kind, const char *outcome, double seconds) {
    if (!ragd_document_writes_total) return;
    const char *labels[2] = {kind, outcome};
    metric_inc(metric_with(ragd_document_writes_total, labels));
    if (!strcmp(outcome, "ok")) metric_observe(metric_with(ragd_document_write_seconds, &kind), seconds);
}

/* ---- the PostgreSQL store (issue #13) ---- */

static metric *ragd_store_query_seconds, *ragd_store_unavailable_total, *ragd_store_pool_waits_total,
    *ragd_store_pool_timeouts_total;
static metric_series *ragd_store_pool_wait_seconds;

#define MAX_POOL_READERS 16 /* open PostgreSQL stores in one process (tests open a few) */
static pthread_mutex_t pool_readers_lock = PTHREAD_MUTEX_INITIALIZER;
static struct {
    ragd_pool_reader read;
    void *ctx;
} pool_readers[MAX_POOL_READERS];
static int n_pool_readers;

/* Runs under the registry lock; the readers take their store's pool lock,
 * which is never held while a metric is touched (pg_conn.c), so no cycle. */
static void collect_pools(buf *out, void *ctx) {
    (void)ctx;
    int sum[2][3] = {{0}};
    pthread_mutex_lock(&pool_readers_lock);
    int n = n_pool_readers;
    for (int i = 0; i < n; i++) {
        int c[2][3] = {{0}};
        pool_readers[i].read(pool_readers[i].ctx, c);
        for (int p = 0; p < 2; p++)
            for (int st = 0; st < 3; st++) sum[p][st] += c[p][st];
    }
    pthread_mutex_unlock(&pool_readers_lock);
    if (n == 0) return; /* no PostgreSQL store: no pools to show */
    static const char *const pools[] = {"reads", "writes"}, *const states[] = {"idle", "busy"};
    metrics_write_header(out, "ragd_store_pool_connections", "gauge",
                         "PostgreSQL store connections by pool and state.");
    for (int p = 0; p < 2; p++)
        for (int st = 0; st < 2; st++) {
            buf_printf(out, "ragd_store_pool_connections{pool=\"%s\",state=\"%s\"} ", pools[p],
                       states[st]);
            metrics_write_value(out, sum[p][st]);
            buf_putc(out, '\n');
        }
    /* The limit beside the count: busy at the limit is a pool that makes
     * /ask wait (ragd_store_pool_waits_total), not a slow database. */
    metrics_write_header(out, "ragd_store_pool_max_connections", "gauge",
                         "PostgreSQL store connections at most, by pool (--store-pool).");
    for (int p = 0; p < 2; p++) {
        buf_printf(out, "ragd_store_pool_max_connections{pool=\"%s\"} ", pools[p]);
        metrics_write_value(out, sum[p][2]);
        buf_putc(out, '\n');
    }
}

static void register_store_pg(void) {
    static const char *const kind[] = {"kind"};
    static const char *const pool[] = {"pool"};
    ragd_store_query_seconds = metric_histogram(
        "ragd_store_query_seconds",
        "PostgreSQL store operations by kind, in seconds (pool wait and retries included).",
        fast_buckets, NB(fast_buckets), 1, kind);
    ragd_store_unavailable_total = metric_counter(
        "ragd_store_unavailable_total",
        "PostgreSQL store operations that failed because the server could not be reached.", 1, kind);
    ragd_store_pool_waits_total = metric_counter(
        "ragd_store_pool_waits_total", "Connection takes that found the pool full and waited.", 1,
        pool);
    ragd_store_pool_timeouts_total = metric_counter(
        "ragd_store_pool_timeouts_total",
        "Waits for a pool connection that ended without one (pool_wait_ms passed).", 1, pool);
    ragd_store_pool_wait_seconds = metric_with(
        metric_histogram("ragd_store_pool_wait_seconds",
                         "Time waited for a free pool connection, in seconds.", fast_buckets,
                         NB(fast_buckets), 0, NULL),
        NULL);
    metrics_add_collector(collect_pools, NULL);
}

void ragd_metrics_store_query(const char *kind, double seconds) {
    if (ragd_store_query_seconds) metric_observe(metric_with(ragd_store_query_seconds, &kind), seconds);
}

void ragd_metrics_store_unavailable(const char *kind) {
    if (ragd_store_unavailable_total) metric_inc(metric_with(ragd_store_unavailable_total, &kind));
}

void ragd_metrics_store_pool_wait(const char *pool, double seconds, int timed_out) {
    if (!ragd_store_pool_waits_total) return;
    metric_inc(metric_with(ragd_store_pool_waits_total, &pool));
    metric_observe(ragd_store_pool_wait_seconds, seconds);
    if (timed_out) metric_inc(metric_with(ragd_store_pool_timeouts_total, &pool));
}

void ragd_metrics_store_pools_add(ragd_pool_reader read, void *ctx) {
    pthread_mutex_lock(&pool_readers_lock);
    assert(n_pool_readers < MAX_POOL_READERS);
    pool_readers[n_pool_readers].read = read;
    pool_readers[n_pool_readers].ctx = ctx;
    n_pool_readers++;
    pthread_mutex_unlock(&pool_readers_lock);
}

void ragd_metrics_store_pools_remove(void *ctx) {
    pthread_mutex_lock(&pool_readers_lock);
    for (int i = 0; i < n_pool_readers; i++)
        if (pool_readers[i].ctx == ctx) {
            pool_readers[i] = pool_readers[--n_pool_readers];
            break;
        }
    pthread_mutex_unlock(&pool_readers_lock);
}
