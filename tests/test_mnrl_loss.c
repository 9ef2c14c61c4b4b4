/* MultipleNegativesRankingLoss against a plain double-precision reference written here,
 * its gradients against central differences of that reference, hand-computed cases, and
 * the streamed (row-block) computation against a single block. */
#include "support.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "train/mnrl_loss.h"

/* ---- the reference: the whole scores matrix in double, straight from the definition ---- */

static void reference_normalize(double *x, int rows, int dim)
{
    for (int r = 0; r < rows; r++) {
        double sq = 0.0;
        for (int i = 0; i < dim; i++)
            sq += x[r * dim + i] * x[r * dim + i];
        double norm = fmax(sqrt(sq), 1e-12);
        for (int i = 0; i < dim; i++)
            x[r * dim + i] /= norm;
    }
}

/* -log softmax(v)[target] over n values with the given stride. */
static double reference_cross_entropy(const double *v, int n, int stride, int target)
{
    double max = -INFINITY;
    for (int j = 0; j < n; j++)
        max = fmax(max, v[j * stride]);
    double sum = 0.0;
    for (int j = 0; j < n; j++)
        sum += exp(v[j * stride] - max);
    return max + log(sum) - v[target * stride];
}

static double reference_loss(const mnrl_config *cfg, const double *anchors,
                             const double *candidates, int batch, int negatives, int dim)
{
    int n = batch * (1 + negatives);
    double *a = malloc(sizeof *a * batch * dim), *c = malloc(sizeof *c * n * dim);
    double *scores = malloc(sizeof *scores * batch * n);
    memcpy(a, anchors, sizeof *a * batch * dim);
    memcpy(c, candidates, sizeof *c * n * dim);
    if (cfg->similarity == SIMILARITY_COSINE) {
        reference_normalize(a, batch, dim);
        reference_normalize(c, n, dim);
    }
    for (int i = 0; i < batch; i++)
        for (int j = 0; j < n; j++) {
            double dot = 0.0;
            for (int d = 0; d < dim; d++)
                dot += a[i * dim + d] * c[j * dim + d];
            scores[i * n + j] = cfg->scale * dot;
        }
    double forward = 0.0;
    for (int i = 0; i < batch; i++)
        forward += reference_cross_entropy(scores + i * n, n, 1, i);
    forward /= batch;
    double loss = forward;
    if (cfg->symmetric) {
        double backward = 0.0;
        for (int j = 0; j < batch; j++)
            backward += reference_cross_entropy(scores + j, batch, n, j);
        loss = (forward + backward / batch) / 2;
    }
    free(a);
    free(c);
    free(scores);
    return loss;
}

/* ---- random problems ---- */

typedef struct problem {
    int batch, negatives, dim, n_candidates;
    float *anchors, *candidates;     /* what the implementation sees */
    double *anchors64, *candidates64; /* the same values, for the reference */
} problem;

static problem make_problem(int batch, int negatives, int dim, uint64_t seed)
{
    problem p = {.batch = batch, .negatives = negatives, .dim = dim,
                 .n_candidates = batch * (1 + negatives)};
    size_t na = (size_t)batch * dim, nc = (size_t)p.n_candidates * dim;
    p.anchors = malloc(sizeof(float) * na);
    p.candidates = malloc(sizeof(float) * nc);
    p.anchors64 = malloc(sizeof(double) * na);
    p.candidates64 = malloc(sizeof(double) * nc);
    rng_state rng;
    rng_seed(&rng, seed);
    /* 0.3 keeps dot-product scores at scale 20 in a range where softmax is not all one-hot */
    for (size_t i = 0; i < na; i++)
        p.anchors64[i] = p.anchors[i] = 0.3f * rng_normal(&rng);
    for (size_t i = 0; i < nc; i++)
        p.candidates64[i] = p.candidates[i] = 0.3f * rng_normal(&rng);
    return p;
}

