/* The AVX512-VNNI kernel of gemm_int8: a panel's quad (16 columns x 4 bytes of k) is one zmm,
 * and vpdpbusd adds each column's 4 u8 x s8 products straight into its int32 lane, where AVX2
 * needs vpmaddubsw, vpmaddwd and vpaddd. A tile is up to 12 rows by two panels: 24 zmm
 * accumulators, two for the panels' quads, one for the broadcast row bytes. */
#include "kernels/gemm_int8_internal.h"

#include <string.h>

#include "kernels/gemm_epilogue_simd512.h"
#include "kernels/simd_math512.h"

#define SIMD_VNNI __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx512vnni,avx2,fma")))

enum { MR = 12 };

/* Rows i .. i + R - 1 by the 16P columns of panels p, p + 1: the whole of K. */
SIMD_VNNI static inline __attribute__((always_inline)) void vnni_tile(const int R, const int P,
                                                                    const int8_job *j, int i,
                                                                    int p)
{
    const gemm_int8_weight *w = j->w;
    size_t panel_bytes = (size_t)((w->K + 3) / 4) * 64;
    int quads = (w->K + 3) / 4;
    const int8_t *b = w->packed + (size_t)p * panel_bytes;
    const uint8_t *a = j->q + (size_t)i * j->ldq;
    __m512i acc[MR][2];
#pragma GCC unroll 12
    for (int r = 0; r < R; r++)
        acc[r][0] = acc[r][1] = _mm512_setzero_si512();
    for (int k = 0; k < quads; k++, b += 64) {
        __m512i b0 = _mm512_load_si512((const void *)b);
        __m512i b1 = P > 1 ? _mm512_load_si512((const void *)(b + panel_bytes)) : b0;
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            int32_t four;
            memcpy(&four, a + (size_t)r * j->ldq + 4 * (size_t)k, 4);
            __m512i x = _mm512_set1_epi32(four);
            acc[r][0] = _mm512_dpbusd_epi32(acc[r][0], x, b0);
            if (P > 1)
                acc[r][1] = _mm512_dpbusd_epi32(acc[r][1], x, b1);
        }
    }
    int n0 = p * GEMM_INT8_NR;
    int cols = w->N - n0 < P * GEMM_INT8_NR ? w->N - n0 : P * GEMM_INT8_NR;
    __mmask16 mask[2] = {simd512_tail_mask(cols), simd512_tail_mask(cols - GEMM_INT8_NR)};
    __m512i sum[2];
    __m512 ws[2], bias[2];
    for (int h = 0; h < P; h++) {
        /* scale and column_sum are padded to whole panels */
        sum[h] = _mm512_loadu_si512((const void *)(w->column_sum + n0 + 16 * h));
        ws[h] = _mm512_loadu_ps(w->scale + n0 + 16 * h);
        bias[h] = j->bias ? _mm512_maskz_loadu_ps(mask[h], j->bias + n0 + 16 * h)
                          : _mm512_setzero_ps();
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++) {
        __m512i z = _mm512_set1_epi32(j->zero[i + r]);
        __m512 t = _mm512_set1_ps(j->scale[i + r]);
        float *c = j->C + (size_t)(i + r) * j->ldc + n0;
        for (int h = 0; h < P; h++) {
            __m512i corrected = _mm512_sub_epi32(acc[r][h], _mm512_mullo_epi32(z, sum[h]));
            __m512 v = _mm512_fmadd_ps(_mm512_cvtepi32_ps(corrected), _mm512_mul_ps(t, ws[h]),
                                       bias[h]);
            _mm512_mask_storeu_ps(c + 16 * h, mask[h], gemm_epilogue_simd512(j->epilogue, v));
        }
    }
}

#define VNNI_ROWS(P)                                                                           \
    SIMD_VNNI static void vnni_rows_##P(int rows, const int8_job *j, int i, int p)             \
    {                                                                                          \
        switch (rows) {                                                                        \
        case 12: vnni_tile(12, P, j, i, p); break;                                             \
        case 11: vnni_tile(11, P, j, i, p); break;                                             \
        case 10: vnni_tile(10, P, j, i, p); break;                                             \
        case 9: vnni_tile(9, P, j, i, p); break;                                               \
        case 8: vnni_tile(8, P, j, i, p); break;                                               \
        case 7: vnni_tile(7, P, j, i, p); break;                                               \
        case 6: vnni_tile(6, P, j, i, p); break;                                               \
        case 5: vnni_tile(5, P, j, i, p); break;                                               \
        case 4: vnni_tile(4, P, j, i, p); break;                                               \
        case 3: vnni_tile(3, P, j, i, p); break;                                               \
        case 2: vnni_tile(2, P, j, i, p); break;                                               \
        default: vnni_tile(1, P, j, i, p); break;                                              \
        }                                                                                      \
    }
VNNI_ROWS(1)
VNNI_ROWS(2)

SIMD_VNNI void int8_task_vnni(const int8_job *j, int m0, int m1, int p0, int p1)
{
    for (int p = p0; p < p1; p += 2)
        for (int i = m0; i < m1; i += MR) {
            int rows = m1 - i < MR ? m1 - i : MR;
            if (p + 1 < p1)
                vnni_rows_2(rows, j, i, p);
            else
                vnni_rows_1(rows, j, i, p);
        }
}
