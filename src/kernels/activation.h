/* Element-wise activations of the encoder's feed-forward block, in place allowed. */
#ifndef SEMB_KERNELS_ACTIVATION_H
#define SEMB_KERNELS_ACTIVATION_H

#include <stddef.h>

#include "kernels/kernel_path.h"

typedef enum activation_kind {
    ACTIVATION_GELU,      /* exact: x/2 (1 + erf(x/sqrt 2)); HF "gelu" */
    ACTIVATION_GELU_TANH, /* HF "gelu_new", "gelu_pytorch_tanh" */
    ACTIVATION_RELU
} activation_kind;

/* out[i] = f(inp[i]) for n floats; out may equal inp. Parallel (OpenMP) over chunks for
 * large n. Cannot fail. Accuracy, relative to the exact function, in FLT_EPSILON (measured
 * over all of [-14, 14]; tests allow a little more): GELU 1.2 for x >= 0, 2.3 on
 * [-1.06, 0), 3.5 in the left tail (where the textbook 1 + erf form, and PyTorch's float
 * GELU, lose all relative precision); gelu_tanh within 6 + 6|u| (2.6|u| measured) for its
 * inner u = sqrt(2/pi)(x + 0.044715 x^3): the float rounding of u, which PyTorch shares.
 * The generic path is the reference: 0.5. */
void activation_forward(activation_kind kind, float *out, const float *inp, size_t n);

/* The scalar reference: each element in double through libm (erfc, exp), serial. */
void activation_forward_reference(activation_kind kind, float *out, const float *inp, size_t n);

/* activation_forward on a chosen path (for tests and benchmarks); a path this CPU lacks
 * runs as KERNEL_PATH_GENERIC. */
void activation_forward_using(kernel_path path, activation_kind kind, float *out,
                              const float *inp, size_t n);

/* The backward: d_inp[i] += f'(inp[i]) d_out[i] for n floats, ACCUMULATED (the caller
 * zeroes d_inp; NULL: nothing to do); inp is the forward's input. d_inp must not overlap
 * inp or d_out. ReLU's
 * derivative is PyTorch's: 0 where inp <= 0, 1 elsewhere (NaN included). Parallel (OpenMP)
 * over fixed chunks for large n. Cannot fail. Accuracy of the AVX2 derivative, in
 * FLT_EPSILON relative to the size of its terms (it crosses zero, GELU' near x = -0.75 and
 * gelu_tanh' near -0.77, where no relative bound holds): GELU within 4 of |Phi| + |x phi|
 * (1.8 measured over [-14, 14]); gelu_tanh within 4 + 4|u| of s + |2 x u' s (1 - s)|, s the
 * logistic of 2u (2.3 + 2.3|u| measured: the float rounding of u, as in the forward). The
 * generic path is the reference: f' in double, the product and sum rounded once. */
void activation_backward(activation_kind kind, float *d_inp, const float *inp,
                         const float *d_out, size_t n);

/* The scalar reference: f' in double through libm, d_inp + f' d_out rounded once; serial. */
void activation_backward_reference(activation_kind kind, float *d_inp, const float *inp,
                                   const float *d_out, size_t n);

/* activation_backward on a chosen path (for tests and benchmarks); a path this CPU lacks
 * runs as KERNEL_PATH_GENERIC. */
void activation_backward_using(kernel_path path, activation_kind kind, float *d_inp,
                               const float *inp, const float *d_out, size_t n);

#endif
