/* bench_search — the store's vector search against FAISS on the same data.
 *
 *   bench_search gen DIR N [QUERIES]  write DIR/base.f32 and DIR/queries.f32:
 *        N synthetic 384-d unit vectors (a mixture of 1024 Gaussian clusters,
 *        the shape sentence embeddings have) and queries drawn the same way
 *        but not in the base set. File = uint32 n, uint32 dim, n*dim float32.
 *   bench_search run DIR [EF,EF,…]    load base.f32 into a store (through the
 *        real writer: log, commit, HNSW build), then time one query at a
 *        time on one thread: the exact scan, and HNSW at each beam width.
 *        The exact top-10 is the ground truth (DIR/gt.u32) that the FAISS
 *        script scores itself against too. Results: DIR/ragd.json.
 *
 * bench/search.sh runs both and bench/search_faiss.py, which prints the
 * table with ratios.
 */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "store/documents.h"
#include "store/store.h"
#include "store/vecmath.h"
#include "util/buf.h"
#include "util/util.h"

#define DIM 384
#define K 10
#define CLUSTERS 1024

static uint64_t rng_next(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static float gauss(uint64_t *x) {
    double u = ((double)(rng_next(x) >> 11) + 1.0) / 9007199254740993.0;
    double v = (double)(rng_next(x) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static void normalise(float *v) {
    double n = 0;
    for (int i = 0; i < DIM; i++) n += (double)v[i] * v[i];
    float inv = (float)(1.0 / sqrt(n));
    for (int i = 0; i < DIM; i++) v[i] *= inv;
}

static void sample(uint64_t *rng, const float *centers, float *v) {
    const float *c = centers + (rng_next(rng) % CLUSTERS) * DIM;
    /* Noise of about the centre's length: members are ~0.7 cosine from it. */
    for (int i = 0; i < DIM; i++) v[i] = c[i] + gauss(rng) / sqrtf((float)DIM);
    normalise(v);
}

static int write_vectors(const char *path, const float *v, uint32_t n) {
    FILE *f = fopen(path, "wb");
    if (f == NULL) return -1;
    uint32_t hdr[2] = {n, DIM};
    int ok = fwrite(hdr, sizeof hdr, 1, f) == 1 && fwrite(v, sizeof(float) * DIM, n, f) == n;
    return fclose(f) == 0 && ok ? 0 : -1;
}

static float *read_vectors(const char *path, uint32_t *n) {
    FILE *f = fopen(path, "rb");
    if (f == NULL) return NULL;
    uint32_t hdr[2];
    float *v = NULL;
    if (fread(hdr, sizeof hdr, 1, f) == 1 && hdr[1] == DIM) {
        v = xmalloc((size_t)hdr[0] * DIM * sizeof *v);
        if (fread(v, sizeof(float) * DIM, hdr[0], f) != hdr[0]) {
            free(v);
            v = NULL;
        }
        *n = hdr[0];
    }
    fclose(f);
    return v;
}

static int cmd_gen(const char *dir, uint32_t n, uint32_t nq) {
    uint64_t rng = 20261125;
    float *centers = xmalloc((size_t)CLUSTERS * DIM * sizeof *centers);
    for (int c = 0; c < CLUSTERS; c++) {
        for (int i = 0; i < DIM; i++) centers[c * DIM + i] = gauss(&rng);
        normalise(centers + c * DIM);
    }
    float *base = xmalloc((size_t)n * DIM * sizeof *base);
    for (uint32_t i = 0; i < n; i++) sample(&rng, centers, base + (size_t)i * DIM);
    float *q = xmalloc((size_t)nq * DIM * sizeof *q);
    for (uint32_t i = 0; i < nq; i++) sample(&rng, centers, q + (size_t)i * DIM);
    char path[1024];
    snprintf(path, sizeof path, "%s/base.f32", dir);
    int rc = write_vectors(path, base, n);
    snprintf(path, sizeof path, "%s/queries.f32", dir);
    rc |= write_vectors(path, q, nq);
    if (rc != 0) fprintf(stderr, "bench_search: cannot write in %s: %s\n", dir, strerror(errno));
    free(centers);
    free(base);
    free(q);
    return rc ? 1 : 0;
}

/* CPU seconds of this process: on a machine shared with other jobs, wall
 * time measures the neighbours; CPU time measures the code. */
static double cpu_seconds(void) {
    struct timespec ts;
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts);
    return (double)ts.tv_sec + ts.tv_nsec * 1e-9;
}

static int search_all(const store_view *s, const float *q, uint32_t nq, bool approx, int ef, uint32_t *ids,
                      double *seconds) {
    char err[256];
    search_hit hits[K];
    double t0 = cpu_seconds();
    for (uint32_t i = 0; i < nq; i++) {
        store_query sq = {.vector = q + (size_t)i * DIM, .k = K, .mode = SEARCH_VECTOR,
                          .approximate = approx, .ef_search = ef};
        int n = store_search(s, &sq, hits, err, sizeof err);
        if (n != K) {
            fprintf(stderr, "bench_search: search returned %d: %s\n", n, err);
            return -1;
        }
        for (int j = 0; j < K; j++) ids[(size_t)i * K + j] = hits[j].passage_id;
    }
    *seconds = cpu_seconds() - t0;
    return 0;
}

static double recall(const uint32_t *gt, const uint32_t *got, uint32_t nq) {
    size_t found = 0;
    for (uint32_t i = 0; i < nq; i++)
        for (int a = 0; a < K; a++)
            for (int b = 0; b < K; b++) found += gt[(size_t)i * K + a] == got[(size_t)i * K + b];
    return (double)found / ((double)nq * K);
}

static int cmd_run(const char *dir, const char *ef_list) {
    char path[1024], err[512], data[1024];
    uint32_t n, nq;
    snprintf(path, sizeof path, "%s/base.f32", dir);
    float *base = read_vectors(path, &n);
    snprintf(path, sizeof path, "%s/queries.f32", dir);
    float *q = read_vectors(path, &nq);
    if (base == NULL || q == NULL) {
        fprintf(stderr, "bench_search: run `bench_search gen %s N` first\n", dir);
        return 1;
    }
    snprintf(data, sizeof data, "%s/store", dir);
    double t0 = now_seconds();
    store_writer *w = store_writer_open(data, "bench-synthetic", DIM, err, sizeof err);
    if (w == NULL) {
        fprintf(stderr, "bench_search: %s\n", err);
        return 1;
    }
    store_writer_set_hnsw(w, 16, 100, 0);
    char key[32];
    for (uint32_t i = 0; i < n; i++) {
        snprintf(key, sizeof key, "%u", i);
        store_passage p = {.article_id = key, .heading = "", .date = "", .topic = "all", .text = ""};
        if (store_writer_add(w, key, &p, base + (size_t)i * DIM, err, sizeof err) != 0) {
            fprintf(stderr, "bench_search: %s\n", err);
            return 1;
        }
    }
    double t_log = now_seconds() - t0, c0 = cpu_seconds();
    if (store_writer_commit(w, err, sizeof err) != 0) {
        fprintf(stderr, "bench_search: %s\n", err);
        return 1;
    }
    store_writer_close(w);
    double t_build = now_seconds() - t0, c_build = cpu_seconds() - c0;
    t0 = now_seconds();
    store *st = store_open(data, "bench-synthetic", err, sizeof err);
    const store_view *s = st ? store_acquire(st) : NULL;
    if (s == NULL) {
        fprintf(stderr, "bench_search: %s\n", err);
        return 1;
    }
    double t_open = now_seconds() - t0;

    uint32_t *gt = xmalloc((size_t)nq * K * sizeof *gt), *got = xmalloc((size_t)nq * K * sizeof *got);
    /* The exact scan is slow on big sets: time it on the first queries only,
     * but compute the ground truth for all. */
    uint32_t nq_exact = n >= 500000 ? 200 : (n >= 100000 ? 500 : nq);
    if (nq_exact > nq) nq_exact = nq;
    double t_exact;
    if (search_all(s, q, nq_exact, false, 0, gt, &t_exact) != 0) return 1;
    double t_rest;
    if (nq_exact < nq && search_all(s, q + (size_t)nq_exact * DIM, nq - nq_exact, false, 0,
                                    gt + (size_t)nq_exact * K, &t_rest) != 0)
        return 1;
    snprintf(path, sizeof path, "%s/gt.u32", dir);
    FILE *f = fopen(path, "wb");
    if (f == NULL || fwrite(gt, sizeof *gt * K, nq, f) != nq || fclose(f) != 0) {
        fprintf(stderr, "bench_search: cannot write %s\n", path);
        return 1;
    }
    buf out = BUF_INIT;
    buf_printf(&out,
               "{\"n\": %u, \"queries\": %u, \"simd\": \"%s\", \"build_s\": %.2f, \"commit_cpu_s\": %.2f, \"log_s\": %.2f, "
               "\"open_s\": %.3f, \"exact\": {\"queries\": %u, \"qps\": %.2f}, \"hnsw\": [",
               n, nq, vecmath_get()->name, t_build, c_build, t_log, t_open, nq_exact, nq_exact / t_exact);
    printf("ragd: %u vectors, build %.1f s wall (log %.1f s; commit %.1f CPU s), open %.3f s, "
           "exact %.1f QPS per CPU second (%s)\n",
           n, t_build, t_log, c_build, t_open, nq_exact / t_exact, vecmath_get()->name);
    char *list = xstrdup(ef_list), *save = NULL;
    int first = 1;
    for (char *tok = strtok_r(list, ",", &save); tok; tok = strtok_r(NULL, ",", &save)) {
        int ef = atoi(tok);
        double t;
        if (search_all(s, q, nq, true, ef, got, &t) != 0) return 1;
        double r = recall(gt, got, nq);
        printf("ragd: HNSW ef=%d recall@10 %.4f, %.0f QPS per CPU second\n", ef, r, nq / t);
        buf_printf(&out, "%s{\"ef\": %d, \"recall\": %.4f, \"qps\": %.1f}", first ? "" : ", ", ef,
                   r, nq / t);
        first = 0;
    }
    buf_puts(&out, "]}\n");
    snprintf(path, sizeof path, "%s/ragd.json", dir);
    f = fopen(path, "w");
    if (f == NULL || fwrite(out.data, 1, out.len, f) != out.len || fclose(f) != 0) return 1;
    buf_free(&out);
    free(list);
    free(gt);
    free(got);
    store_release(s);
    store_close(st);
    free(base);
    free(q);
    return 0;
}

int main(int argc, char **argv) {
    if (argc >= 4 && strcmp(argv[1], "gen") == 0)
        return cmd_gen(argv[2], (uint32_t)strtoul(argv[3], NULL, 10),
                       argc > 4 ? (uint32_t)strtoul(argv[4], NULL, 10) : 1000);
    if (argc >= 3 && strcmp(argv[1], "run") == 0)
        return cmd_run(argv[2], argc > 3 ? argv[3] : "16,32,64,128,256");
    fprintf(stderr, "usage: bench_search gen DIR N [QUERIES] | bench_search run DIR [EF,…]\n");
    return 2;
}
