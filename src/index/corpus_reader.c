#include "index/corpus_reader.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/utf8.h"

semb_status corpus_reader_open(corpus_reader *r, const char *path, const char *format,
                               semb_error *err)
{
    memset(r, 0, sizeof *r);
    r->jsonl = format && strcmp(format, "jsonl") == 0;
    if (format && !r->jsonl && strcmp(format, "text") != 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "input format '%s' is not one of text, jsonl", format);
    r->name = path;
    return line_source_open(path, LINE_SOURCE_NO_LIMIT, &r->file, err);
}

void corpus_reader_open_memory(corpus_reader *r, const char *const *texts,
                               const size_t *lengths, const char *const *ids, size_t n)
{
    memset(r, 0, sizeof *r);
    r->name = "<texts>";
    r->texts = texts;
    r->lengths = lengths;
    r->ids = ids;
    r->n_texts = n;
}

void corpus_reader_close(corpus_reader *r)
{
    line_source_close(r->file);
    free(r->text);
    free(r->id);
    memset(r, 0, sizeof *r);
}

semb_status corpus_reader_rewind(corpus_reader *r, semb_error *err)
{
    r->next_text = 0;
    r->line_no = 0;
    return r->file ? line_source_seek(r->file, 0, 1, err) : SEMB_OK;
}

/* Copies n bytes into a reader-owned buffer, NUL-terminated. */
static semb_status keep(char **buf, size_t *cap, const char *s, size_t n, semb_error *err)
{
    if (n + 1 > *cap) {
        size_t want = n + 1 > 2 * *cap ? n + 1 : 2 * *cap;
        char *b = realloc(*buf, want);
        if (!b)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading the corpus");
        *buf = b;
        *cap = want;
    }
    memcpy(*buf, s, n);
    (*buf)[n] = '\0';
    return SEMB_OK;
}

static semb_status number_id(corpus_reader *r, size_t number, corpus_document *doc,
                             semb_error *err)
{
    char digits[32];
    int n = snprintf(digits, sizeof digits, "%zu", number);
    doc->id_given = false;
    doc->id_integer = true;
    return keep(&r->id, &r->id_cap, digits, (size_t)n, err);
}

static bool is_space(char c)
{
    return c == ' ' || c == '\t' || c == '\n' || c == '\r' || c == '\f' || c == '\v';
}

/* title + " " + text, stripped, into the reader's text buffer. */
static semb_status join_title(corpus_reader *r, const json_t *title, const json_t *text,
                              semb_error *err)
{
    size_t lt = json_string_length(title), lx = json_string_length(text);
    char *joined = malloc(lt + lx + 2);
    if (!joined)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading the corpus");
    memcpy(joined, json_string_value(title), lt);
    joined[lt] = ' ';
    memcpy(joined + lt + 1, json_string_value(text), lx);
    size_t start = 0, end = lt + lx + 1;
    while (start < end && is_space(joined[start]))
        start++;
    while (end > start && is_space(joined[end - 1]))
        end--;
    semb_status st = keep(&r->text, &r->text_cap, joined + start, end - start, err);
    free(joined);
    return st;
}

static semb_status json_id(corpus_reader *r, const json_t *id, corpus_document *doc,
                           semb_error *err)
{
    if (json_is_string(id)) {
        doc->id_given = true;
        doc->id_integer = false;
        return keep(&r->id, &r->id_cap, json_string_value(id), json_string_length(id), err);
    }
    if (json_is_integer(id)) {
        char digits[32];
        int n = snprintf(digits, sizeof digits, "%" JSON_INTEGER_FORMAT, json_integer_value(id));
        doc->id_given = true;
        doc->id_integer = true;
        return keep(&r->id, &r->id_cap, digits, (size_t)n, err);
    }
    return semb_fail(err, SEMB_ERR_INPUT, "%s:%zu: \"id\" must be a string or an integer",
                     r->name, r->line_no);
}

