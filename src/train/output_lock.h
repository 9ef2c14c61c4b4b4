/* One semb train per output folder. A run holds an flock on a lock file beside the folder
 * (DIR's parent/.NAME.semb-train.lock) for as long as it runs; a second run, fresh or
 * resumed, into the same folder is refused instead of deleting the first one's temporary
 * checkpoint folders. The kernel drops the lock when its holder dies, so a killed run never
 * blocks the next one; the file is removed when a run ends normally. The lock is beside
 * rather than inside so that the folder holds the model alone and may not exist yet. */
#ifndef SEMB_TRAIN_OUTPUT_LOCK_H
#define SEMB_TRAIN_OUTPUT_LOCK_H

#include <stdbool.h>

#include "semb.h"

typedef struct output_lock {
    char *path; /* NULL when not held (a zeroed lock) */
    int fd;
} output_lock;

/* Takes the lock of dir (which need not exist; its parent must). *busy (may be NULL) is set
 * when another process holds it. Errors (SEMB_ERR_IO): "DIR: another semb train (pid N) is
 * using this output folder", or the lock file that cannot be made, named; lock is then not
 * held. */
semb_status output_lock_take(output_lock *lock, const char *dir, bool *busy, semb_error *err);

/* Removes the lock file and lets the lock go. Safe on a zeroed lock; lock is zeroed. */
void output_lock_release(output_lock *lock);

#endif
