/* bench_encode — forward-pass throughput of ragd's encoder, and the inputs
 * its peers (bench/encode_torch.py, bench/encode_ort.js) run on.
 *
 * Inputs are token ids made once from the corpus (Articles.csv, read
 * crudely: cp1252 taken as Latin-1) with ragd's tokenizer, so every engine
 * runs exactly the same forward passes:
 *   query     one short question (latency, batch 1)
 *   h13       headings of exactly 13 pieces (batch 32: the service's case)
 *   headings  128 corpus headings (~12 pieces)
 *   passages  128 article openings cut at the 256-piece window
 * Protocol (identical in the three engines): for each set and batch size,
 * one warm-up batch, then batches cycling over the inputs until at least
 * --seconds have passed (and at least one batch). Every line of results is
 *   RESULT <engine> <set> <batch> <sentences> <tokens> <seconds>
 *   LATENCY <engine> query <median ms> <tokens>
 * and bench/encode.sh turns them into the table with ratios. ragd's engine
 * runs on its own kernels ("ragd"), on OpenBLAS ("ragd-openblas") and on the
 * opt-in int16 AVX2 path ("ragd-int16") and int8 VNNI path ("ragd-int8": not
 * exact, cosine >= 0.9999 / >= 0.99 to fp32 in
 * tests/model/test_encoder.c; the bench prints its cosine to fp32 too).
 * With --peak it also prints the share of the machine's fp32 peak reached on
 * passages (2 FMA units × 16 lanes × 2 flops × clock × threads).
 *
 *   bench_encode [--model-dir D] [--threads N] [--seconds S] [--csv Articles.csv]
 *                [--write-inputs FILE] [--backend own|openblas|int16|int8|all] [--peak]
 */
#include <csv.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "model/bert.h"
#include "model/encoder.h"
#include "util/util.h"

#define NINPUTS 128
static const int batches[] = {1, 8, 32, 128};

typedef struct id_set {
    const char *name;
    int n;
    int32_t *ids[NINPUTS];
    int lens[NINPUTS];
} id_set;

/* ---- a crude corpus read ---------------------------------------------- */

typedef struct corpus {
    int field, row;
    char *heading[NINPUTS * 8], *article[NINPUTS * 8];
    int n;
    char *cur_article;
} corpus;

/* Latin-1 bytes to UTF-8 (cp1252's 0x80–0x9F become C1 controls, which the
 * tokenizer drops: good enough for a benchmark). */
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
    if (c->row > 0 && c->n < (int)ARRAY_LEN(c->heading)) {
        if (c->field == 0) c->cur_article = latin1_to_utf8(data, len);
        if (c->field == 2) {
            c->heading[c->n] = latin1_to_utf8(data, len);
            c->article[c->n++] = c->cur_article;
            c->cur_article = NULL;
        }
    }
    c->field++;
}

static void on_row(int ch, void *ctx) {
    corpus *c = ctx;
    free(c->cur_article);
    c->cur_article = NULL;
    c->field = 0;
    c->row++;
}

static int read_corpus(const char *path, corpus *c) {
    size_t len;
    char err[256];
    char *data = read_file(path, &len, err, sizeof err);
    if (!data) {
        fprintf(stderr, "bench_encode: %s\n", err);
        return -1;
    }
    struct csv_parser p;
    csv_init(&p, 0);
    csv_parse(&p, data, len, on_field, on_row, c);
    csv_fini(&p, on_field, on_row, c);
    csv_free(&p);
    free(data);
    return c->n > NINPUTS ? 0 : -1;
}

/* ---- inputs --------------------------------------------------------------- */

static void add_ids(id_set *s, const int32_t *ids, int n) {
    s->ids[s->n] = xmalloc((size_t)n * sizeof(int32_t));
    memcpy(s->ids[s->n], ids, (size_t)n * sizeof(int32_t));
    s->lens[s->n++] = n;
}

static void make_inputs(const tokenizer *t, const corpus *c, id_set sets[4]) {
    int32_t ids[ENCODER_MAX_TOKENS];
    const char *query = "How did the stock market react to the rate decision?";
    add_ids(&sets[0], ids, tokenizer_encode(t, query, strlen(query), ids, ENCODER_MAX_TOKENS, NULL));
    for (int i = 0; i < c->n; i++) {
        int n = tokenizer_encode(t, c->heading[i], strlen(c->heading[i]), ids, ENCODER_MAX_TOKENS,
                                 NULL);
        if (n == 13 && sets[1].n < NINPUTS) add_ids(&sets[1], ids, n);
        if (sets[2].n < NINPUTS) add_ids(&sets[2], ids, n);
        n = tokenizer_encode(t, c->article[i], strlen(c->article[i]), ids, ENCODER_MAX_TOKENS,
                             NULL);
        if (n == ENCODER_MAX_TOKENS && sets[3].n < NINPUTS) add_ids(&sets[3], ids, n);
    }
}

