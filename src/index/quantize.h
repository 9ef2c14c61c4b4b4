/* Embedding quantization as sentence-transformers' quantize_embeddings computes it, and the
 * way back to floats that search scores against.
 *
 * int8: per dimension d, ranges from calibration embeddings give starts[d] = min and
 * steps[d] = (max - min) / 255, all in float32 as numpy computes them; a value x becomes
 * (x - starts[d]) / steps[d] - 128 truncated toward zero (numpy's astype(np.int8)). Where
 * numpy is undefined semb chooses: values outside the calibration range clip to -128 / 127,
 * and a dimension with max == min (step 0) quantizes to -128. Dequantizing takes a bucket's
 * midpoint, starts + (q + 128.5) * steps.
 *
 * binary: bit (x > 0) packed 8 per byte, the first dimension in the highest bit
 * (numpy.packbits, bitorder "big"), each row padded with zero bits to whole bytes (ST's
 * "ubinary"). A bit unpacks to +1 or -1, as ST's rescoring does (unpackbits * 2 - 1). */
#ifndef SEMB_INDEX_QUANTIZE_H
#define SEMB_INDEX_QUANTIZE_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel_path.h"

/* Running per-dimension minimum and maximum of calibration rows. */
typedef struct int8_calibration {
    int dim;
    size_t rows;
    float *min, *max; /* dim each, caller-owned */
} int8_calibration;

/* Starts an empty calibration over caller storage min[dim], max[dim]. */
void int8_calibration_init(int8_calibration *c, int dim, float *min, float *max);

/* Folds n rows of dim floats into the ranges. */
void int8_calibration_add(int8_calibration *c, const float *rows, size_t n);

/* starts[d] = min[d], steps[d] = (max[d] - min[d]) / 255 in float32, from a calibration
 * that saw at least one row. */
void int8_calibration_finish(const int8_calibration *c, float *starts, float *steps);

/* out[n * dim] = the int8 codes of rows[n * dim]. */
void quantize_int8_rows(const float *rows, size_t n, int dim, const float *starts,
                        const float *steps, int8_t *out);

/* out[n * dim] = the bucket midpoints of codes[n * dim]. */
void dequantize_int8_rows(const int8_t *codes, size_t n, int dim, const float *starts,
                          const float *steps, float *out);

/* Bytes of one packed binary row: ceil(dim / 8). */
size_t binary_row_bytes(int dim);

/* out[n * binary_row_bytes(dim)] = the packed sign bits of rows[n * dim]. */
void quantize_binary_rows(const float *rows, size_t n, int dim, uint8_t *out);

/* out[n * dim] = +1 / -1 for the bits of packed rows. */
void unpack_binary_rows(const uint8_t *bits, size_t n, int dim, float *out);

/* The number of differing bits of a[bytes] and b[bytes] (hamming_rows of one pair). */
uint32_t hamming_distance(const uint8_t *a, const uint8_t *b, size_t bytes);

/* out[q * ld + r] = the Hamming distance of query q < nq (at queries + q * row_bytes) to row
 * r < n (at rows + r * row_bytes): the popcnt instruction on 64-bit words where the CPU has
 * it, chosen at run time. Cannot fail. */
void hamming_rows(const uint8_t *queries, size_t nq, const uint8_t *rows, size_t n,
                  size_t row_bytes, uint32_t *out, size_t ld);

/* The same on a chosen path: KERNEL_PATH_AVX2 uses popcnt (every AVX2 CPU has it),
 * KERNEL_PATH_GENERIC portable C; a path this CPU lacks falls back to the portable one. */
void hamming_rows_using(kernel_path path, const uint8_t *queries, size_t nq,
                        const uint8_t *rows, size_t n, size_t row_bytes, uint32_t *out,
                        size_t ld);

/* The distance bit by bit: the reference hamming_rows is tested against. */
uint32_t hamming_distance_reference(const uint8_t *a, const uint8_t *b, size_t bytes);

#endif
