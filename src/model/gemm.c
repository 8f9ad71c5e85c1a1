/* gemm — see gemm.h.
 *
 * Our kernel follows the usual register-tile design (Goto/BLIS, llama.cpp's
 * sgemm): for a tile of C, the rows of A are first transposed into a small
 * buffer ([k][14], so one broadcast per row per step comes from one cache
 * line), then every 32-column panel of packed W is swept over them; a 14×32
 * block of C lives in 28 zmm registers for the whole k loop and is written
 * once, with the epilogue applied. The k loop always runs in the same order,
 * so a row's result does not depend on which other rows share its tile: batch
 * composition never changes a vector.
 *
 * The ISA is chosen once at run time (__builtin_cpu_supports); each kernel is
 * compiled for its ISA by a target attribute, so the binary runs anywhere.
 */
#include "model/gemm.h"

#include <assert.h>
#include <cblas.h>
#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "model/simd_math.h"
#include "util/util.h"

#define MR 14 /* rows per register tile (and per transposed A block) */

/* Defined by OpenBLAS (not in every cblas.h). */
void openblas_set_num_threads(int);

typedef void (*panel_fn)(int mr, int k, const float *apack, const float *b, const float *bias,
                         float *c, int ldc, gemm_epilogue epi, const float *r, int ldr);

/* ---- portable kernel ---------------------------------------------------- */

static float gelu1(float x) { return 0.5f * x * (1.0f + erff(x * 0.70710678118654752f)); }

static void panel_portable(int mr, int k, const float *apack, const float *b, const float *bias,
                           float *c, int ldc, gemm_epilogue epi, const float *r, int ldr) {
    for (int i = 0; i < mr; i++) {
        float acc[GEMM_NR] = {0};
        for (int p = 0; p < k; p++) {
            float a = apack[p * MR + i];
            const float *bp = b + (size_t)p * GEMM_NR;
            for (int j = 0; j < GEMM_NR; j++) acc[j] += a * bp[j];
        }
        for (int j = 0; j < GEMM_NR; j++) {
            float v = acc[j] + bias[j];
            if (epi == GEMM_EPI_BIAS_ADD) v += r[(size_t)i * ldr + j];
            if (epi == GEMM_EPI_BIAS_GELU) v = gelu1(v);
            c[(size_t)i * ldc + j] = v;
        }
    }
}

#if defined(__x86_64__)

/* ---- AVX-512: 14×32 tile in 28 accumulators (14 rows: a short query in one
 * pass; 28 + 2 B vectors + 1 broadcast = 31 of the 32 zmm registers) ------ */

/* The epilogue of one 32-wide output row, shared by the float and int8
 * tiles: add the residual row or apply GELU (bias is already in), store. */
static inline __attribute__((always_inline)) RAGD_AVX512 void
store_row512(__m512 v0, __m512 v1, float *c, gemm_epilogue epi, const float *r) {
    if (epi == GEMM_EPI_BIAS_ADD) {
        v0 = _mm512_add_ps(v0, _mm512_loadu_ps(r));
        v1 = _mm512_add_ps(v1, _mm512_loadu_ps(r + 16));
    } else if (epi == GEMM_EPI_BIAS_GELU) {
        v0 = gelu512(v0);
        v1 = gelu512(v1);
    }
    _mm512_storeu_ps(c, v0);
    _mm512_storeu_ps(c + 16, v1);
}

static inline __attribute__((always_inline)) RAGD_AVX512 void
tile512(const int mr, int k, const float *apack, const float *b, const float *bias, float *c,
        int ldc, gemm_epilogue epi, const float *r, int ldr) {
    __m512 c0[MR], c1[MR];
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++)
        if (i < mr) c0[i] = c1[i] = _mm512_setzero_ps();
    for (int p = 0; p < k; p++) {
        __m512 b0 = _mm512_load_ps(b), b1 = _mm512_load_ps(b + 16);
        b += GEMM_NR;
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++)
            if (i < mr) {
                __m512 a = _mm512_set1_ps(apack[i]);
                c0[i] = _mm512_fmadd_ps(a, b0, c0[i]);
                c1[i] = _mm512_fmadd_ps(a, b1, c1[i]);
            }
        apack += MR;
    }
    __m512 bias0 = _mm512_loadu_ps(bias), bias1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++)
        if (i < mr) {
            __m512 v0 = _mm512_add_ps(c0[i], bias0), v1 = _mm512_add_ps(c1[i], bias1);
            store_row512(v0, v1, c + (size_t)i * ldc, epi, r ? r + (size_t)i * ldr : NULL);
        }
}

