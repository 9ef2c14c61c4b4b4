/* Sentence embeddings in training mode: packs token lists, runs the encoder with saved
 * activations, pools and normalises as the model does, and carries a gradient with respect
 * to the sentence embeddings back into the parameter gradients. */
#ifndef SEMB_TRAIN_EMBEDDER_H
#define SEMB_TRAIN_EMBEDDER_H

#include <stdint.h>

#include "model/encoder_train.h"
#include "model/sentence_model.h"

typedef struct embedder {
    encoder_activations activations;
    encoder_dropout dropout;
    packed_batch batch; /* in batch_buffers */
    packed_batch_buffers batch_buffers;
    float *pooled;   /* [n, dim] before normalisation */
    float *d_pooled; /* [n, dim], inside the pooled allocation */
    float *d_tokens; /* [T, H] */
    size_t pooled_capacity, tokens_capacity;
} embedder;

/* Zero-initialise; release with embedder_free. */
void embedder_free(embedder *e);

/* Embeds n token lists (ids[i], counts[i] tokens) into embeddings[n, dim] and keeps what
 * the backward pass needs. Same dropout key, same masks. */
semb_status embedder_forward(embedder *e, const semb_model *model, const int32_t *const *ids,
                             const int *counts, int n, const encoder_dropout *dropout,
                             float *embeddings, semb_error *err);

/* Backpropagates d_embeddings[n, dim] (of the last embedder_forward) and accumulates the
 * parameter gradients into grads (laid out like the model's parameters). */
semb_status embedder_backward(embedder *e, const semb_model *model, const float *d_embeddings,
                              encoder_params *grads, semb_error *err);

#endif
