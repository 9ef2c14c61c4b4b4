#include "text/bert_normalizer.h"

#include <stdlib.h>
#include <utf8proc.h>

#include "core/error.h"
#include "text/unicode_chars.h"

/* NFD puts each run of combining characters (non-zero combining class) in stable
 * combining-class order. Nonspacing marks are dropped afterwards, so only the few spacing
 * marks with a combining class need holding back and sorting; a run longer than this many
 * of them is sorted in chunks. */
#define MARK_RUN_MAX 32

/* Upper bound of the bytes one input character (plus a held-back mark run) can produce. */
#define MAX_OUTPUT_PER_CHAR (64 + 8 * MARK_RUN_MAX)

#define LATIN_CAPITAL_I_WITH_DOT 0x130
#define COMBINING_DOT_ABOVE 0x307

typedef struct output {
    char *data;
    size_t length, capacity;
} output;

typedef struct mark_run {
    int32_t code_points[MARK_RUN_MAX];
    uint8_t classes[MARK_RUN_MAX];
    int count;
} mark_run;

void bert_normalizer_init(bert_normalizer *n, bool clean_text, bool handle_chinese_chars,
                          bool strip_accents, bool lowercase)
{
    n->clean_text = clean_text;
    n->handle_chinese_chars = handle_chinese_chars;
    n->strip_accents = strip_accents;
    n->lowercase = lowercase;
    for (int c = 0; c < 128; c++) {
        int16_t mapped = (int16_t)c;
        if (clean_text && (c == 0 || unicode_is_bert_control(c)))
            mapped = -1;
        else if (clean_text && unicode_is_whitespace(c))
            mapped = ' ';
        else if (lowercase && c >= 'A' && c <= 'Z')
            mapped = (int16_t)(c - 'A' + 'a');
        n->ascii_map[c] = mapped;
    }
}

static semb_status reserve(output *o, size_t size, semb_error *err)
{
    if (size <= o->capacity)
        return SEMB_OK;
    size_t capacity = o->capacity ? o->capacity : 256;
    while (capacity < size)
        capacity *= 2;
    char *data = realloc(o->data, capacity);
    if (!data)
        return semb_fail(err, SEMB_ERR_NOMEM, "tokenizer: cannot grow the text buffer to %zu bytes",
                         capacity);
    o->data = data;
    o->capacity = capacity;
    return SEMB_OK;
}

static void emit_lowercased(const bert_normalizer *n, int32_t cp, output *o)
{
    if (n->lowercase) {
        /* Rust's char::to_lowercase is the full mapping: the one unconditional
         * multi-character lowercase mapping in SpecialCasing is U+0130. */
        if (cp == LATIN_CAPITAL_I_WITH_DOT) {
            o->data[o->length++] = 'i';
            o->length += utf8_encode(COMBINING_DOT_ABOVE, o->data + o->length);
            return;
        }
        cp = utf8proc_tolower(cp);
    }
    o->length += utf8_encode(cp, o->data + o->length);
}

static void flush_marks(const bert_normalizer *n, mark_run *run, output *o)
{
    /* Insertion sort: stable, and runs are tiny. */
    for (int i = 1; i < run->count; i++) {
        int32_t cp = run->code_points[i];
        uint8_t cls = run->classes[i];
        int j = i;
        for (; j > 0 && run->classes[j - 1] > cls; j--) {
            run->code_points[j] = run->code_points[j - 1];
            run->classes[j] = run->classes[j - 1];
        }
        run->code_points[j] = cp;
        run->classes[j] = cls;
    }
    for (int i = 0; i < run->count; i++)
        emit_lowercased(n, run->code_points[i], o);
    run->count = 0;
}

/* One code point of the NFD output: nonspacing marks go, spacing marks with a combining
 * class wait in the run for reordering, the rest is lowercased and written. */
static void emit_decomposed(const bert_normalizer *n, int32_t cp, mark_run *run, output *o)
{
    int combining_class = utf8proc_get_property(cp)->combining_class;
    if (combining_class == 0) {
        if (run->count)
            flush_marks(n, run, o);
        if (!unicode_is_nonspacing_mark(cp))
            emit_lowercased(n, cp, o);
        return;
    }
    if (unicode_is_nonspacing_mark(cp))
        return;
    if (run->count == MARK_RUN_MAX)
        flush_marks(n, run, o);
    run->code_points[run->count] = cp;
    run->classes[run->count] = (uint8_t)combining_class;
    run->count++;
}

static void emit_accents_and_case(const bert_normalizer *n, int32_t cp, mark_run *run,
                                  output *o)
{
    if (!n->strip_accents) {
        emit_lowercased(n, cp, o);
        return;
    }
    utf8proc_int32_t decomposed[8];
    int boundclass = 0;
    utf8proc_ssize_t count =
        utf8proc_decompose_char(cp, decomposed, 8, UTF8PROC_DECOMPOSE, &boundclass);
    if (count < 1 || count > 8) {
        /* Not reachable for valid scalar values (canonical decompositions have at most 4
         * code points); keeping the character is the safe answer. */
        decomposed[0] = cp;
        count = 1;
    }
    for (utf8proc_ssize_t i = 0; i < count; i++)
        emit_decomposed(n, decomposed[i], run, o);
}

static void emit_space(const bert_normalizer *n, mark_run *run, output *o)
{
    if (run->count)
        flush_marks(n, run, o);
    o->data[o->length++] = ' ';
}

static void normalize_code_point(const bert_normalizer *n, int32_t cp, mark_run *run, output *o)
{
    if (n->clean_text) {
        if (cp == 0xfffd || unicode_is_bert_control(cp))
            return;
        if (unicode_is_whitespace(cp)) {
            emit_space(n, run, o);
            return;
        }
    }
    if (n->handle_chinese_chars && unicode_is_cjk_ideograph(cp)) {
        emit_space(n, run, o);
        emit_accents_and_case(n, cp, run, o);
        emit_space(n, run, o);
        return;
    }
    emit_accents_and_case(n, cp, run, o);
}

semb_status bert_normalize(const bert_normalizer *n, const char *text, size_t length,
                           char **out, size_t *out_capacity, size_t *out_length,
                           semb_error *err)
{
    const unsigned char *s = (const unsigned char *)text;
    output o = {*out, 0, *out_capacity};
    mark_run run;
    run.count = 0;
    /* Invariant: room for the rest of the input at one byte per byte (what ASCII needs),
     * re-established before each non-ASCII character. */
    semb_status st = reserve(&o, length + 1, err);
    size_t i = 0;
    while (!st && i < length) {
        if (s[i] < 0x80) {
            if (run.count)
                flush_marks(n, &run, &o);
            do {
                int16_t mapped = n->ascii_map[s[i++]];
                o.data[o.length] = (char)mapped;
                o.length += mapped >= 0;
            } while (i < length && s[i] < 0x80);
            continue;
        }
        st = reserve(&o, o.length + MAX_OUTPUT_PER_CHAR + (length - i), err);
        if (st)
            break;
        size_t size;
        int32_t cp = utf8_decode_valid(s + i, &size);
        i += size;
        normalize_code_point(n, cp, &run, &o);
    }
    if (!st && run.count)
        flush_marks(n, &run, &o);
    *out = o.data;
    *out_capacity = o.capacity;
    *out_length = st ? 0 : o.length;
    return st;
}
