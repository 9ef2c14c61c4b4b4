#include "eval/retrieval_eval.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/line_source.h"
#include "eval/eval_encode.h"
#include "eval/text_ids.h"
#include "model/similarity.h"

/* Score tiles of QUERY_BLOCK x DOCUMENT_BLOCK floats (1 MiB): the document block stays in
 * cache while a whole query block is multiplied against it. */
#define QUERY_BLOCK 256
#define DOCUMENT_BLOCK 1024

void retrieval_dataset_free(retrieval_dataset *ds)
{
    if (ds->queries)
        for (size_t i = 0; i < ds->n_queries; i++)
            free(ds->queries[i]);
    if (ds->documents)
        for (size_t i = 0; i < ds->n_documents; i++)
            free(ds->documents[i]);
    free(ds->queries);
    free(ds->documents);
    free(ds->relevant_offsets);
    free(ds->relevant);
    memset(ds, 0, sizeof *ds);
}

bool retrieval_is_relevant(const retrieval_dataset *ds, size_t query, size_t document)
{
    size_t lo = ds->relevant_offsets[query], hi = ds->relevant_offsets[query + 1];
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        if (ds->relevant[mid] == document)
            return true;
        if (ds->relevant[mid] < document)
            lo = mid + 1;
        else
            hi = mid;
    }
    return false;
}

/* ---- building a dataset from pairs ---- */

typedef struct id_pair {
    size_t query, document;
} id_pair;

static int by_query_then_document(const void *a, const void *b)
{
    const id_pair *x = a, *y = b;
    if (x->query != y->query)
        return (x->query > y->query) - (x->query < y->query);
    return (x->document > y->document) - (x->document < y->document);
}

semb_status retrieval_dataset_set_relevance(retrieval_dataset *ds, const size_t *query_ids,
                                            const size_t *document_ids, size_t n,
                                            semb_error *err)
{
    id_pair *pairs = malloc((n ? n : 1) * sizeof *pairs);
    ds->relevant = malloc((n ? n : 1) * sizeof *ds->relevant);
    ds->relevant_offsets = calloc(ds->n_queries + 1, sizeof *ds->relevant_offsets);
    if (!pairs || !ds->relevant || !ds->relevant_offsets) {
        free(pairs);
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate relevance lists of %zu pairs", n);
    }
    for (size_t i = 0; i < n; i++)
        pairs[i] = (id_pair){query_ids[i], document_ids[i]};
    qsort(pairs, n, sizeof *pairs, by_query_then_document);
    size_t kept = 0;
    for (size_t i = 0; i < n; i++) {
        if (i && pairs[i].query == pairs[i - 1].query && pairs[i].document == pairs[i - 1].document)
            continue;
        ds->relevant[kept++] = pairs[i].document;
        ds->relevant_offsets[pairs[i].query + 1]++;
    }
    for (size_t q = 0; q < ds->n_queries; q++)
        ds->relevant_offsets[q + 1] += ds->relevant_offsets[q];
    free(pairs);
    return SEMB_OK;
}

semb_status retrieval_dataset_from_pairs(const char *const *anchors,
                                         const char *const *positives, size_t n,
                                         retrieval_dataset *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    if (n == 0)
        return semb_fail(err, SEMB_ERR_INPUT, "retrieval evaluation needs at least one pair");
    size_t *query_ids = malloc(n * sizeof *query_ids);
    size_t *document_ids = malloc(n * sizeof *document_ids);
    semb_status st = SEMB_OK;
    if (!query_ids || !document_ids)
        st = semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate ids of %zu pairs", n);
    if (!st)
        st = text_ids_number(anchors, n, query_ids, &out->queries, &out->n_queries, err);
    if (!st)
        st = text_ids_number(positives, n, document_ids, &out->documents, &out->n_documents,
                             err);
    if (!st)
        st = retrieval_dataset_set_relevance(out, query_ids, document_ids, n, err);
    free(query_ids);
    free(document_ids);
    if (st)
        retrieval_dataset_free(out);
    return st;
}

/* ---- reading pairs JSONL ---- */

typedef struct pair_list {
    char **anchors, **positives;
    size_t count, capacity;
} pair_list;

static void pair_list_free(pair_list *list)
{
    for (size_t i = 0; i < list->count; i++) {
        free(list->anchors[i]);
        free(list->positives[i]);
    }
    free(list->anchors);
    free(list->positives);
}

/* jansson rejects "\u0000" unless asked not to, so every string it gives is a C string. */
static const char *plain_string(const json_t *value)
{
    return json_is_string(value) ? json_string_value(value) : NULL;
}

