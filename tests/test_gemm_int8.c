/* gemm_int8 (dynamic int8 linear layers): the row and weight quantization held to the
 * formulas of gemm_int8.h computed here independently, the AVX2 paths held bit for bit to
 * the scalar ones, the product held to an int64 product of the quantized values and, for
 * accuracy, to the float product within a bound derived from the quantization steps. */
#include "support.h"

#include <float.h>
#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/activation.h"
#include "kernels/gemm_int8.h"
#include "kernels/kernel_path.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static float uniform(float lo, float hi)
{
    rng_state = rng_state * 6364136223846793005ull + 1442695040888963407ull;
    return lo + (hi - lo) * (float)((rng_state >> 40) * 0x1p-24);
}

/* Box-Muller; the uniform is moved into (0, 1] so that the logarithm stays finite. */
static float gaussian(float sigma)
{
    double u = 1.0 - uniform(0, 1), v = uniform(0, 1);
    return (float)(sigma * sqrt(-2.0 * log(u)) * cos(2.0 * M_PI * v));
}

static void *checked_malloc(size_t bytes)
{
    void *p = malloc(bytes ? bytes : 1);
    assert_non_null(p);
    return p;
}

static float *random_floats(size_t n, float lo, float hi)
{
    float *x = checked_malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = uniform(lo, hi);
    return x;
}

static float *filled_floats(size_t n, float value)
{
    float *x = checked_malloc(n * sizeof *x);
    for (size_t i = 0; i < n; i++)
        x[i] = value;
    return x;
}

/* Tests that also run the generic path ask quietly; those that skip() say why. */
static bool avx2_present(void)
{
    return kernel_path_supported(KERNEL_PATH_AVX2);
}

static bool have_avx2(void)
{
    if (avx2_present())
        return true;
    print_message("SKIPPED: the int8 AVX2 kernel needs AVX2 + FMA, "
                  "this CPU (or SEMB_CPU) has none\n");
    return false;
}

static bool vnni_present(void)
{
    return kernel_path_supported(KERNEL_PATH_AVX512) && cpu_features()->avx512_vnni;
}

/* The vector kernels this CPU runs, widest first: AVX512-VNNI, AVX2; returns how many. */
static int vector_paths(kernel_path paths[2])
{
    int n = 0;
    if (vnni_present())
        paths[n++] = KERNEL_PATH_AVX512;
    if (avx2_present())
        paths[n++] = KERNEL_PATH_AVX2;
    return n;
}

/* Rows quantized by gemm_int8_quantize_rows_using; the bytes start as 0xAB so that
 * padding left unwritten shows. */
typedef struct rows {
    uint8_t *q;
    float *scale;
    int32_t *zero;
    int M, K;
} rows;

static rows quantize_rows(kernel_path path, const float *A, int lda, int M, int K)
{
    rows r = {checked_malloc((size_t)M * gemm_int8_row_bytes(K)),
              checked_malloc((size_t)M * sizeof(float)),
              checked_malloc((size_t)M * sizeof(int32_t)), M, K};
    memset(r.q, 0xAB, (size_t)M * gemm_int8_row_bytes(K));
    gemm_int8_quantize_rows_using(path, r.q, r.scale, r.zero, A, lda, M, K);
    return r;
}

static void free_rows(rows *r)
{
    free(r->q), free(r->scale), free(r->zero);
}

static void assert_rows_equal(const rows *a, const rows *b)
{
    assert_memory_equal(a->q, b->q, (size_t)a->M * gemm_int8_row_bytes(a->K));
    assert_memory_equal(a->scale, b->scale, (size_t)a->M * sizeof(float));
    assert_memory_equal(a->zero, b->zero, (size_t)a->M * sizeof(int32_t));
}

static gemm_int8_weight quantize_weight(const float *W, int N, int K)
{
    gemm_int8_weight w;
    semb_error err = {0};
    if (gemm_int8_quantize_weight(&w, W, N, K, &err) != SEMB_OK)
        fail_msg("gemm_int8_quantize_weight %d x %d: %s", N, K, err.message);
    return w;
}

/* The byte of column n, input k in the documented layout: panels of 16 columns, quads of
 * 4 k, 64 bytes per quad. */
static int8_t packed_at(const gemm_int8_weight *w, int n, int k)
{
    size_t quads = (size_t)(w->K + 3) / 4;
    return w->packed[(size_t)(n / GEMM_INT8_NR) * quads * 64 + (size_t)(k / 4) * 64 +
                     (size_t)(n % GEMM_INT8_NR) * 4 + (size_t)(k % 4)];
}

/* ---- row quantization ------------------------------------------------------------------ */

/* One row against gemm_int8.h in double: t = (hi - lo) / 255 over [lo, hi] widened to 0
 * (1 when below FLT_MIN, an all-zero row included), z = round(-lo / t), q = round(a / t) + z
 * clamped to [0, 255].
 * Float rounding of the kernel's a * (1 / t) may move a tie by one: the slack 1e-3 covers
 * that (the products are at most 255 in size, their relative error a few ulp). */
