/* Fast clustering as sentence-transformers' util.community_detection(embeddings, threshold,
 * min_community_size, batch_size) defines it (semb_community_detection in semb.h is this
 * module's entry point):
 *
 *   1. rows are L2-normalised, so scores are cosine similarities; m = min(min_size, n);
 *   2. point i is a candidate when at least m points (i itself included) score >= threshold
 *      with it (sentence-transformers: the m-th largest score of the row is >= threshold);
 *      its candidate community is every such point;
 *   3. candidates are taken largest first (Python's stable sort: equal sizes in row order);
 *      each keeps the members no earlier community took, and becomes a community when at
 *      least m remain;
 *   4. communities are returned largest first (stable again).
 *
 * Where sentence-transformers leaves an order to torch.topk, this one is fixed: a community
 * lists its centre i first (when i scores >= threshold with itself, as any non-zero row
 * does), then its members by decreasing similarity to i, ties to the lower index. Its CPU
 * path grows a top-k window while the last score is strictly above the threshold, so a
 * point scoring exactly the threshold can fall outside the window; here every point
 * >= threshold is a member (as its CUDA path computes).
 *
 * Scores come from blocked matrix products in float; a score within the product's rounding
 * bound (2 x dim x FLT_EPSILON) of the threshold is recomputed in double, so membership is
 * decided as the double-precision reference decides it, on any batch size or thread count.
 * Two passes keep memory at O(batch x n): the first counts each row's neighbours (keeping the
 * candidates' lists while they fit batch x n entries, 128 MB to 1 GB), the second takes the
 * candidates in the order of step 3, from those lists or, past that budget, from their rows
 * computed again. */
#ifndef SEMB_INDEX_COMMUNITY_DETECTION_H
#define SEMB_INDEX_COMMUNITY_DETECTION_H

#include <stdbool.h>
#include <stddef.h>

#include "semb.h"

/* semb_community_detection, which calls this with cache_lists true; false makes the second
 * pass recompute every candidate row, as it does past the cache budget (for tests). */
semb_status community_detection_blocked(const float *embeddings, size_t n, int dim,
                                        double threshold, int min_size, int batch_size,
                                        bool cache_lists, semb_communities *out,
                                        semb_error *err);

/* The same result from the full n x n matrix of double-precision scores, serial: the
 * reference the blocked path is tested against (small n only). Same arguments, errors and
 * ownership as semb_community_detection. */
semb_status community_detection_reference(const float *embeddings, size_t n, int dim,
                                          double threshold, int min_size,
                                          semb_communities *out, semb_error *err);

#endif
