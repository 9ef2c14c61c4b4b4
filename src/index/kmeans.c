#include "index/kmeans.h"

#include <math.h>
#include <omp.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/matmul.h"

/* Distance tiles of POINT_BLOCK x CENTROID_BLOCK floats (1 MiB per thread), so k == n on a
 * large corpus still needs only a few MB. */
#define POINT_BLOCK 256
#define CENTROID_BLOCK 1024
/* Points per matrix product when scoring k-means++ candidates. */
#define PLUSPLUS_CHUNK 16384

semb_kmeans_options semb_kmeans_options_default(int k)
{
    return (semb_kmeans_options){.k = k, .n_init = 1, .max_iter = 300, .tol = 1e-4, .seed = 0};
}

void kmeans_result_free(kmeans_result *r)
{
    free(r->centroids);
    free(r->labels);
    memset(r, 0, sizeof *r);
}

void kmeans_squared_norms(const float *rows, size_t n, int dim, double *norms)
{
#pragma omp parallel for schedule(static) if (n * (size_t)dim >= 65536)
    for (size_t i = 0; i < n; i++) {
        const float *r = rows + i * (size_t)dim;
        double sum = 0;
        for (int d = 0; d < dim; d++)
            sum += (double)r[d] * r[d];
        norms[i] = sum;
    }
}

/* ---- assignment ---- */

static void assign_block(const float *points, const double *point_norms, size_t begin,
                         size_t count, int dim, const float *centroids,
                         const double *centroid_norms, int k, float *tile, int32_t *labels,
                         double *distances)
{
    for (size_t i = 0; i < count; i++) {
        labels[begin + i] = 0;
        distances[begin + i] = INFINITY;
    }
    for (int c0 = 0; c0 < k; c0 += CENTROID_BLOCK) {
        int width = k - c0 < CENTROID_BLOCK ? k - c0 : CENTROID_BLOCK;
        matmul_sgemm(false, true, (int)count, width, dim, 1.0f, points + begin * (size_t)dim,
                     dim, centroids + (size_t)c0 * dim, dim, 0.0f, tile, width);
        for (size_t i = 0; i < count; i++) {
            double best = distances[begin + i];
            int32_t label = labels[begin + i];
            for (int j = 0; j < width; j++) {
                double d = point_norms[begin + i] + centroid_norms[c0 + j] -
                           2.0 * tile[i * (size_t)width + j];
                if (d < best) { /* strict: the lower index keeps a tie */
                    best = d;
                    label = c0 + j;
                }
            }
            labels[begin + i] = label;
            distances[begin + i] = best;
        }
    }
    for (size_t i = 0; i < count; i++)
        if (!(distances[begin + i] > 0))
            distances[begin + i] = 0; /* rounding can push |x - c|^2 below zero */
}

semb_status kmeans_assign(const float *points, const double *point_norms, size_t n, int dim,
                          const float *centroids, int k, int32_t *labels, double *distances,
                          semb_error *err)
{
    int threads = omp_get_max_threads();
    size_t tile_floats = (size_t)POINT_BLOCK * CENTROID_BLOCK;
    float *tiles = malloc((size_t)threads * tile_floats * sizeof *tiles);
    double *centroid_norms = malloc((size_t)k * sizeof *centroid_norms);
    if (!tiles || !centroid_norms) {
        free(tiles);
        free(centroid_norms);
        return semb_fail(err, SEMB_ERR_NOMEM, "k-means: cannot allocate distance tiles");
    }
    kmeans_squared_norms(centroids, (size_t)k, dim, centroid_norms);
    size_t blocks = (n + POINT_BLOCK - 1) / POINT_BLOCK;
    /* Each block's product runs on its own thread (matmul_sgemm inside a parallel region
     * is single-threaded), so a point's label never depends on the thread count. */
#pragma omp parallel for schedule(dynamic) num_threads(threads)
    for (size_t b = 0; b < blocks; b++) {
        size_t begin = b * POINT_BLOCK;
        size_t count = n - begin < POINT_BLOCK ? n - begin : POINT_BLOCK;
        assign_block(points, point_norms, begin, count, dim, centroids, centroid_norms, k,
                     tiles + (size_t)omp_get_thread_num() * tile_floats, labels, distances);
    }
    free(tiles);
    free(centroid_norms);
    return SEMB_OK;
}