static void check_row_formula(const float *a, int K, const uint8_t *q, float scale,
                              int32_t zero, const char *what)
{
    double lo = 0, hi = 0;
    for (int k = 0; k < K; k++)
        lo = fmin(lo, a[k]), hi = fmax(hi, a[k]);
    double t = (hi - lo) / 255.0;
    if (t < FLT_MIN) {
        assert_true(scale == 1.0f && zero == 0);
        for (int k = 0; k < K; k++)
            assert_int_equal(q[k], 0);
        return;
    }
    if (fabs(scale - t) > 2 * FLT_EPSILON * t)
        fail_msg("%s K=%d: scale %.9g, expected %.9g", what, K, scale, t);
    const double slack = 1e-3;
    if (zero < 0 || zero > 255 || fabs(zero - -lo / scale) > 0.5 + slack)
        fail_msg("%s K=%d: zero point %d for -lo/t = %.9g", what, K, zero, -lo / scale);
    for (int k = 0; k < K; k++) {
        double exact = a[k] / (double)scale + zero;
        bool ok = exact < 0     ? q[k] == 0 && exact >= -0.5 - slack
                  : exact > 255 ? q[k] == 255 && exact <= 255.5 + slack
                                : fabs(q[k] - exact) <= 0.5 + slack;
        /* the dequantized value is within half a step of the input; 0 is exact */
        ok = ok && fabs((q[k] - zero) * (double)scale - a[k]) <= (0.5 + slack) * scale;
        ok = ok && (a[k] != 0 || q[k] == zero);
        if (!ok)
            fail_msg("%s K=%d: a[%d] = %.9g quantized to %d (zero %d, scale %.9g), "
                     "expected round(%.6f)",
                     what, K, k, a[k], q[k], zero, scale, exact);
    }
}

enum {
    ROW_ZERO,
    ROW_POSITIVE,
    ROW_NEGATIVE,
    ROW_HUGE,
    ROW_NAN,
    ROW_INF,
    ROW_MINUS_INF,
    ROW_HALVES,     /* t = 1 exactly, every value a tie */
    ROW_HALF_ZERO,  /* t = 1, -lo/t = 100.5: the zero point itself a tie */
    ROW_QUARTERS,   /* t = 0.5, values on ties */
    ROW_TINY,       /* a range of 2e-37: t subnormal, 1/t would overflow */
    ROW_SPARSE,     /* zeros between positives and negatives */
    ROW_RANDOM,
    ROW_KINDS
};

static void fill_row(float *a, int kind, int K)
{
    for (int k = 0; k < K; k++) {
        switch (kind) {
        case ROW_ZERO: a[k] = 0; break;
        case ROW_POSITIVE: a[k] = uniform(0.1f, 2); break;
        case ROW_NEGATIVE: a[k] = uniform(-2, -0.1f); break;
        case ROW_HUGE: a[k] = k == K / 2 ? 1e6f : uniform(-1, 1); break;
        case ROW_NAN: a[k] = k == K - 1 ? NAN : uniform(-1, 1); break;
        case ROW_INF: a[k] = k == 0 ? INFINITY : uniform(-1, 1); break;
        case ROW_MINUS_INF: a[k] = k == K / 3 ? -INFINITY : uniform(-1, 1); break;
        case ROW_HALVES:
            a[k] = k == 0 ? -100.0f : k == 1 ? 155.0f : (float)(k % 255) - 99.5f;
            break;
        case ROW_HALF_ZERO:
            a[k] = k == 0 ? -100.5f : k == 1 ? 154.5f : (float)(k % 254) - 99.5f;
            break;
        case ROW_QUARTERS:
            a[k] = k == 0 ? -50.0f : k == 1 ? 77.5f : (float)(k % 255) * 0.5f - 49.75f;
            break;
        case ROW_TINY: a[k] = uniform(-1e-37f, 1e-37f); break;
        case ROW_SPARSE: a[k] = k % 3 == 0 ? 0.0f : uniform(-3, 5); break;
        default: a[k] = uniform(-3, 3); break;
        }
    }
}

/* Both paths give the same bytes, scales and zero points, the formula's, and zero padding. */
static void test_rows_match_formula(void **state)
{
    (void)state;
    static const int Ks[] = {1, 3, 4, 7, 8, 31, 32, 33, 100, 384, 1537};
    bool avx2 = avx2_present();
    for (size_t c = 0; c < sizeof Ks / sizeof *Ks; c++) {
        int K = Ks[c], lda = K + 3, M = ROW_KINDS, bytes = gemm_int8_row_bytes(K);
        float *A = filled_floats((size_t)M * lda, 7.0f);
        for (int i = 0; i < M; i++)
            fill_row(A + (size_t)i * lda, i, K);
        rows g = quantize_rows(KERNEL_PATH_GENERIC, A, lda, M, K);
        if (avx2) {
            rows v = quantize_rows(KERNEL_PATH_AVX2, A, lda, M, K);
            assert_rows_equal(&v, &g);
            free_rows(&v);
        }
        for (int i = 0; i < M; i++) {
            const uint8_t *q = g.q + (size_t)i * bytes;
            for (int k = K; k < bytes; k++)
                assert_int_equal(q[k], 0);
            const char *names[] = {"zero", "positive", "negative", "huge", "nan", "inf", "-inf",
                                   "halves", "half zero", "quarters", "tiny", "sparse", "random"};
            if (i == ROW_NAN || i == ROW_INF || i == ROW_MINUS_INF) {
                assert_true(isnan(g.scale[i]));
                assert_int_equal(g.zero[i], 0);
                for (int k = 0; k < K; k++)
                    assert_int_equal(q[k], 0);
                continue;
            }
            check_row_formula(A + (size_t)i * lda, K, q, g.scale[i], g.zero[i], names[i]);
        }
        assert_int_equal(g.zero[ROW_ZERO], 0);
        assert_true(g.scale[ROW_ZERO] == 1.0f);
        assert_int_equal(g.zero[ROW_POSITIVE], 0);
        assert_int_equal(g.zero[ROW_NEGATIVE], 255);
        if (K > 1) {
            assert_true(g.scale[ROW_HALVES] == 1.0f && g.zero[ROW_HALVES] == 100);
            /* round half to even: -100.5 / 1 -> 100 */
            assert_true(g.scale[ROW_HALF_ZERO] == 1.0f && g.zero[ROW_HALF_ZERO] == 100);
            assert_true(g.scale[ROW_QUARTERS] == 0.5f && g.zero[ROW_QUARTERS] == 100);
        }
        if (K > 2) { /* a[2] = -97.5: round half to even gives -98, the byte 100 - 98 */
            assert_int_equal(g.q[(size_t)ROW_HALVES * bytes + 2], 2);
            assert_int_equal(g.q[(size_t)ROW_HALF_ZERO * bytes + 2], 2);
        }
        free_rows(&g);
        free(A);
    }
}

