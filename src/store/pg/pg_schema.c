/* pg_schema — create, migrate and check the PostgreSQL store's schema (see
 * pg_store.h for the tables). Migrations are a list of SQL steps, step i
 * taking a database from version i to i + 1; opening applies the missing
 * ones in one transaction under an advisory lock, so two ragd processes
 * opening a new database at once create it once. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "store/pg/pg_internal.h"
#include "util/buf.h"
#include "util/util.h"

#define SCHEMA_LOCK_KEY 0x72616764 /* "ragd": pg_advisory_xact_lock key */

/* Version 0 → 1. %1$d is the vector dimension. */
static const char *const migration_1 =
    "CREATE TABLE ragd_stats (one boolean PRIMARY KEY DEFAULT true CHECK (one),"
    " n_docs bigint NOT NULL, total_len bigint NOT NULL);"
    "INSERT INTO ragd_stats VALUES (true, 0, 0);"
    "CREATE TABLE ragd_topics (topic text PRIMARY KEY, part int UNIQUE NOT NULL);"
    "CREATE TABLE ragd_articles (id text PRIMARY KEY, topic text NOT NULL, heading text NOT NULL,"
    " date text NOT NULL, body text NOT NULL, n_passages int NOT NULL);"
    "CREATE TABLE ragd_passages (topic text NOT NULL, article_id text NOT NULL,"
    " passage_index int NOT NULL, heading text NOT NULL, date text NOT NULL, text text NOT NULL,"
    " body_len int NOT NULL, embedding vector(%1$d) NOT NULL,"
    " PRIMARY KEY (topic, article_id, passage_index)) PARTITION BY LIST (topic);"
    "CREATE INDEX ragd_passages_article ON ragd_passages (article_id);"
    "CREATE TABLE ragd_postings (term text COLLATE \"C\" NOT NULL, topic text NOT NULL,"
    " article_id text NOT NULL, passage_index int NOT NULL, tf_body int NOT NULL,"
    " tf_heading int NOT NULL, body_len int NOT NULL, date text NOT NULL,"
    " PRIMARY KEY (term, topic, article_id, passage_index)) PARTITION BY LIST (topic);"
    "CREATE INDEX ragd_postings_article ON ragd_postings (article_id);";

/* Version 1 → 2: seq, the passages' write order, which breaks ties between
 * equal scores as the embedded store's passage ids do. A version-1
 * database's passages are numbered in (article id, passage index) order, the
 * order its ties had. */
static const char *const migration_2 =
    "ALTER TABLE ragd_stats ADD COLUMN next_seq bigint NOT NULL DEFAULT 0;"
    "ALTER TABLE ragd_passages ADD COLUMN seq bigint;"
    "ALTER TABLE ragd_postings ADD COLUMN seq bigint;"
    "WITH n AS (SELECT topic, article_id, passage_index, row_number() OVER (ORDER BY"
    " article_id COLLATE \"C\", passage_index) - 1 AS seq FROM ragd_passages)"
    " UPDATE ragd_passages p SET seq = n.seq FROM n WHERE p.topic = n.topic"
    " AND p.article_id = n.article_id AND p.passage_index = n.passage_index;"
    "UPDATE ragd_postings q SET seq = p.seq FROM ragd_passages p WHERE q.topic = p.topic"
    " AND q.article_id = p.article_id AND q.passage_index = p.passage_index;"
    "UPDATE ragd_stats SET next_seq = (SELECT count(*) FROM ragd_passages);"
    "ALTER TABLE ragd_passages ALTER COLUMN seq SET NOT NULL;"
    "ALTER TABLE ragd_postings ALTER COLUMN seq SET NOT NULL;";

/* Version 2 → 3: the postings' primary key covers every column a lexical
 * search reads, so it is an index-only scan (once VACUUM has marked the pages
 * all-visible: the bulk load runs it) instead of a heap fetch per posting,
 * and a term's postings are scattered over the heap. About 2-3 times faster
 * on the corpus (bench/README.md). */
static const char *const migration_3 =
    "ALTER TABLE ragd_postings DROP CONSTRAINT ragd_postings_pkey;"
    "ALTER TABLE ragd_postings ADD PRIMARY KEY (term, topic, article_id, passage_index)"
    " INCLUDE (seq, tf_body, tf_heading, body_len, date);";

/* Version 3 → 4: vectors inline in the passages' rows (STORAGE MAIN, not
 * pgvector's EXTERNAL): the exact scan reads them with the row instead of
 * from the TOAST table, about 2.5 times faster (bench/README.md). A vector
 * too large for a page still moves out. The rows already written are
 * rewritten (one UPDATE) so they are inline too. %1$d is the dimension. */
