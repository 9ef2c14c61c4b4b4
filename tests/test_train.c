/* Training against the float64 references of shared/fixtures: first-step MNRL gradients of
 * three architectures, GradCache equal to the full batch, and the 10-step AdamW trace; the
 * log's timing of the data pipeline. */
#include "support.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/files.h"
#include "io/safetensors.h"
#include "model/sentence_model.h"
#include "train/mnrl_loss.h"
#include "train/train_step.h"

static void gradients_in(semb_model *m, const test_triples *t, int mini_batch,
                         semb_compute_precision precision, encoder_params *grads, double *loss)
{
    semb_error err = {0};
    assert_int_equal(encoder_params_create(&m->config, m->params.pooler_weight != NULL, grads, &err), SEMB_OK);
    train_step_config cfg = {.loss = test_cosine20_loss(),
                             .mini_batch_size = mini_batch, .precision = precision};
    train_step_state s = {0};
    text_batch b = {t->n, 1, (const int32_t *const *)t->ids, t->counts};
    if (train_step_gradients(&s, m, &b, &cfg, grads, loss, &err))
        fail_msg("%s", err.message);
    train_step_state_free(&s);
}

static void gradients(semb_model *m, const test_triples *t, int mini_batch, encoder_params *grads,
                      double *loss)
{
    gradients_in(m, t, mini_batch, SEMB_COMPUTE_FP32, grads, loss);
}

static double relative_l2(const float *got, const double *want, size_t n)
{
    double diff = 0, norm = 0;
    for (size_t i = 0; i < n; i++) {
        diff += (got[i] - want[i]) * (got[i] - want[i]);
        norm += want[i] * want[i];
    }
    return norm > 0 ? sqrt(diff / norm) : sqrt(diff);
}

/* Attention key biases have zero gradient in exact arithmetic (a per-query constant added to
 * every score leaves the softmax unchanged), so the reference holds ~1e-17 noise and a relative
 * error is meaningless: those tensors are held to an absolute bound instead. */
static int is_key_bias(const char *name)
{
    return strstr(name, "attention.self.key.bias") || strstr(name, "attention.k_lin.bias") ||
           strstr(name, "attention.attn.k.bias");
}

static double max_abs_diff(const float *got, const double *want, size_t n)
{
    double worst = 0;
    for (size_t i = 0; i < n; i++)
        worst = fmax(worst, fabs(got[i] - want[i]));
    return worst;
}

static void test_first_step_gradients_match_reference(void **state)
{
    static const char *fixtures[] = {"bert-tiny-mean", "distilbert-tiny-mean", "mpnet-tiny-mean"};
    for (int f = 0; f < 3; f++) {
        semb_model *m = test_load_fixture(fixtures[f]);
        test_triples t = test_load_triples(m, fixtures[f]);
        encoder_params grads;
        double loss;
        gradients(m, &t, 0, &grads, &loss);
        char rel[256];
        snprintf(rel, sizeof rel, "fixtures/%s/ref.mnrl_grads.safetensors", fixtures[f]);
        safetensors_file ref;
        semb_error err = {0};
        assert_int_equal(safetensors_open(test_shared_path(rel), &ref, &err), SEMB_OK);
        double ref_loss;
        assert_int_equal(safetensors_to_f64(&ref, safetensors_find(&ref, "loss"), &ref_loss, 1, &err), SEMB_OK);
        printf("  %-22s loss %.9f (reference %.9f)\n", fixtures[f], loss, ref_loss);
        assert_true(fabs(loss - ref_loss) <= 1e-6);
        double worst = 0;
        const char *worst_name = "";
        size_t compared = 0;
        for (size_t i = 0; i < grads.n_tensors; i++) {
            const param_tensor *p = &grads.tensors[i];
            char name[200];
            snprintf(name, sizeof name, "grad.0.model.%s", p->name);
            const safetensors_tensor *rt = safetensors_find(&ref, name);
            if (!p->trainable) {
                assert_null(rt);
                continue;
            }
            if (!rt)
                fail_msg("%s: no reference gradient for %s", fixtures[f], p->name);
            double *want = malloc(p->numel * sizeof *want);
            assert_int_equal(safetensors_to_f64(&ref, rt, want, p->numel, &err), SEMB_OK);
            if (is_key_bias(p->name)) {
                double abs_err = max_abs_diff(grads.arena + p->offset, want, p->numel);
                if (abs_err > 1e-6)
                    fail_msg("%s: %s (zero in exact arithmetic) off by %.3e", fixtures[f],
                             p->name, abs_err);
                free(want);
                compared++;
                continue;
            }
            double rel_err = relative_l2(grads.arena + p->offset, want, p->numel);
            if (rel_err > worst) {
                worst = rel_err;
                worst_name = p->name;
            }
            if (rel_err > 1e-4)
                fail_msg("%s: %s relative L2 error %.3e", fixtures[f], p->name, rel_err);
            compared++;
            free(want);
        }
        printf("  %-22s %zu gradient tensors, worst relative L2 error %.2e (%s)\n", fixtures[f],
               compared, worst, worst_name);
        safetensors_close(&ref);
        encoder_params_free(&grads);
        test_free_triples(&t);
        semb_model_free(m);
    }
}

