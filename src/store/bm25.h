/* bm25 — the lexical half of hybrid retrieval: an inverted index over the
 * store's rows scored with BM25F (Robertson & Zaragoza's simple BM25F: the
 * heading and body term frequencies combine before saturation,
 *     tf~ = tf_body / (1 - b + b * len_body / avg_len_body) + w_heading * tf_heading
 *     score = sum over query terms of idf * tf~ * (k1 + 1) / (tf~ + k1),
 * Lucene's non-negative idf, df counting a document once for either field;
 * headings are near-constant in length, so they are not length-normalised).
 * With w_heading = 0 it is plain Okapi BM25 over the body.
 *
 * Passage and article evidence (Callan 1994): a passage's score adds
 * w_article times the same BM25F computed with its whole article as the
 * document (body tf summed over the article's passages, heading once, length
 * the article's, df and N over articles). A question whose words fall in
 * different passages of one article (the subject in the lead, the fact
 * asked three passages on) then still finds that article, as an engine
 * indexing whole articles does, while the passage that holds most of it
 * still comes first. The article score is computed at query time from the
 * passage postings (search.c; the PostgreSQL store's SQL the same way).
 *
 * Terms come from the store's English analyzer (analyzer.h), at build and at
 * query time alike.
 *
 * Serialised blob (searched in place from the mmap):
 *   header   magic, n_docs, n_terms, n_postings, avgdl, k1, b, w_heading
 *   term_off uint32[n_terms + 1]   into chars; terms sorted bytewise
 *   post_off uint32[n_terms + 1]   into the posting arrays
 *   doclen   uint32[n_docs]        body terms of each document
 *   post_doc uint32[n_postings]    row numbers, ascending within a term
 *   post_tf  uint32[n_postings]    body tf in the low 24 bits, heading tf
 *                                  (capped at 255) in the high 8
 *   chars    the term bytes (padded to 4)
 * Postings are row-sorted, so a topic (a row range) is a binary search away.
 */
#ifndef RAGD_STORE_BM25_H
#define RAGD_STORE_BM25_H

#include <stddef.h>
#include <stdint.h>

#include <stdbool.h>

#include "store/analyzer.h"
#include "store/topk.h"
#include "util/buf.h"

/* Scoring parameters; an index records the ones it was built for. */
typedef struct bm25_params {
    float k1, b, w_heading;
} bm25_params;
#define BM25_DEFAULT_K1 1.2f
#define BM25_DEFAULT_B 0.75f
#define BM25_DEFAULT_W_HEADING 2.0f
/* The article field: each passage also gets w_article times its whole
 * article's BM25F score (search.c), chosen on eval/tune.jsonl. A query
 * parameter, not the index's: changing it rebuilds nothing. */
#define BM25_DEFAULT_W_ARTICLE 1.0f

typedef enum { BM25_BODY, BM25_HEADING } bm25_field;

typedef struct bm25_builder bm25_builder;
/* NULL only when the analyzer cannot be made (see analyzer_new). */
bm25_builder *bm25_builder_new(bm25_params params);
/* Add text to a field of the current document (may be called several times). */
void bm25_builder_add_text(bm25_builder *b, bm25_field field, const char *text, size_t len);
/* Close the current document; documents are numbered 0, 1, … in this order. */
void bm25_builder_end_doc(bm25_builder *b);
/* Append the blob to out (4-byte aligned data) and free the builder. */
void bm25_builder_finish(bm25_builder *b, buf *out);

typedef struct bm25_view {
    uint32_t n_docs, n_terms, n_postings;
    float avgdl;
    bm25_params params; /* what the index was built for */
    const uint32_t *term_off, *post_off, *doclen, *post_doc, *post_tf;
    const char *chars;
} bm25_view;

/* The index of term w (n bytes, analyzed) in the view's sorted term table,
 * or -1 if the index does not hold it (binary search). */
int64_t bm25_find_term(const bm25_view *v, const char *w, size_t n);
int bm25_view_open(bm25_view *v, const void *blob, size_t len, uint32_t n_docs, char *err,
                   size_t errlen);

/* Keeps a row out of the results (true = keep); NULL keeps every row. */
typedef bool (*bm25_row_filter)(uint32_t row, const void *ctx);

/* The k best documents in rows [lo, hi) for the terms of text, best first,
 * into out (room for k), scored with params (NULL: the index's own). a
 * analyses the query (the caller's, one thread at a time). Documents sharing
 * no term with the query, or refused by keep, are never returned. Returns
 * the count. */
int bm25_search(const bm25_view *v, const bm25_params *params, analyzer *a, const char *text,
                size_t len, uint32_t lo, uint32_t hi, bm25_row_filter keep, const void *keep_ctx,
                int k, scored *out);

#endif
