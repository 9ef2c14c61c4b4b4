/* AdamW and gradient clipping against hand-computed steps and a plain double
 * implementation; the learning-rate schedules against Hugging Face's trace in
 * shared/fixtures/bert-tiny-mean/ref.train10.json. */
#include "support.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "train/adamw.h"
#include "train/lr_schedule.h"

static param_tensor tensor(const char *name, size_t offset, size_t numel, bool weight_decay)
{
    param_tensor t = {.ndim = 1, .shape = {(int64_t)numel}, .offset = offset, .numel = numel,
                      .weight_decay = weight_decay, .trainable = true};
    snprintf(t.name, sizeof t.name, "%s", name);
    return t;
}

static void assert_close(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.10g, want %.10g", what, got, want);
}

/* ---- AdamW ---- */

static void test_first_step_by_hand(void **state)
{
    /* Step 1 with zero moments: m = 0.1 g, v = 0.001 g²; the bias corrections are exactly
     * 0.1 and 0.001, so the update is lr · g / (|g| + eps). With lr 0.1, wd 0.01:
     *   p = 1,  g = 0.5, decayed:   0.999 - 0.1 · 0.5 / (0.5 + 1e-8) = 0.899000002
     *   p = 1,  g = 0.5, no decay:  1 - 0.0999999980                 = 0.900000002
     *   p = -3, g = -2,  decayed:  -2.997 + 0.1 · 2 / (2 + 1e-8)     = -2.8970000005
     *   p = 2,  g = 0,   decayed:   2 · 0.999 (m = v = 0: no Adam update) = 1.998 */
    float params[] = {1, 1, -3, 2};
    const float grads[] = {0.5f, 0.5f, -2, 0};
    param_tensor tensors[] = {tensor("weight", 0, 1, true), tensor("bias", 1, 1, false),
                              tensor("other.weight", 2, 2, true)};
    adamw_config cfg = adamw_config_default();
    adamw_state st;
    semb_error err = {0};
    assert_int_equal(adamw_state_create(4, &st, &err), SEMB_OK);
    assert_int_equal(adamw_step(&cfg, &st, 0.1, params, grads, tensors, 3, &err), SEMB_OK);
    assert_int_equal(st.step, 1);
    assert_close(params[0], 0.899000002, 1e-6, "decayed");
    assert_close(params[1], 0.900000002, 1e-6, "not decayed");
    assert_close(params[2], -2.8970000005, 1e-6, "negative gradient");
    assert_close(params[3], 1.998, 1e-6, "zero gradient");
    assert_close(st.exp_avg[0], 0.05, 1e-8, "first moment");
    assert_close(st.exp_avg_sq[2], 0.004, 1e-9, "second moment");
    adamw_state_free(&st);
}

/* The algorithm as torch documents it, in double, over the elements some tensor covers. */
typedef struct reference_adamw {
    double *p, *m, *v;
} reference_adamw;

static void reference_step(reference_adamw *r, const float *g, const bool *covered,
                           const bool *decay, size_t n, const adamw_config *cfg, double lr,
                           long t)
{
    for (size_t i = 0; i < n; i++) {
        if (!covered[i])
            continue;
        if (decay[i])
            r->p[i] -= lr * cfg->weight_decay * r->p[i];
        r->m[i] = cfg->beta1 * r->m[i] + (1 - cfg->beta1) * g[i];
        r->v[i] = cfg->beta2 * r->v[i] + (1 - cfg->beta2) * (double)g[i] * g[i];
        double m_hat = r->m[i] / (1 - pow(cfg->beta1, t));
        double v_hat = r->v[i] / (1 - pow(cfg->beta2, t));
        r->p[i] -= lr * m_hat / (sqrt(v_hat) + cfg->eps);
    }
}

