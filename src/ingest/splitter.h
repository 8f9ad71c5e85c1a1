/* splitter — an article as passages that fit the encoder's window.
 *
 * all-MiniLM-L6-v2 reads at most 256 word pieces ([CLS] and [SEP] included)
 * and silently drops the rest, while articles run to ~4000 pieces: each
 * article is cut into passages so that every part of it is encoded.
 *
 *   1. Sentences: the cleaned text is cut at line breaks and after . ! ? …
 *      (with any closing quotes or brackets) followed by a space or, as the
 *      corpus often glues sentences ("reported.Sources said"), directly by an
 *      upper-case letter or an opening quote. Not after abbreviations (Mr.,
 *      Rs., Jan., U.S.), single initials, or before a digit ("1.86") or a
 *      lower-case word.
 *   2. A sentence longer than the budget is cut at word boundaries (and a
 *      word longer than the budget at character boundaries) into units that
 *      fit.
 *   3. Units are packed greedily into passages of at most `budget` pieces;
 *      the next passage repeats the previous passage's last unit (one
 *      sentence of overlap, so a fact spanning a cut is whole in one passage)
 *      when that unit is short (at most a third of the budget).
 *   4. Each passage is re-counted on its real text; should the count exceed
 *      the budget (WordPiece is per word, so this only happens when a word
 *      was cut), its last unit is dropped and packing continues from there.
 *
 * Passages are byte ranges of the text: together they cover every
 * non-whitespace byte of it.
 */
#ifndef RAGD_INGEST_SPLITTER_H
#define RAGD_INGEST_SPLITTER_H

#include <stddef.h>

#include "model/tokenizer.h"

typedef struct text_span {
    size_t start, end; /* byte range [start, end) */
    int pieces;        /* word pieces, without [CLS]/[SEP] */
} text_span;

/* Word pieces of len bytes of text (no [CLS]/[SEP]). */
int count_pieces(const tokenizer *tok, const char *text, size_t len);

/* Sentence ranges (step 1) of text; *out is allocated (caller frees), pieces
 * left 0. Returns the count. */
size_t split_sentences(const char *text, size_t len, text_span **out);

/* Passages of at most budget pieces (budget >= 16). *out is allocated (caller
 * frees). Returns the count (0 for a text with no words). */
size_t split_passages(const tokenizer *tok, const char *text, size_t len, int budget,
                      text_span **out);

#endif
