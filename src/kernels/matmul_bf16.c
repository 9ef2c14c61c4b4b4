#include "kernels/matmul_bf16.h"

#include <stdlib.h>

#include "core/error.h"
#include "kernels/bf16.h"
#include "kernels/matmul.h"
#include "kernels/matmul_bf16_onednn.h"

matmul_bf16_path matmul_bf16_path_best(void)
{
    return matmul_bf16_onednn_native() ? MATMUL_BF16_ONEDNN : MATMUL_BF16_EMULATED;
}

const char *matmul_bf16_path_name(matmul_bf16_path path)
{
    return path == MATMUL_BF16_ONEDNN ? "onednn" : "emulated";
}

static float operand_at(bf16_operand x, size_t at)
{
    return x.bf16 ? bf16_to_float(x.bf16[at]) : bf16_to_float(bf16_from_float(x.f32[at]));
}

void matmul_bf16_reference(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                           bf16_operand A, int lda, bf16_operand B, int ldb, float beta,
                           float *C, int ldc)
{
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double sum = 0.0;
            for (int p = 0; p < K; p++) {
                float a = operand_at(A, trans_a ? (size_t)p * lda + i : (size_t)i * lda + p);
                float b = operand_at(B, trans_b ? (size_t)j * ldb + p : (size_t)p * ldb + j);
                sum += (double)a * b;
            }
            float *c = &C[(size_t)i * ldc + j];
            *c = (float)(alpha * sum + (beta != 0.0f ? (double)beta * *c : 0.0));
        }
}

/* Fewer elements than this are rounded on the calling thread. */
enum { ROUND_PARALLEL_MIN = 1 << 16 };

/* The rows x cols matrix stored at x with leading dimension ld, rounded to bfloat16 values
 * (as floats) into a packed malloc'd copy, or NULL when out of memory. */
static float *rounded_copy(bf16_operand x, int rows, int cols, int ld)
{
    float *copy = malloc((size_t)rows * (size_t)cols * sizeof *copy);
    if (!copy)
        return NULL;
#pragma omp parallel for schedule(static) if ((long)rows * cols >= ROUND_PARALLEL_MIN)
    for (int r = 0; r < rows; r++) {
        float *row = copy + (size_t)r * (size_t)cols;
        if (x.bf16)
            bf16_to_floats(row, x.bf16 + (size_t)r * (size_t)ld, (size_t)cols);
        else
            bf16_round_floats(row, x.f32 + (size_t)r * (size_t)ld, (size_t)cols);
    }
    return copy;
}

static semb_status matmul_bf16_emulated(bool trans_a, bool trans_b, int M, int N, int K,
                                        float alpha, bf16_operand A, int lda, bf16_operand B,
                                        int ldb, float beta, float *C, int ldc, semb_error *err)
{
    int a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
    int b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    float *a = rounded_copy(A, a_rows, a_cols, lda), *b = a ? rounded_copy(B, b_rows, b_cols, ldb) : NULL;
    if (!b) {
        free(a);
        return semb_fail(err, SEMB_ERR_NOMEM, "bf16 matmul: cannot round %dx%dx%d operands", M,
                         N, K);
    }
    matmul_sgemm(trans_a, trans_b, M, N, K, alpha, a, a_cols, b, b_cols, beta, C, ldc);
    free(a);
    free(b);
    return SEMB_OK;
}

semb_status matmul_bf16_using(matmul_bf16_path path, bool trans_a, bool trans_b, int M, int N,
                              int K, float alpha, bf16_operand A, int lda, bf16_operand B,
                              int ldb, float beta, float *C, int ldc, semb_error *err)
{
    if (M <= 0 || N <= 0)
        return SEMB_OK;
    if (K <= 0) { /* C = beta C, as BLAS */
        matmul_bf16_reference(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
        return SEMB_OK;
    }
    if (path == MATMUL_BF16_ONEDNN)
        return matmul_bf16_onednn(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C,
                                  ldc, err);
    return matmul_bf16_emulated(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc,
                                err);
}

semb_status matmul_bf16(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                        bf16_operand A, int lda, bf16_operand B, int ldb, float beta, float *C,
                        int ldc, semb_error *err)
{
    matmul_bf16_path path = matmul_bf16_path_best();
    semb_status st = matmul_bf16_using(path, trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb,
                                       beta, C, ldc, err);
    if (st == SEMB_ERR_UNSUPPORTED && path == MATMUL_BF16_ONEDNN)
        st = matmul_bf16_using(MATMUL_BF16_EMULATED, trans_a, trans_b, M, N, K, alpha, A, lda, B,
                               ldb, beta, C, ldc, err);
    return st;
}

semb_status linear_forward_bf16(float *out, const float *inp, const uint16_t *weight,
                                const float *bias, int M, int K, int N, semb_error *err)
{
    if (bias) {
#pragma omp parallel for schedule(static) if ((long)M * N >= ROUND_PARALLEL_MIN)
        for (int i = 0; i < M; i++)
            for (int j = 0; j < N; j++)
                out[(size_t)i * N + j] = bias[j];
    }
    return matmul_bf16(false, true, M, N, K, 1.0f, bf16_operand_f32(inp), K,
                       bf16_operand_bf16(weight), K, bias ? 1.0f : 0.0f, out, N, err);
}

semb_status linear_backward_bf16(float *d_inp, float *d_weight, float *d_bias,
                                 const float *d_out, const float *inp, const uint16_t *weight,
                                 int M, int K, int N, semb_error *err)
{
    semb_status st = SEMB_OK;
    if (d_inp)
        st = matmul_bf16(false, false, M, K, N, 1.0f, bf16_operand_f32(d_out), N,
                         bf16_operand_bf16(weight), K, 1.0f, d_inp, K, err);
    if (!st && d_weight)
        st = matmul_bf16(true, false, N, K, M, 1.0f, bf16_operand_f32(d_out), N,
                         bf16_operand_f32(inp), K, 1.0f, d_weight, K, err);
    if (!st && d_bias) /* the fp32 path's column sums: no product involved */
        linear_backward(NULL, NULL, d_bias, d_out, NULL, NULL, M, K, N);
    return st;
}
