/* Every kernel on every path this CPU has, against its scalar reference, on random shapes
 * with odd sizes, strides and tails. Tolerances are stated beside each check.
 * Run once more as `SEMB_CPU=generic test_kernels` to see the dispatch pick the generic path. */
#include "support.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/cpu.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/kernel_path.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/simd_math.h"
#include "kernels/small_gemm.h"

static const int odd_sizes[] = {1, 3, 17, 33, 129};
enum { N_ODD_SIZES = sizeof odd_sizes / sizeof odd_sizes[0] };

/* xorshift64*: the same numbers on every machine and run. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float uniform(float lo, float hi)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    uint64_t r = rng_state * 0x2545F4914F6CDD1Dull;
    return lo + (hi - lo) * (float)((double)(r >> 40) / (double)(1 << 24));
}

static float *random_array(size_t n, float lo, float hi)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = uniform(lo, hi);
    return x;
}

static float *copy_array(const float *x, size_t n)
{
    float *y = malloc((n ? n : 1) * sizeof *y);
    assert_non_null(y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

/* The paths to test: generic always, AVX2 where the CPU has it (said out loud otherwise). */
static int testable_paths(kernel_path paths[2])
{
    paths[0] = KERNEL_PATH_GENERIC;
    if (kernel_path_supported(KERNEL_PATH_AVX2)) {
        paths[1] = KERNEL_PATH_AVX2;
        return 2;
    }
    print_message("NOTE: no AVX2 on this CPU (%s): AVX2 path not tested\n", cpu_features_string());
    return 1;
}

static void test_dispatch_follows_cpu_features(void **state)
{
    const semb_cpu_features *cpu = cpu_features();
    kernel_path expected = cpu->avx2 && cpu->fma ? KERNEL_PATH_AVX2 : KERNEL_PATH_GENERIC;
    assert_int_equal(kernel_path_best(), expected);
    const char *forced = getenv("SEMB_CPU");
    if (forced && strcmp(forced, "generic") == 0)
        assert_int_equal(kernel_path_best(), KERNEL_PATH_GENERIC);
    assert_int_equal(kernel_path_or_generic(KERNEL_PATH_GENERIC), KERNEL_PATH_GENERIC);
    assert_int_equal(kernel_path_or_generic(KERNEL_PATH_AVX2), expected);
    /* kernels without an AVX-512 form run their AVX2 one when asked for AVX-512 */
    assert_int_equal(kernel_path_or_generic(KERNEL_PATH_AVX512), expected);
    kernel_path gemm = kernel_path_best_gemm();
    assert_int_equal(gemm, kernel_path_supported(KERNEL_PATH_AVX512) ? KERNEL_PATH_AVX512
                                                                      : expected);
    assert_true(!kernel_path_supported(KERNEL_PATH_AVX512) ||
                (cpu->avx512f && cpu->avx512bw && cpu->avx512vl && cpu->avx512dq));
}

/* What `test_kernels --print-paths` prints: the features and paths this process chose. */
typedef struct chosen_paths {
    int avx2, avx512f, avx512_vnni, amx_tile;
    char best[16], gemm[16];
} chosen_paths;

static int print_paths(void)
{
    const semb_cpu_features *cpu = cpu_features();
    printf("%d %d %d %d %s %s\n", cpu->avx2, cpu->avx512f, cpu->avx512_vnni, cpu->amx_tile,
           kernel_path_name(kernel_path_best()), kernel_path_name(kernel_path_best_gemm()));
    return 0;
}

/* cpu_features is computed once per process: each SEMB_CPU setting runs this program anew. */
static chosen_paths paths_under(const char *setting)
{
    char self[4096], command[4200];
    ssize_t n = readlink("/proc/self/exe", self, sizeof self - 1);
    assert_true(n > 0);
    self[n] = '\0';
    if (setting)
        snprintf(command, sizeof command, "SEMB_CPU=%s '%s' --print-paths", setting, self);
    else
        snprintf(command, sizeof command, "env -u SEMB_CPU '%s' --print-paths", self);
    FILE *pipe = popen(command, "r");
    assert_non_null(pipe);
    chosen_paths c = {0};
    int fields = fscanf(pipe, "%d %d %d %d %15s %15s", &c.avx2, &c.avx512f, &c.avx512_vnni,
                        &c.amx_tile, c.best, c.gemm);
    assert_int_equal(pclose(pipe), 0);
    assert_int_equal(fields, 6);
    return c;
}

