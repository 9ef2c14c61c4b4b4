/* Multi-head self-attention over a packed batch: sequences laid end to end, sequence s
 * owning rows cu_seqlens[s] .. cu_seqlens[s+1]. Each sequence attends only to itself, so
 * there is no padding and no mask.
 *
 * q, k, v: [total_tokens, n_heads * head_dim] with row stride ld (so they may be slices of
 * one fused QKV buffer). out: [total_tokens, n_heads * head_dim], row stride n_heads*head_dim.
 * scores = q·k^T * scale (+ bias), softmax over keys, out = probs · v.
 *
 * Relative position bias (MPNet): when position_bias is non-NULL it is
 * [n_heads][2 * max_distance - 1], and the bias added to score (i, j) of head h is
 * position_bias[h * (2*max_distance-1) + (j - i) + max_distance - 1]; every sequence must
 * be at most max_distance long.
 *
 * probs: NULL, or [sum over sequences of n_heads * L * L] floats where the softmax
 * probabilities are saved for the backward pass (sequence by sequence, head-major).
 * Work buffers are allocated inside (one L x L tile per thread); returns SEMB_ERR_NOMEM
 * if that fails, SEMB_ERR_INVALID_ARG if cu_seqlens decreases or a sequence is longer than
 * max_distance while position_bias is given (nothing is written then). The caller owns
 * every buffer. Parallel (OpenMP, dynamic) over (sequence, head) items. */
#ifndef SEMB_KERNELS_ATTENTION_H
#define SEMB_KERNELS_ATTENTION_H

#include <stddef.h>

#include "kernels/dropout.h"
#include "kernels/kernel_path.h"
#include "semb.h"

/* The fast path: per-thread tiles, AVX2 products and softmax for short sequences, oneDNN
 * products for long ones (oneDNN also on the generic path: SEMB_CPU does not reach it). */
semb_status attention_forward(float *out, float *probs, const float *q, const float *k,
                       const float *v, int ld, const int *cu_seqlens, int n_seqs, int n_heads,
                       int head_dim, float scale, const float *position_bias, int max_distance);
/* The scalar reference: every score, softmax and sum in double, serial; keeps one row of
 * L doubles on the stack. Never fails on valid arguments. */
void attention_forward_reference(float *out, float *probs, const float *q, const float *k,
                                 const float *v, int ld, const int *cu_seqlens, int n_seqs,
                                 int n_heads, int head_dim, float scale,
                                 const float *position_bias, int max_distance);

/* attention_forward on a chosen path (for tests and benchmarks); a path this CPU lacks runs
 * as KERNEL_PATH_GENERIC. */
semb_status attention_forward_using(kernel_path path, float *out, float *probs, const float *q,
                                    const float *k, const float *v, int ld,
                                    const int *cu_seqlens, int n_seqs, int n_heads, int head_dim,
                                    float scale, const float *position_bias, int max_distance);

/* ---- training ----
 * attention_forward_train is attention_forward with dropout on the attention probabilities,
 * as Hugging Face applies nn.Dropout to the softmax output before probs · v: probs (when
 * non-NULL) receives the probabilities BEFORE dropout, and out = dropped(probs) · v. The
 * dropout element index of a probability is its index in the probs layout above (whether
 * or not probs is saved), so attention_backward regenerates the same mask. With dropout.p
 * = 0 it is attention_forward. Errors and threads as attention_forward; work buffers grow
 * by one L x L tile per thread when dropout is active. The _reference (as
 * attention_forward_reference, the mask applied in double) and _using variants are as
 * above. */
semb_status attention_forward_train(float *out, float *probs, const float *q, const float *k,
                                    const float *v, int ld, const int *cu_seqlens, int n_seqs,
                                    int n_heads, int head_dim, float scale,
                                    const float *position_bias, int max_distance,
                                    dropout_spec dropout);
void attention_forward_train_reference(float *out, float *probs, const float *q, const float *k,
                                       const float *v, int ld, const int *cu_seqlens, int n_seqs,
                                       int n_heads, int head_dim, float scale,
                                       const float *position_bias, int max_distance,
                                       dropout_spec dropout);
semb_status attention_forward_train_using(kernel_path path, float *out, float *probs,
                                          const float *q, const float *k, const float *v, int ld,
                                          const int *cu_seqlens, int n_seqs, int n_heads,
                                          int head_dim, float scale, const float *position_bias,
                                          int max_distance, dropout_spec dropout);

/* The backward of attention_forward_train, ACCUMULATED into every gradient (the caller
 * zeroes them):
 *   d_q, d_k, d_v: [total_tokens, n_heads * head_dim] with row stride ld, like q, k, v (they
 *     may be the three slices of one fused d_qkv buffer); any may be NULL and is skipped.
 *   d_position_bias: [n_heads][2 * max_distance - 1], the gradient of position_bias by
 *     relative distance, or NULL when there is no bias.
 * d_out is the gradient of out (row stride n_heads * head_dim); q, k, v, scale and the
 * packing are the forward's, probs (required) the probabilities it saved, before dropout,
 * and dropout its spec (the mask is regenerated from dropout.key). The gradients must not overlap the
 * inputs. Each (sequence, head) item writes only its own rows and columns of d_q, d_k and
 * d_v; its share of the bias gradient goes to a buffer of its own, and the shares are added
 * in sequence order afterwards: the same bits on any thread count. Work buffers are
 * allocated inside (per thread an L x L tile, two with dropout; 2L - 1 floats per item for
 * the bias); returns SEMB_ERR_NOMEM if that fails and SEMB_ERR_INVALID_ARG for bad packing
 * (as the forward, with d_position_bias in place of position_bias); nothing is written
 * then. Parallel (OpenMP, dynamic) over (sequence, head) items. */
semb_status attention_backward(float *d_q, float *d_k, float *d_v, float *d_position_bias,
                               const float *d_out, const float *q, const float *k, const float *v,
                               int ld, const float *probs, const int *cu_seqlens, int n_seqs,
                               int n_heads, int head_dim, float scale, int max_distance,
                               dropout_spec dropout);

/* The scalar reference: every product and sum in double, serial, each gradient entry
 * rounded once. Allocates longest^2 + n_heads (2 max_distance - 1) doubles
 * (SEMB_ERR_NOMEM). */
semb_status attention_backward_reference(float *d_q, float *d_k, float *d_v,
                                         float *d_position_bias, const float *d_out,
                                         const float *q, const float *k, const float *v, int ld,
                                         const float *probs, const int *cu_seqlens, int n_seqs,
                                         int n_heads, int head_dim, float scale,
                                         int max_distance, dropout_spec dropout);

/* attention_backward on a chosen path (for tests and benchmarks): AVX2 takes
 * small_gemm_avx2 for short sequences and AVX2 softmax rows, generic oneDNN products and
 * scalar rows; a path this CPU lacks runs as KERNEL_PATH_GENERIC. */
semb_status attention_backward_using(kernel_path path, float *d_q, float *d_k, float *d_v,
                                     float *d_position_bias, const float *d_out, const float *q,
                                     const float *k, const float *v, int ld, const float *probs,
                                     const int *cu_seqlens, int n_seqs, int n_heads,
                                     int head_dim, float scale, int max_distance,
                                     dropout_spec dropout);

#endif
