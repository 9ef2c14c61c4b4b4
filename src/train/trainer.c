/* semb_train: the training loop, top to bottom. Data in file order or shuffled per epoch,
 * MultipleNegativesRankingLoss gradients (GradCache when asked), clipping, AdamW with a
 * schedule, a JSONL log, and the model saved at the end. */
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/timer.h"
#include "io/safetensors.h"
#include "train/adamw.h"
#include "train/lr_schedule.h"
#include "train/model_save.h"
#include "train/train_step.h"
#include "train/training_data.h"

semb_train_options semb_train_options_default(void)
{
    return (semb_train_options){
        .batch_size = 32, .steps = 1000, .lr = 2e-5, .warmup_steps = -1, .scheduler = "linear",
        .weight_decay = 0.01, .max_grad_norm = 1.0, .similarity = "cosine", .scale = 0,
        .dropout = -1, .shuffle = 1, .seed = 42};
}

typedef struct tokenized_data {
    int32_t **ids;
    int *counts;
    size_t n;
} tokenized_data;

static void tokenized_data_free(tokenized_data *t)
{
    for (size_t i = 0; t->ids && i < t->n; i++)
        free(t->ids[i]);
    free(t->ids);
    free(t->counts);
}

static semb_status tokenize_texts(const semb_model *m, char **texts, size_t n, tokenized_data *out,
                                  semb_error *err)
{
    out->n = n;
    out->ids = calloc(n, sizeof *out->ids);
    out->counts = calloc(n, sizeof *out->counts);
    if (!out->ids || !out->counts)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory tokenizing %zu texts", n);
    int failed = 0;
#pragma omp parallel for schedule(dynamic, 256) reduction(| : failed)
    for (size_t i = 0; i < n; i++) {
        size_t count;
        if (semb_tokenize(m, texts[i], strlen(texts[i]), &out->ids[i], &count, NULL) != SEMB_OK)
            failed = 1;
        out->counts[i] = (int)count;
    }
    if (failed)
        return semb_fail(err, SEMB_ERR_INPUT, "a training text could not be tokenized");
    return SEMB_OK;
}

/* Which examples make up each step: file order wrapping around, or a fresh permutation per
 * pass over the data. */
typedef struct example_order {
    size_t *perm;
    size_t n, next;
    bool shuffle;
    rng_state rng;
} example_order;

static void reshuffle(example_order *o)
{
    for (size_t i = 0; i < o->n; i++)
        o->perm[i] = i;
    if (!o->shuffle)
        return;
    for (size_t i = o->n - 1; i > 0; i--) {
        size_t j = (size_t)(rng_next_u64(&o->rng) % (i + 1));
        size_t t = o->perm[i];
        o->perm[i] = o->perm[j];
        o->perm[j] = t;
    }
}

static size_t next_example(example_order *o)
{
    if (o->next == o->n) {
        o->next = 0;
        reshuffle(o);
    }
    return o->perm[o->next++];
}

/* Called before each batch of batch_size examples. Shuffled, a batch never straddles two
 * passes (it could hold the same example twice, its positive then one of its own in-batch
 * negatives): the remainder of a pass is dropped, as a DataLoader with drop_last does, and the
 * next pass starts. In file order a batch wraps around the end (no repeats: batch <= n). */
static void start_batch(example_order *o, size_t batch_size)
{
    if (o->shuffle && o->n - o->next < batch_size)
        o->next = o->n;
}

