/* The backward kernels (linear, LayerNorm, activations, dropout; attention has its own
 * program, test_kernels_attention_backward.c):
 *  - each fast path against its scalar reference on random odd shapes, every path this CPU
 *    has, with the tolerance stated beside each check;
 *  - gradient checks: a double-precision forward and backward of each layer, written here
 *    independently of the kernels, against central differences (relative error <= 1e-6),
 *    and the float kernels against that double backward;
 *  - determinism: the same bits from two runs, and (where the kernels promise it) from 1
 *    and 2 threads; dropout masks the same in forward and backward. */
#include "kernels_backward_support.h"

#include <omp.h>

#include "kernels/activation.h"
#include "kernels/dropout.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"

static const int odd_sizes[] = {1, 3, 17, 33, 129};
enum { N_ODD_SIZES = sizeof odd_sizes / sizeof odd_sizes[0] };

/* ---- linear ---------------------------------------------------------------------------- */

typedef struct linear_layer {
    int M, K, N;
    double *inp, *weight, *bias, *out, *d_out;
} linear_layer;

static double linear_loss(void *context)
{
    linear_layer *l = context;
    for (int i = 0; i < l->M; i++)
        for (int j = 0; j < l->N; j++) {
            double sum = l->bias[j];
            for (int p = 0; p < l->K; p++)
                sum += l->inp[(size_t)i * l->K + p] * l->weight[(size_t)j * l->K + p];
            l->out[(size_t)i * l->N + j] = sum;
        }
    return dot(l->out, l->d_out, (size_t)l->M * l->N);
}

static void linear_f64_backward(const linear_layer *l, double *d_inp, double *d_weight,
                                double *d_bias)
{
    for (int i = 0; i < l->M; i++)
        for (int j = 0; j < l->N; j++) {
            double g = l->d_out[(size_t)i * l->N + j];
            d_bias[j] += g;
            for (int p = 0; p < l->K; p++) {
                d_inp[(size_t)i * l->K + p] += g * l->weight[(size_t)j * l->K + p];
                d_weight[(size_t)j * l->K + p] += g * l->inp[(size_t)i * l->K + p];
            }
        }
}

/* Fast against reference with random gradients already there, a subset of them NULL.
 * d_inp, d_weight: as test_kernels.c, any float summation of n products is within
 * gamma_n ~ n u of the exact sum relative to the sum of their magnitudes; (n + 2)
 * FLT_EPSILON of that (and of the old gradient) leaves a factor 2. d_bias: the same double
 * sums, the same bits. */
static void check_linear_backward(int M, int K, int N, unsigned null_mask)
{
    size_t sizes[3] = {(size_t)M * K, (size_t)N * K, (size_t)N}, mn = (size_t)M * N;
    int terms[3] = {N, M, M};
    float *d_out = random_array(mn, -1, 1), *inp = random_array(sizes[0], -1, 1);
    float *weight = random_array(sizes[1], -1, 1), *before[3], *got[3], *expected[3];
    float *magnitude[3];
    for (int g = 0; g < 3; g++) {
        before[g] = random_array(sizes[g], -1, 1);
        got[g] = null_mask & (1u << g) ? NULL : copy_array(before[g], sizes[g]);
        expected[g] = null_mask & (1u << g) ? NULL : copy_array(before[g], sizes[g]);
        magnitude[g] = calloc(sizes[g] + 1, sizeof *magnitude[g]);
        assert_non_null(magnitude[g]);
    }
    linear_backward(got[0], got[1], got[2], d_out, inp, weight, M, K, N);
    linear_backward_reference(expected[0], expected[1], expected[2], d_out, inp, weight, M, K, N);
    float *abs_out = abs_copy(d_out, mn), *abs_inp = abs_copy(inp, sizes[0]);
    float *abs_weight = abs_copy(weight, sizes[1]);
    linear_backward_reference(magnitude[0], magnitude[1], magnitude[2], abs_out, abs_inp,
                              abs_weight, M, K, N);
    for (int g = 0; g < 2; g++) {
        if (!got[g])
            continue;
        double *tolerance = zeros(sizes[g]);
        for (size_t i = 0; i < sizes[g]; i++)
            tolerance[i] = (terms[g] + 2) * (double)FLT_EPSILON *
                               (magnitude[g][i] + fabsf(before[g][i])) + FLT_MIN;
        check_elementwise(g ? "linear_backward d_weight" : "linear_backward d_inp", got[g],
                          expected[g], tolerance, sizes[g]);
        free(tolerance);
    }
    if (got[2])
        assert_memory_equal(got[2], expected[2], sizes[2] * sizeof *got[2]);
    for (int g = 0; g < 3; g++)
        free(before[g]), free(got[g]), free(expected[g]), free(magnitude[g]);
    free(d_out), free(inp), free(weight), free(abs_out), free(abs_inp), free(abs_weight);
}

