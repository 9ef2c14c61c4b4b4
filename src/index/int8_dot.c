#include "index/int8_dot.h"

#include <stdbool.h>
#include <string.h>

#include "kernels/simd_math.h"

void int8_dot_offsets(const float *starts, const float *steps, int dim, float *offsets)
{
    for (int d = 0; d < dim; d++)
        offsets[d] = starts[d] + 128.5f * steps[d];
}

/* The reference: one row at a time, each sum in a single float accumulator. */
static void rows_generic(const int8_t *codes, size_t n, int dim, const float *offsets,
                         const float *steps, const float *queries, int nq, float *scores,
                         size_t ld, float *squared_norms)
{
    for (size_t r = 0; r < n; r++) {
        const int8_t *c = codes + r * (size_t)dim;
        float dots[INT8_DOT_MAX_QUERIES] = {0}, norm = 0;
        for (int d = 0; d < dim; d++) {
            float x = offsets[d] + steps[d] * (float)c[d];
            norm += x * x;
            for (int g = 0; g < nq; g++)
                dots[g] += queries[(size_t)g * (size_t)dim + (size_t)d] * x;
        }
        for (int g = 0; g < nq; g++)
            scores[(size_t)g * ld + r] = dots[g];
        if (squared_norms)
            squared_norms[r] = norm;
    }
}

static void decode_generic(const int8_t *codes, size_t n, int dim, const float *offsets,
                           const float *steps, float *out, float *squared_norms)
{
    for (size_t r = 0; r < n; r++) {
        const int8_t *c = codes + r * (size_t)dim;
        float *x = out + r * (size_t)dim, norm = 0;
        for (int d = 0; d < dim; d++) {
            x[d] = offsets[d] + steps[d] * (float)c[d];
            norm += x[d] * x[d];
        }
        if (squared_norms)
            squared_norms[r] = norm;
    }
}

/* ---- AVX2 ---- */

#define INT8_INLINE SIMD_AVX2 static inline __attribute__((always_inline))

/* The 8 codes at c as floats. */
INT8_INLINE __m256 load_codes(const int8_t *c)
{
    return _mm256_cvtepi32_ps(_mm256_cvtepi8_epi32(_mm_loadl_epi64((const __m128i *)c)));
}

/* The first `lanes` (< 8) codes at c, zeros after: the tail of a row is copied so that no
 * byte past the row is read (the last row may end the mapping). */
INT8_INLINE __m256 load_codes_tail(const int8_t *c, int lanes)
{
    int8_t buf[8] = {0};
    memcpy(buf, c, (size_t)lanes);
    return load_codes(buf);
}

/* Dimensions d .. d+lanes-1 (lanes <= 8) of R rows against G queries, into R * G dot
 * accumulators and R norm accumulators. A tail's masked lanes load 0 for the offsets, steps
 * and queries, so they add 0. */
INT8_INLINE void chunk_avx2(int R, int G, bool NORMS, const int8_t *row, int dim, int d,
                            int lanes, const float *offsets, const float *steps,
                            const float *queries, __m256 acc[][INT8_DOT_MAX_QUERIES],
                            __m256 *nrm)
{
    __m256i mask = simd_tail_mask(lanes);
    __m256 step = lanes == 8 ? _mm256_loadu_ps(steps + d) : _mm256_maskload_ps(steps + d, mask);
    __m256 off = lanes == 8 ? _mm256_loadu_ps(offsets + d) : _mm256_maskload_ps(offsets + d, mask);
    __m256 x[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        const int8_t *c = row + (size_t)r * (size_t)dim + d;
        x[r] = _mm256_fmadd_ps(lanes == 8 ? load_codes(c) : load_codes_tail(c, lanes), step, off);
        if (NORMS)
            nrm[r] = _mm256_fmadd_ps(x[r], x[r], nrm[r]);
    }
#pragma GCC unroll 4
    for (int g = 0; g < G; g++) {
        const float *q = queries + (size_t)g * (size_t)dim + d;
        __m256 qv = lanes == 8 ? _mm256_loadu_ps(q) : _mm256_maskload_ps(q, mask);
#pragma GCC unroll 4
        for (int r = 0; r < R; r++)
            acc[r][g] = _mm256_fmadd_ps(x[r], qv, acc[r][g]);
    }
}

/* Rows r0 .. r0+R-1 against G queries. R, G and NORMS are constants at every call (the
 * functions are always inlined), so the accumulator arrays live in registers. */
INT8_INLINE void tile_avx2(int R, int G, bool NORMS, const int8_t *codes, size_t r0, int dim,
                           const float *offsets, const float *steps, const float *queries,
                           float *scores, size_t ld, float *squared_norms)
{
    __m256 acc[4][INT8_DOT_MAX_QUERIES], nrm[4];
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
        nrm[r] = _mm256_setzero_ps();
#pragma GCC unroll 4
        for (int g = 0; g < G; g++)
            acc[r][g] = _mm256_setzero_ps();
    }
    const int8_t *row = codes + r0 * (size_t)dim;
    int d = 0;
    for (; d + 8 <= dim; d += 8)
        chunk_avx2(R, G, NORMS, row, dim, d, 8, offsets, steps, queries, acc, nrm);
    if (d < dim)
        chunk_avx2(R, G, NORMS, row, dim, d, dim - d, offsets, steps, queries, acc, nrm);
#pragma GCC unroll 4
    for (int r = 0; r < R; r++) {
#pragma GCC unroll 4
        for (int g = 0; g < G; g++)
            scores[(size_t)g * ld + r0 + (size_t)r] = simd_sum(acc[r][g]);
        if (NORMS)
            squared_norms[r0 + (size_t)r] = simd_sum(nrm[r]);
    }
}

