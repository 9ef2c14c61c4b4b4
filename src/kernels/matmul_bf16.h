/* Matrix products with bfloat16 inputs and float32 accumulation and output, the matmuls of
 * mixed precision (PyTorch's autocast to bfloat16 on CPU). Same conventions as matmul_sgemm:
 *   C[M,N] = alpha * op(bf16(A)) · op(bf16(B)) + beta * C   (row-major, BLAS leading dims)
 * where bf16(x) rounds to bfloat16 (kernels/bf16.h). An operand is either float32 values,
 * rounded on the way in, or values already in bfloat16 (a weight copy made once per
 * optimizer step). Two paths compute the same products:
 *   - emulated: the operands rounded to bfloat16 but kept as floats, then matmul_sgemm. A
 *     product of two bfloat16 values is exact in float32, so this is bf16 arithmetic with
 *     float32 accumulation; it runs anywhere and is no faster than float32.
 *   - oneDNN: a matmul primitive with bfloat16 source and weights and a float32 destination
 *     (AVX512-BF16 dot products or AMX tiles). Chosen only where the CPU has AVX512-BF16 or
 *     AMX-BF16: elsewhere oneDNN 2.6 has no bf16 matmul at all (or a slow reference one). */
#ifndef SEMB_KERNELS_MATMUL_BF16_H
#define SEMB_KERNELS_MATMUL_BF16_H

#include <stdbool.h>
#include <stdint.h>

#include "semb.h"

/* Exactly one of the pointers is set. */
typedef struct bf16_operand {
    const float *f32;
    const uint16_t *bf16;
} bf16_operand;

static inline bf16_operand bf16_operand_f32(const float *x) { return (bf16_operand){x, NULL}; }
static inline bf16_operand bf16_operand_bf16(const uint16_t *x) { return (bf16_operand){NULL, x}; }

typedef enum matmul_bf16_path { MATMUL_BF16_EMULATED, MATMUL_BF16_ONEDNN } matmul_bf16_path;

/* MATMUL_BF16_ONEDNN when the CPU (cpu_features, so never under SEMB_CPU=generic) has
 * AVX512-BF16 or AMX-BF16 and oneDNN's effective ISA allows it; else MATMUL_BF16_EMULATED. */
matmul_bf16_path matmul_bf16_path_best(void);

/* "emulated" or "onednn". */
const char *matmul_bf16_path_name(matmul_bf16_path path);

/* The product on matmul_bf16_path_best(), falling back to the emulated path should oneDNN
 * refuse the shape. With beta = 0, C is only written. Errors: SEMB_ERR_NOMEM for the
 * scratch copies of the operands (C is then unchanged). */
semb_status matmul_bf16(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                        bf16_operand A, int lda, bf16_operand B, int ldb, float beta, float *C,
                        int ldc, semb_error *err);

/* The product on the path given, whatever the CPU: for tests and benchmarks. The oneDNN path
 * fails with SEMB_ERR_UNSUPPORTED (C unchanged) where oneDNN has no bf16 matmul. */
semb_status matmul_bf16_using(matmul_bf16_path path, bool trans_a, bool trans_b, int M, int N,
                              int K, float alpha, bf16_operand A, int lda, bf16_operand B,
                              int ldb, float beta, float *C, int ldc, semb_error *err);

/* Each entry the double sum of the products of the rounded inputs, rounded once; serial.
 * Cannot fail. */
void matmul_bf16_reference(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                           bf16_operand A, int lda, bf16_operand B, int ldb, float beta,
                           float *C, int ldc);

/* linear_forward with bf16 products: out[M,N] = bf16(inp) · weight^T + bias, weight [N,K]
 * already in bfloat16, bias (may be NULL) added in float32. Errors as matmul_bf16. */
semb_status linear_forward_bf16(float *out, const float *inp, const uint16_t *weight,
                                const float *bias, int M, int K, int N, semb_error *err);

/* linear_backward with bf16 products, accumulated into float32 gradients as there:
 *   d_inp += bf16(d_out) · weight,  d_weight += bf16(d_out)^T · bf16(inp)
 * and d_bias the float32 column sums of d_out (linear_backward's, bit for bit). weight is the
 * bfloat16 copy the forward pass used. Any gradient may be NULL. Errors as matmul_bf16. */
semb_status linear_backward_bf16(float *d_inp, float *d_weight, float *d_bias,
                                 const float *d_out, const float *inp, const uint16_t *weight,
                                 int M, int K, int N, semb_error *err);

#endif
