/* Retrieval evaluation: every metric of semb_retrieval_metrics on a 3-query x 6-document case
 * computed by hand (ties included), streaming in chunks against scoring at once, the BEIR
 * reader on good and bad files, and the public API's argument checks. Needs nothing from
 * shared/. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/beir_data.h"
#include "eval/retrieval_eval.h"
#include "eval/tfidf_baseline.h"

static void assert_close(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.10g, want %.10g", what, got, want);
}

static void assert_contains(const char *text, const char *part)
{
    if (!strstr(text, part))
        fail_msg("'%s' does not contain '%s'", text, part);
}

/* ---- the metrics by hand ---- */

static void test_metrics_by_hand(void **state)
{
    (void)state;
    /* q0 relevant {2}: scores .9 .5 .5 .1 0 -.2; d1 and d2 tie, the irrelevant d1 first:
     *   ranking d0 d1 d2 d3 d4 d5, the hit at rank 3.
     *   RR 1/3; NDCG (1/log2 4) / 1 = 1/2; AP (1/3) / 1; hits@1,3,5,10 = 0 1 1 1.
     * q1 relevant {0, 4}: d5 .8, all others .3; among the ties irrelevant first:
     *   ranking d5 d1 d2 d3 d0 d4, hits at ranks 5 and 6.
     *   RR 1/5; NDCG (1/log2 6 + 1/log2 7) / (1 + 1/log2 3); AP (1/5 + 2/6) / 2;
     *   hits@1,3,5,10 = 0 0 1 2.
     * q2 relevant {1, 3, 5}: d1 .9, d0 .7, d3 .7, d5 .2, d2 .1, d4 NaN (ranks last):
     *   ranking d1 d0 d3 d5 d2 d4, hits at ranks 1, 3, 4.
     *   RR 1; NDCG (1 + 1/log2 4 + 1/log2 5) / (1 + 1/log2 3 + 1/log2 4);
     *   AP (1/1 + 2/3 + 3/4) / 3; hits@1,3,5,10 = 1 2 3 3.
     * Six documents: precision@10 still divides by 10, as sentence-transformers does. */
    static size_t offsets[] = {0, 1, 3, 6}, relevant[] = {2, 0, 4, 1, 3, 5};
    retrieval_dataset ds = {.n_queries = 3, .n_documents = 6, .relevant_offsets = offsets,
                            .relevant = relevant};
    const float scores[3][6] = {{0.9f, 0.5f, 0.5f, 0.1f, 0, -0.2f},
                                {0.3f, 0.3f, 0.3f, 0.3f, 0.3f, 0.8f},
                                {0.7f, 0.9f, 0.1f, 0.7f, NAN, 0.2f}};
    retrieval_top tops[3] = {{0}};
    for (size_t q = 0; q < 3; q++)
        for (size_t k = 0; k < 6; k++) {
            size_t d = (k * 5 + q) % 6; /* an order other than the corpus's */
            retrieval_top_offer(&tops[q], scores[q][d], d, retrieval_is_relevant(&ds, q, d));
        }
    retrieval_result r;
    retrieval_result_from_tops(tops, &ds, &r);
    double ndcg1 = (1 / log2(6) + 1 / log2(7)) / (1 + 1 / log2(3));
    double ndcg2 = (1 + 0.5 + 1 / log2(5)) / (1 + 1 / log2(3) + 0.5);
    assert_close(r.mrr_at_10, (1.0 / 3 + 1.0 / 5 + 1) / 3, 1e-12, "MRR@10");
    assert_close(r.ndcg_at_10, (0.5 + ndcg1 + ndcg2) / 3, 1e-12, "NDCG@10");
    assert_close(r.map_at_100, (1.0 / 3 + (0.2 + 2.0 / 6) / 2 + (1 + 2.0 / 3 + 0.75) / 3) / 3,
                 1e-12, "MAP@100");
    const double accuracy[] = {1.0 / 3, 2.0 / 3, 1, 1};
    const double precision[] = {(0 + 0 + 1.0) / 3, (1.0 / 3 + 0 + 2.0 / 3) / 3,
                                (1.0 / 5 + 1.0 / 5 + 3.0 / 5) / 3, (0.1 + 0.2 + 0.3) / 3};
    const double recall[] = {(0 + 0 + 1.0 / 3) / 3, (1 + 0 + 2.0 / 3) / 3, (1 + 0.5 + 1.0) / 3,
                             1};
    for (int c = 0; c < SEMB_RETRIEVAL_CUTOFFS; c++) {
        assert_close(r.accuracy_at[c], accuracy[c], 1e-12, "accuracy@k");
        assert_close(r.precision_at[c], precision[c], 1e-12, "precision@k");
        assert_close(r.recall_at[c], recall[c], 1e-12, "recall@k");
    }
    assert_int_equal(semb_retrieval_cutoff(0), 1);
    assert_int_equal(semb_retrieval_cutoff(3), 10);
    assert_int_equal(semb_retrieval_cutoff(4), 0);
}

