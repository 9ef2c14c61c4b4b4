#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "io/files.h"

static void release(atomic_file *af)
{
    free(af->path);
    free(af->target);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

/* The names that stand for an open descriptor of this process. Opening them anew (as a
 * path) would start at offset 0 of a file the shell opened for appending, or fail for a
 * pipe: they are written through a duplicate of the descriptor instead. */
static int descriptor_name(const char *path)
{
    if (strcmp(path, "-") == 0 || strcmp(path, "/dev/stdout") == 0)
        return STDOUT_FILENO;
    if (strcmp(path, "/dev/stderr") == 0)
        return STDERR_FILENO;
    const char *digits = NULL;
    if (strncmp(path, "/dev/fd/", 8) == 0)
        digits = path + 8;
    else if (strncmp(path, "/proc/self/fd/", 14) == 0)
        digits = path + 14;
    if (!digits || !*digits)
        return -1;
    char *end;
    errno = 0;
    long fd = strtol(digits, &end, 10);
    return *end || errno || fd < 0 || fd > INT_MAX ? -1 : (int)fd;
}

typedef struct resolved {
    char *target;  /* the last path of the link chain (malloc'd) */
    int fd_name;   /* >= 0: a descriptor of this process (descriptor_name) */
    bool exists;
    struct stat sb;
} resolved;

static bool stops_at_descriptor(const char *path)
{
    return descriptor_name(path) >= 0;
}

/* Follows the links so that a dangling one still names where the file is to be created,
 * and a link to /dev/stdout is seen for what it is. */
static semb_status resolve(const char *path, resolved *r, semb_error *err)
{
    memset(r, 0, sizeof *r);
    semb_status st = path_follow_links(path, stops_at_descriptor, &r->target, err);
    if (st)
        return st;
    if ((r->fd_name = descriptor_name(r->target)) >= 0)
        return SEMB_OK;
    if (lstat(r->target, &r->sb) == 0)
        r->exists = true;
    else if (errno != ENOENT) {
        st = semb_fail(err, SEMB_ERR_IO, "%s: %s", path, strerror(errno));
        free(r->target);
        r->target = NULL;
    }
    return st;
}

static bool is_stream(const resolved *r)
{
    mode_t type = r->sb.st_mode & S_IFMT;
    return r->fd_name >= 0 || (r->exists && (type == S_IFIFO || type == S_IFCHR ||
                                             type == S_IFBLK));
}

bool atomic_file_is_stream(const char *path)
{
    resolved r;
    if (resolve(path, &r, NULL) != SEMB_OK)
        return false;
    bool stream = is_stream(&r);
    free(r.target);
    return stream;
}

static semb_status open_stream(atomic_file *af, const resolved *r, bool seekable,
                               semb_error *err)
{
    int fd = r->fd_name >= 0 ? fcntl(r->fd_name, F_DUPFD_CLOEXEC, 0)
                             : open(r->target, O_WRONLY | O_CLOEXEC | O_NOCTTY);
    if (fd < 0)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open for writing: %s", af->path,
                         strerror(errno));
    af->stream = true;
    if (seekable) {
        af->spooled = true;
        af->stream_fd = fd;
        if (!(af->fp = tmpfile()))
            return semb_fail(err, SEMB_ERR_IO, "%s: cannot create a temporary file to spool "
                             "it: %s", af->path, strerror(errno));
    } else if (!(af->fp = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open for writing: %s", af->path,
                         strerror(e));
    }
    return SEMB_OK;
}

/* An anonymous file in the target's folder, or -1 with errno when this file system (or a
 * system without /proc, which the naming at commit needs) cannot have one. */
