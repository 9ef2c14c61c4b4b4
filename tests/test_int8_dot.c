/* The int8 x float dot kernel (src/index/int8_dot.c): the scalar reference and the AVX2 path
 * (when this CPU has it), each against a double-precision dequantize-then-dot on odd sizes
 * (dimensions not a multiple of 8, row counts not a multiple of the kernel's row tile, every
 * group size), within the documented float-rounding bound (so within twice it of each
 * other); scores written only where asked (ld > n), and the dispatcher equal to the best
 * path. Codes are allocated to the exact byte so that the sanitizer build catches any read
 * past the last row. */
#include "support.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "index/int8_dot.h"

static uint64_t rng_state = 0x9E3779B97F4A7C15ull;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static float uniform(float lo, float hi)
{
    return lo + (hi - lo) * (float)((double)(next_random() >> 11) / 9007199254740992.0);
}

typedef struct problem {
    int dim, nq;
    size_t n;
    int8_t *codes;                 /* exactly n * dim */
    float *starts, *steps, *offsets, *queries;
} problem;

static problem make_problem(size_t n, int dim, int nq)
{
    problem p = {.dim = dim, .nq = nq, .n = n};
    p.codes = malloc(n * (size_t)dim);
    p.starts = calloc((size_t)dim, sizeof(float));
    p.steps = calloc((size_t)dim, sizeof(float));
    p.offsets = malloc((size_t)dim * sizeof(float));
    p.queries = malloc((size_t)nq * (size_t)dim * sizeof(float));
    for (size_t i = 0; i < n * (size_t)dim; i++) /* the extremes -128 and 127 included */
        p.codes[i] = i % 11 == 0 ? (int8_t)(i % 2 ? 127 : -128) : (int8_t)next_random();
    for (int d = 0; d < dim; d++) {
        float lo = uniform(-0.4f, 0.1f), hi = lo + uniform(0.0f, 0.5f);
        p.starts[d] = lo;
        p.steps[d] = d % 17 == 3 ? 0.0f : (hi - lo) / 255.0f; /* a constant dimension too */
    }
    int8_dot_offsets(p.starts, p.steps, dim, p.offsets);
    for (int i = 0; i < nq * dim; i++)
        p.queries[i] = uniform(-1, 1);
    return p;
}

static void free_problem(problem *p)
{
    free(p->codes);
    free(p->starts);
    free(p->steps);
    free(p->offsets);
    free(p->queries);
}

/* The exact dequantized value (quantize.h's bucket midpoint) in double, and the magnitude
 * its float evaluation is rounded against. */
static double midpoint(const problem *p, size_t r, int d, double *magnitude)
{
    double c = p->codes[r * (size_t)p->dim + (size_t)d];
    *magnitude = fabs((double)p->offsets[d]) + fabs(p->steps[d] * c);
    return p->starts[d] + (c + 128.5) * p->steps[d];
}

/* Fails unless scores / norms are within the header's bound of the double reference. */
static void check_exact(const problem *p, const float *scores, size_t ld, const float *norms,
                        const char *path)
{
    const double eps = ldexp(1.0, -24);
    for (size_t r = 0; r < p->n; r++) {
        double norm = 0, norm_mag = 0;
        for (int g = 0; g < p->nq; g++) {
            double dot = 0, mag = 0;
            for (int d = 0; d < p->dim; d++) {
                double m, x = midpoint(p, r, d, &m), q = p->queries[g * p->dim + d];
                dot += q * x;
                mag += fabs(q) * m;
                if (g == 0) {
                    norm += x * x;
                    norm_mag += m * m;
                }
            }
            double bound = (p->dim + 4) * eps * mag;
            float got = scores[(size_t)g * ld + r];
            if (!(fabs(got - dot) <= bound))
                fail_msg("%s dim %d n %zu nq %d: row %zu query %d: %.9g, exact %.9g (bound %.3g)",
                         path, p->dim, p->n, p->nq, r, g, got, dot, bound);
        }
        double bound = (p->dim + 4) * eps * 2 * norm_mag;
        if (norms && !(fabs(norms[r] - norm) <= bound))
            fail_msg("%s dim %d n %zu: row %zu norm %.9g, exact %.9g", path, p->dim, p->n, r,
                     norms[r], norm);
    }
}