/* `semb train --dump-gradients` on the 12 reference triples (one step of batch 12, dropout
 * off, file order) writes the reference gradients under their Hugging Face names. */
static void test_dumped_gradients_match_reference(void **state)
{
    static const char *fixtures[] = {"bert-tiny-mean", "distilbert-tiny-mean", "mpnet-tiny-mean"};
    char *tmp = test_make_temp_dir();
    for (int f = 0; f < 3; f++) {
        char rel[256];
        snprintf(rel, sizeof rel, "fixtures/%s/ref.mnrl.json", fixtures[f]);
        json_t *root = json_load_file(test_shared_path(rel), 0, NULL);
        assert_non_null(root);
        char *data = path_join(tmp, "triples.jsonl"), *dump = path_join(tmp, "grads.safetensors");
        char *out = path_join(tmp, fixtures[f]);
        FILE *fp = fopen(data, "w");
        size_t i;
        json_t *triple;
        json_array_foreach(json_object_get(root, "triples"), i, triple) {
            json_t *obj = json_pack("{s:O, s:O, s:O}", "anchor", json_array_get(triple, 0),
                                    "positive", json_array_get(triple, 1), "negative",
                                    json_array_get(triple, 2));
            char *line = json_dumps(obj, JSON_COMPACT);
            fprintf(fp, "%s\n", line);
            free(line);
            json_decref(obj);
        }
        fclose(fp);
        json_decref(root);

        semb_train_options o = semb_train_options_default();
        snprintf(rel, sizeof rel, "fixtures/%s", fixtures[f]);
        o.model_dir = test_shared_path(rel);
        o.data_path = data;
        o.output_dir = out;
        o.batch_size = 12;
        o.steps = 1;
        o.dropout = 0;
        o.shuffle = 0;
        o.dump_gradients_path = dump;
        semb_error err = {0};
        if (semb_train_run(&o, NULL, &err))
            fail_msg("%s", err.message);

        safetensors_file got, ref;
        snprintf(rel, sizeof rel, "fixtures/%s/ref.mnrl_grads.safetensors", fixtures[f]);
        assert_int_equal(safetensors_open(dump, &got, &err), SEMB_OK);
        assert_int_equal(safetensors_open(test_shared_path(rel), &ref, &err), SEMB_OK);
        double loss, ref_loss;
        assert_int_equal(safetensors_to_f64(&got, safetensors_find(&got, "loss"), &loss, 1, &err), SEMB_OK);
        assert_int_equal(safetensors_to_f64(&ref, safetensors_find(&ref, "loss"), &ref_loss, 1, &err), SEMB_OK);
        assert_true(fabs(loss - ref_loss) <= 1e-6);
        size_t compared = 0;
        double worst = 0;
        for (size_t k = 0; k < ref.n_tensors; k++) {
            const char *name = ref.tensors[k].name;
            if (strncmp(name, "grad.0.model.", 13) != 0)
                continue;
            const safetensors_tensor *gt = safetensors_find(&got, name + 13);
            if (!gt)
                fail_msg("%s: dump lacks %s", fixtures[f], name + 13);
            size_t n = safetensors_numel(&ref.tensors[k]);
            assert_int_equal(safetensors_numel(gt), n);
            double *want = malloc(n * sizeof *want), *have = malloc(n * sizeof *have);
            float *have32 = malloc(n * sizeof *have32);
            assert_int_equal(safetensors_to_f64(&ref, &ref.tensors[k], want, n, &err), SEMB_OK);
            assert_int_equal(safetensors_to_f64(&got, gt, have, n, &err), SEMB_OK);
            for (size_t e = 0; e < n; e++)
                have32[e] = (float)have[e];
            if (is_key_bias(name)) {
                if (max_abs_diff(have32, want, n) > 1e-6)
                    fail_msg("%s: %s off by %.3e", fixtures[f], name, max_abs_diff(have32, want, n));
            } else {
                double rel_err = relative_l2(have32, want, n);
                worst = fmax(worst, rel_err);
                if (rel_err > 1e-4)
                    fail_msg("%s: %s relative L2 error %.3e", fixtures[f], name, rel_err);
            }
            compared++;
            free(want);
            free(have);
            free(have32);
        }
        printf("  %-22s dump: loss %.9f, %zu tensors, worst relative L2 error %.2e\n", fixtures[f],
               loss, compared, worst);
        assert_true(compared >= 30);
        safetensors_close(&got);
        safetensors_close(&ref);
        free(data);
        free(dump);
        free(out);
    }
    test_rmtree(tmp);
    free(tmp);
}

