/* analyzer — the English analyzer of the store's BM25 index: how passage
 * text (at commit) and query text (at search) become index terms. Both sides
 * must use the very same analyzer, so the store records ANALYZER_ID in its
 * header and refuses a store built with another one.
 *
 * Steps, in order:
 *   1. BERT's basic split (model/tokenizer_normalize.h): lower-case, accents
 *      stripped, every punctuation character a word of its own;
 *   2. punctuation words are dropped;
 *   3. possessives and contractions: the piece after an apostrophe
 *      ("trump ' s", "don ' t") is dropped when it is s, t, d, m, ll, re, ve;
 *   4. stopwords: Snowball's English stop list (see analyzer.c) is dropped;
 *   5. words holding a digit ("2016", "rs691", "7pc") are kept as they are:
 *      amounts and years are searched literally, never stemmed;
 *   6. every other word goes through the Snowball English ("Porter2")
 *      stemmer of libstemmer: "released" and "release" both become
 *      "releas", "autobiographies" and "autobiography" "autobiographi".
 * Words longer than ANALYZER_MAX_TERM bytes (URLs, base64) are dropped.
 *
 * An analyzer owns a Snowball stemmer, which keeps state between calls: one
 * analyzer per thread at a time.
 */
#ifndef RAGD_STORE_ANALYZER_H
#define RAGD_STORE_ANALYZER_H

#include <stddef.h>

/* Change the version whenever any step above changes the terms it gives:
 * stores built by another analyzer must be rebuilt (re-run `ragd ingest`). */
#define ANALYZER_ID "english-snowball-v1"
#define ANALYZER_MAX_TERM 200

typedef void (*analyzer_term_fn)(const char *term, size_t len, void *ctx);

typedef struct analyzer analyzer;

/* NULL only if libstemmer lacks the English stemmer (a broken install). */
analyzer *analyzer_new(void);
void analyzer_free(analyzer *a);

/* Call fn for every index term of text, in text order (repeats included). */
void analyzer_terms(analyzer *a, const char *text, size_t len, analyzer_term_fn fn, void *ctx);

#endif
