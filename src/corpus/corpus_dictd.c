/* dictd databases: NAME.index lines "headword TAB offset TAB length" (numbers in dictd's
 * base64: A-Z a-z 0-9 + /, most significant digit first) into NAME.dict(.dz), the inflated
 * text. Several headwords often point at one block (GCIDE indexes inflected forms and
 * compounds, FOLDOC aliases), so each block is parsed once; "00-database-*" blocks are
 * metadata.
 *
 * GCIDE blocks (Webster 1913 in dictd's text rendering):
 *   Apple \Ap"ple\ ([a^]p"p'l), n. [OE. appel, ... origin.]
 *      1. The fleshy pome or fruit of a rosaceous tree ({Pyrus
 *         malus}) cultivated in numberless varieties ...
 *         [1913 Webster]
 *      {Apple brandy}, brandy made from apples.
 * The header (headword, \pronunciation\, part of speech, [etymology], possibly over several
 * lines while a bracket is open) is followed by the first definition, which ends at a blank
 * line or a source line such as "[1913 Webster]". Paragraphs starting with {Compound} give
 * compound -> definition pairs too. Markup: {cross reference}, [ae]-style entities (converted
 * to UTF-8), other [...] groups (etymologies, usage labels like [Obs.]: removed) and quotation
 * credits "--Milton." (removed).
 *
 * FOLDOC and Jargon File blocks (dictfmt -t): headword and alias lines (Jargon: a
 * pronunciation / part-of-speech line), a blank line, then indented paragraphs. The pair is
 * headword -> first paragraph that says something, without a leading "<domain>" (FOLDOC),
 * "[origin]", sense number or part of speech (Jargon), and with {references} unwrapped. */
#include <ctype.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "corpus/corpus_internal.h"

/* ---- GCIDE entities ---- */

typedef struct entity {
    const char *name, *utf8;
} entity;

static const entity gcide_entities[] = {
    {"ae", "æ"}, {"AE", "Æ"}, {"oe", "œ"}, {"OE", "Œ"}, {"aum", "ä"}, {"eth", "ð"},
    {"thorn", "þ"}, {"ng", "ŋ"}, {"yogh", "ȝ"}, {"deg", "°"}, {"sect", "§"}, {"root", "√"},
    {"pounds", "£"}, {"times", "×"}, {"sharp", "♯"}, {"flat", "♭"}, {"prime", "′"},
    {"bprime", "″"}, {"imac", "ī"}, {"frac12", "½"}, {"frac14", "¼"}, {"frac34", "¾"},
    {"alpha", "α"}, {"beta", "β"}, {"gamma", "γ"}, {"delta", "δ"}, {"epsilon", "ε"},
    {"zeta", "ζ"}, {"eta", "η"}, {"theta", "θ"}, {"iota", "ι"}, {"kappa", "κ"},
    {"lambda", "λ"}, {"mu", "μ"}, {"nu", "ν"}, {"xi", "ξ"}, {"omicron", "ο"}, {"pi", "π"},
    {"rho", "ρ"}, {"sigma", "σ"}, {"tau", "τ"}, {"upsilon", "υ"}, {"phi", "φ"}, {"chi", "χ"},
    {"psi", "ψ"}, {"omega", "ω"}, {"Gamma", "Γ"}, {"Delta", "Δ"}, {"Theta", "Θ"},
    {"Lambda", "Λ"}, {"Pi", "Π"}, {"Sigma", "Σ"}, {"Phi", "Φ"}, {"Psi", "Ψ"}, {"Omega", "Ω"},
};

/* Accented letters "['e]", "[`a]", "[^o]", "[\"u]", "[~n]", "[,c]", "[=a]" (macron), "[a^]"
 * (breve): the letter followed by the combining mark, which NFC-normalising tokenizers fold
 * into the precomposed character. */
