#include "eval/retrieval_eval.h"

#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/matmul.h"

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

typedef struct text_ref {
    const char *text;
    size_t index;
} text_ref;

static int by_text_then_index(const void *a, const void *b)
{
    const text_ref *x = a, *y = b;
    int c = strcmp(x->text, y->text);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* Numbers the distinct texts in order of first appearance: ids[i] is the number of texts[i];
 * (*copies)[id] is a malloc'd copy of the text. */
static semb_status number_distinct(const char *const *texts, size_t n, size_t *ids,
                                   char ***copies, size_t *n_distinct, semb_error *err)
{
    text_ref *refs = malloc(n * sizeof *refs);
    size_t *first = malloc(n * sizeof *first);
    *copies = calloc(n, sizeof **copies);
    *n_distinct = 0;
    semb_status st = SEMB_OK;
    if (!refs || !first || !*copies) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate an index of %zu texts", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        refs[i] = (text_ref){texts[i], i};
    qsort(refs, n, sizeof *refs, by_text_then_index);
    for (size_t start = 0, end; start < n; start = end) {
        for (end = start + 1; end < n && strcmp(refs[end].text, refs[start].text) == 0; end++)
            ;
        for (size_t k = start; k < end; k++)
            first[refs[k].index] = refs[start].index; /* the group's lowest index */
    }
    for (size_t i = 0; i < n && !st; i++) {
        if (first[i] < i) {
            ids[i] = ids[first[i]];
            continue;
        }
        ids[i] = *n_distinct;
        if (!((*copies)[(*n_distinct)++] = strdup(texts[i])))
            st = semb_fail(err, SEMB_ERR_NOMEM, "cannot copy %zu texts", n);
    }
done:
    free(refs);
    free(first);
    return st;
}

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

/* Relevance lists from the (query, document) id of each pair, duplicates merged. */
static semb_status build_relevance(retrieval_dataset *ds, const size_t *query_ids,
                                   const size_t *document_ids, size_t n, semb_error *err)
{
    id_pair *pairs = malloc(n * sizeof *pairs);
    ds->relevant = malloc(n * sizeof *ds->relevant);
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
        st = number_distinct(anchors, n, query_ids, &out->queries, &out->n_queries, err);
    if (!st)
        st = number_distinct(positives, n, document_ids, &out->documents, &out->n_documents,
                             err);
    if (!st)
        st = build_relevance(out, query_ids, document_ids, n, err);
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
    FILE *f = fopen(path, "rb");
    if (!f)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    pair_list list = {0};
    char *line = NULL;
    size_t line_cap = 0, line_no = 0;
    ssize_t got;
    semb_status st = SEMB_OK;
    while (!st && (got = getline(&line, &line_cap, f)) >= 0) {
        line_no++;
        size_t len = (size_t)got;
        while (len && (line[len - 1] == '\n' || line[len - 1] == '\r'))
            len--;
        if (len)
            st = parse_pair_line(path, line_no, line, len, &list, err);
    }
    if (!st && ferror(f))
        st = semb_fail(err, SEMB_ERR_IO, "%s: read error: %s", path, strerror(errno));
    free(line);
    fclose(f);
    if (!st && list.count == 0)
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: no pairs", path);
    if (!st)
        st = retrieval_dataset_from_pairs((const char *const *)list.anchors,
                                          (const char *const *)list.positives, list.count, out,
                                          err);
    pair_list_free(&list);
    return st;
}

/* ---- ranking and metrics ---- */

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
    size_t last = RETRIEVAL_TOP_K - 1;
    if (top->count == RETRIEVAL_TOP_K &&
        !ranks_before(score, relevant, document, top->score[last], top->relevant[last],
                      top->document[last]))
        return;
    size_t pos = top->count < RETRIEVAL_TOP_K ? top->count++ : last;
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

void retrieval_result_from_tops(const retrieval_top *tops, const retrieval_dataset *ds,
                                retrieval_result *out)
{
    double mrr = 0, recall1 = 0, recall10 = 0, ndcg = 0;
    for (size_t q = 0; q < ds->n_queries; q++) {
        const retrieval_top *top = &tops[q];
        size_t n_relevant = ds->relevant_offsets[q + 1] - ds->relevant_offsets[q];
        if (n_relevant == 0) /* outside the contract; scored 0 rather than divided by 0 */
            continue;
        double hits = 0, dcg = 0, ideal = 0, reciprocal_rank = 0;
        for (size_t i = 0; i < top->count; i++) {
            if (!top->relevant[i])
                continue;
            if (hits == 0)
                reciprocal_rank = 1.0 / (double)(i + 1);
            hits++;
            dcg += 1 / log2((double)i + 2);
        }
        for (size_t i = 0; i < n_relevant && i < RETRIEVAL_TOP_K; i++)
            ideal += 1 / log2((double)i + 2);
        mrr += reciprocal_rank;
        recall1 += top->count && top->relevant[0] ? 1.0 / (double)n_relevant : 0;
        recall10 += hits / (double)n_relevant;
        ndcg += ideal > 0 ? dcg / ideal : 0;
    }
    double n = ds->n_queries ? (double)ds->n_queries : 1;
    *out = (retrieval_result){mrr / n, recall1 / n, recall10 / n, ndcg / n, ds->n_queries,
                              ds->n_documents};
}

/* Offers one tile of scores ([rows, cols] with leading dimension ld) to the tops of queries
 * first_query.. and documents first_document... */
static void offer_tile(retrieval_top *tops, const retrieval_dataset *ds, const float *tile,
                       int ld, size_t first_query, int rows, size_t first_document, int cols)
{
#pragma omp parallel for schedule(static)
    for (int r = 0; r < rows; r++) {
        size_t q = first_query + (size_t)r;
        retrieval_top *top = &tops[q];
        const float *row = tile + (size_t)r * (size_t)ld;
        for (int c = 0; c < cols; c++) {
            /* the common case, a score below a full top list, decided without a lookup */
            if (top->count == RETRIEVAL_TOP_K && row[c] < top->score[RETRIEVAL_TOP_K - 1])
                continue;
            size_t d = first_document + (size_t)c;
            retrieval_top_offer(top, row[c], d, retrieval_is_relevant(ds, q, d));
        }
    }
}

semb_status retrieval_evaluate_embeddings(const float *query_embeddings,
                                          const float *document_embeddings, int dim,
                                          const retrieval_dataset *ds, retrieval_result *out,
                                          semb_error *err)
{
    if (dim <= 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "retrieval: embedding dimension %d", dim);
    retrieval_top *tops = calloc(ds->n_queries ? ds->n_queries : 1, sizeof *tops);
    float *tile = malloc((size_t)QUERY_BLOCK * DOCUMENT_BLOCK * sizeof *tile);
    if (!tops || !tile) {
        free(tops);
        free(tile);
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate rankings of %zu queries",
                         ds->n_queries);
    }
    for (size_t q0 = 0; q0 < ds->n_queries; q0 += QUERY_BLOCK) {
        int rows = (int)(ds->n_queries - q0 < QUERY_BLOCK ? ds->n_queries - q0 : QUERY_BLOCK);
        for (size_t d0 = 0; d0 < ds->n_documents; d0 += DOCUMENT_BLOCK) {
            int cols = (int)(ds->n_documents - d0 < DOCUMENT_BLOCK ? ds->n_documents - d0
                                                                   : DOCUMENT_BLOCK);
            matmul_sgemm(false, true, rows, cols, dim, 1.0f, query_embeddings + q0 * (size_t)dim,
                         dim, document_embeddings + d0 * (size_t)dim, dim, 0.0f, tile,
                         DOCUMENT_BLOCK);
            offer_tile(tops, ds, tile, DOCUMENT_BLOCK, q0, rows, d0, cols);
        }
    }
    retrieval_result_from_tops(tops, ds, out);
    free(tops);
    free(tile);
    return SEMB_OK;
}