/* ---- weight quantization --------------------------------------------------------------- */

/* A hand-made 4 x 5 weight, byte by byte: scales max|w| / 63, a zero row scale 1, ties
 * rounded to even (as the rows are), column sums, and the padding columns 4 .. 15 and
 * k = 5 .. 7 zero. */
static void test_weight_by_hand(void **state)
{
    (void)state;
    const float W[4 * 5] = {1.26f, -0.5f, 0.2f,  0.0f,  -0.122f, /* s = 0.02 */
                            -6.3f, 1.04f, 0.26f, -2.0f, 3.33f,   /* s = 0.1 */
                            0,     0,     0,     0,     0,       /* s = 1 */
                            63.0f, 2.5f,  -3.5f, 0.5f,  -0.5f};  /* s = 1, ties */
    const int8_t expected[4][5] = {
        {63, -25, 10, 0, -6}, {-63, 10, 3, -20, 33}, {0}, {63, 2, -4, 0, 0}};
    gemm_int8_weight w = quantize_weight(W, 4, 5);
    assert_int_equal(w.N, 4);
    assert_int_equal(w.K, 5);
    assert_true(w.scale[0] == 1.26f / 63.0f && w.scale[1] == 6.3f / 63.0f);
    assert_true(w.scale[2] == 1.0f && w.scale[3] == 1.0f);
    assert_int_equal(w.column_sum[0], 42);
    assert_int_equal(w.column_sum[1], -37);
    assert_int_equal(w.column_sum[2], 0);
    assert_int_equal(w.column_sum[3], 61);
    for (int n = 4; n < GEMM_INT8_NR; n++) {
        assert_true(w.scale[n] == 1.0f);
        assert_int_equal(w.column_sum[n], 0);
    }
    /* 2 quads x 64 bytes: 16 columns x 4 k each */
    for (int quad = 0; quad < 2; quad++)
        for (int n = 0; n < GEMM_INT8_NR; n++)
            for (int j = 0; j < 4; j++) {
                int k = 4 * quad + j;
                int8_t want = n < 4 && k < 5 ? expected[n][k] : 0;
                int8_t got = w.packed[quad * 64 + n * 4 + j];
                if (got != want)
                    fail_msg("packed byte %d (column %d, k %d) = %d, expected %d",
                             quad * 64 + n * 4 + j, n, k, got, want);
            }
    gemm_int8_weight_free(&w);
    assert_null(w.packed);
}

/* A random 19 x 9 weight (two panels, K not a multiple of 4) against round(w / s) computed
 * here, read back through the documented layout. */
static void test_weight_layout(void **state)
{
    (void)state;
    int N = 19, K = 9;
    float *W = random_floats((size_t)N * K, -2, 2);
    gemm_int8_weight w = quantize_weight(W, N, K);
    for (int n = 0; n < 2 * GEMM_INT8_NR; n++) {
        if (n >= N) {
            assert_true(w.scale[n] == 1.0f);
            assert_int_equal(w.column_sum[n], 0);
            for (int k = 0; k < 12; k++)
                assert_int_equal(packed_at(&w, n, k), 0);
            continue;
        }
        float amax = 0;
        for (int k = 0; k < K; k++)
            amax = fmaxf(amax, fabsf(W[(size_t)n * K + k]));
        assert_true(w.scale[n] == amax / 63.0f);
        int sum = 0, largest = 0;
        for (int k = 0; k < 12; k++) {
            int q = packed_at(&w, n, k);
            if (k >= K) {
                assert_int_equal(q, 0);
                continue;
            }
            double exact = W[(size_t)n * K + k] / (double)w.scale[n];
            if (fabs(q - exact) > 0.5 + 1e-4 || q < -63 || q > 63)
                fail_msg("W[%d,%d] = %.9g quantized to %d, expected round(%.6f)", n, k,
                         W[(size_t)n * K + k], q, exact);
            sum += q;
            largest = abs(q) > largest ? abs(q) : largest;
        }
        assert_int_equal(w.column_sum[n], sum);
        assert_int_equal(largest, 63);
    }
    gemm_int8_weight_free(&w);
    free(W);
}