static void test_linear_backward_matches_reference(void **state)
{
    for (int m = 0; m < N_ODD_SIZES; m++)
        for (int k = 0; k < N_ODD_SIZES; k++)
            for (int n = 0; n < N_ODD_SIZES; n++)
                check_linear_backward(odd_sizes[m], odd_sizes[k], odd_sizes[n], (m + k + n) % 8);
    check_linear_backward(100, 384, 1152, 0); /* the fused QKV shape, parallel bias sums */
    report_worst("linear_backward vs reference");
}

static void test_linear_gradients(void **state)
{
    int M = 5, K = 7, N = 3;
    size_t nk = (size_t)M * K, wk = (size_t)N * K, mn = (size_t)M * N;
    float *inp = random_array(nk, -1, 1), *weight = random_array(wk, -1, 1);
    float *bias = random_array(N, -1, 1), *d_out = random_array(mn, -1, 1);
    linear_layer l = {M, K, N, to_double(inp, nk), to_double(weight, wk), to_double(bias, N),
                      zeros(mn), to_double(d_out, mn)};
    double *d_inp = zeros(nk), *d_weight = zeros(wk), *d_bias = zeros(N);
    linear_f64_backward(&l, d_inp, d_weight, d_bias);
    check_central_differences("linear d_inp", linear_loss, &l, l.inp, d_inp, nk);
    check_central_differences("linear d_weight", linear_loss, &l, l.weight, d_weight, wk);
    check_central_differences("linear d_bias", linear_loss, &l, l.bias, d_bias, N);

    /* The float kernel: sums of K or M products of [-1, 1] numbers, each rounding within
     * u = 6e-8 of a partial sum no larger than the gradients here: a few u of the largest
     * gradient (measured 7e-8). 1e-6 leaves a factor 10. */
    float *f_inp = calloc(nk, 4), *f_weight = calloc(wk, 4), *f_bias = calloc(N, 4);
    assert_true(f_inp && f_weight && f_bias);
    linear_backward(f_inp, f_weight, f_bias, d_out, inp, weight, M, K, N);
    check_error("linear d_inp vs double", normwise_error(f_inp, d_inp, nk), 1e-6);
    check_error("linear d_weight vs double", normwise_error(f_weight, d_weight, wk), 1e-6);
    check_error("linear d_bias vs double", normwise_error(f_bias, d_bias, N), 1e-6);
    report_worst("linear float vs double");
    free(inp), free(weight), free(bias), free(d_out), free(l.inp), free(l.weight), free(l.bias);
    free(l.out), free(l.d_out), free(d_inp), free(d_weight), free(d_bias);
    free(f_inp), free(f_weight), free(f_bias);
}

/* ---- layernorm ------------------------------------------------------------------------- */

typedef struct layernorm_layer {
    int rows, C;
    double eps;
    double *inp, *weight, *bias, *out, *mean, *rstd, *d_out;
} layernorm_layer;

static double layernorm_loss(void *context)
{
    layernorm_layer *l = context;
    for (int r = 0; r < l->rows; r++) {
        const double *x = l->inp + (size_t)r * l->C;
        double m = 0, var = 0;
        for (int c = 0; c < l->C; c++)
            m += x[c] / l->C;
        for (int c = 0; c < l->C; c++)
            var += (x[c] - m) * (x[c] - m) / l->C;
        l->mean[r] = m;
        l->rstd[r] = 1 / sqrt(var + l->eps);
        for (int c = 0; c < l->C; c++)
            l->out[(size_t)r * l->C + c] = (x[c] - m) * l->rstd[r] * l->weight[c] + l->bias[c];
    }
    return dot(l->out, l->d_out, (size_t)l->rows * l->C);
}

/* y = x_hat w + b, x_hat = (x - mean) rstd: through the mean and the variance every input
 * of a row reaches every output, dx = rstd (g - mean(g) - x_hat mean(g x_hat)), g = w dy. */
