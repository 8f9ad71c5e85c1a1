/* vecmath — dot products with run-time SIMD dispatch.
 *
 * Each kernel is compiled for its instruction set with a target attribute,
 * so the binary runs on any x86-64 and uses what the CPU has. The scan is
 * memory-bound (1.5 KB per 384-d row), so the four-row kernel loads each
 * query chunk once for four rows and keeps four independent FMA chains busy;
 * the single-row kernel (HNSW, random access) splits its sum over two
 * accumulators to hide FMA latency. */
#include "store/vecmath.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#if defined(__x86_64__)
#include <immintrin.h>
#endif

static float dot_portable(const float *a, const float *b, size_t dim) {
    float s0 = 0, s1 = 0, s2 = 0, s3 = 0;
    size_t i = 0;
    for (; i + 4 <= dim; i += 4) {
        s0 += a[i] * b[i];
        s1 += a[i + 1] * b[i + 1];
        s2 += a[i + 2] * b[i + 2];
        s3 += a[i + 3] * b[i + 3];
    }
    for (; i < dim; i++) s0 += a[i] * b[i];
    return (s0 + s1) + (s2 + s3);
}

static void dot4_portable(const float *q, const float *rows, size_t dim, float out[4]) {
    for (int r = 0; r < 4; r++) out[r] = dot_portable(q, rows + (size_t)r * dim, dim);
}

#if defined(__x86_64__)

__attribute__((target("avx2,fma"))) static inline float hsum256(__m256 v) {
    __m128 lo = _mm256_castps256_ps128(v), hi = _mm256_extractf128_ps(v, 1);
    lo = _mm_add_ps(lo, hi);
    lo = _mm_add_ps(lo, _mm_movehl_ps(lo, lo));
    lo = _mm_add_ss(lo, _mm_movehdup_ps(lo));
    return _mm_cvtss_f32(lo);
}

__attribute__((target("avx2,fma"))) static float dot_avx2(const float *a, const float *b,
                                                          size_t dim) {
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i + 8), _mm256_loadu_ps(b + i + 8), s1);
    }
    for (; i + 8 <= dim; i += 8)
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + i), _mm256_loadu_ps(b + i), s0);
    float s = hsum256(_mm256_add_ps(s0, s1));
    for (; i < dim; i++) s += a[i] * b[i];
    return s;
}

__attribute__((target("avx2,fma"))) static void dot4_avx2(const float *q, const float *rows,
                                                          size_t dim, float out[4]) {
    const float *r0 = rows, *r1 = rows + dim, *r2 = rows + 2 * dim, *r3 = rows + 3 * dim;
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    __m256 s2 = _mm256_setzero_ps(), s3 = _mm256_setzero_ps();
    size_t i = 0;
    for (; i + 8 <= dim; i += 8) {
        __m256 x = _mm256_loadu_ps(q + i);
        s0 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r0 + i), s0);
        s1 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r1 + i), s1);
        s2 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r2 + i), s2);
        s3 = _mm256_fmadd_ps(x, _mm256_loadu_ps(r3 + i), s3);
    }
    out[0] = hsum256(s0);
    out[1] = hsum256(s1);
    out[2] = hsum256(s2);
    out[3] = hsum256(s3);
    for (; i < dim; i++) {
        out[0] += q[i] * r0[i];
        out[1] += q[i] * r1[i];
        out[2] += q[i] * r2[i];
        out[3] += q[i] * r3[i];
    }
}

__attribute__((target("avx512f"))) static float dot_avx512(const float *a, const float *b,
                                                           size_t dim) {
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 32 <= dim; i += 32) {
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
        s1 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i + 16), _mm512_loadu_ps(b + i + 16), s1);
    }
    for (; i + 16 <= dim; i += 16)
        s0 = _mm512_fmadd_ps(_mm512_loadu_ps(a + i), _mm512_loadu_ps(b + i), s0);
    if (i < dim) {
        __mmask16 m = (__mmask16)((1u << (dim - i)) - 1);
        s1 = _mm512_fmadd_ps(_mm512_maskz_loadu_ps(m, a + i), _mm512_maskz_loadu_ps(m, b + i), s1);
    }
    return _mm512_reduce_add_ps(_mm512_add_ps(s0, s1));
}

__attribute__((target("avx512f"))) static void dot4_avx512(const float *q, const float *rows,
                                                           size_t dim, float out[4]) {
    const float *r0 = rows, *r1 = rows + dim, *r2 = rows + 2 * dim, *r3 = rows + 3 * dim;
    __m512 s0 = _mm512_setzero_ps(), s1 = _mm512_setzero_ps();
    __m512 s2 = _mm512_setzero_ps(), s3 = _mm512_setzero_ps();
    size_t i = 0;
    for (; i + 16 <= dim; i += 16) {
        __m512 x = _mm512_loadu_ps(q + i);
        s0 = _mm512_fmadd_ps(x, _mm512_loadu_ps(r0 + i), s0);
        s1 = _mm512_fmadd_ps(x, _mm512_loadu_ps(r1 + i), s1);
        s2 = _mm512_fmadd_ps(x, _mm512_loadu_ps(r2 + i), s2);
        s3 = _mm512_fmadd_ps(x, _mm512_loadu_ps(r3 + i), s3);
    }
    if (i < dim) {
        __mmask16 m = (__mmask16)((1u << (dim - i)) - 1);
        __m512 x = _mm512_maskz_loadu_ps(m, q + i);
        s0 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r0 + i), s0);
        s1 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r1 + i), s1);
        s2 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r2 + i), s2);
        s3 = _mm512_fmadd_ps(x, _mm512_maskz_loadu_ps(m, r3 + i), s3);
    }
    out[0] = _mm512_reduce_add_ps(s0);
    out[1] = _mm512_reduce_add_ps(s1);
    out[2] = _mm512_reduce_add_ps(s2);
    out[3] = _mm512_reduce_add_ps(s3);
}

#endif

static const vecmath_ops ops_portable = {dot_portable, dot4_portable, "portable"};
#if defined(__x86_64__)
static const vecmath_ops ops_avx2 = {dot_avx2, dot4_avx2, "avx2"};
static const vecmath_ops ops_avx512 = {dot_avx512, dot4_avx512, "avx512"};
#endif

const vecmath_ops *vecmath_named(const char *name) {
    if (strcmp(name, "portable") == 0) return &ops_portable;
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (strcmp(name, "avx2") == 0)
        return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma") ? &ops_avx2 : NULL;
    if (strcmp(name, "avx512") == 0) return __builtin_cpu_supports("avx512f") ? &ops_avx512 : NULL;
#endif
    return NULL;
}

static const vecmath_ops *chosen;
static pthread_once_t chosen_once = PTHREAD_ONCE_INIT;

static void choose(void) {
    const char *cap = getenv("RAGD_SIMD");
    static const char *const order[] = {"avx512", "avx2", "portable"};
    bool capped = cap == NULL || cap[0] == '\0';
    for (size_t i = 0; i < sizeof(order) / sizeof(order[0]); i++) {
        if (!capped && strcmp(order[i], cap) == 0) capped = true;
        if (!capped) continue;
        const vecmath_ops *o = vecmath_named(order[i]);
        if (o != NULL) {
            chosen = o;
            return;
        }
    }
    chosen = &ops_portable;
}

const vecmath_ops *vecmath_get(void) {
    pthread_once(&chosen_once, choose);
    return chosen;
}