static double squared_distance(const float *a, const float *b, int dim)
{
    double sum = 0;
    for (int d = 0; d < dim; d++) {
        double diff = (double)a[d] - b[d];
        sum += diff * diff;
    }
    return sum;
}

void kmeans_assign_reference(const float *points, size_t n, int dim, const float *centroids,
                             int k, int32_t *labels, double *distances)
{
    for (size_t i = 0; i < n; i++) {
        double best = INFINITY;
        int32_t label = 0;
        for (int c = 0; c < k; c++) {
            double d = squared_distance(points + i * (size_t)dim, centroids + (size_t)c * dim,
                                        dim);
            if (d < best) {
                best = d;
                label = c;
            }
        }
        labels[i] = label;
        distances[i] = best;
    }
}

/* ---- k-means++ ---- */

/* Uniform in [0, 1) with 53 random bits. */
static double uniform_double(rng_state *rng)
{
    return (double)(rng_next_u64(rng) >> 11) * (1.0 / 9007199254740992.0);
}

static size_t uniform_index(rng_state *rng, size_t n)
{
    return (size_t)(uniform_double(rng) * (double)n) % n;
}

/* The point a draw r in [0, total) lands on: the first i with cumulative[i] > r, so a point
 * of weight 0 (a centre already) is never drawn while any weight remains. */
static size_t draw_weighted(const double *cumulative, const double *weights, size_t n, double r)
{
    size_t lo = 0, hi = n;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (cumulative[mid] > r)
            hi = mid;
        else
            lo = mid + 1;
    }
    if (lo < n)
        return lo;
    /* r reached the total by rounding: the last point with weight */
    for (size_t i = n; i-- > 0;)
        if (weights[i] > 0)
            return i;
    return n - 1;
}

/* distances[t * n + i] = |x_i - candidate_t|^2 for the trials candidate points. */
static void candidate_distances(const float *points, const double *point_norms, size_t n,
                                int dim, const size_t *candidates, int trials, float *rows,
                                float *tile, double *distances)
{
    for (int t = 0; t < trials; t++)
        memcpy(rows + (size_t)t * dim, points + candidates[t] * (size_t)dim,
               sizeof(float) * (size_t)dim);
    for (size_t begin = 0; begin < n; begin += PLUSPLUS_CHUNK) {
        int count = (int)(n - begin < PLUSPLUS_CHUNK ? n - begin : PLUSPLUS_CHUNK);
        matmul_sgemm(false, true, trials, count, dim, 1.0f, rows, dim,
                     points + begin * (size_t)dim, dim, 0.0f, tile, count);
        for (int t = 0; t < trials; t++)
            for (int i = 0; i < count; i++) {
                double d = point_norms[candidates[t]] + point_norms[begin + i] -
                           2.0 * tile[(size_t)t * count + i];
                distances[(size_t)t * n + begin + i] = d > 0 ? d : 0;
            }
    }
}

semb_status kmeans_plusplus(const float *points, const double *point_norms, size_t n, int dim,
                            int k, rng_state *rng, float *centroids, semb_error *err)
{
    int trials = 2 + (int)log((double)k);
    double *closest = malloc(n * sizeof *closest);
    double *cumulative = malloc(n * sizeof *cumulative);
    double *distances = malloc((size_t)trials * n * sizeof *distances);
    float *rows = malloc((size_t)trials * dim * sizeof *rows);
    float *tile = malloc((size_t)trials * PLUSPLUS_CHUNK * sizeof *tile);
    size_t candidates[64];
    semb_status st = SEMB_OK;
    if (!closest || !cumulative || !distances || !rows || !tile) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "k-means++: cannot allocate %zu distances", n);
        goto done;
    }
    candidates[0] = uniform_index(rng, n);
    memcpy(centroids, points + candidates[0] * (size_t)dim, sizeof(float) * (size_t)dim);
    candidate_distances(points, point_norms, n, dim, candidates, 1, rows, tile, closest);
    closest[candidates[0]] = 0;
    for (int c = 1; c < k; c++) {
        double total = 0;
        for (size_t i = 0; i < n; i++)
            cumulative[i] = total += closest[i];
        for (int t = 0; t < trials; t++)
            candidates[t] = total > 0
                                ? draw_weighted(cumulative, closest, n, uniform_double(rng) * total)
                                : uniform_index(rng, n);
        candidate_distances(points, point_norms, n, dim, candidates, trials, rows, tile,
                            distances);
        /* the candidate leaving the smallest potential wins (ties: the earlier draw) */
        int best = 0;
        double best_potential = INFINITY;
        for (int t = 0; t < trials; t++) {
            double potential = 0;
            const double *d = distances + (size_t)t * n;
            for (size_t i = 0; i < n; i++)
                potential += d[i] < closest[i] ? d[i] : closest[i];
            if (potential < best_potential) {
                best_potential = potential;
                best = t;
            }
        }
        const double *d = distances + (size_t)best * n;
        for (size_t i = 0; i < n; i++)
            if (d[i] < closest[i])
                closest[i] = d[i];
        closest[candidates[best]] = 0; /* exactly, whatever the rounding of its own distance */
        memcpy(centroids + (size_t)c * dim, points + candidates[best] * (size_t)dim,
               sizeof(float) * (size_t)dim);
    }
