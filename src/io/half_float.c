#include "io/half_float.h"

#include <immintrin.h>
#include <string.h>

#include "core/cpu.h"

static float float_from_bits(uint32_t bits)
{
    float f;
    memcpy(&f, &bits, sizeof f);
    return f;
}

static uint16_t load_u16(const unsigned char *p)
{
    return (uint16_t)(p[0] | p[1] << 8);
}

float half_to_float(uint16_t bits)
{
    uint32_t sign = (uint32_t)(bits & 0x8000) << 16;
    uint32_t exponent = (bits >> 10) & 0x1f;
    uint32_t mantissa = bits & 0x3ff;
    if (exponent == 0x1f) /* infinity, or NaN made quiet */
        return float_from_bits(sign | 0x7f800000 | (mantissa << 13) |
                               (mantissa ? 0x00400000u : 0));
    if (exponent != 0)
        return float_from_bits(sign | (exponent + 112) << 23 | mantissa << 13);
    if (mantissa == 0)
        return float_from_bits(sign);
    /* Subnormal: shift the leading 1 up to the implicit bit, lowering the exponent. */
    int shift = __builtin_clz(mantissa) - 21;
    mantissa = (mantissa << shift) & 0x3ff;
    return float_from_bits(sign | (uint32_t)(113 - shift) << 23 | mantissa << 13);
}

float bfloat16_to_float(uint16_t bits)
{
    return float_from_bits((uint32_t)bits << 16);
}

void half_to_float_array_scalar(const void *src, float *dst, size_t n)
{
    const unsigned char *p = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = half_to_float(load_u16(p + 2 * i));
}

__attribute__((target("avx,f16c"))) void half_to_float_array_f16c(const void *src, float *dst,
                                                                   size_t n)
{
    const unsigned char *p = src;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m128i h = _mm_loadu_si128((const __m128i *)(const void *)(p + 2 * i));
        _mm256_storeu_ps(dst + i, _mm256_cvtph_ps(h));
    }
    for (; i < n; i++)
        dst[i] = _cvtsh_ss(load_u16(p + 2 * i));
}

void half_to_float_array(const void *src, float *dst, size_t n)
{
    if (cpu_features()->f16c)
        half_to_float_array_f16c(src, dst, n);
    else
        half_to_float_array_scalar(src, dst, n);
}

void bfloat16_to_float_array(const void *src, float *dst, size_t n)
{
    const unsigned char *p = src;
    for (size_t i = 0; i < n; i++)
        dst[i] = bfloat16_to_float(load_u16(p + 2 * i));
}