#define TILE512(n)                                                                                 \
    case n:                                                                                        \
        tile512(n, k, apack, b, bias, c, ldc, epi, r, ldr);                                        \
        break;

static RAGD_AVX512 void panel_avx512(int mr, int k, const float *apack, const float *b,
                                     const float *bias, float *c, int ldc, gemm_epilogue epi,
                                     const float *r, int ldr) {
    switch (mr) {
        TILE512(1) TILE512(2) TILE512(3) TILE512(4) TILE512(5) TILE512(6)
        TILE512(7) TILE512(8) TILE512(9) TILE512(10) TILE512(11) TILE512(12)
        TILE512(13) TILE512(14)
    }
}

static RAGD_AVX512 void gelu_avx512(float *x, int n) {
    int i = 0;
    for (; i + 16 <= n; i += 16) _mm512_storeu_ps(x + i, gelu512(_mm512_loadu_ps(x + i)));
    if (i < n) {
        __mmask16 m = (__mmask16)((1u << (n - i)) - 1);
        _mm512_mask_storeu_ps(x + i, m, gelu512(_mm512_maskz_loadu_ps(m, x + i)));
    }
}

/* ---- AVX-512 VNNI int8: 14×32 tile, 4 multiply-adds per lane per step --- */

#define RAGD_VNNI __attribute__((target("avx512f,avx512bw,avx512dq,avx512vnni,fma")))

/* apack: [k/4][MR] words of four unsigned activation bytes (a + 128);
 * b: [k/4][32 cols][4] signed weight bytes. C = (acc − 128·Σw) · sa · sw + b. */
static inline __attribute__((always_inline)) RAGD_VNNI void
tile_vnni(const int mr, int kq, const int32_t *apack, const int8_t *b, const float *ascale,
          const float *wscale, const int32_t *wsum, const float *bias, float *c, int ldc,
          gemm_epilogue epi, const float *r, int ldr) {
    __m512i c0[MR], c1[MR];
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++)
        if (i < mr) c0[i] = c1[i] = _mm512_setzero_si512();
    for (int p = 0; p < kq; p++) {
        __m512i b0 = _mm512_load_si512((const void *)b), b1 = _mm512_load_si512((const void *)(b + 64));
        b += 4 * GEMM_NR;
#pragma GCC unroll 14
        for (int i = 0; i < MR; i++)
            if (i < mr) {
                __m512i a = _mm512_set1_epi32(apack[i]);
                c0[i] = _mm512_dpbusd_epi32(c0[i], a, b0);
                c1[i] = _mm512_dpbusd_epi32(c1[i], a, b1);
            }
        apack += MR;
    }
    const __m512i off0 = _mm512_slli_epi32(_mm512_loadu_si512((const void *)wsum), 7);
    const __m512i off1 = _mm512_slli_epi32(_mm512_loadu_si512((const void *)(wsum + 16)), 7);
    const __m512 ws0 = _mm512_loadu_ps(wscale), ws1 = _mm512_loadu_ps(wscale + 16);
    const __m512 bias0 = _mm512_loadu_ps(bias), bias1 = _mm512_loadu_ps(bias + 16);
#pragma GCC unroll 14
    for (int i = 0; i < MR; i++)
        if (i < mr) {
            __m512 sa = _mm512_set1_ps(ascale[i]);
            __m512 v0 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c0[i], off0));
            __m512 v1 = _mm512_cvtepi32_ps(_mm512_sub_epi32(c1[i], off1));
            v0 = _mm512_fmadd_ps(v0, _mm512_mul_ps(sa, ws0), bias0);
            v1 = _mm512_fmadd_ps(v1, _mm512_mul_ps(sa, ws1), bias1);
            store_row512(v0, v1, c + (size_t)i * ldc, epi, r ? r + (size_t)i * ldr : NULL);
        }
}

#define TILEVNNI(n)                                                                                \
    case n:                                                                                        \
        tile_vnni(n, kq, apack, b, ascale, wscale, wsum, bias, c, ldc, epi, r, ldr);               \
        break;

static RAGD_VNNI void panel_vnni(int mr, int kq, const int32_t *apack, const int8_t *b,
                                 const float *ascale, const float *wscale, const int32_t *wsum,
                                 const float *bias, float *c, int ldc, gemm_epilogue epi,
                                 const float *r, int ldr) {
    switch (mr) {
        TILEVNNI(1) TILEVNNI(2) TILEVNNI(3) TILEVNNI(4) TILEVNNI(5) TILEVNNI(6) TILEVNNI(7)
        TILEVNNI(8) TILEVNNI(9) TILEVNNI(10) TILEVNNI(11) TILEVNNI(12) TILEVNNI(13) TILEVNNI(14)
    }
}

