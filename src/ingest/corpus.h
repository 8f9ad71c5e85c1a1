/* corpus — the news CSV as clean, validated, de-duplicated articles.
 *
 * csv_reader gives UTF-8 rows; here each row's text and heading go through
 * clean_text, its date through news_date (M/D/YYYY → YYYY-MM-DD) and its
 * NewsType is lower-cased into the topic. A row with an impossible date, an
 * empty topic or no text left after cleaning is a problem row, reported with
 * its CSV line like a malformed record, never silently dropped.
 *
 * Repeated article texts (108 in the corpus) are kept in the list but marked
 * duplicate_of the first article with the same cleaned text; ingest stores
 * only the first. The later copy's heading, date and topic are not stored
 * (in the corpus they equal the first copy's, except one heading that is a
 * longer wording of the same title); ingest logs each skipped duplicate.
 *
 * An article's id is its 0-based data-row number in the CSV, as decimal text:
 * stable for the same file, and it leads straight back to the row.
 */
#ifndef RAGD_INGEST_CORPUS_H
#define RAGD_INGEST_CORPUS_H

#include <stddef.h>

typedef struct article {
    char id[24];     /* data-row number, decimal */
    long line;       /* CSV line the row starts on */
    char *text;      /* cleaned article text */
    size_t text_len;
    char *heading;   /* cleaned heading */
    char date[11];   /* YYYY-MM-DD */
    char *topic;     /* lower-case NewsType */
    long duplicate_of; /* index of the first article with the same text, or -1 */
} article;

typedef struct corpus_problem {
    long line;
    char *reason;
} corpus_problem;

typedef struct corpus {
    article *articles;
    size_t count;         /* good rows, duplicates included */
    size_t duplicates;    /* articles with duplicate_of >= 0 */
    corpus_problem *problems; /* malformed and invalid rows, in file order */
    size_t nproblems;
} corpus;

/* Load path. Returns 0 (problem rows are in c->problems, each also logged as
 * a warning), or -1 with err set if the file cannot be read or its header
 * lacks a column. c is always safe to corpus_free. */
int corpus_load(const char *path, corpus *c, char *err, size_t errlen);
/* The same from CSV text in memory (tests). */
int corpus_load_buffer(const char *data, size_t len, corpus *c, char *err, size_t errlen);
void corpus_free(corpus *c);

#endif