static const char *accent_mark(char mark)
{
    switch (mark) {
    case '\'': return "\xcc\x81"; /* U+0301 acute */
    case '`': return "\xcc\x80";  /* U+0300 grave */
    case '^': return "\xcc\x82";  /* U+0302 circumflex */
    case '"': return "\xcc\x88";  /* U+0308 diaeresis */
    case '~': return "\xcc\x83";  /* U+0303 tilde */
    case ',': return "\xcc\xa7";  /* U+0327 cedilla */
    case '=': case '-': return "\xcc\x84"; /* U+0304 macron */
    case '.': return "\xcc\x87";  /* U+0307 dot above */
    default: return NULL;
    }
}

/* Appends the text of entity name[0..n), or returns false when it is not an entity. */
static bool append_entity(corpus_buffer *out, const char *name, size_t n, semb_error *err,
                          semb_status *st)
{
    for (size_t i = 0; i < sizeof gcide_entities / sizeof gcide_entities[0]; i++)
        if (strlen(gcide_entities[i].name) == n && memcmp(gcide_entities[i].name, name, n) == 0) {
            *st = corpus_buffer_append(out, gcide_entities[i].utf8,
                                       strlen(gcide_entities[i].utf8), err);
            return true;
        }
    const char *mark = NULL;
    char letter = 0;
    if (n == 2 && isalpha((unsigned char)name[1]) && (mark = accent_mark(name[0])))
        letter = name[1];
    else if (n == 2 && isalpha((unsigned char)name[0]) && name[1] == '^')
        letter = name[0], mark = "\xcc\x86"; /* U+0306 breve */
    if (!mark)
        return false;
    if (!(*st = corpus_buffer_append(out, &letter, 1, err)))
        *st = corpus_buffer_append(out, mark, strlen(mark), err);
    return true;
}

/* Converts GCIDE markup in s[0..n) to plain text appended to out (see the top of the file). */
static semb_status gcide_clean(const char *s, size_t n, corpus_buffer *out, semb_error *err)
{
    semb_status st = SEMB_OK;
    for (size_t i = 0; i < n && !st;) {
        char c = s[i];
        if (c == '{' || c == '}') {
            i++;
        } else if (c == '[') {
            const char *close = memchr(s + i, ']', n - i);
            if (!close)
                break;
            size_t len = (size_t)(close - (s + i)) - 1;
            if (!append_entity(out, s + i + 1, len, err, &st)) {
                int depth = 0; /* an etymology or label, possibly holding entities itself */
                for (; i < n; i++) {
                    depth += s[i] == '[';
                    depth -= s[i] == ']';
                    if (depth == 0)
                        break;
                }
                close = s + (i < n ? i : n - 1);
            }
            i = (size_t)(close - s) + 1;
        } else if (c == '-' && i + 2 < n && s[i + 1] == '-' && s[i + 2] == '[') {
            i += 2; /* "--[Merck Man. 11]": the bracket group goes as a whole */
        } else if (c == '-' && i + 2 < n && s[i + 1] == '-' && isupper((unsigned char)s[i + 2])) {
            while (i < n && s[i] != '\n') /* "--Milton." credits a quotation */
                i++;
        } else if (c == ']') {
            i++; /* left over from a group the editors never opened */
        } else if (c == '\\') {
            const char *close = memchr(s + i + 1, '\\', n - i - 1);
            i = close ? (size_t)(close - s) + 1 : n;
        } else {
            st = corpus_buffer_append(out, &c, 1, err);
            i++;
        }
    }
    return st;
}

/* ---- blocks as lines ---- */

typedef struct line_span {
    const char *text;
    size_t len;
} line_span;

static size_t split_lines(const char *s, size_t n, line_span *lines, size_t max_lines)
{
    size_t count = 0;
    for (size_t start = 0; start < n && count < max_lines;) {
        const char *nl = memchr(s + start, '\n', n - start);
        size_t end = nl ? (size_t)(nl - s) : n;
        lines[count++] = (line_span){s + start, end - start};
        start = end + 1;
    }
    return count;
}

static bool is_blank(line_span line)
{
    for (size_t i = 0; i < line.len; i++)
        if (!isspace((unsigned char)line.text[i]))
            return false;
    return true;
}

static line_span trimmed(line_span line)
{
    while (line.len && isspace((unsigned char)line.text[0]))
        line.text++, line.len--;
    while (line.len && isspace((unsigned char)line.text[line.len - 1]))
        line.len--;
    return line;
}

