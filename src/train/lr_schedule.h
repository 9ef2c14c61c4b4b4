/* Hugging Face transformers' learning-rate schedules, as the LambdaLR multipliers of the
 * base learning rate at optimizer step s (0-based: step 0 runs at the multiplier for s = 0,
 * which is 0 during warmup, as the Hugging Face scheduler does). */
#ifndef SEMB_TRAIN_LR_SCHEDULE_H
#define SEMB_TRAIN_LR_SCHEDULE_H

#include "semb.h"

typedef enum lr_schedule_kind {
    LR_SCHEDULE_LINEAR,   /* get_linear_schedule_with_warmup: down to 0 at total_steps */
    LR_SCHEDULE_CONSTANT, /* get_constant_schedule_with_warmup */
    LR_SCHEDULE_COSINE    /* get_cosine_schedule_with_warmup, half a cycle */
} lr_schedule_kind;

typedef struct lr_schedule {
    lr_schedule_kind kind;
    long warmup_steps;
    long total_steps;
} lr_schedule;

/* Parses "linear", "constant" or "cosine" and checks the step counts.
 * Errors: SEMB_ERR_INVALID_ARG for another name (the message lists the known ones) or a
 * negative step count. */
semb_status lr_schedule_create(const char *name, long warmup_steps, long total_steps,
                               lr_schedule *out, semb_error *err);

/* The multiplier at step s: s / warmup while s < warmup, then
 *   linear:   max(0, (total - s) / (total - warmup))
 *   constant: 1
 *   cosine:   max(0, (1 + cos(pi · progress)) / 2), progress = (s - warmup) / (total - warmup)
 * with every divisor at least 1, as Hugging Face writes them. */
double lr_schedule_factor(const lr_schedule *schedule, long step);

/* base_lr times the multiplier, the learning rate LambdaLR hands the optimizer. */
double lr_schedule_lr(const lr_schedule *schedule, double base_lr, long step);

#endif