static const char *const migration_4 =
    "ALTER TABLE ragd_passages ALTER COLUMN embedding SET STORAGE MAIN;"
    "UPDATE ragd_passages SET embedding = embedding::real[]::vector(%1$d);";

/* Version 4 → 5: the article field's statistics kept on write instead of
 * aggregated from the postings by every search (bm25.h's article field):
 * ragd_article_terms, one row per (term, article) with the body tf summed
 * over the article's passages, the heading tf (the same in every passage, so
 * counted once) and the article's length, its key covering what a search
 * reads; and the live article count in ragd_stats. A search then counts an
 * article df as it counts a passage df, by one index range per term. The
 * existing articles' rows are made from their postings here, one partition
 * per topic as ragd_postings has (%%s and %%L: format()'s, printf's escaped). */
static const char *const migration_5 =
    "CREATE TABLE ragd_article_terms (term text COLLATE \"C\" NOT NULL, topic text NOT NULL,"
    " article_id text NOT NULL, tf_body bigint NOT NULL, tf_heading int NOT NULL,"
    " article_len bigint NOT NULL, date text NOT NULL,"
    " PRIMARY KEY (term, topic, article_id) INCLUDE (tf_body, tf_heading, article_len, date))"
    " PARTITION BY LIST (topic);"
    "CREATE INDEX ragd_article_terms_article ON ragd_article_terms (article_id);"
    "DO $$ DECLARE t record; BEGIN FOR t IN SELECT topic, part FROM ragd_topics LOOP"
    " EXECUTE format('CREATE TABLE ragd_article_terms_p%%s PARTITION OF ragd_article_terms"
    " FOR VALUES IN (%%L)', t.part, t.topic); END LOOP; END $$;"
    "INSERT INTO ragd_article_terms SELECT p.term, p.topic, p.article_id, sum(p.tf_body),"
    " max(p.tf_heading), l.len, min(p.date) FROM ragd_postings p JOIN (SELECT article_id,"
    " sum(body_len) AS len FROM ragd_passages GROUP BY article_id) l USING (article_id)"
    " GROUP BY p.term, p.topic, p.article_id, l.len;"
    "ALTER TABLE ragd_stats ADD COLUMN n_articles bigint NOT NULL DEFAULT 0;"
    "UPDATE ragd_stats SET n_articles = (SELECT count(*) FROM ragd_articles);"
    "ANALYZE ragd_article_terms;";

static const char *const migrations[PG_STORE_SCHEMA_VERSION] = {migration_1, migration_2,
                                                                migration_3, migration_4,
                                                                migration_5};

static const char *fix_hint = "point --store-url at another database, or drop this one's ragd_* "
                              "tables and run `ragd ingest` again";

/* The value of ragd_meta.key, or NULL (the caller frees). */
static char *meta_get(PGconn *c, const char *key) {
    const char *params[] = {key};
    PGresult *r =
        PQexecParams(c, "SELECT value FROM ragd_meta WHERE key = $1", 1, NULL, params, NULL, NULL, 0);
    char *v = NULL;
    if (PQresultStatus(r) == PGRES_TUPLES_OK && PQntuples(r) == 1) v = xstrdup(PQgetvalue(r, 0, 0));
    PQclear(r);
    return v;
}

static int meta_set(PGconn *c, const char *key, const char *value, char *err, size_t errlen) {
    const char *params[] = {key, value};
    PGresult *r = PQexecParams(c,
                               "INSERT INTO ragd_meta VALUES ($1, $2) ON CONFLICT (key) DO UPDATE "
                               "SET value = excluded.value",
                               2, NULL, params, NULL, NULL, 0);
    if (PQresultStatus(r) != PGRES_COMMAND_OK) return pg_fail(c, r, "writing ragd_meta", err, errlen);
    PQclear(r);
    return 0;
}

static int create_meta(pg_store *s, PGconn *c, char *err, size_t errlen) {
    char dim[16], k1[32], b[32], wh[32], ver[16];
    snprintf(dim, sizeof dim, "%d", s->dim);
    snprintf(k1, sizeof k1, "%.9g", (double)BM25_DEFAULT_K1);
    snprintf(b, sizeof b, "%.9g", (double)BM25_DEFAULT_B);
    snprintf(wh, sizeof wh, "%.9g", (double)BM25_DEFAULT_W_HEADING);
    snprintf(ver, sizeof ver, "%d", PG_STORE_SCHEMA_VERSION);
    const char *kv[][2] = {{"model", s->model}, {"dim", dim},          {"analyzer", ANALYZER_ID},
                           {"bm25_k1", k1},     {"bm25_b", b},         {"bm25_w_heading", wh},
                           {"schema_version", ver}};
    for (size_t i = 0; i < sizeof kv / sizeof kv[0]; i++)
        if (meta_set(c, kv[i][0], kv[i][1], err, errlen) != 0) return -1;
    return 0;
}