static void test_weight_not_finite(void **state)
{
    (void)state;
    const float W[3 * 5] = {1, 2, 3, 4, 5, 1, 2, NAN, 4, 5, -INFINITY, 0, 0, 0, 1};
    gemm_int8_weight w = quantize_weight(W, 3, 5);
    assert_true(w.scale[0] == 5.0f / 63.0f);
    assert_true(isnan(w.scale[1]));
    assert_true(isnan(w.scale[2]));
    gemm_int8_weight_free(&w);
}

/* A channel whose step max|w| / 63 would be subnormal has no finite inverse: like an
 * all-zero channel it takes scale 1 and quantizes to 0 (its outputs are the bias). */
static void test_weight_tiny(void **state)
{
    (void)state;
    const float W[2 * 5] = {1e-38f, 0, -3e-39f, 5e-39f, 0, 0.5f, 0, 0, 0, 0};
    gemm_int8_weight w = quantize_weight(W, 2, 5);
    assert_true(w.scale[0] == 1.0f && w.scale[1] == 0.5f / 63.0f);
    assert_int_equal(w.column_sum[0], 0);
    assert_int_equal(w.column_sum[1], 63);
    for (int k = 0; k < 5; k++) {
        assert_int_equal(packed_at(&w, 0, k), 0);
        assert_int_equal(packed_at(&w, 1, k), k == 0 ? 63 : 0);
    }
    gemm_int8_weight_free(&w);
}

/* Rejected sizes leave the weight zeroed (free is safe) and name the sizes; the largest K
 * is accepted. */
static void test_weight_errors(void **state)
{
    (void)state;
    static const int sizes[][2] = {{0, 5}, {3, 0}, {-1, 5}, {3, -4}, {1, GEMM_INT8_MAX_K + 1}};
    float one = 1;
    for (size_t c = 0; c < sizeof sizes / sizeof *sizes; c++) {
        gemm_int8_weight w;
        memset(&w, 0x5A, sizeof w);
        semb_error err = {0};
        assert_int_equal(gemm_int8_quantize_weight(&w, &one, sizes[c][0], sizes[c][1], &err),
                         SEMB_ERR_INVALID_ARG);
        assert_int_equal(err.status, SEMB_ERR_INVALID_ARG);
        assert_non_null(strstr(err.message, "int8 weight"));
        assert_null(w.packed);
        assert_null(w.scale);
        assert_null(w.column_sum);
        assert_int_equal(w.N, 0);
        assert_int_equal(w.K, 0);
        gemm_int8_weight_free(&w);
    }
    float *W = filled_floats(GEMM_INT8_MAX_K, 0.5f);
    gemm_int8_weight w = quantize_weight(W, 1, GEMM_INT8_MAX_K);
    assert_int_equal(w.column_sum[0], 63 * GEMM_INT8_MAX_K);
    gemm_int8_weight_free(&w);
    gemm_int8_weight_free(NULL);
    free(W);
}

/* ---- products -------------------------------------------------------------------------- */

static const float SENTINEL = -777.25f;

/* C[i,n] from the definition: int64 sums of the row bytes and this file's own quantization
 * of W (round(w * (1 / s)), s = max|w| / 63), then (t s)(sum - z colsum) + bias in one fma. */
static void independent_product(float *C, int ldc, const rows *r, const float *W, int N,
                                const float *bias)
{
    int K = r->K;
    int8_t *qw = checked_malloc((size_t)N * K);
    float *s = checked_malloc((size_t)N * sizeof *s);
    for (int n = 0; n < N; n++) {
        const float *row = W + (size_t)n * K;
        float amax = 0;
        for (int k = 0; k < K; k++)
            amax = fmaxf(amax, fabsf(row[k]));
        s[n] = amax > 0 ? amax / 63.0f : 1.0f;
        for (int k = 0; k < K; k++)
            qw[(size_t)n * K + k] =
                (int8_t)fmaxf(-63, fminf(63, nearbyintf(row[k] * (1.0f / s[n]))));
    }
    for (int i = 0; i < r->M; i++)
        for (int n = 0; n < N; n++) {
            const uint8_t *qa = r->q + (size_t)i * gemm_int8_row_bytes(K);
            int64_t sum = 0, colsum = 0;
            for (int k = 0; k < K; k++) {
                sum += (int64_t)qa[k] * qw[(size_t)n * K + k];
                colsum += qw[(size_t)n * K + k];
            }
            int64_t corrected = sum - (int64_t)r->zero[i] * colsum;
            assert_true(corrected >= INT32_MIN && corrected <= INT32_MAX);
            C[(size_t)i * ldc + n] =
                fmaf((float)corrected, r->scale[i] * s[n], bias ? bias[n] : 0.0f);
        }
    free(qw), free(s);
}

typedef struct product_case {
    int M, N, K, pad;
    bool bias, independent;
} product_case;

/* AVX2, the generic path and the reference give the same bits, never writing the padding
 * of C; some shapes also against the independent product. */
