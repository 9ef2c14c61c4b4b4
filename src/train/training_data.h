/* Training examples from a JSONL file: one object per line, {"anchor": ..., "positive": ...}
 * with an optional "negative" (a string or a list of strings). Every example of a file has
 * the same number of hard negatives (sentence-transformers' columns); the first valid line
 * sets it.
 *
 * Recoverable lines are skipped and counted, with the first few file:line locations kept for
 * the report: malformed JSON, a missing or non-string field, an empty or whitespace-only
 * text, invalid UTF-8, a different number of negatives. Blank lines are ignored. A file that
 * cannot be read, or that yields no example (empty, or every line skipped), is an error whose
 * message names the file (and the first skipped line). */
#ifndef SEMB_TRAIN_TRAINING_DATA_H
#define SEMB_TRAIN_TRAINING_DATA_H

#include <stddef.h>

#include "semb.h"

#define TRAINING_DATA_REPORTED 5

typedef struct training_data {
    char **texts;        /* example i's texts at [i * (2 + n_negatives) ...]: anchor, positive, negatives */
    size_t n_examples;
    int n_negatives;
    size_t n_lines;      /* non-blank lines read */
    size_t skipped;      /* of those, lines skipped */
    char skipped_where[TRAINING_DATA_REPORTED][320]; /* "file:line: reason" */
} training_data;

semb_status training_data_load(const char *path, training_data *out, semb_error *err);
void training_data_free(training_data *data);

#endif
