/* Checkpoints: a bit-exact round trip of weights, AdamW moments, steps, RNG and the caller's
 * JSON; AdamW resumed from a checkpoint equal to an uninterrupted run; errors naming the
 * file for corrupt, truncated, missing and mismatched files; keep-K retention; extra files
 * (the model card) published with the model; and a child process killed with SIGKILL at
 * random moments while it saves, after which the latest checkpoint must always load and be
 * exactly the state of its step. Needs no shared/: the model is a tiny `semb init` BERT over
 * a vocabulary written here. */
#include "support.h"

#include <dirent.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "io/files.h"
#include "io/safetensors.h"
#include "model/sentence_model.h"
#include "train/adamw.h"
#include "train/checkpoint.h"

typedef struct fixture {
    char *tmp;       /* removed at the end */
    semb_model *model;
    adamw_state adam;
} fixture;

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    assert_int_equal(fclose(f), 0);
}

static char *join(const char *a, const char *b)
{
    char *p = path_join(a, b);
    assert_non_null(p);
    return p;
}

/* A fresh BERT with `hidden` units in dir/name, loaded. */
static semb_model *make_model(const char *dir, const char *name, int hidden)
{
    char *vocab = join(dir, "vocab.txt"), *model_dir = join(dir, name);
    if (!path_exists(vocab))
        write_text(vocab, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nthe\ncat\nsat\non\nmat\ndog\nran\n"
                          "a\nhouse\nred\nblue\n##s\n##ing\n");
    semb_init_options o = semb_init_options_default();
    o.hidden_size = hidden;
    o.num_layers = 2;
    o.num_heads = 2;
    o.intermediate_size = 2 * hidden;
    o.max_position_embeddings = 64;
    o.vocab_path = vocab;
    o.seed = 7;
    semb_error err = {0};
    semb_model *m = NULL;
    if (semb_model_init(model_dir, &o, &err) || semb_model_load(model_dir, &m, &err))
        fail_msg("%s", err.message);
    free(vocab);
    free(model_dir);
    return m;
}

static int setup(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->tmp = test_make_temp_dir();
    f->model = make_model(f->tmp, "base", 32);
    semb_error err = {0};
    if (adamw_state_create(f->model->params.arena_floats, &f->adam, &err))
        fail_msg("%s", err.message);
    *state = f;
    return 0;
}

static int teardown(void **state)
{
    fixture *f = *state;
    semb_model_free(f->model);
    adamw_state_free(&f->adam);
    test_rmtree(f->tmp);
    free(f->tmp);
    free(f);
    return 0;
}

/* The whole training state of step `step`, a function of the step alone, so that any
 * checkpoint can be checked against it. The first word embedding holds the step itself. */
static void fill_state(encoder_params *p, adamw_state *adam, long step)
{
    rng_state r;
    rng_seed(&r, (uint64_t)step * 1000003u + 1);
    for (size_t i = 0; i < p->n_tensors; i++) {
        const param_tensor *t = &p->tensors[i];
        for (size_t j = 0; j < t->numel; j++) {
            p->arena[t->offset + j] = rng_normal(&r);
            adam->exp_avg[t->offset + j] = rng_normal(&r) * 1e-3f;
            adam->exp_avg_sq[t->offset + j] = rng_uniform(&r) * 1e-6f;
        }
    }
    p->word_embeddings[0] = (float)step;
    adam->step = step + 100;
}

static rng_state trainer_rng(long step)
{
    rng_state r;
    rng_seed(&r, (uint64_t)step + 55);
    for (long i = 0; i < step % 7; i++)
        rng_next_u64(&r);
    return r;
}

typedef struct saved_json {
    json_t *options, *data, *history;
} saved_json;

static saved_json make_json(long step)
{
    rng_state sampler = trainer_rng(step + 1000);
    saved_json j = {
        .options = json_pack("{s:i, s:f, s:s, s:b}", "batch_size", 32, "lr", 2e-5, "scheduler",
                             "linear", "symmetric", 1),
        .data = json_pack("{s:I, s:o, s:[I, I]}", "step", (json_int_t)step, "sampler_rng",
                          checkpoint_rng_to_json(&sampler), "offsets", (json_int_t)step * 4096,
                          (json_int_t)1 << 40),
        .history = json_array()};
    for (long s = 1; s <= step && s <= 50; s++)
        json_array_append_new(j.history, json_pack("{s:I, s:f}", "step", (json_int_t)s, "loss",
                                                   1.0 / (double)(s + 3)));
    assert_non_null(j.options);
    assert_non_null(j.data);
    return j;
}

