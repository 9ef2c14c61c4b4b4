/* src/index/similarity: the blocked score matrix against the double-precision pair scores
 * for all four similarity functions, on odd shapes, plus hand-computed values. */
#include "support.h"

#include <math.h>
#include <stdlib.h>

#include "model/similarity.h"

static float uniform(unsigned *s)
{
    *s = *s * 1664525u + 1013904223u;
    return (float)((*s >> 8) / 16777216.0) * 2.0f - 1.0f;
}

static void test_matrix_matches_pairs(void **state)
{
    static const int shapes[][3] = {{1, 1, 1}, {3, 5, 7}, {17, 33, 13}, {64, 129, 384}};
    unsigned seed = 7;
    for (size_t s = 0; s < sizeof shapes / sizeof shapes[0]; s++) {
        int na = shapes[s][0], nb = shapes[s][1], dim = shapes[s][2];
        float *a = malloc(sizeof(float) * na * dim), *b = malloc(sizeof(float) * nb * dim);
        float *out = malloc(sizeof(float) * na * nb);
        for (int sim = 0; sim < 4; sim++) {
            for (int i = 0; i < na * dim; i++)
                a[i] = uniform(&seed);
            for (int i = 0; i < nb * dim; i++)
                b[i] = uniform(&seed);
            similarity_prepare((semb_similarity)sim, a, (size_t)na, dim);
            similarity_prepare((semb_similarity)sim, b, (size_t)nb, dim);
            similarity_matrix((semb_similarity)sim, a, (size_t)na, b, (size_t)nb, dim, out);
            for (int i = 0; i < na; i++)
                for (int j = 0; j < nb; j++) {
                    double want = similarity_pair((semb_similarity)sim, a + i * dim,
                                                  b + j * dim, dim);
                    double got = out[i * nb + j];
                    if (fabs(got - want) > 1e-4 * (1 + fabs(want)))
                        fail_msg("sim %d shape %zu (%d,%d): %g vs %g", sim, s, i, j, got, want);
                }
        }
        free(a);
        free(b);
        free(out);
    }
}

static void test_hand_values(void **state)
{
    float a[] = {3, 4, 0}, b[] = {0, 4, 3}, zero[] = {0, 0, 0};
    assert_float_equal(similarity_pair(SEMB_SIMILARITY_DOT, a, b, 3), 16, 0);
    assert_float_equal(similarity_pair(SEMB_SIMILARITY_EUCLIDEAN, a, b, 3), -sqrt(18), 1e-12);
    assert_float_equal(similarity_pair(SEMB_SIMILARITY_MANHATTAN, a, b, 3), -6, 0);
    similarity_prepare(SEMB_SIMILARITY_COSINE, a, 1, 3);
    similarity_prepare(SEMB_SIMILARITY_COSINE, b, 1, 3);
    similarity_prepare(SEMB_SIMILARITY_COSINE, zero, 1, 3);
    assert_float_equal(similarity_pair(SEMB_SIMILARITY_COSINE, a, b, 3), 0.64, 1e-7);
    assert_float_equal(zero[0] + zero[1] + zero[2], 0, 0);
    float out[2];
    similarity_matrix(SEMB_SIMILARITY_COSINE, a, 1, (float[]){0.6f, 0.8f, 0, 0, 0, 0}, 2, 3,
                      out);
    assert_float_equal(out[0], 1.0, 1e-6);
    assert_float_equal(out[1], 0.0, 0);
    /* identical rows: euclidean exactly 0, never NaN from a rounding-negative d^2 */
    float c[] = {0.1f, 0.2f, 0.3f};
    similarity_matrix(SEMB_SIMILARITY_EUCLIDEAN, c, 1, c, 1, 3, out);
    assert_false(isnan(out[0]));
    assert_true(fabs(out[0]) < 1e-3);
}

/* The public semb_similarity_scores: inputs untouched, cosine of raw rows, errors. */
static void test_public_scores(void **state)
{
    float a[] = {3, 4, 0, 0, 0, 0}, b[] = {0, 4, 3}, out[2];
    semb_error err = {0};
    assert_int_equal(semb_similarity_scores(SEMB_SIMILARITY_COSINE, a, 2, b, 1, 3, out, &err), 0);
    assert_float_equal(out[0], 0.64, 1e-6);
    assert_float_equal(out[1], 0, 0);
    assert_float_equal(a[0], 3, 0); /* not normalised in place */
    assert_int_equal(semb_similarity_scores(SEMB_SIMILARITY_DOT, a, 1, b, 1, 3, out, &err), 0);
    assert_float_equal(out[0], 16, 1e-6);
    assert_int_equal(semb_similarity_scores(SEMB_SIMILARITY_MANHATTAN, a, 1, b, 1, 3, out, &err), 0);
    assert_float_equal(out[0], -6, 1e-6);
    assert_int_equal(semb_similarity_scores(SEMB_SIMILARITY_DOT, a, 1, b, 1, 0, out, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(semb_similarity_scores((semb_similarity)9, a, 1, b, 1, 3, out, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(semb_similarity_scores(SEMB_SIMILARITY_DOT, NULL, 1, b, 1, 3, out, &err),
                     SEMB_ERR_INVALID_ARG);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_matrix_matches_pairs),
        cmocka_unit_test(test_hand_values),
        cmocka_unit_test(test_public_scores),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
