/* AVX-512 forms of the simd_math.h building blocks, operation for operation the same as the
 * AVX2 ones (same constants, same order of roundings), so that each lane gives the AVX2
 * lane's bits: a kernel's result does not depend on which of the two paths ran. Static
 * inline, compiled for AVX-512 F/BW/VL/DQ: callers check
 * kernel_path_supported(KERNEL_PATH_AVX512). */
#ifndef SEMB_KERNELS_SIMD_MATH512_H
#define SEMB_KERNELS_SIMD_MATH512_H

#include <immintrin.h>
#include <math.h>

#define SIMD_AVX512 __attribute__((target("avx512f,avx512bw,avx512vl,avx512dq,avx2,fma")))

/* Lanes 0 .. n-1 set (none when n <= 0, all when n >= 16). */
SIMD_AVX512 static inline __mmask16 simd512_tail_mask(int n)
{
    return n >= 16 ? (__mmask16)0xffff : n <= 0 ? (__mmask16)0 : (__mmask16)((1u << n) - 1);
}

/* simd_exp (simd_math.h) on 16 lanes. */
SIMD_AVX512 static inline __m512 simd512_exp(__m512 x)
{
    const __m512 too_small = _mm512_set1_ps(-87.3365447504f);
    const __m512 too_large = _mm512_set1_ps(88.3762626647949f);
    __mmask16 underflow = _mm512_cmp_ps_mask(x, too_small, _CMP_LT_OQ);
    __mmask16 overflow = _mm512_cmp_ps_mask(x, too_large, _CMP_GT_OQ);
    /* min/max return their second operand for NaN, which keeps a NaN x. */
    x = _mm512_min_ps(too_large, x);
    x = _mm512_max_ps(too_small, x);
    __m512 n = _mm512_roundscale_ps(_mm512_mul_ps(x, _mm512_set1_ps(1.44269504088896341f)),
                                    _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    __m512 r = _mm512_fnmadd_ps(n, _mm512_set1_ps(0.693359375f), x);
    r = _mm512_fnmadd_ps(n, _mm512_set1_ps(-2.12194440e-4f), r);
    __m512 p = _mm512_set1_ps(1.9875691500e-4f);
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.3981999507e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(8.3334519073e-3f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(4.1665795894e-2f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(1.6666665459e-1f));
    p = _mm512_fmadd_ps(p, r, _mm512_set1_ps(5.0000001201e-1f));
    p = _mm512_fmadd_ps(p, _mm512_mul_ps(r, r), r);
    p = _mm512_add_ps(p, _mm512_set1_ps(1.0f));
    __m512i bits = _mm512_slli_epi32(
        _mm512_add_epi32(_mm512_cvtps_epi32(n), _mm512_set1_epi32(127)), 23);
    __m512 e = _mm512_maskz_mul_ps((__mmask16)~underflow, p, _mm512_castsi512_ps(bits));
    return _mm512_mask_blend_ps(overflow, e, _mm512_set1_ps(INFINITY));
}

#endif
