#include "eval/beir_data.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/line_source.h"

/* qrels lines naming unknown ids that are listed one by one before the count */
#define REPORTED_UNKNOWN 5

typedef struct id_entry {
    char *id;
    size_t index, line;
} id_entry;

/* The texts of one JSONL file and their ids (sorted by id once the file is read). */
typedef struct text_table {
    char **texts;
    id_entry *ids;
    size_t count, capacity;
} text_table;

static void text_table_free(text_table *t)
{
    for (size_t i = 0; i < t->count; i++) {
        free(t->texts ? t->texts[i] : NULL);
        free(t->ids[i].id);
    }
    free(t->texts);
    free(t->ids);
    memset(t, 0, sizeof *t);
}

static semb_status text_table_append(text_table *t, char *text, char *id, size_t line,
                                     semb_error *err)
{
    if (t->count == t->capacity) {
        size_t cap = t->capacity ? 2 * t->capacity : 1024;
        char **texts = realloc(t->texts, cap * sizeof *texts);
        if (texts)
            t->texts = texts;
        id_entry *ids = realloc(t->ids, cap * sizeof *ids);
        if (ids)
            t->ids = ids;
        if (!texts || !ids) {
            free(text);
            free(id);
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading %zu texts", t->count);
        }
        t->capacity = cap;
    }
    t->texts[t->count] = text;
    t->ids[t->count] = (id_entry){id, t->count, line};
    t->count++;
    return SEMB_OK;
}

/* The id of a line as text: a string, or an integer written in decimal. NULL otherwise. */
static char *id_text(const json_t *value)
{
    if (json_is_string(value))
        return strdup(json_string_value(value));
    if (json_is_integer(value)) {
        char buffer[32];
        snprintf(buffer, sizeof buffer, "%lld", (long long)json_integer_value(value));
        return strdup(buffer);
    }
    return NULL;
}

/* title + " " + text, surrounding ASCII whitespace stripped (Python's str.strip on the
 * texts BEIR holds). */
static char *document_text(const char *title, const char *text)
{
    size_t lt = strlen(title), lx = strlen(text);
    char *joined = malloc(lt + lx + 2);
    if (!joined)
        return NULL;
    memcpy(joined, title, lt);
    joined[lt] = ' ';
    memcpy(joined + lt + 1, text, lx + 1);
    const char *space = " \t\n\r\f\v";
    size_t start = strspn(joined, space), end = lt + lx + 1;
    while (end > start && strchr(space, joined[end - 1]))
        end--;
    memmove(joined, joined + start, end - start);
    joined[end - start] = '\0';
    return joined;
}

/* One JSONL line into the table; corpus lines may carry a title. */
static semb_status parse_text_line(const char *path, size_t line_no, const char *line,
                                   size_t length, bool corpus, text_table *t, semb_error *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(line, length, 0, &jerr);
    if (!v)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: not JSON: %s", path, line_no, jerr.text);
    semb_status st = SEMB_OK;
    json_t *title = json_object_get(v, "title"), *text = json_object_get(v, "text");
    if (!json_is_object(v))
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: expected a JSON object", path, line_no);
    else if (!json_is_string(json_object_get(v, "_id")) &&
             !json_is_integer(json_object_get(v, "_id")))
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: \"_id\" missing or not a string", path,
                       line_no);
    else if (!json_is_string(text))
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: \"text\" missing or not a string", path,
                       line_no);
    else if (corpus && title && !json_is_string(title) && !json_is_null(title))
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: \"title\" is not a string", path,
                       line_no);
    if (!st) {
        char *id = id_text(json_object_get(v, "_id"));
        char *body = corpus ? document_text(json_is_string(title) ? json_string_value(title) : "",
                                            json_string_value(text))
                            : strdup(json_string_value(text));
        if (!id || !body) {
            free(id);
            free(body);
            st = semb_fail(err, SEMB_ERR_NOMEM, "%s:%zu: out of memory", path, line_no);
        } else {
            st = text_table_append(t, body, id, line_no, err);
        }
    }
    json_decref(v);
    return st;
}

static int by_id(const void *a, const void *b)
{
    const id_entry *x = a, *y = b;
    int c = strcmp(x->id, y->id);
    return c ? c : (x->line > y->line) - (x->line < y->line);
}