/* ---- AVX2: 3×32 tiles (12 accumulators), five per 14-row block ---------- */

#define RAGD_AVX2 __attribute__((target("avx2,fma")))

static inline __attribute__((always_inline)) RAGD_AVX2 void
tile256(const int mr, int k, const float *apack, const float *b, const float *bias, float *c,
        int ldc, gemm_epilogue epi, const float *r, int ldr) {
    __m256 acc[3][4];
#pragma GCC unroll 3
    for (int i = 0; i < 3; i++)
        if (i < mr)
            for (int j = 0; j < 4; j++) acc[i][j] = _mm256_setzero_ps();
    for (int p = 0; p < k; p++) {
        __m256 bv[4];
        for (int j = 0; j < 4; j++) bv[j] = _mm256_load_ps(b + 8 * j);
        b += GEMM_NR;
#pragma GCC unroll 3
        for (int i = 0; i < 3; i++)
            if (i < mr) {
                __m256 a = _mm256_broadcast_ss(apack + i);
                for (int j = 0; j < 4; j++) acc[i][j] = _mm256_fmadd_ps(a, bv[j], acc[i][j]);
            }
        apack += MR;
    }
    for (int i = 0; i < mr; i++) {
        for (int j = 0; j < 4; j++) {
            __m256 v = _mm256_add_ps(acc[i][j], _mm256_loadu_ps(bias + 8 * j));
            if (epi == GEMM_EPI_BIAS_ADD)
                v = _mm256_add_ps(v, _mm256_loadu_ps(r + (size_t)i * ldr + 8 * j));
            _mm256_storeu_ps(c + (size_t)i * ldc + 8 * j, v);
        }
        if (epi == GEMM_EPI_BIAS_GELU)
            for (int j = 0; j < GEMM_NR; j++) c[(size_t)i * ldc + j] = gelu1(c[(size_t)i * ldc + j]);
    }
}

static RAGD_AVX2 void panel_avx2(int mr, int k, const float *apack, const float *b,
                                 const float *bias, float *c, int ldc, gemm_epilogue epi,
                                 const float *r, int ldr) {
    for (int i0 = 0; i0 < mr; i0 += 3) {
        int n = mr - i0 < 3 ? mr - i0 : 3;
        const float *ri = r ? r + (size_t)i0 * ldr : NULL;
        float *ci = c + (size_t)i0 * ldc;
        if (n == 3)
            tile256(3, k, apack + i0, b, bias, ci, ldc, epi, ri, ldr);
        else if (n == 2)
            tile256(2, k, apack + i0, b, bias, ci, ldc, epi, ri, ldr);
        else
            tile256(1, k, apack + i0, b, bias, ci, ldc, epi, ri, ldr);
    }
}


/* ---- AVX2 int16 (GEMM_INT16, no VNNI needed): 5×16 tiles --------------- */

/* Without VNNI the cheapest exact integer product is vpmaddwd: two int16
 * products summed into each int32 lane, 16 multiply-adds per instruction (the
 * fp32 FMA does 8). Weights and activations are both quantised to ±1023:
 * measured on this model, 8-bit weights (sign-extended as read, half the
 * bytes) ran 1.2x faster per question but moved the top-10 of vector search
 * (0.95 overlap with fp32, bench_query_precision); 11 bits each keep it
 * (0.99). vpmaddubsw (u8 × s8, 32 per instruction) saturates its int16 pair
 * sums for 8-bit operands, and the sign trick that avoids it costs the
 * instructions it saves.
 * Registers: 5 rows × 2 accumulators + 2 weight vectors + broadcast + product
 * = 14 of the 16 ymm. */

#define I16_MR 5
/* |a|, |w| <= 1023 over k <= GEMM_MAX_K products stays below 2^31:
 * 1023 · 1023 · 1536 = 1.61e9. */
#define ACT16_MAX 1023
#define W16_MAX 1023
_Static_assert((long long)ACT16_MAX * W16_MAX * GEMM_MAX_K < 2147483647LL,
               "int32 accumulators would overflow");

static inline __attribute__((always_inline)) RAGD_AVX2 void
store_row256(__m256 v, float *c, gemm_epilogue epi, const float *r) {
    if (epi == GEMM_EPI_BIAS_ADD) v = _mm256_add_ps(v, _mm256_loadu_ps(r));
    else if (epi == GEMM_EPI_BIAS_GELU) v = gelu256(v);
    _mm256_storeu_ps(c, v);
}

/* apack: [k/2][MR] words of two int16 activations; b: 16 columns of one
 * panel ([k/2][32][2] int8, already offset to the half). */
