/* Data files for the reader and sampler tests, written by the tests themselves: plain, gzip
 * (zlib's gz* API; several members when asked) and zstd (one frame per part). */
#ifndef SEMB_TESTS_DATA_TEST_FILES_H
#define SEMB_TESTS_DATA_TEST_FILES_H

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "support.h"

typedef enum test_compression { TEST_PLAIN, TEST_GZIP, TEST_ZSTD } test_compression;

/* Writes parts[0..n) one after the other: each a gzip member or zstd frame of its own. */
static inline void write_parts(const char *path, test_compression kind, const char *const *parts, int n)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fclose(f);
    for (int i = 0; i < n; i++) {
        size_t len = strlen(parts[i]);
        if (kind == TEST_GZIP) {
            gzFile g = gzopen(path, "ab");
            assert_non_null(g);
            if (len)
                assert_int_equal(gzwrite(g, parts[i], (unsigned)len), (int)len);
            assert_int_equal(gzclose(g), Z_OK);
            continue;
        }
        f = fopen(path, "ab");
        assert_non_null(f);
        if (kind == TEST_PLAIN) {
            assert_int_equal(fwrite(parts[i], 1, len, f), len);
        } else {
            size_t cap = ZSTD_compressBound(len);
            char *out = malloc(cap);
            ZSTD_CCtx *cctx = ZSTD_createCCtx();
            ZSTD_CCtx_setParameter(cctx, ZSTD_c_checksumFlag, 1); /* as the zstd tool writes */
            size_t got = ZSTD_compress2(cctx, out, cap, parts[i], len);
            ZSTD_freeCCtx(cctx);
            assert_false(ZSTD_isError(got));
            assert_int_equal(fwrite(out, 1, got, f), got);
            free(out);
        }
        fclose(f);
    }
}

static inline void write_data(const char *path, test_compression kind, const char *text)
{
    write_parts(path, kind, &text, 1);
}

static inline const char *compression_suffix(test_compression kind)
{
    return kind == TEST_GZIP ? ".gz" : kind == TEST_ZSTD ? ".zst" : "";
}

#endif
