#include "text/example_parse.h"

#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "text/utf8.h"

static bool ends_with(const char *s, size_t n, const char *suffix)
{
    size_t k = strlen(suffix);
    return n >= k && strncasecmp(s + n - k, suffix, k) == 0;
}

data_format data_format_detect(const char *path, const char *first_line, size_t length)
{
    size_t n = strlen(path);
    if (ends_with(path, n, ".gz"))
        n -= 3;
    else if (ends_with(path, n, ".zst"))
        n -= 4;
    if (ends_with(path, n, ".jsonl") || ends_with(path, n, ".json") || ends_with(path, n, ".ndjson"))
        return DATA_FORMAT_JSONL;
    if (ends_with(path, n, ".tsv") || ends_with(path, n, ".tab"))
        return DATA_FORMAT_TSV;
    size_t i = 0;
    while (i < length && isspace((unsigned char)first_line[i]))
        i++;
    return i < length && (first_line[i] == '{' || first_line[i] == '[') ? DATA_FORMAT_JSONL
                                                                       : DATA_FORMAT_TSV;
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

/* Texts must carry something and be UTF-8; name(i) says where text i came from. */
static bool check_texts(const example_view *ex, const char *(*name)(int, char *, size_t, const void *),
                        const void *ctx, char *why, size_t why_size)
{
    for (int i = 0; i < ex->n_texts; i++) {
        bool empty = blank(ex->texts[i], ex->lengths[i]);
        if (!empty && utf8_validate(ex->texts[i], ex->lengths[i], NULL))
            continue;
        char where[64];
        snprintf(why, why_size, "%s is %s", name(i, where, sizeof where, ctx),
                 empty ? "empty" : "not valid UTF-8");
        return false;
    }
    return true;
}

/* --- JSONL objects ---------------------------------------------------------------------- */

static const char *object_text_name(int i, char *buf, size_t size, const void *ctx)
{
    const json_t *negative = ctx;
    if (i < 2 || json_is_string(negative))
        snprintf(buf, size, "field \"%s\"", i == 0 ? "anchor" : i == 1 ? "positive" : "negative");
    else
        snprintf(buf, size, "field \"negative\": item %d", i - 1);
    return buf;
}

static bool add_text(example_view *ex, const json_t *s)
{
    if (ex->n_texts == EXAMPLE_MAX_TEXTS)
        return false;
    ex->texts[ex->n_texts] = json_string_value(s);
    ex->lengths[ex->n_texts++] = json_string_length(s);
    return true;
}

static bool text_field(const json_t *obj, const char *name, example_view *ex, char *why,
                       size_t why_size)
{
    const json_t *v = json_object_get(obj, name);
    if (!v)
        snprintf(why, why_size, "missing field \"%s\"", name);
    else if (!json_is_string(v))
        snprintf(why, why_size, "field \"%s\" is not a string", name);
    else
        return add_text(ex, v);
    return false;
}

static bool parse_object(const json_t *obj, example_view *ex, char *why, size_t why_size)
{
    if (!text_field(obj, "anchor", ex, why, why_size) ||
        !text_field(obj, "positive", ex, why, why_size))
        return false;
    const json_t *negative = json_object_get(obj, "negative");
    if (json_is_string(negative)) {
        add_text(ex, negative);
    } else if (json_is_array(negative)) {
        size_t i;
        const json_t *item;
        json_array_foreach(negative, i, item) {
            if (!json_is_string(item)) {
                snprintf(why, why_size, "field \"negative\": item %zu is not a string", i + 1);
                return false;
            }
            if (!add_text(ex, item)) {
                snprintf(why, why_size, "field \"negative\": more than %d negatives",
                         EXAMPLE_MAX_TEXTS - 2);
                return false;
            }
        }
    } else if (negative && !json_is_null(negative)) {
        snprintf(why, why_size, "field \"negative\" is not a string or a list of strings");
        return false;
    }
    return check_texts(ex, object_text_name, negative, why, why_size);
}

/* --- JSONL lists ------------------------------------------------------------------------ */

static const char *list_text_name(int i, char *buf, size_t size, const void *ctx)
{
    snprintf(buf, size, "item %d", i + 1);
    return buf;
}

static bool parse_list(const json_t *list, example_view *ex, char *why, size_t why_size)
{
    size_t n = json_array_size(list);
    if (n < 2 || n > EXAMPLE_MAX_TEXTS) {
        snprintf(why, why_size, "a list of %zu item%s: needs 2 to %d (anchor, positive, negatives)",
                 n, n == 1 ? "" : "s", EXAMPLE_MAX_TEXTS);
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *item = json_array_get(list, i);
        if (!json_is_string(item)) {
            snprintf(why, why_size, "item %zu is not a string", i + 1);
            return false;
        }
        add_text(ex, item);
    }
    return check_texts(ex, list_text_name, NULL, why, why_size);
}

static bool parse_json(example_parser *p, const char *line, size_t length, example_view *ex,
                       char *why, size_t why_size)
{
    json_error_t jerr;
    json_decref(p->json);
    p->json = json_loadb(line, length, JSON_DECODE_ANY, &jerr);
    if (!p->json) {
        snprintf(why, why_size, "malformed JSON: %s", jerr.text);
        return false;
    }
    if (json_is_object(p->json))
        return parse_object(p->json, ex, why, why_size);
    if (json_is_array(p->json))
        return parse_list(p->json, ex, why, why_size);
    snprintf(why, why_size, "not a JSON object or list");
    return false;
}

/* --- TSV -------------------------------------------------------------------------------- */

static const char *column_name(int i, char *buf, size_t size, const void *ctx)
{
    snprintf(buf, size, "column %d", i + 1);
    return buf;
}

static bool parse_tsv(example_parser *p, const char *line, size_t length, example_view *ex,
                      char *why, size_t why_size)
{
    if (length > 0 && line[length - 1] == '\r')
        length--;
    if (length + 1 > p->copy_cap) {
        char *grown = realloc(p->copy, length + 1);
        if (!grown) {
            snprintf(why, why_size, "out of memory for a line of %zu bytes", length);
            return false;
        }
        p->copy = grown;
        p->copy_cap = length + 1;
    }
    memcpy(p->copy, line, length);
    p->copy[length] = '\0';
    char *field = p->copy;
    for (;;) {
        char *tab = memchr(field, '\t', length - (size_t)(field - p->copy));
        if (ex->n_texts == EXAMPLE_MAX_TEXTS) {
            snprintf(why, why_size, "more than %d columns", EXAMPLE_MAX_TEXTS);
            return false;
        }
        ex->texts[ex->n_texts] = field;
        ex->lengths[ex->n_texts++] = tab ? (size_t)(tab - field) : length - (size_t)(field - p->copy);
        if (!tab)
            break;
        *tab = '\0';
        field = tab + 1;
    }
    if (ex->n_texts < 2) {
        snprintf(why, why_size, "1 column: needs anchor<TAB>positive[<TAB>negative...]");
        return false;
    }
    return check_texts(ex, column_name, NULL, why, why_size);
}

bool example_parse(example_parser *p, const char *line, size_t length, example_view *out,
                   char *why, size_t why_size)
{
    out->n_texts = 0;
    return p->format == DATA_FORMAT_JSONL ? parse_json(p, line, length, out, why, why_size)
                                          : parse_tsv(p, line, length, out, why, why_size);
}

bool example_is_tsv_header(const char *line, size_t length)
{
    static const char *names[] = {"anchor", "positive", "negative"};
    if (length > 0 && line[length - 1] == '\r')
        length--;
    int column = 0;
    for (size_t i = 0; i <= length; column++) {
        const char *tab = memchr(line + i, '\t', length - i);
        size_t n = tab ? (size_t)(tab - line) - i : length - i;
        const char *want = names[column < 2 ? column : 2];
        if (n != strlen(want) || strncasecmp(line + i, want, n) != 0)
            return false;
        i += n + 1;
        if (!tab)
            break;
    }
    return column >= 1;
}

void example_parser_free(example_parser *p)
{
    json_decref(p->json);
    free(p->copy);
    p->json = NULL;
    p->copy = NULL;
    p->copy_cap = 0;
}
