#include "kernels/gemm_packed.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "kernels/gemm_epilogue_simd.h"
#include "kernels/gemm_packed_internal.h"
#include "kernels/gemm_tasks.h"
#include "kernels/simd_math.h"

/* Register block: GEMM_MR rows of C by GEMM_NR columns (two 8-float vectors), 12 of the 16
 * ymm registers as accumulators. */
enum { GEMM_MR = 6 };

size_t gemm_packed_floats(int N, int K)
{
    return (size_t)((N + GEMM_NR - 1) / GEMM_NR) * GEMM_NR * (size_t)K;
}

void gemm_pack_weight(float *packed, const float *W, int N, int K)
{
    int panels = (N + GEMM_NR - 1) / GEMM_NR;
#pragma omp parallel for schedule(static) if ((long)N * K >= (1L << 16))
    for (int p = 0; p < panels; p++) {
        float *dst = packed + (size_t)p * GEMM_NR * (size_t)K;
        for (int k = 0; k < K; k++)
            for (int j = 0; j < GEMM_NR; j++) {
                int n = p * GEMM_NR + j;
                dst[(size_t)k * GEMM_NR + j] = n < N ? W[(size_t)n * K + k] : 0.0f;
            }
    }
}

void gemm_packed_reference(float *C, int ldc, const float *A, int lda, const float *packed,
                           int M, int N, int K, const float *bias, gemm_epilogue epilogue,
                           bool accumulate)
{
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) {
            const float *panel = packed + (size_t)(n / GEMM_NR) * GEMM_NR * (size_t)K;
            double sum = accumulate ? C[(size_t)i * ldc + n] : bias ? bias[n] : 0.0;
            for (int k = 0; k < K; k++)
                sum += (double)A[(size_t)i * lda + k] * panel[(size_t)k * GEMM_NR + n % GEMM_NR];
            float value = (float)sum;
            if (epilogue != GEMM_EPILOGUE_NONE)
                activation_forward_reference((activation_kind)(epilogue - 1), &value, &value, 1);
            C[(size_t)i * ldc + n] = value;
        }
}

typedef struct tile_args {
    const float *a; /* the tile's first row of A at the block's first k */
    int lda;
    const float *b; /* the panel at the block's first k */
    int kc;
    float *c;
    int ldc, cols;           /* columns of C this panel covers (16 except the last) */
    const float *start;      /* NULL: start from C (accumulate) or zero; else the bias */
    bool from_c, finish;     /* finish: the block is K's last, apply the epilogue */
    gemm_epilogue epilogue;
} tile_args;

/* One R x 16 tile over one K block. R is a constant after inlining, so the accumulators
 * stay in registers. */
SIMD_AVX2 static inline __attribute__((always_inline)) void tile_kernel(const int R,
                                                                      const bool prefetch,
                                                                      const tile_args *t)
{
    __m256 acc0[GEMM_MR], acc1[GEMM_MR];
    __m256i mask0 = simd_tail_mask(t->cols < 8 ? t->cols : 8);
    __m256i mask1 = simd_tail_mask(t->cols > 8 ? t->cols - 8 : 0);
    bool full = t->cols == GEMM_NR;
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        if (t->from_c) {
            const float *c = t->c + (size_t)r * t->ldc;
            acc0[r] = full ? _mm256_loadu_ps(c) : _mm256_maskload_ps(c, mask0);
            acc1[r] = full ? _mm256_loadu_ps(c + 8) : _mm256_maskload_ps(c + 8, mask1);
        } else if (t->start) {
            acc0[r] = full ? _mm256_loadu_ps(t->start) : _mm256_maskload_ps(t->start, mask0);
            acc1[r] = full ? _mm256_loadu_ps(t->start + 8)
                           : _mm256_maskload_ps(t->start + 8, mask1);
        } else {
            acc0[r] = _mm256_setzero_ps();
            acc1[r] = _mm256_setzero_ps();
        }
    }
    const float *a = t->a, *b = t->b;
    size_t lda = (size_t)t->lda;
    int kc = t->kc;
#pragma GCC unroll 4
    for (int k = 0; k < kc; k++, b += GEMM_NR) {
        if (prefetch)
            _mm_prefetch((const char *)(b + GEMM_PREFETCH_FLOATS), _MM_HINT_T0);
        __m256 b0 = _mm256_load_ps(b), b1 = _mm256_load_ps(b + 8);
#pragma GCC unroll 6
        for (int r = 0; r < R; r++) {
            __m256 x = _mm256_broadcast_ss(a + (size_t)r * lda + k);
            acc0[r] = _mm256_fmadd_ps(x, b0, acc0[r]);
            acc1[r] = _mm256_fmadd_ps(x, b1, acc1[r]);
        }
    }
