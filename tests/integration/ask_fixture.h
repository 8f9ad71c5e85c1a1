/* ask_fixture — a `ragd serve` over a small corpus written by the test, for
 * the /ask tests (test_ask_api, test_ask_cli).
 *
 * The corpus is 20 articles in the real corpus's format (header
 * Article,Date,Heading,NewsType; CRLF; quoted fields, one with line breaks
 * inside; one cp1252 byte; dates M/D/YYYY), 10 business and 10 sports, each
 * built around a word no other article uses (ask_article.keyword) so lexical
 * retrieval has a known right answer. The server ingests it on its first
 * start into a fresh temporary data directory, which stop removes.
 *
 * On PostgreSQL: with RAGD_TEST_STORE=postgres in the environment (the *_pg
 * registrations of the API tests, tests/pg/CMakeLists.txt) the store is a
 * throwaway cluster (pg_cluster.h) instead: serve gets --store-url and
 * ingests the corpus into the empty database on its first start, the split
 * deployment runs `ragd ingest --store-url` and a gateway on the same URL.
 * Tests name the store in their own commands with f->store_flag and
 * f->store_value, and skip an embedded-only assertion with ask_fixture_on_pg.
 */
#ifndef RAGD_TESTS_ASK_FIXTURE_H
#define RAGD_TESTS_ASK_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "harness.h"
#include "pg_cluster.h"

typedef struct ask_article {
    const char *keyword;  /* appears in this article only */
    const char *topic;    /* "business" or "sports" */
    const char *heading;  /* as stored (already clean) */
    const char *date_csv; /* M/D/YYYY, as in the CSV */
    const char *date_iso; /* YYYY-MM-DD, as the API reports it */
    const char *text;     /* the CSV field (cp1252) */
} ask_article;

extern const ask_article ask_corpus[];
extern const int ask_corpus_len;

typedef struct ask_fixture {
    char dir[64];         /* temporary folder: corpus.csv and data/ */
    char data_dir[96];
    char csv_path[96];
    ragd_proc server;     /* the process /ask is asked of: serve, or the gateway */
    ragd_proc models[2];  /* the gateway deployment's model services */
    int nmodels;
    bool on_pg;           /* RAGD_TEST_STORE=postgres: the store is pg */
    pg_cluster pg;        /* its cluster, while on_pg */
    const char *store_flag;  /* "--data-dir" or "--store-url" */
    const char *store_value; /* data_dir or pg.url */
} ask_fixture;

/* True when the tests run on PostgreSQL (RAGD_TEST_STORE=postgres). */
bool ask_fixture_on_pg(void);

/* Make the folder and the CSV; start `ragd serve --data-dir … --csv …
 * extra_args…` (extra_args NULL-terminated, or NULL) and wait until it
 * listens and /ready no longer says "ingesting" (a first start ingests while
 * it listens). 0, or -1 after printing why. */
int ask_fixture_start(ask_fixture *f, const char *const *extra_args);
/* The split deployment instead: `ragd ingest` the same corpus, start two
 * `ragd model` services and `ragd gateway --model-url A --model-url B` as
 * f->server, and wait until the gateway is ready (it found its models). */
int ask_fixture_start_gateway(ask_fixture *f);

/* Start another server on the same, already ingested data directory. */
int ask_fixture_start_again(ask_fixture *f, ragd_proc *p, const char *const *extra_args);
/* Stop the server (and model services); returns the first non-zero exit status. remove: delete the folder. */
int ask_fixture_stop(ask_fixture *f, bool remove);

/* POST /ask with body (application/json); sse adds Accept: text/event-stream. */
int ask_post(const ragd_proc *p, const char *body, bool sse, http_reply *out);

/* One Server-Sent Event as the wire carries it; the tests parse the stream
 * with this deliberately simple reader (not the client's parser) so the
 * server's framing is checked independently. */
typedef struct wire_event {
    char *name;  /* "message" when there was no event: line */
    char *data;  /* data: lines joined with '\n' */
} wire_event;

/* Split an SSE body into events; returns their count (*events freed by wire_events_free). */
int wire_events_parse(const char *body, wire_event **events);
void wire_events_free(wire_event *events, int n);

/* The article whose heading is this, or NULL. */
const ask_article *ask_article_by_heading(const char *heading);

#endif
