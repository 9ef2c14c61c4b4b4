#include "train/training_data.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/utf8.h"

void training_data_free(training_data *d)
{
    if (!d)
        return;
    size_t n = d->n_examples * (size_t)(2 + d->n_negatives);
    for (size_t i = 0; d->texts && i < n; i++)
        free(d->texts[i]);
    free(d->texts);
    memset(d, 0, sizeof *d);
}

static void note_skip(training_data *d, const char *path, size_t line, const char *why)
{
    if (d->skipped < TRAINING_DATA_REPORTED)
        snprintf(d->skipped_where[d->skipped], sizeof d->skipped_where[0], "%s:%zu: %s", path,
                 line, why);
    d->skipped++;
}

static bool blank(const char *s)
{
    for (; *s; s++)
        if (!isspace((unsigned char)*s))
            return false;
    return true;
}

/* The texts of one line into fields[0..*count), or a reason it cannot be used. */
static const char *parse_example(json_t *obj, const char **fields, int *count, int max)
{
    if (!json_is_object(obj))
        return "not a JSON object";
    const json_t *anchor = json_object_get(obj, "anchor"), *positive = json_object_get(obj, "positive");
    const json_t *negative = json_object_get(obj, "negative");
    if (!json_is_string(anchor) || !json_is_string(positive))
        return "'anchor' and 'positive' must be strings";
    int n = 0;
    fields[n++] = json_string_value(anchor);
    fields[n++] = json_string_value(positive);
    if (json_is_string(negative)) {
        fields[n++] = json_string_value(negative);
    } else if (json_is_array(negative)) {
        size_t i;
        const json_t *item;
        json_array_foreach(negative, i, item) {
            if (!json_is_string(item))
                return "'negative' list holds a non-string";
            if (n == max)
                return "too many negatives";
            fields[n++] = json_string_value(item);
        }
    } else if (negative && !json_is_null(negative)) {
        return "'negative' must be a string or a list of strings";
    }
    for (int i = 0; i < n; i++) {
        if (blank(fields[i]))
            return "empty text";
        if (!utf8_validate(fields[i], strlen(fields[i]), NULL))
            return "invalid UTF-8";
    }
    *count = n;
    return NULL;
}

static semb_status append(training_data *d, size_t *cap, const char **fields, int n,
                          semb_error *err)
{
    size_t width = (size_t)(2 + d->n_negatives);
    if ((d->n_examples + 1) * width > *cap) {
        size_t grown = *cap ? *cap * 2 : 1024 * width;
        char **t = realloc(d->texts, grown * sizeof *t);
        if (!t)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading training data");
        d->texts = t;
        *cap = grown;
    }
    for (int i = 0; i < n; i++) {
        char *copy = strdup(fields[i]);
        if (!copy) {
            for (int k = 0; k < i; k++)
                free(d->texts[d->n_examples * width + (size_t)k]);
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading training data");
        }
        d->texts[d->n_examples * width + (size_t)i] = copy;
    }
    d->n_examples++;
    return SEMB_OK;
}

semb_status training_data_load(const char *path, training_data *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    out->n_negatives = -1;
    FILE *f = fopen(path, "rb");
    if (!f)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    enum { MAX_FIELDS = 66 };
    const char *fields[MAX_FIELDS];
    char *line = NULL;
    size_t line_cap = 0, cap = 0, line_no = 0;
    ssize_t got;
    semb_status st = SEMB_OK;
    while (!st && (got = getline(&line, &line_cap, f)) >= 0) {
        line_no++;
        if (got <= 1 && (got == 0 || line[0] == '\n'))
            continue;
        json_error_t jerr;
        json_t *obj = json_loadb(line, (size_t)got, 0, &jerr);
        int n = 0;
        const char *why = obj ? parse_example(obj, fields, &n, MAX_FIELDS) : "malformed JSON";
        if (!why && out->n_negatives >= 0 && n - 2 != out->n_negatives)
            why = "a different number of negatives than the first example";
        if (why) {
            note_skip(out, path, line_no, why);
        } else {
            if (out->n_negatives < 0)
                out->n_negatives = n - 2;
            st = append(out, &cap, fields, n, err);
        }
        json_decref(obj);
    }
    bool read_error = ferror(f);
    free(line);
    fclose(f);
    if (!st && read_error)
        st = semb_fail(err, SEMB_ERR_IO, "%s: read error", path);
    if (!st && out->n_examples == 0)
        st = semb_fail(err, SEMB_ERR_INPUT, "%s: no usable training examples (%zu lines, %zu skipped%s%s)",
                       path, line_no, out->skipped, out->skipped ? "; first: " : "",
                       out->skipped ? out->skipped_where[0] : "");
    if (st) {
        if (out->n_negatives < 0)
            out->n_negatives = 0;
        training_data_free(out);
    }
    return st;
}
