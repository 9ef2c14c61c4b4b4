#include "io/atomic_file.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

static void release(atomic_file *af)
{
    free(af->path);
    free(af->tmp_path);
    memset(af, 0, sizeof *af);
}

semb_status atomic_file_open(atomic_file *af, const char *path, semb_error *err)
{
    memset(af, 0, sizeof *af);
    size_t len = strlen(path);
    af->path = strdup(path);
    af->tmp_path = malloc(len + sizeof ".tmp.XXXXXX");
    if (!af->path || !af->tmp_path) {
        release(af);
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    }
    memcpy(af->tmp_path, path, len);
    memcpy(af->tmp_path + len, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    int fd = mkostemp(af->tmp_path, O_CLOEXEC);
    if (fd < 0) {
        int e = errno;
        release(af);
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot create a temporary file next to it: %s",
                         path, strerror(e));
    }
    /* mkstemp makes the file private (0600); models and embeddings are meant to be shared
     * like any file cp would make. Reading the umask is not thread-safe, so use the common
     * 0644 rather than 0666 & ~umask. */
    if (fchmod(fd, 0644) != 0 || !(af->fp = fdopen(fd, "wb"))) {
        int e = errno;
        close(fd);
        unlink(af->tmp_path);
        release(af);
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot prepare the temporary file: %s", path,
                         strerror(e));
    }
    return SEMB_OK;
}

/* Makes the rename itself durable. Some file systems refuse fsync on a folder (EINVAL);
 * the file is complete and in place by then, so such failures are not reported. */
static void sync_parent_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    char *folder = slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path))
                         : strdup(".");
    if (!folder)
        return;
    int fd = open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(folder);
}

static semb_status commit_failed(atomic_file *af, const char *what, int e, semb_error *err)
{
    semb_status st = semb_fail(err, SEMB_ERR_IO, "%s: %s: %s", af->path, what, strerror(e));
    unlink(af->tmp_path);
    release(af);
    return st;
}

semb_status atomic_file_commit(atomic_file *af, semb_error *err)
{
    if (!af->fp) {
        release(af);
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "atomic_file_commit: the file is not open");
    }
    FILE *fp = af->fp;
    af->fp = NULL;
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
    }
    if (fclose(fp) != 0 && !what) {
        what = "cannot close the temporary file";
        e = errno;
    }
    if (!what && rename(af->tmp_path, af->path) != 0) {
        what = "cannot rename the temporary file onto it";
        e = errno;
    }
    if (what)
        return commit_failed(af, what, e, err);
    sync_parent_folder(af->path);
    release(af);
    return SEMB_OK;
}

void atomic_file_abort(atomic_file *af)
{
    if (!af)
        return;
    if (af->fp)
        fclose(af->fp);
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