/* GradCache in chunks of 1, 5 and 7 texts gives the full-batch gradient. */
static void test_gradcache_equals_full_batch(void **state)
{
    semb_model *m = test_load_fixture("mpnet-tiny-mean");
    test_triples t = test_load_triples(m, "mpnet-tiny-mean");
    encoder_params full;
    double full_loss;
    gradients(m, &t, 0, &full, &full_loss);
    static const int chunks[] = {1, 5, 7};
    for (int c = 0; c < 3; c++) {
        encoder_params cached;
        double loss;
        gradients(m, &t, chunks[c], &cached, &loss);
        double diff = 0, norm = 0;
        for (size_t i = 0; i < full.arena_floats; i++) {
            diff += ((double)cached.arena[i] - full.arena[i]) * ((double)cached.arena[i] - full.arena[i]);
            norm += (double)full.arena[i] * full.arena[i];
        }
        printf("  mini-batch %d: loss diff %.2e, gradient relative L2 diff %.2e\n", chunks[c],
               fabs(loss - full_loss), sqrt(diff / norm));
        assert_true(fabs(loss - full_loss) < 1e-6);
        assert_true(sqrt(diff / norm) < 1e-6);
        encoder_params_free(&cached);
    }
    encoder_params_free(&full);
    test_free_triples(&t);
    semb_model_free(m);
}

/* Writes the train10 batches as a JSONL file in file order. */
static char *write_train10_data(const char *dir)
{
    json_t *root = json_load_file(test_shared_path("fixtures/bert-tiny-mean/ref.train10.json"), 0, NULL);
    assert_non_null(root);
    char *path = path_join(dir, "train10.jsonl");
    FILE *f = fopen(path, "w");
    json_t *batches = json_object_get(root, "batches");
    size_t i, j;
    json_t *batch, *triple;
    json_array_foreach(batches, i, batch) json_array_foreach(batch, j, triple) {
        json_t *obj = json_pack("{s:O, s:O, s:O}", "anchor", json_array_get(triple, 0), "positive",
                                json_array_get(triple, 1), "negative", json_array_get(triple, 2));
        char *line = json_dumps(obj, JSON_COMPACT | JSON_ENSURE_ASCII);
        fprintf(f, "%s\n", line);
        free(line);
        json_decref(obj);
    }
    fclose(f);
    json_decref(root);
    return path;
}

static void run_train10(const char *data, const char *out, const char *log, int mini_batch,
                        semb_compute_precision precision)
{
    semb_train_options o = semb_train_options_default();
    o.model_dir = test_shared_path("fixtures/bert-tiny-mean");
    o.data_path = data;
    o.output_dir = out;
    o.batch_size = 4;
    o.steps = 10;
    o.lr = 2e-4;
    o.warmup_steps = 3;
    o.scheduler = "linear";
    o.weight_decay = 0.01;
    o.max_grad_norm = 1.0;
    o.dropout = 0;
    o.shuffle = 0;
    o.mini_batch_size = mini_batch;
    o.log_path = log;
    o.precision = precision;
    semb_error err = {0};
    if (semb_train_run(&o, NULL, &err))
        fail_msg("%s", err.message);
}

