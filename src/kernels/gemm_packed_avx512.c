/* The AVX-512 kernel of gemm_packed: a panel of GEMM_NR = 16 columns is one zmm register, and
 * a tile is up to 12 rows by two panels (24 of the 32 registers accumulate, two hold the
 * panels' rows of W, one the broadcast of A): per k, 2 loads and 12 broadcasts feed 24 FMAs,
 * where a one-panel tile would need 15 loads for 14 FMAs and leave the load ports the limit. */
#include "kernels/gemm_packed_internal.h"

#include "kernels/gemm_epilogue_simd512.h"
#include "kernels/simd_math512.h"

enum { MR = 12 };

typedef struct tile_args {
    const float *a; /* the tile's first row of A at the block's first k */
    int lda;
    const float *b;        /* the first panel at the block's first k */
    size_t panel_floats;   /* from one panel to the next */
    int kc;
    float *c;
    int ldc, cols;         /* columns of C the tile covers: up to 16 per panel */
    const float *start;    /* NULL: start from C (accumulate) or zero; else the bias */
    bool from_c, finish;   /* finish: the block is K's last, apply the epilogue */
    gemm_epilogue epilogue;
} tile_args;

/* One R x 16P tile over one K block. R and P are constants after inlining, so the
 * accumulators stay in registers. */
SIMD_AVX512 static inline __attribute__((always_inline)) void tile_kernel(const int R,
                                                                        const int P,
                                                                        const bool prefetch,
                                                                        const tile_args *t)
{
    __m512 acc[MR][2];
    __mmask16 mask[2] = {simd512_tail_mask(t->cols), simd512_tail_mask(t->cols - GEMM_NR)};
#pragma GCC unroll 12
    for (int r = 0; r < R; r++)
        for (int p = 0; p < P; p++) {
            if (t->from_c)
                acc[r][p] = _mm512_maskz_loadu_ps(mask[p], t->c + (size_t)r * t->ldc + 16 * p);
            else if (t->start)
                acc[r][p] = _mm512_maskz_loadu_ps(mask[p], t->start + 16 * p);
            else
                acc[r][p] = _mm512_setzero_ps();
        }
    const float *a = t->a, *b = t->b;
    size_t lda = (size_t)t->lda, next = t->panel_floats;
    int kc = t->kc;
#pragma GCC unroll 2
    for (int k = 0; k < kc; k++, b += GEMM_NR) {
        if (prefetch)
            for (int p = 0; p < P; p++)
                _mm_prefetch((const char *)(b + p * next + GEMM_PREFETCH_FLOATS), _MM_HINT_T0);
        __m512 w0 = _mm512_load_ps(b), w1 = P > 1 ? _mm512_load_ps(b + next) : w0;
#pragma GCC unroll 12
        for (int r = 0; r < R; r++) {
            __m512 x = _mm512_set1_ps(a[(size_t)r * lda + k]);
            acc[r][0] = _mm512_fmadd_ps(x, w0, acc[r][0]);
            if (P > 1)
                acc[r][1] = _mm512_fmadd_ps(x, w1, acc[r][1]);
        }
    }
#pragma GCC unroll 12
    for (int r = 0; r < R; r++)
        for (int p = 0; p < P; p++) {
            __m512 v = acc[r][p];
            if (t->finish)
                v = gemm_epilogue_simd512(t->epilogue, v);
            _mm512_mask_storeu_ps(t->c + (size_t)r * t->ldc + 16 * p, mask[p], v);
        }
}

/* Instances for every row count: the first tile of a panel block prefetches. */
#define TILE_ROWS(P)                                                                           \
    SIMD_AVX512 static void tile_rows_##P(int rows, bool first, const tile_args *t)           \
    {                                                                                          \
        if (first && rows == MR) {                                                             \
            tile_kernel(MR, P, true, t);                                                       \
            return;                                                                            \
        }                                                                                      \
        switch (rows) {                                                                        \
        case 12: tile_kernel(12, P, false, t); break;                                          \
        case 11: tile_kernel(11, P, false, t); break;                                          \
        case 10: tile_kernel(10, P, false, t); break;                                          \
        case 9: tile_kernel(9, P, false, t); break;                                            \
        case 8: tile_kernel(8, P, false, t); break;                                            \
        case 7: tile_kernel(7, P, false, t); break;                                            \
        case 6: tile_kernel(6, P, false, t); break;                                            \
        case 5: tile_kernel(5, P, false, t); break;                                            \
        case 4: tile_kernel(4, P, false, t); break;                                            \
        case 3: tile_kernel(3, P, false, t); break;                                            \
        case 2: tile_kernel(2, P, false, t); break;                                            \
        default: tile_kernel(1, P, false, t); break;                                           \
        }                                                                                      \
    }
TILE_ROWS(1)
TILE_ROWS(2)

SIMD_AVX512 void gemm_task_avx512(const gemm_job *j, int m0, int m1, int p0, int p1)
{
    size_t panel_floats = (size_t)GEMM_NR * (size_t)j->K;
    for (int k0 = 0; k0 < j->K; k0 += GEMM_KC) {
        int kc = j->K - k0 < GEMM_KC ? j->K - k0 : GEMM_KC;
        for (int p = p0; p < p1; p += 2) {
            int P = p + 1 < p1 ? 2 : 1, n0 = p * GEMM_NR;
            tile_args t = {
                .lda = j->lda,
                .b = j->packed + (size_t)p * panel_floats + (size_t)k0 * GEMM_NR,
                .panel_floats = panel_floats,
                .kc = kc,
                .ldc = j->ldc,
                .cols = j->N - n0 < P * GEMM_NR ? j->N - n0 : P * GEMM_NR,
                .start = k0 == 0 && !j->accumulate && j->bias ? j->bias + n0 : NULL,
                .from_c = k0 > 0 || j->accumulate,
                .finish = k0 + kc == j->K,
                .epilogue = j->epilogue,
            };
            for (int i = m0; i < m1; i += MR) {
                t.a = j->A + (size_t)i * (size_t)j->lda + (size_t)k0;
                t.c = j->C + (size_t)i * (size_t)j->ldc + n0;
                int rows = m1 - i < MR ? m1 - i : MR;
                if (P == 2)
                    tile_rows_2(rows, i == m0, &t);
                else
                    tile_rows_1(rows, i == m0, &t);
            }
        }
    }
}
