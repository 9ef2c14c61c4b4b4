/* One training example from one line of a data file, in one of three layouts:
 *   JSONL object  {"anchor": "...", "positive": "...", "negative": "..." or ["...", ...]}
 *   JSONL list    ["anchor", "positive", "negative", ...]  (the 1B-pairs recipe's files)
 *   TSV           anchor<TAB>positive[<TAB>negative...]
 * Every text must be non-empty after trimming whitespace and valid UTF-8. A line that is not
 * usable gets a one-line reason (kept short: it is printed after "FILE:LINE: "). */
#ifndef SEMB_TEXT_EXAMPLE_PARSE_H
#define SEMB_TEXT_EXAMPLE_PARSE_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

/* anchor + positive + up to 64 hard negatives */
#define EXAMPLE_MAX_TEXTS 66

typedef enum data_format { DATA_FORMAT_JSONL, DATA_FORMAT_TSV } data_format;

typedef struct example_parser {
    data_format format;
    json_t *json; /* the last JSONL line, which the texts point into */
    char *copy;   /* the last TSV line, split in place */
    size_t copy_cap;
} example_parser;

typedef struct example_view {
    int n_texts; /* anchor, positive, then negatives */
    const char *texts[EXAMPLE_MAX_TEXTS];
    size_t lengths[EXAMPLE_MAX_TEXTS];
} example_view;

/* The layout of a file: by its name (.jsonl/.json/.ndjson or .tsv/.tab, before a .gz or .zst),
 * else by its first non-blank line (starting with '{' or '[': JSONL; else TSV). */
data_format data_format_detect(const char *path, const char *first_line, size_t length);

/* Parses line[0..length) into *out (texts valid until the next call on p, or its free).
 * Returns false with a reason in why for an unusable line; never fails otherwise (out of
 * memory reads as an unusable line naming it). */
bool example_parse(example_parser *p, const char *line, size_t length, example_view *out,
                   char *why, size_t why_size);

void example_parser_free(example_parser *p);

/* A TSV header line: columns named anchor, positive and negative (any case). */
bool example_is_tsv_header(const char *line, size_t length);

#endif
