/* gemm — the matrix products of the forward pass: C = epi(A · Wᵀ + b).
 *
 * Every dense layer of BERT is y = x Wᵀ + b with W stored [out][in] (PyTorch's
 * nn.Linear layout). Two interchangeable backends compute it:
 *   - GEMM_OWN: our kernels. W is repacked once at load into panels of 32
 *     output columns ([n/32][k][32], 64-byte aligned) so the inner loop reads
 *     B contiguously; a 14×32 AVX-512 register tile (28 accumulators) or a 3×32
 *     AVX2 tile, chosen at run time, with a portable C fallback. Bias, GELU or
 *     a residual add are applied to the tile while it is still in registers.
 *   - GEMM_OPENBLAS: cblas_sgemm on the original W (single-threaded calls:
 *     the caller's pool does the splitting), then the same epilogue.
 * bench/encode.c measures both; GEMM_AUTO picks the one that won there.
 *   - GEMM_INT8 (opt-in): W quantised to int8 once per output column,
 *     activations per row at each call (symmetric, max-abs scale), dequantised
 *     in the epilogue. Two kernels, chosen at run time: AVX-512 VNNI
 *     (activations int8, vpdpbusd: 4 multiply-adds per lane) and AVX2
 *     (activations int16, vpmaddwd: 2 per lane, weights sign-extended as
 *     they are read). Not exact: tests/model/test_encoder.c requires cosine >= 0.99
 *     to the float model and bench/encode reports its speed beside fp32.
 *
 * The caller splits a product into tiles (row range × column range whose
 * bounds are multiples of GEMM_NR) and runs them on its threads.
 */
#ifndef RAGD_MODEL_GEMM_H
#define RAGD_MODEL_GEMM_H

#include <stdbool.h>
#include <stdint.h>

#define GEMM_NR 32      /* output columns per packed panel */
#define GEMM_MAX_K 1536 /* longest inner dimension (BERT's FFN): sizes a stack buffer */

typedef enum { GEMM_AUTO, GEMM_OWN, GEMM_OPENBLAS, GEMM_INT8 } gemm_backend;
typedef enum {
    GEMM_EPI_BIAS,      /* C = A·Wᵀ + b */
    GEMM_EPI_BIAS_GELU, /* C = gelu(A·Wᵀ + b) */
    GEMM_EPI_BIAS_ADD   /* C = A·Wᵀ + b + R (the residual connection) */
} gemm_epilogue;

typedef struct gemm_matrix {
    int n, k;          /* W is [n][k]; n a multiple of GEMM_NR, k <= GEMM_MAX_K */
    const float *w;    /* row-major [n][k], not owned */
    const float *bias; /* [n], not owned */
    float *packed;     /* [n/GEMM_NR][k][GEMM_NR], owned */
    int8_t *q8;        /* GEMM_INT8: [n/GEMM_NR][k/g][GEMM_NR][g], g = 4 (VNNI) or 2
                          (AVX2), owned, or NULL */
    float *q8_scale;   /* per output column */
    int32_t *q8_sum;   /* per output column: Σ_k q8 (for the unsigned-activation offset) */
} gemm_matrix;

/* Prepare W for both backends (packs a copy; w and bias must outlive m). */
void gemm_matrix_init(gemm_matrix *m, const float *w, const float *bias, int n, int k);
void gemm_matrix_free(gemm_matrix *m);
/* Which int8 kernel this CPU runs (AVX-512 VNNI, else AVX2, else none), its
 * name ("avx512-vnni", "avx2-madd16", "none"); preparing a matrix for it
 * (done once, on first use by bert_set_backend; a no-op without a kernel). */
typedef enum { GEMM_INT8_NONE, GEMM_INT8_VNNI, GEMM_INT8_AVX2 } gemm_int8_kind;
gemm_int8_kind gemm_int8_kernel(void);
bool gemm_int8_supported(void);
const char *gemm_int8_kernel_name(void);
void gemm_matrix_prepare_int8(gemm_matrix *m);

/* Rows [m0, m1) and columns [n0, n1) of C (ldc floats per row) from A (lda
 * per row); R (ldr) is read for GEMM_EPI_BIAS_ADD and may alias C. */
void gemm_tile(gemm_backend backend, const gemm_matrix *W, const float *A, int lda, int m0, int m1,
               int n0, int n1, float *C, int ldc, gemm_epilogue epi, const float *R, int ldr);

/* The backend GEMM_AUTO resolves to, and the name of the kernel our own
 * backend runs on this CPU ("avx512", "avx2" or "portable"). */
gemm_backend gemm_default_backend(void);
const char *gemm_own_kernel_name(void);
const char *gemm_backend_name(gemm_backend b);

/* Force our own backend's kernel (for tests of the fallbacks): "avx512",
 * "avx2", "portable"; a kernel the CPU lacks is refused (returns -1). */
int gemm_force_kernel(const char *name);

/* gelu over n floats in place, exact erf (the portable/AVX2 epilogue, and
 * exported for tests). */
void gelu_inplace(float *x, int n);

#endif