static void assert_paths_equal(chosen_paths got, chosen_paths want, const char *setting)
{
    if (got.avx2 != want.avx2 || got.avx512f != want.avx512f ||
        got.avx512_vnni != want.avx512_vnni || got.amx_tile != want.amx_tile ||
        strcmp(got.best, want.best) != 0 || strcmp(got.gemm, want.gemm) != 0)
        fail_msg("SEMB_CPU=%s: avx2 %d avx512f %d avx512_vnni %d amx %d, paths %s / gemm %s; "
                 "expected %d %d %d %d, %s / %s",
                 setting, got.avx2, got.avx512f, got.avx512_vnni, got.amx_tile, got.best,
                 got.gemm, want.avx2, want.avx512f, want.avx512_vnni, want.amx_tile, want.best,
                 want.gemm);
}

/* SEMB_CPU caps the features (core/cpu.h), and so the kernel paths, at each level. */
static void test_semb_cpu_forces_each_path(void **state)
{
    (void)state;
    chosen_paths native = paths_under("native");
    assert_paths_equal(paths_under(NULL), native, "(unset)");
    assert_paths_equal(paths_under("not-a-level"), native, "not-a-level");

    chosen_paths avx512 = native;
    avx512.amx_tile = 0;
    assert_paths_equal(paths_under("avx512"), avx512, "avx512");

    chosen_paths avx2 = avx512;
    avx2.avx512f = avx2.avx512_vnni = 0;
    strcpy(avx2.gemm, native.best);
    assert_paths_equal(paths_under("avx2"), avx2, "avx2");

    chosen_paths generic = {0, 0, 0, 0, "generic", "generic"};
    assert_paths_equal(paths_under("generic"), generic, "generic");
}

/* ---- matmul ---------------------------------------------------------------------------- */

/* Any float summation order of K products is within gamma_K = K u / (1 - K u) (u = 2^-24)
 * of the exact sum, relative to the sum of the absolute products (Higham, Accuracy and
 * Stability, 3.1). The reference is exact to double rounding; the tolerance
 * (K + 2) FLT_EPSILON = (2K + 4) u leaves a factor 2 for alpha, beta and the final rounding. */
static double product_tolerance(int K, double abs_product, double abs_rest)
{
    return (K + 2) * (double)FLT_EPSILON * (abs_product + abs_rest) + FLT_MIN;
}

/* The largest error / tolerance ratio of the checks so far, reported by each test. */
static double worst_ratio;

static void note_ratio(double error, double tolerance)
{
    if (error / tolerance > worst_ratio)
        worst_ratio = error / tolerance;
}

