/* The encoder's parameters: one float32 arena, plus a table that names every tensor with
 * its Hugging Face name and shape. Gradients and optimizer state (training) mirror the
 * arena one-for-one, so AdamW, clipping and checkpointing are single loops over it. */
#ifndef SEMB_MODEL_ENCODER_PARAMS_H
#define SEMB_MODEL_ENCODER_PARAMS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "io/safetensors.h"
#include "model/encoder_config.h"

typedef struct param_tensor {
    char name[96];      /* Hugging Face name, without any "bert." style prefix */
    int ndim;           /* 1 or 2 */
    int64_t shape[2];
    const char *shape_keys[2]; /* config.json key behind each dimension (static storage) */
    int layer;          /* the transformer layer it belongs to, or -1 */
    size_t offset;      /* into the arena, in floats */
    size_t numel;
    bool weight_decay;  /* false for biases and LayerNorm weights */
    bool optional;      /* may be absent from a checkpoint (BERT's unused pooler) */
    bool trainable;     /* false for the pooler: sentence embeddings never use it, so it gets
                         * no gradient and the optimizer must leave it (and its decay) alone */
} param_tensor;

/* Views into the arena, one struct per transformer layer. q, k and v are adjacent in the
 * arena (weights [3H, H], then biases [3H]) so one matmul computes all three. */
typedef struct layer_params {
    float *qkv_weight, *qkv_bias;   /* query, key, value stacked */
    float *out_weight, *out_bias;   /* attention output projection */
    float *attn_norm_weight, *attn_norm_bias;
    float *ffn_in_weight, *ffn_in_bias;
    float *ffn_out_weight, *ffn_out_bias;
    float *ffn_norm_weight, *ffn_norm_bias;
} layer_params;

typedef struct encoder_params {
    float *arena;
    size_t arena_floats;
    param_tensor *tensors;
    size_t n_tensors;
    float *word_embeddings, *position_embeddings, *token_type_embeddings; /* last: BERT */
    float *embedding_norm_weight, *embedding_norm_bias;
    float *relative_attention_bias; /* MPNet: [buckets, heads] */
    float *pooler_weight, *pooler_bias; /* BERT/MPNet pooler: carried, not used */
    layer_params *layers;
    char name_prefix[32]; /* prefix the loaded file used ("", "bert.", ...) */
    uint64_t version; /* bumped by encoder_params_changed: caches derived from the weights
                       * (the packed copies of encoder_forward) are rebuilt when it moves */
} encoder_params;

/* Records that the weights in p->arena were changed in place (an optimizer step, a
 * checkpoint restored, ...): every writer after loading must call it, or encoding keeps
 * using packed copies of the old weights. */
void encoder_params_changed(encoder_params *p);

/* Lays out and allocates (zeroed) the parameters for cfg, which must have passed
 * encoder_config_validate. with_pooler adds BERT/MPNet's pooler.dense tensors. Errors:
 * SEMB_ERR_NOMEM. Free with encoder_params_free. */
semb_status encoder_params_create(const encoder_config *cfg, bool with_pooler,
                                  encoder_params *out, semb_error *err);
void encoder_params_free(encoder_params *p);

/* Checks file against cfg before anything the size of the weights is allocated: every
 * tensor cfg implies (with_pooler: BERT/MPNet's pooler too, which may be absent) must be
 * there, with or without the architecture's prefix, of a float dtype (F32, F16, BF16, F64)
 * and of the implied shape. Errors are SEMB_ERR_FORMAT naming the file, the tensor and the
 * config.json key behind the dimension that disagrees (or the layer count, for a missing
 * layer). Tensors the model does not use are ignored, as transformers ignores them, with a
 * warning (semb_set_warning_handler); position_ids buffers of old checkpoints silently. */
semb_status encoder_params_check_file(const encoder_config *cfg, bool with_pooler,
                                      const safetensors_file *file, semb_error *err);

/* Fills every tensor from a safetensors file (F32, F16 or BF16), accepting names with or
 * without the architecture's prefix ("bert.", "distilbert.", "mpnet."). A missing tensor
 * or a shape that disagrees with the config is an error naming the tensor. */
semb_status encoder_params_load(encoder_params *p, const safetensors_file *file,
                                semb_error *err);

/* Hugging Face's initialisation: weights and embeddings normal(0, 0.02), LayerNorm weight
 * 1 and bias 0, other biases 0 (padding row of the word embeddings zeroed as HF does). */
void encoder_params_init_random(encoder_params *p, const encoder_config *cfg, uint64_t seed);

/* Writes every tensor as F32 with its Hugging Face name (and the loaded prefix), atomically. */
semb_status encoder_params_save(const encoder_params *p, const char *path, semb_error *err);

/* The tensor with this (unprefixed) name, or NULL. */
const param_tensor *encoder_params_find(const encoder_params *p, const char *name);

#endif
