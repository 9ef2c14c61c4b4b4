#include "kernels/gemm_int8.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/error.h"
#include "kernels/activation.h"
#include "kernels/gemm_epilogue_simd.h"
#include "kernels/gemm_int8_internal.h"
#include "kernels/gemm_tasks.h"
#include "kernels/simd_math.h"

/* The largest weight magnitude after quantization (see gemm_int8.h). */
#define WEIGHT_LEVELS 63.0f

static int quads(int K)
{
    return (K + 3) / 4;
}

static int panels(int N)
{
    return (N + GEMM_INT8_NR - 1) / GEMM_INT8_NR;
}

void gemm_int8_weight_free(gemm_int8_weight *w)
{
    if (!w)
        return;
    free(w->packed);
    free(w->scale);
    free(w->column_sum);
    memset(w, 0, sizeof *w);
}

semb_status gemm_int8_quantize_weight(gemm_int8_weight *w, const float *W, int N, int K,
                                      semb_error *err)
{
    memset(w, 0, sizeof *w);
    if (N < 1 || K < 1 || K > GEMM_INT8_MAX_K)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "int8 weight of %d x %d: sizes must be 1 .. %d",
                         N, K, GEMM_INT8_MAX_K);
    size_t columns = (size_t)panels(N) * GEMM_INT8_NR;
    size_t bytes = columns * (size_t)quads(K) * 4;
    w->packed = aligned_alloc(64, (bytes + 63) / 64 * 64);
    w->scale = malloc(columns * sizeof *w->scale);
    w->column_sum = malloc(columns * sizeof *w->column_sum);
    if (!w->packed || !w->scale || !w->column_sum) {
        gemm_int8_weight_free(w);
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate an int8 weight of %d x %d", N, K);
    }
    memset(w->packed, 0, bytes);
    w->N = N;
    w->K = K;
    int Q = quads(K);
#pragma omp parallel for schedule(static) if ((long)N * K >= (1L << 16))
    for (int n = 0; n < (int)columns; n++) {
        if (n >= N) {
            w->scale[n] = 1.0f;
            w->column_sum[n] = 0;
            continue;
        }
        const float *row = W + (size_t)n * K;
        float amax = 0.0f;
        bool finite = true;
        for (int k = 0; k < K; k++) {
            finite = finite && isfinite(row[k]);
            amax = fmaxf(amax, fabsf(row[k]));
        }
        /* NaN makes every output of the channel NaN, as the float product would */
        /* a subnormal step has no finite inverse (0 * inf would quantize zeros to 63) */
        float step = amax / WEIGHT_LEVELS;
        float scale = !finite ? NAN : step >= FLT_MIN ? step : 1.0f;
        float inverse = finite ? 1.0f / scale : 0.0f;
        int8_t *panel = w->packed + (size_t)(n / GEMM_INT8_NR) * (size_t)Q * 64;
        int32_t sum = 0;
        for (int k = 0; k < K; k++) {
            float v = nearbyintf(row[k] * inverse);
            int8_t q = (int8_t)fmaxf(-WEIGHT_LEVELS, fminf(WEIGHT_LEVELS, v));
            panel[(size_t)(k / 4) * 64 + (size_t)(n % GEMM_INT8_NR) * 4 + (size_t)(k % 4)] = q;
            sum += q;
        }
        w->scale[n] = scale;
        w->column_sum[n] = sum;
    }
    return SEMB_OK;
}

/* ---- activations ----------------------------------------------------------------------- */

/* The row's scale and zero point from its range [lo, hi] (0 included): see gemm_int8.h. */
static void row_parameters(float lo, float hi, bool finite, float *scale, float *inverse,
                           int32_t *zero)
{
    lo = fminf(lo, 0.0f);
    hi = fmaxf(hi, 0.0f);
    if (!finite) {
        *scale = NAN;
        *inverse = 0.0f;
        *zero = 0;
        return;
    }
    float s = (hi - lo) / 255.0f;
    /* an all-zero row, or one whose step is subnormal: its inverse would overflow, and the
     * paths disagree on converting the infinities */
    if (!(s >= FLT_MIN))
        s = 1.0f;
    *scale = s;
    *inverse = 1.0f / s;
    *zero = (int32_t)fminf(255.0f, nearbyintf(-lo * *inverse));
}

