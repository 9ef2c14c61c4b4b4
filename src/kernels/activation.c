#include "kernels/activation.h"

#include <math.h>

#include "kernels/kernel_path.h"
#include "kernels/activation_simd.h"
#include "kernels/simd_math.h"

/* Shorter inputs run on the calling thread, where waking the team (~2 us here) would cost
 * more than it saves: the GELUs take ~2 ns an element, ReLU is a copy (bench/README.md).
 * Longer ones are cut into chunks of whole AVX2 vectors. */
enum { GELU_PARALLEL_MIN = 1 << 12, RELU_PARALLEL_MIN = 1 << 14, ACTIVATION_CHUNK = 1 << 10 };


/* GELU is evaluated as x * Phi(x) through erfc rather than as 0.5 x (1 + erf(x/sqrt 2)):
 * the two are equal, but 1 + erf cancels for x << 0 and loses all relative precision
 * there. Likewise 0.5 (1 + tanh u) = 1 / (1 + exp(-2u)). */
static float gelu_exact(float x)
{
    return (float)(0.5 * x * erfc(-(double)x * M_SQRT1_2));
}

static float gelu_tanh_exact(float x)
{
    double u = x * (GELU_TANH_C1 + GELU_TANH_C3 * x * (double)x);
    return (float)(x / (1.0 + exp(-2.0 * u)));
}

void activation_forward_reference(activation_kind kind, float *out, const float *inp, size_t n)
{
    switch (kind) {
    case ACTIVATION_GELU:
        for (size_t i = 0; i < n; i++)
            out[i] = gelu_exact(inp[i]);
        break;
    case ACTIVATION_GELU_TANH:
        for (size_t i = 0; i < n; i++)
            out[i] = gelu_tanh_exact(inp[i]);
        break;
    case ACTIVATION_RELU: /* NaN passes through, as in torch.relu */
        for (size_t i = 0; i < n; i++)
            out[i] = inp[i] < 0.0f ? 0.0f : inp[i];
        break;
    }
}

SIMD_AVX2 static void activation_range_avx2(activation_kind kind, float *out, const float *inp,
                                            size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(out + i, activation_simd(kind, _mm256_loadu_ps(inp + i)));
    if (i < n) {
        __m256i mask = simd_tail_mask((int)(n - i));
        __m256 x = _mm256_maskload_ps(inp + i, mask);
        simd_store_first(out + i, activation_simd(kind, x), (int)(n - i));
    }
}

void activation_forward_using(kernel_path path, activation_kind kind, float *out,
                              const float *inp, size_t n)
{
    path = kernel_path_or_generic(path);
    long chunks = (long)((n + ACTIVATION_CHUNK - 1) / ACTIVATION_CHUNK);
    size_t parallel_min = kind == ACTIVATION_RELU ? RELU_PARALLEL_MIN : GELU_PARALLEL_MIN;
#pragma omp parallel for schedule(static) if (n >= parallel_min)
    for (long c = 0; c < chunks; c++) {
        size_t begin = (size_t)c * ACTIVATION_CHUNK;
        size_t count = n - begin < ACTIVATION_CHUNK ? n - begin : ACTIVATION_CHUNK;
        if (path == KERNEL_PATH_AVX2)
            activation_range_avx2(kind, out + begin, inp + begin, count);
        else
            activation_forward_reference(kind, out + begin, inp + begin, count);
    }
}

void activation_forward(activation_kind kind, float *out, const float *inp, size_t n)
{
    activation_forward_using(kernel_path_best(), kind, out, inp, n);
}

/* ---- backward -------------------------------------------------------------------------- */

/* Beyond |x| = 30 both GELUs' derivatives are 0 or 1 to double precision (their second
 * terms are below e^-450); clamping there keeps x^3 and x exp(-x^2/2) finite for x = +-inf
 * (NaN stays NaN: the comparisons are false). */
static double clamp30(double x)
{
    return x > 30.0 ? 30.0 : x < -30.0 ? -30.0 : x;
}

/* d/dx x Phi(x) = Phi(x) + x phi(x). */
static double gelu_derivative(double x)
{
    x = clamp30(x);
    return 0.5 * erfc(-x * M_SQRT1_2) + x * exp(-0.5 * x * x) * (0.5 * M_2_SQRTPI * M_SQRT1_2);
}

/* f = x s, s = 1 / (1 + e^-2u): f' = s + 2 x u' s (1 - s), and s (1 - s) = 1 / (2 + e + 1/e)
 * with e = e^-2u, which neither cancels nor overflows into inf / inf. */
static double gelu_tanh_derivative(double x)
{
    x = clamp30(x);
    double e = exp(-2.0 * x * (GELU_TANH_C1 + GELU_TANH_C3 * x * x));
    double u_prime = GELU_TANH_C1 + 3.0 * GELU_TANH_C3 * x * x;
    return 1.0 / (1.0 + e) + 2.0 * x * u_prime / (2.0 + e + 1.0 / e);
}

void activation_backward_reference(activation_kind kind, float *d_inp, const float *inp,
                                   const float *d_out, size_t n)
{
    switch (kind) {
    case ACTIVATION_GELU:
        for (size_t i = 0; i < n; i++)
            d_inp[i] = (float)(d_inp[i] + gelu_derivative(inp[i]) * d_out[i]);
        break;
    case ACTIVATION_GELU_TANH:
        for (size_t i = 0; i < n; i++)
            d_inp[i] = (float)(d_inp[i] + gelu_tanh_derivative(inp[i]) * d_out[i]);
        break;
    case ACTIVATION_RELU: /* torch's threshold_backward: inp <= 0 stops the gradient */
        for (size_t i = 0; i < n; i++)
            d_inp[i] += inp[i] <= 0.0f ? 0.0f : d_out[i];
        break;
    }
}