static int write_inputs(const char *path, id_set sets[4]) {
    FILE *f = fopen(path, "w");
    if (!f) return -1;
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < sets[s].n; i++) {
            fprintf(f, "{\"set\":\"%s\",\"ids\":[", sets[s].name);
            for (int j = 0; j < sets[s].lens[i]; j++)
                fprintf(f, "%s%d", j ? "," : "", (int)sets[s].ids[i][j]);
            fprintf(f, "]}\n");
        }
    return fclose(f);
}

/* ---- measuring -------------------------------------------------------------- */

static float *outbuf;

static void run_batch(encoder *e, const id_set *s, int start, int batch, long *tokens) {
    const int32_t *ids[NINPUTS];
    int lens[NINPUTS];
    for (int i = 0; i < batch; i++) {
        int k = (start + i) % s->n;
        ids[i] = s->ids[k];
        lens[i] = s->lens[k];
        *tokens += lens[i];
    }
    char err[256];
    if (encoder_embed_ids(e, batch, ids, lens, outbuf, err, sizeof err)) {
        fprintf(stderr, "bench_encode: %s\n", err);
        exit(1);
    }
}

static double measure(encoder *e, const char *engine, const id_set *s, int batch, double seconds,
                      long *tokens_out) {
    long tokens = 0;
    run_batch(e, s, 0, batch < 8 ? batch : 8, &tokens); /* warm-up */
    tokens = 0;
    long sentences = 0;
    double t0 = now_seconds(), t;
    int start = 0;
    do {
        run_batch(e, s, start, batch, &tokens);
        start += batch;
        sentences += batch;
        t = now_seconds() - t0;
    } while (t < seconds);
    printf("RESULT %s %s %d %ld %ld %.6f\n", engine, s->name, batch, sentences, tokens, t);
    fflush(stdout);
    if (tokens_out) *tokens_out = tokens;
    return t;
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static void latency(encoder *e, const char *engine, const id_set *q) {
    enum { RUNS = 300 };
    double ms[RUNS];
    long tokens = 0;
    for (int i = 0; i < 20; i++) run_batch(e, q, 0, 1, &tokens);
    for (int i = 0; i < RUNS; i++) {
        double t0 = now_seconds();
        run_batch(e, q, 0, 1, &tokens);
        ms[i] = (now_seconds() - t0) * 1e3;
    }
    qsort(ms, RUNS, sizeof *ms, cmp_double);
    printf("LATENCY %s query %.4f %d\n", engine, ms[RUNS / 2], q->lens[0]);
    fflush(stdout);
}

static double cpu_ghz(void) {
    FILE *f = fopen("/proc/cpuinfo", "r");
    char line[256];
    double mhz = 0;
    while (f && fgets(line, sizeof line, f))
        if (!strncmp(line, "cpu MHz", 7) && sscanf(strchr(line, ':') + 1, "%lf", &mhz) == 1) break;
    if (f) fclose(f);
    return mhz / 1000;
}

/* The clock this thread actually runs at: a chain of dependent adds (one
 * cycle each) timed in thread CPU time. /proc/cpuinfo's "cpu MHz" of a
 * virtual machine is often the nominal clock while the core boosts above it. */
static double measured_ghz(void) {
#if defined(__x86_64__)
    struct timespec a, b;
    const long rounds = 20000000;
    uint64_t x = 0;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &a);
    for (long i = 0; i < rounds; i++)
        __asm__ volatile("add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\t"
                         "add $1, %0\n\tadd $1, %0\n\tadd $1, %0\n\tadd $1, %0"
                         : "+r"(x));
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &b);
    double s = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) * 1e-9;
    return 8.0 * (double)rounds / s / 1e9;
#else
    return 0;
#endif
}

/* Floating-point operations of one forward pass over a sequence of L tokens:
 * the dense layers (2 per weight per token) and attention (QKᵀ and PV). */
static double forward_flops(const bert_config *c, int L) {
    double H = c->hidden, F = c->ffn;
    double dense = 2.0 * L * (4 * H * H + 2 * H * F);
    double attention = 2.0 * 2.0 * L * L * H;
    return c->layers * (dense + attention);
}

static double thread_cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* One core's matrix-product rate in thread CPU time, which a busy shared
 * machine distorts far less than wall time, on each backend, as a share of
 * one core's fp32 peak at the measured clock (2 FMA units × 16 lanes on
 * AVX-512, × 8 on AVX2, × 2 flops): the FFN's shape on a batch (448 × 1536 ×
 * 384) and on one 14-piece question (14 × 1536 × 384). int8 counts the same
 * flops as fp32 ("GFLOP/s-equivalent"), and so does int16; the last lines
 * are their ratios to the best fp32 backend on each shape. */