semb_status retrieval_evaluate(semb_model *model, const retrieval_dataset *ds,
                               const semb_encode_options *opts, retrieval_result *out,
                               semb_error *err)
{
    if (!model || !ds || !out)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "retrieval_evaluate: NULL argument");
    semb_encode_options normalized = opts ? *opts : (semb_encode_options){0};
    normalized.normalize = 1;
    int dim = semb_model_dimension(model);
    float *queries = malloc((ds->n_queries + 1) * (size_t)dim * sizeof *queries);
    float *documents = malloc((ds->n_documents + 1) * (size_t)dim * sizeof *documents);
    semb_status st = SEMB_OK;
    if (!queries || !documents)
        st = semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate embeddings of %zu queries and %zu "
                       "documents", ds->n_queries, ds->n_documents);
    if (!st && (st = semb_encode(model, (const char *const *)ds->queries, NULL, ds->n_queries,
                                 queries, &normalized, err)))
        semb_fail_prefix(err, "retrieval queries: ");
    if (!st && (st = semb_encode(model, (const char *const *)ds->documents, NULL,
                                 ds->n_documents, documents, &normalized, err)))
        semb_fail_prefix(err, "retrieval corpus: ");
    if (!st)
        st = retrieval_evaluate_embeddings(queries, documents, dim, ds, out, err);
    free(queries);
    free(documents);
    return st;
}
