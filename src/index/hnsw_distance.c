#include "index/hnsw_distance.h"

#include "kernels/simd_math.h"

/* Eight running sums, so that the generic loop has independent chains the compiler can
 * keep in vector registers without reassociating a single sum. */
static float dot_generic(const float *a, const float *b, size_t dim)
{
    float sums[8] = {0};
    size_t d = 0;
    for (; d + 8 <= dim; d += 8)
        for (int j = 0; j < 8; j++)
            sums[j] += a[d + j] * b[d + j];
    for (; d < dim; d++)
        sums[0] += a[d] * b[d];
    return ((sums[0] + sums[4]) + (sums[1] + sums[5])) + ((sums[2] + sums[6]) + (sums[3] + sums[7]));
}

static float squared_l2_generic(const float *a, const float *b, size_t dim)
{
    float sums[8] = {0};
    size_t d = 0;
    for (; d + 8 <= dim; d += 8)
        for (int j = 0; j < 8; j++) {
            float diff = a[d + j] - b[d + j];
            sums[j] += diff * diff;
        }
    for (; d < dim; d++)
        sums[0] += (a[d] - b[d]) * (a[d] - b[d]);
    return ((sums[0] + sums[4]) + (sums[1] + sums[5])) + ((sums[2] + sums[6]) + (sums[3] + sums[7]));
}

SIMD_AVX2 static float dot_avx2(const float *a, const float *b, size_t dim)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t d = 0;
    for (; d + 16 <= dim; d += 16) {
        s0 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d), s0);
        s1 = _mm256_fmadd_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8), s1);
    }
    if (d < dim) {
        __m256i mask = simd_tail_mask((int)(dim - d));
        s0 = _mm256_fmadd_ps(_mm256_maskload_ps(a + d, mask), _mm256_maskload_ps(b + d, mask), s0);
        if (d + 8 < dim) {
            mask = simd_tail_mask((int)(dim - d - 8));
            s1 = _mm256_fmadd_ps(_mm256_maskload_ps(a + d + 8, mask),
                                 _mm256_maskload_ps(b + d + 8, mask), s1);
        }
    }
    return simd_sum(_mm256_add_ps(s0, s1));
}

SIMD_AVX2 static float squared_l2_avx2(const float *a, const float *b, size_t dim)
{
    __m256 s0 = _mm256_setzero_ps(), s1 = _mm256_setzero_ps();
    size_t d = 0;
    for (; d + 16 <= dim; d += 16) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(a + d), _mm256_loadu_ps(b + d));
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(a + d + 8), _mm256_loadu_ps(b + d + 8));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        s1 = _mm256_fmadd_ps(d1, d1, s1);
    }
    /* masked lanes load 0 on both sides, so they add 0 */
    if (d < dim) {
        __m256i mask = simd_tail_mask((int)(dim - d));
        __m256 d0 = _mm256_sub_ps(_mm256_maskload_ps(a + d, mask), _mm256_maskload_ps(b + d, mask));
        s0 = _mm256_fmadd_ps(d0, d0, s0);
        if (d + 8 < dim) {
            mask = simd_tail_mask((int)(dim - d - 8));
            __m256 d1 = _mm256_sub_ps(_mm256_maskload_ps(a + d + 8, mask),
                                      _mm256_maskload_ps(b + d + 8, mask));
            s1 = _mm256_fmadd_ps(d1, d1, s1);
        }
    }
    return simd_sum(_mm256_add_ps(s0, s1));
}

static float ip_distance_generic(const void *a, const void *b, const void *param)
{
    return 1.0f - dot_generic(a, b, *(const size_t *)param);
}

static float l2_distance_generic(const void *a, const void *b, const void *param)
{
    return squared_l2_generic(a, b, *(const size_t *)param);
}

static float ip_distance_avx2(const void *a, const void *b, const void *param)
{
    return 1.0f - dot_avx2(a, b, *(const size_t *)param);
}

static float l2_distance_avx2(const void *a, const void *b, const void *param)
{
    return squared_l2_avx2(a, b, *(const size_t *)param);
}

hnsw_distance_fn hnsw_distance_using(bool inner_product, kernel_path path)
{
    if (kernel_path_or_generic(path) == KERNEL_PATH_AVX2)
        return inner_product ? ip_distance_avx2 : l2_distance_avx2;
    return inner_product ? ip_distance_generic : l2_distance_generic;
}