static inline __attribute__((always_inline)) RAGD_AVX2 void
tile_i16(const int mr, int kp, const int32_t *apack, const int16_t *b, const float *ascale,
         const float *wscale, const float *bias, float *c, int ldc, gemm_epilogue epi,
         const float *r, int ldr) {
    __m256i acc[I16_MR][2];
#pragma GCC unroll 5
    for (int i = 0; i < I16_MR; i++)
        if (i < mr) acc[i][0] = acc[i][1] = _mm256_setzero_si256();
#if defined(__GNUC__) && !defined(__clang__)
    if (mr >= 4) {
        /* GCC spills this loop's accumulators whatever the source says (2.5x
         * slower), so the 4- and 5-row loops are written out: ymm12/13 the
         * two weight vectors, ymm14 the broadcast, ymm15 the product. */
#define I16_ROW(off, x0, x1)                                                                       \
    "vpbroadcastd " #off "(%[a]), %%ymm14\n\t"                                                     \
    "vpmaddwd %%ymm12, %%ymm14, %%ymm15\n\t"                                                       \
    "vpaddd %%ymm15, %[" #x0 "], %[" #x0 "]\n\t"                                                    \
    "vpmaddwd %%ymm13, %%ymm14, %%ymm14\n\t"                                                       \
    "vpaddd %%ymm14, %[" #x1 "], %[" #x1 "]\n\t"
        _Static_assert(MR * 4 == 56, "the loops below step apack by MR words");
        assert(kp > 0); /* the loops run at least once */
        const int32_t *a = apack;
        const int16_t *w = b;
        int n = kp;
        if (mr == 5)
            __asm__ volatile("1:\n\t"
                             "vmovdqa (%[w]), %%ymm12\n\t"
                             "vmovdqa 32(%[w]), %%ymm13\n\t" I16_ROW(0, c00, c01)
                                 I16_ROW(4, c10, c11) I16_ROW(8, c20, c21) I16_ROW(12, c30, c31)
                                     I16_ROW(16, c40, c41) "add $128, %[w]\n\t"
                             "add $56, %[a]\n\t" /* MR words */
                             "dec %[n]\n\t"
                             "jnz 1b\n\t"
                             : [a] "+r"(a), [w] "+r"(w), [n] "+r"(n), [c00] "+x"(acc[0][0]),
                               [c01] "+x"(acc[0][1]), [c10] "+x"(acc[1][0]), [c11] "+x"(acc[1][1]),
                               [c20] "+x"(acc[2][0]), [c21] "+x"(acc[2][1]), [c30] "+x"(acc[3][0]),
                               [c31] "+x"(acc[3][1]), [c40] "+x"(acc[4][0]), [c41] "+x"(acc[4][1])
                             :
                             : "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
        else
            __asm__ volatile("1:\n\t"
                             "vmovdqa (%[w]), %%ymm12\n\t"
                             "vmovdqa 32(%[w]), %%ymm13\n\t" I16_ROW(0, c00, c01)
                                 I16_ROW(4, c10, c11) I16_ROW(8, c20, c21) I16_ROW(12, c30, c31)
                                     "add $128, %[w]\n\t"
                             "add $56, %[a]\n\t"
                             "dec %[n]\n\t"
                             "jnz 1b\n\t"
                             : [a] "+r"(a), [w] "+r"(w), [n] "+r"(n), [c00] "+x"(acc[0][0]),
                               [c01] "+x"(acc[0][1]), [c10] "+x"(acc[1][0]), [c11] "+x"(acc[1][1]),
                               [c20] "+x"(acc[2][0]), [c21] "+x"(acc[2][1]), [c30] "+x"(acc[3][0]),
                               [c31] "+x"(acc[3][1])
                             :
                             : "xmm12", "xmm13", "xmm14", "xmm15", "memory", "cc");
#undef I16_ROW
    } else
#endif
        for (int p = 0; p < kp; p++) {
            __m256i w0 = _mm256_load_si256((const __m256i *)b);
            __m256i w1 = _mm256_load_si256((const __m256i *)(b + 16));
            b += 2 * GEMM_NR;
#pragma GCC unroll 3
            for (int i = 0; i < 3; i++)
                if (i < mr) {
                    __m256i a = _mm256_set1_epi32(apack[i]);
                    acc[i][0] = _mm256_add_epi32(acc[i][0], _mm256_madd_epi16(a, w0));
                    acc[i][1] = _mm256_add_epi32(acc[i][1], _mm256_madd_epi16(a, w1));
                }
            apack += MR;
        }
    const __m256 ws0 = _mm256_loadu_ps(wscale), ws1 = _mm256_loadu_ps(wscale + 8);
    const __m256 bias0 = _mm256_loadu_ps(bias), bias1 = _mm256_loadu_ps(bias + 8);
#pragma GCC unroll 5
    for (int i = 0; i < I16_MR; i++)
        if (i < mr) {
            __m256 sa = _mm256_set1_ps(ascale[i]);
            __m256 v0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][0]), _mm256_mul_ps(sa, ws0), bias0);
            __m256 v1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(acc[i][1]), _mm256_mul_ps(sa, ws1), bias1);
            float *ci = c + (size_t)i * ldc;
            const float *ri = r ? r + (size_t)i * ldr : NULL;
            store_row256(v0, ci, epi, ri);
            store_row256(v1, ci + 8, epi, ri ? ri + 8 : NULL);
        }
}