static void layernorm_f64_backward(const layernorm_layer *l, double *d_inp, double *d_weight,
                                   double *d_bias)
{
    for (int r = 0; r < l->rows; r++) {
        const double *x = l->inp + (size_t)r * l->C, *dy = l->d_out + (size_t)r * l->C;
        double g_mean = 0, g_xhat_mean = 0;
        for (int c = 0; c < l->C; c++) {
            double x_hat = (x[c] - l->mean[r]) * l->rstd[r];
            g_mean += l->weight[c] * dy[c] / l->C;
            g_xhat_mean += l->weight[c] * dy[c] * x_hat / l->C;
            d_weight[c] += dy[c] * x_hat;
            d_bias[c] += dy[c];
        }
        for (int c = 0; c < l->C; c++) {
            double x_hat = (x[c] - l->mean[r]) * l->rstd[r];
            d_inp[(size_t)r * l->C + c] +=
                l->rstd[r] * (l->weight[c] * dy[c] - g_mean - x_hat * g_xhat_mean);
        }
    }
}

/* Tolerances of the AVX2 path against the reference, elementwise. d_inp: the two row means
 * are float sums of C terms in 8 lanes (C/8 + 3 roundings each) and every other step costs
 * a rounding or two, on terms of size rstd (|g| + mean|g| + |x_hat| mean|g x_hat|):
 * (C/8 + 8) FLT_EPSILON of that. d_weight, d_bias: float sums over chunks of 32 rows, added
 * to the gradient chunk by chunk, so min(rows, 32) + rows/32 + 1 roundings of the sum of
 * magnitudes, plus 4 for x_hat; and a rounding of the old gradient per addition. */
static void layernorm_tolerances(int rows, int C, const float *inp, const float *weight,
                                 const float *mean, const float *rstd, const float *d_out,
                                 float *const before[3], double *tolerance[3])
{
    int sums = (rows < 32 ? rows : 32) + rows / 32 + 1 + 4;
    for (int r = 0; r < rows; r++) {
        double g_abs = 0, gx_abs = 0;
        for (int pass = 0; pass < 2; pass++)
            for (int c = 0; c < C; c++) {
                size_t at = (size_t)r * C + c;
                double x_hat = ((double)inp[at] - mean[r]) * rstd[r];
                double g = (double)weight[c] * d_out[at];
                if (pass == 0) {
                    g_abs += fabs(g) / C;
                    gx_abs += fabs(g * x_hat) / C;
                    tolerance[1][c] += sums * (double)FLT_EPSILON * fabs(d_out[at] * x_hat);
                    tolerance[2][c] += sums * (double)FLT_EPSILON * fabs(d_out[at]);
                } else {
                    double terms = rstd[r] * (fabs(g) + g_abs + fabs(x_hat) * gx_abs);
                    tolerance[0][at] = (C / 8 + 8) * (double)FLT_EPSILON * terms;
                }
            }
    }
    size_t sizes[3] = {(size_t)rows * C, (size_t)C, (size_t)C};
    for (int g = 0; g < 3; g++)
        for (size_t i = 0; i < sizes[g]; i++)
            tolerance[g][i] +=
                (g ? rows / 32 + 1 : 1) * FLT_EPSILON * fabsf(before[g][i]) + FLT_MIN;
}

/* The generic path is the reference's sums distributed, so the same bits; the AVX2 path
 * within layernorm_tolerances. NULL gradients are skipped and change nothing else. */
static void check_layernorm_backward(kernel_path path, int rows, int C, float offset)
{
    size_t sizes[3] = {(size_t)rows * C, (size_t)C, (size_t)C};
    float *inp = random_array(sizes[0], offset - 1, offset + 1);
    float *d_out = random_array(sizes[0], -1, 1), *weight = random_array(C, 0.5f, 1.5f);
    float *bias = random_array(C, -1, 1), *out = random_array(sizes[0], -1, 1);
    float *mean = random_array(rows, 0, 1), *rstd = random_array(rows, 0, 1);
    layernorm_forward(out, mean, rstd, inp, weight, bias, rows, C, 1e-5f);
    float *before[3], *got[3], *expected[3], *alone[3];
    double *tolerance[3];
    for (int g = 0; g < 3; g++) {
        before[g] = random_array(sizes[g], -1, 1);
        got[g] = copy_array(before[g], sizes[g]), expected[g] = copy_array(before[g], sizes[g]);
        alone[g] = copy_array(before[g], sizes[g]);
        tolerance[g] = zeros(sizes[g]);
    }
    layernorm_backward_using(path, got[0], got[1], got[2], d_out, inp, weight, mean, rstd, rows,
                             C);
    layernorm_backward_reference(expected[0], expected[1], expected[2], d_out, inp, weight, mean,
                                 rstd, rows, C);
    layernorm_tolerances(rows, C, inp, weight, mean, rstd, d_out, before, tolerance);
    static const char *names[3] = {"layernorm_backward d_inp", "layernorm_backward d_weight",
                                   "layernorm_backward d_bias"};
    for (int g = 0; g < 3; g++) {
        if (path == KERNEL_PATH_GENERIC)
            assert_memory_equal(got[g], expected[g], sizes[g] * sizeof *got[g]);
        else
            check_elementwise(names[g], got[g], expected[g], tolerance[g], sizes[g]);
        float *one[3] = {NULL, NULL, NULL};
        one[g] = alone[g];
        layernorm_backward_using(path, one[0], one[1], one[2], d_out, inp, weight, mean, rstd,
                                 rows, C);
        assert_memory_equal(alone[g], got[g], sizes[g] * sizeof *got[g]);
    }
    for (int g = 0; g < 3; g++)
        free(before[g]), free(got[g]), free(expected[g]), free(alone[g]), free(tolerance[g]);
    free(inp), free(d_out), free(weight), free(bias), free(out), free(mean), free(rstd);
}