static semb_status append_pair(pair_list *list, const char *anchor, const char *positive,
                               semb_error *err)
{
    if (list->count == list->capacity) {
        size_t cap = list->capacity ? 2 * list->capacity : 1024;
        char **a = realloc(list->anchors, cap * sizeof *a);
        if (a)
            list->anchors = a;
        char **p = realloc(list->positives, cap * sizeof *p);
        if (p)
            list->positives = p;
        if (!a || !p)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading pairs");
        list->capacity = cap;
    }
    char *a = strdup(anchor), *p = strdup(positive);
    if (!a || !p) {
        free(a);
        free(p);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading pairs");
    }
    list->anchors[list->count] = a;
    list->positives[list->count++] = p;
    return SEMB_OK;
}

static semb_status parse_pair_line(const char *path, size_t line_no, const char *line,
                                   size_t length, pair_list *list, semb_error *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(line, length, 0, &jerr);
    if (!v)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: not JSON: %s", path, line_no, jerr.text);
    const char *anchor = NULL, *positive = NULL;
    if (json_is_object(v)) {
        anchor = plain_string(json_object_get(v, "anchor"));
        positive = plain_string(json_object_get(v, "positive"));
    } else if (json_is_array(v) && json_array_size(v) >= 2) {
        anchor = plain_string(json_array_get(v, 0));
        positive = plain_string(json_array_get(v, 1));
    }
    semb_status st = SEMB_OK;
    if (!anchor || !positive)
        st = semb_fail(err, SEMB_ERR_FORMAT,
                       "%s:%zu: expected {\"anchor\": TEXT, \"positive\": TEXT} or "
                       "[\"anchor\", \"positive\", ...] with string texts",
                       path, line_no);
    else
        st = append_pair(list, anchor, positive, err);
    json_decref(v);
    return st;
}

semb_status retrieval_dataset_read_pairs(const char *path, retrieval_dataset *out,
                                         semb_error *err)
{
    memset(out, 0, sizeof *out);
    line_source *source;
    semb_status st = line_source_open(path, LINE_SOURCE_NO_LIMIT, &source, err);
    if (st)
        return st;
    pair_list list = {0};
    source_line line;
    bool end = false;
    while (!st && !(st = line_source_next(source, &line, &end, err)) && !end) {
        size_t len = line.length;
        while (len && line.text[len - 1] == '\r')
            len--;
        if (len)
            st = parse_pair_line(path, (size_t)line.number, line.text, len, &list, err);
    }
    line_source_close(source);
    if (!st && list.count == 0)
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: no pairs", path);
    if (!st)
        st = retrieval_dataset_from_pairs((const char *const *)list.anchors,
                                          (const char *const *)list.positives, list.count, out,
                                          err);
    pair_list_free(&list);
    return st;
}

/* ---- ranking ---- */

/* Whether (score a, relevance ra, document da) ranks before (b, rb, db): the tie order the
 * header describes. */
static bool ranks_before(float a, bool ra, size_t da, float b, bool rb, size_t db)
{
    if (a != b)
        return a > b;
    if (ra != rb)
        return !ra;
    return da < db;
}

void retrieval_top_offer(retrieval_top *top, float score, size_t document, bool relevant)
{
    if (isnan(score))
        score = -INFINITY;
    size_t last = RETRIEVAL_DEPTH - 1;
    if (top->count == RETRIEVAL_DEPTH &&
        !ranks_before(score, relevant, document, top->score[last], top->relevant[last],
                      top->document[last]))
        return;
    size_t pos = top->count < RETRIEVAL_DEPTH ? top->count++ : last;
    for (; pos > 0 && ranks_before(score, relevant, document, top->score[pos - 1],
                                   top->relevant[pos - 1], top->document[pos - 1]);
         pos--) {
        top->score[pos] = top->score[pos - 1];
        top->document[pos] = top->document[pos - 1];
        top->relevant[pos] = top->relevant[pos - 1];
    }
    top->score[pos] = score;
    top->document[pos] = document;
    top->relevant[pos] = relevant;
}

/* Offers one tile of scores ([rows, cols], row-major) to the tops of queries first_query..
 * and documents first_document... */
static void offer_tile(retrieval_top *tops, const retrieval_dataset *ds, const float *tile,
                       size_t first_query, int rows, size_t first_document, int cols)
{
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        size_t q = first_query + (size_t)r;
        retrieval_top *top = &tops[q];
        const float *row = tile + (size_t)r * (size_t)cols;
        for (int c = 0; c < cols; c++) {
            if (!retrieval_top_admits(top, row[c]))
                continue; /* the common case, decided without a relevance lookup */
            size_t d = first_document + (size_t)c;
            retrieval_top_offer(top, row[c], d, retrieval_is_relevant(ds, q, d));
        }
    }
}