/* "[1913 Webster]", "[PJC]", "[WordNet 1.5]": a line that is one bracket group, or starts
 * with a source credit (a few have stray text after it), ends a definition. */
static bool is_source_line(line_span line)
{
    static const char *const credits[] = {"Webster", "WordNet", "PJC", "RDH", "RHUD", "Century"};
    line = trimmed(line);
    if (line.len < 3 || line.text[0] != '[')
        return false;
    const char *close = memchr(line.text, ']', line.len);
    if (!close)
        return false;
    if (close == line.text + line.len - 1 && !memchr(line.text + 1, '[', line.len - 2))
        return true;
    for (size_t i = 0; i < sizeof credits / sizeof credits[0]; i++) {
        size_t n = strlen(credits[i]);
        for (const char *p = line.text + 1; p + n <= close; p++)
            if (memcmp(p, credits[i], n) == 0)
                return true;
    }
    return false;
}

static bool starts_with(line_span line, const char *prefix)
{
    line = trimmed(line);
    size_t n = strlen(prefix);
    return line.len >= n && memcmp(line.text, prefix, n) == 0;
}

/* Positives that only point elsewhere teach nothing about meaning. */
static bool is_cross_reference(const char *s)
{
    static const char *const prefixes[] = {"Same as ", "See ", "Alt. of ", "Syn. of ",
                                           "imp. ", "p. p. ", "pl. of ", "Plural of ",
                                           "of ", "Obs. "};
    while (*s == ' ')
        s++;
    size_t words = 0;
    for (const char *p = s; *p; p++)
        words += *p == ' ';
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++)
        if (strncmp(s, prefixes[i], strlen(prefixes[i])) == 0 && words < 6)
            return true;
    return false;
}

/* Removes a leading sense number "1." or "(a)" from text (in place, as an offset). */
static size_t skip_sense_number(const char *s)
{
    size_t i = 0;
    while (s[i] == ' ')
        i++;
    size_t digits = i;
    while (isdigit((unsigned char)s[digits]))
        digits++;
    if (digits > i && s[digits] == '.' && s[digits + 1] == ' ')
        return digits + 2;
    if (s[i] == '(' && isalpha((unsigned char)s[i + 1]) && s[i + 2] == ')' && s[i + 3] == ' ')
        return i + 4;
    return i;
}

static semb_status add_definition(corpus_pairs *pairs, const char *headword, size_t headword_len,
                                  const char *definition, semb_error *err)
{
    definition += skip_sense_number(definition);
    if (is_cross_reference(definition))
        return SEMB_OK;
    return corpus_pairs_add(pairs, headword, headword_len, definition, strlen(definition), err);
}

/* ---- GCIDE ---- */

/* Cleans definition lines lines[from..] up to a blank or source line into def; markup is
 * cleaned over the whole span because a bracket group may run over a line end. */
static semb_status gcide_definition(const line_span *lines, size_t count, size_t from,
                                    corpus_buffer *def, semb_error *err)
{
    size_t end = from;
    while (end < count && !is_blank(lines[end]) && !is_source_line(lines[end]))
        end++;
    def->size = 0;
    if (end == from)
        return SEMB_OK;
    const char *last = lines[end - 1].text + lines[end - 1].len;
    return gcide_clean(lines[from].text, (size_t)(last - lines[from].text), def, err);
}

/* The main entry: headword before " \", header lines while a bracket or \pronunciation\ is
 * open, then the definition. */
