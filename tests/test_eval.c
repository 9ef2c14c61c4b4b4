/* Evaluation: correlations and ranks against hand-computed values (ties, degenerate columns),
 * the STS TSV reader's errors, retrieval metrics with tied scores, the pairs reader, the TF-IDF
 * baseline against scikit-learn's TfidfVectorizer, and sts_evaluate / retrieval_evaluate on a
 * small random model against the same computation done by hand. Needs nothing from shared/. */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/rank_stats.h"
#include "eval/retrieval_eval.h"
#include "eval/sts_eval.h"
#include "eval/tfidf_baseline.h"

static void assert_close(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.10g, want %.10g", what, got, want);
}

static void assert_message_contains(const semb_error *err, const char *part)
{
    if (!strstr(err->message, part))
        fail_msg("error '%s' does not contain '%s'", err->message, part);
}

/* ---- correlations ---- */

static void test_pearson_by_hand(void **state)
{
    /* dx = -2 -1 0 1 2, dy = -2 0 1 0 1: sxy 6, sxx 10, syy 6, r = 6 / sqrt(60) */
    const double x[] = {1, 2, 3, 4, 5}, y[] = {2, 4, 5, 4, 5};
    assert_close(rank_stats_pearson(x, y, 5), 0.7745966692414834, 1e-12, "pearson");
    const double shifted[] = {1e9 + 1, 1e9 + 2, 1e9 + 3, 1e9 + 4, 1e9 + 5};
    assert_close(rank_stats_pearson(shifted, y, 5), 0.7745966692414834, 1e-9,
                 "pearson far from zero");
    const double down[] = {5, 4, 3, 2, 1};
    assert_close(rank_stats_pearson(x, down, 5), -1, 0, "perfect negative");
}

static void test_average_ranks(void **state)
{
    const double x[] = {10, 20, 20, 30}, y[] = {3, 1, 3, 3, 2};
    double rx[4], ry[5];
    assert_int_equal(rank_stats_average_ranks(x, 4, rx, NULL), SEMB_OK);
    const double want_x[] = {1, 2.5, 2.5, 4};
    for (int i = 0; i < 4; i++)
        assert_close(rx[i], want_x[i], 0, "ranks of 10 20 20 30");
    assert_int_equal(rank_stats_average_ranks(y, 5, ry, NULL), SEMB_OK);
    const double want_y[] = {4, 1, 4, 4, 2}; /* the three 3s share ranks 3, 4, 5 */
    for (int i = 0; i < 5; i++)
        assert_close(ry[i], want_y[i], 0, "ranks of 3 1 3 3 2");
}

static void test_spearman_with_ties(void **state)
{
    /* ranks of y = {1, 2.5, 4.5, 2.5, 4.5}; against 1..5: sxy 7, sxx 10, syy 9, so
     * rho = 7 / sqrt(90) = 0.7379, as scipy.stats.spearmanr gives. The textbook formula
     * 1 - 6 sum(d^2) / (n (n^2 - 1)), exact only without ties, would give 0.75. */
    const double x[] = {1, 2, 3, 4, 5}, y[] = {2, 4, 5, 4, 5};
    double rho;
    assert_int_equal(rank_stats_spearman(x, y, 5, &rho, NULL), SEMB_OK);
    assert_close(rho, 0.7378647873726218, 1e-12, "spearman with ties");
    /* any increasing transform of a column leaves rho unchanged */
    const double cubed[] = {8, 64, 125, 64, 125};
    double rho_cubed;
    assert_int_equal(rank_stats_spearman(x, cubed, 5, &rho_cubed, NULL), SEMB_OK);
    assert_close(rho_cubed, rho, 1e-15, "spearman of a monotone transform");
}