static int open_anonymous(const char *folder)
{
    int fd = open(folder, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (fd < 0)
        return -1;
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    if (access(proc, F_OK) != 0) {
        close(fd);
        errno = EOPNOTSUPP;
        return -1;
    }
    return fd;
}

static semb_status open_replace(atomic_file *af, const resolved *r, semb_error *err)
{
    af->target = r->target;
    char *folder = path_folder(af->target);
    if (!folder)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", af->path);
    int fd = open_anonymous(folder);
    int e = errno;
    free(folder);
    if (fd < 0 && e != EOPNOTSUPP && e != EISDIR && e != EINVAL)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot create a file in its folder: %s",
                         af->path, strerror(e));
    if (fd < 0) {
        size_t len = strlen(af->target);
        if (!(af->tmp_path = malloc(len + sizeof ".tmp.XXXXXX")))
            return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", af->path);
        memcpy(af->tmp_path, af->target, len);
        memcpy(af->tmp_path + len, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
        if ((fd = mkostemp(af->tmp_path, O_CLOEXEC)) < 0) {
            free(af->tmp_path);
            af->tmp_path = NULL;
            return semb_fail(err, SEMB_ERR_IO, "%s: cannot create a temporary file next to it: "
                             "%s", af->path, strerror(errno));
        }
    }
    /* A replaced file keeps its permission bits; a new one gets the common 0644 (reading
     * the umask to compute 0666 & ~umask is not thread-safe). */
    mode_t mode = r->exists ? r->sb.st_mode & 07777 : 0644;
    if (fchmod(fd, mode) != 0 || !(af->fp = fdopen(fd, "w+b"))) {
        e = errno;
        close(fd);
        if (af->tmp_path)
            unlink(af->tmp_path);
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot prepare the temporary file: %s",
                         af->path, strerror(e));
    }
    return SEMB_OK;
}

static semb_status open_any(atomic_file *af, const char *path, bool seekable, semb_error *err)
{
    memset(af, 0, sizeof *af);
    if (!(af->path = strdup(strcmp(path, "-") == 0 ? "<stdout>" : path)))
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    resolved r;
    semb_status st = resolve(path, &r, err);
    if (st) {
        release(af);
        return st;
    }
    mode_t type = r.sb.st_mode & S_IFMT;
    if (is_stream(&r)) {
        st = open_stream(af, &r, seekable, err);
        free(r.target);
    } else if (r.exists && type == S_IFDIR) {
        st = semb_fail(err, SEMB_ERR_IO, "%s: is a folder; give a file name", path);
        free(r.target);
    } else if (r.exists && type != S_IFREG) {
        st = semb_fail(err, SEMB_ERR_IO, "%s: is not a regular file, a pipe or a device", path);
        free(r.target);
    } else {
        st = open_replace(af, &r, err); /* takes r.target */
    }
    if (st) {
        if (af->fp)
            fclose(af->fp);
        if (af->spooled)
            close(af->stream_fd);
        release(af);
    }
    return st;
}

semb_status atomic_file_open(atomic_file *af, const char *path, semb_error *err)
{
    return open_any(af, path, false, err);
}

semb_status atomic_file_open_seekable(atomic_file *af, const char *path, semb_error *err)
{
    return open_any(af, path, true, err);
}

/* Gives the anonymous file a temporary name beside the target (a fresh random suffix until
 * one is free); *name is malloc'd. */
static int name_anonymous(int fd, const char *target, char **name)
{
    char proc[64];
    snprintf(proc, sizeof proc, "/proc/self/fd/%d", fd);
    size_t len = strlen(target);
    if (!(*name = malloc(len + sizeof ".tmp.XXXXXX"))) {
        errno = ENOMEM;
        return -1;
    }
    static const char letters[] = "abcdefghijklmnopqrstuvwxyz0123456789";
    for (int attempt = 0; attempt < 100; attempt++) {
        unsigned char noise[6];
        if (getrandom(noise, sizeof noise, GRND_NONBLOCK) != (ssize_t)sizeof noise) {
            struct timespec ts;
            clock_gettime(CLOCK_MONOTONIC, &ts);
            unsigned long x = (unsigned long)ts.tv_nsec * 2654435761u + (unsigned)attempt;
            for (size_t i = 0; i < sizeof noise; i++, x >>= 5)
                noise[i] = (unsigned char)x;
        }
        char *p = *name;
        memcpy(p, target, len);
        memcpy(p + len, ".tmp.", 5);
        for (size_t i = 0; i < sizeof noise; i++)
            p[len + 5 + i] = letters[noise[i] % (sizeof letters - 1)];
        p[len + 5 + sizeof noise] = '\0';
        if (linkat(AT_FDCWD, proc, AT_FDCWD, p, AT_SYMLINK_FOLLOW) == 0)
            return 0;
        if (errno != EEXIST)
            break;
    }
    int e = errno;
    free(*name);
    *name = NULL;
    errno = e;
    return -1;
}

