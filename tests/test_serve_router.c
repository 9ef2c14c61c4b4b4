/* serve_dispatch without HTTP, on the bert-tiny-mean fixture: every route reaches its
 * handler (a malformed body answered by the router proves the route, whatever the handler
 * does), 404 for unknown paths, 405 with Allow, the API key (missing, wrong, a prefix of it,
 * another scheme; GET /health open; unknown routes hidden behind 401), bodies that are not
 * JSON, not an object, have duplicate keys or invalid UTF-8, /health and /v1/models, and the
 * /metrics counters moving with each request. */
#include "support.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_api.h"

static semb_model *model;

static int setup_model(void **state)
{
    model = test_load_fixture("bert-tiny-mean");
    return 0;
}

static int teardown_model(void **state)
{
    semb_model_free(model);
    return 0;
}

/* A fresh context (fresh metrics) for each test; key NULL: no API key. */
static serve_context *make_context(const char *key)
{
    serve_limits limits = serve_limits_default();
    serve_context *ctx = NULL;
    semb_error err = {0};
    if (serve_context_create(model, NULL, "tiny", &limits, &ctx, &err) ||
        serve_context_set_api_key(ctx, key, &err))
        fail_msg("%s", err.message);
    return ctx;
}

static serve_response call(serve_context *ctx, const char *method, const char *path,
                           const char *authorization, const char *body)
{
    return serve_dispatch(ctx, method, path, authorization, body, body ? strlen(body) : 0);
}

/* r is the contract's error: status, {"error": {"message", "type", "code"}}; freed. */
static void expect_error(serve_response r, int status, const char *code)
{
    assert_int_equal(r.status, status);
    assert_non_null(r.body);
    json_t *e = json_object_get(r.body, "error");
    assert_true(json_is_object(e));
    assert_string_equal(json_string_value(json_object_get(e, "code")), code);
    assert_string_equal(json_string_value(json_object_get(e, "type")),
                        status >= 500 ? "server_error" : "invalid_request_error");
    const char *message = json_string_value(json_object_get(e, "message"));
    assert_non_null(message);
    assert_true(strlen(message) > 0);
    assert_int_equal(json_object_size(r.body), 1);
    serve_response_free(&r);
}

static const char *const post_routes[] = {"/v1/embeddings", "/similarity", "/rank",
                                          "/search", "/cluster", "/bias"};
enum { N_POST = sizeof post_routes / sizeof *post_routes };

static void test_every_post_route_parses_its_body(void **state)
{
    serve_context *ctx = make_context(NULL);
    for (int i = 0; i < N_POST; i++) {
        expect_error(call(ctx, "POST", post_routes[i], NULL, "{\"input\": "), 400,
                     "invalid_json");
        /* a well-formed body reaches the handler: whatever it answers, not a routing error */
        serve_response r = call(ctx, "POST", post_routes[i], NULL, "{}");
        assert_true(r.status != 404 && r.status != 405 && r.status != 401);
        assert_non_null(r.body);
        serve_response_free(&r);
    }
    serve_context_free(ctx);
}

static void test_health_and_models(void **state)
{
    serve_context *ctx = make_context(NULL);
    serve_response r = call(ctx, "GET", "/health", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_null(r.content_type);
    assert_string_equal(json_string_value(json_object_get(r.body, "status")), "ok");
    assert_string_equal(json_string_value(json_object_get(r.body, "model")), "tiny");
    assert_int_equal(json_integer_value(json_object_get(r.body, "dimension")),
                     semb_model_dimension(model));
    assert_int_equal(json_integer_value(json_object_get(r.body, "max_seq_length")),
                     semb_model_max_seq_length(model));
    assert_true(json_is_false(json_object_get(r.body, "index")));
    assert_int_equal(json_object_size(r.body), 5);
    serve_response_free(&r);

    r = call(ctx, "GET", "/v1/models", NULL, NULL);
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.body, "object")), "list");
    json_t *data = json_object_get(r.body, "data");
    assert_int_equal(json_array_size(data), 1);
    json_t *m = json_array_get(data, 0);
    assert_string_equal(json_string_value(json_object_get(m, "id")), "tiny");
    assert_string_equal(json_string_value(json_object_get(m, "object")), "model");
    assert_string_equal(json_string_value(json_object_get(m, "owned_by")), "semb");
    assert_true(json_is_integer(json_object_get(m, "created")));
    serve_response_free(&r);

    /* HEAD is GET (the HTTP layer drops the body) */
    r = call(ctx, "HEAD", "/health", NULL, NULL);
    assert_int_equal(r.status, 200);
    serve_response_free(&r);
    serve_context_free(ctx);
}