done:
    free(closest);
    free(cumulative);
    free(distances);
    free(rows);
    free(tile);
    return st;
}

/* ---- Lloyd iterations ---- */

typedef struct lloyd_work {
    int32_t *previous;  /* [n] labels of the iteration before */
    double *distances;  /* [n] */
    size_t *order;      /* [n] points grouped by cluster */
    size_t *offsets;    /* [k + 1] */
    double *scratch;    /* [threads, dim] per-thread centroid sums */
    float *next;        /* [k, dim] */
} lloyd_work;

static void lloyd_work_free(lloyd_work *w)
{
    free(w->previous);
    free(w->distances);
    free(w->order);
    free(w->offsets);
    free(w->scratch);
    free(w->next);
}

static bool lloyd_work_alloc(lloyd_work *w, size_t n, int dim, int k)
{
    *w = (lloyd_work){
        .previous = malloc(n * sizeof *w->previous),
        .distances = malloc(n * sizeof *w->distances),
        .order = malloc(n * sizeof *w->order),
        .offsets = malloc(((size_t)k + 1) * sizeof *w->offsets),
        .scratch = malloc((size_t)omp_get_max_threads() * dim * sizeof *w->scratch),
        .next = malloc((size_t)k * dim * sizeof *w->next),
    };
    return w->previous && w->distances && w->order && w->offsets && w->scratch && w->next;
}

/* centroids[c] = the mean of cluster c's points, summed in double in point order (the same
 * bits on any thread count); an empty cluster keeps its centroid. */
static void update_centroids(const float *points, size_t n, int dim, const int32_t *labels,
                             int k, lloyd_work *w, float *centroids)
{
    size_t *offsets = w->offsets;
    memset(offsets, 0, ((size_t)k + 1) * sizeof *offsets);
    for (size_t i = 0; i < n; i++)
        offsets[labels[i] + 1]++;
    for (int c = 0; c < k; c++)
        offsets[c + 1] += offsets[c];
    for (size_t i = 0; i < n; i++)
        w->order[offsets[labels[i]]++] = i; /* offsets[c] ends as the start of c + 1 */
    for (int c = k; c > 0; c--)
        offsets[c] = offsets[c - 1];
    offsets[0] = 0;
#pragma omp parallel for schedule(dynamic, 16) if ((size_t)k * dim >= 16384)
    for (int c = 0; c < k; c++) {
        size_t begin = offsets[c], end = offsets[c + 1];
        if (begin == end)
            continue;
        double *sum = w->scratch + (size_t)omp_get_thread_num() * dim;
        memset(sum, 0, sizeof(double) * (size_t)dim);
        for (size_t m = begin; m < end; m++) {
            const float *p = points + w->order[m] * (size_t)dim;
            for (int d = 0; d < dim; d++)
                sum[d] += p[d];
        }
        for (int d = 0; d < dim; d++)
            centroids[(size_t)c * dim + d] = (float)(sum[d] / (double)(end - begin));
    }
}

typedef struct far_point {
    double distance;
    size_t index;
} far_point;

