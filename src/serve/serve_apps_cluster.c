/* POST /cluster: texts grouped by k-means or by sentence-transformers' community detection,
 * on embeddings prepared as `semb cluster` prepares them (encoded through serve_encode,
 * L2-normalised for a cosine model). k-means clusters get their ids in `semb cluster`'s order
 * (largest first, ties: the one whose first text comes first), so cluster id c is the CLI's
 * "Cluster c + 1"; members are listed in input order. Communities keep
 * semb_community_detection's order and its members' order (the centre first).
 *
 *   {"texts": [T, ...] (2..max_inputs), "method": "kmeans" | "community",
 *    "k": 1..n (max(2, round(sqrt(n / 2)))), "seed": >= 0 (42),
 *    "threshold": [-1, 1] (0.75), "min_size": >= 1 (2)}
 *   -> {"method", "clusters": [{"id", "members": [indices], "texts": [...]}, ...]}
 *      plus, for communities, "unclustered": [indices in no community, in input order].
 * Every field given is checked, whichever method reads it. */
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "model/similarity.h"
#include "serve/serve_apps.h"

enum cluster_method { METHOD_KMEANS, METHOD_COMMUNITY };
static const char *const method_names[] = {"kmeans", "community"};

typedef struct cluster_request {
    serve_json_strings texts;
    size_t method;
    json_int_t k;        /* 0: the default for the number of texts */
    double threshold;
    json_int_t min_size;
    json_int_t seed;
} cluster_request;

/* Clusters as lists of text indices: cluster c is members[offsets[c] .. offsets[c + 1]). */
typedef struct cluster_list {
    size_t count;
    size_t *offsets, *members;
} cluster_list;

/* {"id", "members", "texts"} of each cluster in list order. */
static json_t *clusters_json(const cluster_list *l, const serve_json_strings *texts)
{
    json_t *clusters = json_array();
    for (size_t c = 0; clusters && c < l->count; c++) {
        json_t *members = json_array(), *member_texts = json_array();
        for (size_t m = l->offsets[c]; members && member_texts && m < l->offsets[c + 1]; m++) {
            size_t i = l->members[m];
            if (json_array_append_new(members, json_integer((json_int_t)i)) ||
                json_array_append_new(member_texts,
                                      json_stringn(texts->texts[i], texts->lengths[i]))) {
                json_decref(members);
                members = NULL;
            }
        }
        json_t *cluster = members && member_texts
                              ? json_pack("{s:I, s:O, s:O}", "id", (json_int_t)c, "members",
                                          members, "texts", member_texts)
                              : NULL;
        json_decref(members);
        json_decref(member_texts);
        if (json_array_append_new(clusters, cluster)) {
            json_decref(clusters);
            clusters = NULL;
        }
    }
    return clusters;
}

/* Whether cluster a is listed before cluster b: larger first, then by first text. */
static bool listed_before(size_t a, size_t b, const size_t *size, const size_t *first)
{
    return size[a] != size[b] ? size[a] > size[b] : first[a] < first[b];
}

/* The k-means clusters of labels[n] in `semb cluster`'s order, members in input order. On
 * failure (out of memory) the caller frees what *out holds. */
static bool list_kmeans(const int32_t *labels, size_t n, int k, cluster_list *out)
{
    size_t nk = (size_t)k;
    size_t *size = calloc(nk, sizeof *size), *first = malloc(nk * sizeof *first);
    size_t *order = malloc(nk * sizeof *order), *next = malloc(nk * sizeof *next);
    *out = (cluster_list){nk, calloc(nk + 1, sizeof *out->offsets),
                          malloc(n * sizeof *out->members)};
    bool ok = size && first && order && next && out->offsets && out->members;
    if (ok) {
        for (size_t c = 0; c < nk; c++)
            first[c] = n;
        for (size_t i = n; i-- > 0;) {
            size[labels[i]]++;
            first[labels[i]] = i;
        }
        /* insertion sort: k is at most the number of texts of one request */
        for (size_t c = 0; c < nk; c++) {
            size_t j = c;
            for (; j > 0 && listed_before(c, order[j - 1], size, first); j--)
                order[j] = order[j - 1];
            order[j] = c;
        }
        for (size_t p = 0; p < nk; p++) {
            out->offsets[p + 1] = out->offsets[p] + size[order[p]];
            next[order[p]] = out->offsets[p];
        }
        for (size_t i = 0; i < n; i++)
            out->members[next[labels[i]]++] = i;
    }
    free(size);
    free(first);
    free(order);
    free(next);
    return ok;
}