static void test_train10_trace(void **state)
{
    char *tmp = test_make_temp_dir();
    char *data = write_train10_data(tmp);
    char *out = path_join(tmp, "out"), *log = path_join(tmp, "log.jsonl");
    run_train10(data, out, log, 0, SEMB_COMPUTE_FP32);

    /* every step's loss within 1e-5 */
    json_t *ref = json_load_file(test_shared_path("fixtures/bert-tiny-mean/ref.train10.json"), 0, NULL);
    json_t *losses = json_object_get(ref, "losses");
    FILE *f = fopen(log, "r");
    char line[512];
    for (size_t step = 0; step < 10; step++) {
        assert_non_null(fgets(line, sizeof line, f));
        json_t *entry = json_loads(line, 0, NULL);
        double got = json_number_value(json_object_get(entry, "loss"));
        double want = json_number_value(json_array_get(losses, step));
        printf("  step %zu: loss %.8f reference %.8f\n", step, got, want);
        assert_true(fabs(got - want) <= 1e-5);
        json_decref(entry);
    }
    fclose(f);
    json_decref(ref);

    /* final parameters: relative L2 of (final - init) within 1e-3, 99.9% of elements within
     * 1e-5, key biases (zero true gradient) within 2.5e-3 absolute */
    semb_model *trained = NULL;
    semb_error err = {0};
    assert_int_equal(semb_model_load(out, &trained, &err), SEMB_OK);
    safetensors_file r;
    assert_int_equal(safetensors_open(test_shared_path("fixtures/bert-tiny-mean/ref.train10.safetensors"), &r, &err), SEMB_OK);
    for (size_t i = 0; i < trained->params.n_tensors; i++) {
        const param_tensor *p = &trained->params.tensors[i];
        char init_name[200], final_name[200];
        snprintf(init_name, sizeof init_name, "init.0.model.%s", p->name);
        snprintf(final_name, sizeof final_name, "final.0.model.%s", p->name);
        double *init = malloc(p->numel * sizeof *init), *final = malloc(p->numel * sizeof *final);
        assert_int_equal(safetensors_to_f64(&r, safetensors_find(&r, init_name), init, p->numel, &err), SEMB_OK);
        assert_int_equal(safetensors_to_f64(&r, safetensors_find(&r, final_name), final, p->numel, &err), SEMB_OK);
        const float *got = trained->params.arena + p->offset;
        double diff = 0, update = 0, worst = 0;
        size_t close = 0;
        for (size_t k = 0; k < p->numel; k++) {
            double d = (double)got[k] - final[k];
            diff += d * d;
            update += (final[k] - init[k]) * (final[k] - init[k]);
            worst = fmax(worst, fabs(d));
            close += fabs(d) <= 1e-5;
        }
        bool key_bias = is_key_bias(p->name);
        double rel = update > 0 ? sqrt(diff / update) : sqrt(diff);
        if (key_bias) {
            if (worst > 2.5e-3)
                fail_msg("%s: max |diff| %.2e", p->name, worst);
        } else if (rel > 1e-3 || (double)close < 0.999 * (double)p->numel) {
            fail_msg("%s: relative update error %.2e, %zu/%zu within 1e-5", p->name, rel, close, p->numel);
        }
        free(init);
        free(final);
    }
    printf("  final parameters match the reference (%zu tensors)\n", trained->params.n_tensors);
    safetensors_close(&r);

    /* GradCache with mini-batches of 1 and 3 texts ends at the same parameters */
    static const int minis[] = {1, 3};
    for (int k = 0; k < 2; k++) {
        char name[32];
        snprintf(name, sizeof name, "out-mini%d", minis[k]);
        char *out2 = path_join(tmp, name);
        run_train10(data, out2, NULL, minis[k], SEMB_COMPUTE_FP32);
        semb_model *m2 = NULL;
        assert_int_equal(semb_model_load(out2, &m2, &err), SEMB_OK);
        double diff = 0, norm = 0;
        for (size_t i = 0; i < m2->params.arena_floats; i++) {
            double d = (double)m2->params.arena[i] - trained->params.arena[i];
            diff += d * d;
            norm += (double)trained->params.arena[i] * trained->params.arena[i];
        }
        printf("  mini-batch %d: parameters relative L2 diff %.2e\n", minis[k], sqrt(diff / norm));
        assert_true(sqrt(diff / norm) <= 1e-6);
        semb_model_free(m2);
        free(out2);
    }
    semb_model_free(trained);
    free(data);
    free(out);
    free(log);
    test_rmtree(tmp);
    free(tmp);
}

