/* bfloat16 rounding and the bf16 matmul: hand-made rounding cases (ties, NaN, infinities,
 * denormals), every rounding path against the scalar reference, and each matmul path
 * against its double-accumulating reference on odd shapes, strides and operand kinds. */
#include "support.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/bf16.h"
#include "kernels/kernel_path.h"
#include "kernels/matmul.h"
#include "kernels/matmul_bf16.h"

static float from_bits(uint32_t bits)
{
    float x;
    memcpy(&x, &bits, sizeof x);
    return x;
}

static uint32_t to_bits(float x)
{
    uint32_t bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}

/* xorshift64*: the same numbers on every machine and run. */
static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t next_random(void)
{
    rng_state ^= rng_state >> 12;
    rng_state ^= rng_state << 25;
    rng_state ^= rng_state >> 27;
    return rng_state * 0x2545F4914F6CDD1Dull;
}

static float uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(next_random() >> 40) / (double)(1 << 24));
}

static const struct {
    uint32_t in;
    uint16_t out;
    const char *what;
} rounding_cases[] = {
    {0x3f800000, 0x3f80, "1.0 exact"},
    {0x3f808000, 0x3f80, "tie, even below: stays"},
    {0x3f818000, 0x3f82, "tie, odd below: up to even"},
    {0x3f808001, 0x3f81, "just above the tie: up"},
    {0x3f807fff, 0x3f80, "just below the tie: down"},
    {0xbf818000, 0xbf82, "negative tie: away to even"},
    {0x00000000, 0x0000, "+0"},
    {0x80000000, 0x8000, "-0"},
    {0x00000001, 0x0000, "smallest denormal: to 0"},
    {0x00008000, 0x0000, "denormal tie, even below"},
    {0x00018000, 0x0002, "denormal tie, odd below"},
    {0x00008001, 0x0001, "denormal above the tie"},
    {0x807fffff, 0x8080, "largest negative denormal: rounds to -FLT_MIN"},
    {0x7f800000, 0x7f80, "+inf"},
    {0xff800000, 0xff80, "-inf"},
    {0x7f7fffff, 0x7f80, "FLT_MAX: past the largest bf16, to inf"},
    {0x7f7f7fff, 0x7f7f, "below the tie under inf: the largest bf16"},
    {0x7fc00000, 0x7fc0, "quiet NaN"},
    {0xffc00001, 0xffc0, "negative quiet NaN with payload"},
    {0x7f800001, 0x7fc0, "signalling NaN, low payload: NaN, not inf"},
    {0x7fffffff, 0x7fff, "NaN, all mantissa bits: no carry into the sign"},
    {0xff80ffff, 0xffc0, "negative signalling NaN"},
};
enum { N_ROUNDING_CASES = sizeof rounding_cases / sizeof rounding_cases[0] };

static void test_rounding_hand_cases(void **state)
{
    for (int i = 0; i < N_ROUNDING_CASES; i++) {
        uint16_t got = bf16_from_float(from_bits(rounding_cases[i].in));
        if (got != rounding_cases[i].out)
            fail_msg("%08x (%s): got %04x, want %04x", rounding_cases[i].in,
                     rounding_cases[i].what, got, rounding_cases[i].out);
        float back = bf16_to_float(got);
        assert_true(to_bits(back) == (uint32_t)got << 16);
        if (isnan(from_bits(rounding_cases[i].in)))
            assert_true(isnan(back));
    }
}

/* Bit patterns of every kind: the hand cases, random bits (NaNs and denormals among them),
 * and random values near 1. */
static float *pattern_array(size_t n)
{
    float *x = malloc(n * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++) {
        if (i % 3 == 0)
            x[i] = from_bits(rounding_cases[(i / 3) % N_ROUNDING_CASES].in);
        else if (i % 3 == 1)
            x[i] = from_bits((uint32_t)next_random());
        else
            x[i] = uniform(-2, 2);
    }
    return x;
}

