/* attention_forward_train and attention_backward:
 *  - the double chain rule (written here) against central differences, with and without
 *    position bias and dropout, over packed sequences of different lengths; the float
 *    kernels against it on every path;
 *  - the fast paths against attention_backward_reference, each subset of gradients;
 *  - the same bits on 1 and 2 threads; the dropout mask read back from the forward and the
 *    backward and compared with dropout_multiplier at the documented index. */
#include "kernels_backward_support.h"

#include <omp.h>

#include "kernels/attention.h"
#include "kernels/dropout.h"

typedef struct attention_shape {
    const int *lengths;
    int n_seqs, n_heads, head_dim;
} attention_shape;

/* A packed batch of random q, k, v (one fused buffer, row stride ld = 3 width), gradient of
 * the output and, with bias, a position bias; in float and in double. */
typedef struct attention_batch {
    int cu[16], n_seqs, n_heads, D, width, ld, T, max_distance, span;
    size_t n_probs;
    float scale;
    dropout_spec dropout;
    float *qkv, *bias, *d_out;   /* bias NULL without */
    double *qkv64, *bias64, *d_out64, *probs64, *out64;
} attention_batch;

static void attention_batch_make(attention_batch *b, const attention_shape *shape, bool bias,
                                 float dropout_p)
{
    memset(b, 0, sizeof *b);
    b->n_seqs = shape->n_seqs, b->n_heads = shape->n_heads, b->D = shape->head_dim;
    int longest = 1;
    assert_true(b->n_seqs < 16);
    for (int s = 0; s < b->n_seqs; s++) {
        assert_true(shape->lengths[s] <= 128); /* attention_f64_backward's row */
        b->cu[s + 1] = b->cu[s] + shape->lengths[s];
        b->n_probs += (size_t)b->n_heads * shape->lengths[s] * shape->lengths[s];
        longest = shape->lengths[s] > longest ? shape->lengths[s] : longest;
    }
    b->T = b->cu[b->n_seqs], b->width = b->n_heads * b->D, b->ld = 3 * b->width;
    b->max_distance = longest + 2, b->span = 2 * b->max_distance - 1;
    b->scale = 1.0f / sqrtf((float)b->D);
    b->dropout = (dropout_spec){dropout_p, 0xd0d0 + (uint64_t)b->T};
    size_t n_qkv = (size_t)b->T * b->ld, n_out = (size_t)b->T * b->width;
    b->qkv = random_array(n_qkv, -1, 1), b->d_out = random_array(n_out, -1, 1);
    b->bias = bias ? random_array((size_t)b->n_heads * b->span, -2, 2) : NULL;
    b->qkv64 = to_double(b->qkv, n_qkv), b->d_out64 = to_double(b->d_out, n_out);
    b->bias64 = bias ? to_double(b->bias, (size_t)b->n_heads * b->span) : NULL;
    b->probs64 = zeros(b->n_probs), b->out64 = zeros(n_out);
}

static void attention_batch_free(attention_batch *b)
{
    free(b->qkv), free(b->bias), free(b->d_out), free(b->qkv64), free(b->bias64);
    free(b->d_out64), free(b->probs64), free(b->out64);
}

/* softmax(scale q k^T + bias) with dropout, times v, in double. */
static double attention_loss(void *context)
{
    attention_batch *b = context;
    size_t at = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        int start = b->cu[s], L = b->cu[s + 1] - start;
        for (int h = 0; h < b->n_heads; h++)
            for (int i = 0; i < L; i++) {
                const double *q = b->qkv64 + (size_t)(start + i) * b->ld + h * b->D;
                double *p = b->probs64 + at, max = -INFINITY, sum = 0;
                for (int j = 0; j < L; j++) {
                    const double *k = b->qkv64 + (size_t)(start + j) * b->ld + b->width + h * b->D;
                    p[j] = b->scale * dot(q, k, b->D) +
                           (b->bias64 ? b->bias64[h * b->span + j - i + b->max_distance - 1] : 0);
                    max = fmax(max, p[j]);
                }
                for (int j = 0; j < L; j++)
                    sum += p[j] = exp(p[j] - max);
                double *out = b->out64 + (size_t)(start + i) * b->width + h * b->D;
                for (int d = 0; d < b->D; d++)
                    out[d] = 0;
                for (int j = 0; j < L; j++) {
                    p[j] /= sum;
                    double kept = p[j] * dropout_multiplier(b->dropout, at + j);
                    for (int d = 0; d < b->D; d++)
                        out[d] += kept * b->qkv64[(size_t)(start + j) * b->ld + 2 * b->width +
                                                  h * b->D + d];
                }
                at += L;
            }
    }
    return dot(b->out64, b->d_out64, (size_t)b->T * b->width);
}

