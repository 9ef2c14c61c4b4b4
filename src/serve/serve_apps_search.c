/* POST /search: the k documents of the server's index most similar to a query, as `semb
 * search` finds them: the query gets the model's "query" prompt (semb_index_search's rule)
 * and is encoded through serve_encode, then semb_index_search_embeddings searches (it does not
 * touch the model, so it runs outside the encoder's lock).
 *
 *   {"query": Q, "k": 1..1000 (10), "exact": bool (false), "ef": N >= 1 (HNSW graph only)}
 *   -> {"results": [{"rank", "id" (integer when the index's ids are), "text", "score"}, ...],
 *       "documents": index size, "approximate": searched through the graph} */
#include <errno.h>
#include <limits.h>
#include <stdlib.h>

#include "serve/serve_apps.h"

/* Hits per request at most; the default when "k" is absent. */
#define SEARCH_MAX_K 1000
#define SEARCH_DEFAULT_K 10

/* An index id as JSON: an integer when the index stores integer ids, else a string. */
static json_t *id_json(const semb_search_hit *hit)
{
    if (hit->id_is_integer) {
        char *end;
        errno = 0;
        long long v = strtoll(hit->id, &end, 10);
        if (!errno && end != hit->id && !*end)
            return json_integer((json_int_t)v);
    }
    return json_string(hit->id);
}

static json_t *hits_json(const semb_search_hit *hits, size_t n)
{
    json_t *results = json_array();
    for (size_t r = 0; results && r < n; r++) {
        json_t *id = id_json(&hits[r]);
        json_t *hit = id ? json_pack("{s:I, s:o, s:s, s:f}", "rank", (json_int_t)hits[r].rank,
                                     "id", id, "text", hits[r].text, "score",
                                     (double)hits[r].score)
                         : NULL;
        if (json_array_append_new(results, hit)) {
            json_decref(results);
            results = NULL;
        }
    }
    return results;
}

/* Options only the approximate search reads are refused where there is none, as `semb
 * search` refuses them. */
static bool check_mode(const semb_index *index, bool exact, json_int_t ef,
                       serve_response *error)
{
    semb_index_graph graph;
    semb_index_graph_info(index, &graph);
    if (ef && !graph.present) {
        *error = serve_error(400, "invalid_value", "'ef': the index has no HNSW graph; its "
                                                   "search is exact");
        return false;
    }
    if (ef && exact) {
        *error = serve_error(400, "invalid_value", "'ef' is for the approximate search; "
                                                   "'exact': true has none");
        return false;
    }
    return true;
}

static serve_response search_query(serve_context *ctx, semb_index *index, const char *query,
                                   size_t query_length, size_t k,
                                   const semb_search_options *opts)
{
    const char *prompt = semb_model_query_prompt(serve_context_model(ctx));
    serve_response r;
    float *row = NULL;
    if (!serve_apps_check_lengths(ctx, "query", false, &query, &query_length, 1, prompt, &r) ||
        !serve_apps_encode(ctx, &query, &query_length, 1, prompt, &row, &r))
        return r;
    semb_search_hit *hits = malloc(k * sizeof *hits);
    size_t found = 0;
    semb_error err = {0};
    semb_status st = SEMB_OK;
    if (!hits)
        r = serve_error(500, "internal", "out of memory for %zu hits", k);
    else if ((st = semb_index_search_embeddings(index, row, 1, k, opts, hits, &found, &err)))
        r = serve_apps_failure(st, &err);
    bool ok = hits && !st;
    for (size_t i = 0; ok && i < found; i++)
        ok = serve_apps_finite(&hits[i].score, 1, "score", &r);
    if (ok) {
        semb_index_graph graph;
        semb_index_graph_info(index, &graph);
        json_t *results = hits_json(hits, found);
        r = serve_apps_ok(results ? json_pack("{s:o, s:I, s:b}", "results", results, "documents",
                                              (json_int_t)semb_index_count(index),
                                              "approximate", graph.present && !opts->exact)
                                  : NULL);
    }
    free(hits);
    free(row);
    return r;
}

serve_response serve_search(serve_context *ctx, const json_t *request)
{
    semb_index *index = serve_context_index(ctx);
    if (!index)
        return serve_error(400, "no_index", "this server has no index to search: start it "
                                            "with --index FILE (built by 'semb index build')");
    serve_response error;
    const char *query = NULL;
    size_t query_length = 0;
    json_int_t k = SEARCH_DEFAULT_K, ef = 0;
    bool exact = false;
    if (!serve_json_object(request, &error) ||
        !serve_json_string(request, "query", true, &query, &query_length, &error) ||
        !serve_json_int(request, "k", 1, SEARCH_MAX_K, &k, &error) ||
        !serve_json_bool(request, "exact", &exact, &error) ||
        !serve_json_int(request, "ef", 1, INT_MAX, &ef, &error) ||
        !check_mode(index, exact, ef, &error))
        return error;
    semb_search_options opts = semb_search_options_default();
    opts.exact = exact;
    opts.ef = (size_t)ef;
    return search_query(ctx, index, query, query_length, (size_t)k, &opts);
}
