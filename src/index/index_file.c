#include "index/index_file.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>
#include <zlib.h>

#include "core/error.h"
#include "index/quantize.h"

#if __BYTE_ORDER__ != __ORDER_LITTLE_ENDIAN__
#error "the index file maps its little-endian arrays directly"
#endif

size_t index_row_bytes(semb_storage_precision precision, int dimension)
{
    switch (precision) {
    case SEMB_STORAGE_FLOAT32:
        return (size_t)dimension * sizeof(float);
    case SEMB_STORAGE_INT8:
        return (size_t)dimension;
    case SEMB_STORAGE_BINARY:
        return binary_row_bytes(dimension);
    }
    return 0;
}

static void put_u32(uint8_t *p, uint32_t v)
{
    memcpy(p, &v, 4);
}

static void put_u64(uint8_t *p, uint64_t v)
{
    memcpy(p, &v, 8);
}

static uint32_t get_u32(const uint8_t *p)
{
    uint32_t v;
    memcpy(&v, p, 4);
    return v;
}

static uint64_t get_u64(const uint8_t *p)
{
    uint64_t v;
    memcpy(&v, p, 8);
    return v;
}

static uint64_t align_up(uint64_t x)
{
    return (x + INDEX_SECTION_ALIGN - 1) / INDEX_SECTION_ALIGN * INDEX_SECTION_ALIGN;
}

/* CRC-32 of the header with its CRC field taken as zero, then the section table. */
static uint32_t header_crc(const uint8_t *header, size_t table_bytes)
{
    uint8_t copy[INDEX_HEADER_SIZE];
    memcpy(copy, header, INDEX_HEADER_SIZE);
    put_u32(copy + 12, 0);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, copy, INDEX_HEADER_SIZE);
    crc = crc32(crc, header + INDEX_HEADER_SIZE, (uInt)table_bytes);
    return (uint32_t)crc;
}

/* ---- writing ---- */

static void encode_header(const index_writer *w, const index_info *info, uint8_t *out)
{
    memset(out, 0, INDEX_HEADER_SIZE + w->n_sections * INDEX_SECTION_ENTRY_SIZE);
    memcpy(out, INDEX_FILE_MAGIC, 8);
    put_u32(out + 8, INDEX_FILE_VERSION);
    put_u64(out + 16, w->file_size);
    put_u64(out + 24, info->documents);
    put_u32(out + 32, (uint32_t)info->dimension);
    put_u32(out + 36, (uint32_t)info->precision);
    put_u32(out + 40, (uint32_t)info->similarity);
    put_u32(out + 44, (info->normalized ? 1u : 0u) | (info->ids_integer ? 2u : 0u));
    put_u32(out + 48, (uint32_t)info->max_seq_length);
    put_u32(out + 52, (uint32_t)w->n_sections);
    memcpy(out + 56, info->fingerprint, 32);
    for (size_t i = 0; i < w->n_sections; i++) {
        uint8_t *e = out + INDEX_HEADER_SIZE + i * INDEX_SECTION_ENTRY_SIZE;
        memcpy(e, w->sections[i].name, strlen(w->sections[i].name));
        put_u64(e + 16, w->sections[i].offset);
        put_u64(e + 24, w->sections[i].size);
    }
    put_u32(out + 12, header_crc(out, w->n_sections * INDEX_SECTION_ENTRY_SIZE));
}

static semb_status check_name(const char *name, semb_error *err)
{
    size_t len = strlen(name);
    if (len == 0 || len > INDEX_SECTION_NAME_SIZE)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "index section name '%s': 1 to %d bytes",
                         name, INDEX_SECTION_NAME_SIZE);
    for (size_t i = 0; i < len; i++)
        if (name[i] <= ' ' || name[i] > '~')
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "index section name '%s': printable ASCII only", name);
    return SEMB_OK;
}