/* The chain rule through out = (P M) v, P = softmax(S), S = scale q k^T + bias, in double,
 * from the probabilities attention_loss saved. */
static void attention_f64_backward(const attention_batch *b, double *d_qkv, double *d_bias)
{
    size_t at = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        int start = b->cu[s], L = b->cu[s + 1] - start;
        for (int h = 0; h < b->n_heads; h++)
            for (int i = 0; i < L; i++, at += L) {
                const double *p = b->probs64 + at;
                const double *d_out = b->d_out64 + (size_t)(start + i) * b->width + h * b->D;
                const double *q = b->qkv64 + (size_t)(start + i) * b->ld + h * b->D;
                double d_p[128], row_dot = 0;
                for (int j = 0; j < L; j++) {
                    size_t row_j = (size_t)(start + j) * b->ld + h * b->D;
                    double m = dropout_multiplier(b->dropout, at + j);
                    d_p[j] = dot(d_out, b->qkv64 + row_j + 2 * b->width, b->D) * m;
                    row_dot += d_p[j] * p[j];
                    for (int d = 0; d < b->D; d++)
                        d_qkv[row_j + 2 * b->width + d] += p[j] * m * d_out[d];
                }
                for (int j = 0; j < L; j++) {
                    size_t row_j = (size_t)(start + j) * b->ld + h * b->D;
                    double d_score = p[j] * (d_p[j] - row_dot);
                    for (int d = 0; d < b->D; d++) {
                        d_qkv[(size_t)(start + i) * b->ld + h * b->D + d] +=
                            b->scale * d_score * b->qkv64[row_j + b->width + d];
                        d_qkv[row_j + b->width + d] += b->scale * d_score * q[d];
                    }
                    if (d_bias)
                        d_bias[h * b->span + j - i + b->max_distance - 1] += d_score;
                }
            }
    }
}

/* The float kernels on one path: forward_train then backward into zeroed gradients. */
static void attention_float_run(const attention_batch *b, kernel_path path, float *out,
                                float *probs, float *d_qkv, float *d_bias)
{
    memset(d_qkv, 0, (size_t)b->T * b->ld * sizeof *d_qkv);
    if (d_bias)
        memset(d_bias, 0, (size_t)b->n_heads * b->span * sizeof *d_bias);
    const float *q = b->qkv, *k = q + b->width, *v = k + b->width;
    assert_int_equal(attention_forward_train_using(path, out, probs, q, k, v, b->ld, b->cu,
                                                   b->n_seqs, b->n_heads, b->D, b->scale, b->bias,
                                                   b->max_distance, b->dropout),
                     SEMB_OK);
    assert_int_equal(attention_backward_using(path, d_qkv, d_qkv + b->width, d_qkv + 2 * b->width,
                                              d_bias, b->d_out, q, k, v, b->ld, probs, b->cu,
                                              b->n_seqs, b->n_heads, b->D, b->scale,
                                              b->max_distance, b->dropout),
                     SEMB_OK);
}

/* Against the double chain rule: out and probs as the forward test's 2e-6; the gradients
 * add one more product of head_dim (or L <= 33) terms and the softmax backward's
 * difference dP - rowsum(dP P), each a few u of values of their own size, and the bias
 * gradient sums those over diagonals and sequences: 4e-6 normwise, a factor 9 over the
 * worst measured (4.5e-7, d_position_bias, over five seeds). */
#define ATTENTION_F64_TOLERANCE 4e-6

