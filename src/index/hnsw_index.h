/* Approximate nearest-neighbour search: a hierarchical navigable small-world graph (HNSW,
 * Malkov & Yashunin) built and searched by hnswlib (Debian's libhnswlib-dev) behind a thin
 * C++ shim, over semb's own run-time dispatched distance kernels.
 *
 * Similarities: cosine (vectors L2-normalised, then inner product), dot (inner product)
 * and euclidean (L2); manhattan is refused (SEMB_ERR_UNSUPPORTED). Scores follow semb's
 * convention (src/index/similarity.h: higher = more similar; euclidean negated) and are
 * recomputed in double for each hit, so they equal similarity_pair's on the same vectors.
 *
 * The graph is saved as one byte blob (hnsw_index_save) that can sit at any offset inside
 * another file, and loaded back from memory (an mmap'd section). The blob holds the graph
 * only, not the vectors: loading takes the same vectors the index was built from (which an
 * index file stores anyway), and checks them against a hash saved with the graph.
 *
 * Blob layout (version 1; little-endian, no padding, at any alignment):
 *   header, 64 bytes: "SEMBHNSW", u32 version, u32 similarity (semb_similarity),
 *     u32 dim, u32 M, u32 ef_construction, u32 max_level, u64 count, u32 entry_point,
 *     u32 zero, u64 seed, u64 vector_hash (FNV-1a over the 64-bit words of the vectors
 *     as given to build)
 *   u32 level[count]        the top level of each element (by hnswlib's internal id)
 *   u32 label[count]        its document index: a permutation of 0 .. count - 1
 *   links: for each element, for each level 0 .. level[id]:
 *     u32 n, then n u32 internal ids (n <= 2M on level 0, <= M above)
 */
#ifndef SEMB_INDEX_HNSW_INDEX_H
#define SEMB_INDEX_HNSW_INDEX_H

#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "semb.h"

typedef struct hnsw_index hnsw_index;

#define HNSW_INDEX_DEFAULT_M 16
#define HNSW_INDEX_DEFAULT_EF_CONSTRUCTION 200
#define HNSW_INDEX_DEFAULT_SEED 100
/* ef used when a search passes 0: max(k, this). 100 rather than 64: on 5,000 uniform random
 * 48-dimensional vectors (no structure to exploit) hnswlib itself gives recall@10 0.945 at
 * ef 64 and 0.983 at 100 (M 16, ef_construction 200); clustered data is at 0.999 either way. */
#define HNSW_INDEX_DEFAULT_EF 100
/* M outside [2, HNSW_INDEX_MAX_M] is refused (hnswlib stores link counts in 16 bits) */
#define HNSW_INDEX_MAX_M 2048

typedef struct hnsw_index_options {
    int m;               /* links per element and level (2M on level 0); default 16 */
    int ef_construction; /* candidate list while linking, >= 1; default 200 */
    uint64_t seed;       /* hnswlib's level generator; default 100 */
} hnsw_index_options;

/* Fills opts with the defaults above. */
void hnsw_index_options_default(hnsw_index_options *opts);

/* Builds an index over n vectors (row-major [n, dim], caller-owned, only read) under
 * similarity; opts NULL means the defaults. The vectors are copied (normalised first for
 * cosine) and added on the OpenMP threads the caller set; a parallel build is not
 * reproducible bit for bit (insertion order varies), a one-thread build is for a seed.
 * Errors: SEMB_ERR_UNSUPPORTED for manhattan; SEMB_ERR_INVALID_ARG for n = 0, n >= 2^32,
 * dim < 1, M or ef_construction out of range; SEMB_ERR_INPUT naming the vector and
 * dimension of a NaN or infinite value; SEMB_ERR_NOMEM. *out is NULL on failure. */
semb_status hnsw_index_build(const float *vectors, size_t n, int dim, semb_similarity similarity,
                             const hnsw_index_options *opts, hnsw_index **out, semb_error *err);