static void test_three_steps_match_double_reference(void **state)
{
    /* A 1001-float arena: three tensors, decayed or not; a gap of 5 floats that belong to
     * no tensor; and a pooler-like tensor that is not trainable. The last two must not move
     * although their gradients are not zero. */
    enum { N = 1001, N_TENSORS = 4 };
    param_tensor tensors[N_TENSORS] = {
        tensor("a.weight", 0, 600, true), tensor("a.bias", 600, 96, false),
        tensor("b.weight", 701, 250, true), tensor("pooler.dense.weight", 951, 50, true)};
    tensors[3].trainable = false;
    bool decay[N] = {0}, covered[N] = {0};
    for (int t = 0; t < N_TENSORS; t++)
        for (size_t i = tensors[t].offset; i < tensors[t].offset + tensors[t].numel; i++) {
            decay[i] = tensors[t].weight_decay;
            covered[i] = tensors[t].trainable;
        }
    float *params = malloc(sizeof(float) * N), *grads = malloc(sizeof(float) * N);
    reference_adamw ref = {calloc(N, sizeof(double)), calloc(N, sizeof(double)),
                           calloc(N, sizeof(double))};
    rng_state rng;
    rng_seed(&rng, 7);
    for (int i = 0; i < N; i++)
        ref.p[i] = params[i] = rng_normal(&rng);
    adamw_config cfg = {.beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.05};
    adamw_state st;
    semb_error err = {0};
    assert_int_equal(adamw_state_create(N, &st, &err), SEMB_OK);
    const double lrs[] = {1e-3, 3e-2, 2e-4};
    for (int step = 0; step < 3; step++) {
        for (int i = 0; i < N; i++)
            grads[i] = (i % 97 == 0) ? 0.0f : 0.1f * rng_normal(&rng);
        assert_int_equal(
            adamw_step(&cfg, &st, lrs[step], params, grads, tensors, N_TENSORS, &err), SEMB_OK);
        reference_step(&ref, grads, covered, decay, N, &cfg, lrs[step], step + 1);
    }
    for (int i = 0; i < N; i++) {
        char what[64];
        snprintf(what, sizeof what, "parameter %d", i);
        if (!covered[i]) {
            assert_true(params[i] == (float)ref.p[i]);
            assert_true(st.exp_avg[i] == 0.0f && st.exp_avg_sq[i] == 0.0f);
            continue;
        }
        assert_close(params[i], ref.p[i], 1e-6 * (1 + fabs(ref.p[i])), what);
        assert_close(st.exp_avg[i], ref.m[i], 1e-7, what);
        assert_close(st.exp_avg_sq[i], ref.v[i], 1e-9, what);
    }
    adamw_state_free(&st);
    free(params);
    free(grads);
    free(ref.p);
    free(ref.m);
    free(ref.v);
}

