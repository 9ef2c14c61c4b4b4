#include "eval/sts_eval.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/similarity.h"
#include "eval/rank_stats.h"
#include "io/files.h"
#include "text/utf8.h"

/* Pairs embedded per semb_encode call: bounds the embedding buffer (2 x 4096 x dim floats)
 * while leaving semb_encode enough sentences to sort by length. */
#define STS_PAIRS_PER_CHUNK 4096

static const char *const required_columns[3] = {"score", "sentence1", "sentence2"};

void sts_dataset_free(sts_dataset *data)
{
    free(data->sentence1);
    free(data->sentence2);
    free(data->length1);
    free(data->length2);
    free(data->scores);
    free(data->line_numbers);
    free(data->path);
    free(data->storage);
    memset(data, 0, sizeof *data);
}

/* Splits line in place at tabs into at most max_fields fields; returns how many it found,
 * counting past max_fields so that a line with too many fields is caught too. */
static size_t split_tabs(char *line, char **fields, size_t max_fields)
{
    size_t n = 0;
    for (char *p = line;; p++) {
        if (n < max_fields)
            fields[n] = p;
        n++;
        p = strchr(p, '\t');
        if (!p)
            return n;
        *p = '\0';
    }
}

/* The next line of [*cursor, end), NUL-terminated in place without its "\n" or "\r\n";
 * NULL at the end of the buffer. */
static char *next_line(char **cursor, char *end)
{
    char *line = *cursor;
    if (line >= end)
        return NULL;
    char *nl = memchr(line, '\n', (size_t)(end - line));
    char *line_end = nl ? nl : end;
    *cursor = nl ? nl + 1 : end;
    *line_end = '\0';
    if (line_end > line && line_end[-1] == '\r')
        line_end[-1] = '\0';
    return line;
}

/* Finds the score / sentence1 / sentence2 columns in the header line. */
static semb_status parse_header(const char *path, char *header, size_t *columns,
                                size_t *n_fields, char ***fields, semb_error *err)
{
    if (strncmp(header, "\xEF\xBB\xBF", 3) == 0) /* a BOM from spreadsheet exports */
        header += 3;
    size_t n = 1;
    for (const char *p = header; *p; p++)
        n += *p == '\t';
    *fields = malloc(n * sizeof **fields);
    if (!*fields)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading %s", path);
    split_tabs(header, *fields, n);
    for (size_t c = 0; c < 3; c++) {
        columns[c] = n;
        for (size_t i = 0; i < n; i++)
            if (strcmp((*fields)[i], required_columns[c]) == 0)
                columns[c] = i;
        if (columns[c] == n)
            return semb_fail(err, SEMB_ERR_FORMAT,
                             "%s:1: the header has no '%s' column (expected a first line "
                             "score<TAB>sentence1<TAB>sentence2)",
                             path, required_columns[c]);
    }
    *n_fields = n;
    return SEMB_OK;
}

static semb_status parse_pair(sts_dataset *out, char **fields, size_t n_fields,
                              const size_t *columns, char *line, size_t line_no,
                              semb_error *err)
{
    size_t found = split_tabs(line, fields, n_fields);
    if (found != n_fields)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s:%zu: expected %zu tab-separated fields as in the header, found %zu",
                         out->path, line_no, n_fields, found);
    const char *score_text = fields[columns[0]];
    char *end;
    double score = strtod(score_text, &end);
    if (end == score_text || *end)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: score '%.40s' is not a number",
                         out->path, line_no, score_text);
    if (!isfinite(score))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: score '%.40s' is not a finite number",
                         out->path, line_no, score_text);
    const char *s1 = fields[columns[1]], *s2 = fields[columns[2]];
    size_t len1 = strlen(s1), len2 = strlen(s2), bad;
    if (!utf8_validate(s1, len1, &bad))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: sentence1: invalid UTF-8 at byte %zu",
                         out->path, line_no, bad + 1);
    if (!utf8_validate(s2, len2, &bad))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: sentence2: invalid UTF-8 at byte %zu",
                         out->path, line_no, bad + 1);
    size_t i = out->count++;
    out->sentence1[i] = s1;
    out->sentence2[i] = s2;
    out->length1[i] = len1;
    out->length2[i] = len2;
    out->scores[i] = score;
    out->line_numbers[i] = line_no;
    return SEMB_OK;
}

