/* Ranking answer candidates for queries, as sentence-transformers' encode_query /
 * encode_document and a similarity matrix would: each side with its own prompt, scores by the
 * model's similarity function, candidates ordered best first with ties by input order. */
#include "eval/candidate_rank.h"

#include <limits.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/similarity.h"

/* Texts per semb_encode call: its token lists stay bounded on large candidate sets. */
#define RANK_ENCODE_CHUNK 4096
/* Floats of one query tile's score matrix (64 MB), so a huge candidate list still ranks. */
#define RANK_TILE_FLOATS ((size_t)16 << 20)
#define RANK_MAX_QUERY_TILE 256

static int entry_compare(const void *pa, const void *pb)
{
    const rank_entry *a = pa, *b = pb;
    bool a_nan = isnan(a->score), b_nan = isnan(b->score);
    if (a_nan != b_nan)
        return a_nan ? 1 : -1;
    if (!a_nan && a->score != b->score)
        return a->score > b->score ? -1 : 1;
    return a->index < b->index ? -1 : a->index > b->index;
}

void rank_order(const float *scores, size_t n, size_t k, rank_entry *work, size_t *indices,
                float *out_scores)
{
    for (size_t i = 0; i < n; i++)
        work[i] = (rank_entry){scores[i], i};
    qsort(work, n, sizeof *work, entry_compare);
    for (size_t r = 0; r < k; r++) {
        indices[r] = work[r].index;
        out_scores[r] = work[r].score;
    }
}

/* semb_encode names a failing text "text I:" by its place in one call: name it by its kind
 * and its place in the whole list instead. */
static semb_status rename_failed_text(semb_status st, const char *what, size_t first,
                                      semb_error *err)
{
    if (!err || !err->has_item)
        return semb_fail_prefix(err, "%ss: ", what);
    return semb_error_rename_item(err, first + err->item, "%s %zu: ", what, first + err->item);
}

/* Encodes texts[0..n) with prompt prepended (NULL or "": as they are) into out[n, dim], in
 * chunks so a failing text is named by its index among all n. */
static semb_status encode_prompted(semb_model *model, const char *prompt,
                                   const char *const *texts, size_t n, size_t first_index,
                                   const char *what, const semb_encode_options *opts,
                                   float *out, semb_error *err)
{
    int dim = semb_model_dimension(model);
    semb_encode_options o = *opts;
    o.prompt = prompt;
    semb_status st = SEMB_OK;
    for (size_t start = 0; !st && start < n; start += RANK_ENCODE_CHUNK) {
        size_t m = n - start < RANK_ENCODE_CHUNK ? n - start : RANK_ENCODE_CHUNK;
        if ((st = semb_encode(model, texts + start, NULL, m, out + start * (size_t)dim, &o,
                              err)))
            st = rename_failed_text(st, what, first_index + start, err);
    }
    return st;
}

/* Buffers of one semb_rank call. */
typedef struct rank_buffers {
    float *candidates, *queries, *scores;
    rank_entry *work;
} rank_buffers;

static void rank_buffers_free(rank_buffers *b)
{
    free(b->candidates);
    free(b->queries);
    free(b->scores);
    free(b->work);
}

/* Encodes, scores and orders queries[0..n) against the prepared candidate rows. */
static semb_status rank_query_tile(semb_model *model, const char *const *queries, size_t first,
                                   size_t n, size_t n_candidates, size_t k,
                                   const semb_rank_options *opts, rank_buffers *b,
                                   size_t *indices, float *scores, semb_error *err)
{
    semb_encode_options encode = semb_encode_options_default();
    encode.batch_size = opts->batch_size;
    encode.precision = opts->precision;
    int dim = semb_model_dimension(model);
    semb_similarity sim = semb_model_similarity(model);
    semb_status st = encode_prompted(model, opts->query_prompt, queries + first, n, first,
                                     "query", &encode, b->queries, err);
    if (st)
        return st;
    similarity_prepare(sim, b->queries, n, dim);
    similarity_matrix(sim, b->queries, n, b->candidates, n_candidates, dim, b->scores);
    for (size_t q = 0; q < n; q++)
        rank_order(b->scores + q * n_candidates, n_candidates, k, b->work,
                   indices + (first + q) * k, scores + (first + q) * k);
    return SEMB_OK;
}

semb_rank_options semb_rank_options_default(void)
{
    semb_encode_options encode = semb_encode_options_default();
    return (semb_rank_options){.batch_size = encode.batch_size, .precision = encode.precision};
}

semb_status semb_rank(semb_model *model, const char *const *queries, size_t n_queries,
                      const char *const *candidates, size_t n_candidates,
                      const semb_rank_options *opts, size_t *indices, float *scores,
                      semb_error *err)
{
    if (!model || !queries || !candidates || !indices || !scores)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_rank: NULL argument");
    if (!n_queries || !n_candidates)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_rank: no %s",
                         n_queries ? "candidates" : "queries");
    if (n_candidates > INT_MAX)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_rank: more than %d candidates",
                         INT_MAX);
    semb_rank_options o = opts ? *opts : semb_rank_options_default();
    size_t k = o.top_k && o.top_k < n_candidates ? o.top_k : n_candidates;
    size_t tile = RANK_TILE_FLOATS / n_candidates;
    tile = tile < 1 ? 1 : tile > RANK_MAX_QUERY_TILE ? RANK_MAX_QUERY_TILE : tile;
    tile = tile < n_queries ? tile : n_queries;
    size_t dim = (size_t)semb_model_dimension(model);
    rank_buffers b = {malloc(n_candidates * dim * sizeof(float)),
                      malloc(tile * dim * sizeof(float)),
                      malloc(tile * n_candidates * sizeof(float)),
                      malloc(n_candidates * sizeof(rank_entry))};
    semb_status st = SEMB_OK;
    if (!b.candidates || !b.queries || !b.scores || !b.work)
        st = semb_fail(err, SEMB_ERR_NOMEM, "semb_rank: cannot hold %zu candidate embeddings",
                       n_candidates);
    semb_encode_options encode = semb_encode_options_default();
    encode.batch_size = o.batch_size;
    encode.precision = o.precision;
    if (!st)
        st = encode_prompted(model, o.document_prompt, candidates, n_candidates, 0, "candidate",
                             &encode, b.candidates, err);
    if (!st)
        similarity_prepare(semb_model_similarity(model), b.candidates, n_candidates, (int)dim);
    for (size_t first = 0; !st && first < n_queries; first += tile) {
        size_t n = n_queries - first < tile ? n_queries - first : tile;
        st = rank_query_tile(model, queries, first, n, n_candidates, k, &o, &b, indices, scores,
                             err);
    }
    rank_buffers_free(&b);
    return st;
}
