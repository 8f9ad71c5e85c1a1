/* attention — see attention.h. */
#include "model/attention.h"

#include <math.h>
#include <stdbool.h>
#include <stdint.h>

#include "model/simd_math.h"

#define D ATTN_HEAD_DIM

static int round16(int n) { return (n + 15) & ~15; }

int attention_scratch_floats(int L) { return round16(L) * (D + 1) + 16; }

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

static RAGD_AVX512 void attention_avx512(const float *q, const float *k, const float *v,
                                         int stride, int L, float *out, int ostride,
                                         float *scratch) {
    const int Lp = round16(L);
    float *kt = scratch;             /* [D][Lp]: key j's dimension d at kt[d*Lp + j] */
    float *scores = scratch + D * Lp; /* [Lp] */
    for (int j = 0; j < L; j++)
        for (int d = 0; d < D; d++) kt[d * Lp + j] = k[(size_t)j * stride + d];
    for (int j = L; j < Lp; j++)
        for (int d = 0; d < D; d++) kt[d * Lp + j] = 0;
    const __m512 scale = _mm512_set1_ps(1.0f / sqrtf((float)D));
    const __mmask16 tail = (__mmask16)(L % 16 ? (1u << (L % 16)) - 1 : 0xffff);

    for (int i = 0; i < L; i++) {
        const float *qi = q + (size_t)i * stride;
        __m512 vmax = _mm512_set1_ps(-INFINITY);
        for (int j = 0; j < Lp; j += 16) {
            /* four chains over d so the FMAs overlap */
            __m512 s0 = _mm512_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
            for (int d = 0; d < D; d += 4) {
                s0 = _mm512_fmadd_ps(_mm512_set1_ps(qi[d]), _mm512_load_ps(kt + d * Lp + j), s0);
                s1 = _mm512_fmadd_ps(_mm512_set1_ps(qi[d + 1]),
                                     _mm512_load_ps(kt + (d + 1) * Lp + j), s1);
                s2 = _mm512_fmadd_ps(_mm512_set1_ps(qi[d + 2]),
                                     _mm512_load_ps(kt + (d + 2) * Lp + j), s2);
                s3 = _mm512_fmadd_ps(_mm512_set1_ps(qi[d + 3]),
                                     _mm512_load_ps(kt + (d + 3) * Lp + j), s3);
            }
            __m512 s = _mm512_mul_ps(_mm512_add_ps(_mm512_add_ps(s0, s1), _mm512_add_ps(s2, s3)),
                                     scale);
            if (j + 16 > L) s = _mm512_mask_blend_ps(tail, _mm512_set1_ps(-INFINITY), s);
            _mm512_store_ps(scores + j, s);
            vmax = _mm512_max_ps(vmax, s);
        }
        const __m512 max = _mm512_set1_ps(_mm512_reduce_max_ps(vmax));
        __m512 vsum = _mm512_setzero_ps();
        for (int j = 0; j < Lp; j += 16) {
            __m512 e = exp512(_mm512_sub_ps(_mm512_load_ps(scores + j), max));
            if (j + 16 > L) e = _mm512_maskz_mov_ps(tail, e);
            _mm512_store_ps(scores + j, e);
            vsum = _mm512_add_ps(vsum, e);
        }
        const float inv = 1.0f / _mm512_reduce_add_ps(vsum);
        __m512 a0 = _mm512_setzero_ps(), a1 = a0, b0 = a0, b1 = a0;
        int j = 0;
        for (; j + 2 <= L; j += 2) {
            const float *v0 = v + (size_t)j * stride, *v1 = v0 + stride;
            __m512 p0 = _mm512_set1_ps(scores[j]), p1 = _mm512_set1_ps(scores[j + 1]);
            a0 = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v0), a0);
            a1 = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v0 + 16), a1);
            b0 = _mm512_fmadd_ps(p1, _mm512_loadu_ps(v1), b0);
            b1 = _mm512_fmadd_ps(p1, _mm512_loadu_ps(v1 + 16), b1);
        }
        if (j < L) {
            const float *v0 = v + (size_t)j * stride;
            __m512 p0 = _mm512_set1_ps(scores[j]);
            a0 = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v0), a0);
            a1 = _mm512_fmadd_ps(p0, _mm512_loadu_ps(v0 + 16), a1);
        }
        const __m512 vinv = _mm512_set1_ps(inv);
        float *oi = out + (size_t)i * ostride;
        _mm512_storeu_ps(oi, _mm512_mul_ps(_mm512_add_ps(a0, b0), vinv));
        _mm512_storeu_ps(oi + 16, _mm512_mul_ps(_mm512_add_ps(a1, b1), vinv));
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
