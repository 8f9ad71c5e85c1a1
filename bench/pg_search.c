/* bench_pg_search — a search through the store API (store_acquire,
 * store_search, store_get of every hit, store_release: what /ask does per
 * question) on the embedded store and on the PostgreSQL store holding the same
 * corpus slice, in one run:
 *
 *   bench_pg_search [ARTICLES] [QUERIES]
 *
 * The slice is the tests' pg_fixture: the first ARTICLES articles of the
 * shared corpus (default 1000; 0 = all), passages of three sentences, seeded
 * random unit vectors. The PostgreSQL store runs in a throwaway cluster (the
 * tests' pg_cluster: loopback, shared_buffers 32MB, fsync on) and is filled by
 * the bulk load (its rate is printed). QUERIES questions (headings and first
 * sentences; random vectors for the vector half) run one at a time, k = 10,
 * in lexical, exact-vector and hybrid mode on each store; per-query latency
 * p50 / p99 / mean and the ratio to the embedded store are printed, with how
 * many top-5 lists were the same on both (a check that both did the same
 * work). bench/pg_search.sh runs it.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../tests/store/store_test_util.h"
#include "pg_cluster.h"
#include "pg_fixture.h"
#include "store/documents.h"
#include "store/pg/pg_store.h"
#include "util/util.h"

#define K 10
#define TOP 5

typedef struct figures {
    double p50, p99, mean;
} figures;

static int cmp_double(const void *a, const void *b) {
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static figures summarise(double *lat, int n) {
    qsort(lat, (size_t)n, sizeof *lat, cmp_double);
    double sum = 0;
    for (int i = 0; i < n; i++) sum += lat[i];
    int p99 = (int)(0.99 * (n - 1) + 0.5);
    return (figures){lat[n / 2] * 1e3, lat[p99] * 1e3, sum / n * 1e3};
}

/* One question as /ask asks it; the hits' (article, index) into top. -1 on error. */
static int ask(store *s, const store_query *q, char top[TOP][STORE_ARTICLE_ID_MAX + 8]) {
    char err[512];
    search_hit hits[K];
    const store_view *v = store_acquire(s);
    int n = store_search(v, q, hits, err, sizeof err);
    if (n < 0) fprintf(stderr, "bench_pg_search: %s search: %s\n", store_kind(s), err);
    for (int i = 0; i < n; i++) {
        store_passage p;
        if (store_get(v, hits[i].passage_id, &p) != 0) {
            fprintf(stderr, "bench_pg_search: store_get failed\n");
            n = -1;
            break;
        }
        if (i < TOP) snprintf(top[i], sizeof top[i], "%s#%d", p.article_id, p.passage_index);
    }
    for (int i = n < 0 ? 0 : n; i < TOP; i++) top[i][0] = '\0';
    store_release(v);
    return n;
}

int main(int argc, char **argv) {
    size_t n_articles = argc > 1 ? strtoul(argv[1], NULL, 10) : 1000;
    int n_queries = argc > 2 ? atoi(argv[2]) : 200;
    if (n_queries < 1) {
        fprintf(stderr, "usage: bench_pg_search [ARTICLES] [QUERIES]\n");
        return 2;
    }
    pg_fixture fx;
    if (pg_fixture_build(&fx, n_articles) != 0) return 1;
    char *dir = test_tempdir(), err[512];
    if (dir == NULL || pg_fixture_write_embedded(&fx, dir, true) != 0) return 1;
    store *emb = store_open(dir, "m", err, sizeof err);
    if (emb == NULL) {
        fprintf(stderr, "bench_pg_search: %s\n", err);
        return 1;
    }
    pg_cluster c;
    if (pg_cluster_start(&c) != 0) return 1;
    store *pg = pg_store_open_backend(c.url, "m", PG_FIXTURE_DIM, NULL, err, sizeof err);
    if (pg == NULL) {
        fprintf(stderr, "bench_pg_search: %s\n", err);
        return 1;
    }
    double t0 = now_seconds();
    if (pg_store_bulk_load(pg_store_of(pg), fx.articles, fx.n_articles, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "bench_pg_search: bulk load: %s\n", err);
        return 1;
    }
    double load = now_seconds() - t0;
    printf("%zu articles, %zu passages (dim %d); bulk load into PostgreSQL %.1f s, %.0f passages/s\n",
           fx.n_articles, fx.n_passages, PG_FIXTURE_DIM, load, (double)fx.n_passages / load);
    printf("%d questions per mode, one at a time, k=%d, store_get of every hit\n\n", n_queries, K);
    printf("| mode | store | p50 | p99 | mean | mean / embedded | same top %d |\n", TOP);
    printf("| --- | --- | --- | --- | --- | --- | --- |\n");

    float *vectors = xmalloc((size_t)n_queries * PG_FIXTURE_DIM * sizeof *vectors);
    uint64_t seed = 7;
    for (int i = 0; i < n_queries; i++) test_unit_vector(&seed, vectors + (size_t)i * PG_FIXTURE_DIM, PG_FIXTURE_DIM);
    static const search_mode modes[] = {SEARCH_LEXICAL, SEARCH_VECTOR, SEARCH_HYBRID};
    static const char *const names[] = {"lexical", "exact vector", "hybrid"};
    double *lat[2] = {xmalloc((size_t)n_queries * sizeof(double)),
                      xmalloc((size_t)n_queries * sizeof(double))};
    int rc = 0;
    for (int m = 0; m < 3 && rc == 0; m++) {
        int same = 0;
        for (int i = 0; i < n_queries && rc == 0; i++) {
            size_t a = (size_t)i / 2 % fx.n_articles;
            const char *text = i % 2 ? fx.first_sentence[a] : fx.articles[a].heading;
            store_query q = {.text = text, .text_len = strlen(text), .k = K, .mode = modes[m],
                             .vector = vectors + (size_t)i * PG_FIXTURE_DIM};
            char top[2][TOP][STORE_ARTICLE_ID_MAX + 8];
            store *stores[2] = {emb, pg};
            for (int s = 0; s < 2; s++) {
                double t = now_seconds();
                if (ask(stores[s], &q, top[s]) < 0) rc = 1;
                lat[s][i] = now_seconds() - t;
            }
            bool equal = true;
            for (int j = 0; j < TOP; j++) equal &= strcmp(top[0][j], top[1][j]) == 0;
            same += equal;
        }
        if (rc != 0) break;
        figures e = summarise(lat[0], n_queries), p = summarise(lat[1], n_queries);
        printf("| %s | embedded | %.3f ms | %.3f ms | %.3f ms | 1 | |\n", names[m], e.p50, e.p99, e.mean);
        printf("| %s | PostgreSQL | %.3f ms | %.3f ms | %.3f ms | %.1f | %d / %d |\n", names[m], p.p50,
               p.p99, p.mean, p.mean / e.mean, same, n_queries);
    }
    free(lat[0]);
    free(lat[1]);
    free(vectors);
    store_close(pg);
    pg_cluster_destroy(&c);
    store_close(emb);
    test_rmdir(dir);
    free(dir);
    pg_fixture_free(&fx);
    return rc;
}
