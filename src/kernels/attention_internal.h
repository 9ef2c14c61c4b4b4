/* What attention.c and attention_backward.c share: the packing check, the transposes that
 * feed small_gemm_avx2, and where the small products end. Not for other modules. */
#ifndef SEMB_KERNELS_ATTENTION_INTERNAL_H
#define SEMB_KERNELS_ATTENTION_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>

#include "semb.h"

/* On the AVX2 path, sequences up to this long take small_gemm_avx2 for the per-head
 * products, and longer ones oneDNN, which overtakes it from about 32 tokens on
 * (bench/README.md, "Kernels"). */
enum { ATTENTION_SMALL_MAX = 28 };

/* Checks the packing (cu_seqlens never decreases; with a position bias, no sequence is
 * longer than max_distance) and fills probs_at[0 .. n_seqs], where each sequence's
 * probabilities start, and *longest. SEMB_ERR_INVALID_ARG when the check fails. */
semb_status attention_plan(const int *cu_seqlens, int n_seqs, int n_heads, bool position_bias,
                           int max_distance, size_t *probs_at, int *longest);

/* packed[D x L] = x^T for x [L x D] with row stride ld. */
void attention_pack_transposed(float *packed, const float *x, int ld, int L, int D);

#endif
