/* LayerNorm over the last dimension, as torch.nn.LayerNorm (biased variance, eps inside
 * the square root). mean and rstd ([rows]) are saved for the backward pass; either may be
 * NULL when not training. */
#ifndef SEMB_KERNELS_LAYERNORM_H
#define SEMB_KERNELS_LAYERNORM_H

void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, int rows, int C, float eps);
void layernorm_forward_reference(float *out, float *mean, float *rstd, const float *inp,
                                 const float *weight, const float *bias, int rows, int C,
                                 float eps);

/* out = LayerNorm(a + b): the residual add fused with the norm (out may alias a or b). */
void add_layernorm_forward(float *out, float *mean, float *rstd, const float *a, const float *b,
                           const float *weight, const float *bias, int rows, int C, float eps);

#endif
