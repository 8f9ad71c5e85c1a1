/* gemm — the matrix products of the forward pass: C = epi(A · Wᵀ + b).
 *
 * Every dense layer of BERT is y = x Wᵀ + b with W stored [out][in] (PyTorch's
 * nn.Linear layout). Two interchangeable backends compute it:
 *   - GEMM_OWN: our kernels. W is repacked once (where they run) into panels of 32
 *     output columns ([n/32][k][32], 64-byte aligned) so the inner loop reads
 *     B contiguously; a 14×32 AVX-512 register tile (28 accumulators) or a 3×32
 *     AVX2 tile, chosen at run time, with a portable C fallback. Bias, GELU or
 *     a residual add are applied to the tile while it is still in registers.
 *   - GEMM_OPENBLAS: cblas_sgemm on the original W (single-threaded calls:
 *     the caller's pool does the splitting), then the same epilogue.
 * bench/encode.c measures both; GEMM_AUTO picks the one that won there.
 *   - GEMM_INT8 (opt-in, AVX-512 VNNI only): W quantised once per output
 *     column, activations per row at each call (symmetric, max-abs scale),
 *     products with vpdpbusd (4 multiply-adds per lane), dequantised in the
 *     epilogue. Not exact: tests/model/test_encoder.c requires cosine >= 0.99
 *     to the float model and bench/encode reports its speed beside fp32.
 *   - GEMM_INT16 (opt-in, AVX2): the same scheme with weights and
 *     activations on ±1023 (11 bits) in int16, products with vpmaddwd (2
 *     multiply-adds per lane, twice the fp32 FMA's 8 per instruction); about
 *     100x closer to fp32 than int8 (cosine >= 0.9999 in test_encoder.c).
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

typedef enum { GEMM_AUTO, GEMM_OWN, GEMM_OPENBLAS, GEMM_INT8, GEMM_INT16 } gemm_backend;
typedef enum {
    GEMM_EPI_BIAS,      /* C = A·Wᵀ + b */
    GEMM_EPI_BIAS_GELU, /* C = gelu(A·Wᵀ + b) */
    GEMM_EPI_BIAS_ADD   /* C = A·Wᵀ + b + R (the residual connection) */
} gemm_epilogue;

typedef struct gemm_matrix {
    int n, k;          /* W is [n][k]; n a multiple of GEMM_NR, k <= GEMM_MAX_K */
    const float *w;    /* row-major [n][k], not owned */
    const float *bias; /* [n], not owned */
    float *packed;     /* [n/GEMM_NR][k][GEMM_NR], owned, or NULL until prepared */
    int8_t *q8;        /* GEMM_INT8: [n/GEMM_NR][k/4][GEMM_NR][4], owned, or NULL */
    int16_t *q16;      /* GEMM_INT16: [n/GEMM_NR][k/2][GEMM_NR][2], owned, or NULL */
    float *q8_scale;   /* per output column: q8's scale */
    float *q16_scale;  /* per output column: q16's scale */
    int32_t *q8_sum;   /* per output column: Σ_k q8 (for the unsigned-activation offset) */
} gemm_matrix;

/* W for OpenBLAS as it is (w and bias must outlive m); our own kernels need
 * the packed copy gemm_matrix_prepare_own makes (once; n·k floats, so only
 * where they run: bert_set_backend). */
void gemm_matrix_init(gemm_matrix *m, const float *w, const float *bias, int n, int k);
void gemm_matrix_prepare_own(gemm_matrix *m);
void gemm_matrix_free(gemm_matrix *m);
/* Whether this CPU runs GEMM_INT8 (AVX-512 VNNI) / GEMM_INT16 (AVX2 + FMA);
 * preparing a matrix for one of them (done once, on first use by
 * bert_set_backend; a no-op without the kernel). */
bool gemm_int8_supported(void);
bool gemm_int16_supported(void);
void gemm_matrix_prepare_int16(gemm_matrix *m);
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

/* gelu over n floats in place: the rational erf of simd_math.h on AVX-512 and
 * AVX2 (within ~1e-7 of erff), erff itself in the portable fallback; exported
 * for tests. */
void gelu_inplace(float *x, int n);

#endif
