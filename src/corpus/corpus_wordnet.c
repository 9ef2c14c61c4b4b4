/* WordNet 3.0 database files (wndb(5)): data.noun, data.verb, data.adj, data.adv. After a
 * license header whose lines start with two spaces, one synset per line:
 *   offset lex_filenum ss_type w_cnt(2 hex) {word lex_id(1 hex)}*w_cnt p_cnt ... | gloss
 * Words use '_' for spaces; adjectives may carry a syntactic marker "(a)", "(p)" or "(ip)".
 * The gloss is definitions and quoted usage examples separated by ';':
 *   breathe with great difficulty; "She choked with emotion"
 * Pairs made:
 *   gloss:    up to 4 synonyms "car, auto, automobile, machine" -> the definitions
 *   examples: each usage example (without quotes and attribution) -> the definitions
 * The example pairs are the harder task: the anchor uses the word in context and never says
 * which sense it means. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/error.h"
#include "corpus/corpus_internal.h"

enum { MAX_SYNONYMS = 4 };

static const char *const wordnet_files[] = {"data.noun", "data.verb", "data.adj", "data.adv"};

/* Appends word (underscores as spaces, adjective marker removed) to anchor unless the
 * same word, ignoring case, is there already. */
static semb_status add_synonym(corpus_buffer *anchor, const char *word, size_t n, semb_error *err)
{
    if (n > 3 && word[n - 1] == ')') {
        const char *open = memchr(word, '(', n);
        if (open)
            n = (size_t)(open - word);
    }
    char clean[256];
    if (n == 0 || n >= sizeof clean)
        return SEMB_OK;
    for (size_t i = 0; i < n; i++)
        clean[i] = word[i] == '_' ? ' ' : word[i];
    clean[n] = '\0';
    for (const char *item = anchor->data; item && *item;) {
        const char *comma = strstr(item, ", ");
        size_t len = comma ? (size_t)(comma - item) : strlen(item);
        if (len == n && strncasecmp(item, clean, n) == 0)
            return SEMB_OK;
        item = comma ? comma + 2 : NULL;
    }
    semb_status st = SEMB_OK;
    if (anchor->size)
        st = corpus_buffer_append(anchor, ", ", 2, err);
    return st ? st : corpus_buffer_append(anchor, clean, n, err);
}

/* Splits gloss into definitions (joined with "; ") and examples (each its own string). */
typedef struct gloss_parts {
    corpus_buffer definition;
    const char *examples[64];
    size_t example_lengths[64];
    size_t example_count;
} gloss_parts;

static semb_status split_gloss(const char *gloss, size_t n, gloss_parts *out, semb_error *err)
{
    out->definition.size = 0;
    out->example_count = 0;
    size_t i = 0;
    while (i < n) {
        while (i < n && (gloss[i] == ' ' || gloss[i] == ';'))
            i++;
        if (i >= n)
            break;
        if (gloss[i] == '"') {
            size_t start = ++i;
            while (i < n && gloss[i] != '"')
                i++;
            if (out->example_count < 64) {
                out->examples[out->example_count] = gloss + start;
                out->example_lengths[out->example_count++] = i - start;
            }
            while (i < n && gloss[i] != ';') /* attribution after the quote: "..." - Milton */
                i++;
            continue;
        }
        size_t start = i;
        bool quoted = false;
        while (i < n && (quoted || gloss[i] != ';')) {
            if (gloss[i] == '"')
                quoted = !quoted;
            i++;
        }
        size_t end = i;
        while (end > start && gloss[end - 1] == ' ')
            end--;
        semb_status st = SEMB_OK;
        if (out->definition.size)
            st = corpus_buffer_append(&out->definition, "; ", 2, err);
        if (st || (st = corpus_buffer_append(&out->definition, gloss + start, end - start, err)))
            return st;
    }
    return SEMB_OK;
}

static semb_status parse_synset(const char *path, size_t line_no, const char *line, size_t n,
                                corpus_pairs *gloss, corpus_pairs *examples, corpus_buffer *anchor,
                                gloss_parts *parts, semb_error *err)
{
    const char *bar = NULL;
    for (size_t i = 0; i + 2 < n && !bar; i++)
        if (line[i] == ' ' && line[i + 1] == '|' && line[i + 2] == ' ')
            bar = line + i;
    char *end;
    const char *p = line;
    for (int field = 0; field < 3 && p; field++) /* offset, lex_filenum, ss_type */
        p = memchr(p, ' ', n - (size_t)(p - line)), p = p ? p + 1 : NULL;
    long w_cnt = p ? strtol(p, &end, 16) : 0;
    if (!bar || !p || end == p || w_cnt <= 0)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: not a WordNet synset line", path, line_no);
    anchor->size = 0;
    p = end;
    semb_status st = SEMB_OK;
    for (long w = 0; w < w_cnt && !st; w++) {
        while (p < bar && *p == ' ')
            p++;
        const char *word = p;
        while (p < bar && *p != ' ')
            p++;
        if (p >= bar)
            return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: synset has fewer than %ld words",
                             path, line_no, w_cnt);
        if (w < MAX_SYNONYMS)
            st = add_synonym(anchor, word, (size_t)(p - word), err);
        while (p < bar && *p == ' ')
            p++;
        while (p < bar && *p != ' ') /* lex_id */
            p++;
    }
    const char *text = bar + 3;
    size_t text_len = n - (size_t)(text - line);
    if (st || (st = split_gloss(text, text_len, parts, err)))
        return st;
    if (!parts->definition.size || !anchor->size)
        return SEMB_OK;
    st = corpus_pairs_add(gloss, anchor->data, anchor->size, parts->definition.data,
                          parts->definition.size, err);
    for (size_t e = 0; e < parts->example_count && !st; e++)
        st = corpus_pairs_add(examples, parts->examples[e], parts->example_lengths[e],
                              parts->definition.data, parts->definition.size, err);
    return st;
}

static semb_status read_data_file(const char *path, corpus_pairs *gloss, corpus_pairs *examples,
                                  semb_error *err)
{
    corpus_buffer data;
    semb_status st = corpus_read_file(path, &data, err);
    if (st)
        return st;
    corpus_buffer anchor = {0};
    gloss_parts parts = {0};
    size_t line_no = 0;
    for (char *line = data.data; !st && line < data.data + data.size;) {
        char *nl = memchr(line, '\n', data.size - (size_t)(line - data.data));
        size_t n = nl ? (size_t)(nl - line) : data.size - (size_t)(line - data.data);
        line_no++;
        while (n > 0 && isspace((unsigned char)line[n - 1]))
            n--;
        bool license = line[0] == ' ' && n > 1 && line[1] == ' ';
        if (n > 0 && !license)
            st = parse_synset(path, line_no, line, n, gloss, examples, &anchor, &parts, err);
        line = nl ? nl + 1 : data.data + data.size;
    }
    corpus_buffer_free(&anchor);
    corpus_buffer_free(&parts.definition);
    corpus_buffer_free(&data);
    return st;
}

semb_status corpus_read_wordnet(const char *dir, corpus_pairs *gloss, corpus_pairs *examples,
                                semb_error *err)
{
    for (size_t f = 0; f < sizeof wordnet_files / sizeof wordnet_files[0]; f++) {
        char path[4096];
        snprintf(path, sizeof path, "%s/%s", dir, wordnet_files[f]);
        semb_status st = read_data_file(path, gloss, examples, err);
        if (st)
            return st;
    }
    return SEMB_OK;
}
