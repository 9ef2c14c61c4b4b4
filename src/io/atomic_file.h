/* Nothing half-written: files are written to a temporary name in the same folder and
 * renamed over the destination only once complete and flushed to disk. */
#ifndef SEMB_IO_ATOMIC_FILE_H
#define SEMB_IO_ATOMIC_FILE_H

#include <stddef.h>
#include <stdio.h>

#include "semb.h"

typedef struct atomic_file {
    FILE *fp;       /* write here */
    char *path;     /* final destination */
    char *tmp_path; /* path + ".tmp.XXXXXX" */
} atomic_file;

/* Creates the temporary file. On failure nothing exists on disk and err names path. */
semb_status atomic_file_open(atomic_file *af, const char *path, semb_error *err);

/* Flushes, fsyncs, closes and renames onto path (then fsyncs the folder). On any failure
 * the temporary file is removed and path is untouched. af is released either way. */
semb_status atomic_file_commit(atomic_file *af, semb_error *err);

/* Closes and removes the temporary file, leaving path untouched. Safe on a zeroed af. */
void atomic_file_abort(atomic_file *af);

/* Convenience: writes size bytes atomically. */
semb_status atomic_write_buffer(const char *path, const void *data, size_t size, semb_error *err);

#endif
