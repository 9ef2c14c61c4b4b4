/* POST /similarity and POST /rank, and what every application endpoint shares
 * (serve_apps.h). Both encode through serve_encode, so they batch with concurrent requests,
 * and score as the library does: /similarity with semb_similarity_scores, /rank with the
 * prompts, scoring and ordering of semb_rank (eval/candidate_rank.h), so a response equals
 * what `semb rank` prints for the same texts.
 *
 *   /similarity {"source": S, "candidates": [C, ...] (1..max_inputs)}
 *            -> {"similarity": "cosine"|..., "scores": [score of each candidate, in order]}
 *   /rank       {"query": Q, "candidates": [C, ...] (1..max_inputs), "top_k": K (>= 1; all)}
 *            -> {"similarity": ..., "results": [{"index", "text", "score"}, ...]} best first,
 *               equal scores by index */
#include "serve/serve_apps.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "eval/candidate_rank.h"
#include "model/similarity.h"

/* ---- shared ---- */

serve_response serve_apps_failure(semb_status status, const semb_error *err)
{
    if (status == SEMB_ERR_INPUT)
        return serve_error(400, "invalid_value", "%s", err->message);
    return serve_error(500, "internal", "%s", err->message);
}

bool serve_apps_finite(const float *values, size_t n, const char *what, serve_response *error)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(values[i])) {
            *error = serve_error(500, "internal", "the model gave a non-finite %s", what);
            return false;
        }
    return true;
}

serve_response serve_apps_ok(json_t *body)
{
    if (!body)
        return serve_error(500, "internal", "out of memory building the response");
    return (serve_response){.status = 200, .body = body};
}

bool serve_apps_check_lengths(serve_context *ctx, const char *field, bool array,
                              const char *const *texts, const size_t *lengths, size_t n,
                              const char *prompt, serve_response *error)
{
    if (!serve_context_limits(ctx)->reject_long)
        return true;
    const semb_model *model = serve_context_model(ctx);
    size_t limit = (size_t)semb_model_max_seq_length(model);
    size_t *counts = malloc((n ? n : 1) * sizeof *counts);
    if (!counts) {
        *error = serve_error(500, "internal", "out of memory counting tokens");
        return false;
    }
    semb_error err = {0};
    semb_status st = serve_count_tokens(ctx, texts, lengths, n, prompt, counts, &err);
    if (st) {
        free(counts);
        *error = serve_apps_failure(st, &err);
        return false;
    }
    size_t i = 0, count = 0;
    while (i < n && counts[i] <= limit)
        i++;
    if (i < n)
        count = counts[i];
    free(counts);
    if (i == n)
        return true;
    prompt = serve_effective_prompt(ctx, prompt);
    char name[160];
    if (array)
        snprintf(name, sizeof name, "%.120s[%zu]", field, i);
    else
        snprintf(name, sizeof name, "%.120s", field);
    *error = serve_error(400, "input_too_long",
                         "'%s' has %zu tokens%s; the model takes at most %zu and this "
                         "server rejects longer texts instead of truncating them",
                         name, count, *prompt ? " with its prompt" : "", limit);
    return false;
}

bool serve_apps_encode(serve_context *ctx, const char *const *texts, const size_t *lengths,
                       size_t n, const char *prompt, float **out, serve_response *error)
{
    size_t dim = (size_t)semb_model_dimension(serve_context_model(ctx));
    float *rows = malloc(n * dim * sizeof *rows);
    if (!rows) {
        *error = serve_error(500, "internal", "out of memory for %zu embeddings", n);
        return false;
    }
    semb_error err = {0};
    semb_status st = serve_encode(ctx, texts, lengths, n, prompt, rows, NULL, NULL, &err);
    if (st) {
        *error = serve_apps_failure(st, &err);
        free(rows);
        return false;
    }
    if (!serve_apps_finite(rows, n * dim, "embedding", error)) {
        free(rows);
        return false;
    }
    *out = rows;
    return true;
}

/* ---- POST /similarity ---- */

static json_t *score_array(const float *scores, size_t n)
{
    json_t *array = json_array();
    for (size_t i = 0; array && i < n; i++)
        if (json_array_append_new(array, json_real(scores[i]))) {
            json_decref(array);
            array = NULL;
        }
    return array;
}

/* Scores the prepared rows[1 + n, dim]: the source, then the candidates. */
static serve_response similarity_response(serve_context *ctx, const float *rows, size_t n)
{
    semb_model *model = serve_context_model(ctx);
    semb_similarity sim = semb_model_similarity(model);
    int dim = semb_model_dimension(model);
    float *scores = malloc(n * sizeof *scores);
    if (!scores)
        return serve_error(500, "internal", "out of memory for %zu scores", n);
    semb_error err = {0};
    serve_response r;
    semb_status st = semb_similarity_scores(sim, rows, 1, rows + dim, n, dim, scores, &err);
    if (st)
        r = serve_apps_failure(st, &err);
    else if (serve_apps_finite(scores, n, "score", &r)) {
        json_t *array = score_array(scores, n);
        r = serve_apps_ok(array ? json_pack("{s:s, s:o}", "similarity",
                                            semb_similarity_name(sim), "scores", array)
                                : NULL);
    }
    free(scores);
    return r;
}

