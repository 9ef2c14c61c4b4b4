/* Clustering: V-measure / homogeneity / completeness / adjusted Rand against hand-computed
 * values (scikit-learn's definitions and degenerate cases), the blocked k-means assignment
 * against its scalar reference, k-means on separable data, seeds, thread counts and edge
 * cases (k == n, k == 1, duplicates, empty clusters), community detection against the
 * double-precision reference and hand cases with ties, the labelled-text reader, and bad input.
 * Needs nothing from shared/. */
#include "support.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/cluster_eval.h"
#include "index/community_detection.h"
#include "index/kmeans.h"

static void assert_close(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.12g, want %.12g", what, got, want);
}

static void assert_message_contains(const semb_error *err, const char *part)
{
    if (!strstr(err->message, part))
        fail_msg("error '%s' does not contain '%s'", err->message, part);
}

static float uniform(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) / 16777216.0) * 2.0f - 1.0f;
}

/* ---- metrics ---- */

static semb_cluster_scores scores_of(const int32_t *classes, const int32_t *clusters, size_t n)
{
    semb_cluster_scores s;
    assert_int_equal(semb_cluster_scores_compute(classes, clusters, n, &s, NULL), SEMB_OK);
    return s;
}

static void assert_scores(semb_cluster_scores s, double h, double c, double v, double ari,
                          const char *what)
{
    char name[128];
    snprintf(name, sizeof name, "%s homogeneity", what);
    assert_close(s.homogeneity, h, 1e-12, name);
    snprintf(name, sizeof name, "%s completeness", what);
    assert_close(s.completeness, c, 1e-12, name);
    snprintf(name, sizeof name, "%s v_measure", what);
    assert_close(s.v_measure, v, 1e-12, name);
    snprintf(name, sizeof name, "%s adjusted_rand", what);
    assert_close(s.adjusted_rand, ari, 1e-12, name);
}

static void test_v_measure_split_class(void **state)
{
    /* classes {0,0,1,1}, clusters {0,0,1,2}: H(C) = ln 2, H(K) = 1.5 ln 2, I = ln 2, so
     * h = 1, c = 2/3, V = 2 (2/3) / (5/3) = 0.8. ARI: sum C(n_ck, 2) = 1, sum C(a, 2) = 2,
     * sum C(b, 2) = 1, C(4, 2) = 6: (1 - 1/3) / (3/2 - 1/3) = 4/7. */
    const int32_t classes[] = {0, 0, 1, 1}, clusters[] = {0, 0, 1, 2};
    semb_cluster_scores s = scores_of(classes, clusters, 4);
    assert_scores(s, 1, 2.0 / 3, 0.8, 4.0 / 7, "split class");
    assert_int_equal(s.classes, 2);
    assert_int_equal(s.clusters, 3);
    /* names do not matter: relabel both sides */
    const int32_t classes2[] = {5, 5, -3, -3}, clusters2[] = {7, 7, 1, 0};
    assert_scores(scores_of(classes2, clusters2, 4), 1, 2.0 / 3, 0.8, 4.0 / 7, "relabelled");
    /* nor does the order of the points */
    const int32_t classes3[] = {1, 0, 1, 0}, clusters3[] = {2, 0, 1, 0};
    assert_scores(scores_of(classes3, clusters3, 4), 1, 2.0 / 3, 0.8, 4.0 / 7, "permuted");
    /* swapping the roles swaps homogeneity and completeness */
    assert_scores(scores_of(clusters, classes, 4), 2.0 / 3, 1, 0.8, 4.0 / 7, "swapped");
}

static void test_v_measure_by_hand(void **state)
{
    /* classes {0,0,0,1,1,1}, clusters {0,0,1,1,2,2}: cells 2,1,1,2; H(C) = ln 2, H(K) = ln 3,
     * I = 2 x (1/3) ln((1/3) / (1/6)) = (2/3) ln 2; h = 2/3, c = (2/3) ln 2 / ln 3
     * = 0.42061983571430, V = 2hc / (h + c) = 0.51580374297939. ARI: sum C(n_ck, 2) = 2,
     * sum C(a, 2) = 6, sum C(b, 2) = 3, C(6, 2) = 15: (2 - 1.2) / (4.5 - 1.2) = 8/33. */
    const int32_t classes[] = {0, 0, 0, 1, 1, 1}, clusters[] = {0, 0, 1, 1, 2, 2};
    assert_scores(scores_of(classes, clusters, 6), 2.0 / 3, 0.4206198357143049,
                  0.5158037429793888, 8.0 / 33, "six points");
    /* every point its own cluster: h = 1, c = ln 2 / ln 4 = 1/2, V = 2/3, ARI = 0 */
    const int32_t pairs[] = {0, 0, 1, 1}, singletons[] = {0, 1, 2, 3};
    assert_scores(scores_of(pairs, singletons, 4), 1, 0.5, 2.0 / 3, 0, "singletons");
}