/* Sorts the ids for lookup; a repeated id is an error at its second line. */
static semb_status index_ids(const char *path, text_table *t, semb_error *err)
{
    qsort(t->ids, t->count, sizeof *t->ids, by_id);
    for (size_t i = 1; i < t->count; i++)
        if (strcmp(t->ids[i].id, t->ids[i - 1].id) == 0)
            return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: duplicate _id '%s' (first on line %zu)",
                             path, t->ids[i].line, t->ids[i].id, t->ids[i - 1].line);
    return SEMB_OK;
}

static size_t find_id(const text_table *t, const char *id)
{
    size_t lo = 0, hi = t->count;
    while (lo < hi) {
        size_t mid = lo + (hi - lo) / 2;
        int c = strcmp(t->ids[mid].id, id);
        if (c == 0)
            return t->ids[mid].index;
        if (c < 0)
            lo = mid + 1;
        else
            hi = mid;
    }
    return SIZE_MAX;
}

/* Calls fn(path, line_no, line, length, ...) on every line without its end, NUL-terminated
 * and the callee's to cut up (qrels fields are split in place); blank lines skipped. */
typedef semb_status (*line_fn)(void *state, const char *path, size_t line_no, char *line,
                               size_t length, semb_error *err);

static semb_status for_each_line(const char *path, line_fn fn, void *state, semb_error *err)
{
    line_source *source;
    semb_status st = line_source_open(path, LINE_SOURCE_NO_LIMIT, &source, err);
    if (st)
        return st;
    char *line = NULL;
    size_t cap = 0;
    source_line got;
    bool end = false;
    while (!st && !(st = line_source_next(source, &got, &end, err)) && !end) {
        size_t length = got.length;
        while (length && got.text[length - 1] == '\r')
            length--;
        if (!length)
            continue;
        if (length + 1 > cap) {
            char *grown = realloc(line, length + 1);
            if (!grown) {
                st = semb_fail(err, SEMB_ERR_NOMEM, "%s:%llu: out of memory", path,
                               (unsigned long long)got.number);
                break;
            }
            line = grown;
            cap = length + 1;
        }
        memcpy(line, got.text, length);
        line[length] = '\0';
        st = fn(state, path, (size_t)got.number, line, length, err);
    }
    free(line);
    line_source_close(source);
    return st;
}

typedef struct jsonl_state {
    bool corpus;
    text_table *table;
} jsonl_state;

static semb_status jsonl_line(void *state, const char *path, size_t line_no, char *line,
                              size_t length, semb_error *err)
{
    jsonl_state *s = state;
    return parse_text_line(path, line_no, line, length, s->corpus, s->table, err);
}

static semb_status read_texts(const char *path, bool corpus, text_table *t, semb_error *err)
{
    jsonl_state state = {corpus, t};
    semb_status st = for_each_line(path, jsonl_line, &state, err);
    if (!st && t->count == 0)
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: no %s", path, corpus ? "documents" : "queries");
    return st ? st : index_ids(path, t, err);
}

/* ---- qrels ---- */

typedef struct qrels_state {
    const text_table *queries, *corpus;
    beir_warning_fn warn;
    void *warn_user;
    size_t *query_ids, *document_ids, count, capacity;
    size_t unknown, lines;
} qrels_state;

static void warn_unknown(qrels_state *s, const char *path, size_t line_no, const char *what,
                         const char *id)
{
    if (s->unknown++ >= REPORTED_UNKNOWN || !s->warn)
        return;
    char message[512];
    snprintf(message, sizeof message, "%s:%zu: unknown %s id '%.200s'; line skipped", path,
             line_no, what, id);
    s->warn(s->warn_user, message);
}

static semb_status add_relevant(qrels_state *s, size_t query, size_t document, semb_error *err)
{
    if (s->count == s->capacity) {
        size_t cap = s->capacity ? 2 * s->capacity : 1024;
        size_t *q = realloc(s->query_ids, cap * sizeof *q);
        if (q)
            s->query_ids = q;
        size_t *d = realloc(s->document_ids, cap * sizeof *d);
        if (d)
            s->document_ids = d;
        if (!q || !d)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading qrels");
        s->capacity = cap;
    }
    s->query_ids[s->count] = query;
    s->document_ids[s->count++] = document;
    return SEMB_OK;
}

