/* Matrix products. Row-major, BLAS sgemm semantics:
 *   C[M,N] = alpha * op(A) · op(B) + beta * C,  op(X) = X or X^T,
 * where A is [M,K] (or [K,M] when trans_a) with leading dimension lda, and so on.
 * matmul_sgemm picks the fastest available implementation at run time;
 * matmul_sgemm_reference is the plain scalar loop it is tested against. */
#ifndef SEMB_KERNELS_MATMUL_H
#define SEMB_KERNELS_MATMUL_H

#include <stdbool.h>

/* oneDNN's dnnl_sgemm (its own AVX2 / AVX-512 / AMX dispatch), on the OpenMP threads the
 * caller set, or one thread when called inside a parallel region. With beta = 0, C is only
 * written. Cannot fail: arguments oneDNN rejects (which callers must not pass) are computed
 * by the reference instead. */
void matmul_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                  const float *A, int lda, const float *B, int ldb, float beta, float *C,
                  int ldc);

/* Each entry a dot product accumulated in double and rounded once; serial. */
void matmul_sgemm_reference(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                            const float *A, int lda, const float *B, int ldb, float beta,
                            float *C, int ldc);

/* A PyTorch nn.Linear over rows: out[M,N] = inp[M,K] · weight[N,K]^T + bias[N]
 * (bias may be NULL). out must not overlap the inputs. Cannot fail. */
void linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int M, int K, int N);

/* The same in double per entry, serial. */
void linear_forward_reference(float *out, const float *inp, const float *weight,
                              const float *bias, int M, int K, int N);

#endif