static void test_unknown_routes(void **state)
{
    serve_context *ctx = make_context(NULL);
    expect_error(call(ctx, "GET", "/nope", NULL, NULL), 404, "not_found");
    expect_error(call(ctx, "GET", "/health/", NULL, NULL), 404, "not_found");
    expect_error(call(ctx, "POST", "/v1/embedding", NULL, "{}"), 404, "not_found");
    expect_error(call(ctx, "GET", "", NULL, NULL), 404, "not_found");
    expect_error(serve_dispatch(ctx, NULL, NULL, NULL, NULL, 0), 404, "not_found");
    /* the path is quoted back as printable ASCII, cut short: the body stays valid JSON */
    char path[3000];
    memset(path, 'a', sizeof path - 1);
    path[sizeof path - 1] = '\0';
    path[1] = '\xff';
    path[2] = '\n';
    serve_response r = call(ctx, "GET", path, NULL, NULL);
    const char *message = json_string_value(
        json_object_get(json_object_get(r.body, "error"), "message"));
    assert_non_null(strstr(message, "a??aaa"));
    assert_true(strlen(message) < 200);
    assert_non_null(strstr(message, "..."));
    expect_error(r, 404, "not_found");
    serve_context_free(ctx);
}

static void expect_405(serve_context *ctx, const char *method, const char *path,
                       const char *allow)
{
    serve_response r = call(ctx, method, path, NULL, NULL);
    assert_non_null(r.allow);
    assert_string_equal(r.allow, allow);
    expect_error(r, 405, "method_not_allowed");
}

static void test_wrong_method(void **state)
{
    serve_context *ctx = make_context(NULL);
    expect_405(ctx, "POST", "/health", "GET, HEAD");
    expect_405(ctx, "DELETE", "/", "GET, HEAD");
    expect_405(ctx, "PUT", "/metrics", "GET, HEAD");
    expect_405(ctx, "post", "/v1/models", "GET, HEAD"); /* methods are case-sensitive */
    for (int i = 0; i < N_POST; i++)
        expect_405(ctx, "GET", post_routes[i], "POST");
    expect_405(ctx, "OPTIONS", "/v1/embeddings", "POST");
    serve_context_free(ctx);
}

static void expect_status(serve_response r, int status)
{
    assert_int_equal(r.status, status);
    serve_response_free(&r);
}

