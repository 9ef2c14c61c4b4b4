#include "index/community_detection.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/similarity.h"
#include "kernels/matmul.h"

/* Score rows per product are capped so one [rows, n] tile stays within this many floats
 * (256 MB): the batch only changes speed, never the result. */
#define MAX_TILE_FLOATS ((size_t)1 << 26)
#define DEFAULT_BATCH 1024

void semb_communities_free(semb_communities *c)
{
    free(c->offsets);
    free(c->members);
    memset(c, 0, sizeof *c);
}

static semb_status check_arguments(const float *embeddings, size_t n, int dim, double threshold,
                                   int min_size, semb_error *err)
{
    if (n == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "community detection: no embeddings");
    if (dim <= 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "community detection: dimension %d is not positive", dim);
    if (!(threshold >= -1.0 && threshold <= 1.0))
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "community detection: threshold %g is outside [-1, 1]", threshold);
    if (min_size < 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "community detection: min size %d must be at least 1", min_size);
    for (size_t i = 0; i < n * (size_t)dim; i++)
        if (!isfinite(embeddings[i]))
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "community detection: embedding %zu, dimension %zu is not a "
                             "finite number", i / (size_t)dim, i % (size_t)dim);
    return SEMB_OK;
}

/* A normalised copy of the rows (the caller's stay untouched). */
static float *normalized_copy(const float *embeddings, size_t n, int dim)
{
    float *rows = malloc(n * (size_t)dim * sizeof *rows);
    if (rows) {
        memcpy(rows, embeddings, n * (size_t)dim * sizeof *rows);
        similarity_normalize_rows(rows, n, dim);
    }
    return rows;
}

/* ---- building the result ---- */

typedef struct member {
    double score;
    size_t index;
} member;

