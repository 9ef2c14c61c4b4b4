/* The C side of the C++ shim over hnswlib (hnswlib::HierarchicalNSW<float>, Debian's
 * libhnswlib-dev 0.6.2): the only code that touches hnswlib. Every function catches every
 * C++ exception and reports it as a status plus a message, so none ever crosses into C.
 * Elements are addressed by hnswlib's internal id (the order they were added in); the
 * label of an element is the caller's document index. Used only by hnsw_index.c and
 * hnsw_format.c. */
#ifndef SEMB_INDEX_HNSW_SHIM_H
#define SEMB_INDEX_HNSW_SHIM_H

#include <stddef.h>
#include <stdint.h>

#include "index/hnsw_distance.h"
#include "semb.h"

#ifdef __cplusplus
extern "C" {
#endif

typedef struct hnsw_graph hnsw_graph;

/* An empty graph for up to capacity vectors of dim floats under distance, with hnswlib's
 * M (maxM = M, maxM0 = 2M) and ef_construction, its level generator seeded with seed.
 * Fails with SEMB_ERR_NOMEM (or what hnswlib threw) into err. */
semb_status hnsw_graph_create(int dim, hnsw_distance_fn distance, size_t capacity, size_t m,
                              size_t ef_construction, uint64_t seed, hnsw_graph **out,
                              semb_error *err);

/* NULL allowed. */
void hnsw_graph_free(hnsw_graph *graph);

/* hnswlib's addPoint: copies vector in and links it; safe to call from several threads at
 * once on different labels. Fails (NOMEM, or hnswlib's own message) when the graph is full
 * or memory runs out. */
semb_status hnsw_graph_add(hnsw_graph *graph, const float *vector, uint32_t label,
                           semb_error *err);

/* The k elements closest to query, searched with a candidate list of max(ef, k); their
 * internal ids and hnswlib distances go to ids[] and distances[] (closest first), their
 * number (at most k; fewer when the graph does not reach k elements) to *found.
 * Thread-safe against other searches. */
semb_status hnsw_graph_search(const hnsw_graph *graph, const float *query, size_t k, size_t ef,
                              uint32_t *ids, float *distances, size_t *found, semb_error *err);

/* What a saved graph holds: cannot fail, ids below hnsw_graph_count. */
size_t hnsw_graph_count(const hnsw_graph *graph);
size_t hnsw_graph_capacity(const hnsw_graph *graph);
size_t hnsw_graph_m(const hnsw_graph *graph);
size_t hnsw_graph_ef_construction(const hnsw_graph *graph);
int hnsw_graph_max_level(const hnsw_graph *graph);
uint32_t hnsw_graph_entry_point(const hnsw_graph *graph);
int hnsw_graph_level(const hnsw_graph *graph, uint32_t id);
uint32_t hnsw_graph_label(const hnsw_graph *graph, uint32_t id);
const float *hnsw_graph_vector(const hnsw_graph *graph, uint32_t id);
/* The neighbours of id on level (0 .. its level): *count ids, owned by the graph. */
const uint32_t *hnsw_graph_links(const hnsw_graph *graph, uint32_t id, int level,
                                 uint32_t *count);

/* Rebuilding a saved graph, without hnswlib's path-based loadIndex: append elements in
 * internal-id order (id = the current count), then set each one's links, then the entry
 * point. The caller has checked every value (levels, labels a permutation, link counts at
 * most maxM / maxM0, neighbours below the count and present on that level): hnswlib trusts
 * its graph, and these functions trust their caller. */
semb_status hnsw_graph_append(hnsw_graph *graph, uint32_t label, int level, const float *vector,
                              semb_error *err);
void hnsw_graph_set_links(hnsw_graph *graph, uint32_t id, int level, const uint32_t *ids,
                          uint32_t count);
void hnsw_graph_set_entry_point(hnsw_graph *graph, uint32_t id, int max_level);

#ifdef __cplusplus
}
#endif

#endif
