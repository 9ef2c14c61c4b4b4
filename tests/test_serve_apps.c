/* The application endpoints of semb serve (serve_similarity, serve_rank, serve_search,
 * serve_cluster, serve_bias) called directly on parsed requests: each one's response shape and
 * values against the library computing the same thing as the CLI does (semb_similarity_scores,
 * semb_rank with the model's prompts, semb_index_search, semb_kmeans / semb_community_detection
 * on prepared embeddings, semb_bias_evaluate), and every 400 the contract names; a model that
 * gives NaN answers 500. Uses the bert-tiny-mean fixture (skipped without shared/). */
#include "support.h"

#include <jansson.h>
#include <math.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "model/similarity.h"
#include "serve/serve_api.h"

typedef serve_response (*handler)(serve_context *, const json_t *);

/* ---- calling a handler ---- */

static serve_context *make_context(semb_model *model, semb_index *index, int max_inputs,
                                   bool reject_long)
{
    serve_limits limits = serve_limits_default();
    limits.max_inputs = max_inputs;
    limits.reject_long = reject_long;
    serve_context *ctx = NULL;
    semb_error err = {0};
    if (serve_context_create(model, index, "tiny", &limits, &ctx, &err))
        fail_msg("context: %s", err.message);
    return ctx;
}

static serve_response call(handler h, serve_context *ctx, const char *body)
{
    json_error_t e;
    json_t *request = json_loads(body, JSON_DECODE_ANY | JSON_ALLOW_NUL, &e);
    if (!request)
        fail_msg("test request is not JSON: %s (%s)", body, e.text);
    serve_response r = h(ctx, request);
    json_decref(request);
    return r;
}

/* Calls h and checks it answered 200; the body is the caller's (json_decref). */
static json_t *call_ok(handler h, serve_context *ctx, const char *body)
{
    serve_response r = call(h, ctx, body);
    if (r.status != 200) {
        char *text = json_dumps(r.body, 0);
        fail_msg("%s -> %d %s", body, r.status, text ? text : "");
    }
    assert_non_null(r.body);
    assert_null(r.text);
    return r.body;
}

static void expect_error_at(handler h, serve_context *ctx, const char *body, int status,
                            const char *code, const char *part, int line)
{
    serve_response r = call(h, ctx, body);
    const json_t *error = json_object_get(r.body, "error");
    const char *got_code = json_string_value(json_object_get(error, "code"));
    const char *message = json_string_value(json_object_get(error, "message"));
    const char *type = json_string_value(json_object_get(error, "type"));
    if (r.status != status || !got_code || strcmp(got_code, code) != 0 || !message ||
        (part && !strstr(message, part)))
        fail_msg("line %d: %s -> %d %s '%s'; want %d %s with '%s'", line, body, r.status,
                 got_code ? got_code : "?", message ? message : "?", status, code,
                 part ? part : "");
    assert_string_equal(type, status >= 500 ? "server_error" : "invalid_request_error");
    serve_response_free(&r);
}
#define EXPECT_ERROR(h, ctx, body, status, code, part) \
    expect_error_at(h, ctx, body, status, code, part, __LINE__)

static const json_t *at(const json_t *array, size_t i)
{
    const json_t *v = json_array_get(array, i);
    assert_non_null(v);
    return v;
}

static double number(const json_t *object, const char *key)
{
    const json_t *v = json_object_get(object, key);
    if (!json_is_number(v))
        fail_msg("'%s' is not a number", key);
    return json_number_value(v);
}

static const char *string(const json_t *object, const char *key)
{
    const char *s = json_string_value(json_object_get(object, key));
    if (!s)
        fail_msg("'%s' is not a string", key);
    return s;
}

/* ---- fixtures ---- */

typedef struct apps_state {
    semb_model *model;
    char *dir;
} apps_state;

static int setup(void **state)
{
    apps_state *s = calloc(1, sizeof *s);
    s->model = test_load_fixture("bert-tiny-mean");
    s->dir = test_make_temp_dir();
    *state = s;
    return 0;
}

static int teardown(void **state)
{
    apps_state *s = *state;
    semb_model_free(s->model);
    test_rmtree(s->dir);
    free(s->dir);
    free(s);
    return 0;
}

/* Embeddings of texts as the CLI computes them (semb_encode with the given prompt), prepared
 * for the model's similarity; the caller frees them. */
static float *embed(semb_model *m, const char *const *texts, size_t n, const char *prompt)
{
    int dim = semb_model_dimension(m);
    float *rows = malloc(n * (size_t)dim * sizeof *rows);
    semb_encode_options o = semb_encode_options_default();
    o.prompt = prompt;
    semb_error err = {0};
    if (semb_encode(m, texts, NULL, n, rows, prompt ? &o : NULL, &err))
        fail_msg("encode: %s", err.message);
    similarity_prepare(semb_model_similarity(m), rows, n, dim);
    return rows;
}

/* Copies the fixture to dir/name (path receives it), its config_sentence_transformers.json
 * holding the given "prompts". */
static void copy_fixture(const char *dir, const char *name, const char *prompts_json,
                         char *path, size_t path_size)
{
    snprintf(path, path_size, "%s/%s", dir, name);
    test_copy_fixture_to("bert-tiny-mean", path);
    char config[4300];
    snprintf(config, sizeof config, "%s/config_sentence_transformers.json", path);
    FILE *f = fopen(config, "w");
    assert_non_null(f);
    fprintf(f, "{\"prompts\": %s, \"default_prompt_name\": null, \"similarity_fn_name\": "
               "\"cosine\"}\n", prompts_json);
    fclose(f);
}

static semb_model *load_model(const char *path)
{
    semb_model *m = NULL;
    semb_error err = {0};
    if (semb_model_load(path, &m, &err))
        fail_msg("load: %s", err.message);
    return m;
}

/* ---- POST /similarity ---- */

