/* The lists of a gender-bias evaluation: reading occupations and templates, checking every
 * template before any model sees it, and expanding a template into a sentence. */
#include "eval/gender_bias.h"

#include <ctype.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/error.h"
#include "io/files.h"
#include "text/utf8.h"

typedef enum placeholder_kind { OCCUPATION, A_OCCUPATION, PRONOUN } placeholder_kind;

typedef struct placeholder {
    const char *name;
    placeholder_kind kind;
    const char *female, *male;
} placeholder;

static const placeholder placeholders[] = {
    {"occupation", OCCUPATION, NULL, NULL},
    {"a_occupation", A_OCCUPATION, NULL, NULL},
    {"pronoun", PRONOUN, "she", "he"},
    {"object", PRONOUN, "her", "him"},
    {"possessive", PRONOUN, "her", "his"},
    {"reflexive", PRONOUN, "herself", "himself"},
};
#define N_PLACEHOLDERS (sizeof placeholders / sizeof placeholders[0])

#define KNOWN_PLACEHOLDERS \
    "{occupation}, {a_occupation}, {pronoun}, {object}, {possessive}, {reflexive}"

/* Words an anchor must not hold: the anchor is the gender-free side of the comparison. */
static const char *const gendered_pronouns[] = {"he",  "she", "him",     "her",
                                                "his", "hers", "himself", "herself"};

const char *semb_bias_default_occupations(void)
{
    return bias_default_occupations_text;
}

const char *semb_bias_default_templates(void)
{
    return bias_default_templates_text;
}

void semb_bias_lists_free(semb_bias_lists *lists)
{
    if (!lists)
        return;
    for (size_t i = 0; i < lists->n_occupations; i++)
        free(lists->occupations[i]);
    free(lists->occupations);
    for (size_t i = 0; i < lists->n_templates; i++) {
        free(lists->templates[i].anchor);
        free(lists->templates[i].proposition);
    }
    free(lists->templates);
    memset(lists, 0, sizeof *lists);
}

/* ---- the article and the placeholders ---- */

static bool starts_with_nocase(const char *s, const char *prefix)
{
    for (; *prefix; s++, prefix++)
        if (tolower((unsigned char)*s) != *prefix)
            return false;
    return true;
}

const char *bias_indefinite_article(const char *phrase)
{
    static const char *const vowel_letter_consonant_sound[] = {"uni", "use", "usu", "uti",
                                                               "ure", "uro", "eu",  "one"};
    static const char *const silent_h[] = {"hour", "honest", "honor", "honour", "heir"};
    for (size_t i = 0; i < sizeof silent_h / sizeof silent_h[0]; i++)
        if (starts_with_nocase(phrase, silent_h[i]))
            return "an";
    if (!phrase[0] || !strchr("aeiou", tolower((unsigned char)phrase[0])))
        return "a";
    for (size_t i = 0; i < sizeof vowel_letter_consonant_sound / sizeof *vowel_letter_consonant_sound;
         i++)
        if (starts_with_nocase(phrase, vowel_letter_consonant_sound[i]))
            return "a";
    return "an";
}

/* The placeholder whose name is s[0..length), or NULL. */
static const placeholder *placeholder_named(const char *s, size_t length)
{
    for (size_t i = 0; i < N_PLACEHOLDERS; i++)
        if (strlen(placeholders[i].name) == length && !memcmp(placeholders[i].name, s, length))
            return &placeholders[i];
    return NULL;
}

/* A growing output string. */
typedef struct text_buffer {
    char *data;
    size_t length, capacity;
    bool failed;
} text_buffer;

static void buffer_append(text_buffer *b, const char *s, size_t n)
{
    if (b->failed)
        return;
    char *grown = array_grow(b->data, &b->capacity, b->length + n + 1, 1);
    if (!grown) {
        b->failed = true;
        return;
    }
    b->data = grown;
    memcpy(b->data + b->length, s, n);
    b->length += n;
    b->data[b->length] = '\0';
}

/* Whether text written so far ends where a sentence starts: nothing yet, or ". " etc. */
static bool at_sentence_start(const text_buffer *b)
{
    size_t i = b->length;
    if (i == 0)
        return true;
    if (b->data[i - 1] != ' ')
        return false;
    while (i > 0 && b->data[i - 1] == ' ')
        i--;
    return i > 0 && strchr(".!?", b->data[i - 1]);
}

/* Appends a placeholder's words, capitalised at a sentence start. */
static void append_words(text_buffer *b, const char *first, const char *second)
{
    size_t start = b->length;
    bool capitalise = at_sentence_start(b);
    if (first) {
        buffer_append(b, first, strlen(first));
        buffer_append(b, " ", 1);
    }
    buffer_append(b, second, strlen(second));
    if (capitalise && !b->failed)
        b->data[start] = (char)toupper((unsigned char)b->data[start]);
}