static void free_problem(problem *p)
{
    free(p->anchors);
    free(p->candidates);
    free(p->anchors64);
    free(p->candidates64);
}

static double run_loss(const mnrl_config *cfg, const problem *p, float *d_anchors,
                       float *d_candidates)
{
    semb_error err = {0};
    double loss = NAN;
    if (mnrl_loss(cfg, p->anchors, p->candidates, p->batch, p->negatives, p->dim, &loss,
                  d_anchors, d_candidates, &err) != SEMB_OK)
        fail_msg("mnrl_loss: %s", err.message);
    return loss;
}

static const char *describe(const mnrl_config *cfg, const problem *p)
{
    static char text[160];
    snprintf(text, sizeof text, "B=%d k=%d D=%d %s scale=%g%s", p->batch, p->negatives, p->dim,
             cfg->similarity == SIMILARITY_COSINE ? "cos" : "dot", (double)cfg->scale,
             cfg->symmetric ? " symmetric" : "");
    return text;
}

/* ---- (a) the loss against the reference over every combination ---- */

static void check_loss(const mnrl_config *cfg, int batch, int negatives, int dim,
                       uint64_t seed)
{
    problem p = make_problem(batch, negatives, dim, seed);
    double want = reference_loss(cfg, p.anchors64, p.candidates64, batch, negatives, dim);
    double got = run_loss(cfg, &p, NULL, NULL);
    if (!(fabs(got - want) <= 1e-5 * fmax(1.0, fabs(want))))
        fail_msg("%s: loss %.12g, reference %.12g", describe(cfg, &p), got, want);
    free_problem(&p);
}

static void test_loss_matches_reference(void **state)
{
    static const int batches[] = {1, 2, 5, 12}, negatives[] = {0, 1, 3}, dims[] = {7, 33};
    static const float scales[] = {20.0f, 1.0f};
    uint64_t seed = 1;
    for (int sim = 0; sim < 2; sim++)
        for (int sym = 0; sym < 2; sym++)
            for (int si = 0; si < 2; si++) {
                mnrl_config cfg = {.similarity = sim ? SIMILARITY_DOT : SIMILARITY_COSINE,
                                   .scale = scales[si], .symmetric = sym};
                for (int bi = 0; bi < 4; bi++)
                    for (int ki = 0; ki < 3; ki++)
                        for (int di = 0; di < 2; di++)
                            check_loss(&cfg, batches[bi], negatives[ki], dims[di], seed++);
            }
}

static void test_scores_match_reference(void **state)
{
    problem p = make_problem(5, 3, 33, 77);
    mnrl_config cfg = {.similarity = SIMILARITY_COSINE, .scale = 20.0f};
    float *scores = malloc(sizeof *scores * p.batch * p.n_candidates);
    semb_error err = {0};
    assert_int_equal(mnrl_scores(&cfg, p.anchors, p.candidates, p.batch, p.negatives, p.dim,
                                 scores, &err), SEMB_OK);
    double *a = malloc(sizeof *a * p.batch * p.dim);
    double *c = malloc(sizeof *c * p.n_candidates * p.dim);
    memcpy(a, p.anchors64, sizeof *a * p.batch * p.dim);
    memcpy(c, p.candidates64, sizeof *c * p.n_candidates * p.dim);
    reference_normalize(a, p.batch, p.dim);
    reference_normalize(c, p.n_candidates, p.dim);
    for (int i = 0; i < p.batch; i++)
        for (int j = 0; j < p.n_candidates; j++) {
            double dot = 0.0;
            for (int d = 0; d < p.dim; d++)
                dot += a[i * p.dim + d] * c[j * p.dim + d];
            if (fabs(scores[i * p.n_candidates + j] - 20.0 * dot) > 1e-5)
                fail_msg("score [%d][%d]: %.8g, want %.8g", i, j,
                         scores[i * p.n_candidates + j], 20.0 * dot);
        }
    free(a);
    free(c);
    free(scores);
    free_problem(&p);
}