/* bf16 mixed precision, first step on the reference triples: the loss and every gradient
 * tensor near the float32 ones (bf16 keeps 8 significant bits, so about 4e-3 relative per
 * rounding), and not equal to them (the bf16 path really ran). */
static void test_bf16_gradients_near_fp32(void **state)
{
    static const char *fixtures[] = {"bert-tiny-mean", "distilbert-tiny-mean", "mpnet-tiny-mean"};
    for (int f = 0; f < 3; f++) {
        semb_model *m = test_load_fixture(fixtures[f]);
        test_triples t = test_load_triples(m, fixtures[f]);
        encoder_params g32, g16;
        double loss32, loss16;
        gradients_in(m, &t, 0, SEMB_COMPUTE_FP32, &g32, &loss32);
        gradients_in(m, &t, 0, SEMB_COMPUTE_BF16, &g16, &loss16);
        double diff = 0, norm = 0, worst = 0;
        const char *worst_name = "";
        for (size_t i = 0; i < g32.n_tensors; i++) {
            const param_tensor *p = &g32.tensors[i];
            if (!p->trainable || is_key_bias(p->name))
                continue;
            double d = 0, n = 0;
            for (size_t k = 0; k < p->numel; k++) {
                double x = g16.arena[p->offset + k], y = g32.arena[p->offset + k];
                d += (x - y) * (x - y);
                n += y * y;
            }
            diff += d;
            norm += n;
            if (n > 0 && sqrt(d / n) > worst) {
                worst = sqrt(d / n);
                worst_name = p->name;
            }
        }
        double rel = sqrt(diff / norm), loss_rel = fabs(loss16 - loss32) / fabs(loss32);
        printf("  %-22s bf16 vs fp32: loss %.9f vs %.9f (relative %.2e), gradients relative L2 "
               "%.2e, worst tensor %.2e (%s)\n", fixtures[f], loss16, loss32, loss_rel, rel, worst,
               worst_name);
        assert_true(loss_rel <= 1e-3);
        assert_true(rel > 0 && rel <= 2e-3);
        assert_true(worst <= 2e-2);
        /* GradCache chunks share the step's weight copies: the full-batch bf16 gradient */
        encoder_params cached;
        double loss_cached;
        gradients_in(m, &t, 5, SEMB_COMPUTE_BF16, &cached, &loss_cached);
        double cdiff = 0;
        for (size_t i = 0; i < cached.arena_floats; i++)
            cdiff += ((double)cached.arena[i] - g16.arena[i]) * ((double)cached.arena[i] - g16.arena[i]);
        printf("  %-22s bf16 GradCache (chunks of 5) vs full batch: relative L2 %.2e\n",
               fixtures[f], sqrt(cdiff / norm));
        assert_true(sqrt(cdiff / norm) <= 1e-5);
        encoder_params_free(&cached);
        encoder_params_free(&g32);
        encoder_params_free(&g16);
        test_free_triples(&t);
        semb_model_free(m);
    }
}

/* The #3 trace in bf16 mixed precision: every loss and the final parameters within 1e-2
 * relative of the float64 reference. A final tensor's error is held to 1e-2 both of the
 * tensor (||got - final|| / ||final||) and of the update the ten steps made
 * (||got - final|| / ||final - init||, the stricter); key biases (zero true gradient) to the
 * float32 test's absolute 2.5e-3. */
