/* bench_query_precision — does a faster question precision keep the ranking?
 *
 * `--query-precision int16|int8` encodes /ask's question with integer matrix
 * products while passages stay fp32. This tool measures what that changes,
 * on the corpus itself, for --precision (default int16):
 *   index      one fp32 vector per article (the opening --passage-pieces
 *              word pieces; the article's id is its 0-based CSV record, as
 *              ragd ingest numbers them);
 *   questions  --questions of them (default 2000), headings and article
 *              sentences (the second sentence on, 40–300 bytes) alternating
 *              over the articles, encoded at fp32 and at --precision;
 *   overlap    |top-10(fp32) ∩ top-10(fast)| / 10 by exact dot product over
 *              the index, averaged (and its minimum, and how often top-1 is
 *              the same);
 *   eval       with --eval FILE (the eval set's report.jsonl: question,
 *              article_id per line): recall@10 at fp32 and at --precision, an
 *              article counting as found when it is in the vector top-10;
 *   cost       process CPU time per question at batch 1 for both precisions
 *              (CPU time, not wall time: the machine is shared).
 * Exit 0 whatever the figures: it reports, the lead decides.
 *
 *   bench_query_precision [--model-dir D] [--csv Articles.csv] [--questions N]
 *                         [--passage-pieces P] [--eval report.jsonl] [--threads T]
 *                         [--precision int16|int8]
 */
#include <csv.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/encoder.h"
#include "model/gemm.h"
#include "model/tokenizer.h"
#include "util/util.h"

#define TOPK 10
#define BATCH 32

typedef struct corpus {
    int field, row;
    char **article, **heading;
    int n, cap;
    char *cur;
} corpus;

/* Latin-1 bytes to UTF-8 (the corpus is cp1252; its 0x80–0x9F become C1
 * controls the tokenizer drops, as in bench/encode.c). */
static char *latin1_to_utf8(const unsigned char *s, size_t len) {
    char *out = xmalloc(2 * len + 1), *o = out;
    for (size_t i = 0; i < len; i++) {
        if (s[i] < 0x80) {
            *o++ = (char)s[i];
        } else {
            *o++ = (char)(0xC0 | s[i] >> 6);
            *o++ = (char)(0x80 | (s[i] & 0x3F));
        }
    }
    *o = '\0';
    return out;
}

static void on_field(void *data, size_t len, void *ctx) {
    corpus *c = ctx;
    if (c->row > 0) {
        if (c->field == 0) c->cur = latin1_to_utf8(data, len);
        if (c->field == 2) {
            if (c->n == c->cap) {
                c->cap = c->cap ? 2 * c->cap : 1024;
                c->article = xrealloc(c->article, (size_t)c->cap * sizeof *c->article);
                c->heading = xrealloc(c->heading, (size_t)c->cap * sizeof *c->heading);
            }
            c->article[c->n] = c->cur ? c->cur : xstrdup("");
            c->heading[c->n++] = latin1_to_utf8(data, len);
            c->cur = NULL;
        }
    }
    c->field++;
}

static void on_row(int ch, void *ctx) {
    (void)ch;
    corpus *c = ctx;
    free(c->cur);
    c->cur = NULL;
    c->field = 0;
    c->row++;
}

static int read_corpus(const char *path, corpus *c) {
    size_t len;
    char err[256];
    char *data = read_file(path, &len, err, sizeof err);
    if (!data) {
        fprintf(stderr, "bench_query_precision: %s\n", err);
        return -1;
    }
    struct csv_parser p;
    csv_init(&p, 0);
    csv_parse(&p, data, len, on_field, on_row, c);
    csv_fini(&p, on_field, on_row, c);
    csv_free(&p);
    free(data);
    return c->n > 0 ? 0 : -1;
}

/* The article's second sentence or later that is 40–300 bytes long (malloc'd),
 * or NULL. Sentences end at ". ". */
static char *pick_sentence(const char *article, int nth) {
    const char *s = article;
    int index = 0;
    for (const char *end; (end = strstr(s, ". ")); s = end + 2, index++) {
        size_t len = (size_t)(end - s) + 1;
        while (len && (*s == ' ' || *s == '\n')) s++, len--;
        if (index >= nth && len >= 40 && len <= 300) {
            char *out = xmalloc(len + 1);
            memcpy(out, s, len);
            out[len] = '\0';
            return out;
        }
    }
    return NULL;
}