static void kernel_rates(void) {
    static const int shapes[][3] = {{448, 1536, 384}, {14, 1536, 384}};
    double ghz = measured_ghz();
    double peak_per_cycle = strcmp(gemm_own_kernel_name(), "avx512") ? 32 : 64;
    for (size_t s = 0; s < ARRAY_LEN(shapes); s++) {
        const int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2];
        float *A = xmalloc((size_t)M * K * sizeof(float)), *C = xmalloc((size_t)M * N * sizeof(float));
        float *W = xmalloc((size_t)N * K * sizeof(float)), *bias = xcalloc((size_t)N, sizeof(float));
        for (int i = 0; i < M * K; i++) A[i] = (float)(i % 97) / 97.0f - 0.5f;
        for (int i = 0; i < N * K; i++) W[i] = (float)(i % 13) / 13.0f - 0.5f;
        gemm_matrix m;
        gemm_matrix_init(&m, W, bias, N, K);
        gemm_matrix_prepare_own(&m);
        static const gemm_backend backends[] = {GEMM_OWN, GEMM_OPENBLAS, GEMM_INT16, GEMM_INT8};
        double best_fp32 = 0, quant[2] = {0, 0}; /* int16, int8 */
        for (size_t b = 0; b < ARRAY_LEN(backends); b++) {
            if (backends[b] == GEMM_INT8) {
                if (!gemm_int8_supported()) continue;
                gemm_matrix_prepare_int8(&m);
            }
            if (backends[b] == GEMM_INT16) {
                if (!gemm_int16_supported()) continue;
                gemm_matrix_prepare_int16(&m);
            }
            gemm_tile(backends[b], &m, A, K, 0, M, 0, N, C, N, GEMM_EPI_BIAS, NULL, 0);
            int reps = 0;
            double t0 = thread_cpu_seconds(), t;
            do {
                gemm_tile(backends[b], &m, A, K, 0, M, 0, N, C, N, GEMM_EPI_BIAS, NULL, 0);
                reps++;
            } while ((t = thread_cpu_seconds() - t0) < 0.5);
            double gflops = 2.0 * M * N * K * reps / t / 1e9;
            const char *kernel = backends[b] == GEMM_INT8    ? "avx512-vnni"
                                 : backends[b] == GEMM_INT16 ? "avx2-madd16"
                                 : backends[b] == GEMM_OWN   ? gemm_own_kernel_name()
                                                             : "sgemm";
            printf("KERNEL %s (%s) %dx%dx%d one core: %.1f GFLOP/s = %.1f%% of one core's fp32 "
                   "peak (%.0f flops × %.2f GHz measured)\n",
                   gemm_backend_name(backends[b]), kernel, M, N, K, gflops,
                   100 * gflops / (peak_per_cycle * ghz), peak_per_cycle, ghz);
            if (backends[b] == GEMM_INT16) quant[0] = gflops;
            else if (backends[b] == GEMM_INT8) quant[1] = gflops;
            else if (gflops > best_fp32) best_fp32 = gflops;
        }
        for (int q = 0; q < 2; q++)
            if (quant[q] > 0)
                printf("KERNEL %s / best fp32 at %dx%dx%d: %.2fx\n", q ? "int8" : "int16", M, N, K,
                       quant[q] / best_fp32);
        gemm_matrix_free(&m);
        free(A);
        free(C);
        free(W);
        free(bias);
    }
}

