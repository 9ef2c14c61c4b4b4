#include "io/npy.h"

#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"

/* Magic, version 1.0 and the 2-byte header length come before the dictionary text. */
#define NPY_PREAMBLE 10
#define NPY_ALIGNMENT 64

/* The data is written straight from memory under the '<f4' (little-endian) descriptor. */
_Static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "npy output needs a little-endian host");

semb_status npy_write_f32_header(FILE *fp, size_t rows, size_t cols, const char *path,
                                 semb_error *err)
{
    /* The largest header, with two 20-digit sizes, is 128 bytes. */
    unsigned char header[192];
    int dict_len = snprintf((char *)header + NPY_PREAMBLE, sizeof header - NPY_PREAMBLE,
                            "{'descr': '<f4', 'fortran_order': False, 'shape': (%zu, %zu), }",
                            rows, cols);
    /* Spaces, then '\n' as the last byte, up to the next multiple of 64. */
    size_t total = ((size_t)NPY_PREAMBLE + (size_t)dict_len + 1 + NPY_ALIGNMENT - 1) /
                   NPY_ALIGNMENT * NPY_ALIGNMENT;
    memcpy(header, "\x93NUMPY\x01\x00", 8);
    size_t header_len = total - NPY_PREAMBLE;
    header[8] = (unsigned char)(header_len & 0xff);
    header[9] = (unsigned char)(header_len >> 8);
    memset(header + NPY_PREAMBLE + dict_len, ' ', total - 1 - NPY_PREAMBLE - (size_t)dict_len);
    header[total - 1] = '\n';
    if (fwrite(header, 1, total, fp) != total)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot write the .npy header: %s", path,
                         strerror(errno));
    return SEMB_OK;
}

semb_status npy_write_f32(const char *path, const float *data, size_t rows, size_t cols,
                          semb_error *err)
{
    size_t count;
    if (__builtin_mul_overflow(rows, cols, &count) || count > SIZE_MAX / sizeof(float))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: array of %zu x %zu floats is too large",
                         path, rows, cols);
    atomic_file af;
    semb_status st = atomic_file_open(&af, path, err);
    if (st != SEMB_OK)
        return st;
    st = npy_write_f32_header(af.fp, rows, cols, path, err);
    if (st == SEMB_OK && count > 0 && fwrite(data, sizeof(float), count, af.fp) != count)
        st = semb_fail(err, SEMB_ERR_IO, "%s: cannot write the .npy data: %s", path,
                       strerror(errno));
    if (st != SEMB_OK) {
        atomic_file_abort(&af);
        return st;
    }
    return atomic_file_commit(&af, err);
}
