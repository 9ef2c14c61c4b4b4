#include "io/line_source.h"

#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <zlib.h>
#include <zstd.h>

#include "core/error.h"
#include "io/files.h"

enum { READ_CHUNK = 1 << 16 };

typedef enum compression { PLAIN, GZIP, ZSTD } compression;

struct line_source {
    char *path;
    FILE *file;
    bool owns_file; /* false for a stream the caller keeps */
    bool grows;     /* no line limit: buf doubles when one line fills it */
    compression kind;
    z_stream zs;
    ZSTD_DStream *zstd;
    size_t zstd_pending; /* ZSTD_decompressStream's last hint: 0 when a frame just ended */
    bool gzip_member_ended;
    unsigned char *in; /* compressed bytes read from the file, in[in_pos..in_len) unused */
    size_t in_len, in_pos;
    bool in_eof;
    /* Decompressed bytes: buf[start..end) not yet returned; buf[0] is at stream offset base. */
    char *buf;
    size_t cap, start, end;
    uint64_t base;
    bool stream_end;
    uint64_t next_number;
    size_t max_line;
};

const char *line_source_compression(const line_source *s)
{
    return s->kind == GZIP ? "gzip" : s->kind == ZSTD ? "zstd" : "plain";
}

/* Compressed input, refilled when used up (in_eof once the file has no more). */
static semb_status refill_input(line_source *s, semb_error *err)
{
    if (s->in_pos < s->in_len || s->in_eof)
        return SEMB_OK;
    s->in_len = fread(s->in, 1, READ_CHUNK, s->file);
    s->in_pos = 0;
    if (s->in_len < READ_CHUNK) {
        if (ferror(s->file))
            return semb_fail(err, SEMB_ERR_IO, "%s: read error: %s", s->path, strerror(errno));
        s->in_eof = true;
    }
    return SEMB_OK;
}

static semb_status corrupt(line_source *s, const char *what, semb_error *err)
{
    return semb_fail(err, SEMB_ERR_FORMAT, "%s: %s data %s near decompressed byte %llu", s->path,
                     line_source_compression(s), what,
                     (unsigned long long)(s->base + s->end));
}

static semb_status gzip_read(line_source *s, char *dst, size_t cap, size_t *got, semb_error *err)
{
    s->zs.next_out = (Bytef *)dst;
    s->zs.avail_out = (uInt)cap;
    while (s->zs.avail_out == cap) {
        semb_status st = refill_input(s, err);
        if (st)
            return st;
        /* with no input left, inflate may still hold output: only no progress is truncation */
        bool no_input = s->in_pos == s->in_len;
        if (no_input && s->gzip_member_ended)
            break;
        if (s->gzip_member_ended) { /* another member follows, as `cat a.gz b.gz` makes */
            inflateReset(&s->zs);
            s->gzip_member_ended = false;
        }
        s->zs.next_in = s->in + s->in_pos;
        s->zs.avail_in = (uInt)(s->in_len - s->in_pos);
        int rc = inflate(&s->zs, Z_NO_FLUSH);
        s->in_pos = s->in_len - s->zs.avail_in;
        if (rc == Z_STREAM_END)
            s->gzip_member_ended = true;
        else if (rc == Z_BUF_ERROR && no_input)
            return corrupt(s, "is truncated:", err);
        else if (rc != Z_OK && rc != Z_BUF_ERROR)
            return corrupt(s, rc == Z_MEM_ERROR ? "needs more memory than there is," : "is corrupt",
                           err);
    }
    *got = cap - s->zs.avail_out;
    return SEMB_OK;
}

static semb_status zstd_read(line_source *s, char *dst, size_t cap, size_t *got, semb_error *err)
{
    ZSTD_outBuffer out = {dst, cap, 0};
    while (out.pos == 0) {
        semb_status st = refill_input(s, err);
        if (st)
            return st;
        bool no_input = s->in_pos == s->in_len;
        if (no_input && s->zstd_pending == 0) /* every frame complete */
            break;
        ZSTD_inBuffer in = {s->in, s->in_len, s->in_pos};
        size_t rc = ZSTD_decompressStream(s->zstd, &out, &in);
        s->in_pos = in.pos;
        if (ZSTD_isError(rc))
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: zstd data is corrupt near decompressed byte "
                             "%llu: %s", s->path, (unsigned long long)(s->base + s->end),
                             ZSTD_getErrorName(rc));
        s->zstd_pending = rc;
        if (no_input && out.pos == 0)
            return corrupt(s, "is truncated:", err);
    }
    *got = out.pos;
    return SEMB_OK;
}