int main(int argc, char **argv) {
    const char *model_dir = NULL, *csv_path = NULL, *inputs_path = NULL, *backend = "all";
    int threads = 2;
    double seconds = 1.0;
    bool peak = false;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        if (!strcmp(a, "--model-dir") && v) model_dir = argv[++i];
        else if (!strcmp(a, "--threads") && v) threads = atoi(argv[++i]);
        else if (!strcmp(a, "--seconds") && v) seconds = atof(argv[++i]);
        else if (!strcmp(a, "--csv") && v) csv_path = argv[++i];
        else if (!strcmp(a, "--write-inputs") && v) inputs_path = argv[++i];
        else if (!strcmp(a, "--backend") && v) backend = argv[++i];
        else if (!strcmp(a, "--peak")) peak = true;
        else {
            fprintf(stderr,
                    "usage: bench_encode [--model-dir D] [--threads N] [--seconds S] [--csv F] "
                    "[--write-inputs FILE] [--backend own|openblas|int16|int8|all] [--peak]\n");
            return 2;
        }
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
    if (!e) {
        fprintf(stderr, "bench_encode: %s\n", err);
        return 1;
    }
    corpus c = {0};
    if (read_corpus(csv_path, &c)) {
        fprintf(stderr, "bench_encode: could not read %d rows of %s\n", NINPUTS, csv_path);
        return 1;
    }
    id_set sets[4] = {{.name = "query"}, {.name = "h13"}, {.name = "headings"}, {.name = "passages"}};
    make_inputs(encoder_tokenizer(e), &c, sets);
    for (int i = 0; i < c.n; i++) {
        free(c.heading[i]);
        free(c.article[i]);
    }
    if (inputs_path) {
        if (write_inputs(inputs_path, sets)) {
            fprintf(stderr, "bench_encode: cannot write %s\n", inputs_path);
            return 1;
        }
        encoder_close(e);
        return 0;
    }
    outbuf = xmalloc((size_t)NINPUTS * ENCODER_DIM * sizeof(float));
    bert *b = encoder_bert(e);
    const bert_config *cfg = bert_get_config(b);
    printf("# threads %d, own kernel %s, inputs: h13 %d, headings %d, passages %d\n",
           bert_threads(b), gemm_own_kernel_name(), sets[1].n, sets[2].n, sets[3].n);
    if (peak) kernel_rates();

    static const struct {
        gemm_backend backend;
        const char *engine;
    } passes[] = {{GEMM_OWN, "ragd"},
                  {GEMM_OPENBLAS, "ragd-openblas"},
                  {GEMM_INT16, "ragd-int16"},
                  {GEMM_INT8, "ragd-int8"}};
    for (size_t pass = 0; pass < ARRAY_LEN(passes); pass++) {
        gemm_backend gb = passes[pass].backend;
        if (strcmp(backend, "all") && strcmp(backend, gemm_backend_name(gb))) continue;
        const char *engine = passes[pass].engine;
        if (bert_set_backend(b, gb)) {
            printf("# %s: not supported on this CPU\n", engine);
            continue;
        }
        latency(e, engine, &sets[0]);
        measure(e, engine, &sets[1], 32, seconds, NULL);
        for (int s = 2; s < 4; s++)
            for (size_t k = 0; k < ARRAY_LEN(batches); k++) {
                long tokens;
                double t = measure(e, engine, &sets[s], batches[k], seconds, &tokens);
                if (peak && s == 3 && batches[k] == 32) {
                    double flops = forward_flops(cfg, ENCODER_MAX_TOKENS) *
                                   ((double)tokens / ENCODER_MAX_TOKENS);
                    double ghz = cpu_ghz(), real_ghz = measured_ghz();
                    double per_cycle = strcmp(gemm_own_kernel_name(), "avx512") ? 32 : 64;
                    double peak_flops = bert_threads(b) * per_cycle * ghz * 1e9;
                    double real_peak = bert_threads(b) * per_cycle * real_ghz * 1e9;
                    printf("PEAK %s passages 32: %.1f GFLOP/s = %.1f%% of %.1f (%d cores × %.0f "
                           "flops × %.3f GHz, /proc/cpuinfo); %.1f%% of %.1f at the measured "
                           "%.2f GHz\n",
                           engine, flops / t / 1e9, 100 * flops / t / peak_flops,
                           peak_flops / 1e9, bert_threads(b), per_cycle, ghz,
                           100 * flops / t / real_peak,
                           real_peak / 1e9, real_ghz);
                }
            }
    }
    if (!strcmp(backend, "all") && !bert_set_backend(b, GEMM_INT8)) {
        /* how far the int8 path is from the float model on these inputs */
        float *f32 = xmalloc((size_t)NINPUTS * ENCODER_DIM * sizeof(float));
        double worst = 1, sum = 0;
        int count = 0;
        for (int s = 1; s < 4; s++) {
            char err2[256];
            bert_set_backend(b, GEMM_OWN);
            encoder_embed_ids(e, sets[s].n, (const int32_t *const *)sets[s].ids, sets[s].lens, f32,
                              err2, sizeof err2);
            bert_set_backend(b, GEMM_INT8);
            encoder_embed_ids(e, sets[s].n, (const int32_t *const *)sets[s].ids, sets[s].lens,
                              outbuf, err2, sizeof err2);
            for (int i = 0; i < sets[s].n; i++) {
                double dot = 0; /* both are unit vectors */
                for (int d = 0; d < ENCODER_DIM; d++)
                    dot += (double)f32[(size_t)i * ENCODER_DIM + d] * outbuf[(size_t)i * ENCODER_DIM + d];
                sum += dot;
                if (dot < worst) worst = dot;
                count++;
            }
        }
        printf("INT8 cosine to fp32 over the %d inputs: worst %.5f, mean %.5f\n", count, worst,
               sum / count);
        free(f32);
    }
    for (int s = 0; s < 4; s++)
        for (int i = 0; i < sets[s].n; i++) free(sets[s].ids[i]);
    free(outbuf);
    encoder_close(e);
    return 0;
}