static void test_train10_trace_bf16(void **state)
{
    char *tmp = test_make_temp_dir();
    char *data = write_train10_data(tmp);
    char *out = path_join(tmp, "out"), *log = path_join(tmp, "log.jsonl");
    run_train10(data, out, log, 0, SEMB_COMPUTE_BF16);
    json_t *ref = json_load_file(test_shared_path("fixtures/bert-tiny-mean/ref.train10.json"), 0, NULL);
    json_t *losses = json_object_get(ref, "losses");
    FILE *f = fopen(log, "r");
    char line[512];
    double worst_loss = 0;
    for (size_t step = 0; step < 10; step++) {
        assert_non_null(fgets(line, sizeof line, f));
        json_t *entry = json_loads(line, 0, NULL);
        double got = json_number_value(json_object_get(entry, "loss"));
        double want = json_number_value(json_array_get(losses, step));
        worst_loss = fmax(worst_loss, fabs(got - want) / fabs(want));
        printf("  step %zu: bf16 loss %.8f reference %.8f (relative %.2e)\n", step, got, want,
               fabs(got - want) / fabs(want));
        assert_true(fabs(got - want) <= 1e-2 * fabs(want));
        json_decref(entry);
    }
    fclose(f);
    json_decref(ref);
    semb_model *trained = NULL;
    semb_error err = {0};
    assert_int_equal(semb_model_load(out, &trained, &err), SEMB_OK);
    safetensors_file r;
    assert_int_equal(safetensors_open(test_shared_path("fixtures/bert-tiny-mean/ref.train10.safetensors"), &r, &err), SEMB_OK);
    double worst = 0, worst_update = 0, all_diff = 0, all_update = 0;
    const char *worst_name = "";
    for (size_t i = 0; i < trained->params.n_tensors; i++) {
        const param_tensor *p = &trained->params.tensors[i];
        char init_name[200], final_name[200];
        snprintf(init_name, sizeof init_name, "init.0.model.%s", p->name);
        snprintf(final_name, sizeof final_name, "final.0.model.%s", p->name);
        double *init = malloc(p->numel * sizeof *init), *final = malloc(p->numel * sizeof *final);
        assert_int_equal(safetensors_to_f64(&r, safetensors_find(&r, init_name), init, p->numel, &err), SEMB_OK);
        assert_int_equal(safetensors_to_f64(&r, safetensors_find(&r, final_name), final, p->numel, &err), SEMB_OK);
        const float *got = trained->params.arena + p->offset;
        double diff = 0, norm = 0, update = 0;
        for (size_t k = 0; k < p->numel; k++) {
            diff += (got[k] - final[k]) * (got[k] - final[k]);
            norm += final[k] * final[k];
            update += (final[k] - init[k]) * (final[k] - init[k]);
        }
        double rel = norm > 0 ? sqrt(diff / norm) : sqrt(diff);
        if (rel > worst) {
            worst = rel;
            worst_name = p->name;
        }
        if (!is_key_bias(p->name) && update > 0) {
            worst_update = fmax(worst_update, sqrt(diff / update));
            all_diff += diff;
            all_update += update;
        }
        double rel_update = update > 0 ? sqrt(diff / update) : 0;
        bool key_bias = is_key_bias(p->name);
        if (rel > 1e-2 || (key_bias ? max_abs_diff(got, final, p->numel) > 2.5e-3 : rel_update > 1e-2))
            fail_msg("%s: relative error %.2e, %.2e of the update after 10 bf16 steps", p->name,
                     rel, rel_update);
        free(init);
        free(final);
    }
    printf("  bf16: worst loss relative error %.2e; final parameters worst relative error %.2e "
           "(%s); error relative to the update: all tensors %.2e, worst tensor %.2e\n",
           worst_loss, worst, worst_name, sqrt(all_diff / all_update), worst_update);
    safetensors_close(&r);
    semb_model_free(trained);
    free(data);
    free(out);
    free(log);
    test_rmtree(tmp);
    free(tmp);
}

/* The run's messages reach on_message (data warnings with FILE:LINE, evaluation results)
 * instead of stderr. */
typedef struct messages {
    char text[8][512];
    int n;
} messages;

static void collect(void *user, const char *message)
{
    messages *m = user;
    if (m->n < 8)
        snprintf(m->text[m->n++], sizeof m->text[0], "%s", message);
}