static void check_attention_against_f64(const attention_shape *shape, bool bias, float p,
                                        bool central_differences)
{
    attention_batch b;
    attention_batch_make(&b, shape, bias, p);
    size_t n_qkv = (size_t)b.T * b.ld, n_out = (size_t)b.T * b.width;
    size_t n_bias = bias ? (size_t)b.n_heads * b.span : 0;
    attention_loss(&b);
    double *d_qkv = zeros(n_qkv), *d_bias = bias ? zeros(n_bias) : NULL;
    attention_f64_backward(&b, d_qkv, d_bias);
    char what[96];
    snprintf(what, sizeof what, "attention%s%s d_qkv", bias ? " bias" : "",
             p > 0 ? " dropout" : "");
    if (central_differences) {
        check_central_differences(what, attention_loss, &b, b.qkv64, d_qkv, n_qkv);
        if (bias)
            check_central_differences("attention d_position_bias", attention_loss, &b, b.bias64,
                                      d_bias, n_bias);
        attention_loss(&b); /* restore probs64 and out64 */
    }
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (int q = 0; q < n_paths; q++) {
        float *out = malloc(n_out * 4), *probs = malloc((b.n_probs + 1) * 4);
        float *f_qkv = malloc(n_qkv * 4), *f_bias = bias ? malloc(n_bias * 4) : NULL;
        assert_true(out && probs && f_qkv);
        attention_float_run(&b, paths[q], out, probs, f_qkv, f_bias);
        check_error("attention out vs double", normwise_error(out, b.out64, n_out), 2e-6);
        check_error("attention probs vs double", normwise_error(probs, b.probs64, b.n_probs), 2e-6);
        check_error(what, normwise_error(f_qkv, d_qkv, n_qkv), ATTENTION_F64_TOLERANCE);
        if (bias)
            check_error("attention d_position_bias vs double",
                        normwise_error(f_bias, d_bias, n_bias), ATTENTION_F64_TOLERANCE);
        free(out), free(probs), free(f_qkv), free(f_bias);
    }
    free(d_qkv), free(d_bias);
    attention_batch_free(&b);
}

static void test_attention_gradients(void **state)
{
    static const int three[] = {3, 1, 5}, packed[] = {4, 6, 0, 5};
    static const int mixed[] = {1, 2, 7, 33, 0, 5};
    attention_shape small = {three, 3, 2, 3}, dropped = {packed, 4, 2, 4};
    for (int variant = 0; variant < 2; variant++)
        check_attention_against_f64(&small, variant, 0.0f, true);
    check_attention_against_f64(&dropped, false, 0.1f, true);
    check_attention_against_f64(&dropped, true, 0.1f, true);
    /* Longer: the small products and oneDNN's (33 > ATTENTION_SMALL_MAX), no differences. */
    attention_shape longer = {mixed, 6, 3, 16};
    for (int variant = 0; variant < 4; variant++)
        check_attention_against_f64(&longer, variant & 1, variant & 2 ? 0.1f : 0.0f, false);
    report_worst("attention float vs double");
}

/* Fast paths against attention_backward_reference from the same float probabilities, for
 * each subset of gradients. The reference is exact but for the final rounding; the fast
 * paths' products of head_dim or L terms and their float softmax backward lose a few u of
 * the largest gradient (measured below 5e-7): 4e-6 normwise. */
#define ATTENTION_REFERENCE_TOLERANCE 4e-6

static void check_attention_backward(kernel_path path, const attention_shape *shape, bool bias,
                                     float p, unsigned null_mask)
{
    attention_batch b;
    attention_batch_make(&b, shape, bias, p);
    size_t n_qkv = (size_t)b.T * b.ld, n_out = (size_t)b.T * b.width;
    size_t n_bias = bias ? (size_t)b.n_heads * b.span : 1;
    float *out = malloc(n_out * 4), *probs = malloc((b.n_probs + 1) * 4);
    /* Gradients already there, to be added to. */
    float *got = random_array(n_qkv, -1, 1), *expected = copy_array(got, n_qkv);
    float *got_bias = random_array(n_bias, -1, 1), *expected_bias = copy_array(got_bias, n_bias);
    assert_true(out && probs);
    const float *q = b.qkv, *k = q + b.width, *v = k + b.width;
    assert_int_equal(attention_forward_train_using(path, out, probs, q, k, v, b.ld, b.cu, b.n_seqs,
                                                   b.n_heads, b.D, b.scale, b.bias,
                                                   b.max_distance, b.dropout),
                     SEMB_OK);
    float *g[3], *e[3];
    for (int x = 0; x < 3; x++) {
        g[x] = null_mask & (1u << x) ? NULL : got + x * b.width;
        e[x] = null_mask & (1u << x) ? NULL : expected + x * b.width;
    }
    assert_int_equal(attention_backward_using(path, g[0], g[1], g[2], bias ? got_bias : NULL,
                                              b.d_out, q, k, v, b.ld, probs, b.cu, b.n_seqs,
                                              b.n_heads, b.D, b.scale, b.max_distance, b.dropout),
                     SEMB_OK);
    assert_int_equal(attention_backward_reference(e[0], e[1], e[2], bias ? expected_bias : NULL,
                                                  b.d_out, q, k, v, b.ld, probs, b.cu, b.n_seqs,
                                                  b.n_heads, b.D, b.scale, b.max_distance,
                                                  b.dropout),
                     SEMB_OK);
    for (int x = 0; x < 3; x++) { /* the column blocks q | k | v, each on its own */
        char what[96];
        snprintf(what, sizeof what, "attention_backward %s heads=%d dim=%d bias=%d p=%g: d_%c",
                 kernel_path_name(path), b.n_heads, b.D, bias, p, "qkv"[x]);
        double error = block_error(got + x * b.width, expected + x * b.width, b.T, b.width, b.ld);
        check_error(what, error, ATTENTION_REFERENCE_TOLERANCE);
    }
    if (bias)
        check_error("attention_backward d_position_bias",
                    block_error(got_bias, expected_bias, 1, (int)n_bias, 0),
                    ATTENTION_REFERENCE_TOLERANCE);
    free(out), free(probs), free(got), free(expected), free(got_bias), free(expected_bias);
    attention_batch_free(&b);
}