static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

typedef struct texts {
    int n, cap;
    char **text;
    int32_t **ids;
    int *lens;
} texts;

static void texts_add(texts *t, const tokenizer *tok, char *text, int max_pieces) {
    if (t->n == t->cap) {
        t->cap = t->cap ? 2 * t->cap : 1024;
        t->text = xrealloc(t->text, (size_t)t->cap * sizeof *t->text);
        t->ids = xrealloc(t->ids, (size_t)t->cap * sizeof *t->ids);
        t->lens = xrealloc(t->lens, (size_t)t->cap * sizeof *t->lens);
    }
    int32_t ids[ENCODER_MAX_TOKENS];
    int n = tokenizer_encode(tok, text, strlen(text), ids, max_pieces, NULL);
    t->text[t->n] = text;
    t->ids[t->n] = xmalloc((size_t)n * sizeof(int32_t));
    memcpy(t->ids[t->n], ids, (size_t)n * sizeof(int32_t));
    t->lens[t->n++] = n;
}

static void texts_free(texts *t) {
    for (int i = 0; i < t->n; i++) {
        free(t->text[i]);
        free(t->ids[i]);
    }
    free(t->text);
    free(t->ids);
    free(t->lens);
}

/* All of t at precision p, batch texts per call, into out (n × DIM).
 * Returns the process CPU seconds it took, or -1. */
static double encode_all(encoder *e, encoder_precision p, const texts *t, int batch, float *out) {
    char err[256];
    double t0 = cpu_seconds();
    for (int i = 0; i < t->n; i += batch) {
        int n = t->n - i < batch ? t->n - i : batch;
        if (encoder_embed_ids_at(e, p, n, (const int32_t *const *)t->ids + i, t->lens + i,
                                 out + (size_t)i * ENCODER_DIM, err, sizeof err)) {
            fprintf(stderr, "bench_query_precision: %s\n", err);
            return -1;
        }
    }
    return cpu_seconds() - t0;
}

/* The TOPK best rows of index (n × DIM) for q, best first. */
static void top10(const float *index, int n, const float *q, int *best) {
    float score[TOPK];
    int count = 0;
    for (int r = 0; r < n; r++) {
        const float *v = index + (size_t)r * ENCODER_DIM;
        float s = 0;
        for (int d = 0; d < ENCODER_DIM; d++) s += v[d] * q[d];
        if (count == TOPK && s <= score[TOPK - 1]) continue;
        int at = count < TOPK ? count++ : TOPK - 1;
        while (at > 0 && score[at - 1] < s) {
            score[at] = score[at - 1];
            best[at] = best[at - 1];
            at--;
        }
        score[at] = s;
        best[at] = r;
    }
}

static int shared_count(const int *a, const int *b) {
    int same = 0;
    for (int i = 0; i < TOPK; i++)
        for (int j = 0; j < TOPK; j++) same += a[i] == b[j];
    return same;
}

static double cosine(const float *a, const float *b) {
    double ab = 0, aa = 0, bb = 0;
    for (int d = 0; d < ENCODER_DIM; d++) ab += a[d] * b[d], aa += a[d] * a[d], bb += b[d] * b[d];
    return ab / (sqrt(aa * bb) + 1e-30);
}

/* Eval questions and their article ids from report.jsonl; -1 on a bad file. */
static int read_eval(const char *path, const tokenizer *tok, texts *q, int **article_ids) {
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "bench_query_precision: cannot open %s\n", path);
        return -1;
    }
    char line[65536];
    int cap = 0;
    *article_ids = NULL;
    while (fgets(line, sizeof line, f)) {
        json_error_t jerr;
        json_t *doc = json_loads(line, 0, &jerr);
        const char *question = json_string_value(json_object_get(doc, "question"));
        const char *id = json_string_value(json_object_get(doc, "article_id"));
        if (!question || !id) {
            json_decref(doc);
            continue;
        }
        if (q->n == cap) {
            cap = cap ? 2 * cap : 128;
            *article_ids = xrealloc(*article_ids, (size_t)cap * sizeof **article_ids);
        }
        (*article_ids)[q->n] = atoi(id);
        texts_add(q, tok, xstrdup(question), ENCODER_MAX_TOKENS);
        json_decref(doc);
    }
    fclose(f);
    return q->n > 0 ? 0 : -1;
}

