#include "eval/duplicates_data.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "eval/text_ids.h"
#include "io/line_source.h"
#include "text/utf8.h"

/* The lines of one TSV file, split at their first TAB: key[i] and value[i] point into the
 * line copies; line[i] is the 1-based line number. */
typedef struct tsv_lines {
    char **key, **value;
    size_t *line, n, cap;
} tsv_lines;

static void tsv_lines_free(tsv_lines *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->key[i]); /* value[i] points into the same copy */
    free(t->key);
    free(t->value);
    free(t->line);
    memset(t, 0, sizeof *t);
}

static semb_status tsv_push(tsv_lines *t, char *copy, char *value, size_t line, semb_error *err)
{
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 256;
        char **k = realloc(t->key, cap * sizeof *k);
        if (k)
            t->key = k;
        char **v = k ? realloc(t->value, cap * sizeof *v) : NULL;
        if (v)
            t->value = v;
        size_t *l = v ? realloc(t->line, cap * sizeof *l) : NULL;
        if (!l) {
            free(copy);
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        }
        t->line = l;
        t->cap = cap;
    }
    t->key[t->n] = copy;
    t->value[t->n] = value;
    t->line[t->n++] = line;
    return SEMB_OK;
}

/* one_tab: the value may not hold another TAB (id pairs). */
static semb_status tsv_read(const char *path, bool one_tab, tsv_lines *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    line_source *source;
    semb_status st = line_source_open(path, LINE_SOURCE_NO_LIMIT, &source, err);
    if (st)
        return st;
    source_line got;
    bool end = false;
    while (!st && !(st = line_source_next(source, &got, &end, err)) && !end) {
        const char *text = got.text;
        size_t len = got.length, line = (size_t)got.number;
        while (len > 0 && text[len - 1] == '\r')
            len--;
        if (len == 0)
            continue;
        size_t bad;
        const char *tab = memchr(text, '\t', len), *after = tab ? tab + 1 : NULL;
        size_t value_len = tab ? len - (size_t)(after - text) : 0;
        if (!utf8_validate(text, len, &bad) || memchr(text, 0, len))
            st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: invalid UTF-8 or a NUL byte", path, line);
        else if (!tab || (one_tab && memchr(after, '\t', value_len)))
            st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: expected %s", path, line,
                           one_tab ? "ID<TAB>ID" : "ID<TAB>SENTENCE");
        else if (tab == text || (one_tab && value_len == 0))
            st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: empty id", path, line);
        if (st)
            break;
        char *copy = malloc(len + 1);
        if (!copy) {
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
            break;
        }
        memcpy(copy, text, len);
        copy[len] = 0;
        copy[tab - text] = 0;
        st = tsv_push(out, copy, copy + (tab - text) + 1, line, err);
    }
    line_source_close(source);
    if (!st && out->n == 0)
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: no entries", path);
    if (st)
        tsv_lines_free(out);
    return st;
}

void duplicates_data_free(duplicates_data *d)
{
    for (size_t i = 0; d->sentences && i < d->n_sentences; i++)
        free(d->sentences[i]);
    free(d->sentences);
    free(d->dup_a);
    free(d->dup_b);
    memset(d, 0, sizeof *d);
}

/* Numbers the sentence ids and then the pairs' ids in one pass: the sentence ids, all
 * distinct, get 0 .. n-1 in order; a pair id numbered n or more names no sentence. */
static semb_status resolve(const char *sentences_path, const tsv_lines *s,
                           const char *duplicates_path, const tsv_lines *p,
                           duplicates_data *out, semb_error *err)
{
    size_t total = s->n + 2 * p->n, n_distinct;
    const char **keys = malloc(total * sizeof *keys);
    size_t *ids = malloc(total * sizeof *ids);
    char **copies = NULL;
    semb_status st = keys && ids ? SEMB_OK : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < s->n; i++)
        keys[i] = s->key[i];
    for (size_t i = 0; !st && i < p->n; i++) {
        keys[s->n + 2 * i] = p->key[i];
        keys[s->n + 2 * i + 1] = p->value[i];
    }
    if (!st)
        st = text_ids_number(keys, total, ids, &copies, &n_distinct, err);
    for (size_t i = 0; !st && i < s->n; i++)
        if (ids[i] != i) {
            size_t first = 0;
            while (ids[first] != ids[i])
                first++;
            st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: id '%s' given twice (first on line %zu)",
                           sentences_path, s->line[i], s->key[i], s->line[first]);
        }
    out->dup_a = st ? NULL : malloc((p->n ? p->n : 1) * sizeof *out->dup_a);
    out->dup_b = st ? NULL : malloc((p->n ? p->n : 1) * sizeof *out->dup_b);
    if (!st && (!out->dup_a || !out->dup_b))
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; !st && i < p->n; i++) {
        size_t a = ids[s->n + 2 * i], b = ids[s->n + 2 * i + 1];
        if (a >= s->n || b >= s->n)
            st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: id '%s' is not in %s", duplicates_path,
                           p->line[i], a >= s->n ? p->key[i] : p->value[i], sentences_path);
        else if (a == b)
            st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: a sentence paired with itself ('%s')",
                           duplicates_path, p->line[i], p->key[i]);
        out->dup_a[i] = a;
        out->dup_b[i] = b;
    }
    if (!st)
        out->n_dup = p->n;
    if (copies)
        text_ids_free(copies, n_distinct);
    free(keys);
    free(ids);
    return st;
}

semb_status duplicates_data_read(const char *sentences_path, const char *duplicates_path,
                                 duplicates_data *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    tsv_lines s, p = {0};
    semb_status st = tsv_read(sentences_path, false, &s, err);
    if (!st)
        st = tsv_read(duplicates_path, true, &p, err);
    if (!st)
        st = resolve(sentences_path, &s, duplicates_path, &p, out, err);
    if (!st) {
        out->sentences = malloc(s.n * sizeof *out->sentences);
        if (!out->sentences)
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        for (size_t i = 0; !st && i < s.n; i++) {
            if (!(out->sentences[i] = strdup(s.value[i])))
                st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
            out->n_sentences = i + 1;
        }
    }
    tsv_lines_free(&s);
    tsv_lines_free(&p);
    if (st)
        duplicates_data_free(out);
    return st;
}
