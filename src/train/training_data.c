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

/* One text field of a line: its string, or a reason (into why) it cannot be used. */
static const char *text_field(const json_t *obj, const char *name, char *why, size_t why_size)
{
    const json_t *v = json_object_get(obj, name);
    if (!v)
        snprintf(why, why_size, "missing field \"%s\"", name);
    else if (!json_is_string(v))
        snprintf(why, why_size, "field \"%s\" is not a string", name);
    else
        return json_string_value(v);
    return NULL;
}

/* The texts of one line into fields[0..*count), or false with a reason in why. */
static bool parse_example(const json_t *obj, const char **fields, int *count, int max, char *why,
                          size_t why_size)
{
    if (!json_is_object(obj)) {
        snprintf(why, why_size, "not a JSON object");
        return false;
    }
    int n = 0;
    if (!(fields[n++] = text_field(obj, "anchor", why, why_size)) ||
        !(fields[n++] = text_field(obj, "positive", why, why_size)))
        return false;
    const json_t *negative = json_object_get(obj, "negative");
    if (json_is_string(negative)) {
        fields[n++] = json_string_value(negative);
    } else if (json_is_array(negative)) {
        size_t i;
        const json_t *item;
        json_array_foreach(negative, i, item) {
            if (!json_is_string(item)) {
                snprintf(why, why_size, "field \"negative\": item %zu is not a string", i + 1);
                return false;
            }
            if (n == max) {
                snprintf(why, why_size, "field \"negative\": more than %d negatives", max - 2);
                return false;
            }
            fields[n++] = json_string_value(item);
        }
    } else if (negative && !json_is_null(negative)) {
        snprintf(why, why_size, "field \"negative\" is not a string or a list of strings");
        return false;
    }
    for (int i = 0; i < n; i++) {
        bool empty = blank(fields[i]);
        if (!empty && utf8_validate(fields[i], strlen(fields[i]), NULL))
            continue;
        const char *what = empty ? "empty" : "not valid UTF-8";
        if (i < 2)
            snprintf(why, why_size, "field \"%s\" is %s", i ? "positive" : "anchor", what);
        else if (json_is_string(negative))
            snprintf(why, why_size, "field \"negative\" is %s", what);
        else
            snprintf(why, why_size, "field \"negative\": item %d is %s", i - 1, what);
        return false;
    }
    *count = n;
    return true;
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
    size_t first_line = 0; /* the line that set n_negatives */
    char why[200];
    while (!st && (got = getline(&line, &line_cap, f)) >= 0) {
        line_no++;
        if (blank(line) && strlen(line) == (size_t)got)
            continue; /* blank lines carry nothing */
        out->n_lines++;
        json_error_t jerr;
        json_t *obj = json_loadb(line, (size_t)got, 0, &jerr);
        int n = 0;
        bool ok = false;
        if (!obj)
            snprintf(why, sizeof why, "malformed JSON: %s", jerr.text);
        else
            ok = parse_example(obj, fields, &n, MAX_FIELDS, why, sizeof why);
        if (ok && out->n_negatives >= 0 && n - 2 != out->n_negatives) {
            snprintf(why, sizeof why, "%d negative%s, but the first example (line %zu) has %d; "
                     "every line needs the same number", n - 2, n == 3 ? "" : "s", first_line,
                     out->n_negatives);
            ok = false;
        }
        if (!ok) {
            note_skip(out, path, line_no, why);
        } else {
            if (out->n_negatives < 0) {
                out->n_negatives = n - 2;
                first_line = line_no;
            }
            st = append(out, &cap, fields, n, err);
        }
        json_decref(obj);
    }
    bool read_error = ferror(f);
    free(line);
    fclose(f);
    if (!st && read_error)
        st = semb_fail(err, SEMB_ERR_IO, "%s: read error", path);
    if (!st && out->n_examples == 0 && out->n_lines == 0)
        st = semb_fail(err, SEMB_ERR_INPUT, "%s: no training examples: the file %s", path,
                       line_no ? "holds only blank lines" : "is empty");
    else if (!st && out->n_examples == 0)
        st = semb_fail(err, SEMB_ERR_INPUT,
                       "%s: no usable training examples: all %zu line%s skipped; first: %s", path,
                       out->n_lines, out->n_lines == 1 ? "" : "s", out->skipped_where[0]);
    if (st) {
        if (out->n_negatives < 0)
            out->n_negatives = 0;
        training_data_free(out);
    }
    return st;
}
