/* What every libFuzzer target here shares: a private scratch folder for the files a reader
 * takes by path, and the splitting of one input into the parts a target feeds. Harness
 * failures (no scratch space) end the process: they are not findings. */
#ifndef SEMB_FUZZ_SUPPORT_H
#define SEMB_FUZZ_SUPPORT_H
#include <stddef.h>
#include <stdint.h>

/* The scratch folder (created on first use under $TMPDIR, else /dev/shm or /tmp; removed
 * at exit). */
const char *fuzz_dir(void);

/* Writes data[0..size) to fuzz_dir()/name (name may hold one '/': its folder is created)
 * and returns the path in static storage that the next call reuses. */
const char *fuzz_write(const char *name, const void *data, size_t size);

/* fuzz_dir()/name, without touching the file (static storage, as fuzz_write). */
const char *fuzz_path(const char *name);

/* Removes fuzz_dir()/name if it exists. */
void fuzz_remove(const char *name);

/* One piece of an input split by fuzz_split. */
typedef struct fuzz_part {
    const uint8_t *data;
    size_t size;
} fuzz_part;

/* Splits data at NUL bytes into at most max parts (the last part keeps any further NULs);
 * returns how many parts there are (1 when data holds no NUL). Text formats never hold NUL,
 * so seeds are the files themselves joined by NULs. */
size_t fuzz_split(const uint8_t *data, size_t size, fuzz_part *parts, size_t max);

#endif