static void check_product(const product_case *c, bool avx2)
{
    int M = c->M, N = c->N, K = c->K, ldc = N + c->pad;
    float *A = random_floats((size_t)M * K, -2, 2), *W = random_floats((size_t)N * K, -0.5f, 0.5f);
    float *bias = c->bias ? random_floats((size_t)N, -1, 1) : NULL;
    rows r = quantize_rows(kernel_path_best(), A, K, M, K);
    gemm_int8_weight w = quantize_weight(W, N, K);
    /* a last row of SENTINEL past C shows stores beyond the last column of the last row */
    size_t count = (size_t)M * ldc, total = count + GEMM_INT8_NR;
    float *ref = filled_floats(total, SENTINEL), *got = filled_floats(total, SENTINEL);
    gemm_int8_reference(ref, ldc, r.q, r.scale, r.zero, &w, M, bias, GEMM_EPILOGUE_NONE);
    kernel_path paths[3];
    int n_paths = avx2 ? vector_paths(paths) : 0;
    paths[n_paths++] = KERNEL_PATH_GENERIC;
    for (int p = 0; p < n_paths; p++) {
        kernel_path path = paths[p];
        for (size_t at = 0; at < total; at++)
            got[at] = SENTINEL;
        gemm_int8_using(path, got, ldc, r.q, r.scale, r.zero, &w, M, bias, GEMM_EPILOGUE_NONE);
        for (size_t at = count; at < total; at++)
            if (got[at] != SENTINEL)
                fail_msg("%s M=%d N=%d K=%d ldc=%d: wrote %zu floats past C",
                         gemm_int8_path_name(path), M, N, K, ldc, at - count + 1);
        for (int i = 0; i < M; i++)
            for (int n = 0; n < ldc; n++) {
                size_t at = (size_t)i * ldc + n;
                bool same = memcmp(&got[at], &ref[at], sizeof(float)) == 0;
                if (!same || (n >= N && got[at] != SENTINEL))
                    fail_msg("%s M=%d N=%d K=%d ldc=%d bias=%d: C[%d,%d] = %.9g, reference %.9g",
                             gemm_int8_path_name(path), M, N, K, ldc, c->bias, i, n, got[at],
                             ref[at]);
            }
    }
    if (c->independent) {
        float *mine = filled_floats(total, SENTINEL);
        independent_product(mine, ldc, &r, W, N, bias);
        assert_memory_equal(mine, ref, count * sizeof *mine);
        free(mine);
    }
    free_rows(&r);
    gemm_int8_weight_free(&w);
    free(A), free(W), free(bias), free(ref), free(got);
}

static void test_products_match_reference(void **state)
{
    (void)state;
    bool avx2 = avx2_present();
    /* rows around the register blocks (4 rows on AVX2, 12 on VNNI) and the 96-row task,
     * columns around the 16-wide panel and VNNI's pair of panels, K around the 4-byte quad */
    static const int Ms[] = {1, 3, 4, 5, 11, 12, 13, 95, 96, 97, 200};
    static const int Ns[] = {1, 7, 8, 9, 16, 17, 31, 33, 40, 129};
    static const int Ks[] = {1, 3, 4, 5, 255, 384, 1001};
    for (size_t m = 0; m < sizeof Ms / sizeof *Ms; m++)
        for (size_t n = 0; n < sizeof Ns / sizeof *Ns; n++)
            for (size_t k = 0; k < sizeof Ks / sizeof *Ks; k++) {
                int variant = (int)(m + n + k) % 3;
                product_case c = {Ms[m], Ns[n], Ks[k], variant == 2 ? 3 : 0, variant != 1,
                                  (m * 7 + n * 3 + k) % 17 == 0};
                check_product(&c, avx2);
            }
    /* the independent product on a few chosen shapes as well */
    static const product_case chosen[] = {
        {1, 1, 1, 0, false, true}, {5, 17, 33, 2, true, true}, {97, 40, 255, 0, true, true},
        {4, 129, 1001, 5, false, true}};
    for (size_t c = 0; c < sizeof chosen / sizeof *chosen; c++)
        check_product(&chosen[c], avx2);
}

/* The fused activation (on AVX2 and VNNI) equals activation_forward_using(AVX2) run over the
 * plain product;
 * the reference's equals the reference activation run afterwards. */
static void test_epilogue_equals_separate_pass(void **state)
{
    (void)state;
    int M = 37, N = 45, K = 300;
    size_t count = (size_t)M * N;
    float *A = random_floats((size_t)M * K, -2, 2), *W = random_floats((size_t)N * K, -1, 1);
    float *bias = random_floats((size_t)N, -1, 1);
    rows r = quantize_rows(kernel_path_best(), A, K, M, K);
    gemm_int8_weight w = quantize_weight(W, N, K);
    float *plain = checked_malloc(count * sizeof *plain);
    float *fused = checked_malloc(count * sizeof *fused);
    static const activation_kind kinds[] = {ACTIVATION_GELU, ACTIVATION_GELU_TANH,
                                            ACTIVATION_RELU};
    for (int a = 0; a < 3; a++) {
        gemm_epilogue e = gemm_epilogue_for(kinds[a]);
        gemm_int8_reference(plain, N, r.q, r.scale, r.zero, &w, M, bias, GEMM_EPILOGUE_NONE);
        activation_forward_reference(kinds[a], plain, plain, count);
        gemm_int8_reference(fused, N, r.q, r.scale, r.zero, &w, M, bias, e);
        assert_memory_equal(plain, fused, count * sizeof *plain);
        kernel_path paths[2];
        for (int p = 0, n = vector_paths(paths); p < n; p++) {
            gemm_int8_using(paths[p], plain, N, r.q, r.scale, r.zero, &w, M, bias,
                            GEMM_EPILOGUE_NONE);
            activation_forward_using(KERNEL_PATH_AVX2, kinds[a], plain, plain, count);
            gemm_int8_using(paths[p], fused, N, r.q, r.scale, r.zero, &w, M, bias, e);
            assert_memory_equal(plain, fused, count * sizeof *plain);
        }
    }
    free_rows(&r);
    gemm_int8_weight_free(&w);
    free(A), free(W), free(bias), free(plain), free(fused);
}

