/* store_open — see store_open.h. */
#include "app/store_open.h"

#include <libpq-fe.h>
#include <stdio.h>
#include <string.h>

#include "model/encoder.h"
#include "store/pg/pg_store.h"
#include "util/util.h"

void store_opts_add(option_list *l, store_opts *o, const char *data_dir_help) {
    *o = (store_opts){.data_dir = "./data", .pool = PG_STORE_POOL_DEFAULT, .timeout_ms = 30000};
    const option_spec specs[] = {
        {"data-dir", "RAGD_DATA_DIR", OPT_STRING, &o->data_dir, data_dir_help, 0, 0},
        {"store-url", "RAGD_STORE_URL", OPT_STRING, &o->url,
         "use this PostgreSQL + pgvector database instead of --data-dir: a libpq connection "
         "string (postgres://user@host/db or key=value; several hosts, TLS, passwords as libpq)", 0, 0},
        {"store-read-url", "RAGD_STORE_READ_URL", OPT_STRING, &o->read_url,
         "with --store-url: send searches here (a standby), writes still to --store-url's primary", 0, 0},
        /* A connection is held for one query only, and each query runs on one
         * server process: more connections than the database's cores add no
         * throughput, while every gateway's pools count against the server's
         * max_connections (100 by default). /ask workers beyond the pool wait
         * for a connection, at most 5 s, counted in ragd_store_pool_waits_total. */
        {"store-pool", "RAGD_STORE_POOL", OPT_INT, &o->pool,
         "with --store-url: connections at most in each of the read and the write pool", 1, 1000},
        {"store-timeout-ms", "RAGD_STORE_TIMEOUT_MS", OPT_INT, &o->timeout_ms,
         "with --store-url: statement timeout, ms (a search, or each statement of a write, waits at most this + 2 s)", 1, 3600000},
    };
    options_add_all(l, specs, ARRAY_LEN(specs));
}

bool store_opts_on_server(const store_opts *o) { return o->url && *o->url; }

/* libpq quotes a malformed URI in its message, password and all: say
 * "the connection string" in its place. */
static void redact(char *msg, const char *conninfo) {
    static const char stand_in[] = "(the connection string)";
    size_t n = strlen(conninfo);
    char *at = n >= sizeof stand_in ? strstr(msg, conninfo) : NULL;
    if (!at) return;
    memcpy(at, stand_in, sizeof stand_in - 1);
    memmove(at + sizeof stand_in - 1, at + n, strlen(at + n) + 1);
}

int store_opts_check(const store_opts *o, const char *cmd) {
    char err[512];
    bool read_given = o->read_url && *o->read_url;
    if (!store_opts_on_server(o)) {
        if (!read_given) return 0;
        fprintf(stderr, "ragd %s: --store-read-url needs --store-url (the primary, for writes)\n", cmd);
        return -1;
    }
    if (!pg_store_valid_conninfo(o->url, err, sizeof err)) {
        redact(err, o->url);
        fprintf(stderr, "ragd %s: --store-url: %s\n", cmd, err);
        return -1;
    }
    if (read_given && !pg_store_valid_conninfo(o->read_url, err, sizeof err)) {
        redact(err, o->read_url);
        fprintf(stderr, "ragd %s: --store-read-url: %s\n", cmd, err);
        return -1;
    }
    return 0;
}

/* A parsed option's value, or NULL when unset or empty. */
static const char *option_value(const PQconninfoOption *opts, const char *key) {
    for (const PQconninfoOption *p = opts; p && p->keyword; p++)
        if (!strcmp(p->keyword, key)) return p->val && *p->val ? p->val : NULL;
    return NULL;
}