static void check_sgemm(bool trans_a, bool trans_b, int M, int N, int K, float alpha,
                        float beta, int pad)
{
    int a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
    int b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    int lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
    size_t a_size = (size_t)a_rows * lda, b_size = (size_t)b_rows * ldb, c_size = (size_t)M * ldc;
    float *A = random_array(a_size, -1, 1), *B = random_array(b_size, -1, 1);
    float *C0 = random_array(c_size, -1, 1);
    float *C = copy_array(C0, c_size), *expected = copy_array(C0, c_size);
    float *abs_A = copy_array(A, a_size), *abs_B = copy_array(B, b_size);
    float *abs_AB = copy_array(C0, c_size);
    for (size_t i = 0; i < a_size; i++)
        abs_A[i] = fabsf(A[i]);
    for (size_t i = 0; i < b_size; i++)
        abs_B[i] = fabsf(B[i]);

    matmul_sgemm(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    matmul_sgemm_reference(trans_a, trans_b, M, N, K, alpha, A, lda, B, ldb, beta, expected, ldc);
    matmul_sgemm_reference(trans_a, trans_b, M, N, K, 1, abs_A, lda, abs_B, ldb, 0, abs_AB, ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t at = (size_t)i * ldc + j;
            if (j >= N) { /* the padding between rows is never written */
                assert_true(C[at] == C0[at]);
                continue;
            }
            double tol = product_tolerance(K, fabs(alpha) * abs_AB[at], fabs(beta * C0[at]));
            note_ratio(fabs((double)C[at] - expected[at]), tol);
            if (fabs((double)C[at] - expected[at]) > tol)
                fail_msg("sgemm %c%c M=%d N=%d K=%d pad=%d alpha=%g beta=%g: C[%d,%d] = %.9g, "
                         "reference %.9g, tolerance %.3g",
                         trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, pad, alpha, beta, i,
                         j, C[at], expected[at], tol);
        }
    free(A), free(B), free(C0), free(C), free(expected), free(abs_A), free(abs_B), free(abs_AB);
}

static void test_sgemm_matches_reference(void **state)
{
    static const float scalars[][2] = {{1, 0}, {-0.75f, 0}, {0.5f, 1}, {2, -0.25f}};
    int count = 0;
    worst_ratio = 0;
    for (int m = 0; m < N_ODD_SIZES; m++)
        for (int n = 0; n < N_ODD_SIZES; n++)
            for (int k = 0; k < N_ODD_SIZES; k++)
                for (int t = 0; t < 4; t++, count++)
                    check_sgemm(t & 1, t & 2, odd_sizes[m], odd_sizes[n], odd_sizes[k],
                                scalars[count % 4][0], scalars[count % 4][1], count % 3 == 0 ? 0 : 5);
    /* The transformer's own shapes: tokens x hidden times weight^T. */
    check_sgemm(false, true, 70, 1152, 384, 1, 0, 0);
    check_sgemm(false, false, 14, 32, 14, 1, 0, 1139);
    print_message("sgemm: worst error %.3f of tolerance\n", worst_ratio);
}

static void test_sgemm_beta_zero_ignores_c(void **state)
{
    int M = 5, N = 7, K = 3;
    float *A = random_array((size_t)M * K, -1, 1), *B = random_array((size_t)K * N, -1, 1);
    float C[35], expected[35];
    for (int i = 0; i < M * N; i++)
        C[i] = expected[i] = NAN;
    matmul_sgemm(false, false, M, N, K, 1, A, K, B, N, 0, C, N);
    matmul_sgemm_reference(false, false, M, N, K, 1, A, K, B, N, 0, expected, N);
    for (int i = 0; i < M * N; i++) {
        assert_false(isnan(C[i]));
        assert_false(isnan(expected[i]));
    }
    /* K = 0: C = beta C. */
    float D[35], D_expected[35];
    for (int i = 0; i < M * N; i++)
        D[i] = D_expected[i] = (float)i;
    matmul_sgemm(false, false, M, N, 0, 1, A, 1, B, N, 0.5f, D, N);
    matmul_sgemm_reference(false, false, M, N, 0, 1, A, 1, B, N, 0.5f, D_expected, N);
    for (int i = 0; i < M * N; i++) {
        assert_true(D[i] == 0.5f * (float)i);
        assert_true(D_expected[i] == 0.5f * (float)i);
    }
    free(A), free(B);
}

static void check_linear(int M, int K, int N, bool with_bias)
{
    float *inp = random_array((size_t)M * K, -1, 1), *weight = random_array((size_t)N * K, -1, 1);
    float *bias = with_bias ? random_array((size_t)N, -1, 1) : NULL;
    float *out = random_array((size_t)M * N, -1, 1), *expected = copy_array(out, (size_t)M * N);
    linear_forward(out, inp, weight, bias, M, K, N);
    linear_forward_reference(expected, inp, weight, bias, M, K, N);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++) {
            double abs_product = 0;
            for (int p = 0; p < K; p++)
                abs_product += fabs((double)inp[(size_t)i * K + p] * weight[(size_t)j * K + p]);
            double tol = product_tolerance(K, abs_product, bias ? fabs(bias[j]) : 0);
            size_t at = (size_t)i * N + j;
            if (fabs((double)out[at] - expected[at]) > tol)
                fail_msg("linear M=%d K=%d N=%d bias=%d: out[%d,%d] = %.9g, reference %.9g", M, K,
                         N, with_bias, i, j, out[at], expected[at]);
        }
    free(inp), free(weight), free(bias), free(out), free(expected);
}

static void test_linear_matches_reference(void **state)
{
    static const int shapes[][3] = {{1, 1, 1}, {3, 17, 5}, {17, 33, 129}, {33, 129, 17},
                                    {129, 384, 3}, {100, 384, 1152}};
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
        for (int b = 0; b < 2; b++)
            check_linear(shapes[s][0], shapes[s][1], shapes[s][2], b);
}

