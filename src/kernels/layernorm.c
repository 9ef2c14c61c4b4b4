#include "kernels/layernorm.h"

#include <math.h>

#include "kernels/kernel_path.h"
#include "kernels/simd_math.h"

/* Fewer elements than this run on the calling thread: at ~0.3 ns an element, waking the
 * team (~2 us) pays off from about 40 rows of 384 (bench/README.md). */
enum { LAYERNORM_PARALLEL_MIN = 1 << 14 };

/* One row, from the row x (which out may alias: each element is read before it is
 * written). The generic row accumulates in double with two passes (mean, then the
 * variance about it), so it is also the reference. */
static void layernorm_row_generic(float *out, float *mean, float *rstd, const float *x,
                                  const float *weight, const float *bias, int C, float eps)
{
    double sum = 0.0;
    for (int c = 0; c < C; c++)
        sum += x[c];
    double m = sum / C;
    double squares = 0.0;
    for (int c = 0; c < C; c++)
        squares += (x[c] - m) * (x[c] - m);
    double r = 1.0 / sqrt(squares / C + eps);
    for (int c = 0; c < C; c++)
        out[c] = (float)((x[c] - m) * r * weight[c] + bias[c]);
    if (mean)
        *mean = (float)m;
    if (rstd)
        *rstd = (float)r;
}

/* The sum of (x - shift)^power for power 1 or 2, accumulated in float in 32 lanes (4
 * vectors): each lane sums C/32 terms, so the rounding error stays near that of a pairwise
 * sum. Shifting by one of the row's own values (the mean is unknown yet) keeps the terms on
 * the scale of the row's spread, so the sums lose nothing to a large common offset. */
SIMD_AVX2 static inline float sum_powers_avx2(const float *x, int C, float shift, int power)
{
    __m256 vs = _mm256_set1_ps(shift);
    __m256 s0 = _mm256_setzero_ps(), s1 = s0, s2 = s0, s3 = s0;
    int c = 0;
    for (; c + 32 <= C; c += 32) {
        __m256 d0 = _mm256_sub_ps(_mm256_loadu_ps(x + c), vs);
        __m256 d1 = _mm256_sub_ps(_mm256_loadu_ps(x + c + 8), vs);
        __m256 d2 = _mm256_sub_ps(_mm256_loadu_ps(x + c + 16), vs);
        __m256 d3 = _mm256_sub_ps(_mm256_loadu_ps(x + c + 24), vs);
        if (power == 1) {
            s0 = _mm256_add_ps(s0, d0);
            s1 = _mm256_add_ps(s1, d1);
            s2 = _mm256_add_ps(s2, d2);
            s3 = _mm256_add_ps(s3, d3);
        } else {
            s0 = _mm256_fmadd_ps(d0, d0, s0);
            s1 = _mm256_fmadd_ps(d1, d1, s1);
            s2 = _mm256_fmadd_ps(d2, d2, s2);
            s3 = _mm256_fmadd_ps(d3, d3, s3);
        }
    }
    for (; c < C; c += 8) {
        __m256i mask = simd_tail_mask(C - c);
        __m256 d = _mm256_and_ps(_mm256_sub_ps(_mm256_maskload_ps(x + c, mask), vs),
                                 _mm256_castsi256_ps(mask));
        s0 = power == 1 ? _mm256_add_ps(s0, d) : _mm256_fmadd_ps(d, d, s0);
    }
    return simd_sum(_mm256_add_ps(_mm256_add_ps(s0, s1), _mm256_add_ps(s2, s3)));
}

SIMD_AVX2 static void normalize_avx2(float *out, const float *x, const float *weight,
                                     const float *bias, int C, float m, float r)
{
    __m256 vm = _mm256_set1_ps(m), vr = _mm256_set1_ps(r);
    int c = 0;
    for (; c + 8 <= C; c += 8) {
        __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_loadu_ps(x + c), vm), vr);
        _mm256_storeu_ps(out + c, _mm256_fmadd_ps(xhat, _mm256_loadu_ps(weight + c),
                                                  _mm256_loadu_ps(bias + c)));
    }
    if (c < C) {
        __m256i mask = simd_tail_mask(C - c);
        __m256 xhat = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + c, mask), vm), vr);
        simd_store_first(out + c,
                         _mm256_fmadd_ps(xhat, _mm256_maskload_ps(weight + c, mask),
                                         _mm256_maskload_ps(bias + c, mask)),
                         C - c);
    }
}

