/* Ranking candidates for a query: the ordering on hand-made scores (ties by input order, NaN
 * last), the prompt each side gets from config_sentence_transformers.json, and semb_rank on the
 * bert-tiny-mean fixture against scores computed here from semb_encode of the prompted texts. */
#include "support.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/candidate_rank.h"

/* ---- ordering ---- */

static void test_order_ties_by_input_order(void **state)
{
    const float scores[] = {0.5f, 0.9f, 0.5f, NAN, 0.9f, -1.0f, 0.5f};
    rank_entry work[7];
    size_t indices[7];
    float out[7];
    rank_order(scores, 7, 7, work, indices, out);
    const size_t want[] = {1, 4, 0, 2, 6, 5, 3};
    for (int r = 0; r < 7; r++)
        assert_int_equal(indices[r], want[r]);
    assert_true(out[0] == 0.9f && out[2] == 0.5f && out[5] == -1.0f && isnan(out[6]));
    rank_order(scores, 7, 3, work, indices, out);
    assert_int_equal(indices[0], 1);
    assert_int_equal(indices[1], 4);
    assert_int_equal(indices[2], 0);
}

static void test_order_all_equal(void **state)
{
    const float scores[] = {0.25f, 0.25f, 0.25f, 0.25f};
    rank_entry work[4];
    size_t indices[4];
    float out[4];
    rank_order(scores, 4, 4, work, indices, out);
    for (size_t r = 0; r < 4; r++)
        assert_int_equal(indices[r], r);
}

/* ---- a fixture copy with prompts of our choosing ---- */

typedef struct prompt_model {
    char *dir;
    char model_dir[4200];
} prompt_model;

static int setup_copy(void **state)
{
    prompt_model *p = calloc(1, sizeof *p);
    p->dir = test_make_temp_dir();
    snprintf(p->model_dir, sizeof p->model_dir, "%s/model", p->dir);
    const char *src = test_shared_path("fixtures/bert-tiny-mean");
    char cmd[9000];
    snprintf(cmd, sizeof cmd,
             "mkdir '%s' && cd '%s' && cp -r 1_Pooling 2_Normalize config.json modules.json "
             "model.safetensors sentence_bert_config.json tokenizer.json tokenizer_config.json "
             "'%s' && chmod -R u+w '%s'",
             p->model_dir, src, p->model_dir, p->model_dir);
    assert_int_equal(system(cmd), 0);
    *state = p;
    return 0;
}

static int teardown_copy(void **state)
{
    prompt_model *p = *state;
    test_rmtree(p->dir);
    free(p->dir);
    free(p);
    return 0;
}

/* Writes config_sentence_transformers.json with the given "prompts" object and loads the copy. */
static semb_model *load_with_prompts(prompt_model *p, const char *prompts_json)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/config_sentence_transformers.json", p->model_dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fprintf(f, "{\"prompts\": %s, \"default_prompt_name\": null, \"similarity_fn_name\": "
               "\"cosine\"}\n", prompts_json);
    fclose(f);
    semb_model *m = NULL;
    semb_error err = {0};
    if (semb_model_load(p->model_dir, &m, &err))
        fail_msg("load: %s", err.message);
    return m;
}

static void test_default_prompts(void **state)
{
    prompt_model *p = *state;
    semb_model *m = load_with_prompts(p, "{\"query\": \"query: \", \"document\": \"passage: \","
                                         " \"passage\": \"p: \"}");
    assert_string_equal(semb_model_query_prompt(m), "query: ");
    assert_string_equal(semb_model_document_prompt(m), "passage: ");
    semb_model_free(m);
    m = load_with_prompts(p, "{\"corpus\": \"c: \", \"passage\": \"p: \"}");
    assert_null(semb_model_query_prompt(m));
    assert_string_equal(semb_model_document_prompt(m), "p: ");
    semb_model_free(m);
    m = load_with_prompts(p, "{\"corpus\": \"c: \", \"Query\": \"q: \"}");
    assert_null(semb_model_query_prompt(m));
    assert_string_equal(semb_model_document_prompt(m), "c: ");
    semb_model_free(m);
    m = load_with_prompts(p, "{}");
    assert_null(semb_model_document_prompt(m));
    semb_model_free(m);
}

