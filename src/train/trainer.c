/* semb_train_run: the training loop, top to bottom. Batches from the sampler (several files,
 * weighted, shuffled per pass), tokenized as they come, the loss's gradients (train/loss.h:
 * MultipleNegativesRankingLoss; GradCache when asked), clipping, AdamW with a schedule, a JSONL log, and the model saved
 * at the end. */
#include <errno.h>
#include <limits.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/timer.h"
#include "io/safetensors.h"
#include "train/adamw.h"
#include "train/loss.h"
#include "train/lr_schedule.h"
#include "train/model_save.h"
#include "train/output_lock.h"
#include "train/train_step.h"
#include "model/sentence_model.h"
#include "train/data_config.h"
#include "io/line_source.h"
#include "train/sampler.h"
#include "train/checkpoint.h"
#include "train/model_card.h"
#include "train/train_log.h"
#include "train/train_record.h"
#include "core/progress.h"
#include "eval/sts_eval.h"
#include "io/files.h"

semb_train_options semb_train_options_default(void)
{
    return (semb_train_options){
        .batch_size = 32, .steps = 1000, .lr = 2e-5, .warmup_steps = -1, .scheduler = "linear",
        .weight_decay = 0.01, .max_grad_norm = 1.0, .similarity = "cosine", .scale = 0,
        .dropout = -1, .shuffle = 1, .seed = 42, .datasets_per_batch = 2,
        .shuffle_buffer = 10000, .max_line_bytes = 1 << 20, .log_every = 1,
        .keep_checkpoints = 2};
}

/* The token ids of one batch's texts, in the sampler's column layout. */
typedef struct batch_tokens {
    int32_t **ids;
    int *counts;
    size_t n, cap;
} batch_tokens;

static void batch_tokens_clear(batch_tokens *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->ids[i]);
    t->n = 0;
}

static void batch_tokens_free(batch_tokens *t)
{
    batch_tokens_clear(t);
    free(t->ids);
    free(t->counts);
}

static semb_status tokenize_batch(const semb_model *m, const sampler_batch *b, batch_tokens *out,
                                  semb_error *err)
{
    batch_tokens_clear(out);
    size_t n = (size_t)b->batch_size * (size_t)(2 + b->n_negatives);
    if (n > out->cap) {
        free(out->ids);
        free(out->counts);
        out->ids = calloc(n, sizeof *out->ids);
        out->counts = calloc(n, sizeof *out->counts);
        out->cap = out->ids && out->counts ? n : 0;
        if (!out->cap)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory tokenizing %zu texts", n);
    }
    int failed = 0;
    /* A text takes ~1-2 us: below a few chunks, waking the team costs more than it saves */
#pragma omp parallel for schedule(dynamic, 64) reduction(| : failed) if (n >= 256)
    for (size_t i = 0; i < n; i++) {
        size_t count = 0;
        out->ids[i] = NULL;
        if (semb_tokenize(m, b->texts[i], b->lengths[i], &out->ids[i], &count, NULL) != SEMB_OK)
            failed = 1;
        out->counts[i] = (int)count;
    }
    out->n = n;
    if (failed) /* the readers checked every text is UTF-8: only memory can be short here */
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory tokenizing a batch");
    return SEMB_OK;
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
    int steps;
    data_sources sources;
    sampler *sampler;
    batch_tokens tokens;
    encoder_params grads;
    adamw_state adam;
    param_tensor *trainable;
    size_t n_trainable;
    lr_schedule schedule;
    train_loss *loss;
    train_step_config step_cfg; /* its loss is loss */
    train_step_state step_state;
    train_log log;         /* --log; fp NULL without one */
    const char *out_dir;   /* output_dir, or resume_dir when resuming */
    output_lock lock;      /* out_dir is this run's alone */
    bool out_is_new;       /* out_dir did not exist: a failed first save removes it again */
    char *start_dir;       /* the folder the model was loaded from (a checkpoint when resuming) */
    char *init_dir;        /* a fresh model made for this run (options.init), removed at the end */
    int warmup_steps;      /* resolved */
    int start_step;        /* steps done before this run */
    int step;              /* steps done so far */
    bool stopped_early;
    double loop_seconds;
    double *step_times;    /* this run's step durations, for the median */
    double data_seconds;   /* this run's time in next_batch (reading, sampling, tokenizing) */
    double optimizer_seconds; /* this run's time in clipping and AdamW */
    train_record record;
    sts_dataset sts;
    bool has_sts;
    progress progress;
} trainer;

