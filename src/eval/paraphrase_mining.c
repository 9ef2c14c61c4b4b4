#include "eval/paraphrase_mining.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "eval/eval_encode.h"
#include "model/similarity.h"

#define DEFAULT_TOP_K 100
#define DEFAULT_MAX_PAIRS 500000
#define DEFAULT_QUERY_CHUNK 1024
#define DEFAULT_CORPUS_CHUNK 8192

/* ---- scored pairs ---- */

bool scored_pair_before(const semb_scored_pair *a, const semb_scored_pair *b)
{
    if (a->score != b->score)
        return a->score > b->score;
    if (a->i != b->i)
        return a->i < b->i;
    return a->j < b->j;
}

static void swap_pairs(semb_scored_pair *a, semb_scored_pair *b)
{
    semb_scored_pair t = *a;
    *a = *b;
    *b = t;
}

void scored_pair_heap_offer(semb_scored_pair *heap, size_t *size, size_t capacity,
                            semb_scored_pair pair)
{
    if (capacity == 0)
        return;
    size_t at;
    if (*size < capacity) {
        at = (*size)++;
        heap[at] = pair;
        while (at > 0 && scored_pair_before(&heap[(at - 1) / 2], &heap[at])) {
            swap_pairs(&heap[(at - 1) / 2], &heap[at]);
            at = (at - 1) / 2;
        }
        return;
    }
    if (!scored_pair_before(&pair, &heap[0]))
        return;
    heap[0] = pair;
    for (at = 0;;) {
        size_t worst = at, left = 2 * at + 1, right = left + 1;
        if (left < *size && scored_pair_before(&heap[worst], &heap[left]))
            worst = left;
        if (right < *size && scored_pair_before(&heap[worst], &heap[right]))
            worst = right;
        if (worst == at)
            return;
        swap_pairs(&heap[worst], &heap[at]);
        at = worst;
    }
}

static int by_rank(const void *a, const void *b)
{
    const semb_scored_pair *x = a, *y = b;
    return scored_pair_before(x, y) ? -1 : scored_pair_before(y, x) ? 1 : 0;
}

void scored_pairs_sort(semb_scored_pair *pairs, size_t n)
{
    qsort(pairs, n, sizeof *pairs, by_rank);
}

/* ---- mining ---- */

typedef struct miner {
    const float *embeddings;
    size_t n;
    int dim;
    semb_similarity sim;
    size_t top_k, max_pairs, query_chunk, corpus_chunk;
    float *tile;                  /* query_chunk x corpus_chunk scores */
    semb_scored_pair *neighbours; /* query_chunk x top_k heaps, one per query */
    size_t *neighbour_count;
    semb_scored_pair *candidates; /* the best 2 x max_pairs (pair, copy) entries */
    size_t n_candidates, candidate_capacity;
} miner;

static size_t or_default(size_t value, size_t fallback)
{
    return value ? value : fallback;
}

/* Offers one tile [rows, cols] of scores of queries q0.. against sentences c0.. to the
 * queries' neighbour heaps; a sentence is never its own neighbour. */
static void offer_tile(miner *m, size_t q0, size_t rows, size_t c0, size_t cols)
{
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++) {
        semb_scored_pair *heap = m->neighbours + r * m->top_k;
        for (size_t c = 0; c < cols; c++) {
            if (q0 + r == c0 + c)
                continue;
            float s = m->tile[r * cols + c];
            semb_scored_pair p = {isnan(s) ? -INFINITY : (double)s, q0 + r, c0 + c};
            scored_pair_heap_offer(heap, &m->neighbour_count[r], m->top_k, p);
        }
    }
}

/* Rescores each neighbour pair exactly, as (lower, higher) index, and offers it to the
 * candidates. The exact score is the same from both sides, so a pair found from both ends
 * gives two identical entries, merged at the end. */
static void collect_candidates(miner *m, size_t rows)
{
#pragma omp parallel for schedule(static)
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < m->neighbour_count[r]; k++) {
            semb_scored_pair *p = &m->neighbours[r * m->top_k + k];
            size_t a = p->i < p->j ? p->i : p->j, b = p->i < p->j ? p->j : p->i;
            double s = similarity_pair(m->sim, m->embeddings + a * (size_t)m->dim,
                                       m->embeddings + b * (size_t)m->dim, m->dim);
            *p = (semb_scored_pair){isnan(s) ? -INFINITY : s, a, b};
        }
    for (size_t r = 0; r < rows; r++)
        for (size_t k = 0; k < m->neighbour_count[r]; k++)
            scored_pair_heap_offer(m->candidates, &m->n_candidates, m->candidate_capacity,
                                   m->neighbours[r * m->top_k + k]);
}

static void mine(miner *m)
{
    for (size_t q0 = 0; q0 < m->n; q0 += m->query_chunk) {
        size_t rows = m->n - q0 < m->query_chunk ? m->n - q0 : m->query_chunk;
        memset(m->neighbour_count, 0, rows * sizeof *m->neighbour_count);
        for (size_t c0 = 0; c0 < m->n; c0 += m->corpus_chunk) {
            size_t cols = m->n - c0 < m->corpus_chunk ? m->n - c0 : m->corpus_chunk;
            similarity_matrix(m->sim, m->embeddings + q0 * (size_t)m->dim, rows,
                              m->embeddings + c0 * (size_t)m->dim, cols, m->dim, m->tile);
            offer_tile(m, q0, rows, c0, cols);
        }
        collect_candidates(m, rows);
    }
}

/* Sorts the candidates, merges the two copies of a pair and keeps max_pairs. Among the best
 * 2 x max_pairs entries are both copies of each of the best max_pairs pairs. */
