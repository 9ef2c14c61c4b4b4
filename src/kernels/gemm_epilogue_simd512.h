/* gemm_epilogue_simd (gemm_epilogue_simd.h) on 16 lanes, for the AVX-512 GEMM kernels: the
 * same bits as the AVX2 epilogue. Static inline, compiled for AVX-512: callers check
 * kernel_path_supported(KERNEL_PATH_AVX512) first. */
#ifndef SEMB_KERNELS_GEMM_EPILOGUE_SIMD512_H
#define SEMB_KERNELS_GEMM_EPILOGUE_SIMD512_H

#include "kernels/activation_simd512.h"
#include "kernels/gemm_packed.h"

SIMD_AVX512 static inline __attribute__((always_inline)) __m512
gemm_epilogue_simd512(gemm_epilogue e, __m512 x)
{
    switch (e) {
    case GEMM_EPILOGUE_NONE: return x;
    case GEMM_EPILOGUE_GELU: return activation_simd512(ACTIVATION_GELU, x);
    case GEMM_EPILOGUE_GELU_TANH: return activation_simd512(ACTIVATION_GELU_TANH, x);
    case GEMM_EPILOGUE_RELU: break;
    }
    return activation_simd512(ACTIVATION_RELU, x);
}

#endif
