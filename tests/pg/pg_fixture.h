/* pg_fixture — the corpus slice the PostgreSQL store tests put in both
 * stores: the first articles of the shared corpus (duplicates skipped), split
 * into passages of a few sentences, with seeded random unit vectors (the tests
 * are about the stores, not the model), and the same slice as an embedded
 * store built the way `ragd ingest` builds one (passages, then article texts). */
#ifndef RAGD_TESTS_PG_FIXTURE_H
#define RAGD_TESTS_PG_FIXTURE_H

#include <stdbool.h>
#include <stddef.h>

#include "ingest/corpus.h"
#include "store/documents.h"

#define PG_FIXTURE_DIM 384

typedef struct pg_fixture {
    corpus corpus;
    size_t n_articles, n_passages;
    store_article *articles;  /* n_articles */
    char ***texts;            /* the passages' texts of each article */
    float **vectors;          /* their vectors */
    char **first_sentence;    /* each article's first sentence (a question) */
} pg_fixture;

/* Load the corpus from $RAGD_SHARED_DIR and take its first n_articles
 * articles (0: all of them). 0, or -1 with the reason on stderr. */
int pg_fixture_build(pg_fixture *f, size_t n_articles);
void pg_fixture_free(pg_fixture *f);
/* Write f as an embedded store into dir (model "m"); with_texts also keeps
 * the articles' texts (store_article_info.text). 0, or -1 with the reason on
 * stderr. */
int pg_fixture_write_embedded(const pg_fixture *f, const char *dir, bool with_texts);

#endif
