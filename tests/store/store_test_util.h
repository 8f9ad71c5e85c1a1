/* store_test_util — shared helpers of the store tests: temporary data
 * directories, seeded random unit vectors and a brute-force reference search. */
#ifndef RAGD_TESTS_STORE_UTIL_H
#define RAGD_TESTS_STORE_UTIL_H

#include <ctype.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "store/store.h"
#include "test_views.h"

static inline uint64_t test_rng(uint64_t *x) {
    uint64_t z = (*x += 0x9e3779b97f4a7c15ull);
    z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
    z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
    return z ^ (z >> 31);
}

static inline float test_gauss(uint64_t *x) {
    double u = ((double)(test_rng(x) >> 11) + 1.0) / 9007199254740993.0;
    double v = (double)(test_rng(x) >> 11) / 9007199254740992.0;
    return (float)(sqrt(-2.0 * log(u)) * cos(6.283185307179586 * v));
}

static inline void test_unit_vector(uint64_t *rng, float *v, int dim) {
    double n = 0;
    for (int i = 0; i < dim; i++) {
        v[i] = test_gauss(rng);
        n += (double)v[i] * v[i];
    }
    float inv = (float)(1.0 / sqrt(n));
    for (int i = 0; i < dim; i++) v[i] *= inv;
}

/* A fresh empty directory under $TMPDIR; the caller frees the path. */
static inline char *test_tempdir(void) {
    const char *base = getenv("TMPDIR");
    char tmpl[512];
    snprintf(tmpl, sizeof tmpl, "%s/ragd-store-test-XXXXXX", base ? base : "/tmp");
    char *d = mkdtemp(tmpl);
    return d ? strdup(d) : NULL;
}

static inline void test_rmdir(const char *dir) {
    char cmd[1024];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    if (system(cmd) != 0) fprintf(stderr, "could not remove %s\n", dir);
}


static inline float test_dot(const float *a, const float *b, int dim) {
    double s = 0;
    for (int i = 0; i < dim; i++) s += (double)a[i] * b[i];
    return (float)s;
}

/* A committed store in dir holding the n passages, passage i under the key
 * "<key_prefix><i>" (also its article id when ps[i].article_id is NULL) with
 * a seeded random unit vector written to vecs + i * dim. NULL on failure. */
static inline store *test_build_store(const char *dir, const char *key_prefix,
                                      const store_passage *ps, int n, float *vecs, int dim,
                                      uint64_t seed) {
    char err[512];
    store_writer *w = store_writer_open(dir, "m", dim, err, sizeof err);
    if (!w) return NULL;
    for (int i = 0; i < n; i++) {
        test_unit_vector(&seed, vecs + (size_t)i * dim, dim);
        char key[32];
        snprintf(key, sizeof key, "%s%d", key_prefix, i);
        store_passage p = ps[i];
        if (!p.article_id) p.article_id = key;
        if (store_writer_add(w, key, &p, vecs + (size_t)i * dim, err, sizeof err) != 0) {
            store_writer_close(w);
            return NULL;
        }
    }
    int rc = store_writer_commit(w, err, sizeof err);
    store_writer_close(w);
    return rc == 0 ? store_open(dir, "m", err, sizeof err) : NULL;
}

#endif
