#include "eval/example_file.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/line_source.h"
#include "text/example_parse.h"

void example_file_free(example_file *file)
{
    for (int c = 0; c < file->n_columns; c++) {
        for (size_t i = 0; file->columns[c] && i < file->count; i++)
            free(file->columns[c][i]);
        free(file->columns[c]);
    }
    memset(file, 0, sizeof *file);
}

static semb_status append_example(example_file *file, const example_view *view,
                                  semb_error *err)
{
    if (file->count == file->capacity) {
        size_t cap = file->capacity ? 2 * file->capacity : 1024;
        for (int c = 0; c < file->n_columns; c++) {
            char **grown = realloc(file->columns[c], cap * sizeof *grown);
            if (!grown)
                return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading examples");
            file->columns[c] = grown;
        }
        file->capacity = cap;
    }
    for (int c = 0; c < file->n_columns; c++) {
        char *text = malloc(view->lengths[c] + 1);
        if (!text) {
            for (int k = 0; k < c; k++)
                free(file->columns[k][file->count]);
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading examples");
        }
        memcpy(text, view->texts[c], view->lengths[c]);
        text[view->lengths[c]] = '\0';
        file->columns[c][file->count] = text;
    }
    file->count++;
    return SEMB_OK;
}

static const char *column_names[] = {"anchor", "positive", "negative"};

static semb_status parse_line(const char *path, size_t line_no, const char *line,
                              size_t length, example_parser *parser, example_file *file,
                              semb_error *err)
{
    if (parser->format == DATA_FORMAT_TSV && line_no == 1 && example_is_tsv_header(line, length))
        return SEMB_OK;
    example_view view;
    char why[256];
    if (!example_parse(parser, line, length, &view, why, sizeof why))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: %s", path, line_no, why);
    if (view.n_texts < file->n_columns)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s:%zu: no %s text", path, line_no,
                         column_names[view.n_texts]);
    return append_example(file, &view, err);
}

semb_status example_file_read(const char *path, int n_columns, example_file *out,
                              semb_error *err)
{
    memset(out, 0, sizeof *out);
    out->n_columns = n_columns;
    line_source *source;
    semb_status st = line_source_open(path, LINE_SOURCE_NO_LIMIT, &source, err);
    if (st)
        return st;
    example_parser parser = {0};
    bool format_known = false;
    source_line line;
    bool end = false;
    while (!st && !(st = line_source_next(source, &line, &end, err)) && !end) {
        size_t length = line.length;
        while (length && line.text[length - 1] == '\r')
            length--;
        if (!length)
            continue;
        if (!format_known) {
            parser.format = data_format_detect(path, line.text, length);
            format_known = true;
        }
        st = parse_line(path, (size_t)line.number, line.text, length, &parser, out, err);
    }
    line_source_close(source);
    if (!st && out->count == 0)
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: no examples", path);
    example_parser_free(&parser);
    if (st) {
        example_file_free(out);
        out->n_columns = 0;
    }
    return st;
}
