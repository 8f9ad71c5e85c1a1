/* fuzz_csv — the corpus loader (cp1252/UTF-8 detection, libcsv records,
 * line tracking, clean_text, news_date, de-duplication) on arbitrary bytes,
 * then the passage splitter on what it accepted.
 *
 * The input is used once as is and once behind the corpus header line, so
 * the fuzzer need not rediscover "Article,Date,Heading,NewsType" to reach the
 * row code. Checked besides memory safety: every accepted article has
 * non-empty UTF-8 text, an ISO date, a non-empty lower-case topic and a
 * duplicate_of pointing backwards; every problem has a reason; passages are
 * in-order byte ranges inside the text within the piece budget. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_util.h"
#include "util/utf8.h"
#include "ingest/corpus.h"
#include "ingest/splitter.h"
#include "model/tokenizer.h"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static tokenizer *tok;

/* A broken contract: say which, then crash so libFuzzer keeps the input. */
#define CHECK(cond)                                                          \
    do {                                                                     \
        if (!(cond)) {                                                       \
            fprintf(stderr, "fuzz_csv: check failed: %s (line %d)\n", #cond, __LINE__); \
            abort();                                                         \
        }                                                                    \
    } while (0)

int LLVMFuzzerInitialize(int *argc, char ***argv) {
    (void)argc, (void)argv;
    fuzz_quiet_logs();
    char path[1024], err[256];
    fuzz_shared_path("models/all-MiniLM-L6-v2/vocab.txt", path, sizeof path);
    tok = tokenizer_open(path, err, sizeof err);
    if (!tok) {
        fprintf(stderr, "fuzz_csv: %s\n", err);
        exit(1);
    }
    return 0;
}

static void check_passages(const article *a) {
    text_span *spans = NULL;
    size_t n = split_passages(tok, a->text, a->text_len, 64, &spans);
    size_t prev_start = 0;
    for (size_t i = 0; i < n; i++) {
        CHECK(!(spans[i].start >= spans[i].end || spans[i].end > a->text_len));
        CHECK(!(i && spans[i].start < prev_start));
        prev_start = spans[i].start;
    }
    free(spans);
    text_span *sentences = NULL;
    size_t ns = split_sentences(a->text, a->text_len, &sentences);
    for (size_t i = 0; i < ns; i++)
        CHECK(!(sentences[i].start > sentences[i].end || sentences[i].end > a->text_len));
    free(sentences);
}

static void load_and_check(const char *data, size_t len, int passages) {
    corpus c;
    char err[256];
    if (corpus_load_buffer(data, len, &c, err, sizeof err) != 0) {
        CHECK(!(!err[0])); /* a refusal says why */
    }
    for (size_t i = 0; i < c.count; i++) {
        const article *a = &c.articles[i];
        CHECK(!(!a->text || a->text_len == 0 || strlen(a->text) != a->text_len));
        CHECK(utf8_valid(a->text, a->text_len));
        CHECK(a->heading && utf8_valid(a->heading, strlen(a->heading)));
        CHECK(!(strlen(a->date) != 10 || a->date[4] != '-' || a->date[7] != '-'));
        CHECK(!(!a->topic || !a->topic[0]));
        for (const char *p = a->topic; *p; p++)
            CHECK(!(*p >= 'A' && *p <= 'Z'));
        CHECK(!(a->duplicate_of >= (long)i || a->duplicate_of < -1));
        if (passages && i < 4) check_passages(a);
    }
    for (size_t i = 0; i < c.nproblems; i++)
        CHECK(!(!c.problems[i].reason || !c.problems[i].reason[0]));
    corpus_free(&c);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size) {
    /* Exact-size copies so ASan sees any read past the end. */
    char *raw = malloc(size ? size : 1);
    memcpy(raw, data, size);
    load_and_check(raw, size, 0);
    free(raw);

    static const char header[] = "Article,Date,Heading,NewsType\r\n";
    size_t n = sizeof header - 1 + size;
    char *withheader = malloc(n);
    memcpy(withheader, header, sizeof header - 1);
    memcpy(withheader + sizeof header - 1, data, size);
    load_and_check(withheader, n, 1);
    free(withheader);
    return 0;
}
