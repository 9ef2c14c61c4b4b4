/* A linear layer's product against weights packed once for it: C[M,N] = A[M,K] · W[N,K]^T
 * (+ bias, or + C), with an activation applied to each tile while it is still in registers.
 * The weights are laid out in panels of GEMM_NR output columns, each panel K rows of GEMM_NR
 * floats (one zmm, two ymm), so the AVX-512 and AVX2 kernels read them contiguously; a
 * forward pass that uses the same weights for every batch (encoding) packs them once, where a
 * BLAS sgemm repacks them on every call. The kernel is chosen at run time
 * (kernel_path_best_gemm): AVX-512, else AVX2 + FMA, else the scalar reference (correct but
 * slow: callers that have a faster generic product check kernel_path_best first). */
#ifndef SEMB_KERNELS_GEMM_PACKED_H
#define SEMB_KERNELS_GEMM_PACKED_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/activation.h"
#include "kernels/kernel_path.h"

enum { GEMM_NR = 16 };

/* What is applied to each entry of C after the sum: values are activation_kind + 1. */
typedef enum gemm_epilogue {
    GEMM_EPILOGUE_NONE,
    GEMM_EPILOGUE_GELU,
    GEMM_EPILOGUE_GELU_TANH,
    GEMM_EPILOGUE_RELU
} gemm_epilogue;

/* The epilogue applying an activation_kind. */
static inline gemm_epilogue gemm_epilogue_for(activation_kind kind)
{
    return (gemm_epilogue)(kind + 1);
}

/* Floats a packed [N, K] weight takes (N rounded up to GEMM_NR). */
size_t gemm_packed_floats(int N, int K);

/* Packs W[N,K] (row-major, as nn.Linear stores it) into packed, which holds
 * gemm_packed_floats(N, K) floats and is 32-byte aligned; columns past N are zero.
 * Parallel (OpenMP) for large weights. Cannot fail. */
void gemm_pack_weight(float *packed, const float *W, int N, int K);

/* C[i, n] = epilogue(start[i, n] + sum_k A[i, k] W[n, k]) for i < M, n < N, where start is C
 * itself when accumulate, else bias[n] (bias may be NULL: 0). A has leading dimension lda,
 * C ldc; C must not overlap A or packed. Parallel (OpenMP, dynamic over tiles of rows x
 * panels) for large products, serial inside a parallel region. Each entry is summed k by k
 * in order from its start whatever the thread count and whichever of the AVX2 and AVX-512
 * kernels runs, and both apply the same epilogue: results depend on neither. Cannot fail.
 * The _using form runs a chosen path: one this CPU lacks runs the next it has (AVX-512 ->
 * AVX2 -> generic), and KERNEL_PATH_GENERIC runs the reference below. */
void gemm_packed(float *C, int ldc, const float *A, int lda, const float *packed, int M, int N,
                 int K, const float *bias, gemm_epilogue epilogue, bool accumulate);
void gemm_packed_using(kernel_path path, float *C, int ldc, const float *A, int lda,
                       const float *packed, int M, int N, int K, const float *bias,
                       gemm_epilogue epilogue, bool accumulate);

/* The same, each entry a double sum rounded once, then the reference activation; serial. */
void gemm_packed_reference(float *C, int ldc, const float *A, int lda, const float *packed,
                           int M, int N, int K, const float *bias, gemm_epilogue epilogue,
                           bool accumulate);

#endif