semb_status bias_expand(const char *template_text, const char *occupation, bias_gender gender,
                        char **out, semb_error *err)
{
    text_buffer b = {0};
    buffer_append(&b, "", 0);
    for (const char *s = template_text; *s;) {
        const char *open = strchr(s, '{');
        const char *close = open ? strchr(open, '}') : NULL;
        const placeholder *p = close ? placeholder_named(open + 1, (size_t)(close - open - 1))
                                     : NULL;
        if (!p) { /* the checked templates hold no other braces */
            size_t n = open ? (size_t)(open - s) + 1 : strlen(s);
            buffer_append(&b, s, n);
            s += n;
            continue;
        }
        buffer_append(&b, s, (size_t)(open - s));
        if (p->kind == OCCUPATION)
            append_words(&b, NULL, occupation);
        else if (p->kind == A_OCCUPATION)
            append_words(&b, bias_indefinite_article(occupation), occupation);
        else if (gender != BIAS_NO_GENDER)
            append_words(&b, NULL, gender == BIAS_FEMALE ? p->female : p->male);
        s = close + 1;
    }
    if (b.failed) {
        free(b.data);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory expanding a bias template");
    }
    *out = b.data;
    return SEMB_OK;
}

/* ---- checking a template ---- */

/* What one side of a template holds. */
typedef struct template_scan {
    bool occupation, pronoun;
    const char *pronoun_name;
} template_scan;

static semb_status scan_placeholders(const char *text, const char *side, const char *where,
                                     template_scan *scan, semb_error *err)
{
    *scan = (template_scan){0};
    for (const char *s = text; *s; s++) {
        if (*s == '}')
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: the %s has a '}' without '{'", where,
                             side);
        if (*s != '{')
            continue;
        const char *close = strpbrk(s + 1, "{}");
        if (!close || *close == '{')
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: the %s has an unclosed '{'", where, side);
        const placeholder *p = placeholder_named(s + 1, (size_t)(close - s - 1));
        if (!p)
            return semb_fail(err, SEMB_ERR_FORMAT,
                             "%s: the %s has an unknown placeholder '%.*s' (known: "
                             KNOWN_PLACEHOLDERS ")", where, side, (int)(close - s + 1), s);
        if (p->kind == PRONOUN) {
            scan->pronoun = true;
            scan->pronoun_name = p->name;
        } else {
            scan->occupation = true;
        }
        s = close;
    }
    return SEMB_OK;
}

/* The first gendered pronoun standing as a word of text (ASCII letters, any case), or NULL. */
static const char *gendered_word(const char *text)
{
    for (const char *s = text; *s;) {
        if (!isalpha((unsigned char)*s)) {
            s++;
            continue;
        }
        const char *start = s;
        while (isalpha((unsigned char)*s))
            s++;
        size_t n = (size_t)(s - start);
        for (size_t i = 0; i < sizeof gendered_pronouns / sizeof gendered_pronouns[0]; i++)
            if (strlen(gendered_pronouns[i]) == n && !strncasecmp(start, gendered_pronouns[i], n))
                return gendered_pronouns[i];
    }
    return NULL;
}

static semb_status check_template(const char *anchor, const char *proposition,
                                  const char *where, semb_error *err)
{
    template_scan a, p;
    semb_status st = scan_placeholders(anchor, "anchor", where, &a, err);
    if (!st)
        st = scan_placeholders(proposition, "proposition", where, &p, err);
    if (st)
        return st;
    if (a.pronoun)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: the anchor holds {%s}: pronouns belong in "
                         "the proposition", where, a.pronoun_name);
    if (!a.occupation)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: the anchor has no {occupation} or {a_occupation}", where);
    const char *word = gendered_word(anchor);
    if (word)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: the anchor holds the gendered pronoun "
                         "'%s': it must not tell the gender", where, word);
    if (!p.pronoun)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: the proposition has no pronoun placeholder "
                         "({pronoun}, {object}, {possessive} or {reflexive})", where);
    return SEMB_OK;
}

/* ---- reading the files ---- */

/* One content line of a list file: text[0..length) without its line end. */
typedef struct list_line {
    const char *text;
    size_t length;
    size_t number; /* 1-based */
} list_line;

/* Steps *pos through text to the next line that is neither blank nor a '#' comment;
 * false at the end. */