/* The int8 product against the double float product, for BERT-like inputs: activations
 * N(0, 1) with an outlier of 12 in every eighth row, weights N(0, 0.05).
 *
 * With a' = (q - z) t and w' = q s, |a' - a| <= t/2 and |w' - w| <= s/2 (up to float
 * rounding of a / t, covered by 1e-3), so each entry of C is off by at most
 * sum_k (|a| + t/2) s/2 + |w| t/2, plus ~2 ulp for the float conversion and the fma:
 * checked per entry. Modelling the rounding errors as independent and uniform (variance
 * step^2 / 12), the expected squared error over all of C is
 * (1/12) (sum_i |a_i|^2 sum_n s_n^2 + sum_n |w_n|^2 sum_i t_i^2): the relative Frobenius
 * error must stay within 1.15 times its square root (thousands of entries each summing 384
 * independent errors: the measured ratio concentrates near 1), and below 3% whatever the
 * model says. For these inputs s ~ 3 sigma_w / 63 and t ~ 7 / 255, so the prediction is
 * ~1.5%, the 7-bit weights taking most of it. */
static void test_accuracy_against_float(void **state)
{
    (void)state;
    int M = 64, N = 256, K = 384;
    float *A = checked_malloc((size_t)M * K * sizeof *A);
    float *W = checked_malloc((size_t)N * K * sizeof *W);
    for (size_t i = 0; i < (size_t)M * K; i++)
        A[i] = gaussian(1.0f);
    for (int i = 0; i < M; i += 8)
        A[(size_t)i * K + (size_t)(i * 37) % K] = i % 16 ? -12.0f : 12.0f;
    for (size_t i = 0; i < (size_t)N * K; i++)
        W[i] = gaussian(0.05f);
    rows r = quantize_rows(kernel_path_best(), A, K, M, K);
    gemm_int8_weight w = quantize_weight(W, N, K);
    float *C = checked_malloc((size_t)M * N * sizeof *C);
    gemm_int8(C, N, r.q, r.scale, r.zero, &w, M, NULL, GEMM_EPILOGUE_NONE);
    double error2 = 0, norm2 = 0, a2 = 0, w2 = 0, s2 = 0, t2 = 0;
    for (int i = 0; i < M; i++) {
        double t = r.scale[i];
        t2 += t * t;
        for (int n = 0; n < N; n++) {
            double s = w.scale[n], exact = 0, bound = 0;
            for (int k = 0; k < K; k++) {
                double a = A[(size_t)i * K + k], x = W[(size_t)n * K + k];
                exact += a * x;
                bound += (fabs(a) + t / 2) * s / 2 + fabs(x) * t / 2;
            }
            double got = C[(size_t)i * N + n];
            bound = bound * (1 + 1e-3) + 4 * FLT_EPSILON * fabs(got);
            if (fabs(got - exact) > bound)
                fail_msg("C[%d,%d] = %.9g, float product %.9g, bound %.3g", i, n, got, exact,
                         bound);
            error2 += (got - exact) * (got - exact);
            norm2 += exact * exact;
        }
    }
    for (size_t i = 0; i < (size_t)M * K; i++)
        a2 += (double)A[i] * A[i];
    for (int n = 0; n < N; n++) {
        s2 += (double)w.scale[n] * w.scale[n];
        for (int k = 0; k < K; k++)
            w2 += (double)W[(size_t)n * K + k] * W[(size_t)n * K + k];
    }
    double relative = sqrt(error2 / norm2), predicted = sqrt((a2 * s2 + w2 * t2) / 12 / norm2);
    print_message("int8 %dx%dx%d: relative Frobenius error %.4f%%, predicted %.4f%% "
                  "(ratio %.3f)\n",
                  M, N, K, 100 * relative, 100 * predicted, relative / predicted);
    assert_true(relative <= 1.15 * predicted);
    assert_true(relative < 0.03);
    free_rows(&r);
    gemm_int8_weight_free(&w);
    free(A), free(W), free(C);
}

/* Rows, weights and products give the same bits on one thread and on two, and the VNNI
 * kernel the AVX2 one's on either. */
