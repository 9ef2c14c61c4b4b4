/* What hnsw_index.c (build, search) and hnsw_format.c (save, load) share. */
#ifndef SEMB_INDEX_HNSW_INDEX_INTERNAL_H
#define SEMB_INDEX_HNSW_INDEX_INTERNAL_H

#include "index/hnsw_index.h"
#include "index/hnsw_shim.h"

/* FNV-1a over the 64-bit words of a byte stream fed in pieces of any size, the last
 * partial word zero-extended: ties a saved graph to the vectors it was built from. */
typedef struct hnsw_hasher {
    uint64_t hash;
    unsigned char tail[8]; /* bytes of a word not yet complete */
    size_t tail_bytes;
} hnsw_hasher;

void hnsw_hasher_init(hnsw_hasher *h);
void hnsw_hasher_feed(hnsw_hasher *h, const void *data, size_t bytes);
/* The hash of everything fed so far; the hasher is unchanged. */
uint64_t hnsw_hasher_value(const hnsw_hasher *h);

struct hnsw_index {
    hnsw_graph *graph;
    semb_similarity similarity;
    int dim;
    hnsw_index_options options;
    size_t added;         /* vectors given to build so far (hnsw_index_add) */
    hnsw_hasher hasher;   /* of those vectors: the hash saved with the graph */
};

/* A new index with an empty graph of the given capacity, after checking similarity, dim,
 * n and options (errors as hnsw_index_build's). */
semb_status hnsw_index_create(size_t n, int dim, semb_similarity similarity,
                              const hnsw_index_options *opts, hnsw_index **out,
                              semb_error *err);

/* Copies vector into out (dim floats), normalised for cosine: what the graph stores. */
void hnsw_prepare_vector(semb_similarity similarity, const float *vector, int dim, float *out);

/* The hnsw_hasher value of n * dim floats. */
uint64_t hnsw_vectors_hash(const float *vectors, size_t n, int dim);

#endif