semb_status index_writer_begin(index_writer *w, const char *path, const index_info *info,
                               const char *const *names, const uint64_t *sizes, size_t n,
                               semb_error *err)
{
    memset(w, 0, sizeof *w);
    if (n > INDEX_MAX_SECTIONS)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: %zu sections (at most %d)", path, n,
                         INDEX_MAX_SECTIONS);
    w->info = *info;
    uint64_t at = align_up(INDEX_HEADER_SIZE + n * INDEX_SECTION_ENTRY_SIZE);
    for (size_t i = 0; i < n; i++) {
        semb_status st = check_name(names[i], err);
        if (st)
            return st;
        bool deferred = sizes[i] == INDEX_SECTION_SIZE_DEFERRED;
        if (deferred && i + 1 != n)
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "index section '%s': only the last size may be deferred", names[i]);
        snprintf(w->sections[i].name, sizeof w->sections[i].name, "%s", names[i]);
        w->sections[i].offset = at;
        w->sections[i].size = deferred ? 0 : sizes[i];
        w->deferred = deferred;
        at = align_up(at + w->sections[i].size);
    }
    w->n_sections = n;
    w->file_size = at;
    semb_status st = atomic_file_open_seekable(&w->file, path, err);
    if (st)
        return st;
    /* a placeholder until commit writes the final header over it */
    size_t header_bytes = INDEX_HEADER_SIZE + n * INDEX_SECTION_ENTRY_SIZE;
    static const uint8_t zeros[INDEX_HEADER_SIZE + INDEX_MAX_SECTIONS * INDEX_SECTION_ENTRY_SIZE];
    if (fwrite(zeros, 1, header_bytes, w->file.fp) != header_bytes) {
        index_writer_abort(w);
        return semb_fail(err, SEMB_ERR_IO, "%s: write failed: %s", path, strerror(errno));
    }
    w->position = header_bytes;
    return SEMB_OK;
}

semb_status index_writer_set_size(index_writer *w, size_t section, uint64_t size,
                                  semb_error *err)
{
    if (!w->deferred || section + 1 != w->n_sections)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "%s: index section %zu has no deferred size", w->file.path, section);
    w->sections[section].size = size;
    w->file_size = align_up(w->sections[section].offset + size);
    w->deferred = false;
    return SEMB_OK;
}

semb_status index_writer_stream(index_writer *w, size_t section, FILE **stream,
                                semb_error *err)
{
    if (section >= w->n_sections || (w->deferred && section + 1 == w->n_sections))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: index section %zu is not laid out",
                         w->file.path, section);
    if (fseeko(w->file.fp, (off_t)w->sections[section].offset, SEEK_SET) != 0)
        return semb_fail(err, SEMB_ERR_IO, "%s: seek failed: %s", w->file.path, strerror(errno));
    w->position = UINT64_MAX; /* the serializer moves it: the next write seeks */
    *stream = w->file.fp;
    return SEMB_OK;
}

semb_status index_writer_write(index_writer *w, size_t section, uint64_t at, const void *data,
                               size_t size, semb_error *err)
{
    if (section >= w->n_sections || at > w->sections[section].size ||
        size > w->sections[section].size - at)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "%s: write of %zu bytes at %llu outside index section %zu", w->file.path,
                         size, (unsigned long long)at, section);
    uint64_t offset = w->sections[section].offset + at;
    /* seeking flushes stdio's buffer, so consecutive writes do not seek */
    if (offset != w->position && fseeko(w->file.fp, (off_t)offset, SEEK_SET) != 0)
        return semb_fail(err, SEMB_ERR_IO, "%s: seek failed: %s", w->file.path, strerror(errno));
    if (size && fwrite(data, 1, size, w->file.fp) != size)
        return semb_fail(err, SEMB_ERR_IO, "%s: write failed: %s", w->file.path, strerror(errno));
    w->position = offset + size;
    return SEMB_OK;
}

semb_status index_writer_commit(index_writer *w, semb_error *err)
{
    if (w->deferred) {
        index_writer_abort(w);
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: the last section was never sized",
                         w->file.path);
    }
    uint8_t header[INDEX_HEADER_SIZE + INDEX_MAX_SECTIONS * INDEX_SECTION_ENTRY_SIZE];
    encode_header(w, &w->info, header);
    size_t header_bytes = INDEX_HEADER_SIZE + w->n_sections * INDEX_SECTION_ENTRY_SIZE;
    if (fflush(w->file.fp) != 0 || ftruncate(fileno(w->file.fp), (off_t)w->file_size) != 0 ||
        fseeko(w->file.fp, 0, SEEK_SET) != 0 ||
        fwrite(header, 1, header_bytes, w->file.fp) != header_bytes) {
        semb_status st = semb_fail(err, SEMB_ERR_IO, "%s: write failed: %s", w->file.path,
                                   strerror(errno));
        index_writer_abort(w);
        return st;
    }
    return atomic_file_commit(&w->file, err);
}

void index_writer_abort(index_writer *w)
{
    atomic_file_abort(&w->file);
}

/* ---- reading ---- */

