#include "eval/cluster_eval.h"

#include <inttypes.h>
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/line_source.h"
#include "index/kmeans.h"
#include "model/similarity.h"

/* Texts per semb_encode call, so its working memory stays bounded on a large corpus. */
#define ENCODE_CHUNK 4096

/* ---- dense ids ---- */

typedef struct keyed {
    int64_t key;
    size_t index;
} keyed;

static int by_key_then_index(const void *a, const void *b)
{
    const keyed *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* ids[i] = the number of keys[i] among the distinct keys in order of first appearance;
 * *distinct their count. */
static semb_status dense_ids(const int64_t *keys, size_t n, size_t *ids, size_t *distinct,
                             semb_error *err)
{
    keyed *refs = malloc((n ? n : 1) * sizeof *refs);
    size_t *first = malloc((n ? n : 1) * sizeof *first);
    if (!refs || !first) {
        free(refs);
        free(first);
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate ids for %zu labels", n);
    }
    for (size_t i = 0; i < n; i++)
        refs[i] = (keyed){keys[i], i};
    qsort(refs, n, sizeof *refs, by_key_then_index);
    for (size_t start = 0, end; start < n; start = end) {
        for (end = start + 1; end < n && refs[end].key == refs[start].key; end++)
            ;
        for (size_t m = start; m < end; m++)
            first[refs[m].index] = refs[start].index;
    }
    *distinct = 0;
    for (size_t i = 0; i < n; i++)
        ids[i] = first[i] == i ? (*distinct)++ : ids[first[i]];
    free(refs);
    free(first);
    return SEMB_OK;
}

/* ---- the metrics ---- */

static double entropy(const size_t *counts, size_t n_values, double total)
{
    double h = 0;
    for (size_t v = 0; v < n_values; v++)
        if (counts[v])
            h -= counts[v] / total * (log((double)counts[v]) - log(total));
    return h;
}

typedef struct contingency {
    size_t *class_counts, *cluster_counts;
    size_t n_classes, n_clusters;
    int64_t *cells;  /* sorted class * n_clusters + cluster, one per point */
} contingency;

static void contingency_free(contingency *t)
{
    free(t->class_counts);
    free(t->cluster_counts);
    free(t->cells);
}

static int ascending_int64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static semb_status contingency_build(const int32_t *classes, const int32_t *clusters, size_t n,
                                     contingency *t, semb_error *err)
{
    memset(t, 0, sizeof *t);
    size_t alloc = n ? n : 1;
    int64_t *keys = malloc(alloc * sizeof *keys);
    size_t *class_ids = malloc(alloc * sizeof *class_ids);
    size_t *cluster_ids = malloc(alloc * sizeof *cluster_ids);
    semb_status st = SEMB_OK;
    if (!keys || !class_ids || !cluster_ids) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate a contingency table of %zu", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        keys[i] = classes[i];
    if ((st = dense_ids(keys, n, class_ids, &t->n_classes, err)))
        goto done;
    for (size_t i = 0; i < n; i++)
        keys[i] = clusters[i];
    if ((st = dense_ids(keys, n, cluster_ids, &t->n_clusters, err)))
        goto done;
    t->class_counts = calloc(t->n_classes + 1, sizeof *t->class_counts);
    t->cluster_counts = calloc(t->n_clusters + 1, sizeof *t->cluster_counts);
    if (!t->class_counts || !t->cluster_counts) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate a contingency table of %zu", n);
        goto done;
    }
    for (size_t i = 0; i < n; i++) {
        t->class_counts[class_ids[i]]++;
        t->cluster_counts[cluster_ids[i]]++;
        keys[i] = (int64_t)(class_ids[i] * t->n_clusters + cluster_ids[i]);
    }
    qsort(keys, n, sizeof *keys, ascending_int64);
done:
    free(class_ids);
    free(cluster_ids);
    if (st) {
        free(keys);
        contingency_free(t);
    } else {
        t->cells = keys;
    }
    return st;
}

