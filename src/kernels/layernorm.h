/* LayerNorm over the last dimension, as torch.nn.LayerNorm (biased variance, eps inside
 * the square root). mean and rstd ([rows]) are saved for the backward pass; either may be
 * NULL when not training. */
#ifndef SEMB_KERNELS_LAYERNORM_H
#define SEMB_KERNELS_LAYERNORM_H

#include "kernels/kernel_path.h"

/* out[rows, C] = (inp - mean) * rstd * weight + bias per row; out may equal inp. mean and
 * rstd get one float per row when non-NULL. Parallel (OpenMP) over rows for large inputs.
 * Cannot fail. */
void layernorm_forward(float *out, float *mean, float *rstd, const float *inp,
                       const float *weight, const float *bias, int rows, int C, float eps);

/* The scalar reference: two passes accumulated in double, serial. */
void layernorm_forward_reference(float *out, float *mean, float *rstd, const float *inp,
                                 const float *weight, const float *bias, int rows, int C,
                                 float eps);

/* out = LayerNorm(a + b): the residual add fused with the norm (out may alias a or b). */
void add_layernorm_forward(float *out, float *mean, float *rstd, const float *a, const float *b,
                           const float *weight, const float *bias, int rows, int C, float eps);

/* The two above on a chosen path (for tests and benchmarks); a path this CPU lacks runs as
 * KERNEL_PATH_GENERIC, whose rows are the reference's. */
void layernorm_forward_using(kernel_path path, float *out, float *mean, float *rstd,
                             const float *inp, const float *weight, const float *bias, int rows,
                             int C, float eps);
void add_layernorm_forward_using(kernel_path path, float *out, float *mean, float *rstd,
                                 const float *a, const float *b, const float *weight,
                                 const float *bias, int rows, int C, float eps);

#endif
