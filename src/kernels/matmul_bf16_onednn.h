/* The oneDNN path of matmul_bf16 (kernels/matmul_bf16.h), kept apart from the portable code. */
#ifndef SEMB_KERNELS_MATMUL_BF16_ONEDNN_H
#define SEMB_KERNELS_MATMUL_BF16_ONEDNN_H

#include "kernels/matmul_bf16.h"

/* Whether this CPU runs bf16 matmuls in hardware (AVX512-BF16 or AMX-BF16, with oneDNN's
 * effective ISA allowing them). Computed once. */
bool matmul_bf16_onednn_native(void);

/* The product through a cached oneDNN matmul primitive. SEMB_ERR_UNSUPPORTED when oneDNN
 * cannot make one for this shape here, SEMB_ERR_NOMEM for scratch; C unchanged then. M, N,
 * K > 0. */
semb_status matmul_bf16_onednn(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                               bf16_operand A, int lda, bf16_operand B, int ldb, float beta,
                               float *C, int ldc, semb_error *err);

#endif