static semb_status qrels_line(void *state, const char *path, size_t line_no, char *line,
                              size_t length, semb_error *err)
{
    qrels_state *s = state;
    (void)length;
    char *fields[3], *save = NULL;
    int n = 0;
    for (char *f = strtok_r(line, "\t", &save); f && n < 4; f = strtok_r(NULL, "\t", &save))
        if (n < 3)
            fields[n++] = f;
        else
            n++;
    char *end = NULL;
    double score = n == 3 ? strtod(fields[2], &end) : 0;
    bool numeric = n == 3 && end != fields[2] && *end == '\0';
    if (s->lines++ == 0 && n == 3 && !numeric)
        return SEMB_OK; /* the header: query-id corpus-id score */
    if (n != 3)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s:%zu: expected 3 tab-separated fields (query-id, corpus-id, score)",
                         path, line_no);
    if (!numeric)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: score '%s' is not a number", path,
                         line_no, fields[2]);
    size_t q = find_id(s->queries, fields[0]), d = find_id(s->corpus, fields[1]);
    if (q == SIZE_MAX) {
        warn_unknown(s, path, line_no, "query", fields[0]);
        return SEMB_OK;
    }
    if (d == SIZE_MAX) {
        warn_unknown(s, path, line_no, "corpus", fields[1]);
        return SEMB_OK;
    }
    return score > 0 ? add_relevant(s, q, d, err) : SEMB_OK;
}

/* ---- the dataset ---- */

static void warnf(beir_warning_fn warn, void *user, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static void warnf(beir_warning_fn warn, void *user, const char *fmt, ...)
{
    if (!warn)
        return;
    char message[1024];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    warn(user, message);
}

/* Moves the queries that have a relevant document (renumbered in file order) and the whole
 * corpus into out. */
static semb_status build_dataset(const char *qrels_path, text_table *queries,
                                 text_table *corpus, qrels_state *s, beir_warning_fn warn,
                                 void *user, retrieval_dataset *out, semb_error *err)
{
    size_t *renumber = malloc(queries->count * sizeof *renumber);
    out->queries = calloc(queries->count, sizeof *out->queries);
    if (!renumber || !out->queries) {
        free(renumber);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory building the dataset");
    }
    for (size_t q = 0; q < queries->count; q++)
        renumber[q] = SIZE_MAX;
    for (size_t k = 0; k < s->count; k++)
        renumber[s->query_ids[k]] = 0;
    for (size_t q = 0; q < queries->count; q++)
        if (renumber[q] == 0) {
            renumber[q] = out->n_queries;
            out->queries[out->n_queries++] = queries->texts[q];
            queries->texts[q] = NULL;
        }
    for (size_t k = 0; k < s->count; k++)
        s->query_ids[k] = renumber[s->query_ids[k]];
    free(renumber);
    out->documents = corpus->texts;
    out->n_documents = corpus->count;
    corpus->texts = NULL;
    if (out->n_queries == 0)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: no query has a relevant document (score > 0) in the corpus",
                         qrels_path);
    if (out->n_queries < queries->count)
        warnf(warn, user, "%zu of %zu queries have no relevant document and are left out",
              queries->count - out->n_queries, queries->count);
    return retrieval_dataset_set_relevance(out, s->query_ids, s->document_ids, s->count, err);
}

semb_status beir_dataset_read(const char *queries_path, const char *corpus_path,
                              const char *qrels_path, beir_warning_fn warn, void *warn_user,
                              retrieval_dataset *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    text_table queries = {0}, corpus = {0};
    qrels_state s = {&queries, &corpus, warn, warn_user, NULL, NULL, 0, 0, 0, 0};
    semb_status st = read_texts(corpus_path, true, &corpus, err);
    if (!st)
        st = read_texts(queries_path, false, &queries, err);
    if (!st)
        st = for_each_line(qrels_path, qrels_line, &s, err);
    if (!st && s.unknown)
        warnf(warn, warn_user, "%s: %zu line%s naming unknown ids skipped", qrels_path, s.unknown,
              s.unknown == 1 ? "" : "s");
    if (!st)
        st = build_dataset(qrels_path, &queries, &corpus, &s, warn, warn_user, out, err);
    if (st)
        retrieval_dataset_free(out);
    text_table_free(&queries);
    text_table_free(&corpus);
    free(s.query_ids);
    free(s.document_ids);
    return st;
}