static void quantize_row_generic(uint8_t *q, float *scale, int32_t *zero, const float *a, int K)
{
    float lo = 0.0f, hi = 0.0f;
    bool finite = true;
    for (int k = 0; k < K; k++) {
        finite = finite && isfinite(a[k]);
        lo = fminf(lo, a[k]);
        hi = fmaxf(hi, a[k]);
    }
    float inverse;
    row_parameters(lo, hi, finite, scale, &inverse, zero);
    /* a row that is not finite is all zero bytes (its outputs are NaN through its scale) */
    for (int k = 0; k < K; k++) {
        float v = nearbyintf(a[k] * inverse) + (float)*zero;
        q[k] = finite ? (uint8_t)fmaxf(0.0f, fminf(255.0f, v)) : 0;
    }
    for (int k = K; k < gemm_int8_row_bytes(K); k++)
        q[k] = 0;
}

SIMD_AVX2 static void quantize_row_avx2(uint8_t *q, float *scale, int32_t *zero, const float *a,
                                        int K)
{
    __m256 lo = _mm256_setzero_ps(), hi = lo, bad = lo;
    const __m256 zero_ps = _mm256_setzero_ps();
    int k = 0;
    for (; k + 8 <= K; k += 8) {
        __m256 x = _mm256_loadu_ps(a + k);
        lo = _mm256_min_ps(lo, x);
        hi = _mm256_max_ps(hi, x);
        /* x * 0 is NaN exactly for NaN and infinities */
        bad = _mm256_or_ps(bad, _mm256_cmp_ps(_mm256_mul_ps(x, zero_ps), zero_ps, _CMP_NEQ_UQ));
    }
    float lanes_lo[8], lanes_hi[8];
    _mm256_storeu_ps(lanes_lo, lo);
    _mm256_storeu_ps(lanes_hi, hi);
    float l = 0.0f, h = 0.0f;
    for (int i = 0; i < 8; i++) {
        l = fminf(l, lanes_lo[i]);
        h = fmaxf(h, lanes_hi[i]);
    }
    bool finite = _mm256_movemask_ps(bad) == 0;
    for (int i = k; i < K; i++) {
        finite = finite && isfinite(a[i]);
        l = fminf(l, a[i]);
        h = fmaxf(h, a[i]);
    }
    float inverse;
    row_parameters(l, h, finite, scale, &inverse, zero);
    const __m256 inv = _mm256_set1_ps(inverse);
    const __m256i z = _mm256_set1_epi32(*zero);
    /* 32 floats to 32 bytes: the packs work within 128-bit lanes, the permute puts the four
     * groups of 8 back in order */
    const __m256i order = _mm256_setr_epi32(0, 4, 1, 5, 2, 6, 3, 7);
    int i = 0;
    for (; i + 32 <= K; i += 32) {
        __m256i v[4];
        for (int j = 0; j < 4; j++)
            v[j] = _mm256_add_epi32(
                _mm256_cvtps_epi32(_mm256_mul_ps(_mm256_loadu_ps(a + i + 8 * j), inv)), z);
        __m256i words = _mm256_packs_epi32(v[0], v[1]), words2 = _mm256_packs_epi32(v[2], v[3]);
        __m256i bytes = _mm256_packus_epi16(words, words2);
        _mm256_storeu_si256((__m256i *)(q + i), _mm256_permutevar8x32_epi32(bytes, order));
    }
    for (; i < K; i++) {
        float v = nearbyintf(a[i] * inverse) + (float)*zero;
        q[i] = finite ? (uint8_t)fmaxf(0.0f, fminf(255.0f, v)) : 0;
    }
    for (i = K; i < gemm_int8_row_bytes(K); i++)
        q[i] = 0;
}

void gemm_int8_quantize_rows_using(kernel_path path, uint8_t *q, float *scale, int32_t *zero,
                                   const float *A, int lda, int M, int K)
{
    bool avx2 = kernel_path_or_generic(path) == KERNEL_PATH_AVX2;
    size_t ldq = (size_t)gemm_int8_row_bytes(K);
#pragma omp parallel for schedule(static) if ((long)M * K >= (1L << 15) && !omp_in_parallel())
    for (int i = 0; i < M; i++) {
        if (avx2)
            quantize_row_avx2(q + (size_t)i * ldq, scale + i, zero + i, A + (size_t)i * lda, K);
        else
            quantize_row_generic(q + (size_t)i * ldq, scale + i, zero + i, A + (size_t)i * lda, K);
    }
}

void gemm_int8_quantize_rows(uint8_t *q, float *scale, int32_t *zero, const float *A, int lda,
                             int M, int K)
{
    gemm_int8_quantize_rows_using(kernel_path_best(), q, scale, zero, A, lda, M, K);
}