static void free_json(saved_json *j)
{
    json_decref(j->options);
    json_decref(j->data);
    json_decref(j->history);
}

/* Saves the state of `step` (fill_state + make_json) into out. */
static semb_status save_step(semb_model *m, adamw_state *adam, const char *out, long step, int keep,
                             semb_error *err)
{
    fill_state(&m->params, adam, step);
    saved_json j = make_json(step);
    checkpoint_contents c = {.model = m, .adam = adam, .step = step,
                             .options = j.options, .data = j.data, .log_history = j.history};
    semb_status st = checkpoint_save(out, &c, keep, err);
    free_json(&j);
    return st;
}

static void must_save(fixture *f, const char *out, long step, int keep)
{
    semb_error err = {0};
    if (save_step(f->model, &f->adam, out, step, keep, &err))
        fail_msg("save step %ld: %s", step, err.message);
}

/* Scratch weights and moments shaped like the model. */
typedef struct scratch {
    encoder_params params;
    adamw_state adam;
} scratch;

static scratch make_scratch(const semb_model *m)
{
    scratch s = {0};
    semb_error err = {0};
    if (encoder_params_create(&m->config, m->params.pooler_weight != NULL, &s.params, &err) ||
        adamw_state_create(s.params.arena_floats, &s.adam, &err))
        fail_msg("%s", err.message);
    memcpy(s.params.name_prefix, m->params.name_prefix, sizeof s.params.name_prefix);
    return s;
}

static void free_scratch(scratch *s)
{
    encoder_params_free(&s->params);
    adamw_state_free(&s->adam);
}

/* 0 when params/adam/state are exactly the state of `step`, else a message (static). */
static const char *check_state(const semb_model *m, const encoder_params *p,
                               const adamw_state *adam, const checkpoint_state *cs, long step)
{
    static char why[256];
    scratch want = make_scratch(m);
    fill_state(&want.params, &want.adam, step);
    size_t bytes = p->arena_floats * sizeof(float);
    saved_json j = make_json(step);
    const char *bad = NULL;
    if (memcmp(p->arena, want.params.arena, bytes) != 0)
        bad = "weights differ";
    else if (memcmp(adam->exp_avg, want.adam.exp_avg, bytes) != 0)
        bad = "exp_avg differs";
    else if (memcmp(adam->exp_avg_sq, want.adam.exp_avg_sq, bytes) != 0)
        bad = "exp_avg_sq differs";
    else if (adam->step != want.adam.step)
        bad = "optimizer step differs";
    else if (cs && cs->step != step)
        bad = "global step differs";
    else if (cs && (!json_equal(cs->options, j.options) || !json_equal(cs->data, j.data) ||
                    !json_equal(cs->log_history, j.history)))
        bad = "JSON differs";
    if (bad)
        snprintf(why, sizeof why, "step %ld: %s", step, bad);
    free_json(&j);
    free_scratch(&want);
    return bad ? why : NULL;
}

static void assert_contains(const char *message, const char *part)
{
    if (!strstr(message, part))
        fail_msg("message '%s' does not mention '%s'", message, part);
}

/* ---- round trip ---- */

static void test_round_trip_bit_exact(void **state)
{
    fixture *f = *state;
    char *out = join(f->tmp, "rt");
    must_save(f, out, 5, 2);

    scratch s = make_scratch(f->model);
    checkpoint_state cs;
    semb_error err = {0};
    if (checkpoint_load_latest(out, &s.params, &s.adam, &cs, &err))
        fail_msg("%s", err.message);
    const char *bad = check_state(f->model, &s.params, &s.adam, &cs, 5);
    if (bad)
        fail_msg("%s", bad);
    char *ckpt = join(out, "checkpoint-5");
    assert_string_equal(cs.path, ckpt);
    checkpoint_state_free(&cs);

    /* the checkpoint and the output folder are both models that load and encode */
    const char *dirs[] = {ckpt, out};
    for (int i = 0; i < 2; i++) {
        semb_model *m = NULL;
        if (semb_model_load(dirs[i], &m, &err))
            fail_msg("%s: %s", dirs[i], err.message);
        assert_memory_equal(m->params.arena, s.params.arena, s.params.arena_floats * sizeof(float));
        assert_true(m->normalize);
        float emb[32];
        const char *text[] = {"the cat sat on the mat"};
        assert_int_equal(semb_encode(m, text, NULL, 1, emb, NULL, &err), SEMB_OK);
        semb_model_free(m);
    }
    /* the optimizer file names its tensors after the weights */
    char *opt = join(ckpt, "optimizer.safetensors");
    safetensors_file sf;
    assert_int_equal(safetensors_open(opt, &sf, &err), SEMB_OK);
    assert_int_equal(sf.n_tensors, 2 * f->model->params.n_tensors);
    assert_non_null(safetensors_find(&sf, "exp_avg.embeddings.word_embeddings.weight"));
    assert_non_null(safetensors_find(&sf, "exp_avg_sq.encoder.layer.1.output.dense.bias"));
    safetensors_close(&sf);
    free(opt);
    free(ckpt);
    free_scratch(&s);
    free(out);
}

