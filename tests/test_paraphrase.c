/* Paraphrase mining against brute force on random embeddings (all pairs when top_k is large,
 * top_k and max_pairs cuts, chunked equal to unchunked, all four similarity functions),
 * average precision / best F1 / threshold by hand with ties, duplicate sets and their
 * transitive closure, and triplet accuracy with ties. Needs nothing from shared/. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/duplicates_data.h"
#include "eval/paraphrase_eval.h"
#include "eval/paraphrase_mining.h"
#include "eval/triplet_eval.h"
#include "model/similarity.h"

static void assert_close(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.10g, want %.10g", what, got, want);
}

static uint64_t seed = 2024;

static float random_float(void)
{
    seed = seed * 6364136223846793005ULL + 1442695040888963407ULL;
    return (float)((double)(seed >> 11) / 9007199254740992.0 * 2 - 1);
}

/* ---- brute force ---- */

/* The definition written plainly: every pair's exact score; each sentence's top_k others
 * (score descending, lower index first); their union as (i < j); the best max_pairs. */
static semb_scored_pair *brute_force(const float *e, size_t n, int dim, semb_similarity sim,
                                     size_t top_k, size_t max_pairs, size_t *count)
{
    float *prepared = malloc(n * (size_t)dim * sizeof *prepared);
    memcpy(prepared, e, n * (size_t)dim * sizeof *prepared);
    similarity_prepare(sim, prepared, n, dim);
    bool *chosen = calloc(n * n, sizeof *chosen);
    semb_scored_pair *row = malloc(n * sizeof *row);
    for (size_t i = 0; i < n; i++) {
        size_t m = 0;
        for (size_t j = 0; j < n; j++)
            if (j != i)
                row[m++] = (semb_scored_pair){
                    similarity_pair(sim, prepared + i * (size_t)dim, prepared + j * (size_t)dim,
                                    dim), i, j};
        scored_pairs_sort(row, m);
        for (size_t k = 0; k < top_k && k < m; k++) {
            size_t j = row[k].j;
            chosen[(i < j ? i : j) * n + (i < j ? j : i)] = true;
        }
    }
    semb_scored_pair *all = malloc((n * n / 2 + 1) * sizeof *all);
    *count = 0;
    for (size_t i = 0; i < n; i++)
        for (size_t j = i + 1; j < n; j++)
            if (chosen[i * n + j])
                all[(*count)++] = (semb_scored_pair){
                    similarity_pair(sim, prepared + i * (size_t)dim, prepared + j * (size_t)dim,
                                    dim), i, j};
    scored_pairs_sort(all, *count);
    if (*count > max_pairs)
        *count = max_pairs;
    free(prepared);
    free(chosen);
    free(row);
    return all;
}

static void expect_same_pairs(const semb_scored_pair *got, size_t n_got,
                              const semb_scored_pair *want, size_t n_want, const char *what)
{
    if (n_got != n_want)
        fail_msg("%s: %zu pairs, want %zu", what, n_got, n_want);
    for (size_t k = 0; k < n_want; k++)
        if (got[k].i != want[k].i || got[k].j != want[k].j ||
            fabs(got[k].score - want[k].score) > 1e-9)
            fail_msg("%s: pair %zu is (%zu, %zu, %.9f), want (%zu, %zu, %.9f)", what, k,
                     got[k].i, got[k].j, got[k].score, want[k].i, want[k].j, want[k].score);
}

