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

/* ---- backward -------------------------------------------------------------------------- */

/* Column blocks of the weight and bias gradients: 4 vectors, so that 8 accumulators and
 * their operands fit the 16 AVX2 registers. The AVX2 path sums ROW_CHUNK rows in float
 * registers before adding them to the gradient, so no float sum runs over more than
 * ROW_CHUNK + rows / ROW_CHUNK terms. */
enum { COLUMN_BLOCK = 32, ROW_CHUNK = 32 };

static void layernorm_backward_row_generic(float *d_inp, const float *d_out, const float *x,
                                           const float *weight, float mean, float rstd, int C)
{
    double g_sum = 0.0, g_xhat_sum = 0.0;
    for (int c = 0; c < C; c++) {
        double g = (double)weight[c] * d_out[c];
        g_sum += g;
        g_xhat_sum += g * ((x[c] - (double)mean) * rstd);
    }
    double g_mean = g_sum / C, g_xhat_mean = g_xhat_sum / C;
    for (int c = 0; c < C; c++) {
        double x_hat = (x[c] - (double)mean) * rstd;
        double g = (double)weight[c] * d_out[c];
        d_inp[c] = (float)(d_inp[c] + (g - g_mean - x_hat * g_xhat_mean) * rstd);
    }
}

/* Columns [begin, end): one double per column, rows in order. */
static void layernorm_parameter_block_generic(float *d_weight, float *d_bias, const float *d_out,
                                              const float *inp, const float *mean,
                                              const float *rstd, int rows, int C, int begin,
                                              int end)
{
    double weight_sum[COLUMN_BLOCK] = {0}, bias_sum[COLUMN_BLOCK] = {0};
    for (int r = 0; r < rows; r++) {
        const float *x = inp + (size_t)r * C, *d = d_out + (size_t)r * C;
        for (int c = begin; c < end; c++) {
            weight_sum[c - begin] += d[c] * ((x[c] - (double)mean[r]) * rstd[r]);
            bias_sum[c - begin] += d[c];
        }
    }
    for (int c = begin; c < end; c++) {
        if (d_weight)
            d_weight[c] = (float)(d_weight[c] + weight_sum[c - begin]);
        if (d_bias)
            d_bias[c] = (float)(d_bias[c] + bias_sum[c - begin]);
    }
}

SIMD_AVX2 static void layernorm_backward_row_avx2(float *d_inp, const float *d_out,
                                                  const float *x, const float *weight,
                                                  float mean, float rstd, int C)
{
    __m256 vm = _mm256_set1_ps(mean), vr = _mm256_set1_ps(rstd);
    __m256 g_sum = _mm256_setzero_ps(), g_xhat_sum = _mm256_setzero_ps();
    for (int c = 0; c < C; c += 8) {
        __m256i mask = simd_tail_mask(C - c);
        __m256 g = _mm256_mul_ps(_mm256_maskload_ps(weight + c, mask),
                                 _mm256_maskload_ps(d_out + c, mask));
        __m256 x_hat = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + c, mask), vm), vr);
        g_sum = _mm256_add_ps(g_sum, g);
        g_xhat_sum = _mm256_fmadd_ps(g, x_hat, g_xhat_sum);
    }
    __m256 g_mean = _mm256_set1_ps(simd_sum(g_sum) / (float)C);
    __m256 g_xhat_mean = _mm256_set1_ps(simd_sum(g_xhat_sum) / (float)C);
    for (int c = 0; c < C; c += 8) {
        __m256i mask = simd_tail_mask(C - c);
        __m256 g = _mm256_mul_ps(_mm256_maskload_ps(weight + c, mask),
                                 _mm256_maskload_ps(d_out + c, mask));
        __m256 x_hat = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x + c, mask), vm), vr);
        __m256 centred = _mm256_fnmadd_ps(x_hat, g_xhat_mean, _mm256_sub_ps(g, g_mean));
        __m256 sum = _mm256_fmadd_ps(centred, vr, _mm256_maskload_ps(d_inp + c, mask));
        simd_store_first(d_inp + c, sum, C - c);
    }
}

/* dst[0 .. n-1] += v (n <= 8; nothing when n <= 0). */
SIMD_AVX2 static inline void add_first(float *dst, __m256 v, int n)
{
    if (n > 0)
        simd_store_first(dst, _mm256_add_ps(_mm256_maskload_ps(dst, simd_tail_mask(n)), v), n);
}

/* w += d x_hat, b += d over the 8 columns of mask (inlined: the sums stay in registers). */
SIMD_AVX2 static inline void accumulate_columns(const float *d, const float *x, __m256i mask,
                                                __m256 vm, __m256 vr, __m256 *w, __m256 *b)
{
    __m256 dv = _mm256_maskload_ps(d, mask);
    __m256 x_hat = _mm256_mul_ps(_mm256_sub_ps(_mm256_maskload_ps(x, mask), vm), vr);
    *w = _mm256_fmadd_ps(dv, x_hat, *w);
    *b = _mm256_add_ps(*b, dv);
}