static semb_status gcide_main_entry(const line_span *lines, size_t count, corpus_pairs *pairs,
                                    corpus_buffer *headword, corpus_buffer *def, semb_error *err)
{
    const char *slash = NULL;
    for (size_t i = 0; i + 1 < lines[0].len && !slash; i++)
        if (lines[0].text[i] == ' ' && lines[0].text[i + 1] == '\\')
            slash = lines[0].text + i;
    if (!slash)
        return SEMB_OK;
    headword->size = 0;
    semb_status st = gcide_clean(lines[0].text, (size_t)(slash - lines[0].text), headword, err);
    int depth = 0, slashes = 0;
    size_t l = 0;
    for (; l < count && !st; l++) {
        for (size_t i = 0; i < lines[l].len; i++) {
            depth += lines[l].text[i] == '[';
            depth -= lines[l].text[i] == ']';
            slashes += lines[l].text[i] == '\\';
        }
        if (depth <= 0 && slashes % 2 == 0)
            break;
    }
    if (st || l + 1 >= count || is_blank(lines[l + 1]) || starts_with(lines[l + 1], "Note:") ||
        starts_with(lines[l + 1], "Syn"))
        return st;
    if ((st = gcide_definition(lines, count, l + 1, def, err)) || def->size == 0)
        return st;
    return add_definition(pairs, headword->data, headword->size, def->data, err);
}

/* "{Apple brandy}, brandy made from apples." and "{Apple borer} (Zool.), a beetle ...". */
static semb_status gcide_compounds(const line_span *lines, size_t count, corpus_pairs *pairs,
                                   corpus_buffer *headword, corpus_buffer *def, semb_error *err)
{
    semb_status st = SEMB_OK;
    for (size_t l = 1; l < count && !st; l++) {
        line_span t = trimmed(lines[l]);
        if (!is_blank(lines[l - 1]) || t.len < 4 || t.text[0] != '{')
            continue;
        const char *close = memchr(t.text, '}', t.len);
        if (!close || close == t.text + 1)
            continue;
        headword->size = 0;
        if ((st = gcide_clean(t.text + 1, (size_t)(close - t.text) - 1, headword, err)) ||
            (st = gcide_definition(lines, count, l, def, err)))
            break;
        if (!headword->size || !def->size)
            continue;
        /* the definition starts after the term, its (Label)s and the comma */
        const char *text = def->data + strspn(def->data, " ");
        if (strncmp(text, headword->data, headword->size) != 0)
            continue;
        text += headword->size;
        while (*text == ' ' || *text == '(') {
            if (*text == '(') {
                const char *end = strchr(text, ')');
                if (!end)
                    break;
                text = end + 1;
            } else {
                text++;
            }
        }
        const char *comma = *text == ',' ? text + 1 : NULL;
        if (!comma || strncmp(comma, " or ", 4) == 0)
            continue;
        st = add_definition(pairs, headword->data, headword->size, comma, err);
    }
    return st;
}

/* ---- FOLDOC and Jargon ---- */

/* Skips leading "<domain>", "[origin]", sense number and part-of-speech labels. */
static const char *skip_plain_labels(const char *s)
{
    for (;;) {
        while (*s == ' ' || *s == ',')
            s++;
        const char *close = NULL;
        if (*s == '<')
            close = strchr(s, '>');
        else if (*s == '[')
            close = strchr(s, ']');
        if (close) {
            s = close + 1;
            continue;
        }
        size_t skip = skip_sense_number(s);
        size_t pos = strspn(s + skip, "abcdefghijklmnopqrstuvwxyz");
        if (pos > 0 && pos <= 6 && s[skip + pos] == '.' && s[skip + pos + 1] == ' ') {
            s += skip + pos + 2; /* "n. ", "vt. ", "adj. " */
            continue;
        }
        if (skip == 0 || s[skip] == '\0')
            return s + skip;
        s += skip;
    }
}

static semb_status plain_entry(const line_span *lines, size_t count, corpus_pairs *pairs,
                               corpus_buffer *def, semb_error *err)
{
    line_span headword = trimmed(lines[0]);
    size_t l = 1;
    while (l < count && !is_blank(lines[l])) /* aliases, pronunciation */
        l++;
    semb_status st = SEMB_OK;
    while (l < count && !st) {
        while (l < count && is_blank(lines[l]))
            l++;
        def->size = 0;
        for (; l < count && !is_blank(lines[l]) && !st; l++) {
            for (size_t i = 0; i < lines[l].len && !st; i++)
                if (lines[l].text[i] != '{' && lines[l].text[i] != '}')
                    st = corpus_buffer_append(def, lines[l].text + i, 1, err);
            if (!st)
                st = corpus_buffer_append(def, "\n", 1, err);
        }
        if (st || def->size == 0)
            break;
        const char *text = skip_plain_labels(def->data);
        size_t words = 0;
        for (const char *p = text; *p; p++)
            words += isspace((unsigned char)p[0]) && !isspace((unsigned char)p[1]);
        bool dated = text[0] == '(' && isdigit((unsigned char)text[1]) && words <= 1;
        if (words >= 2 && !dated)
            return add_definition(pairs, headword.text, headword.len, text, err);
    }
    return st;
}