static serve_response similarity_of(serve_context *ctx, const char *source,
                                    size_t source_length, const serve_json_strings *candidates)
{
    serve_response r;
    size_t n = candidates->count;
    if (!serve_apps_check_lengths(ctx, "source", false, &source, &source_length, 1, NULL, &r) ||
        !serve_apps_check_lengths(ctx, "candidates", true, candidates->texts,
                                  candidates->lengths, n, NULL, &r))
        return r;
    /* one encoder call for the source and the candidates */
    const char **texts = malloc((n + 1) * sizeof *texts);
    size_t *lengths = malloc((n + 1) * sizeof *lengths);
    float *rows = NULL;
    if (!texts || !lengths) {
        r = serve_error(500, "internal", "out of memory for %zu candidates", n);
    } else {
        texts[0] = source;
        lengths[0] = source_length;
        memcpy(texts + 1, candidates->texts, n * sizeof *texts);
        memcpy(lengths + 1, candidates->lengths, n * sizeof *lengths);
        if (serve_apps_encode(ctx, texts, lengths, n + 1, NULL, &rows, &r))
            r = similarity_response(ctx, rows, n);
    }
    free(texts);
    free(lengths);
    free(rows);
    return r;
}

serve_response serve_similarity(serve_context *ctx, const json_t *request)
{
    serve_response error;
    const char *source = NULL;
    size_t source_length = 0;
    serve_json_strings candidates;
    size_t max = (size_t)serve_context_limits(ctx)->max_inputs;
    if (!serve_json_object(request, &error) ||
        !serve_json_string(request, "source", true, &source, &source_length, &error) ||
        !serve_json_strings_get(request, "candidates", true, 1, max, &candidates, &error))
        return error;
    serve_response r = similarity_of(ctx, source, source_length, &candidates);
    serve_json_strings_free(&candidates);
    return r;
}

/* ---- POST /rank ---- */

/* {"index", "text", "score"} for each of the k best, as rank_order gives them. */
static json_t *rank_results(const serve_json_strings *candidates, const size_t *indices,
                            const float *scores, size_t k)
{
    json_t *results = json_array();
    for (size_t r = 0; results && r < k; r++) {
        size_t c = indices[r];
        json_t *hit = json_pack("{s:I, s:s%, s:f}", "index", (json_int_t)c, "text",
                                candidates->texts[c], candidates->lengths[c], "score",
                                (double)scores[r]);
        if (json_array_append_new(results, hit)) {
            json_decref(results);
            results = NULL;
        }
    }
    return results;
}

/* Scores the prepared query row against the prepared candidate rows and orders them. */
static serve_response rank_response(serve_context *ctx, const float *query,
                                    const float *rows, const serve_json_strings *candidates,
                                    size_t k)
{
    semb_model *model = serve_context_model(ctx);
    semb_similarity sim = semb_model_similarity(model);
    size_t n = candidates->count;
    float *scores = malloc(n * sizeof *scores), *best = malloc(k * sizeof *best);
    rank_entry *work = malloc(n * sizeof *work);
    size_t *indices = malloc(k * sizeof *indices);
    serve_response r;
    if (!scores || !best || !work || !indices) {
        r = serve_error(500, "internal", "out of memory ranking %zu candidates", n);
    } else {
        similarity_matrix(sim, query, 1, rows, n, semb_model_dimension(model), scores);
        if (serve_apps_finite(scores, n, "score", &r)) {
            rank_order(scores, n, k, work, indices, best);
            json_t *results = rank_results(candidates, indices, best, k);
            r = serve_apps_ok(results ? json_pack("{s:s, s:o}", "similarity",
                                                  semb_similarity_name(sim), "results", results)
                                      : NULL);
        }
    }
    free(scores);
    free(best);
    free(work);
    free(indices);
    return r;
}

/* The query with the model's query prompt, the candidates with its document prompt, as
 * `semb rank` (and sentence-transformers' encode_query / encode_document) give them. */
static serve_response rank_candidates(serve_context *ctx, const char *query,
                                      size_t query_length, const serve_json_strings *candidates,
                                      size_t k)
{
    semb_model *model = serve_context_model(ctx);
    const char *query_prompt = semb_model_query_prompt(model);
    const char *document_prompt = semb_model_document_prompt(model);
    size_t n = candidates->count;
    serve_response r;
    if (!serve_apps_check_lengths(ctx, "query", false, &query, &query_length, 1, query_prompt,
                                  &r) ||
        !serve_apps_check_lengths(ctx, "candidates", true, candidates->texts,
                                  candidates->lengths, n, document_prompt, &r))
        return r;
    float *query_row = NULL, *rows = NULL;
    if (serve_apps_encode(ctx, &query, &query_length, 1, query_prompt, &query_row, &r) &&
        serve_apps_encode(ctx, candidates->texts, candidates->lengths, n, document_prompt,
                          &rows, &r)) {
        semb_similarity sim = semb_model_similarity(model);
        int dim = semb_model_dimension(model);
        similarity_prepare(sim, query_row, 1, dim);
        similarity_prepare(sim, rows, n, dim);
        r = rank_response(ctx, query_row, rows, candidates, k);
    }
    free(query_row);
    free(rows);
    return r;
}

serve_response serve_rank(serve_context *ctx, const json_t *request)
{
    serve_response error;
    const char *query = NULL;
    size_t query_length = 0;
    json_int_t top_k = INT_MAX; /* all */
    serve_json_strings candidates;
    size_t max = (size_t)serve_context_limits(ctx)->max_inputs;
    if (!serve_json_object(request, &error) ||
        !serve_json_string(request, "query", true, &query, &query_length, &error) ||
        !serve_json_int(request, "top_k", 1, INT_MAX, &top_k, &error) ||
        !serve_json_strings_get(request, "candidates", true, 1, max, &candidates, &error))
        return error;
    size_t k = (size_t)top_k < candidates.count ? (size_t)top_k : candidates.count;
    serve_response r = rank_candidates(ctx, query, query_length, &candidates, k);
    serve_json_strings_free(&candidates);
    return r;
}