static void test_adamw_bad_arguments(void **state)
{
    float p[4] = {0}, g[4] = {0};
    param_tensor past_end = tensor("too.long", 2, 3, true);
    adamw_config cfg = adamw_config_default();
    adamw_state st;
    semb_error err = {0};
    assert_int_equal(adamw_state_create(4, &st, &err), SEMB_OK);
    assert_int_equal(adamw_step(&cfg, &st, 1e-3, p, g, &past_end, 1, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "too.long"));
    assert_int_equal(adamw_step(&cfg, &st, -1.0, p, g, &past_end, 0, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(adamw_step(&cfg, &st, NAN, p, g, &past_end, 0, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(st.step, 0); /* failed calls take no step */
    adamw_state_free(&st);
}

/* Random arenas for the path tests: two tensors, one decayed; moments as after some steps. */
enum { PATH_N = 100003 };

typedef struct path_arena {
    float p[PATH_N], g[PATH_N];
    adamw_state st;
} path_arena;

static path_arena *path_arena_new(uint64_t seed)
{
    path_arena *a = malloc(sizeof *a);
    assert_non_null(a);
    semb_error err = {0};
    assert_int_equal(adamw_state_create(PATH_N, &a->st, &err), SEMB_OK);
    rng_state rng;
    rng_seed(&rng, seed);
    for (int i = 0; i < PATH_N; i++) {
        a->p[i] = rng_normal(&rng);
        a->g[i] = rng_normal(&rng) * 1e-2f;
        a->st.exp_avg[i] = rng_normal(&rng) * 1e-3f;
        a->st.exp_avg_sq[i] = fabsf(rng_normal(&rng)) * 1e-5f;
    }
    a->st.step = 7;
    return a;
}

static void path_arena_free(path_arena *a)
{
    adamw_state_free(&a->st);
    free(a);
}

/* The AVX2 update is the scalar one lane by lane: the same bits, with weight decay or without,
 * a scaled gradient, both branches of lerp (beta1 0.9 and 0.3) and a tail of 3 floats. */
static void test_avx2_path_gives_generic_bits(void **state)
{
    if (!kernel_path_supported(KERNEL_PATH_AVX2)) {
        fprintf(stderr, "SKIPPED test_avx2_path_gives_generic_bits: no AVX2 on this CPU\n");
        skip();
    }
    param_tensor tensors[] = {tensor("a", 0, 50000, true), tensor("b", 50000, PATH_N - 50000, false)};
    static const double beta1s[] = {0.9, 0.3};
    static const float scales[] = {1.0f, 0.37f};
    semb_error err = {0};
    for (int b = 0; b < 2; b++)
        for (int c = 0; c < 2; c++) {
            path_arena *x = path_arena_new(11), *y = path_arena_new(11);
            adamw_config cfg = adamw_config_default();
            cfg.beta1 = beta1s[b];
            cfg.grad_scale = scales[c];
            for (int step = 0; step < 3; step++) {
                assert_int_equal(adamw_step_using(KERNEL_PATH_GENERIC, &cfg, &x->st, 1e-3 * (step + 1),
                                                  x->p, x->g, tensors, 2, &err), SEMB_OK);
                assert_int_equal(adamw_step_using(KERNEL_PATH_AVX2, &cfg, &y->st, 1e-3 * (step + 1),
                                                  y->p, y->g, tensors, 2, &err), SEMB_OK);
            }
            assert_memory_equal(x->p, y->p, sizeof x->p);
            assert_memory_equal(x->st.exp_avg, y->st.exp_avg, PATH_N * sizeof(float));
            assert_memory_equal(x->st.exp_avg_sq, y->st.exp_avg_sq, PATH_N * sizeof(float));
            path_arena_free(x);
            path_arena_free(y);
        }
}

/* Clipping folded into the step (grad_scale = the clipping factor) is clipping in place and
 * then stepping, bit for bit. */
static void test_grad_scale_equals_clipping_first(void **state)
{
    param_tensor tensors[] = {tensor("a", 0, 50000, true), tensor("b", 50000, PATH_N - 50000, false)};
    path_arena *x = path_arena_new(5), *y = path_arena_new(5);
    semb_error err = {0};
    double norm;
    assert_int_equal(grad_clip_norm(x->g, PATH_N, 0.5, &norm, &err), SEMB_OK);
    assert_true(norm > 0.5); /* the factor is below 1: clipping happens */
    adamw_config cfg = adamw_config_default();
    assert_int_equal(adamw_step(&cfg, &x->st, 1e-3, x->p, x->g, tensors, 2, &err), SEMB_OK);
    assert_true(grad_norm(y->g, PATH_N) == norm);
    cfg.grad_scale = grad_norm_clip_coefficient(0.5, norm);
    assert_true(cfg.grad_scale < 1.0f);
    assert_int_equal(adamw_step(&cfg, &y->st, 1e-3, y->p, y->g, tensors, 2, &err), SEMB_OK);
    assert_memory_equal(x->p, y->p, sizeof x->p);
    assert_memory_equal(x->st.exp_avg_sq, y->st.exp_avg_sq, PATH_N * sizeof(float));
    assert_true(grad_norm_clip_coefficient(10.0, norm) == 1.0f);
    assert_true(grad_norm_clip_coefficient(1.0, NAN) == 1.0f);
    path_arena_free(x);
    path_arena_free(y);
}

/* ---- gradient clipping ---- */

static void test_clip_below_threshold_leaves_grads(void **state)
{
    float g[] = {0.3f, -0.4f}; /* norm 0.5 */
    double norm;
    semb_error err = {0};
    assert_int_equal(grad_clip_norm(g, 2, 1.0, &norm, &err), SEMB_OK);
    assert_close(norm, 0.5, 1e-7, "norm");
    assert_true(g[0] == 0.3f && g[1] == -0.4f);
}

static void test_clip_above_threshold_scales(void **state)
{
    float g[] = {3, 4}; /* norm 5: scaled by 1 / (5 + 1e-6) */
    double norm;
    semb_error err = {0};
    assert_int_equal(grad_clip_norm(g, 2, 1.0, &norm, &err), SEMB_OK);
    assert_close(norm, 5.0, 1e-12, "norm");
    assert_close(g[0], 3.0 / (5.0 + 1e-6), 1e-7, "g0");
    assert_close(g[1], 4.0 / (5.0 + 1e-6), 1e-7, "g1");

    /* Many slices, a length no slice count divides: the norm is the plain double sum's. */
    enum { N = 1000003 };
    float *big = malloc(sizeof(float) * N);
    rng_state rng;
    rng_seed(&rng, 3);
    double sum = 0.0;
    for (int i = 0; i < N; i++) {
        big[i] = rng_normal(&rng);
        sum += (double)big[i] * big[i];
    }
    assert_int_equal(grad_clip_norm(big, N, 2.0, &norm, &err), SEMB_OK);
    assert_close(norm, sqrt(sum), 1e-9 * sqrt(sum), "big norm");
    double after = 0.0;
    for (int i = 0; i < N; i++)
        after += (double)big[i] * big[i];
    assert_close(sqrt(after), 2.0, 1e-5, "clipped norm");
    free(big);
}

static void test_clip_non_finite_and_bad_max(void **state)
{
    float g[] = {1, NAN, 2};
    double norm;
    semb_error err = {0};
    assert_int_equal(grad_clip_norm(g, 3, 1.0, &norm, &err), SEMB_OK);
    assert_true(isnan(norm));
    assert_true(g[0] == 1.0f && g[2] == 2.0f);
    assert_int_equal(grad_clip_norm(g, 3, 0.0, &norm, &err), SEMB_ERR_INVALID_ARG);
    assert_int_equal(grad_clip_norm(g, 3, INFINITY, &norm, &err), SEMB_ERR_INVALID_ARG);
}

/* ---- learning-rate schedules ---- */

static void test_schedule_matches_training_trace(void **state)
{
    if (!test_shared_dir()) {
        fprintf(stderr, "SKIPPED test_schedule_matches_training_trace: shared/ not found\n");
        skip();
    }
    char *text = test_read_file(test_shared_path("fixtures/bert-tiny-mean/ref.train10.json"), NULL);
    json_error_t jerr;
    json_t *root = json_loads(text, 0, &jerr);
    if (!root)
        fail_msg("ref.train10.json: %s", jerr.text);
    double base = json_real_value(json_object_get(root, "lr"));
    long warmup = (long)json_integer_value(json_object_get(root, "warmup_steps"));
    long total = (long)json_integer_value(json_object_get(root, "steps"));
    json_t *lrs = json_object_get(root, "lrs_used");
    assert_true(base == 2e-4 && warmup == 3 && total == 10);
    assert_int_equal(json_array_size(lrs), 10);
    lr_schedule schedule;
    semb_error err = {0};
    assert_int_equal(lr_schedule_create("linear", warmup, total, &schedule, &err), SEMB_OK);
    for (long s = 0; s < total; s++) {
        char what[32];
        snprintf(what, sizeof what, "lr at step %ld", s);
        assert_close(lr_schedule_lr(&schedule, base, s),
                     json_number_value(json_array_get(lrs, (size_t)s)), 1e-12, what);
    }
    json_decref(root);
    free(text);
}

static double factor(const char *name, long warmup, long total, long step)
{
    lr_schedule schedule;
    semb_error err = {0};
    if (lr_schedule_create(name, warmup, total, &schedule, &err) != SEMB_OK)
        fail_msg("%s", err.message);
    return lr_schedule_factor(&schedule, step);
}

static void test_schedule_shapes(void **state)
{
    /* warmup 4: 0, 1/4, 2/4, 3/4, then each schedule's own shape over steps 4..12 */
    for (long s = 0; s < 4; s++) {
        assert_close(factor("linear", 4, 12, s), s / 4.0, 0, "linear warmup");
        assert_close(factor("constant", 4, 12, s), s / 4.0, 0, "constant warmup");
        assert_close(factor("cosine", 4, 12, s), s / 4.0, 0, "cosine warmup");
    }
    assert_close(factor("linear", 4, 12, 4), 1.0, 0, "linear peak");
    assert_close(factor("linear", 4, 12, 10), 2.0 / 8, 1e-15, "linear decay");
    assert_close(factor("linear", 4, 12, 13), 0.0, 0, "linear past the end");
    assert_close(factor("constant", 4, 12, 100), 1.0, 0, "constant");
    assert_close(factor("cosine", 4, 12, 4), 1.0, 1e-15, "cosine peak");
    assert_close(factor("cosine", 4, 12, 8), 0.5, 1e-15, "cosine half way");
    assert_close(factor("cosine", 4, 12, 6), 0.5 * (1 + cos(M_PI / 4)), 1e-15, "cosine quarter");
    assert_close(factor("cosine", 4, 12, 12), 0.0, 1e-15, "cosine end");
    /* past the end, half a cycle continues upward; Hugging Face only clamps at 0 */
    assert_close(factor("cosine", 4, 12, 14), 0.5 * (1 + cos(M_PI * 10 / 8)), 1e-15,
                 "cosine past the end");
}

static void test_schedule_zero_warmup_and_errors(void **state)
{
    /* no warmup: no division by zero, the schedule starts at its peak */
    assert_close(factor("linear", 0, 10, 0), 1.0, 0, "linear, no warmup");
    assert_close(factor("linear", 0, 10, 5), 0.5, 0, "linear, no warmup");
    assert_close(factor("cosine", 0, 10, 0), 1.0, 0, "cosine, no warmup");
    assert_close(factor("constant", 0, 0, 0), 1.0, 0, "constant, no warmup");
    /* warmup as long as training: the decay divisor is clamped to 1 */
    assert_close(factor("linear", 5, 5, 5), 0.0, 0, "linear, all warmup");
    lr_schedule schedule;
    semb_error err = {0};
    assert_int_equal(lr_schedule_create("polynomial", 0, 10, &schedule, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "polynomial"));
    assert_int_equal(lr_schedule_create(NULL, 0, 10, &schedule, &err), SEMB_ERR_INVALID_ARG);
    assert_int_equal(lr_schedule_create("linear", -1, 10, &schedule, &err),
                     SEMB_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_step_by_hand),
        cmocka_unit_test(test_three_steps_match_double_reference),
        cmocka_unit_test(test_adamw_bad_arguments),
        cmocka_unit_test(test_avx2_path_gives_generic_bits),
        cmocka_unit_test(test_grad_scale_equals_clipping_first),
        cmocka_unit_test(test_clip_below_threshold_leaves_grads),
        cmocka_unit_test(test_clip_above_threshold_scales),
        cmocka_unit_test(test_clip_non_finite_and_bad_max),
        cmocka_unit_test(test_schedule_matches_training_trace),
        cmocka_unit_test(test_schedule_shapes),
        cmocka_unit_test(test_schedule_zero_warmup_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