static void trainer_free(trainer *t)
{
    semb_model_free(t->model);
    sampler_free(t->sampler);
    data_sources_free(&t->sources);
    batch_tokens_free(&t->tokens);
    encoder_params_free(&t->grads);
    adamw_state_free(&t->adam);
    free(t->trainable);
    train_step_state_free(&t->step_state);
    train_loss_free(t->loss);
    train_log_close(&t->log, NULL); /* a run that fails anyway: its error is the one to tell */
    if (t->init_dir)
        path_remove_tree(t->init_dir);
    free(t->init_dir);
    free(t->start_dir);
    train_record_free(&t->record);
    free(t->step_times);
    if (t->has_sts)
        sts_dataset_free(&t->sts);
    output_lock_release(&t->lock);
}

static semb_status configure(trainer *t, semb_error *err)
{
    const semb_train_options *o = t->o;
    const encoder_config *cfg = &t->model->config;
    semb_status st = train_loss_from_options(o, &t->loss, err);
    if (st)
        return st;
    t->step_cfg.loss = t->loss;
    t->step_cfg.mini_batch_size = o->mini_batch_size;
    t->step_cfg.precision = o->precision;
    t->step_cfg.hidden_dropout = o->dropout >= 0 ? (float)o->dropout : cfg->hidden_dropout;
    t->step_cfg.attention_dropout = o->dropout >= 0 ? (float)o->dropout : cfg->attention_dropout;
    int warmup = o->warmup_steps >= 0 ? o->warmup_steps
                 : (t->steps / 10 < 500 ? t->steps / 10 : 500);
    t->warmup_steps = warmup;
    const char *scheduler = o->scheduler ? o->scheduler : "linear";
    if (strcmp(scheduler, "linear") != 0 && strcmp(scheduler, "constant") != 0 &&
        strcmp(scheduler, "cosine") != 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "--scheduler: '%s' is not linear, constant or cosine", scheduler);
    if ((st = lr_schedule_create(scheduler, warmup, t->steps, &t->schedule, err)))
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
    bool has_data = o->data_path || o->n_data_specs || o->data_config_path;
    if (!has_data || !(o->output_dir || o->resume_dir))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--data and --output (or --resume) are required");
    if (!o->resume_dir && !o->model_dir == !o->init)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "give either --model (a model folder) or --arch (a new model)");
    if (o->save_every < 0 || o->log_every < 0 || o->eval_every < 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--%s: not a positive number",
                         o->save_every < 0 ? "save-every" : o->log_every < 0 ? "log-every" : "eval-every");
    if (!(o->max_minutes >= 0) || !isfinite(o->max_minutes))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--max-minutes: %g is not a positive number",
                         o->max_minutes);
    if (o->batch_size < 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--batch-size: %d is not a positive number",
                         o->batch_size);
    /* GradCache (mini_batch_size) only splits the passes: the loss still sees the batch */
    if (o->batch_size < 2)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "--batch-size: 1 is too small: MultipleNegativesRankingLoss takes the "
                         "other pairs of a batch as negatives, so it needs at least 2");
    if (!(o->epochs > 0) && o->steps < 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--steps: %d is not a positive number",
                         o->steps);
    if (!(o->epochs >= 0) || !isfinite(o->epochs))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--epochs: %g is not a positive number",
                         o->epochs);
    if (o->datasets_per_batch < 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--datasets-per-batch: %d is not a positive "
                         "number", o->datasets_per_batch);
    if (o->shuffle && o->shuffle_buffer < 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--shuffle-buffer: %d is not a positive number",
                         o->shuffle_buffer);
    if (o->max_line_bytes < 1 || o->max_line_bytes > (size_t)1 << 30)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--max-line-bytes: %zu is not in [1, 2^30]",
                         o->max_line_bytes);
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
    if (o->precision == SEMB_COMPUTE_INT8)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "--precision: int8 is for encoding only; train in fp32 or bf16");
    if (o->precision != SEMB_COMPUTE_FP32 && o->precision != SEMB_COMPUTE_BF16)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--precision: %d is not fp32 or bf16",
                         (int)o->precision);
    return SEMB_OK;
}