static void test_small_gemm_matches_reference(void **state)
{
    if (!kernel_path_supported(KERNEL_PATH_AVX2)) {
        print_message("NOTE: no AVX2: small_gemm_avx2 not tested\n");
        return;
    }
    static const int sizes[] = {1, 3, 4, 5, 8, 15, 16, 17, 33};
    enum { N_SIZES = sizeof sizes / sizeof sizes[0] };
    const float alpha = 0.37f, sentinel = 7777.0f;
    for (int m = 0; m < N_SIZES; m++)
        for (int n = 0; n < N_SIZES; n++)
            for (int k = 0; k < N_SIZES; k++) {
                int M = sizes[m], N = sizes[n], K = sizes[k];
                int lda = K + 3, ldb = N + 5, ldc = N + 7;
                float *A = random_array((size_t)M * lda, -1, 1);
                float *B = random_array((size_t)K * ldb, -1, 1);
                float *C = malloc((size_t)M * ldc * sizeof *C);
                float *expected = malloc((size_t)M * ldc * sizeof *expected);
                float *abs_AB = malloc((size_t)M * ldc * sizeof *abs_AB);
                assert_true(C && expected && abs_AB);
                for (int i = 0; i < M * ldc; i++) /* C is written, never read */
                    C[i] = i % ldc < N ? NAN : sentinel;
                matmul_sgemm_reference(false, false, M, N, K, alpha, A, lda, B, ldb, 0, expected,
                                       ldc);
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < N; j++) {
                        double s = 0;
                        for (int p = 0; p < K; p++)
                            s += fabs((double)A[i * lda + p] * B[p * ldb + j]);
                        abs_AB[i * ldc + j] = (float)s;
                    }
                small_gemm_avx2(M, N, K, alpha, A, lda, B, ldb, C, ldc);
                for (int i = 0; i < M; i++)
                    for (int j = 0; j < ldc; j++) {
                        int at = i * ldc + j;
                        if (j >= N) {
                            assert_true(C[at] == sentinel);
                            continue;
                        }
                        double tol = product_tolerance(K, alpha * abs_AB[at], 0);
                        if (!(fabs((double)C[at] - expected[at]) <= tol))
                            fail_msg("small_gemm M=%d N=%d K=%d: C[%d,%d] = %.9g, reference %.9g",
                                     M, N, K, i, j, C[at], expected[at]);
                    }
                free(A), free(B), free(C), free(expected), free(abs_AB);
            }
}

/* ---- layernorm ------------------------------------------------------------------------- */

/* Error budget of the float path, relative to the double reference: the mean is stored in
 * float (|m| u) and summed in float (a few u of the row's spread sigma); dividing by sigma,
 * x_hat = (x - m) r is off by r (|m| + 4 sigma) u plus rounding of its own size, and out =
 * x_hat w + b adds |w| times that and its own rounding. Tolerance: 4 FLT_EPSILON times that. */
static double layernorm_tolerance(double mean, double rstd, double x_hat, double w, double out)
{
    double x_hat_error = fabs(mean) * rstd + 4.0 + 2.0 * fabs(x_hat);
    return 4.0 * FLT_EPSILON * (fabs(w) * x_hat_error + fabs(out)) + FLT_MIN;
}

static void compare_layernorm(const char *what, kernel_path path, int rows, int C,
                              const float *inp, const float *weight, const float *out,
                              const float *mean, const float *rstd, const float *expected,
                              const float *mean_expected, const float *rstd_expected)
{
    for (int r = 0; r < rows; r++) {
        double m = mean_expected[r], s = rstd_expected[r];
        assert_true(fabs((double)mean[r] - m) <= 4.0 * FLT_EPSILON * (fabs(m) + 1.0 / s));
        assert_true(fabs((double)rstd[r] - s) <= 8.0 * FLT_EPSILON * s);
        for (int c = 0; c < C; c++) {
            size_t at = (size_t)r * C + c;
            double x_hat = ((double)inp[at] - m) * s;
            double tol = layernorm_tolerance(m, s, x_hat, weight[c], expected[at]);
            note_ratio(fabs((double)out[at] - expected[at]), tol);
            if (fabs((double)out[at] - expected[at]) > tol)
                fail_msg("%s %s rows=%d C=%d: out[%d,%d] = %.9g, reference %.9g, tolerance %.3g",
                         what, kernel_path_name(path), rows, C, r, c, out[at], expected[at], tol);
        }
    }
}

