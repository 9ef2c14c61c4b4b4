/* safetensors_write: the layout of the Python library (safetensors.torch.save_file), so
 * that files semb writes are byte-for-byte what Python would write for the same tensors. */
#include <errno.h>
#include <jansson.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/safetensors.h"

/* Position in the Python library's Dtype enum, which lists dtypes by increasing alignment.
 * It writes tensors by decreasing position, then by name, so that each tensor's data is
 * aligned to its element size once the header is padded to a multiple of 8. */
static int python_dtype_rank(safetensors_dtype dtype)
{
    switch (dtype) {
    case SAFETENSORS_BOOL: return 0;
    case SAFETENSORS_U8: return 1;
    case SAFETENSORS_I8: return 2;
    case SAFETENSORS_I16: return 5;
    case SAFETENSORS_F16: return 7;
    case SAFETENSORS_BF16: return 8;
    case SAFETENSORS_I32: return 9;
    case SAFETENSORS_F32: return 11;
    case SAFETENSORS_F64: return 12;
    case SAFETENSORS_I64: return 13;
    }
    return -1;
}

/* An entry with its size in bytes, in the order it will be written. */
typedef struct planned_tensor {
    const safetensors_entry *entry;
    size_t nbytes;
} planned_tensor;

static int compare_python_order(const void *a, const void *b)
{
    const safetensors_entry *x = ((const planned_tensor *)a)->entry;
    const safetensors_entry *y = ((const planned_tensor *)b)->entry;
    int rx = python_dtype_rank(x->dtype), ry = python_dtype_rank(y->dtype);
    if (rx != ry)
        return ry - rx;
    return strcmp(x->name, y->name);
}

/* Checks one entry and computes its size in bytes. */
static semb_status entry_nbytes(const char *path, const safetensors_entry *e, size_t *nbytes,
                                semb_error *err)
{
    if (!e->name)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: a tensor has no name", path);
    if (strcmp(e->name, "__metadata__") == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "%s: '__metadata__' is reserved and cannot name a tensor", path);
    if (safetensors_dtype_size(e->dtype) == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: tensor '%s': invalid dtype %d", path,
                         e->name, (int)e->dtype);
    if (e->ndim < 0 || e->ndim > SAFETENSORS_MAX_DIMS)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "%s: tensor '%s': %d dimensions (0 to %d allowed)", path, e->name,
                         e->ndim, SAFETENSORS_MAX_DIMS);
    size_t n = safetensors_dtype_size(e->dtype);
    for (int i = 0; i < e->ndim; i++) {
        if (e->shape[i] < 0)
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "%s: tensor '%s': dimension %d is negative (%lld)", path, e->name,
                             i, (long long)e->shape[i]);
        if (__builtin_mul_overflow(n, (size_t)e->shape[i], &n))
            return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: tensor '%s': too large", path,
                             e->name);
    }
    if (n > 0 && !e->data)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: tensor '%s': data is NULL", path,
                         e->name);
    *nbytes = n;
    return SEMB_OK;
}

static semb_status add_metadata(json_t *root, const char *path, const char *const *metadata,
                                semb_error *err)
{
    json_t *object = json_object();
    if (!object || json_object_set_new(root, "__metadata__", object) != 0)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; metadata[i]; i += 2) {
        if (!metadata[i + 1])
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "%s: metadata key '%s' has no value", path, metadata[i]);
        if (json_object_set_new(object, metadata[i], json_string(metadata[i + 1])) != 0)
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "%s: metadata '%s' is not valid UTF-8", path, metadata[i]);
    }
    return SEMB_OK;
}

static json_t *tensor_info(const safetensors_entry *e, size_t begin, size_t end)
{
    json_t *shape = json_array();
    for (int i = 0; shape && i < e->ndim; i++)
        if (json_array_append_new(shape, json_integer(e->shape[i])) != 0) {
            json_decref(shape);
            return NULL;
        }
    return json_pack("{s:s, s:o, s:[I,I]}", "dtype", safetensors_dtype_name(e->dtype), "shape",
                     shape, "data_offsets", (json_int_t)begin, (json_int_t)end);
}

/* Builds the header object with tensors in plan order; offsets are cumulative sizes. */
static semb_status build_header(const char *path, const planned_tensor *plan, size_t n,
                                const char *const *metadata, json_t **out, semb_error *err)
{
    json_t *root = json_object();
    if (!root)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    semb_status st = metadata ? add_metadata(root, path, metadata, err) : SEMB_OK;
    size_t offset = 0;
    for (size_t i = 0; i < n && st == SEMB_OK; i++) {
        const safetensors_entry *e = plan[i].entry;
        if (json_object_get(root, e->name)) {
            st = semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: tensor '%s' appears twice", path,
                           e->name);
            break;
        }
        json_t *info = tensor_info(e, offset, offset + plan[i].nbytes);
        if (!info)
            st = semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
        else if (json_object_set_new(root, e->name, info) != 0)
            st = semb_fail(err, SEMB_ERR_INVALID_ARG,
                           "%s: tensor name '%s' is not valid UTF-8", path, e->name);
        offset += plan[i].nbytes;
    }
    if (st != SEMB_OK) {
        json_decref(root);
        return st;
    }
    *out = root;
    return SEMB_OK;
}

static semb_status write_file(const char *path, const char *header, size_t header_len,
                              const planned_tensor *plan, size_t n, semb_error *err)
{
    size_t padded = (header_len + 7) / 8 * 8;
    unsigned char length[8];
    for (int i = 0; i < 8; i++)
        length[i] = (unsigned char)((uint64_t)padded >> (8 * i));
    static const char spaces[8] = "        ";

    atomic_file af;
    semb_status st = atomic_file_open(&af, path, err);
    if (st != SEMB_OK)
        return st;
    bool ok = fwrite(length, 1, 8, af.fp) == 8 &&
              fwrite(header, 1, header_len, af.fp) == header_len &&
              fwrite(spaces, 1, padded - header_len, af.fp) == padded - header_len;
    for (size_t i = 0; ok && i < n; i++)
        ok = plan[i].nbytes == 0 ||
             fwrite(plan[i].entry->data, 1, plan[i].nbytes, af.fp) == plan[i].nbytes;
    if (!ok) {
        int e = errno;
        atomic_file_abort(&af);
        return semb_fail(err, SEMB_ERR_IO, "%s: write failed: %s", path, strerror(e));
    }
    return atomic_file_commit(&af, err);
}

semb_status safetensors_write(const char *path, const safetensors_entry *entries, size_t n,
                              const char *const *metadata, semb_error *err)
{
    planned_tensor *plan = malloc((n ? n : 1) * sizeof *plan);
    if (!plan)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    semb_status st = SEMB_OK;
    for (size_t i = 0; i < n && st == SEMB_OK; i++) {
        plan[i].entry = &entries[i];
        st = entry_nbytes(path, &entries[i], &plan[i].nbytes, err);
    }
    json_t *root = NULL;
    char *header = NULL;
    if (st == SEMB_OK) {
        qsort(plan, n, sizeof *plan, compare_python_order);
        st = build_header(path, plan, n, metadata, &root, err);
    }
    if (st == SEMB_OK) {
        header = json_dumps(root, JSON_COMPACT);
        if (!header)
            st = semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    }
    if (st == SEMB_OK)
        st = write_file(path, header, strlen(header), plan, n, err);
    free(header);
    json_decref(root);
    free(plan);
    return st;
}