static void test_attention_backward_matches_reference(void **state)
{
    /* As the forward test: lengths up to 28 take the small products on the AVX2 path, 33
     * and 128 oneDNN's; an empty sequence; head_dim 17 leaves a tail in every vector. */
    static const int mixed[] = {1, 2, 7, 33, 128, 0, 5};
    static const int short_ones[] = {3, 24, 25, 17};
    static const attention_shape shapes[] = {
        {mixed, 7, 3, 32}, {mixed, 7, 2, 64}, {short_ones, 4, 4, 17}, {mixed, 5, 1, 8}};
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (int p = 0; p < n_paths; p++) {
        for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++)
            for (int variant = 0; variant < 4; variant++)
                check_attention_backward(paths[p], &shapes[s], variant & 1,
                                         variant & 2 ? 0.1f : 0.0f, (unsigned)(s + variant) % 8);
        report_worst(paths[p] == KERNEL_PATH_AVX2 ? "attention_backward avx2 vs reference"
                                                  : "attention_backward generic vs reference");
    }
}

/* forward_train and backward on 1 and 2 threads, and twice on 2: the same bits, bias and
 * dropout included (each item is one thread's, the bias shares are added in order). */
static void test_attention_deterministic(void **state)
{
    static const int lengths[] = {9, 33, 1, 20, 0, 14, 40};
    attention_shape shape = {lengths, 7, 4, 16};
    attention_batch b;
    attention_batch_make(&b, &shape, true, 0.1f);
    size_t n_qkv = (size_t)b.T * b.ld, n_out = (size_t)b.T * b.width;
    size_t n_bias = (size_t)b.n_heads * b.span;
    int threads = omp_get_max_threads();
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (int p = 0; p < n_paths; p++) {
        float *out[3], *probs[3], *d_qkv[3], *d_bias[3];
        for (int run = 0; run < 3; run++) {
            out[run] = malloc(n_out * 4), probs[run] = malloc(b.n_probs * 4);
            d_qkv[run] = malloc(n_qkv * 4), d_bias[run] = malloc(n_bias * 4);
            assert_true(out[run] && probs[run] && d_qkv[run] && d_bias[run]);
            omp_set_num_threads(run == 0 ? 1 : 2);
            attention_float_run(&b, paths[p], out[run], probs[run], d_qkv[run], d_bias[run]);
        }
        omp_set_num_threads(threads);
        for (int run = 1; run < 3; run++) {
            assert_memory_equal(out[run], out[0], n_out * 4);
            assert_memory_equal(probs[run], probs[0], b.n_probs * 4);
            assert_memory_equal(d_qkv[run], d_qkv[0], n_qkv * 4);
            assert_memory_equal(d_bias[run], d_bias[0], n_bias * 4);
        }
        for (int run = 0; run < 3; run++)
            free(out[run]), free(probs[run]), free(d_qkv[run]), free(d_bias[run]);
    }
    attention_batch_free(&b);
}

/* With q = k = 0 every probability is 1/L, and with v one-hot (v[j] = e_j) out[i, j] is the
 * dropped probability P'[i, j] itself, the product of two floats; with d_out one-hot
 * (d_out[i] = e_i) so is d_v[j, i]. So the forward's mask and the backward's can be read
 * off and compared with dropout_multiplier at the documented index. */