semb_status semb_cluster_scores_compute(const int32_t *classes, const int32_t *clusters,
                                        size_t n, semb_cluster_scores *out, semb_error *err)
{
    *out = (semb_cluster_scores){1, 1, 1, 1, 0, 0};
    if (n == 0)
        return SEMB_OK;
    contingency t;
    semb_status st = contingency_build(classes, clusters, n, &t, err);
    if (st)
        return st;
    double total = (double)n, mi = 0, sum_cells_sq = 0, sum_class_sq = 0, sum_cluster_sq = 0;
    for (size_t start = 0, end; start < n; start = end) {
        for (end = start + 1; end < n && t.cells[end] == t.cells[start]; end++)
            ;
        double cell = (double)(end - start);
        size_t c = (size_t)t.cells[start] / t.n_clusters, k = (size_t)t.cells[start] % t.n_clusters;
        mi += cell / total * (log(cell) + log(total) - log((double)t.class_counts[c]) -
                              log((double)t.cluster_counts[k]));
        sum_cells_sq += cell * cell;
    }
    /* one class or one cluster: no information to share, 0 exactly (not rounding noise) */
    if (t.n_classes == 1 || t.n_clusters == 1 || mi < 0)
        mi = 0;
    double h_class = entropy(t.class_counts, t.n_classes, total);
    double h_cluster = entropy(t.cluster_counts, t.n_clusters, total);
    out->homogeneity = h_class > 0 ? mi / h_class : 1.0;
    out->completeness = h_cluster > 0 ? mi / h_cluster : 1.0;
    double hc = out->homogeneity + out->completeness;
    out->v_measure = hc > 0 ? 2.0 * out->homogeneity * out->completeness / hc : 0.0;
    for (size_t c = 0; c < t.n_classes; c++)
        sum_class_sq += (double)t.class_counts[c] * t.class_counts[c];
    for (size_t k = 0; k < t.n_clusters; k++)
        sum_cluster_sq += (double)t.cluster_counts[k] * t.cluster_counts[k];
    /* ordered pairs of distinct points, as sklearn's pair_confusion_matrix counts them */
    double tp = sum_cells_sq - total, fp = sum_cluster_sq - sum_cells_sq,
           fn = sum_class_sq - sum_cells_sq, tn = total * total - fp - fn - sum_cells_sq;
    out->adjusted_rand = fn == 0 && fp == 0
                             ? 1.0
                             : 2.0 * (tp * tn - fn * fp) /
                                   ((tp + fn) * (fn + tn) + (tp + fp) * (fp + tn));
    out->classes = t.n_classes;
    out->clusters = t.n_clusters;
    contingency_free(&t);
    return SEMB_OK;
}

/* ---- reading labelled texts ---- */

void cluster_dataset_free(cluster_dataset *ds)
{
    if (ds->texts)
        for (size_t i = 0; i < ds->n; i++)
            free(ds->texts[i]);
    free(ds->texts);
    free(ds->lengths);
    free(ds->line_numbers);
    free(ds->labels);
    memset(ds, 0, sizeof *ds);
}

/* What labels are while reading: strings and integers, kept apart. */
typedef struct label_list {
    char **keys;  /* "s<string>" or "i<integer>" */
    size_t capacity;
} label_list;

static semb_status grow(cluster_dataset *ds, label_list *labels, semb_error *err)
{
    size_t cap = labels->capacity ? 2 * labels->capacity : 1024;
    char **t = realloc(ds->texts, cap * sizeof *t);
    if (t)
        ds->texts = t;
    size_t *l = realloc(ds->lengths, cap * sizeof *l);
    if (l)
        ds->lengths = l;
    size_t *ln = realloc(ds->line_numbers, cap * sizeof *ln);
    if (ln)
        ds->line_numbers = ln;
    char **k = realloc(labels->keys, cap * sizeof *k);
    if (k)
        labels->keys = k;
    if (!t || !l || !ln || !k)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading labelled texts");
    labels->capacity = cap;
    return SEMB_OK;
}

static char *label_key(const json_t *label)
{
    char *key = NULL;
    if (json_is_string(label)) {
        size_t len = json_string_length(label);
        if ((key = malloc(len + 2))) {
            key[0] = 's';
            memcpy(key + 1, json_string_value(label), len + 1);
        }
    } else if (json_is_integer(label)) {
        if ((key = malloc(24)))
            snprintf(key, 24, "i%" JSON_INTEGER_FORMAT, json_integer_value(label));
    }
    return key;
}

static semb_status parse_labelled_line(const char *path, size_t line_no, const char *line,
                                       size_t length, cluster_dataset *ds, label_list *labels,
                                       semb_error *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(line, length, 0, &jerr);
    if (!v)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: not JSON: %s", path, line_no, jerr.text);
    json_t *text = json_is_object(v) ? json_object_get(v, "text") : NULL;
    json_t *label = json_is_object(v) ? json_object_get(v, "label") : NULL;
    semb_status st = SEMB_OK;
    if (!json_is_object(v))
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: expected a JSON object {\"text\", "
                       "\"label\"}", path, line_no);
    else if (!json_is_string(text))
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: \"text\" is %s, expected a string", path,
                       line_no, text ? "not a string" : "missing");
    else if (!json_is_string(label) && !json_is_integer(label))
        st = semb_fail(err, SEMB_ERR_FORMAT,
                       "%s:%zu: \"label\" is %s, expected a string or an integer", path, line_no,
                       label ? "neither a string nor an integer" : "missing");
    else if (ds->n == labels->capacity)
        st = grow(ds, labels, err);
    if (!st) {
        char *copy = strdup(json_string_value(text)), *key = label_key(label);
        if (!copy || !key) {
            free(copy);
            free(key);
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading labelled texts");
        } else {
            ds->texts[ds->n] = copy;
            ds->lengths[ds->n] = json_string_length(text);
            ds->line_numbers[ds->n] = line_no;
            labels->keys[ds->n++] = key;
        }
    }
    json_decref(v);
    return st;
}