static semb_status parse_lines(sts_dataset *out, size_t size, semb_error *err)
{
    char *cursor = out->storage, *end = out->storage + size;
    char *header = next_line(&cursor, end);
    if (!header || (!*header && cursor >= end))
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: empty file (expected a header line score<TAB>sentence1<TAB>"
                         "sentence2, then one pair per line)",
                         out->path);
    size_t lines = 1;
    for (const char *p = cursor; p < end; p++)
        lines += *p == '\n';
    out->sentence1 = malloc(lines * sizeof *out->sentence1);
    out->sentence2 = malloc(lines * sizeof *out->sentence2);
    out->length1 = malloc(lines * sizeof *out->length1);
    out->length2 = malloc(lines * sizeof *out->length2);
    out->scores = malloc(lines * sizeof *out->scores);
    out->line_numbers = malloc(lines * sizeof *out->line_numbers);
    if (!out->sentence1 || !out->sentence2 || !out->length1 || !out->length2 || !out->scores ||
        !out->line_numbers)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading %s", out->path);
    size_t columns[3], n_fields = 0;
    char **fields = NULL;
    semb_status st = parse_header(out->path, header, columns, &n_fields, &fields, err);
    size_t line_no = 1;
    char *line;
    while (!st && (line = next_line(&cursor, end))) {
        line_no++;
        if (*line)
            st = parse_pair(out, fields, n_fields, columns, line, line_no, err);
    }
    free(fields);
    if (!st && out->count == 0)
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: no sentence pairs after the header", out->path);
    return st;
}

semb_status sts_dataset_read(const char *path, sts_dataset *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    size_t size;
    semb_status st = file_read_all(path, &out->storage, &size, err);
    if (st)
        return st;
    out->path = strdup(path);
    if (!out->path) {
        sts_dataset_free(out);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading %s", path);
    }
    const char *nul = memchr(out->storage, '\0', size);
    if (nul) {
        size_t line_no = 1;
        for (const char *p = out->storage; p < nul; p++)
            line_no += *p == '\n';
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: contains a NUL byte", path, line_no);
    } else {
        st = parse_lines(out, size, err);
    }
    if (st)
        sts_dataset_free(out);
    return st;
}

semb_status sts_score(const double *predicted, const double *gold, size_t n, sts_result *out,
                      semb_error *err)
{
    out->n = n;
    out->spearman = out->pearson = NAN;
    for (int f = 0; f < 4; f++)
        out->spearman_by[f] = out->pearson_by[f] = NAN;
    if (n < 2)
        return semb_fail(err, SEMB_ERR_INPUT,
                         "a correlation needs at least 2 sentence pairs, got %zu", n);
    double rho;
    semb_status st = rank_stats_spearman(predicted, gold, n, &rho, err);
    if (st)
        return st;
    out->spearman = 100 * rho;
    out->pearson = 100 * rank_stats_pearson(predicted, gold, n);
    return SEMB_OK;
}

/* semb_encode names a failing text "text K: ..."; say which file line and column it is. */
static void name_failing_sentence(const sts_dataset *data, size_t first, size_t count,
                                  semb_error *err)
{
    if (!err || !err->has_item || err->item >= 2 * count)
        return;
    bool second = err->item >= count;
    size_t pair = first + (second ? err->item - count : err->item);
    semb_error_rename_item(err, pair, "%s:%zu: sentence%d: ", data->path,
                           data->line_numbers[pair], second ? 2 : 1);
}

/* Scores of pairs [first, first + count) under each similarity function into
 * predicted[f * n_pairs + pair], from raw (unnormalised) embeddings. */
static semb_status score_chunk(semb_model *model, const sts_dataset *data, size_t first,
                               size_t count, const semb_encode_options *opts,
                               const char **texts, size_t *lengths, float *emb,
                               double *predicted, semb_error *err)
{
    int dim = semb_model_dimension(model);
    /* both columns in one call, so semb_encode sorts all 2 x count sentences by length */
    memcpy(texts, data->sentence1 + first, count * sizeof *texts);
    memcpy(texts + count, data->sentence2 + first, count * sizeof *texts);
    memcpy(lengths, data->length1 + first, count * sizeof *lengths);
    memcpy(lengths + count, data->length2 + first, count * sizeof *lengths);
    semb_status st = semb_encode(model, texts, lengths, 2 * count, emb, opts, err);
    if (st) {
        name_failing_sentence(data, first, count, err);
        return st;
    }
    size_t n = data->count;
    for (size_t i = 0; i < count; i++) {
        const float *a = emb + i * (size_t)dim, *b = emb + (count + i) * (size_t)dim;
        double dot = 0, na = 0, nb = 0;
        for (int d = 0; d < dim; d++) {
            dot += (double)a[d] * b[d];
            na += (double)a[d] * a[d];
            nb += (double)b[d] * b[d];
        }
        double denom = sqrt(na) * sqrt(nb);
        predicted[SEMB_SIMILARITY_COSINE * n + first + i] = denom > 0 ? dot / denom : 0.0;
        predicted[SEMB_SIMILARITY_DOT * n + first + i] = dot;
        predicted[SEMB_SIMILARITY_EUCLIDEAN * n + first + i] =
            similarity_pair(SEMB_SIMILARITY_EUCLIDEAN, a, b, dim);
        predicted[SEMB_SIMILARITY_MANHATTAN * n + first + i] =
            similarity_pair(SEMB_SIMILARITY_MANHATTAN, a, b, dim);
    }
    return SEMB_OK;
}

