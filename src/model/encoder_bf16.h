/* bf16 mixed precision for the encoder (PyTorch's autocast to bfloat16 on CPU): the linear
 * layers (forward and both backward products) take bfloat16 inputs and accumulate in
 * float32; attention (scores, softmax, context), LayerNorm, activations, dropout, pooling,
 * the loss and the optimizer stay float32, and so do the master weights in the parameter
 * arena. The linear weights are copied to bfloat16 once per optimizer step (or encode call),
 * not once per matmul. */
#ifndef SEMB_MODEL_ENCODER_BF16_H
#define SEMB_MODEL_ENCODER_BF16_H

#include <stdint.h>

#include "model/encoder.h"

/* One layer's linear weights in bfloat16, the shapes of their float32 masters. */
typedef struct layer_bf16_weights {
    uint16_t *qkv, *out, *ffn_in, *ffn_out;
} layer_bf16_weights;

/* Zero-initialise; release with encoder_bf16_weights_free. */
typedef struct encoder_bf16_weights {
    uint16_t *arena;
    size_t capacity;
    layer_bf16_weights *layers;
    int n_layers;
    uint64_t version; /* encoder_params.version the copies were made from */
} encoder_bf16_weights;

/* (Re)makes the bfloat16 copies of params' linear weights, rounded to nearest even: call
 * after every change to params. Errors: SEMB_ERR_NOMEM (w is then empty). */
semb_status encoder_bf16_weights_refresh(encoder_bf16_weights *w, const encoder_config *cfg,
                                         const encoder_params *params, semb_error *err);

void encoder_bf16_weights_free(encoder_bf16_weights *w);

#endif