static void check_layernorm(kernel_path path, int rows, int C, float offset, float eps)
{
    size_t n = (size_t)rows * C;
    float *inp = random_array(n, offset - 1, offset + 1);
    float *weight = random_array((size_t)C, 0.5f, 1.5f), *bias = random_array((size_t)C, -1, 1);
    float *out = malloc(n * sizeof *out), *expected = malloc(n * sizeof *expected);
    float *mean = malloc(rows * sizeof *mean), *rstd = malloc(rows * sizeof *rstd);
    float *mean_expected = malloc(rows * sizeof *mean), *rstd_expected = malloc(rows * sizeof *rstd);
    assert_true(out && expected && mean && rstd && mean_expected && rstd_expected);

    layernorm_forward_reference(expected, mean_expected, rstd_expected, inp, weight, bias, rows, C,
                                eps);
    layernorm_forward_using(path, out, mean, rstd, inp, weight, bias, rows, C, eps);
    compare_layernorm("layernorm", path, rows, C, inp, weight, out, mean, rstd, expected,
                      mean_expected, rstd_expected);

    /* mean and rstd may be NULL; out may be inp: the same bits either way. */
    float *in_place = copy_array(inp, n);
    layernorm_forward_using(path, in_place, NULL, NULL, in_place, weight, bias, rows, C, eps);
    assert_memory_equal(in_place, out, n * sizeof *out);

    /* The fused residual add: LayerNorm(a + b), a + b rounded to float first. */
    float *a = random_array(n, offset - 1, offset), *b = random_array(n, 0, 1);
    float *sum = malloc(n * sizeof *sum);
    assert_non_null(sum);
    for (size_t i = 0; i < n; i++)
        sum[i] = a[i] + b[i];
    layernorm_forward_reference(expected, mean_expected, rstd_expected, sum, weight, bias, rows, C,
                                eps);
    add_layernorm_forward_using(path, out, mean, rstd, a, b, weight, bias, rows, C, eps);
    compare_layernorm("add_layernorm", path, rows, C, sum, weight, out, mean, rstd, expected,
                      mean_expected, rstd_expected);
    float *a_copy = copy_array(a, n), *b_copy = copy_array(b, n);
    add_layernorm_forward_using(path, a_copy, NULL, NULL, a_copy, b, weight, bias, rows, C, eps);
    assert_memory_equal(a_copy, out, n * sizeof *out);
    add_layernorm_forward_using(path, b_copy, NULL, NULL, a, b_copy, weight, bias, rows, C, eps);
    assert_memory_equal(b_copy, out, n * sizeof *out);

    free(inp), free(weight), free(bias), free(out), free(expected), free(mean), free(rstd);
    free(mean_expected), free(rstd_expected), free(in_place), free(a), free(b), free(sum);
    free(a_copy), free(b_copy);
}

static void test_layernorm_matches_reference(void **state)
{
    static const int columns[] = {1, 3, 17, 33, 129, 384};
    static const int rows[] = {1, 3, 129}; /* 129 x 384 crosses the parallel threshold */
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (int p = 0; p < n_paths; p++) {
        worst_ratio = 0;
        for (int r = 0; r < 3; r++)
            for (int c = 0; c < 6; c++) {
                check_layernorm(paths[p], rows[r], columns[c], 0.0f, 1e-12f);
                check_layernorm(paths[p], rows[r], columns[c], 100.0f, 1e-5f);
            }
        print_message("layernorm on %s: worst error %.3f of tolerance\n",
                      kernel_path_name(paths[p]), worst_ratio);
    }
    /* The dispatched entry points are the best path's. */
    float x[40], w[40], b[40], y[40], z[40];
    for (int i = 0; i < 40; i++)
        x[i] = uniform(-1, 1), w[i] = uniform(0, 1), b[i] = uniform(-1, 1);
    layernorm_forward(y, NULL, NULL, x, w, b, 2, 20, 1e-5f);
    layernorm_forward_using(kernel_path_best(), z, NULL, NULL, x, w, b, 2, 20, 1e-5f);
    assert_memory_equal(y, z, sizeof y);
    add_layernorm_forward(y, NULL, NULL, x, b, w, b, 2, 20, 1e-5f);
    add_layernorm_forward_using(kernel_path_best(), z, NULL, NULL, x, b, w, b, 2, 20, 1e-5f);
    assert_memory_equal(y, z, sizeof y);
}

/* ---- activations ----------------------------------------------------------------------- */

#define SQRT_2_OVER_PI 0.79788456080286536

/* The exact functions in double: GELU through erfc (equal to 0.5 x (1 + erf(x/sqrt 2)), but
 * without its cancellation for x << 0), gelu_new through the logistic form of 1 + tanh. */
static double gelu_exact(double x)
{
    return 0.5 * x * erfc(-x / sqrt(2.0));
}

static double gelu_tanh_inner(double x)
{
    return SQRT_2_OVER_PI * (x + 0.044715 * x * x * x);
}

static double gelu_tanh_exact(double x)
{
    return x / (1.0 + exp(-2.0 * gelu_tanh_inner(x)));
}

/* Relative tolerance, in units of FLT_EPSILON (2^-23), of each path.
 * GELU, generic: double through libm, rounded once: 1 (0.5 ulp, measured 0.5).
 * GELU, AVX2: float; erf core and erfc fits are exact to 1.2e-8, and the rest is about six
 * float roundings (t, Q, exp, the products): 5 (measured 3.5 in the left tail, 1.2 for x >= 0).
 * gelu_tanh, AVX2: also inherits the rounding of u = sqrt(2/pi)(x + 0.044715 x^3), about
 * 3|u| u, through d log(x / (1 + e^-2u)) / du <= 2: 6 + 6|u| (measured: at most 0.4 of it). */
static double activation_tolerance(activation_kind kind, kernel_path path, double x)
{
    if (kind == ACTIVATION_RELU)
        return 0;
    if (path == KERNEL_PATH_GENERIC)
        return 1;
    return kind == ACTIVATION_GELU ? 5 : 6 + 6 * fabs(gelu_tanh_inner(x));
}