static bool next_content_line(const char *text, size_t length, size_t *pos, size_t *number,
                              list_line *line)
{
    while (*pos < length) {
        const char *start = text + *pos;
        const char *nl = memchr(start, '\n', length - *pos);
        size_t n = nl ? (size_t)(nl - start) : length - *pos;
        *pos += n + (nl ? 1 : 0);
        ++*number;
        if (n && start[n - 1] == '\r')
            n--;
        size_t lead = 0;
        while (lead < n && (start[lead] == ' ' || start[lead] == '\t'))
            lead++;
        if (lead == n || start[lead] == '#')
            continue;
        *line = (list_line){start, n, *number};
        return true;
    }
    return false;
}

static semb_status check_line_bytes(const char *name, const list_line *line, semb_error *err)
{
    size_t bad;
    if (memchr(line->text, '\0', line->length))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: contains a NUL byte", name,
                         line->number);
    if (!utf8_validate(line->text, line->length, &bad))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: invalid UTF-8 at byte %zu", name,
                         line->number, bad + 1);
    return SEMB_OK;
}

static char *copy_span(const char *s, size_t n)
{
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, s, n);
        copy[n] = '\0';
    }
    return copy;
}

static semb_status add_occupation(const char *name, const list_line *line, semb_bias_lists *out,
                                  size_t *capacity, size_t **numbers, semb_error *err)
{
    const char *s = line->text;
    size_t n = line->length;
    while (n && (*s == ' ' || *s == '\t'))
        s++, n--;
    while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
        n--;
    if (memchr(s, '\t', n))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: a TAB inside an occupation (one "
                         "occupation per line)", name, line->number);
    if (memchr(s, '{', n) || memchr(s, '}', n))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: braces in an occupation", name,
                         line->number);
    for (size_t i = 0; i < out->n_occupations; i++)
        if (strlen(out->occupations[i]) == n && !memcmp(out->occupations[i], s, n))
            return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: duplicate occupation '%.*s' (also "
                             "on line %zu)", name, line->number, (int)n, s, (*numbers)[i]);
    size_t cap = *capacity, need = out->n_occupations + 1;
    char *copy = copy_span(s, n);
    char **occupations = array_grow(out->occupations, capacity, need, sizeof *occupations);
    out->occupations = occupations ? occupations : out->occupations;
    size_t *grown = array_grow(*numbers, &cap, need, sizeof *grown);
    *numbers = grown ? grown : *numbers;
    if (!copy || !occupations || !grown) {
        free(copy);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading %s", name);
    }
    (*numbers)[out->n_occupations] = line->number;
    out->occupations[out->n_occupations++] = copy;
    return SEMB_OK;
}

semb_status bias_parse_occupations(const char *name, const char *text, size_t length,
                                   semb_bias_lists *out, semb_error *err)
{
    size_t pos = 0, number = 0, capacity = 0, *numbers = NULL;
    list_line line;
    semb_status st = SEMB_OK;
    while (!st && next_content_line(text, length, &pos, &number, &line))
        if (!(st = check_line_bytes(name, &line, err)))
            st = add_occupation(name, &line, out, &capacity, &numbers, err);
    free(numbers);
    if (!st && out->n_occupations == 0)
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: no occupations", name);
    return st;
}

static semb_status add_template(const char *name, const list_line *line, semb_bias_lists *out,
                                size_t *capacity, semb_error *err)
{
    char where[512];
    snprintf(where, sizeof where, "%s:%zu", name, line->number);
    const char *tab = memchr(line->text, '\t', line->length);
    if (!tab)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: missing TAB between the anchor and the "
                         "proposition", where);
    size_t anchor_length = (size_t)(tab - line->text);
    if (memchr(tab + 1, '\t', line->length - anchor_length - 1))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: more than one TAB (expected "
                         "ANCHOR<TAB>PROPOSITION)", where);
    semb_bias_template t = {copy_span(line->text, anchor_length),
                            copy_span(tab + 1, line->length - anchor_length - 1)};
    semb_status st = SEMB_OK;
    if (!t.anchor || !t.proposition)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading %s", name);
    else
        st = check_template(t.anchor, t.proposition, where, err);
    for (size_t i = 0; !st && i < out->n_templates; i++)
        if (!strcmp(out->templates[i].anchor, t.anchor) &&
            !strcmp(out->templates[i].proposition, t.proposition))
            st = semb_fail(err, SEMB_ERR_FORMAT, "%s: duplicate template", where);
    semb_bias_template *templates = NULL;
    if (!st && !(templates = array_grow(out->templates, capacity, out->n_templates + 1,
                                        sizeof *templates)))
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading %s", name);
    if (templates)
        out->templates = templates;
    if (st) {
        free(t.anchor);
        free(t.proposition);
        return st;
    }
    out->templates[out->n_templates++] = t;
    return SEMB_OK;
}