semb_status sts_evaluate(semb_model *model, const sts_dataset *data,
                         const semb_encode_options *opts, sts_result *out, semb_error *err)
{
    if (!model || !data || !out)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "sts_evaluate: NULL model, data or result");
    size_t chunk = data->count < STS_PAIRS_PER_CHUNK ? data->count : STS_PAIRS_PER_CHUNK;
    int dim = semb_model_dimension(model);
    double *predicted = malloc(4 * (data->count ? data->count : 1) * sizeof *predicted);
    const char **texts = malloc((2 * chunk + 1) * sizeof *texts);
    size_t *lengths = malloc((2 * chunk + 1) * sizeof *lengths);
    float *emb = malloc((2 * chunk + 1) * (size_t)dim * sizeof *emb);
    semb_status st = SEMB_OK;
    if (!predicted || !texts || !lengths || !emb)
        st = semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate embeddings for %zu sentence pairs",
                       chunk);
    for (size_t first = 0; !st && first < data->count; first += chunk) {
        size_t count = data->count - first < chunk ? data->count - first : chunk;
        st = score_chunk(model, data, first, count, opts, texts, lengths, emb, predicted, err);
    }
    semb_similarity own = semb_model_similarity(model);
    if (!st)
        st = sts_score(predicted + own * data->count, data->scores, data->count, out, err);
    for (int f = 0; !st && f < 4; f++) {
        sts_result r;
        if (!(st = sts_score(predicted + f * data->count, data->scores, data->count, &r, err))) {
            out->spearman_by[f] = r.spearman;
            out->pearson_by[f] = r.pearson;
        }
    }
    free(predicted);
    free(texts);
    free(lengths);
    free(emb);
    return st;
}

semb_status semb_eval_sts(semb_model *model, const char *const *sentence1,
                          const char *const *sentence2, const double *gold, size_t n,
                          const semb_encode_options *opts, semb_sts_metrics *out,
                          semb_error *err)
{
    if (!model || !out || (n && (!sentence1 || !sentence2 || !gold)))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_eval_sts: NULL argument");
    /* a dataset view over the caller's arrays: pairs are named by 1-based position */
    sts_dataset view = {.sentence1 = (const char **)sentence1,
                        .sentence2 = (const char **)sentence2,
                        .scores = (double *)gold, .count = n, .path = "pair"};
    view.length1 = malloc((n ? n : 1) * sizeof *view.length1);
    view.length2 = malloc((n ? n : 1) * sizeof *view.length2);
    view.line_numbers = malloc((n ? n : 1) * sizeof *view.line_numbers);
    semb_status st = SEMB_OK;
    if (!view.length1 || !view.length2 || !view.line_numbers)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < n; i++) {
        view.length1[i] = strlen(sentence1[i]);
        view.length2[i] = strlen(sentence2[i]);
        view.line_numbers[i] = i + 1;
    }
    semb_encode_options o = opts ? *opts : semb_encode_options_default();
    sts_result r = {0};
    if (!st && n < 2)
        st = semb_fail(err, SEMB_ERR_INPUT, "a correlation needs at least 2 sentence pairs, got %zu", n);
    if (!st)
        st = sts_evaluate(model, &view, &o, &r, err);
    if (!st) {
        *out = (semb_sts_metrics){r.spearman / 100, r.pearson / 100, r.n, {0}, {0}};
        for (int f = 0; f < 4; f++) {
            out->spearman_by[f] = r.spearman_by[f] / 100;
            out->pearson_by[f] = r.pearson_by[f] / 100;
        }
    }
    free(view.length1);
    free(view.length2);
    free(view.line_numbers);
    return st;
}