typedef struct string_ref {
    const char *key;
    size_t index;
} string_ref;

static int by_string_then_index(const void *a, const void *b)
{
    const string_ref *x = a, *y = b;
    int c = strcmp(x->key, y->key);
    return c ? c : (x->index > y->index) - (x->index < y->index);
}

/* ds->labels from the keys: equal keys share an id; ids in order of first appearance. */
static semb_status number_labels(cluster_dataset *ds, char **keys, semb_error *err)
{
    string_ref *refs = malloc(ds->n * sizeof *refs);
    int64_t *first = malloc(ds->n * sizeof *first);
    size_t *ids = malloc(ds->n * sizeof *ids);
    ds->labels = malloc(ds->n * sizeof *ds->labels);
    semb_status st = SEMB_OK;
    if (!refs || !first || !ids || !ds->labels) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory numbering %zu labels", ds->n);
        goto done;
    }
    for (size_t i = 0; i < ds->n; i++)
        refs[i] = (string_ref){keys[i], i};
    qsort(refs, ds->n, sizeof *refs, by_string_then_index);
    for (size_t start = 0, end; start < ds->n; start = end) {
        for (end = start + 1; end < ds->n && !strcmp(refs[end].key, refs[start].key); end++)
            ;
        for (size_t m = start; m < end; m++)
            first[refs[m].index] = (int64_t)refs[start].index;
    }
    if ((st = dense_ids(first, ds->n, ids, &ds->n_labels, err)))
        goto done;
    if (ds->n_labels > INT32_MAX) {
        st = semb_fail(err, SEMB_ERR_INPUT, "more than %d distinct labels", INT32_MAX);
        goto done;
    }
    for (size_t i = 0; i < ds->n; i++)
        ds->labels[i] = (int32_t)ids[i];
done:
    free(refs);
    free(first);
    free(ids);
    return st;
}

semb_status cluster_dataset_read(const char *path, cluster_dataset *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    line_source *source;
    semb_status st = line_source_open(path, LINE_SOURCE_NO_LIMIT, &source, err);
    if (st)
        return st;
    label_list labels = {0};
    source_line line;
    bool end = false;
    while (!st && !(st = line_source_next(source, &line, &end, err)) && !end) {
        size_t len = line.length, line_no = (size_t)line.number;
        while (len && (line.text[len - 1] == '\r' || line.text[len - 1] == ' '))
            len--;
        if (len == 0)
            continue;
        if (memchr(line.text, '\0', len))
            st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: contains a NUL byte", path, line_no);
        else
            st = parse_labelled_line(path, line_no, line.text, len, out, &labels, err);
    }
    line_source_close(source);
    if (!st && out->n == 0)
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: no labelled texts", path);
    if (!st)
        st = number_labels(out, labels.keys, err);
    for (size_t i = 0; i < out->n; i++)
        free(labels.keys[i]);
    free(labels.keys);
    if (st)
        cluster_dataset_free(out);
    return st;
}

/* ---- embedding and evaluating ---- */

semb_status cluster_encode_texts(semb_model *model, const char *const *texts,
                                 const size_t *lengths, size_t n,
                                 const semb_encode_options *opts, float *out, semb_error *err)
{
    int dim = semb_model_dimension(model);
    for (size_t start = 0; start < n; start += ENCODE_CHUNK) {
        size_t count = n - start < ENCODE_CHUNK ? n - start : ENCODE_CHUNK;
        semb_status st = semb_encode(model, texts + start, lengths ? lengths + start : NULL,
                                     count, out + start * (size_t)dim, opts, err);
        if (st) {
            if (start && err && err->has_item)
                semb_error_rename_item(err, start + err->item, "text %zu: ", start + err->item);
            return st;
        }
    }
    similarity_prepare(semb_model_similarity(model), out, n, dim);
    return SEMB_OK;
}

semb_status cluster_evaluate_embeddings(const float *embeddings, int dim,
                                        const cluster_dataset *ds,
                                        const semb_kmeans_options *kopts,
                                        cluster_eval_result *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    semb_kmeans_options o = *kopts;
    if (o.k <= 0)
        o.k = (int)(ds->n_labels < INT32_MAX ? ds->n_labels : INT32_MAX);
    kmeans_result km;
    semb_status st = kmeans_fit(embeddings, ds->n, dim, &o, &km, err);
    if (st)
        return st;
    st = semb_cluster_scores_compute(ds->labels, km.labels, ds->n, &out->scores, err);
    out->inertia = km.inertia;
    out->k = o.k;
    out->texts = ds->n;
    out->labels = ds->n_labels;
    kmeans_result_free(&km);
    return st;
}