static void test_v_measure_degenerate(void **state)
{
    /* one cluster: I = 0, h = 0, c = 1 (H(K) = 0), V = 0; ARI = 0 (as scikit-learn) */
    const int32_t classes[] = {0, 0, 1, 1}, one[] = {3, 3, 3, 3};
    assert_scores(scores_of(classes, one, 4), 0, 1, 0, 0, "one cluster");
    /* one class: h = 1 (H(C) = 0), c = 0 */
    assert_scores(scores_of(one, classes, 4), 1, 0, 0, 0, "one class");
    /* one class, one cluster: all 1 */
    assert_scores(scores_of(one, one, 4), 1, 1, 1, 1, "one and one");
    /* identical partitions under other names */
    const int32_t a[] = {0, 0, 1, 1, 2}, b[] = {1, 1, 0, 0, 9};
    assert_scores(scores_of(a, b, 5), 1, 1, 1, 1, "identical");
    /* nothing to score */
    assert_scores(scores_of(NULL, NULL, 0), 1, 1, 1, 1, "empty");
    /* one point */
    assert_scores(scores_of(a, b, 1), 1, 1, 1, 1, "one point");
}

/* ---- the k-means assignment step ---- */

static float *random_rows(size_t n, int dim, unsigned *seed)
{
    float *x = malloc(n * (size_t)dim * sizeof *x);
    for (size_t i = 0; i < n * (size_t)dim; i++)
        x[i] = uniform(seed);
    return x;
}

static void test_assign_matches_reference(void **state)
{
    /* odd shapes, k past one centroid tile (1024) */
    static const int shapes[][3] = {{1, 1, 1}, {7, 3, 5}, {300, 17, 64}, {1000, 1100, 9}};
    unsigned seed = 11;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        size_t n = (size_t)shapes[s][0];
        int k = shapes[s][1], dim = shapes[s][2];
        float *x = random_rows(n, dim, &seed), *c = random_rows((size_t)k, dim, &seed);
        double *norms = malloc(n * sizeof *norms), *fast_d = malloc(n * sizeof *fast_d),
               *ref_d = malloc(n * sizeof *ref_d);
        int32_t *fast = malloc(n * sizeof *fast), *ref = malloc(n * sizeof *ref);
        kmeans_squared_norms(x, n, dim, norms);
        assert_int_equal(kmeans_assign(x, norms, n, dim, c, k, fast, fast_d, NULL), SEMB_OK);
        kmeans_assign_reference(x, n, dim, c, k, ref, ref_d);
        size_t same = 0;
        for (size_t i = 0; i < n; i++) {
            /* the fast label is the nearest up to float rounding of |x|^2 + |c|^2 - 2 x.c */
            double tol = 1e-5 * (norms[i] + 1) * dim;
            double exact = 0;
            for (int d = 0; d < dim; d++) {
                double diff = (double)x[i * dim + d] - c[(size_t)fast[i] * dim + d];
                exact += diff * diff;
            }
            if (exact > ref_d[i] + tol || fabs(fast_d[i] - ref_d[i]) > tol)
                fail_msg("shape %zu point %zu: label %d (%g) vs %d (%g), fast distance %g", s,
                         i, fast[i], exact, ref[i], ref_d[i], fast_d[i]);
            same += fast[i] == ref[i];
        }
        assert_true(same >= n - n / 100); /* near-ties aside, the very same labels */
        free(x), free(c), free(norms), free(fast_d), free(ref_d), free(fast), free(ref);
    }
}

/* ---- k-means ---- */

/* n points in `blobs` well separated groups (centres 10 apart per blob index, noise 0.1),
 * interleaved so that point i belongs to blob truth[i] = i % blobs. */
