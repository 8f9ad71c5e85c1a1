/* first_ingest — see first_ingest.h. */
#include "app/first_ingest.h"

#include <assert.h>
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "http/http.h"
#include "app/pg_ingest.h"
#include "ingest/ingest.h"
#include "obs/log.h"
#include "obs/metrics.h"
#include "util/util.h"

enum { STATE_INGESTING, STATE_READY, STATE_FAILED, STATE_INTERRUPTED };

/* The handler a gate stands in front of. */
typedef struct gated_route {
    first_ingest *fi;
    http_handler_fn handler;
    void *ctx;
} gated_route;

struct first_ingest {
    first_ingest_config cfg;
    pthread_t thread;
    atomic_int state;             /* STATE_*; READY/FAILED published after what they announce */
    atomic_long done, total;      /* passages encoded / to encode (total 0 until known) */
    atomic_uint_fast64_t encode_start_ns; /* 0 until the passages to encode are known */
    char error[512];              /* written before state turns FAILED */

    pthread_mutex_t mu;           /* with cv: the failed ingest's linger, cut short by finish */
    pthread_cond_t cv;
    atomic_bool stopping;

    metric_series *m_done, *m_total;
    gated_route *gated;           /* one per route of the list gated, owned */
};

/* ---- progress ---- */

static int on_progress(long done, long total, void *ctx) {
    first_ingest *fi = ctx;
    uint_fast64_t unset = 0;
    atomic_compare_exchange_strong(&fi->encode_start_ns, &unset, now_ns());
    atomic_store(&fi->total, total);
    atomic_store(&fi->done, done);
    metric_set(fi->m_total, (double)total);
    metric_set(fi->m_done, (double)done);
    return atomic_load(&fi->stopping) ? 1 : 0;
}

/* Seconds left at the rate so far; < 0 while unknown (nothing encoded yet). */
static double eta_seconds(first_ingest *fi, long done, long total) {
    uint_fast64_t start = atomic_load(&fi->encode_start_ns);
    if (!start || done <= 0) return -1;
    double elapsed = (double)(now_ns() - start) / 1e9;
    double rate = elapsed > 0 ? (double)done / elapsed : 0;
    return rate > 0 ? (double)(total - done) / rate : -1;
}

static int percent_of(long done, long total) {
    return total > 0 ? (int)((double)done * 100.0 / (double)total) : 0;
}

/* What a client is told while it waits. */
static void progress_message(first_ingest *fi, char *out, size_t outlen, int *retry_after_s) {
    long done = atomic_load(&fi->done), total = atomic_load(&fi->total);
    double eta = eta_seconds(fi, done, total);
    *retry_after_s = eta < 0 ? 5 : eta < 1 ? 1 : eta > 60 ? 60 : (int)(eta + 0.5);
    if (!atomic_load(&fi->encode_start_ns))
        snprintf(out, outlen,
                 "the store is being built: the first ingest is reading and splitting the corpus "
                 "(0%% done); retry in a few seconds");
    else if (eta < 0)
        snprintf(out, outlen, "the store is being built: the first ingest is %d%% done (%ld of %ld passages)",
                 percent_of(done, total), done, total);
    else
        snprintf(out, outlen,
                 "the store is being built: the first ingest is %d%% done (%ld of %ld passages, "
                 "about %.0f s left)",
                 percent_of(done, total), done, total, eta);
}

/* /ready's body (and /health's "ingest") while the store is not ready. */
static json_t *progress_json(first_ingest *fi, int state) {
    if (state == STATE_FAILED)
        return json_pack("{s:s, s:s}", "status", "failed", "error", fi->error);
    if (state == STATE_INTERRUPTED)
        return json_pack("{s:s, s:s}", "status", "stopping", "error", "the server is stopping");
    long done = atomic_load(&fi->done), total = atomic_load(&fi->total);
    double eta = eta_seconds(fi, done, total);
    char msg[256];
    int retry;
    progress_message(fi, msg, sizeof msg, &retry);
    return json_pack("{s:s, s:I, s:I, s:i, s:o, s:s}", "status", "ingesting", "done", (json_int_t)done,
                     "total", (json_int_t)total, "percent", percent_of(done, total), "eta_seconds",
                     eta < 0 ? json_null() : json_real((double)(long)(eta * 10 + 0.5) / 10), "message",
                     msg);
}

