/* store_tokenizer — store_open()/store_writer_open(): the store with the
 * encoder's tokenizer as its BM25 word splitter. Kept apart from store.c so
 * code that brings its own splitter does not link the tokenizer. */
#include "model/tokenizer.h"
#include "store/store.h"

static void tokenizer_split(const void *splitter, const char *text, size_t len,
                            tokenizer_word_fn fn, void *fn_ctx) {
    tokenizer_words(splitter, text, len, fn, fn_ctx);
}

store *store_open(const char *data_dir, const tokenizer *tok, const char *expected_model,
                  char *err, size_t errlen) {
    return store_open_split(data_dir, tok ? tokenizer_split : NULL, tok, expected_model, err,
                            errlen);
}

store_writer *store_writer_open(const char *data_dir, const char *model, int dim,
                                const tokenizer *tok, char *err, size_t errlen) {
    return store_writer_open_split(data_dir, model, dim, tok ? tokenizer_split : NULL, tok, err,
                                   errlen);
}