static void test_mining_matches_brute_force(void **state)
{
    (void)state;
    enum { N = 157, DIM = 9 };
    float *e = malloc(N * DIM * sizeof *e);
    for (int i = 0; i < N * DIM; i++)
        e[i] = random_float();
    static const struct {
        size_t top_k, max_pairs;
    } cases[] = {{1000, 1000000}, {5, 1000000}, {1, 1000000}, {5, 40}, {100, 1}};
    for (int sim = 0; sim < 4; sim++)
        for (size_t c = 0; c < sizeof cases / sizeof cases[0]; c++) {
            size_t n_want, n_got, n_chunked;
            semb_scored_pair *want = brute_force(e, N, DIM, (semb_similarity)sim, cases[c].top_k,
                                                 cases[c].max_pairs, &n_want);
            semb_scored_pair *got, *chunked;
            semb_paraphrase_options whole = semb_paraphrase_options_default();
            whole.top_k = cases[c].top_k;
            whole.max_pairs = cases[c].max_pairs;
            semb_paraphrase_options small = whole;
            small.query_chunk_size = 7;
            small.corpus_chunk_size = 23;
            assert_int_equal(semb_paraphrase_mine_embeddings(e, N, DIM, (semb_similarity)sim,
                                                             &whole, &got, &n_got, NULL), SEMB_OK);
            assert_int_equal(semb_paraphrase_mine_embeddings(e, N, DIM, (semb_similarity)sim,
                                                             &small, &chunked, &n_chunked, NULL),
                             SEMB_OK);
            char what[96];
            snprintf(what, sizeof what, "%s top_k %zu max_pairs %zu",
                     semb_similarity_name((semb_similarity)sim), cases[c].top_k,
                     cases[c].max_pairs);
            expect_same_pairs(got, n_got, want, n_want, what);
            expect_same_pairs(chunked, n_chunked, want, n_want, what);
            if (c == 0)
                assert_int_equal(n_got, N * (N - 1) / 2); /* every pair */
            free(want);
            free(got);
            free(chunked);
        }
    free(e);
}

static void test_mining_ties_and_edges(void **state)
{
    (void)state;
    /* four identical vectors and one other: every pair of the four scores 1; top_k 1 keeps
     * for each the lowest other index: 0-1 (from 0 and 1), 0-2, 0-3; and 4's best */
    const float e[] = {1, 0, 1, 0, 1, 0, 1, 0, 0, 1};
    semb_scored_pair *pairs;
    size_t n;
    semb_paraphrase_options o = semb_paraphrase_options_default();
    o.top_k = 1;
    assert_int_equal(semb_paraphrase_mine_embeddings(e, 5, 2, SEMB_SIMILARITY_DOT, &o, &pairs,
                                                     &n, NULL), SEMB_OK);
    assert_int_equal(n, 4);
    const size_t want[4][2] = {{0, 1}, {0, 2}, {0, 3}, {0, 4}};
    for (size_t k = 0; k < 4; k++) {
        assert_int_equal(pairs[k].i, want[k][0]);
        assert_int_equal(pairs[k].j, want[k][1]);
    }
    assert_close(pairs[3].score, 0, 0, "the orthogonal pair");
    free(pairs);
    /* fewer than two sentences: no pairs, not an error */
    assert_int_equal(semb_paraphrase_mine_embeddings(e, 1, 2, SEMB_SIMILARITY_COSINE, NULL,
                                                     &pairs, &n, NULL), SEMB_OK);
    assert_int_equal(n, 0);
    free(pairs);
    semb_error err = {0};
    assert_int_equal(semb_paraphrase_mine_embeddings(e, 5, 0, SEMB_SIMILARITY_DOT, NULL, &pairs,
                                                     &n, &err), SEMB_ERR_INVALID_ARG);
}

/* ---- average precision and F1 ---- */

