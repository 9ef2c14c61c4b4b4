#include "kernels/matmul.h"

#include <omp.h>
#include <string.h>

#include <oneapi/dnnl/dnnl.h>

#include "kernels/kernel_path.h"
#include "kernels/simd_math.h"

void matmul_sgemm_reference(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                            const float *A, int lda, const float *B, int ldb, float beta,
                            float *C, int ldc)
{
    for (int i = 0; i < M; i++) {
        for (int j = 0; j < N; j++) {
            double sum = 0.0;
            for (int p = 0; p < K; p++) {
                float a = trans_a ? A[(size_t)p * lda + i] : A[(size_t)i * lda + p];
                float b = trans_b ? B[(size_t)j * ldb + p] : B[(size_t)p * ldb + j];
                sum += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            /* BLAS semantics: with beta = 0, C is written without being read (it may hold NaN). */
            *c = (float)(alpha * sum + (beta != 0.0f ? (double)beta * *c : 0.0));
        }
    }
}

void matmul_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha, const float *A,
                  int lda, const float *B, int ldb, float beta, float *C, int ldc)
{
    if (M <= 0 || N <= 0)
        return;
    if (K <= 0) { /* BLAS scales C by beta here; oneDNN returns with C untouched */
        matmul_sgemm_reference(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return;
    }
    dnnl_status_t status = dnnl_sgemm(trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, alpha, A,
                                      lda, B, ldb, beta, C, ldc);
    /* oneDNN rejects only arguments a correct caller never passes (lda too small, ...);
     * the reference computes the same product from whatever the caller meant. */
    if (status != dnnl_success)
        matmul_sgemm_reference(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

void linear_forward_reference(float *out, const float *inp, const float *weight,
                              const float *bias, int M, int K, int N)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double sum = bias ? bias[j] : 0.0;
            for (int p = 0; p < K; p++)
                sum += (double)inp[(size_t)i * K + p] * weight[(size_t)j * K + p];
            out[(size_t)i * N + j] = (float)sum;
        }
}

/* Fewer output elements than this are filled on the calling thread. */
enum { LINEAR_PARALLEL_MIN = 1 << 15 };

/* The bias is broadcast into out first and the product accumulated onto it (beta = 1):
 * bench/bench_kernels.c measured this against a separate bias pass after the product. */
void linear_forward(float *out, const float *inp, const float *weight, const float *bias,
                    int M, int K, int N)
{
    if (bias) {
#pragma omp parallel for schedule(static) if ((long)M * N >= LINEAR_PARALLEL_MIN)
        for (int i = 0; i < M; i++)
            memcpy(out + (size_t)i * N, bias, (size_t)N * sizeof *bias);
    }
    matmul_sgemm(false, true, M, N, K, 1.0f, inp, K, weight, K, bias ? 1.0f : 0.0f, out, N);
}

/* d_bias[j] += the sum over rows of d_out[., j] for the columns [begin, end) of one block
 * (at most BIAS_BLOCK): one double per column, kept in L1 while the rows stream past, rows
 * added in order. So every column's sum is the same bits whatever block, thread or path
 * it falls in: the AVX2 lanes make the same double additions as the scalar loop. */
enum { BIAS_BLOCK = 512 };

static void bias_gradient_block_generic(float *d_bias, const float *d_out, int M, int N,
                                        int begin, int end)
{
    double sum[BIAS_BLOCK] = {0};
    for (int i = 0; i < M; i++) {
        const float *row = d_out + (size_t)i * N + begin;
        for (int j = 0; j < end - begin; j++)
            sum[j] += row[j];
    }
    for (int j = begin; j < end; j++)
        d_bias[j] = (float)(d_bias[j] + sum[j - begin]);
}

SIMD_AVX2 static void bias_gradient_block_avx2(float *d_bias, const float *d_out, int M, int N,
                                               int begin, int end)
{
    double sum[BIAS_BLOCK] = {0};
    int width = end - begin, vectors = width / 8 * 8;
    for (int i = 0; i < M; i++) {
        const float *row = d_out + (size_t)i * N + begin;
        for (int j = 0; j < vectors; j += 8) {
            __m256 x = _mm256_loadu_ps(row + j);
            __m256d low = _mm256_cvtps_pd(_mm256_castps256_ps128(x));
            __m256d high = _mm256_cvtps_pd(_mm256_extractf128_ps(x, 1));
            _mm256_storeu_pd(sum + j, _mm256_add_pd(_mm256_loadu_pd(sum + j), low));
            _mm256_storeu_pd(sum + j + 4, _mm256_add_pd(_mm256_loadu_pd(sum + j + 4), high));
        }
        for (int j = vectors; j < width; j++)
            sum[j] += row[j];
    }
    for (int j = begin; j < end; j++)
        d_bias[j] = (float)(d_bias[j] + sum[j - begin]);
}

void linear_backward_reference(float *d_inp, float *d_weight, float *d_bias, const float *d_out,
                               const float *inp, const float *weight, int M, int K, int N)
{
    if (d_inp)
        matmul_sgemm_reference(false, false, M, K, N, 1.0f, d_out, N, weight, K, 1.0f, d_inp, K);
    if (d_weight)
        matmul_sgemm_reference(true, false, N, K, M, 1.0f, d_out, N, inp, K, 1.0f, d_weight, K);
    if (d_bias)
        for (int j = 0; j < N; j += BIAS_BLOCK)
            bias_gradient_block_generic(d_bias, d_out, M, N, j,
                                        j + BIAS_BLOCK < N ? j + BIAS_BLOCK : N);
}

void linear_backward(float *d_inp, float *d_weight, float *d_bias, const float *d_out,
                     const float *inp, const float *weight, int M, int K, int N)
{
    if (d_inp)
        matmul_sgemm(false, false, M, K, N, 1.0f, d_out, N, weight, K, 1.0f, d_inp, K);
    if (d_weight)
        matmul_sgemm(true, false, N, K, M, 1.0f, d_out, N, inp, K, 1.0f, d_weight, K);
    if (d_bias && N > 0) {
        bool avx2 = kernel_path_best() == KERNEL_PATH_AVX2;
        /* One block per thread where N allows (any split gives the same bits). */
        int threads = (long)M * N >= LINEAR_PARALLEL_MIN ? omp_get_max_threads() : 1;
        int width = ((N + threads - 1) / threads + 7) / 8 * 8;
        width = width < BIAS_BLOCK ? width : BIAS_BLOCK;
        int blocks = (N + width - 1) / width;
#pragma omp parallel for schedule(static) if (threads > 1)
        for (int b = 0; b < blocks; b++) {
            int begin = b * width, end = begin + width < N ? begin + width : N;
            if (avx2)
                bias_gradient_block_avx2(d_bias, d_out, M, N, begin, end);
            else
                bias_gradient_block_generic(d_bias, d_out, M, N, begin, end);
        }
    }
}
