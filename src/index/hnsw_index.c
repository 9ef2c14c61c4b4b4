#include "index/hnsw_index.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/hnsw_index_internal.h"
#include "model/similarity.h"

void hnsw_index_options_default(hnsw_index_options *opts)
{
    opts->m = HNSW_INDEX_DEFAULT_M;
    opts->ef_construction = HNSW_INDEX_DEFAULT_EF_CONSTRUCTION;
    opts->seed = HNSW_INDEX_DEFAULT_SEED;
}

static semb_status check_shape(size_t n, int dim, semb_similarity similarity,
                               const hnsw_index_options *o, semb_error *err)
{
    if (similarity == SEMB_SIMILARITY_MANHATTAN)
        return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                         "hnsw: manhattan similarity is not supported (hnswlib searches "
                         "inner product and euclidean spaces; use exact search)");
    if (similarity != SEMB_SIMILARITY_COSINE && similarity != SEMB_SIMILARITY_DOT &&
        similarity != SEMB_SIMILARITY_EUCLIDEAN)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "hnsw: unknown similarity %d", (int)similarity);
    if (n == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "hnsw: no vectors to index");
    if (n >= UINT32_MAX)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "hnsw: %zu vectors, at most %u fit", n,
                         UINT32_MAX - 1);
    if (dim < 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "hnsw: dimension %d, must be at least 1", dim);
    if (o->m < 2 || o->m > HNSW_INDEX_MAX_M)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "hnsw: M = %d, must be in 2 .. %d", o->m,
                         HNSW_INDEX_MAX_M);
    if (o->ef_construction < 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "hnsw: ef_construction = %d, must be at least 1",
                         o->ef_construction);
    return SEMB_OK;
}

semb_status hnsw_index_create(size_t n, int dim, semb_similarity similarity,
                              const hnsw_index_options *opts, hnsw_index **out, semb_error *err)
{
    *out = NULL;
    semb_status status = check_shape(n, dim, similarity, opts, err);
    if (status != SEMB_OK)
        return status;
    hnsw_index *index = calloc(1, sizeof *index);
    if (!index)
        return semb_fail(err, SEMB_ERR_NOMEM, "hnsw: out of memory");
    index->similarity = similarity;
    index->dim = dim;
    index->options = *opts;
    hnsw_hasher_init(&index->hasher);
    hnsw_distance_fn distance =
        hnsw_distance_using(similarity != SEMB_SIMILARITY_EUCLIDEAN, kernel_path_best());
    status = hnsw_graph_create(dim, distance, n, (size_t)opts->m, (size_t)opts->ef_construction,
                               opts->seed, &index->graph, err);
    if (status != SEMB_OK) {
        free(index);
        return status;
    }
    *out = index;
    return SEMB_OK;
}

void hnsw_prepare_vector(semb_similarity similarity, const float *vector, int dim, float *out)
{
    memcpy(out, vector, sizeof(float) * (size_t)dim);
    similarity_prepare(similarity, out, 1, dim);
}

#define FNV_OFFSET 0xcbf29ce484222325ULL
#define FNV_PRIME 0x100000001b3ULL

void hnsw_hasher_init(hnsw_hasher *h)
{
    *h = (hnsw_hasher){.hash = FNV_OFFSET};
}

void hnsw_hasher_feed(hnsw_hasher *h, const void *data, size_t bytes)
{
    const unsigned char *p = data;
    while (bytes > 0) {
        size_t take = 8 - h->tail_bytes < bytes ? 8 - h->tail_bytes : bytes;
        memcpy(h->tail + h->tail_bytes, p, take);
        h->tail_bytes += take;
        p += take;
        bytes -= take;
        if (h->tail_bytes == 8) {
            uint64_t word;
            memcpy(&word, h->tail, 8);
            h->hash = (h->hash ^ word) * FNV_PRIME;
            h->tail_bytes = 0;
        }
    }
}

uint64_t hnsw_hasher_value(const hnsw_hasher *h)
{
    if (h->tail_bytes == 0)
        return h->hash;
    uint64_t word = 0;
    memcpy(&word, h->tail, h->tail_bytes);
    return (h->hash ^ word) * FNV_PRIME;
}

uint64_t hnsw_vectors_hash(const float *vectors, size_t n, int dim)
{
    hnsw_hasher h;
    hnsw_hasher_init(&h);
    hnsw_hasher_feed(&h, vectors, n * (size_t)dim * sizeof(float));
    return hnsw_hasher_value(&h);
}

