/* pg_conn — the PostgreSQL store's bounded connection pool, the libpq
 * defaults that keep a dead server from blocking a thread, and the mapping
 * of failures to pg_store_error; see pg_store.h. */
#include <assert.h>
#include <errno.h>
#include <poll.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "obs/ragd_metrics.h"
#include "store/pg/pg_internal.h"
#include "util/util.h"

bool pg_store_valid_conninfo(const char *conninfo, char *err, size_t errlen) {
    if (conninfo == NULL || *conninfo == '\0') {
        seterr(err, errlen, "empty PostgreSQL connection string (want postgres://… or key=value …)");
        return false;
    }
    char *why = NULL;
    PQconninfoOption *o = PQconninfoParse(conninfo, &why);
    if (o == NULL) {
        size_t n = why ? strlen(why) : 0;
        while (n > 0 && (why[n - 1] == '\n' || why[n - 1] == ' ')) why[--n] = '\0';
        seterr(err, errlen, "bad PostgreSQL connection string: %s",
               why ? why : "out of memory");
        PQfreemem(why);
        return false;
    }
    PQconninfoFree(o);
    return true;
}

/* libpq's messages end in a newline and may hold more lines ("Is the server
 * running…"): one line, for a JSON error or a log field. */
static void one_line(char *msg) {
    size_t n = strlen(msg);
    while (n > 0 && (msg[n - 1] == '\n' || msg[n - 1] == ' ')) msg[--n] = '\0';
    for (char *p = msg; *p; p++)
        if (*p == '\n' || *p == '\t') *p = ' ';
}

/* Notices (and a FATAL the server sends while closing an idle connection)
 * would go to stderr: the caller sees failures through err instead. */
static void drop_notice(void *arg, const char *message) {
    (void)arg;
    (void)message;
}

/* A new connection: our timeouts first, the caller's string after them (so
 * anything it sets wins, see PQconnectdbParams' expand_dbname). */