static void test_degenerate_correlations(void **state)
{
    const double x[] = {1, 2, 3}, constant[] = {4, 4, 4}, with_nan[] = {1, NAN, 3};
    double rho = 0;
    assert_true(isnan(rank_stats_pearson(x, constant, 3)));
    assert_int_equal(rank_stats_spearman(x, constant, 3, &rho, NULL), SEMB_OK);
    assert_true(isnan(rho));
    assert_true(isnan(rank_stats_pearson(x, x, 1)));
    assert_true(isnan(rank_stats_pearson(x, x, 0)));
    assert_int_equal(rank_stats_spearman(x, x, 1, &rho, NULL), SEMB_OK);
    assert_true(isnan(rho));
    assert_true(isnan(rank_stats_pearson(x, with_nan, 3)));
    assert_int_equal(rank_stats_spearman(with_nan, x, 3, &rho, NULL), SEMB_OK);
    assert_true(isnan(rho));

    /* sts_score: fewer than 2 pairs is an error; a constant column a NaN result */
    sts_result r;
    semb_error err = {0};
    assert_int_equal(sts_score(x, x, 1, &r, &err), SEMB_ERR_INPUT);
    assert_message_contains(&err, "at least 2");
    assert_int_equal(sts_score(constant, x, 3, &r, &err), SEMB_OK);
    assert_true(isnan(r.spearman) && isnan(r.pearson));
    assert_int_equal(r.n, 3);
    const double y[] = {2, 4, 5, 4, 5}, z[] = {1, 2, 3, 4, 5};
    assert_int_equal(sts_score(z, y, 5, &r, &err), SEMB_OK);
    assert_close(r.spearman, 73.78647873726218, 1e-10, "sts_score spearman x100");
    assert_close(r.pearson, 77.45966692414834, 1e-10, "sts_score pearson x100");
}

/* ---- the STS TSV reader ---- */

typedef struct temp_files {
    char *dir;
    char path[4096];
} temp_files;

static int setup_temp(void **state)
{
    temp_files *t = calloc(1, sizeof *t);
    t->dir = test_make_temp_dir();
    *state = t;
    return 0;
}

static int teardown_temp(void **state)
{
    temp_files *t = *state;
    test_rmtree(t->dir);
    free(t->dir);
    free(t);
    return 0;
}

/* Writes bytes (length given, so NUL bytes can be part of them) to dir/name. */
static const char *write_file(temp_files *t, const char *name, const char *bytes, size_t length)
{
    snprintf(t->path, sizeof t->path, "%s/%s", t->dir, name);
    FILE *f = fopen(t->path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(bytes, 1, length, f), length);
    fclose(f);
    return t->path;
}

static const char *write_text(temp_files *t, const char *name, const char *text)
{
    return write_file(t, name, text, strlen(text));
}

static void test_sts_read_good_file(void **state)
{
    temp_files *t = *state;
    /* a BOM, CRLF line ends, columns in another order plus an extra one, a blank line,
     * quotes that are ordinary characters, an empty sentence */
    const char *path = write_text(t, "good.tsv",
                                  "\xEF\xBB\xBFsentence2\tid\tscore\tsentence1\r\n"
                                  "B one\t7\t4.5\tA one\r\n"
                                  "\r\n"
                                  "\"B two\t8\t0\t\"A\" two\"\r\n"
                                  "\t9\t-1e0\tA three\n");
    sts_dataset d;
    semb_error err = {0};
    assert_int_equal(sts_dataset_read(path, &d, &err), SEMB_OK);
    assert_int_equal(d.count, 3);
    assert_string_equal(d.sentence1[0], "A one");
    assert_string_equal(d.sentence2[0], "B one");
    assert_string_equal(d.sentence1[1], "\"A\" two\"");
    assert_string_equal(d.sentence2[1], "\"B two");
    assert_string_equal(d.sentence2[2], "");
    assert_int_equal(d.length1[1], 8);
    assert_int_equal(d.length2[2], 0);
    assert_close(d.scores[0], 4.5, 0, "score 0");
    assert_close(d.scores[2], -1, 0, "score 2");
    assert_int_equal(d.line_numbers[0], 2);
    assert_int_equal(d.line_numbers[1], 4);
    assert_int_equal(d.line_numbers[2], 5);
    sts_dataset_free(&d);
}

/* Reading text as name must fail with status and a message naming "name:<where>". */
static void expect_read_error(temp_files *t, const char *name, const char *bytes, size_t length,
                              semb_status status, const char *where, const char *detail)
{
    const char *path = write_file(t, name, bytes, length);
    sts_dataset d;
    semb_error err = {0};
    assert_int_equal(sts_dataset_read(path, &d, &err), status);
    char located[4200];
    snprintf(located, sizeof located, "%s%s", path, where);
    assert_message_contains(&err, located);
    assert_message_contains(&err, detail);
    assert_null(d.sentence1);
    assert_int_equal(d.count, 0);
}