/* Rows are numbered from first in the message. */
static semb_status check_finite(const float *rows, size_t n, size_t first, int dim,
                                const char *what, semb_error *err)
{
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            if (!isfinite(rows[i * (size_t)dim + d]))
                return semb_fail(err, SEMB_ERR_INPUT, "hnsw: %s %zu, dimension %d: %g is not a finite number",
                                 what, first + i, d, (double)rows[i * (size_t)dim + d]);
    return SEMB_OK;
}

/* Adds n vectors labelled first, first + 1, ...; the first failure of any thread wins, the
 * others stop adding once they see it. */
static semb_status add_all(hnsw_index *index, const float *vectors, size_t n, size_t first,
                           semb_error *err)
{
    semb_status status = SEMB_OK;
    int failed = 0;
    const int dim = index->dim;
#pragma omp parallel
    {
        semb_error mine_err = {0};
        float *row = malloc(sizeof(float) * (size_t)dim);
        semb_status mine = row ? SEMB_OK : semb_fail(&mine_err, SEMB_ERR_NOMEM, "hnsw: out of memory");
#pragma omp for schedule(dynamic, 64)
        for (size_t i = 0; i < n; i++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop || mine != SEMB_OK)
                continue;
            hnsw_prepare_vector(index->similarity, vectors + i * (size_t)dim, dim, row);
            mine = hnsw_graph_add(index->graph, row, (uint32_t)(first + i), &mine_err);
            if (mine != SEMB_OK) {
#pragma omp atomic write
                failed = 1;
            }
        }
#pragma omp critical(hnsw_add_all)
        if (mine != SEMB_OK && status == SEMB_OK) {
            status = mine;
            if (err)
                *err = mine_err;
        }
        free(row);
    }
    return status;
}

semb_status hnsw_index_begin(size_t n, int dim, semb_similarity similarity,
                             const hnsw_index_options *opts, hnsw_index **out, semb_error *err)
{
    hnsw_index_options defaults;
    hnsw_index_options_default(&defaults);
    return hnsw_index_create(n, dim, similarity, opts ? opts : &defaults, out, err);
}

semb_status hnsw_index_add(hnsw_index *index, const float *vectors, size_t count,
                           semb_error *err)
{
    size_t capacity = hnsw_graph_capacity(index->graph);
    if (count > capacity - index->added)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "hnsw: %zu more vectors do not fit (%zu of %zu added)", count,
                         index->added, capacity);
    semb_status status = check_finite(vectors, count, index->added, index->dim, "vector", err);
    if (status != SEMB_OK)
        return status;
    hnsw_hasher_feed(&index->hasher, vectors, count * (size_t)index->dim * sizeof(float));
    status = add_all(index, vectors, count, index->added, err);
    index->added += count;
    return status;
}

semb_status hnsw_index_build(const float *vectors, size_t n, int dim, semb_similarity similarity,
                             const hnsw_index_options *opts, hnsw_index **out, semb_error *err)
{
    hnsw_index *index;
    semb_status status = hnsw_index_begin(n, dim, similarity, opts, &index, err);
    if (status == SEMB_OK)
        status = hnsw_index_add(index, vectors, n, err);
    if (status != SEMB_OK) {
        hnsw_index_free(index);
        *out = NULL;
        return status;
    }
    *out = index;
    return SEMB_OK;
}

void hnsw_index_free(hnsw_index *index)
{
    if (!index)
        return;
    hnsw_graph_free(index->graph);
    free(index);
}

size_t hnsw_index_count(const hnsw_index *index)
{
    return hnsw_graph_count(index->graph);
}

int hnsw_index_dim(const hnsw_index *index)
{
    return index->dim;
}

semb_similarity hnsw_index_similarity(const hnsw_index *index)
{
    return index->similarity;
}

hnsw_index_options hnsw_index_get_options(const hnsw_index *index)
{
    return index->options;
}

typedef struct hit {
    float score;
    size_t index;
} hit;

/* Inserts a hit into hits[0 .. *count), kept best first with equal scores by lower index
 * and at most k long. */
static void hits_insert(hit *hits, size_t *count, size_t k, float score, size_t index)
{
    size_t at = *count;
    if (at == k) {
        const hit *worst = &hits[k - 1];
        if (score < worst->score || (score == worst->score && index > worst->index))
            return;
        at = k - 1;
    } else {
        (*count)++;
    }
    for (; at > 0 && (score > hits[at - 1].score ||
                      (score == hits[at - 1].score && index < hits[at - 1].index));
         at--)
        hits[at] = hits[at - 1];
    hits[at] = (hit){score, index};
}