/* ---- the thread ---- */

static void fail(first_ingest *fi, const char *why) {
    snprintf(fi->error, sizeof fi->error, "%s", why);
    /* JSON strings must be UTF-8; a message may quote the CSV's cp1252 bytes */
    for (char *c = fi->error; *c; c++)
        if ((unsigned char)*c >= 0x80) *c = '?';
    atomic_store(&fi->state, STATE_FAILED);
    log_error("ragd serve: the first ingest failed: %s; stopping in %d s (/ready reports it until then)",
              why, FIRST_INGEST_FAILED_LINGER_S);
    /* Linger so a probe can read why, then stop the server as a signal would. */
    struct timespec until;
    clock_gettime(CLOCK_MONOTONIC, &until);
    until.tv_sec += FIRST_INGEST_FAILED_LINGER_S;
    pthread_mutex_lock(&fi->mu);
    while (!atomic_load(&fi->stopping) && pthread_cond_timedwait(&fi->cv, &fi->mu, &until) != ETIMEDOUT) {}
    pthread_mutex_unlock(&fi->mu);
    if (!atomic_load(&fi->stopping)) kill(getpid(), SIGTERM);
}

/* The store built and opened from the data directory, or the database
 * loaded; NULL with err set. */
static store *ingest_store(first_ingest *fi, char *err, size_t errlen) {
    encoder *enc = fi->cfg.encoder;
    if (fi->cfg.into) {
        pg_ingest_options po = {.csv_path = fi->cfg.csv_path, .on_progress = on_progress,
                                .progress_ctx = fi};
        if (pg_ingest_run(&po, enc, fi->cfg.into, err, errlen) < 0) return NULL;
        store *st = fi->cfg.into;
        fi->cfg.into = NULL; /* on_ready's from here */
        return st;
    }
    ingest_options io = {.csv_path = fi->cfg.csv_path, .data_dir = fi->cfg.data_dir,
                         .on_progress = on_progress, .progress_ctx = fi};
    if (ingest_run(&io, enc, err, errlen) < 0) return NULL;
    return store_open_writable(fi->cfg.data_dir, encoder_identity(encoder_get_info(enc)), err, errlen);
}

static void *ingest_main(void *arg) {
    first_ingest *fi = arg;
    pthread_setname_np(pthread_self(), "ragd-ingest");
    log_fields(LOG_INFO, "no store yet: ingesting while serving (/ready tells how far)",
               (log_field[]){LOG_STR("store", fi->cfg.into ? "postgres" : fi->cfg.data_dir),
                             LOG_STR("csv", fi->cfg.csv_path)}, 2);
    char err[512] = "";
    store *st = ingest_store(fi, err, sizeof err);
    if (st) {
        fi->cfg.on_ready(st, fi->cfg.ctx);
        atomic_store(&fi->state, STATE_READY); /* after on_ready: a gated request sees the store */
        log_fields(LOG_INFO, "first ingest done: ready",
                   (log_field[]){LOG_INT("passages", (long)store_passages_now(st))}, 1);
    } else if (atomic_load(&fi->stopping)) {
        atomic_store(&fi->state, STATE_INTERRUPTED);
        /* A database already holding articles is served as it is at the next start. */
        log_info("first ingest interrupted (%s); %s", err,
                 fi->cfg.into ? "'ragd ingest --store-url' finishes it" : "the next start resumes it");
    } else {
        fail(fi, err[0] ? err : "unknown error");
    }
    return NULL;
}