static void test_same_bits_on_any_thread_count(void **state)
{
    (void)state;
    if (!have_avx2())
        skip();
    int M = 450, N = 1152, K = 384;
    size_t count = (size_t)M * N;
    float *A = random_floats((size_t)M * K, -3, 3), *W = random_floats((size_t)N * K, -1, 1);
    float *bias = random_floats((size_t)N, -1, 1);
    float *one = checked_malloc(count * sizeof *one), *two = checked_malloc(count * sizeof *two);
    int saved = omp_get_max_threads();
    omp_set_num_threads(1);
    rows r1 = quantize_rows(KERNEL_PATH_AVX2, A, K, M, K);
    gemm_int8_weight w1 = quantize_weight(W, N, K);
    gemm_int8_using(KERNEL_PATH_AVX2, one, N, r1.q, r1.scale, r1.zero, &w1, M, bias,
                    GEMM_EPILOGUE_GELU);
    omp_set_num_threads(2);
    rows r2 = quantize_rows(KERNEL_PATH_AVX2, A, K, M, K);
    gemm_int8_weight w2 = quantize_weight(W, N, K);
    gemm_int8_using(KERNEL_PATH_AVX2, two, N, r2.q, r2.scale, r2.zero, &w2, M, bias,
                    GEMM_EPILOGUE_GELU);
    if (vnni_present()) {
        float *wide = checked_malloc(count * sizeof *wide);
        gemm_int8_using(KERNEL_PATH_AVX512, wide, N, r2.q, r2.scale, r2.zero, &w2, M, bias,
                        GEMM_EPILOGUE_GELU);
        assert_memory_equal(one, wide, count * sizeof *one);
        omp_set_num_threads(1);
        gemm_int8_using(KERNEL_PATH_AVX512, wide, N, r2.q, r2.scale, r2.zero, &w2, M, bias,
                        GEMM_EPILOGUE_GELU);
        assert_memory_equal(one, wide, count * sizeof *one);
        free(wide);
    }
    omp_set_num_threads(saved);
    assert_rows_equal(&r1, &r2);
    size_t packed_bytes = (size_t)(N + 15) / 16 * 16 * (size_t)gemm_int8_row_bytes(K);
    assert_memory_equal(w1.packed, w2.packed, packed_bytes);
    assert_memory_equal(w1.scale, w2.scale, (size_t)N * sizeof(float));
    assert_memory_equal(w1.column_sum, w2.column_sum, (size_t)N * sizeof(int32_t));
    assert_memory_equal(one, two, count * sizeof *one);
    free_rows(&r1), free_rows(&r2);
    gemm_int8_weight_free(&w1), gemm_int8_weight_free(&w2);
    free(A), free(W), free(bias), free(one), free(two);
}

/* A NaN or an infinity in row i of A makes row i of C NaN, in row n of W column n, through
 * the activations too (ReLU passes NaN, as torch.relu); every other entry keeps the bits of
 * the product with finite values there. */
static void test_not_finite_stays_in_its_row_and_column(void **state)
{
    (void)state;
    int M = 6, N = 20, K = 37;
    float *A = random_floats((size_t)M * K, -2, 2), *W = random_floats((size_t)N * K, -1, 1);
    float *bias = random_floats((size_t)N, -1, 1);
    float *clean_C = checked_malloc((size_t)M * N * sizeof *clean_C);
    float *C = checked_malloc((size_t)M * N * sizeof *C);
    rows clean_r = quantize_rows(kernel_path_best(), A, K, M, K);
    gemm_int8_weight clean_w = quantize_weight(W, N, K);
    gemm_int8_reference(clean_C, N, clean_r.q, clean_r.scale, clean_r.zero, &clean_w, M, bias,
                        GEMM_EPILOGUE_NONE);
    A[2 * K + 5] = NAN;
    A[4 * K + 36] = INFINITY;
    W[3 * K + 0] = NAN;
    W[17 * K + 36] = -INFINITY;
    kernel_path paths[3];
    int n_paths = vector_paths(paths);
    paths[n_paths++] = KERNEL_PATH_GENERIC;
    for (int p = 0; p < n_paths; p++) {
        kernel_path path = paths[p];
        rows r = quantize_rows(path, A, K, M, K);
        gemm_int8_weight w = quantize_weight(W, N, K);
        for (int e = GEMM_EPILOGUE_NONE; e <= GEMM_EPILOGUE_RELU; e++) {
            gemm_int8_using(path, C, N, r.q, r.scale, r.zero, &w, M, bias, (gemm_epilogue)e);
            for (int i = 0; i < M; i++)
                for (int n = 0; n < N; n++) {
                    float got = C[(size_t)i * N + n], clean = clean_C[(size_t)i * N + n];
                    bool poisoned = i == 2 || i == 4 || n == 3 || n == 17;
                    bool ok = poisoned ? isnan(got)
                              : e == GEMM_EPILOGUE_NONE ? memcmp(&got, &clean, sizeof got) == 0
                                                        : isfinite(got);
                    if (!ok)
                        fail_msg("%s epilogue %d: C[%d,%d] = %.9g, expected %s",
                                 gemm_int8_path_name(path), e, i, n, got,
                                 poisoned ? "NaN" : "the finite product's");
                }
        }
        free_rows(&r);
        gemm_int8_weight_free(&w);
    }
    free_rows(&clean_r);
    gemm_int8_weight_free(&clean_w);
    free(A), free(W), free(bias), free(clean_C), free(C);
}

/* The largest sums: activation bytes 255 (and zero point 255) against weights of +-63.
 * vpmaddubsw adds two products in int16: 2 x 255 x 63 = 32,130 must not saturate, and the
 * int32 sums must hold 255 x 63 x K up to GEMM_INT8_MAX_K. Expected values from int64
 * sums of the bytes the definition gives. */
