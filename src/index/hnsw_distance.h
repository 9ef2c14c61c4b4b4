/* The two distances hnswlib's graph is built and searched under, as hnswlib defines them
 * (smaller = closer): inner product as 1 - a.b, L2 as the squared Euclidean distance.
 * hnswlib picks its own SIMD at compile time from -m flags, which semb never sets (one
 * binary for any x86-64), so it would run its SSE code everywhere; these kernels are chosen
 * at run time instead (kernel_path), with the generic one the reference they are tested
 * against. */
#ifndef SEMB_INDEX_HNSW_DISTANCE_H
#define SEMB_INDEX_HNSW_DISTANCE_H

#include <stdbool.h>
#include <stddef.h>

#include "kernels/kernel_path.h"

/* hnswlib's DISTFUNC<float>: a and b point at dim floats, param at a size_t holding dim. */
typedef float (*hnsw_distance_fn)(const void *a, const void *b, const void *param);

/* The inner-product (1 - a.b) or squared-L2 distance on path (passed through
 * kernel_path_or_generic, so asking for a path this CPU lacks gives the generic one). */
hnsw_distance_fn hnsw_distance_using(bool inner_product, kernel_path path);

#endif
