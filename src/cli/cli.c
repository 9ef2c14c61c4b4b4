#include "cli.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/line_source.h"
#include "text/utf8.h"

static void print_help(const char *command, const char *synopsis, const cli_option *options,
                       size_t n)
{
    printf("usage: semb %s %s\n\noptions:\n", command, synopsis);
    for (size_t i = 0; i < n; i++) {
        const char *arg = options[i].kind == CLI_STRING ? " VALUE"
                          : options[i].kind == CLI_INT  ? " N"
                          : options[i].kind == CLI_FLOAT ? " X"
                                                         : "";
        char left[64];
        snprintf(left, sizeof left, "%s%s", options[i].name, arg);
        printf("  %-24s %s\n", left, options[i].help);
    }
    printf("  %-24s %s\n", "--help", "show this help");
}

int cli_parse(int argc, char **argv, const char *command, const char *synopsis,
              const cli_option *options, size_t n_options, char ***positional,
              size_t *n_positional)
{
    if (positional) {
        *positional = calloc((size_t)argc + 1, sizeof **positional);
        *n_positional = 0;
    }
    for (int i = 1; i < argc; i++) {
        const char *arg = argv[i];
        if (strcmp(arg, "--help") == 0 || strcmp(arg, "-h") == 0) {
            print_help(command, synopsis, options, n_options);
            return 1;
        }
        const cli_option *opt = NULL;
        for (size_t k = 0; k < n_options; k++)
            if (strcmp(options[k].name, arg) == 0)
                opt = &options[k];
        /* a table entry may be a short option ("-k"); other single-dash words are positional */
        if (!opt && (strncmp(arg, "--", 2) != 0 || strcmp(arg, "-") == 0)) {
            if (!positional) {
                fprintf(stderr, "semb %s: unexpected argument '%s' (see --help)\n", command, arg);
                return 2;
            }
            (*positional)[(*n_positional)++] = argv[i];
            continue;
        }
        if (!opt) {
            fprintf(stderr, "semb %s: unknown option '%s' (see --help)\n", command, arg);
            return 2;
        }
        if (opt->kind == CLI_FLAG) {
            *(bool *)opt->target = true;
            continue;
        }
        if (i + 1 >= argc) {
            fprintf(stderr, "semb %s: option '%s' needs a value\n", command, arg);
            return 2;
        }
        const char *value = argv[++i];
        char *end = NULL;
        errno = 0;
        if (opt->kind == CLI_STRING) {
            *(const char **)opt->target = value;
        } else if (opt->kind == CLI_INT) {
            long v = strtol(value, &end, 10);
            if (errno || *end || end == value || v < -2147483647L || v > 2147483647L) {
                fprintf(stderr, "semb %s: option '%s': '%s' is not an integer\n", command, arg,
                        value);
                return 2;
            }
            *(int *)opt->target = (int)v;
        } else {
            double v = strtod(value, &end);
            if (errno || *end || end == value) {
                fprintf(stderr, "semb %s: option '%s': '%s' is not a number\n", command, arg,
                        value);
                return 2;
            }
            *(double *)opt->target = v;
        }
    }
    return 0;
}

int cli_fail(const char *command, const semb_error *err)
{
    fprintf(stderr, "semb %s: %s\n", command, err->message[0] ? err->message : "failed");
    return 1;
}

int cli_failf(const char *command, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    fprintf(stderr, "semb %s: ", command);
    vfprintf(stderr, fmt, ap);
    fputc('\n', stderr);
    va_end(ap);
    return 1;
}

void cli_set_threads(int threads)
{
    semb_set_threads(threads);
}

int cli_precision(const char *command, const char *name, semb_compute_precision *out)
{
    if (semb_compute_precision_from_name(name ? name : "fp32", out, NULL) == SEMB_OK)
        return 0;
    return cli_failf(command, "--precision: '%s' is not fp32, bf16 or int8", name), 2;
}

void cli_input_free(cli_input *in)
{
    if (in->texts)
        for (size_t i = 0; i < in->count; i++)
            free(in->texts[i]);
    free(in->texts);
    free(in->lengths);
    free(in->line_numbers);
    memset(in, 0, sizeof *in);
}