/* ---- the database ---- */

static bool decode_b64(const char *s, size_t n, size_t *value)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t v = 0;
    if (n == 0 || n > 10)
        return false;
    for (size_t i = 0; i < n; i++) {
        const char *d = s[i] ? memchr(digits, s[i], 64) : NULL;
        if (!d)
            return false;
        v = v * 64 + (size_t)(d - digits);
    }
    *value = v;
    return true;
}

enum { MAX_BLOCK_LINES = 4096 };

static semb_status parse_block(const char *text, size_t len, corpus_dictd_style style,
                               corpus_pairs *pairs, line_span *lines, corpus_buffer *headword,
                               corpus_buffer *def, semb_error *err)
{
    size_t count = split_lines(text, len, lines, MAX_BLOCK_LINES);
    while (count && is_blank(lines[0]))
        lines++, count--;
    if (count == 0)
        return SEMB_OK;
    if (style == CORPUS_DICTD_PLAIN)
        return plain_entry(lines, count, pairs, def, err);
    semb_status st = gcide_main_entry(lines, count, pairs, headword, def, err);
    return st ? st : gcide_compounds(lines, count, pairs, headword, def, err);
}

semb_status corpus_read_dictd(const char *index_path, const char *dict_path,
                              corpus_dictd_style style, corpus_pairs *pairs, semb_error *err)
{
    corpus_buffer index, dict = {0}, headword = {0}, def = {0};
    corpus_hash_set blocks = {0};
    semb_status st = corpus_read_file(index_path, &index, err);
    if (!st)
        st = corpus_read_file(dict_path, &dict, err);
    line_span *lines = st ? NULL : malloc(MAX_BLOCK_LINES * sizeof *lines);
    if (!st && !lines)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    size_t line_no = 0;
    for (char *line = index.data; !st && line < index.data + index.size;) {
        char *nl = memchr(line, '\n', index.size - (size_t)(line - index.data));
        size_t n = nl ? (size_t)(nl - line) : index.size - (size_t)(line - index.data);
        line_no++;
        char *tab1 = memchr(line, '\t', n);
        char *tab2 = tab1 ? memchr(tab1 + 1, '\t', n - (size_t)(tab1 + 1 - line)) : NULL;
        size_t offset, length;
        char *end = tab2 ? memchr(tab2 + 1, '\t', n - (size_t)(tab2 + 1 - line)) : NULL;
        if (!end)
            end = line + n;
        if (n > 0 && (!tab2 || !decode_b64(tab1 + 1, (size_t)(tab2 - tab1 - 1), &offset) ||
                      !decode_b64(tab2 + 1, (size_t)(end - tab2 - 1), &length))) {
            st = semb_fail(err, SEMB_ERR_FORMAT,
                           "%s:%zu: not a dictd index line (headword TAB offset TAB length)",
                           index_path, line_no);
        } else if (n > 0 && (offset > dict.size || length > dict.size - offset)) {
            st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: entry at %zu+%zu is past the end of %s",
                           index_path, line_no, offset, length, dict_path);
        } else if (n > 0 && strncmp(line, "00-database", 11) != 0 &&
                   strncmp(line, "00database", 10) != 0) {
            bool added = false;
            st = corpus_hash_set_add(&blocks, rng_hash_u64(offset, length), &added, err);
            if (!st && added)
                st = parse_block(dict.data + offset, length, style, pairs, lines, &headword, &def,
                                 err);
        }
        line = nl ? nl + 1 : index.data + index.size;
    }
    free(lines);
    corpus_hash_set_free(&blocks);
    corpus_buffer_free(&headword);
    corpus_buffer_free(&def);
    corpus_buffer_free(&dict);
    corpus_buffer_free(&index);
    return st;
}