/* Runs one path with ld = n + 3: the three columns after each query's row stay untouched. */
static void run_path(kernel_path path, const problem *p, bool norms, float *scores,
                     float *squared_norms)
{
    size_t ld = p->n + 3;
    for (size_t i = 0; i < (size_t)p->nq * ld; i++)
        scores[i] = -12345.0f;
    int8_dot_rows_using(path, p->codes, p->n, p->dim, p->offsets, p->steps, p->queries, p->nq,
                        scores, ld, norms ? squared_norms : NULL);
    for (int g = 0; g < p->nq; g++)
        for (size_t i = p->n; i < ld; i++)
            assert_true(scores[(size_t)g * ld + i] == -12345.0f);
    check_exact(p, scores, ld, norms ? squared_norms : NULL, kernel_path_name(path));
}

static void test_paths_match_exact_on_odd_sizes(void **state)
{
    const int dims[] = {1, 5, 8, 13, 31, 33, 64, 384, 389};
    const size_t ns[] = {1, 2, 3, 5, 7, 10};
    bool avx2 = kernel_path_supported(KERNEL_PATH_AVX2);
    if (!avx2)
        print_message("no AVX2 on this CPU: only the scalar reference is checked\n");
    for (size_t di = 0; di < sizeof dims / sizeof *dims; di++)
        for (size_t ni = 0; ni < sizeof ns / sizeof *ns; ni++)
            for (int nq = 1; nq <= INT8_DOT_MAX_QUERIES; nq++)
                for (int norms = 0; norms <= 1; norms++) {
                    problem p = make_problem(ns[ni], dims[di], nq);
                    size_t size = (size_t)nq * (ns[ni] + 3);
                    float *ref = malloc(size * sizeof *ref), *fast = malloc(size * sizeof *fast);
                    float *ref_norms = malloc(p.n * sizeof(float));
                    float *fast_norms = malloc(p.n * sizeof(float));
                    run_path(KERNEL_PATH_GENERIC, &p, norms, ref, ref_norms);
                    /* both within the bound of the exact value: within twice it of
                     * each other */
                    if (avx2)
                        run_path(KERNEL_PATH_AVX2, &p, norms, fast, fast_norms);
                    free(ref);
                    free(fast);
                    free(ref_norms);
                    free(fast_norms);
                    free_problem(&p);
                }
}

static void test_dispatch_is_best_path(void **state)
{
    problem p = make_problem(9, 45, 3);
    float a[27], b[27], na[9], nb[9];
    int8_dot_rows(p.codes, p.n, p.dim, p.offsets, p.steps, p.queries, p.nq, a, 9, na);
    int8_dot_rows_using(kernel_path_best(), p.codes, p.n, p.dim, p.offsets, p.steps, p.queries,
                        p.nq, b, 9, nb);
    assert_memory_equal(a, b, sizeof a);
    assert_memory_equal(na, nb, sizeof na);
    free_problem(&p);
}

/* By hand: dim 3, starts {0, -1, 0.5}, steps {1, 0.5, 0}: code {-128, 0, 7} dequantizes to
 * {0.5, -1 + 128.5 * 0.5, 0.5} = {0.5, 63.25, 0.5}; against query {2, 0, -4}: 1 - 2 = -1;
 * |x|^2 = 0.25 + 4000.5625 + 0.25. Every value is exact in float on both paths. */
static void test_by_hand(void **state)
{
    const int8_t codes[3] = {-128, 0, 7};
    const float starts[3] = {0, -1, 0.5f}, steps[3] = {1, 0.5f, 0}, query[3] = {2, 0, -4};
    float offsets[3];
    int8_dot_offsets(starts, steps, 3, offsets);
    assert_true(offsets[0] == 128.5f && offsets[1] == 63.25f && offsets[2] == 0.5f);
    for (int path = KERNEL_PATH_GENERIC; path <= KERNEL_PATH_AVX2; path++) {
        float score = 0, norm = 0;
        int8_dot_rows_using((kernel_path)path, codes, 1, 3, offsets, steps, query, 1, &score, 1,
                            &norm);
        assert_true(score == -1.0f);
        assert_true(norm == 4001.0625f);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_by_hand),
        cmocka_unit_test(test_paths_match_exact_on_odd_sizes),
        cmocka_unit_test(test_dispatch_is_best_path),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