static semb_status parse_json_line(corpus_reader *r, const char *line, size_t len,
                                   corpus_document *doc, semb_error *err)
{
    json_error_t jerr;
    json_t *v = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
    if (!v)
        return semb_fail(err, SEMB_ERR_INPUT, "%s:%zu: not JSON: %s", r->name, r->line_no,
                         jerr.text);
    semb_status st;
    if (json_is_string(v)) {
        st = keep(&r->text, &r->text_cap, json_string_value(v), json_string_length(v), err);
        if (!st)
            st = number_id(r, r->line_no, doc, err);
        json_decref(v);
        return st;
    }
    json_t *text = json_object_get(v, "text"), *title = json_object_get(v, "title");
    json_t *id = json_object_get(v, "id");
    if (!id)
        id = json_object_get(v, "_id");
    if (!json_is_string(text) || (title && !json_is_string(title))) {
        json_decref(v);
        return semb_fail(err, SEMB_ERR_INPUT,
                         "%s:%zu: expected a JSON string or an object with a string \"text\" "
                         "(and optional string \"title\", \"id\")",
                         r->name, r->line_no);
    }
    if (title)
        st = join_title(r, title, text, err);
    else
        st = keep(&r->text, &r->text_cap, json_string_value(text), json_string_length(text), err);
    if (!st)
        st = id ? json_id(r, id, doc, err) : number_id(r, r->line_no, doc, err);
    json_decref(v);
    return st;
}

static semb_status next_line(corpus_reader *r, corpus_document *doc, bool *got, semb_error *err)
{
    source_line line;
    bool end;
    semb_status st;
    while (!(st = line_source_next(r->file, &line, &end, err)) && !end) {
        r->line_no = (size_t)line.number;
        size_t len = line.length;
        if (memchr(line.text, '\0', len))
            return semb_fail(err, SEMB_ERR_INPUT, "%s:%zu: contains a NUL byte", r->name,
                             r->line_no);
        while (len && line.text[len - 1] == '\r')
            len--;
        if (len == 0)
            continue;
        doc->line = r->line_no;
        if (r->jsonl) {
            st = parse_json_line(r, line.text, len, doc, err);
        } else {
            size_t bad;
            if (!utf8_validate(line.text, len, &bad))
                return semb_fail(err, SEMB_ERR_INPUT, "%s:%zu: invalid UTF-8 at byte %zu",
                                 r->name, r->line_no, bad + 1);
            st = keep(&r->text, &r->text_cap, line.text, len, err);
            if (!st)
                st = number_id(r, r->line_no, doc, err);
        }
        if (st)
            return st;
        doc->text = r->text;
        doc->length = strlen(r->text);
        doc->id = r->id;
        *got = true;
        return SEMB_OK;
    }
    return st;
}

static semb_status next_text(corpus_reader *r, corpus_document *doc, bool *got, semb_error *err)
{
    if (r->next_text == r->n_texts)
        return SEMB_OK;
    size_t i = r->next_text++;
    const char *t = r->texts[i];
    size_t len = r->lengths ? r->lengths[i] : strlen(t), bad = 0;
    if (!utf8_validate(t, len, &bad))
        return semb_fail(err, SEMB_ERR_INPUT, "text %zu: invalid UTF-8 at byte %zu", i, bad + 1);
    if (memchr(t, '\0', len))
        return semb_fail(err, SEMB_ERR_INPUT, "text %zu: contains a NUL byte", i);
    if (r->ids && !utf8_validate(r->ids[i], strlen(r->ids[i]), &bad))
        return semb_fail(err, SEMB_ERR_INPUT, "id %zu: invalid UTF-8 at byte %zu", i, bad + 1);
    semb_status st = keep(&r->text, &r->text_cap, t, len, err);
    if (!st && r->ids) {
        doc->id_given = true;
        doc->id_integer = false;
        st = keep(&r->id, &r->id_cap, r->ids[i], strlen(r->ids[i]), err);
    } else if (!st) {
        st = number_id(r, i, doc, err);
    }
    if (st)
        return st;
    *doc = (corpus_document){r->text, len, r->id, doc->id_given, doc->id_integer, i + 1};
    *got = true;
    return SEMB_OK;
}

semb_status corpus_reader_next(corpus_reader *r, corpus_document *doc, bool *got,
                               semb_error *err)
{
    *got = false;
    return r->file ? next_line(r, doc, got, err) : next_text(r, doc, got, err);
}
