#include "io/atomic_folder.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/files.h"

static void release(atomic_folder *f)
{
    free(f->path);
    free(f->target);
    free(f->tmp);
    memset(f, 0, sizeof *f);
}

static bool folder_is_empty(const char *dir, semb_error *err, semb_status *st)
{
    DIR *d = opendir(dir);
    if (!d) {
        *st = semb_fail(err, SEMB_ERR_IO, "%s: cannot read the folder: %s", dir, strerror(errno));
        return false;
    }
    bool empty = true;
    for (struct dirent *e; empty && (e = readdir(d));)
        empty = strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0;
    closedir(d);
    return empty;
}

/* The target's state: missing, or an empty folder where empty_ok allows it. */
static semb_status check_target(const char *shown, const char *target, bool empty_ok,
                                semb_error *err)
{
    struct stat sb;
    if (lstat(target, &sb) != 0) {
        /* ENOTDIR (a file on the way): creating the folder beside it says it */
        if (errno == ENOENT || errno == ENOTDIR)
            return SEMB_OK;
        return semb_fail(err, SEMB_ERR_IO, "%s: %s", shown, strerror(errno));
    }
    if (!empty_ok)
        return semb_fail(err, SEMB_ERR_IO, "%s: already exists; choose a new folder", shown);
    if (!S_ISDIR(sb.st_mode))
        return semb_fail(err, SEMB_ERR_IO, "%s: exists and is not a folder", shown);
    semb_status st = SEMB_OK;
    if (!folder_is_empty(target, err, &st) && !st)
        st = semb_fail(err, SEMB_ERR_IO, "%s: already exists and is not empty; choose a new "
                       "folder or remove it", shown);
    return st;
}

semb_status atomic_folder_begin(atomic_folder *f, const char *dir, bool empty_ok,
                                semb_error *err)
{
    memset(f, 0, sizeof *f);
    if (strcmp(dir, "-") == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "-: standard output cannot hold a folder; "
                         "give a folder name");
    if (!(f->path = strdup(dir)))
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    semb_status st = path_follow_links(dir, NULL, &f->target, err);
    if (!st)
        st = check_target(dir, f->target, empty_ok, err);
    if (!st)
        st = path_make_temp_sibling(f->target, &f->tmp, err);
    if (st)
        release(f);
    return st;
}

semb_status atomic_folder_check(const char *dir, bool empty_ok, semb_error *err)
{
    atomic_folder f;
    semb_status st = atomic_folder_begin(&f, dir, empty_ok, err);
    if (!st)
        atomic_folder_abort(&f);
    return st;
}

semb_status atomic_folder_commit(atomic_folder *f, semb_error *err)
{
    semb_status st = SEMB_OK;
    if (!f->tmp)
        st = semb_fail(err, SEMB_ERR_INVALID_ARG, "atomic_folder_commit: nothing begun");
    else if (rename(f->tmp, f->target) != 0)
        st = semb_fail(err, SEMB_ERR_IO, "%s: cannot move the new folder into place: %s",
                       f->path, strerror(errno));
    if (st) {
        atomic_folder_abort(f);
        return st;
    }
    path_sync_folder(f->target);
    release(f);
    return SEMB_OK;
}

void atomic_folder_abort(atomic_folder *f)
{
    if (!f)
        return;
    if (f->tmp)
        path_remove_tree(f->tmp);
    release(f);
}