static void test_rounding_paths_match_scalar(void **state)
{
    kernel_path paths[2] = {KERNEL_PATH_GENERIC, KERNEL_PATH_AVX2};
    int n_paths = kernel_path_supported(KERNEL_PATH_AVX2) ? 2 : 1;
    if (n_paths == 1)
        print_message("NOTE: no AVX2 on this CPU (%s): AVX2 path not tested\n",
                      cpu_features_string());
    size_t lengths[] = {0, 1, 7, 8, 9, 15, 16, 17, 31, 33, 1000};
    for (int p = 0; p < n_paths; p++)
        for (size_t l = 0; l < sizeof lengths / sizeof lengths[0]; l++) {
            size_t n = lengths[l];
            float *in = pattern_array(n + 1), *rounded = malloc((n + 1) * sizeof(float));
            float *widened = malloc((n + 1) * sizeof(float));
            uint16_t *packed = malloc((n + 1) * sizeof(uint16_t));
            assert_true(rounded && widened && packed);
            packed[n] = 0xabcd; /* the element past the end is never written */
            bf16_from_floats_using(paths[p], packed, in, n);
            bf16_round_floats_using(paths[p], rounded, in, n);
            bf16_to_floats_using(paths[p], widened, packed, n);
            assert_int_equal(packed[n], 0xabcd);
            for (size_t i = 0; i < n; i++) {
                uint16_t want = bf16_from_float(in[i]);
                if (packed[i] != want || to_bits(rounded[i]) != (uint32_t)want << 16 ||
                    to_bits(widened[i]) != (uint32_t)want << 16)
                    fail_msg("%s n=%zu [%zu] = %08x: packed %04x, rounded %08x, widened %08x, "
                             "want %04x", kernel_path_name(paths[p]), n, i, to_bits(in[i]),
                             packed[i], to_bits(rounded[i]), to_bits(widened[i]), want);
            }
            bf16_round_floats_using(paths[p], in, in, n); /* in place */
            for (size_t i = 0; i < n; i++)
                assert_true(to_bits(in[i]) == to_bits(rounded[i]));
            free(in), free(rounded), free(widened), free(packed);
        }
}

/* ---- matmul ---------------------------------------------------------------------------- */

/* As test_kernels' sgemm check: float accumulation of K exact products is within
 * (K + 2) FLT_EPSILON of the sum of their absolute values (plus |beta C|) of the reference. */
static double product_tolerance(int K, double abs_product, double abs_rest)
{
    return (K + 2) * (double)FLT_EPSILON * (abs_product + abs_rest) + FLT_MIN;
}

typedef struct operand_data {
    float *f32;
    uint16_t *bf16;
    float *abs_rounded; /* |bf16(x)|, for the tolerance */
} operand_data;

static operand_data make_operand(size_t n, bool as_bf16)
{
    operand_data d = {malloc(n * sizeof(float)), as_bf16 ? malloc(n * sizeof(uint16_t)) : NULL,
                      malloc(n * sizeof(float))};
    assert_true(d.f32 && d.abs_rounded && (!as_bf16 || d.bf16));
    for (size_t i = 0; i < n; i++) {
        d.f32[i] = uniform(-1, 1);
        d.abs_rounded[i] = fabsf(bf16_to_float(bf16_from_float(d.f32[i])));
    }
    if (as_bf16)
        bf16_from_floats(d.bf16, d.f32, n);
    return d;
}

static bf16_operand operand_of(const operand_data *d)
{
    return d->bf16 ? bf16_operand_bf16(d->bf16) : bf16_operand_f32(d->f32);
}

static void free_operand(operand_data *d)
{
    free(d->f32), free(d->bf16), free(d->abs_rounded);
}

static double worst_ratio;

/* One product on path against the reference; false when the path is unavailable. */
static bool check_matmul(matmul_bf16_path path, bool trans_a, bool trans_b, int M, int N, int K,
                         float alpha, float beta, int pad, bool a_bf16, bool b_bf16)
{
    int a_rows = trans_a ? K : M, a_cols = trans_a ? M : K;
    int b_rows = trans_b ? N : K, b_cols = trans_b ? K : N;
    int lda = a_cols + pad, ldb = b_cols + pad, ldc = N + pad;
    size_t a_size = (size_t)a_rows * lda, b_size = (size_t)b_rows * ldb, c_size = (size_t)M * ldc;
    operand_data A = make_operand(a_size, a_bf16), B = make_operand(b_size, b_bf16);
    float *C0 = malloc(c_size * sizeof *C0), *C = malloc(c_size * sizeof *C);
    float *want = malloc(c_size * sizeof *want), *abs_AB = malloc(c_size * sizeof *abs_AB);
    assert_true(C0 && C && want && abs_AB);
    for (size_t i = 0; i < c_size; i++)
        C0[i] = uniform(-1, 1);
    memcpy(C, C0, c_size * sizeof *C);
    memcpy(want, C0, c_size * sizeof *C);
    semb_error err = {0};
    semb_status st = matmul_bf16_using(path, trans_a, trans_b, M, N, K, alpha, operand_of(&A), lda,
                                       operand_of(&B), ldb, beta, C, ldc, &err);
    bool ran = st == SEMB_OK;
    if (st) {
        assert_int_equal(st, SEMB_ERR_UNSUPPORTED);
        assert_memory_equal(C, C0, c_size * sizeof *C); /* untouched */
        goto done;
    }
    matmul_bf16_reference(trans_a, trans_b, M, N, K, alpha, operand_of(&A), lda, operand_of(&B),
                          ldb, beta, want, ldc);
    matmul_sgemm_reference(trans_a, trans_b, M, N, K, 1, A.abs_rounded, lda, B.abs_rounded, ldb,
                           0, abs_AB, ldc);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t at = (size_t)i * ldc + j;
            if (j >= N) { /* the padding between rows is never written */
                assert_true(to_bits(C[at]) == to_bits(C0[at]));
                continue;
            }
            double tol = product_tolerance(K, fabs(alpha) * abs_AB[at], fabs(beta * C0[at]));
            double error = fabs((double)C[at] - want[at]);
            worst_ratio = fmax(worst_ratio, error / tol);
            if (!(error <= tol))
                fail_msg("%s %c%c M=%d N=%d K=%d pad=%d alpha=%g beta=%g operands %s/%s: C[%d,%d] "
                         "= %.9g, reference %.9g, tolerance %.3g", matmul_bf16_path_name(path),
                         trans_a ? 'T' : 'N', trans_b ? 'T' : 'N', M, N, K, pad, alpha, beta,
                         a_bf16 ? "bf16" : "f32", b_bf16 ? "bf16" : "f32", i, j, C[at], want[at],
                         tol);
        }
