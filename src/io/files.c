#include "io/files.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_file.h"

char *path_join(const char *dir, const char *name)
{
    size_t a = strlen(dir), b = strlen(name);
    char *p = malloc(a + b + 2);
    if (!p)
        return NULL;
    memcpy(p, dir, a);
    size_t n = a;
    if (b && a && dir[a - 1] != '/')
        p[n++] = '/';
    memcpy(p + n, name, b + 1);
    return p;
}

bool path_exists(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0;
}

bool path_is_dir(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISDIR(st.st_mode);
}

semb_status path_make_dir(const char *path, semb_error *err)
{
    if (mkdir(path, 0755) == 0 || (errno == EEXIST && path_is_dir(path)))
        return SEMB_OK;
    return semb_fail(err, SEMB_ERR_IO, "%s: cannot create the folder: %s", path, strerror(errno));
}

bool path_has_suffix(const char *path, const char *suffix)
{
    size_t a = strlen(path), b = strlen(suffix);
    return a >= b && strcmp(path + a - b, suffix) == 0;
}

char *path_folder(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? strndup(path, slash == path ? 1 : (size_t)(slash - path)) : strdup(".");
}

void path_sync_folder(const char *path)
{
    char *folder = path_folder(path);
    int fd = folder ? open(folder, O_RDONLY | O_DIRECTORY | O_CLOEXEC) : -1;
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
    free(folder);
}

/* Linux allows 40 links in one lookup; a longer chain is a loop. */
enum { MAX_LINK_HOPS = 40 };

/* "dir/of/link" + "target" for a relative link target; an absolute one stands alone. */
static char *link_destination(const char *link, const char *target)
{
    if (target[0] == '/')
        return strdup(target);
    const char *slash = strrchr(link, '/');
    size_t dir_len = slash ? (size_t)(slash - link) + 1 : 0;
    size_t len = strlen(target);
    char *p = malloc(dir_len + len + 1);
    if (p) {
        memcpy(p, link, dir_len);
        memcpy(p + dir_len, target, len + 1);
    }
    return p;
}

semb_status path_follow_links(const char *path, bool (*stop_at)(const char *path),
                              char **target, semb_error *err)
{
    *target = NULL;
    char *cur = strdup(path);
    for (int hop = 0; cur; hop++) {
        struct stat sb;
        if ((stop_at && stop_at(cur)) || lstat(cur, &sb) != 0 || !S_ISLNK(sb.st_mode)) {
            *target = cur;
            return SEMB_OK;
        }
        if (hop == MAX_LINK_HOPS) {
            free(cur);
            return semb_fail(err, SEMB_ERR_IO, "%s: %s", path, strerror(ELOOP));
        }
        char buf[PATH_MAX];
        ssize_t n = readlink(cur, buf, sizeof buf - 1);
        if (n < 0) {
            int e = errno;
            free(cur);
            return semb_fail(err, SEMB_ERR_IO, "%s: cannot read the link: %s", path, strerror(e));
        }
        buf[n] = '\0';
        char *next = link_destination(cur, buf);
        free(cur);
        cur = next;
    }
    return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
}

semb_status file_read_all(const char *path, char **data, size_t *size, semb_error *err)
{
    *data = NULL;
    *size = 0;
    FILE *f = fopen(path, "rb");
    if (!f)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t cap = 1 << 16, len = 0;
    char *buf = malloc(cap);
    while (buf) {
        if (len + 1 >= cap) {
            char *bigger = realloc(buf, cap * 2);
            if (!bigger) {
                free(buf);
                buf = NULL;
                break;
            }
            buf = bigger;
            cap *= 2;
        }
        size_t got = fread(buf + len, 1, cap - len - 1, f);
        len += got;
        if (got == 0)
            break;
    }
    bool failed = ferror(f);
    fclose(f);
    if (!buf)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory reading the file", path);
    if (failed) {
        free(buf);
        return semb_fail(err, SEMB_ERR_IO, "%s: read error", path);
    }
    buf[len] = '\0';
    *data = buf;
    *size = len;
    return SEMB_OK;
}

semb_status file_copy(const char *src, const char *dst, semb_error *err)
{
    char *data;
    size_t size;
    semb_status st = file_read_all(src, &data, &size, err);
    if (st)
        return st;
    st = atomic_write_buffer(dst, data, size, err);
    free(data);
    return st;
}

static int remove_entry(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
    (void)sb, (void)flag, (void)ftw;
    remove(path);
    return 0;
}

void path_remove_tree(const char *path)
{
    nftw(path, remove_entry, 16, FTW_DEPTH | FTW_PHYS);
}

semb_status path_make_temp_sibling(const char *dir, char **out, semb_error *err)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    char *tmp = malloc(len + sizeof ".tmp.XXXXXX");
    if (!tmp)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    memcpy(tmp, dir, len);
    memcpy(tmp + len, ".tmp.XXXXXX", sizeof ".tmp.XXXXXX");
    if (!mkdtemp(tmp)) {
        semb_status st = semb_fail(err, SEMB_ERR_IO, "%s: cannot create a folder there: %s", dir,
                                   strerror(errno));
        free(tmp);
        return st;
    }
    mode_t mask = umask(0);
    umask(mask);
    chmod(tmp, 0755 & ~mask);
    *out = tmp;
    return SEMB_OK;
}

semb_status file_create_scratch(const char *near, int *fd, semb_error *err)
{
    char *folder = path_folder(near);
    char *named = folder ? path_join(folder, ".semb-scratch.XXXXXX") : NULL;
    if (!named) {
        free(folder);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    *fd = open(folder, O_TMPFILE | O_RDWR | O_CLOEXEC, 0600);
    if (*fd < 0 && (errno == EOPNOTSUPP || errno == EISDIR || errno == EINVAL) &&
        (*fd = mkostemp(named, O_CLOEXEC)) >= 0)
        unlink(named);
    semb_status st = *fd >= 0 ? SEMB_OK
                              : semb_fail(err, SEMB_ERR_IO, "%s: cannot create a scratch file "
                                          "there: %s", folder, strerror(errno));
    free(named);
    free(folder);
    return st;
}