static semb_status append_text(cli_input *in, size_t *cap, char *text, size_t len, size_t line,
                               semb_error *err)
{
    if (in->count == *cap) {
        size_t n = *cap ? *cap * 2 : 1024;
        char **t = realloc(in->texts, n * sizeof *t);
        if (t)
            in->texts = t;
        size_t *l = realloc(in->lengths, n * sizeof *l);
        if (l)
            in->lengths = l;
        size_t *ln = realloc(in->line_numbers, n * sizeof *ln);
        if (ln)
            in->line_numbers = ln;
        if (!t || !l || !ln) {
            free(text);
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading the input");
        }
        *cap = n;
    }
    in->texts[in->count] = text;
    in->lengths[in->count] = len;
    in->line_numbers[in->count] = line;
    in->count++;
    return SEMB_OK;
}

static semb_status parse_line(const char *name, bool jsonl, const char *line, size_t len,
                              size_t line_no, cli_input *in, size_t *cap, semb_error *err)
{
    if (len && line[len - 1] == '\r')
        len--;
    if (!jsonl) {
        size_t bad;
        if (!utf8_validate(line, len, &bad))
            return semb_fail(err, SEMB_ERR_INPUT, "%s: line %zu: invalid UTF-8 at byte %zu", name,
                             line_no, bad + 1);
        char *copy = malloc(len + 1);
        if (!copy)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading the input");
        memcpy(copy, line, len);
        copy[len] = '\0';
        return append_text(in, cap, copy, len, line_no, err);
    }
    if (len == 0)
        return SEMB_OK; /* blank lines between JSON values carry nothing */
    json_error_t jerr;
    json_t *v = json_loadb(line, len, JSON_DECODE_ANY, &jerr);
    if (!v || !json_is_string(v)) {
        json_decref(v);
        return semb_fail(err, SEMB_ERR_INPUT, "%s: line %zu: expected a JSON string%s%s", name,
                         line_no, v ? "" : ": ", v ? "" : jerr.text);
    }
    size_t n = json_string_length(v);
    char *copy = malloc(n + 1);
    if (copy) {
        memcpy(copy, json_string_value(v), n);
        copy[n] = '\0';
    }
    json_decref(v);
    if (!copy)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading the input");
    return append_text(in, cap, copy, n, line_no, err);
}

semb_status cli_read_input(const char *path, const char *format, cli_input *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    bool jsonl = format && strcmp(format, "jsonl") == 0;
    if (format && !jsonl && strcmp(format, "text") != 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "--input-format: '%s' is not one of text, jsonl", format);
    bool use_stdin = !path || strcmp(path, "-") == 0;
    const char *name = use_stdin ? "<stdin>" : path;
    line_source *source;
    semb_status st = use_stdin ? line_source_open_stream(stdin, name, LINE_SOURCE_NO_LIMIT,
                                                         &source, err)
                               : line_source_open(path, LINE_SOURCE_NO_LIMIT, &source, err);
    if (st)
        return st;
    size_t cap = 0;
    source_line line;
    bool end = false;
    while (!st && !(st = line_source_next(source, &line, &end, err)) && !end) {
        if (memchr(line.text, '\0', line.length))
            st = semb_fail(err, SEMB_ERR_INPUT, "%s: line %zu: contains a NUL byte", name,
                           (size_t)line.number);
        else
            st = parse_line(name, jsonl, line.text, line.length, (size_t)line.number, out, &cap,
                            err);
    }
    line_source_close(source);
    if (!st && out->count == 0)
        st = semb_fail(err, SEMB_ERR_INPUT, "%s: no input sentences", name);
    if (st)
        cli_input_free(out);
    return st;
}

void cli_print_json_string(const char *s)
{
    json_t *j = json_string(s);
    char *text = j ? json_dumps(j, JSON_ENCODE_ANY) : NULL;
    fputs(text ? text : "null", stdout);
    free(text);
    json_decref(j);
}
