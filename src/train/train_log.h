/* The JSONL log of a training run (--log): one object per line, each with the "step" it
 * belongs to. Every write is checked, so a full disk stops the run with the file named
 * instead of leaving a log with holes; and a resumed run first cuts the log back to the
 * checkpoint it continues from, so that the steps a killed run logged after its last
 * checkpoint (and does again) appear once. */
#ifndef SEMB_TRAIN_TRAIN_LOG_H
#define SEMB_TRAIN_TRAIN_LOG_H

#include <stdio.h>

#include "semb.h"

typedef struct train_log {
    FILE *fp;
    char *path;
} train_log;

/* Opens path for a run that starts after step resume_step. resume_step 0: a fresh run, the
 * file is created or emptied. resume_step > 0: a regular file is first cut back
 * (train_log_truncate), then appended to; anything else (a FIFO, /dev/stdout) is appended
 * to as it is. On success log owns the open file (train_log_close). Errors: SEMB_ERR_IO
 * naming path, train_log_truncate's; log is then zeroed. */
semb_status train_log_open(train_log *log, const char *path, long resume_step, semb_error *err);

/* Rewrites the log at path keeping, in order and byte for byte, the lines whose "step" is at
 * most last_step, through a temporary file renamed over it (a kill at any moment leaves the
 * old log or the new one). A last line without its newline is one the writer died in the
 * middle of: it is dropped. A file that needs no change is left alone; a missing one is no
 * error. Errors: SEMB_ERR_IO naming path; SEMB_ERR_FORMAT "PATH:LINE: ..." for a complete
 * line that is not a JSON object with an integer "step" (not a semb train log: left as it
 * is); SEMB_ERR_NOMEM. */
semb_status train_log_truncate(const char *path, long last_step, semb_error *err);

/* Writes one line (printf format, the newline added) and flushes it. Errors: SEMB_ERR_IO
 * naming the file and the reason (a full disk: "No space left on device"). */
semb_status train_log_line(train_log *log, semb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Closes the file: a failing close (data lost) is SEMB_ERR_IO naming it. err may be NULL on
 * a path that already failed. Safe on a zeroed log; log is zeroed either way. */
semb_status train_log_close(train_log *log, semb_error *err);

#endif
