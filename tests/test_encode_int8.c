/* semb_encode with SEMB_COMPUTE_INT8 on the fixture models (the kernel itself is held to its
 * scalar reference in test_gemm_int8): embeddings close to float32 ones and not their bits
 * (the int8 path ran), the same bits whatever the batch size and thread count (every row is
 * quantized on its own and the integer sums are exact), weights quantized again after they
 * change, float32 unchanged afterwards, and training refusing int8. */
#include "support.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/sentence_model.h"

static const char *const fixtures[] = {"bert-tiny-mean", "bert-tiny-cls", "bert-tiny-max",
                                       "distilbert-tiny-mean", "mpnet-tiny-mean"};

static const char *const texts[] = {
    "a man is playing a guitar",
    "the cat sleeps on the mat",
    "quarterly revenue rose 4% on strong demand for cloud services",
    "Ein Mann spielt Gitarre.",
    "short",
    "a much longer sentence, with punctuation; numbers like 1,234.5 and words that split into "
    "several word pieces: unbelievably, antidisestablishmentarianism",
    "x",
    "the quick brown fox jumps over the lazy dog",
};
enum { N_TEXTS = sizeof texts / sizeof texts[0] };

static float *encode(semb_model *m, semb_compute_precision precision, int batch)
{
    size_t dim = (size_t)semb_model_dimension(m);
    float *out = malloc(N_TEXTS * dim * sizeof(float));
    semb_encode_options o = semb_encode_options_default();
    o.batch_size = batch;
    o.precision = precision;
    semb_error err = {0};
    if (semb_encode(m, texts, NULL, N_TEXTS, out, &o, &err))
        fail_msg("%s", err.message);
    return out;
}

/* Bound 1 - 1e-5: per-channel 7-bit weights and per-row 8-bit inputs through the two layers
 * of these tiny random models measured 1 - cosine up to 1.6e-7 (printed; 8.5e-5 on a random
 * MiniLM-L6 shape, whose layers are wider); a zero point, scale or layout bug moves the
 * embeddings by far more. */
static void test_int8_close_to_fp32(void **state)
{
    (void)state;
    double worst_all = 1;
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        semb_model *m = test_load_fixture(fixtures[f]);
        size_t dim = (size_t)semb_model_dimension(m), bytes = N_TEXTS * dim * sizeof(float);
        float *e32 = encode(m, SEMB_COMPUTE_FP32, 32), *e8 = encode(m, SEMB_COMPUTE_INT8, 32);
        float *again = encode(m, SEMB_COMPUTE_FP32, 32);
        assert_memory_equal(e32, again, bytes); /* the workspace does not stay in int8 */
        assert_memory_not_equal(e32, e8, bytes);
        double worst = 1;
        for (size_t i = 0; i < N_TEXTS; i++)
            worst = fmin(worst, test_cosine(e32 + i * dim, e8 + i * dim, dim));
        print_message("  %-22s int8 vs fp32: min cosine 1 - %.2e over %d sentences\n",
                      fixtures[f], 1 - worst, N_TEXTS);
        assert_true(worst >= 1 - 1e-5);
        worst_all = fmin(worst_all, worst);
        free(e32), free(e8), free(again);
        semb_model_free(m);
    }
    print_message("  all fixtures: min cosine 1 - %.2e\n", 1 - worst_all);
}

static void test_int8_same_bits_any_batch_or_threads(void **state)
{
    (void)state;
    int saved = omp_get_max_threads();
    for (size_t f = 0; f < sizeof fixtures / sizeof fixtures[0]; f++) {
        semb_model *m = test_load_fixture(fixtures[f]);
        size_t bytes = N_TEXTS * (size_t)semb_model_dimension(m) * sizeof(float);
        omp_set_num_threads(2);
        float *whole = encode(m, SEMB_COMPUTE_INT8, 32), *single = encode(m, SEMB_COMPUTE_INT8, 1);
        omp_set_num_threads(1);
        float *serial = encode(m, SEMB_COMPUTE_INT8, 3);
        assert_memory_equal(whole, single, bytes);
        assert_memory_equal(whole, serial, bytes);
        free(whole), free(single), free(serial);
        semb_model_free(m);
    }
    omp_set_num_threads(saved);
}

/* After the weights change (and encoder_params_changed), int8 encoding gives what a freshly
 * loaded model with those weights gives: the quantized copies follow the parameters. */
static void test_int8_requantizes_after_change(void **state)
{
    (void)state;
    semb_model *m = test_load_fixture("bert-tiny-mean"), *fresh = test_load_fixture("bert-tiny-mean");
    size_t bytes = N_TEXTS * (size_t)semb_model_dimension(m) * sizeof(float);
    float *before = encode(m, SEMB_COMPUTE_INT8, 32);
    for (int l = 0; l < m->config.num_layers; l++) {
        size_t n = 3 * (size_t)m->config.hidden_size * (size_t)m->config.hidden_size;
        for (size_t i = 0; i < n; i++) {
            m->params.layers[l].qkv_weight[i] *= -0.75f;
            fresh->params.layers[l].qkv_weight[i] *= -0.75f;
        }
    }
    encoder_params_changed(&m->params);
    float *after = encode(m, SEMB_COMPUTE_INT8, 32), *expected = encode(fresh, SEMB_COMPUTE_INT8, 32);
    assert_memory_equal(after, expected, bytes);
    assert_memory_not_equal(after, before, bytes);
    free(before), free(after), free(expected);
    semb_model_free(m);
    semb_model_free(fresh);
}

static void test_int8_names_and_training(void **state)
{
    (void)state;
    semb_compute_precision p = SEMB_COMPUTE_FP32;
    semb_error err = {0};
    assert_int_equal(semb_compute_precision_from_name("int8", &p, &err), SEMB_OK);
    assert_int_equal(p, SEMB_COMPUTE_INT8);
    assert_string_equal(semb_compute_precision_name(SEMB_COMPUTE_INT8), "int8");
    assert_int_equal(semb_compute_precision_from_name("int4", &p, &err), SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "fp32, bf16 or int8"));
    /* the library refuses int8 training before it reads anything */
    semb_train_options o = semb_train_options_default();
    o.model_dir = test_shared_path("fixtures/bert-tiny-mean");
    o.data_path = "/nonexistent/pairs.jsonl";
    o.output_dir = "/nonexistent/out";
    o.precision = SEMB_COMPUTE_INT8;
    assert_int_equal(semb_train_run(&o, NULL, &err), SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "int8 is for encoding only"));
}

int main(void)
{
    if (test_require_shared("test_encode_int8") != 0)
        return TEST_SKIPPED;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_int8_close_to_fp32),
        cmocka_unit_test(test_int8_same_bits_any_batch_or_threads),
        cmocka_unit_test(test_int8_requantizes_after_change),
        cmocka_unit_test(test_int8_names_and_training),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
