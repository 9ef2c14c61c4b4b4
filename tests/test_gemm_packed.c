/* gemm_packed (the AVX2 product against pre-packed weights, with fused bias and activation)
 * against a double-precision product computed from the unpacked weights, and the encoder's
 * use of it: packed weights follow the parameters' version. */
#include "support.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

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
    gemm_packed(C, ldc, A, lda, P, M, N, K, c->bias ? bias : NULL, GEMM_EPILOGUE_NONE,
                c->accumulate);
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
                fail_msg("gemm_packed M=%d N=%d K=%d pad=%d bias=%d acc=%d: C[%d,%d] = %.9g, "
                         "expected %.9g (tolerance %.3g)",
                         M, N, K, c->pad, c->bias, c->accumulate, i, j, C[at], sum, tol);
        }
    free(A), free(W), free(bias), free(C0), free(C), free(R), free(P);
}

static bool have_avx2(void)
{
    if (kernel_path_best() == KERNEL_PATH_AVX2)
        return true;
    print_message("SKIPPED: gemm_packed needs AVX2 + FMA, this CPU (or SEMB_CPU) has none\n");
    return false;
}

static void test_product_matches_double(void **state)
{
    (void)state;
    if (!have_avx2())
        skip();
    /* rows around the 6-row register block and the 96-row task, columns around the 16-wide
     * panel, K around the 256 block */
    static const int Ms[] = {1, 5, 6, 7, 13, 96, 97, 200};
    static const int Ns[] = {1, 7, 8, 9, 16, 17, 40, 129};
    static const int Ks[] = {1, 3, 255, 256, 257, 600};
    for (size_t m = 0; m < sizeof Ms / sizeof *Ms; m++)
        for (size_t n = 0; n < sizeof Ns / sizeof *Ns; n++)
            for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++) {
                int variant = (int)(m + n + k) % 4;
                gemm_case c = {Ms[m], Ns[n], Ks[k], variant == 3 ? 5 : 0, variant == 1,
                               variant == 2};
                check_product(&c);
            }
}

/* The fused activation is the AVX2 activation applied to the same sum: the same bits as
 * activation_forward run over the plain product afterwards. */
static void test_epilogue_equals_separate_pass(void **state)
{
    (void)state;
    if (!have_avx2())
        skip();
    int M = 37, N = 45, K = 300;
    float *A = random_floats((size_t)M * K), *W = random_floats((size_t)N * K);
    float *bias = random_floats((size_t)N), *P = packed_copy(W, N, K);
    float *plain = malloc((size_t)M * N * sizeof *plain);
    float *fused = malloc((size_t)M * N * sizeof *fused);
    static const activation_kind kinds[] = {ACTIVATION_GELU, ACTIVATION_GELU_TANH,
                                            ACTIVATION_RELU};
    for (int a = 0; a < 3; a++) {
        gemm_packed(plain, N, A, K, P, M, N, K, bias, GEMM_EPILOGUE_NONE, false);
        activation_forward_using(KERNEL_PATH_AVX2, kinds[a], plain, plain, (size_t)M * N);
        gemm_packed(fused, N, A, K, P, M, N, K, bias, gemm_epilogue_for(kinds[a]), false);
        assert_memory_equal(plain, fused, (size_t)M * N * sizeof *plain);
    }
    free(A), free(W), free(bias), free(P), free(plain), free(fused);
}

/* Tiles are taken dynamically by threads, but each entry's sum has one order. */
static void test_same_bits_on_any_thread_count(void **state)
{
    (void)state;
    if (!have_avx2())
        skip();
    int M = 450, N = 1152, K = 384;
    float *A = random_floats((size_t)M * K), *W = random_floats((size_t)N * K);
    float *bias = random_floats((size_t)N), *P = packed_copy(W, N, K);
    float *one = malloc((size_t)M * N * sizeof *one), *two = malloc((size_t)M * N * sizeof *two);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    gemm_packed(one, N, A, K, P, M, N, K, bias, GEMM_EPILOGUE_GELU, false);
    omp_set_num_threads(2);
    gemm_packed(two, N, A, K, P, M, N, K, bias, GEMM_EPILOGUE_GELU, false);
    omp_set_num_threads(saved);
    assert_memory_equal(one, two, (size_t)M * N * sizeof *one);
    free(A), free(W), free(bias), free(P), free(one), free(two);
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
    semb_encode_options o = {.batch_size = 2};
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
        cmocka_unit_test(test_product_matches_double),
        cmocka_unit_test(test_epilogue_equals_separate_pass),
        cmocka_unit_test(test_same_bits_on_any_thread_count),
    };
    int failed = cmocka_run_group_tests(kernel_tests, NULL, NULL);
    if (test_require_shared("test_gemm_packed") != 0)
        return failed ? failed : TEST_SKIPPED;
    const struct CMUnitTest model_tests[] = {
        cmocka_unit_test(test_encoder_repacks_after_change),
    };
    return failed + cmocka_run_group_tests(model_tests, NULL, NULL);
}
