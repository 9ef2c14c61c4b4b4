#include "io/safetensors.h"

#include <errno.h>
#include <fcntl.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"

/* The Python library refuses headers above 100 MB; a longer length field means a corrupt
 * or foreign file, and parsing it would only waste memory. */
#define SAFETENSORS_MAX_HEADER_BYTES 100000000ull

static const struct {
    const char *name;
    size_t size;
} dtype_table[] = {
    [SAFETENSORS_F64] = {"F64", 8}, [SAFETENSORS_F32] = {"F32", 4},
    [SAFETENSORS_F16] = {"F16", 2}, [SAFETENSORS_BF16] = {"BF16", 2},
    [SAFETENSORS_I64] = {"I64", 8}, [SAFETENSORS_I32] = {"I32", 4},
    [SAFETENSORS_I16] = {"I16", 2}, [SAFETENSORS_I8] = {"I8", 1},
    [SAFETENSORS_U8] = {"U8", 1},   [SAFETENSORS_BOOL] = {"BOOL", 1},
};
#define DTYPE_COUNT (sizeof dtype_table / sizeof dtype_table[0])

/* Valid safetensors dtypes that semb has no use for: reported as unsupported rather
 * than as a corrupt file. */
static const char *const foreign_dtypes[] = {"U16", "U32", "U64", "F8_E5M2", "F8_E4M3",
                                             "F8_E8M0", "F6_E2M3", "F6_E3M2", "F4", "C64"};

size_t safetensors_dtype_size(safetensors_dtype dtype)
{
    return (unsigned)dtype < DTYPE_COUNT ? dtype_table[dtype].size : 0;
}

const char *safetensors_dtype_name(safetensors_dtype dtype)
{
    return (unsigned)dtype < DTYPE_COUNT ? dtype_table[dtype].name : "?";
}

size_t safetensors_numel(const safetensors_tensor *t)
{
    size_t n = 1;
    for (int i = 0; i < t->ndim; i++)
        n *= (size_t)t->shape[i];
    return n;
}

const safetensors_tensor *safetensors_find(const safetensors_file *f, const char *name)
{
    for (size_t i = 0; i < f->n_tensors; i++)
        if (strcmp(f->tensors[i].name, name) == 0)
            return &f->tensors[i];
    return NULL;
}

void safetensors_close(safetensors_file *f)
{
    if (!f)
        return;
    if (f->map)
        munmap(f->map, f->map_size);
    for (size_t i = 0; i < f->n_tensors; i++)
        free(f->tensors[i].name);
    free(f->tensors);
    free(f->metadata_json);
    free(f->path);
    memset(f, 0, sizeof *f);
}