int main(int argc, char **argv) {
    const char *model_dir = NULL, *csv_path = NULL, *eval_path = NULL;
    int nquestions = 2000, passage_pieces = 64, threads = 1;
    const char *precision_name = "int16";
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--model-dir") && v) model_dir = argv[++i];
        else if (!strcmp(a, "--csv") && v) csv_path = argv[++i];
        else if (!strcmp(a, "--questions") && v) nquestions = atoi(argv[++i]);
        else if (!strcmp(a, "--passage-pieces") && v) passage_pieces = atoi(argv[++i]);
        else if (!strcmp(a, "--eval") && v) eval_path = argv[++i];
        else if (!strcmp(a, "--threads") && v) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--precision") && v) precision_name = argv[++i];
        else {
            fprintf(stderr, "usage: bench_query_precision [--model-dir D] [--csv F] [--questions N] "
                            "[--passage-pieces P] [--eval report.jsonl] [--threads T] "
                            "[--precision int16|int8]\n");
            return 2;
        }
    }
    encoder_precision fast;
    if (encoder_precision_parse(precision_name, &fast) || fast == ENCODER_FP32) {
        fprintf(stderr, "bench_query_precision: --precision is int16 or int8\n");
        return 2;
    }
    if (nquestions < 1 || passage_pieces < 2 || passage_pieces > ENCODER_MAX_TOKENS) {
        fprintf(stderr, "bench_query_precision: --questions >= 1, --passage-pieces 2..%d\n",
                ENCODER_MAX_TOKENS);
        return 2;
    }
    char default_csv[4200];
    if (!csv_path) {
        const char *shared = getenv("RAGD_SHARED_DIR");
        snprintf(default_csv, sizeof default_csv, "%s/data/news-articles/Articles.csv",
                 shared && *shared ? shared : "../shared");
        csv_path = default_csv;
    }
    char err[512] = "";
    encoder *e = encoder_open(model_dir, threads, err, sizeof err);
    if (!e || encoder_enable_precision(e, fast, err, sizeof err)) {
        fprintf(stderr, "bench_query_precision: %s\n", err);
        encoder_close(e);
        return 1;
    }
    const tokenizer *tok = encoder_tokenizer(e);
    corpus c = {0};
    if (read_corpus(csv_path, &c)) {
        fprintf(stderr, "bench_query_precision: no articles in %s\n", csv_path);
        return 1;
    }
    texts passages = {0}, questions = {0}, evalq = {0};
    int nheadings = 0;
    for (int i = 0; i < c.n; i++) texts_add(&passages, tok, xstrdup(c.article[i]), passage_pieces);
    for (int round = 0; questions.n < nquestions && round < 8; round++)
        for (int i = 0; i < c.n && questions.n < nquestions; i++) {
            if (round == 0 && i % 2 == 0) {
                texts_add(&questions, tok, xstrdup(c.heading[i]), ENCODER_MAX_TOKENS);
                nheadings++;
            } else if (round > 0 || i % 2 == 1) {
                char *s = pick_sentence(c.article[i], 1 + round);
                if (s) texts_add(&questions, tok, s, ENCODER_MAX_TOKENS);
            }
        }
    int *eval_ids = NULL;
    if (eval_path && read_eval(eval_path, tok, &evalq, &eval_ids)) {
        fprintf(stderr, "bench_query_precision: no questions in %s\n", eval_path);
        return 1;
    }

    float *index = xmalloc((size_t)passages.n * ENCODER_DIM * sizeof(float));
    float *q32 = xmalloc((size_t)questions.n * ENCODER_DIM * sizeof(float));
    float *q8 = xmalloc((size_t)questions.n * ENCODER_DIM * sizeof(float));
    double t_index = encode_all(e, ENCODER_FP32, &passages, BATCH, index);
    double t32 = encode_all(e, ENCODER_FP32, &questions, 1, q32);
    double t8 = encode_all(e, fast, &questions, 1, q8);
    if (t_index < 0 || t32 < 0 || t8 < 0) return 1;

    long pieces = 0;
    for (int i = 0; i < questions.n; i++) pieces += questions.lens[i];
    double overlap = 0, worst_overlap = 1, worst_cos = 1, sum_cos = 0;
    int same_top1 = 0;
    for (int i = 0; i < questions.n; i++) {
        int a[TOPK], b[TOPK];
        top10(index, passages.n, q32 + (size_t)i * ENCODER_DIM, a);
        top10(index, passages.n, q8 + (size_t)i * ENCODER_DIM, b);
        double o = shared_count(a, b) / (double)TOPK;
        overlap += o;
        if (o < worst_overlap) worst_overlap = o;
        same_top1 += a[0] == b[0];
        double cs = cosine(q32 + (size_t)i * ENCODER_DIM, q8 + (size_t)i * ENCODER_DIM);
        sum_cos += cs;
        if (cs < worst_cos) worst_cos = cs;
    }
    const encoder_info *info = encoder_get_info(e);
    const char *fn = encoder_precision_name(fast);
    printf("# %s weights, %s against fp32 (%s), %d thread(s)\n",
           info->real_weights ? "real" : "random-twin", fn,
           gemm_backend_name(gemm_default_backend()), info->threads);
    printf("INDEX %d articles, fp32, first %d pieces each (%.1f CPU s)\n", passages.n,
           passage_pieces, t_index);
    printf("QUESTIONS %d (%d headings, %d article sentences), %.1f pieces on average\n",
           questions.n, nheadings, questions.n - nheadings, (double)pieces / questions.n);
    printf("OVERLAP top-%d %s vs fp32: mean %.4f, worst %.2f, same top-1 %.2f%%\n", TOPK, fn,
           overlap / questions.n, worst_overlap, 100.0 * same_top1 / questions.n);
    printf("COSINE %s to fp32 question vectors: mean %.6f, worst %.6f\n", fn,
           sum_cos / questions.n, worst_cos);
    printf("CPU per question, batch 1, process CPU time: fp32 %.3f ms, %s %.3f ms (%.2fx)\n",
           1e3 * t32 / questions.n, fn, 1e3 * t8 / questions.n, t32 / t8);
    if (evalq.n) {
        float *e32 = xmalloc((size_t)evalq.n * ENCODER_DIM * sizeof(float));
        float *e8 = xmalloc((size_t)evalq.n * ENCODER_DIM * sizeof(float));
        if (encode_all(e, ENCODER_FP32, &evalq, BATCH, e32) < 0 ||
            encode_all(e, fast, &evalq, BATCH, e8) < 0)
            return 1;
        int found32 = 0, found8 = 0;
        double eval_overlap = 0;
        for (int i = 0; i < evalq.n; i++) {
            int a[TOPK], b[TOPK];
            top10(index, passages.n, e32 + (size_t)i * ENCODER_DIM, a);
            top10(index, passages.n, e8 + (size_t)i * ENCODER_DIM, b);
            eval_overlap += shared_count(a, b) / (double)TOPK;
            for (int k = 0; k < TOPK; k++) {
                found32 += a[k] == eval_ids[i];
                found8 += b[k] == eval_ids[i];
            }
        }
        printf("EVAL %d questions, vector recall@%d: fp32 %d (%.3f), %s %d (%.3f); top-%d "
               "overlap %.4f\n",
               evalq.n, TOPK, found32, (double)found32 / evalq.n, fn, found8,
               (double)found8 / evalq.n, TOPK, eval_overlap / evalq.n);
        free(e32);
        free(e8);
    }
    free(index);
    free(q32);
    free(q8);
    free(eval_ids);
    texts_free(&passages);
    texts_free(&questions);
    texts_free(&evalq);
    for (int i = 0; i < c.n; i++) {
        free(c.article[i]);
        free(c.heading[i]);
    }
    free(c.article);
    free(c.heading);
    encoder_close(e);
    return 0;
}
