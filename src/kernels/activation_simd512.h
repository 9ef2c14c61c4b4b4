/* The AVX-512 forms of activation_simd.h, for the GEMM epilogues of the AVX-512 kernels:
 * the same polynomials evaluated in the same order, so every lane has the AVX2 bits (see
 * simd_math512.h). Static inline, compiled for AVX-512. */
#ifndef SEMB_KERNELS_ACTIVATION_SIMD512_H
#define SEMB_KERNELS_ACTIVATION_SIMD512_H

#include "kernels/activation.h"
#include "kernels/activation_simd.h"
#include "kernels/simd_math512.h"

/* erf_core_avx2 on 16 lanes. */
SIMD_AVX512 static inline __m512 erf_core_avx512(__m512 z)
{
    __m512 w = _mm512_mul_ps(z, z);
    __m512 p = _mm512_set1_ps(-6.756479852e-04f);
    p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(5.113459192e-03f));
    p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(-2.683300339e-02f));
    p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(1.128330827e-01f));
    p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(-3.761260808e-01f));
    p = _mm512_fmadd_ps(p, w, _mm512_set1_ps(1.283791661e-01f));
    return _mm512_fmadd_ps(z, p, z);
}

/* erfc_scaled_avx2 on 16 lanes. */
SIMD_AVX512 static inline __m512 erfc_scaled_avx512(__m512 a)
{
    const __m512 one = _mm512_set1_ps(1.0f);
    __m512 t = _mm512_div_ps(one, _mm512_fmadd_ps(_mm512_set1_ps(0.5f), a, one));
    __m512 q = _mm512_set1_ps(-4.682436958e-02f);
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(1.304063648e-01f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-4.274056852e-02f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(-1.726893187e-01f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(9.454806149e-02f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(3.995861113e-02f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(1.879475415e-01f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(2.449612319e-01f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(2.822629809e-01f));
    q = _mm512_fmadd_ps(q, t, _mm512_set1_ps(2.820883095e-01f));
    return _mm512_mul_ps(t, q);
}

/* normal_cdf_avx2 (Phi(x); the density's exponential is not needed here) on 16 lanes. */
SIMD_AVX512 static inline __m512 normal_cdf_avx512(__m512 x)
{
    const __m512 one = _mm512_set1_ps(1.0f), half = _mm512_set1_ps(0.5f);
    __m512 xc = _mm512_min_ps(_mm512_set1_ps(20.0f), _mm512_max_ps(_mm512_set1_ps(-20.0f), x));
    __m512 z = _mm512_mul_ps(xc, _mm512_set1_ps(0.70710678118654752f));
    __m512 a = _mm512_abs_ps(z);

    __m512 square_hi = _mm512_mul_ps(xc, xc);
    __m512 square_lo = _mm512_fmsub_ps(xc, xc, square_hi);
    __m512 e = simd512_exp(_mm512_mul_ps(square_hi, _mm512_set1_ps(-0.5f)));
    e = _mm512_fnmadd_ps(_mm512_mul_ps(e, half), square_lo, e);
    __m512 half_erfc = _mm512_mul_ps(_mm512_mul_ps(half, erfc_scaled_avx512(a)), e);
    __mmask16 negative = _mm512_cmp_ps_mask(x, _mm512_setzero_ps(), _CMP_LT_OQ);
    __m512 phi = _mm512_mask_blend_ps(negative, _mm512_sub_ps(one, half_erfc), half_erfc);

    __mmask16 in_core = _mm512_cmp_ps_mask(a, _mm512_set1_ps(0.75f), _CMP_LT_OQ);
    return _mm512_mask_blend_ps(in_core, phi, _mm512_fmadd_ps(half, erf_core_avx512(z), half));
}

SIMD_AVX512 static inline __m512 gelu_avx512(__m512 x)
{
    return _mm512_mul_ps(x, normal_cdf_avx512(x));
}

SIMD_AVX512 static inline __m512 gelu_tanh_avx512(__m512 x)
{
    __m512 inner = _mm512_fmadd_ps(_mm512_set1_ps((float)GELU_TANH_C3), _mm512_mul_ps(x, x),
                                   _mm512_set1_ps((float)GELU_TANH_C1));
    __m512 e = simd512_exp(_mm512_mul_ps(_mm512_mul_ps(x, inner), _mm512_set1_ps(-2.0f)));
    return _mm512_div_ps(x, _mm512_add_ps(_mm512_set1_ps(1.0f), e));
}

SIMD_AVX512 static inline __m512 activation_simd512(activation_kind kind, __m512 x)
{
    switch (kind) {
    case ACTIVATION_GELU: return gelu_avx512(x);
    case ACTIVATION_GELU_TANH: return gelu_tanh_avx512(x);
    case ACTIVATION_RELU: break;
    }
    return _mm512_max_ps(_mm512_setzero_ps(), x); /* the second operand (x) wins on NaN */
}

#endif
