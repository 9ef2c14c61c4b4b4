/* Small file-system helpers shared by the io, model and cli modules. */
#ifndef SEMB_IO_FILES_H
#define SEMB_IO_FILES_H

#include <stdbool.h>
#include <stddef.h>

#include "semb.h"

/* A malloc'd "dir/name" path (NULL when out of memory); name "" gives dir itself. */
char *path_join(const char *dir, const char *name);
bool path_exists(const char *path);
bool path_is_dir(const char *path);
/* Creates the folder path (mode 0755 less the umask; its parent must exist); a folder already
 * there is success. Errors: SEMB_ERR_IO naming path (a file in its place, no parent, no
 * permission). */
semb_status path_make_dir(const char *path, semb_error *err);
/* True if path ends with suffix (e.g. ".json"). */
bool path_has_suffix(const char *path, const char *suffix);

/* The folder holding path: a malloc'd copy of path up to its last '/' ("/" for "/x", "."
 * for a bare name), NULL when out of memory. */
char *path_folder(const char *path);

/* Makes a rename into path's folder durable (fsync of the folder). Best effort: some file
 * systems refuse fsync on a folder (EINVAL), and the file is in place by then anyway. */
void path_sync_folder(const char *path);

/* Follows symbolic links in path's last component, each relative one from its own folder,
 * to the path they end at (which need not exist: a dangling link names where to create
 * it), so that a writer replaces a link's target and keeps the link. Stops early at a path
 * for which stop_at (may be NULL) is true. *target is malloc'd. Errors: SEMB_ERR_IO naming
 * path (a loop: too many levels of links; an unreadable link), SEMB_ERR_NOMEM. */
semb_status path_follow_links(const char *path, bool (*stop_at)(const char *path),
                              char **target, semb_error *err);

/* Reads a whole file into a malloc'd buffer with a NUL appended (not counted in *size).
 * Errors name the path. */
semb_status file_read_all(const char *path, char **data, size_t *size, semb_error *err);

/* Creates a new empty folder beside dir, "DIR.tmp.XXXXXX" (trailing slashes of dir ignored),
 * with the permissions mkdir would give (0755 less the umask; mkdtemp makes it private), for
 * assembling DIR before renaming it into place, so DIR appears whole or not at all. *out is
 * malloc'd; the caller frees it. Errors: SEMB_ERR_NOMEM, SEMB_ERR_IO naming dir.
 * (io/atomic_folder.h wraps it: links, checks, rename.) */
semb_status path_make_temp_sibling(const char *dir, char **out, semb_error *err);

/* Removes path and everything below it, best effort (for temporary folders the caller made;
 * links are removed, never followed). */
void path_remove_tree(const char *path);

/* Copies src to dst atomically (io/atomic_file.h). */
semb_status file_copy(const char *src, const char *dst, semb_error *err);

/* A new unnamed scratch file (read + write) in the folder of `near` (the folder itself when
 * near ends in '/'), which disappears when *fd is closed or the process dies: O_TMPFILE, or a
 * named file unlinked at once where the file system lacks it. Reopen it by the name
 * "/proc/self/fd/N". Errors: SEMB_ERR_IO naming the folder. */
semb_status file_create_scratch(const char *near, int *fd, semb_error *err);

#endif
