/* tokenizer — BERT uncased WordPiece: [CLS] pieces… [SEP] for a text.
 *
 * The basic tokenizer (tokenizer_normalize.c) streams normalised words; each
 * is cut into pieces by greedy longest match against the vocabulary
 * (wordpiece_vocab.c), the first piece a word-start piece and the rest "##"
 * continuations. A word of more than 100 characters, or one with a remainder
 * that no piece matches, is a single [UNK] — as in Hugging Face's WordPiece.
 *
 * Nothing is allocated per call: words live on the splitter's stack buffer,
 * pieces are written straight into the caller's ids, and lookups probe the
 * word's bytes in place. The tokenizer itself is read-only after open.
 */
#include "model/tokenizer.h"

#include <stdbool.h>
#include <string.h>

#include "model/tokenizer_normalize.h"
#include "model/wordpiece_vocab.h"
#include "util/util.h"

enum { MAX_INPUT_CHARS_PER_WORD = 100 };

struct tokenizer {
    wordpiece_vocab *vocab;
};

static bool expect_special(const wordpiece_vocab *v, const char *path, const char *piece,
                           int32_t id, char *err, size_t errlen) {
    int32_t got = wordpiece_vocab_find(v, piece, strlen(piece), false);
    if (got == id) return true;
    seterr(err, errlen, "vocabulary %s: %s is id %d, expected %d (not a BERT uncased vocab.txt?)",
           path, piece, (int)got, (int)id);
    return false;
}

tokenizer *tokenizer_open(const char *vocab_path, char *err, size_t errlen) {
    wordpiece_vocab *v = wordpiece_vocab_load(vocab_path, err, errlen);
    if (!v) return NULL;
    if (!expect_special(v, vocab_path, "[PAD]", TOKEN_PAD, err, errlen) ||
        !expect_special(v, vocab_path, "[UNK]", TOKEN_UNK, err, errlen) ||
        !expect_special(v, vocab_path, "[CLS]", TOKEN_CLS, err, errlen) ||
        !expect_special(v, vocab_path, "[SEP]", TOKEN_SEP, err, errlen)) {
        wordpiece_vocab_free(v);
        return NULL;
    }
    tokenizer *t = xcalloc(1, sizeof *t);
    t->vocab = v;
    return t;
}

void tokenizer_close(tokenizer *t) {
    if (!t) return;
    wordpiece_vocab_free(t->vocab);
    free(t);
}

typedef struct {
    const wordpiece_vocab *vocab;
    int32_t *ids;
    int room;  /* pieces that fit: max_ids - 2 */
    int kept;  /* pieces written (after [CLS]) */
    int total; /* pieces of the whole text */
    bool need_total;
} encode_state;

static void put_piece(encode_state *e, int32_t id) {
    if (e->kept < e->room) e->ids[1 + e->kept++] = id;
    e->total++;
}

/* Greedy longest-match WordPiece of one word. Pieces are collected first
 * because a word that fails part-way is a single [UNK]. */
static bool encode_word(const bert_word *w, void *ctx) {
    encode_state *e = ctx;
    if (!w->utf8 || w->nchars > MAX_INPUT_CHARS_PER_WORD) {
        put_piece(e, TOKEN_UNK);
    } else {
        int32_t pieces[MAX_INPUT_CHARS_PER_WORD];
        int npieces = 0;
        const uint16_t *off = w->char_offset;
        size_t start = 0, n = w->nchars;
        while (start < n) {
            bool cont = start > 0;
            size_t max_len = wordpiece_vocab_max_len(e->vocab, cont);
            size_t end = n;
            while (end > start && (size_t)(off[end] - off[start]) > max_len) end--;
            int32_t id = -1;
            for (; end > start; end--) {
                id = wordpiece_vocab_find(e->vocab, w->utf8 + off[start],
                                          (size_t)(off[end] - off[start]), cont);
                if (id >= 0) break;
            }
            if (id < 0) {
                npieces = -1;
                break;
            }
            pieces[npieces++] = id;
            start = end;
        }
        if (npieces < 0) {
            put_piece(e, TOKEN_UNK);
        } else {
            for (int i = 0; i < npieces; i++) put_piece(e, pieces[i]);
        }
    }
    return e->need_total || e->kept < e->room;
}

int tokenizer_encode(const tokenizer *t, const char *text, size_t len, int32_t *ids, int max_ids,
                     int *untruncated) {
    if (max_ids < 2) {
        if (untruncated) *untruncated = 0;
        return 0;
    }
    encode_state e = {.vocab = t->vocab,
                      .ids = ids,
                      .room = max_ids - 2,
                      .need_total = untruncated != NULL};
    ids[0] = TOKEN_CLS;
    if (len > 0) bert_split_words(text, len, MAX_INPUT_CHARS_PER_WORD, encode_word, &e);
    ids[1 + e.kept] = TOKEN_SEP;
    if (untruncated) *untruncated = e.total + 2;
    return e.kept + 2;
}

typedef struct {
    tokenizer_word_fn fn;
    void *ctx;
} words_state;

static bool forward_word(const bert_word *w, void *ctx) {
    words_state *ws = ctx;
    ws->fn(w->utf8, w->len, ws->ctx);
    return true;
}

void tokenizer_words(const tokenizer *t, const char *text, size_t len, tokenizer_word_fn fn,
                     void *ctx) {
    (void)t;
    words_state ws = {fn, ctx};
    bert_split_words(text, len, SIZE_MAX, forward_word, &ws);
}

int tokenizer_vocab_size(const tokenizer *t) { return wordpiece_vocab_size(t->vocab); }

const char *tokenizer_piece(const tokenizer *t, int32_t id) {
    return wordpiece_vocab_piece(t->vocab, id);
}