static PGconn *connect_one(pg_store *s, pg_pool *p, char *err, size_t errlen) {
    char options[96];
    snprintf(options, sizeof options, "-c statement_timeout=%d -c client_min_messages=warning -c jit=off", s->opts.statement_timeout_ms);
    const char *keys[] = {"connect_timeout", "keepalives", "keepalives_idle", "keepalives_interval",
                          "keepalives_count", "tcp_user_timeout", "application_name", "options",
                          "dbname", p->force_attrs ? "target_session_attrs" : NULL, NULL};
    const char *vals[] = {"5",     "1",         "10", "5", "3", "15000", "ragd", options,
                          p->conninfo, p->force_attrs, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (c == NULL || PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
        one_line(msg);
        seterr(err, errlen, "cannot connect to PostgreSQL: %s", msg);
        PQfinish(c);
        return NULL;
    }
    PQsetNoticeProcessor(c, drop_notice, NULL);
    return c;
}

/* Cheap liveness check of an idle connection. Nothing may arrive on an idle
 * connection of ours (we never LISTEN): a server that shut down or restarted
 * sends its FATAL "terminating connection" message and closes, so anything
 * readable — data, EOF or an error — means the connection is over. (Reading
 * it with PQconsumeInput is not enough: one read takes the message, and the
 * EOF behind it is only seen by the next, so the connection looked alive and
 * the first statement after a restart failed.) */
static bool still_open(PGconn *c) {
    if (PQstatus(c) != CONNECTION_OK) return false;
    struct pollfd p = {.fd = PQsocket(c), .events = POLLIN};
    int ready = poll(&p, 1, 0);
    return ready == 0; /* nothing pending: as we left it */
}

/* The wait of a take that found the pool full, for /metrics (called with
 * s->lock released: the scrape takes the registry lock, then ours). */
static void note_wait(const pg_store *s, const pg_pool *p, double since, bool timed_out) {
    if (since > 0) ragd_metrics_store_pool_wait(p == &s->reads ? "reads" : "writes", now_seconds() - since,
                                                timed_out);
}

/* pg_conn_take, or with wait false pg_conn_try_take: NULL and no error at
 * once when every connection is held and the pool is full. */
static PGconn *take(pg_store *s, pg_pool *p, bool wait, char *err, size_t errlen) {
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += s->opts.pool_wait_ms / 1000;
    until.tv_nsec += (long)(s->opts.pool_wait_ms % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    double waited_from = 0; /* > 0 once this take has waited */
    pthread_mutex_lock(&s->lock);
    for (;;) {
        if (p->n_idle > 0) {
            PGconn *c = p->idle[--p->n_idle];
            pthread_mutex_unlock(&s->lock);
            note_wait(s, p, waited_from, false);
            if (still_open(c)) return c;
            /* Dropped by the server (restart, failover): a fresh one in its place. */
            PQfinish(c);
            PGconn *fresh = connect_one(s, p, err, errlen);
            if (fresh == NULL) {
                pthread_mutex_lock(&s->lock);
                p->n_open--;
                pthread_cond_signal(&p->freed);
                pthread_mutex_unlock(&s->lock);
            }
            return fresh;
        }
        if (p->n_open < s->opts.pool_size) {
            p->n_open++;
            pthread_mutex_unlock(&s->lock);
            note_wait(s, p, waited_from, false);
            PGconn *c = connect_one(s, p, err, errlen);
            if (c == NULL) {
                pthread_mutex_lock(&s->lock);
                p->n_open--;
                pthread_cond_signal(&p->freed);
                pthread_mutex_unlock(&s->lock);
            }
            return c;
        }
        if (!wait) {
            pthread_mutex_unlock(&s->lock);
            return NULL;
        }
        if (waited_from == 0) waited_from = now_seconds();
        int rc = pthread_cond_timedwait(&p->freed, &s->lock, &until);
        if (rc == ETIMEDOUT && p->n_idle == 0 && p->n_open >= s->opts.pool_size) {
            pthread_mutex_unlock(&s->lock);
            note_wait(s, p, waited_from, true);
            seterr(err, errlen, "PostgreSQL unavailable, all %d connections stayed busy for %d ms",
                   s->opts.pool_size, s->opts.pool_wait_ms);
            return NULL;
        }
    }
}

PGconn *pg_conn_take(pg_store *s, pg_pool *p, char *err, size_t errlen) {
    return take(s, p, true, err, errlen);
}

PGconn *pg_conn_try_take(pg_store *s, pg_pool *p) {
    char ignored[8];
    return take(s, p, false, ignored, sizeof ignored);
}

void pg_pool_figures(pg_store *s, int counts[2][3]) {
    pthread_mutex_lock(&s->lock);
    const pg_pool *pools[2] = {&s->reads, &s->writes};
    for (int i = 0; i < 2; i++) {
        counts[i][0] = pools[i]->n_idle;
        counts[i][1] = pools[i]->n_open - pools[i]->n_idle;
        counts[i][2] = s->opts.pool_size;
    }
    pthread_mutex_unlock(&s->lock);
}

void pg_conn_give(pg_store *s, pg_pool *p, PGconn *c) {
    assert(c != NULL);
    /* A connection left inside a transaction (an error path), or in the
     * nonblocking mode of a COPY that failed (pg_write.c), is not reusable as is. */
    bool reusable = PQstatus(c) == CONNECTION_OK && PQtransactionStatus(c) == PQTRANS_IDLE &&
                    !PQisnonblocking(c);
    pthread_mutex_lock(&s->lock);
    if (reusable) {
        p->idle[p->n_idle++] = c;
    } else {
        p->n_open--;
    }
    assert(p->n_idle <= p->n_open && p->n_open <= s->opts.pool_size);
    pthread_cond_signal(&p->freed);
    pthread_mutex_unlock(&s->lock);
    if (!reusable) PQfinish(c);
}

analyzer *pg_analyzer_take(pg_store *s) {
    analyzer *a = NULL;
    pthread_mutex_lock(&s->lock);
    if (s->n_analyzers > 0) a = s->analyzers[--s->n_analyzers];
    pthread_mutex_unlock(&s->lock);
    return a ? a : analyzer_new();
}

void pg_analyzer_give(pg_store *s, analyzer *a) {
    pthread_mutex_lock(&s->lock);
    if (s->n_analyzers == s->analyzers_cap) {
        s->analyzers_cap = s->analyzers_cap ? s->analyzers_cap * 2 : 8;
        s->analyzers = xrealloc(s->analyzers, (size_t)s->analyzers_cap * sizeof *s->analyzers);
    }
    s->analyzers[s->n_analyzers++] = a;
    pthread_mutex_unlock(&s->lock);
}

/* SQLSTATEs after which the same statement may work later. */
static bool retryable_state(const char *st) {
    if (st == NULL) return true; /* no server answer at all: the connection failed */
    return strncmp(st, "08", 2) == 0 ||      /* connection exception */
           strncmp(st, "57P", 3) == 0 ||     /* admin/crash shutdown, cannot connect now */
           strcmp(st, "57014") == 0 ||       /* statement timeout / cancel */
           strcmp(st, "25006") == 0 ||       /* read-only transaction: a standby, mid-failover */
           strcmp(st, "40001") == 0 || strcmp(st, "40P01") == 0 || /* serialization, deadlock */
           strcmp(st, "53300") == 0;         /* too many connections */
}

int pg_fail(PGconn *c, PGresult *r, const char *what, char *err, size_t errlen) {
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    char msg[512];
    snprintf(msg, sizeof msg, "%s", r && *PQresultErrorMessage(r) ? PQresultErrorMessage(r)
                                                                   : PQerrorMessage(c));
    one_line(msg);
    bool gone = PQstatus(c) != CONNECTION_OK || retryable_state(st);
    seterr(err, errlen, "%s%s: %s", gone ? "PostgreSQL unavailable, " : "", what, msg);
    PQclear(r);
    return gone ? PG_STORE_ERR_UNAVAILABLE : PG_STORE_ERR_DATABASE;
}

/* Wait for the answer to what was just sent on c, at most until deadline
 * (now_seconds()); see pg_exec_timed. */
static PGresult *await_answer(pg_store *s, PGconn *c, double deadline, const char *what, char *err,
                              size_t errlen) {
    PGresult *kept = NULL; /* the first error, else the last result */
    for (;;) {
        while (!PQisBusy(c)) {
            PGresult *r = PQgetResult(c);
            if (r == NULL) return kept;
            ExecStatusType st = PQresultStatus(r);
            if (st == PGRES_COPY_IN || st == PGRES_COPY_OUT || st == PGRES_COPY_BOTH) {
                /* The server waits for the COPY's data now: PQgetResult would
                 * hand out this status again and again, never NULL. */
                PQclear(kept);
                return r;
            }
            bool failed = PQresultStatus(r) == PGRES_FATAL_ERROR;
            if (kept == NULL || (failed && PQresultStatus(kept) != PGRES_FATAL_ERROR)) {
                PQclear(kept);
                kept = r;
            } else {
                PQclear(r);
            }
        }
        int ms = (int)((deadline - now_seconds()) * 1000.0);
        if (ms <= 0) {
            /* A frozen server or a dead peer: give up on this connection (it
             * stays busy, so pg_conn_give closes it). No PQcancel: it waits
             * for the server, which is what does not answer. */
            PQclear(kept);
            seterr(err, errlen, "PostgreSQL unavailable, %s: no answer within %d ms", what,
                   s->opts.statement_timeout_ms + PG_ANSWER_GRACE_MS);
            return NULL;
        }
        struct pollfd pfd = {.fd = PQsocket(c), .events = POLLIN};
        if (pfd.fd < 0 || (poll(&pfd, 1, ms) < 0 && errno != EINTR) || !PQconsumeInput(c)) {
            PQclear(kept);
            pg_fail(c, NULL, what, err, errlen);
            return NULL;
        }
    }
}

/* The name a statement is prepared under on every connection: a hash of
 * its text (64 bits: distinct texts do not meet in one process's few dozen). */
static void statement_name(const char *sql, char out[24]) {
    uint64_t h = 0xcbf29ce484222325ull;
    for (const unsigned char *p = (const unsigned char *)sql; *p; p++) h = (h ^ *p) * 0x100000001b3ull;
    snprintf(out, 24, "ragd_%016llx", (unsigned long long)h);
}

static bool is_missing_statement(const PGresult *r) {
    const char *st = r ? PQresultErrorField(r, PG_DIAG_SQLSTATE) : NULL;
    return PQresultStatus(r) == PGRES_FATAL_ERROR && st && strcmp(st, "26000") == 0;
}

double pg_answer_deadline(const pg_store *s) {
    /* The server's statement_timeout, plus time for its answer to arrive. */
    return now_seconds() + (s->opts.statement_timeout_ms + PG_ANSWER_GRACE_MS) / 1000.0;
}

PGresult *pg_exec_timed(pg_store *s, PGconn *c, const char *sql, int n,
                        const char *const *params, const char *what, char *err, size_t errlen) {
    double deadline = pg_answer_deadline(s);
    /* A query with parameters outside a transaction runs as a prepared
     * statement, prepared on this connection the first time it is missing:
     * planning a search costs about as much as running it on a small
     * corpus, and the plan of the same text is the same. (Inside a
     * transaction the failed first EXECUTE would abort it.) */
    if (n > 0 && PQtransactionStatus(c) == PQTRANS_IDLE) {
        char name[24];
        statement_name(sql, name);
        PGresult *r = NULL;
        if (PQsendQueryPrepared(c, name, n, params, NULL, NULL, 0))
            r = await_answer(s, c, deadline, what, err, errlen);
        else
            pg_fail(c, NULL, what, err, errlen);
        if (r == NULL || !is_missing_statement(r)) return r;
        PQclear(r);
        if (!PQsendPrepare(c, name, sql, n, NULL)) {
            pg_fail(c, NULL, what, err, errlen);
            return NULL;
        }
        r = await_answer(s, c, deadline, what, err, errlen);
        if (r == NULL || PQresultStatus(r) != PGRES_COMMAND_OK) return r; /* the caller reports it */
        PQclear(r);
        if (!PQsendQueryPrepared(c, name, n, params, NULL, NULL, 0)) {
            pg_fail(c, NULL, what, err, errlen);
            return NULL;
        }
        return await_answer(s, c, deadline, what, err, errlen);
    }
    int sent = n > 0 ? PQsendQueryParams(c, sql, n, NULL, params, NULL, NULL, 0)
                     : PQsendQuery(c, sql);
    if (!sent) {
        pg_fail(c, NULL, what, err, errlen);
        return NULL;
    }
    return await_answer(s, c, deadline, what, err, errlen);
}

PGresult *pg_exec_want(pg_store *s, PGconn *c, const char *sql, int n, const char *const *params,
                       ExecStatusType want, const char *what, int *rc, char *err, size_t errlen) {
    PGresult *r = pg_exec_timed(s, c, sql, n, params, what, err, errlen);
    if (r == NULL) {
        *rc = PG_STORE_ERR_UNAVAILABLE; /* err set */
        return NULL;
    }
    if (PQresultStatus(r) != want) {
        *rc = pg_fail(c, r, what, err, errlen);
        return NULL;
    }
    return r;
}

int pg_cmd(pg_store *s, PGconn *c, const char *sql, const char *what, char *err, size_t errlen) {
    PGresult *r = pg_exec_timed(s, c, sql, 0, NULL, what, err, errlen);
    if (r == NULL) return PG_STORE_ERR_UNAVAILABLE; /* err set */
    if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
        return pg_fail(c, r, what, err, errlen);
    PQclear(r);
    return 0;
}

void pg_rollback(pg_store *s, PGconn *c) {
    PGTransactionStatusType t = PQtransactionStatus(c);
    if (t != PQTRANS_INTRANS && t != PQTRANS_INERROR) return;
    PQclear(pg_exec_timed(s, c, "ROLLBACK", 0, NULL, "ROLLBACK", NULL, 0));
}

PGresult *pg_await(pg_store *s, PGconn *c, const char *what, char *err, size_t errlen) {
    double deadline = pg_answer_deadline(s);
    return await_answer(s, c, deadline, what, err, errlen);
}

static void read_pools(void *ctx, int counts[2][3]) { pg_pool_figures(ctx, counts); }

pg_store *pg_store_open(const char *conninfo, const char *model, int dim,
                        const pg_store_options *opts, char *err, size_t errlen) {
    if (!pg_store_valid_conninfo(conninfo, err, errlen)) return NULL;
    if (model == NULL || strlen(model) >= sizeof ((pg_store *)0)->model || dim < 1 || dim > 16000) {
        seterr(err, errlen, "pg_store_open: bad model identity or dim %d", dim);
        return NULL;
    }
    const char *reads = opts && opts->read_conninfo ? opts->read_conninfo : conninfo;
    if (!pg_store_valid_conninfo(reads, err, errlen)) return NULL;
    pg_store *s = xcalloc(1, sizeof *s);
    snprintf(s->model, sizeof s->model, "%s", model);
    s->dim = dim;
    s->opts = opts ? *opts : (pg_store_options){0};
    if (s->opts.pool_size <= 0) s->opts.pool_size = PG_STORE_POOL_DEFAULT;
    if (s->opts.pool_wait_ms <= 0) s->opts.pool_wait_ms = 5000;
    if (s->opts.statement_timeout_ms <= 0) s->opts.statement_timeout_ms = 30000;
    pthread_mutex_init(&s->lock, NULL);
    pg_pool *pools[] = {&s->writes, &s->reads};
    for (int i = 0; i < 2; i++) {
        pools[i]->idle = xcalloc((size_t)s->opts.pool_size, sizeof *pools[i]->idle);
        pthread_cond_init(&pools[i]->freed, NULL);
    }
    /* Writes need the primary even where the string prefers a standby. */
    s->writes.conninfo = xstrdup(conninfo);
    s->writes.force_attrs = "read-write";
    s->reads.conninfo = xstrdup(reads);
    s->opts.read_conninfo = NULL; /* the caller's string; ours is s->reads.conninfo */
    PGconn *c = pg_conn_take(s, &s->writes, err, errlen);
    if (c == NULL) {
        pg_store_close(s);
        return NULL;
    }
    int rc = pg_schema_ensure(s, c, err, errlen);
    pg_conn_give(s, &s->writes, c);
    if (rc != 0) {
        pg_store_close(s);
        return NULL;
    }
    ragd_metrics_store_pools_add(read_pools, s);
    return s;
}

void pg_store_close(pg_store *s) {
    if (s == NULL) return;
    ragd_metrics_store_pools_remove(s); /* no scrape reads s after this */
    pg_pool *pools[] = {&s->writes, &s->reads};
    for (int i = 0; i < 2; i++) {
        pg_pool *p = pools[i];
        assert(p->n_idle == p->n_open); /* every connection given back */
        for (int j = 0; j < p->n_idle; j++) PQfinish(p->idle[j]);
        free(p->idle);
        free(p->conninfo);
        pthread_cond_destroy(&p->freed);
    }
    for (int i = 0; i < s->n_analyzers; i++) analyzer_free(s->analyzers[i]);
    free(s->analyzers);
    pthread_mutex_destroy(&s->lock);
    free(s);
}

int pg_store_dim(const pg_store *s) { return s->dim; }

const char *pg_store_model(const pg_store *s) { return s->model; }
