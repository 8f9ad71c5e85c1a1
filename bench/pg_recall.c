/* bench_pg_recall — pgvector's HNSW against exact search, on PostgreSQL
 * through the PostgreSQL store (src/store/pg), in one run:
 *
 *   bench_pg_recall DIR [EF,EF,…]
 *
 * DIR holds base.f32 and queries.f32 as `bench_search gen` writes them
 * (clustered synthetic 384-d unit vectors). A throwaway cluster (the tests'
 * pg_cluster: initdb on loopback, shared_buffers 32MB, fsync on) is started,
 * the base vectors are bulk-loaded (one passage per article, COPY in batches:
 * the ingest rate), then each query runs one at a time on one connection:
 * exact (sequential scan, inner product) and HNSW at each ef_search. The
 * ground truth is a brute-force top 10 in C (which the exact search must
 * equal); recall@10 and per-query latency (p50, p99) are printed with the
 * ratios to exact. bench/pg_recall.sh generates the data and runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "pg_cluster.h"
#include "store/pg/pg_store.h"
#include "util/util.h"

#define DIM 384
#define K 10

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

/* Brute-force top K ids (double accumulation), best first. */
static void truth(const float *base, uint32_t n, const float *q, uint32_t *out) {
    float best[K];
    for (int i = 0; i < K; i++) best[i] = -2, out[i] = UINT32_MAX;
    for (uint32_t r = 0; r < n; r++) {
        double s = 0;
        for (int d = 0; d < DIM; d++) s += (double)base[(size_t)r * DIM + d] * q[d];
        float f = (float)s;
        if (f <= best[K - 1]) continue;
        int i = K - 1;
        while (i > 0 && best[i - 1] < f) best[i] = best[i - 1], out[i] = out[i - 1], i--;
        best[i] = f, out[i] = r;
    }
}

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

typedef struct run_result {
    double recall, p50_ms, p99_ms, mean_ms;
} run_result;

static int run(pg_store *s, const float *qs, uint32_t nq, const uint32_t *gt, bool approx, int ef,
               run_result *out) {
    double *lat = xmalloc(nq * sizeof *lat);
    long hits = 0;
    char err[512];
    for (uint32_t i = 0; i < nq; i++) {
        store_query q = {.vector = qs + (size_t)i * DIM, .mode = SEARCH_VECTOR, .k = K,
                         .approximate = approx, .ef_search = ef};
        pg_hit h[K];
        double t0 = now_seconds();
        int n = pg_store_search(s, &q, h, err, sizeof err);
        lat[i] = (now_seconds() - t0) * 1e3;
        if (n < 0) {
            fprintf(stderr, "bench_pg_recall: search: %s\n", err);
            free(lat);
            return -1;
        }
        for (int a = 0; a < n; a++) {
            uint32_t id = (uint32_t)strtoul(h[a].article_id + 1, NULL, 10);
            for (int b = 0; b < K; b++) hits += gt[(size_t)i * K + b] == id;
        }
    }
    double sum = 0;
    for (uint32_t i = 0; i < nq; i++) sum += lat[i];
    qsort(lat, nq, sizeof *lat, cmp_double);
    *out = (run_result){(double)hits / ((double)nq * K), lat[nq / 2], lat[(size_t)(nq * 0.99)],
                        sum / nq};
    free(lat);
    return 0;
}

int main(int argc, char **argv) {
    if (argc < 2) {
        fprintf(stderr, "usage: bench_pg_recall DIR [EF,EF,…]\n");
        return 2;
    }
    const char *efs = argc > 2 ? argv[2] : "16,32,64,128,256";
    char path[1024];
    uint32_t n = 0, nq = 0;
    snprintf(path, sizeof path, "%s/base.f32", argv[1]);
    float *base = read_vectors(path, &n);
    snprintf(path, sizeof path, "%s/queries.f32", argv[1]);
    float *qs = read_vectors(path, &nq);
    if (!base || !qs || n == 0 || nq == 0) {
        fprintf(stderr, "bench_pg_recall: no vectors in %s (run `bench_search gen` first)\n", argv[1]);
        return 1;
    }
    uint32_t *gt = xmalloc((size_t)nq * K * sizeof *gt);
    for (uint32_t i = 0; i < nq; i++) truth(base, n, qs + (size_t)i * DIM, gt + (size_t)i * K);

    pg_cluster c;
    if (pg_cluster_start(&c) != 0) return 1;
    char err[512];
    pg_store *s = pg_store_open(c.url, "bench", DIM, NULL, err, sizeof err);
    if (!s) {
        fprintf(stderr, "bench_pg_recall: %s\n", err);
        return 1;
    }
    /* One passage per article, ids "a<row>". */
    store_article *arts = xcalloc(n, sizeof *arts);
    char (*ids)[16] = xmalloc((size_t)n * sizeof *ids);
    const char *text = "passage";
    for (uint32_t i = 0; i < n; i++) {
        snprintf(ids[i], sizeof ids[i], "a%u", i);
        arts[i] = (store_article){.id = ids[i], .heading = "h", .date = "2016-01-01",
                                  .topic = "bench", .text = text, .n_passages = 1,
                                  .passages = &text, .vectors = base + (size_t)i * DIM};
    }
    size_t added = 0;
    double t0 = now_seconds();
    int rc = pg_store_bulk_load(s, arts, n, &added, err, sizeof err);
    double load_s = now_seconds() - t0;
    if (rc != 0) {
        fprintf(stderr, "bench_pg_recall: bulk load: %s\n", err);
        return 1;
    }
    printf("PostgreSQL 15 + pgvector, %u vectors (dim %d), %u queries, one at a time, k=%d\n", n,
           DIM, nq, K);
    printf("bulk load (COPY, %d articles/transaction, then CREATE INDEX hnsw m=16 ef_construction=100): "
           "%.1f s = %.0f passages/s\n",
           PG_STORE_BULK_BATCH, load_s, n / load_s);
    run_result exact;
    if (run(s, qs, nq, gt, false, 0, &exact) != 0) return 1;
    printf("%-12s recall@10 %.4f  p50 %7.2f ms  p99 %7.2f ms  mean %7.2f ms\n", "exact", exact.recall,
           exact.p50_ms, exact.p99_ms, exact.mean_ms);
    for (const char *e = efs; *e;) {
        int ef = atoi(e);
        run_result r;
        if (run(s, qs, nq, gt, true, ef, &r) != 0) return 1;
        char name[32];
        snprintf(name, sizeof name, "hnsw ef=%d", ef);
        printf("%-12s recall@10 %.4f  p50 %7.2f ms  p99 %7.2f ms  mean %7.2f ms  "
               "(mean latency %.3fx exact's, %.1fx faster)\n",
               name, r.recall, r.p50_ms, r.p99_ms, r.mean_ms, r.mean_ms / exact.mean_ms,
               exact.mean_ms / r.mean_ms);
        const char *comma = strchr(e, ',');
        e = comma ? comma + 1 : e + strlen(e);
    }
    pg_store_close(s);
    pg_cluster_destroy(&c);
    free(arts);
    free(ids);
    free(gt);
    free(base);
    free(qs);
    return 0;
}
