/* Products too small for a BLAS call: the per-head products of attention over short
 * sequences (L x L x head_dim), where oneDNN's fixed cost per call outweighs the work
 * (bench/README.md, "Kernels"). */
#ifndef SEMB_KERNELS_SMALL_GEMM_H
#define SEMB_KERNELS_SMALL_GEMM_H

/* C[M,N] = alpha * A[M,K] B[K,N], row-major with leading dimensions lda, ldb, ldc; C is
 * overwritten (never read). Uses AVX2 + FMA: call only where
 * kernel_path_supported(KERNEL_PATH_AVX2). Cannot fail. */
void small_gemm_avx2(int M, int N, int K, float alpha, const float *A, int lda, const float *B,
                     int ldb, float *C, int ldc);

#endif