/* The same build in pieces, for vectors that arrive in chunks (an index file's embeddings
 * as they are encoded): hnsw_index_begin makes an empty index for n vectors (errors as
 * build's, except the NaN check), then each hnsw_index_add adds the next count vectors
 * (caller-owned, only read), labelled by their place in the whole sequence; the hash
 * covers the sequence, so the blob is the one hnsw_index_build would give the concatenated
 * vectors (up to the parallel insertion order). Adding past n is SEMB_ERR_INVALID_ARG; a
 * NaN or infinite value SEMB_ERR_INPUT naming its vector (by its place in the sequence)
 * and dimension; after a failed add the index is only good for hnsw_index_free. */
semb_status hnsw_index_begin(size_t n, int dim, semb_similarity similarity,
                             const hnsw_index_options *opts, hnsw_index **out, semb_error *err);
semb_status hnsw_index_add(hnsw_index *index, const float *vectors, size_t count,
                           semb_error *err);

/* NULL allowed. */
void hnsw_index_free(hnsw_index *index);

/* What the index was built with. */
size_t hnsw_index_count(const hnsw_index *index);
int hnsw_index_dim(const hnsw_index *index);
semb_similarity hnsw_index_similarity(const hnsw_index *index);
hnsw_index_options hnsw_index_get_options(const hnsw_index *index);

/* Top-k search for n_queries queries (row-major [n_queries, dim], caller-owned), on the
 * OpenMP threads the caller set. ef is the candidate list (recall against speed); 0 means
 * max(k, HNSW_INDEX_DEFAULT_EF), and less than k is raised to k. Each query's hits go to
 * row q of indices and scores (both [n_queries, k], caller-allocated): min(k, count) hits,
 * the document indices given to build, best first, equal scores by lower index (all ef
 * candidates the graph search ends with are rescored, so exact ties among them resolve to
 * the lower index as exact search resolves them); *n_hits
 * receives min(k, count) (the rest of each row is left untouched). Should the graph reach
 * fewer elements than that from a query (it can when a graph is disconnected), that query
 * is answered by exact search, so a row is always full. Errors: SEMB_ERR_INVALID_ARG for
 * dim other than the index's or k = 0; SEMB_ERR_INPUT for a NaN or infinite query value;
 * SEMB_ERR_NOMEM. */
semb_status hnsw_index_search(const hnsw_index *index, const float *queries, size_t n_queries,
                              int dim, size_t k, size_t ef, size_t *indices, float *scores,
                              size_t *n_hits, semb_error *err);

/* The exact number of bytes hnsw_index_save writes, so that a container file can lay out
 * its table of sections before writing. Cannot fail. */
uint64_t hnsw_index_serialized_size(const hnsw_index *index);

/* Writes the blob (layout above) to stream at its current position; *bytes_written (may be
 * NULL) receives hnsw_index_serialized_size. SEMB_ERR_INVALID_ARG for an index begun but
 * not given all its vectors; SEMB_ERR_IO with strerror when a write fails (the stream's
 * position is then unspecified). The stream stays open. */
semb_status hnsw_index_save(const hnsw_index *index, FILE *stream, uint64_t *bytes_written,
                            semb_error *err);

/* Rebuilds an index from a blob of exactly size bytes at data (any alignment; e.g. a
 * section of an mmap'd file, only read and not referenced afterwards) and the n vectors
 * [n, dim] it was built from (caller-owned, copied). Every field, count, level, label and
 * link is checked before hnswlib sees it: a truncated, extended or corrupt blob fails with
 * SEMB_ERR_FORMAT naming the field (and byte offset), vectors other than the build's with
 * SEMB_ERR_INVALID_ARG (count or dim mismatch) or SEMB_ERR_FORMAT (hash mismatch);
 * SEMB_ERR_NOMEM. *out is NULL on failure. */
semb_status hnsw_index_load(const void *data, size_t size, const float *vectors, size_t n,
                            int dim, hnsw_index **out, semb_error *err);

#endif
