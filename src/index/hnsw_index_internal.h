/* What hnsw_index.c (build, search) and hnsw_format.c (save, load) share. */
#ifndef SEMB_INDEX_HNSW_INDEX_INTERNAL_H
#define SEMB_INDEX_HNSW_INDEX_INTERNAL_H

#include "index/hnsw_index.h"
#include "index/hnsw_shim.h"

struct hnsw_index {
    hnsw_graph *graph;
    semb_similarity similarity;
    int dim;
    hnsw_index_options options;
    uint64_t vector_hash; /* hnsw_vectors_hash of the vectors given to build */
};

/* A new index with an empty graph of the given capacity, after checking similarity, dim,
 * n and options (errors as hnsw_index_build's). */
semb_status hnsw_index_create(size_t n, int dim, semb_similarity similarity,
                              const hnsw_index_options *opts, hnsw_index **out,
                              semb_error *err);

/* Copies vector into out (dim floats), normalised for cosine: what the graph stores. */
void hnsw_prepare_vector(semb_similarity similarity, const float *vector, int dim, float *out);

/* FNV-1a over the 64-bit words of n * dim floats (the last half word zero-extended): ties
 * a saved graph to the vectors it was built from. */
uint64_t hnsw_vectors_hash(const float *vectors, size_t n, int dim);

#endif