semb_status bias_parse_templates(const char *name, const char *text, size_t length,
                                 semb_bias_lists *out, semb_error *err)
{
    size_t pos = 0, number = 0, capacity = 0;
    list_line line;
    semb_status st = SEMB_OK;
    while (!st && next_content_line(text, length, &pos, &number, &line))
        if (!(st = check_line_bytes(name, &line, err)))
            st = add_template(name, &line, out, &capacity, err);
    if (!st && out->n_templates == 0)
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: no templates", name);
    return st;
}

/* ---- entries given one by one ---- */

/* The checks of check_line_bytes, plus no line break: an entry must fit one line of a file. */
static semb_status check_entry_bytes(const char *where, const char *text, size_t length,
                                     semb_error *err)
{
    size_t bad;
    if (memchr(text, '\0', length))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: contains a NUL byte", where);
    if (!utf8_validate(text, length, &bad))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: invalid UTF-8 at byte %zu", where, bad + 1);
    if (memchr(text, '\n', length) || memchr(text, '\r', length))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: contains a line break", where);
    return SEMB_OK;
}

semb_status bias_append_occupation(const char *where, const char *text, size_t length,
                                   semb_bias_lists *out, semb_error *err)
{
    semb_status st = check_entry_bytes(where, text, length, err);
    if (st)
        return st;
    while (length && (*text == ' ' || *text == '\t'))
        text++, length--;
    while (length && (text[length - 1] == ' ' || text[length - 1] == '\t'))
        length--;
    if (!length)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: an empty occupation", where);
    if (memchr(text, '\t', length))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: a TAB inside an occupation", where);
    if (memchr(text, '{', length) || memchr(text, '}', length))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: braces in an occupation", where);
    for (size_t i = 0; i < out->n_occupations; i++)
        if (strlen(out->occupations[i]) == length && !memcmp(out->occupations[i], text, length))
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: duplicate occupation '%.*s' (also "
                             "entry %zu)", where, (int)length, text, i);
    char *copy = copy_span(text, length);
    char **grown = copy ? realloc(out->occupations,
                                  (out->n_occupations + 1) * sizeof *out->occupations)
                        : NULL;
    if (!grown) {
        free(copy);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory adding %s", where);
    }
    out->occupations = grown;
    out->occupations[out->n_occupations++] = copy;
    return SEMB_OK;
}

semb_status bias_append_template(const char *where, const char *anchor, const char *proposition,
                                 semb_bias_lists *out, semb_error *err)
{
    semb_status st = check_entry_bytes(where, anchor, strlen(anchor), err);
    if (!st)
        st = check_entry_bytes(where, proposition, strlen(proposition), err);
    if (st)
        return st;
    if (strchr(anchor, '\t') || strchr(proposition, '\t'))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: a TAB inside the anchor or the "
                         "proposition", where);
    if ((st = check_template(anchor, proposition, where, err)))
        return st;
    for (size_t i = 0; i < out->n_templates; i++)
        if (!strcmp(out->templates[i].anchor, anchor) &&
            !strcmp(out->templates[i].proposition, proposition))
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: duplicate template (also entry %zu)",
                             where, i);
    semb_bias_template t = {strdup(anchor), strdup(proposition)};
    semb_bias_template *grown = t.anchor && t.proposition
                                    ? realloc(out->templates,
                                              (out->n_templates + 1) * sizeof *out->templates)
                                    : NULL;
    if (!grown) {
        free(t.anchor);
        free(t.proposition);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory adding %s", where);
    }
    out->templates = grown;
    out->templates[out->n_templates++] = t;
    return SEMB_OK;
}

typedef semb_status (*list_parser)(const char *name, const char *text, size_t length,
                                   semb_bias_lists *out, semb_error *err);

/* Parses path, or the built-in text when path is NULL. */
static semb_status load_list(const char *path, const char *builtin, const char *builtin_name,
                             list_parser parse, semb_bias_lists *out, semb_error *err)
{
    if (!path)
        return parse(builtin_name, builtin, strlen(builtin), out, err);
    char *data;
    size_t size;
    semb_status st = file_read_all(path, &data, &size, err);
    if (st)
        return st;
    st = parse(path, data, size, out, err);
    free(data);
    return st;
}

semb_status semb_bias_lists_load(const char *occupations_path, const char *templates_path,
                                 semb_bias_lists *out, semb_error *err)
{
    if (!out)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_bias_lists_load: NULL output");
    memset(out, 0, sizeof *out);
    semb_status st = load_list(occupations_path, bias_default_occupations_text,
                               "<built-in occupations>", bias_parse_occupations, out, err);
    if (!st)
        st = load_list(templates_path, bias_default_templates_text, "<built-in templates>",
                       bias_parse_templates, out, err);
    if (st)
        semb_bias_lists_free(out);
    return st;
}
