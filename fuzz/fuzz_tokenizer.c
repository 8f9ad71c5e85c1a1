/* fuzz_tokenizer — tokenizer_encode and tokenizer_words on arbitrary bytes
 * (invalid UTF-8, NULs, control and combining characters, CJK, huge words)
 * with the real all-MiniLM-L6-v2 vocabulary.
 *
 * Besides "no crash, no out-of-bounds, no UB", it checks the contract the
 * callers rely on: the ids start with [CLS] and end with [SEP], every id is
 * inside the vocabulary, the count respects max_ids, truncation is reported
 * consistently, the result does not depend on the buffer size beyond the
 * window, and every word handed to the callback lies in valid UTF-8 that the
 * tokenizer produced (non-empty). The first input byte picks max_ids so small
 * windows (2, 3, …) are exercised too. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "util/utf8.h"
#include "model/tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tokenizer *tok;
static int vocab;

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet_logs();
    char path[1024], err[256];
    fuzz_shared_path("models/all-MiniLM-L6-v2/vocab.txt", path, sizeof path);
    tok = tokenizer_open(path, err, sizeof err);
    if (!tok) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err);
        exit(1);
    }
    vocab = tokenizer_vocab_size(tok);
    return 0;
}

static void on_word(const char *word, size_t len, void *ctx) {
    size_t *count = ctx;
    if (len == 0) abort();                                  /* empty word */
    if (!utf8_valid(word, len)) abort(); /* words are UTF-8 */
    volatile char sink = word[len - 1];                      /* readable to the end */
    (void)sink;
    (*count)++;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    if (size == 0) return 0;
    int max_ids = 2 + data[0] % 300; /* 2 … 301: around the model's 256 */
    const char *text = (const char *)data + 1;
    size_t len = size - 1;
    /* An exact-size heap copy: ASan catches any read past len. */
    char *copy = malloc(len ? len : 1);
    memcpy(copy, text, len);

    int32_t *ids = malloc((size_t)max_ids * sizeof *ids);
    int untruncated = -1;
    int n = tokenizer_encode(tok, copy, len, ids, max_ids, &untruncated);
    if (n < 2 || n > max_ids) abort();
    if (ids[0] != TOKEN_CLS || ids[n - 1] != TOKEN_SEP) abort();
    for (int i = 0; i < n; i++)
        if (ids[i] < 0 || ids[i] >= vocab) abort();
    if (untruncated < n || (untruncated > n && n != max_ids)) abort();

    /* A wider window gives the same prefix. */
    int wide = untruncated < 4096 ? untruncated : 4096;
    if (wide > max_ids) {
        int32_t *all = malloc((size_t)wide * sizeof *all);
        int m = tokenizer_encode(tok, copy, len, all, wide, NULL);
        if (m != wide || memcmp(all, ids, (size_t)(n - 1) * sizeof *ids) != 0) abort();
        free(all);
    }

    size_t words = 0;
    tokenizer_words(tok, copy, len, on_word, &words);
    /* Every word gives at least one piece, so the untruncated count bounds it. */
    if (words > (size_t)(untruncated - 2)) abort();
    free(ids);
    free(copy);
    return 0;
}
