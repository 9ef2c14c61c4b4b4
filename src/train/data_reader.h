/* One training data file read as a stream of examples, pass after pass, in file order.
 *
 * Every example of a file has the same number of hard negatives (sentence-transformers'
 * columns); the first valid line sets it. A line that cannot be used is skipped and counted:
 * malformed JSON, a missing or non-string field, an empty or whitespace-only text, invalid
 * UTF-8, a line over max_line_bytes, another number of negatives. Blank lines carry nothing:
 * they are skipped and counted apart, never an error, and a TSV header (anchor<TAB>positive...)
 * on line 1 is skipped. With strict, the first skipped line is an error instead.
 *
 * Warnings go through a callback, as text without a prefix: each of the first
 * DATA_READER_REPORTED skipped lines as "FILE:LINE: reason; line skipped", then after the
 * first pass "FILE: skipped S of N lines[ (the first 5 listed above)] and B blank lines;
 * training on E examples" (either part only when non-zero). Later passes read the same
 * lines and say nothing. */
#ifndef SEMB_TRAIN_DATA_READER_H
#define SEMB_TRAIN_DATA_READER_H

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#include "io/line_source.h"
#include "semb.h"
#include "text/example_parse.h"

#define DATA_READER_REPORTED 5

typedef void (*data_warning_fn)(void *user, const char *message);

typedef struct data_reader_options {
    size_t max_line_bytes; /* longer lines are skipped */
    bool strict;           /* the first unusable line is an error */
    data_warning_fn warn;  /* may be NULL: warnings dropped */
    void *warn_user;
} data_reader_options;

typedef struct data_reader {
    char *path;
    data_reader_options options;
    line_source *source;
    example_parser parser;
    bool format_known;
    int n_negatives;
    uint64_t first_line;        /* the line that set n_negatives */
    uint64_t pass;              /* 0 during the first pass */
    bool at_end;                /* this pass has reached the end of the file */
    /* The first pass, counted as it goes; final once that pass has ended. */
    uint64_t lines, skipped, examples;
    uint64_t blank;             /* blank lines, not in `lines` */
    char skipped_where[DATA_READER_REPORTED][320]; /* "FILE:LINE: reason" */
    bool counts_final;
} data_reader;

/* Opens path and checks it before any training: it reads until min_examples usable
 * examples are found (or the end of the file, so a small file is read whole and its
 * warnings given at once), learning the number of negatives, then rewinds. On success
 * *out owns the reader (data_reader_close). When the whole file was read, counts_final is
 * set and examples may be below min_examples: the caller decides whether that is enough.
 * Errors name the file: cannot open or read (SEMB_ERR_IO), corrupt compressed data
 * (SEMB_ERR_FORMAT), no usable line at all or, with strict, an unusable line
 * (SEMB_ERR_INPUT). */
semb_status data_reader_open(const char *path, const data_reader_options *options,
                             uint64_t min_examples, data_reader **out, semb_error *err);

/* The next usable example of this pass into *ex (valid until the next call on r), with the
 * offset and line number of its line. At the end of the file *end is set and stays so until
 * data_reader_rewind. Errors: read errors, and with strict an unusable line. */
semb_status data_reader_next(data_reader *r, example_view *ex, uint64_t *offset, uint64_t *line,
                             bool *end, semb_error *err);

/* Starts the next pass at the first line. */
semb_status data_reader_rewind(data_reader *r, semb_error *err);

/* The example on the line at offset (a position data_reader_next gave), for rebuilding a
 * shuffle buffer. It moves the reader (compressed files read forwards: call it in order of
 * offset, then data_reader_state_restore). SEMB_ERR_FORMAT when that line no longer holds a
 * usable example (the file changed). */
semb_status data_reader_read_at(data_reader *r, uint64_t offset, uint64_t line, example_view *ex,
                                semb_error *err);

/* Position, pass and counts into obj (as JSON fields), and back: a restored reader goes on
 * exactly where the saved one was. Restore fails with SEMB_ERR_FORMAT on missing or
 * malformed fields, or a number of negatives that is not this file's. */
semb_status data_reader_state_save(const data_reader *r, json_t *obj, semb_error *err);
semb_status data_reader_state_restore(data_reader *r, const json_t *obj, semb_error *err);

void data_reader_close(data_reader *r);

#endif