static void test_similarity_scores(void **state)
{
    apps_state *s = *state;
    serve_context *ctx = make_context(s->model, NULL, 8, false);
    json_t *body = call_ok(serve_similarity, ctx,
                           "{\"source\": \"A man is eating food.\", \"candidates\": "
                           "[\"A man eats a meal.\", \"The sky is blue.\", "
                           "\"A man is eating food.\"]}");
    assert_string_equal(string(body, "similarity"), "cosine");
    const json_t *scores = json_object_get(body, "scores");
    assert_int_equal(json_array_size(scores), 3);
    /* the library's scores of semb_encode's embeddings, in candidate order */
    const char *texts[] = {"A man is eating food.", "A man eats a meal.", "The sky is blue.",
                           "A man is eating food."};
    int dim = semb_model_dimension(s->model);
    float *rows = malloc(4 * (size_t)dim * sizeof *rows), want[3];
    semb_error err = {0};
    assert_int_equal(semb_encode(s->model, texts, NULL, 4, rows, NULL, &err), SEMB_OK);
    assert_int_equal(semb_similarity_scores(SEMB_SIMILARITY_COSINE, rows, 1, rows + dim, 3, dim,
                                            want, &err), SEMB_OK);
    similarity_prepare(SEMB_SIMILARITY_COSINE, rows, 4, dim);
    for (size_t i = 0; i < 3; i++) {
        double got = json_number_value(at(scores, i));
        assert_true((float)got == want[i]);
        /* what `semb similarity` prints (a double sum over the same embeddings) */
        double cli = similarity_pair(SEMB_SIMILARITY_COSINE, rows, rows + (i + 1) * dim, dim);
        assert_true(fabs(got - cli) < 1e-5);
    }
    assert_true(fabs(json_number_value(at(scores, 2)) - 1.0) < 1e-5);
    free(rows);
    json_decref(body);
    serve_context_free(ctx);
}

static void test_similarity_errors(void **state)
{
    apps_state *s = *state;
    serve_context *ctx = make_context(s->model, NULL, 3, false);
    handler h = serve_similarity;
    EXPECT_ERROR(h, ctx, "[\"a\"]", 400, "wrong_type", "JSON object");
    EXPECT_ERROR(h, ctx, "{\"candidates\": [\"a\"]}", 400, "missing_field", "'source'");
    EXPECT_ERROR(h, ctx, "{\"source\": null, \"candidates\": [\"a\"]}", 400, "missing_field",
                 "'source'");
    EXPECT_ERROR(h, ctx, "{\"source\": 7, \"candidates\": [\"a\"]}", 400, "wrong_type",
                 "'source' must be a string");
    EXPECT_ERROR(h, ctx, "{\"source\": \"a\"}", 400, "missing_field", "'candidates'");
    EXPECT_ERROR(h, ctx, "{\"source\": \"a\", \"candidates\": \"b\"}", 400, "wrong_type",
                 "'candidates' must be an array");
    EXPECT_ERROR(h, ctx, "{\"source\": \"a\", \"candidates\": []}", 400, "invalid_value",
                 "'candidates' must hold at least 1");
    EXPECT_ERROR(h, ctx, "{\"source\": \"a\", \"candidates\": [\"b\", 3]}", 400, "wrong_type",
                 "'candidates[1]' must be a string");
    EXPECT_ERROR(h, ctx, "{\"source\": \"a\", \"candidates\": [\"b\", \"c\", \"d\", \"e\"]}", 400,
                 "too_many_inputs", "at most 3");
    EXPECT_ERROR(h, ctx, "{\"source\": \"a\", \"candidates\": [\"b\\u0000c\"]}", 400,
                 "invalid_value", "'candidates[0]' holds a NUL");
    /* the largest request allowed passes */
    json_decref(call_ok(h, ctx, "{\"source\": \"a\", \"candidates\": [\"b\", \"c\", \"d\"]}"));
    serve_context_free(ctx);
}

/* --reject-long: a text over the max sequence length is refused, naming it. */
static void test_reject_long(void **state)
{
    apps_state *s = *state;
    size_t words = (size_t)semb_model_max_seq_length(s->model) + 8;
    char *text = malloc(words * 5 + 1), *body = malloc(words * 5 + 200);
    for (size_t i = 0; i < words; i++)
        memcpy(text + 5 * i, "word ", 5);
    text[words * 5] = '\0';
    serve_context *strict = make_context(s->model, NULL, 8, true);
    serve_context *lenient = make_context(s->model, NULL, 8, false);
    sprintf(body, "{\"source\": \"a\", \"candidates\": [\"b\", \"%s\"]}", text);
    EXPECT_ERROR(serve_similarity, strict, body, 400, "input_too_long", "'candidates[1]'");
    json_decref(call_ok(serve_similarity, lenient, body)); /* truncated, as the CLI does */
    sprintf(body, "{\"query\": \"%s\", \"candidates\": [\"b\"]}", text);
    EXPECT_ERROR(serve_rank, strict, body, 400, "input_too_long", "'query'");
    sprintf(body, "{\"texts\": [\"b\", \"%s\"]}", text);
    EXPECT_ERROR(serve_cluster, strict, body, 400, "input_too_long", "'texts[1]'");
    json_decref(call_ok(serve_similarity, strict,
                        "{\"source\": \"a\", \"candidates\": [\"short\"]}"));
    serve_context_free(strict);
    serve_context_free(lenient);
    free(text);
    free(body);
}

/* ---- POST /rank ---- */

static const char *const rank_candidates[] = {
    "Paris is the capital of France.", "The cat sat on the mat.",
    "France's capital city is Paris.", "Stocks fell sharply today.",
    "The cat sat on the mat.",         "Berlin is in Germany.",
};
#define N_RANK 6
#define RANK_REQUEST                                                                      \
    "{\"query\": \"What is the capital of France?\", \"candidates\": ["                   \
    "\"Paris is the capital of France.\", \"The cat sat on the mat.\", "                  \
    "\"France's capital city is Paris.\", \"Stocks fell sharply today.\", "               \
    "\"The cat sat on the mat.\", \"Berlin is in Germany.\"]"

/* The response's results equal semb_rank's ranking (the `semb rank` path: the model's query
 * and document prompts) of the same texts, k of them. */