/* The AdamW trajectory of 20 steps equals 10 steps, a checkpoint, a fresh process state
 * loaded from it, and 10 more: moments, bias-correction step and the gradient RNG all
 * come back exactly. */
static void adam_steps(semb_model *m, adamw_state *adam, rng_state *rng, int steps)
{
    encoder_params *p = &m->params;
    float *grads = malloc(p->arena_floats * sizeof *grads);
    assert_non_null(grads);
    adamw_config cfg = adamw_config_default();
    semb_error err = {0};
    for (int s = 0; s < steps; s++) {
        for (size_t i = 0; i < p->arena_floats; i++)
            grads[i] = rng_normal(rng) * 0.01f + 1e-3f * p->arena[i];
        double lr = 1e-3 * (double)(1 + adam->step % 3);
        assert_int_equal(adamw_step(&cfg, adam, lr, p->arena, grads, p->tensors, p->n_tensors,
                                    &err), SEMB_OK);
    }
    free(grads);
}

static void test_resume_is_bit_identical(void **state)
{
    fixture *f = *state;
    semb_model *m = f->model;
    size_t bytes = m->params.arena_floats * sizeof(float);
    float *start = malloc(bytes), *straight = malloc(bytes);
    memcpy(start, m->params.arena, bytes);
    semb_error err = {0};

    adamw_state adam;
    assert_int_equal(adamw_state_create(m->params.arena_floats, &adam, &err), SEMB_OK);
    rng_state rng;
    rng_seed(&rng, 99);
    adam_steps(m, &adam, &rng, 20);
    memcpy(straight, m->params.arena, bytes);
    adamw_state_free(&adam);

    memcpy(m->params.arena, start, bytes);
    assert_int_equal(adamw_state_create(m->params.arena_floats, &adam, &err), SEMB_OK);
    rng_seed(&rng, 99);
    adam_steps(m, &adam, &rng, 10);
    char *out = join(f->tmp, "resume");
    /* the test's own generator rides in the data state, as the sampler's do */
    json_t *data = json_pack("{s:o}", "gradient_rng", checkpoint_rng_to_json(&rng));
    checkpoint_contents c = {.model = m, .adam = &adam, .step = 10, .data = data};
    if (checkpoint_save(out, &c, 2, &err))
        fail_msg("%s", err.message);
    json_decref(data);
    adamw_state_free(&adam);

    memset(m->params.arena, 0, bytes); /* nothing survives but the checkpoint */
    assert_int_equal(adamw_state_create(m->params.arena_floats, &adam, &err), SEMB_OK);
    checkpoint_state cs;
    if (checkpoint_load_latest(out, &m->params, &adam, &cs, &err))
        fail_msg("%s", err.message);
    assert_int_equal(cs.step, 10);
    assert_int_equal(adam.step, 10);
    assert_int_equal(json_object_size(cs.data), 1);
    assert_int_equal(json_object_size(cs.options), 0);
    assert_int_equal(json_array_size(cs.log_history), 0);
    rng_state restored;
    if (checkpoint_rng_from_json(json_object_get(cs.data, "gradient_rng"), out, "gradient_rng",
                                 &restored, &err))
        fail_msg("%s", err.message);
    adam_steps(m, &adam, &restored, 10);
    assert_memory_equal(m->params.arena, straight, bytes);
    assert_int_equal(adam.step, 20);

    checkpoint_state_free(&cs);
    adamw_state_free(&adam);
    free(start);
    free(straight);
    free(out);
}

/* ---- errors ---- */