static void test_layernorm_backward_matches_reference(void **state)
{
    static const int columns[] = {1, 3, 17, 33, 129, 384};
    static const int rows[] = {1, 3, 33, 129}; /* 129 x 384 runs in parallel, 33+ in chunks */
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (int p = 0; p < n_paths; p++) {
        for (int r = 0; r < 4; r++)
            for (int c = 0; c < 6; c++) {
                check_layernorm_backward(paths[p], rows[r], columns[c], 0.0f);
                check_layernorm_backward(paths[p], rows[r], columns[c], 100.0f);
            }
        report_worst(paths[p] == KERNEL_PATH_AVX2 ? "layernorm_backward avx2 vs reference"
                                                  : "layernorm_backward generic = reference");
    }
}

static void test_layernorm_gradients(void **state)
{
    int rows = 3, C = 17;
    size_t n = (size_t)rows * C;
    float *inp = random_array(n, 1, 3), *weight = random_array(C, 0.5f, 1.5f);
    float *bias = random_array(C, -1, 1), *d_out = random_array(n, -1, 1);
    layernorm_layer l = {rows, C, 1e-5, to_double(inp, n), to_double(weight, C),
                         to_double(bias, C), zeros(n), zeros(rows), zeros(rows),
                         to_double(d_out, n)};
    layernorm_loss(&l);
    double *d_inp = zeros(n), *d_weight = zeros(C), *d_bias = zeros(C);
    layernorm_f64_backward(&l, d_inp, d_weight, d_bias);
    check_central_differences("layernorm d_inp", layernorm_loss, &l, l.inp, d_inp, n);
    check_central_differences("layernorm d_weight", layernorm_loss, &l, l.weight, d_weight, C);
    check_central_differences("layernorm d_bias", layernorm_loss, &l, l.bias, d_bias, C);

    /* The float kernels from a float forward: mean and rstd carry a few u, and d_inp is a
     * difference of terms of its own size (no large cancellation for random data), so a few
     * u of rstd |g| per entry; the parameter sums are short (measured 2e-7). 1e-6 leaves a
     * factor 5. */
    float *out = malloc(n * 4), *mean = malloc(rows * 4), *rstd = malloc(rows * 4);
    assert_true(out && mean && rstd);
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (int p = 0; p < n_paths; p++) {
        float *f_inp = calloc(n, 4), *f_weight = calloc(C, 4), *f_bias = calloc(C, 4);
        assert_true(f_inp && f_weight && f_bias);
        layernorm_forward_using(paths[p], out, mean, rstd, inp, weight, bias, rows, C, 1e-5f);
        layernorm_backward_using(paths[p], f_inp, f_weight, f_bias, d_out, inp, weight, mean,
                                 rstd, rows, C);
        check_error("layernorm d_inp vs double", normwise_error(f_inp, d_inp, n), 1e-6);
        check_error("layernorm d_weight vs double", normwise_error(f_weight, d_weight, C), 1e-6);
        check_error("layernorm d_bias vs double", normwise_error(f_bias, d_bias, C), 1e-6);
        free(f_inp), free(f_weight), free(f_bias);
    }
    report_worst("layernorm float vs double");
    free(inp), free(weight), free(bias), free(d_out), free(out), free(mean), free(rstd);
    free(l.inp), free(l.weight), free(l.bias), free(l.out), free(l.mean), free(l.rstd);
    free(l.d_out), free(d_inp), free(d_weight), free(d_bias);
}

/* ---- activations ----------------------------------------------------------------------- */