semb_status retrieval_rank_chunk(retrieval_top *tops, const retrieval_dataset *ds,
                                 const float *query_embeddings,
                                 const float *document_embeddings, size_t first_document,
                                 size_t n_documents, int dim, semb_similarity sim,
                                 semb_error *err)
{
    float *tile = malloc((size_t)QUERY_BLOCK * DOCUMENT_BLOCK * sizeof *tile);
    if (!tile)
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate a score tile");
    for (size_t q0 = 0; q0 < ds->n_queries; q0 += QUERY_BLOCK) {
        size_t rows = ds->n_queries - q0 < QUERY_BLOCK ? ds->n_queries - q0 : QUERY_BLOCK;
        for (size_t d0 = 0; d0 < n_documents; d0 += DOCUMENT_BLOCK) {
            size_t cols = n_documents - d0 < DOCUMENT_BLOCK ? n_documents - d0 : DOCUMENT_BLOCK;
            similarity_matrix(sim, query_embeddings + q0 * (size_t)dim, rows,
                              document_embeddings + d0 * (size_t)dim, cols, dim, tile);
            offer_tile(tops, ds, tile, q0, (int)rows, first_document + d0, (int)cols);
        }
    }
    free(tile);
    return SEMB_OK;
}

/* ---- metrics ---- */

static const int cutoffs[SEMB_RETRIEVAL_CUTOFFS] = {1, 3, 5, 10};

int semb_retrieval_cutoff(int index)
{
    return index >= 0 && index < SEMB_RETRIEVAL_CUTOFFS ? cutoffs[index] : 0;
}

/* Adds one query's metrics to the sums in *sum (means taken by the caller). */
static void add_query_metrics(const retrieval_top *top, size_t n_relevant,
                              retrieval_result *sum)
{
    double hits = 0, dcg = 0, ideal = 0, precision_sum = 0;
    for (size_t i = 0; i < top->count; i++) {
        if (top->relevant[i]) {
            if (hits == 0 && i < 10)
                sum->mrr_at_10 += 1.0 / (double)(i + 1);
            hits++;
            precision_sum += hits / (double)(i + 1);
            if (i < 10)
                dcg += 1 / log2((double)i + 2);
        }
        for (int c = 0; c < SEMB_RETRIEVAL_CUTOFFS; c++)
            if (i + 1 == (size_t)cutoffs[c]) {
                sum->accuracy_at[c] += hits > 0;
                sum->precision_at[c] += hits / cutoffs[c];
                sum->recall_at[c] += hits / (double)n_relevant;
            }
    }
    /* a corpus smaller than a cutoff: the list ends before it, with all its hits */
    for (int c = 0; c < SEMB_RETRIEVAL_CUTOFFS; c++)
        if (top->count < (size_t)cutoffs[c]) {
            sum->accuracy_at[c] += hits > 0;
            sum->precision_at[c] += hits / cutoffs[c];
            sum->recall_at[c] += hits / (double)n_relevant;
        }
    for (size_t i = 0; i < n_relevant && i < 10; i++)
        ideal += 1 / log2((double)i + 2);
    sum->ndcg_at_10 += dcg / ideal;
    sum->map_at_100 += precision_sum / (double)(n_relevant < 100 ? n_relevant : 100);
}

void retrieval_result_from_tops(const retrieval_top *tops, const retrieval_dataset *ds,
                                retrieval_result *out)
{
    retrieval_result sum = {0};
    for (size_t q = 0; q < ds->n_queries; q++) {
        size_t n_relevant = ds->relevant_offsets[q + 1] - ds->relevant_offsets[q];
        if (n_relevant) /* outside the contract; scored 0 rather than divided by 0 */
            add_query_metrics(&tops[q], n_relevant, &sum);
    }
    double n = ds->n_queries ? (double)ds->n_queries : 1;
    sum.mrr_at_10 /= n;
    sum.ndcg_at_10 /= n;
    sum.map_at_100 /= n;
    for (int c = 0; c < SEMB_RETRIEVAL_CUTOFFS; c++) {
        sum.accuracy_at[c] /= n;
        sum.precision_at[c] /= n;
        sum.recall_at[c] /= n;
    }
    sum.queries = ds->n_queries;
    sum.documents = ds->n_documents;
    *out = sum;
}

/* ---- evaluation ---- */

static retrieval_top *new_tops(const retrieval_dataset *ds, semb_error *err)
{
    retrieval_top *tops = calloc(ds->n_queries ? ds->n_queries : 1, sizeof *tops);
    if (!tops)
        semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate rankings of %zu queries", ds->n_queries);
    return tops;
}

semb_status retrieval_evaluate_embeddings(const float *query_embeddings,
                                          const float *document_embeddings, int dim,
                                          semb_similarity sim, const retrieval_dataset *ds,
                                          retrieval_result *out, semb_error *err)
{
    if (dim <= 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "retrieval: embedding dimension %d", dim);
    retrieval_top *tops = new_tops(ds, err);
    if (!tops)
        return SEMB_ERR_NOMEM;
    semb_status st = retrieval_rank_chunk(tops, ds, query_embeddings, document_embeddings, 0,
                                          ds->n_documents, dim, sim, err);
    if (!st)
        retrieval_result_from_tops(tops, ds, out);
    free(tops);
    return st;
}