static int farthest_first(const void *a, const void *b)
{
    const far_point *x = a, *y = b;
    if (x->distance != y->distance)
        return x->distance < y->distance ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Gives each empty cluster (in index order) the point farthest from its centroid among those
 * whose cluster keeps another point. Sets *moved when it changed a label. There is always
 * such a point: fewer than k clusters hold n >= k points. */
static semb_status relocate_empty(size_t n, int k, int32_t *labels, const double *distances,
                                  bool *moved, semb_error *err)
{
    *moved = false;
    size_t *counts = calloc((size_t)k, sizeof *counts);
    if (!counts)
        return semb_fail(err, SEMB_ERR_NOMEM, "k-means: cannot allocate %d counts", k);
    for (size_t i = 0; i < n; i++)
        counts[labels[i]]++;
    int empty = 0;
    for (int c = 0; c < k; c++)
        empty += counts[c] == 0;
    far_point *far = empty ? malloc(n * sizeof *far) : NULL;
    if (empty && !far) {
        free(counts);
        return semb_fail(err, SEMB_ERR_NOMEM, "k-means: cannot allocate %zu distances", n);
    }
    if (empty) {
        for (size_t i = 0; i < n; i++)
            far[i] = (far_point){distances[i], i};
        qsort(far, n, sizeof *far, farthest_first);
        size_t next = 0;
        for (int c = 0; c < k; c++) {
            if (counts[c])
                continue;
            while (counts[labels[far[next].index]] < 2)
                next++;
            size_t p = far[next++].index;
            counts[labels[p]]--;
            labels[p] = c;
            counts[c] = 1;
        }
        *moved = true;
    }
    free(far);
    free(counts);
    return SEMB_OK;
}

static double squared_shift(const float *a, const float *b, size_t count)
{
    double sum = 0;
    for (size_t i = 0; i < count; i++) {
        double d = (double)a[i] - b[i];
        sum += d * d;
    }
    return sum;
}

/* Labels with the current centroids, empty clusters re-seeded (the centroids then follow). */
static semb_status assign_and_relocate(const float *points, const double *norms, size_t n,
                                       int dim, int k, lloyd_work *w, float *centroids,
                                       int32_t *labels, bool *moved, semb_error *err)
{
    semb_status st = kmeans_assign(points, norms, n, dim, centroids, k, labels, w->distances,
                                   err);
    return st ? st : relocate_empty(n, k, labels, w->distances, moved, err);
}

static double exact_inertia(const float *points, size_t n, int dim, const float *centroids,
                            const int32_t *labels, double *distances)
{
#pragma omp parallel for schedule(static) if (n * (size_t)dim >= 65536)
    for (size_t i = 0; i < n; i++)
        distances[i] = squared_distance(points + i * (size_t)dim,
                                        centroids + (size_t)labels[i] * dim, dim);
    double sum = 0;
    for (size_t i = 0; i < n; i++) /* serial: the same sum on any thread count */
        sum += distances[i];
    return sum;
}

/* One k-means run from a k-means++ start, as scikit-learn's lloyd loop. */
static semb_status lloyd_run(const float *points, const double *norms, size_t n, int dim,
                             int k, int max_iter, double tol, rng_state *rng, lloyd_work *w,
                             float *centroids, int32_t *labels, int *iterations,
                             double *inertia, semb_error *err)
{
    semb_status st = kmeans_plusplus(points, norms, n, dim, k, rng, centroids, err);
    for (size_t i = 0; i < n; i++)
        w->previous[i] = -1;
    bool strict = false, moved;
    int it = 0;
    size_t floats = (size_t)k * dim;
    while (!st && it < max_iter) {
        it++;
        if ((st = assign_and_relocate(points, norms, n, dim, k, w, centroids, labels, &moved,
                                      err)))
            break;
        strict = memcmp(labels, w->previous, n * sizeof *labels) == 0;
        memcpy(w->previous, labels, n * sizeof *labels);
        memcpy(w->next, centroids, floats * sizeof *centroids);
        update_centroids(points, n, dim, labels, k, w, w->next);
        double shift = squared_shift(w->next, centroids, floats);
        memcpy(centroids, w->next, floats * sizeof *centroids);
        if (strict || shift <= tol)
            break;
    }
    /* Stopped on the shift or the iteration limit: the labels follow the last centroids. */
    if (!st && !strict) {
        st = assign_and_relocate(points, norms, n, dim, k, w, centroids, labels, &moved, err);
        if (!st && moved)
            update_centroids(points, n, dim, labels, k, w, centroids);
    }
    *iterations = it;
    if (!st)
        *inertia = exact_inertia(points, n, dim, centroids, labels, w->distances);
    return st;
}

/* ---- the whole fit ---- */

static semb_status check_fit_arguments(const float *points, size_t n, int dim,
                                       const semb_kmeans_options *o, semb_error *err)
{
    if (!o)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "k-means: no options");
    if (n == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "k-means: no points to cluster");
    if (dim <= 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "k-means: dimension %d is not positive",
                         dim);
    if (o->k <= 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "k-means: k = %d must be at least 1", o->k);
    if ((size_t)o->k > n)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "k-means: k = %d is larger than the number of points (%zu)", o->k, n);
    if (o->n_init <= 0 || o->max_iter <= 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "k-means: n_init (%d) and max_iter (%d) must be at least 1", o->n_init,
                         o->max_iter);
    if (!(o->tol >= 0) || isinf(o->tol))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "k-means: tol %g is not a finite number >= 0",
                         o->tol);
    for (size_t i = 0; i < n * (size_t)dim; i++)
        if (!isfinite(points[i]))
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "k-means: point %zu, dimension %zu is not a finite number",
                             i / (size_t)dim, i % (size_t)dim);
    return SEMB_OK;
}