/* Decreasing score, then lower index (the centre's score is set to +infinity first). */
static int member_order(const void *a, const void *b)
{
    const member *x = a, *y = b;
    if (x->score != y->score)
        return x->score < y->score ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Communities in the order they were found, appended to out->members / offsets; finish
 * reorders them largest first, stably. */
typedef struct found {
    size_t start, size;
} found;

static int largest_first(const void *a, const void *b)
{
    const found *x = a, *y = b;
    if (x->size != y->size)
        return x->size < y->size ? 1 : -1;
    return (x->start > y->start) - (x->start < y->start); /* found earlier = lower start */
}

static semb_status finish(semb_communities *out, size_t n, semb_error *err)
{
    found *f = malloc((out->count + 1) * sizeof *f);
    size_t *members = malloc((n ? n : 1) * sizeof *members);
    if (!f || !members) {
        free(f);
        free(members);
        return semb_fail(err, SEMB_ERR_NOMEM, "community detection: out of memory");
    }
    for (size_t c = 0; c < out->count; c++)
        f[c] = (found){out->offsets[c], out->offsets[c + 1] - out->offsets[c]};
    qsort(f, out->count, sizeof *f, largest_first);
    size_t at = 0;
    for (size_t c = 0; c < out->count; c++) {
        memcpy(members + at, out->members + f[c].start, f[c].size * sizeof *members);
        out->offsets[c] = at;
        at += f[c].size;
    }
    out->offsets[out->count] = at;
    free(out->members);
    out->members = members;
    free(f);
    return SEMB_OK;
}

/* Keeps the candidate of centre i (its members in any order, scores against i) when at least
 * m of them are not taken yet: sorts them and appends a community. */
static void offer_candidate(semb_communities *out, member *list, size_t count, size_t i,
                            size_t m, uint8_t *taken, size_t *remaining)
{
    size_t kept = 0;
    for (size_t t = 0; t < count; t++)
        if (!taken[list[t].index])
            list[kept++] = list[t];
    if (kept < m)
        return;
    for (size_t t = 0; t < kept; t++)
        if (list[t].index == i)
            list[t].score = INFINITY;
    qsort(list, kept, sizeof *list, member_order);
    size_t at = out->offsets[out->count];
    for (size_t t = 0; t < kept; t++) {
        out->members[at + t] = list[t].index;
        taken[list[t].index] = 1;
    }
    out->offsets[++out->count] = at + kept;
    *remaining -= kept;
}

static semb_status alloc_result(semb_communities *out, size_t n, semb_error *err)
{
    out->count = 0;
    out->offsets = calloc(n + 1, sizeof *out->offsets);
    out->members = malloc(n * sizeof *out->members);
    if (!out->offsets || !out->members) {
        semb_communities_free(out);
        return semb_fail(err, SEMB_ERR_NOMEM, "community detection: out of memory for %zu", n);
    }
    return SEMB_OK;
}

/* ---- candidates ---- */

typedef struct candidate {
    size_t count, index;
} candidate;

static int by_count_then_index(const void *a, const void *b)
{
    const candidate *x = a, *y = b;
    if (x->count != y->count)
        return x->count < y->count ? 1 : -1;
    return (x->index > y->index) - (x->index < y->index);
}

/* ---- the reference ---- */

semb_status community_detection_reference(const float *embeddings, size_t n, int dim,
                                          double threshold, int min_size,
                                          semb_communities *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    semb_status st = check_arguments(embeddings, n, dim, threshold, min_size, err);
    if (st)
        return st;
    size_t m = (size_t)min_size < n ? (size_t)min_size : n;
    float *rows = normalized_copy(embeddings, n, dim);
    double *scores = malloc(n * n * sizeof *scores);
    candidate *cand = malloc(n * sizeof *cand);
    member *list = malloc(n * sizeof *list);
    uint8_t *taken = calloc(n, 1);
    if (!rows || !scores || !cand || !list || !taken || alloc_result(out, n, err)) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "community detection: out of memory for %zu", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        for (size_t j = 0; j < n; j++)
            scores[i * n + j] = similarity_pair(SEMB_SIMILARITY_DOT, rows + i * (size_t)dim,
                                                rows + j * (size_t)dim, dim);
    size_t n_cand = 0, remaining = n;
    for (size_t i = 0; i < n; i++) {
        size_t count = 0;
        for (size_t j = 0; j < n; j++)
            count += scores[i * n + j] >= threshold;
        if (count >= m)
            cand[n_cand++] = (candidate){count, i};
    }
    qsort(cand, n_cand, sizeof *cand, by_count_then_index);
    for (size_t c = 0; c < n_cand; c++) {
        size_t i = cand[c].index, count = 0;
        for (size_t j = 0; j < n; j++)
            if (scores[i * n + j] >= threshold)
                list[count++] = (member){scores[i * n + j], j};
        offer_candidate(out, list, count, i, m, taken, &remaining);
    }
    st = finish(out, n, err);
done:
    if (st)
        semb_communities_free(out);
    free(rows);
    free(scores);
    free(cand);
    free(list);
    free(taken);
    return st;
}

/* ---- the blocked path ---- */

typedef struct scorer {
    const float *rows;  /* normalised [n, dim] */
    size_t n;
    int dim;
    double threshold, margin;
} scorer;

/* Whether a float product score puts the pair at or above the threshold, as the double
 * score of the same rows decides. */
static bool at_threshold(const scorer *s, float score, size_t i, size_t j)
{
    if (score >= s->threshold + s->margin)
        return true;
    if (score < s->threshold - s->margin)
        return false;
    return similarity_pair(SEMB_SIMILARITY_DOT, s->rows + i * (size_t)s->dim,
                           s->rows + j * (size_t)s->dim, s->dim) >= s->threshold;
}

/* tile[r, n] = scores of rows centres[r] (or rows first + r when centres is NULL). */
static void score_rows(const scorer *s, const size_t *centres, size_t first, size_t count,
                       float *gathered, float *tile)
{
    const float *a = s->rows + first * (size_t)s->dim;
    if (centres) {
        for (size_t r = 0; r < count; r++)
            memcpy(gathered + r * (size_t)s->dim, s->rows + centres[r] * (size_t)s->dim,
                   sizeof(float) * (size_t)s->dim);
        a = gathered;
    }
    matmul_sgemm(false, true, (int)count, (int)s->n, s->dim, 1.0f, a, s->dim, s->rows, s->dim,
                 0.0f, tile, (int)s->n);
}

/* Pass 1 keeps the neighbour lists of candidate rows while they fit batch x n entries
 * (at least 2^25, 128 MB, at most 2^28, 1 GB), so that pass 2 reads them instead of
 * recomputing the rows; past that, pass 2 recomputes them (memory stays O(batch x n), the
 * result is the same). */
#define MIN_CACHED_NEIGHBOURS ((size_t)1 << 25)
#define MAX_CACHED_NEIGHBOURS ((size_t)1 << 28)

typedef struct neighbour_cache {
    bool alive;        /* false once given up (or never allocated) */
    size_t budget;     /* entries */
    uint32_t *ids;     /* the lists of candidate rows, one after the other */
    size_t *start;     /* [n]: where a candidate row's list starts in ids */
    size_t used, capacity;
} neighbour_cache;

static void cache_give_up(neighbour_cache *c)
{
    free(c->ids);
    free(c->start);
    *c = (neighbour_cache){0};
}

/* Appends the lists of the block's candidate rows (counts >= m), or gives the cache up when
 * they would pass the budget or memory runs out. */
static void cache_block(neighbour_cache *c, const scorer *s, const float *tile, size_t first,
                        size_t rows, const size_t *counts, size_t m)
{
    size_t need = 0;
    for (size_t r = 0; r < rows; r++)
        need += counts[first + r] >= m ? counts[first + r] : 0;
    if (c->used + need > c->budget)
        return cache_give_up(c);
    if (c->used + need > c->capacity) {
        size_t cap = 2 * c->capacity > c->used + need ? 2 * c->capacity : c->used + need;
        cap = cap < c->budget ? cap : c->budget;
        uint32_t *ids = realloc(c->ids, cap * sizeof *ids);
        if (!ids)
            return cache_give_up(c);
        c->ids = ids, c->capacity = cap;
    }
    for (size_t r = 0; r < rows; r++)
        if (counts[first + r] >= m) {
            c->start[first + r] = c->used;
            c->used += counts[first + r];
        }
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        if (counts[first + r] < m)
            continue;
        uint32_t *out = c->ids + c->start[first + r];
        for (size_t j = 0; j < s->n; j++)
            if (at_threshold(s, tile[r * s->n + j], first + r, j))
                *out++ = (uint32_t)j;
    }
}

