/* Lines of a text file that may be gzip- or zstd-compressed: every input file semb reads
 * line by line comes through here, so each reader takes .gz and .zst alike. With a line
 * limit the buffer has a fixed size (memory does not grow with the file or its longest
 * line, and longer lines are reported and dropped); with LINE_SOURCE_NO_LIMIT it grows to the
 * longest line, as getline does.
 *
 * The compression is read from the first bytes (gzip 1f 8b, zstd 28 b5 2f fd); a name ending
 * in .gz or .zst whose bytes say otherwise is an error (a truncated download or a mislabeled
 * file). Concatenated gzip members and zstd frames are read through, as gzip -dc does.
 *
 * Positions are offsets in the decompressed stream. A plain file seeks directly; a compressed
 * one can only be decompressed forwards, so seeking backwards restarts at the first byte and
 * seeking forwards decompresses and discards up to the offset (seconds for gigabytes). */
#ifndef SEMB_IO_LINE_SOURCE_H
#define SEMB_IO_LINE_SOURCE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "semb.h"

typedef struct line_source line_source;

typedef struct source_line {
    const char *text;   /* the line without "\n" (a "\r" before it is kept); NULL when too_long */
    size_t length;      /* its length in bytes, also when too_long */
    uint64_t offset;    /* where it starts in the decompressed stream */
    uint64_t number;    /* 1-based line number */
    bool too_long;      /* longer than max_line_bytes: its bytes were read and dropped */
    bool newline;       /* a "\n" ended it (false only for a last line without one) */
} source_line;

/* max_line_bytes for lines of any length. */
#define LINE_SOURCE_NO_LIMIT SIZE_MAX

/* Opens path for reading lines of at most max_line_bytes (> 0, or LINE_SOURCE_NO_LIMIT). On
 * success *out owns the file; close it with line_source_close. Errors (SEMB_ERR_IO: cannot
 * open or read; SEMB_ERR_FORMAT: the name and the bytes disagree) name the file. */
semb_status line_source_open(const char *path, size_t max_line_bytes, line_source **out,
                             semb_error *err);

/* As line_source_open, over an open stream (standard input, a pipe) that stays the caller's:
 * line_source_close does not close it. name stands for it in errors and decides, as a path
 * would, whether the bytes must be gzip or zstd. Nothing is read back, so the stream need not
 * seek; line_source_seek does, and fails with SEMB_ERR_IO on one that cannot. */
semb_status line_source_open_stream(FILE *stream, const char *name, size_t max_line_bytes,
                                    line_source **out, semb_error *err);

/* The next line into *line (valid until the next call on s); *end set, and *line left
 * alone, at the end of the stream. A final line without "\n" is still a line. Errors:
 * SEMB_ERR_IO (read error), SEMB_ERR_FORMAT (corrupt or truncated compressed data, with the
 * decompressed offset reached). */
semb_status line_source_next(line_source *s, source_line *line, bool *end, semb_error *err);

/* Moves to offset, a line start that an earlier source_line reported, whose line number is
 * number. Offset 0 with number 1 rewinds. Errors as line_source_next, and SEMB_ERR_FORMAT
 * when the stream ends before offset (the file changed). */
semb_status line_source_seek(line_source *s, uint64_t offset, uint64_t number, semb_error *err);

/* Offset and line number of the next line line_source_next would return. */
uint64_t line_source_tell(const line_source *s, uint64_t *number);

/* "plain", "gzip" or "zstd". */
const char *line_source_compression(const line_source *s);

/* Closes the file (not a stream given to line_source_open_stream) and frees s; NULL is fine. */
void line_source_close(line_source *s);

/* Counts the non-blank lines of a file (decompressing it) in one streaming pass. */
semb_status line_source_count_lines(const char *path, uint64_t *count, semb_error *err);

#endif
