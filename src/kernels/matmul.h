/* Matrix products. Row-major, BLAS sgemm semantics:
 *   C[M,N] = alpha * op(A) · op(B) + beta * C,  op(X) = X or X^T,
 * where A is [M,K] (or [K,M] when trans_a) with leading dimension lda, and so on.
 * matmul_sgemm picks the fastest available implementation at run time;
 * matmul_sgemm_reference is the plain scalar loop it is tested against. */
#ifndef SEMB_KERNELS_MATMUL_H
#define SEMB_KERNELS_MATMUL_H

#include <stdbool.h>

void matmul_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C,
                  int ldc);
void matmul_sgemm_reference(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                            const float *A, int lda, const float *B, int ldb, float beta,
                            float *C, int ldc);

/* A PyTorch nn.Linear over rows: out[M,N] = inp[M,K] · weight[N,K]^T + bias[N]
 * (bias may be NULL). */
void linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int M, int K, int N);
void linear_forward_reference(float *out, const float *inp, const float *weight,
                              const float *bias, int M, int K, int N);

#endif