/* One 32-column panel over mr <= MR rows: two 16-column halves, rows by fives. */
static RAGD_AVX2 void panel_i16(int mr, int kp, const int32_t *apack, const int16_t *b,
                                const float *ascale, const float *wscale, const float *bias,
                                float *c, int ldc, gemm_epilogue epi, const float *r, int ldr) {
    for (int half = 0; half < 2; half++) {
        const int16_t *bh = b + 2 * 16 * half; /* 16 columns × 2 depths */
        for (int i0 = 0; i0 < mr; i0 += I16_MR) {
            int n = mr - i0 < I16_MR ? mr - i0 : I16_MR;
            const int32_t *ap = apack + i0;
            const float *as = ascale + i0, *ws = wscale + 16 * half, *bs = bias + 16 * half;
            float *ci = c + (size_t)i0 * ldc + 16 * half;
            const float *ri = r ? r + (size_t)i0 * ldr + 16 * half : NULL;
            switch (n) {
#define ARGS kp, ap, bh, as, ws, bs, ci, ldc, epi, ri, ldr
            case 1: tile_i16(1, ARGS); break;
            case 2: tile_i16(2, ARGS); break;
            case 3: tile_i16(3, ARGS); break;
            case 4: tile_i16(4, ARGS); break;
            case 5: tile_i16(5, ARGS); break;
#undef ARGS
            }
        }
    }
}
#endif

/* ---- dispatch ----------------------------------------------------------- */

static struct {
    pthread_once_t once;
    panel_fn panel;
    const char *name;
    bool avx512;
    bool vnni; /* GEMM_INT8's kernel */
    bool avx2; /* GEMM_INT16's */
} isa = {.once = PTHREAD_ONCE_INIT};

static void detect(void) {
    isa.panel = panel_portable;
    isa.name = "portable";
#if defined(__x86_64__)
    __builtin_cpu_init();
    if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512dq")) {
        isa.panel = panel_avx512;
        isa.name = "avx512";
        isa.avx512 = true;
    } else if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        isa.panel = panel_avx2;
        isa.name = "avx2";
    }
    isa.vnni = isa.avx512 && __builtin_cpu_supports("avx512bw") &&
               __builtin_cpu_supports("avx512vnni");
    isa.avx2 = __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
#endif
    /* OpenBLAS is called from our own threads, one product slice each. */
    openblas_set_num_threads(1);
}

const char *gemm_own_kernel_name(void) {
    pthread_once(&isa.once, detect);
    return isa.name;
}

int gemm_force_kernel(const char *name) {
    pthread_once(&isa.once, detect);
    if (!strcmp(name, "portable")) {
        isa.panel = panel_portable;
        isa.name = "portable";
        return 0;
    }
#if defined(__x86_64__)
    if (!strcmp(name, "avx2") && __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) {
        isa.panel = panel_avx2;
        isa.name = "avx2";
        return 0;
    }
    if (!strcmp(name, "avx512") && __builtin_cpu_supports("avx512f") &&
        __builtin_cpu_supports("avx512dq")) {
        isa.panel = panel_avx512;
        isa.name = "avx512";
        return 0;
    }
#endif
    return -1;
}

gemm_backend gemm_default_backend(void) {
    pthread_once(&isa.once, detect);
    /* bench/encode: our AVX-512 kernel beats OpenBLAS on every shape of this
     * model; without AVX-512 OpenBLAS's tuned kernels are the safer choice. */
    return isa.avx512 ? GEMM_OWN : GEMM_OPENBLAS;
}

const char *gemm_backend_name(gemm_backend b) {
    switch (b) {
    case GEMM_OWN: return "own";
    case GEMM_OPENBLAS: return "openblas";
    case GEMM_INT8: return "int8";
    case GEMM_INT16: return "int16";
    default: return "auto";
    }
}

