/* The encoder in training mode: a forward pass that saves exactly the activations the
 * backward pass needs, with dropout where Hugging Face puts it, and the backward pass that
 * accumulates parameter gradients into a gradient arena laid out like the parameters.
 *
 * Dropout masks are never stored: each dropout site draws from a counter-based hash keyed by
 * (key, layer, site), so the backward pass (and a GradCache re-forward of the same chunk
 * with the same key) regenerates exactly the same masks, whatever the thread count. */
#ifndef SEMB_MODEL_ENCODER_TRAIN_H
#define SEMB_MODEL_ENCODER_TRAIN_H

#include <stdint.h>

#include "model/encoder.h"

typedef struct encoder_dropout {
    float hidden;    /* embeddings and sub-layer outputs (hidden_dropout_prob) */
    float attention; /* attention probabilities (attention_probs_dropout_prob) */
    uint64_t key;    /* the masks' seed; same key, same masks */
} encoder_dropout;

/* What one layer's backward needs. Layer l's input is layer l-1's ffn_norm output. */
typedef struct layer_activations {
    float *input;              /* [T, H] */
    float *qkv;                /* [T, 3H] */
    float *probs;              /* softmax probabilities before dropout */
    float *context;            /* [T, H] attention output before the projection */
    float *attn_sum;           /* [T, H] input of the attention LayerNorm */
    float *attn_mean, *attn_rstd;
    float *attn_out;           /* [T, H] attention LayerNorm output */
    float *ffn_pre;            /* [T, I] before the activation */
    float *ffn_act;            /* [T, I] after it */
    float *ffn_sum;            /* [T, H] input of the output LayerNorm */
    float *ffn_mean, *ffn_rstd;
} layer_activations;

typedef struct encoder_activations {
    float *arena;
    size_t arena_floats;
    int total_tokens;          /* of the batch the activations belong to */
    float *embed_sum;          /* [T, H] word + position (+ type) embeddings */
    float *embed_mean, *embed_rstd;
    layer_activations *layers;
    float *output;             /* [T, H] the last layer's output (token embeddings) */
    float *position_bias;      /* MPNet: [heads][2 * max_len - 1] */
    int position_bias_len;     /* max_len it was built for */
    /* Set by the caller before the forward pass: NULL runs the linear layers in float32,
     * else in bf16 with these weight copies (model/encoder_bf16.h), for the backward too. */
    const struct encoder_bf16_weights *bf16;
    /* backward scratch */
    float *d_hidden, *d_next, *d_qkv, *d_context, *d_ffn, *d_ffn_pre, *d_sum, *d_position_bias;
} encoder_activations;

void encoder_activations_free(encoder_activations *a);

/* Forward pass in training mode over a packed batch; on success a->output holds the token
 * embeddings [total_tokens, hidden]. Allocates (or grows) a's buffers. */
semb_status encoder_forward_train(const encoder_config *cfg, const encoder_params *params,
                                  const packed_batch *batch, const encoder_dropout *dropout,
                                  encoder_activations *a, semb_error *err);

/* Backward pass: d_output [total_tokens, hidden] is the gradient of the loss with respect to
 * a->output (it is consumed: overwritten as scratch). Parameter gradients are ACCUMULATED into
 * grads, an encoder_params created with the same config (so its views match params). The
 * batch, dropout and activations must be those of the matching encoder_forward_train. */
semb_status encoder_backward(const encoder_config *cfg, const encoder_params *params,
                             const packed_batch *batch, const encoder_dropout *dropout,
                             encoder_activations *a, float *d_output, encoder_params *grads,
                             semb_error *err);

#endif