/* Appends decompressed bytes to buf[end..cap); sets stream_end when there are no more. */
static semb_status fill(line_source *s, semb_error *err)
{
    if (s->start > 0) { /* keep the unread part, at the front */
        memmove(s->buf, s->buf + s->start, s->end - s->start);
        s->base += s->start;
        s->end -= s->start;
        s->start = 0;
    }
    if (s->end == s->cap) { /* one unfinished line fills it, which only a growing buffer allows */
        if (s->cap > SIZE_MAX / 2)
            return semb_fail(err, SEMB_ERR_NOMEM, "%s: line too long near decompressed byte %llu",
                             s->path, (unsigned long long)(s->base + s->end));
        char *grown = realloc(s->buf, 2 * s->cap);
        if (!grown)
            return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory for a %zu-byte line", s->path,
                             2 * s->cap);
        s->buf = grown;
        s->cap *= 2;
    }
    size_t room = s->cap - s->end, got = 0;
    semb_status st = SEMB_OK;
    if (s->kind == PLAIN) {
        got = fread(s->buf + s->end, 1, room, s->file);
        if (got < room && ferror(s->file))
            st = semb_fail(err, SEMB_ERR_IO, "%s: read error: %s", s->path, strerror(errno));
    } else if (s->kind == GZIP) {
        st = gzip_read(s, s->buf + s->end, room, &got, err);
    } else {
        st = zstd_read(s, s->buf + s->end, room, &got, err);
    }
    s->end += got;
    if (!st && got == 0)
        s->stream_end = true;
    return st;
}

static semb_status restart(line_source *s, semb_error *err)
{
    if (fseeko(s->file, 0, SEEK_SET) != 0)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot seek: %s", s->path, strerror(errno));
    clearerr(s->file);
    s->in_len = s->in_pos = 0;
    s->in_eof = false;
    if (s->kind == GZIP)
        inflateReset(&s->zs);
    else if (s->kind == ZSTD)
        ZSTD_DCtx_reset(s->zstd, ZSTD_reset_session_only);
    s->gzip_member_ended = false;
    s->zstd_pending = 0;
    s->start = s->end = 0;
    s->base = 0;
    s->stream_end = false;
    s->next_number = 1;
    return SEMB_OK;
}

/* Reads the first bytes to learn the compression, and keeps them as the first input: a stream
 * cannot be read again from its start. */
static semb_status detect(line_source *s, semb_error *err)
{
    unsigned char magic[4] = {0};
    size_t n = fread(magic, 1, sizeof magic, s->file);
    if (n < sizeof magic && ferror(s->file))
        return semb_fail(err, SEMB_ERR_IO, "%s: read error: %s", s->path, strerror(errno));
    if (n >= 2 && magic[0] == 0x1f && magic[1] == 0x8b)
        s->kind = GZIP;
    else if (n == 4 && magic[0] == 0x28 && magic[1] == 0xb5 && magic[2] == 0x2f && magic[3] == 0xfd)
        s->kind = ZSTD;
    if (n > 0 && path_has_suffix(s->path, ".gz") && s->kind != GZIP)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: named .gz but is not gzip data", s->path);
    if (n > 0 && path_has_suffix(s->path, ".zst") && s->kind != ZSTD)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: named .zst but is not zstd data", s->path);
    if (s->kind == GZIP && inflateInit2(&s->zs, 15 + 16) != Z_OK)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: cannot start gzip decompression", s->path);
    if (s->kind == ZSTD && !(s->zstd = ZSTD_createDStream()))
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: cannot start zstd decompression", s->path);
    if (s->kind != PLAIN && !(s->in = malloc(READ_CHUNK)))
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (s->kind == PLAIN) {
        memcpy(s->buf, magic, n);
        s->end = n;
    } else {
        memcpy(s->in, magic, n);
        s->in_len = n;
    }
    s->next_number = 1;
    return SEMB_OK;
}

/* Takes file (NULL when it could not be opened: errno says why) and owns it if owns_file. */
static semb_status open_source(FILE *file, bool owns_file, const char *name,
                               size_t max_line_bytes, line_source **out, semb_error *err)
{
    *out = NULL;
    if (!file)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", name, strerror(errno));
    line_source *s = calloc(1, sizeof *s);
    if (!s || !(s->path = strdup(name))) {
        if (owns_file)
            fclose(file);
        free(s);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    s->file = file;
    s->owns_file = owns_file;
    s->max_line = max_line_bytes;
    s->grows = max_line_bytes == LINE_SOURCE_NO_LIMIT;
    /* room for a whole line of the limit, its "\n", and a read beyond it */
    s->cap = s->grows ? READ_CHUNK : max_line_bytes + 1 + READ_CHUNK;
    semb_status st = SEMB_OK;
    if (!(s->buf = malloc(s->cap)))
        st = semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory for a %zu-byte line buffer", name,
                       s->cap);
    if (!st)
        st = detect(s, err);
    if (st) {
        line_source_close(s);
        return st;
    }
    *out = s;
    return SEMB_OK;
}

