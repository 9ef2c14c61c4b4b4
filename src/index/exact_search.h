/* Search over a whole index: every document is scored against every query, so the result
 * is exact for the stored embeddings.
 *
 * float32 indexes: queries are tiled (up to 128) against blocks of 2048 corpus rows, each
 * tile scored with similarity_matrix (one sgemm per tile for cosine and dot); OpenMP threads
 * take blocks, each keeping its own top-k heaps, merged at the end.
 * int8 indexes (cosine, dot, euclidean): the same tiling, scored on the codes (int8_dot.h):
 * under 8 queries a tile, a fused kernel dequantizes each code in registers into every
 * query's dot product (one byte read per dimension); from 8 on, each block is decoded to
 * floats once and scored by sgemm. Cosine divides by the dequantized row's norm, computed in
 * the same pass. Manhattan decodes the block to floats.
 * binary indexes: the Hamming distance of the query's sign bits to every row (popcount,
 * quantize.h's hamming_rows) picks a shortlist of rescore_multiplier * k documents (ties to
 * the lower index), which the float query rescores against their +1/-1 vectors, as
 * sentence-transformers' semantic_search_faiss and _usearch rescore; with `exact`, every row
 * is scored against the float query instead.
 * Scores are the model's similarity (similarity.h) of the query and the decoded row; the
 * order is topk.h's: higher score first, ties to the lower document index. */
#ifndef SEMB_INDEX_EXACT_SEARCH_H
#define SEMB_INDEX_EXACT_SEARCH_H

#include <stdbool.h>
#include <stddef.h>

#include "index/index_file.h"
#include "index/topk.h"

#define SEARCH_DEFAULT_RESCORE_MULTIPLIER 4

typedef struct search_params {
    size_t k;               /* hits per query, >= 1 */
    bool exact;             /* binary: score every row, no Hamming shortlist */
    int rescore_multiplier; /* binary: shortlist of multiplier * k; <= 0: 4 */
} search_params;

/* The min(k, documents) best documents of each of n queries (raw model embeddings,
 * queries[n * dim]) into hits[q * k ..], best first; *per_query = min(k, documents).
 * Errors: SEMB_ERR_INVALID_ARG (k == 0), SEMB_ERR_NOMEM. */
semb_status exact_search(const index_file *f, const float *queries, size_t n,
                         const search_params *p, topk_entry *hits, size_t *per_query,
                         semb_error *err);

/* The reference exact_search is tested against: each pair scored by similarity_pair (in
 * double) after a row-by-row decode, Hamming distances bit by bit, full sorts. Serial and
 * slow; same contract. */
semb_status exact_search_reference(const index_file *f, const float *queries, size_t n,
                                   const search_params *p, topk_entry *hits,
                                   size_t *per_query, semb_error *err);

#endif
