/* The AVX2 forms of the activations (static inline, compiled for AVX2 + FMA), shared by
 * the element-wise kernels (activation.c) and the GEMM epilogue that applies them to a tile
 * still in registers (gemm_packed.c). Accuracy: see activation.h. */
#ifndef SEMB_KERNELS_ACTIVATION_SIMD_H
#define SEMB_KERNELS_ACTIVATION_SIMD_H

#include "kernels/activation.h"
#include "kernels/simd_math.h"

/* HF gelu_new: 0.5 x (1 + tanh(sqrt(2/pi) (x + 0.044715 x^3))). */
#define GELU_TANH_C1 0.79788456080286536
#define GELU_TANH_C3 (0.79788456080286536 * 0.044715)

/* erf(z) for |z| < 0.75 as z + z P(z^2): P is a Chebyshev fit (mpmath.chebyfit) to
 * erf(z)/z - 1 on [0, 0.75], its coefficients rounded to float one at a time from the top
 * and the rest refitted; relative error 1.0e-8. Writing 2/sqrt(pi) as 1 + 0.128... keeps
 * the leading coefficient exact to 7e-9. */
SIMD_AVX2 static inline __m256 erf_core_avx2(__m256 z)
{
    __m256 w = _mm256_mul_ps(z, z);
    __m256 p = _mm256_set1_ps(-6.756479852e-04f);
    p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(5.113459192e-03f));
    p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(-2.683300339e-02f));
    p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(1.128330827e-01f));
    p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(-3.761260808e-01f));
    p = _mm256_fmadd_ps(p, w, _mm256_set1_ps(1.283791661e-01f));
    return _mm256_fmadd_ps(z, p, z);
}

/* erfc(a) exp(a^2) for a >= 0.75 as t Q(t) with t = 1 / (1 + a/2), the Numerical Recipes
 * erfcc variable in which Q is smooth and near constant. Q is fitted as P above, on
 * a in [0.75, 9.5] (erfc(9.5) is below FLT_MIN); relative error 1.2e-8. */
SIMD_AVX2 static inline __m256 erfc_scaled_avx2(__m256 a)
{
    const __m256 one = _mm256_set1_ps(1.0f);
    __m256 t = _mm256_div_ps(one, _mm256_fmadd_ps(_mm256_set1_ps(0.5f), a, one));
    __m256 q = _mm256_set1_ps(-4.682436958e-02f);
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.304063648e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-4.274056852e-02f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(-1.726893187e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(9.454806149e-02f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(3.995861113e-02f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(1.879475415e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(2.449612319e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(2.822629809e-01f));
    q = _mm256_fmadd_ps(q, t, _mm256_set1_ps(2.820883095e-01f));
    return _mm256_mul_ps(t, q);
}

/* Phi(x), Phi the standard normal CDF, and *density_exp = exp(-x^2/2) for x clamped to
 * [-20, 20] (beyond, Phi is 0 or 1 in float and the exponential 0). For x < -1.06 Phi is
 * erfc(|x|/sqrt 2)/2 computed directly, and exp(-x^2/2) takes x^2 split exactly into hi + lo
 * by an FMA (rounding x^2 alone would cost a relative error of x^2 2^-24): the left tail
 * keeps its relative precision, where 1 + erf would cancel to nothing. */
SIMD_AVX2 static inline __m256 normal_cdf_avx2(__m256 x, __m256 *density_exp)
{
    const __m256 one = _mm256_set1_ps(1.0f), half = _mm256_set1_ps(0.5f);
    /* Clamping keeps x^2 finite (NaN stays NaN). */
    __m256 xc = _mm256_min_ps(_mm256_set1_ps(20.0f), _mm256_max_ps(_mm256_set1_ps(-20.0f), x));
    __m256 z = _mm256_mul_ps(xc, _mm256_set1_ps(0.70710678118654752f));
    __m256 a = _mm256_andnot_ps(_mm256_set1_ps(-0.0f), z);

    __m256 square_hi = _mm256_mul_ps(xc, xc);
    __m256 square_lo = _mm256_fmsub_ps(xc, xc, square_hi);
    __m256 e = simd_exp(_mm256_mul_ps(square_hi, _mm256_set1_ps(-0.5f)));
    e = _mm256_fnmadd_ps(_mm256_mul_ps(e, half), square_lo, e);
    *density_exp = e;
    __m256 half_erfc = _mm256_mul_ps(_mm256_mul_ps(half, erfc_scaled_avx2(a)), e);
    __m256 negative = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_LT_OQ);
    __m256 phi = _mm256_blendv_ps(_mm256_sub_ps(one, half_erfc), half_erfc, negative);

    __m256 in_core = _mm256_cmp_ps(a, _mm256_set1_ps(0.75f), _CMP_LT_OQ);
    return _mm256_blendv_ps(phi, _mm256_fmadd_ps(half, erf_core_avx2(z), half), in_core);
}

/* x Phi(x). */
SIMD_AVX2 static inline __m256 gelu_avx2(__m256 x)
{
    __m256 density_exp;
    return _mm256_mul_ps(x, normal_cdf_avx2(x, &density_exp));
}

SIMD_AVX2 static inline __m256 gelu_tanh_avx2(__m256 x)
{
    __m256 inner = _mm256_fmadd_ps(_mm256_set1_ps((float)GELU_TANH_C3), _mm256_mul_ps(x, x),
                                   _mm256_set1_ps((float)GELU_TANH_C1));
    __m256 e = simd_exp(_mm256_mul_ps(_mm256_mul_ps(x, inner), _mm256_set1_ps(-2.0f)));
    return _mm256_div_ps(x, _mm256_add_ps(_mm256_set1_ps(1.0f), e));
}

SIMD_AVX2 static inline __m256 activation_simd(activation_kind kind, __m256 x)
{
    switch (kind) {
    case ACTIVATION_GELU: return gelu_avx2(x);
    case ACTIVATION_GELU_TANH: return gelu_tanh_avx2(x);
    case ACTIVATION_RELU: break;
    }
    return _mm256_max_ps(_mm256_setzero_ps(), x); /* the second operand (x) wins on NaN */
}

#endif