const index_section *index_file_section(const index_file *f, const char *name)
{
    for (size_t i = 0; i < f->n_sections; i++)
        if (strcmp(f->sections[i].name, name) == 0)
            return &f->sections[i];
    return NULL;
}

const char *index_file_text(const index_file *f, size_t i, size_t *length)
{
    if (length)
        *length = (size_t)(f->text_offsets[i + 1] - f->text_offsets[i] - 1);
    return f->texts + f->text_offsets[i];
}

const char *index_file_id(const index_file *f, size_t i)
{
    return f->ids + f->id_offsets[i];
}

void index_file_close(index_file *f)
{
    if (f->map)
        munmap(f->map, f->map_size);
    free(f->path);
    free(f->model_name);
    free(f->document_prompt);
    memset(f, 0, sizeof *f);
}

#define BAD(...) semb_fail(err, SEMB_ERR_FORMAT, __VA_ARGS__)

static semb_status parse_header(index_file *f, semb_error *err)
{
    const uint8_t *h = f->map;
    const char *path = f->path;
    if (f->map_size < INDEX_HEADER_SIZE || memcmp(h, INDEX_FILE_MAGIC, 8) != 0)
        return BAD("%s: not a semb index (no SEMBINDX header)", path);
    uint32_t version = get_u32(h + 8);
    if (version != INDEX_FILE_VERSION)
        return BAD("%s: index format version %u; this semb reads version %d", path, version,
                   INDEX_FILE_VERSION);
    uint64_t file_size = get_u64(h + 16);
    if (file_size != f->map_size)
        return BAD("%s: truncated or extended: the header says %llu bytes, the file has %zu",
                   path, (unsigned long long)file_size, f->map_size);
    uint32_t n = get_u32(h + 52);
    if (n > INDEX_MAX_SECTIONS || INDEX_HEADER_SIZE + (size_t)n * INDEX_SECTION_ENTRY_SIZE >
                                      f->map_size)
        return BAD("%s: section table of %u entries does not fit", path, n);
    if (get_u32(h + 12) != header_crc(h, (size_t)n * INDEX_SECTION_ENTRY_SIZE))
        return BAD("%s: header or section table corrupt (CRC mismatch)", path);
    index_info *info = &f->info;
    info->documents = get_u64(h + 24);
    uint32_t dim = get_u32(h + 32), precision = get_u32(h + 36), sim = get_u32(h + 40),
             flags = get_u32(h + 44), max_seq = get_u32(h + 48);
    if (dim == 0 || dim > (1u << 20))
        return BAD("%s: dimension %u", path, dim);
    if (precision > SEMB_STORAGE_BINARY || sim > SEMB_SIMILARITY_MANHATTAN || flags > 3 ||
        max_seq > (1u << 24))
        return BAD("%s: header field out of range (precision %u, similarity %u, flags %u)",
                   path, precision, sim, flags);
    if (info->documents == 0)
        return BAD("%s: holds no documents", path);
    info->dimension = (int)dim;
    info->precision = (semb_storage_precision)precision;
    info->similarity = (semb_similarity)sim;
    info->normalized = flags & 1;
    info->ids_integer = (flags & 2) != 0;
    info->max_seq_length = (int)max_seq;
    memcpy(info->fingerprint, h + 56, 32);
    info->fingerprint[32] = '\0';
    for (int i = 0; i < 32; i++)
        if (!strchr("0123456789abcdef", info->fingerprint[i]) || !info->fingerprint[i])
            return BAD("%s: model fingerprint is not hexadecimal", path);
    f->n_sections = n;
    return SEMB_OK;
}

static int by_offset(const void *a, const void *b)
{
    const index_section *x = a, *y = b;
    return (x->offset > y->offset) - (x->offset < y->offset);
}

