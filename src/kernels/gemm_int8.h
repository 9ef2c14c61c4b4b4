/* int8 linear layers with dynamic quantization (as ONNX Runtime's quantize_dynamic does on
 * CPUs without VNNI): C[M,N] = epilogue(A[M,K] · W[N,K]^T + bias) computed from
 *  - W quantized once, per output channel n: q = round(W / s_n) in [-63, 63], s_n =
 *    max_k |W[n,k]| / 63. Seven bits, not eight: AVX2's vpmaddubsw adds two u8 x s8 products
 *    in a signed 16-bit lane, and 2 x 255 x 64 = 32,640 is the most that cannot saturate;
 *  - A quantized per row i at each call, asymmetric: q = round(a / t_i) + z_i in [0, 255],
 *    t_i = (hi - lo) / 255 over the row's range [lo, hi] widened to hold 0, z_i = round(-lo /
 *    t_i), so that 0 is exact;
 *  - C[i,n] = (t_i s_n) · (sum_k qa[i,k] qw[n,k] - z_i sum_k qw[n,k]) + bias[n], the sums
 *    exact in 32-bit integers (K up to 2^16), one float conversion, one fused multiply-add.
 * A step (t_i or s_n) below FLT_MIN, an all-zero row or channel included, is taken as 1, so
 * that its bytes (and zero point) are 0. A row or weight channel holding a NaN or an infinity
 * gives NaN outputs for it, and so does a finite row whose range overflows float (hi - lo
 * above FLT_MAX: values near +-1.7e38).
 * The AVX2 and AVX512-VNNI kernels are bit-identical to the scalar reference before the
 * epilogue. The VNNI kernel's vpdpbusd sums u8 x s8 products in 32 bits without the 16-bit
 * step, so 8-bit weights would fit it; the weights stay 7-bit so that every path gives the
 * same results (and one quantized weight serves them all). */
#ifndef SEMB_KERNELS_GEMM_INT8_H
#define SEMB_KERNELS_GEMM_INT8_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/gemm_packed.h"
#include "kernels/kernel_path.h"
#include "semb.h"

enum { GEMM_INT8_NR = 16, GEMM_INT8_MAX_K = 1 << 16 };

/* A quantized weight. packed: panels of GEMM_INT8_NR columns; in each, K rounded up to 4
 * ("quads"), and per quad the 16 columns' 4 bytes (64 bytes, 64-byte aligned); columns past
 * N and k past K are 0. scale and column_sum: per output column, rounded up to 16 (scale 1,
 * sum 0 past N). */
typedef struct gemm_int8_weight {
    int8_t *packed;
    float *scale;
    int32_t *column_sum;
    int N, K;
} gemm_int8_weight;

/* Quantizes and packs W[N,K] (row-major, as nn.Linear stores it) into w, which owns new
 * buffers (release with gemm_int8_weight_free; w is overwritten, not freed, first).
 * SEMB_ERR_INVALID_ARG for N < 1, K < 1 or K > GEMM_INT8_MAX_K; SEMB_ERR_NOMEM. Parallel
 * (OpenMP) over columns. */
semb_status gemm_int8_quantize_weight(gemm_int8_weight *w, const float *W, int N, int K,
                                      semb_error *err);

void gemm_int8_weight_free(gemm_int8_weight *w);

/* Bytes per quantized row of a K-wide input: K rounded up to 4. */
static inline int gemm_int8_row_bytes(int K)
{
    return (K + 3) / 4 * 4;
}

/* Quantizes rows A[M,K] (leading dimension lda) into q (M rows of gemm_int8_row_bytes(K)
 * bytes, the padding zeroed), scale[M] and zero[M] as described above. Parallel (OpenMP)
 * over rows for large inputs. Cannot fail. The _using form runs a chosen path (a path the
 * CPU lacks runs generic); both paths give the same bytes. */
void gemm_int8_quantize_rows(uint8_t *q, float *scale, int32_t *zero, const float *A, int lda,
                             int M, int K);
void gemm_int8_quantize_rows_using(kernel_path path, uint8_t *q, float *scale, int32_t *zero,
                                   const float *A, int lda, int M, int K);

/* C[i, n] = epilogue(value) for i < M, n < w->N, from rows quantized by
 * gemm_int8_quantize_rows (K = w->K); bias may be NULL (0). C has leading dimension ldc and
 * must not overlap the inputs. Parallel (OpenMP, dynamic over tiles) for large products,
 * serial inside a parallel region; results do not depend on the thread count. Cannot fail.
 * gemm_int8 runs the best kernel (kernel_path_best_gemm): AVX512-VNNI (vpdpbusd, where the CPU
 * has it besides AVX-512), else AVX2, else generic; all give the same bits. The _using form
 * runs a chosen path (KERNEL_PATH_AVX512: the VNNI kernel where present, else AVX2); the
 * generic path is the reference below. */
void gemm_int8(float *C, int ldc, const uint8_t *q, const float *scale, const int32_t *zero,
               const gemm_int8_weight *w, int M, const float *bias, gemm_epilogue epilogue);
void gemm_int8_using(kernel_path path, float *C, int ldc, const uint8_t *q, const float *scale,
                     const int32_t *zero, const gemm_int8_weight *w, int M, const float *bias,
                     gemm_epilogue epilogue);

/* The kernel gemm_int8_using(path) runs: "avx512-vnni", "avx2" or "generic" (static). */
const char *gemm_int8_path_name(kernel_path path);

/* The scalar reference: integer sums in 64 bits, the same float formula, then the scalar
 * reference activation (activation_forward_reference); serial. */
void gemm_int8_reference(float *C, int ldc, const uint8_t *q, const float *scale,
                         const int32_t *zero, const gemm_int8_weight *w, int M,
                         const float *bias, gemm_epilogue epilogue);

#endif