static void check_attention_mask(kernel_path path, const int *lengths, int n_seqs, int n_heads,
                                 int D, long *dropped, long *total)
{
    attention_shape shape = {lengths, n_seqs, n_heads, D};
    attention_batch b;
    attention_batch_make(&b, &shape, false, 0.1f);
    size_t n_qkv = (size_t)b.T * b.ld, n_out = (size_t)b.T * b.width;
    memset(b.qkv, 0, n_qkv * 4);
    memset(b.d_out, 0, n_out * 4);
    for (int s = 0; s < b.n_seqs; s++)
        for (int t = b.cu[s]; t < b.cu[s + 1]; t++)
            for (int h = 0; h < b.n_heads; h++) {
                b.qkv[(size_t)t * b.ld + 2 * b.width + h * D + (t - b.cu[s])] = 1.0f;
                b.d_out[(size_t)t * b.width + h * D + (t - b.cu[s])] = 1.0f;
            }
    float *out = malloc(n_out * 4), *probs = malloc(b.n_probs * 4), *d_qkv = malloc(n_qkv * 4);
    assert_true(out && probs && d_qkv);
    attention_float_run(&b, path, out, probs, d_qkv, NULL);
    size_t at = 0;
    for (int s = 0; s < b.n_seqs; s++) {
        int start = b.cu[s], L = b.cu[s + 1] - start;
        for (int h = 0; h < b.n_heads; h++)
            for (int i = 0; i < L; i++)
                for (int j = 0; j < L; j++, at++) {
                    float kept = probs[at] * dropout_multiplier(b.dropout, at);
                    assert_true(probs[at] == 1.0f / (float)L || L > 16); /* (rounding of 1/L) */
                    assert_true(out[(size_t)(start + i) * b.width + h * D + j] == kept);
                    size_t d_v = (size_t)(start + j) * b.ld + 2 * b.width + h * D + i;
                    assert_true(d_qkv[d_v] == kept);
                    *dropped += kept == 0.0f;
                    ++*total;
                }
    }
    free(out), free(probs), free(d_qkv);
    attention_batch_free(&b);
}

static void test_attention_dropout_mask(void **state)
{
    static const int few[] = {5, 17, 9, 0, 1}, many[] = {64, 64, 64, 64, 33};
    kernel_path paths[2];
    int n_paths = testable_paths(paths);
    for (int p = 0; p < n_paths; p++) {
        long dropped = 0, total = 0;
        check_attention_mask(paths[p], few, 5, 2, 17, &dropped, &total);
        assert_true(dropped > 0 && dropped < total);
        dropped = total = 0;
        check_attention_mask(paths[p], many, 5, 4, 64, &dropped, &total);
        double fraction = (double)dropped / total, sigma = sqrt(0.1 * 0.9 / total);
        print_message("  attention dropout p=0.1 on %s: dropped %.4f of %ld\n",
                      kernel_path_name(paths[p]), fraction, total);
        assert_true(fabs(fraction - 0.1) <= 5 * sigma);
    }
}

static void test_attention_backward_rejects_bad_packing(void **state)
{
    float qkv[3 * 4 * 2], d_qkv[3 * 4 * 2], d_out[4 * 2], probs[16], d_bias[3];
    for (int i = 0; i < 24; i++)
        qkv[i] = 1, d_qkv[i] = 0;
    for (int i = 0; i < 16; i++)
        probs[i] = 0.25f;
    for (int i = 0; i < 8; i++)
        d_out[i] = 1;
    int too_long[] = {0, 3}, decreasing[] = {0, 2, 1};
    dropout_spec none = {0, 0};
    assert_int_equal(attention_backward(d_qkv, d_qkv + 2, d_qkv + 4, d_bias, d_out, qkv, qkv + 2,
                                        qkv + 4, 6, probs, too_long, 1, 1, 2, 1, 2, none),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(attention_backward(d_qkv, d_qkv + 2, d_qkv + 4, NULL, d_out, qkv, qkv + 2,
                                        qkv + 4, 6, probs, decreasing, 2, 1, 2, 1, 0, none),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(attention_backward_reference(d_qkv, d_qkv + 2, d_qkv + 4, NULL, d_out, qkv,
                                                  qkv + 2, qkv + 4, 6, probs, decreasing, 2, 1,
                                                  2, 1, 0, none),
                     SEMB_ERR_INVALID_ARG);
    for (int i = 0; i < 24; i++) /* nothing was written */
        assert_true(d_qkv[i] == 0);
    assert_int_equal(attention_backward(d_qkv, d_qkv + 2, d_qkv + 4, NULL, d_out, qkv, qkv + 2,
                                        qkv + 4, 6, probs, too_long, 1, 1, 2, 1, 0, none),
                     SEMB_OK);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_attention_gradients, reset_worst),
        cmocka_unit_test_setup(test_attention_backward_matches_reference, reset_worst),
        cmocka_unit_test_setup(test_attention_deterministic, reset_worst),
        cmocka_unit_test_setup(test_attention_dropout_mask, reset_worst),
        cmocka_unit_test_setup(test_attention_backward_rejects_bad_packing, reset_worst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
