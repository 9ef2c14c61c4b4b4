/* The dropout mask of 8 consecutive elements at once: rng_hash_u64 (core/rng.h) computed
 * in 64-bit AVX2 lanes. AVX2 has no 64-bit multiply, so each product by a constant is put
 * together from three 32 x 32 -> 64 bit ones. Compiled for AVX2 only: call only where
 * kernel_path_supported(KERNEL_PATH_AVX2). The tests check these lanes against the scalar
 * hash bit for bit. */
#ifndef SEMB_KERNELS_DROPOUT_SIMD_H
#define SEMB_KERNELS_DROPOUT_SIMD_H

#include <stdint.h>

#include "kernels/dropout.h"
#include "kernels/simd_math.h"

/* The splitmix64 increment rng_hash_u64 steps its counter by. */
#define DROPOUT_GOLDEN 0x9e3779b97f4a7c15ULL

/* a * c modulo 2^64 in each lane. */
SIMD_AVX2 static inline __m256i simd_mul_u64(__m256i a, uint64_t c)
{
    __m256i c_low = _mm256_set1_epi64x((long long)(c & 0xffffffffu));
    __m256i c_high = _mm256_set1_epi64x((long long)(c >> 32));
    __m256i cross = _mm256_add_epi64(_mm256_mul_epu32(_mm256_srli_epi64(a, 32), c_low),
                                     _mm256_mul_epu32(a, c_high));
    return _mm256_add_epi64(_mm256_mul_epu32(a, c_low), _mm256_slli_epi64(cross, 32));
}

/* One round of the splitmix64 finaliser. */
SIMD_AVX2 static inline __m256i simd_splitmix_round(__m256i z)
{
    z = simd_mul_u64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 30)), 0xbf58476d1ce4e5b9ULL);
    z = simd_mul_u64(_mm256_xor_si256(z, _mm256_srli_epi64(z, 27)), 0x94d049bb133111ebULL);
    return _mm256_xor_si256(z, _mm256_srli_epi64(z, 31));
}

/* The multipliers of elements first .. first + 7: scale where kept, 0 where dropped.
 * threshold is p * 2^24: rng_hash_uniform(key, e) < p exactly when the hash's top 24 bits,
 * as a float (exact), are below it. */
SIMD_AVX2 static inline __m256 simd_dropout_multipliers(uint64_t key, uint64_t first,
                                                        __m256 threshold, __m256 scale)
{
    const uint64_t g = DROPOUT_GOLDEN;
    uint64_t base = key + g * (first + 1);
    __m256i z0 = _mm256_add_epi64(_mm256_set1_epi64x((long long)base),
                                  _mm256_setr_epi64x(0, (long long)g, (long long)(2 * g),
                                                     (long long)(3 * g)));
    __m256i z1 = _mm256_add_epi64(z0, _mm256_set1_epi64x((long long)(4 * g)));
    z0 = simd_splitmix_round(simd_splitmix_round(z0));
    z1 = simd_splitmix_round(simd_splitmix_round(z1));
    /* The high 32 bits of each hash, back in element order: the shuffle interleaves the
     * two halves' 128-bit lanes, the permute undoes it. */
    __m256 high = _mm256_shuffle_ps(_mm256_castsi256_ps(z0), _mm256_castsi256_ps(z1),
                                    _MM_SHUFFLE(3, 1, 3, 1));
    __m256i ordered = _mm256_permute4x64_epi64(_mm256_castps_si256(high), _MM_SHUFFLE(3, 1, 2, 0));
    __m256 top24 = _mm256_cvtepi32_ps(_mm256_srli_epi32(ordered, 8));
    return _mm256_and_ps(_mm256_cmp_ps(top24, threshold, _CMP_GE_OQ), scale);
}

#endif
