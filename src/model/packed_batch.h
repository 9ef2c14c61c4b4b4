/* A packed batch: the token ids of several sequences laid end to end, with the offsets of each
 * (cu_seqlens), as variable-length attention kernels take them. No padding: sequence s owns
 * tokens cu_seqlens[s] .. cu_seqlens[s+1]. The one builder that inference (model/encode.c)
 * and training (train/embedder.c) share. */
#ifndef SEMB_MODEL_PACKED_BATCH_H
#define SEMB_MODEL_PACKED_BATCH_H

#include <stddef.h>
#include <stdint.h>

#include "semb.h"

typedef struct packed_batch {
    const int32_t *ids;    /* [total_tokens] */
    const int *cu_seqlens; /* [n_seqs + 1], cu_seqlens[0] = 0 */
    int n_seqs;
    int total_tokens;
    int max_len;           /* longest sequence */
} packed_batch;

/* The buffers a packed batch lives in, grown on demand and reused by the next build.
 * Zero-initialise; release with packed_batch_buffers_free. */
typedef struct packed_batch_buffers {
    int32_t *ids;
    int *cu_seqlens;
    size_t ids_capacity, seqs_capacity;
} packed_batch_buffers;

/* Lays the lists lists[order[0]], lists[order[1]], ... (order NULL: lists[0 .. n)) end to
 * end in b and describes them in *out, which points into b until its next build. Errors:
 * SEMB_ERR_NOMEM naming the token count, SEMB_ERR_INVALID_ARG when the total does not fit an
 * int; b keeps its earlier contents on error. */
semb_status packed_batch_build(packed_batch_buffers *b, const int32_t *const *lists,
                               const int *counts, const size_t *order, int n, packed_batch *out,
                               semb_error *err);

void packed_batch_buffers_free(packed_batch_buffers *b);

#endif
