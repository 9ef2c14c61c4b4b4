/* gemm_packed (the AVX2 and AVX-512 products against pre-packed weights, with fused bias and
 * activation) against a double-precision product computed from the unpacked weights and
 * against gemm_packed_reference, the two kernels against each other bit for bit, and the
 * encoder's use of it: packed weights follow the parameters' version. A kernel this CPU (or
 * SEMB_CPU) lacks is skipped, loudly. */
#include "support.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/activation.h"
#include "kernels/gemm_packed.h"
#include "kernels/kernel_path.h"
#include "model/sentence_model.h"

static uint64_t rng_state = 0x2545F4914F6CDD1Dull;

static float uniform(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)((rng_state >> 40) * 0x1p-24);
}

static float *random_floats(size_t n)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = uniform(-1, 1);
    return x;
}

static float *packed_copy(const float *W, int N, int K)
{
    size_t bytes = (gemm_packed_floats(N, K) * sizeof(float) + 63) / 64 * 64;
    float *p = aligned_alloc(64, bytes ? bytes : 64);
    assert_non_null(p);
    gemm_pack_weight(p, W, N, K);
    return p;
}

typedef struct gemm_case {
    int M, N, K, pad;
    bool bias, accumulate;
    kernel_path path;
} gemm_case;

/* C from gemm_packed vs sum_k A W^T in double from the unpacked W, within the float
 * summation bound (K + 2) eps (|A||W| + |start|) (see test_kernels' product_tolerance);
 * the padding between rows of C is never written. */
static void check_product(const gemm_case *c)
{
    int M = c->M, N = c->N, K = c->K, lda = K + c->pad, ldc = N + c->pad;
    float *A = random_floats((size_t)M * lda), *W = random_floats((size_t)N * K);
    float *bias = random_floats((size_t)N), *C0 = random_floats((size_t)M * ldc);
    float *C = malloc((size_t)M * ldc * sizeof *C);
    memcpy(C, C0, (size_t)M * ldc * sizeof *C);
    float *P = packed_copy(W, N, K);
    gemm_packed_using(c->path, C, ldc, A, lda, P, M, N, K, c->bias ? bias : NULL,
                      GEMM_EPILOGUE_NONE, c->accumulate);
    /* the scalar reference reads the same packed panels */
    float *R = malloc((size_t)M * ldc * sizeof *R);
    memcpy(R, C0, (size_t)M * ldc * sizeof *R);
    gemm_packed_reference(R, ldc, A, lda, P, M, N, K, c->bias ? bias : NULL,
                          GEMM_EPILOGUE_NONE, c->accumulate);
    for (int i = 0; i < M; i++)
        for (int j = 0; j < ldc; j++) {
            size_t at = (size_t)i * ldc + j;
            if (j >= N) {
                assert_true(C[at] == C0[at]);
                continue;
            }
            double start = c->accumulate ? C0[at] : c->bias ? bias[j] : 0.0;
            double sum = start, abs_sum = fabs(start);
            for (int k = 0; k < K; k++) {
                sum += (double)A[(size_t)i * lda + k] * W[(size_t)j * K + k];
                abs_sum += fabs((double)A[(size_t)i * lda + k] * W[(size_t)j * K + k]);
            }
            double tol = (K + 2) * (double)FLT_EPSILON * abs_sum + FLT_MIN;
            if (fabs(R[at] - sum) > tol)
                fail_msg("gemm_packed_reference M=%d N=%d K=%d: C[%d,%d] = %.9g, expected %.9g",
                         M, N, K, i, j, R[at], sum);
            if (fabs(C[at] - sum) > tol)
                fail_msg("gemm_packed %s M=%d N=%d K=%d pad=%d bias=%d acc=%d: C[%d,%d] = "
                         "%.9g, expected %.9g (tolerance %.3g)",
                         kernel_path_name(c->path), M, N, K, c->pad, c->bias, c->accumulate, i,
                         j, C[at], sum, tol);
        }
    free(A), free(W), free(bias), free(C0), free(C), free(R), free(P);
}

static bool have_path(kernel_path path)
{
    if (kernel_path_supported(path))
        return true;
    print_message("SKIPPED: the %s gemm_packed kernel: this CPU (or SEMB_CPU) lacks it (%s)\n",
                  kernel_path_name(path), cpu_features_string());
    return false;
}

/* Rows around the register blocks (6 rows on AVX2, 12 on AVX-512) and the 96-row task,
 * columns around the 16-wide panel and the AVX-512 pair of panels, K around the 256 block. */