/* Checks out[i] = f(x[i]); returns the largest error seen, in units of the tolerance's
 * FLT_EPSILON. Results below 1e-30 in magnitude (the tails, near and under FLT_MIN, where
 * float keeps few digits) must be within 1e-30 instead. */
static double check_activation(activation_kind kind, kernel_path path, const float *x,
                               const float *out, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++) {
        double exact = kind == ACTIVATION_GELU        ? gelu_exact(x[i])
                       : kind == ACTIVATION_GELU_TANH ? gelu_tanh_exact(x[i])
                       : (x[i] < 0 ? 0.0 : x[i]);
        if (isnan(exact) || isinf(exact)) {
            if (!(isnan(exact) ? isnan(out[i]) : out[i] == exact))
                fail_msg("activation %d %s: f(%.9g) = %.9g, exact %.9g", kind,
                         kernel_path_name(path), x[i], out[i], exact);
            continue;
        }
        double error = fabs((double)out[i] - exact);
        if (fabs(exact) < 1e-30) {
            if (!(error <= 1e-30))
                fail_msg("activation %d %s: f(%.9g) = %.9g, exact %.9g", kind,
                         kernel_path_name(path), x[i], out[i], exact);
            continue;
        }
        double relative = error / fabs(exact) / FLT_EPSILON;
        if (!(relative <= activation_tolerance(kind, path, x[i])))
            fail_msg("activation %d %s: f(%.9g) = %.9g, exact %.9g: %.2f FLT_EPSILON", kind,
                     kernel_path_name(path), x[i], out[i], exact, relative);
        if (relative > worst)
            worst = relative;
    }
    return worst;
}

static void test_activation_accuracy(void **state)
{
    /* A grid of step 2^-10 over [-10, 10], random points over [-14, 14], and specials. */
    enum { GRID = 20481, RANDOM = 100000, SPECIALS = 24 };
    static const float specials[SPECIALS] = {
        0.0f,    -0.0f,   1e-30f,  -1e-30f,  FLT_MIN, -FLT_MIN, 1e-8f,     -1e-8f,
        20.0f,   -20.0f,  50.0f,   -50.0f,   1e4f,    -1e4f,    1e20f,     -1e20f,
        FLT_MAX, -FLT_MAX, INFINITY, -INFINITY, NAN,   0.75f,   -1.0606601f, 1.0606602f};
    size_t n = GRID + RANDOM + SPECIALS;
    float *x = malloc(n * sizeof *x), *out = malloc(n * sizeof *out);
    assert_true(x && out);
    for (int i = 0; i < GRID; i++)
        x[i] = -10.0f + (float)i / 1024.0f;
    for (int i = 0; i < RANDOM; i++)
        x[GRID + i] = uniform(-14, 14);
    memcpy(x + GRID + RANDOM, specials, sizeof specials);

    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (int p = 0; p < n_paths; p++)
        for (int kind = ACTIVATION_GELU; kind <= ACTIVATION_RELU; kind++) {
            activation_forward_using(paths[p], (activation_kind)kind, out, x, n);
            double worst = check_activation((activation_kind)kind, paths[p], x, out, n);
            print_message("activation %d on %s: max error %.2f FLT_EPSILON (relative)\n", kind,
                          kernel_path_name(paths[p]), worst);
        }
    activation_forward_reference(ACTIVATION_GELU, out, x, n);
    check_activation(ACTIVATION_GELU, KERNEL_PATH_GENERIC, x, out, n);

    /* The erfc form is the textbook formula where that one does not cancel. */
    for (double t = -5; t <= 10; t += 0.01)
        assert_true(fabs(gelu_exact(t) - 0.5 * t * (1 + erf(t / sqrt(2.0)))) <= 1e-14);
    free(x), free(out);
}

/* Paths against the reference on lengths that leave every tail (and the parallel chunks),
 * in place too. */
static void test_activation_paths_and_lengths(void **state)
{
    static const size_t lengths[] = {1, 3, 7, 8, 9, 17, 33, 129, 5000, 70001};
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
        size_t n = lengths[l];
        float *x = random_array(n, -6, 6);
        float *out = malloc(n * sizeof *out);
        assert_non_null(out);
        for (int p = 0; p < n_paths; p++)
            for (int kind = ACTIVATION_GELU; kind <= ACTIVATION_RELU; kind++) {
                out[n - 1] = NAN;
                activation_forward_using(paths[p], (activation_kind)kind, out, x, n);
                check_activation((activation_kind)kind, paths[p], x, out, n);
                float *in_place = copy_array(x, n);
                activation_forward_using(paths[p], (activation_kind)kind, in_place, in_place, n);
                assert_memory_equal(in_place, out, n * sizeof *out);
                if (paths[p] == kernel_path_best()) {
                    activation_forward((activation_kind)kind, in_place, x, n);
                    assert_memory_equal(in_place, out, n * sizeof *out);
                }
                free(in_place);
            }
        free(x), free(out);
    }
}