#define SQRT_2_OVER_PI 0.79788456080286536

/* The functions from their definitions, and their derivatives; 1 + tanh u is taken in its
 * logistic form 2 / (1 + e^-2u), which does not cancel in the left tail. */
static double activation_f64(activation_kind kind, double x)
{
    switch (kind) {
    case ACTIVATION_GELU: return 0.5 * x * erfc(-x / sqrt(2.0));
    case ACTIVATION_GELU_TANH:
        return x / (1 + exp(-2 * SQRT_2_OVER_PI * (x + 0.044715 * x * x * x)));
    case ACTIVATION_RELU: break;
    }
    return x > 0 ? x : 0;
}

/* f' and, in *terms, the size of the terms it is a sum of (for the tolerance). GELU: Phi +
 * x phi. gelu_tanh: with s = 1 / (1 + e^-2u), 1 - tanh^2 u = 4 s (1 - s), so f' = s +
 * 2 x u' s (1 - s), 1 - s taken as 1 / (1 + e^2u). */
static double activation_derivative_f64(activation_kind kind, double x, double *terms)
{
    if (isinf(x)) { /* the limits */
        *terms = 1;
        return x > 0 ? 1 : 0;
    }
    if (kind == ACTIVATION_GELU) {
        double cdf = 0.5 * erfc(-x / sqrt(2.0)), x_pdf = x * exp(-0.5 * x * x) / sqrt(2 * M_PI);
        *terms = cdf + fabs(x_pdf);
        return cdf + x_pdf;
    }
    if (kind == ACTIVATION_GELU_TANH) {
        double u = SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
        double s = 1 / (1 + exp(-2 * u)), one_minus_s = 1 / (1 + exp(2 * u));
        double slope = 2 * x * SQRT_2_OVER_PI * (1 + 3 * 0.044715 * x * x) * s * one_minus_s;
        *terms = s + fabs(slope);
        return s + slope;
    }
    *terms = 1;
    return x > 0 ? 1 : 0;
}

typedef struct activation_layer {
    activation_kind kind;
    size_t n;
    double *inp, *d_out;
} activation_layer;

static double activation_loss(void *context)
{
    activation_layer *l = context;
    double sum = 0;
    for (size_t i = 0; i < l->n; i++)
        sum += activation_f64(l->kind, l->inp[i]) * l->d_out[i];
    return sum;
}

static void test_activation_gradients(void **state)
{
    static const char *names[] = {"gelu", "gelu_tanh", "relu"};
    enum { N = 241 };
    float x[N], d_out[N];
    for (int i = 0; i < N; i++) { /* [-6, 6] without the points where ReLU has its kink */
        x[i] = -6.0f + 12.0f * (float)i / (N - 1) + 0.001f;
        d_out[i] = uniform(-1, 1);
    }
    for (int kind = ACTIVATION_GELU; kind <= ACTIVATION_RELU; kind++) {
        activation_layer l = {(activation_kind)kind, N, to_double(x, N), to_double(d_out, N)};
        double *grad = zeros(N), terms;
        for (int i = 0; i < N; i++)
            grad[i] = activation_derivative_f64(l.kind, l.inp[i], &terms) * l.d_out[i];
        char what[64];
        snprintf(what, sizeof what, "%s d_inp", names[kind]);
        check_central_differences(what, activation_loss, &l, l.inp, grad, N);
        /* The float kernels: GELU' and gelu_tanh' within 4 + 4|u| FLT_EPSILON of their terms
         * (activation.h), which are at most 1.2 here, then one rounding: 1e-6 normwise
         * (measured 1.2e-7). */
        kernel_path paths[2];
        int n_paths = testable_paths(paths);
        for (int p = 0; p < n_paths; p++) {
            float f_grad[N] = {0};
            activation_backward_using(paths[p], l.kind, f_grad, x, d_out, N);
            check_error(what, normwise_error(f_grad, grad, N), 1e-6);
        }
        snprintf(what, sizeof what, "%s float vs double", names[kind]);
        report_worst(what);
        free(l.inp), free(l.d_out), free(grad);
    }
}

/* Elementwise against the double derivative. generic: the reference, f' exact to double,
 * then one rounding: 0.5 FLT_EPSILON of the result. AVX2 (activation.h): GELU within 4
 * FLT_EPSILON of |Phi| + |x phi|; gelu_tanh within 4 + 4|u| of its terms; both then rounded
 * once into the gradient. Both also allow 1e-14 of the terms for the double derivatives
 * here, and 1e-30 absolute where the float derivative underflows. That final rounding alone
 * reaches nearly 0.5 FLT_EPSILON of the result, so worst ratios near 1 are expected. */