static float *blob_points(size_t n, int dim, int blobs, int32_t *truth, unsigned *seed)
{
    float *x = malloc(n * (size_t)dim * sizeof *x);
    for (size_t i = 0; i < n; i++) {
        int b = (int)(i % (size_t)blobs);
        truth[i] = b;
        for (int d = 0; d < dim; d++)
            x[i * dim + d] = (d == b % dim ? 10.0f * (1 + b / dim) : 0.0f) + 0.1f * uniform(seed);
    }
    return x;
}

static void test_kmeans_recovers_blobs(void **state)
{
    unsigned seed = 3;
    size_t n = 500;
    int32_t truth[500];
    float *x = blob_points(n, 8, 5, truth, &seed);
    semb_kmeans_options o = semb_kmeans_options_default(5);
    kmeans_result r;
    assert_int_equal(kmeans_fit(x, n, 8, &o, &r, NULL), SEMB_OK);
    assert_close(scores_of(truth, r.labels, n).v_measure, 1, 1e-12, "V of 5 blobs");
    /* inertia is the exact sum of squared distances to the centroids */
    double inertia = 0;
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < 8; d++) {
            double diff = (double)x[i * 8 + d] - r.centroids[(size_t)r.labels[i] * 8 + d];
            inertia += diff * diff;
        }
    assert_close(r.inertia, inertia, 1e-9 * inertia, "inertia");
    assert_true(r.iterations >= 1 && r.iterations <= o.max_iter);
    kmeans_result_free(&r);
    /* restarts keep the lowest inertia: never worse than the first run alone */
    o.n_init = 4;
    kmeans_result many;
    assert_int_equal(kmeans_fit(x, n, 8, &o, &many, NULL), SEMB_OK);
    assert_true(many.best_init >= 0 && many.best_init < 4);
    assert_close(scores_of(truth, many.labels, n).v_measure, 1, 1e-12, "V with restarts");
    kmeans_result_free(&many);
    free(x);
}

static void fit_ok(const float *x, size_t n, int dim, const semb_kmeans_options *o,
                   kmeans_result *r)
{
    semb_error err = {0};
    if (kmeans_fit(x, n, dim, o, r, &err))
        fail_msg("kmeans_fit: %s", err.message);
}

static void test_kmeans_seeds_and_threads(void **state)
{
    unsigned seed = 5;
    size_t n = 2000;
    int dim = 16;
    float *x = random_rows(n, dim, &seed);
    semb_kmeans_options o = semb_kmeans_options_default(12);
    o.seed = 42;
    kmeans_result a, b, c, other;
    fit_ok(x, n, dim, &o, &a);
    fit_ok(x, n, dim, &o, &b);
    assert_memory_equal(a.labels, b.labels, n * sizeof *a.labels);
    assert_memory_equal(a.centroids, b.centroids, 12 * (size_t)dim * sizeof(float));
    assert_true(a.inertia == b.inertia);
    int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    fit_ok(x, n, dim, &o, &c);
    omp_set_num_threads(threads);
    assert_memory_equal(a.labels, c.labels, n * sizeof *a.labels);
    assert_true(a.inertia == c.inertia);
    o.seed = 43; /* another seed starts elsewhere on structureless data */
    fit_ok(x, n, dim, &o, &other);
    assert_true(memcmp(a.labels, other.labels, n * sizeof *a.labels) != 0 ||
                memcmp(a.centroids, other.centroids, 12 * (size_t)dim * sizeof(float)) != 0);
    kmeans_result_free(&a), kmeans_result_free(&b), kmeans_result_free(&c);
    kmeans_result_free(&other);
    free(x);
}

static void assert_all_clusters_used(const kmeans_result *r, size_t n)
{
    int *seen = calloc((size_t)r->k, sizeof *seen);
    for (size_t i = 0; i < n; i++) {
        assert_true(r->labels[i] >= 0 && r->labels[i] < r->k);
        seen[r->labels[i]]++;
    }
    for (int c = 0; c < r->k; c++)
        if (!seen[c])
            fail_msg("cluster %d of %d is empty", c, r->k);
    free(seen);
}