/* One message of the run to the caller's callback, or to stderr as the CLI prints it. The
 * progress line is cleared first so the message does not land inside it. */
static void trainer_message(trainer *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
static void trainer_message(trainer *t, const char *fmt, ...)
{
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    if (t->o->on_message) {
        t->o->on_message(t->o->message_user, message);
        return;
    }
    if (t->o->progress)
        progress_clear_line(&t->progress);
    fprintf(stderr, "semb train: %s\n", message);
}

/* Data warnings of the readers. */
static void reader_warning(void *user, const char *message)
{
    trainer_message(user, "warning: %s", message);
}

/* The files: --data FILE, --data FILE:WEIGHT..., --data-config. */
static semb_status collect_sources(const semb_train_options *o, data_sources *d, semb_error *err)
{
    semb_status st = SEMB_OK;
    if (o->data_path) {
        char *path = strdup(o->data_path);
        data_source *grown = path ? realloc(d->items, (d->n + 1) * sizeof *grown) : NULL;
        if (!grown) {
            free(path);
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        }
        d->items = grown;
        d->items[d->n++] = (data_source){path, 1.0, -1};
    }
    for (size_t i = 0; !st && i < o->n_data_specs; i++)
        st = data_sources_add_spec(d, o->data_specs[i], err);
    if (!st && o->data_config_path)
        st = data_sources_add_config(d, o->data_config_path, err);
    return st;
}

/* --epochs: its steps from the line counts of all files, counted where no data config gave
 * them (one streaming pass per file). Lines, not usable examples: skipped lines are few. */
static semb_status steps_for_epochs(trainer *t, semb_error *err)
{
    const semb_train_options *o = t->o;
    double lines = 0;
    for (size_t i = 0; i < t->sources.n; i++) {
        uint64_t n = (uint64_t)t->sources.items[i].lines;
        if (t->sources.items[i].lines < 0) {
            semb_status st = line_source_count_lines(t->sources.items[i].path, &n, err);
            if (st)
                return st;
        }
        lines += (double)n;
    }
    double steps = ceil(o->epochs * lines / o->batch_size);
    if (steps > INT_MAX)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--epochs %g: %.0f steps are too many", o->epochs,
                         steps);
    t->steps = steps < 1 ? 1 : (int)steps;
    return SEMB_OK;
}

static semb_status open_data(trainer *t, semb_error *err)
{
    const semb_train_options *o = t->o;
    sampler_options so = {
        .batch_size = o->batch_size, .datasets_per_batch = o->datasets_per_batch,
        .shuffle_buffer = o->shuffle ? (size_t)o->shuffle_buffer : 0, .seed = o->seed,
        .reader = {.max_line_bytes = o->max_line_bytes, .strict = o->strict,
                   .warn = reader_warning, .warn_user = t}};
    return sampler_create(&t->sources, &so, &t->sampler, err);
}

/* At the end: files whose first pass never finished, with lines skipped so far. */
static void report_unfinished(trainer *t)
{
    for (size_t i = 0; i < sampler_dataset_count(t->sampler); i++) {
        sampler_dataset_info d = sampler_dataset(t->sampler, i);
        char blanks[48] = "";
        if (d.blank)
            snprintf(blanks, sizeof blanks, " and %llu blank line%s",
                     (unsigned long long)d.blank, d.blank == 1 ? "" : "s");
        if (!d.counts_final && (d.skipped || d.blank))
            trainer_message(t, "warning: %s: skipped %llu of the first %llu lines read%s", d.path,
                            (unsigned long long)d.skipped, (unsigned long long)d.lines, blanks);
    }
}

/* The settings a resumed run must share with the run it continues: everything that changes
 * the math of the steps still to come, the data files included (by name and weight). */
