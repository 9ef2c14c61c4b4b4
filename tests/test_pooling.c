/* Pooling modes and normalisation on hand-computed cases, and both config formats. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/pooling.h"

/* Two packed sequences of 2-dim token states: lengths 3 and 1. */
static const float hidden[] = {1, 2, /**/ 3, -4, /**/ 5, 0, /**/ -1, 7};
static const int cu[] = {0, 3, 4};

static void pool(unsigned modes, float *out)
{
    pooling_config cfg = {.modes = modes, .token_dim = 2, .include_prompt = true};
    pooling_forward(&cfg, hidden, cu, 2, out);
}

static void assert_floats(const float *got, const float *want, int n)
{
    for (int i = 0; i < n; i++)
        if (fabsf(got[i] - want[i]) > 1e-6f)
            fail_msg("element %d: got %.7g, want %.7g", i, got[i], want[i]);
}

static void test_each_mode(void **state)
{
    float out[8];
    pool(POOLING_MEAN, out);
    assert_floats(out, (float[]){3, -2.0f / 3, -1, 7}, 4);
    pool(POOLING_CLS, out);
    assert_floats(out, (float[]){1, 2, -1, 7}, 4);
    pool(POOLING_MAX, out);
    assert_floats(out, (float[]){5, 2, -1, 7}, 4);
    pool(POOLING_LAST_TOKEN, out);
    assert_floats(out, (float[]){5, 0, -1, 7}, 4);
    /* mean_sqrt_len: sum / sqrt(len) */
    pool(POOLING_MEAN_SQRT_LEN, out);
    assert_floats(out, (float[]){9 / sqrtf(3), -2 / sqrtf(3), -1, 7}, 4);
    /* weightedmean: weights 1, 2, 3 -> (1 + 6 + 15) / 6, (2 - 8 + 0) / 6 */
    pool(POOLING_WEIGHTED_MEAN, out);
    assert_floats(out, (float[]){22.0f / 6, -1, -1, 7}, 4);
}

static void test_modes_concatenate_in_sentence_transformers_order(void **state)
{
    float out[8];
    pool(POOLING_MEAN | POOLING_CLS, out); /* cls first, then mean */
    assert_floats(out, (float[]){1, 2, 3, -2.0f / 3, -1, 7, -1, 7}, 8);
    pooling_config cfg = {.modes = POOLING_MEAN | POOLING_CLS | POOLING_MAX, .token_dim = 5};
    assert_int_equal(pooling_output_dim(&cfg), 15);
}