/* simd_exp (softmax, GELU): within 2 FLT_EPSILON relative over the normal range. */
SIMD_AVX2 static void exp_avx2_array(float *out, const float *x, int n)
{
    for (int i = 0; i < n; i += 8)
        _mm256_storeu_ps(out + i, simd_exp(_mm256_loadu_ps(x + i)));
}

static void test_simd_exp(void **state)
{
    if (!kernel_path_supported(KERNEL_PATH_AVX2)) {
        print_message("NOTE: no AVX2: simd_exp not tested\n");
        return;
    }
    enum { N = 1 << 16 };
    static float x[N], out[N];
    for (int i = 0; i < N; i++)
        x[i] = -87.0f + 175.0f * (float)i / N;
    exp_avx2_array(out, x, N);
    double worst = 0;
    for (int i = 0; i < N; i++) {
        double exact = exp((double)x[i]);
        double relative = fabs(out[i] - exact) / exact / FLT_EPSILON;
        if (!(relative <= 2))
            fail_msg("simd_exp(%.9g) = %.9g, exact %.9g", x[i], out[i], exact);
        worst = fmax(worst, relative);
    }
    print_message("simd_exp: max error %.2f FLT_EPSILON (relative)\n", worst);
    float edges[8] = {-88.0f, -INFINITY, 89.0f, INFINITY, NAN, 0.0f, -0.0f, 88.0f};
    exp_avx2_array(out, edges, 8);
    assert_true(out[0] == 0.0f && out[1] == 0.0f);
    assert_true(isinf(out[2]) && isinf(out[3]) && isnan(out[4]));
    assert_true(out[5] == 1.0f && out[6] == 1.0f && isfinite(out[7]));
}

/* ---- attention ------------------------------------------------------------------------- */

/* Scores carry the error of a float dot product of head_dim terms: about sqrt(head_dim) u
 * |q||k| scale ~ 1e-7 here (|q|, |k| <= 1), 3e-5 at the very worst. Softmax turns an absolute
 * score error into a relative probability error of about twice that, and out = probs v with
 * |v| <= 1 inherits it. Probabilities and outputs are at most 1 in magnitude, so 2e-6
 * absolute leaves a factor of 10 over the expected error (measured: 2e-7). */
#define ATTENTION_TOLERANCE 2e-6

typedef struct attention_case {
    const int *lengths;
    int n_seqs, n_heads, head_dim;
    bool with_bias, with_probs;
} attention_case;

static void check_attention(kernel_path path, const attention_case *ac)
{
    int cu[16];
    cu[0] = 0;
    size_t n_probs = 0;
    int longest = 1;
    for (int s = 0; s < ac->n_seqs; s++) {
        cu[s + 1] = cu[s] + ac->lengths[s];
        n_probs += (size_t)ac->n_heads * ac->lengths[s] * ac->lengths[s];
        if (ac->lengths[s] > longest)
            longest = ac->lengths[s];
    }
    int T = cu[ac->n_seqs], width = ac->n_heads * ac->head_dim, ld = 3 * width;
    int max_distance = longest + 2, span = 2 * max_distance - 1;
    float *qkv = random_array((size_t)T * ld, -1, 1);
    float *bias = ac->with_bias ? random_array((size_t)ac->n_heads * span, -2, 2) : NULL;
    float *out = random_array((size_t)T * width, -1, 1);
    float *expected = copy_array(out, (size_t)T * width);
    float *probs = ac->with_probs ? random_array(n_probs, -1, 1) : NULL;
    float *probs_expected = random_array(n_probs, -1, 1);
    float scale = 1.0f / sqrtf((float)ac->head_dim);

    attention_forward_reference(expected, probs_expected, qkv, qkv + width, qkv + 2 * width, ld,
                                cu, ac->n_seqs, ac->n_heads, ac->head_dim, scale, bias,
                                max_distance);
    semb_status status = attention_forward_using(path, out, probs, qkv, qkv + width,
                                                 qkv + 2 * width, ld, cu, ac->n_seqs, ac->n_heads,
                                                 ac->head_dim, scale, bias, max_distance);
    assert_int_equal(status, SEMB_OK);
    for (size_t i = 0; i < (size_t)T * width; i++)
        note_ratio(fabs((double)out[i] - expected[i]), ATTENTION_TOLERANCE);
    for (size_t i = 0; probs && i < n_probs; i++)
        note_ratio(fabs((double)probs[i] - probs_expected[i]), ATTENTION_TOLERANCE);
    for (size_t i = 0; i < (size_t)T * width; i++)
        if (!(fabs((double)out[i] - expected[i]) <= ATTENTION_TOLERANCE))
            fail_msg("attention %s heads=%d dim=%d bias=%d: out[%zu] = %.9g, reference %.9g",
                     kernel_path_name(path), ac->n_heads, ac->head_dim, ac->with_bias, i, out[i],
                     expected[i]);
    for (size_t i = 0; probs && i < n_probs; i++)
        if (!(fabs((double)probs[i] - probs_expected[i]) <= ATTENTION_TOLERANCE))
            fail_msg("attention %s: probs[%zu] = %.9g, reference %.9g", kernel_path_name(path), i,
                     probs[i], probs_expected[i]);
    /* The reference's probability rows each sum to 1, laid out sequence by sequence. */
    for (int s = 0, at = 0; s < ac->n_seqs; s++)
        for (int row = 0; row < ac->n_heads * ac->lengths[s]; row++) {
            double total = 0;
            for (int j = 0; j < ac->lengths[s]; j++)
                total += probs_expected[at++];
            assert_true(fabs(total - 1.0) < 1e-6);
        }
    free(qkv), free(bias), free(out), free(expected), free(probs), free(probs_expected);
}

