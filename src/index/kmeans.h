/* k-means clustering of embeddings under squared Euclidean distance, as scikit-learn's
 * KMeans(init="k-means++", algorithm="lloyd") computes it:
 *
 * - initialisation: greedy k-means++ (the first centre a uniformly drawn point; each next
 *   centre the best, by the potential it leaves, of 2 + floor(ln k) candidates drawn with
 *   probability proportional to the squared distance to the nearest centre so far);
 * - Lloyd iterations: assign each point to its nearest centroid (ties: the lower centroid
 *   index), move each centroid to the mean of its points; stop when no label changes or
 *   when the total squared centroid shift is at most tol x the mean per-dimension variance
 *   of the data, or after max_iter iterations;
 * - an empty cluster takes over the point farthest from its own centroid (among points
 *   whose cluster keeps at least one other point; ties: the lower point index), so every
 *   one of the k clusters ends non-empty;
 * - n_init restarts with seeds derived from the one seed; the run with the lowest inertia
 *   (sum of squared distances of points to their centroids) is kept, ties to the earlier.
 *
 * For a cosine model, pass L2-normalised embeddings (the spherical variant sentence-
 * transformers' clustering example runs). The same seed gives the same clustering. */
#ifndef SEMB_INDEX_KMEANS_H
#define SEMB_INDEX_KMEANS_H

#include <stddef.h>
#include <stdint.h>

#include "core/rng.h"
#include "semb.h"

typedef struct kmeans_result {
    int k, dim;
    float *centroids;   /* [k, dim], row-major */
    int32_t *labels;    /* [n], each in [0, k) */
    double inertia;     /* sum of squared distances to the assigned centroids, in double */
    int iterations;     /* Lloyd iterations of the kept run */
    int best_init;      /* which restart (0-based) was kept */
} kmeans_result;

/* Clusters points[n, dim] into opts->k clusters (opts NULL: invalid). On success *out owns
 * its arrays (kmeans_result_free). Fails with SEMB_ERR_INVALID_ARG for k <= 0, k > n, n == 0,
 * dim <= 0, n_init <= 0, max_iter <= 0, tol < 0 or a non-finite coordinate (naming the point
 * and dimension), SEMB_ERR_NOMEM; on failure *out is empty. Memory beyond the result is
 * O(n + k x dim) plus a few MB of distance tiles per thread. */
semb_status kmeans_fit(const float *points, size_t n, int dim, const semb_kmeans_options *opts,
                       kmeans_result *out, semb_error *err);

void kmeans_result_free(kmeans_result *r);

/* The assignment step, fast path: labels[i] = the nearest of centroids[k, dim] to point i,
 * distances[i] its squared distance, from tiles of blocked matrix products
 * (|x|^2 + |c|^2 - 2 x.c, in double from the float product, clamped at 0), OpenMP over
 * blocks of points. point_norms[i] = |x_i|^2 (kmeans_squared_norms). Ties go to the lower
 * centroid index. SEMB_ERR_NOMEM is the only failure. */
semb_status kmeans_assign(const float *points, const double *point_norms, size_t n, int dim,
                          const float *centroids, int k, int32_t *labels, double *distances,
                          semb_error *err);

/* The same by direct double sums of (x - c)^2, serial: the reference kmeans_assign is held
 * to. */
void kmeans_assign_reference(const float *points, size_t n, int dim, const float *centroids,
                             int k, int32_t *labels, double *distances);

/* norms[i] = |rows[i]|^2, accumulated in double. */
void kmeans_squared_norms(const float *rows, size_t n, int dim, double *norms);

/* Greedy k-means++: writes k centres (copies of points) into centroids[k, dim], drawing from
 * rng. point_norms as for kmeans_assign. 1 <= k <= n. When every remaining point coincides
 * with a centre (duplicates), the next centre is drawn uniformly. SEMB_ERR_NOMEM only. */
semb_status kmeans_plusplus(const float *points, const double *point_norms, size_t n, int dim,
                            int k, rng_state *rng, float *centroids, semb_error *err);

#endif