static void check_shapes(kernel_path path)
{
    static const int Ms[] = {1, 5, 6, 7, 11, 12, 13, 96, 97, 200};
    static const int Ns[] = {1, 7, 8, 9, 16, 17, 31, 33, 40, 129};
    static const int Ks[] = {1, 3, 255, 256, 257, 600};
    for (size_t m = 0; m < sizeof Ms / sizeof *Ms; m++)
        for (size_t n = 0; n < sizeof Ns / sizeof *Ns; n++)
            for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++) {
                int variant = (int)(m + n + k) % 4;
                gemm_case c = {Ms[m], Ns[n], Ks[k], variant == 3 ? 5 : 0, variant == 1,
                               variant == 2, path};
                check_product(&c);
            }
}

static void test_avx2_product_matches_double(void **state)
{
    (void)state;
    if (!have_path(KERNEL_PATH_AVX2))
        skip();
    check_shapes(KERNEL_PATH_AVX2);
}

static void test_avx512_product_matches_double(void **state)
{
    (void)state;
    if (!have_path(KERNEL_PATH_AVX512))
        skip();
    check_shapes(KERNEL_PATH_AVX512);
}

static const gemm_epilogue all_epilogues[] = {GEMM_EPILOGUE_NONE, GEMM_EPILOGUE_GELU,
                                              GEMM_EPILOGUE_GELU_TANH, GEMM_EPILOGUE_RELU};

/* The AVX-512 kernel against gemm_packed_reference with each epilogue: the sum within the
 * summation bound of check_product, carried through the activation (slope at most 1.13
 * for either GELU), plus the activation's own error (activation.h: 3.5 FLT_EPSILON for GELU,
 * (6 + 6|u|) FLT_EPSILON for gelu_tanh, u its inner argument), doubled for margin. */
static void check_epilogues_against_reference(int M, int N, int K, int pad, bool bias_on,
                                              bool accumulate)
{
    int lda = K + pad, ldc = N + pad;
    float *A = random_floats((size_t)M * lda), *W = random_floats((size_t)N * K);
    float *bias = random_floats((size_t)N), *C0 = random_floats((size_t)M * ldc);
    float *C = malloc((size_t)M * ldc * sizeof *C), *R = malloc((size_t)M * ldc * sizeof *R);
    float *P = packed_copy(W, N, K);
    for (int e = 0; e < 4; e++) {
        memcpy(C, C0, (size_t)M * ldc * sizeof *C);
        memcpy(R, C0, (size_t)M * ldc * sizeof *R);
        gemm_packed_using(KERNEL_PATH_AVX512, C, ldc, A, lda, P, M, N, K,
                          bias_on ? bias : NULL, all_epilogues[e], accumulate);
        gemm_packed_reference(R, ldc, A, lda, P, M, N, K, bias_on ? bias : NULL,
                              all_epilogues[e], accumulate);
        for (int i = 0; i < M; i++)
            for (int j = 0; j < ldc; j++) {
                size_t at = (size_t)i * ldc + j;
                if (j >= N) {
                    assert_true(C[at] == C0[at]);
                    continue;
                }
                double start = accumulate ? C0[at] : bias_on ? bias[j] : 0.0;
                double abs_sum = fabs(start), x = start;
                for (int k = 0; k < K; k++) {
                    double product = (double)A[(size_t)i * lda + k] * W[(size_t)j * K + k];
                    abs_sum += fabs(product);
                    x += product;
                }
                double u = 0.7978845608 * (x + 0.044715 * x * x * x);
                double relative = all_epilogues[e] == GEMM_EPILOGUE_GELU_TANH ? 6 + 6 * fabs(u)
                                  : all_epilogues[e] == GEMM_EPILOGUE_GELU    ? 3.5
                                                                              : 0.0;
                double tol = 2 * (1.13 * ((K + 2) * (double)FLT_EPSILON * abs_sum) +
                                  relative * FLT_EPSILON * fabs(R[at])) +
                             FLT_MIN;
                if (!(fabs(C[at] - R[at]) <= tol))
                    fail_msg("avx512 epilogue %d M=%d N=%d K=%d: C[%d,%d] = %.9g, reference "
                             "%.9g (tolerance %.3g)",
                             (int)all_epilogues[e], M, N, K, i, j, C[at], R[at], tol);
            }
    }
    free(A), free(W), free(bias), free(C0), free(C), free(R), free(P);
}

static void test_avx512_epilogues_match_reference(void **state)
{
    (void)state;
    if (!have_path(KERNEL_PATH_AVX512))
        skip();
    check_epilogues_against_reference(1, 1, 1, 0, true, false);
    check_epilogues_against_reference(13, 33, 257, 3, true, false);
    check_epilogues_against_reference(97, 47, 300, 0, false, false);
    check_epilogues_against_reference(25, 129, 513, 5, false, true);
    check_epilogues_against_reference(7, 16, 64, 0, true, false);
}