/* ---- (b) gradients against central differences of the reference ---- */

/* max |got - want| over max |want|: one scale for the whole gradient, since single
 * elements may be near zero. The floor keeps a saturated softmax (loss ~1e-13, gradients
 * of finite-difference noise) from dividing noise by noise. */
static double relative_error(const float *got, const double *want, size_t n)
{
    double diff = 0.0, size = 0.0;
    for (size_t i = 0; i < n; i++) {
        diff = fmax(diff, fabs(got[i] - want[i]));
        size = fmax(size, fabs(want[i]));
    }
    return diff / fmax(size, 1e-3);
}

static void finite_difference(const mnrl_config *cfg, problem *p, double *x, size_t n,
                              double *grad)
{
    const double h = 1e-6;
    for (size_t i = 0; i < n; i++) {
        double saved = x[i];
        x[i] = saved + h;
        double up = reference_loss(cfg, p->anchors64, p->candidates64, p->batch, p->negatives,
                                   p->dim);
        x[i] = saved - h;
        double down = reference_loss(cfg, p->anchors64, p->candidates64, p->batch,
                                     p->negatives, p->dim);
        x[i] = saved;
        grad[i] = (up - down) / (2 * h);
    }
}

static void check_gradients(const mnrl_config *cfg, problem *p)
{
    size_t na = (size_t)p->batch * p->dim, nc = (size_t)p->n_candidates * p->dim;
    float *d_anchors = malloc(sizeof *d_anchors * na);
    float *d_candidates = malloc(sizeof *d_candidates * nc);
    double *want_anchors = malloc(sizeof *want_anchors * na);
    double *want_candidates = malloc(sizeof *want_candidates * nc);
    run_loss(cfg, p, d_anchors, d_candidates);
    finite_difference(cfg, p, p->anchors64, na, want_anchors);
    finite_difference(cfg, p, p->candidates64, nc, want_candidates);
    double ea = relative_error(d_anchors, want_anchors, na);
    double ec = relative_error(d_candidates, want_candidates, nc);
    if (!(ea <= 1e-4 && ec <= 1e-4))
        fail_msg("%s: gradient relative error anchors %.3g, candidates %.3g", describe(cfg, p),
                 ea, ec);
    free(d_anchors);
    free(d_candidates);
    free(want_anchors);
    free(want_candidates);
}

static void test_gradients_match_finite_differences(void **state)
{
    static const int batches[] = {1, 2, 5, 12}, negatives[] = {0, 1, 3};
    /* sentence-transformers' defaults (cosine 20, dot 1) and cosine at scale 1 */
    static const mnrl_config sims[] = {{SIMILARITY_COSINE, 20.0f, false, 0},
                                       {SIMILARITY_DOT, 1.0f, false, 0},
                                       {SIMILARITY_COSINE, 1.0f, false, 0}};
    uint64_t seed = 1000;
    for (int bi = 0; bi < 4; bi++)
        for (int ki = 0; ki < 3; ki++)
            for (int si = 0; si < 3; si++)
                for (int sym = 0; sym < 2; sym++) {
                    mnrl_config cfg = sims[si];
                    cfg.symmetric = sym;
                    problem p = make_problem(batches[bi], negatives[ki], bi == 2 ? 33 : 7, seed++);
                    check_gradients(&cfg, &p);
                    free_problem(&p);
                }
}

/* ---- (c) hand-computed cases, B = 2, D = 2, k = 0 ---- */

