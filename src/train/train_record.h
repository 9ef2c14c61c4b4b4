/* The record of a training run that outlives a resume: the loss and learning rate of every
 * step and the evaluations made, kept in memory for the model card and stored in each
 * checkpoint's trainer_state.json ("log_history", as the Hugging Face trainer names it). */
#ifndef SEMB_TRAIN_TRAIN_RECORD_H
#define SEMB_TRAIN_TRAIN_RECORD_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "semb.h"

/* Steps stored in a checkpoint at most; longer runs keep an even subset (and the last). */
#define TRAIN_RECORD_MAX_SAVED 10000

typedef struct train_eval {
    int64_t step;
    char metric[32];  /* "spearman_cosine" */
    char dataset[64]; /* file name of the evaluation data */
    double value;
} train_eval;

typedef struct train_record {
    int64_t *steps;
    double *loss, *lr;
    size_t n, cap;
    train_eval *evals;
    size_t n_evals, cap_evals;
    double seconds; /* training wall time of all runs so far */
} train_record;

/* Appends one step. Errors: SEMB_ERR_NOMEM. */
semb_status train_record_step(train_record *r, int64_t step, double loss, double lr,
                              semb_error *err);

/* Appends one evaluation result. Errors: SEMB_ERR_NOMEM. */
semb_status train_record_eval(train_record *r, int64_t step, const char *metric,
                              const char *dataset, double value, semb_error *err);

/* Mean loss of the last (up to) `last` finite steps; NaN when there is none. */
double train_record_recent_loss(const train_record *r, size_t last);

/* The Hugging Face trainer's log_history shape: an array of {"step", "loss", "learning_rate"}
 * per step (every step up to TRAIN_RECORD_MAX_SAVED, an even subset beyond), {"step", "metric", "dataset", "value"} per evaluation, and a last
 * {"train_runtime": seconds}. A new reference, NULL when out of memory. Non-finite numbers
 * are stored as null. */
json_t *train_record_to_json(const train_record *r);

/* Replaces r's contents with a record read back from train_record_to_json's form; `path`
 * names the file for errors. Errors: SEMB_ERR_FORMAT naming the field, SEMB_ERR_NOMEM. */
semb_status train_record_from_json(train_record *r, const json_t *value, const char *path,
                                   semb_error *err);

void train_record_free(train_record *r);

#endif
