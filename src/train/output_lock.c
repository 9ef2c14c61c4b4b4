#include "train/output_lock.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* PARENT/.NAME.semb-train.lock for dir; NULL with errno set. "out/", "." and ".." name the
 * folder they resolve to. */
static char *lock_path_of(const char *dir)
{
    size_t n = strlen(dir);
    while (n > 1 && dir[n - 1] == '/')
        n--;
    char *d = strndup(dir, n);
    if (!d)
        return NULL;
    char *slash = strrchr(d, '/');
    const char *name = slash ? slash + 1 : d;
    if (!*name || strcmp(name, ".") == 0 || strcmp(name, "..") == 0) {
        char *real = realpath(d, NULL);
        free(d);
        if (!real || strcmp(real, "/") == 0) {
            free(real);
            errno = errno ? errno : EINVAL;
            return NULL;
        }
        d = real;
        slash = strrchr(d, '/');
        name = slash + 1;
    }
    char *path = NULL;
    int made = !slash ? asprintf(&path, ".%s.semb-train.lock", name)
               : slash == d ? asprintf(&path, "/.%s.semb-train.lock", name)
                            : asprintf(&path, "%.*s/.%s.semb-train.lock", (int)(slash - d), d,
                                       name);
    free(d);
    return made < 0 ? NULL : path;
}

/* The holder's pid as it wrote it, 0 when not (yet) there. */
static long holder_pid(int fd)
{
    char buf[32];
    ssize_t n = pread(fd, buf, sizeof buf - 1, 0);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    return strtol(buf, NULL, 10);
}

semb_status output_lock_take(output_lock *lock, const char *dir, bool *busy, semb_error *err)
{
    memset(lock, 0, sizeof *lock);
    if (busy)
        *busy = false;
    errno = 0;
    char *path = lock_path_of(dir);
    if (!path)
        return semb_fail(err, errno == ENOMEM ? SEMB_ERR_NOMEM : SEMB_ERR_IO,
                         "%s: cannot name a lock file for the output folder: %s", dir,
                         strerror(errno));
    /* A holder removes the file as it ends: a file opened just before that is no longer the
     * one at path, and its lock guards nothing. Retry on the file now there. */
    for (int attempt = 0; attempt < 100; attempt++) {
        int fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0644);
        if (fd < 0) {
            semb_status st = semb_fail(err, SEMB_ERR_IO, "%s: cannot create the lock file %s: %s",
                                       dir, path, strerror(errno));
            free(path);
            return st;
        }
        if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
            int e = errno;
            long pid = e == EWOULDBLOCK ? holder_pid(fd) : 0;
            close(fd);
            free(path);
            if (e != EWOULDBLOCK)
                return semb_fail(err, SEMB_ERR_IO, "%s: cannot lock the output folder: %s", dir,
                                 strerror(e));
            if (busy)
                *busy = true;
            char who[40] = "";
            if (pid > 0)
                snprintf(who, sizeof who, " (pid %ld)", pid);
            return semb_fail(err, SEMB_ERR_IO, "%s: another semb train%s is using this output "
                             "folder; wait for it to end or choose another", dir, who);
        }
        struct stat held, now;
        if (fstat(fd, &held) == 0 && stat(path, &now) == 0 && held.st_dev == now.st_dev &&
            held.st_ino == now.st_ino) {
            char pid[24];
            int n = snprintf(pid, sizeof pid, "%ld\n", (long)getpid());
            bool told = ftruncate(fd, 0) == 0 && pwrite(fd, pid, (size_t)n, 0) == n;
            (void)told; /* the pid only makes a refused run's message clearer: no cause to fail */
            lock->path = path;
            lock->fd = fd;
            return SEMB_OK;
        }
        close(fd);
    }
    free(path);
    return semb_fail(err, SEMB_ERR_IO, "%s: cannot lock the output folder: its lock file keeps "
                     "changing", dir);
}

void output_lock_release(output_lock *lock)
{
    if (lock->path) {
        unlink(lock->path); /* before the lock goes: see output_lock_take */
        close(lock->fd);
        free(lock->path);
    }
    memset(lock, 0, sizeof *lock);
}