static const char *const candidates[] = {
    "Paris is the capital of France.", "The cat sat on the mat.",
    "France's capital city is Paris.", "Stocks fell sharply today.",
    "The cat sat on the mat.",         "Berlin is in Germany.",
};
#define N_CANDIDATES 6

/* Cosine scores of query_prompt + query against document_prompt + each candidate, encoded
 * here one text at a time. */
static void scores_by_hand(semb_model *m, const char *query_prompt, const char *query,
                           const char *document_prompt, double *want)
{
    int dim = semb_model_dimension(m);
    float *q = malloc((size_t)dim * sizeof *q), *d = malloc((size_t)dim * sizeof *d);
    char text[512];
    semb_error err = {0};
    snprintf(text, sizeof text, "%s%s", query_prompt, query);
    const char *one[] = {text};
    assert_int_equal(semb_encode(m, one, NULL, 1, q, NULL, &err), SEMB_OK);
    for (int i = 0; i < N_CANDIDATES; i++) {
        snprintf(text, sizeof text, "%s%s", document_prompt, candidates[i]);
        assert_int_equal(semb_encode(m, one, NULL, 1, d, NULL, &err), SEMB_OK);
        double dot = 0, nq = 0, nd = 0;
        for (int k = 0; k < dim; k++) {
            dot += (double)q[k] * d[k];
            nq += (double)q[k] * q[k];
            nd += (double)d[k] * d[k];
        }
        want[i] = dot / sqrt(nq * nd);
    }
    free(q);
    free(d);
}

/* semb_rank's hits must be the hand scores, sorted best first with ties by index. */
static void check_ranking(const size_t *indices, const float *scores, size_t k,
                          const double *want)
{
    for (size_t r = 0; r < k; r++) {
        if (fabs(scores[r] - want[indices[r]]) > 1e-5)
            fail_msg("rank %zu (candidate %zu): score %.7f, by hand %.7f", r + 1, indices[r],
                     scores[r], want[indices[r]]);
        if (r && (scores[r] > scores[r - 1] ||
                  (scores[r] == scores[r - 1] && indices[r] < indices[r - 1])))
            fail_msg("rank %zu is out of order", r + 1);
    }
    for (int i = 0; i < N_CANDIDATES; i++) /* nothing better left out */
        if (k < N_CANDIDATES && want[i] > scores[k - 1] + 1e-5) {
            bool shown = false;
            for (size_t r = 0; r < k; r++)
                shown |= indices[r] == (size_t)i;
            if (!shown)
                fail_msg("candidate %d (%.6f) is missing from the top %zu", i, want[i], k);
        }
}