/* "path: tensor 'name': <message>" */
static semb_status tensor_fail(semb_error *err, semb_status status, const safetensors_file *f,
                               const char *name, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static semb_status tensor_fail(semb_error *err, semb_status status, const safetensors_file *f,
                               const char *name, const char *fmt, ...)
{
    char detail[SEMB_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(detail, sizeof detail, fmt, ap);
    va_end(ap);
    return semb_fail(err, status, "%s: tensor '%s': %s", f->path, name, detail);
}

void safetensors_format_shape(const int64_t *shape, int ndim, char *buf, size_t size)
{
    size_t used = (size_t)snprintf(buf, size, "[");
    for (int i = 0; i < ndim && used < size; i++)
        used += (size_t)snprintf(buf + used, size - used, "%s%lld", i ? ", " : "",
                                 (long long)shape[i]);
    if (used < size)
        snprintf(buf + used, size - used, "]");
}

static semb_status map_file(const char *path, safetensors_file *f, semb_error *err)
{
    f->path = strdup(path);
    if (!f->path)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    struct stat st;
    if (fstat(fd, &st) != 0) {
        int e = errno;
        close(fd);
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot stat: %s", path, strerror(e));
    }
    if (!S_ISREG(st.st_mode)) {
        close(fd);
        return semb_fail(err, SEMB_ERR_IO, "%s: not a regular file", path);
    }
    if (st.st_size < 8) {
        close(fd);
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: file is %lld bytes, too short for the 8-byte header length", path,
                         (long long)st.st_size);
    }
    void *map = mmap(NULL, (size_t)st.st_size, PROT_READ, MAP_PRIVATE, fd, 0);
    int e = errno;
    close(fd);
    if (map == MAP_FAILED)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot map: %s", path, strerror(e));
    f->map = map;
    f->map_size = (size_t)st.st_size;
    return SEMB_OK;
}

/* jansson's duplicate-key error does not name long keys; its position is just past the
 * key's closing quote, so the key is recovered from the text. Returns a malloc'd name
 * or NULL when the text does not look as expected. */
static char *duplicate_key_at(const char *text, size_t length, size_t position)
{
    if (position == 0 || position > length || text[position - 1] != '"')
        return NULL;
    size_t close_quote = position - 1;
    for (size_t i = close_quote; i-- > 0;) {
        if (text[i] != '"')
            continue;
        size_t backslashes = 0;
        while (backslashes < i && text[i - 1 - backslashes] == '\\')
            backslashes++;
        if (backslashes % 2 == 1)
            continue;
        json_t *key = json_loadb(text + i, close_quote - i + 1, JSON_DECODE_ANY, NULL);
        char *name = (key && json_is_string(key)) ? strdup(json_string_value(key)) : NULL;
        json_decref(key);
        return name;
    }
    return NULL;
}

static semb_status json_fail(const safetensors_file *f, const char *text, size_t length,
                             const json_error_t *jerr, semb_error *err)
{
    if (json_error_code(jerr) == json_error_duplicate_key) {
        char *name = duplicate_key_at(text, length, (size_t)jerr->position);
        if (name) {
            semb_status st = semb_fail(err, SEMB_ERR_FORMAT,
                                       "%s: header line %d, column %d: duplicate key '%s'",
                                       f->path, jerr->line, jerr->column, name);
            free(name);
            return st;
        }
    }
    return semb_fail(err, SEMB_ERR_FORMAT, "%s: header line %d, column %d: invalid JSON: %s",
                     f->path, jerr->line, jerr->column, jerr->text);
}

static semb_status parse_dtype(const safetensors_file *f, const char *name, const json_t *entry,
                               safetensors_dtype *out, semb_error *err)
{
    const json_t *v = json_object_get(entry, "dtype");
    if (!v)
        return tensor_fail(err, SEMB_ERR_FORMAT, f, name, "missing field 'dtype'");
    if (!json_is_string(v))
        return tensor_fail(err, SEMB_ERR_FORMAT, f, name, "field 'dtype' must be a string");
    const char *s = json_string_value(v);
    for (size_t i = 0; i < DTYPE_COUNT; i++)
        if (strcmp(s, dtype_table[i].name) == 0) {
            *out = (safetensors_dtype)i;
            return SEMB_OK;
        }
    for (size_t i = 0; i < sizeof foreign_dtypes / sizeof foreign_dtypes[0]; i++)
        if (strcmp(s, foreign_dtypes[i]) == 0)
            return tensor_fail(err, SEMB_ERR_UNSUPPORTED, f, name,
                               "dtype '%s' is not supported by semb", s);
    return tensor_fail(err, SEMB_ERR_FORMAT, f, name, "field 'dtype': unknown dtype '%s'", s);
}

static semb_status parse_shape(const safetensors_file *f, const char *name, const json_t *entry,
                               safetensors_tensor *t, semb_error *err)
{
    const json_t *v = json_object_get(entry, "shape");
    if (!v)
        return tensor_fail(err, SEMB_ERR_FORMAT, f, name, "missing field 'shape'");
    if (!json_is_array(v))
        return tensor_fail(err, SEMB_ERR_FORMAT, f, name,
                           "field 'shape' must be an array of integers");
    size_t ndim = json_array_size(v);
    if (ndim > SAFETENSORS_MAX_DIMS)
        return tensor_fail(err, SEMB_ERR_UNSUPPORTED, f, name,
                           "shape has %zu dimensions, semb supports at most %d", ndim,
                           SAFETENSORS_MAX_DIMS);
    for (size_t i = 0; i < ndim; i++) {
        const json_t *d = json_array_get(v, i);
        if (!json_is_integer(d))
            return tensor_fail(err, SEMB_ERR_FORMAT, f, name,
                               "field 'shape': dimension %zu is not an integer", i);
        if (json_integer_value(d) < 0)
            return tensor_fail(err, SEMB_ERR_FORMAT, f, name,
                               "field 'shape': dimension %zu is negative (%lld)", i,
                               (long long)json_integer_value(d));
        t->shape[i] = json_integer_value(d);
    }
    t->ndim = (int)ndim;
    return SEMB_OK;
}

static semb_status parse_offsets(const safetensors_file *f, const char *name,
                                 const json_t *entry, uint64_t offsets[2], semb_error *err)
{
    const json_t *v = json_object_get(entry, "data_offsets");
    if (!v)
        return tensor_fail(err, SEMB_ERR_FORMAT, f, name, "missing field 'data_offsets'");
    if (!json_is_array(v) || json_array_size(v) != 2)
        return tensor_fail(err, SEMB_ERR_FORMAT, f, name,
                           "field 'data_offsets' must be an array [begin, end]");
    for (size_t i = 0; i < 2; i++) {
        const json_t *o = json_array_get(v, i);
        if (!json_is_integer(o) || json_integer_value(o) < 0)
            return tensor_fail(err, SEMB_ERR_FORMAT, f, name,
                               "field 'data_offsets': %s must be a non-negative integer",
                               i == 0 ? "begin" : "end");
        offsets[i] = (uint64_t)json_integer_value(o);
    }
    return SEMB_OK;
}

/* Fills t from one header entry; the byte range [begin, end) is relative to the data block
 * of data_size bytes. */
static semb_status parse_tensor(const safetensors_file *f, const char *name, const json_t *entry,
                                const unsigned char *data_block, size_t data_size,
                                safetensors_tensor *t, semb_error *err)
{
    if (!json_is_object(entry))
        return tensor_fail(err, SEMB_ERR_FORMAT, f, name,
                           "expected an object with dtype, shape and data_offsets");
    uint64_t off[2];
    semb_status st = parse_dtype(f, name, entry, &t->dtype, err);
    if (st == SEMB_OK)
        st = parse_shape(f, name, entry, t, err);
    if (st == SEMB_OK)
        st = parse_offsets(f, name, entry, off, err);
    if (st != SEMB_OK)
        return st;
    if (off[0] > off[1])
        return tensor_fail(err, SEMB_ERR_FORMAT, f, name,
                           "data_offsets [%llu, %llu]: begin is past end",
                           (unsigned long long)off[0], (unsigned long long)off[1]);
    size_t expected = safetensors_dtype_size(t->dtype);
    bool overflow = false;
    for (int i = 0; i < t->ndim; i++)
        overflow |= __builtin_mul_overflow(expected, (size_t)t->shape[i], &expected);
    if (overflow || expected != off[1] - off[0]) {
        char shape[SAFETENSORS_MAX_DIMS * 24];
        safetensors_format_shape(t->shape, t->ndim, shape, sizeof shape);
        char expected_text[32];
        snprintf(expected_text, sizeof expected_text, overflow ? "more than 2^64" : "%zu",
                 expected);
        return tensor_fail(err, SEMB_ERR_FORMAT, f, name,
                           "data_offsets [%llu, %llu] do not match shape %s of %s "
                           "(%s bytes expected, got %llu)",
                           (unsigned long long)off[0], (unsigned long long)off[1], shape,
                           safetensors_dtype_name(t->dtype), expected_text,
                           (unsigned long long)(off[1] - off[0]));
    }
    if (off[1] > data_size)
        return tensor_fail(err, SEMB_ERR_FORMAT, f, name,
                           "data_offsets [%llu, %llu] run past the end of the data block "
                           "(%zu bytes; file truncated?)",
                           (unsigned long long)off[0], (unsigned long long)off[1], data_size);
    t->nbytes = expected;
    t->data = data_block + off[0];
    return SEMB_OK;
}

typedef struct byte_range {
    size_t begin, end;
    const char *name;
} byte_range;

static int compare_ranges(const void *a, const void *b)
{
    const byte_range *x = a, *y = b;
    if (x->begin != y->begin)
        return x->begin < y->begin ? -1 : 1;
    return (x->end > y->end) - (x->end < y->end);
}

/* Empty tensors occupy no bytes, so they cannot overlap anything. */
static semb_status check_overlaps(const safetensors_file *f, const unsigned char *data_block,
                                  semb_error *err)
{
    byte_range *ranges = malloc((f->n_tensors ? f->n_tensors : 1) * sizeof *ranges);
    if (!ranges)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", f->path);
    size_t n = 0;
    for (size_t i = 0; i < f->n_tensors; i++) {
        const safetensors_tensor *t = &f->tensors[i];
        if (t->nbytes == 0)
            continue;
        size_t begin = (size_t)((const unsigned char *)t->data - data_block);
        ranges[n++] = (byte_range){begin, begin + t->nbytes, t->name};
    }
    qsort(ranges, n, sizeof *ranges, compare_ranges);
    semb_status st = SEMB_OK;
    for (size_t i = 1; i < n && st == SEMB_OK; i++)
        if (ranges[i].begin < ranges[i - 1].end)
            st = semb_fail(err, SEMB_ERR_FORMAT,
                           "%s: tensors '%s' and '%s' overlap: data_offsets [%zu, %zu] and "
                           "[%zu, %zu]",
                           f->path, ranges[i - 1].name, ranges[i].name, ranges[i - 1].begin,
                           ranges[i - 1].end, ranges[i].begin, ranges[i].end);
    free(ranges);
    return st;
}

static semb_status parse_entries(safetensors_file *f, const json_t *root,
                                 const unsigned char *data_block, size_t data_size,
                                 semb_error *err)
{
    size_t capacity = json_object_size(root);
    f->tensors = calloc(capacity ? capacity : 1, sizeof *f->tensors);
    if (!f->tensors)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", f->path);
    const char *key;
    const json_t *value;
    json_object_foreach((json_t *)root, key, value) {
        if (strcmp(key, "__metadata__") == 0) {
            if (json_is_null(value))
                continue;
            if (!json_is_object(value))
                return semb_fail(err, SEMB_ERR_FORMAT, "%s: '__metadata__' must be an object",
                                 f->path);
            f->metadata_json = json_dumps(value, JSON_COMPACT);
            if (!f->metadata_json)
                return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", f->path);
            continue;
        }
        safetensors_tensor *t = &f->tensors[f->n_tensors];
        t->name = strdup(key);
        if (!t->name)
            return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", f->path);
        f->n_tensors++;
        semb_status st = parse_tensor(f, key, value, data_block, data_size, t, err);
        if (st != SEMB_OK)
            return st;
    }
    return check_overlaps(f, data_block, err);
}

static semb_status parse_header(safetensors_file *f, semb_error *err)
{
    const unsigned char *bytes = f->map;
    uint64_t header_len = 0;
    for (int i = 7; i >= 0; i--)
        header_len = header_len << 8 | bytes[i];
    size_t available = f->map_size - 8;
    if (header_len > available)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: header length %llu exceeds the %zu bytes after it (truncated or "
                         "not a safetensors file)",
                         f->path, (unsigned long long)header_len, available);
    if (header_len > SAFETENSORS_MAX_HEADER_BYTES)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: header length %llu is larger than the %llu bytes allowed", f->path,
                         (unsigned long long)header_len, SAFETENSORS_MAX_HEADER_BYTES);
    const char *text = (const char *)bytes + 8;
    json_error_t jerr;
    json_t *root = json_loadb(text, (size_t)header_len, JSON_REJECT_DUPLICATES, &jerr);
    if (!root)
        return json_fail(f, text, (size_t)header_len, &jerr, err);
    semb_status st;
    if (!json_is_object(root))
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: header is not a JSON object", f->path);
    else
        st = parse_entries(f, root, bytes + 8 + header_len, available - (size_t)header_len,
                           err);
    json_decref(root);
    return st;
}

semb_status safetensors_open(const char *path, safetensors_file *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    safetensors_file f = {0};
    semb_status st = map_file(path, &f, err);
    if (st == SEMB_OK)
        st = parse_header(&f, err);
    if (st != SEMB_OK) {
        safetensors_close(&f);
        return st;
    }
    *out = f;
    return SEMB_OK;
}