void store_opts_where(const store_opts *o, char *out, size_t outlen) {
    if (!store_opts_on_server(o)) {
        snprintf(out, outlen, "data directory %s", o->data_dir);
        return;
    }
    PQconninfoOption *opts = PQconninfoParse(o->url, NULL);
    const char *host = option_value(opts, "host"), *port = option_value(opts, "port");
    const char *db = option_value(opts, "dbname"), *user = option_value(opts, "user");
    snprintf(out, outlen, "PostgreSQL database %s on %s:%s", db ? db : user ? user : "(default)",
             host ? host : "(local socket)", port ? port : "5432");
    PQconninfoFree(opts);
}

/* The model a database's ragd store was built for, into model. 1 found,
 * 0 the database holds no ragd store, -1 it cannot be reached (err set).
 * The same question store_exists answers for a data directory; pg_store_open
 * wants the model it must check, which a gateway only learns from here. */
static int database_model(const char *conninfo, char *model, size_t modellen, char *err,
                          size_t errlen) {
    const char *keys[] = {"connect_timeout", "application_name", "dbname", NULL};
    const char *vals[] = {"5", "ragd", conninfo, NULL};
    PGconn *c = PQconnectdbParams(keys, vals, 1);
    if (!c || PQstatus(c) != CONNECTION_OK) {
        char msg[512];
        snprintf(msg, sizeof msg, "%s", c ? PQerrorMessage(c) : "out of memory");
        for (char *p = msg; *p; p++)
            if (*p == '\n' || *p == '\t') *p = ' ';
        size_t n = strlen(msg);
        while (n && msg[n - 1] == ' ') msg[--n] = '\0';
        PQfinish(c);
        return seterr(err, errlen, "cannot connect to PostgreSQL: %s", msg);
    }
    PGresult *r = PQexec(c, "SELECT value FROM ragd_meta WHERE key = 'model'");
    int rc;
    if (PQresultStatus(r) == PGRES_TUPLES_OK) {
        rc = PQntuples(r) == 1;
        if (rc) snprintf(model, modellen, "%s", PQgetvalue(r, 0, 0));
    } else {
        const char *state = PQresultErrorField(r, PG_DIAG_SQLSTATE);
        if (state && !strcmp(state, "42P01")) { /* undefined_table: never written by ragd */
            rc = 0;
        } else {
            char msg[256];
            snprintf(msg, sizeof msg, "%s", PQresultErrorMessage(r));
            msg[strcspn(msg, "\n")] = '\0';
            rc = seterr(err, errlen, "cannot read the ragd schema: %s", msg);
        }
    }
    PQclear(r);
    PQfinish(c);
    return rc;
}

static store *open_database(const store_opts *o, const char *model, char *err, size_t errlen) {
    char where[300], found[256];
    store_opts_where(o, where, sizeof where);
    if (!model) {
        char why[600];
        int has = database_model(o->url, found, sizeof found, why, sizeof why);
        if (has < 0) {
            seterr(err, errlen, "%s: %s", where, why);
            return NULL;
        }
        if (has == 0) {
            seterr(err, errlen,
                   "the %s holds no ragd store yet (build it with 'ragd ingest --store-url …', "
                   "or start 'ragd serve --store-url …', which ingests on first start)",
                   where);
            return NULL;
        }
        model = found;
    }
    pg_store_options po = {.read_conninfo = o->read_url && *o->read_url ? o->read_url : NULL,
                           .pool_size = o->pool, .statement_timeout_ms = o->timeout_ms};
    char why[512];
    store *st = pg_store_open_backend(o->url, model, ENCODER_DIM, &po, why, sizeof why);
    if (!st) seterr(err, errlen, "%s: %s", where, why);
    return st;
}

store *store_opts_open(const store_opts *o, const char *model, bool writable, char *err,
                       size_t errlen, int *exit_status) {
    store *st;
    if (store_opts_on_server(o)) {
        st = open_database(o, model, err, errlen);
        if (!st && exit_status) *exit_status = STORE_OPEN_EXIT_DATABASE;
        return st;
    }
    st = writable ? store_open_writable(o->data_dir, model, err, errlen)
                  : store_open(o->data_dir, model, err, errlen);
    if (!st && exit_status) *exit_status = 1;
    return st;
}
