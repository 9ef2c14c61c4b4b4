#include "eval/tfidf_baseline.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <utf8proc.h>

#include "core/error.h"
#include "text/vocab.h"

struct tfidf_model {
    vocab_table words; /* word -> term id */
    double *idf;       /* per term id */
    size_t n_terms;
};

/* The words of one text, lowercased, laid end to end in bytes. */
typedef struct word_list {
    char *bytes;
    size_t *starts, *lengths;
    size_t count;
} word_list;

static void word_list_free(word_list *words)
{
    free(words->bytes);
    free(words->starts);
    free(words->lengths);
}

/* Python's \w: letters, numbers (any Unicode category L* or N*) and the underscore. */
static bool is_word_char(utf8proc_int32_t cp)
{
    if (cp == '_')
        return true;
    utf8proc_category_t c = utf8proc_category(cp);
    return (c >= UTF8PROC_CATEGORY_LU && c <= UTF8PROC_CATEGORY_LO) ||
           (c >= UTF8PROC_CATEGORY_ND && c <= UTF8PROC_CATEGORY_NO);
}

static semb_status split_words(const char *text, word_list *out, semb_error *err)
{
    size_t length = strlen(text);
    memset(out, 0, sizeof *out);
    /* a lowercased code point takes at most 4 bytes, its original at least 1 */
    out->bytes = malloc(4 * length + 1);
    out->starts = malloc((length / 2 + 1) * sizeof *out->starts);
    out->lengths = malloc((length / 2 + 1) * sizeof *out->lengths);
    if (!out->bytes || !out->starts || !out->lengths) {
        word_list_free(out);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory splitting a text into words");
    }
    const utf8proc_uint8_t *p = (const utf8proc_uint8_t *)text, *end = p + length;
    size_t used = 0, word_start = 0, word_chars = 0;
    while (p <= end) {
        utf8proc_int32_t cp = -1;
        utf8proc_ssize_t step = 1;
        if (p < end) {
            step = utf8proc_iterate(p, end - p, &cp);
            if (step < 0) { /* an invalid byte separates words */
                step = 1;
                cp = -1;
            }
        }
        if (cp >= 0 && is_word_char(cp)) {
            used += (size_t)utf8proc_encode_char(utf8proc_tolower(cp),
                                                 (utf8proc_uint8_t *)out->bytes + used);
            word_chars++;
        } else {
            if (word_chars >= 2) {
                out->starts[out->count] = word_start;
                out->lengths[out->count++] = used - word_start;
            } else {
                used = word_start; /* a one-character word is dropped, as the pattern does */
            }
            word_start = used;
            word_chars = 0;
        }
        p += step;
    }
    return SEMB_OK;
}

void tfidf_free(tfidf_model *model)
{
    if (!model)
        return;
    vocab_table_free(&model->words);
    free(model->idf);
    free(model);
}

size_t tfidf_vocabulary_size(const tfidf_model *model)
{
    return model->n_terms;
}

typedef struct fit_state {
    size_t *document_frequency, *last_text, capacity;
} fit_state;

static semb_status fit_text(tfidf_model *model, fit_state *fs, const char *text, size_t index,
                            semb_error *err)
{
    word_list words;
    semb_status st = split_words(text, &words, err);
    for (size_t w = 0; !st && w < words.count; w++) {
        const char *word = words.bytes + words.starts[w];
        size_t length = words.lengths[w];
        if (length > VOCAB_MAX_KEY_LENGTH) /* not a word of any language: left out */
            continue;
        int32_t id = vocab_table_get(&model->words, word, length);
        if (id < 0) {
            if (model->n_terms == fs->capacity) {
                size_t cap = fs->capacity ? 2 * fs->capacity : 4096;
                size_t *df = realloc(fs->document_frequency, cap * sizeof *df);
                if (df)
                    fs->document_frequency = df;
                size_t *last = realloc(fs->last_text, cap * sizeof *last);
                if (last)
                    fs->last_text = last;
                if (!df || !last) {
                    st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory fitting TF-IDF");
                    break;
                }
                fs->capacity = cap;
            }
            id = (int32_t)model->n_terms++;
            fs->document_frequency[id] = 0;
            fs->last_text[id] = (size_t)-1;
            st = vocab_table_put(&model->words, word, length, id, err);
        }
        if (!st && fs->last_text[id] != index) {
            fs->last_text[id] = index;
            fs->document_frequency[id]++;
        }
    }
    word_list_free(&words);
    return st;
}

