/* Pieces shared by the inference (encoder.c) and training (encoder_train.c) passes. */
#ifndef SEMB_MODEL_ENCODER_INTERNAL_H
#define SEMB_MODEL_ENCODER_INTERNAL_H

#include "model/encoder.h"

/* Checks offsets, lengths against the position limit, and ids against the vocabulary. */
semb_status encoder_validate_batch(const encoder_config *cfg, const packed_batch *batch,
                                   semb_error *err);

/* out[T, H] = word + position (+ token type 0) embeddings, before the LayerNorm. */
void encoder_embeddings_sum(const encoder_config *cfg, const encoder_params *params,
                            const packed_batch *batch, float *out);

/* MPNet: out[heads][2 * max_len - 1] = relative_attention_bias[bucket(distance)][head]. */
void encoder_fill_position_bias(const encoder_config *cfg, const encoder_params *params,
                                int max_len, float *out);

#endif