static void test_hand_computed_dot(void **state)
{
    /* a0 = (1, 0), a1 = (0, 1); p0 = (2, 0), p1 = (1, 1); dot, scale 1:
     *   scores = [[2, 1], [0, 1]]
     *   row 0, target 0: log(e^2 + e^1) - 2 = log(1 + e^-1)
     *   row 1, target 1: log(e^0 + e^1) - 1 = log(1 + e^-1)
     *   loss = log(1 + 1/e) = 0.31326168751822...
     * dLoss/dscores row 0 = (softmax(2, 1) - (1, 0)) / 2 = (-q, q) with q = 1 / (2 (1 + e)),
     * so d a0 = -q p0 + q p1 = (-q, q) = (-0.13447071068499756, 0.13447071068499756).
     * Symmetric: columns [2, 0] (target 0) and [1, 1] (target 1) give log(1 + e^-2) and
     * log 2; loss = (log(1 + 1/e) + (log(1 + e^-2) + log 2) / 2) / 2 = 0.36164964165... */
    const float anchors[] = {1, 0, 0, 1}, positives[] = {2, 0, 1, 1};
    mnrl_config cfg = {.similarity = SIMILARITY_DOT, .scale = 1.0f};
    double loss;
    float d_anchors[4], d_positives[4];
    semb_error err = {0};
    assert_int_equal(mnrl_loss(&cfg, anchors, positives, 2, 0, 2, &loss, d_anchors,
                               d_positives, &err), SEMB_OK);
    assert_true(fabs(loss - log1p(exp(-1.0))) < 1e-7);
    double q = 1.0 / (2.0 * (1.0 + exp(1.0)));
    assert_true(fabs(d_anchors[0] + q) < 1e-7 && fabs(d_anchors[1] - q) < 1e-7);

    cfg.symmetric = true;
    assert_int_equal(mnrl_loss(&cfg, anchors, positives, 2, 0, 2, &loss, NULL, NULL, &err),
                     SEMB_OK);
    double want = (log1p(exp(-1.0)) + (log1p(exp(-2.0)) + log(2.0)) / 2) / 2;
    assert_true(fabs(loss - want) < 1e-7);
    assert_true(fabs(want - 0.36164964166) < 1e-10);
}

static void test_hand_computed_cosine(void **state)
{
    /* a0 = (1, 0), a1 = (0, 2); p0 = (1, 1), p1 = (0, -3); cosine, scale 20. The norms
     * differ on purpose: cos(a0, p0) = cos(a1, p0) = 1/sqrt 2, cos(a0, p1) = 0,
     * cos(a1, p1) = -1, so scores = [[10 sqrt2, 0], [10 sqrt2, -20]] and
     *   row 0, target 0: log(e^(10 sqrt2) + 1) - 10 sqrt2 = log(1 + e^(-10 sqrt2))
     *   row 1, target 1: log(e^(10 sqrt2) + e^-20) + 20
     *                    = 20 + 10 sqrt2 + log(1 + e^(-20 - 10 sqrt2))
     *   loss = their mean = 17.0710681725... (row 1 ranks the wrong positive first) */
    const float anchors[] = {1, 0, 0, 2}, positives[] = {1, 1, 0, -3};
    mnrl_config cfg = {.similarity = SIMILARITY_COSINE, .scale = 20.0f};
    double loss;
    semb_error err = {0};
    assert_int_equal(mnrl_loss(&cfg, anchors, positives, 2, 0, 2, &loss, NULL, NULL, &err),
                     SEMB_OK);
    double s = 10.0 * sqrt(2.0);
    double want = (log1p(exp(-s)) + 20.0 + s + log1p(exp(-20.0 - s))) / 2;
    assert_true(fabs(want - 17.0710681725) < 1e-9);
    assert_true(fabs(loss - want) < 1e-5);
}

/* ---- (d) streaming in row blocks ---- */