semb_status tfidf_fit(const char *const *texts, size_t n, tfidf_model **out, semb_error *err)
{
    *out = NULL;
    tfidf_model *model = calloc(1, sizeof *model);
    if (!model)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory fitting TF-IDF");
    fit_state fs = {0};
    semb_status st = vocab_table_init(&model->words, 4096, err);
    for (size_t i = 0; !st && i < n; i++)
        st = fit_text(model, &fs, texts[i], i, err);
    if (!st && !(model->idf = malloc((model->n_terms + 1) * sizeof *model->idf)))
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory fitting TF-IDF");
    for (size_t t = 0; !st && t < model->n_terms; t++)
        model->idf[t] = log((1.0 + (double)n) / (1.0 + (double)fs.document_frequency[t])) + 1.0;
    free(fs.document_frequency);
    free(fs.last_text);
    if (st)
        tfidf_free(model);
    else
        *out = model;
    return st;
}

void tfidf_vector_free(tfidf_vector *vector)
{
    free(vector->terms);
    free(vector->weights);
    memset(vector, 0, sizeof *vector);
}

static int by_term(const void *a, const void *b)
{
    int32_t x = *(const int32_t *)a, y = *(const int32_t *)b;
    return (x > y) - (x < y);
}

semb_status tfidf_transform(const tfidf_model *model, const char *text, tfidf_vector *out,
                            semb_error *err)
{
    memset(out, 0, sizeof *out);
    word_list words;
    semb_status st = split_words(text, &words, err);
    if (st)
        return st;
    out->terms = malloc((words.count + 1) * sizeof *out->terms);
    out->weights = malloc((words.count + 1) * sizeof *out->weights);
    if (!out->terms || !out->weights) {
        word_list_free(&words);
        tfidf_vector_free(out);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory in TF-IDF");
    }
    size_t known = 0;
    for (size_t w = 0; w < words.count; w++) {
        if (words.lengths[w] > VOCAB_MAX_KEY_LENGTH)
            continue;
        int32_t id = vocab_table_get(&model->words, words.bytes + words.starts[w],
                                     words.lengths[w]);
        if (id >= 0)
            out->terms[known++] = id;
    }
    word_list_free(&words);
    qsort(out->terms, known, sizeof *out->terms, by_term);
    double norm = 0;
    for (size_t start = 0, end; start < known; start = end) {
        for (end = start + 1; end < known && out->terms[end] == out->terms[start]; end++)
            ;
        double weight = (double)(end - start) * model->idf[out->terms[start]];
        out->terms[out->count] = out->terms[start];
        out->weights[out->count++] = (float)weight;
        norm += weight * weight;
    }
    norm = sqrt(norm);
    for (size_t i = 0; i < out->count; i++)
        out->weights[i] = (float)(out->weights[i] / norm);
    return SEMB_OK;
}

double tfidf_cosine(const tfidf_vector *a, const tfidf_vector *b)
{
    double dot = 0;
    for (size_t i = 0, j = 0; i < a->count && j < b->count;) {
        if (a->terms[i] < b->terms[j]) {
            i++;
        } else if (a->terms[i] > b->terms[j]) {
            j++;
        } else {
            dot += (double)a->weights[i++] * b->weights[j++];
        }
    }
    return dot;
}

semb_status tfidf_sts_evaluate(const sts_dataset *data, sts_result *out, semb_error *err)
{
    size_t n = data->count;
    const char **texts = malloc((2 * n + 1) * sizeof *texts);
    double *predicted = malloc((n + 1) * sizeof *predicted);
    tfidf_model *model = NULL;
    semb_status st = SEMB_OK;
    if (!texts || !predicted)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory in TF-IDF");
    if (!st) {
        memcpy(texts, data->sentence1, n * sizeof *texts);
        memcpy(texts + n, data->sentence2, n * sizeof *texts);
        st = tfidf_fit(texts, 2 * n, &model, err);
    }
    for (size_t i = 0; !st && i < n; i++) {
        tfidf_vector a, b = {0};
        st = tfidf_transform(model, data->sentence1[i], &a, err);
        if (!st && !(st = tfidf_transform(model, data->sentence2[i], &b, err)))
            predicted[i] = tfidf_cosine(&a, &b);
        tfidf_vector_free(&a);
        tfidf_vector_free(&b);
    }
    if (!st)
        st = sts_score(predicted, data->scores, n, out, err);
    tfidf_free(model);
    free(texts);
    free(predicted);
    return st;
}

/* The corpus as term -> (document, weight) lists. */
typedef struct inverted_index {
    size_t *offsets; /* n_terms + 1 */
    size_t *documents;
    float *weights;
} inverted_index;

static void inverted_index_free(inverted_index *index)
{
    free(index->offsets);
    free(index->documents);
    free(index->weights);
}