/* Both kernels sum each entry k by k from the same start and share the epilogue's
 * operations lane for lane: the AVX-512 product has the AVX2 one's bits, on odd shapes,
 * every epilogue, with bias, accumulation and padded rows. */
static void test_avx512_equals_avx2(void **state)
{
    (void)state;
    if (!have_path(KERNEL_PATH_AVX512))
        skip();
    static const int shapes[][3] = {{1, 1, 1}, {11, 31, 255}, {13, 33, 257}, {97, 129, 600},
                                    {200, 48, 384}, {37, 45, 300}};
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++)
        for (int e = 0; e < 4; e++) {
            int M = shapes[s][0], N = shapes[s][1], K = shapes[s][2], pad = (int)s % 3;
            int lda = K + pad, ldc = N + pad;
            bool accumulate = (s + e) % 3 == 2, with_bias = (s + e) % 3 == 1;
            float *A = random_floats((size_t)M * lda), *W = random_floats((size_t)N * K);
            float *bias = random_floats((size_t)N), *C0 = random_floats((size_t)M * ldc);
            /* sums of up to 600 products of [-1, 1] reach the GELUs' tails and both sides */
            for (size_t i = 0; i < (size_t)M * lda; i++)
                A[i] *= 4;
            float *P = packed_copy(W, N, K);
            size_t bytes = (size_t)M * ldc * sizeof(float);
            float *wide = malloc(bytes), *narrow = malloc(bytes);
            memcpy(wide, C0, bytes);
            memcpy(narrow, C0, bytes);
            gemm_packed_using(KERNEL_PATH_AVX512, wide, ldc, A, lda, P, M, N, K,
                              with_bias ? bias : NULL, all_epilogues[e], accumulate);
            gemm_packed_using(KERNEL_PATH_AVX2, narrow, ldc, A, lda, P, M, N, K,
                              with_bias ? bias : NULL, all_epilogues[e], accumulate);
            if (memcmp(wide, narrow, bytes) != 0)
                fail_msg("avx512 and avx2 differ: M=%d N=%d K=%d epilogue %d", M, N, K,
                         (int)all_epilogues[e]);
            free(A), free(W), free(bias), free(C0), free(P), free(wide), free(narrow);
        }
}

/* The fused activation is the AVX2 activation applied to the same sum: the same bits as
 * activation_forward run over the plain product afterwards, on each vector path. */
static void check_epilogue_equals_separate_pass(kernel_path path)
{
    int M = 37, N = 45, K = 300;
    float *A = random_floats((size_t)M * K), *W = random_floats((size_t)N * K);
    float *bias = random_floats((size_t)N), *P = packed_copy(W, N, K);
    float *plain = malloc((size_t)M * N * sizeof *plain);
    float *fused = malloc((size_t)M * N * sizeof *fused);
    static const activation_kind kinds[] = {ACTIVATION_GELU, ACTIVATION_GELU_TANH,
                                            ACTIVATION_RELU};
    for (int a = 0; a < 3; a++) {
        gemm_packed_using(path, plain, N, A, K, P, M, N, K, bias, GEMM_EPILOGUE_NONE, false);
        activation_forward_using(KERNEL_PATH_AVX2, kinds[a], plain, plain, (size_t)M * N);
        gemm_packed_using(path, fused, N, A, K, P, M, N, K, bias, gemm_epilogue_for(kinds[a]),
                          false);
        assert_memory_equal(plain, fused, (size_t)M * N * sizeof *plain);
    }
    free(A), free(W), free(bias), free(P), free(plain), free(fused);
}

static void test_epilogue_equals_separate_pass(void **state)
{
    (void)state;
    if (!have_path(KERNEL_PATH_AVX2))
        skip();
    check_epilogue_equals_separate_pass(KERNEL_PATH_AVX2);
    if (kernel_path_supported(KERNEL_PATH_AVX512))
        check_epilogue_equals_separate_pass(KERNEL_PATH_AVX512);
}

/* Tiles are taken dynamically by threads, but each entry's sum has one order. */
static void check_same_bits_on_any_thread_count(kernel_path path)
{
    int M = 450, N = 1152, K = 384;
    float *A = random_floats((size_t)M * K), *W = random_floats((size_t)N * K);
    float *bias = random_floats((size_t)N), *P = packed_copy(W, N, K);
    float *one = malloc((size_t)M * N * sizeof *one), *two = malloc((size_t)M * N * sizeof *two);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    gemm_packed_using(path, one, N, A, K, P, M, N, K, bias, GEMM_EPILOGUE_GELU, false);
    omp_set_num_threads(2);
    gemm_packed_using(path, two, N, A, K, P, M, N, K, bias, GEMM_EPILOGUE_GELU, false);
    omp_set_num_threads(saved);
    assert_memory_equal(one, two, (size_t)M * N * sizeof *one);
    free(A), free(W), free(bias), free(P), free(one), free(two);
}

