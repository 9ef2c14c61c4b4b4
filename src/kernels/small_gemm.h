/* Products too small for a BLAS call: the per-head products of attention over short
 * sequences (L x L x head_dim), where oneDNN's fixed cost per call outweighs the work
 * (bench/README.md, "Kernels"). */
#ifndef SEMB_KERNELS_SMALL_GEMM_H
#define SEMB_KERNELS_SMALL_GEMM_H

#include <stdbool.h>

/* C[M,N] = alpha * A[M,K] B[K,N], row-major with leading dimensions lda, ldb, ldc; C is
 * overwritten (never read). Uses AVX2 + FMA: call only where
 * kernel_path_supported(KERNEL_PATH_AVX2). Cannot fail. */
void small_gemm_avx2(int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float *C, int ldc);

/* C[M,N] += alpha * op(A) B[K,N], op(A) = A [M,K], or A^T with A stored [K,M] when trans_a
 * (lda its row stride either way): the same products, rounded once into C (one FMA per
 * entry). The backward's gradients accumulate this way, and trans_a spares it the
 * transposes of P and dS. AVX2 only, as above. */
void small_gemm_accumulate_avx2(bool trans_a, int M, int N, int K, float alpha, const float *A,
                                int lda, const float *B, int ldb, float *C, int ldc);

#endif