static void test_kmeans_edge_cases(void **state)
{
    const float x[] = {0, 0, 4, 0, 0, 3, 4, 3, 2, 1.5f}; /* five 2-d points */
    kmeans_result r;
    /* k == n: every point its own centroid, inertia 0 */
    semb_kmeans_options o = semb_kmeans_options_default(5);
    fit_ok(x, 5, 2, &o, &r);
    assert_all_clusters_used(&r, 5);
    assert_close(r.inertia, 0, 0, "k == n inertia");
    kmeans_result_free(&r);
    /* k == 1: the mean (2, 1.5); inertia = sum |x - mean|^2 = 4 x 6.25 + 0 = 25 */
    o.k = 1;
    fit_ok(x, 5, 2, &o, &r);
    assert_close(r.centroids[0], 2, 1e-6, "mean x");
    assert_close(r.centroids[1], 1.5, 1e-6, "mean y");
    assert_close(r.inertia, 25, 1e-9, "k == 1 inertia");
    kmeans_result_free(&r);
    /* all points equal: k-means++ can only draw duplicates, the assignment puts everything in
     * cluster 0, and the empty clusters take points over: k non-empty clusters, inertia 0 */
    float same[12];
    for (int i = 0; i < 12; i++)
        same[i] = i % 2 ? 1.0f : -2.0f;
    o.k = 3;
    fit_ok(same, 6, 2, &o, &r);
    assert_all_clusters_used(&r, 6);
    assert_close(r.inertia, 0, 0, "duplicates inertia");
    kmeans_result_free(&r);
    o.k = 6; /* k == n on duplicates */
    fit_ok(same, 6, 2, &o, &r);
    assert_all_clusters_used(&r, 6);
    kmeans_result_free(&r);
}

static void test_kmeans_plusplus_skips_duplicates(void **state)
{
    /* three copies of A and three of B: once a copy of A is a centre, the other copies weigh
     * 0, so the second centre is a copy of B whatever the seed */
    const float x[] = {0, 0, 100, 100, 0, 0, 100, 100, 0, 0, 100, 100};
    double norms[6];
    kmeans_squared_norms(x, 6, 2, norms);
    for (uint64_t s = 0; s < 20; s++) {
        rng_state rng;
        rng_seed(&rng, s);
        float c[4];
        assert_int_equal(kmeans_plusplus(x, norms, 6, 2, 2, &rng, c, NULL), SEMB_OK);
        assert_true(c[0] != c[2]);
    }
}

static void test_kmeans_bad_input(void **state)
{
    const float x[] = {0, 1, 2, 3};
    kmeans_result r;
    semb_error err = {0};
    semb_kmeans_options o = semb_kmeans_options_default(3);
    assert_int_equal(kmeans_fit(x, 2, 2, &o, &r, &err), SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "k = 3 is larger than the number of points (2)");
    o.k = 0;
    assert_int_equal(kmeans_fit(x, 2, 2, &o, &r, &err), SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "k = 0 must be at least 1");
    o.k = -4;
    assert_int_equal(kmeans_fit(x, 2, 2, &o, &r, &err), SEMB_ERR_INVALID_ARG);
    o.k = 1;
    assert_int_equal(kmeans_fit(x, 0, 2, &o, &r, &err), SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "no points");
    o.n_init = 0;
    assert_int_equal(kmeans_fit(x, 2, 2, &o, &r, &err), SEMB_ERR_INVALID_ARG);
    o.n_init = 1;
    const float bad[] = {0, 1, NAN, 3};
    assert_int_equal(kmeans_fit(bad, 2, 2, &o, &r, &err), SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "point 1, dimension 0 is not a finite number");
    assert_null(r.labels);
    int32_t labels[2];
    assert_int_equal(semb_kmeans(x, 2, 2, &o, labels, NULL, NULL, &err), SEMB_OK);
    assert_int_equal(labels[0], 0);
    assert_int_equal(labels[1], 0);
}

/* ---- community detection ---- */

static void assert_communities(const semb_communities *c, const size_t *want_offsets,
                               const size_t *want_members, size_t want_count, const char *what)
{
    if (c->count != want_count)
        fail_msg("%s: %zu communities, want %zu", what, c->count, want_count);
    for (size_t k = 0; k <= want_count; k++)
        if (c->offsets[k] != want_offsets[k])
            fail_msg("%s: offset %zu is %zu, want %zu", what, k, c->offsets[k], want_offsets[k]);
    for (size_t m = 0; m < want_offsets[want_count]; m++)
        if (c->members[m] != want_members[m])
            fail_msg("%s: member %zu is %zu, want %zu", what, m, c->members[m], want_members[m]);
}