/* Embeds the corpus chunk by chunk and offers each chunk to the tops. */
static semb_status rank_corpus(semb_model *model, const retrieval_dataset *ds,
                               const semb_eval_options *opts, const float *queries,
                               retrieval_top *tops, semb_error *err)
{
    int dim = semb_model_dimension(model);
    semb_similarity sim = semb_model_similarity(model);
    size_t chunk = eval_chunk_size(opts);
    if (chunk > ds->n_documents)
        chunk = ds->n_documents ? ds->n_documents : 1;
    float *documents = malloc(chunk * (size_t)dim * sizeof *documents);
    if (!documents)
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate embeddings of %zu documents",
                         chunk);
    semb_status st = SEMB_OK;
    for (size_t d0 = 0; !st && d0 < ds->n_documents; d0 += chunk) {
        size_t n = ds->n_documents - d0 < chunk ? ds->n_documents - d0 : chunk;
        st = eval_encode(model, (const char *const *)ds->documents + d0, n,
                         opts ? opts->document_prompt : NULL, opts, sim, documents, err);
        if (st)
            semb_fail_prefix(err, "retrieval corpus (from document %zu): ", d0);
        else
            st = retrieval_rank_chunk(tops, ds, queries, documents, d0, n, dim, sim, err);
    }
    free(documents);
    return st;
}

semb_status retrieval_evaluate(semb_model *model, const retrieval_dataset *ds,
                               const semb_eval_options *opts, retrieval_result *out,
                               semb_error *err)
{
    if (!model || !ds || !out)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "retrieval_evaluate: NULL argument");
    int dim = semb_model_dimension(model);
    float *queries = malloc((ds->n_queries + 1) * (size_t)dim * sizeof *queries);
    retrieval_top *tops = new_tops(ds, err);
    semb_status st = SEMB_OK;
    if (!queries || !tops)
        st = semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate embeddings of %zu queries",
                       ds->n_queries);
    if (!st && (st = eval_encode(model, (const char *const *)ds->queries, ds->n_queries,
                                 opts ? opts->query_prompt : NULL, opts,
                                 semb_model_similarity(model), queries, err)))
        semb_fail_prefix(err, "retrieval queries: ");
    if (!st)
        st = rank_corpus(model, ds, opts, queries, tops, err);
    if (!st)
        retrieval_result_from_tops(tops, ds, out);
    free(queries);
    free(tops);
    return st;
}

/* Checks the public API's relevance lists: ascending distinct indices below n_documents, at
 * least one per query. */
static semb_status check_relevance(size_t n_queries, size_t n_documents,
                                   const size_t *offsets, const size_t *relevant,
                                   semb_error *err)
{
    if (offsets[0] != 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "relevant_offsets[0] is %zu, not 0",
                         offsets[0]);
    for (size_t q = 0; q < n_queries; q++) {
        if (offsets[q + 1] <= offsets[q])
            return semb_fail(err, SEMB_ERR_INVALID_ARG, "query %zu has no relevant document", q);
        for (size_t k = offsets[q]; k < offsets[q + 1]; k++)
            if (relevant[k] >= n_documents || (k > offsets[q] && relevant[k] <= relevant[k - 1]))
                return semb_fail(err, SEMB_ERR_INVALID_ARG,
                                 "query %zu: relevant documents must be ascending distinct "
                                 "indices below %zu", q, n_documents);
    }
    return SEMB_OK;
}

semb_status semb_eval_retrieval(semb_model *model, const char *const *queries, size_t n_queries,
                                const char *const *documents, size_t n_documents,
                                const size_t *relevant_offsets, const size_t *relevant,
                                const semb_eval_options *opts, semb_retrieval_metrics *out,
                                semb_error *err)
{
    if (!model || !out || (n_queries && (!queries || !relevant_offsets || !relevant)) ||
        (n_documents && !documents))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_eval_retrieval: NULL argument");
    if (n_queries == 0 || n_documents == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "retrieval needs queries and documents "
                         "(%zu queries, %zu documents)", n_queries, n_documents);
    semb_status st = check_relevance(n_queries, n_documents, relevant_offsets, relevant, err);
    if (st)
        return st;
    /* a view: the evaluation only reads the dataset */
    retrieval_dataset view = {(char **)queries, n_queries, (char **)documents, n_documents,
                              (size_t *)relevant_offsets, (size_t *)relevant};
    return retrieval_evaluate(model, &view, opts, out, err);
}
