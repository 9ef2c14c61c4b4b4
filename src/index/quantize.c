#include "index/quantize.h"

#include <math.h>
#include <string.h>

void int8_calibration_init(int8_calibration *c, int dim, float *min, float *max)
{
    *c = (int8_calibration){.dim = dim, .rows = 0, .min = min, .max = max};
    for (int d = 0; d < dim; d++) {
        min[d] = INFINITY;
        max[d] = -INFINITY;
    }
}

void int8_calibration_add(int8_calibration *c, const float *rows, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const float *r = rows + i * (size_t)c->dim;
        for (int d = 0; d < c->dim; d++) {
            if (r[d] < c->min[d])
                c->min[d] = r[d];
            if (r[d] > c->max[d])
                c->max[d] = r[d];
        }
    }
    c->rows += n;
}

void int8_calibration_finish(const int8_calibration *c, float *starts, float *steps)
{
    for (int d = 0; d < c->dim; d++) {
        starts[d] = c->min[d];
        /* float32 subtraction, then division by 255, each rounded as numpy rounds them */
        float width = c->max[d] - c->min[d];
        steps[d] = width / 255.0f;
    }
}

static int8_t quantize_one(float x, float start, float step)
{
    if (!(step > 0))
        return -128;
    float v = (x - start) / step;
    v = v - 128.0f;
    if (!(v > -128.0f)) /* NaN included */
        return -128;
    if (v >= 127.0f)
        return 127;
    return (int8_t)v; /* truncation toward zero, as astype(np.int8) */
}

void quantize_int8_rows(const float *rows, size_t n, int dim, const float *starts,
                        const float *steps, int8_t *out)
{
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++) {
            size_t at = i * (size_t)dim + (size_t)d;
            out[at] = quantize_one(rows[at], starts[d], steps[d]);
        }
}

/* vectorized (the project builds at -O2, whose cost model leaves this loop scalar): it runs
 * over every int8 row of a search */
__attribute__((optimize("tree-vectorize"))) void dequantize_int8_rows(const int8_t *codes, size_t n, int dim, const float *starts,
                          const float *steps, float *out)
{
    for (size_t i = 0; i < n; i++) {
        const int8_t *c = codes + i * (size_t)dim;
        float *o = out + i * (size_t)dim;
        for (int d = 0; d < dim; d++)
            o[d] = starts[d] + ((float)c[d] + 128.5f) * steps[d];
    }
}

size_t binary_row_bytes(int dim)
{
    return ((size_t)dim + 7) / 8;
}

void quantize_binary_rows(const float *rows, size_t n, int dim, uint8_t *out)
{
    size_t bytes = binary_row_bytes(dim);
    memset(out, 0, n * bytes);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            if (rows[i * (size_t)dim + (size_t)d] > 0)
                out[i * bytes + (size_t)d / 8] |= (uint8_t)(0x80u >> (d % 8));
}

__attribute__((optimize("tree-vectorize"))) void unpack_binary_rows(const uint8_t *bits, size_t n, int dim, float *out)
{
    size_t bytes = binary_row_bytes(dim);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            out[i * (size_t)dim + (size_t)d] =
                (bits[i * bytes + (size_t)d / 8] & (0x80u >> (d % 8))) ? 1.0f : -1.0f;
}

uint32_t hamming_distance_reference(const uint8_t *a, const uint8_t *b, size_t bytes)
{
    uint32_t count = 0;
    for (size_t i = 0; i < bytes; i++)
        for (int bit = 0; bit < 8; bit++)
            count += ((a[i] ^ b[i]) >> bit) & 1u;
    return count;
}

/* The same source twice: compiled for the popcnt instruction, and for plain x86-64 where
 * __builtin_popcountll becomes a bit-twiddling sequence. Always inlined into the row loops
 * below, where a constant `bytes` unrolls the word loop and keeps a row's words in
 * registers across the queries. */