static void check_activation_backward(activation_kind kind, kernel_path path, const float *x,
                                      const float *d_out, const float *before, const float *got,
                                      size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double terms, derivative = activation_derivative_f64(kind, x[i], &terms);
        double exact = before[i] + derivative * d_out[i];
        if (isnan(x[i])) { /* NaN propagates; ReLU passes the gradient, as PyTorch */
            if (!(kind == ACTIVATION_RELU ? got[i] == before[i] + d_out[i] : isnan(got[i])))
                fail_msg("activation %d backward %s: f'(NaN) gave %g", kind,
                         kernel_path_name(path), got[i]);
            continue;
        }
        double u = SQRT_2_OVER_PI * (x[i] + 0.044715 * x[i] * x[i] * x[i]);
        double units = path == KERNEL_PATH_GENERIC ? 0
                       : kind == ACTIVATION_GELU   ? 4
                       : kind == ACTIVATION_GELU_TANH ? 4 + 4 * fabs(u)
                                                      : 0;
        double tol = (units * FLT_EPSILON + 1e-14) * terms * fabsf(d_out[i]) +
                     0.5 * FLT_EPSILON * fabs(exact) + 1e-14 * fabsf(before[i]) + 1e-30;
        note_ratio(fabs((double)got[i] - exact), tol);
        if (!(fabs((double)got[i] - exact) <= tol))
            fail_msg("activation %d backward %s: x = %.9g: %.9g, exact %.9g, tolerance %.3g",
                     kind, kernel_path_name(path), x[i], got[i], exact, tol);
    }
}

static void test_activation_backward_matches_reference(void **state)
{
    enum { GRID = 20481, RANDOM = 20000, SPECIALS = 16 };
    static const float specials[SPECIALS] = {0.0f, -0.0f, 1e-30f, -1e-30f, 20.0f, -20.0f,
                                             50.0f, -50.0f, 1e20f, -1e20f, FLT_MAX, -FLT_MAX,
                                             INFINITY, -INFINITY, NAN, -0.7517916f};
    size_t n = GRID + RANDOM + SPECIALS;
    float *x = malloc(n * sizeof *x), *d_out = random_array(n, -1, 1);
    float *before = random_array(n, -1, 1);
    assert_true(x);
    for (int i = 0; i < GRID; i++)
        x[i] = -10.0f + (float)i / 1024.0f;
    for (int i = 0; i < RANDOM; i++)
        x[GRID + i] = uniform(-14, 14);
    memcpy(x + GRID + RANDOM, specials, sizeof specials);
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (int kind = ACTIVATION_GELU; kind <= ACTIVATION_RELU; kind++) {
        float *reference = copy_array(before, n);
        activation_backward_reference((activation_kind)kind, reference, x, d_out, n);
        for (int p = 0; p < n_paths; p++) {
            float *got = copy_array(before, n);
            activation_backward_using(paths[p], (activation_kind)kind, got, x, d_out, n);
            check_activation_backward((activation_kind)kind, paths[p], x, d_out, before, got, n);
            char what[64];
            snprintf(what, sizeof what, "activation %d backward on %s", kind,
                     kernel_path_name(paths[p]));
            report_worst(what);
            if (paths[p] == KERNEL_PATH_GENERIC)
                assert_memory_equal(got, reference, n * sizeof *got);
            if (paths[p] == kernel_path_best()) {
                float *dispatched = copy_array(before, n);
                activation_backward((activation_kind)kind, dispatched, x, d_out, n);
                assert_memory_equal(dispatched, got, n * sizeof *got);
                free(dispatched);
            }
            /* Every tail length, from an odd start: the same bits as within the whole. */
            for (size_t len = 1; len <= 17; len++) {
                float *part = copy_array(before + 5001, len);
                activation_backward_using(paths[p], (activation_kind)kind, part, x + 5001,
                                          d_out + 5001, len);
                assert_memory_equal(part, got + 5001, len * sizeof *part);
                free(part);
            }
            free(got);
        }
        free(reference);
    }
    /* ReLU passes the gradient where x > 0 (and NaN), stops it where x <= 0, as PyTorch. */
    float rx[4] = {-1.0f, 0.0f, 2.0f, NAN}, rd[4] = {1, 1, 1, 1}, rg[4] = {0, 0, 0, 0};
    activation_backward(ACTIVATION_RELU, rg, rx, rd, 4);
    assert_true(rg[0] == 0 && rg[1] == 0 && rg[2] == 1 && rg[3] == 1);
    free(x), free(d_out), free(before);
}