static void finish_pairs(miner *m, size_t *n_pairs)
{
    scored_pairs_sort(m->candidates, m->n_candidates);
    size_t kept = 0;
    for (size_t k = 0; k < m->n_candidates && kept < m->max_pairs; k++)
        if (kept == 0 || m->candidates[k].i != m->candidates[kept - 1].i ||
            m->candidates[k].j != m->candidates[kept - 1].j)
            m->candidates[kept++] = m->candidates[k];
    *n_pairs = kept;
}

semb_paraphrase_options semb_paraphrase_options_default(void)
{
    return (semb_paraphrase_options){.top_k = DEFAULT_TOP_K, .max_pairs = DEFAULT_MAX_PAIRS,
                                     .query_chunk_size = DEFAULT_QUERY_CHUNK,
                                     .corpus_chunk_size = DEFAULT_CORPUS_CHUNK};
}

semb_status paraphrase_mine_prepared(const float *embeddings, size_t n, int dim,
                                     semb_similarity sim, const semb_paraphrase_options *opts,
                                     semb_scored_pair **pairs, size_t *n_pairs,
                                     semb_error *err)
{
    *pairs = NULL;
    *n_pairs = 0;
    if (dim <= 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "paraphrase mining: dimension %d", dim);
    semb_paraphrase_options o = opts ? *opts : semb_paraphrase_options_default();
    miner m = {.embeddings = embeddings, .n = n, .dim = dim, .sim = sim,
               .top_k = or_default(o.top_k, DEFAULT_TOP_K),
               .max_pairs = or_default(o.max_pairs, DEFAULT_MAX_PAIRS),
               .query_chunk = or_default(o.query_chunk_size, DEFAULT_QUERY_CHUNK),
               .corpus_chunk = or_default(o.corpus_chunk_size, DEFAULT_CORPUS_CHUNK)};
    if (n < 2)
        return (*pairs = malloc(sizeof **pairs)) ? SEMB_OK
                                                 : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    m.top_k = m.top_k < n - 1 ? m.top_k : n - 1;
    m.query_chunk = m.query_chunk < n ? m.query_chunk : n;
    m.corpus_chunk = m.corpus_chunk < n ? m.corpus_chunk : n;
    m.candidate_capacity = n * m.top_k; /* every neighbour entry there is */
    if (m.max_pairs < m.candidate_capacity / 2)
        m.candidate_capacity = 2 * m.max_pairs;
    m.tile = malloc(m.query_chunk * m.corpus_chunk * sizeof *m.tile);
    m.neighbours = malloc(m.query_chunk * m.top_k * sizeof *m.neighbours);
    m.neighbour_count = malloc(m.query_chunk * sizeof *m.neighbour_count);
    m.candidates = malloc(m.candidate_capacity * sizeof *m.candidates);
    semb_status st = SEMB_OK;
    if (!m.tile || !m.neighbours || !m.neighbour_count || !m.candidates) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate paraphrase mining of %zu sentences "
                       "(top_k %zu, max_pairs %zu)", n, m.top_k, m.max_pairs);
        free(m.candidates);
    } else {
        mine(&m);
        finish_pairs(&m, n_pairs);
        semb_scored_pair *shrunk = realloc(m.candidates, (*n_pairs ? *n_pairs : 1) * sizeof *shrunk);
        *pairs = shrunk ? shrunk : m.candidates;
    }
    free(m.tile);
    free(m.neighbours);
    free(m.neighbour_count);
    return st;
}

semb_status semb_paraphrase_mine_embeddings(const float *embeddings, size_t n, int dim,
                                            semb_similarity sim,
                                            const semb_paraphrase_options *opts,
                                            semb_scored_pair **pairs, size_t *n_pairs,
                                            semb_error *err)
{
    if (!pairs || !n_pairs || (n && !embeddings))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_paraphrase_mine_embeddings: NULL "
                         "argument");
    if (sim != SEMB_SIMILARITY_COSINE || dim <= 0)
        return paraphrase_mine_prepared(embeddings, n, dim, sim, opts, pairs, n_pairs, err);
    float *copy = malloc((n ? n : 1) * (size_t)dim * sizeof *copy);
    if (!copy)
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot copy %zu embeddings", n);
    memcpy(copy, embeddings, n * (size_t)dim * sizeof *copy);
    similarity_prepare(sim, copy, n, dim);
    semb_status st = paraphrase_mine_prepared(copy, n, dim, sim, opts, pairs, n_pairs, err);
    free(copy);
    return st;
}

semb_status semb_paraphrase_mine(semb_model *model, const char *const *texts, size_t n,
                                 const semb_eval_options *eval_opts,
                                 const semb_paraphrase_options *opts, semb_scored_pair **pairs,
                                 size_t *n_pairs, semb_error *err)
{
    if (!model || !pairs || !n_pairs || (n && !texts))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_paraphrase_mine: NULL argument");
    int dim = semb_model_dimension(model);
    semb_similarity sim = semb_model_similarity(model);
    float *embeddings = malloc((n ? n : 1) * (size_t)dim * sizeof *embeddings);
    if (!embeddings)
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate embeddings of %zu sentences", n);
    semb_status st = SEMB_OK;
    size_t chunk = eval_chunk_size(eval_opts);
    for (size_t first = 0; !st && first < n; first += chunk)
        if ((st = eval_encode(model, texts + first, n - first < chunk ? n - first : chunk, NULL,
                              eval_opts, sim, embeddings + first * (size_t)dim, err)))
            semb_fail_prefix(err, "paraphrase mining (from sentence %zu): ", first);
    if (!st)
        st = paraphrase_mine_prepared(embeddings, n, dim, sim, opts, pairs, n_pairs, err);
    free(embeddings);
    return st;
}