static void test_map_normalised_by_min_k_and_relevant(void **state)
{
    (void)state;
    /* 150 relevant documents, all ranked first: AP@100 = 100 / min(100, 150) = 1, and
     * recall@10 = 10 / 150. */
    enum { D = 200 };
    size_t offsets[] = {0, 150}, relevant[150];
    for (size_t i = 0; i < 150; i++)
        relevant[i] = i;
    retrieval_dataset ds = {.n_queries = 1, .n_documents = D, .relevant_offsets = offsets,
                            .relevant = relevant};
    retrieval_top top = {0};
    for (size_t d = 0; d < D; d++)
        retrieval_top_offer(&top, (float)(D - d), d, d < 150);
    retrieval_result r;
    retrieval_result_from_tops(&top, &ds, &r);
    assert_int_equal(top.count, RETRIEVAL_DEPTH);
    assert_close(r.map_at_100, 1, 1e-12, "MAP@100");
    assert_close(r.ndcg_at_10, 1, 1e-12, "NDCG@10");
    assert_close(r.recall_at[3], 10.0 / 150, 1e-12, "recall@10");
    assert_close(r.precision_at[3], 1, 1e-12, "precision@10");
}

/* ---- chunks ---- */

static void test_chunks_equal_whole(void **state)
{
    (void)state;
    /* Small integer embeddings (exact dot products, many ties): offering the corpus in
     * uneven chunks gives the same tops as offering it at once, under all four functions. */
    enum { Q = 40, D = 2600, DIM = 4 };
    float *qe = malloc(Q * DIM * sizeof *qe), *de = malloc(D * DIM * sizeof *de);
    size_t offsets[Q + 1], relevant[Q];
    uint64_t seed = 99;
#define NEXT() ((seed = seed * 6364136223846793005ULL + 1442695040888963407ULL) >> 33)
    for (int i = 0; i < Q * DIM; i++)
        qe[i] = (float)((int)(NEXT() % 5) - 2);
    for (int i = 0; i < D * DIM; i++)
        de[i] = (float)((int)(NEXT() % 5) - 2);
    for (size_t q = 0; q <= Q; q++)
        offsets[q] = q;
    for (size_t q = 0; q < Q; q++)
        relevant[q] = NEXT() % D;
#undef NEXT
    retrieval_dataset ds = {.n_queries = Q, .n_documents = D, .relevant_offsets = offsets,
                            .relevant = relevant};
    for (int sim = SEMB_SIMILARITY_DOT; sim <= SEMB_SIMILARITY_MANHATTAN; sim++) {
        retrieval_result whole, chunked;
        assert_int_equal(retrieval_evaluate_embeddings(qe, de, DIM, (semb_similarity)sim, &ds,
                                                       &whole, NULL), SEMB_OK);
        retrieval_top *tops = calloc(Q, sizeof *tops);
        const size_t cuts[] = {0, 1, 700, 1800, 1801, D};
        for (int c = 0; c + 1 < 6; c++)
            assert_int_equal(retrieval_rank_chunk(tops, &ds, qe, de + cuts[c] * DIM, cuts[c],
                                                  cuts[c + 1] - cuts[c], DIM,
                                                  (semb_similarity)sim, NULL), SEMB_OK);
        retrieval_result_from_tops(tops, &ds, &chunked);
        assert_memory_equal(&whole, &chunked, sizeof whole);
        assert_true(whole.map_at_100 > 0);
        free(tops);
    }
    free(qe);
    free(de);
}

/* ---- the BEIR reader ---- */

typedef struct temp_dir {
    char *dir;
    char path[3][4096];
    char warnings[4096];
} temp_dir;

static int setup_temp(void **state)
{
    temp_dir *t = calloc(1, sizeof *t);
    t->dir = test_make_temp_dir();
    *state = t;
    return 0;
}

static int teardown_temp(void **state)
{
    temp_dir *t = *state;
    test_rmtree(t->dir);
    free(t->dir);
    free(t);
    return 0;
}