/* Pass 1: each row's number of points at or above the threshold (and, while the cache
 * lives, the candidates' lists). */
static void count_neighbours(const scorer *s, size_t block, size_t m, float *tile,
                             size_t *counts, neighbour_cache *cache)
{
    for (size_t first = 0; first < s->n; first += block) {
        size_t rows = s->n - first < block ? s->n - first : block;
        score_rows(s, NULL, first, rows, NULL, tile);
#pragma omp parallel for schedule(static)
        for (size_t r = 0; r < rows; r++) {
            size_t count = 0;
            for (size_t j = 0; j < s->n; j++)
                count += at_threshold(s, tile[r * s->n + j], first + r, j);
            counts[first + r] = count;
        }
        if (cache->alive)
            cache_block(cache, s, tile, first, rows, counts, m);
    }
}

/* Scores the count members of list against centre i exactly (they order the community)
 * and offers it. */
static void offer_scored(const scorer *s, semb_communities *out, member *list, size_t count,
                         size_t i, size_t m, uint8_t *taken, size_t *remaining)
{
    if (count < m)
        return;
    for (size_t t = 0; t < count; t++)
        list[t].score = similarity_pair(SEMB_SIMILARITY_DOT, s->rows + i * (size_t)s->dim,
                                        s->rows + list[t].index * (size_t)s->dim, s->dim);
    offer_candidate(out, list, count, i, m, taken, remaining);
}

/* Pass 2 from the cached lists. */
static void extract_cached(const scorer *s, const candidate *cand, size_t n_cand, size_t m,
                           const neighbour_cache *cache, member *list, uint8_t *taken,
                           semb_communities *out)
{
    size_t remaining = s->n;
    for (size_t c = 0; c < n_cand && remaining >= m; c++) {
        size_t i = cand[c].index, count = 0;
        const uint32_t *ids = cache->ids + cache->start[i];
        for (size_t t = 0; t < cand[c].count; t++)
            if (!taken[ids[t]])
                list[count++] = (member){0, ids[t]};
        offer_scored(s, out, list, count, i, m, taken, &remaining);
    }
}

/* Pass 2 without the cache: the candidates' rows again, block by block in the order they
 * are taken. */
