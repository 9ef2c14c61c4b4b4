/* safetensors_to_f32 / safetensors_to_f64: widening and narrowing of floating tensors.
 * Tensor data sits at arbitrary offsets in the file mapping, so every load goes through
 * memcpy or a byte-wise helper, never through a cast pointer. */
#include <string.h>

#include "core/error.h"
#include "io/half_float.h"
#include "io/safetensors.h"

/* Values converted per step when going through a float32 staging buffer. */
#define CHUNK 1024

static semb_status check_request(const safetensors_file *f, const safetensors_tensor *t,
                                 size_t count, semb_error *err)
{
    switch (t->dtype) {
    case SAFETENSORS_F64:
    case SAFETENSORS_F32:
    case SAFETENSORS_F16:
    case SAFETENSORS_BF16:
        break;
    default:
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: tensor '%s': dtype %s is not a floating type",
                         f->path, t->name, safetensors_dtype_name(t->dtype));
    }
    size_t numel = safetensors_numel(t);
    if (count != numel)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: tensor '%s': has %zu elements, %zu were expected", f->path,
                         t->name, numel, count);
    return SEMB_OK;
}

static void sixteen_bit_to_float(safetensors_dtype dtype, const void *src, float *dst, size_t n)
{
    if (dtype == SAFETENSORS_F16)
        half_to_float_array(src, dst, n);
    else
        bfloat16_to_float_array(src, dst, n);
}

semb_status safetensors_to_f32(const safetensors_file *f, const safetensors_tensor *t,
                               float *dst, size_t count, semb_error *err)
{
    semb_status st = check_request(f, t, count, err);
    if (st != SEMB_OK || count == 0)
        return st;
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case SAFETENSORS_F32:
        memcpy(dst, src, count * sizeof(float));
        break;
    case SAFETENSORS_F64:
        for (size_t i = 0; i < count; i++) {
            double v;
            memcpy(&v, src + i * sizeof v, sizeof v);
            dst[i] = (float)v;
        }
        break;
    default:
        sixteen_bit_to_float(t->dtype, src, dst, count);
        break;
    }
    return SEMB_OK;
}

semb_status safetensors_to_f64(const safetensors_file *f, const safetensors_tensor *t,
                               double *dst, size_t count, semb_error *err)
{
    semb_status st = check_request(f, t, count, err);
    if (st != SEMB_OK || count == 0)
        return st;
    const unsigned char *src = t->data;
    switch (t->dtype) {
    case SAFETENSORS_F64:
        memcpy(dst, src, count * sizeof(double));
        break;
    case SAFETENSORS_F32:
        for (size_t i = 0; i < count; i++) {
            float v;
            memcpy(&v, src + i * sizeof v, sizeof v);
            dst[i] = v;
        }
        break;
    default: {
        float chunk[CHUNK];
        for (size_t i = 0; i < count; i += CHUNK) {
            size_t n = count - i < CHUNK ? count - i : CHUNK;
            sixteen_bit_to_float(t->dtype, src + 2 * i, chunk, n);
            for (size_t j = 0; j < n; j++)
                dst[i + j] = chunk[j];
        }
        break;
    }
    }
    return SEMB_OK;
}