#define BAD(t, name, text, where, detail) \
    expect_read_error(t, name, text, strlen(text), SEMB_ERR_FORMAT, where, detail)

static void test_sts_read_errors(void **state)
{
    temp_files *t = *state;
    const char *header = "score\tsentence1\tsentence2\n";
    char text[512];
    BAD(t, "empty.tsv", "", ": empty file", "header");
    BAD(t, "newline.tsv", "\n", ": empty file", "header");
    BAD(t, "header_only.tsv", header, ": no sentence pairs", "header");
    BAD(t, "no_header.tsv", "4.0\tA\tB\n", ":1: the header has no 'score' column", "sentence1");
    BAD(t, "half_header.tsv", "score\tsentence1\n1\tA\n", ":1:", "no 'sentence2' column");
    snprintf(text, sizeof text, "%s1\tA\tB\n2\tonly two\n", header);
    BAD(t, "missing.tsv", text, ":3: expected 3 tab-separated fields", "found 2");
    snprintf(text, sizeof text, "%s1\tA\tB\tC\n", header);
    BAD(t, "extra.tsv", text, ":2: expected 3", "found 4");
    snprintf(text, sizeof text, "%s1\tA\tB\nabc\tA\tB\n", header);
    BAD(t, "word.tsv", text, ":3: score 'abc'", "not a number");
    snprintf(text, sizeof text, "%s4.0x\tA\tB\n", header);
    BAD(t, "suffix.tsv", text, ":2: score '4.0x'", "not a number");
    snprintf(text, sizeof text, "%s\tA\tB\n", header);
    BAD(t, "blank_score.tsv", text, ":2: score ''", "not a number");
    snprintf(text, sizeof text, "%snan\tA\tB\n", header);
    BAD(t, "nan.tsv", text, ":2: score 'nan'", "not a finite number");
    snprintf(text, sizeof text, "%s1\tA\tB\xff\n", header);
    BAD(t, "utf8.tsv", text, ":2: sentence2", "invalid UTF-8 at byte 2");
    static const char nul[] = "score\tsentence1\tsentence2\n1\tA\tB\n2\tA\0\tB\n";
    expect_read_error(t, "nul.tsv", nul, sizeof nul - 1, SEMB_ERR_FORMAT, ":3:", "NUL");

    sts_dataset d;
    semb_error err = {0};
    snprintf(t->path, sizeof t->path, "%s/absent.tsv", t->dir);
    assert_int_equal(sts_dataset_read(t->path, &d, &err), SEMB_ERR_IO);
    assert_message_contains(&err, "absent.tsv");
}

/* ---- retrieval metrics ---- */

#define DOCS 12

/* A hand-made dataset: two queries over DOCS documents, relevant {3} and {0, 5}. */
static retrieval_dataset two_query_dataset(void)
{
    static size_t offsets[] = {0, 1, 3}, relevant[] = {3, 0, 5};
    return (retrieval_dataset){.n_queries = 2, .n_documents = DOCS,
                               .relevant_offsets = offsets, .relevant = relevant};
}

static void offer_row(retrieval_top *top, const retrieval_dataset *ds, size_t q,
                      const float *scores, bool reverse)
{
    for (size_t k = 0; k < DOCS; k++) {
        size_t d = reverse ? DOCS - 1 - k : k;
        retrieval_top_offer(top, scores[d], d, retrieval_is_relevant(ds, q, d));
    }
}

