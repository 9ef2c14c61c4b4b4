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

/* The backward of layernorm_forward (and of add_layernorm_forward, whose gradient with
 * respect to a and to b is d_inp), ACCUMULATED into every gradient (the caller zeroes them):
 *   d_inp[rows, C] += rstd (g - mean_c(g) - x_hat mean_c(g x_hat)),  g = weight d_out,
 *   d_weight[C] += sum over rows of d_out x_hat,   d_bias[C] += sum over rows of d_out,
 * with x_hat = (inp - mean) rstd. inp is the LayerNorm's input (for add_layernorm the sum
 * a + b), mean and rstd what the forward saved. Any gradient may be NULL and is then
 * skipped. d_inp must not overlap the inputs. Parallel (OpenMP) over rows for d_inp and over
 * fixed column blocks for d_weight and d_bias, so every sum has one order: the same bits on
 * any thread count. Cannot fail. */
void layernorm_backward(float *d_inp, float *d_weight, float *d_bias, const float *d_out,
                        const float *inp, const float *weight, const float *mean,
                        const float *rstd, int rows, int C);

/* The scalar reference: every row and column sum in double, rounded once into its
 * gradient; serial. */
void layernorm_backward_reference(float *d_inp, float *d_weight, float *d_bias,
                                  const float *d_out, const float *inp, const float *weight,
                                  const float *mean, const float *rstd, int rows, int C);

/* layernorm_backward on a chosen path (for tests and benchmarks); a path this CPU lacks runs
 * as KERNEL_PATH_GENERIC, which gives the reference's bits. */
void layernorm_backward_using(kernel_path path, float *d_inp, float *d_weight, float *d_bias,
                              const float *d_out, const float *inp, const float *weight,
                              const float *mean, const float *rstd, int rows, int C);

#endif
