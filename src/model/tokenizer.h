/* tokenizer — the BERT uncased WordPiece tokenizer of all-MiniLM-L6-v2.
 *
 * Pipeline (as Hugging Face's BertTokenizer with do_lower_case=true,
 * tokenize_chinese_chars=true, strip_accents=None):
 *   1. clean: drop NUL, U+FFFD and control characters, map whitespace to ' '
 *   2. put spaces around CJK ideographs
 *   3. lower-case, NFD, drop combining marks (accent stripping)
 *   4. split on whitespace and on every punctuation character
 *   5. greedy longest-match WordPiece per word ("##" continuation pieces);
 *      a word with no match, or over 100 characters, becomes [UNK]
 * then [CLS] … [SEP], truncated to the model's window.
 *
 * A tokenizer is immutable after tokenizer_open(): any number of threads may
 * use it at once.
 */
#ifndef RAGD_MODEL_TOKENIZER_H
#define RAGD_MODEL_TOKENIZER_H

#include <stddef.h>
#include <stdint.h>

enum { TOKEN_PAD = 0, TOKEN_UNK = 100, TOKEN_CLS = 101, TOKEN_SEP = 102 };

typedef struct tokenizer tokenizer;

/* Load vocab.txt (one piece a line, id = line number). NULL with err set on
 * failure. */
tokenizer *tokenizer_open(const char *vocab_path, char *err, size_t errlen);
void tokenizer_close(tokenizer *t);

/* Tokenise len bytes of UTF-8 text into ids = [CLS] pieces… [SEP], writing at
 * most max_ids ids (max_ids >= 2; truncation keeps the first max_ids-2 pieces
 * and the closing [SEP]). Returns the number of ids written. If untruncated is
 * not NULL it receives the count there would be without truncation (so a
 * caller can tell that text was cut). Invalid UTF-8 bytes are treated as
 * U+FFFD and dropped, never read past len. */
int tokenizer_encode(const tokenizer *t, const char *text, size_t len, int32_t *ids, int max_ids,
                     int *untruncated);

/* The normalised words of text (steps 1–4 above: what WordPiece sees), for the
 * lexical index and queries. fn gets each word as UTF-8 (not NUL-terminated). */
typedef void (*tokenizer_word_fn)(const char *word, size_t len, void *ctx);
void tokenizer_words(const tokenizer *t, const char *text, size_t len, tokenizer_word_fn fn,
                     void *ctx);

int tokenizer_vocab_size(const tokenizer *t);
/* The piece of an id ("##ing"), or NULL if out of range. */
const char *tokenizer_piece(const tokenizer *t, int32_t id);

#endif