#if defined(__x86_64__)
static RAGD_AVX2 void gelu_avx2(float *x, int n) {
    int i = 0;
    for (; i + 8 <= n; i += 8) _mm256_storeu_ps(x + i, gelu256(_mm256_loadu_ps(x + i)));
    for (; i < n; i++) x[i] = gelu1(x[i]);
}
#endif

void gelu_inplace(float *x, int n) {
    pthread_once(&isa.once, detect);
#if defined(__x86_64__)
    if (isa.avx512) {
        gelu_avx512(x, n);
        return;
    }
    if (isa.avx2) {
        gelu_avx2(x, n);
        return;
    }
#endif
    for (int i = 0; i < n; i++) x[i] = gelu1(x[i]);
}

/* ---- matrices and tiles -------------------------------------------------- */

bool gemm_int8_supported(void) {
    pthread_once(&isa.once, detect);
    return isa.vnni;
}

bool gemm_int16_supported(void) {
    pthread_once(&isa.once, detect);
    return isa.avx2;
}

/* Where weight (column j, depth p) goes in the integer panels: groups of
 * `group` depths per column (4 for vpdpbusd, 2 for vpmaddwd). */
static size_t quant_index(int k, int j, int p, int group) {
    size_t panel = (size_t)(j / GEMM_NR) * GEMM_NR * (size_t)k;
    int col = j % GEMM_NR;
    return panel + (size_t)(p / group) * group * GEMM_NR + (size_t)col * group + (size_t)(p % group);
}

/* Per output column: max-abs scale to ±qmax, rounded; into q8 (with its sums,
 * for VNNI's unsigned-activation offset) or q16. */
static void quantise_weights(gemm_matrix *m, float qmax, bool to_int8) {
    int n = m->n, k = m->k;
    float *scales = xmalloc((size_t)n * sizeof(float));
    if (to_int8) m->q8_sum = xmalloc((size_t)n * sizeof(int32_t));
    for (int j = 0; j < n; j++) {
        const float *w = m->w + (size_t)j * k;
        float amax = 0;
        for (int p = 0; p < k; p++) amax = fmaxf(amax, fabsf(w[p]));
        float scale = amax > 0 ? amax / qmax : 1.0f;
        scales[j] = scale;
        int32_t sum = 0;
        for (int p = 0; p < k; p++) {
            int q = (int)lrintf(w[p] / scale);
            sum += q;
            if (to_int8) m->q8[quant_index(k, j, p, 4)] = (int8_t)q;
            else m->q16[quant_index(k, j, p, 2)] = (int16_t)q;
        }
        if (to_int8) m->q8_sum[j] = sum;
    }
    if (to_int8) m->q8_scale = scales;
    else m->q16_scale = scales;
}

/* The integer tiles read 16 activations at a time. */
static bool quantisable(const gemm_matrix *m) { return m->k % 16 == 0 && m->k <= GEMM_MAX_K; }

void gemm_matrix_prepare_int8(gemm_matrix *m) {
    if (!gemm_int8_supported() || m->q8 || !quantisable(m)) return;
    m->q8 = aligned_alloc(64, ((size_t)m->n * m->k + 63) & ~(size_t)63);
    if (!m->q8) abort();
    quantise_weights(m, 127.0f, true);
}

void gemm_matrix_prepare_int16(gemm_matrix *m) {
    if (!gemm_int16_supported() || m->q16 || !quantisable(m)) return;
    m->q16 = aligned_alloc(64, ((size_t)m->n * m->k * sizeof(int16_t) + 63) & ~(size_t)63);
    if (!m->q16) abort();
    quantise_weights(m, W16_MAX, false);
}

void gemm_matrix_init(gemm_matrix *m, const float *w, const float *bias, int n, int k) {
    pthread_once(&isa.once, detect);
    m->n = n;
    m->k = k;
    m->w = w;
    m->bias = bias;
    m->q8 = NULL;
    m->q16 = NULL;
    m->q8_scale = NULL;
    m->q16_scale = NULL;
    m->q8_sum = NULL;
    m->packed = NULL;
}

void gemm_matrix_prepare_own(gemm_matrix *m) {
    if (m->packed) return;
    int n = m->n, k = m->k;
    const float *w = m->w;
    size_t bytes = (size_t)n * (size_t)k * sizeof(float);
    m->packed = aligned_alloc(64, (bytes + 63) & ~(size_t)63);
    if (!m->packed) abort(); /* as xmalloc: out of memory is fatal */
    for (int p0 = 0; p0 < n; p0 += GEMM_NR) {
        float *dst = m->packed + (size_t)p0 * k;
        for (int kk = 0; kk < k; kk++)
            for (int j = 0; j < GEMM_NR; j++) dst[(size_t)kk * GEMM_NR + j] = w[(size_t)(p0 + j) * k + kk];
    }
}