static json_t *options_json(const trainer *t)
{
    const semb_train_options *o = t->o;
    const train_step_config *c = &t->step_cfg;
    json_t *files = json_array();
    for (size_t i = 0; files && i < t->sources.n; i++) {
        const char *path = t->sources.items[i].path, *slash = strrchr(path, '/');
        json_array_append_new(files, json_pack("{s:s, s:f}", "name", slash ? slash + 1 : path,
                                               "weight", t->sources.items[i].weight));
    }
    if (!files)
        return NULL;
    json_t *options = json_pack(
        "{s:i, s:i, s:i, s:f, s:i, s:s, s:f, s:f, s:f, s:f, s:i, s:b, s:i, s:i, s:s, s:o}",
        "steps", t->steps, "batch_size", o->batch_size, "mini_batch_size",
        o->mini_batch_size > 0 ? o->mini_batch_size : 0, "lr", o->lr, "warmup_steps",
        t->warmup_steps, "scheduler", o->scheduler ? o->scheduler : "linear", "weight_decay",
        o->weight_decay, "max_grad_norm", o->max_grad_norm, "hidden_dropout",
        (double)c->hidden_dropout, "attention_dropout", (double)c->attention_dropout,
        "datasets_per_batch", o->datasets_per_batch, "shuffle", o->shuffle != 0,
        "shuffle_buffer", o->shuffle ? o->shuffle_buffer : 0, "max_seq_length",
        t->model->max_seq_length, "precision", semb_compute_precision_name(o->precision),
        "data", files);
    if (options && t->loss->add_options(t->loss, options)) {
        json_decref(options);
        return NULL;
    }
    return options;
}

/* options_json with the seed, as a decimal string: JSON integers stop at 2^53 in many readers. */
static json_t *resume_options(const trainer *t)
{
    json_t *opts = options_json(t);
    char seed[24];
    snprintf(seed, sizeof seed, "%llu", (unsigned long long)t->o->seed);
    if (opts && json_object_set_new(opts, "seed", json_string(seed))) {
        json_decref(opts);
        return NULL;
    }
    return opts;
}

/* The model to start from: model_dir, a fresh one (options.init) in a temporary folder, or
 * the latest checkpoint of resume_dir. */
static semb_status find_start(trainer *t, semb_error *err)
{
    const semb_train_options *o = t->o;
    if (o->resume_dir) {
        long step;
        return checkpoint_find_latest(o->resume_dir, &t->start_dir, &step, err);
    }
    if (o->model_dir) {
        t->start_dir = strdup(o->model_dir);
        return t->start_dir ? SEMB_OK : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    const char *tmp = getenv("TMPDIR");
    char *base = path_join(tmp && *tmp ? tmp : "/tmp", "semb-init-XXXXXX");
    if (!base || !mkdtemp(base)) {
        free(base);
        return semb_fail(err, SEMB_ERR_IO, "cannot create a temporary folder for the new model: %s",
                         strerror(errno));
    }
    t->init_dir = base;
    t->start_dir = path_join(base, "model");
    if (!t->start_dir)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    return semb_model_init(t->start_dir, o->init, err);
}

/* Resuming: weights, optimizer, step, record and data positions from the latest checkpoint,
 * after checking that this run's settings are the saved ones. */
static semb_status restore(trainer *t, semb_error *err)
{
    checkpoint_state cs = {0};
    semb_status st = checkpoint_load(t->start_dir, &t->model->params, &t->adam, &cs, err);
    if (st)
        return st;
    json_t *current = resume_options(t);
    char *state_path = path_join(cs.path, "trainer_state.json");
    if (!current || !state_path)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    /* checkpoints from before --precision existed were trained in fp32 */
    if (!st && !json_object_get(cs.options, "precision") &&
        json_object_set_new(cs.options, "precision", json_string("fp32")))
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!st)
        st = checkpoint_compare_options(cs.path, cs.options, current, err);
    if (!st && cs.step >= t->steps)
        st = semb_fail(err, SEMB_ERR_INVALID_ARG,
                       "%s: already trained to step %ld of %d; nothing to resume", cs.path,
                       cs.step, t->steps);
    if (!st)
        st = sampler_state_restore(t->sampler, cs.data, err);
    if (!st)
        st = train_record_from_json(&t->record, cs.log_history, state_path, err);
    if (!st)
        t->start_step = t->step = (int)cs.step;
    json_decref(current);
    free(state_path);
    checkpoint_state_free(&cs);
    return st;
}