static void test_normalize(void **state)
{
    float x[] = {3, 4, 0, 0, 1e-20f, 0};
    normalize_forward(x, 3, 2);
    assert_floats(x, (float[]){0.6f, 0.8f, 0, 0}, 4);
    /* torch's F.normalize divides by max(norm, 1e-12): tiny vectors shrink, not blow up */
    assert_true(fabsf(x[4] - 1e-8f) < 1e-12f);
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void test_config_formats(void **state)
{
    char *dir = test_make_temp_dir();
    char path[4200];
    snprintf(path, sizeof path, "%s/config.json", dir);
    pooling_config cfg;
    semb_error err = {0};

    write_file(path, "{\"word_embedding_dimension\": 384, \"pooling_mode_cls_token\": false,"
                     " \"pooling_mode_mean_tokens\": true, \"pooling_mode_max_tokens\": false,"
                     " \"pooling_mode_mean_sqrt_len_tokens\": false}");
    assert_int_equal(pooling_config_load(path, &cfg, &err), SEMB_OK);
    assert_int_equal(cfg.modes, POOLING_MEAN);
    assert_int_equal(cfg.token_dim, 384);

    write_file(path, "{\"embedding_dimension\": 32, \"pooling_mode\": \"lasttoken\", \"include_prompt\": false}");
    assert_int_equal(pooling_config_load(path, &cfg, &err), SEMB_OK);
    assert_int_equal(cfg.modes, POOLING_LAST_TOKEN);
    assert_false(cfg.include_prompt);

    write_file(path, "{\"embedding_dimension\": 32, \"pooling_mode\": [\"cls\", \"weightedmean\"]}");
    assert_int_equal(pooling_config_load(path, &cfg, &err), SEMB_OK);
    assert_int_equal(cfg.modes, POOLING_CLS | POOLING_WEIGHTED_MEAN);

    /* Saved and reloaded: the same modes. */
    assert_int_equal(pooling_config_save(&cfg, path, &err), SEMB_OK);
    pooling_config again;
    assert_int_equal(pooling_config_load(path, &again, &err), SEMB_OK);
    assert_int_equal(again.modes, cfg.modes);
    assert_int_equal(again.token_dim, 32);

    write_file(path, "{\"embedding_dimension\": 32}");
    assert_int_equal(pooling_config_load(path, &cfg, &err), SEMB_ERR_FORMAT);
    assert_non_null(strstr(err.message, "no pooling mode"));
    write_file(path, "{\"embedding_dimension\": \"32\", \"pooling_mode\": \"mean\"}");
    assert_int_equal(pooling_config_load(path, &cfg, &err), SEMB_ERR_FORMAT);
    assert_non_null(strstr(err.message, "embedding_dimension"));
    write_file(path, "{\"embedding_dimension\": 32, \"pooling_mode\": 3}");
    assert_int_equal(pooling_config_load(path, &cfg, &err), SEMB_ERR_FORMAT);
    assert_non_null(strstr(err.message, "pooling_mode"));
    test_rmtree(dir);
    free(dir);
}

/* include_prompt false: the first `skip` tokens leave the masked modes; weightedmean keeps
 * each token's position weight; cls and lasttoken are unaffected; nothing left gives zeros. */
static void test_skip_prompt_tokens(void **state)
{
    pooling_config cfg = {.modes = POOLING_MEAN, .token_dim = 2, .include_prompt = false};
    float out[4];
    pooling_forward_skip(&cfg, hidden, cu, 2, 1, out);
    assert_floats(out, (float[]){4, -2, 0, 0}, 4); /* rows 2-3 of the first; none of the second */
    cfg.modes = POOLING_MAX;
    pooling_forward_skip(&cfg, hidden, cu, 2, 2, out);
    assert_floats(out, (float[]){5, 0, 0, 0}, 4);
    cfg.modes = POOLING_WEIGHTED_MEAN; /* (2 * (3, -4) + 3 * (5, 0)) / 5 */
    pooling_forward_skip(&cfg, hidden, cu, 2, 1, out);
    assert_floats(out, (float[]){21.0f / 5, -8.0f / 5, 0, 0}, 4);
    cfg.modes = POOLING_MEAN_SQRT_LEN; /* ((3, -4) + (5, 0)) / sqrt(2) */
    pooling_forward_skip(&cfg, hidden, cu, 2, 1, out);
    assert_floats(out, (float[]){8 / sqrtf(2), -4 / sqrtf(2), 0, 0}, 4);
    cfg.modes = POOLING_CLS;
    pooling_forward_skip(&cfg, hidden, cu, 2, 2, out);
    assert_floats(out, (float[]){1, 2, -1, 7}, 4);
    cfg.modes = POOLING_LAST_TOKEN;
    pooling_forward_skip(&cfg, hidden, cu, 2, 2, out);
    assert_floats(out, (float[]){5, 0, -1, 7}, 4);
    cfg.modes = POOLING_MEAN; /* skip 0 is pooling_forward */
    float plain[4];
    pooling_forward_skip(&cfg, hidden, cu, 2, 0, out);
    pool(POOLING_MEAN, plain);
    assert_floats(out, plain, 4);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_each_mode),
        cmocka_unit_test(test_skip_prompt_tokens),
        cmocka_unit_test(test_modes_concatenate_in_sentence_transformers_order),
        cmocka_unit_test(test_normalize),
        cmocka_unit_test(test_config_formats),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
