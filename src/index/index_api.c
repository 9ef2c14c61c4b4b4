/* The public search-index API of semb.h over index_file and exact_search. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/exact_search.h"
#include "index/index_file.h"

struct semb_index {
    index_file file;
};

const char *semb_precision_name(semb_precision precision)
{
    switch (precision) {
    case SEMB_PRECISION_FLOAT32: return "float32";
    case SEMB_PRECISION_INT8: return "int8";
    case SEMB_PRECISION_BINARY: return "binary";
    }
    return "unknown";
}

semb_status semb_precision_from_name(const char *name, semb_precision *out, semb_error *err)
{
    for (int p = SEMB_PRECISION_FLOAT32; p <= SEMB_PRECISION_BINARY; p++)
        if (name && strcmp(name, semb_precision_name((semb_precision)p)) == 0) {
            *out = (semb_precision)p;
            return SEMB_OK;
        }
    return semb_fail(err, SEMB_ERR_INVALID_ARG,
                     "precision '%s' is not one of float32, int8, binary", name ? name : "");
}

semb_status semb_index_open(const char *path, semb_index **out, semb_error *err)
{
    *out = NULL;
    semb_index *index = calloc(1, sizeof *index);
    if (!index)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    semb_status st = index_file_open(path, &index->file, err);
    if (st) {
        free(index);
        return st;
    }
    *out = index;
    return SEMB_OK;
}

void semb_index_close(semb_index *index)
{
    if (!index)
        return;
    index_file_close(&index->file);
    free(index);
}

size_t semb_index_count(const semb_index *index)
{
    return (size_t)index->file.info.documents;
}

int semb_index_dimension(const semb_index *index)
{
    return index->file.info.dimension;
}

semb_precision semb_index_precision(const semb_index *index)
{
    return index->file.info.precision;
}

semb_similarity semb_index_similarity(const semb_index *index)
{
    return index->file.info.similarity;
}

const char *semb_index_model_name(const semb_index *index)
{
    return index->file.model_name;
}

const char *semb_index_fingerprint(const semb_index *index)
{
    return index->file.info.fingerprint;
}

semb_status semb_index_check_model(const semb_index *index, const semb_model *model,
                                   const char *model_name, semb_error *err)
{
    char fingerprint[SEMB_FINGERPRINT_SIZE];
    semb_model_fingerprint(model, fingerprint);
    const index_info *info = &index->file.info;
    if (strcmp(fingerprint, info->fingerprint) != 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "%s was built with model %s (fingerprint %s), not with %s (fingerprint "
                         "%s): embeddings of different models are not comparable",
                         index->file.path, index->file.model_name, info->fingerprint,
                         model_name ? model_name : "this model", fingerprint);
    if (semb_model_dimension(model) != info->dimension)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: dimension %d, the model's %d",
                         index->file.path, info->dimension, semb_model_dimension(model));
    return SEMB_OK;
}

semb_status semb_index_search_embeddings(const semb_index *index, const float *queries,
                                         size_t n, size_t k, const semb_search_options *opts,
                                         semb_search_hit *hits, size_t *per_query,
                                         semb_error *err)
{
    if (k == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "search: k must be at least 1");
    if (n > SIZE_MAX / k / sizeof(topk_entry))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "search: %zu queries x k %zu", n, k);
    const index_file *f = &index->file;
    topk_entry *entries = malloc((n ? n : 1) * k * sizeof *entries);
    if (!entries)
        return semb_fail(err, SEMB_ERR_NOMEM, "search: cannot allocate %zu x %zu hits", n, k);
    search_params p = {.k = k,
                       .exact = opts && opts->exact,
                       .rescore_multiplier = opts ? opts->rescore_multiplier : 0};
    semb_status st = exact_search(f, queries, n, &p, entries, per_query, err);
    for (size_t q = 0; !st && q < n; q++)
        for (size_t r = 0; r < *per_query; r++) {
            const topk_entry *e = &entries[q * k + r];
            hits[q * k + r] = (semb_search_hit){.rank = r + 1,
                                                .score = e->score,
                                                .document = e->document,
                                                .id = index_file_id(f, e->document),
                                                .id_is_integer = f->info.ids_integer,
                                                .text = index_file_text(f, e->document, NULL)};
        }
    free(entries);
    return st;
}

/* Encodes the queries with the query prompt prepended. */
static semb_status encode_queries(semb_model *model, const char *const *queries, size_t n,
                                  const char *prompt, float *out, semb_error *err)
{
    size_t plen = strlen(prompt);
    char **texts = calloc(n ? n : 1, sizeof *texts);
    semb_status st = texts ? SEMB_OK : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < n; i++) {
        size_t len = strlen(queries[i]);
        if (!(texts[i] = malloc(plen + len + 1)))
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        else {
            memcpy(texts[i], prompt, plen);
            memcpy(texts[i] + plen, queries[i], len + 1);
        }
    }
    if (!st)
        st = semb_encode(model, (const char *const *)texts, NULL, n, out, NULL, err);
    for (size_t i = 0; texts && i < n; i++)
        free(texts[i]);
    free(texts);
    return st;
}

semb_status semb_index_search(const semb_index *index, semb_model *model,
                              const char *const *queries, size_t n, size_t k,
                              const semb_search_options *opts, semb_search_hit *hits,
                              size_t *per_query, semb_error *err)
{
    semb_status st = semb_index_check_model(index, model, NULL, err);
    if (st)
        return st;
    const char *prompt = opts && opts->query_prompt ? opts->query_prompt
                                                    : semb_model_prompt(model, "query");
    int dim = semb_model_dimension(model);
    float *embeddings = malloc((n ? n : 1) * (size_t)dim * sizeof *embeddings);
    if (!embeddings)
        return semb_fail(err, SEMB_ERR_NOMEM, "search: cannot allocate %zu queries", n);
    st = encode_queries(model, queries, n, prompt ? prompt : "", embeddings, err);
    if (!st)
        st = semb_index_search_embeddings(index, embeddings, n, k, opts, hits, per_query, err);
    free(embeddings);
    return st;
}
