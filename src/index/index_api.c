/* The public search-index API of semb.h over index_file, exact_search and hnsw_index. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/exact_search.h"
#include "index/hnsw_index.h"
#include "index/index_file.h"
#include "index/quantize.h"

struct semb_index {
    index_file file;
    /* The HNSW graph, loaded once on demand: searches take a const index, so the state
     * below changes only under the lock and only from "not tried" to loaded or failed. */
    pthread_mutex_t graph_lock;
    bool graph_tried;
    hnsw_index *graph;
    semb_status graph_status;
    semb_error graph_error;
};

const char *semb_storage_precision_name(semb_storage_precision precision)
{
    switch (precision) {
    case SEMB_STORAGE_FLOAT32: return "float32";
    case SEMB_STORAGE_INT8: return "int8";
    case SEMB_STORAGE_BINARY: return "binary";
    }
    return "unknown";
}

semb_status semb_storage_precision_from_name(const char *name, semb_storage_precision *out,
                                              semb_error *err)
{
    for (int p = SEMB_STORAGE_FLOAT32; p <= SEMB_STORAGE_BINARY; p++)
        if (name && strcmp(name, semb_storage_precision_name((semb_storage_precision)p)) == 0) {
            *out = (semb_storage_precision)p;
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
    pthread_mutex_init(&index->graph_lock, NULL);
    *out = index;
    return SEMB_OK;
}

void semb_index_close(semb_index *index)
{
    if (!index)
        return;
    hnsw_index_free(index->graph);
    pthread_mutex_destroy(&index->graph_lock);
    index_file_close(&index->file);
    free(index);
}

void semb_index_graph_info(const semb_index *index, semb_index_graph *out)
{
    const index_file *f = &index->file;
    *out = (semb_index_graph){.present = f->hnsw != NULL,
                              .m = f->hnsw_m,
                              .ef_construction = f->hnsw_ef_construction,
                              .seed = f->hnsw_seed,
                              .bytes = f->hnsw_size};
}

/* The graph's vectors: the stored rows as float (the mapping itself for float32). */
static semb_status graph_vectors(const index_file *f, const float **out, float **owned,
                                 semb_error *err)
{
    size_t n = (size_t)f->info.documents, dim = (size_t)f->info.dimension;
    *owned = NULL;
    if (f->info.precision == SEMB_STORAGE_FLOAT32) {
        *out = (const float *)f->embeddings;
        return SEMB_OK;
    }
    if (n > SIZE_MAX / sizeof(float) / dim || !(*owned = malloc(n * dim * sizeof(float))))
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory decoding %zu rows for the "
                                              "HNSW graph", f->path, n);
    if (f->info.precision == SEMB_STORAGE_INT8)
        dequantize_int8_rows((const int8_t *)f->embeddings, n, (int)dim, f->int8_starts,
                             f->int8_steps, *owned);
    else
        unpack_binary_rows(f->embeddings, n, (int)dim, *owned);
    *out = *owned;
    return SEMB_OK;
}

/* hnsw_index_load over the file's embeddings, plus the checks only the file can make: the
 * graph's similarity and parameters against the header and meta. */
static semb_status load_graph(const index_file *f, hnsw_index **out, semb_error *err)
{
    const float *vectors = NULL;
    float *owned;
    semb_status st = graph_vectors(f, &vectors, &owned, err);
    if (st)
        return st;
    st = hnsw_index_load(f->hnsw, (size_t)f->hnsw_size, vectors, (size_t)f->info.documents,
                         f->info.dimension, out, err);
    free(owned);
    if (!st) {
        hnsw_index_options o = hnsw_index_get_options(*out);
        if (hnsw_index_similarity(*out) != f->info.similarity || o.m != f->hnsw_m ||
            o.ef_construction != f->hnsw_ef_construction || o.seed != f->hnsw_seed) {
            hnsw_index_free(*out);
            *out = NULL;
            st = semb_fail(err, SEMB_ERR_FORMAT, "the graph's similarity or parameters "
                                                 "disagree with the index's header and meta");
        }
    }
    if (st && st != SEMB_ERR_NOMEM) {
        /* a graph that does not fit its own file is a corrupt file, whatever hnsw calls it */
        semb_fail_prefix(err, "%s: HNSW graph unusable (rebuild the index): ", f->path);
        if (err)
            err->status = SEMB_ERR_FORMAT;
        st = SEMB_ERR_FORMAT;
    }
    return st;
}

semb_status semb_index_load_graph(semb_index *index, semb_error *err)
{
    if (!index->file.hnsw)
        return SEMB_OK;
    pthread_mutex_lock(&index->graph_lock);
    if (!index->graph_tried) {
        index->graph_status = load_graph(&index->file, &index->graph, &index->graph_error);
        index->graph_tried = true;
    }
    semb_status st = index->graph_status;
    if (st && err)
        *err = index->graph_error;
    pthread_mutex_unlock(&index->graph_lock);
    return st;
}

size_t semb_index_count(const semb_index *index)
{
    return (size_t)index->file.info.documents;
}

int semb_index_dimension(const semb_index *index)
{
    return index->file.info.dimension;
}

semb_storage_precision semb_index_precision(const semb_index *index)
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

/* The graph's hits as exact_search gives its own: row q at entries[q * k]. */
static semb_status approximate_search(const hnsw_index *graph, const index_file *f,
                                      const float *queries, size_t n, size_t k, size_t ef,
                                      topk_entry *entries, size_t *per_query, semb_error *err)
{
    size_t *indices = malloc((n ? n : 1) * k * sizeof *indices);
    float *scores = malloc((n ? n : 1) * k * sizeof *scores);
    semb_status st = indices && scores
                         ? hnsw_index_search(graph, queries, n, f->info.dimension, k, ef,
                                             indices, scores, per_query, err)
                         : semb_fail(err, SEMB_ERR_NOMEM, "search: cannot allocate %zu x %zu "
                                                          "hits", n, k);
    for (size_t q = 0; !st && q < n; q++)
        for (size_t r = 0; r < *per_query; r++)
            entries[q * k + r] = (topk_entry){scores[q * k + r], indices[q * k + r]};
    free(indices);
    free(scores);
    return st;
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
    bool approximate = f->hnsw && !(opts && opts->exact);
    /* the lock inside makes loading safe from a const index (see struct semb_index) */
    semb_status st = approximate ? semb_index_load_graph((semb_index *)index, err) : SEMB_OK;
    if (st)
        return st;
    topk_entry *entries = malloc((n ? n : 1) * k * sizeof *entries);
    if (!entries)
        return semb_fail(err, SEMB_ERR_NOMEM, "search: cannot allocate %zu x %zu hits", n, k);
    search_params p = {.k = k,
                       .exact = opts && opts->exact,
                       .rescore_multiplier = opts ? opts->rescore_multiplier : 0};
    if (approximate)
        st = approximate_search(index->graph, f, queries, n, k, opts ? opts->ef : 0, entries,
                                per_query, err);
    else
        st = exact_search(f, queries, n, &p, entries, per_query, err);
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

semb_search_options semb_search_options_default(void)
{
    return (semb_search_options){.rescore_multiplier = SEARCH_DEFAULT_RESCORE_MULTIPLIER};
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
    semb_encode_options encode = semb_encode_options_default();
    encode.prompt = prompt;
    st = semb_encode(model, queries, NULL, n, embeddings, &encode, err);
    if (!st)
        st = semb_index_search_embeddings(index, embeddings, n, k, opts, hits, per_query, err);
    free(embeddings);
    return st;
}