static semb_status build_inverted_index(const tfidf_model *model, const retrieval_dataset *ds,
                                        inverted_index *index, semb_error *err)
{
    memset(index, 0, sizeof *index);
    tfidf_vector *vectors = calloc(ds->n_documents + 1, sizeof *vectors);
    index->offsets = calloc(model->n_terms + 1, sizeof *index->offsets);
    semb_status st = SEMB_OK;
    if (!vectors || !index->offsets)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory indexing the corpus");
    size_t postings = 0;
    for (size_t d = 0; !st && d < ds->n_documents; d++) {
        st = tfidf_transform(model, ds->documents[d], &vectors[d], err);
        for (size_t i = 0; !st && i < vectors[d].count; i++)
            index->offsets[vectors[d].terms[i] + 1]++;
        postings += vectors[d].count;
    }
    if (!st) {
        index->documents = malloc((postings + 1) * sizeof *index->documents);
        index->weights = malloc((postings + 1) * sizeof *index->weights);
        if (!index->documents || !index->weights)
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory indexing the corpus");
    }
    if (!st) {
        for (size_t t = 0; t < model->n_terms; t++)
            index->offsets[t + 1] += index->offsets[t];
        /* documents in ascending order within each list; offsets[t] walks to offsets[t + 1] */
        for (size_t d = 0; d < ds->n_documents; d++)
            for (size_t i = 0; i < vectors[d].count; i++) {
                size_t slot = index->offsets[vectors[d].terms[i]]++;
                index->documents[slot] = d;
                index->weights[slot] = vectors[d].weights[i];
            }
        for (size_t t = model->n_terms; t > 0; t--)
            index->offsets[t] = index->offsets[t - 1];
        index->offsets[0] = 0;
    }
    if (vectors)
        for (size_t d = 0; d < ds->n_documents; d++)
            tfidf_vector_free(&vectors[d]);
    free(vectors);
    if (st)
        inverted_index_free(index);
    return st;
}

/* Scores every document for query q (scores has n_documents entries) and ranks them. */
static semb_status rank_query(const tfidf_model *model, const inverted_index *index,
                              const retrieval_dataset *ds, size_t q, float *scores,
                              retrieval_top *top, semb_error *err)
{
    tfidf_vector query;
    semb_status st = tfidf_transform(model, ds->queries[q], &query, err);
    if (st)
        return st;
    memset(scores, 0, ds->n_documents * sizeof *scores);
    for (size_t i = 0; i < query.count; i++) {
        int32_t t = query.terms[i];
        for (size_t k = index->offsets[t]; k < index->offsets[t + 1]; k++)
            scores[index->documents[k]] += query.weights[i] * index->weights[k];
    }
    tfidf_vector_free(&query);
    for (size_t d = 0; d < ds->n_documents; d++) {
        if (!retrieval_top_admits(top, scores[d]))
            continue; /* cannot enter the top list: no relevance lookup needed */
        retrieval_top_offer(top, scores[d], d, retrieval_is_relevant(ds, q, d));
    }
    return SEMB_OK;
}

/* Ranks the corpus for every query, in parallel; the error reported is that of the lowest
 * failing query, so it does not depend on thread timing. */
static semb_status rank_all_queries(const tfidf_model *model, const inverted_index *index,
                                    const retrieval_dataset *ds, retrieval_top *tops,
                                    semb_error *err)
{
    size_t first_bad = ds->n_queries;
    semb_error first_err = {0};
#pragma omp parallel
    {
        float *scores = malloc((ds->n_documents + 1) * sizeof *scores);
        semb_error local = {0};
#pragma omp for schedule(dynamic, 16)
        for (size_t q = 0; q < ds->n_queries; q++) {
            semb_status qs = scores ? rank_query(model, index, ds, q, scores, &tops[q], &local)
                                    : semb_fail(&local, SEMB_ERR_NOMEM,
                                                "out of memory scoring the corpus");
            if (qs) {
#pragma omp critical(tfidf_retrieval_error)
                if (q < first_bad) {
                    first_bad = q;
                    first_err = local;
                }
            }
        }
        free(scores);
    }
    if (first_bad == ds->n_queries)
        return SEMB_OK;
    if (err)
        *err = first_err;
    return first_err.status;
}

semb_status tfidf_retrieval_evaluate(const retrieval_dataset *ds, retrieval_result *out,
                                     semb_error *err)
{
    tfidf_model *model = NULL;
    inverted_index index = {0};
    retrieval_top *tops = calloc(ds->n_queries + 1, sizeof *tops);
    semb_status st = tops ? tfidf_fit((const char *const *)ds->documents, ds->n_documents,
                                      &model, err)
                          : semb_fail(err, SEMB_ERR_NOMEM, "out of memory in TF-IDF");
    if (!st)
        st = build_inverted_index(model, ds, &index, err);
    if (!st)
        st = rank_all_queries(model, &index, ds, tops, err);
    if (!st)
        retrieval_result_from_tops(tops, ds, out);
    inverted_index_free(&index);
    tfidf_free(model);
    free(tops);
    return st;
}
