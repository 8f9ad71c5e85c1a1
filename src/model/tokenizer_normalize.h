/* tokenizer_normalize — BERT's "basic tokenizer" as a stream of words.
 *
 * Steps 1–4 of tokenizer.h (clean, CJK spacing, lower-case, NFD + strip Mn,
 * split on whitespace and punctuation) in one pass over the UTF-8 input,
 * handing each finished word to a callback. Words are built in a buffer on
 * the caller's stack; only a word longer than BERT_WORD_INLINE_CHARS that the
 * caller asked to keep whole spills to the heap. No state outlives a call, so
 * any number of threads may split at once.
 */
#ifndef RAGD_MODEL_TOKENIZER_NORMALIZE_H
#define RAGD_MODEL_TOKENIZER_NORMALIZE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Words up to this many characters are held on the stack with their
 * character offsets (WordPiece only ever looks inside words of <= 100). */
enum { BERT_WORD_INLINE_CHARS = 128 };

typedef struct {
    const char *utf8; /* the normalised word; NULL when it was too long to keep */
    size_t len;       /* bytes of utf8 */
    size_t nchars;    /* characters (code points), counted even when not kept */
    /* char_offset[i] = byte offset of character i, i <= nchars; NULL when
     * nchars > BERT_WORD_INLINE_CHARS. */
    const uint16_t *char_offset;
} bert_word;

/* Return false to stop the split early. */
typedef bool (*bert_word_fn)(const bert_word *word, void *ctx);

/* Split len bytes of UTF-8 (invalid bytes dropped, never read past len).
 * A word of more than keep_chars characters is reported with utf8 == NULL
 * and only its length; pass SIZE_MAX to get every word whole. */
void bert_split_words(const char *text, size_t len, size_t keep_chars, bert_word_fn fn,
                      void *ctx);

#endif