first_ingest *first_ingest_start(const first_ingest_config *c) {
    assert(c->encoder && c->on_ready && c->csv_path && (c->data_dir || c->into));
    first_ingest *fi = xcalloc(1, sizeof *fi);
    fi->cfg = *c;
    atomic_init(&fi->state, STATE_INGESTING);
    pthread_mutex_init(&fi->mu, NULL);
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_cond_init(&fi->cv, &ca);
    pthread_condattr_destroy(&ca);
    fi->m_done = metric_with(metric_gauge("ragd_ingest_passages_done",
                                          "Passages the first ingest of `ragd serve` has encoded.", 0, NULL),
                             NULL);
    fi->m_total = metric_with(metric_gauge("ragd_ingest_passages_total",
                                           "Passages the first ingest of `ragd serve` has to encode "
                                           "(0 while it reads the corpus).",
                                           0, NULL),
                              NULL);
    metric_set(fi->m_done, 0);
    metric_set(fi->m_total, 0);
    if (pthread_create(&fi->thread, NULL, ingest_main, fi) != 0) {
        fprintf(stderr, "ragd: cannot start the ingest thread\n");
        abort(); /* only resource exhaustion at start-up gets here */
    }
    return fi;
}

/* ---- the gates ---- */

static void gate(http_request *r, void *ctx) {
    gated_route *g = ctx;
    first_ingest *fi = g->fi;
    int state = atomic_load(&fi->state);
    if (state == STATE_READY) {
        g->handler(r, g->ctx);
    } else if (state == STATE_FAILED) {
        http_respond_error(r, 503, "the first ingest failed (%s); the server is stopping", fi->error);
    } else if (state == STATE_INTERRUPTED) {
        http_respond_error(r, 503, "the server is stopping");
    } else {
        char msg[256];
        int retry;
        progress_message(fi, msg, sizeof msg, &retry);
        http_respond_overloaded(r, 503, retry, msg);
    }
}

static void gate_ready(http_request *r, void *ctx) {
    gated_route *g = ctx;
    first_ingest *fi = g->fi;
    int state = atomic_load(&fi->state);
    if (state == STATE_READY) {
        g->handler(r, g->ctx);
        return;
    }
    if (state == STATE_INGESTING) {
        char msg[256], retry_s[16];
        int retry;
        progress_message(fi, msg, sizeof msg, &retry);
        snprintf(retry_s, sizeof retry_s, "%d", retry);
        http_add_header(r, "Retry-After", retry_s);
    }
    http_respond_json(r, 503, progress_json(fi, state));
}

/* Routes that need neither the store nor the encoder (/chat: a static page
 * that says the server is still ingesting when its questions get 503). */
static bool needs_nothing(const char *path) {
    static const char *const open[] = {"/", "/docs", "/openapi.json", "/health", "/metrics", "/chat"};
    for (size_t i = 0; i < ARRAY_LEN(open); i++)
        if (!strcmp(path, open[i])) return true;
    return false;
}

void first_ingest_gate_routes(first_ingest *fi, route_list *routes) {
    assert(!fi->gated); /* once: the routes point into this array */
    fi->gated = xcalloc((size_t)(routes->n ? routes->n : 1), sizeof *fi->gated);
    for (int i = 0; i < routes->n; i++) {
        http_route *rt = &routes->items[i];
        if (needs_nothing(rt->path)) continue;
        fi->gated[i] = (gated_route){.fi = fi, .handler = rt->handler, .ctx = rt->ctx};
        rt->handler = !strcmp(rt->path, "/ready") ? gate_ready : gate;
        rt->ctx = &fi->gated[i];
    }
}

void first_ingest_describe(first_ingest *fi, json_t *health) {
    int state = atomic_load(&fi->state);
    if (state != STATE_READY) json_object_set_new(health, "ingest", progress_json(fi, state));
}

bool first_ingest_finish(first_ingest *fi) {
    if (!fi) return false;
    pthread_mutex_lock(&fi->mu);
    atomic_store(&fi->stopping, true);
    pthread_cond_broadcast(&fi->cv);
    pthread_mutex_unlock(&fi->mu);
    pthread_join(fi->thread, NULL);
    store_close(fi->cfg.into); /* never handed to on_ready */
    bool failed = atomic_load(&fi->state) == STATE_FAILED;
    pthread_cond_destroy(&fi->cv);
    pthread_mutex_destroy(&fi->mu);
    free(fi->gated);
    free(fi);
    return failed;
}
