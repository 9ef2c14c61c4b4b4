/* The transformer encoder's forward pass over a packed batch: all tokens of all sentences
 * end to end ([total_tokens, hidden]), sequence s owning rows cu_seqlens[s] ..
 * cu_seqlens[s+1]. Matmuls run over all tokens at once; attention runs per sequence; no
 * padding anywhere. */
#ifndef SEMB_MODEL_ENCODER_H
#define SEMB_MODEL_ENCODER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "model/encoder_config.h"
#include "model/encoder_params.h"
#include "model/packed_batch.h"


/* The layers' four weight matrices packed for gemm_packed (AVX2 CPUs): built on the first
 * forward and again whenever the parameters' version moves. Costs one more copy of the
 * layers' weights (not the embeddings), as ONNX Runtime's pre-packed weights do. */
typedef struct encoder_packed_weights {
    float *arena; /* 64-byte aligned; NULL until built */
    size_t floats;
    uint64_t version; /* encoder_params.version it was packed from */
} encoder_packed_weights;

/* The layers' linear weights quantized for gemm_int8 (SEMB_COMPUTE_INT8), four per layer
 * (qkv, out, ffn_in, ffn_out): made on the first int8 forward and again whenever the
 * parameters' version moves; and the quantized inputs of one product. */
typedef struct encoder_int8_weights {
    struct gemm_int8_weight *weights; /* [4 * layers]; NULL until made */
    int n_weights;
    uint64_t version;
    uint8_t *rows; /* [tokens, row bytes of the widest input] */
    float *row_scale;
    int32_t *row_zero;
    size_t row_capacity, row_bytes;
} encoder_int8_weights;

/* Activation buffers, grown on demand and reused across calls, and the packed weights.
 * Zero-initialise; release with encoder_workspace_free. Not shared between threads. */
typedef struct encoder_workspace {
    float *hidden, *qkv, *context, *projected, *ffn;
    size_t token_capacity;
    float *position_bias; /* MPNet: [heads][2 * max_len - 1] */
    size_t position_bias_capacity;
    encoder_packed_weights packed;
    encoder_int8_weights int8_weights;
} encoder_workspace;

/* The arithmetic of the linear layers in one forward pass. */
typedef struct encoder_linear_mode {
    /* NULL: float32 (or int8 below); else bf16 with these copies of the linear weights
     * (model/encoder_bf16.h), current with the parameters */
    const struct encoder_bf16_weights *bf16;
    bool int8; /* through gemm_int8 (not with bf16) */
} encoder_linear_mode;

void encoder_workspace_free(encoder_workspace *ws);

/* Runs embeddings and every layer. On success *hidden points to [total_tokens, hidden]
 * floats inside ws (valid until the next call). Token ids outside the vocabulary or
 * sequences longer than the position limit give SEMB_ERR_INVALID_ARG; SEMB_ERR_NOMEM when
 * the activations or the packed (or quantized) weights cannot be allocated. With mode.int8
 * the linear layers run through gemm_int8 (weights quantized when the parameters' version
 * moves); with mode.bf16 through linear_forward_bf16; otherwise on AVX2 CPUs through
 * gemm_packed with the bias and activation fused, elsewhere (or under SEMB_CPU=generic)
 * through linear_forward. ws is used by one call at a time. */
semb_status encoder_forward(const encoder_config *cfg, const encoder_params *params,
                            const packed_batch *batch, encoder_linear_mode mode,
                            encoder_workspace *ws, float **hidden, semb_error *err);

/* MPNet's relative position bucket for (key position - query position), exactly as
 * transformers computes it (32 buckets, max distance 128, float32 logarithm). */
int mpnet_relative_position_bucket(int relative_position);

#endif
