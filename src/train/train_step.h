/* One training step's gradients: embed a batch of (anchor, positive, hard negatives...)
 * texts, a loss over the embeddings (train/loss.h), and the backward pass, either at
 * once or with GradCache (Gao et al., 2021): embed the batch in mini-batches without keeping
 * activations, take the full-batch loss and its gradient w.r.t. every embedding, then re-run
 * each mini-batch forward (same dropout masks) and backward with its cached gradient. Memory
 * grows with the mini-batch size only. Without dropout the result equals the full-batch
 * gradient. With dropout it is the exact gradient of the loss the first pass computed, but
 * not the full batch's: a chunk's masks depend on its key and on positions inside the chunk,
 * so another mini_batch_size is another draw of the masks (as with sentence-transformers'
 * CachedMultipleNegativesRankingLoss). */
#ifndef SEMB_TRAIN_TRAIN_STEP_H
#define SEMB_TRAIN_TRAIN_STEP_H

#include <stdint.h>

#include "model/encoder_bf16.h"
#include "train/embedder.h"
#include "train/loss.h"

/* Token lists of one batch in sentence-transformers' column layout: B anchors, then B
 * positives, then B first hard negatives, ..., then B k-th hard negatives. */
typedef struct text_batch {
    int batch;
    int n_negatives;
    const int32_t *const *ids; /* (2 + n_negatives) * batch lists */
    const int *counts;
} text_batch;

typedef struct train_step_config {
    const train_loss *loss;   /* not owned */
    int mini_batch_size;      /* texts per GradCache chunk; <= 0: the whole batch at once */
    float hidden_dropout, attention_dropout;
    uint64_t dropout_key;     /* fresh per step; chunk c uses a key derived from (key, c) */
    semb_compute_precision precision; /* of the encoder's linear layers, forward and backward */
} train_step_config;

/* Where a step's time goes, in seconds summed over every train_step_gradients call of the
 * state (the caller takes differences): the GradCache first pass (0 without GradCache), the
 * forward passes kept for the backward, the loss with its gradient, the backward passes. */
typedef struct train_step_timing {
    double first_pass, forward, loss, backward;
} train_step_timing;

typedef struct train_step_state {
    embedder embedder;
    train_step_timing timing;
    float *embeddings, *d_embeddings; /* [(2 + k) * B, dim] */
    size_t capacity;
    encoder_bf16_weights bf16; /* SEMB_COMPUTE_BF16: the weights' copies, made each step */
} train_step_state;

void train_step_state_free(train_step_state *s);

/* Accumulates the batch's gradient into grads (the caller zeroes it first) and sets *loss.
 * In bf16 the weights are copied to bfloat16 at the start of the call, so a step's chunks
 * (GradCache) share one copy and an optimizer step in between is always seen. Errors from tokens outside the vocabulary, allocation failures, invalid sizes. */
semb_status train_step_gradients(train_step_state *s, const semb_model *model,
                                 const text_batch *batch, const train_step_config *cfg,
                                 encoder_params *grads, double *loss, semb_error *err);

#endif