static void compare_block_sizes(problem *p, mnrl_config cfg, const int *blocks, int n_blocks)
{
    size_t na = (size_t)p->batch * p->dim, nc = (size_t)p->n_candidates * p->dim;
    float *ga0 = malloc(sizeof(float) * na), *gc0 = malloc(sizeof(float) * nc);
    float *ga = malloc(sizeof(float) * na), *gc = malloc(sizeof(float) * nc);
    cfg.block_rows = p->batch; /* one block: the whole matrix at once */
    double whole = run_loss(&cfg, p, ga0, gc0);
    double want = reference_loss(&cfg, p->anchors64, p->candidates64, p->batch, p->negatives,
                                 p->dim);
    assert_true(fabs(whole - want) <= 1e-5 * fmax(1.0, fabs(want)));
    double *ga0_64 = malloc(sizeof(double) * na), *gc0_64 = malloc(sizeof(double) * nc);
    for (size_t i = 0; i < na; i++)
        ga0_64[i] = ga0[i];
    for (size_t i = 0; i < nc; i++)
        gc0_64[i] = gc0[i];
    for (int b = 0; b < n_blocks; b++) {
        cfg.block_rows = blocks[b];
        double loss = run_loss(&cfg, p, ga, gc);
        if (fabs(loss - whole) > 1e-6 * fmax(1.0, fabs(whole)))
            fail_msg("%s, %d-row blocks: loss %.15g, one block %.15g", describe(&cfg, p),
                     blocks[b], loss, whole);
        double ea = relative_error(ga, ga0_64, na), ec = relative_error(gc, gc0_64, nc);
        if (ea > 1e-5 || ec > 1e-5)
            fail_msg("%s, %d-row blocks: gradients differ from one block by %.3g, %.3g",
                     describe(&cfg, p), blocks[b], ea, ec);
    }
    free(ga0);
    free(gc0);
    free(ga);
    free(gc);
    free(ga0_64);
    free(gc0_64);
}

static void test_row_blocks_match_one_block(void **state)
{
    /* block sizes that divide the batch and that leave a short last block; 0 is automatic */
    static const int small_blocks[] = {1, 2, 5, 7, 0}, large_blocks[] = {9, 64};
    problem small = make_problem(12, 3, 33, 4242);
    problem large = make_problem(200, 1, 16, 4243);
    for (int sim = 0; sim < 2; sim++)
        for (int sym = 0; sym < 2; sym++) {
            mnrl_config cfg = {.similarity = sim ? SIMILARITY_DOT : SIMILARITY_COSINE,
                               .scale = sim ? 1.0f : 20.0f, .symmetric = sym};
            compare_block_sizes(&small, cfg, small_blocks, 5);
            compare_block_sizes(&large, cfg, large_blocks, 2);
        }
    free_problem(&small);
    free_problem(&large);
}

/* ---- argument errors ---- */

static void test_bad_arguments(void **state)
{
    const float x[8] = {1, 2, 3, 4, 5, 6, 7, 8};
    float g[8];
    double loss;
    semb_error err = {0};
    mnrl_config cfg = {.similarity = SIMILARITY_COSINE, .scale = 20.0f};
    assert_int_equal(mnrl_loss(&cfg, x, x, 0, 0, 2, &loss, NULL, NULL, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "batch"));
    assert_int_equal(mnrl_loss(&cfg, x, x, 2, -1, 2, &loss, NULL, NULL, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(mnrl_loss(&cfg, x, x, 2, 0, 2, &loss, g, NULL, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "both gradient buffers"));
    assert_int_equal(mnrl_loss(&cfg, x, x, 1 << 20, 1 << 12, 2, &loss, NULL, NULL, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "too many"));
    cfg.scale = INFINITY;
    assert_int_equal(mnrl_loss(&cfg, x, x, 2, 0, 2, &loss, NULL, NULL, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "scale"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_loss_matches_reference),
        cmocka_unit_test(test_scores_match_reference),
        cmocka_unit_test(test_gradients_match_finite_differences),
        cmocka_unit_test(test_hand_computed_dot),
        cmocka_unit_test(test_hand_computed_cosine),
        cmocka_unit_test(test_row_blocks_match_one_block),
        cmocka_unit_test(test_bad_arguments),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