static void test_messages_reach_the_callback(void **state)
{
    char *tmp = test_make_temp_dir();
    char *data = path_join(tmp, "data.jsonl"), *out = path_join(tmp, "out");
    char *sts = path_join(tmp, "sts.tsv");
    FILE *f = fopen(data, "w");
    for (int i = 0; i < 12; i++) {
        fprintf(f, "{\"anchor\": \"a%d b\", \"positive\": \"c%d d\"}\n", i, i);
        if (i == 2)
            fputs("not json\n", f);
    }
    fclose(f);
    f = fopen(sts, "w");
    fputs("score\tsentence1\tsentence2\n1\ta b\tc d\n3\ta dog\ta cat\n5\tx\tx\n", f);
    fclose(f);
    semb_train_options o = semb_train_options_default();
    o.model_dir = test_shared_path("fixtures/bert-tiny-mean");
    o.data_path = data;
    o.output_dir = out;
    o.batch_size = 4;
    o.steps = 1;
    o.shuffle = 0;
    o.eval_sts_path = sts;
    messages got = {0};
    o.on_message = collect;
    o.message_user = &got;
    semb_error err = {0};
    if (semb_train_run(&o, NULL, &err))
        fail_msg("%s", err.message);
    int warned = 0, evaluated = 0;
    for (int i = 0; i < got.n; i++) {
        warned |= strstr(got.text[i], "data.jsonl:4") != NULL;
        evaluated |= strstr(got.text[i], "sts.tsv: STS Spearman") != NULL;
    }
    if (!warned || !evaluated)
        fail_msg("%d messages, first '%s'", got.n, got.n ? got.text[0] : "");
    free(data);
    free(out);
    free(sts);
    test_rmtree(tmp);
    free(tmp);
}

/* The log's step_s and data_s (reading + tokenizing, timed inside the step), averaged over
 * each --log-every interval, and the run's data_seconds: present, consistent with the other
 * fields, and the data time a part of the step time. No timing thresholds. */
static void test_log_times_the_data_pipeline(void **state)
{
    char *tmp = test_make_temp_dir();
    char *data = path_join(tmp, "data.jsonl"), *out = path_join(tmp, "out");
    char *log = path_join(tmp, "log.jsonl");
    FILE *f = fopen(data, "w");
    for (int i = 0; i < 12; i++)
        fprintf(f, "{\"anchor\": \"a%d b\", \"positive\": \"c%d d\"}\n", i, i);
    fclose(f);
    semb_train_options o = semb_train_options_default();
    o.model_dir = test_shared_path("fixtures/bert-tiny-mean");
    o.data_path = data;
    o.output_dir = out;
    o.batch_size = 4;
    o.steps = 5;
    o.log_every = 2;
    o.log_path = log;
    semb_train_result r;
    semb_error err = {0};
    if (semb_train_run(&o, &r, &err))
        fail_msg("%s", err.message);
    assert_true(r.data_seconds > 0 && r.data_seconds <= r.seconds);

    static const int logged_steps[] = {2, 4, 5}; /* every 2 steps, and the last */
    double data_total = 0;
    f = fopen(log, "r");
    char line[512];
    for (int i = 0; i < 3; i++) {
        assert_non_null(fgets(line, sizeof line, f));
        json_t *entry = json_loads(line, 0, NULL);
        assert_non_null(entry);
        assert_int_equal(json_integer_value(json_object_get(entry, "step")), logged_steps[i]);
        json_t *step_s = json_object_get(entry, "step_s"), *data_s = json_object_get(entry, "data_s");
        assert_true(json_is_number(step_s) && json_is_number(data_s));
        double step = json_number_value(step_s), got = json_number_value(data_s);
        double pairs_per_s = json_number_value(json_object_get(entry, "pairs_per_s"));
        printf("  step %d: step_s %.6f data_s %.6f\n", logged_steps[i], step, got);
        assert_true(got >= 0 && got <= step);
        /* step_s is the same interval as pairs_per_s (printed to 2 decimals) */
        assert_true(fabs(pairs_per_s * step - o.batch_size) <= 0.01 * o.batch_size);
        data_total += got * (i < 2 ? 2 : 1);
        json_decref(entry);
    }
    assert_null(fgets(line, sizeof line, f));
    fclose(f);
    /* the intervals' averages add up to the run's total (the log prints 6 decimals) */
    assert_true(fabs(data_total - r.data_seconds) <= 5e-6 * 5);
    free(data);
    free(out);
    free(log);
    test_rmtree(tmp);
    free(tmp);
}

int main(void)
{
    int rc = test_require_shared("test_train");
    if (rc)
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_step_gradients_match_reference),
        cmocka_unit_test(test_dumped_gradients_match_reference),
        cmocka_unit_test(test_gradcache_equals_full_batch),
        cmocka_unit_test(test_train10_trace),
        cmocka_unit_test(test_bf16_gradients_near_fp32),
        cmocka_unit_test(test_train10_trace_bf16),
        cmocka_unit_test(test_messages_reach_the_callback),
        cmocka_unit_test(test_log_times_the_data_pipeline),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