done:
    free_operand(&A), free_operand(&B);
    free(C0), free(C), free(want), free(abs_AB);
    return ran;
}

static const int odd_sizes[] = {1, 3, 17, 33};
enum { N_ODD = sizeof odd_sizes / sizeof odd_sizes[0] };

/* Every shape, transposition and operand kind; returns how many ran. */
static int check_all_shapes(matmul_bf16_path path)
{
    static const float scalars[][2] = {{1, 0}, {-0.75f, 0}, {0.5f, 1}, {2, -0.25f}};
    int count = 0, ran = 0;
    for (int m = 0; m < N_ODD; m++)
        for (int n = 0; n < N_ODD; n++)
            for (int k = 0; k < N_ODD; k++)
                for (int t = 0; t < 4; t++, count++)
                    ran += check_matmul(path, t & 1, t & 2, odd_sizes[m], odd_sizes[n],
                                        odd_sizes[k], scalars[count % 4][0], scalars[count % 4][1],
                                        count % 3 == 0 ? 0 : 5, count % 2, count % 5 < 2);
    /* a linear layer's shape: tokens x hidden times a bf16 weight^T */
    ran += check_matmul(path, false, true, 70, 96, 384, 1, 1, 0, false, true);
    return ran;
}

static void test_emulated_matmul_matches_reference(void **state)
{
    worst_ratio = 0;
    int ran = check_all_shapes(MATMUL_BF16_EMULATED);
    assert_int_equal(ran, N_ODD * N_ODD * N_ODD * 4 + 1);
    print_message("emulated bf16 matmul: %d products, worst error %.3f of tolerance\n", ran,
                  worst_ratio);
}

/* oneDNN's bf16 matmul exists only on CPUs with AVX-512 (2.6: no AVX2 implementation); it is
 * forced here whatever matmul_bf16_path_best says. Where the CPU claims hardware bf16 it
 * must run. */
static void test_onednn_matmul_matches_reference(void **state)
{
    worst_ratio = 0;
    int ran = check_all_shapes(MATMUL_BF16_ONEDNN);
    if (matmul_bf16_path_best() == MATMUL_BF16_ONEDNN)
        assert_int_equal(ran, N_ODD * N_ODD * N_ODD * 4 + 1);
    if (ran)
        print_message("oneDNN bf16 matmul: %d products, worst error %.3f of tolerance\n", ran,
                      worst_ratio);
    else
        print_message("NOTE: oneDNN has no bf16 matmul on this CPU (%s): the oneDNN path was "
                      "refused cleanly and is not tested\n", cpu_features_string());
}

/* The dispatched product: emulated under SEMB_CPU=generic and on CPUs without hardware
 * bf16, and in every case the rounding really happens (a float32 product of the same
 * inputs differs). */