/* scikit-learn's tolerance: tol x the mean over dimensions of the data's variance (two
 * passes in row order, in double). */
static semb_status absolute_tolerance(const float *points, size_t n, int dim, double tol,
                                      double *out, semb_error *err)
{
    double *mean = calloc((size_t)dim, sizeof *mean);
    if (!mean)
        return semb_fail(err, SEMB_ERR_NOMEM, "k-means: cannot allocate %d means", dim);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            mean[d] += points[i * (size_t)dim + d];
    for (int d = 0; d < dim; d++)
        mean[d] /= (double)n;
    double total = 0;
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) {
            double x = points[i * (size_t)dim + d] - mean[d];
            total += x * x;
        }
    free(mean);
    *out = tol * total / (double)n / dim;
    return SEMB_OK;
}

semb_status kmeans_fit(const float *points, size_t n, int dim, const semb_kmeans_options *opts,
                       kmeans_result *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    semb_status st = check_fit_arguments(points, n, dim, opts, err);
    if (st)
        return st;
    int k = opts->k;
    size_t floats = (size_t)k * dim;
    double *norms = malloc(n * sizeof *norms);
    float *centroids = malloc(floats * sizeof *centroids);
    int32_t *labels = malloc(n * sizeof *labels);
    *out = (kmeans_result){.k = k, .dim = dim, .centroids = malloc(floats * sizeof(float)),
                           .labels = malloc(n * sizeof(int32_t)), .inertia = INFINITY};
    lloyd_work w;
    bool work = lloyd_work_alloc(&w, n, dim, k);
    if (!norms || !centroids || !labels || !out->centroids || !out->labels || !work) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "k-means: cannot allocate for %zu points", n);
        goto done;
    }
    kmeans_squared_norms(points, n, dim, norms);
    double tol = 0;
    st = absolute_tolerance(points, n, dim, opts->tol, &tol, err);
    for (int run = 0; run < opts->n_init && !st; run++) {
        rng_state rng;
        rng_seed(&rng, rng_hash_u64(opts->seed, (uint64_t)run));
        int iterations = 0;
        double inertia = 0;
        st = lloyd_run(points, norms, n, dim, k, opts->max_iter, tol, &rng, &w, centroids,
                       labels, &iterations, &inertia, err);
        if (!st && inertia < out->inertia) {
            float *c = out->centroids;
            int32_t *l = out->labels;
            out->centroids = centroids, out->labels = labels;
            centroids = c, labels = l;
            out->inertia = inertia, out->iterations = iterations, out->best_init = run;
        }
    }
done:
    lloyd_work_free(&w);
    free(norms);
    free(centroids);
    free(labels);
    if (st)
        kmeans_result_free(out);
    return st;
}

semb_status semb_kmeans(const float *embeddings, size_t n, int dim,
                        const semb_kmeans_options *opts, int32_t *labels, float *centroids,
                        double *inertia, semb_error *err)
{
    kmeans_result r;
    semb_status st = kmeans_fit(embeddings, n, dim, opts, &r, err);
    if (st)
        return st;
    memcpy(labels, r.labels, n * sizeof *labels);
    if (centroids)
        memcpy(centroids, r.centroids, (size_t)r.k * dim * sizeof *centroids);
    if (inertia)
        *inertia = r.inertia;
    kmeans_result_free(&r);
    return SEMB_OK;
}