/* ---- products -------------------------------------------------------------------------- */

/* The integer sum of row i and column n, before the zero-point correction. */
static int64_t dot(const uint8_t *q, const gemm_int8_weight *w, int n)
{
    int Q = quads(w->K);
    const int8_t *panel = w->packed + (size_t)(n / GEMM_INT8_NR) * (size_t)Q * 64;
    int64_t sum = 0;
    for (int k = 0; k < w->K; k++)
        sum += (int64_t)q[k] * panel[(size_t)(k / 4) * 64 + (size_t)(n % GEMM_INT8_NR) * 4 + (size_t)(k % 4)];
    return sum;
}

/* The float formula both paths share: one conversion, one fused multiply-add. */
static float dequantize(int32_t corrected, float row_scale, float column_scale, float bias)
{
    return fmaf((float)corrected, row_scale * column_scale, bias);
}

static void reference_rows(float *C, int ldc, const uint8_t *q, const float *scale,
                           const int32_t *zero, const gemm_int8_weight *w, int m0, int m1,
                           const float *bias, gemm_epilogue epilogue)
{
    size_t ldq = (size_t)gemm_int8_row_bytes(w->K);
    for (int i = m0; i < m1; i++)
        for (int n = 0; n < w->N; n++) {
            int64_t sum = dot(q + (size_t)i * ldq, w, n) - (int64_t)zero[i] * w->column_sum[n];
            float value = dequantize((int32_t)sum, scale[i], w->scale[n], bias ? bias[n] : 0.0f);
            if (epilogue != GEMM_EPILOGUE_NONE)
                activation_forward_reference((activation_kind)(epilogue - 1), &value, &value, 1);
            C[(size_t)i * ldc + n] = value;
        }
}

void gemm_int8_reference(float *C, int ldc, const uint8_t *q, const float *scale,
                         const int32_t *zero, const gemm_int8_weight *w, int M,
                         const float *bias, gemm_epilogue epilogue)
{
    reference_rows(C, ldc, q, scale, zero, w, 0, M, bias, epilogue);
}

/* Register block: 4 rows by 16 columns, 8 accumulators of 8 int32 (measured: 4 rows beat 6
 * on Zen 3, where 6 leaves no register for the broadcast and the two weight vectors). */
enum { INT8_MR = 4, INT8_MC = 96, INT8_PANELS_PER_TASK = 8 };

/* Rows i .. i + R - 1 by the 16 columns of panel p, the whole of K. */
SIMD_AVX2 static inline __attribute__((always_inline)) void int8_tile(const int R,
                                                                    const int8_job *j, int i,
                                                                    int p)
{
    const gemm_int8_weight *w = j->w;
    int Q = quads(w->K);
    const int8_t *b = w->packed + (size_t)p * (size_t)Q * 64;
    const uint8_t *a = j->q + (size_t)i * j->ldq;
    __m256i acc0[INT8_MR], acc1[INT8_MR];
    for (int r = 0; r < R; r++)
        acc0[r] = acc1[r] = _mm256_setzero_si256();
    const __m256i ones = _mm256_set1_epi16(1);
    for (int k = 0; k < Q; k++, b += 64) {
        __m256i b0 = _mm256_load_si256((const __m256i *)b);
        __m256i b1 = _mm256_load_si256((const __m256i *)(b + 32));
#pragma GCC unroll 4
        for (int r = 0; r < R; r++) {
            int32_t four;
            memcpy(&four, a + (size_t)r * j->ldq + 4 * (size_t)k, 4);
            __m256i x = _mm256_set1_epi32(four);
            /* u8 x s8 pairs into int16 (cannot saturate: |q_w| <= 63), pairs of those into
             * int32: each lane sums its column's 4 products of this quad */
            acc0[r] = _mm256_add_epi32(acc0[r], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b0), ones));
            acc1[r] = _mm256_add_epi32(acc1[r], _mm256_madd_epi16(_mm256_maddubs_epi16(x, b1), ones));
        }
    }
    int n0 = p * GEMM_INT8_NR, cols = w->N - n0 < GEMM_INT8_NR ? w->N - n0 : GEMM_INT8_NR;
    __m256i sum0 = _mm256_loadu_si256((const __m256i *)(w->column_sum + n0));
    __m256i sum1 = _mm256_loadu_si256((const __m256i *)(w->column_sum + n0 + 8));
    __m256 ws0 = _mm256_loadu_ps(w->scale + n0), ws1 = _mm256_loadu_ps(w->scale + n0 + 8);
    __m256 bias0 = _mm256_setzero_ps(), bias1 = bias0;
    if (j->bias) {
        float padded[GEMM_INT8_NR] = {0};
        memcpy(padded, j->bias + n0, (size_t)cols * sizeof(float));
        bias0 = _mm256_loadu_ps(padded);
        bias1 = _mm256_loadu_ps(padded + 8);
    }
    for (int r = 0; r < R; r++) {
        __m256i z = _mm256_set1_epi32(j->zero[i + r]);
        __m256 t = _mm256_set1_ps(j->scale[i + r]);
        __m256i c0 = _mm256_sub_epi32(acc0[r], _mm256_mullo_epi32(z, sum0));
        __m256i c1 = _mm256_sub_epi32(acc1[r], _mm256_mullo_epi32(z, sum1));
        __m256 v0 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c0), _mm256_mul_ps(t, ws0), bias0);
        __m256 v1 = _mm256_fmadd_ps(_mm256_cvtepi32_ps(c1), _mm256_mul_ps(t, ws1), bias1);
        v0 = gemm_epilogue_simd(j->epilogue, v0);
        v1 = gemm_epilogue_simd(j->epilogue, v1);
        float *c = j->C + (size_t)(i + r) * j->ldc + n0;
        simd_store_first(c, v0, cols);
        if (cols > 8)
            simd_store_first(c + 8, v1, cols - 8);
    }
}