static void test_same_bits_on_any_thread_count(void **state)
{
    (void)state;
    if (!have_path(KERNEL_PATH_AVX2))
        skip();
    check_same_bits_on_any_thread_count(KERNEL_PATH_AVX2);
    if (kernel_path_supported(KERNEL_PATH_AVX512))
        check_same_bits_on_any_thread_count(KERNEL_PATH_AVX512);
}

/* gemm_packed itself takes the widest kernel this CPU has: its bits are that kernel's. */
static void test_dispatch_takes_best_kernel(void **state)
{
    (void)state;
    if (!have_path(KERNEL_PATH_AVX2))
        skip();
    int M = 30, N = 50, K = 70;
    float *A = random_floats((size_t)M * K), *W = random_floats((size_t)N * K);
    float *P = packed_copy(W, N, K);
    float *got = malloc((size_t)M * N * sizeof *got);
    float *want = malloc((size_t)M * N * sizeof *want);
    gemm_packed(got, N, A, K, P, M, N, K, NULL, GEMM_EPILOGUE_GELU, false);
    gemm_packed_using(kernel_path_best_gemm(), want, N, A, K, P, M, N, K, NULL,
                      GEMM_EPILOGUE_GELU, false);
    assert_memory_equal(got, want, (size_t)M * N * sizeof *got);
    assert_int_equal(kernel_path_best_gemm(), kernel_path_supported(KERNEL_PATH_AVX512)
                                                  ? KERNEL_PATH_AVX512
                                                  : KERNEL_PATH_AVX2);
    free(A), free(W), free(P), free(got), free(want);
}

/* The packed copies are rebuilt when the weights change: after a change and
 * encoder_params_changed, encoding gives what a freshly loaded model with those weights
 * gives. */
static void test_encoder_repacks_after_change(void **state)
{
    (void)state;
    const char *dir = test_shared_path("fixtures/bert-tiny-mean");
    semb_model *m, *fresh;
    semb_error err = {0};
    assert_int_equal(semb_model_load(dir, &m, &err), 0);
    assert_int_equal(semb_model_load(dir, &fresh, &err), 0);
    const char *texts[] = {"the packed weights follow the parameters", "a second sentence"};
    int dim = semb_model_dimension(m);
    float *before = malloc(2 * (size_t)dim * sizeof(float));
    float *after = malloc(2 * (size_t)dim * sizeof(float));
    float *expected = malloc(2 * (size_t)dim * sizeof(float));
    semb_encode_options o = semb_encode_options_default();
    o.batch_size = 2;
    assert_int_equal(semb_encode(m, texts, NULL, 2, before, &o, &err), 0);
    for (int l = 0; l < m->config.num_layers; l++) {
        size_t n = (size_t)m->config.intermediate_size * (size_t)m->config.hidden_size;
        for (size_t i = 0; i < n; i++) {
            m->params.layers[l].ffn_in_weight[i] *= 1.5f;
            fresh->params.layers[l].ffn_in_weight[i] *= 1.5f;
        }
    }
    encoder_params_changed(&m->params);
    assert_int_equal(semb_encode(m, texts, NULL, 2, after, &o, &err), 0);
    assert_int_equal(semb_encode(fresh, texts, NULL, 2, expected, &o, &err), 0);
    assert_memory_equal(after, expected, 2 * (size_t)dim * sizeof(float));
    assert_memory_not_equal(after, before, 2 * (size_t)dim * sizeof(float));
    free(before), free(after), free(expected);
    semb_model_free(m);
    semb_model_free(fresh);
}

int main(void)
{
    const struct CMUnitTest kernel_tests[] = {
        cmocka_unit_test(test_avx2_product_matches_double),
        cmocka_unit_test(test_avx512_product_matches_double),
        cmocka_unit_test(test_avx512_epilogues_match_reference),
        cmocka_unit_test(test_avx512_equals_avx2),
        cmocka_unit_test(test_epilogue_equals_separate_pass),
        cmocka_unit_test(test_same_bits_on_any_thread_count),
        cmocka_unit_test(test_dispatch_takes_best_kernel),
    };
    int failed = cmocka_run_group_tests(kernel_tests, NULL, NULL);
    if (test_require_shared("test_gemm_packed") != 0)
        return failed ? failed : TEST_SKIPPED;
    const struct CMUnitTest model_tests[] = {
        cmocka_unit_test(test_encoder_repacks_after_change),
    };
    return failed + cmocka_run_group_tests(model_tests, NULL, NULL);
}
