/* A folder that appears whole or not at all: assembled under a temporary name beside it
 * ("DIR.tmp.XXXXXX", made as mkdir would: 0755 less the umask), then renamed into place in one
 * step. A symbolic link is followed (the link stays, the folder it names is made; a dangling
 * link names where); "-" (standard output) is refused. For the model, tokenizer and init
 * folders; checkpoints keep their own scheme (train/checkpoint.h: temporary folders inside
 * the output folder, swapped atomically over a folder of the same step). */
#ifndef SEMB_IO_ATOMIC_FOLDER_H
#define SEMB_IO_ATOMIC_FOLDER_H

#include <stdbool.h>

#include "semb.h"

typedef struct atomic_folder {
    char *path;   /* as given, for messages */
    char *target; /* the folder to appear, links followed */
    char *tmp;    /* fill this one */
} atomic_folder;

/* The checks atomic_folder_begin makes, without leaving anything behind, for a caller to
 * fail early (before hours of training): dir does not exist (or, with empty_ok, is an empty
 * folder) and a folder can be made beside it. Errors name dir: SEMB_ERR_IO ("already exists;
 * choose a new folder", "exists and is not a folder", "already exists and is not empty",
 * "cannot create a folder there: ..."), SEMB_ERR_INVALID_ARG for "-", SEMB_ERR_NOMEM. */
semb_status atomic_folder_check(const char *dir, bool empty_ok, semb_error *err);

/* Checks as above and creates f->tmp. On failure f is zeroed and nothing is left behind. */
semb_status atomic_folder_begin(atomic_folder *f, const char *dir, bool empty_ok,
                                semb_error *err);

/* Renames f->tmp onto the target (replacing an empty folder there) and syncs the parent
 * folder. On failure the temporary folder is removed and err names the folder. f is
 * released either way. */
semb_status atomic_folder_commit(atomic_folder *f, semb_error *err);

/* Removes the temporary folder and everything in it; the target is untouched. Safe on a
 * zeroed f. */
void atomic_folder_abort(atomic_folder *f);

#endif
