/* pg_internal — what the files of the PostgreSQL store share: the store
 * struct, the connection pool (pg_conn.c) and result helpers. */
#ifndef RAGD_STORE_PG_INTERNAL_H
#define RAGD_STORE_PG_INTERNAL_H

#include <libpq-fe.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "store/analyzer.h"
#include "store/bm25.h"
#include "store/pg/pg_store.h"

/* A bounded set of connections to one connection string. */
typedef struct pg_pool {
    char *conninfo;
    const char *force_attrs; /* target_session_attrs put after the caller's; NULL: theirs */
    pthread_cond_t freed;
    PGconn **idle;       /* open connections nobody holds */
    int n_idle, n_open;  /* n_open: idle + held, at most opts.pool_size */
} pg_pool;

struct pg_store {
    char model[256];
    int dim;
    bm25_params bm25; /* the ones the database records (ragd_meta) */
    pg_store_options opts;
    pthread_mutex_t lock; /* guards both pools and the analyzers */
    pg_pool writes;       /* the primary: target_session_attrs=read-write */
    pg_pool reads;        /* read_conninfo, or the connection string as given */
    analyzer **analyzers; /* free analyzers (a Snowball stemmer is single-threaded) */
    int n_analyzers, analyzers_cap;
};

/* A connection for one operation from pool p (&s->writes or &s->reads): an
 * idle one (replaced if the server dropped it), a new one while the pool has
 * room, or the first one freed within pool_wait_ms. NULL with err set
 * (PG_STORE_ERR_UNAVAILABLE). */
PGconn *pg_conn_take(pg_store *s, pg_pool *p, char *err, size_t errlen);
/* An idle connection, or a new one while the pool has room; NULL (no error,
 * no wait) when it has none: for work that can also be done without it. */
PGconn *pg_conn_try_take(pg_store *s, pg_pool *p);
/* The pools' connections now: counts[0] reads, [1] writes; [.][0] idle,
 * [.][1] busy, [.][2] the limit (a ragd_pool_reader for /metrics). */
void pg_pool_figures(pg_store *s, int counts[2][3]);
/* Give it back; a broken connection is closed (the pool opens another). */
void pg_conn_give(pg_store *s, pg_pool *p, PGconn *c);

analyzer *pg_analyzer_take(pg_store *s);
void pg_analyzer_give(pg_store *s, analyzer *a);

/* Map a failed result to a pg_store_error with err set ("what: server's
 * message"); clears r. Unavailable when the connection is gone or the server
 * is shutting down, starting, read-only or cancelled the statement. */
int pg_fail(PGconn *c, PGresult *r, const char *what, char *err, size_t errlen);
/* Run a command that returns no rows (or rows it ignores), waiting as
 * pg_exec_timed does; 0 or pg_fail's code. */
int pg_cmd(pg_store *s, PGconn *c, const char *sql, const char *what, char *err, size_t errlen);
/* Roll back c's open transaction, if it has one and is not busy with an
 * abandoned statement (pg_conn_give closes such a connection, and the server
 * rolls back when it goes), waiting at most as pg_exec_timed does. */
void pg_rollback(pg_store *s, PGconn *c);
/* Wait for the answer to what was just sent on c (PQsendQuery…, or the end
 * of a COPY), at most statement_timeout + PG_ANSWER_GRACE_MS; as
 * pg_exec_timed's result. */
PGresult *pg_await(pg_store *s, PGconn *c, const char *what, char *err, size_t errlen);

/* How long past statement_timeout a read or write waits for the server's answer. */
#define PG_ANSWER_GRACE_MS 2000

/* Run sql (with n text params; n = 0 allows several statements) and wait at
 * most statement_timeout + PG_ANSWER_GRACE_MS for the answer: a server that
 * stopped answering (frozen, or a peer gone without a reset) cannot hold the
 * thread. The result (the first error if any statement failed; the caller
 * checks its status and clears it), or NULL with err set (unavailable). */
PGresult *pg_exec_timed(pg_store *s, PGconn *c, const char *sql, int n,
                        const char *const *params, const char *what, char *err, size_t errlen);
/* pg_exec_timed, wanting status want: its result then, else NULL with *rc
 * the pg_store_error (err set; the result cleared). */
PGresult *pg_exec_want(pg_store *s, PGconn *c, const char *sql, int n, const char *const *params,
                       ExecStatusType want, const char *what, int *rc, char *err, size_t errlen);
/* When an answer asked for now is overdue (now_seconds()): statement_timeout
 * plus PG_ANSWER_GRACE_MS from now. */
double pg_answer_deadline(const pg_store *s);

/* A passage row a search fetched (strings valid during the call only). */
typedef struct pg_fetched {
    const char *article_id, *heading, *date, *topic, *text;
    int passage_index;
    long long seq; /* write order: unique, ties rank in it */
} pg_fetched;

/* Where pg_search_into puts the rows it fetched: keep stores one and returns
 * its key (what search_hit.passage_id will say; a passage in both halves is
 * kept once); name reads a kept row's article id and seq back (for the
 * article cap and fusion's ties). */
typedef struct pg_row_sink {
    uint32_t (*keep)(void *ctx, const pg_fetched *row);
    void (*name)(void *ctx, uint32_t key, const char **article_id, long long *seq);
    void *ctx;
} pg_row_sink;

/* store_search on the PostgreSQL store (pg_search.c): hits' passage_id are
 * the keys sink gave. The hit count or a pg_store_error with err set. */
int pg_search_into(pg_store *s, const store_query *q, const pg_row_sink *sink, search_hit *hits,
                   char *err, size_t errlen);

/* Create or check the schema (pg_schema.c) on a fresh connection. */
int pg_schema_ensure(pg_store *s, PGconn *c, char *err, size_t errlen);

#endif