/* Writes queries, corpus and qrels (NULL: the good ones) to t->path[0..2]. */
static void write_beir(temp_dir *t, const char *queries, const char *corpus, const char *qrels)
{
    const char *good[3] = {
        "{\"_id\": \"q1\", \"text\": \"what is a hop\"}\n"
        "{\"_id\": 2, \"text\": \"beer history\"}\n"
        "\n"
        "{\"_id\": \"q3\", \"text\": \"unjudged question\"}\n",
        "{\"_id\": \"d1\", \"title\": \" Hops \", \"text\": \"a flower used in beer \"}\n"
        "{\"_id\": \"d2\", \"title\": \"\", \"text\": \"  brewing began long ago\"}\r\n"
        "{\"_id\": \"d3\", \"text\": \"no title here\", \"title\": null}\n",
        "query-id\tcorpus-id\tscore\n"
        "q1\td1\t1\n"
        "2\td2\t2\n"
        "2\td3\t0\n"
        "q1\td9\t1\n"
        "q9\td1\t1\n"
        "q1\td1\t1\n",
    };
    const char *given[3] = {queries, corpus, qrels};
    const char *names[3] = {"queries.jsonl", "corpus.jsonl", "qrels.tsv"};
    for (int i = 0; i < 3; i++) {
        snprintf(t->path[i], sizeof t->path[i], "%s/%s", t->dir, names[i]);
        FILE *f = fopen(t->path[i], "wb");
        assert_non_null(f);
        fputs(given[i] ? given[i] : good[i], f);
        fclose(f);
    }
}

static void collect_warning(void *user, const char *message)
{
    temp_dir *t = user;
    snprintf(t->warnings + strlen(t->warnings), sizeof t->warnings - strlen(t->warnings),
             "%s\n", message);
}

static void test_beir_reads_good_files(void **state)
{
    temp_dir *t = *state;
    write_beir(t, NULL, NULL, NULL);
    retrieval_dataset ds;
    semb_error err = {0};
    if (beir_dataset_read(t->path[0], t->path[1], t->path[2], collect_warning, t, &ds, &err))
        fail_msg("%s", err.message);
    /* q3 has no judgement: left out; the integer id 2 matches "2" in the qrels */
    assert_int_equal(ds.n_queries, 2);
    assert_string_equal(ds.queries[0], "what is a hop");
    assert_string_equal(ds.queries[1], "beer history");
    assert_int_equal(ds.n_documents, 3);
    assert_string_equal(ds.documents[0], "Hops  a flower used in beer");
    assert_string_equal(ds.documents[1], "brewing began long ago");
    assert_string_equal(ds.documents[2], "no title here");
    /* q1 -> d1 (given twice, merged); 2 -> d2 (d3 has score 0: not relevant) */
    assert_int_equal(ds.relevant_offsets[1], 1);
    assert_int_equal(ds.relevant_offsets[2], 2);
    assert_true(retrieval_is_relevant(&ds, 0, 0));
    assert_true(retrieval_is_relevant(&ds, 1, 1));
    assert_false(retrieval_is_relevant(&ds, 1, 2));
    assert_contains(t->warnings, "qrels.tsv:5: unknown corpus id 'd9'; line skipped");
    assert_contains(t->warnings, "qrels.tsv:6: unknown query id 'q9'; line skipped");
    assert_contains(t->warnings, "qrels.tsv: 2 lines naming unknown ids skipped");
    assert_contains(t->warnings, "1 of 3 queries have no relevant document and are left out");
    /* the baseline runs on it: "hop" is not "hops", so q1 finds nothing; "beer" does */
    retrieval_result r;
    assert_int_equal(tfidf_retrieval_evaluate(&ds, &r, NULL), SEMB_OK);
    assert_int_equal(r.queries, 2);
    retrieval_dataset_free(&ds);
}

static void expect_beir_error(temp_dir *t, const char *queries, const char *corpus,
                              const char *qrels, int file, const char *where)
{
    write_beir(t, queries, corpus, qrels);
    retrieval_dataset ds;
    semb_error err = {0};
    semb_status st = beir_dataset_read(t->path[0], t->path[1], t->path[2], NULL, NULL, &ds, &err);
    if (st != SEMB_ERR_FORMAT)
        fail_msg("expected a format error naming '%s', got %d: %s", where, st, err.message);
    char located[4200];
    snprintf(located, sizeof located, "%s%s", t->path[file], where);
    assert_contains(err.message, located);
    assert_null(ds.queries);
    assert_null(ds.documents);
}