static void test_attention_matches_reference(void **state)
{
    /* On the AVX2 path lengths up to 28 take the small products, 33 and 128 oneDNN's; an
     * empty sequence is skipped; head_dim 17 leaves a tail in every vector loop. */
    static const int mixed[] = {1, 2, 7, 33, 128, 0, 5};
    static const int short_ones[] = {3, 24, 25, 17};
    static const struct {
        const int *lengths;
        int n_seqs, n_heads, head_dim;
    } shapes[] = {{mixed, 7, 3, 32}, {mixed, 7, 2, 64}, {short_ones, 4, 4, 17}, {mixed, 5, 1, 8}};
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (int p = 0; p < n_paths; p++) {
        worst_ratio = 0;
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int variant = 0; variant < 4; variant++) {
                attention_case ac = {shapes[s].lengths, shapes[s].n_seqs, shapes[s].n_heads,
                                     shapes[s].head_dim, variant & 1, variant & 2};
                check_attention(paths[p], &ac);
            }
        print_message("attention on %s: worst error %.2g (tolerance %.0e)\n",
                      kernel_path_name(paths[p]), worst_ratio * ATTENTION_TOLERANCE,
                      ATTENTION_TOLERANCE);
    }
}

static void test_attention_rejects_bad_packing(void **state)
{
    float qkv[3 * 4 * 2], out[4 * 2], bias[3] = {0, 0, 0};
    for (int i = 0; i < 24; i++)
        qkv[i] = 1;
    int too_long[] = {0, 3}, decreasing[] = {0, 2, 1};
    /* max_distance 2 allows sequences of at most 2 tokens. */
    assert_int_equal(attention_forward(out, NULL, qkv, qkv + 2, qkv + 4, 6, too_long, 1, 1, 2, 1,
                                       bias, 2),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(attention_forward(out, NULL, qkv, qkv + 2, qkv + 4, 6, decreasing, 2, 1, 2, 1,
                                       NULL, 0),
                     SEMB_ERR_INVALID_ARG);
    /* Without a bias the length is free, and nothing at all is fine. */
    assert_int_equal(attention_forward(out, NULL, qkv, qkv + 2, qkv + 4, 6, too_long, 1, 1, 2, 1,
                                       NULL, 0),
                     SEMB_OK);
    assert_int_equal(attention_forward(out, NULL, qkv, qkv + 2, qkv + 4, 6, too_long, 0, 1, 2, 1,
                                       NULL, 0),
                     SEMB_OK);
}

int main(int argc, char **argv)
{
    if (argc == 2 && strcmp(argv[1], "--print-paths") == 0)
        return print_paths();
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_dispatch_follows_cpu_features),
        cmocka_unit_test(test_semb_cpu_forces_each_path),
        cmocka_unit_test(test_sgemm_matches_reference),
        cmocka_unit_test(test_sgemm_beta_zero_ignores_c),
        cmocka_unit_test(test_linear_matches_reference),
        cmocka_unit_test(test_small_gemm_matches_reference),
        cmocka_unit_test(test_layernorm_matches_reference),
        cmocka_unit_test(test_activation_accuracy),
        cmocka_unit_test(test_activation_paths_and_lengths),
        cmocka_unit_test(test_simd_exp),
        cmocka_unit_test(test_attention_matches_reference),
        cmocka_unit_test(test_attention_rejects_bad_packing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