static void expect_rank_equals_library(semb_model *m, const json_t *body, size_t k)
{
    const char *query = "What is the capital of France?";
    semb_rank_options o = semb_rank_options_default();
    o.query_prompt = semb_model_query_prompt(m);
    o.document_prompt = semb_model_document_prompt(m);
    o.top_k = k;
    size_t indices[N_RANK];
    float scores[N_RANK];
    semb_error err = {0};
    assert_int_equal(semb_rank(m, &query, 1, rank_candidates, N_RANK, &o, indices, scores, &err),
                     SEMB_OK);
    assert_string_equal(string(body, "similarity"), "cosine");
    const json_t *results = json_object_get(body, "results");
    assert_int_equal(json_array_size(results), k);
    for (size_t r = 0; r < k; r++) {
        const json_t *hit = at(results, r);
        assert_int_equal((size_t)number(hit, "index"), indices[r]);
        assert_string_equal(string(hit, "text"), rank_candidates[indices[r]]);
        assert_true((float)number(hit, "score") == scores[r]);
    }
}

static void test_rank_results(void **state)
{
    apps_state *s = *state;
    serve_context *ctx = make_context(s->model, NULL, 8, false);
    json_t *body = call_ok(serve_rank, ctx, RANK_REQUEST "}");
    expect_rank_equals_library(s->model, body, N_RANK);
    /* the duplicate candidates tie: the lower index first, right after it */
    const json_t *results = json_object_get(body, "results");
    for (size_t r = 0; r + 1 < N_RANK; r++) {
        const json_t *a = at(results, r), *b = at(results, r + 1);
        assert_true(number(a, "score") >= number(b, "score"));
        if (number(a, "index") == 1)
            assert_int_equal((int)number(b, "index"), 4);
    }
    json_decref(body);
    body = call_ok(serve_rank, ctx, RANK_REQUEST ", \"top_k\": 2}");
    expect_rank_equals_library(s->model, body, 2);
    json_decref(body);
    body = call_ok(serve_rank, ctx, RANK_REQUEST ", \"top_k\": 50}"); /* more than there are */
    expect_rank_equals_library(s->model, body, N_RANK);
    json_decref(body);
    serve_context_free(ctx);
}

/* A model with query and document prompts: each side gets its own, as `semb rank`. */
static void test_rank_prompts(void **state)
{
    apps_state *s = *state;
    char path[4200];
    copy_fixture(s->dir, "prompted", "{\"query\": \"query: \", \"document\": \"passage: \"}",
                 path, sizeof path);
    semb_model *m = load_model(path);
    serve_context *ctx = make_context(m, NULL, 8, false);
    json_t *body = call_ok(serve_rank, ctx, RANK_REQUEST "}");
    expect_rank_equals_library(m, body, N_RANK);
    /* and the prompts changed the scores: without them they differ */
    const char *query = "What is the capital of France?";
    semb_rank_options bare = semb_rank_options_default();
    bare.query_prompt = "";
    bare.document_prompt = "";
    size_t indices[N_RANK];
    float scores[N_RANK];
    semb_error err = {0};
    assert_int_equal(semb_rank(m, &query, 1, rank_candidates, N_RANK, &bare, indices, scores,
                               &err), SEMB_OK);
    const json_t *first = at(json_object_get(body, "results"), 0);
    assert_true(fabs(number(first, "score") - scores[0]) > 1e-6 ||
                (size_t)number(first, "index") != indices[0]);
    json_decref(body);
    serve_context_free(ctx);
    semb_model_free(m);
}

static void test_rank_errors(void **state)
{
    apps_state *s = *state;
    serve_context *ctx = make_context(s->model, NULL, 4, false);
    handler h = serve_rank;
    EXPECT_ERROR(h, ctx, "\"text\"", 400, "wrong_type", "JSON object");
    EXPECT_ERROR(h, ctx, "{\"candidates\": [\"a\"]}", 400, "missing_field", "'query'");
    EXPECT_ERROR(h, ctx, "{\"query\": [\"q\"], \"candidates\": [\"a\"]}", 400, "wrong_type",
                 "'query' must be a string");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\"}", 400, "missing_field", "'candidates'");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"candidates\": []}", 400, "invalid_value",
                 "'candidates'");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"candidates\": [\"a\", {}]}", 400, "wrong_type",
                 "'candidates[1]'");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"candidates\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}",
                 400, "too_many_inputs", "'candidates'");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"candidates\": [\"a\"], \"top_k\": 0}", 400,
                 "invalid_value", "'top_k' must be between 1");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"candidates\": [\"a\"], \"top_k\": -3}", 400,
                 "invalid_value", "'top_k'");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"candidates\": [\"a\"], \"top_k\": 2.5}", 400,
                 "wrong_type", "'top_k' must be an integer");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"candidates\": [\"a\"], \"top_k\": \"2\"}", 400,
                 "wrong_type", "'top_k'");
    serve_context_free(ctx);
}

/* ---- POST /search ---- */

static const char *const corpus_texts[] = {
    "How do I brew a stout at home?", "What is the capital of France?",
    "Which hops give beer a citrus aroma?", "How long should lager ferment?",
    "What is the capital of France?", "Why is the sky blue?"};
static const char *const corpus_ids[] = {"stout", "paris", "hops", "lager", "paris-2", "sky"};
#define N_CORPUS 6

/* An index of the corpus at dir/name: ids as given (NULL: positions), an HNSW graph if asked. */
static semb_index *build_index(semb_model *m, const char *dir, const char *name,
                               const char *const *ids, bool graph)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    semb_index_build_options o = semb_index_build_options_default();
    o.texts = corpus_texts;
    o.n_texts = N_CORPUS;
    o.ids = ids;
    o.hnsw = graph;
    semb_error err = {0};
    semb_index *index = NULL;
    if (semb_index_build(m, &o, path, NULL, &err) || semb_index_open(path, &index, &err))
        fail_msg("index: %s", err.message);
    return index;
}