static serve_response kmeans_response(const cluster_request *q, const float *rows, int dim)
{
    size_t n = q->texts.count;
    semb_kmeans_options o = semb_kmeans_options_default((int)q->k);
    o.seed = (uint64_t)q->seed;
    int32_t *labels = malloc(n * sizeof *labels);
    cluster_list list = {0};
    semb_error err = {0};
    semb_status st = SEMB_OK;
    serve_response r;
    if (!labels)
        r = serve_error(500, "internal", "out of memory clustering %zu texts", n);
    else if ((st = semb_kmeans(rows, n, dim, &o, labels, NULL, NULL, &err)))
        r = serve_apps_failure(st, &err);
    else if (!list_kmeans(labels, n, o.k, &list))
        r = serve_error(500, "internal", "out of memory clustering %zu texts", n);
    else {
        json_t *clusters = clusters_json(&list, &q->texts);
        r = serve_apps_ok(clusters ? json_pack("{s:s, s:o}", "method", "kmeans", "clusters",
                                               clusters)
                                   : NULL);
    }
    free(labels);
    free(list.offsets);
    free(list.members);
    return r;
}

/* The indices in no community, in input order. */
static json_t *unclustered_json(const semb_communities *c, size_t n)
{
    bool *taken = calloc(n ? n : 1, sizeof *taken);
    json_t *rest = taken ? json_array() : NULL;
    for (size_t m = 0; rest && m < c->offsets[c->count]; m++)
        taken[c->members[m]] = true;
    for (size_t i = 0; rest && i < n; i++)
        if (!taken[i] && json_array_append_new(rest, json_integer((json_int_t)i))) {
            json_decref(rest);
            rest = NULL;
        }
    free(taken);
    return rest;
}

static serve_response community_response(const cluster_request *q, const float *rows, int dim)
{
    size_t n = q->texts.count;
    semb_communities c = {0};
    semb_error err = {0};
    semb_status st = semb_community_detection(rows, n, dim, q->threshold, (int)q->min_size, 0,
                                              &c, &err);
    if (st)
        return serve_apps_failure(st, &err);
    cluster_list list = {c.count, c.offsets, c.members};
    json_t *clusters = clusters_json(&list, &q->texts), *rest = unclustered_json(&c, n);
    json_t *body = clusters && rest ? json_pack("{s:s, s:O, s:O}", "method", "community",
                                                "clusters", clusters, "unclustered", rest)
                                    : NULL;
    json_decref(clusters);
    json_decref(rest);
    semb_communities_free(&c);
    return serve_apps_ok(body);
}

static serve_response cluster_texts(serve_context *ctx, const cluster_request *q)
{
    const serve_json_strings *t = &q->texts;
    serve_response r;
    float *rows = NULL;
    if (!serve_apps_check_lengths(ctx, "texts", true, t->texts, t->lengths, t->count, NULL,
                                  &r) ||
        !serve_apps_encode(ctx, t->texts, t->lengths, t->count, NULL, &rows, &r))
        return r;
    semb_model *model = serve_context_model(ctx);
    int dim = semb_model_dimension(model);
    similarity_prepare(semb_model_similarity(model), rows, t->count, dim);
    r = q->method == METHOD_KMEANS ? kmeans_response(q, rows, dim)
                                   : community_response(q, rows, dim);
    free(rows);
    return r;
}

static bool read_request(serve_context *ctx, const json_t *request, cluster_request *q,
                         serve_response *error)
{
    *q = (cluster_request){.method = METHOD_KMEANS, .threshold = 0.75, .min_size = 2,
                           .seed = 42};
    size_t max = (size_t)serve_context_limits(ctx)->max_inputs;
    if (!serve_json_object(request, error) ||
        !serve_json_choice(request, "method", method_names, 2, &q->method, error) ||
        !serve_json_number(request, "threshold", -1, 1, &q->threshold, error) ||
        !serve_json_int(request, "min_size", 1, INT_MAX, &q->min_size, error) ||
        !serve_json_int(request, "seed", 0, INT64_MAX, &q->seed, error) ||
        !serve_json_strings_get(request, "texts", true, 2, max, &q->texts, error))
        return false;
    size_t n = q->texts.count;
    if (!serve_json_int(request, "k", 1, (json_int_t)n, &q->k, error)) {
        serve_json_strings_free(&q->texts);
        return false;
    }
    if (!q->k) { /* max(2, round(sqrt(n / 2))), at most n for n >= 2 */
        long k = lround(sqrt((double)n / 2.0));
        q->k = k < 2 ? 2 : k;
    }
    return true;
}

serve_response serve_cluster(serve_context *ctx, const json_t *request)
{
    cluster_request q;
    serve_response error;
    if (!read_request(ctx, request, &q, &error))
        return error;
    serve_response r = cluster_texts(ctx, &q);
    serve_json_strings_free(&q.texts);
    return r;
}