static void test_api_key(void **state)
{
    serve_context *ctx = make_context("s3cret-key");
    expect_error(call(ctx, "GET", "/v1/models", NULL, NULL), 401, "unauthorized");
    const char *wrong[] = {"Bearer s3cret-ke",  "Bearer s3cret-keyy", "Bearer S3cret-key",
                           "Basic s3cret-key",  "s3cret-key",         "Bearer",
                           "Bearer ",           "",                   "Bearers3cret-key",
                           "Bearer s3cret-key x"};
    for (size_t i = 0; i < sizeof wrong / sizeof *wrong; i++)
        expect_error(call(ctx, "GET", "/v1/models", wrong[i], NULL), 401, "unauthorized");
    expect_status(call(ctx, "GET", "/v1/models", "Bearer s3cret-key", NULL), 200);
    expect_status(call(ctx, "GET", "/v1/models", "bearer   s3cret-key ", NULL), 200);
    expect_status(call(ctx, "GET", "/metrics", "Bearer s3cret-key", NULL), 200);
    /* every route but GET /health and the page: POST routes, the metrics; the page is
     * static and sends the key the user types with each of its API calls */
    expect_error(call(ctx, "POST", "/v1/embeddings", NULL, "{\"input\": \"x\"}"), 401,
                 "unauthorized");
    expect_status(call(ctx, "GET", "/", NULL, NULL), 200);
    expect_error(call(ctx, "GET", "/metrics", "Bearer nope", NULL), 401, "unauthorized");
    expect_status(call(ctx, "GET", "/health", NULL, NULL), 200);
    expect_status(call(ctx, "HEAD", "/health", NULL, NULL), 200);
    expect_error(call(ctx, "POST", "/health", NULL, NULL), 401, "unauthorized");
    /* unauthenticated clients learn nothing of the routes: 401 before 404 and 405 */
    expect_error(call(ctx, "GET", "/nope", NULL, NULL), 401, "unauthorized");
    expect_error(call(ctx, "GET", "/v1/embeddings", NULL, NULL), 401, "unauthorized");
    expect_error(call(ctx, "GET", "/nope", "Bearer s3cret-key", NULL), 404, "not_found");
    /* the router runs after the key: a bad body with the key is the router's 400 */
    expect_error(call(ctx, "POST", "/rank", "Bearer s3cret-key", "nope"), 400, "invalid_json");
    /* an empty key is no key */
    semb_error err = {0};
    assert_int_equal(serve_context_set_api_key(ctx, "", &err), SEMB_OK);
    expect_status(call(ctx, "GET", "/v1/models", NULL, NULL), 200);
    serve_context_free(ctx);
}

static void test_bodies_that_are_not_requests(void **state)
{
    serve_context *ctx = make_context(NULL);
    const char *route = "/v1/embeddings";
    expect_error(call(ctx, "POST", route, NULL, NULL), 400, "invalid_json");
    expect_error(call(ctx, "POST", route, NULL, ""), 400, "invalid_json");
    expect_error(call(ctx, "POST", route, NULL, "   "), 400, "invalid_json");
    expect_error(call(ctx, "POST", route, NULL, "{\"input\": \"a\"} x"), 400, "invalid_json");
    expect_error(call(ctx, "POST", route, NULL, "{'input': 'a'}"), 400, "invalid_json");
    expect_error(call(ctx, "POST", route, NULL, "{\"input\": \"a\", \"input\": \"b\"}"), 400,
                 "invalid_json");
    expect_error(call(ctx, "POST", route, NULL, "{\"input\": \"a\\u0000b\"}"), 400,
                 "invalid_json");
    expect_error(call(ctx, "POST", route, NULL, "{\"n\": 1e999}"), 400, "invalid_json");
    expect_error(call(ctx, "POST", route, NULL, "[\"a\"]"), 400, "wrong_type");
    expect_error(call(ctx, "POST", route, NULL, "\"a\""), 400, "wrong_type");
    expect_error(call(ctx, "POST", route, NULL, "null"), 400, "wrong_type");
    expect_error(call(ctx, "POST", route, NULL, "{\"input\": \"caf\xc3\"}"), 400,
                 "invalid_utf8");
    expect_error(call(ctx, "POST", route, NULL, "{\"input\": \"\xed\xa0\x80\"}"), 400,
                 "invalid_utf8"); /* an encoded surrogate */
    expect_error(call(ctx, "POST", route, NULL, "\xff{}"), 400, "invalid_utf8");
    /* bytes after a NUL are still the body's */
    expect_error(serve_dispatch(ctx, "POST", route, NULL, "{}\0{}", 5), 400, "invalid_json");
    /* nesting far beyond any parser's stack: an error, not a crash */
    size_t depth = 200000;
    char *deep = malloc(depth + 1);
    memset(deep, '[', depth);
    deep[depth] = '\0';
    expect_error(call(ctx, "POST", route, NULL, deep), 400, "invalid_json");
    free(deep);
    /* a GET ignores its body */
    expect_status(call(ctx, "GET", "/health", NULL, "not json"), 200);
    serve_context_free(ctx);
}

