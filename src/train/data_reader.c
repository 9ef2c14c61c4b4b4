#include "train/data_reader.h"

#include <ctype.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

static void warn(const data_reader *r, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

static void warn(const data_reader *r, const char *fmt, ...)
{
    if (!r->options.warn)
        return;
    char message[SEMB_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    r->options.warn(r->options.warn_user, message);
}

static void warn_summary(const data_reader *r)
{
    if (!r->skipped && !r->blank)
        return;
    char bad[160] = "", blanks[64] = "";
    if (r->skipped)
        snprintf(bad, sizeof bad, "%llu of %llu lines%s", (unsigned long long)r->skipped,
                 (unsigned long long)r->lines,
                 r->skipped > DATA_READER_REPORTED ? " (the first 5 listed above)" : "");
    if (r->blank)
        snprintf(blanks, sizeof blanks, "%s%llu blank line%s", r->skipped ? " and " : "",
                 (unsigned long long)r->blank, r->blank == 1 ? "" : "s");
    warn(r, "%s: skipped %s%s; training on %llu examples", r->path, bad, blanks,
         (unsigned long long)r->examples);
}

static bool blank(const char *s, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isspace((unsigned char)s[i]))
            return false;
    return true;
}

/* A skipped line: counted and kept for the report during the first pass (live: warned at
 * once), fatal when strict. */
static semb_status skip_line(data_reader *r, uint64_t line, const char *why, bool live,
                             semb_error *err)
{
    if (r->options.strict)
        return semb_fail(err, SEMB_ERR_INPUT, "%s:%llu: %s (--strict)", r->path,
                         (unsigned long long)line, why);
    if (r->counts_final)
        return SEMB_OK;
    if (r->skipped < DATA_READER_REPORTED) {
        snprintf(r->skipped_where[r->skipped], sizeof r->skipped_where[0], "%s:%llu: %s",
                 r->path, (unsigned long long)line, why);
        if (live)
            warn(r, "%s; line skipped", r->skipped_where[r->skipped]);
    }
    r->skipped++;
    return SEMB_OK;
}

/* Whether a parsed line is usable here: its number of negatives is the file's. */
static bool same_width(data_reader *r, const example_view *ex, uint64_t line, char *why,
                       size_t why_size)
{
    int k = ex->n_texts - 2;
    if (r->n_negatives < 0) {
        r->n_negatives = k;
        r->first_line = line;
        return true;
    }
    if (k == r->n_negatives)
        return true;
    snprintf(why, why_size, "%d negative%s, but the first example (line %llu) has %d; every line "
             "needs the same number", k, k == 1 ? "" : "s", (unsigned long long)r->first_line,
             r->n_negatives);
    return false;
}

/* The next usable example, skipping (and in the first pass counting) the rest. */
static semb_status read_example(data_reader *r, example_view *ex, source_line *at, bool live,
                                bool *end, semb_error *err)
{
    *end = false;
    if (r->at_end) {
        *end = true;
        return SEMB_OK;
    }
    char why[200];
    for (;;) {
        source_line line;
        semb_status st = line_source_next(r->source, &line, end, err);
        if (st)
            return st;
        if (*end) {
            r->at_end = true;
            if (!r->counts_final && live)
                warn_summary(r);
            r->counts_final = true;
            return SEMB_OK;
        }
        if (!line.too_long && blank(line.text, line.length)) {
            if (!r->counts_final)
                r->blank++;
            continue;
        }
        if (!r->format_known) {
            r->parser.format = data_format_detect(r->path, line.text, line.too_long ? 0 : line.length);
            r->format_known = true;
        }
        if (line.number == 1 && r->parser.format == DATA_FORMAT_TSV && !line.too_long &&
            example_is_tsv_header(line.text, line.length))
            continue;
        if (!r->counts_final)
            r->lines++;
        bool ok;
        if (line.too_long) {
            snprintf(why, sizeof why, "line of %zu bytes is longer than --max-line-bytes %zu",
                     line.length, r->options.max_line_bytes);
            ok = false;
        } else {
            ok = example_parse(&r->parser, line.text, line.length, ex, why, sizeof why) &&
                 same_width(r, ex, line.number, why, sizeof why);
        }
        if (!ok) {
            if ((st = skip_line(r, line.number, why, live, err)))
                return st;
            continue;
        }
        if (!r->counts_final)
            r->examples++;
        *at = line;
        return SEMB_OK;
    }
}

semb_status data_reader_next(data_reader *r, example_view *ex, uint64_t *offset, uint64_t *line,
                             bool *end, semb_error *err)
{
    source_line at;
    semb_status st = read_example(r, ex, &at, true, end, err);
    if (!st && !*end) {
        *offset = at.offset;
        *line = at.number;
    }
    return st;
}

semb_status data_reader_rewind(data_reader *r, semb_error *err)
{
    semb_status st = line_source_seek(r->source, 0, 1, err);
    if (!st) {
        r->pass++;
        r->at_end = false;
    }
    return st;
}

static void reset_counts(data_reader *r)
{
    r->lines = r->skipped = r->examples = r->blank = 0;
    memset(r->skipped_where, 0, sizeof r->skipped_where);
}

/* The check before training: see data_reader_open. */
static semb_status scan_start(data_reader *r, uint64_t min_examples, semb_error *err)
{
    bool end = false;
    while (r->examples < min_examples || r->examples == 0) {
        example_view ex;
        source_line at;
        semb_status st = read_example(r, &ex, &at, false, &end, err);
        if (st)
            return st;
        if (end)
            break;
    }
    if (end && r->examples == 0 && r->lines == 0)
        return semb_fail(err, SEMB_ERR_INPUT, "%s: no training examples: the file %s", r->path,
                         line_source_tell(r->source, NULL) ? "holds only blank lines" : "is empty");
    if (end && r->examples == 0)
        return semb_fail(err, SEMB_ERR_INPUT,
                         "%s: no usable training examples: all %llu line%s skipped; first: %s",
                         r->path, (unsigned long long)r->lines, r->lines == 1 ? "" : "s",
                         r->skipped_where[0]);
    if (end) { /* the whole file is known: report it now, and never again */
        for (uint64_t i = 0; i < r->skipped && i < DATA_READER_REPORTED; i++)
            warn(r, "%s; line skipped", r->skipped_where[i]);
        warn_summary(r);
    } else {
        reset_counts(r); /* the first pass counts (and reports) from the first line */
    }
    r->at_end = false;
    return line_source_seek(r->source, 0, 1, err);
}

semb_status data_reader_open(const char *path, const data_reader_options *options,
                             uint64_t min_examples, data_reader **out, semb_error *err)
{
    *out = NULL;
    data_reader *r = calloc(1, sizeof *r);
    if (!r || !(r->path = strdup(path))) {
        free(r);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    r->options = *options;
    r->n_negatives = -1;
    semb_status st = line_source_open(path, options->max_line_bytes, &r->source, err);
    if (!st)
        st = scan_start(r, min_examples, err);
    if (st) {
        data_reader_close(r);
        return st;
    }
    *out = r;
    return SEMB_OK;
}

semb_status data_reader_read_at(data_reader *r, uint64_t offset, uint64_t line, example_view *ex,
                                semb_error *err)
{
    source_line got;
    bool end;
    semb_status st = line_source_seek(r->source, offset, line, err);
    if (!st)
        st = line_source_next(r->source, &got, &end, err);
    if (st)
        return st;
    char why[200];
    if (end || got.too_long ||
        !example_parse(&r->parser, got.text, got.length, ex, why, sizeof why) ||
        ex->n_texts - 2 != r->n_negatives)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%llu: no longer the example the checkpoint "
                         "holds (has the file changed?)", r->path, (unsigned long long)line);
    return SEMB_OK;
}

/* --- state ------------------------------------------------------------------------------ */

semb_status data_reader_state_save(const data_reader *r, json_t *obj, semb_error *err)
{
    uint64_t number, offset = line_source_tell(r->source, &number);
    json_t *where = json_array();
    for (uint64_t i = 0; where && i < r->skipped && i < DATA_READER_REPORTED; i++)
        json_array_append_new(where, json_string(r->skipped_where[i]));
    if (!where || json_object_update_new(obj, json_pack(
            "{s:s, s:i, s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:b, s:o}", "path", r->path,
            "negatives", r->n_negatives, "first_line", (json_int_t)r->first_line,
            "offset", (json_int_t)offset, "line", (json_int_t)number, "at_end", r->at_end,
            "pass", (json_int_t)r->pass, "lines", (json_int_t)r->lines,
            "skipped", (json_int_t)r->skipped, "examples", (json_int_t)r->examples,
            "counts_final", r->counts_final, "skipped_where", where)) ||
        json_object_set_new(obj, "blank", json_integer((json_int_t)r->blank)))
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory saving the data position");
    return SEMB_OK;
}

semb_status data_reader_state_restore(data_reader *r, const json_t *obj, semb_error *err)
{
    int negatives, at_end, counts_final;
    json_int_t first_line, offset, line, pass, lines, skipped, examples, blank_lines = 0;
    json_t *where;
    json_error_t jerr;
    if (json_unpack_ex((json_t *)obj, &jerr, 0,
                       "{s:i, s:I, s:I, s:I, s:b, s:I, s:I, s:I, s:I, s:b, s:o, s?I}",
                       "negatives", &negatives, "first_line", &first_line, "offset", &offset,
                       "line", &line, "at_end", &at_end, "pass", &pass, "lines", &lines,
                       "skipped", &skipped, "examples", &examples, "counts_final",
                       &counts_final, "skipped_where", &where, "blank", &blank_lines) ||
        offset < 0 || line < 1 || pass < 0 || lines < 0 || skipped < 0 || examples < 0 ||
        blank_lines < 0 ||
        !json_is_array(where))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: saved data position: %s", r->path,
                         jerr.text[0] ? jerr.text : "a value out of range");
    if (negatives != r->n_negatives)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: saved with %d negatives per example, the file "
                         "now has %d (has it changed?)", r->path, negatives, r->n_negatives);
    semb_status st = line_source_seek(r->source, (uint64_t)offset, (uint64_t)line, err);
    if (st)
        return st;
    r->first_line = (uint64_t)first_line;
    r->at_end = at_end;
    r->pass = (uint64_t)pass;
    r->lines = (uint64_t)lines;
    r->skipped = (uint64_t)skipped;
    r->examples = (uint64_t)examples;
    r->blank = (uint64_t)blank_lines; /* checkpoints from before it was counted: 0 */
    r->counts_final = counts_final;
    memset(r->skipped_where, 0, sizeof r->skipped_where);
    for (size_t i = 0; i < json_array_size(where) && i < DATA_READER_REPORTED; i++) {
        const char *s = json_string_value(json_array_get(where, i));
        snprintf(r->skipped_where[i], sizeof r->skipped_where[i], "%s", s ? s : "");
    }
    return SEMB_OK;
}

void data_reader_close(data_reader *r)
{
    if (!r)
        return;
    line_source_close(r->source);
    example_parser_free(&r->parser);
    free(r->path);
    free(r);
}