static void test_retrieval_metrics_with_ties(void **state)
{
    retrieval_dataset ds = two_query_dataset();
    /* Query 0: its document 3 ties at 0.5 with documents 0, 1, 2; irrelevant documents go
     * first among equals, so it ranks 4th: RR 1/4, Recall@1 0, Recall@10 1,
     * NDCG 1/log2(5) = 0.4307.
     * Query 1: document 5 ranks 1st; document 0 ties at 0.1 with ten irrelevant documents
     * and falls to 12th, outside the top 10 (by index alone it would be 2nd): RR 1,
     * Recall@1 1/2, Recall@10 1/2, NDCG 1 / (1 + 1/log2(3)) = 0.6131. */
    const float scores0[DOCS] = {0.5f, 0.5f, 0.5f, 0.5f, 0.2f, 0.1f, 0, 0, 0, 0, 0, -1};
    const float scores1[DOCS] = {0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.9f,
                                 0.1f, 0.1f, 0.1f, 0.1f, 0.1f, 0.1f};
    for (int reverse = 0; reverse < 2; reverse++) {
        retrieval_top tops[2] = {{0}};
        offer_row(&tops[0], &ds, 0, scores0, reverse);
        offer_row(&tops[1], &ds, 1, scores1, reverse);
        assert_int_equal(tops[0].count, DOCS); /* a corpus smaller than RETRIEVAL_DEPTH */
        const size_t want0[DOCS] = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11};
        for (int i = 0; i < DOCS; i++)
            assert_int_equal(tops[0].document[i], want0[i]);
        assert_int_equal(tops[1].document[0], 5);
        assert_int_equal(tops[1].document[1], 1);
        retrieval_result r;
        retrieval_result_from_tops(tops, &ds, &r);
        assert_close(r.mrr_at_10, (0.25 + 1) / 2, 1e-12, "MRR@10");
        assert_close(r.recall_at[0], (0 + 0.5) / 2, 1e-12, "Recall@1");
        assert_close(r.recall_at[3], (1 + 0.5) / 2, 1e-12, "Recall@10");
        /* MAP@100: query 0 finds its one document at rank 4 (1/4); query 1 at ranks 1 and 12
         * (1/1 + 2/12) / 2 */
        assert_close(r.map_at_100, (0.25 + (1 + 2.0 / 12) / 2) / 2, 1e-12, "MAP@100");
        assert_close(r.ndcg_at_10, 0.5219118754194257, 1e-12, "NDCG@10");
        assert_int_equal(r.queries, 2);
        assert_int_equal(r.documents, DOCS);
    }
}

static void test_retrieval_constant_scores_earn_nothing(void **state)
{
    /* A collapsed model scores every document alike: with the relevant documents last among
     * equals, both queries miss the top 10 despite relevant documents at indices 0 and 3. */
    retrieval_dataset ds = two_query_dataset();
    const float zeros[DOCS] = {0};
    retrieval_top tops[2] = {{0}};
    offer_row(&tops[0], &ds, 0, zeros, false);
    offer_row(&tops[1], &ds, 1, zeros, false);
    retrieval_result r;
    retrieval_result_from_tops(tops, &ds, &r);
    assert_close(r.mrr_at_10 + r.recall_at[0] + r.recall_at[3] + r.ndcg_at_10, 0, 0, "all 0");

    /* NaN ranks as -infinity: below every finite score */
    retrieval_top top = {0};
    retrieval_top_offer(&top, NAN, 0, true);
    retrieval_top_offer(&top, -1e30f, 1, false);
    assert_int_equal(top.document[0], 1);
    assert_int_equal(top.document[1], 0);
}

/* The metrics by a full sort of every score with the documented order, written
 * independently of the top-list code. */
typedef struct ranked {
    float score;
    bool relevant;
    size_t document;
} ranked;

static int by_rank(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->score != y->score)
        return x->score > y->score ? -1 : 1;
    if (x->relevant != y->relevant)
        return x->relevant ? 1 : -1;
    return (x->document > y->document) - (x->document < y->document);
}