/* Before any work: the output folder is this run's alone (two runs would delete each
 * other's temporary checkpoints), and a fresh run can save there (an output it could not
 * save to would waste the whole run). */
static semb_status claim_output(trainer *t, semb_error *err)
{
    bool busy;
    semb_status st = output_lock_take(&t->lock, t->out_dir, &busy, err);
    if (busy || t->o->resume_dir)
        return st;
    /* when the lock file cannot be made beside it either, the output's check says why best */
    semb_error check_err = {0};
    semb_status check = model_save_check_output(t->out_dir, &check_err);
    if (check && err)
        *err = check_err;
    return check ? check : st;
}

static semb_status setup(trainer *t, semb_error *err)
{
    const semb_train_options *o = t->o;
    semb_status st = check_options(o, err);
    if (st)
        return st;
    if (o->resume_dir && o->output_dir && strcmp(o->resume_dir, o->output_dir) != 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "--resume %s: a resumed run saves into the folder it resumes from, not "
                         "--output %s", o->resume_dir, o->output_dir);
    t->out_dir = o->resume_dir ? o->resume_dir : o->output_dir;
    if ((st = claim_output(t, err)))
        return st;
    t->out_is_new = !path_exists(t->out_dir);
    if ((st = collect_sources(o, &t->sources, err)))
        return st;
    t->steps = o->steps;
    if (o->epochs > 0 && (st = steps_for_epochs(t, err)))
        return st;
    if (o->eval_sts_path) {
        if ((st = sts_dataset_read(o->eval_sts_path, &t->sts, err)))
            return st;
        t->has_sts = true;
    }
    if ((st = find_start(t, err)) || (st = semb_model_load(t->start_dir, &t->model, err)) ||
        (st = configure(t, err)))
        return st;
    if (o->max_seq_length > 0) {
        if ((st = encoder_config_check_max_length(&t->model->config, o->max_seq_length, NULL,
                                                  "--max-seq-length",
                                                  SEMB_ERR_INVALID_ARG, err)))
            return st;
        t->model->max_seq_length = o->max_seq_length;
    }
    if ((st = open_data(t, err)))
        return st;
    bool has_pooler = t->model->params.pooler_weight != NULL;
    if ((st = encoder_params_create(&t->model->config, has_pooler, &t->grads, err)) ||
        (st = adamw_state_create(t->model->params.arena_floats, &t->adam, err)))
        return st;
    memcpy(t->grads.name_prefix, t->model->params.name_prefix, sizeof t->grads.name_prefix);
    if (o->resume_dir && (st = restore(t, err)))
        return st;
    /* resuming from step N: the steps after N a killed run logged are about to be redone */
    if (o->log_path && (st = train_log_open(&t->log, o->log_path, t->start_step, err)))
        return st;
    return SEMB_OK;
}

/* The sampler's next batch, tokenized, in its column layout: anchors, positives, then each
 * negative column. */