/* The value of one exposition line "NAME VALUE" (the first line starting with name). */
static long metric_value(const char *text, const char *name)
{
    size_t n = strlen(name);
    for (const char *line = text; *line;) {
        if (strncmp(line, name, n) == 0 && line[n] == ' ')
            return atol(line + n + 1);
        const char *next = strchr(line, '\n');
        if (!next)
            break;
        line = next + 1;
    }
    return -1;
}

/* A message quoting bytes that are not UTF-8, or cut inside a character by the message
 * buffer, still gives its error body (bad bytes become '?'), never a NULL body. */
static void test_error_messages_stay_json(void **state)
{
    (void)state;
    serve_response r = serve_error(400, "invalid_value", "bad bytes \xff\xfe here");
    assert_non_null(r.body);
    const char *m = json_string_value(json_object_get(json_object_get(r.body, "error"), "message"));
    assert_string_equal(m, "bad bytes ?? here");
    expect_error(r, 400, "invalid_value"); /* frees r */
    char long_text[600];
    memset(long_text, 'a', sizeof long_text);
    memcpy(long_text + 509, "\xc3\xa9\xc3\xa9", 4); /* an e-acute across byte 511 */
    long_text[599] = '\0';
    expect_error(serve_error(404, "not_found", "%s", long_text), 404, "not_found");
}

static void test_metrics_count_requests(void **state)
{
    serve_context *ctx = make_context("k");
    expect_status(call(ctx, "GET", "/health", NULL, NULL), 200);
    expect_status(call(ctx, "GET", "/health", NULL, NULL), 200);
    expect_status(call(ctx, "GET", "/nope", "Bearer k", NULL), 404);
    expect_status(call(ctx, "GET", "/v1/models", NULL, NULL), 401);
    expect_status(call(ctx, "POST", "/similarity", "Bearer k", "{"), 400);
    serve_response r = call(ctx, "GET", "/metrics", "Bearer k", NULL);
    assert_int_equal(r.status, 200);
    assert_null(r.body);
    assert_non_null(r.text);
    assert_int_equal(r.text_length, strlen(r.text));
    assert_string_equal(r.content_type, "text/plain; version=0.0.4");
    const char *t = r.text;
    assert_int_equal(metric_value(t, "semb_requests_total{endpoint=\"/health\",status=\"200\"}"),
                     2);
    assert_int_equal(metric_value(t, "semb_requests_total{endpoint=\"other\",status=\"404\"}"),
                     1);
    assert_int_equal(
        metric_value(t, "semb_requests_total{endpoint=\"/v1/models\",status=\"401\"}"), 1);
    assert_int_equal(
        metric_value(t, "semb_requests_total{endpoint=\"/similarity\",status=\"400\"}"), 1);
    assert_int_equal(metric_value(t, "semb_request_errors_total"), 3);
    /* the page itself is counted once it is answered */
    assert_int_equal(metric_value(t, "semb_request_duration_seconds_count"), 5);
    serve_response_free(&r);
    r = call(ctx, "GET", "/metrics", "Bearer k", NULL);
    assert_int_equal(metric_value(r.text, "semb_request_duration_seconds_count"), 6);
    assert_int_equal(
        metric_value(r.text, "semb_requests_total{endpoint=\"/metrics\",status=\"200\"}"), 1);
    serve_response_free(&r);
    serve_context_free(ctx);
}

int main(void)
{
    int skip = test_require_shared("test_serve_router");
    if (skip)
        return skip;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_every_post_route_parses_its_body),
        cmocka_unit_test(test_health_and_models),
        cmocka_unit_test(test_unknown_routes),
        cmocka_unit_test(test_wrong_method),
        cmocka_unit_test(test_api_key),
        cmocka_unit_test(test_bodies_that_are_not_requests),
        cmocka_unit_test(test_metrics_count_requests),
        cmocka_unit_test(test_error_messages_stay_json),
    };
    return cmocka_run_group_tests(tests, setup_model, teardown_model);
}
