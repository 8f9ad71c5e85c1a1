/* bench_tokenize — throughput of the WordPiece tokenizer.
 *
 * Texts are the reference cases (../shared/reference/.../tokens.jsonl): the
 * short ones are corpus headings (~12 pieces), the long ones article texts
 * that fill the 256-piece window. For each set it prints texts/s, pieces/s
 * (pieces kept, at most 254 a text) and MB/s of tokenizer_encode asked for the
 * untruncated count, so the whole text is scanned as the service does. Beside
 * it, as ratios from the same run: tokenizer_words (normalise + split, what
 * the lexical index runs) and utf8proc_map, the library's one-call
 * normalisation and the peer the hand-written ASCII fast path must beat.
 * Times are the best thread CPU time of many interleaved passes, so a busy
 * shared machine skews them little.
 *
 *   bench_tokenize [vocab.txt tokens.jsonl] [seconds per measurement]
 */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <utf8proc.h>

#include "model/tokenizer.h"
#include "util/util.h"

typedef struct {
    char **text;
    size_t *len;
    size_t n, cap;
    size_t bytes;
} text_set;

static void add_text(text_set *s, const char *t, size_t len) {
    if (s->n == s->cap) {
        s->cap = s->cap ? 2 * s->cap : 64;
        s->text = xrealloc(s->text, s->cap * sizeof *s->text);
        s->len = xrealloc(s->len, s->cap * sizeof *s->len);
    }
    s->text[s->n] = xstrndup(t, len);
    s->len[s->n++] = len;
    s->bytes += len;
}

static void count_word(const char *w, size_t len, void *ctx) {
    (void)w;
    *(size_t *)ctx += len;
}

/* CPU time of this thread: the machine is shared, and a thread that is
 * descheduled should not look slow. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static long encode_pass(const tokenizer *t, const text_set *s) {
    int32_t ids[256];
    int untruncated;
    long pieces = 0;
    for (size_t i = 0; i < s->n; i++)
        pieces += tokenizer_encode(t, s->text[i], s->len[i], ids, 256, &untruncated) - 2;
    return pieces;
}

static void words_pass(const tokenizer *t, const text_set *s, size_t *sink) {
    for (size_t i = 0; i < s->n; i++) tokenizer_words(t, s->text[i], s->len[i], count_word, sink);
}

/* The library peer: utf8proc's one-call normalisation (NFD, case fold,
 * strip marks) of each text, the nearest thing utf8proc offers to steps 1–3
 * alone, without splitting or WordPiece. */
static void utf8proc_pass(const text_set *s, size_t *sink) {
    for (size_t i = 0; i < s->n; i++) {
        utf8proc_uint8_t *out = NULL;
        utf8proc_ssize_t n =
            utf8proc_map((const utf8proc_uint8_t *)s->text[i], (utf8proc_ssize_t)s->len[i], &out,
                         UTF8PROC_DECOMPOSE | UTF8PROC_CASEFOLD | UTF8PROC_STRIPMARK |
                             UTF8PROC_IGNORE | UTF8PROC_STRIPCC);
        if (n > 0) *sink += (size_t)n;
        free(out);
    }
}

/* Best CPU seconds per pass of encode, words and the utf8proc peer,
 * interleaved so all see the same machine, for at least `seconds` in all. */
static void time_passes(const tokenizer *t, const text_set *s, double seconds, double *enc,
                        double *words, double *peer, long *pieces) {
    size_t sink = 0;
    *enc = *words = *peer = 1e30;
    double start = now_seconds();
    do {
        double a = cpu_seconds();
        *pieces = encode_pass(t, s);
        double b = cpu_seconds();
        words_pass(t, s, &sink);
        double c = cpu_seconds();
        utf8proc_pass(s, &sink);
        double d = cpu_seconds();
        if (b - a < *enc) *enc = b - a;
        if (c - b < *words) *words = c - b;
        if (d - c < *peer) *peer = d - c;
    } while (now_seconds() - start < seconds);
    if (sink == 0) fprintf(stderr, "no words\n");
}

static void report(const char *name, const tokenizer *t, const text_set *s, double seconds) {
    long pieces;
    double enc, words, peer;
    time_passes(t, s, seconds, &enc, &words, &peer, &pieces);
    printf("%-9s %4zu texts, %6.1f pieces/text kept: encode %9.0f texts/s %11.0f pieces/s"
           " %6.1f MB/s, %.2f us/text\n",
           name, s->n, (double)pieces / (double)s->n, (double)s->n / enc, (double)pieces / enc,
           (double)s->bytes / enc / 1e6, enc / (double)s->n * 1e6);
    printf("%-9s words (normalise + split) %6.1f MB/s = %.2fx encode; utf8proc_map peer"
           " (normalise only) %6.1f MB/s: our words are %.2fx faster\n",
           "", (double)s->bytes / words / 1e6, enc / words, (double)s->bytes / peer / 1e6,
           peer / words);
}

int main(int argc, char **argv) {
    const char *shared = getenv("RAGD_SHARED_DIR");
    if (!shared || !*shared) shared = "../shared";
    char vocab[4096], cases[4096];
    snprintf(vocab, sizeof vocab, "%s/models/all-MiniLM-L6-v2/vocab.txt", shared);
    snprintf(cases, sizeof cases, "%s/reference/minilm-l6-h384-random/tokens.jsonl", shared);
    if (argc >= 3) {
        snprintf(vocab, sizeof vocab, "%s", argv[1]);
        snprintf(cases, sizeof cases, "%s", argv[2]);
    }
    double seconds = argc >= 4 ? atof(argv[3]) : 1.0;

    char err[512];
    double t0 = now_seconds();
    tokenizer *t = tokenizer_open(vocab, err, sizeof err);
    if (!t) {
        fprintf(stderr, "bench_tokenize: %s\n", err);
        return 1;
    }
    printf("vocabulary: %d pieces loaded in %.1f ms\n", tokenizer_vocab_size(t),
           (now_seconds() - t0) * 1e3);

    json_error_t jerr;
    FILE *f = fopen(cases, "r");
    if (!f) {
        fprintf(stderr, "bench_tokenize: cannot open %s\n", cases);
        tokenizer_close(t);
        return 1;
    }
    text_set headings = {0}, passages = {0};
    char *line = NULL;
    size_t cap = 0;
    ssize_t got;
    while ((got = getline(&line, &cap, f)) > 0) {
        json_t *c = json_loadb(line, (size_t)got, JSON_ALLOW_NUL, &jerr);
        json_t *text = json_object_get(c, "text");
        size_t n = json_array_size(json_object_get(c, "ids"));
        /* the headings block: plain short texts of 5–20 ids */
        if (json_is_string(text) && n >= 5 && n <= 20 && json_string_length(text) < 80)
            add_text(&headings, json_string_value(text), json_string_length(text));
        else if (json_is_string(text) && n == 256)
            add_text(&passages, json_string_value(text), json_string_length(text));
        json_decref(c);
    }
    free(line);
    fclose(f);

    report("headings", t, &headings, seconds);
    report("passages", t, &passages, seconds);

    for (size_t i = 0; i < headings.n; i++) free(headings.text[i]);
    for (size_t i = 0; i < passages.n; i++) free(passages.text[i]);
    free(headings.text);
    free(headings.len);
    free(passages.text);
    free(passages.len);
    tokenizer_close(t);
    return 0;
}