static void test_metrics_by_hand(void **state)
{
    (void)state;
    /* Gold: (0,1) (2,3) (4,5); mined, best first:
     *   .9 (0,1) dup   .8 (0,2) no   .8 (2,3) dup   .5 (1,2) no   .4 (4,6) no
     * The tie at .8 is given duplicate first; the walk takes the non-duplicate (0,2) first,
     * so the duplicates are at ranks 1 and 3. AP = (1/1 + 2/3) / 3 = 0.5556 (the third duplicate is never
     * found). F1 at rank 1: P 1, R 1/3, F1 0.5; at rank 3: P 2/3, R 2/3, F1 2/3: the best,
     * threshold (.8 + .5) / 2 = .65. */
    const size_t a[] = {1, 2, 5}, b[] = {0, 3, 4};
    duplicate_set gold;
    assert_int_equal(duplicate_set_build(a, b, 3, 7, false, &gold, NULL), SEMB_OK);
    semb_scored_pair mined[] = {{0.9, 0, 1}, {0.8, 2, 3}, {0.8, 0, 2}, {0.5, 1, 2}, {0.4, 4, 6}};
    semb_paraphrase_metrics m;
    assert_int_equal(paraphrase_metrics(mined, 5, &gold, &m, NULL), SEMB_OK);
    assert_close(m.average_precision, (1 + 2.0 / 3) / 3, 1e-12, "AP");
    assert_close(m.f1, 2.0 / 3, 1e-12, "F1");
    assert_close(m.precision, 2.0 / 3, 1e-12, "precision");
    assert_close(m.recall, 2.0 / 3, 1e-12, "recall");
    assert_close(m.threshold, 0.65, 1e-12, "threshold");
    assert_int_equal(m.duplicates, 3);
    assert_int_equal(m.candidates, 5);

    /* the best F1 at the last pair: the threshold is that pair's own score */
    semb_scored_pair last[] = {{0.7, 0, 2}, {0.6, 4, 5}};
    assert_int_equal(paraphrase_metrics(last, 2, &gold, &m, NULL), SEMB_OK);
    assert_close(m.f1, 2 * 0.5 * (1.0 / 3) / (0.5 + 1.0 / 3), 1e-12, "F1 at the end");
    assert_close(m.threshold, 0.6, 1e-12, "threshold at the end");
    assert_close(m.average_precision, 0.5 / 3, 1e-12, "AP at the end");

    /* nothing found: all zero */
    semb_scored_pair none[] = {{0.7, 0, 2}};
    assert_int_equal(paraphrase_metrics(none, 1, &gold, &m, NULL), SEMB_OK);
    assert_close(m.average_precision + m.f1 + m.threshold, 0, 0, "no duplicate found");
    duplicate_set_free(&gold);
}

