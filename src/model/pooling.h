/* Sentence-transformers' Pooling and Normalize modules over a packed batch. */
#ifndef SEMB_MODEL_POOLING_H
#define SEMB_MODEL_POOLING_H

#include <stdbool.h>

#include "semb.h"

/* Bit flags: a classic Pooling config may turn on several modes at once, and the output is
 * then their concatenation in this order (as sentence-transformers concatenates them). */
typedef enum pooling_mode {
    POOLING_CLS = 1 << 0,
    POOLING_MAX = 1 << 1,
    POOLING_MEAN = 1 << 2,
    POOLING_MEAN_SQRT_LEN = 1 << 3,
    POOLING_WEIGHTED_MEAN = 1 << 4,
    POOLING_LAST_TOKEN = 1 << 5
} pooling_mode;

#define POOLING_MODE_COUNT 6

typedef struct pooling_config {
    unsigned modes;      /* OR of pooling_mode */
    int token_dim;       /* hidden size of the token embeddings */
    bool include_prompt; /* false: a prompt's tokens are left out of the masked modes */
} pooling_config;

/* Reads 1_Pooling/config.json in either form: the newer {"pooling_mode": "mean" or
 * ["cls", "mean"]} or the classic pooling_mode_*_tokens booleans. Errors name the file and
 * field; an unknown mode is SEMB_ERR_UNSUPPORTED. */
semb_status pooling_config_load(const char *path, pooling_config *cfg, semb_error *err);

/* Writes the newer form, atomically. */
semb_status pooling_config_save(const pooling_config *cfg, const char *path, semb_error *err);

/* Parses "mean", "cls", "max", "mean_sqrt_len_tokens", "weightedmean", "lasttoken"
 * (and the *_tokens spellings); 0 if unknown. */
unsigned pooling_mode_from_name(const char *name);
const char *pooling_mode_name(pooling_mode mode);

/* Output dimension: token_dim times the number of modes. */
int pooling_output_dim(const pooling_config *cfg);

/* out[n_seqs, pooling_output_dim] from hidden[total_tokens, token_dim]. */
void pooling_forward(const pooling_config *cfg, const float *hidden, const int *cu_seqlens,
                     int n_seqs, float *out);

/* pooling_forward with the first `skip` tokens of every sequence (at most all of them) left
 * out of mean, max, mean_sqrt_len_tokens and weightedmean, as sentence-transformers' Pooling
 * masks a prompt when include_prompt is false (cls and lasttoken are unaffected; a sequence
 * with nothing left pools to zeros). */
void pooling_forward_skip(const pooling_config *cfg, const float *hidden, const int *cu_seqlens,
                          int n_seqs, int skip, float *out);

/* Backward of pooling_forward: d_hidden[total_tokens, token_dim] += the gradient flowing back
 * from d_out[n_seqs, pooling_output_dim]. hidden is the forward's input (max pooling routes
 * each gradient to the first token holding the maximum, as torch.max does). */
void pooling_backward(const pooling_config *cfg, const float *hidden, const int *cu_seqlens,
                      int n_seqs, const float *d_out, float *d_hidden);

/* In-place L2 normalisation of n rows of length dim, as torch.nn.functional.normalize
 * (divides by max(norm, 1e-12)). */
void normalize_forward(float *x, int n, int dim);

/* Backward of normalize_forward: x is the input before normalisation; d_x += the gradient for
 * d_y (rows of length dim). */
void normalize_backward(const float *x, const float *d_y, float *d_x, int n, int dim);

#endif