static void extract(const scorer *s, const candidate *cand, size_t n_cand, size_t m,
                    size_t block, float *tile, float *gathered, size_t *centres, member *list,
                    uint8_t *taken, semb_communities *out)
{
    size_t remaining = s->n;
    for (size_t c0 = 0; c0 < n_cand && remaining >= m; c0 += block) {
        size_t rows = n_cand - c0 < block ? n_cand - c0 : block;
        for (size_t r = 0; r < rows; r++)
            centres[r] = cand[c0 + r].index;
        score_rows(s, centres, 0, rows, gathered, tile);
        for (size_t r = 0; r < rows && remaining >= m; r++) {
            size_t i = centres[r], count = 0;
            for (size_t j = 0; j < s->n; j++)
                if (!taken[j] && at_threshold(s, tile[r * s->n + j], i, j))
                    list[count++] = (member){0, j};
            offer_scored(s, out, list, count, i, m, taken, &remaining);
        }
    }
}

semb_status community_detection_blocked(const float *embeddings, size_t n, int dim,
                                        double threshold, int min_size, int batch_size,
                                        bool cache_lists, semb_communities *out,
                                        semb_error *err)
{
    memset(out, 0, sizeof *out);
    semb_status st = check_arguments(embeddings, n, dim, threshold, min_size, err);
    if (st)
        return st;
    if (n > INT32_MAX)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "community detection: %zu embeddings are more than %d", n, INT32_MAX);
    size_t m = (size_t)min_size < n ? (size_t)min_size : n;
    size_t block = batch_size > 0 ? (size_t)batch_size : DEFAULT_BATCH;
    size_t cap = MAX_TILE_FLOATS / n ? MAX_TILE_FLOATS / n : 1;
    block = block < cap ? block : cap;
    block = block < n ? block : n;
    scorer s = {.n = n, .dim = dim, .threshold = threshold,
                .margin = 2.0 * dim * FLT_EPSILON};
    float *rows = normalized_copy(embeddings, n, dim);
    s.rows = rows;
    float *tile = malloc(block * n * sizeof *tile);
    float *gathered = malloc(block * (size_t)dim * sizeof *gathered);
    size_t *counts = malloc(n * sizeof *counts), *centres = malloc(block * sizeof *centres);
    candidate *cand = malloc(n * sizeof *cand);
    member *list = malloc(n * sizeof *list);
    uint8_t *taken = calloc(n, 1);
    if (!rows || !tile || !gathered || !counts || !centres || !cand || !list || !taken ||
        alloc_result(out, n, err)) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "community detection: out of memory for %zu", n);
        goto done;
    }
    size_t budget = batch_size > 0 ? (size_t)batch_size : DEFAULT_BATCH;
    budget = budget * n < MIN_CACHED_NEIGHBOURS ? MIN_CACHED_NEIGHBOURS : budget * n;
    neighbour_cache cache = {.alive = true, .start = malloc(n * sizeof *cache.start),
                             .budget = budget < MAX_CACHED_NEIGHBOURS ? budget
                                                                      : MAX_CACHED_NEIGHBOURS};
    if (!cache.start || !cache_lists)
        cache_give_up(&cache);
    count_neighbours(&s, block, m, tile, counts, &cache);
    size_t n_cand = 0;
    for (size_t i = 0; i < n; i++)
        if (counts[i] >= m)
            cand[n_cand++] = (candidate){counts[i], i};
    qsort(cand, n_cand, sizeof *cand, by_count_then_index);
    if (cache.alive)
        extract_cached(&s, cand, n_cand, m, &cache, list, taken, out);
    else
        extract(&s, cand, n_cand, m, block, tile, gathered, centres, list, taken, out);
    cache_give_up(&cache);
    st = finish(out, n, err);
done:
    if (st)
        semb_communities_free(out);
    free(rows);
    free(tile);
    free(gathered);
    free(counts);
    free(centres);
    free(cand);
    free(list);
    free(taken);
    return st;
}

semb_status semb_community_detection(const float *embeddings, size_t n, int dim,
                                     double threshold, int min_size, int batch_size,
                                     semb_communities *out, semb_error *err)
{
    return community_detection_blocked(embeddings, n, dim, threshold, min_size, batch_size,
                                       true, out, err);
}
