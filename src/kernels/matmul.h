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

/* The backward of linear_forward, ACCUMULATED into every gradient (the caller zeroes them,
 * so residual branches and GradCache chunks add up):
 *   d_inp[M,K] += d_out[M,N] · weight[N,K]
 *   d_weight[N,K] += d_out^T · inp[M,K]
 *   d_bias[N] += the column sums of d_out.
 * Any gradient may be NULL and is then skipped (inp is read only for d_weight, weight only
 * for d_inp). No gradient may overlap an input. The products are two matmul_sgemm calls
 * with beta = 1 (oneDNN: run to run the same bits on the same thread count); the bias sums
 * are in double (AVX2 where the CPU has it) over fixed column blocks, the same bits on any
 * thread count and path. Cannot fail. */
void linear_backward(float *d_inp, float *d_weight, float *d_bias, const float *d_out,
                     const float *inp, const float *weight, int M, int K, int N);

/* The same with every entry a double sum added to the gradient and rounded once; serial.
 * Its d_bias is bit for bit linear_backward's. */
void linear_backward_reference(float *d_inp, float *d_weight, float *d_bias, const float *d_out,
                               const float *inp, const float *weight, int M, int K, int N);

#endif
