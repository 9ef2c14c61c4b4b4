#include "kernels/small_gemm.h"

#include <stdbool.h>
#include <stddef.h>

#include "kernels/simd_math.h"

/* c[0 .. n-1] = alpha [low high][0 .. n-1], n <= 16; with accumulate, c[..] += that. */
SIMD_AVX2 static inline void store16(float *c, float alpha, __m256 low, __m256 high, int n,
                                     bool accumulate)
{
    __m256 s = _mm256_set1_ps(alpha);
    if (accumulate) {
        low = _mm256_fmadd_ps(s, low, _mm256_maskload_ps(c, simd_tail_mask(n)));
        high = _mm256_fmadd_ps(s, high, _mm256_maskload_ps(c + 8, simd_tail_mask(n - 8)));
    } else {
        low = _mm256_mul_ps(s, low);
        high = _mm256_mul_ps(s, high);
    }
    simd_store_first(c, low, n);
    if (n > 8)
        simd_store_first(c + 8, high, n - 8);
}

/* Register blocking: 4 rows of op(A) by 16 columns of B (8 accumulators), so each B load
 * feeds 4 FMAs and each broadcast of A feeds 2. Element (i, p) of op(A) is at
 * A[i * a_row + p * a_col], which covers A and A^T; the callers pass constant strides to
 * these always-inlined blocks, so each case compiles to its own loop. Columns past n are
 * masked on load and left out on store; rows past the last multiple of 4 go through
 * block1x16. */
#define SMALL_GEMM_INLINE SIMD_AVX2 static inline __attribute__((always_inline))

SMALL_GEMM_INLINE void block4x16(int K, float alpha, const float *A, size_t a_row, size_t a_col,
                                 const float *B, int ldb, float *C, int ldc, int n,
                                 bool accumulate)
{
    __m256i mask0 = simd_tail_mask(n), mask1 = simd_tail_mask(n - 8);
    __m256 c00 = _mm256_setzero_ps(), c01 = c00, c10 = c00, c11 = c00;
    __m256 c20 = c00, c21 = c00, c30 = c00, c31 = c00;
    for (int p = 0; p < K; p++) {
        const float *b = B + (size_t)p * ldb, *a_p = A + p * a_col;
        __m256 b0 = _mm256_maskload_ps(b, mask0), b1 = _mm256_maskload_ps(b + 8, mask1);
        __m256 a = _mm256_broadcast_ss(a_p);
        c00 = _mm256_fmadd_ps(a, b0, c00);
        c01 = _mm256_fmadd_ps(a, b1, c01);
        a = _mm256_broadcast_ss(a_p + a_row);
        c10 = _mm256_fmadd_ps(a, b0, c10);
        c11 = _mm256_fmadd_ps(a, b1, c11);
        a = _mm256_broadcast_ss(a_p + 2 * a_row);
        c20 = _mm256_fmadd_ps(a, b0, c20);
        c21 = _mm256_fmadd_ps(a, b1, c21);
        a = _mm256_broadcast_ss(a_p + 3 * a_row);
        c30 = _mm256_fmadd_ps(a, b0, c30);
        c31 = _mm256_fmadd_ps(a, b1, c31);
    }
    store16(C, alpha, c00, c01, n, accumulate);
    store16(C + ldc, alpha, c10, c11, n, accumulate);
    store16(C + 2 * (size_t)ldc, alpha, c20, c21, n, accumulate);
    store16(C + 3 * (size_t)ldc, alpha, c30, c31, n, accumulate);
}

SMALL_GEMM_INLINE void block1x16(int K, float alpha, const float *A, size_t a_col,
                                 const float *B, int ldb, float *C, int n, bool accumulate)
{
    __m256i mask0 = simd_tail_mask(n), mask1 = simd_tail_mask(n - 8);
    __m256 c0 = _mm256_setzero_ps(), c1 = c0;
    for (int p = 0; p < K; p++) {
        const float *b = B + (size_t)p * ldb;
        __m256 a = _mm256_broadcast_ss(A + p * a_col);
        c0 = _mm256_fmadd_ps(a, _mm256_maskload_ps(b, mask0), c0);
        c1 = _mm256_fmadd_ps(a, _mm256_maskload_ps(b + 8, mask1), c1);
    }
    store16(C, alpha, c0, c1, n, accumulate);
}

SMALL_GEMM_INLINE void small_gemm(int M, int N, int K, float alpha, const float *A,
                                  size_t a_row, size_t a_col, const float *B, int ldb, float *C,
                                  int ldc, bool accumulate)
{
    for (int j = 0; j < N; j += 16) {
        int n = N - j < 16 ? N - j : 16;
        int i = 0;
        for (; i + 4 <= M; i += 4)
            block4x16(K, alpha, A + i * a_row, a_row, a_col, B + j, ldb, C + (size_t)i * ldc + j,
                      ldc, n, accumulate);
        for (; i < M; i++)
            block1x16(K, alpha, A + i * a_row, a_col, B + j, ldb, C + (size_t)i * ldc + j, n,
                      accumulate);
    }
}

SIMD_AVX2 void small_gemm_avx2(int M, int N, int K, float alpha, const float *A, int lda,
                               const float *B, int ldb, float *C, int ldc)
{
    small_gemm(M, N, K, alpha, A, (size_t)lda, 1, B, ldb, C, ldc, false);
}

SIMD_AVX2 void small_gemm_accumulate_avx2(bool trans_a, int M, int N, int K, float alpha,
                                          const float *A, int lda, const float *B, int ldb,
                                          float *C, int ldc)
{
    if (trans_a)
        small_gemm(M, N, K, alpha, A, 1, (size_t)lda, B, ldb, C, ldc, true);
    else
        small_gemm(M, N, K, alpha, A, (size_t)lda, 1, B, ldb, C, ldc, true);
}