typedef void (*corruption)(const char *ckpt);

static void truncate_file(const char *ckpt, const char *name, long size)
{
    char *p = join(ckpt, name);
    assert_int_equal(truncate(p, size), 0);
    free(p);
}

static void truncate_optimizer(const char *ckpt) { truncate_file(ckpt, "optimizer.safetensors", 4000); }
static void truncate_weights(const char *ckpt) { truncate_file(ckpt, "model.safetensors", 100); }
static void empty_state(const char *ckpt) { truncate_file(ckpt, "trainer_state.json", 0); }

static void remove_file(const char *ckpt, const char *name)
{
    char *p = join(ckpt, name);
    assert_int_equal(unlink(p), 0);
    free(p);
}

static void remove_state(const char *ckpt) { remove_file(ckpt, "trainer_state.json"); }
static void remove_optimizer(const char *ckpt) { remove_file(ckpt, "optimizer.safetensors"); }

/* Rewrites trainer_state.json with key set to the JSON text value (NULL: removed). */
static void edit_state(const char *ckpt, const char *key, const char *value)
{
    char *p = join(ckpt, "trainer_state.json");
    json_error_t je;
    json_t *root = json_load_file(p, 0, &je);
    assert_non_null(root);
    if (value)
        json_object_set_new(root, key, json_loads(value, JSON_DECODE_ANY, &je));
    else
        json_object_del(root, key);
    assert_int_equal(json_dump_file(root, p, 0), 0);
    json_decref(root);
    free(p);
}

static void wrong_step(const char *ckpt) { edit_state(ckpt, "global_step", "6"); }
static void no_data(const char *ckpt) { edit_state(ckpt, "data", NULL); }
static void newer_version(const char *ckpt) { edit_state(ckpt, "version", "2"); }
static void history_object(const char *ckpt) { edit_state(ckpt, "log_history", "{}"); }
static void invalid_json(const char *ckpt)
{
    char *p = join(ckpt, "trainer_state.json");
    write_text(p, "{\"format\": \"semb-checkpoint\",");
    free(p);
}

/* Rewrites optimizer.safetensors without its last tensor, or with one more. */
static void rewrite_optimizer(const char *ckpt, int change)
{
    char *p = join(ckpt, "optimizer.safetensors");
    safetensors_file sf;
    semb_error err = {0};
    assert_int_equal(safetensors_open(p, &sf, &err), SEMB_OK);
    size_t n = sf.n_tensors;
    safetensors_entry *e = calloc(n + 1, sizeof *e);
    for (size_t i = 0; i < n; i++) {
        const safetensors_tensor *t = &sf.tensors[i];
        e[i] = (safetensors_entry){.name = t->name, .dtype = t->dtype, .ndim = t->ndim, .data = t->data};
        memcpy(e[i].shape, t->shape, sizeof t->shape);
    }
    static const float extra = 1;
    if (change > 0)
        e[n] = (safetensors_entry){.name = "exp_avg.stray", .dtype = SAFETENSORS_F32, .ndim = 1,
                                   .shape = {1}, .data = &extra};
    char *tmp = join(ckpt, "rewritten");
    assert_int_equal(safetensors_write(tmp, e, change > 0 ? n + 1 : n - 1, NULL, &err), SEMB_OK);
    safetensors_close(&sf);
    assert_int_equal(rename(tmp, p), 0);
    free(tmp);
    free(e);
    free(p);
}

static void drop_tensor(const char *ckpt) { rewrite_optimizer(ckpt, -1); }
static void extra_tensor(const char *ckpt) { rewrite_optimizer(ckpt, +1); }