/* ---- dropout --------------------------------------------------------------------------- */

static void test_dropout_paths_match(void **state)
{
    static const size_t lengths[] = {1, 3, 7, 8, 9, 17, 33, 129, 5000, 70001};
    static const float ps[] = {0.1f, 0.5f, 0.9f, 1.0f, 0.0f};
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++)
        for (size_t q = 0; q < sizeof ps / sizeof ps[0]; q++) {
            size_t n = lengths[l];
            dropout_spec spec = {ps[q], 0x1234567 + l};
            float *inp = random_array(n, -1, 1), *before = random_array(n, -1, 1);
            float *forward = malloc(n * sizeof *forward), *backward = copy_array(before, n);
            float *multipliers = malloc(n * sizeof *multipliers);
            assert_true(forward && multipliers);
            dropout_forward_reference(forward, inp, n, spec);
            dropout_backward_reference(backward, inp, n, spec);
            for (size_t e = 0; e < n; e++) {
                float m = dropout_multiplier(spec, e);
                assert_true(m == 0.0f || m == dropout_scale(spec) || (ps[q] == 0 && m == 1));
                assert_true(forward[e] == inp[e] * m);
            }
            for (int p = 0; p < n_paths; p++) {
                /* Every path: the reference's bits, in place too. */
                float *out = malloc(n * sizeof *out), *d_inp = copy_array(before, n);
                float *in_place = copy_array(inp, n);
                assert_non_null(out);
                dropout_forward_using(paths[p], out, inp, n, spec);
                dropout_forward_using(paths[p], in_place, in_place, n, spec);
                dropout_backward_using(paths[p], d_inp, inp, n, spec);
                assert_memory_equal(out, forward, n * sizeof *out);
                assert_memory_equal(in_place, forward, n * sizeof *out);
                assert_memory_equal(d_inp, backward, n * sizeof *out);
                /* A slice of a larger index space: the lanes of the AVX2 hash are the
                 * scalar hash's, bit for bit. */
                dropout_multipliers(paths[p], multipliers, n, spec, 987654321);
                for (size_t e = 0; e < n; e++)
                    assert_true(multipliers[e] == dropout_multiplier(spec, 987654321 + e));
                free(out), free(d_inp), free(in_place);
            }
            free(inp), free(before), free(forward), free(backward), free(multipliers);
        }
}

typedef struct dropout_layer {
    dropout_spec spec;
    size_t n;
    double *inp, *d_out;
} dropout_layer;

static double dropout_loss(void *context)
{
    dropout_layer *l = context;
    double sum = 0;
    for (size_t e = 0; e < l->n; e++)
        sum += l->inp[e] * dropout_multiplier(l->spec, e) * l->d_out[e];
    return sum;
}

/* The mask from key 0x5eed, p = 0.1: the forward's on 1 and 2 threads, the backward's, the
 * same; the fraction dropped within 5 standard deviations of p; the gradient checked. */
static void test_dropout_mask(void **state)
{
    enum { N = 1 << 20 };
    dropout_spec spec = {0.1f, 0x5eed};
    int threads = omp_get_max_threads();
    float *ones = malloc(N * sizeof *ones), *one_thread = malloc(N * sizeof *ones);
    float *two_threads = malloc(N * sizeof *ones), *d_inp = calloc(N, sizeof *ones);
    assert_true(ones && one_thread && two_threads && d_inp);
    for (int e = 0; e < N; e++)
        ones[e] = 1.0f;
    omp_set_num_threads(1);
    dropout_forward(one_thread, ones, N, spec);
    omp_set_num_threads(2);
    dropout_forward(two_threads, ones, N, spec);
    dropout_backward(d_inp, ones, N, spec);
    omp_set_num_threads(threads);
    assert_memory_equal(one_thread, two_threads, N * sizeof *ones);
    assert_memory_equal(d_inp, two_threads, N * sizeof *ones);
    long dropped = 0;
    for (int e = 0; e < N; e++) {
        assert_true(two_threads[e] == 0.0f || two_threads[e] == 1.0f / 0.9f);
        dropped += two_threads[e] == 0.0f;
    }
    double fraction = (double)dropped / N, sigma = sqrt(0.1 * 0.9 / N);
    print_message("  dropout p=0.1: dropped %.5f of %d\n", fraction, N);
    assert_true(fabs(fraction - 0.1) <= 5 * sigma);
    dropout_spec other = {0.1f, 0x5eee}; /* another key, another mask */
    dropout_forward(one_thread, ones, N, other);
    assert_memory_not_equal(one_thread, two_threads, N * sizeof *ones);

    float x[64], w[64];
    for (int e = 0; e < 64; e++)
        x[e] = uniform(-1, 1), w[e] = uniform(-1, 1);
    dropout_layer l = {spec, 64, to_double(x, 64), to_double(w, 64)};
    double *grad = zeros(64);
    for (int e = 0; e < 64; e++)
        grad[e] = l.d_out[e] * dropout_multiplier(spec, e);
    check_central_differences("dropout d_inp", dropout_loss, &l, l.inp, grad, 64);
    float f_grad[64] = {0};
    dropout_backward(f_grad, w, 64, spec);
    check_error("dropout d_inp vs double", normwise_error(f_grad, grad, 64), 1e-7); /* 0.5 u */
    free(ones), free(one_thread), free(two_threads), free(d_inp), free(l.inp), free(l.d_out);
    free(grad);
}

