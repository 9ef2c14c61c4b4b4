/* Element-wise activations of the encoder's feed-forward block, in place allowed. */
#ifndef SEMB_KERNELS_ACTIVATION_H
#define SEMB_KERNELS_ACTIVATION_H

#include <stddef.h>

typedef enum activation_kind {
    ACTIVATION_GELU,      /* exact: x/2 (1 + erf(x/sqrt 2)); HF "gelu" */
    ACTIVATION_GELU_TANH, /* HF "gelu_new", "gelu_pytorch_tanh" */
    ACTIVATION_RELU
} activation_kind;

void activation_forward(activation_kind kind, float *out, const float *inp, size_t n);
void activation_forward_reference(activation_kind kind, float *out, const float *inp, size_t n);

#endif
