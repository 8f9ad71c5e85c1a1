/* vecmath — float dot products for the vector scan and HNSW: AVX-512 or
 * AVX2+FMA chosen once at run time from the CPU, with a portable fallback.
 * Vectors are unit length, so the dot product is the cosine similarity. */
#ifndef RAGD_STORE_VECMATH_H
#define RAGD_STORE_VECMATH_H

#include <stddef.h>

typedef float (*dot_fn)(const float *a, const float *b, size_t dim);
/* Four dot products of q against rows r, r+dim, r+2dim, r+3dim (q loaded once). */
typedef void (*dot4_fn)(const float *q, const float *rows, size_t dim, float out[4]);

typedef struct vecmath_ops {
    dot_fn dot;
    dot4_fn dot4;
    const char *name; /* "avx512", "avx2", "portable" */
} vecmath_ops;

/* The best implementation for this CPU (RAGD_SIMD=portable|avx2|avx512
 * caps it, for tests and benchmarks). */
const vecmath_ops *vecmath_get(void);
/* A given implementation, or NULL if the CPU lacks it. */
const vecmath_ops *vecmath_named(const char *name);

#endif