static semb_status next_batch(trainer *t, text_batch *batch, size_t *tokens, semb_error *err)
{
    sampler_batch b;
    semb_status st = sampler_next_batch(t->sampler, &b, err);
    if (!st)
        st = tokenize_batch(t->model, &b, &t->tokens, err);
    if (st)
        return st;
    *batch = (text_batch){b.batch_size, b.n_negatives, (const int32_t *const *)t->tokens.ids,
                          t->tokens.counts};
    *tokens = 0;
    for (size_t i = 0; i < t->tokens.n; i++)
        *tokens += (size_t)t->tokens.counts[i];
    return SEMB_OK;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

/* x for a JSON line: a correlation of constant scores is NaN, which JSON has no word for. */
static const char *json_number_text(double x, char *buf, size_t size)
{
    if (isfinite(x))
        snprintf(buf, size, "%.6g", x);
    else
        snprintf(buf, size, "null");
    return buf;
}

/* STS Spearman on the evaluation file, logged, printed and recorded for the card. Runs
 * between steps: encoding reuses the model's inference workspace, not the training one. */
static semb_status evaluate(trainer *t, semb_error *err)
{
    sts_result r;
    semb_status st = sts_evaluate(t->model, &t->sts, NULL, &r, err);
    if (st)
        return semb_fail_prefix(err, "step %d: evaluation: ", t->step);
    trainer_message(t, "step %d: %s: STS Spearman %.2f, Pearson %.2f (%zu pairs)", t->step,
                    base_name(t->o->eval_sts_path), r.spearman, r.pearson, r.n);
    char spearman[32], pearson[32];
    if (t->log.fp &&
        (st = train_log_line(&t->log, err,
                             "{\"step\": %d, \"eval_sts_spearman\": %s, \"eval_sts_pearson\": %s}",
                             t->step, json_number_text(r.spearman, spearman, sizeof spearman),
                             json_number_text(r.pearson, pearson, sizeof pearson))))
        return st;
    return train_record_eval(&t->record, t->step, "spearman_cosine",
                             base_name(t->o->eval_sts_path), r.spearman, err);
}

/* The model card of the model as it is now (README.md + training_loss.svg). */
static semb_status write_card(const char *dir, void *ctx, semb_error *err)
{
    const trainer *t = ctx;
    const semb_train_options *o = t->o;
    model_card card = {0};
    model_card_describe_model(t->model, &card.model);
    card.model.name = o->model_name;
    card.model.base_model = o->model_dir && !o->resume_dir ? o->model_dir : NULL;
    size_t n = sampler_dataset_count(t->sampler);
    model_card_dataset *datasets = calloc(n ? n : 1, sizeof *datasets);
    model_card_eval *evals = calloc(t->record.n_evals ? t->record.n_evals : 1, sizeof *evals);
    if (!datasets || !evals) {
        free(datasets);
        free(evals);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    for (size_t i = 0; i < n; i++) {
        sampler_dataset_info d = sampler_dataset(t->sampler, i);
        /* before its first pass ends, a file's size is what the data config says, if it does */
        int64_t pairs = d.counts_final ? (int64_t)d.examples
                        : i < t->sources.n ? t->sources.items[i].lines : -1;
        datasets[i] = (model_card_dataset){base_name(d.path), d.weight, pairs,
                                           (int64_t)d.skipped, d.n_negatives};
    }
    for (size_t i = 0; i < t->record.n_evals; i++) {
        const train_eval *e = &t->record.evals[i];
        evals[i] = (model_card_eval){e->dataset, e->metric, e->value, e->step};
    }
    adamw_config adam = adamw_config_default();
    card.datasets = datasets;
    card.n_datasets = n;
    card.hp = (model_card_hyperparameters){
        .batch_size = o->batch_size, .mini_batch_size = o->mini_batch_size,
        .learning_rate = o->lr, .warmup_steps = t->warmup_steps,
        .scheduler = o->scheduler ? o->scheduler : "linear", .weight_decay = o->weight_decay,
        .adam_beta1 = adam.beta1, .adam_beta2 = adam.beta2, .adam_epsilon = adam.eps,
        .max_grad_norm = o->max_grad_norm, .dropout = t->step_cfg.hidden_dropout,
        .steps = t->step, .epochs = o->epochs > 0 ? o->epochs : -1, .seed = o->seed,
        .datasets_per_batch = n > 1 ? o->datasets_per_batch : 0,
        .bf16 = o->precision == SEMB_COMPUTE_BF16,
        .training_seconds = t->record.seconds};
    t->loss->describe(t->loss, &card.hp);
    card.history_steps = t->record.steps;
    card.history_loss = t->record.loss;
    card.history_lr = t->record.lr;
    card.n_history = t->record.n;
    card.final_loss = train_record_recent_loss(&t->record, 50);
    card.evals = evals;
    card.n_evals = t->record.n_evals;
    semb_status st = model_card_write(&card, dir, err);
    free(datasets);
    free(evals);
    return st;
}

static semb_status save_checkpoint(trainer *t, semb_error *err)
{
    json_t *options = resume_options(t), *history = train_record_to_json(&t->record), *data = NULL;
    semb_status st = options && history ? sampler_state_save(t->sampler, &data, err)
                                        : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!st) {
        checkpoint_contents c = {.model = t->model, .adam = &t->adam, .step = t->step,
                                 .options = options, .data = data,
                                 .log_history = history, .write_extra = write_card,
                                 .extra_ctx = t};
        if (t->o->progress)
            progress_clear_line(&t->progress);
        st = checkpoint_save(t->out_dir, &c, t->o->keep_checkpoints, err);
        if (st && t->out_is_new)
            rmdir(t->out_dir); /* only if the failed save left it empty */
    }
    json_decref(options);
    json_decref(history);
    json_decref(data);
    return st;
}

/* The run's cumulative time in each part of a step; a logging interval takes differences. */
typedef struct step_parts {
    double data, optimizer;
    train_step_timing gradients;
} step_parts;

static step_parts step_parts_now(const trainer *t)
{
    return (step_parts){t->data_seconds, t->optimizer_seconds, t->step_state.timing};
}

/* seconds: per step, averaged over the logging interval of steps_in steps that began at
 * `since`; the parts (data_s: getting the batch, the data pipeline runs inside the step;
 * first_pass_s: GradCache's first pass; forward_s, loss_s, backward_s; optimizer_s: clipping
 * and AdamW) are averaged the same way, and what they leave of step_s is bookkeeping. */
static semb_status log_step(trainer *t, double loss, double lr, double norm, double seconds,
                            const step_parts *since, int steps_in, size_t tokens, double elapsed,
                            semb_error *err)
{
    step_parts now = step_parts_now(t);
    const train_step_timing *a = &since->gradients, *b = &now.gradients;
    return train_log_line(
        &t->log, err,
        "{\"step\": %d, \"loss\": %.9g, \"lr\": %.9g, \"grad_norm\": %.9g, \"pairs_per_s\": "
        "%.2f, \"tokens_per_s\": %.0f, \"elapsed_s\": %.3f, \"step_s\": %.6f, "
        "\"data_s\": %.6f, \"first_pass_s\": %.6f, \"forward_s\": %.6f, \"loss_s\": %.6f, "
        "\"backward_s\": %.6f, \"optimizer_s\": %.6f}",
        t->step, loss, lr, norm, (double)t->o->batch_size / seconds,
        (double)tokens / seconds, elapsed, seconds, (now.data - since->data) / steps_in,
        (b->first_pass - a->first_pass) / steps_in, (b->forward - a->forward) / steps_in,
        (b->loss - a->loss) / steps_in, (b->backward - a->backward) / steps_in,
        (now.optimizer - since->optimizer) / steps_in);
}

/* One optimizer step: batch, gradients (GradCache as configured), clipping, AdamW. */
static semb_status one_step(trainer *t, double *loss, double *lr, double *norm, size_t *tokens,
                            semb_error *err)
{
    const semb_train_options *o = t->o;
    int step = t->step;
    text_batch batch;
    double data_start = timer_seconds();
    semb_status st = next_batch(t, &batch, tokens, err);
    t->data_seconds += timer_seconds() - data_start;
    if (st)
        return semb_fail_prefix(err, "step %d: ", step);
    memset(t->grads.arena, 0, t->grads.arena_floats * sizeof(float));
    t->step_cfg.dropout_key = rng_hash_u64(o->seed, (uint64_t)step);
    st = train_step_gradients(&t->step_state, t->model, &batch, &t->step_cfg, &t->grads, loss, err);
    if (st)
        return semb_fail_prefix(err, "step %d: ", step);
    if (step == 0 && o->dump_gradients_path &&
        (st = dump_gradients(o->dump_gradients_path, &t->grads, *loss, err)))
        return st;
    /* The clipping factor is applied as AdamW reads each gradient: one pass over the
     * gradients fewer than clipping them in place first, the same floats. */
    double optimizer_start = timer_seconds();
    *norm = 0;
    adamw_config adam = adamw_config_default();
    if (o->max_grad_norm > 0) {
        *norm = grad_norm(t->grads.arena, t->grads.arena_floats);
        adam.grad_scale = grad_norm_clip_coefficient(o->max_grad_norm, *norm);
    }
    if (!isfinite(*loss) || !isfinite(*norm))
        return semb_fail(err, SEMB_ERR_INPUT, "step %d: loss %g, gradient norm %g: training diverged",
                         step, *loss, *norm);
    adam.weight_decay = o->weight_decay;
    *lr = lr_schedule_lr(&t->schedule, o->lr, step);
    st = adamw_step(&adam, &t->adam, *lr, t->model->params.arena, t->grads.arena, t->trainable,
                    t->n_trainable, err);
    encoder_params_changed(&t->model->params);
    t->optimizer_seconds += timer_seconds() - optimizer_start;
    return st;
}

static semb_status train_loop(trainer *t, semb_error *err)
{
    const semb_train_options *o = t->o;
    double start = timer_seconds(), prior = t->record.seconds;
    if (o->progress)
        progress_init(&t->progress,
                      &(progress_config){.label = "semb train", .total_steps = t->steps,
                                         .first_step = t->start_step, .prior_elapsed_s = prior,
                                         .tty = progress_stream_is_tty(stderr),
                                         .width = progress_stream_width(stderr)},
                      stderr, start);
    semb_status st = SEMB_OK;
    size_t interval_tokens = 0;
    double interval_start = start;
    step_parts interval_parts = step_parts_now(t);
    t->step_times = malloc((size_t)(t->steps - t->start_step) * sizeof *t->step_times);
    if (!t->step_times)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    while (!st && t->step < t->steps) {
        double step_start = timer_seconds();
        double loss = NAN, lr = 0, norm = 0;
        size_t tokens = 0;
        if ((st = one_step(t, &loss, &lr, &norm, &tokens, err)))
            break;
        t->step++;
        double now = timer_seconds();
        t->step_times[t->step - t->start_step - 1] = now - step_start;
        t->record.seconds = prior + (now - start);
        interval_tokens += tokens;
        if ((st = train_record_step(&t->record, t->step, loss, lr, err)))
            break;
        int every = o->log_every > 0 ? o->log_every : 1;
        if (t->log.fp && (t->step % every == 0 || t->step == t->steps)) {
            int steps_in = t->step % every ? t->step % every : every;
            double seconds = (now - interval_start) / steps_in;
            if ((st = log_step(t, train_record_recent_loss(&t->record, (size_t)steps_in), lr,
                               norm, seconds, &interval_parts, steps_in,
                               interval_tokens / (size_t)steps_in, t->record.seconds, err)))
                break;
            interval_tokens = 0;
            interval_start = now;
            interval_parts = step_parts_now(t);
        }
        if (o->progress)
            progress_update(&t->progress, &(progress_step){t->step, loss, lr, o->batch_size}, now);
        bool last = t->step == t->steps;
        t->stopped_early = !last && o->max_minutes > 0 && now - start >= o->max_minutes * 60;
        bool eval_now = t->has_sts && (last || t->stopped_early ||
                                       (o->eval_every > 0 && t->step % o->eval_every == 0));
        if (eval_now && (st = evaluate(t, err)))
            break;
        if (last || t->stopped_early || (o->save_every > 0 && t->step % o->save_every == 0))
            st = save_checkpoint(t, err);
        if (t->stopped_early)
            break;
    }
    t->loop_seconds = timer_seconds() - start;
    if (o->progress)
        progress_finish(&t->progress, timer_seconds());
    return st;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

/* Median of n values (sorted in place); NaN for none. */
static double median(double *v, size_t n)
{
    if (!n)
        return NAN;
    qsort(v, n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : 0.5 * (v[n / 2 - 1] + v[n / 2]);
}

semb_status semb_train_run(const semb_train_options *o, semb_train_result *result,
                           semb_error *err)
{
    trainer t = {.o = o};
    semb_status st = setup(&t, err);
    if (!st)
        st = train_loop(&t, err);
    if (!st)
        st = train_log_close(&t.log, err);
    if (!st)
        report_unfinished(&t);
    if (!st && result) {
        double spearman = NAN;
        for (size_t i = 0; i < t.record.n_evals; i++)
            spearman = t.record.evals[i].value;
        *result = (semb_train_result){t.step, t.steps, t.stopped_early,
                                      train_record_recent_loss(&t.record, 50), t.loop_seconds,
                                      median(t.step_times, (size_t)(t.step - t.start_step)),
                                      spearman, t.data_seconds};
    }
    trainer_free(&t);
    return st;
}