static void test_duplicate_sets(void **state)
{
    (void)state;
    /* 0~1, 1~2 (given twice, once reversed), 4~5: closed, {0,1,2} gives 0-1 0-2 1-2 */
    const size_t a[] = {0, 1, 2, 5}, b[] = {1, 2, 1, 4};
    duplicate_set plain, closed;
    assert_int_equal(duplicate_set_build(a, b, 4, 6, false, &plain, NULL), SEMB_OK);
    assert_int_equal(plain.count, 3);
    assert_false(duplicate_set_contains(&plain, 0, 2));
    assert_true(duplicate_set_contains(&plain, 2, 1));
    assert_int_equal(duplicate_set_build(a, b, 4, 6, true, &closed, NULL), SEMB_OK);
    assert_int_equal(closed.count, 4);
    assert_true(duplicate_set_contains(&closed, 2, 0));
    assert_true(duplicate_set_contains(&closed, 4, 5));
    assert_false(duplicate_set_contains(&closed, 3, 4));
    duplicate_set_free(&plain);
    duplicate_set_free(&closed);
    semb_error err = {0};
    const size_t self[] = {3}, out_of_range[] = {6};
    assert_int_equal(duplicate_set_build(self, self, 1, 6, false, &plain, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(duplicate_set_build(self, out_of_range, 1, 6, false, &plain, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "not two distinct sentences"));
}

/* ---- triplets ---- */

static void test_triplet_accuracy_with_ties(void **state)
{
    (void)state;
    /* anchor (1, 0) throughout.
     * t0: p (2, 0), n (0, 1): right under every function.
     * t1: p (0, 3), n (0, -3): cosine 0 = 0, dot 0 = 0, euclidean and manhattan equal: a
     *     tie, wrong under every function.
     * t2: p (1, 1), n (3, 0): cosine .707 < 1 wrong; dot 1 < 3 wrong; euclidean 1 < 2
     *     (distance) right; manhattan 1 < 2 right.
     * t3: p (0.5, 0), n (10, 0.1): cosine 1 > .99995 right, dot .5 < 10 wrong, euclidean
     *     .5 < 9.0006 right, manhattan .5 < 9.1 right. */
    const float anchors[] = {1, 0, 1, 0, 1, 0, 1, 0};
    const float positives[] = {2, 0, 0, 3, 1, 1, 0.5f, 0};
    const float negatives[] = {0, 1, 0, -3, 3, 0, 10, 0.1f};
    size_t correct[4] = {0};
    triplet_count_correct(anchors, positives, negatives, 4, 2, correct);
    assert_int_equal(correct[SEMB_SIMILARITY_COSINE], 2);
    assert_int_equal(correct[SEMB_SIMILARITY_DOT], 1);
    assert_int_equal(correct[SEMB_SIMILARITY_EUCLIDEAN], 3);
    assert_int_equal(correct[SEMB_SIMILARITY_MANHATTAN], 3);
    /* a zero vector's cosine is 0: equal to the other zero, so wrong */
    const float zero[] = {0, 0};
    size_t z[4] = {0};
    triplet_count_correct(zero, anchors, positives, 1, 2, z);
    assert_int_equal(z[SEMB_SIMILARITY_COSINE], 0);
}

/* duplicates_data: sentences with ids (distractors kept) and id pairs, and each error naming
 * FILE:LINE. */
static void write_file(const char *dir, const char *name, const char *text, char *path,
                       size_t size)
{
    snprintf(path, size, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

static void expect_duplicates_error(const char *sentences, const char *pairs, const char *needle)
{
    char *dir = test_make_temp_dir();
    char s[4200], d[4200];
    write_file(dir, "s.tsv", sentences, s, sizeof s);
    write_file(dir, "d.tsv", pairs, d, sizeof d);
    duplicates_data dd;
    semb_error err = {0};
    assert_int_equal(duplicates_data_read(s, d, &dd, &err), SEMB_ERR_FORMAT);
    if (!strstr(err.message, needle))
        fail_msg("'%s' lacks '%s'", err.message, needle);
    assert_null(dd.sentences);
    test_rmtree(dir);
    free(dir);
}

static void test_duplicates_files(void **state)
{
    char *dir = test_make_temp_dir();
    char s[4200], d[4200];
    write_file(dir, "s.tsv", "q1\tHow old are you?\r\n\nq2\tWhat is your age?\nq3\tA tab\there\nq4\t\n",
               s, sizeof s);
    write_file(dir, "d.tsv", "q2\tq1\n", d, sizeof d);
    duplicates_data dd;
    semb_error err = {0};
    if (duplicates_data_read(s, d, &dd, &err))
        fail_msg("%s", err.message);
    assert_int_equal(dd.n_sentences, 4);
    assert_string_equal(dd.sentences[0], "How old are you?");
    assert_string_equal(dd.sentences[2], "A tab\there"); /* split at the first TAB only */
    assert_string_equal(dd.sentences[3], "");
    assert_int_equal(dd.n_dup, 1);
    assert_int_equal(dd.dup_a[0], 1);
    assert_int_equal(dd.dup_b[0], 0);
    duplicates_data_free(&dd);
    test_rmtree(dir);
    free(dir);

    expect_duplicates_error("q1\ta\nq1\tb\n", "q1\tq1\n", "s.tsv:2: id 'q1' given twice (first on line 1)");
    expect_duplicates_error("q1\ta\nq2\tb\n", "q1\tq3\n", "d.tsv:1: id 'q3' is not in");
    expect_duplicates_error("q1\ta\nq2\tb\n", "q1\tq1\n", "d.tsv:1: a sentence paired with itself");
    expect_duplicates_error("q1\ta\nno tab\n", "q1\tq2\n", "s.tsv:2: expected ID<TAB>SENTENCE");
    expect_duplicates_error("q1\ta\nq2\tb\n", "q1\tq2\tq3\n", "d.tsv:1: expected ID<TAB>ID");
    expect_duplicates_error("\ta\n", "q1\tq2\n", "s.tsv:1: empty id");
    expect_duplicates_error("q1\t\xff\n", "q1\tq2\n", "s.tsv:1: invalid UTF-8");
    expect_duplicates_error("q1\ta\n", "\n", "d.tsv: no entries");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mining_matches_brute_force),
        cmocka_unit_test(test_mining_ties_and_edges),
        cmocka_unit_test(test_metrics_by_hand),
        cmocka_unit_test(test_duplicate_sets),
        cmocka_unit_test(test_triplet_accuracy_with_ties),
        cmocka_unit_test(test_duplicates_files),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