SIMD_AVX2 static void layernorm_row_avx2(float *out, float *mean, float *rstd, const float *x,
                                         const float *weight, const float *bias, int C, float eps)
{
    float m = x[0] + sum_powers_avx2(x, C, x[0], 1) / (float)C;
    float var = sum_powers_avx2(x, C, m, 2) / (float)C;
    float r = 1.0f / sqrtf(var + eps);
    normalize_avx2(out, x, weight, bias, C, m, r);
    if (mean)
        *mean = m;
    if (rstd)
        *rstd = r;
}

/* out = a + b, row by row; then the same row normalised in place. */
static void add_layernorm_row_generic(float *out, float *mean, float *rstd, const float *a,
                                      const float *b, const float *weight, const float *bias,
                                      int C, float eps)
{
    for (int c = 0; c < C; c++)
        out[c] = a[c] + b[c];
    layernorm_row_generic(out, mean, rstd, out, weight, bias, C, eps);
}

SIMD_AVX2 static void add_layernorm_row_avx2(float *out, float *mean, float *rstd, const float *a,
                                             const float *b, const float *weight,
                                             const float *bias, int C, float eps)
{
    int c = 0;
    for (; c + 8 <= C; c += 8)
        _mm256_storeu_ps(out + c, _mm256_add_ps(_mm256_loadu_ps(a + c), _mm256_loadu_ps(b + c)));
    for (; c < C; c++)
        out[c] = a[c] + b[c];
    layernorm_row_avx2(out, mean, rstd, out, weight, bias, C, eps);
}

void layernorm_forward_reference(float *out, float *mean, float *rstd, const float *inp,
                                 const float *weight, const float *bias, int rows, int C,
                                 float eps)
{
    for (int r = 0; r < rows; r++)
        layernorm_row_generic(out + (size_t)r * C, mean ? mean + r : NULL, rstd ? rstd + r : NULL,
                              inp + (size_t)r * C, weight, bias, C, eps);
}

void layernorm_forward_using(kernel_path path, float *out, float *mean, float *rstd,
                             const float *inp, const float *weight, const float *bias, int rows,
                             int C, float eps)
{
    if (C <= 0)
        return;
    bool avx2 = kernel_path_or_generic(path) == KERNEL_PATH_AVX2;
#pragma omp parallel for schedule(static) if ((long)rows * C >= LAYERNORM_PARALLEL_MIN)
    for (int r = 0; r < rows; r++) {
        size_t at = (size_t)r * C;
        float *m = mean ? mean + r : NULL, *s = rstd ? rstd + r : NULL;
        if (avx2)
            layernorm_row_avx2(out + at, m, s, inp + at, weight, bias, C, eps);
        else
            layernorm_row_generic(out + at, m, s, inp + at, weight, bias, C, eps);
    }
}

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, int rows, int C, float eps)
{
    layernorm_forward_using(kernel_path_best(), out, mean, rstd, inp, weight, bias, rows, C, eps);
}

void add_layernorm_forward_using(kernel_path path, float *out, float *mean, float *rstd,
                                 const float *a, const float *b, const float *weight,
                                 const float *bias, int rows, int C, float eps)
{
    if (C <= 0)
        return;
    bool avx2 = kernel_path_or_generic(path) == KERNEL_PATH_AVX2;
#pragma omp parallel for schedule(static) if ((long)rows * C >= LAYERNORM_PARALLEL_MIN)
    for (int r = 0; r < rows; r++) {
        size_t at = (size_t)r * C;
        float *m = mean ? mean + r : NULL, *s = rstd ? rstd + r : NULL;
        if (avx2)
            add_layernorm_row_avx2(out + at, m, s, a + at, b + at, weight, bias, C, eps);
        else
            add_layernorm_row_generic(out + at, m, s, a + at, b + at, weight, bias, C, eps);
    }
}

void add_layernorm_forward(float *out, float *mean, float *rstd, const float *a, const float *b,
                           const float *weight, const float *bias, int rows, int C, float eps)
{
    add_layernorm_forward_using(kernel_path_best(), out, mean, rstd, a, b, weight, bias, rows, C,
                                eps);
}