/* The response equals semb_index_search (what `semb search` prints) for the same query. */
static void expect_search_equals_library(semb_index *index, semb_model *m, const json_t *body,
                                         const char *query, size_t k)
{
    semb_search_hit hits[N_CORPUS];
    size_t found;
    semb_error err = {0};
    assert_int_equal(semb_index_search(index, m, &query, 1, k, NULL, hits, &found, &err),
                     SEMB_OK);
    const json_t *results = json_object_get(body, "results");
    assert_int_equal(json_array_size(results), found);
    assert_int_equal((size_t)number(body, "documents"), N_CORPUS);
    for (size_t r = 0; r < found; r++) {
        const json_t *hit = at(results, r), *id = json_object_get(hit, "id");
        assert_int_equal((size_t)number(hit, "rank"), r + 1);
        assert_true((float)number(hit, "score") == hits[r].score);
        assert_string_equal(string(hit, "text"), hits[r].text);
        if (hits[r].id_is_integer)
            assert_int_equal(json_integer_value(id), atoll(hits[r].id));
        else
            assert_string_equal(json_string_value(id), hits[r].id);
    }
}

static void test_search_results(void **state)
{
    apps_state *s = *state;
    semb_index *index = build_index(s->model, s->dir, "plain.idx", NULL, false);
    serve_context *ctx = make_context(s->model, index, 8, false);
    /* a corpus text finds itself and its duplicate (a tie, in corpus order); default k 10 */
    json_t *body = call_ok(serve_search, ctx, "{\"query\": \"What is the capital of France?\"}");
    expect_search_equals_library(index, s->model, body, "What is the capital of France?", 10);
    const json_t *results = json_object_get(body, "results");
    assert_int_equal(json_array_size(results), N_CORPUS);
    assert_true(json_is_integer(json_object_get(at(results, 0), "id")));
    assert_int_equal(json_integer_value(json_object_get(at(results, 0), "id")), 1);
    assert_int_equal(json_integer_value(json_object_get(at(results, 1), "id")), 4);
    assert_true(number(at(results, 0), "score") == number(at(results, 1), "score"));
    assert_true(json_is_false(json_object_get(body, "approximate")));
    json_decref(body);
    body = call_ok(serve_search, ctx, "{\"query\": \"beer hops\", \"k\": 2, \"exact\": true}");
    expect_search_equals_library(index, s->model, body, "beer hops", 2);
    json_decref(body);
    serve_context_free(ctx);
    semb_index_close(index);
    /* string ids stay strings */
    index = build_index(s->model, s->dir, "named.idx", corpus_ids, false);
    ctx = make_context(s->model, index, 8, false);
    body = call_ok(serve_search, ctx, "{\"query\": \"Why is the sky blue?\", \"k\": 1}");
    expect_search_equals_library(index, s->model, body, "Why is the sky blue?", 1);
    assert_string_equal(string(at(json_object_get(body, "results"), 0), "id"), "sky");
    json_decref(body);
    serve_context_free(ctx);
    semb_index_close(index);
}

static void test_search_graph(void **state)
{
    apps_state *s = *state;
    semb_index *index = build_index(s->model, s->dir, "graph.idx", NULL, true);
    serve_context *ctx = make_context(s->model, index, 8, false);
    json_t *body = call_ok(serve_search, ctx, "{\"query\": \"stout\", \"k\": 3, \"ef\": 20}");
    assert_true(json_is_true(json_object_get(body, "approximate")));
    assert_int_equal(json_array_size(json_object_get(body, "results")), 3);
    json_decref(body);
    body = call_ok(serve_search, ctx, "{\"query\": \"stout\", \"k\": 3, \"exact\": true}");
    assert_true(json_is_false(json_object_get(body, "approximate")));
    json_decref(body);
    EXPECT_ERROR(serve_search, ctx, "{\"query\": \"q\", \"exact\": true, \"ef\": 20}", 400,
                 "invalid_value", "'ef'");
    serve_context_free(ctx);
    semb_index_close(index);
}

static void test_search_errors(void **state)
{
    apps_state *s = *state;
    serve_context *bare = make_context(s->model, NULL, 8, false);
    EXPECT_ERROR(serve_search, bare, "{\"query\": \"q\"}", 400, "no_index", "--index");
    serve_context_free(bare);
    semb_index *index = build_index(s->model, s->dir, "errors.idx", NULL, false);
    serve_context *ctx = make_context(s->model, index, 8, false);
    handler h = serve_search;
    EXPECT_ERROR(h, ctx, "3", 400, "wrong_type", "JSON object");
    EXPECT_ERROR(h, ctx, "{\"k\": 3}", 400, "missing_field", "'query'");
    EXPECT_ERROR(h, ctx, "{\"query\": 1}", 400, "wrong_type", "'query'");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"k\": 0}", 400, "invalid_value",
                 "'k' must be between 1 and 1000");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"k\": 1001}", 400, "invalid_value", "'k'");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"k\": \"5\"}", 400, "wrong_type", "'k'");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"exact\": 1}", 400, "wrong_type",
                 "'exact' must be true or false");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"ef\": 10}", 400, "invalid_value",
                 "no HNSW graph");
    EXPECT_ERROR(h, ctx, "{\"query\": \"q\", \"ef\": 0}", 400, "invalid_value", "'ef'");
    json_decref(call_ok(h, ctx, "{\"query\": \"q\", \"k\": 1000}"));
    serve_context_free(ctx);
    semb_index_close(index);
}

/* ---- POST /cluster ---- */

static const char *const cluster_texts[] = {
    "The cat sleeps on the sofa.", "Stock markets fell today.", "A kitten naps on the couch.",
    "Shares dropped sharply.",     "The dog plays in the park.", "Investors sold their stocks.",
    "A puppy runs on the grass.",  "Bond yields rose again."};
#define N_CLUSTER 8
#define CLUSTER_TEXTS                                                                     \
    "\"texts\": [\"The cat sleeps on the sofa.\", \"Stock markets fell today.\", "        \
    "\"A kitten naps on the couch.\", \"Shares dropped sharply.\", "                      \
    "\"The dog plays in the park.\", \"Investors sold their stocks.\", "                  \
    "\"A puppy runs on the grass.\", \"Bond yields rose again.\"]"

