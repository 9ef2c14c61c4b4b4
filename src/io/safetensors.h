/* safetensors files: read through mmap with full validation, written atomically.
 * Format: 8-byte little-endian header length N, N bytes of JSON header
 * {"name": {"dtype", "shape", "data_offsets": [begin, end]}, "__metadata__": {...}},
 * then the data block; offsets are relative to the data block. */
#ifndef SEMB_IO_SAFETENSORS_H
#define SEMB_IO_SAFETENSORS_H

#include <stddef.h>
#include <stdint.h>

#include "semb.h"

#define SAFETENSORS_MAX_DIMS 8

typedef enum safetensors_dtype {
    SAFETENSORS_F64,
    SAFETENSORS_F32,
    SAFETENSORS_F16,
    SAFETENSORS_BF16,
    SAFETENSORS_I64,
    SAFETENSORS_I32,
    SAFETENSORS_I16,
    SAFETENSORS_I8,
    SAFETENSORS_U8,
    SAFETENSORS_BOOL
} safetensors_dtype;

typedef struct safetensors_tensor {
    char *name;
    safetensors_dtype dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    size_t nbytes;
    const void *data; /* points into the file mapping; valid until safetensors_close */
} safetensors_tensor;

typedef struct safetensors_file {
    char *path;
    void *map;
    size_t map_size;
    size_t n_tensors;
    safetensors_tensor *tensors; /* in header order */
    char *metadata_json;         /* the "__metadata__" object as compact JSON, or NULL */
} safetensors_file;

/* Bytes per element of a dtype. */
size_t safetensors_dtype_size(safetensors_dtype dtype);
/* "F32", "BF16", ... static storage. */
const char *safetensors_dtype_name(safetensors_dtype dtype);
/* Product of the shape (1 for a scalar). */
size_t safetensors_numel(const safetensors_tensor *t);
/* Writes a shape as "[2, 3]" ("[]" for a scalar) into buf of size bytes, cut short (always
 * NUL-terminated) when it does not fit: for error messages. */
void safetensors_format_shape(const int64_t *shape, int ndim, char *buf, size_t size);

/* Maps and validates a file: header length within the file, valid JSON, known dtypes,
 * shapes whose byte size equals the offsets, offsets inside the data block, no overlaps,
 * no duplicate names. On failure *out is zeroed and err names the path and the tensor
 * or field at fault: SEMB_ERR_IO when the file cannot be opened or mapped,
 * SEMB_ERR_FORMAT when it is malformed, SEMB_ERR_UNSUPPORTED for valid safetensors that
 * semb cannot represent (dtypes such as U64 or F8_E4M3, more than SAFETENSORS_MAX_DIMS
 * dimensions). Gaps between tensors are tolerated. Free with safetensors_close. */
semb_status safetensors_open(const char *path, safetensors_file *out, semb_error *err);

/* Unmaps and frees. Zeroed or NULL files are allowed. */
void safetensors_close(safetensors_file *f);

/* The tensor with this exact name, or NULL. */
const safetensors_tensor *safetensors_find(const safetensors_file *f, const char *name);

/* Converts a floating tensor (F64, F32, F16, BF16) to float32 / float64. count must equal
 * the tensor's element count, else SEMB_ERR_FORMAT naming file and tensor. */
semb_status safetensors_to_f32(const safetensors_file *f, const safetensors_tensor *t,
                               float *dst, size_t count, semb_error *err);
semb_status safetensors_to_f64(const safetensors_file *f, const safetensors_tensor *t,
                               double *dst, size_t count, semb_error *err);

/* One tensor to write; data is dtype-typed, numel(shape) elements, caller-owned. */
typedef struct safetensors_entry {
    const char *name;
    safetensors_dtype dtype;
    int ndim;
    int64_t shape[SAFETENSORS_MAX_DIMS];
    const void *data;
} safetensors_entry;

/* Writes a safetensors file atomically (temporary file in the same folder, fsync, rename),
 * laid out as the Python library lays it out: compact JSON header with "__metadata__" first,
 * tensors ordered by decreasing dtype alignment then by name, header padded with spaces to a
 * multiple of 8, so each tensor's data is aligned to its element size.
 * metadata: NULL or a NULL-terminated list of key, value, key, value, ... strings for
 * "__metadata__" (e.g. {"format", "pt", NULL}). Never leaves a partial file at path.
 * Errors: SEMB_ERR_INVALID_ARG naming the tensor (duplicate or reserved name, negative
 * dimension, NULL data, invalid UTF-8), SEMB_ERR_IO naming path. */
semb_status safetensors_write(const char *path, const safetensors_entry *entries, size_t n,
                              const char *const *metadata, semb_error *err);

#endif
