/* Whole-file reading (plain, gzip/dictzip, LZ4 frame) and the small byte-buffer and hashing
 * helpers the corpus parsers share. Whole files are fine here: the largest input, GCIDE, is
 * 40 MB inflated, and the parsers need random access into dictd data anyway. */
#include <errno.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "core/error.h"
#include "corpus/corpus_internal.h"

semb_status corpus_buffer_append(corpus_buffer *b, const char *s, size_t n, semb_error *err)
{
    if (b->size + n + 1 > b->capacity) {
        size_t capacity = b->capacity ? b->capacity : 4096;
        while (capacity < b->size + n + 1)
            capacity *= 2;
        char *grown = realloc(b->data, capacity);
        if (!grown)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory (%zu bytes)", capacity);
        b->data = grown;
        b->capacity = capacity;
    }
    memcpy(b->data + b->size, s, n);
    b->size += n;
    b->data[b->size] = '\0';
    return SEMB_OK;
}

void corpus_buffer_free(corpus_buffer *b)
{
    free(b->data);
    *b = (corpus_buffer){0};
}

uint64_t corpus_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL;
    for (size_t i = 0; i < n; i++) {
        h ^= (unsigned char)s[i];
        h *= 0x100000001b3ULL;
    }
    return h;
}

enum { CHUNK = 1 << 20 };

static semb_status read_gzip(const char *path, corpus_buffer *out, char *chunk, semb_error *err)
{
    gzFile gz = gzopen(path, "rb");
    if (!gz)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    semb_status st = SEMB_OK;
    for (;;) {
        int n = gzread(gz, chunk, CHUNK);
        if (n < 0) {
            int code;
            const char *msg = gzerror(gz, &code);
            st = semb_fail(err, code == Z_ERRNO ? SEMB_ERR_IO : SEMB_ERR_FORMAT,
                           "%s: cannot inflate: %s", path, code == Z_ERRNO ? strerror(errno) : msg);
            break;
        }
        if (n == 0)
            break;
        if ((st = corpus_buffer_append(out, chunk, (size_t)n, err)))
            break;
    }
    gzclose(gz);
    return st;
}

static semb_status read_lz4(const char *path, FILE *fp, corpus_buffer *out, char *chunk,
                            semb_error *err)
{
    LZ4F_dctx *dctx;
    if (LZ4F_isError(LZ4F_createDecompressionContext(&dctx, LZ4F_VERSION)))
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: cannot create an LZ4 context", path);
    char *in = malloc(CHUNK);
    semb_status st = in ? SEMB_OK : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    size_t hint = 1;
    while (!st) {
        size_t got = fread(in, 1, CHUNK, fp);
        if (got == 0) {
            if (ferror(fp))
                st = semb_fail(err, SEMB_ERR_IO, "%s: read error: %s", path, strerror(errno));
            else if (hint != 0)
                st = semb_fail(err, SEMB_ERR_FORMAT, "%s: LZ4 stream is truncated", path);
            break;
        }
        for (size_t pos = 0; pos < got && !st;) {
            size_t src = got - pos, dst = CHUNK;
            hint = LZ4F_decompress(dctx, chunk, &dst, in + pos, &src, NULL);
            if (LZ4F_isError(hint)) {
                st = semb_fail(err, SEMB_ERR_FORMAT, "%s: corrupt LZ4 data: %s", path,
                               LZ4F_getErrorName(hint));
                break;
            }
            pos += src;
            st = corpus_buffer_append(out, chunk, dst, err);
        }
    }
    free(in);
    LZ4F_freeDecompressionContext(dctx);
    return st;
}

semb_status corpus_read_file(const char *path, corpus_buffer *out, semb_error *err)
{
    *out = (corpus_buffer){0};
    FILE *fp = fopen(path, "rb");
    if (!fp)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    unsigned char magic[4] = {0};
    size_t n_magic = fread(magic, 1, 4, fp);
    char *chunk = malloc(CHUNK);
    semb_status st = chunk ? SEMB_OK : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!st && n_magic == 4 && magic[0] == 0x04 && magic[1] == 0x22 && magic[2] == 0x4d &&
        magic[3] == 0x18) {
        rewind(fp);
        st = read_lz4(path, fp, out, chunk, err);
    } else if (!st) {
        /* gzread passes plain files through unchanged, so one path serves both */
        st = read_gzip(path, out, chunk, err);
    }
    fclose(fp);
    free(chunk);
    if (!st && !out->data)
        st = corpus_buffer_append(out, "", 0, err);
    if (st)
        corpus_buffer_free(out);
    return st;
}