static semb_status commit_failed(atomic_file *af, const char *what, int e, semb_error *err)
{
    semb_status st = semb_fail(err, SEMB_ERR_IO, "%s: %s: %s", af->path, what, strerror(e));
    if (af->tmp_path)
        unlink(af->tmp_path);
    release(af);
    return st;
}

/* Writes the whole spool to the stream's descriptor. */
static int copy_spool(FILE *spool, int fd)
{
    if (fseeko(spool, 0, SEEK_SET) != 0)
        return -1;
    char buffer[1 << 16];
    size_t got;
    while ((got = fread(buffer, 1, sizeof buffer, spool)) > 0)
        for (size_t done = 0; done < got;) {
            ssize_t n = write(fd, buffer + done, got - done);
            if (n < 0 && errno != EINTR)
                return -1;
            done += n > 0 ? (size_t)n : 0;
        }
    return ferror(spool) ? -1 : 0;
}

static semb_status commit_stream(atomic_file *af, FILE *fp, semb_error *err)
{
    const char *what = NULL;
    int e = 0;
    errno = 0;
    if (fflush(fp) != 0 || ferror(fp)) {
        what = af->spooled ? "cannot write the spool" : "write failed";
        e = errno ? errno : EIO;
    } else if (af->spooled && copy_spool(fp, af->stream_fd) != 0) {
        what = "write failed";
        e = errno ? errno : EIO;
    }
    if (fclose(fp) != 0 && !what) {
        what = "write failed";
        e = errno;
    }
    if (af->spooled && close(af->stream_fd) != 0 && !what) {
        what = "write failed";
        e = errno;
    }
    af->spooled = false;
    if (what)
        return commit_failed(af, what, e, err);
    release(af);
    return SEMB_OK;
}

semb_status atomic_file_commit(atomic_file *af, semb_error *err)
{
    if (!af->fp) {
        release(af);
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "atomic_file_commit: the file is not open");
    }
    FILE *fp = af->fp;
    af->fp = NULL;
    if (af->stream)
        return commit_stream(af, fp, err);
    const char *what = NULL;
    int e = 0;
    errno = 0;
    /* ferror catches a failed fwrite of the caller's that fflush would not repeat. */
    if (fflush(fp) != 0 || ferror(fp)) {
        what = "cannot write the temporary file";
        e = errno ? errno : EIO;
    } else if (fsync(fileno(fp)) != 0) {
        what = "cannot flush the temporary file to disk";
        e = errno;
    } else if (!af->tmp_path && name_anonymous(fileno(fp), af->target, &af->tmp_path) != 0) {
        what = "cannot name the temporary file";
        e = errno;
    }
    if (fclose(fp) != 0 && !what) {
        what = "cannot close the temporary file";
        e = errno;
    }
    if (!what && rename(af->tmp_path, af->target) != 0) {
        what = "cannot rename the temporary file onto it";
        e = errno;
    }
    if (what)
        return commit_failed(af, what, e, err);
    path_sync_folder(af->target);
    release(af);
    return SEMB_OK;
}

void atomic_file_abort(atomic_file *af)
{
    if (!af)
        return;
    if (af->fp)
        fclose(af->fp);
    if (af->spooled)
        close(af->stream_fd);
    if (af->tmp_path)
        unlink(af->tmp_path);
    release(af);
}

semb_status atomic_write_buffer(const char *path, const void *data, size_t size, semb_error *err)
{
    atomic_file af;
    semb_status st = atomic_file_open(&af, path, err);
    if (st != SEMB_OK)
        return st;
    if (size > 0 && fwrite(data, 1, size, af.fp) != size) {
        int e = errno;
        atomic_file_abort(&af);
        return semb_fail(err, SEMB_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return atomic_file_commit(&af, err);
}