void gemm_matrix_free(gemm_matrix *m) {
    free(m->packed);
    free(m->q8);
    free(m->q16);
    free(m->q16_scale);
    free(m->q8_scale);
    free(m->q8_sum);
    m->packed = NULL;
    m->q8 = NULL;
    m->q16 = NULL;
    m->q16_scale = NULL;
    m->q8_scale = NULL;
    m->q8_sum = NULL;
}

#if defined(__x86_64__)
/* Rows quantised per row (max-abs / 127, rounded), stored as a + 128 so that
 * vpdpbusd's unsigned operand holds them. */
static RAGD_VNNI void int8_tile(const gemm_matrix *W, const float *A, int lda, int m0, int m1,
                                int n0, int n1, float *C, int ldc, gemm_epilogue epi,
                                const float *R, int ldr) {
    int k = W->k, kq = k / 4;
    int32_t apack[MR * GEMM_MAX_K / 4] __attribute__((aligned(64)));
    float ascale[MR];
    for (int i0 = m0; i0 < m1; i0 += MR) {
        int mr = m1 - i0 < MR ? m1 - i0 : MR;
        for (int i = 0; i < mr; i++) {
            const float *a = A + (size_t)(i0 + i) * lda;
            __m512 vmax = _mm512_setzero_ps();
            for (int p = 0; p < k; p += 16) vmax = _mm512_max_ps(vmax, _mm512_abs_ps(_mm512_loadu_ps(a + p)));
            float amax = _mm512_reduce_max_ps(vmax);
            float scale = amax > 0 ? amax / 127.0f : 1.0f;
            ascale[i] = scale;
            const __m512 inv = _mm512_set1_ps(1.0f / scale);
            for (int p = 0; p < k; p += 16) {
                __m512i q = _mm512_cvtps_epi32(_mm512_mul_ps(_mm512_loadu_ps(a + p), inv));
                q = _mm512_add_epi32(_mm512_max_epi32(_mm512_min_epi32(q, _mm512_set1_epi32(127)),
                                                      _mm512_set1_epi32(-127)),
                                     _mm512_set1_epi32(128));
                __m128i bytes = _mm512_cvtepi32_epi8(q); /* 16 bytes = 4 words of 4 k */
                int32_t words[4];
                _mm_storeu_si128((__m128i *)words, bytes);
                for (int w = 0; w < 4; w++) apack[(p / 4 + w) * MR + i] = words[w];
            }
        }
        for (int j0 = n0; j0 < n1; j0 += GEMM_NR)
            panel_vnni(mr, kq, apack, W->q8 + (size_t)j0 * k, ascale, W->q8_scale + j0,
                       W->q8_sum + j0, W->bias + j0, C + (size_t)i0 * ldc + j0, ldc, epi,
                       epi == GEMM_EPI_BIAS_ADD ? R + (size_t)i0 * ldr + j0 : NULL, ldr);
    }
}

/* Rows quantised per row to int16 (max-abs / ACT16_MAX, rounded), two depths
 * per 32-bit word as vpmaddwd pairs them. */
static RAGD_AVX2 void int16_tile(const gemm_matrix *W, const float *A, int lda, int m0, int m1,
                                 int n0, int n1, float *C, int ldc, gemm_epilogue epi,
                                 const float *R, int ldr) {
    int k = W->k, kp = k / 2;
    int32_t apack[MR * GEMM_MAX_K / 2] __attribute__((aligned(32)));
    float ascale[MR];
    const __m256 sign = _mm256_set1_ps(-0.0f);
    for (int i0 = m0; i0 < m1; i0 += MR) {
        int mr = m1 - i0 < MR ? m1 - i0 : MR;
        for (int i = 0; i < mr; i++) {
            const float *a = A + (size_t)(i0 + i) * lda;
            __m256 vmax = _mm256_setzero_ps();
            for (int p = 0; p < k; p += 8)
                vmax = _mm256_max_ps(vmax, _mm256_andnot_ps(sign, _mm256_loadu_ps(a + p)));
            float lanes[8];
            _mm256_storeu_ps(lanes, vmax);
            float amax = 0;
            for (int l = 0; l < 8; l++) amax = fmaxf(amax, lanes[l]);
            float scale = amax > 0 ? amax / ACT16_MAX : 1.0f;
            ascale[i] = scale;
            const __m256 inv = _mm256_set1_ps(1.0f / scale);
            for (int p = 0; p < k; p += 16) {
                __m256i q0 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + p), inv));
                __m256i q1 = _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + p + 8), inv));
                /* packs works per 128-bit lane: restore depth order after it */
                __m256i q = _mm256_permute4x64_epi64(_mm256_packs_epi32(q0, q1), 0xD8);
                int32_t words[8];
                _mm256_storeu_si256((__m256i *)words, q);
                for (int w = 0; w < 8; w++) apack[(p / 2 + w) * MR + i] = words[w];
            }
        }
        for (int j0 = n0; j0 < n1; j0 += GEMM_NR)
            panel_i16(mr, kp, apack, W->q16 + (size_t)j0 * k, ascale, W->q16_scale + j0,
                      W->bias + j0, C + (size_t)i0 * ldc + j0, ldc, epi,
                      epi == GEMM_EPI_BIAS_ADD ? R + (size_t)i0 * ldr + j0 : NULL, ldr);
    }
}
#endif