/* The k-means clusters semb_kmeans gives (seed as `semb cluster --seed`) on the prepared
 * embeddings, in the CLI's order (largest first, ties by first text), members in input
 * order, equal the response's. */
static void expect_kmeans_equals_library(semb_model *m, const json_t *body, int k,
                                         uint64_t seed)
{
    int dim = semb_model_dimension(m);
    float *rows = embed(m, cluster_texts, N_CLUSTER, NULL);
    semb_kmeans_options o = semb_kmeans_options_default(k);
    o.seed = seed;
    int32_t labels[N_CLUSTER];
    semb_error err = {0};
    assert_int_equal(semb_kmeans(rows, N_CLUSTER, dim, &o, labels, NULL, NULL, &err), SEMB_OK);
    free(rows);
    assert_string_equal(string(body, "method"), "kmeans");
    const json_t *clusters = json_object_get(body, "clusters");
    assert_int_equal(json_array_size(clusters), k);
    bool seen[N_CLUSTER] = {0};
    size_t previous_size = N_CLUSTER + 1, previous_first = 0;
    for (size_t c = 0; c < (size_t)k; c++) {
        const json_t *cluster = at(clusters, c);
        const json_t *members = json_object_get(cluster, "members");
        const json_t *texts = json_object_get(cluster, "texts");
        assert_int_equal((size_t)number(cluster, "id"), c);
        size_t size = json_array_size(members), first = (size_t)json_integer_value(at(members, 0));
        assert_int_equal(json_array_size(texts), size);
        /* the CLI's order */
        assert_true(size < previous_size || (size == previous_size && first > previous_first));
        previous_size = size, previous_first = first;
        /* exactly the texts of one k-means label, in input order */
        int32_t label = labels[first];
        size_t m_i = 0;
        for (size_t i = 0; i < N_CLUSTER; i++) {
            if (labels[i] != label)
                continue;
            assert_int_equal((size_t)json_integer_value(at(members, m_i)), i);
            assert_string_equal(json_string_value(at(texts, m_i)), cluster_texts[i]);
            assert_false(seen[i]);
            seen[i] = true;
            m_i++;
        }
        assert_int_equal(m_i, size);
    }
    for (size_t i = 0; i < N_CLUSTER; i++)
        assert_true(seen[i]);
}

static void test_cluster_kmeans(void **state)
{
    apps_state *s = *state;
    serve_context *ctx = make_context(s->model, NULL, 8, false);
    /* default k: max(2, round(sqrt(8 / 2))) = 2; default seed 42 */
    json_t *body = call_ok(serve_cluster, ctx, "{" CLUSTER_TEXTS "}");
    expect_kmeans_equals_library(s->model, body, 2, 42);
    assert_null(json_object_get(body, "unclustered"));
    json_decref(body);
    body = call_ok(serve_cluster, ctx, "{" CLUSTER_TEXTS ", \"method\": \"kmeans\", \"k\": 3, "
                                       "\"seed\": 7, \"threshold\": 0.5}");
    expect_kmeans_equals_library(s->model, body, 3, 7);
    json_decref(body);
    body = call_ok(serve_cluster, ctx, "{" CLUSTER_TEXTS ", \"k\": 8}"); /* one text each */
    expect_kmeans_equals_library(s->model, body, 8, 42);
    json_decref(body);
    body = call_ok(serve_cluster, ctx, "{\"texts\": [\"a b\", \"c d\"]}"); /* n = 2: k = 2 */
    assert_int_equal(json_array_size(json_object_get(body, "clusters")), 2);
    json_decref(body);
    serve_context_free(ctx);
}

static void test_cluster_community(void **state)
{
    apps_state *s = *state;
    serve_context *ctx = make_context(s->model, NULL, 8, false);
    /* duplicates make communities at any threshold below 1 */
    const char *texts[] = {"alpha beta", "gamma delta", "alpha beta", "epsilon", "gamma delta",
                           "alpha beta"};
    json_t *body = call_ok(serve_cluster, ctx,
                           "{\"texts\": [\"alpha beta\", \"gamma delta\", \"alpha beta\", "
                           "\"epsilon\", \"gamma delta\", \"alpha beta\"], \"method\": "
                           "\"community\", \"threshold\": 0.999, \"k\": 4}");
    int dim = semb_model_dimension(s->model);
    float *rows = embed(s->model, texts, 6, NULL);
    semb_communities want;
    semb_error err = {0};
    assert_int_equal(semb_community_detection(rows, 6, dim, 0.999, 2, 0, &want, &err), SEMB_OK);
    free(rows);
    assert_string_equal(string(body, "method"), "community");
    const json_t *clusters = json_object_get(body, "clusters");
    assert_int_equal(json_array_size(clusters), want.count);
    assert_true(want.count >= 2);
    bool taken[6] = {0};
    for (size_t c = 0; c < want.count; c++) {
        const json_t *members = json_object_get(at(clusters, c), "members");
        const json_t *member_texts = json_object_get(at(clusters, c), "texts");
        assert_int_equal((size_t)number(at(clusters, c), "id"), c);
        assert_int_equal(json_array_size(members), want.offsets[c + 1] - want.offsets[c]);
        for (size_t m = want.offsets[c]; m < want.offsets[c + 1]; m++) {
            size_t i = want.members[m];
            taken[i] = true;
            assert_int_equal(json_integer_value(at(members, m - want.offsets[c])), i);
            assert_string_equal(json_string_value(at(member_texts, m - want.offsets[c])),
                                texts[i]);
        }
    }
    const json_t *rest = json_object_get(body, "unclustered");
    size_t r = 0;
    for (size_t i = 0; i < 6; i++)
        if (!taken[i])
            assert_int_equal(json_integer_value(at(rest, r++)), i);
    assert_int_equal(json_array_size(rest), r);
    assert_true(r >= 1); /* "epsilon" has no duplicate */
    semb_communities_free(&want);
    json_decref(body);
    /* min_size above every community: all unclustered */
    body = call_ok(serve_cluster, ctx, "{\"texts\": [\"alpha beta\", \"alpha beta\", \"x\"], "
                                       "\"method\": \"community\", \"min_size\": 3, "
                                       "\"threshold\": 1}"); /* an integer is a number */
    assert_int_equal(json_array_size(json_object_get(body, "clusters")), 0);
    assert_int_equal(json_array_size(json_object_get(body, "unclustered")), 3);
    json_decref(body);
    serve_context_free(ctx);
}

