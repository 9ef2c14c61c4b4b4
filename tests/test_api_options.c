/* include/semb.h's conventions: each options struct's _default() holds the defaults its
 * comments document; where zeros (or NULL options) are documented to mean the defaults they
 * give the same results as _default(); the enum values files and checkpoints store keep their
 * numbers (enums only grow at the end); the storage precision names round-trip. Needs nothing
 * from shared/. */
#include "support.h"

#include <stdlib.h>
#include <string.h>

static void test_defaults_as_documented(void **state)
{
    (void)state;
    semb_encode_options e = semb_encode_options_default();
    assert_int_equal(e.batch_size, 32);
    assert_int_equal(e.normalize, 0);
    assert_null(e.prompt);
    assert_int_equal(e.precision, SEMB_COMPUTE_FP32);

    semb_rank_options r = semb_rank_options_default();
    assert_null(r.query_prompt);
    assert_null(r.document_prompt);
    assert_int_equal(r.top_k, 0);
    assert_int_equal(r.batch_size, 32);
    assert_int_equal(r.precision, SEMB_COMPUTE_FP32);

    semb_eval_options v = semb_eval_options_default();
    assert_int_equal(v.batch_size, 32);
    assert_null(v.query_prompt);
    assert_null(v.document_prompt);
    assert_int_equal(v.chunk_size, 16384);
    assert_int_equal(v.precision, SEMB_COMPUTE_FP32);

    semb_paraphrase_options p = semb_paraphrase_options_default();
    assert_int_equal(p.top_k, 100);
    assert_int_equal(p.max_pairs, 500000);
    assert_int_equal(p.query_chunk_size, 1024);
    assert_int_equal(p.corpus_chunk_size, 8192);

    semb_search_options s = semb_search_options_default();
    assert_int_equal(s.exact, 0);
    assert_int_equal(s.rescore_multiplier, 4);
    assert_null(s.query_prompt);
    assert_int_equal(s.ef, 0);

    semb_index_build_options b = semb_index_build_options_default();
    assert_int_equal(b.precision, SEMB_STORAGE_FLOAT32);
    assert_int_equal(b.batch_size, 32);
    assert_int_equal(b.chunk_size, 4096);

    semb_kmeans_options k = semb_kmeans_options_default(3);
    assert_int_equal(k.k, 3);
    assert_int_equal(k.n_init, 1);
    assert_int_equal(k.max_iter, 300);
}

static uint64_t seed = 15;

static float random_float(void)
{
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(seed >> 11) / 9007199254740992.0 * 2 - 1);
}

static void mine(const float *e, size_t n, int dim, const semb_paraphrase_options *o,
                 semb_scored_pair **pairs, size_t *count)
{
    semb_error err = {0};
    if (semb_paraphrase_mine_embeddings(e, n, dim, SEMB_SIMILARITY_COSINE, o, pairs, count, &err))
        fail_msg("%s", err.message);
}

/* Paraphrase mining takes NULL, zeros and _default() alike (the defaults keep every pair of
 * 150 sentences with 100 neighbours each; a wrong default would cut or chunk differently). */
static void test_zeros_and_null_mean_the_defaults(void **state)
{
    (void)state;
    enum { N = 150, DIM = 5 };
    float *e = malloc(N * DIM * sizeof *e);
    assert_non_null(e);
    for (size_t i = 0; i < N * DIM; i++)
        e[i] = random_float();
    semb_paraphrase_options zeros = {0}, defaults = semb_paraphrase_options_default();
    semb_scored_pair *a, *b, *c;
    size_t na, nb, nc;
    mine(e, N, DIM, NULL, &a, &na);
    mine(e, N, DIM, &zeros, &b, &nb);
    mine(e, N, DIM, &defaults, &c, &nc);
    assert_true(na > N);
    assert_int_equal(na, nb);
    assert_int_equal(na, nc);
    assert_memory_equal(a, b, na * sizeof *a);
    assert_memory_equal(a, c, na * sizeof *a);
    free(a);
    free(b);
    free(c);
    free(e);
}

/* Index files store the storage precision and the similarity as numbers, and callers may
 * keep any of these: a released value never changes its number. */
static void test_stored_enum_values_are_stable(void **state)
{
    (void)state;
    assert_int_equal(SEMB_STORAGE_FLOAT32, 0);
    assert_int_equal(SEMB_STORAGE_INT8, 1);
    assert_int_equal(SEMB_STORAGE_BINARY, 2);
    assert_int_equal(SEMB_SIMILARITY_COSINE, 0);
    assert_int_equal(SEMB_SIMILARITY_DOT, 1);
    assert_int_equal(SEMB_SIMILARITY_EUCLIDEAN, 2);
    assert_int_equal(SEMB_SIMILARITY_MANHATTAN, 3);
    assert_int_equal(SEMB_COMPUTE_FP32, 0);
    assert_int_equal(SEMB_COMPUTE_BF16, 1);
    assert_int_equal(SEMB_COMPUTE_INT8, 2);
    assert_int_equal(SEMB_OK, 0);
    assert_int_equal(SEMB_ERR_NOMEM, 6);
}

static void test_storage_precision_names(void **state)
{
    (void)state;
    const char *names[] = {"float32", "int8", "binary"};
    for (int p = SEMB_STORAGE_FLOAT32; p <= SEMB_STORAGE_BINARY; p++) {
        semb_storage_precision got = (semb_storage_precision)((p + 1) % 3);
        semb_error err = {0};
        assert_string_equal(semb_storage_precision_name((semb_storage_precision)p), names[p]);
        assert_int_equal(semb_storage_precision_from_name(names[p], &got, &err), SEMB_OK);
        assert_int_equal(got, p);
    }
    semb_storage_precision untouched = SEMB_STORAGE_INT8;
    semb_error err = {0};
    assert_int_equal(semb_storage_precision_from_name("fp32", &untouched, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(untouched, SEMB_STORAGE_INT8);
    assert_non_null(strstr(err.message, "fp32"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_defaults_as_documented),
        cmocka_unit_test(test_zeros_and_null_mean_the_defaults),
        cmocka_unit_test(test_stored_enum_values_are_stable),
        cmocka_unit_test(test_storage_precision_names),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