static void test_beir_bad_input(void **state)
{
    temp_dir *t = *state;
    const char *q = "{\"_id\": \"q1\", \"text\": \"x\"}\n";
    const char *d = "{\"_id\": \"d1\", \"text\": \"y\"}\n";
    const char *rel = "query-id\tcorpus-id\tscore\nq1\td1\t1\n";
    expect_beir_error(t, q, "{\"text\": \"y\"}\n", rel, 1, ":1: \"_id\" missing");
    expect_beir_error(t, q, "{\"_id\": [1], \"text\": \"y\"}\n", rel, 1, ":1: \"_id\" missing");
    expect_beir_error(t, "{\"_id\": \"q1\"}\n", d, rel, 0, ":1: \"text\" missing");
    expect_beir_error(t, q, "{\"_id\": \"d1\", \"title\": 3, \"text\": \"y\"}\n", rel, 1,
                      ":1: \"title\" is not a string");
    expect_beir_error(t, q, "", rel, 1, ": no documents");
    expect_beir_error(t, "\n\n", d, rel, 0, ": no queries");
    expect_beir_error(t, q, "[\"d1\", \"y\"]\n", rel, 1, ":1: expected a JSON object");
    expect_beir_error(t, q, "{\"_id\": \"d1\", \"text\": \"y\"\n", rel, 1, ":1: not JSON");
    expect_beir_error(t, q, "{\"_id\": \"d1\", \"text\": \"y\"}\n{\"_id\": \"d1\", \"text\": \"z\"}\n",
                      rel, 1, ":2: duplicate _id 'd1' (first on line 1)");
    expect_beir_error(t, "{\"_id\": \"q1\", \"text\": \"x\"}\n{\"_id\": \"q1\", \"text\": \"x\"}\n",
                      d, rel, 0, ":2: duplicate _id 'q1'");
    expect_beir_error(t, q, d, "query-id\tcorpus-id\tscore\nq1\td1\n", 2, ":2: expected 3");
    expect_beir_error(t, q, d, "query-id\tcorpus-id\tscore\nq1\td1\t1\textra\n", 2,
                      ":2: expected 3");
    expect_beir_error(t, q, d, "query-id\tcorpus-id\tscore\nq1\td1\thigh\n", 2,
                      ":2: score 'high' is not a number");
    expect_beir_error(t, q, d, "query-id\tcorpus-id\tscore\nq1\td1\t0\n", 2,
                      ": no query has a relevant document");
    expect_beir_error(t, q, d, "query-id\tcorpus-id\tscore\nq7\td1\t1\n", 2,
                      ": no query has a relevant document");
    expect_beir_error(t, q, d, "", 2, ": no query has a relevant document");
    /* a missing file is an I/O error naming it */
    write_beir(t, NULL, NULL, NULL);
    retrieval_dataset ds;
    semb_error err = {0};
    assert_int_equal(beir_dataset_read(t->path[0], "/nonexistent/corpus.jsonl", t->path[2], NULL,
                                       NULL, &ds, &err), SEMB_ERR_IO);
    assert_contains(err.message, "/nonexistent/corpus.jsonl: cannot open");
}

/* ---- the public API ---- */

static void test_public_api_checks_relevance(void **state)
{
    temp_dir *t = *state;
    (void)t;
    semb_model *m = NULL;
    semb_error err = {0};
    const char *queries[] = {"q"}, *documents[] = {"a", "b"};
    size_t offsets[] = {0, 2}, unsorted[] = {1, 0}, empty_offsets[] = {0, 0};
    semb_retrieval_metrics out;
    assert_int_equal(semb_eval_retrieval(m, queries, 1, documents, 2, offsets, unsorted, NULL,
                                         &out, &err), SEMB_ERR_INVALID_ARG);
    /* with a model: the relevance lists are checked before any encoding */
    m = (semb_model *)1; /* never dereferenced: the checks fail first */
    assert_int_equal(semb_eval_retrieval(m, queries, 1, documents, 2, offsets, unsorted, NULL,
                                         &out, &err), SEMB_ERR_INVALID_ARG);
    assert_contains(err.message, "ascending distinct");
    assert_int_equal(semb_eval_retrieval(m, queries, 1, documents, 2, empty_offsets, unsorted,
                                         NULL, &out, &err), SEMB_ERR_INVALID_ARG);
    assert_contains(err.message, "query 0 has no relevant document");
    assert_int_equal(semb_eval_retrieval(m, queries, 1, documents, 0, offsets, unsorted, NULL,
                                         &out, &err), SEMB_ERR_INVALID_ARG);
    assert_contains(err.message, "0 documents");
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_metrics_by_hand),
        cmocka_unit_test(test_map_normalised_by_min_k_and_relevant),
        cmocka_unit_test(test_chunks_equal_whole),
        cmocka_unit_test_setup_teardown(test_beir_reads_good_files, setup_temp, teardown_temp),
        cmocka_unit_test_setup_teardown(test_beir_bad_input, setup_temp, teardown_temp),
        cmocka_unit_test_setup_teardown(test_public_api_checks_relevance, setup_temp,
                                        teardown_temp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
