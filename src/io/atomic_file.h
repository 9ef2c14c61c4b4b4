/* Nothing half-written, nothing clobbered. An output path is resolved once, then written one
 * of two ways:
 *  - replace: the destination (after following symbolic links: a link stays, its target is
 *    replaced) is a regular file or does not exist yet. The bytes go to an anonymous file in
 *    the destination's folder (O_TMPFILE: a process killed mid-write leaves nothing behind),
 *    which is given a temporary name and renamed over the destination only once complete and
 *    flushed to disk. File systems without O_TMPFILE get a named "DEST.tmp.XXXXXX" instead.
 *    An existing destination keeps its permission bits; a new one is 0644.
 *  - stream: "-" (standard output), /dev/stdout, /dev/stderr, /dev/fd/N, /proc/self/fd/N, a
 *    FIFO, a character or block device. These are written in place as the bytes come (the
 *    special file itself is never replaced); a failed write or flush is an error all the same.
 * A folder, a socket or a missing parent folder is refused. */
#ifndef SEMB_IO_ATOMIC_FILE_H
#define SEMB_IO_ATOMIC_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include "semb.h"

typedef struct atomic_file {
    FILE *fp;         /* write here */
    char *path;       /* the path as given, for messages */
    char *target;     /* the destination after following links (replace mode) */
    char *tmp_path;   /* the visible temporary name (named fallback only), else NULL */
    bool stream;      /* written in place: a pipe, a device, standard output */
    bool spooled;     /* a stream for a seekable writer: fp is a spool for stream_fd */
    int stream_fd;    /* with a spool: the descriptor the spool is copied to at commit */
} atomic_file;

/* Opens path for writing front to back. A stream target receives the bytes as they are
 * written. On failure nothing is created and err names path (a folder, a socket, a missing
 * parent folder, too many levels of links, permissions). */
semb_status atomic_file_open(atomic_file *af, const char *path, semb_error *err);

/* As atomic_file_open, for writers that seek back (a header written last): af->fp is
 * always a seekable regular file. A stream target gets a spool in the temporary folder
 * whose bytes are copied to it at commit. */
semb_status atomic_file_open_seekable(atomic_file *af, const char *path, semb_error *err);

/* Flushes and checks every write. Replace mode: fsyncs, names and renames onto the target
 * (then fsyncs the folder); on any failure the temporary file is removed and the target is
 * untouched. Stream mode: flushes (copies the spool) and closes; a failed write is reported
 * (what reached the stream cannot be taken back). af is released either way. */
semb_status atomic_file_commit(atomic_file *af, semb_error *err);

/* Closes and removes the temporary file, leaving the target untouched (a stream keeps what
 * it was already sent). Safe on a zeroed af. */
void atomic_file_abort(atomic_file *af);

/* Convenience: writes size bytes to path as above. */
semb_status atomic_write_buffer(const char *path, const void *data, size_t size, semb_error *err);

/* True when atomic_file would write path in place as a stream ("-", /dev/stdout, a FIFO, a
 * device, following links): a command whose output goes to standard output then keeps its
 * own report off it. */
bool atomic_file_is_stream(const char *path);

#endif