/* One query keeps four rows in flight (eight independent FMA chains); more queries take
 * rows two at a time, which already gives 2 * G chains and keeps the accumulators within
 * the 16 vector registers. */
#define DEFINE_ROWS_AVX2(NAME, G, NORMS)                                                       \
    SIMD_AVX2 static void NAME(const int8_t *codes, size_t n, int dim, const float *offsets,  \
                               const float *steps, const float *queries, float *scores,       \
                               size_t ld, float *squared_norms)                               \
    {                                                                                          \
        enum { R = G == 1 ? 4 : 2 };                                                           \
        size_t r = 0;                                                                          \
        for (; r + R <= n; r += R)                                                             \
            tile_avx2(R, G, NORMS, codes, r, dim, offsets, steps, queries, scores, ld,         \
                      squared_norms);                                                          \
        for (; r < n; r++)                                                                     \
            tile_avx2(1, G, NORMS, codes, r, dim, offsets, steps, queries, scores, ld,         \
                      squared_norms);                                                          \
    }

DEFINE_ROWS_AVX2(rows_avx2_1, 1, false)
DEFINE_ROWS_AVX2(rows_avx2_2, 2, false)
DEFINE_ROWS_AVX2(rows_avx2_3, 3, false)
DEFINE_ROWS_AVX2(rows_avx2_4, 4, false)
DEFINE_ROWS_AVX2(rows_avx2_1n, 1, true)
DEFINE_ROWS_AVX2(rows_avx2_2n, 2, true)
DEFINE_ROWS_AVX2(rows_avx2_3n, 3, true)
DEFINE_ROWS_AVX2(rows_avx2_4n, 4, true)

/* The 8 values of x at dimension d of a row, dequantized from codes c. */
INT8_INLINE __m256 decode8_avx2(const int8_t *c, const float *offsets, const float *steps, int d)
{
    return _mm256_fmadd_ps(load_codes(c + d), _mm256_loadu_ps(steps + d),
                           _mm256_loadu_ps(offsets + d));
}

/* Two norm accumulators (16 dimensions a step) halve the FMA latency chain of each row. */
SIMD_AVX2 static void decode_avx2(const int8_t *codes, size_t n, int dim, const float *offsets,
                                  const float *steps, float *out, float *squared_norms)
{
    for (size_t r = 0; r < n; r++) {
        const int8_t *c = codes + r * (size_t)dim;
        float *x = out + r * (size_t)dim;
        __m256 n0 = _mm256_setzero_ps(), n1 = _mm256_setzero_ps();
        int d = 0;
        for (; d + 16 <= dim; d += 16) {
            __m256 v0 = decode8_avx2(c, offsets, steps, d);
            __m256 v1 = decode8_avx2(c, offsets, steps, d + 8);
            _mm256_storeu_ps(x + d, v0);
            _mm256_storeu_ps(x + d + 8, v1);
            n0 = _mm256_fmadd_ps(v0, v0, n0);
            n1 = _mm256_fmadd_ps(v1, v1, n1);
        }
        for (; d < dim; d += 8) {
            int lanes = dim - d < 8 ? dim - d : 8;
            __m256i mask = simd_tail_mask(lanes);
            __m256 v = _mm256_fmadd_ps(load_codes_tail(c + d, lanes),
                                       _mm256_maskload_ps(steps + d, mask),
                                       _mm256_maskload_ps(offsets + d, mask));
            simd_store_first(x + d, v, lanes);
            n0 = _mm256_fmadd_ps(v, v, n0);
        }
        if (squared_norms)
            squared_norms[r] = simd_sum(_mm256_add_ps(n0, n1));
    }
}

typedef void (*rows_fn)(const int8_t *, size_t, int, const float *, const float *,
                        const float *, float *, size_t, float *);

void int8_dot_rows_using(kernel_path path, const int8_t *codes, size_t n, int dim,
                         const float *offsets, const float *steps, const float *queries, int nq,
                         float *scores, size_t ld, float *squared_norms)
{
    if (nq < 1 || nq > INT8_DOT_MAX_QUERIES ||
        kernel_path_or_generic(path) == KERNEL_PATH_GENERIC) {
        rows_generic(codes, n, dim, offsets, steps, queries, nq, scores, ld, squared_norms);
        return;
    }
    static const rows_fn table[2][INT8_DOT_MAX_QUERIES] = {
        {rows_avx2_1, rows_avx2_2, rows_avx2_3, rows_avx2_4},
        {rows_avx2_1n, rows_avx2_2n, rows_avx2_3n, rows_avx2_4n}};
    table[squared_norms != NULL][nq - 1](codes, n, dim, offsets, steps, queries, scores, ld,
                                          squared_norms);
}

void int8_dot_rows(const int8_t *codes, size_t n, int dim, const float *offsets,
                   const float *steps, const float *queries, int nq, float *scores, size_t ld,
                   float *squared_norms)
{
    int8_dot_rows_using(kernel_path_best(), codes, n, dim, offsets, steps, queries, nq, scores,
                        ld, squared_norms);
}

void int8_decode_rows_using(kernel_path path, const int8_t *codes, size_t n, int dim,
                            const float *offsets, const float *steps, float *out,
                            float *squared_norms)
{
    if (kernel_path_or_generic(path) == KERNEL_PATH_AVX2)
        decode_avx2(codes, n, dim, offsets, steps, out, squared_norms);
    else
        decode_generic(codes, n, dim, offsets, steps, out, squared_norms);
}

void int8_decode_rows(const int8_t *codes, size_t n, int dim, const float *offsets,
                      const float *steps, float *out, float *squared_norms)
{
    int8_decode_rows_using(kernel_path_best(), codes, n, dim, offsets, steps, out,
                           squared_norms);
}