static void test_retrieval_embeddings_match_full_sort(void **state)
{
    /* Small integer embeddings: every dot product is exact in float whatever the summation
     * order, and ties are everywhere. More queries and documents than one tile holds. */
    enum { Q = 300, D = 1100, DIM = 5 };
    float *qe = malloc(Q * DIM * sizeof *qe), *de = malloc(D * DIM * sizeof *de);
    size_t offsets[Q + 1], *relevant = malloc(3 * Q * sizeof *relevant);
    uint64_t seed = 12345;
#define NEXT() ((seed = seed * 6364136223846793005ULL + 1442695040888963407ULL) >> 33)
    for (int i = 0; i < Q * DIM; i++)
        qe[i] = (float)((int)(NEXT() % 5) - 2);
    for (int i = 0; i < D * DIM; i++)
        de[i] = (float)((int)(NEXT() % 5) - 2);
    offsets[0] = 0;
    for (int q = 0; q < Q; q++) {
        size_t n = 1 + NEXT() % 3, first = NEXT() % (D - 3);
        for (size_t k = 0; k < n; k++)
            relevant[offsets[q] + k] = first + k * (1 + NEXT() % 2);
        offsets[q + 1] = offsets[q] + n;
    }
#undef NEXT
    retrieval_dataset ds = {.n_queries = Q, .n_documents = D, .relevant_offsets = offsets,
                            .relevant = relevant};
    retrieval_result got;
    assert_int_equal(retrieval_evaluate_embeddings(qe, de, DIM, SEMB_SIMILARITY_DOT, &ds, &got,
                                                   NULL), SEMB_OK);

    ranked *all = malloc(D * sizeof *all);
    double mrr = 0, r1 = 0, r10 = 0, ndcg = 0, map = 0;
    for (int q = 0; q < Q; q++) {
        for (int d = 0; d < D; d++) {
            float s = 0;
            for (int k = 0; k < DIM; k++)
                s += qe[q * DIM + k] * de[d * DIM + k];
            all[d] = (ranked){s, retrieval_is_relevant(&ds, (size_t)q, (size_t)d), (size_t)d};
        }
        qsort(all, D, sizeof *all, by_rank);
        double n_rel = (double)(offsets[q + 1] - offsets[q]), hits = 0, dcg = 0, ideal = 0;
        double precisions = 0, found = 0;
        for (int i = 0; i < 100; i++)
            if (all[i].relevant)
                precisions += ++found / (i + 1);
        map += precisions / n_rel;
        for (int i = 0; i < 10; i++) {
            if (all[i].relevant) {
                if (hits == 0)
                    mrr += 1.0 / (i + 1);
                hits++;
                dcg += 1 / log2(i + 2.0);
            }
            if (i < n_rel)
                ideal += 1 / log2(i + 2.0);
        }
        r1 += all[0].relevant / n_rel;
        r10 += hits / n_rel;
        ndcg += dcg / ideal;
    }
    assert_close(got.mrr_at_10, mrr / Q, 1e-12, "MRR@10");
    assert_close(got.recall_at[0], r1 / Q, 1e-12, "Recall@1");
    assert_close(got.recall_at[3], r10 / Q, 1e-12, "Recall@10");
    assert_close(got.ndcg_at_10, ndcg / Q, 1e-12, "NDCG@10");
    assert_close(got.map_at_100, map / Q, 1e-12, "MAP@100");
    assert_true(got.recall_at[3] > 0 && got.recall_at[3] < 1);
    free(all);
    free(qe);
    free(de);
    free(relevant);
}

/* ---- building retrieval datasets from pairs ---- */

static void test_retrieval_dataset_from_pairs(void **state)
{
    const char *anchors[] = {"a", "b", "a", "c", "a"};
    const char *positives[] = {"x", "y", "z", "x", "x"}; /* (a, x) twice */
    retrieval_dataset ds;
    assert_int_equal(retrieval_dataset_from_pairs(anchors, positives, 5, &ds, NULL), SEMB_OK);
    assert_int_equal(ds.n_queries, 3);
    assert_int_equal(ds.n_documents, 3);
    assert_string_equal(ds.queries[0], "a");
    assert_string_equal(ds.queries[2], "c");
    assert_string_equal(ds.documents[1], "y");
    assert_string_equal(ds.documents[2], "z");
    const size_t want_offsets[] = {0, 2, 3, 4}, want_relevant[] = {0, 2, 1, 0};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(ds.relevant_offsets[i], want_offsets[i]);
        assert_int_equal(ds.relevant[i], want_relevant[i]);
    }
    assert_true(retrieval_is_relevant(&ds, 0, 2));
    assert_false(retrieval_is_relevant(&ds, 0, 1));
    retrieval_dataset_free(&ds);
    semb_error err = {0};
    assert_int_equal(retrieval_dataset_from_pairs(anchors, positives, 0, &ds, &err),
                     SEMB_ERR_INPUT);
}

