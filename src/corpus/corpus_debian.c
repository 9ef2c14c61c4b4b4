/* Debian package descriptions, from control-file stanzas (deb-control(5)): the dpkg status
 * file (installed packages, with long descriptions), apt's *_Packages lists (every package of
 * the archive; Debian's own archive ships only the short description there) and
 * *_i18n_Translation-en lists ("Description-en", with long descriptions).
 *   Package: libc6
 *   Description: GNU C Library: Shared libraries
 *    Contains the standard libraries that are used by nearly all programs on
 *    the system. ...
 *    .
 *    second paragraph
 * Pairs: short description -> first paragraph of the long one, and package name -> short
 * description. Transitional and dummy packages describe only their replacement: skipped. */
#include <ctype.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "corpus/corpus_internal.h"

typedef struct stanza {
    const char *name;
    size_t name_len;
    const char *description; /* from the short line up to the end of the field */
    size_t description_len;
} stanza;

static bool field_is(const char *line, size_t n, const char *key, const char **value)
{
    size_t k = strlen(key);
    if (n <= k || strncasecmp(line, key, k) != 0 || line[k] != ':')
        return false;
    *value = line + k + 1;
    while (*value < line + n && (**value == ' ' || **value == '\t'))
        (*value)++;
    return true;
}

static bool contains_ignoring_case(const char *s, size_t n, const char *needle)
{
    size_t k = strlen(needle);
    for (size_t i = 0; i + k <= n; i++)
        if (strncasecmp(s + i, needle, k) == 0)
            return true;
    return false;
}

/* Adds the stanza's pairs (see the top of the file). first is scratch for the paragraph. */
static semb_status add_stanza(const stanza *s, corpus_pairs *descriptions,
                              corpus_hash_set *descriptions_seen, corpus_pairs *names,
                              corpus_hash_set *names_seen, corpus_buffer *first, semb_error *err)
{
    if (!s->name || !s->description)
        return SEMB_OK;
    const char *nl = memchr(s->description, '\n', s->description_len);
    size_t short_len = nl ? (size_t)(nl - s->description) : s->description_len;
    if (contains_ignoring_case(s->description, s->description_len, "transitional") ||
        contains_ignoring_case(s->description, s->description_len, "dummy package"))
        return SEMB_OK;
    uint64_t h = corpus_hash(s->name, s->name_len);
    bool added = false;
    semb_status st = corpus_hash_set_add(names_seen, h, &added, err);
    if (!st && added)
        st = corpus_pairs_add(names, s->name, s->name_len, s->description, short_len, err);
    first->size = 0;
    /* long lines: " text" (a leading space), " ." ends a paragraph */
    for (const char *line = nl ? nl + 1 : NULL; !st && line;) {
        const char *end = s->description + s->description_len;
        const char *next = memchr(line, '\n', (size_t)(end - line));
        size_t n = next ? (size_t)(next - line) : (size_t)(end - line);
        if (n >= 2 && line[1] == '.' && (n == 2 || isspace((unsigned char)line[2])))
            break;
        st = corpus_buffer_append(first, line, n, err);
        if (!st)
            st = corpus_buffer_append(first, "\n", 1, err);
        line = next ? next + 1 : NULL;
    }
    if (st || first->size == 0)
        return st;
    if ((st = corpus_hash_set_add(descriptions_seen, h, &added, err)) || !added)
        return st;
    return corpus_pairs_add(descriptions, s->description, short_len, first->data, first->size,
                            err);
}

semb_status corpus_read_debian_stanzas(const char *path, corpus_pairs *descriptions,
                                       corpus_hash_set *descriptions_seen, corpus_pairs *names,
                                       corpus_hash_set *names_seen, semb_error *err)
{
    corpus_buffer data, first = {0};
    semb_status st = corpus_read_file(path, &data, err);
    if (st)
        return st;
    stanza s = {0};
    bool in_description = false;
    const char *end = data.data + data.size;
    for (const char *line = data.data; !st && line < end;) {
        const char *nl = memchr(line, '\n', (size_t)(end - line));
        size_t n = nl ? (size_t)(nl - line) : (size_t)(end - line);
        const char *value;
        if (n == 0 || (n == 1 && line[0] == '\r')) {
            st = add_stanza(&s, descriptions, descriptions_seen, names, names_seen, &first, err);
            s = (stanza){0};
            in_description = false;
        } else if (line[0] == ' ' || line[0] == '\t') {
            if (in_description)
                s.description_len = (size_t)(line + n - s.description);
        } else {
            in_description = false;
            if (field_is(line, n, "Package", &value)) {
                s.name = value;
                s.name_len = (size_t)(line + n - value);
            } else if (field_is(line, n, "Description", &value) ||
                       field_is(line, n, "Description-en", &value)) {
                s.description = value;
                s.description_len = (size_t)(line + n - value);
                in_description = true;
            }
        }
        line = nl ? nl + 1 : end;
    }
    if (!st)
        st = add_stanza(&s, descriptions, descriptions_seen, names, names_seen, &first, err);
    corpus_buffer_free(&first);
    corpus_buffer_free(&data);
    return st;
}