static void test_rank_applies_prompts(void **state)
{
    prompt_model *p = *state;
    semb_model *m = load_with_prompts(p, "{\"query\": \"query: \", \"document\": \"passage: \"}");
    const char *query = "What is the capital of France?";
    semb_rank_options opts = semb_rank_options_default();
    opts.query_prompt = semb_model_query_prompt(m);
    opts.document_prompt = semb_model_document_prompt(m);
    opts.batch_size = 4;
    size_t indices[N_CANDIDATES];
    float scores[N_CANDIDATES];
    semb_error err = {0};
    assert_int_equal(semb_rank(m, &query, 1, candidates, N_CANDIDATES, &opts, indices, scores,
                               &err), SEMB_OK);
    double with_prompts[N_CANDIDATES], without[N_CANDIDATES];
    scores_by_hand(m, "query: ", query, "passage: ", with_prompts);
    check_ranking(indices, scores, N_CANDIDATES, with_prompts);
    /* the two copies of the cat sentence score alike and keep their order */
    size_t first = N_CANDIDATES, second = N_CANDIDATES;
    for (size_t r = 0; r < N_CANDIDATES; r++) {
        if (indices[r] == 1)
            first = r;
        if (indices[r] == 4)
            second = r;
    }
    assert_int_equal(second, first + 1);
    assert_true(scores[first] == scores[second]);
    /* prompts change the scores, so the check above could tell them missing */
    scores_by_hand(m, "", query, "", without);
    bool differs = false;
    for (int i = 0; i < N_CANDIDATES; i++)
        differs |= fabs(without[i] - with_prompts[i]) > 1e-4;
    assert_true(differs);
    opts = semb_rank_options_default();
    opts.document_prompt = "";
    assert_int_equal(semb_rank(m, &query, 1, candidates, N_CANDIDATES, &opts, indices, scores,
                               &err), SEMB_OK);
    check_ranking(indices, scores, N_CANDIDATES, without);
    semb_model_free(m);
}

static void test_rank_several_queries_top_k(void **state)
{
    prompt_model *p = *state;
    semb_model *m = load_with_prompts(p, "{\"query\": \"q: \"}");
    const char *queries[] = {"Where did the cat sit?", "How did the markets do?",
                             "Which city is German?"};
    semb_rank_options opts = semb_rank_options_default();
    opts.query_prompt = "q: ";
    opts.top_k = 2;
    size_t indices[3 * 2];
    float scores[3 * 2];
    semb_error err = {0};
    assert_int_equal(semb_rank(m, queries, 3, candidates, N_CANDIDATES, &opts, indices, scores,
                               &err), SEMB_OK);
    for (int q = 0; q < 3; q++) {
        double want[N_CANDIDATES];
        scores_by_hand(m, "q: ", queries[q], "", want);
        check_ranking(indices + q * 2, scores + q * 2, 2, want);
    }
    semb_model_free(m);
}

static void test_rank_errors(void **state)
{
    prompt_model *p = *state;
    semb_model *m = load_with_prompts(p, "{}");
    const char *query = "q", *bad = "caf\xc3";
    size_t indices[N_CANDIDATES];
    float scores[N_CANDIDATES];
    semb_error err = {0};
    assert_int_equal(semb_rank(m, &query, 1, candidates, 0, NULL, indices, scores, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "no candidates"));
    assert_int_equal(semb_rank(m, &query, 0, candidates, 1, NULL, indices, scores, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(semb_rank(NULL, &query, 1, candidates, 1, NULL, indices, scores, &err),
                     SEMB_ERR_INVALID_ARG);
    const char *with_bad[] = {"fine", "fine too", bad};
    assert_int_equal(semb_rank(m, &query, 1, with_bad, 3, NULL, indices, scores, &err),
                     SEMB_ERR_INPUT);
    if (!strstr(err.message, "candidate 2:"))
        fail_msg("error '%s' does not name candidate 2", err.message);
    assert_int_equal(semb_rank(m, &bad, 1, candidates, 2, NULL, indices, scores, &err),
                     SEMB_ERR_INPUT);
    if (!strstr(err.message, "query 0:"))
        fail_msg("error '%s' does not name query 0", err.message);
    semb_model_free(m);
}

int main(void)
{
    int skip = test_require_shared("test_rank");
    if (skip)
        return skip;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_order_ties_by_input_order),
        cmocka_unit_test(test_order_all_equal),
        cmocka_unit_test_setup_teardown(test_default_prompts, setup_copy, teardown_copy),
        cmocka_unit_test_setup_teardown(test_rank_applies_prompts, setup_copy, teardown_copy),
        cmocka_unit_test_setup_teardown(test_rank_several_queries_top_k, setup_copy,
                                        teardown_copy),
        cmocka_unit_test_setup_teardown(test_rank_errors, setup_copy, teardown_copy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
