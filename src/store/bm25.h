/* bm25 — the lexical half of hybrid retrieval: an inverted index over the
 * store's rows scored with Okapi BM25 (k1 = 1.2, b = 0.75, Lucene's
 * non-negative idf).
 *
 * Words come from a caller-supplied splitter (the store passes the encoder's
 * tokenizer_words: lower-cased, accent-stripped, split on punctuation), so
 * the lexical and vector halves agree on what a word is.
 *
 * Serialised blob (searched in place from the mmap):
 *   header   magic, n_docs, n_terms, n_postings, avgdl, k1, b
 *   term_off uint32[n_terms + 1]   into chars; terms sorted bytewise
 *   post_off uint32[n_terms + 1]   into the posting arrays
 *   doclen   uint32[n_docs]
 *   post_doc uint32[n_postings]    row numbers, ascending within a term
 *   post_tf  uint32[n_postings]
 *   chars    the term bytes (padded to 4)
 * Postings are row-sorted, so a topic (a row range) is a binary search away.
 */
#ifndef RAGD_STORE_BM25_H
#define RAGD_STORE_BM25_H

#include <stddef.h>
#include <stdint.h>

#include "model/tokenizer.h"
#include "store/topk.h"
#include "util/buf.h"

/* Split text into words, calling fn(word, len, fn_ctx) for each. */
typedef void (*bm25_split_fn)(const void *splitter, const char *text, size_t len,
                              tokenizer_word_fn fn, void *fn_ctx);

typedef struct bm25_builder bm25_builder;
bm25_builder *bm25_builder_new(bm25_split_fn split, const void *splitter);
/* Add text to the current document (call several times for several fields). */
void bm25_builder_add_text(bm25_builder *b, const char *text, size_t len);
/* Close the current document; documents are numbered 0, 1, … in this order. */
void bm25_builder_end_doc(bm25_builder *b);
/* Append the blob to out (4-byte aligned data) and free the builder. */
void bm25_builder_finish(bm25_builder *b, buf *out);

typedef struct bm25_view {
    uint32_t n_docs, n_terms, n_postings;
    float avgdl, k1, b;
    const uint32_t *term_off, *post_off, *doclen, *post_doc, *post_tf;
    const char *chars;
} bm25_view;

int bm25_view_open(bm25_view *v, const void *blob, size_t len, uint32_t n_docs, char *err,
                   size_t errlen);

/* The k best documents in rows [lo, hi) for the words of text, best first,
 * into out (room for k). Documents sharing no word with the query are never
 * returned. Returns the count. */
int bm25_search(const bm25_view *v, bm25_split_fn split, const void *splitter, const char *text,
                size_t len, uint32_t lo, uint32_t hi, int k, scored *out);

#endif