/* Five vectors at first, first + 10, ..., first + 40 degrees. Two points symmetric about
 * 0 degrees score exactly alike against the point at 0 (same x, opposite y): a true tie. */
static void fan(float *x, double first)
{
    for (int i = 0; i < 5; i++) {
        double a = (first + i * 10.0) * M_PI / 180.0;
        x[2 * i] = (float)(3 * cos(a)); /* not unit length: normalised inside */
        x[2 * i + 1] = (float)(3 * sin(a));
    }
}

static void detect_both(const float *x, size_t n, int dim, double threshold, int min_size,
                        int batch, semb_communities *fast, semb_communities *ref)
{
    semb_error err = {0};
    semb_communities recomputed;
    if (semb_community_detection(x, n, dim, threshold, min_size, batch, fast, &err) ||
        community_detection_blocked(x, n, dim, threshold, min_size, batch, false, &recomputed,
                                    &err) ||
        community_detection_reference(x, n, dim, threshold, min_size, ref, &err))
        fail_msg("community detection: %s", err.message);
    /* the second pass from cached lists and from recomputed rows agree */
    assert_int_equal(fast->count, recomputed.count);
    assert_memory_equal(fast->offsets, recomputed.offsets,
                        (fast->count + 1) * sizeof *fast->offsets);
    assert_memory_equal(fast->members, recomputed.members,
                        fast->offsets[fast->count] * sizeof *fast->members);
    semb_communities_free(&recomputed);
}

static void test_communities_by_hand(void **state)
{
    float x[10];
    fan(x, -20);
    semb_communities c, r;
    /* threshold cos 25: neighbours within 20 degrees. Point 2 sees all five, so it takes
     * them all: itself, then 1 and 3 (10 degrees, a tie: lower index first), then 0 and 4. */
    detect_both(x, 5, 2, cos(25 * M_PI / 180), 2, 0, &c, &r);
    assert_communities(&c, (size_t[]){0, 5}, (size_t[]){2, 1, 3, 0, 4}, 1, "cos 25, min 2");
    assert_communities(&r, (size_t[]){0, 5}, (size_t[]){2, 1, 3, 0, 4}, 1, "reference");
    semb_communities_free(&c), semb_communities_free(&r);
    /* at -10, 0, ..., 30 and threshold cos 15: neighbours within 10 degrees. Points 1, 2, 3
     * have three each and come first (ties in index order): 1 takes {1, 0, 2} (0 and 2 tie);
     * 2 is left {3} and 3 is left {3, 4}: with min size 2 the latter is a community, with 3
     * neither. 0 and 4 find nothing left. */
    fan(x, -10);
    detect_both(x, 5, 2, cos(15 * M_PI / 180), 2, 1, &c, &r);
    assert_communities(&c, (size_t[]){0, 3, 5}, (size_t[]){1, 0, 2, 3, 4}, 2, "cos 15, min 2");
    assert_communities(&r, (size_t[]){0, 3, 5}, (size_t[]){1, 0, 2, 3, 4}, 2, "reference 2");
    semb_communities_free(&c), semb_communities_free(&r);
    detect_both(x, 5, 2, cos(15 * M_PI / 180), 3, 2, &c, &r);
    assert_communities(&c, (size_t[]){0, 3}, (size_t[]){1, 0, 2}, 1, "cos 15, min 3");
    semb_communities_free(&c), semb_communities_free(&r);
    /* min size above n is capped at n (as sentence-transformers): all five at threshold -1,
     * point 0 first (all five tie on count), then by decreasing similarity to it */
    detect_both(x, 5, 2, -1, 10, 0, &c, &r);
    assert_communities(&c, (size_t[]){0, 5}, (size_t[]){0, 1, 2, 3, 4}, 1, "min size capped");
    semb_communities_free(&c), semb_communities_free(&r);
    /* nothing close enough: no community */
    detect_both(x, 5, 2, 0.999, 2, 0, &c, &r);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.offsets[0], 0);
    semb_communities_free(&c), semb_communities_free(&r);
}

