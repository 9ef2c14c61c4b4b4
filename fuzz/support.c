#include "support.h"

#include <errno.h>
#include <ftw.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char scratch[PATH_MAX];
static char path_buffer[PATH_MAX];

static void fail(const char *what, const char *path)
{
    fprintf(stderr, "fuzz: %s %s: %s\n", what, path, strerror(errno));
    exit(1);
}

static int remove_entry(const char *path, const struct stat *st, int flag, struct FTW *ftw)
{
    (void)st, (void)flag, (void)ftw;
    return remove(path);
}

static void remove_scratch(void)
{
    nftw(scratch, remove_entry, 8, FTW_DEPTH | FTW_PHYS);
}

const char *fuzz_dir(void)
{
    if (scratch[0])
        return scratch;
    /* memory-backed when possible: every execution writes its files, and disk I/O would
     * otherwise dominate */
    const char *tmp = getenv("TMPDIR");
    struct stat st;
    if (!tmp || !*tmp)
        tmp = stat("/dev/shm", &st) == 0 && S_ISDIR(st.st_mode) ? "/dev/shm" : "/tmp";
    snprintf(scratch, sizeof scratch, "%s/semb-fuzz.XXXXXX", tmp);
    if (!mkdtemp(scratch))
        fail("cannot create", scratch);
    atexit(remove_scratch);
    return scratch;
}

const char *fuzz_path(const char *name)
{
    snprintf(path_buffer, sizeof path_buffer, "%s/%s", fuzz_dir(), name);
    return path_buffer;
}

const char *fuzz_write(const char *name, const void *data, size_t size)
{
    const char *slash = strchr(name, '/');
    if (slash) {
        char folder[PATH_MAX];
        snprintf(folder, sizeof folder, "%s/%.*s", fuzz_dir(), (int)(slash - name), name);
        if (mkdir(folder, 0700) != 0 && errno != EEXIST)
            fail("cannot create", folder);
    }
    const char *path = fuzz_path(name);
    FILE *f = fopen(path, "wb");
    if (!f || (size && fwrite(data, 1, size, f) != size) || fclose(f) != 0)
        fail("cannot write", path);
    return path;
}

void fuzz_remove(const char *name)
{
    const char *path = fuzz_path(name);
    if (unlink(path) != 0 && errno != ENOENT)
        fail("cannot remove", path);
}

size_t fuzz_split(const uint8_t *data, size_t size, fuzz_part *parts, size_t max)
{
    size_t n = 0, start = 0;
    for (size_t i = 0; i < size && n + 1 < max; i++) {
        if (data[i] == 0) {
            parts[n++] = (fuzz_part){data + start, i - start};
            start = i + 1;
        }
    }
    parts[n++] = (fuzz_part){data + start, size - start};
    return n;
}