static void test_corrupt_checkpoints_fail_naming_the_file(void **state)
{
    fixture *f = *state;
    struct {
        corruption apply;
        semb_status status;
        const char *mentions[2];
    } cases[] = {
        {truncate_optimizer, SEMB_ERR_FORMAT, {"checkpoint-5/optimizer.safetensors", ""}},
        {truncate_weights, SEMB_ERR_FORMAT, {"checkpoint-5/model.safetensors", ""}},
        {empty_state, SEMB_ERR_FORMAT, {"checkpoint-5/trainer_state.json", ""}},
        {invalid_json, SEMB_ERR_FORMAT, {"checkpoint-5/trainer_state.json", "invalid JSON"}},
        {remove_state, SEMB_ERR_IO, {"checkpoint-5/trainer_state.json", ""}},
        {remove_optimizer, SEMB_ERR_IO, {"checkpoint-5/optimizer.safetensors", ""}},
        {wrong_step, SEMB_ERR_FORMAT, {"trainer_state.json", "global_step 6"}},
        {no_data, SEMB_ERR_FORMAT, {"trainer_state.json", "data: missing"}},
        {newer_version, SEMB_ERR_UNSUPPORTED, {"trainer_state.json", "version 2"}},
        {history_object, SEMB_ERR_FORMAT, {"trainer_state.json", "log_history"}},
        {drop_tensor, SEMB_ERR_FORMAT, {"optimizer.safetensors", "missing tensor 'exp_avg_sq."}},
        {extra_tensor, SEMB_ERR_FORMAT, {"optimizer.safetensors", "'exp_avg.stray'"}},
    };
    scratch s = make_scratch(f->model);
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char name[32];
        snprintf(name, sizeof name, "corrupt%zu", i);
        char *out = join(f->tmp, name), *ckpt = join(out, "checkpoint-5");
        must_save(f, out, 5, 2);
        cases[i].apply(ckpt);
        fill_state(&s.params, &s.adam, 77); /* must survive the failed load untouched */
        checkpoint_state cs;
        semb_error err = {0};
        semb_status st = checkpoint_load_latest(out, &s.params, &s.adam, &cs, &err);
        if (st != cases[i].status)
            fail_msg("case %zu: status %d, want %d (%s)", i, st, cases[i].status, err.message);
        assert_contains(err.message, "cannot resume from");
        assert_contains(err.message, cases[i].mentions[0]);
        assert_contains(err.message, cases[i].mentions[1]);
        assert_null(cs.options);
        assert_null(cs.path);
        const char *bad = check_state(f->model, &s.params, &s.adam, NULL, 77);
        if (bad)
            fail_msg("case %zu changed the model: %s", i, bad);
        free(out);
        free(ckpt);
    }
    free_scratch(&s);
}