static semb_status parse_sections(index_file *f, semb_error *err)
{
    const uint8_t *table = (const uint8_t *)f->map + INDEX_HEADER_SIZE;
    uint64_t table_end = INDEX_HEADER_SIZE + f->n_sections * INDEX_SECTION_ENTRY_SIZE;
    for (size_t i = 0; i < f->n_sections; i++) {
        const uint8_t *e = table + i * INDEX_SECTION_ENTRY_SIZE;
        index_section *s = &f->sections[i];
        memcpy(s->name, e, INDEX_SECTION_NAME_SIZE);
        s->name[INDEX_SECTION_NAME_SIZE] = '\0';
        s->offset = get_u64(e + 16);
        s->size = get_u64(e + 24);
        if (!s->name[0])
            return BAD("%s: section %zu has no name", f->path, i);
        if (s->offset % INDEX_SECTION_ALIGN || s->offset < table_end ||
            s->offset > f->map_size || s->size > f->map_size - s->offset)
            return BAD("%s: section '%s' (offset %llu, %llu bytes) lies outside the file", f->path,
                       s->name, (unsigned long long)s->offset, (unsigned long long)s->size);
        for (size_t j = 0; j < i; j++)
            if (strcmp(f->sections[j].name, s->name) == 0)
                return BAD("%s: section '%s' appears twice", f->path, s->name);
    }
    index_section sorted[INDEX_MAX_SECTIONS];
    memcpy(sorted, f->sections, f->n_sections * sizeof *sorted);
    qsort(sorted, f->n_sections, sizeof *sorted, by_offset);
    for (size_t i = 1; i < f->n_sections; i++)
        if (sorted[i - 1].offset + sorted[i - 1].size > sorted[i].offset)
            return BAD("%s: sections '%s' and '%s' overlap", f->path, sorted[i - 1].name,
                       sorted[i].name);
    return SEMB_OK;
}

/* The section called name, which must hold exactly `size` bytes (any size when size is 0). */
static semb_status required(const index_file *f, const char *name, uint64_t size,
                            const uint8_t **data, uint64_t *got, semb_error *err)
{
    const index_section *s = index_file_section(f, name);
    if (!s)
        return BAD("%s: no '%s' section", f->path, name);
    if (size && s->size != size)
        return BAD("%s: section '%s' holds %llu bytes, %llu expected", f->path, name,
                   (unsigned long long)s->size, (unsigned long long)size);
    *data = (const uint8_t *)f->map + s->offset;
    if (got)
        *got = s->size;
    return SEMB_OK;
}

static bool is_integer_text(const char *s)
{
    if (*s == '-')
        s++;
    if (!*s || (s[0] == '0' && s[1]))
        return false;
    for (; *s; s++)
        if (*s < '0' || *s > '9')
            return false;
    return true;
}

/* A string table: offsets[count + 1] rising from 0 to the blob's size, every entry closed
 * by a NUL and holding no other. */
static semb_status string_table(index_file *f, const char *offsets_name, const char *blob_name,
                                 const uint64_t **offsets, const char **blob, bool integers,
                                 semb_error *err)
{
    uint64_t n = f->info.documents;
    if (n > (UINT64_MAX / 8) - 1)
        return BAD("%s: %llu documents", f->path, (unsigned long long)n);
    const uint8_t *off_data, *blob_data;
    uint64_t blob_size;
    semb_status st = required(f, offsets_name, (n + 1) * 8, &off_data, NULL, err);
    if (!st)
        st = required(f, blob_name, 0, &blob_data, &blob_size, err);
    if (st)
        return st;
    const uint64_t *o = (const uint64_t *)off_data;
    const char *b = (const char *)blob_data;
    if (o[0] != 0 || o[n] != blob_size)
        return BAD("%s: '%s' does not span '%s'", f->path, offsets_name, blob_name);
    for (uint64_t i = 0; i < n; i++) {
        if (o[i + 1] <= o[i] || o[i + 1] > blob_size || b[o[i + 1] - 1] != '\0' ||
            memchr(b + o[i], '\0', o[i + 1] - o[i] - 1))
            return BAD("%s: entry %llu of '%s' is malformed", f->path, (unsigned long long)i,
                       blob_name);
        if (integers && !is_integer_text(b + o[i]))
            return BAD("%s: id %llu is not an integer", f->path, (unsigned long long)i);
    }
    *offsets = o;
    *blob = b;
    return SEMB_OK;
}