SIMD_AVX2 static void int8_task(const int8_job *j, int m0, int m1, int p0, int p1)
{
    for (int p = p0; p < p1; p++)
        for (int i = m0; i < m1; i += INT8_MR) {
            switch (m1 - i < INT8_MR ? m1 - i : INT8_MR) {
            case 4: int8_tile(4, j, i, p); break;
            case 3: int8_tile(3, j, i, p); break;
            case 2: int8_tile(2, j, i, p); break;
            default: int8_tile(1, j, i, p); break;
            }
        }
}

enum { INT8_PARALLEL_MIN_MACS = 1 << 20 };

/* The kernel gemm_int8_using runs for path: AVX512-VNNI where AVX-512 is asked for and the
 * CPU has it and VNNI, else kernel_path_or_generic's. */
static kernel_path int8_path(kernel_path path)
{
    if (path == KERNEL_PATH_AVX512 && kernel_path_supported(KERNEL_PATH_AVX512) &&
        cpu_features()->avx512_vnni)
        return KERNEL_PATH_AVX512;
    return kernel_path_or_generic(path);
}

const char *gemm_int8_path_name(kernel_path path)
{
    path = int8_path(path);
    return path == KERNEL_PATH_AVX512 ? "avx512-vnni" : kernel_path_name(path);
}

void gemm_int8_using(kernel_path path, float *C, int ldc, const uint8_t *q, const float *scale,
                     const int32_t *zero, const gemm_int8_weight *w, int M, const float *bias,
                     gemm_epilogue epilogue)
{
    if (M <= 0)
        return;
    path = int8_path(path);
    int8_job j = {C, ldc, q, (size_t)gemm_int8_row_bytes(w->K), scale, zero, w, M, bias, epilogue};
    gemm_tasks plan = gemm_tasks_plan(M, INT8_MC, panels(w->N), INT8_PANELS_PER_TASK);
    bool parallel = (double)M * w->N * w->K >= INT8_PARALLEL_MIN_MACS && plan.count > 1 &&
                    !omp_in_parallel();
#pragma omp parallel for schedule(dynamic, 1) if (parallel)
    for (int task = 0; task < plan.count; task++) {
        int m0, m1, p0, p1;
        gemm_task_bounds(&plan, task, &m0, &m1, &p0, &p1);
        if (path == KERNEL_PATH_AVX512)
            int8_task_vnni(&j, m0, m1, p0, p1);
        else if (path == KERNEL_PATH_AVX2)
            int8_task(&j, m0, m1, p0, p1);
        else if (p0 == 0) /* the reference covers every column of its rows once */
            reference_rows(C, ldc, q, scale, zero, w, m0, m1, bias, epilogue);
    }
}

void gemm_int8(float *C, int ldc, const uint8_t *q, const float *scale, const int32_t *zero,
               const gemm_int8_weight *w, int M, const float *bias, gemm_epilogue epilogue)
{
    gemm_int8_using(kernel_path_best_gemm(), C, ldc, q, scale, zero, w, M, bias, epilogue);
}