#define HAMMING_BODY                                                                           \
    uint32_t count = 0;                                                                        \
    size_t i = 0;                                                                              \
    _Pragma("GCC unroll 16") for (; i + 8 <= bytes; i += 8)                                    \
    {                                                                                          \
        uint64_t x, y;                                                                         \
        memcpy(&x, a + i, 8);                                                                  \
        memcpy(&y, b + i, 8);                                                                  \
        count += (uint32_t)__builtin_popcountll(x ^ y);                                        \
    }                                                                                          \
    for (; i < bytes; i++)                                                                     \
        count += (uint32_t)__builtin_popcount((unsigned)(a[i] ^ b[i]));                        \
    return count;

/* Row-major over the corpus, each row against every query (the queries' bits stay in L1);
 * the usual row sizes (dimensions 256, 384, 512, 768, 1024) get their own unrolled loops. */
#define HAMMING_ROWS_BODY(DISTANCE)                                                            \
    switch (row_bytes) {                                                                       \
    case 32: HAMMING_ROWS_LOOP(DISTANCE, 32); break;                                           \
    case 48: HAMMING_ROWS_LOOP(DISTANCE, 48); break;                                           \
    case 64: HAMMING_ROWS_LOOP(DISTANCE, 64); break;                                           \
    case 96: HAMMING_ROWS_LOOP(DISTANCE, 96); break;                                           \
    case 128: HAMMING_ROWS_LOOP(DISTANCE, 128); break;                                         \
    default: HAMMING_ROWS_LOOP(DISTANCE, row_bytes); break;                                    \
    }

#define HAMMING_ROWS_LOOP(DISTANCE, BYTES)                                                     \
    for (size_t r = 0; r < n; r++)                                                             \
        for (size_t q = 0; q < nq; q++)                                                        \
            out[q * ld + r] = DISTANCE(queries + q * (BYTES), rows + r * (BYTES), (BYTES))

#define HAMMING_INLINE static inline __attribute__((always_inline))

#if defined(__x86_64__)
__attribute__((target("popcnt"))) HAMMING_INLINE uint32_t distance_popcnt(const uint8_t *a,
                                                                         const uint8_t *b,
                                                                         size_t bytes)
{
    HAMMING_BODY
}

__attribute__((target("popcnt"))) static void rows_popcnt(const uint8_t *queries, size_t nq,
                                                          const uint8_t *rows, size_t n,
                                                          size_t row_bytes, uint32_t *out,
                                                          size_t ld)
{
    HAMMING_ROWS_BODY(distance_popcnt)
}
#endif

HAMMING_INLINE uint32_t distance_portable(const uint8_t *a, const uint8_t *b, size_t bytes)
{
    HAMMING_BODY
}

static void rows_portable(const uint8_t *queries, size_t nq, const uint8_t *rows, size_t n,
                          size_t row_bytes, uint32_t *out, size_t ld)
{
    HAMMING_ROWS_BODY(distance_portable)
}

void hamming_rows_using(kernel_path path, const uint8_t *queries, size_t nq,
                        const uint8_t *rows, size_t n, size_t row_bytes, uint32_t *out,
                        size_t ld)
{
#if defined(__x86_64__)
    /* every CPU with AVX2 has popcnt */
    if (kernel_path_or_generic(path) == KERNEL_PATH_AVX2) {
        rows_popcnt(queries, nq, rows, n, row_bytes, out, ld);
        return;
    }
#endif
    rows_portable(queries, nq, rows, n, row_bytes, out, ld);
}

void hamming_rows(const uint8_t *queries, size_t nq, const uint8_t *rows, size_t n,
                  size_t row_bytes, uint32_t *out, size_t ld)
{
    hamming_rows_using(kernel_path_best(), queries, nq, rows, n, row_bytes, out, ld);
}

uint32_t hamming_distance(const uint8_t *a, const uint8_t *b, size_t bytes)
{
    uint32_t d;
    hamming_rows(a, 1, b, 1, bytes, &d, 1);
    return d;
}
