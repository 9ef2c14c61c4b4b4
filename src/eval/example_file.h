/* A whole file of evaluation examples (pairs or triplets) read into memory, through the
 * training data parser (train/example_parse.h): JSONL objects {"anchor", "positive",
 * "negative"}, JSONL lists ["a", "p", "n"], or TSV (an anchor<TAB>positive... header on line
 * 1 skipped). */
#ifndef SEMB_EVAL_EXAMPLE_FILE_H
#define SEMB_EVAL_EXAMPLE_FILE_H

#include <stddef.h>

#include "semb.h"

#define EXAMPLE_FILE_MAX_COLUMNS 3

/* columns[c][i]: text c (anchor, positive, first negative) of example i, malloc'd. */
typedef struct example_file {
    int n_columns;
    char **columns[EXAMPLE_FILE_MAX_COLUMNS];
    size_t count, capacity;
} example_file;

/* Reads the first n_columns (2 or 3) texts of every example of path. Blank lines are
 * skipped; a line that is not an example with at least n_columns texts (a missing
 * "negative", an empty text, bad JSON, invalid UTF-8) is an error naming file:line
 * (SEMB_ERR_FORMAT), as is a file without examples; SEMB_ERR_IO when it cannot be read. On
 * failure *out is empty. */
semb_status example_file_read(const char *path, int n_columns, example_file *out,
                              semb_error *err);

void example_file_free(example_file *file);

#endif