static void check_extremes(int K, bool avx2)
{
    int M = 3, N = 3;
    float *A = checked_malloc((size_t)M * K * sizeof *A);
    float *W = checked_malloc((size_t)N * K * sizeof *W);
    for (int k = 0; k < K; k++) {
        A[k] = 1000.0f;                                /* bytes 255, zero 0 */
        A[K + k] = -1000.0f;                           /* bytes 0, zero 255 */
        A[2 * K + k] = k % 2 ? -255.0f : 765.0f;       /* t = 4: bytes 255 and 0, zero 64 */
        W[k] = 0.25f;                                  /* +63 */
        W[K + k] = -0.25f;                             /* -63 */
        W[2 * K + k] = k % 3 ? 0.25f : -0.25f;
    }
    const int32_t zeros[3] = {0, 255, 64};
    rows r = quantize_rows(kernel_path_best(), A, K, M, K);
    for (int i = 0; i < M; i++) {
        assert_int_equal(r.zero[i], zeros[i]);
        for (int k = 0; k < K; k++)
            assert_int_equal(r.q[(size_t)i * gemm_int8_row_bytes(K) + k],
                             A[(size_t)i * K + k] > 0 ? 255 : 0);
    }
    gemm_int8_weight w = quantize_weight(W, N, K);
    float expected[9], got[9];
    for (int i = 0; i < M; i++)
        for (int n = 0; n < N; n++) {
            int64_t corrected = 0;
            for (int k = 0; k < K; k++) {
                int qa = A[(size_t)i * K + k] > 0 ? 255 : 0;
                int qw = W[(size_t)n * K + k] > 0 ? 63 : -63;
                corrected += (int64_t)(qa - zeros[i]) * qw;
            }
            if (i == 0 && n == 0)
                assert_true(corrected == (int64_t)255 * 63 * K);
            expected[i * N + n] = fmaf((float)corrected, r.scale[i] * (0.25f / 63.0f), 0.0f);
        }
    gemm_int8_reference(got, N, r.q, r.scale, r.zero, &w, M, NULL, GEMM_EPILOGUE_NONE);
    assert_memory_equal(got, expected, sizeof got);
    kernel_path paths[2];
    for (int p = 0, n = avx2 ? vector_paths(paths) : 0; p < n; p++) {
        memset(got, 0, sizeof got);
        gemm_int8_using(paths[p], got, N, r.q, r.scale, r.zero, &w, M, NULL,
                        GEMM_EPILOGUE_NONE);
        assert_memory_equal(got, expected, sizeof got);
    }
    free_rows(&r);
    gemm_int8_weight_free(&w);
    free(A), free(W);
}

/* The VNNI kernel itself, reported SKIPPED where the CPU (or SEMB_CPU) lacks it (the tests
 * above then cover the other paths only): the dispatched product is VNNI's, and it has the
 * reference's bits on a MiniLM-sized layer with every epilogue. */
static void test_vnni_kernel(void **state)
{
    (void)state;
    if (!vnni_present()) {
        print_message("SKIPPED: the AVX512-VNNI int8 kernel: this CPU (or SEMB_CPU) lacks it "
                      "(%s)\n", cpu_features_string());
        skip();
    }
    assert_string_equal(gemm_int8_path_name(kernel_path_best_gemm()), "avx512-vnni");
    int M = 131, N = 1536, K = 384;
    size_t count = (size_t)M * N;
    float *A = random_floats((size_t)M * K, -3, 3), *W = random_floats((size_t)N * K, -1, 1);
    float *bias = random_floats((size_t)N, -1, 1);
    float *got = checked_malloc(count * sizeof *got), *want = checked_malloc(count * sizeof *want);
    rows r = quantize_rows(kernel_path_best(), A, K, M, K);
    gemm_int8_weight w = quantize_weight(W, N, K);
    for (int e = GEMM_EPILOGUE_NONE; e <= GEMM_EPILOGUE_RELU; e++) {
        gemm_int8(got, N, r.q, r.scale, r.zero, &w, M, bias, (gemm_epilogue)e);
        gemm_int8_using(KERNEL_PATH_AVX2, want, N, r.q, r.scale, r.zero, &w, M, bias,
                        (gemm_epilogue)e);
        assert_memory_equal(got, want, count * sizeof *got);
        if (e == GEMM_EPILOGUE_NONE) {
            gemm_int8_reference(want, N, r.q, r.scale, r.zero, &w, M, bias, GEMM_EPILOGUE_NONE);
            assert_memory_equal(got, want, count * sizeof *got);
        }
    }
    free_rows(&r);
    gemm_int8_weight_free(&w);
    free(A), free(W), free(bias), free(got), free(want);
}

static void test_extreme_sums_exact(void **state)
{
    (void)state;
    bool avx2 = avx2_present();
    check_extremes(64, avx2);
    check_extremes(GEMM_INT8_MAX_K, avx2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rows_match_formula),
        cmocka_unit_test(test_weight_by_hand),
        cmocka_unit_test(test_weight_layout),
        cmocka_unit_test(test_weight_not_finite),
        cmocka_unit_test(test_weight_tiny),
        cmocka_unit_test(test_weight_errors),
        cmocka_unit_test(test_products_match_reference),
        cmocka_unit_test(test_epilogue_equals_separate_pass),
        cmocka_unit_test(test_accuracy_against_float),
        cmocka_unit_test(test_same_bits_on_any_thread_count),
        cmocka_unit_test(test_not_finite_stays_in_its_row_and_column),
        cmocka_unit_test(test_extreme_sums_exact),
        cmocka_unit_test(test_vnni_kernel),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
