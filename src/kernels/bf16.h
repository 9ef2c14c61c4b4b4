/* bfloat16: the upper 16 bits of an IEEE float (8 exponent bits, 7 mantissa bits). Rounding
 * is to nearest, ties to even, as PyTorch's float -> bfloat16 conversion and AVX512-BF16's
 * vcvtneps2bf16 do: denormals keep their rounded bits (no flush to zero), a value past the
 * largest bfloat16 becomes infinity, and a NaN stays a NaN (made quiet, sign kept; rounding
 * could otherwise carry a NaN's low mantissa bits into infinity). A bfloat16 value widened
 * back to float is exact, and so is the product of two of them in float. */
#ifndef SEMB_KERNELS_BF16_H
#define SEMB_KERNELS_BF16_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel_path.h"

/* One value, the scalar reference of every routine below. */
uint16_t bf16_from_float(float x);
float bf16_to_float(uint16_t b);

/* out[i] = bf16_from_float(in[i]). The *_using variants run the path given (the generic path
 * when the CPU lacks it); the plain ones the best path. Cannot fail. */
void bf16_from_floats(uint16_t *out, const float *in, size_t n);
void bf16_from_floats_using(kernel_path path, uint16_t *out, const float *in, size_t n);

/* out[i] = bf16_to_float(bf16_from_float(in[i])): the rounded values kept as floats (the
 * emulated bf16 matmul's operands). out may equal in. */
void bf16_round_floats(float *out, const float *in, size_t n);
void bf16_round_floats_using(kernel_path path, float *out, const float *in, size_t n);

/* out[i] = bf16_to_float(in[i]). */
void bf16_to_floats(float *out, const uint16_t *in, size_t n);
void bf16_to_floats_using(kernel_path path, float *out, const uint16_t *in, size_t n);

#endif
