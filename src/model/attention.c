/* attention — see attention.h. */
#include "model/attention.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/simd_math.h"

#define D ATTN_HEAD_DIM

/* AVX-512: packed keys (D × L rounded to 32), a 12-row block of scores and
 * the block's transposed queries, plus 64 bytes of alignment slack. */
int attention_scratch_floats(int L) { return ((L + 31) & ~31) * (D + 12) + D * 12 + 16; }

static void attention_portable(const float *q, const float *k, const float *v, int stride, int L,
                               float *out, int ostride, float *scores) {
    const float scale = 1.0f / sqrtf((float)D);
    for (int i = 0; i < L; i++) {
        const float *qi = q + (size_t)i * stride;
        float max = -INFINITY;
        for (int j = 0; j < L; j++) {
            const float *kj = k + (size_t)j * stride;
            float s = 0;
            for (int d = 0; d < D; d++) s += qi[d] * kj[d];
            scores[j] = s * scale;
            if (scores[j] > max) max = scores[j];
        }
        float sum = 0;
        for (int j = 0; j < L; j++) sum += scores[j] = expf(scores[j] - max);
        float acc[D] = {0};
        for (int j = 0; j < L; j++) {
            const float *vj = v + (size_t)j * stride;
            for (int d = 0; d < D; d++) acc[d] += scores[j] * vj[d];
        }
        float *oi = out + (size_t)i * ostride;
        for (int d = 0; d < D; d++) oi[d] = acc[d] / sum;
    }
}

#if defined(__x86_64__)

#define QB 12 /* query rows per block: 24 accumulators, as the GEMM kernel */

/* Both products of a block of 12 queries are register-tiled like the GEMM:
 * scores S = Q·Kᵀ with the keys packed as panels of 32 ([L/32][d][32]), 12×32
 * scores in 24 zmm accumulators; then O = P·V with 12 rows × 32 dimensions in
 * 24 accumulators, one broadcast of P per row and key. */
static RAGD_AVX512 void attention_avx512(const float *q, const float *k, const float *v,
                                         int stride, int L, float *out, int ostride,
                                         float *scratch) {
    const int Lp = (L + 31) & ~31;
    float *kt = scratch;            /* [Lp/32][D][32] */
    float *s = kt + D * Lp;         /* [QB][Lp] scores, then probabilities */
    float *qp = s + QB * Lp;        /* [D][QB] the block's queries, transposed */
    for (int j0 = 0; j0 < Lp; j0 += 32)
        for (int jj = 0; jj < 32; jj++) {
            const float *kj = k + (size_t)(j0 + jj) * stride;
            for (int d = 0; d < D; d++) kt[j0 * D + d * 32 + jj] = j0 + jj < L ? kj[d] : 0.0f;
        }
    const float scale = 1.0f / sqrtf((float)D);

    for (int i0 = 0; i0 < L; i0 += QB) {
        const int mr = L - i0 < QB ? L - i0 : QB;
        for (int ii = 0; ii < QB; ii++)
            for (int d = 0; d < D; d++)
                qp[d * QB + ii] = ii < mr ? q[(size_t)(i0 + ii) * stride + d] : 0.0f;

        for (int j0 = 0; j0 < Lp; j0 += 32) {
            __m512 c0[QB], c1[QB];
#pragma GCC unroll 12
            for (int ii = 0; ii < QB; ii++) c0[ii] = c1[ii] = _mm512_setzero_ps();
            const float *b = kt + j0 * D;
            for (int d = 0; d < D; d++) {
                __m512 b0 = _mm512_load_ps(b + d * 32), b1 = _mm512_load_ps(b + d * 32 + 16);
#pragma GCC unroll 12
                for (int ii = 0; ii < QB; ii++) {
                    __m512 a = _mm512_set1_ps(qp[d * QB + ii]);
                    c0[ii] = _mm512_fmadd_ps(a, b0, c0[ii]);
                    c1[ii] = _mm512_fmadd_ps(a, b1, c1[ii]);
                }
            }
#pragma GCC unroll 12
            for (int ii = 0; ii < QB; ii++) {
                _mm512_store_ps(s + ii * Lp + j0, c0[ii]);
                _mm512_store_ps(s + ii * Lp + j0 + 16, c1[ii]);
            }
        }

        float inv[QB];
        const __m512 vscale = _mm512_set1_ps(scale);
        for (int ii = 0; ii < mr; ii++) {
            float *row = s + ii * Lp;
            for (int j = L; j < Lp; j++) row[j] = -INFINITY; /* keys past the sequence */
            __m512 vmax = _mm512_set1_ps(-INFINITY);
            for (int j = 0; j < Lp; j += 16) {
                __m512 x = _mm512_mul_ps(_mm512_load_ps(row + j), vscale);
                _mm512_store_ps(row + j, x);
                vmax = _mm512_max_ps(vmax, x);
            }
            const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
            __m512 vsum = _mm512_setzero_ps();
            for (int j = 0; j < Lp; j += 16) {
                __m512 e = exp512(_mm512_sub_ps(_mm512_load_ps(row + j), max));
                if (j + 16 > L) /* exactly 0 past the sequence */
                    e = _mm512_maskz_mov_ps((__mmask16)(L - j >= 16 ? 0xffff : L <= j ? 0 : (1u << (L - j)) - 1), e);
                _mm512_store_ps(row + j, e);
                vsum = _mm512_add_ps(vsum, e);
            }
            inv[ii] = 1.0f / _mm512_reduce_add_ps(vsum);
        }
        for (int ii = mr; ii < QB; ii++) /* rows past the sequence: weight 0 */
            for (int j = 0; j < L; j++) s[ii * Lp + j] = 0.0f;

        __m512 o0[QB], o1[QB];
#pragma GCC unroll 12
        for (int ii = 0; ii < QB; ii++) o0[ii] = o1[ii] = _mm512_setzero_ps();
        for (int j = 0; j < L; j++) {
            const float *vj = v + (size_t)j * stride;
            __m512 v0 = _mm512_loadu_ps(vj), v1 = _mm512_loadu_ps(vj + 16);
#pragma GCC unroll 12
            for (int ii = 0; ii < QB; ii++) {
                __m512 p = _mm512_set1_ps(s[ii * Lp + j]);
                o0[ii] = _mm512_fmadd_ps(p, v0, o0[ii]);
                o1[ii] = _mm512_fmadd_ps(p, v1, o1[ii]);
            }
        }
#pragma GCC unroll 12
        for (int ii = 0; ii < QB; ii++)
            if (ii < mr) {
                __m512 w = _mm512_set1_ps(inv[ii]);
                float *oi = out + (size_t)(i0 + ii) * ostride;
                _mm512_storeu_ps(oi, _mm512_mul_ps(o0[ii], w));
                _mm512_storeu_ps(oi + 16, _mm512_mul_ps(o1[ii], w));
            }
    }
}

#endif

static int force_portable;

void attention_force_portable(int on) { force_portable = on; }

void attention_head(const float *q, const float *k, const float *v, int stride, int L, float *out,
                    int ostride, float *scratch) {
#if defined(__x86_64__)
    if (!force_portable && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq")) {
        /* 64-byte alignment for the aligned loads of the transposed keys */
        float *aligned = (float *)(((uintptr_t)scratch + 63) & ~(uintptr_t)63);
        attention_avx512(q, k, v, stride, L, out, ostride, aligned);
        return;
    }
#endif
    attention_portable(q, k, v, stride, L, out, ostride, scratch);
}
