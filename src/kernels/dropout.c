#include "kernels/dropout.h"

#include <string.h>

#include "core/rng.h"
#include "kernels/dropout_simd.h"

/* The AVX2 hash costs about 2 ns an element (bench/README.md), like GELU: the same
 * threshold for waking the team and the same chunks of whole vectors. */
enum { DROPOUT_PARALLEL_MIN = 1 << 12, DROPOUT_CHUNK = 1 << 10 };
/* Without dropout the backward is a plain add, which pays for the team only later (as
 * ReLU in activation.c). */
enum { ADD_PARALLEL_MIN = 1 << 14 };

/* Inlined into the loops below; dropout_multiplier is the same for other modules. */
static inline float multiplier(dropout_spec spec, uint64_t e)
{
    if (!dropout_active(spec))
        return 1.0f;
    return rng_hash_uniform(spec.key, e) < spec.p ? 0.0f : dropout_scale(spec);
}

float dropout_multiplier(dropout_spec spec, uint64_t e)
{
    return multiplier(spec, e);
}

void dropout_forward_reference(float *out, const float *inp, size_t n, dropout_spec spec)
{
    for (size_t e = 0; e < n; e++)
        out[e] = inp[e] * multiplier(spec, e);
}

void dropout_backward_reference(float *d_inp, const float *d_out, size_t n, dropout_spec spec)
{
    for (size_t e = 0; e < n; e++)
        d_inp[e] += d_out[e] * multiplier(spec, e);
}

static void multipliers_generic(float *m, size_t n, dropout_spec spec, uint64_t first)
{
    for (size_t i = 0; i < n; i++)
        m[i] = multiplier(spec, first + i);
}

SIMD_AVX2 static void multipliers_avx2(float *m, size_t n, dropout_spec spec, uint64_t first)
{
    __m256 threshold = _mm256_set1_ps(spec.p * 16777216.0f);
    __m256 scale = _mm256_set1_ps(dropout_scale(spec));
    for (size_t i = 0; i < n; i += 8)
        simd_store_first(m + i, simd_dropout_multipliers(spec.key, first + i, threshold, scale),
                         n - i < 8 ? (int)(n - i) : 8);
}

void dropout_multipliers(kernel_path path, float *multipliers, size_t n, dropout_spec spec,
                         uint64_t first)
{
    if (!dropout_active(spec)) {
        for (size_t i = 0; i < n; i++)
            multipliers[i] = 1.0f;
    } else if (kernel_path_or_generic(path) == KERNEL_PATH_AVX2) {
        multipliers_avx2(multipliers, n, spec, first);
    } else {
        multipliers_generic(multipliers, n, spec, first);
    }
}

/* Elements first .. first + n - 1 of the forward (accumulate false: out = inp m) or the
 * backward (accumulate true: out += inp m). */
SIMD_AVX2 static void dropout_range_avx2(float *out, const float *inp, size_t n,
                                         dropout_spec spec, size_t first, bool accumulate)
{
    __m256 threshold = _mm256_set1_ps(spec.p * 16777216.0f);
    __m256 scale = _mm256_set1_ps(dropout_scale(spec));
    for (size_t i = 0; i < n; i += 8) {
        int count = n - i < 8 ? (int)(n - i) : 8;
        __m256i mask = simd_tail_mask(count);
        __m256 m = simd_dropout_multipliers(spec.key, first + i, threshold, scale);
        __m256 y = _mm256_mul_ps(_mm256_maskload_ps(inp + i, mask), m);
        if (accumulate)
            y = _mm256_add_ps(_mm256_maskload_ps(out + i, mask), y);
        simd_store_first(out + i, y, count);
    }
}

static void dropout_range_generic(float *out, const float *inp, size_t n, dropout_spec spec,
                                  size_t first, bool accumulate)
{
    for (size_t i = 0; i < n; i++) {
        float y = inp[i] * multiplier(spec, first + i);
        out[i] = accumulate ? out[i] + y : y;
    }
}

static void dropout_run(kernel_path path, float *out, const float *inp, size_t n,
                        dropout_spec spec, bool accumulate)
{
    bool avx2 = kernel_path_or_generic(path) == KERNEL_PATH_AVX2;
    long chunks = (long)((n + DROPOUT_CHUNK - 1) / DROPOUT_CHUNK);
#pragma omp parallel for schedule(static) if (n >= DROPOUT_PARALLEL_MIN)
    for (long c = 0; c < chunks; c++) {
        size_t first = (size_t)c * DROPOUT_CHUNK;
        size_t count = n - first < DROPOUT_CHUNK ? n - first : DROPOUT_CHUNK;
        if (avx2)
            dropout_range_avx2(out + first, inp + first, count, spec, first, accumulate);
        else
            dropout_range_generic(out + first, inp + first, count, spec, first, accumulate);
    }
}

void dropout_forward_using(kernel_path path, float *out, const float *inp, size_t n,
                           dropout_spec spec)
{
    if (!dropout_active(spec)) {
        if (out != inp)
            memcpy(out, inp, n * sizeof *out);
        return;
    }
    dropout_run(path, out, inp, n, spec, false);
}

void dropout_backward_using(kernel_path path, float *d_inp, const float *d_out, size_t n,
                            dropout_spec spec)
{
    if (!d_inp)
        return;
    if (!dropout_active(spec)) {
#pragma omp parallel for schedule(static) if (n >= ADD_PARALLEL_MIN)
        for (size_t e = 0; e < n; e++)
            d_inp[e] += d_out[e];
        return;
    }
    dropout_run(path, d_inp, d_out, n, spec, true);
}

void dropout_forward(float *out, const float *inp, size_t n, dropout_spec spec)
{
    dropout_forward_using(kernel_path_best(), out, inp, n, spec);
}

void dropout_backward(float *d_inp, const float *d_out, size_t n, dropout_spec spec)
{
    dropout_backward_using(kernel_path_best(), d_inp, d_out, n, spec);
}
