/* Clustering timings for bench/README.md ("Clustering"): k-means (k-means++ start, Lloyd to
 * convergence) and community detection on n synthetic embeddings.
 *
 *   bench_cluster N [DIM K THRESHOLD MIN_SIZE]     (defaults 384 100 0.75 10)
 *
 * The points are K random directions plus Gaussian noise, L2-normalised, as a cosine model's
 * embeddings of K topics would be: noise of 0.03 per dimension (0.59 in norm at dimension
 * 384) gives a within-topic cosine of about 0.74, so at threshold 0.75 part of each topic
 * forms communities and part stays unclustered (both passes do real work).
 * Prints one line per method: seconds, iterations or communities, and what was found. */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>

#include "core/rng.h"
#include "core/timer.h"
#include "eval/cluster_eval.h"
#include "index/kmeans.h"
#include "model/similarity.h"
#include "semb.h"

static float *topic_points(size_t n, int dim, int topics, int32_t *truth)
{
    rng_state rng;
    rng_seed(&rng, 1234);
    float *centres = malloc((size_t)topics * dim * sizeof *centres);
    float *x = malloc(n * (size_t)dim * sizeof *x);
    if (!centres || !x)
        return NULL;
    for (size_t i = 0; i < (size_t)topics * dim; i++)
        centres[i] = rng_normal(&rng);
    similarity_normalize_rows(centres, (size_t)topics, dim);
    for (size_t i = 0; i < n; i++) {
        truth[i] = (int32_t)(rng_next_u64(&rng) % (uint64_t)topics);
        for (int d = 0; d < dim; d++)
            x[i * dim + d] = centres[(size_t)truth[i] * dim + d] + 0.03f * rng_normal(&rng);
    }
    similarity_normalize_rows(x, n, dim);
    free(centres);
    return x;
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        fprintf(stderr, "usage: bench_cluster N [DIM K THRESHOLD MIN_SIZE]\n");
        return 2;
    }
    size_t n = strtoull(argv[1], NULL, 10);
    int dim = argc > 2 ? atoi(argv[2]) : 384, k = argc > 3 ? atoi(argv[3]) : 100;
    double threshold = argc > 4 ? atof(argv[4]) : 0.75;
    int min_size = argc > 5 ? atoi(argv[5]) : 10;
    int32_t *truth = malloc(n * sizeof *truth);
    float *x = truth ? topic_points(n, dim, k, truth) : NULL;
    if (!x) {
        fprintf(stderr, "bench_cluster: out of memory\n");
        return 1;
    }
    printf("n %zu, dim %d, %d topics, %d threads\n", n, dim, k, omp_get_max_threads());
    semb_error err = {0};
    semb_kmeans_options o = semb_kmeans_options_default(k);
    kmeans_result r;
    double t0 = timer_seconds();
    if (kmeans_fit(x, n, dim, &o, &r, &err)) {
        fprintf(stderr, "bench_cluster: %s\n", err.message);
        return 1;
    }
    double t1 = timer_seconds();
    semb_cluster_scores s;
    semb_cluster_scores_compute(truth, r.labels, n, &s, NULL);
    printf("kmeans k=%d: %.2f s, %d iterations (%.3f s each incl. k-means++), V-measure vs "
           "topics %.4f\n", k, t1 - t0, r.iterations, (t1 - t0) / r.iterations, s.v_measure);
    kmeans_result_free(&r);
    semb_communities c;
    t0 = timer_seconds();
    if (semb_community_detection(x, n, dim, threshold, min_size, 0, &c, &err)) {
        fprintf(stderr, "bench_cluster: %s\n", err.message);
        return 1;
    }
    t1 = timer_seconds();
    printf("community detection t=%.2f m=%d: %.2f s, %zu communities, %zu of %zu texts "
           "clustered\n", threshold, min_size, t1 - t0, c.count, c.offsets[c.count], n);
    semb_communities_free(&c);
    free(x);
    free(truth);
    return 0;
}