static void test_communities_sorted_after_trimming(void **state)
{
    /* A trimmed candidate can end smaller than a later one: the result is re-sorted largest
     * first. Angles (threshold cos 9.5: neighbours within 9 degrees), index: 0 at 0, 1 at -9,
     * 2 at -5, 3 at 5, 4 at 9, 5 at 17, 6 at 22, 7 at 26, and 8-11 four copies at 90.
     * Counts: 0 sees 5; 2, 3, 4, 5 and the copies see 4; 1, 6, 7 see 3. Taken in that order:
     * 0 takes {0, 2, 3, 1, 4} (5 and -5 tie, then -9 and 9); 2 and 3 find nothing left; 4 is
     * left {5}; 5 keeps {5, 6, 7} of its 4; the copies make 4. Found 5, 3, 4: printed 5, 4, 3. */
    float x[24];
    const double deg[] = {0, -9, -5, 5, 9, 17, 22, 26, 90, 90, 90, 90};
    for (int i = 0; i < 12; i++) {
        x[2 * i] = (float)cos(deg[i] * M_PI / 180);
        x[2 * i + 1] = (float)sin(deg[i] * M_PI / 180);
    }
    semb_communities c, r;
    const size_t offsets[] = {0, 5, 9, 12}, members[] = {0, 2, 3, 1, 4, 8, 9, 10, 11, 5, 6, 7};
    detect_both(x, 12, 2, cos(9.5 * M_PI / 180), 3, 0, &c, &r);
    assert_communities(&c, offsets, members, 3, "re-sorted");
    assert_communities(&r, offsets, members, 3, "reference re-sorted");
    semb_communities_free(&c), semb_communities_free(&r);
}

/* Random points around a few centres, so that communities of all sizes overlap. */
static void test_communities_match_reference(void **state)
{
    unsigned seed = 9;
    size_t n = 301;
    int dim = 12;
    float *centres = random_rows(6, dim, &seed), *x = malloc(n * (size_t)dim * sizeof *x);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            x[i * dim + d] = centres[(i % 6) * dim + d] + 0.35f * uniform(&seed);
    const double thresholds[] = {0.3, 0.7, 0.85, 0.95};
    const int min_sizes[] = {1, 3, 10, 60}, batches[] = {1, 7, 1024};
    size_t found = 0;
    for (size_t t = 0; t < 4; t++)
        for (size_t m = 0; m < 4; m++)
            for (size_t b = 0; b < 3; b++) {
                semb_communities c, r;
                detect_both(x, n, dim, thresholds[t], min_sizes[m], batches[b], &c, &r);
                char what[64];
                snprintf(what, sizeof what, "t %g min %d batch %d", thresholds[t], min_sizes[m],
                         batches[b]);
                assert_communities(&c, r.offsets, r.members, r.count, what);
                found += c.count;
                semb_communities_free(&c), semb_communities_free(&r);
            }
    assert_true(found > 20); /* the cases are not all empty */
    free(centres);
    free(x);
}

