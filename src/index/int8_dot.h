/* Float queries against int8 rows, straight from the codes: each code is dequantized in
 * registers (x_d = offsets_d + steps_d * c_d, offsets_d = starts_d + 128.5 steps_d, the
 * bucket midpoint of quantize.h) and multiplied into every query of a small group, so a
 * search reads one byte per dimension and writes no float copy of the corpus. The same pass
 * gives each row's |x|^2, which cosine divides by and euclidean adds.
 *
 * Accuracy: every sum is in float (eight-lane partial sums on AVX2, FMA-contracted; one
 * running sum in the scalar reference), so a score differs from the exact dot product with
 * the bucket midpoints by float rounding only: at most (dim + 4) 2^-24 sum_d |q_d| m_d, where
 * m_d = |offsets_d| + |steps_d c_d| bounds the terms x_d is rounded against (and the same
 * with 2 m_d^2 for |x|^2): the bound tests/test_int8_dot.c checks on both paths. */
#ifndef SEMB_INDEX_INT8_DOT_H
#define SEMB_INDEX_INT8_DOT_H

#include <stddef.h>
#include <stdint.h>

#include "kernels/kernel_path.h"

/* The most queries one call scores; callers split larger sets into groups. */
#define INT8_DOT_MAX_QUERIES 4

/* offsets[dim] = starts + 128.5 * steps, the first term of every dequantized value. */
void int8_dot_offsets(const float *starts, const float *steps, int dim, float *offsets);

/* For rows r < n of codes (row r at codes + r * dim) and queries g < nq <=
 * INT8_DOT_MAX_QUERIES (query g at queries + g * dim): scores[g * ld + r] = query_g . x_r and,
 * when squared_norms is not NULL, squared_norms[r] = |x_r|^2. Reads exactly n * dim codes
 * (no read past the last row). Cannot fail. */
void int8_dot_rows(const int8_t *codes, size_t n, int dim, const float *offsets,
                   const float *steps, const float *queries, int nq, float *scores, size_t ld,
                   float *squared_norms);

/* The same on a chosen path (KERNEL_PATH_GENERIC is the scalar reference; a path this CPU
 * lacks falls back to it), so that tests compare the paths on one input. */
void int8_dot_rows_using(kernel_path path, const int8_t *codes, size_t n, int dim,
                         const float *offsets, const float *steps, const float *queries, int nq,
                         float *scores, size_t ld, float *squared_norms);

/* out[r * dim + d] = x_r[d] for rows r < n (the floats int8_dot_rows multiplies, for a
 * matrix product when many queries share a block) and, when squared_norms is not NULL,
 * squared_norms[r] = |x_r|^2. Cannot fail. */
void int8_decode_rows(const int8_t *codes, size_t n, int dim, const float *offsets,
                      const float *steps, float *out, float *squared_norms);

/* The same on a chosen path, as int8_dot_rows_using. */
void int8_decode_rows_using(kernel_path path, const int8_t *codes, size_t n, int dim,
                            const float *offsets, const float *steps, float *out,
                            float *squared_norms);

#endif