static void own_tile(const gemm_matrix *W, const float *A, int lda, int m0, int m1, int n0, int n1,
                     float *C, int ldc, gemm_epilogue epi, const float *R, int ldr) {
    assert(W->packed); /* gemm_matrix_prepare_own ran */
    int k = W->k;
    /* One transposed 14-row block of A at a time, on the stack (84 KB at
     * GEMM_MAX_K: it stays in L1/L2 while the panels sweep over it). */
    float apack[MR * GEMM_MAX_K] __attribute__((aligned(64)));
    for (int i0 = m0; i0 < m1; i0 += MR) {
        int mr = m1 - i0 < MR ? m1 - i0 : MR;
        for (int i = 0; i < mr; i++) {
            const float *a = A + (size_t)(i0 + i) * lda;
            for (int p = 0; p < k; p++) apack[p * MR + i] = a[p];
        }
        for (int j0 = n0; j0 < n1; j0 += GEMM_NR)
            isa.panel(mr, k, apack, W->packed + (size_t)j0 * k, W->bias + j0,
                      C + (size_t)i0 * ldc + j0, ldc, epi,
                      epi == GEMM_EPI_BIAS_ADD ? R + (size_t)i0 * ldr + j0 : NULL, ldr);
    }
}

static void openblas_tile(const gemm_matrix *W, const float *A, int lda, int m0, int m1, int n0,
                          int n1, float *C, int ldc, gemm_epilogue epi, const float *R, int ldr) {
    int m = m1 - m0, n = n1 - n0;
    float *c = C + (size_t)m0 * ldc + n0;
    /* With a residual, C may alias R: fold R into C first, then accumulate
     * the product onto it (beta = 1). */
    float beta = 0.0f;
    if (epi == GEMM_EPI_BIAS_ADD) {
        for (int i = 0; i < m; i++) {
            const float *r = R + (size_t)(m0 + i) * ldr + n0;
            float *ci = c + (size_t)i * ldc;
            for (int j = 0; j < n; j++) ci[j] = r[j] + W->bias[n0 + j];
        }
        beta = 1.0f;
    }
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, m, n, W->k, 1.0f, A + (size_t)m0 * lda,
                lda, W->w + (size_t)n0 * W->k, W->k, beta, c, ldc);
    if (epi == GEMM_EPI_BIAS_ADD) return;
    for (int i = 0; i < m; i++) {
        float *ci = c + (size_t)i * ldc;
        for (int j = 0; j < n; j++) ci[j] += W->bias[n0 + j];
        if (epi == GEMM_EPI_BIAS_GELU) gelu_inplace(ci, n);
    }
}

void gemm_tile(gemm_backend backend, const gemm_matrix *W, const float *A, int lda, int m0, int m1,
               int n0, int n1, float *C, int ldc, gemm_epilogue epi, const float *R, int ldr) {
    pthread_once(&isa.once, detect);
    if (m1 <= m0 || n1 <= n0) return;
    if (backend == GEMM_AUTO) backend = gemm_default_backend();
    if (backend == GEMM_OPENBLAS)
        openblas_tile(W, A, lda, m0, m1, n0, n1, C, ldc, epi, R, ldr);
#if defined(__x86_64__)
    else if (backend == GEMM_INT8 && W->q8)
        int8_tile(W, A, lda, m0, m1, n0, n1, C, ldc, epi, R, ldr);
    else if (backend == GEMM_INT16 && W->q16)
        int16_tile(W, A, lda, m0, m1, n0, n1, C, ldc, epi, R, ldr);
#endif
    else
        own_tile(W, A, lda, m0, m1, n0, n1, C, ldc, epi, R, ldr);
}