static void test_communities_bad_input(void **state)
{
    float x[10];
    fan(x, 0);
    float copy[10];
    memcpy(copy, x, sizeof x);
    semb_communities c;
    semb_error err = {0};
    assert_int_equal(semb_community_detection(x, 5, 2, 1.5, 2, 0, &c, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "threshold 1.5 is outside [-1, 1]");
    assert_int_equal(semb_community_detection(x, 5, 2, NAN, 2, 0, &c, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(semb_community_detection(x, 5, 2, 0.5, 0, 0, &c, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "min size 0 must be at least 1");
    assert_int_equal(semb_community_detection(x, 0, 2, 0.5, 2, 0, &c, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "no embeddings");
    x[3] = INFINITY;
    assert_int_equal(semb_community_detection(x, 5, 2, 0.5, 2, 0, &c, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "embedding 1, dimension 1");
    assert_null(c.offsets);
    x[3] = copy[3];
    assert_int_equal(semb_community_detection(x, 5, 2, 0.5, 2, 0, &c, &err), SEMB_OK);
    assert_memory_equal(x, copy, sizeof x); /* normalised on a copy */
    semb_communities_free(&c);
}

/* ---- labelled texts ---- */

static char *write_temp(const char *dir, const char *name, const char *text)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    return path;
}

static void expect_read_error(const char *dir, const char *text, const char *part)
{
    cluster_dataset ds;
    semb_error err = {0};
    const char *path = write_temp(dir, "bad.jsonl", text);
    assert_int_not_equal(cluster_dataset_read(path, &ds, &err), SEMB_OK);
    assert_message_contains(&err, part);
    assert_int_equal(ds.n, 0);
}

static void test_dataset_reader(void **state)
{
    char *dir = test_make_temp_dir();
    cluster_dataset ds;
    semb_error err = {0};
    const char *path = write_temp(dir, "ok.jsonl",
                                  "{\"text\": \"a\", \"label\": \"x\"}\n\n"
                                  "{\"text\": \"b\", \"label\": 1, \"other\": 2}\r\n"
                                  "{\"label\": \"x\", \"text\": \"c\"}\n"
                                  "{\"text\": \"d\", \"label\": \"1\"}\n"
                                  "{\"text\": \"e\", \"label\": 1}\n");
    assert_int_equal(cluster_dataset_read(path, &ds, &err), SEMB_OK);
    assert_int_equal(ds.n, 5);
    assert_int_equal(ds.n_labels, 3); /* "x", 1 and "1" (a string is not an integer) */
    const int32_t want[] = {0, 1, 0, 2, 1};
    const size_t lines[] = {1, 3, 4, 5, 6};
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(ds.labels[i], want[i]);
        assert_int_equal(ds.line_numbers[i], lines[i]);
    }
    assert_string_equal(ds.texts[2], "c");
    cluster_dataset_free(&ds);
    expect_read_error(dir, "{\"text\": \"a\", \"label\": 1}\n{\"text\": \"b\"\n",
                      "bad.jsonl:2: not JSON");
    expect_read_error(dir, "{\"text\": \"a\"}\n", "bad.jsonl:1: \"label\" is missing");
    expect_read_error(dir, "{\"text\": \"a\", \"label\": 1.5}\n",
                      "bad.jsonl:1: \"label\" is neither a string nor an integer");
    expect_read_error(dir, "\n{\"label\": 2}\n", "bad.jsonl:2: \"text\" is missing");
    expect_read_error(dir, "{\"text\": 3, \"label\": 2}\n", "\"text\" is not a string");
    expect_read_error(dir, "[\"a\", 1]\n", "bad.jsonl:1: expected a JSON object");
    expect_read_error(dir, "\n\n", "bad.jsonl: no labelled texts");
    assert_int_equal(cluster_dataset_read("/nonexistent/x.jsonl", &ds, &err), SEMB_ERR_IO);
    test_rmtree(dir);
    free(dir);
}

static void test_evaluate_embeddings(void **state)
{
    /* 4 labels on separable blobs: k defaults to 4, V = 1; k = 8 keeps homogeneity 1 */
    unsigned seed = 1;
    size_t n = 80;
    int32_t truth[80];
    float *x = blob_points(n, 6, 4, truth, &seed);
    cluster_dataset ds = {.labels = truth, .n = n, .n_labels = 4};
    semb_kmeans_options o = semb_kmeans_options_default(0);
    cluster_eval_result r;
    assert_int_equal(cluster_evaluate_embeddings(x, 6, &ds, &o, &r, NULL), SEMB_OK);
    assert_int_equal(r.k, 4);
    assert_int_equal(r.texts, 80);
    assert_int_equal(r.labels, 4);
    assert_close(r.scores.v_measure, 1, 1e-12, "V");
    o.k = 8;
    assert_int_equal(cluster_evaluate_embeddings(x, 6, &ds, &o, &r, NULL), SEMB_OK);
    assert_close(r.scores.homogeneity, 1, 1e-12, "homogeneity with k = 8");
    assert_true(r.scores.completeness < 1);
    semb_error err = {0};
    o.k = 81;
    assert_int_equal(cluster_evaluate_embeddings(x, 6, &ds, &o, &r, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "larger than the number of points (80)");
    free(x);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_v_measure_split_class),
        cmocka_unit_test(test_v_measure_by_hand),
        cmocka_unit_test(test_v_measure_degenerate),
        cmocka_unit_test(test_assign_matches_reference),
        cmocka_unit_test(test_kmeans_recovers_blobs),
        cmocka_unit_test(test_kmeans_seeds_and_threads),
        cmocka_unit_test(test_kmeans_edge_cases),
        cmocka_unit_test(test_kmeans_plusplus_skips_duplicates),
        cmocka_unit_test(test_kmeans_bad_input),
        cmocka_unit_test(test_communities_by_hand),
        cmocka_unit_test(test_communities_sorted_after_trimming),
        cmocka_unit_test(test_communities_match_reference),
        cmocka_unit_test(test_communities_bad_input),
        cmocka_unit_test(test_dataset_reader),
        cmocka_unit_test(test_evaluate_embeddings),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