SIMD_AVX2 static inline __m256 gelu_derivative_avx2(__m256 x)
{
    __m256 density_exp;
    __m256 phi = normal_cdf_avx2(x, &density_exp);
    __m256 xc = _mm256_min_ps(_mm256_set1_ps(20.0f), _mm256_max_ps(_mm256_set1_ps(-20.0f), x));
    __m256 density = _mm256_mul_ps(density_exp, _mm256_set1_ps(0.39894228040143268f));
    return _mm256_fmadd_ps(xc, density, phi);
}

/* As gelu_tanh_derivative; clamped to [-20, 20], where e is already 0 or inf. */
SIMD_AVX2 static inline __m256 gelu_tanh_derivative_avx2(__m256 x)
{
    const __m256 one = _mm256_set1_ps(1.0f), two = _mm256_set1_ps(2.0f);
    __m256 xc = _mm256_min_ps(_mm256_set1_ps(20.0f), _mm256_max_ps(_mm256_set1_ps(-20.0f), x));
    __m256 square = _mm256_mul_ps(xc, xc);
    __m256 inner = _mm256_fmadd_ps(_mm256_set1_ps((float)GELU_TANH_C3), square,
                                   _mm256_set1_ps((float)GELU_TANH_C1));
    __m256 u_prime = _mm256_fmadd_ps(_mm256_set1_ps((float)(3.0 * GELU_TANH_C3)), square,
                                     _mm256_set1_ps((float)GELU_TANH_C1));
    __m256 e = simd_exp(_mm256_mul_ps(_mm256_mul_ps(xc, inner), _mm256_set1_ps(-2.0f)));
    __m256 s = _mm256_div_ps(one, _mm256_add_ps(one, e));
    __m256 s_one_minus_s = _mm256_div_ps(one, _mm256_add_ps(_mm256_add_ps(two, e),
                                                            _mm256_div_ps(one, e)));
    __m256 slope = _mm256_mul_ps(_mm256_mul_ps(two, xc), u_prime);
    return _mm256_fmadd_ps(slope, s_one_minus_s, s);
}

SIMD_AVX2 static inline __m256 activation_backward_avx2(activation_kind kind, __m256 x,
                                                        __m256 d_out, __m256 d_inp)
{
    switch (kind) {
    case ACTIVATION_GELU: return _mm256_fmadd_ps(gelu_derivative_avx2(x), d_out, d_inp);
    case ACTIVATION_GELU_TANH: return _mm256_fmadd_ps(gelu_tanh_derivative_avx2(x), d_out, d_inp);
    case ACTIVATION_RELU: break;
    }
    __m256 passes = _mm256_cmp_ps(x, _mm256_setzero_ps(), _CMP_NLE_UQ); /* true for NaN */
    return _mm256_add_ps(d_inp, _mm256_and_ps(passes, d_out));
}

SIMD_AVX2 static void activation_backward_range_avx2(activation_kind kind, float *d_inp,
                                                     const float *inp, const float *d_out,
                                                     size_t n)
{
    size_t i = 0;
    for (; i + 8 <= n; i += 8)
        _mm256_storeu_ps(d_inp + i,
                         activation_backward_avx2(kind, _mm256_loadu_ps(inp + i),
                                                  _mm256_loadu_ps(d_out + i),
                                                  _mm256_loadu_ps(d_inp + i)));
    if (i < n) {
        __m256i mask = simd_tail_mask((int)(n - i));
        __m256 sum = activation_backward_avx2(kind, _mm256_maskload_ps(inp + i, mask),
                                              _mm256_maskload_ps(d_out + i, mask),
                                              _mm256_maskload_ps(d_inp + i, mask));
        simd_store_first(d_inp + i, sum, (int)(n - i));
    }
}

void activation_backward_using(kernel_path path, activation_kind kind, float *d_inp,
                               const float *inp, const float *d_out, size_t n)
{
    if (!d_inp)
        return;
    path = kernel_path_or_generic(path);
    long chunks = (long)((n + ACTIVATION_CHUNK - 1) / ACTIVATION_CHUNK);
    size_t parallel_min = kind == ACTIVATION_RELU ? RELU_PARALLEL_MIN : GELU_PARALLEL_MIN;
#pragma omp parallel for schedule(static) if (n >= parallel_min)
    for (long c = 0; c < chunks; c++) {
        size_t begin = (size_t)c * ACTIVATION_CHUNK;
        size_t count = n - begin < ACTIVATION_CHUNK ? n - begin : ACTIVATION_CHUNK;
        if (path == KERNEL_PATH_AVX2)
            activation_backward_range_avx2(kind, d_inp + begin, inp + begin, d_out + begin, count);
        else
            activation_backward_reference(kind, d_inp + begin, inp + begin, d_out + begin, count);
    }
}

void activation_backward(activation_kind kind, float *d_inp, const float *inp,
                         const float *d_out, size_t n)
{
    activation_backward_using(kernel_path_best(), kind, d_inp, inp, d_out, n);
}