SIMD_AVX2 static void layernorm_parameter_block_avx2(float *d_weight, float *d_bias,
                                                     const float *d_out, const float *inp,
                                                     const float *mean, const float *rstd,
                                                     int rows, int C, int begin, int end)
{
    int width = end - begin;
    __m256i m0 = simd_tail_mask(width), m1 = simd_tail_mask(width - 8);
    __m256i m2 = simd_tail_mask(width - 16), m3 = simd_tail_mask(width - 24);
    for (int chunk = 0; chunk < rows; chunk += ROW_CHUNK) {
        __m256 w0 = _mm256_setzero_ps(), w1 = w0, w2 = w0, w3 = w0;
        __m256 b0 = w0, b1 = w0, b2 = w0, b3 = w0;
        int chunk_end = chunk + ROW_CHUNK < rows ? chunk + ROW_CHUNK : rows;
        for (int r = chunk; r < chunk_end; r++) {
            const float *x = inp + (size_t)r * C + begin, *d = d_out + (size_t)r * C + begin;
            __m256 vm = _mm256_set1_ps(mean[r]), vr = _mm256_set1_ps(rstd[r]);
            accumulate_columns(d, x, m0, vm, vr, &w0, &b0);
            accumulate_columns(d + 8, x + 8, m1, vm, vr, &w1, &b1);
            accumulate_columns(d + 16, x + 16, m2, vm, vr, &w2, &b2);
            accumulate_columns(d + 24, x + 24, m3, vm, vr, &w3, &b3);
        }
        if (d_weight) {
            add_first(d_weight + begin, w0, width);
            add_first(d_weight + begin + 8, w1, width - 8);
            add_first(d_weight + begin + 16, w2, width - 16);
            add_first(d_weight + begin + 24, w3, width - 24);
        }
        if (d_bias) {
            add_first(d_bias + begin, b0, width);
            add_first(d_bias + begin + 8, b1, width - 8);
            add_first(d_bias + begin + 16, b2, width - 16);
            add_first(d_bias + begin + 24, b3, width - 24);
        }
    }
}

void layernorm_backward_reference(float *d_inp, float *d_weight, float *d_bias,
                                  const float *d_out, const float *inp, const float *weight,
                                  const float *mean, const float *rstd, int rows, int C)
{
    if (C <= 0)
        return;
    for (int r = 0; d_inp && r < rows; r++) {
        size_t at = (size_t)r * C;
        layernorm_backward_row_generic(d_inp + at, d_out + at, inp + at, weight, mean[r], rstd[r],
                                       C);
    }
    for (int begin = 0; (d_weight || d_bias) && begin < C; begin += COLUMN_BLOCK) {
        int end = begin + COLUMN_BLOCK < C ? begin + COLUMN_BLOCK : C;
        layernorm_parameter_block_generic(d_weight, d_bias, d_out, inp, mean, rstd, rows, C,
                                          begin, end);
    }
}

void layernorm_backward_using(kernel_path path, float *d_inp, float *d_weight, float *d_bias,
                              const float *d_out, const float *inp, const float *weight,
                              const float *mean, const float *rstd, int rows, int C)
{
    if (C <= 0 || rows <= 0)
        return;
    bool avx2 = kernel_path_or_generic(path) == KERNEL_PATH_AVX2;
    bool parameters = d_weight || d_bias;
    int blocks = (C + COLUMN_BLOCK - 1) / COLUMN_BLOCK;
#pragma omp parallel if ((long)rows * C >= LAYERNORM_PARALLEL_MIN)
    {
        if (d_inp) {
#pragma omp for schedule(static)
            for (int r = 0; r < rows; r++) {
                size_t at = (size_t)r * C;
                if (avx2)
                    layernorm_backward_row_avx2(d_inp + at, d_out + at, inp + at, weight, mean[r],
                                                rstd[r], C);
                else
                    layernorm_backward_row_generic(d_inp + at, d_out + at, inp + at, weight,
                                                   mean[r], rstd[r], C);
            }
        }
        if (parameters) {
#pragma omp for schedule(static)
            for (int b = 0; b < blocks; b++) {
                int begin = b * COLUMN_BLOCK;
                int end = begin + COLUMN_BLOCK < C ? begin + COLUMN_BLOCK : C;
                if (avx2)
                    layernorm_parameter_block_avx2(d_weight, d_bias, d_out, inp, mean, rstd, rows,
                                                   C, begin, end);
                else
                    layernorm_parameter_block_generic(d_weight, d_bias, d_out, inp, mean, rstd,
                                                      rows, C, begin, end);
            }
        }
    }
}

void layernorm_backward(float *d_inp, float *d_weight, float *d_bias, const float *d_out,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int rows, int C)
{
    layernorm_backward_using(kernel_path_best(), d_inp, d_weight, d_bias, d_out, inp, weight,
                             mean, rstd, rows, C);
}