#pragma GCC unroll 6
    for (int r = 0; r < R; r++) {
        __m256 v0 = acc0[r], v1 = acc1[r];
        if (t->finish) {
            v0 = gemm_epilogue_simd(t->epilogue, v0);
            v1 = gemm_epilogue_simd(t->epilogue, v1);
        }
        float *c = t->c + (size_t)r * t->ldc;
        if (full) {
            _mm256_storeu_ps(c, v0);
            _mm256_storeu_ps(c + 8, v1);
        } else {
            _mm256_maskstore_ps(c, mask0, v0);
            _mm256_maskstore_ps(c + 8, mask1, v1);
        }
    }
}

SIMD_AVX2 static void tile_rows(int rows, bool first, const tile_args *t)
{
    if (first && rows == GEMM_MR) {
        tile_kernel(GEMM_MR, true, t);
        return;
    }
    switch (rows) {
    case 6: tile_kernel(6, false, t); break;
    case 5: tile_kernel(5, false, t); break;
    case 4: tile_kernel(4, false, t); break;
    case 3: tile_kernel(3, false, t); break;
    case 2: tile_kernel(2, false, t); break;
    default: tile_kernel(1, false, t); break;
    }
}

/* Rows [m0, m1) by panels [p0, p1): every K block, so the tile's epilogue sees its sum. */
SIMD_AVX2 static void gemm_task(const gemm_job *j, int m0, int m1, int p0, int p1)
{
    for (int k0 = 0; k0 < j->K; k0 += GEMM_KC) {
        int kc = j->K - k0 < GEMM_KC ? j->K - k0 : GEMM_KC;
        for (int p = p0; p < p1; p++) {
            int n0 = p * GEMM_NR;
            tile_args t = {
                .lda = j->lda,
                .b = j->packed + (size_t)p * GEMM_NR * (size_t)j->K + (size_t)k0 * GEMM_NR,
                .kc = kc,
                .ldc = j->ldc,
                .cols = j->N - n0 < GEMM_NR ? j->N - n0 : GEMM_NR,
                .start = k0 == 0 && !j->accumulate && j->bias ? j->bias + n0 : NULL,
                .from_c = k0 > 0 || j->accumulate,
                .finish = k0 + kc == j->K,
                .epilogue = j->epilogue,
            };
            for (int i = m0; i < m1; i += GEMM_MR) {
                t.a = j->A + (size_t)i * (size_t)j->lda + (size_t)k0;
                t.c = j->C + (size_t)i * (size_t)j->ldc + n0;
                tile_rows(m1 - i < GEMM_MR ? m1 - i : GEMM_MR, i == m0, &t);
            }
        }
    }
}

/* Tasks of GEMM_MC rows by 8 panels (gemm_tasks.h), on either path. */
enum { GEMM_PANELS_PER_TASK = 8, GEMM_PARALLEL_MIN_FLOPS = 1 << 21 };

/* The path gemm_packed_using runs for path: AVX-512 or AVX2 where asked for and supported,
 * else the reference. */
static kernel_path gemm_packed_path(kernel_path path)
{
    if (path == KERNEL_PATH_AVX512 && kernel_path_supported(KERNEL_PATH_AVX512))
        return KERNEL_PATH_AVX512;
    return kernel_path_or_generic(path);
}

void gemm_packed_using(kernel_path path, float *C, int ldc, const float *A, int lda,
                       const float *packed, int M, int N, int K, const float *bias,
                       gemm_epilogue epilogue, bool accumulate)
{
    if (M <= 0 || N <= 0)
        return;
    path = gemm_packed_path(path);
    /* an empty product is C = bias (or C), then the epilogue */
    if (K <= 0 || path == KERNEL_PATH_GENERIC) {
        gemm_packed_reference(C, ldc, A, lda, packed, M, N, K > 0 ? K : 0, bias, epilogue,
                              accumulate);
        return;
    }
    gemm_job j = {C, ldc, A, lda, packed, M, N, K, bias, epilogue, accumulate};
    gemm_tasks plan = gemm_tasks_plan(M, GEMM_MC, (N + GEMM_NR - 1) / GEMM_NR,
                                      GEMM_PANELS_PER_TASK);
    bool parallel = (double)M * N * K >= GEMM_PARALLEL_MIN_FLOPS && plan.count > 1 &&
                    !omp_in_parallel();
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (int task = 0; task < plan.count; task++) {
        int m0, m1, p0, p1;
        gemm_task_bounds(&plan, task, &m0, &m1, &p0, &p1);
        if (path == KERNEL_PATH_AVX512)
            gemm_task_avx512(&j, m0, m1, p0, p1);
        else
            gemm_task(&j, m0, m1, p0, p1);
    }
}

void gemm_packed(float *C, int ldc, const float *A, int lda, const float *packed, int M, int N,
                 int K, const float *bias, gemm_epilogue epilogue, bool accumulate)
{
    gemm_packed_using(kernel_path_best_gemm(), C, ldc, A, lda, packed, M, N, K, bias, epilogue,
                      accumulate);
}
