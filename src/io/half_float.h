/* 16-bit floating point formats found in safetensors files: IEEE 754 binary16 (F16) and
 * bfloat16 (BF16), widened to float32. Sources are little-endian byte arrays that need not
 * be 2-byte aligned (tensors sit at arbitrary offsets of a file mapping). */
#ifndef SEMB_IO_HALF_FLOAT_H
#define SEMB_IO_HALF_FLOAT_H

#include <stddef.h>
#include <stdint.h>

/* Exact binary16 -> binary32 for every input: zeros, subnormals, infinities; NaNs keep sign
 * and payload and come out quiet, as the F16C instruction makes them. */
float half_to_float(uint16_t bits);

/* Exact bfloat16 -> binary32 (bfloat16 is the top half of a float32). */
float bfloat16_to_float(uint16_t bits);

/* n binary16 values at src to dst. The _scalar and _f16c variants are exposed so tests can
 * compare them; _f16c may only be called when cpu_features()->f16c is set. half_to_float_array
 * picks the fastest one this CPU supports. */
void half_to_float_array(const void *src, float *dst, size_t n);
void half_to_float_array_scalar(const void *src, float *dst, size_t n);
void half_to_float_array_f16c(const void *src, float *dst, size_t n);

/* n bfloat16 values at src to dst. */
void bfloat16_to_float_array(const void *src, float *dst, size_t n);

#endif
