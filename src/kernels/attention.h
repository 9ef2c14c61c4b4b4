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

#endif
