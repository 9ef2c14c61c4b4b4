/* torch.optim.AdamW and torch.nn.utils.clip_grad_norm_ over the model's one parameter
 * arena. Gradients and the two moment buffers mirror the arena float for float, and the
 * tensor table (model/encoder_params.h) says which ranges get weight decay. */
#ifndef SEMB_TRAIN_ADAMW_H
#define SEMB_TRAIN_ADAMW_H

#include <stddef.h>

#include "model/encoder_params.h"
#include "semb.h"

#include "kernels/kernel_path.h"

typedef struct adamw_config {
    double beta1, beta2, eps;
    double weight_decay; /* applied only to tensors whose weight_decay flag is set */
    /* Each gradient is read as grads[i] * grad_scale (one float multiply, as torch's
     * clip_grad_norm_ scales the gradients in place before the step): the clipping factor of
     * grad_norm_clip_coefficient, applied here instead of in a pass of its own. 0 (a
     * zero-initialised config) counts as 1: no clipping factor is ever 0. */
    float grad_scale;
} adamw_config;

/* torch's defaults with transformers' usual decay: betas (0.9, 0.999), eps 1e-8, wd 0.01;
 * grad_scale 1. */
adamw_config adamw_config_default(void);

typedef struct adamw_state {
    float *exp_avg;     /* first moment, one per parameter */
    float *exp_avg_sq;  /* second moment */
    size_t n;           /* floats in the arena */
    long step;          /* steps taken so far; the next step is step + 1 */
} adamw_state;

/* Zeroed moments for an arena of n floats, step 0. Free with adamw_state_free.
 * Errors: SEMB_ERR_NOMEM. */
semb_status adamw_state_create(size_t n, adamw_state *out, semb_error *err);
void adamw_state_free(adamw_state *state);

/* One AdamW step at learning rate lr over every tensor of the table, in torch's order and
 * float arithmetic: p *= 1 - lr·wd (decayed tensors only); m = lerp(m, g, 1 - β1);
 * v = v·β2 + (1 - β2)·g²; p += -(lr / (1 - β1^t)) · m / (sqrt(v) / sqrt(1 - β2^t) + eps).
 * Tensors not marked trainable (BERT's unused pooler) and arena floats outside every tensor
 * are left alone, as torch leaves a parameter that got no gradient. params and the moments
 * change in place; grads are read only.
 * Errors (nothing is changed): SEMB_ERR_INVALID_ARG for an lr that is negative or not
 * finite, or a tensor that reaches past the arena. */
semb_status adamw_step(const adamw_config *cfg, adamw_state *state, double lr, float *params,
                       const float *grads, const param_tensor *tensors, size_t n_tensors,
                       semb_error *err);

/* adamw_step on a chosen path (tests): KERNEL_PATH_AVX2 runs 8 parameters per instruction
 * with the same float operations in the same order (no FMA contraction), so both paths give
 * the same bits; a path this CPU lacks runs as KERNEL_PATH_GENERIC. */
semb_status adamw_step_using(kernel_path path, const adamw_config *cfg, adamw_state *state,
                             double lr, float *params, const float *grads,
                             const param_tensor *tensors, size_t n_tensors, semb_error *err);

/* torch.nn.utils.clip_grad_norm_: the L2 norm of all n gradients (summed in double) is
 * written to *total_norm; if max_norm / (norm + 1e-6) < 1 every gradient is multiplied by
 * that factor. A norm that is not finite leaves the gradients untouched (torch would fill
 * them with NaN): the caller sees it in *total_norm and should skip the step.
 * Errors: SEMB_ERR_INVALID_ARG for max_norm <= 0 or not finite. */
semb_status grad_clip_norm(float *grads, size_t n, double max_norm, double *total_norm,
                           semb_error *err);

/* The L2 norm of n gradients, summed in double over fixed slices (the same bits on any thread
 * count): grad_clip_norm's norm. Cannot fail. */
double grad_norm(const float *grads, size_t n);

/* clip_grad_norm_'s factor for a gradient of norm total_norm: max_norm / (norm + 1e-6) in
 * float when that is below 1, else 1 (also for a norm that is not finite). Multiplying every
 * gradient by it is what grad_clip_norm does. */
float grad_norm_clip_coefficient(double max_norm, double total_norm);

#endif