static void test_cluster_errors(void **state)
{
    apps_state *s = *state;
    serve_context *ctx = make_context(s->model, NULL, 4, false);
    handler h = serve_cluster;
    EXPECT_ERROR(h, ctx, "null", 400, "wrong_type", "JSON object");
    EXPECT_ERROR(h, ctx, "{}", 400, "missing_field", "'texts'");
    EXPECT_ERROR(h, ctx, "{\"texts\": \"a\"}", 400, "wrong_type", "'texts'");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\"]}", 400, "invalid_value",
                 "'texts' must hold at least 2");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", 400,
                 "too_many_inputs", "'texts'");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\", false]}", 400, "wrong_type", "'texts[1]'");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\", \"b\"], \"method\": \"spectral\"}", 400,
                 "invalid_value", "one of kmeans, community");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\", \"b\"], \"method\": 1}", 400, "wrong_type",
                 "'method'");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\", \"b\", \"c\"], \"k\": 4}", 400, "invalid_value",
                 "'k' must be between 1 and 3");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\", \"b\"], \"k\": 0}", 400, "invalid_value", "'k'");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\", \"b\"], \"k\": \"2\"}", 400, "wrong_type", "'k'");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\", \"b\"], \"seed\": -1}", 400, "invalid_value",
                 "'seed'");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\", \"b\"], \"method\": \"community\", "
                         "\"threshold\": 1.5}", 400, "invalid_value", "'threshold'");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\", \"b\"], \"threshold\": \"high\"}", 400,
                 "wrong_type", "'threshold' must be a number");
    EXPECT_ERROR(h, ctx, "{\"texts\": [\"a\", \"b\"], \"method\": \"community\", "
                         "\"min_size\": 0}", 400, "invalid_value", "'min_size'");
    serve_context_free(ctx);
}

/* ---- POST /bias ---- */

static void expect_counts(const json_t *o, const semb_bias_counts *c)
{
    assert_int_equal((size_t)number(o, "cases"), c->cases);
    assert_int_equal((size_t)number(o, "female_closer"), c->female_closer);
    assert_int_equal((size_t)number(o, "male_closer"), c->male_closer);
    assert_int_equal((size_t)number(o, "ties"), c->ties);
    assert_true(number(o, "mean_difference") == c->mean_difference);
    assert_true(number(o, "difference") == c->mean_difference);
    assert_true(fabs(number(o, "female_share") - (double)c->female_closer / c->cases) < 1e-15);
    assert_true(fabs(number(o, "female") - number(o, "male") - c->mean_difference) < 1e-9);
    const char *want = c->female_closer > c->male_closer   ? "female"
                       : c->male_closer > c->female_closer ? "male"
                       : c->mean_difference > 0            ? "female"
                       : c->mean_difference < 0            ? "male"
                                                           : "neutral";
    assert_string_equal(string(o, "preference"), want);
}

/* The report equals semb_bias_evaluate on the lists (what `semb bias --format json` prints). */
static void expect_bias_equals_library(semb_model *m, const json_t *body,
                                       const semb_bias_lists *lists)
{
    semb_bias_result r;
    semb_error err = {0};
    assert_int_equal(semb_bias_evaluate(m, lists, NULL, &r, &err), SEMB_OK);
    assert_string_equal(string(body, "model"), "tiny");
    assert_string_equal(string(body, "similarity"), "cosine");
    expect_counts(json_object_get(body, "overall"), &r.overall);
    const json_t *occupations = json_object_get(body, "occupations");
    const json_t *templates = json_object_get(body, "templates");
    assert_int_equal(json_array_size(occupations), lists->n_occupations);
    assert_int_equal(json_array_size(templates), lists->n_templates);
    for (size_t o = 0; o < lists->n_occupations; o++) {
        const json_t *entry = at(occupations, o);
        assert_string_equal(string(entry, "occupation"), lists->occupations[o]);
        expect_counts(entry, &r.occupations[o]);
        double female = 0;
        for (size_t t = 0; t < lists->n_templates; t++)
            female += r.female_scores[o * lists->n_templates + t];
        assert_true(fabs(number(entry, "female") - female / lists->n_templates) < 1e-12);
    }
    for (size_t t = 0; t < lists->n_templates; t++) {
        const json_t *entry = at(templates, t);
        assert_string_equal(string(entry, "anchor"), lists->templates[t].anchor);
        assert_string_equal(string(entry, "proposition"), lists->templates[t].proposition);
        expect_counts(entry, &r.templates[t]);
    }
    semb_bias_result_free(&r);
}

static void test_bias_default_lists(void **state)
{
    apps_state *s = *state;
    serve_context *ctx = make_context(s->model, NULL, 8, false);
    json_t *body = call_ok(serve_bias, ctx, "{}");
    semb_bias_lists lists;
    semb_error err = {0};
    assert_int_equal(semb_bias_lists_load(NULL, NULL, &lists, &err), SEMB_OK);
    expect_bias_equals_library(s->model, body, &lists);
    semb_bias_lists_free(&lists);
    json_decref(body);
    serve_context_free(ctx);
}

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* The request's own lists (templates as "ANCHOR\tPROPOSITION" or as objects) give what the
 * same lists in files give `semb bias --occupations --templates`. */
