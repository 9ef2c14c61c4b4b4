/* The documents of an index, one at a time, from a corpus file or from texts in memory.
 *
 * Files: "text" is one document a line ("\n" or "\r\n" ends it; blank lines are skipped);
 * "jsonl" is one JSON value a line: a string, or an object with a string "text", an optional
 * string "title" (the document is then title + " " + text with ASCII whitespace stripped at
 * both ends, as BEIR evaluation joins them) and an optional "id" or "_id" (string or
 * integer). Blank lines are skipped. Anything else, invalid UTF-8 or a NUL byte is an error
 * naming file:line. A document without an id gets its line number. In memory: texts[i] is
 * document i (position i + 1 in messages), its id ids[i] or else the number i. Files may be
 * gzip- or zstd-compressed (io/line_source). */
#ifndef SEMB_INDEX_CORPUS_READER_H
#define SEMB_INDEX_CORPUS_READER_H

#include <stdbool.h>
#include <stddef.h>

#include "io/line_source.h"
#include "semb.h"

typedef struct corpus_document {
    const char *text; /* NUL-terminated; valid until the next call */
    size_t length;
    const char *id;   /* NUL-terminated; valid until the next call */
    bool id_given;    /* the source named an id (not a line number or position) */
    bool id_integer;  /* the id is an integer */
    size_t line;      /* 1-based line of the file, or position + 1 in memory */
} corpus_document;

typedef struct corpus_reader {
    const char *name; /* path, or "<texts>" */
    line_source *file;
    bool jsonl;
    const char *const *texts; /* memory source */
    const size_t *lengths;
    const char *const *ids;
    size_t n_texts, next_text;
    char *text, *id;
    size_t text_cap, id_cap, line_no;
} corpus_reader;

/* Opens a corpus file; format "text" or "jsonl" (NULL: text). Errors: SEMB_ERR_INVALID_ARG
 * for another format, SEMB_ERR_IO naming path, SEMB_ERR_FORMAT for a .gz or .zst name whose
 * bytes are not gzip or zstd. */
semb_status corpus_reader_open(corpus_reader *r, const char *path, const char *format,
                               semb_error *err);

/* Reads n in-memory texts (lengths and ids may be NULL); nothing is copied. */
void corpus_reader_open_memory(corpus_reader *r, const char *const *texts,
                               const size_t *lengths, const char *const *ids, size_t n);

/* The next document into *doc, *got false at the end. Errors name name:line. */
semb_status corpus_reader_next(corpus_reader *r, corpus_document *doc, bool *got,
                               semb_error *err);

/* Back to the first document. */
semb_status corpus_reader_rewind(corpus_reader *r, semb_error *err);

void corpus_reader_close(corpus_reader *r);

#endif
