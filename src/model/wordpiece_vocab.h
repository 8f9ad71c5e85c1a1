/* wordpiece_vocab — the WordPiece vocabulary (vocab.txt) as an open-addressing
 * hash table from piece to id.
 *
 * A piece is looked up by its bytes plus a "continuation" flag instead of by
 * its spelling with the "##" prefix, so the tokenizer can probe any substring
 * of a word in place: no copy, no allocation per lookup. The table is
 * immutable after wordpiece_vocab_load(), so lookups are thread-safe.
 */
#ifndef RAGD_MODEL_WORDPIECE_VOCAB_H
#define RAGD_MODEL_WORDPIECE_VOCAB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

typedef struct wordpiece_vocab wordpiece_vocab;

/* Load vocab.txt: one piece a line, id = line number (0-based). A later
 * duplicate line wins, as in Hugging Face's load_vocab. NULL with err set on
 * failure (missing/unreadable/empty file). */
wordpiece_vocab *wordpiece_vocab_load(const char *path, char *err, size_t errlen);
void wordpiece_vocab_free(wordpiece_vocab *v);

/* Id of the piece with these bytes (a "##" continuation piece when
 * continuation is true), or -1. */
int32_t wordpiece_vocab_find(const wordpiece_vocab *v, const char *bytes, size_t len,
                             bool continuation);

/* Longest piece in bytes (without "##" for continuation pieces): a lookup of
 * anything longer cannot succeed, which bounds the greedy search. */
size_t wordpiece_vocab_max_len(const wordpiece_vocab *v, bool continuation);

int wordpiece_vocab_size(const wordpiece_vocab *v);
/* The spelling of an id as in vocab.txt ("##ing"), or NULL if out of range. */
const char *wordpiece_vocab_piece(const wordpiece_vocab *v, int32_t id);

#endif
