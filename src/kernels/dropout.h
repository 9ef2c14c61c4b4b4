/* Inverted dropout, as torch.nn.Dropout in training: each element is kept with probability
 * 1 - p and then scaled by 1 / (1 - p), or dropped (multiplied by 0, so NaN and inf inputs
 * give NaN, as in PyTorch).
 *
 * The mask is never stored. Element e of a call keyed by `key` is dropped iff
 * rng_hash_uniform(key, e) < p (core/rng.h), a function of (key, e) alone: the backward
 * pass, and a GradCache re-forward of the same chunk, regenerate exactly the same mask from
 * the key, whatever the thread count or kernel path. Callers give every dropout site its
 * own key. */
#ifndef SEMB_KERNELS_DROPOUT_H
#define SEMB_KERNELS_DROPOUT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel_path.h"

typedef struct dropout_spec {
    float p;      /* probability of dropping; 0 (or less, or NaN): identity */
    uint64_t key; /* the mask's seed */
} dropout_spec;

/* Whether spec changes anything at all. */
static inline bool dropout_active(dropout_spec spec)
{
    return spec.p > 0.0f;
}

/* The factor a kept element is multiplied by: 1 / (1 - p), or 0 for p >= 1 (all dropped). */
static inline float dropout_scale(dropout_spec spec)
{
    return spec.p < 1.0f ? 1.0f / (1.0f - spec.p) : 0.0f;
}

/* Element e's factor: 0 when dropped, dropout_scale when kept (1 when spec is inactive). */
float dropout_multiplier(dropout_spec spec, uint64_t e);

/* out[e] = inp[e] * dropout_multiplier(spec, e) for e < n; out may equal inp (no other
 * overlap). Parallel (OpenMP, fixed chunks) for large n. Cannot fail. */
void dropout_forward(float *out, const float *inp, size_t n, dropout_spec spec);

/* The backward: d_inp[e] += dropout_multiplier(spec, e) * d_out[e], ACCUMULATED (the
 * caller zeroes d_inp; NULL: nothing to do); spec must be the forward's. d_inp must not
 * overlap d_out. Parallel as the forward. Cannot fail. */
void dropout_backward(float *d_inp, const float *d_out, size_t n, dropout_spec spec);

/* The scalar references: one element at a time through dropout_multiplier, serial. Every
 * path gives the same bits as these. */
void dropout_forward_reference(float *out, const float *inp, size_t n, dropout_spec spec);
void dropout_backward_reference(float *d_inp, const float *d_out, size_t n, dropout_spec spec);

/* The two above on a chosen path (for tests and benchmarks); a path this CPU lacks runs as
 * KERNEL_PATH_GENERIC. */
void dropout_forward_using(kernel_path path, float *out, const float *inp, size_t n,
                           dropout_spec spec);
void dropout_backward_using(kernel_path path, float *d_inp, const float *d_out, size_t n,
                            dropout_spec spec);

/* multipliers[i] = dropout_multiplier(spec, first + i) for i < n: the mask of a slice of a
 * larger index space (attention drops one head's probabilities at a time). Serial, for use
 * inside a parallel region. Cannot fail. */
void dropout_multipliers(kernel_path path, float *multipliers, size_t n, dropout_spec spec,
                         uint64_t first);

#endif
