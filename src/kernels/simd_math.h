/* AVX2 building blocks shared by the kernels: tails, horizontal reductions and a float exp
 * accurate to about 1 ulp. Every function is static inline and compiled for AVX2 + FMA
 * only, so it may be called only from code that checked
 * kernel_path_supported(KERNEL_PATH_AVX2). */
#ifndef SEMB_KERNELS_SIMD_MATH_H
#define SEMB_KERNELS_SIMD_MATH_H

#include <immintrin.h>
#include <math.h>

#define SIMD_AVX2 __attribute__((target("avx2,fma")))

/* Lanes 0 .. n-1 set (none when n <= 0, all when n >= 8): for the maskload of a tail. */
SIMD_AVX2 static inline __m256i simd_tail_mask(int n)
{
    return _mm256_cmpgt_epi32(_mm256_set1_epi32(n), _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7));
}

/* Stores lanes 0 .. n-1 of v (all 8 when n >= 8). Not _mm256_maskstore_ps: on AMD Zen the
 * masked store is microcoded, about 13 times the cost of a plain one (measured). */
SIMD_AVX2 static inline void simd_store_first(float *dst, __m256 v, int n)
{
    if (n >= 8) {
        _mm256_storeu_ps(dst, v);
        return;
    }
    float lanes[8];
    _mm256_storeu_ps(lanes, v);
    for (int i = 0; i < n; i++)
        dst[i] = lanes[i];
}

SIMD_AVX2 static inline float simd_sum(__m256 v)
{
    __m128 s = _mm_add_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    s = _mm_add_ps(s, _mm_movehl_ps(s, s));
    s = _mm_add_ss(s, _mm_movehdup_ps(s));
    return _mm_cvtss_f32(s);
}

SIMD_AVX2 static inline float simd_max(__m256 v)
{
    __m128 m = _mm_max_ps(_mm256_castps256_ps128(v), _mm256_extractf128_ps(v, 1));
    m = _mm_max_ps(m, _mm_movehl_ps(m, m));
    m = _mm_max_ss(m, _mm_movehdup_ps(m));
    return _mm_cvtss_f32(m);
}

/* e^x, within about 1 ulp (Cephes expf: Cody-Waite reduction to |r| <= ln2/2, degree-7
 * polynomial). Below ln(FLT_MIN) the result is 0 rather than a denormal, above 88.376 (just
 * short of ln(FLT_MAX), where 2^n would overflow) it is +inf; NaN propagates. */
SIMD_AVX2 static inline __m256 simd_exp(__m256 x)
{
    const __m256 too_small = _mm256_set1_ps(-87.3365447504f);
    const __m256 too_large = _mm256_set1_ps(88.3762626647949f);
    __m256 underflow = _mm256_cmp_ps(x, too_small, _CMP_LT_OQ);
    __m256 overflow = _mm256_cmp_ps(x, too_large, _CMP_GT_OQ);
    /* min/max return their second operand for NaN, which keeps a NaN x. */
    x = _mm256_min_ps(too_large, x);
    x = _mm256_max_ps(too_small, x);
    __m256 n = _mm256_round_ps(_mm256_mul_ps(x, _mm256_set1_ps(1.44269504088896341f)),
                               _MM_FROUND_TO_NEAREST_INT | _MM_FROUND_NO_EXC);
    /* ln 2 split so that n * 0.693359375 is exact for |n| <= 127. */
    __m256 r = _mm256_fnmadd_ps(n, _mm256_set1_ps(0.693359375f), x);
    r = _mm256_fnmadd_ps(n, _mm256_set1_ps(-2.12194440e-4f), r);
    __m256 p = _mm256_set1_ps(1.9875691500e-4f);
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.3981999507e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(8.3334519073e-3f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(4.1665795894e-2f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(1.6666665459e-1f));
    p = _mm256_fmadd_ps(p, r, _mm256_set1_ps(5.0000001201e-1f));
    p = _mm256_fmadd_ps(p, _mm256_mul_ps(r, r), r);
    p = _mm256_add_ps(p, _mm256_set1_ps(1.0f));
    __m256i bits = _mm256_slli_epi32(_mm256_add_epi32(_mm256_cvtps_epi32(n), _mm256_set1_epi32(127)), 23);
    __m256 e = _mm256_andnot_ps(underflow, _mm256_mul_ps(p, _mm256_castsi256_ps(bits)));
    return _mm256_blendv_ps(e, _mm256_set1_ps(INFINITY), overflow);
}

#endif
