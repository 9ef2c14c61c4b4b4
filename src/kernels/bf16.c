#include "kernels/bf16.h"

#include <string.h>

#include "kernels/simd_math.h"

uint16_t bf16_from_float(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    if ((bits & 0x7fffffffu) > 0x7f800000u)
        return (uint16_t)((bits >> 16) | 0x0040u);
    bits += 0x7fffu + ((bits >> 16) & 1u);
    return (uint16_t)(bits >> 16);
}

float bf16_to_float(uint16_t b)
{
    uint32_t bits = (uint32_t)b << 16;
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

/* The rounded bits of 8 floats in the upper half of each lane (lower half garbage). */
SIMD_AVX2 static inline __m256i round_bits_avx2(__m256 x)
{
    __m256i bits = _mm256_castps_si256(x);
    __m256i odd = _mm256_and_si256(_mm256_srli_epi32(bits, 16), _mm256_set1_epi32(1));
    __m256i rounded = _mm256_add_epi32(bits, _mm256_add_epi32(odd, _mm256_set1_epi32(0x7fff)));
    __m256i quiet_nan = _mm256_or_si256(bits, _mm256_set1_epi32(0x00400000));
    __m256 is_nan = _mm256_cmp_ps(x, x, _CMP_UNORD_Q);
    return _mm256_castps_si256(_mm256_blendv_ps(_mm256_castsi256_ps(rounded),
                                                _mm256_castsi256_ps(quiet_nan), is_nan));
}

SIMD_AVX2 static void from_floats_avx2(uint16_t *out, const float *in, size_t n)
{
    size_t i = 0;
    for (; i + 16 <= n; i += 16) {
        __m256i low = _mm256_srli_epi32(round_bits_avx2(_mm256_loadu_ps(in + i)), 16);
        __m256i high = _mm256_srli_epi32(round_bits_avx2(_mm256_loadu_ps(in + i + 8)), 16);
        /* packus interleaves the 128-bit halves: 0-3 8-11 4-7 12-15, hence the permute */
        __m256i packed = _mm256_permute4x64_epi64(_mm256_packus_epi32(low, high), 0xd8);
        _mm256_storeu_si256((__m256i *)(out + i), packed);
    }
    for (; i < n; i++)
        out[i] = bf16_from_float(in[i]);
}

SIMD_AVX2 static void round_floats_avx2(float *out, const float *in, size_t n)
{
    const __m256i upper = _mm256_set1_epi32((int)0xffff0000u);
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i bits = _mm256_and_si256(round_bits_avx2(_mm256_loadu_ps(in + i)), upper);
        _mm256_storeu_ps(out + i, _mm256_castsi256_ps(bits));
    }
    for (; i < n; i++)
        out[i] = bf16_to_float(bf16_from_float(in[i]));
}

SIMD_AVX2 static void to_floats_avx2(float *out, const uint16_t *in, size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256i wide = _mm256_cvtepu16_epi32(_mm_loadu_si128((const __m128i *)(in + i)));
        _mm256_storeu_ps(out + i, _mm256_castsi256_ps(_mm256_slli_epi32(wide, 16)));
    }
    for (; i < n; i++)
        out[i] = bf16_to_float(in[i]);
}

void bf16_from_floats_using(kernel_path path, uint16_t *out, const float *in, size_t n)
{
    if (kernel_path_or_generic(path) == KERNEL_PATH_AVX2) {
        from_floats_avx2(out, in, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = bf16_from_float(in[i]);
}

void bf16_round_floats_using(kernel_path path, float *out, const float *in, size_t n)
{
    if (kernel_path_or_generic(path) == KERNEL_PATH_AVX2) {
        round_floats_avx2(out, in, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = bf16_to_float(bf16_from_float(in[i]));
}

void bf16_to_floats_using(kernel_path path, float *out, const uint16_t *in, size_t n)
{
    if (kernel_path_or_generic(path) == KERNEL_PATH_AVX2) {
        to_floats_avx2(out, in, n);
        return;
    }
    for (size_t i = 0; i < n; i++)
        out[i] = bf16_to_float(in[i]);
}

void bf16_from_floats(uint16_t *out, const float *in, size_t n)
{
    bf16_from_floats_using(kernel_path_best(), out, in, n);
}

void bf16_round_floats(float *out, const float *in, size_t n)
{
    bf16_round_floats_using(kernel_path_best(), out, in, n);
}

void bf16_to_floats(float *out, const uint16_t *in, size_t n)
{
    bf16_to_floats_using(kernel_path_best(), out, in, n);
}