static void test_dispatch_and_rounding(void **state)
{
    const semb_cpu_features *cpu = cpu_features();
    if (!cpu->avx512_bf16 && !cpu->amx_bf16)
        assert_int_equal(matmul_bf16_path_best(), MATMUL_BF16_EMULATED);
    print_message("bf16 matmul path here: %s\n", matmul_bf16_path_name(matmul_bf16_path_best()));
    enum { M = 4, N = 3, K = 5 };
    float A[M * K], B[K * N], C[M * N], C32[M * N], want[M * N];
    for (int i = 0; i < M * K; i++)
        A[i] = 1.0f + (float)(i + 1) / 1024.0f; /* bits below bfloat16's 7 mantissa bits */
    for (int i = 0; i < K * N; i++)
        B[i] = 1.0f - (float)(i + 1) / 4096.0f;
    for (int i = 0; i < M * N; i++)
        C[i] = NAN; /* beta = 0: C is only written */
    semb_error err = {0};
    assert_int_equal(matmul_bf16(false, false, M, N, K, 1, bf16_operand_f32(A), K,
                                 bf16_operand_f32(B), N, 0, C, N, &err), SEMB_OK);
    matmul_bf16_reference(false, false, M, N, K, 1, bf16_operand_f32(A), K, bf16_operand_f32(B),
                          N, 0, want, N);
    matmul_sgemm_reference(false, false, M, N, K, 1, A, K, B, N, 0, C32, N);
    int differs = 0;
    for (int i = 0; i < M * N; i++) {
        assert_false(isnan(C[i]));
        assert_true(fabs(C[i] - want[i]) <= product_tolerance(K, fabs(want[i]), 0));
        differs += C[i] != C32[i];
    }
    assert_true(differs > 0);
    /* K = 0: C = beta C; M or N = 0: nothing */
    float D[2] = {1, 2};
    assert_int_equal(matmul_bf16(false, false, 1, 2, 0, 1, bf16_operand_f32(A), 1,
                                 bf16_operand_f32(B), 2, 0.5f, D, 2, &err), SEMB_OK);
    assert_true(D[0] == 0.5f && D[1] == 1.0f);
    assert_int_equal(matmul_bf16(false, false, 0, 2, 3, 1, bf16_operand_f32(NULL), 3,
                                 bf16_operand_f32(B), 2, 0, NULL, 2, &err), SEMB_OK);
}

/* The linear layers: forward = reference product + bias; backward products against the
 * reference, bias gradient bit for bit linear_backward's. */
static void test_linear_bf16(void **state)
{
    enum { M = 37, K = 29, N = 19 };
    float inp[M * K], weight[N * K], bias[N], d_out[M * N];
    for (int i = 0; i < M * K; i++)
        inp[i] = uniform(-1, 1);
    for (int i = 0; i < N * K; i++)
        weight[i] = uniform(-1, 1);
    for (int i = 0; i < N; i++)
        bias[i] = uniform(-1, 1);
    for (int i = 0; i < M * N; i++)
        d_out[i] = uniform(-1, 1);
    uint16_t w16[N * K];
    bf16_from_floats(w16, weight, N * K);
    float out[M * N], want[M * N];
    semb_error err = {0};
    assert_int_equal(linear_forward_bf16(out, inp, w16, bias, M, K, N, &err), SEMB_OK);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < N; j++)
            want[i * N + j] = bias[j];
    matmul_bf16_reference(false, true, M, N, K, 1, bf16_operand_f32(inp), K,
                          bf16_operand_bf16(w16), K, 1, want, N);
    for (int i = 0; i < M * N; i++)
        assert_true(fabs(out[i] - want[i]) <= product_tolerance(K, K, fabs(bias[i % N])));

    float d_inp[M * K], d_weight[N * K], d_bias[N], d_bias32[N], want_inp[M * K], want_w[N * K];
    for (int i = 0; i < M * K; i++)
        d_inp[i] = want_inp[i] = 0.25f; /* accumulated into, not overwritten */
    for (int i = 0; i < N * K; i++)
        d_weight[i] = want_w[i] = -0.5f;
    for (int i = 0; i < N; i++)
        d_bias[i] = d_bias32[i] = 1.0f;
    assert_int_equal(linear_backward_bf16(d_inp, d_weight, d_bias, d_out, inp, w16, M, K, N, &err),
                     SEMB_OK);
    linear_backward(NULL, NULL, d_bias32, d_out, inp, weight, M, K, N);
    matmul_bf16_reference(false, false, M, K, N, 1, bf16_operand_f32(d_out), N,
                          bf16_operand_bf16(w16), K, 1, want_inp, K);
    matmul_bf16_reference(true, false, N, K, M, 1, bf16_operand_f32(d_out), N,
                          bf16_operand_f32(inp), K, 1, want_w, K);
    for (int i = 0; i < M * K; i++)
        assert_true(fabs(d_inp[i] - want_inp[i]) <= product_tolerance(N, N, 0.25));
    for (int i = 0; i < N * K; i++)
        assert_true(fabs(d_weight[i] - want_w[i]) <= product_tolerance(M, M, 0.5));
    assert_memory_equal(d_bias, d_bias32, sizeof d_bias);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounding_hand_cases),
        cmocka_unit_test(test_rounding_paths_match_scalar),
        cmocka_unit_test(test_emulated_matmul_matches_reference),
        cmocka_unit_test(test_onednn_matmul_matches_reference),
        cmocka_unit_test(test_dispatch_and_rounding),
        cmocka_unit_test(test_linear_bf16),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