static void test_mismatched_model_is_an_error(void **state)
{
    fixture *f = *state;
    char *out = join(f->tmp, "shape");
    must_save(f, out, 3, 2);
    semb_model *wide = make_model(f->tmp, "wide", 48);
    scratch s = make_scratch(wide);
    checkpoint_state cs;
    semb_error err = {0};
    assert_int_equal(checkpoint_load_latest(out, &s.params, &s.adam, &cs, &err), SEMB_ERR_FORMAT);
    assert_contains(err.message, "checkpoint-3/model.safetensors");
    assert_contains(err.message, "has shape [18, 32], the model's is [18, 48]");

    /* moments sized for another model: refused before any file is read */
    scratch narrow = make_scratch(f->model);
    assert_int_equal(checkpoint_load_latest(out, &narrow.params, &s.adam, &cs, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_contains(err.message, "optimizer state");
    checkpoint_contents c = {.model = f->model, .adam = &s.adam, .step = 4};
    assert_int_equal(checkpoint_save(out, &c, 2, &err), SEMB_ERR_INVALID_ARG);

    /* nothing to resume from */
    char *empty = join(f->tmp, "empty");
    assert_int_equal(mkdir(empty, 0755), 0);
    assert_int_equal(checkpoint_load_latest(empty, &narrow.params, &narrow.adam, &cs, &err),
                     SEMB_ERR_IO);
    assert_contains(err.message, "no checkpoint-<step> folder");
    assert_int_equal(checkpoint_load_latest(f->tmp, &narrow.params, &narrow.adam, &cs, &err),
                     SEMB_ERR_IO); /* a folder of other things */
    free_scratch(&narrow);
    free_scratch(&s);
    semb_model_free(wide);
    free(empty);
    free(out);
}

/* The one encoding of a generator in a checkpoint (the sampler's, in the data state): four
 * 16-digit words, also read from the one 64-digit string older sampler states hold; bad
 * digits and xoshiro's all-zero fixed point refused, naming the field. */
static void test_rng_encoding(void **state)
{
    (void)state;
    rng_state r, back;
    rng_seed(&r, 12345);
    json_t *v = checkpoint_rng_to_json(&r);
    semb_error err = {0};
    assert_int_equal(checkpoint_rng_from_json(v, "f.json", "rng", &back, &err), SEMB_OK);
    assert_memory_equal(&r, &back, sizeof r);
    char joined[65] = {0};
    for (size_t i = 0; i < 4; i++)
        memcpy(joined + 16 * i, json_string_value(json_array_get(v, i)), 16);
    json_decref(v);
    v = json_string(joined);
    memset(&back, 0, sizeof back);
    assert_int_equal(checkpoint_rng_from_json(v, "f.json", "rng", &back, &err), SEMB_OK);
    assert_memory_equal(&r, &back, sizeof r);
    json_decref(v);
    v = json_pack("[s, s, s, s]", "12", "0", "0", "0");
    assert_int_equal(checkpoint_rng_from_json(v, "f.json", "data.rng", &back, &err),
                     SEMB_ERR_FORMAT);
    assert_contains(err.message, "f.json: data.rng[0]");
    json_decref(v);
    v = json_pack("[s, s, s, s]", "0000000000000000", "0000000000000000", "0000000000000000",
                  "0000000000000000");
    assert_int_equal(checkpoint_rng_from_json(v, "f.json", "rng", &back, &err), SEMB_ERR_FORMAT);
    assert_contains(err.message, "all-zero");
    json_decref(v);
}

static void test_options_compare(void **state)
{
    (void)state;
    json_t *saved = json_pack("{s:i, s:f, s:s}", "batch_size", 32, "lr", 2e-5, "scheduler", "linear");
    json_t *same = json_pack("{s:s, s:i, s:f}", "scheduler", "linear", "batch_size", 32, "lr", 2e-5);
    json_t *other = json_pack("{s:i, s:f, s:s}", "batch_size", 64, "lr", 2e-5, "scheduler", "linear");
    json_t *fewer = json_pack("{s:i, s:f}", "batch_size", 32, "lr", 2e-5);
    semb_error err = {0};
    assert_int_equal(checkpoint_compare_options("out/checkpoint-9", saved, same, &err), SEMB_OK);
    assert_int_equal(checkpoint_compare_options("out/checkpoint-9", saved, other, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_string_equal(err.message, "out/checkpoint-9/trainer_state.json: options.batch_size: "
                                     "the checkpoint has 32, this run 64");
    assert_int_equal(checkpoint_compare_options("c", saved, fewer, &err), SEMB_ERR_INVALID_ARG);
    assert_contains(err.message, "options.scheduler: the checkpoint has \"linear\", this run nothing");
    assert_int_equal(checkpoint_compare_options("c", fewer, saved, &err), SEMB_ERR_INVALID_ARG);
    assert_contains(err.message, "the checkpoint has nothing, this run \"linear\"");
    json_decref(saved);
    json_decref(same);
    json_decref(other);
    json_decref(fewer);
}

/* ---- folders ---- */

static int count_entries(const char *dir, const char *prefix)
{
    DIR *d = opendir(dir);
    assert_non_null(d);
    int n = 0;
    for (struct dirent *e; (e = readdir(d));)
        n += strncmp(e->d_name, prefix, strlen(prefix)) == 0;
    closedir(d);
    return n;
}

static bool has_checkpoint(const char *out, long step)
{
    char name[64];
    snprintf(name, sizeof name, "checkpoint-%ld", step);
    char *p = join(out, name);
    bool yes = path_is_dir(p);
    free(p);
    return yes;
}

static void test_keep_and_replace(void **state)
{
    fixture *f = *state;
    char *out = join(f->tmp, "keep");
    for (long step = 1; step <= 5; step++)
        must_save(f, out, step, 2);
    assert_int_equal(count_entries(out, "checkpoint-"), 2);
    assert_true(has_checkpoint(out, 4) && has_checkpoint(out, 5));
    for (long step = 6; step <= 8; step++)
        must_save(f, out, step, 0); /* 0: keep all */
    assert_int_equal(count_entries(out, "checkpoint-"), 5);

    /* an older step beside newer ones is another run's folder */
    semb_error err = {0};
    assert_int_equal(save_step(f->model, &f->adam, out, 3, 2, &err), SEMB_ERR_INVALID_ARG);
    assert_contains(err.message, "checkpoint-8, newer than step 3");

    /* the same step again replaces it */
    must_save(f, out, 8, 2);
    assert_int_equal(count_entries(out, "checkpoint-"), 2);
    assert_int_equal(count_entries(out, ".semb-tmp-"), 0);

    /* a killed save's leftovers are ignored by loading and removed by the next save */
    char *left = join(out, ".semb-tmp-checkpoint-9.AbCdEf"), *junk = join(left, "model.safetensors");
    assert_int_equal(mkdir(left, 0755), 0);
    write_text(junk, "half");
    scratch s = make_scratch(f->model);
    checkpoint_state cs;
    if (checkpoint_load_latest(out, &s.params, &s.adam, &cs, &err))
        fail_msg("%s", err.message);
    assert_int_equal(cs.step, 8);
    checkpoint_state_free(&cs);
    must_save(f, out, 9, 2);
    assert_false(path_exists(left));
    assert_true(has_checkpoint(out, 8) && has_checkpoint(out, 9));

    /* a model loaded from a checkpoint keeps that folder while later saves copy from it */
    char *from = join(out, "checkpoint-8");
    semb_model *m = NULL;
    if (semb_model_load(from, &m, &err))
        fail_msg("%s", err.message);
    for (long step = 10; step <= 12; step++)
        if (save_step(m, &s.adam, out, step, 1, &err))
            fail_msg("step %ld: %s", step, err.message);
    assert_true(has_checkpoint(out, 8) && has_checkpoint(out, 12));
    assert_int_equal(count_entries(out, "checkpoint-"), 2);
    semb_model_free(m);
    must_save(f, out, 13, 1); /* a model from elsewhere: checkpoint-8 goes now */
    assert_int_equal(count_entries(out, "checkpoint-"), 1);

    free_scratch(&s);
    free(from);
    free(left);
    free(junk);
    free(out);
}

/* The model card goes into the checkpoint and out to OUT with it; a failing writer fails
 * the save and leaves nothing. */
static semb_status write_card(const char *dir, void *ctx, semb_error *err)
{
    if (!ctx)
        return semb_fail(err, SEMB_ERR_IO, "%s: the card writer failed", dir);
    char *card = join(dir, "README.md"), *plot = join(dir, "training_loss.svg");
    write_text(card, ctx);
    write_text(plot, "<svg/>");
    free(card);
    free(plot);
    return SEMB_OK;
}

static void test_extra_files_are_published(void **state)
{
    fixture *f = *state;
    char *out = join(f->tmp, "card");
    semb_error err = {0};
    for (long step = 1; step <= 2; step++) {
        char text[32];
        snprintf(text, sizeof text, "card of step %ld\n", step);
        checkpoint_contents c = {.model = f->model, .adam = &f->adam, .step = step,
                                 .write_extra = write_card,
                                 .extra_ctx = text};
        if (checkpoint_save(out, &c, 2, &err))
            fail_msg("%s", err.message);
    }
    const char *files[] = {"README.md", "checkpoint-2/README.md", "checkpoint-1/README.md",
                           "training_loss.svg", "checkpoint-2/training_loss.svg"};
    const char *want[] = {"card of step 2\n", "card of step 2\n", "card of step 1\n", "<svg/>",
                          "<svg/>"};
    for (int i = 0; i < 5; i++) {
        char *p = join(out, files[i]);
        char *text = test_read_file(p, NULL);
        assert_string_equal(text, want[i]);
        free(text);
        free(p);
    }
    checkpoint_contents c = {.model = f->model, .adam = &f->adam, .step = 3,
                             .write_extra = write_card};
    assert_int_equal(checkpoint_save(out, &c, 2, &err), SEMB_ERR_IO);
    assert_contains(err.message, "checkpoint-3: cannot save the checkpoint: ");
    assert_contains(err.message, "the card writer failed");
    assert_false(has_checkpoint(out, 3));
    assert_int_equal(count_entries(out, ".semb-tmp-"), 0);
    free(out);
}

/* ---- kill -9 ---- */

/* Saves steps first, first + 1, ... until killed. Never returns. */
static void save_forever(fixture *f, const char *out, long first)
{
    for (long step = first;; step++) {
        semb_error err = {0};
        if (save_step(f->model, &f->adam, out, step, 2, &err)) {
            fprintf(stderr, "child: step %ld: %s\n", step, err.message);
            _exit(3);
        }
    }
}

static double now_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

/* After a kill: the latest checkpoint never goes back, every checkpoint folder is complete
 * and exactly its step's state, and OUT's weights are those of some saved step. */
static long check_after_kill(fixture *f, const char *out, long previous, scratch *s)
{
    char *latest;
    long step = -1;
    semb_error err = {0};
    if (checkpoint_find_latest(out, &latest, &step, &err)) {
        assert_int_equal(previous, -1);
        return -1;
    }
    free(latest);
    if (step < previous)
        fail_msg("latest checkpoint went back from %ld to %ld", previous, step);
    /* interrupted prunes may leave more than `keep`; the next complete save removes them */
    DIR *d = opendir(out);
    assert_non_null(d);
    for (struct dirent *e; (e = readdir(d));) {
        if (strncmp(e->d_name, "checkpoint-", strlen("checkpoint-")) != 0)
            continue;
        char *dir = join(out, e->d_name);
        checkpoint_state cs;
        if (checkpoint_load(dir, &s->params, &s->adam, &cs, &err))
            fail_msg("after a kill: %s", err.message);
        const char *bad = check_state(f->model, &s->params, &s->adam, &cs, cs.step);
        if (bad)
            fail_msg("after a kill: %s", bad);
        checkpoint_state_free(&cs);
        free(dir);
    }
    closedir(d);
    char *weights = join(out, "model.safetensors");
    if (path_exists(weights)) {
        safetensors_file sf;
        if (safetensors_open(weights, &sf, &err) || encoder_params_load(&s->params, &sf, &err))
            fail_msg("%s", err.message);
        safetensors_close(&sf);
        long published = (long)s->params.word_embeddings[0];
        scratch want = make_scratch(f->model);
        fill_state(&want.params, &want.adam, published);
        if (published > step ||
            memcmp(want.params.arena, s->params.arena, s->params.arena_floats * sizeof(float)))
            fail_msg("%s holds no saved step's weights", weights);
        free_scratch(&want);
    }
    free(weights);
    return step;
}

static void test_kill_during_save_never_corrupts(void **state)
{
    fixture *f = *state;
    char *out = join(f->tmp, "kill"), *calibrate = join(f->tmp, "calibrate");
    double t0 = now_seconds();
    for (long step = 1; step <= 3; step++)
        must_save(f, calibrate, step, 2);
    double per_save = (now_seconds() - t0) / 3;

    rng_state rng;
    rng_seed(&rng, 20240601);
    scratch s = make_scratch(f->model);
    enum { KILLS = 40 };
    int with_leftovers = 0;
    long latest = -1;
    for (int kill_no = 0; kill_no < KILLS; kill_no++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0)
            save_forever(f, out, latest + 1);
        /* a moment anywhere in the first three saves, where the child spends its time */
        usleep((useconds_t)(rng_uniform(&rng) * 3 * per_save * 1e6));
        assert_int_equal(kill(pid, SIGKILL), 0);
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        if (!WIFSIGNALED(status) || WTERMSIG(status) != SIGKILL)
            fail_msg("the saving child failed by itself (status %d)", status);
        with_leftovers += count_entries(out, ".semb-tmp-") > 0;
        latest = check_after_kill(f, out, latest, &s);
    }
    printf("kill -9: %d kills (%.1f ms per save), %d cut a save short, latest step %ld\n", KILLS,
           per_save * 1e3, with_leftovers, latest);
    if (with_leftovers < KILLS / 4 || latest < 5)
        fail_msg("too few kills landed inside a save (%d) or too few saves (%ld): the test "
                 "did not test", with_leftovers, latest);

    /* an uninterrupted save then tidies everything and resumes where it stopped */
    must_save(f, out, latest + 1, 2);
    assert_int_equal(count_entries(out, ".semb-tmp-"), 0);
    assert_int_equal(count_entries(out, "checkpoint-"), 2);
    semb_model *m = NULL;
    semb_error err = {0};
    if (semb_model_load(out, &m, &err))
        fail_msg("%s", err.message);
    assert_memory_equal(m->params.arena, f->model->params.arena,
                        m->params.arena_floats * sizeof(float));
    semb_model_free(m);
    free_scratch(&s);
    free(out);
    free(calibrate);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_round_trip_bit_exact, setup, teardown),
        cmocka_unit_test_setup_teardown(test_resume_is_bit_identical, setup, teardown),
        cmocka_unit_test_setup_teardown(test_corrupt_checkpoints_fail_naming_the_file, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_mismatched_model_is_an_error, setup, teardown),
        cmocka_unit_test(test_rng_encoding),
        cmocka_unit_test(test_options_compare),
        cmocka_unit_test_setup_teardown(test_keep_and_replace, setup, teardown),
        cmocka_unit_test_setup_teardown(test_extra_files_are_published, setup, teardown),
        cmocka_unit_test_setup_teardown(test_kill_during_save_never_corrupts, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
