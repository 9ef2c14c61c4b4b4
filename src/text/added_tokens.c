#include "text/added_tokens.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/unicode_chars.h"

semb_status added_token_matcher_init(added_token_matcher *m, const added_token *list,
                                     size_t count, bool normalized, semb_error *err)
{
    *m = (added_token_matcher){0};
    if (count == 0)
        return SEMB_OK;
    m->tokens = malloc(count * sizeof *m->tokens);
    if (!m->tokens)
        return semb_fail(err, SEMB_ERR_NOMEM, "added tokens: out of memory");
    for (size_t i = 0; i < count; i++) {
        const added_token *t = &list[i];
        /* An empty pattern would only ever produce empty matches, which tokenizers drops. */
        if (t->normalized != normalized || t->pattern_length == 0)
            continue;
        m->tokens[m->count++] = t;
        unsigned char first = (unsigned char)t->pattern[0];
        m->first_bytes[first >> 3] |= (uint8_t)(1u << (first & 7));
    }
    return SEMB_OK;
}

void added_token_matcher_free(added_token_matcher *m)
{
    if (!m)
        return;
    free(m->tokens);
    *m = (added_token_matcher){0};
}

/* The longest token whose pattern occurs at text[at..), or NULL. */
static const added_token *longest_at(const added_token_matcher *m, const char *text,
                                     size_t length, size_t at)
{
    const added_token *best = NULL;
    for (size_t i = 0; i < m->count; i++) {
        const added_token *t = m->tokens[i];
        if (t->pattern_length <= length - at &&
            (!best || t->pattern_length > best->pattern_length) &&
            memcmp(text + at, t->pattern, t->pattern_length) == 0)
            best = t;
    }
    return best;
}

/* The code point that ends just before byte `at` (at > 0). */
static int32_t code_point_before(const char *text, size_t at, size_t *start)
{
    size_t i = at - 1;
    while (i > 0 && ((unsigned char)text[i] & 0xc0) == 0x80)
        i--;
    size_t size;
    *start = i;
    return utf8_decode_valid((const unsigned char *)text + i, &size);
}

static bool is_single_word(const char *text, size_t length, size_t start, size_t stop)
{
    size_t ignored;
    if (start > 0 && unicode_is_word_char(code_point_before(text, start, &ignored)))
        return false;
    size_t size;
    return stop == length ||
           !unicode_is_word_char(utf8_decode_valid((const unsigned char *)text + stop, &size));
}

/* Where the whitespace that ends text[0..at) begins (regex \s*$). */
static size_t trailing_whitespace_start(const char *text, size_t at)
{
    while (at > 0) {
        size_t start;
        if (!unicode_is_whitespace(code_point_before(text, at, &start)))
            break;
        at = start;
    }
    return at;
}

/* Where the whitespace that starts text[at..length) ends (regex ^\s*). */
static size_t leading_whitespace_end(const char *text, size_t length, size_t at)
{
    while (at < length) {
        size_t size;
        if (!unicode_is_whitespace(utf8_decode_valid((const unsigned char *)text + at, &size)))
            break;
        at += size;
    }
    return at;
}

bool added_token_next(const added_token_matcher *m, const char *text, size_t length,
                      added_token_scan *scan, added_token_match *match)
{
    if (m->count == 0)
        return false;
    const unsigned char *s = (const unsigned char *)text;
    size_t at = scan->search_from;
    for (; at < length; at++) {
        if (!(m->first_bytes[s[at] >> 3] & (1u << (s[at] & 7))))
            continue;
        const added_token *t = longest_at(m, text, length, at);
        if (!t)
            continue;
        size_t start = at, stop = at + t->pattern_length;
        /* The search goes on after the match even when it is rejected or its end moves. */
        scan->search_from = stop;
        if (t->single_word && !is_single_word(text, length, start, stop)) {
            at = stop - 1;
            continue;
        }
        if (t->lstrip) {
            size_t stripped = trailing_whitespace_start(text, start);
            start = stripped > scan->covered_to ? stripped : scan->covered_to;
        }
        if (t->rstrip)
            stop = leading_whitespace_end(text, length, stop);
        match->before_start = scan->covered_to;
        match->before_end = start > scan->covered_to ? start : scan->covered_to;
        match->id = t->id;
        scan->covered_to = stop;
        return true;
    }
    scan->search_from = length;
    return false;
}
