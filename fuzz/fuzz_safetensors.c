/* libFuzzer target for the safetensors reader: the input is a whole file, opened through
 * safetensors_open (header length, header JSON, dtypes, shapes, offsets); every tensor of a
 * file that opens is then found by name and read back, floating ones converted to float32 and
 * float64, the others summed byte by byte, so a tensor that points outside the mapping is
 * touched. Besides the sanitizers' findings it aborts when an opened file breaks what the
 * reader promises: a byte size that is not elements * dtype size, a name that does not find
 * its tensor, a conversion that fails on a valid tensor. */
#include <stdlib.h>
#include <string.h>

#include "io/safetensors.h"
#include "support.h"

static int is_floating(safetensors_dtype dtype)
{
    return dtype == SAFETENSORS_F64 || dtype == SAFETENSORS_F32 || dtype == SAFETENSORS_F16 ||
           dtype == SAFETENSORS_BF16;
}

static void read_back(const safetensors_file *f, const safetensors_tensor *t)
{
    size_t count = safetensors_numel(t);
    if (t->nbytes != count * safetensors_dtype_size(t->dtype))
        abort();
    if (safetensors_find(f, t->name) != t)
        abort();
    semb_error err = {0};
    if (!is_floating(t->dtype)) {
        volatile uint8_t sum = 0;
        for (size_t i = 0; i < t->nbytes; i++)
            sum += ((const uint8_t *)t->data)[i];
        (void)sum;
        if (safetensors_to_f32(f, t, NULL, count, &err) == SEMB_OK)
            abort(); /* an integer tensor is not converted */
        return;
    }
    float *f32 = malloc((count ? count : 1) * sizeof *f32);
    double *f64 = malloc((count ? count : 1) * sizeof *f64);
    if (!f32 || !f64)
        abort();
    if (safetensors_to_f32(f, t, f32, count, &err) || safetensors_to_f64(f, t, f64, count, &err))
        abort();
    if (safetensors_to_f32(f, t, f32, count + 1, &err) == SEMB_OK)
        abort(); /* a wrong count is refused */
    free(f32);
    free(f64);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *path = fuzz_write("model.safetensors", data, size);
    safetensors_file f;
    semb_error err = {0};
    if (safetensors_open(path, &f, &err)) {
        if (f.tensors || f.map || !err.message[0])
            abort();
        return 0;
    }
    for (size_t i = 0; i < f.n_tensors; i++)
        read_back(&f, &f.tensors[i]);
    safetensors_close(&f);
    return 0;
}