static void test_retrieval_read_pairs(void **state)
{
    temp_files *t = *state;
    const char *path = write_text(t, "pairs.jsonl",
                                  "{\"anchor\": \"q one\", \"positive\": \"d one\", \"negative\": "
                                  "\"n\"}\r\n\n[\"q two\", \"d two\", \"n\"]\n"
                                  "{\"positive\": \"d one\", \"anchor\": \"q two\"}\n");
    retrieval_dataset ds;
    semb_error err = {0};
    assert_int_equal(retrieval_dataset_read_pairs(path, &ds, &err), SEMB_OK);
    assert_int_equal(ds.n_queries, 2);
    assert_int_equal(ds.n_documents, 2); /* negatives are not part of the corpus */
    assert_int_equal(ds.relevant_offsets[2], 3);
    assert_true(retrieval_is_relevant(&ds, 1, 0) && retrieval_is_relevant(&ds, 1, 1));
    retrieval_dataset_free(&ds);

    static const struct {
        const char *text, *where;
    } bad[] = {
        {"{\"anchor\": \"a\", \"positive\": \"b\"}\n{\"anchor\": \"a\"}\n", ":2: expected"},
        {"[\"only one\"]\n", ":1: expected"},
        {"{\"anchor\": 3, \"positive\": \"b\"}\n", ":1: expected"},
        {"{\"anchor\": \"a\\u0000b\", \"positive\": \"b\"}\n", ":1: not JSON"},
        {"\n{\"anchor\": \"a\", \"positive\": \"b\"\n", ":2: not JSON"},
        {"\n\n", ": no pairs"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        path = write_text(t, "bad.jsonl", bad[i].text);
        assert_int_equal(retrieval_dataset_read_pairs(path, &ds, &err), SEMB_ERR_FORMAT);
        char located[4200];
        snprintf(located, sizeof located, "%s%s", path, bad[i].where);
        assert_message_contains(&err, located);
        assert_null(ds.queries);
    }
    snprintf(t->path, sizeof t->path, "%s/absent.jsonl", t->dir);
    assert_int_equal(retrieval_dataset_read_pairs(t->path, &ds, &err), SEMB_ERR_IO);
}

/* ---- TF-IDF, against scikit-learn 1.2 TfidfVectorizer() on the same texts ---- */

static void test_tfidf_matches_scikit_learn(void **state)
{
    /* vocabulary_ (sorted): 14 a1 cat dog sat the x_y über ünïcode; "a", "é", "3" are
     * one-character words and dropped; idf_ = ln(5 / (1 + df)) + 1: 1.5108 for df 2
     * (cat, sat, the), 1.9163 for df 1. */
    const char *texts[] = {"the cat sat", "the dog sat", "a cat", "Ünïcode ÜBER x_y a1 é 3.14"};
    tfidf_model *m;
    assert_int_equal(tfidf_fit(texts, 4, &m, NULL), SEMB_OK);
    assert_int_equal(tfidf_vocabulary_size(m), 9);
    tfidf_vector a, b, c, none;
    assert_int_equal(tfidf_transform(m, "The cat, the CAT!", &a, NULL), SEMB_OK);
    assert_int_equal(tfidf_transform(m, "cat dog", &b, NULL), SEMB_OK);
    assert_int_equal(tfidf_transform(m, "\xc3\xbc" "ber alles", &c, NULL), SEMB_OK);
    assert_int_equal(tfidf_transform(m, "a zebra", &none, NULL), SEMB_OK);
    assert_int_equal(a.count, 2);
    assert_close(a.weights[0], 0.70710678, 1e-6, "the / cat");
    assert_int_equal(b.count, 2);
    /* cat 1.5108 and dog 1.9163, normalised: 0.6191303, 0.78528828 */
    float cat = b.terms[0] == a.terms[0] || b.terms[0] == a.terms[1] ? b.weights[0] : b.weights[1];
    assert_close(cat, 0.6191303, 1e-6, "cat in 'cat dog'");
    assert_close(tfidf_cosine(&a, &b), 0.43779123, 1e-6, "cosine");
    assert_close(tfidf_cosine(&a, &a), 1, 1e-6, "self cosine");
    assert_int_equal(c.count, 1); /* "über", matched after lowercasing "ÜBER" */
    assert_close(c.weights[0], 1, 1e-7, "unit norm");
    assert_int_equal(none.count, 0);
    assert_close(tfidf_cosine(&a, &none), 0, 0, "no known word");
    tfidf_vector_free(&a);
    tfidf_vector_free(&b);
    tfidf_vector_free(&c);
    tfidf_vector_free(&none);
    tfidf_free(m);
}

static void test_tfidf_retrieval(void **state)
{
    /* Query "red apple" shares "apple" with its positive and nothing with the others;
     * "blue sky" shares nothing with any document, so its positive (index 1) ties at 0 with
     * the other two and ranks last of three: RR 1/3. */
    const char *anchors[] = {"red apple", "blue sky", "green grass"};
    const char *positives[] = {"an apple a day", "clouds and rain", "grass is green"};
    retrieval_dataset ds;
    assert_int_equal(retrieval_dataset_from_pairs(anchors, positives, 3, &ds, NULL), SEMB_OK);
    retrieval_result r;
    assert_int_equal(tfidf_retrieval_evaluate(&ds, &r, NULL), SEMB_OK);
    assert_close(r.mrr_at_10, (1 + 1.0 / 3 + 1) / 3, 1e-12, "MRR@10");
    assert_close(r.recall_at[0], 2.0 / 3, 1e-12, "Recall@1");
    assert_close(r.recall_at[3], 1, 1e-12, "Recall@10");
    assert_close(r.ndcg_at_10, (1 + 0.5 + 1) / 3, 1e-12, "NDCG@10");
    retrieval_dataset_free(&ds);
}

/* ---- sts_evaluate and retrieval_evaluate on a small random model ---- */

static semb_model *tiny_model(temp_files *t)
{
    const char *vocab = write_text(t, "vocab.txt",
                                   "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\na\nman\nwoman\nis\nplaying"
                                   "\nguitar\nflute\ncooking\nthe\ndog\nruns\n.\n");
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/model", t->dir);
    semb_init_options o = semb_init_options_default();
    o.hidden_size = 16;
    o.num_layers = 1;
    o.num_heads = 2;
    o.intermediate_size = 32;
    o.vocab_path = vocab;
    o.normalize = 0;
    o.seed = 7;
    semb_error err = {0};
    if (semb_model_init(dir, &o, &err))
        fail_msg("init: %s", err.message);
    semb_model *m = NULL;
    if (semb_model_load(dir, &m, &err))
        fail_msg("load: %s", err.message);
    return m;
}

static void test_sts_evaluate_by_hand(void **state)
{
    temp_files *t = *state;
    semb_model *m = tiny_model(t);
    int dim = semb_model_dimension(m);
    /* More pairs than one encoding chunk, so chunk boundaries are crossed; every sentence
     * distinct, so no two cosines tie and float rounding cannot reorder ranks. */
    enum { N = 4500 };
    static const char *words[] = {"a", "man", "woman", "is", "playing", "guitar", "flute",
                                  "cooking", "the", "dog", "runs", "."};
    char (*text)[64] = malloc(2 * N * sizeof *text);
    const char **s1 = malloc(N * sizeof *s1), **s2 = malloc(N * sizeof *s2);
    size_t *l1 = malloc(N * sizeof *l1), *l2 = malloc(N * sizeof *l2);
    double *gold = malloc(N * sizeof *gold), *predicted = malloc(N * sizeof *predicted);
    for (int i = 0; i < 2 * N; i++) /* i in base 12, one word per digit: distinct texts */
        snprintf(text[i], sizeof text[i], "%s %s %s %s", words[i % 12], words[i / 12 % 12],
                 words[i / 144 % 12], words[i / 1728 % 12]);
    for (int i = 0; i < N; i++) {
        s1[i] = text[2 * i];
        s2[i] = text[2 * i + 1];
        l1[i] = strlen(s1[i]);
        l2[i] = strlen(s2[i]);
    }
    /* by hand: each pair encoded on its own, cosine; the gold scores are those cosines
     * rounded to 0.001 (ties, as real gold scores have; a random model's cosines all lie
     * near 0.98), so a misaligned pair would show */
    float *e = malloc(2 * (size_t)dim * sizeof *e);
    for (int i = 0; i < N; i++) {
        const char *pair[2] = {s1[i], s2[i]};
        assert_int_equal(semb_encode(m, pair, NULL, 2, e, NULL, NULL), SEMB_OK);
        predicted[i] = test_cosine(e, e + (size_t)dim, (size_t)dim);
        gold[i] = round(predicted[i] * 1000) / 1000;
    }
    sts_result got, want;
    assert_int_equal(sts_score(predicted, gold, N, &want, NULL), SEMB_OK);
    sts_dataset d = {.sentence1 = s1, .sentence2 = s2, .length1 = l1, .length2 = l2,
                     .scores = gold, .count = N};
    semb_error err = {0};
    semb_encode_options opts = semb_encode_options_default();
    opts.batch_size = 17;
    if (sts_evaluate(m, &d, &opts, &got, &err))
        fail_msg("sts_evaluate: %s", err.message);
    assert_int_equal(got.n, N);
    assert_close(got.spearman, want.spearman, 1e-4, "spearman");
    assert_close(got.pearson, want.pearson, 1e-4, "pearson");
    assert_true(got.spearman > 90 && got.spearman < 100);
    /* the public API: the same, as fractions; a bad pair named by its 1-based position */
    semb_sts_metrics pub;
    if (semb_eval_sts(m, s1, s2, gold, N, &opts, &pub, &err))
        fail_msg("semb_eval_sts: %s", err.message);
    assert_int_equal(pub.pairs, N);
    assert_close(pub.spearman, got.spearman / 100, 1e-12, "public spearman");
    assert_close(pub.pearson, got.pearson / 100, 1e-12, "public pearson");
    assert_close(pub.spearman_by[SEMB_SIMILARITY_COSINE], pub.spearman, 1e-12, "by cosine");
    assert_close(got.spearman_by[SEMB_SIMILARITY_COSINE], got.spearman, 1e-12, "by cosine x100");
    assert_true(pub.spearman_by[SEMB_SIMILARITY_MANHATTAN] > -1);
    assert_true(pub.spearman_by[SEMB_SIMILARITY_MANHATTAN] != pub.spearman);
    const char *bad = s2[6];
    s2[6] = "\xff";
    assert_int_equal(semb_eval_sts(m, s1, s2, gold, N, NULL, &pub, &err), SEMB_ERR_INPUT);
    assert_non_null(strstr(err.message, "pair:7: sentence2:"));
    s2[6] = bad;
    assert_int_equal(semb_eval_sts(m, s1, s2, gold, 1, NULL, &pub, &err), SEMB_ERR_INPUT);

    /* retrieval_evaluate: the model path gives what its embeddings give */
    const char *anchors[] = {"a man is playing", "the woman is cooking", "a dog runs ."};
    const char *positives[] = {"the man is playing the flute", "a woman", "guitar"};
    retrieval_dataset ds;
    assert_int_equal(retrieval_dataset_from_pairs(anchors, positives, 3, &ds, NULL), SEMB_OK);
    retrieval_result r, r_by_hand;
    assert_int_equal(retrieval_evaluate(m, &ds, NULL, &r, NULL), SEMB_OK);
    float qe[3 * 64], de[3 * 64];
    semb_encode_options normalized = semb_encode_options_default();
    normalized.normalize = 1;
    assert_true(dim <= 64);
    assert_int_equal(semb_encode(m, anchors, NULL, 3, qe, &normalized, NULL), SEMB_OK);
    assert_int_equal(semb_encode(m, positives, NULL, 3, de, &normalized, NULL), SEMB_OK);
    assert_int_equal(retrieval_evaluate_embeddings(qe, de, dim, SEMB_SIMILARITY_COSINE, &ds,
                                                   &r_by_hand, NULL), SEMB_OK);
    assert_close(r.mrr_at_10, r_by_hand.mrr_at_10, 1e-12, "model MRR@10");
    assert_close(r.ndcg_at_10, r_by_hand.ndcg_at_10, 1e-12, "model NDCG@10");
    assert_close(r.recall_at[3], 1, 0, "3 documents are all in the top 10");
    retrieval_dataset_free(&ds);
    free(e);
    free(text);
    free(s1);
    free(s2);
    free(l1);
    free(l2);
    free(gold);
    free(predicted);
    semb_model_free(m);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_pearson_by_hand),
        cmocka_unit_test(test_average_ranks),
        cmocka_unit_test(test_spearman_with_ties),
        cmocka_unit_test(test_degenerate_correlations),
        cmocka_unit_test_setup_teardown(test_sts_read_good_file, setup_temp, teardown_temp),
        cmocka_unit_test_setup_teardown(test_sts_read_errors, setup_temp, teardown_temp),
        cmocka_unit_test(test_retrieval_metrics_with_ties),
        cmocka_unit_test(test_retrieval_constant_scores_earn_nothing),
        cmocka_unit_test(test_retrieval_embeddings_match_full_sort),
        cmocka_unit_test(test_retrieval_dataset_from_pairs),
        cmocka_unit_test_setup_teardown(test_retrieval_read_pairs, setup_temp, teardown_temp),
        cmocka_unit_test(test_tfidf_matches_scikit_learn),
        cmocka_unit_test(test_tfidf_retrieval),
        cmocka_unit_test_setup_teardown(test_sts_evaluate_by_hand, setup_temp, teardown_temp),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