static void test_bias_own_lists(void **state)
{
    apps_state *s = *state;
    serve_context *ctx = make_context(s->model, NULL, 8, false);
    json_t *body = call_ok(serve_bias, ctx,
                           "{\"occupations\": [\" nurse \", \"engineer\", \"hour worker\"], "
                           "\"templates\": [\"The {occupation} left early.\\t{pronoun} left "
                           "early.\", {\"anchor\": \"{a_occupation} fixed the sink.\", "
                           "\"proposition\": \"{pronoun} fixed it {reflexive}.\"}]}");
    char occupations[4200], templates[4200];
    snprintf(occupations, sizeof occupations, "%s/occupations.txt", s->dir);
    snprintf(templates, sizeof templates, "%s/templates.tsv", s->dir);
    write_text(occupations, "nurse\nengineer\nhour worker\n");
    write_text(templates, "The {occupation} left early.\t{pronoun} left early.\n"
                          "{a_occupation} fixed the sink.\t{pronoun} fixed it {reflexive}.\n");
    semb_bias_lists lists;
    semb_error err = {0};
    assert_int_equal(semb_bias_lists_load(occupations, templates, &lists, &err), SEMB_OK);
    expect_bias_equals_library(s->model, body, &lists);
    semb_bias_lists_free(&lists);
    json_decref(body);
    /* one list given, the other built in */
    body = call_ok(serve_bias, ctx, "{\"occupations\": [\"nurse\"]}");
    assert_int_equal((size_t)number(json_object_get(body, "overall"), "cases"),
                     json_array_size(json_object_get(body, "templates")));
    json_decref(body);
    serve_context_free(ctx);
}

static void test_bias_errors(void **state)
{
    apps_state *s = *state;
    serve_context *ctx = make_context(s->model, NULL, 4, false);
    handler h = serve_bias;
    EXPECT_ERROR(h, ctx, "[]", 400, "wrong_type", "JSON object");
    EXPECT_ERROR(h, ctx, "{\"occupations\": \"nurse\"}", 400, "wrong_type", "'occupations'");
    EXPECT_ERROR(h, ctx, "{\"occupations\": []}", 400, "invalid_value", "'occupations'");
    EXPECT_ERROR(h, ctx, "{\"occupations\": [\"nurse\", 3]}", 400, "wrong_type",
                 "'occupations[1]'");
    EXPECT_ERROR(h, ctx, "{\"occupations\": [\"a\", \"b\", \"c\", \"d\", \"e\"]}", 400,
                 "too_many_inputs", "'occupations'");
    EXPECT_ERROR(h, ctx, "{\"occupations\": [\"nurse\", \"nurse \"]}", 400, "invalid_value",
                 "occupations[1]: duplicate occupation 'nurse' (also entry 0)");
    EXPECT_ERROR(h, ctx, "{\"occupations\": [\"  \"]}", 400, "invalid_value",
                 "occupations[0]: an empty occupation");
    EXPECT_ERROR(h, ctx, "{\"occupations\": [\"{x}\"]}", 400, "invalid_value", "braces");
    EXPECT_ERROR(h, ctx, "{\"occupations\": [\"a\\nb\"]}", 400, "invalid_value", "line break");
    EXPECT_ERROR(h, ctx, "{\"templates\": []}", 400, "invalid_value", "'templates'");
    EXPECT_ERROR(h, ctx, "{\"templates\": [7]}", 400, "wrong_type", "'templates[0]'");
    EXPECT_ERROR(h, ctx, "{\"templates\": [{\"anchor\": \"The {occupation}.\"}]}", 400,
                 "wrong_type", "'templates[0]'");
    EXPECT_ERROR(h, ctx, "{\"templates\": [\"The {occupation} left.\"]}", 400,
                 "invalid_value", "missing TAB");
    EXPECT_ERROR(h, ctx, "{\"templates\": [\"The {occupation} left.\\t{pronoun}\\tleft.\"]}",
                 400, "invalid_value", "TAB inside");
    EXPECT_ERROR(h, ctx, "{\"templates\": [\"The nurse left.\\t{pronoun} left.\"]}", 400,
                 "invalid_value", "templates[0]: the anchor has no {occupation}");
    EXPECT_ERROR(h, ctx, "{\"templates\": [\"The {occupation} left.\\tThey left.\"]}", 400,
                 "invalid_value", "no pronoun placeholder");
    EXPECT_ERROR(h, ctx, "{\"templates\": [\"{occupation} and {pronoun}.\\t{pronoun} left.\"]}",
                 400, "invalid_value", "the anchor holds {pronoun}");
    EXPECT_ERROR(h, ctx, "{\"templates\": [\"The {occupation} saw her.\\t{pronoun} left.\"]}",
                 400, "invalid_value", "gendered pronoun 'her'");
    EXPECT_ERROR(h, ctx, "{\"templates\": [\"The {occupation}.\\t{pronoun} {job}.\"]}", 400,
                 "invalid_value", "unknown placeholder '{job}'");
    EXPECT_ERROR(h, ctx, "{\"templates\": [\"The {occupation.\\t{pronoun}.\"]}", 400,
                 "invalid_value", "unclosed");
    EXPECT_ERROR(h, ctx, "{\"templates\": [{\"anchor\": \"The {occupation}.\", \"proposition\":"
                         " \"{pronoun}.\"}, \"The {occupation}.\\t{pronoun}.\"]}", 400,
                 "invalid_value", "templates[1]: duplicate template (also entry 0)");
    serve_context_free(ctx);
    /* cases beyond max(--max-inputs, the built-in cases) are refused before encoding */
    ctx = make_context(s->model, NULL, 100, false);
    semb_bias_lists builtin;
    assert_int_equal(semb_bias_lists_load(NULL, NULL, &builtin, NULL), SEMB_OK);
    size_t n = builtin.n_occupations + 1; /* x the built-in templates */
    semb_bias_lists_free(&builtin);
    char *body = malloc(32 * n + 64);
    size_t used = (size_t)sprintf(body, "{\"occupations\": [");
    for (size_t i = 0; i < n; i++)
        used += (size_t)sprintf(body + used, "%s\"job %zu\"", i ? ", " : "", i);
    sprintf(body + used, "]}");
    EXPECT_ERROR(h, ctx, body, 400, "too_many_inputs", "cases");
    free(body);
    serve_context_free(ctx);
}

/* ---- a model that gives NaN ---- */

/* Writes NaN over the first tensor of dir's model.safetensors (the embeddings' LayerNorm
 * bias): every embedding is then NaN. */