/* ---- determinism of the others --------------------------------------------------------- */

/* Two runs, the same bits; LayerNorm and linear's bias also on 1 and 2 threads. */
static void test_backward_deterministic(void **state)
{
    int M = 300, K = 384, N = 1152;
    float *d_out = random_array((size_t)M * N, -1, 1), *inp = random_array((size_t)M * K, -1, 1);
    float *weight = random_array((size_t)N * K, -1, 1);
    float *grads[2][3];
    for (int run = 0; run < 2; run++) {
        grads[run][0] = calloc((size_t)M * K, 4), grads[run][1] = calloc((size_t)N * K, 4);
        grads[run][2] = calloc(N, 4);
        linear_backward(grads[run][0], grads[run][1], grads[run][2], d_out, inp, weight, M, K, N);
    }
    assert_memory_equal(grads[0][0], grads[1][0], (size_t)M * K * 4);
    assert_memory_equal(grads[0][1], grads[1][1], (size_t)N * K * 4);
    assert_memory_equal(grads[0][2], grads[1][2], (size_t)N * 4);

    int threads = omp_get_max_threads(), rows = 300, C = 384;
    size_t n = (size_t)rows * C;
    float *mean = malloc(rows * 4), *rstd = malloc(rows * 4), *out = malloc(n * 4);
    assert_true(mean && rstd && out);
    layernorm_forward(out, mean, rstd, inp, weight, weight + C, rows, C, 1e-12f);
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (int p = 0; p < n_paths; p++) {
        float *ln[3][3];
        for (int run = 0; run < 3; run++) {
            omp_set_num_threads(run == 0 ? 1 : 2);
            ln[run][0] = calloc(n, 4), ln[run][1] = calloc(C, 4), ln[run][2] = calloc(C, 4);
            layernorm_backward_using(paths[p], ln[run][0], ln[run][1], ln[run][2], d_out, inp,
                                     weight, mean, rstd, rows, C);
            float *bias_grad = calloc(N, 4);
            linear_backward(NULL, NULL, bias_grad, d_out, inp, weight, M, K, N);
            assert_memory_equal(bias_grad, grads[0][2], (size_t)N * 4);
            free(bias_grad);
        }
        omp_set_num_threads(threads);
        for (int run = 1; run < 3; run++) {
            assert_memory_equal(ln[run][0], ln[0][0], n * 4);
            assert_memory_equal(ln[run][1], ln[0][1], (size_t)C * 4);
            assert_memory_equal(ln[run][2], ln[0][2], (size_t)C * 4);
        }
        for (int run = 0; run < 3; run++)
            free(ln[run][0]), free(ln[run][1]), free(ln[run][2]);
    }
    for (int run = 0; run < 2; run++)
        free(grads[run][0]), free(grads[run][1]), free(grads[run][2]);
    free(d_out), free(inp), free(weight), free(mean), free(rstd), free(out);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_linear_backward_matches_reference, reset_worst),
        cmocka_unit_test_setup(test_linear_gradients, reset_worst),
        cmocka_unit_test_setup(test_layernorm_backward_matches_reference, reset_worst),
        cmocka_unit_test_setup(test_layernorm_gradients, reset_worst),
        cmocka_unit_test_setup(test_activation_gradients, reset_worst),
        cmocka_unit_test_setup(test_activation_backward_matches_reference, reset_worst),
        cmocka_unit_test_setup(test_dropout_paths_match, reset_worst),
        cmocka_unit_test_setup(test_dropout_mask, reset_worst),
        cmocka_unit_test_setup(test_backward_deterministic, reset_worst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