semb_status line_source_open(const char *path, size_t max_line_bytes, line_source **out,
                             semb_error *err)
{
    return open_source(fopen(path, "rb"), true, path, max_line_bytes, out, err);
}

semb_status line_source_open_stream(FILE *stream, const char *name, size_t max_line_bytes,
                                    line_source **out, semb_error *err)
{
    return open_source(stream, false, name, max_line_bytes, out, err);
}

/* Drops the rest of a line too long to keep; *line_end is the offset of its end. */
static semb_status skip_long_line(line_source *s, uint64_t *line_end, semb_error *err)
{
    for (;;) {
        char *nl = memchr(s->buf + s->start, '\n', s->end - s->start);
        if (nl) {
            *line_end = s->base + (size_t)(nl - s->buf);
            s->start = (size_t)(nl - s->buf) + 1;
            return SEMB_OK;
        }
        s->start = s->end;
        if (s->stream_end) {
            *line_end = s->base + s->end;
            return SEMB_OK;
        }
        semb_status st = fill(s, err);
        if (st)
            return st;
    }
}

semb_status line_source_next(line_source *s, source_line *line, bool *end, semb_error *err)
{
    *end = false;
    size_t scanned = 0; /* bytes after start already known to hold no "\n" */
    for (;;) {
        size_t avail = s->end - s->start;
        char *nl = memchr(s->buf + s->start + scanned, '\n', avail - scanned);
        size_t len = nl ? (size_t)(nl - (s->buf + s->start)) : avail;
        if (len > s->max_line) {
            uint64_t line_start = s->base + s->start, line_end;
            semb_status st = skip_long_line(s, &line_end, err);
            if (st)
                return st;
            bool newline = line_end < s->base + s->start; /* skip_long_line passed a "\n" */
            *line = (source_line){.length = (size_t)(line_end - line_start), .offset = line_start,
                                  .number = s->next_number++, .too_long = true,
                                  .newline = newline};
            return SEMB_OK;
        }
        if (nl || (s->stream_end && avail > 0)) {
            *line = (source_line){.text = s->buf + s->start, .length = len,
                                  .offset = s->base + s->start, .number = s->next_number++,
                                  .newline = nl != NULL};
            s->start += len + (nl != NULL);
            return SEMB_OK;
        }
        if (s->stream_end) {
            *end = true;
            return SEMB_OK;
        }
        scanned = avail;
        semb_status st = fill(s, err);
        if (st)
            return st;
    }
}

uint64_t line_source_tell(const line_source *s, uint64_t *number)
{
    if (number)
        *number = s->next_number;
    return s->base + s->start;
}

semb_status line_source_seek(line_source *s, uint64_t offset, uint64_t number, semb_error *err)
{
    semb_status st;
    if (offset >= s->base && offset <= s->base + s->end) { /* already in the buffer */
        s->start = (size_t)(offset - s->base);
        s->next_number = number;
        return SEMB_OK;
    }
    if (s->kind == PLAIN) {
        if (fseeko(s->file, (off_t)offset, SEEK_SET) != 0)
            return semb_fail(err, SEMB_ERR_IO, "%s: cannot seek: %s", s->path, strerror(errno));
        clearerr(s->file);
        s->start = s->end = 0;
        s->base = offset;
        s->stream_end = false;
        s->next_number = number;
        return SEMB_OK;
    }
    if (offset < s->base && (st = restart(s, err)))
        return st;
    while (s->base + s->end < offset) { /* decompress and discard */
        s->start = s->end;
        if ((st = fill(s, err)))
            return st;
        if (s->stream_end)
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: ends before byte %llu (changed since?)",
                             s->path, (unsigned long long)offset);
    }
    s->start = (size_t)(offset - s->base);
    s->next_number = number;
    return SEMB_OK;
}

void line_source_close(line_source *s)
{
    if (!s)
        return;
    if (s->kind == GZIP)
        inflateEnd(&s->zs);
    ZSTD_freeDStream(s->zstd);
    if (s->file && s->owns_file)
        fclose(s->file);
    free(s->in);
    free(s->buf);
    free(s->path);
    free(s);
}

semb_status line_source_count_lines(const char *path, uint64_t *count, semb_error *err)
{
    *count = 0;
    line_source *s;
    semb_status st = line_source_open(path, 1 << 16, &s, err);
    bool end = false;
    while (!st && !end) {
        source_line line;
        st = line_source_next(s, &line, &end, err);
        if (st || end)
            break;
        bool blank = !line.too_long;
        for (size_t i = 0; blank && i < line.length; i++)
            blank = isspace((unsigned char)line.text[i]);
        *count += !blank;
    }
    line_source_close(s);
    return st;
}