/* meta's "hnsw" object, which a graph needs and which without one is corrupt. */
static semb_status parse_hnsw_meta(index_file *f, json_t *meta, semb_error *err)
{
    const index_section *s = index_file_section(f, "hnsw");
    json_t *h = json_object_get(meta, "hnsw");
    if (!s && !h)
        return SEMB_OK;
    if (!s || !h)
        return BAD("%s: %s", f->path, s ? "an 'hnsw' section but no graph parameters in 'meta'"
                                         : "graph parameters in 'meta' but no 'hnsw' section");
    json_t *m = json_object_get(h, "m"), *ef = json_object_get(h, "ef_construction"),
           *seed = json_object_get(h, "seed");
    if (!json_is_integer(m) || !json_is_integer(ef) || !json_is_integer(seed) ||
        json_integer_value(m) < 2 || json_integer_value(m) > INT32_MAX ||
        json_integer_value(ef) < 1 || json_integer_value(ef) > INT32_MAX ||
        json_integer_value(seed) < 0)
        return BAD("%s: the graph parameters in 'meta' (m, ef_construction, seed) are not "
                   "valid", f->path);
    if (f->info.similarity == SEMB_SIMILARITY_MANHATTAN)
        return BAD("%s: an HNSW graph in a manhattan index", f->path);
    f->hnsw = (const uint8_t *)f->map + s->offset;
    f->hnsw_size = s->size;
    f->hnsw_m = (int)json_integer_value(m);
    f->hnsw_ef_construction = (int)json_integer_value(ef);
    f->hnsw_seed = (uint64_t)json_integer_value(seed);
    return SEMB_OK;
}

static semb_status parse_meta(index_file *f, semb_error *err)
{
    const uint8_t *data;
    uint64_t size;
    semb_status st = required(f, "meta", 0, &data, &size, err);
    if (st)
        return st;
    json_error_t jerr;
    json_t *meta = json_loadb((const char *)data, (size_t)size, 0, &jerr);
    const char *model = meta ? json_string_value(json_object_get(meta, "model")) : NULL;
    const char *prompt = meta ? json_string_value(json_object_get(meta, "document_prompt"))
                              : NULL;
    if (!json_is_object(meta) || !model || !prompt) {
        json_decref(meta);
        return BAD("%s: section 'meta' is not the expected JSON object", f->path);
    }
    f->model_name = strdup(model);
    f->document_prompt = strdup(prompt);
    st = parse_hnsw_meta(f, meta, err);
    json_decref(meta);
    if (!st && (!f->model_name || !f->document_prompt))
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", f->path);
    return st;
}

static semb_status parse_int8_ranges(index_file *f, semb_error *err)
{
    int dim = f->info.dimension;
    const uint8_t *data;
    semb_status st = required(f, "int8_ranges", (uint64_t)dim * 2 * sizeof(float), &data, NULL,
                              err);
    if (st)
        return st;
    f->int8_starts = (const float *)data;
    f->int8_steps = f->int8_starts + dim;
    for (int d = 0; d < dim; d++)
        if (!isfinite(f->int8_starts[d]) || !isfinite(f->int8_steps[d]) ||
            f->int8_steps[d] < 0)
            return BAD("%s: int8 range of dimension %d is not finite", f->path, d);
    return SEMB_OK;
}

static semb_status validate(index_file *f, semb_error *err)
{
    semb_status st = parse_header(f, err);
    if (!st)
        st = parse_sections(f, err);
    if (st)
        return st;
    f->row_bytes = index_row_bytes(f->info.precision, f->info.dimension);
    if (f->info.documents > (uint64_t)f->map_size / f->row_bytes)
        return BAD("%s: %llu documents cannot fit in %zu bytes", f->path,
                   (unsigned long long)f->info.documents, f->map_size);
    st = required(f, "embeddings", f->info.documents * f->row_bytes, &f->embeddings, NULL, err);
    if (!st && f->info.precision == SEMB_STORAGE_INT8)
        st = parse_int8_ranges(f, err);
    if (!st)
        st = string_table(f, "text_offsets", "texts", &f->text_offsets, &f->texts, false, err);
    if (!st)
        st = string_table(f, "id_offsets", "ids", &f->id_offsets, &f->ids, f->info.ids_integer,
                          err);
    if (!st)
        st = parse_meta(f, err);
    return st;
}

semb_status index_file_open(const char *path, index_file *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat sb;
    if (fstat(fd, &sb) != 0 || !S_ISREG(sb.st_mode)) {
        close(fd);
        return semb_fail(err, SEMB_ERR_IO, "%s: not a regular file", path);
    }
    if (sb.st_size < INDEX_HEADER_SIZE) {
        close(fd);
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: not a semb index (%lld bytes)", path,
                         (long long)sb.st_size);
    }
    out->map_size = (size_t)sb.st_size;
    out->map = mmap(NULL, out->map_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int map_errno = errno;
    close(fd);
    if (out->map == MAP_FAILED) {
        out->map = NULL;
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot map: %s", path, strerror(map_errno));
    }
    if (!(out->path = strdup(path))) {
        index_file_close(out);
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    }
    semb_status st = validate(out, err);
    if (st)
        index_file_close(out);
    return st;
}