/* The first step's gradients with Hugging Face names, plus the loss. */
static semb_status dump_gradients(const char *path, const encoder_params *grads, double loss,
                                  semb_error *err)
{
    safetensors_entry *e = calloc(grads->n_tensors + 1, sizeof *e);
    char (*names)[160] = calloc(grads->n_tensors, sizeof *names);
    if (!e || !names) {
        free(e);
        free(names);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    size_t n = 0;
    for (size_t i = 0; i < grads->n_tensors; i++) {
        const param_tensor *t = &grads->tensors[i];
        if (!t->trainable)
            continue;
        snprintf(names[n], sizeof names[n], "%s%s", grads->name_prefix, t->name);
        e[n] = (safetensors_entry){.name = names[n], .dtype = SAFETENSORS_F32, .ndim = t->ndim,
                                   .shape = {t->shape[0], t->shape[1]},
                                   .data = grads->arena + t->offset};
        n++;
    }
    e[n++] = (safetensors_entry){.name = "loss", .dtype = SAFETENSORS_F64, .ndim = 1,
                                 .shape = {1}, .data = &loss};
    semb_status st = safetensors_write(path, e, n, NULL, err);
    free(e);
    free(names);
    return st;
}

typedef struct trainer {
    const semb_train_options *o;
    semb_model *model;
    training_data data;
    tokenized_data tokens;
    encoder_params grads;
    adamw_state adam;
    param_tensor *trainable;
    size_t n_trainable;
    lr_schedule schedule;
    train_step_config step_cfg;
    train_step_state step_state;
    example_order order;
    const int32_t **batch_ids;
    int *batch_counts;
    FILE *log;
} trainer;

static void trainer_free(trainer *t)
{
    semb_model_free(t->model);
    training_data_free(&t->data);
    tokenized_data_free(&t->tokens);
    encoder_params_free(&t->grads);
    adamw_state_free(&t->adam);
    free(t->trainable);
    train_step_state_free(&t->step_state);
    free(t->order.perm);
    free(t->batch_ids);
    free(t->batch_counts);
    if (t->log)
        fclose(t->log);
}

static semb_status configure(trainer *t, semb_error *err)
{
    const semb_train_options *o = t->o;
    const encoder_config *cfg = &t->model->config;
    mnrl_config *loss = &t->step_cfg.loss;
    if (!o->similarity || strcmp(o->similarity, "cosine") == 0)
        loss->similarity = SIMILARITY_COSINE;
    else if (strcmp(o->similarity, "dot") == 0)
        loss->similarity = SIMILARITY_DOT;
    else
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--similarity: '%s' is not cosine or dot",
                         o->similarity);
    loss->scale = o->scale > 0 ? (float)o->scale : loss->similarity == SIMILARITY_COSINE ? 20.0f : 1.0f;
    loss->symmetric = o->symmetric;
    t->step_cfg.mini_batch_size = o->mini_batch_size;
    t->step_cfg.hidden_dropout = o->dropout >= 0 ? (float)o->dropout : cfg->hidden_dropout;
    t->step_cfg.attention_dropout = o->dropout >= 0 ? (float)o->dropout : cfg->attention_dropout;
    int warmup = o->warmup_steps >= 0 ? o->warmup_steps
                 : (o->steps / 10 < 500 ? o->steps / 10 : 500);
    const char *scheduler = o->scheduler ? o->scheduler : "linear";
    if (strcmp(scheduler, "linear") != 0 && strcmp(scheduler, "constant") != 0 &&
        strcmp(scheduler, "cosine") != 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "--scheduler: '%s' is not linear, constant or cosine", scheduler);
    semb_status st = lr_schedule_create(scheduler, warmup, o->steps, &t->schedule, err);
    if (st)
        return st;
    t->trainable = calloc(t->model->params.n_tensors, sizeof *t->trainable);
    if (!t->trainable)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < t->model->params.n_tensors; i++)
        if (t->model->params.tensors[i].trainable)
            t->trainable[t->n_trainable++] = t->model->params.tensors[i];
    return SEMB_OK;
}

/* Option values the library cannot work with, each error naming its flag. (Negative
 * warmup_steps and dropout, and scale and mini_batch_size <= 0, mean "the default".) */
static semb_status check_options(const semb_train_options *o, semb_error *err)
{
    if (!o->model_dir || !o->data_path || !o->output_dir)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--model, --data and --output are required");
    if (o->batch_size < 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--batch-size: %d is not a positive number",
                         o->batch_size);
    if (o->steps < 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--steps: %d is not a positive number",
                         o->steps);
    if (!(o->lr >= 0) || !isfinite(o->lr))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--lr: %g is not a finite number >= 0", o->lr);
    if (!(o->weight_decay >= 0) || !isfinite(o->weight_decay))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--weight-decay: %g is not a finite number >= 0",
                         o->weight_decay);
    if (isnan(o->max_grad_norm))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--max-grad-norm: %g is not a number",
                         o->max_grad_norm);
    if (!isfinite(o->scale))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--scale: %g is not a finite number", o->scale);
    if (!(o->dropout < 1))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--dropout: %g is not in [0, 1)", o->dropout);
    return SEMB_OK;
}

/* Skipped lines: each of the first few with its file:line and reason, then the count. */
static void report_skipped(const training_data *d, const char *path)
{
    if (!d->skipped)
        return;
    for (size_t i = 0; i < d->skipped && i < TRAINING_DATA_REPORTED; i++)
        fprintf(stderr, "semb train: warning: %s; line skipped\n", d->skipped_where[i]);
    fprintf(stderr, "semb train: warning: %s: skipped %zu of %zu lines", path, d->skipped,
            d->n_lines);
    if (d->skipped > TRAINING_DATA_REPORTED)
        fprintf(stderr, " (the first %d listed above)", TRAINING_DATA_REPORTED);
    fprintf(stderr, "; training on %zu examples\n", d->n_examples);
}