/* Compare the database's identity with ours; 0 or -1 with the message. */
static int check_meta(pg_store *s, PGconn *c, char *err, size_t errlen) {
    char *model = meta_get(c, "model"), *dim = meta_get(c, "dim"), *an = meta_get(c, "analyzer");
    char *k1 = meta_get(c, "bm25_k1"), *b = meta_get(c, "bm25_b"), *wh = meta_get(c, "bm25_w_heading");
    int rc = 0;
    if (!model || !dim || !an || !k1 || !b || !wh) {
        rc = seterr(err, errlen, "the database's ragd_meta is incomplete; %s", fix_hint);
    } else if (strcmp(model, s->model) != 0 || atoi(dim) != s->dim) {
        rc = seterr(err, errlen,
                    "the database was built with model %s (dim %s) but this ragd uses %s (dim %d); %s",
                    model, dim, s->model, s->dim, fix_hint);
    } else if (strcmp(an, ANALYZER_ID) != 0) {
        rc = seterr(err, errlen,
                    "the database's BM25 postings were made by analyzer %s but this ragd's is %s; %s",
                    an, ANALYZER_ID, fix_hint);
    } else {
        s->bm25 = (bm25_params){strtof(k1, NULL), strtof(b, NULL), strtof(wh, NULL)};
    }
    free(model), free(dim), free(an), free(k1), free(b), free(wh);
    return rc;
}

int pg_schema_ensure(pg_store *s, PGconn *c, char *err, size_t errlen) {
    if (pg_cmd(s, c, "BEGIN", "BEGIN", err, errlen) != 0) return -1;
    char sql[256];
    snprintf(sql, sizeof sql, "SELECT pg_advisory_xact_lock(%d)", SCHEMA_LOCK_KEY);
    int rc = pg_cmd(s, c, sql, "locking the schema", err, errlen);
    if (rc == 0)
        rc = pg_cmd(s, c, "CREATE EXTENSION IF NOT EXISTS vector", "CREATE EXTENSION vector", err,
                    errlen);
    if (rc == 0)
        rc = pg_cmd(s, c, "CREATE TABLE IF NOT EXISTS ragd_meta (key text PRIMARY KEY, value text NOT NULL)",
                    "creating ragd_meta", err, errlen);
    int version = 0;
    if (rc == 0) {
        char *v = meta_get(c, "schema_version");
        version = v ? atoi(v) : 0;
        free(v);
        if (version > PG_STORE_SCHEMA_VERSION)
            rc = seterr(err, errlen,
                        "the database has ragd schema version %d, newer than this ragd's %d: "
                        "upgrade ragd (or use another database)",
                        version, PG_STORE_SCHEMA_VERSION);
    }
    if (rc == 0 && version > 0) rc = check_meta(s, c, err, errlen);
    for (int v = version; rc == 0 && v < PG_STORE_SCHEMA_VERSION; v++) {
        buf step = {0};
        buf_printf(&step, migrations[v], s->dim);
        buf_putc(&step, '\0');
        char what[64];
        snprintf(what, sizeof what, "migrating the schema to version %d", v + 1);
        /* Not pg_cmd: its one wait covers the whole string, while the
         * server's statement_timeout holds each of a step's statements
         * (rewrites of every row) on its own, and a step runs once. */
        PGresult *r = PQexec(c, step.data);
        if (PQresultStatus(r) != PGRES_COMMAND_OK && PQresultStatus(r) != PGRES_TUPLES_OK)
            rc = pg_fail(c, r, what, err, errlen);
        else
            PQclear(r);
        buf_free(&step);
    }
    if (rc == 0 && version == 0) rc = create_meta(s, c, err, errlen);
    if (rc == 0 && version < PG_STORE_SCHEMA_VERSION) {
        char ver[16];
        snprintf(ver, sizeof ver, "%d", PG_STORE_SCHEMA_VERSION);
        rc = meta_set(c, "schema_version", ver, err, errlen);
    }
    if (rc == 0 && version == 0) rc = check_meta(s, c, err, errlen);
    if (rc == 0) return pg_cmd(s, c, "COMMIT", "committing the schema", err, errlen);
    pg_rollback(s, c);
    return rc < 0 ? rc : -1;
}