static void poison_weights(const char *dir)
{
    char path[4300];
    snprintf(path, sizeof path, "%s/model.safetensors", dir);
    FILE *f = fopen(path, "r+b");
    assert_non_null(f);
    unsigned char size[8];
    assert_int_equal(fread(size, 1, 8, f), 8);
    uint64_t header = 0;
    for (int i = 7; i >= 0; i--)
        header = header << 8 | size[i];
    char *text = calloc(1, header + 1);
    assert_int_equal(fread(text, 1, header, f), header);
    json_t *h = json_loads(text, 0, NULL), *bias = json_object_get(h, "embeddings.LayerNorm.bias");
    assert_non_null(bias);
    json_int_t begin = json_integer_value(json_array_get(json_object_get(bias, "data_offsets"), 0));
    json_int_t end = json_integer_value(json_array_get(json_object_get(bias, "data_offsets"), 1));
    assert_int_equal(fseek(f, (long)(8 + header + (uint64_t)begin), SEEK_SET), 0);
    float nan = NAN;
    for (json_int_t b = begin; b < end; b += 4)
        assert_int_equal(fwrite(&nan, 4, 1, f), 1);
    assert_int_equal(fclose(f), 0);
    json_decref(h);
    free(text);
}

static void test_nan_model_is_internal_error(void **state)
{
    apps_state *s = *state;
    char path[4200];
    copy_fixture(s->dir, "nan", "{}", path, sizeof path);
    poison_weights(path);
    semb_model *m = load_model(path);
    serve_context *ctx = make_context(m, NULL, 8, false);
    EXPECT_ERROR(serve_similarity, ctx, "{\"source\": \"a\", \"candidates\": [\"b\"]}", 500,
                 "internal", "non-finite");
    EXPECT_ERROR(serve_rank, ctx, "{\"query\": \"a\", \"candidates\": [\"b\", \"c\"]}", 500,
                 "internal", "non-finite");
    EXPECT_ERROR(serve_cluster, ctx, "{\"texts\": [\"a\", \"b\", \"c\"]}", 500, "internal",
                 "non-finite");
    EXPECT_ERROR(serve_cluster, ctx, "{\"texts\": [\"a\", \"b\"], \"method\": \"community\"}",
                 500, "internal", "non-finite");
    EXPECT_ERROR(serve_bias, ctx, "{\"occupations\": [\"nurse\"]}", 500, "internal",
                 "non-finite");
    serve_context_free(ctx);
    semb_model_free(m);
}

/* ---- concurrent requests ---- */

/* One request on its own thread: the response as sorted JSON text (NULL unless 200). No
 * cmocka assertion runs off the main thread. */
typedef struct worker {
    serve_context *ctx;
    handler h;
    const char *body;
    char *answer;
} worker;

static char *answer(handler h, serve_context *ctx, const char *body)
{
    json_t *request = json_loads(body, 0, NULL);
    serve_response r = h(ctx, request);
    json_decref(request);
    char *text = r.status == 200 ? json_dumps(r.body, JSON_SORT_KEYS) : NULL;
    serve_response_free(&r);
    return text;
}

static void *work(void *p)
{
    worker *w = p;
    w->answer = answer(w->h, w->ctx, w->body);
    return NULL;
}

/* Handlers running at once on several threads answer as they do one at a time. */
static void test_concurrent_requests(void **state)
{
    apps_state *s = *state;
    semb_index *index = build_index(s->model, s->dir, "threads.idx", NULL, false);
    serve_context *ctx = make_context(s->model, index, 8, false);
    const struct { handler h; const char *body; } requests[] = {
        {serve_similarity, "{\"source\": \"a cat\", \"candidates\": [\"a dog\", \"stocks\"]}"},
        {serve_rank, RANK_REQUEST ", \"top_k\": 3}"},
        {serve_search, "{\"query\": \"beer\", \"k\": 4}"},
        {serve_cluster, "{" CLUSTER_TEXTS ", \"k\": 3}"},
        {serve_bias, "{\"occupations\": [\"nurse\", \"pilot\"]}"},
    };
    enum { KINDS = sizeof requests / sizeof requests[0], COPIES = 3 };
    char *want[KINDS];
    for (size_t i = 0; i < KINDS; i++)
        assert_non_null(want[i] = answer(requests[i].h, ctx, requests[i].body));
    worker workers[KINDS * COPIES];
    pthread_t threads[KINDS * COPIES];
    for (size_t i = 0; i < KINDS * COPIES; i++) {
        workers[i] = (worker){ctx, requests[i % KINDS].h, requests[i % KINDS].body, NULL};
        assert_int_equal(pthread_create(&threads[i], NULL, work, &workers[i]), 0);
    }
    for (size_t i = 0; i < KINDS * COPIES; i++) {
        assert_int_equal(pthread_join(threads[i], NULL), 0);
        assert_non_null(workers[i].answer);
        assert_string_equal(workers[i].answer, want[i % KINDS]);
        free(workers[i].answer);
    }
    for (size_t i = 0; i < KINDS; i++)
        free(want[i]);
    serve_context_free(ctx);
    semb_index_close(index);
}

int main(void)
{
    int skip = test_require_shared("test_serve_apps");
    if (skip)
        return skip;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_similarity_scores),
        cmocka_unit_test(test_similarity_errors),
        cmocka_unit_test(test_reject_long),
        cmocka_unit_test(test_rank_results),
        cmocka_unit_test(test_rank_prompts),
        cmocka_unit_test(test_rank_errors),
        cmocka_unit_test(test_search_results),
        cmocka_unit_test(test_search_graph),
        cmocka_unit_test(test_search_errors),
        cmocka_unit_test(test_cluster_kmeans),
        cmocka_unit_test(test_cluster_community),
        cmocka_unit_test(test_cluster_errors),
        cmocka_unit_test(test_bias_default_lists),
        cmocka_unit_test(test_bias_own_lists),
        cmocka_unit_test(test_bias_errors),
        cmocka_unit_test(test_nan_model_is_internal_error),
        cmocka_unit_test(test_concurrent_requests),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