static semb_status setup(trainer *t, semb_error *err)
{
    const semb_train_options *o = t->o;
    semb_status st = check_options(o, err);
    /* Before any work: an output we could not save to would waste the whole run. */
    if (st || (st = model_save_check_output(o->output_dir, err)))
        return st;
    if ((st = semb_model_load(o->model_dir, &t->model, err)) || (st = configure(t, err)))
        return st;
    if ((st = training_data_load(o->data_path, &t->data, err)))
        return st;
    report_skipped(&t->data, o->data_path);
    if ((size_t)o->batch_size > t->data.n_examples)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "%s: --batch-size %d is larger than the data (%zu usable examples)",
                         o->data_path, o->batch_size, t->data.n_examples);
    size_t width = (size_t)(2 + t->data.n_negatives);
    if ((st = tokenize_texts(t->model, t->data.texts, t->data.n_examples * width, &t->tokens, err)))
        return st;
    bool has_pooler = t->model->params.pooler_weight != NULL;
    if ((st = encoder_params_create(&t->model->config, has_pooler, &t->grads, err)) ||
        (st = adamw_state_create(t->model->params.arena_floats, &t->adam, err)))
        return st;
    memcpy(t->grads.name_prefix, t->model->params.name_prefix, sizeof t->grads.name_prefix);
    t->order = (example_order){.n = t->data.n_examples, .next = t->data.n_examples,
                               .shuffle = o->shuffle, .perm = malloc(t->data.n_examples * sizeof(size_t))};
    rng_seed(&t->order.rng, o->seed);
    t->batch_ids = malloc((size_t)o->batch_size * width * sizeof *t->batch_ids);
    t->batch_counts = malloc((size_t)o->batch_size * width * sizeof *t->batch_counts);
    if (!t->order.perm || !t->batch_ids || !t->batch_counts)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (o->log_path && !(t->log = fopen(o->log_path, "w")))
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", o->log_path, strerror(errno));
    return SEMB_OK;
}

/* Column layout: anchors of the batch, then positives, then each negative column. */
static text_batch next_batch(trainer *t)
{
    int B = t->o->batch_size, width = 2 + t->data.n_negatives;
    start_batch(&t->order, (size_t)B);
    for (int b = 0; b < B; b++) {
        size_t ex = next_example(&t->order);
        for (int c = 0; c < width; c++) {
            size_t text = ex * (size_t)width + (size_t)c;
            t->batch_ids[c * B + b] = t->tokens.ids[text];
            t->batch_counts[c * B + b] = t->tokens.counts[text];
        }
    }
    return (text_batch){B, t->data.n_negatives, t->batch_ids, t->batch_counts};
}

static semb_status train_loop(trainer *t, semb_error *err)
{
    const semb_train_options *o = t->o;
    encoder_params *params = &t->model->params;
    adamw_config adam = adamw_config_default();
    adam.weight_decay = o->weight_decay;
    double start = timer_seconds();
    for (int step = 0; step < o->steps; step++) {
        double t0 = timer_seconds();
        text_batch batch = next_batch(t);
        memset(t->grads.arena, 0, t->grads.arena_floats * sizeof(float));
        t->step_cfg.dropout_key = rng_hash_u64(o->seed, (uint64_t)step);
        double loss;
        semb_status st = train_step_gradients(&t->step_state, t->model, &batch, &t->step_cfg,
                                              &t->grads, &loss, err);
        if (st)
            return semb_fail_prefix(err, "step %d: ", step);
        if (step == 0 && o->dump_gradients_path &&
            (st = dump_gradients(o->dump_gradients_path, &t->grads, loss, err)))
            return st;
        double norm = 0;
        if (o->max_grad_norm > 0 &&
            (st = grad_clip_norm(t->grads.arena, t->grads.arena_floats, o->max_grad_norm, &norm, err)))
            return st;
        if (!isfinite(loss) || !isfinite(norm))
            return semb_fail(err, SEMB_ERR_INPUT, "step %d: loss %g, gradient norm %g: training diverged",
                             step, loss, norm);
        double lr = lr_schedule_lr(&t->schedule, o->lr, step);
        if ((st = adamw_step(&adam, &t->adam, lr, params->arena, t->grads.arena, t->trainable,
                             t->n_trainable, err)))
            return st;
        double seconds = timer_seconds() - t0;
        if (t->log) {
            fprintf(t->log, "{\"step\": %d, \"loss\": %.9g, \"lr\": %.9g, \"grad_norm\": %.9g, "
                            "\"pairs_per_s\": %.2f}\n",
                    step + 1, loss, lr, norm, (double)o->batch_size / seconds);
            fflush(t->log);
        }
        if (o->progress)
            fprintf(stderr, "\rstep %d/%d  loss %.4f  lr %.3g  %.1f pairs/s  %.0f s   ", step + 1,
                    o->steps, loss, lr, (double)o->batch_size / seconds, timer_seconds() - start);
    }
    if (o->progress)
        fputc('\n', stderr);
    return SEMB_OK;
}

semb_status semb_train(const semb_train_options *o, semb_error *err)
{
    trainer t = {.o = o};
    semb_status st = setup(&t, err);
    if (!st)
        st = train_loop(&t, err);
    if (!st)
        st = model_save(t.model, o->output_dir, err);
    trainer_free(&t);
    return st;
}