static void score_element(const hnsw_index *index, const float *query, uint32_t id, hit *hits,
                          size_t *count, size_t k)
{
    const float *vector = hnsw_graph_vector(index->graph, id);
    float score = (float)similarity_pair(index->similarity, query, vector, index->dim);
    hits_insert(hits, count, k, score, hnsw_graph_label(index->graph, id));
}

/* Scratch for one thread's queries. */
typedef struct search_scratch {
    float *query;
    uint32_t *ids;
    float *distances;
    hit *hits;
} search_scratch;

/* One prepared query's k hits into hits (exactly k: exact search when the graph gives
 * fewer). All `candidates` elements the graph search ends with are rescored, not only its
 * best k: a hit tied in exact score with one outside hnswlib's float top k then still wins
 * by lower index, as exact search would order them. */
static semb_status search_one(const hnsw_index *index, const float *query, size_t k,
                              size_t candidates, size_t ef, search_scratch *s, semb_error *err)
{
    size_t found, count = 0;
    semb_status status = hnsw_graph_search(index->graph, query, candidates, ef, s->ids,
                                           s->distances, &found, err);
    if (status != SEMB_OK)
        return status;
    if (found >= k) {
        for (size_t i = 0; i < found; i++)
            score_element(index, query, s->ids[i], s->hits, &count, k);
    } else {
        size_t n = hnsw_graph_count(index->graph);
        for (size_t id = 0; id < n; id++)
            score_element(index, query, (uint32_t)id, s->hits, &count, k);
    }
    return SEMB_OK;
}

static semb_status search_all(const hnsw_index *index, const float *queries, size_t n_queries,
                              size_t k, size_t k_hits, size_t ef, size_t *indices, float *scores,
                              semb_error *err)
{
    semb_status status = SEMB_OK;
    int failed = 0;
    const int dim = index->dim;
#pragma omp parallel if (n_queries > 1)
    {
        semb_error mine_err = {0};
        /* ef >= k_hits; more candidates than elements the graph cannot give */
        size_t n = hnsw_graph_count(index->graph), candidates = ef < n ? ef : n;
        search_scratch s = {malloc(sizeof(float) * (size_t)dim),
                            malloc(sizeof(uint32_t) * candidates),
                            malloc(sizeof(float) * candidates), malloc(sizeof(hit) * k_hits)};
        semb_status mine = SEMB_OK;
        if (!s.query || !s.ids || !s.distances || !s.hits)
            mine = semb_fail(&mine_err, SEMB_ERR_NOMEM, "hnsw: out of memory");
#pragma omp for schedule(dynamic, 4)
        for (size_t q = 0; q < n_queries; q++) {
            int stop;
#pragma omp atomic read
            stop = failed;
            if (stop || mine != SEMB_OK)
                continue;
            hnsw_prepare_vector(index->similarity, queries + q * (size_t)dim, dim, s.query);
            mine = search_one(index, s.query, k_hits, candidates, ef, &s, &mine_err);
            for (size_t j = 0; mine == SEMB_OK && j < k_hits; j++) {
                indices[q * k + j] = s.hits[j].index;
                scores[q * k + j] = s.hits[j].score;
            }
            if (mine != SEMB_OK) {
#pragma omp atomic write
                failed = 1;
            }
        }
#pragma omp critical(hnsw_search_all)
        if (mine != SEMB_OK && status == SEMB_OK) {
            status = mine;
            if (err)
                *err = mine_err;
        }
        free(s.query);
        free(s.ids);
        free(s.distances);
        free(s.hits);
    }
    return status;
}

semb_status hnsw_index_search(const hnsw_index *index, const float *queries, size_t n_queries,
                              int dim, size_t k, size_t ef, size_t *indices, float *scores,
                              size_t *n_hits, semb_error *err)
{
    *n_hits = 0;
    if (dim != index->dim)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "hnsw: queries have dimension %d, the index %d", dim, index->dim);
    if (k == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "hnsw: k must be at least 1");
    semb_status status = check_finite(queries, n_queries, 0, dim, "query", err);
    if (status != SEMB_OK)
        return status;
    size_t n = hnsw_graph_count(index->graph);
    size_t k_hits = k < n ? k : n;
    if (ef == 0)
        ef = k_hits > HNSW_INDEX_DEFAULT_EF ? k_hits : HNSW_INDEX_DEFAULT_EF;
    status = search_all(index, queries, n_queries, k, k_hits, ef < k_hits ? k_hits : ef, indices,
                        scores, err);
    if (status == SEMB_OK)
        *n_hits = k_hits;
    return status;
}
