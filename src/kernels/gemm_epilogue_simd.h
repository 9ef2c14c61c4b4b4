/* A GEMM epilogue (gemm_packed.h) applied to a vector of finished sums still in registers,
 * shared by the float32 and int8 kernels so that both give activation_forward's AVX2 bits.
 * Static inline, compiled for AVX2 + FMA: callers check kernel_path_best first. */
#ifndef SEMB_KERNELS_GEMM_EPILOGUE_SIMD_H
#define SEMB_KERNELS_GEMM_EPILOGUE_SIMD_H

#include "kernels/activation_simd.h"
#include "kernels/gemm_packed.h"

SIMD_AVX2 static inline __attribute__((always_inline)) __m256 gemm_epilogue_simd(gemm_epilogue e,
                                                                           __m256 x)
{
    switch (e) {
    case GEMM_EPILOGUE_NONE: return x;
    case GEMM_EPILOGUE_GELU: return activation_simd(ACTIVATION_GELU, x);
    case GEMM_EPILOGUE_GELU_TANH: return activation_simd(ACTIVATION_GELU_TANH, x);
    case GEMM_EPILOGUE_RELU: break;
    }
    return activation_simd(ACTIVATION_RELU, x);
}

#endif
