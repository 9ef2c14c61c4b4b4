/* POST /v1/embeddings at the handler: the OpenAI response shape, values equal to semb_encode's,
 * base64 (hand-checked strings, and decoded back to the floats), dimensions (Matryoshka
 * truncation, re-normalised only for a normalising model), usage and the truncation report,
 * --reject-long, and every error of the contract for this endpoint. */
#include "support.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_api.h"

typedef struct fixture {
    semb_model *mean; /* normalises */
    semb_model *cls;  /* does not */
} fixture;

static int setup_models(void **state)
{
    fixture *f = calloc(1, sizeof *f);
    f->mean = test_load_fixture("bert-tiny-mean");
    f->cls = test_load_fixture("bert-tiny-cls");
    *state = f;
    return 0;
}

static int teardown_models(void **state)
{
    fixture *f = *state;
    semb_model_free(f->mean);
    semb_model_free(f->cls);
    free(f);
    return 0;
}

static serve_context *make_context(semb_model *m, int max_inputs, bool reject_long)
{
    serve_limits limits = serve_limits_default();
    limits.max_inputs = max_inputs;
    limits.reject_long = reject_long;
    limits.batch_window_ms = 0.0;
    serve_context *ctx = NULL;
    semb_error err = {0};
    if (serve_context_create(m, NULL, "tiny-model", &limits, &ctx, &err))
        fail_msg("%s", err.message);
    return ctx;
}

/* The handler's answer to a JSON text. */
static serve_response post(serve_context *ctx, const char *json)
{
    json_error_t jerr;
    json_t *request = json_loads(json, JSON_DECODE_ANY, &jerr);
    if (!request)
        fail_msg("bad test JSON %s: %s", json, jerr.text);
    serve_response r = serve_embeddings(ctx, request);
    json_decref(request);
    assert_non_null(r.body);
    return r;
}

/* Checks an error answer: status, code, the OpenAI error shape, and that the message
 * mentions what (the field). */
static void expect_error(serve_context *ctx, const char *json, int status, const char *code,
                         const char *what)
{
    serve_response r = post(ctx, json);
    const char *message = NULL, *type = NULL, *got_code = NULL;
    if (json_unpack(r.body, "{s:{s:s, s:s, s:s}}", "error", "message", &message, "type", &type,
                    "code", &got_code) != 0)
        fail_msg("%s: not an error body", json);
    if (r.status != status || strcmp(got_code, code) != 0)
        fail_msg("%s: got %d %s (%s), want %d %s", json, r.status, got_code, message, status,
                 code);
    assert_string_equal(type, status >= 500 ? "server_error" : "invalid_request_error");
    if (!strstr(message, what))
        fail_msg("%s: message '%s' does not mention '%s'", json, message, what);
    serve_response_free(&r);
}

/* semb_encode of texts, the reference: n * dim floats, malloc'd. */
static float *reference(semb_model *m, const char *const *texts, size_t n)
{
    float *out = malloc(n * (size_t)semb_model_dimension(m) * sizeof *out);
    semb_error err = {0};
    if (semb_encode(m, texts, NULL, n, out, NULL, &err))
        fail_msg("%s", err.message);
    return out;
}

static size_t encoded_tokens(const semb_model *m, const char *text)
{
    size_t count = 0;
    assert_int_equal(semb_count_tokens(m, text, strlen(text), &count, NULL), SEMB_OK);
    size_t limit = (size_t)semb_model_max_seq_length(m);
    return count > limit ? limit : count;
}

/* Standard base64 back to bytes; fails the test on a character outside the alphabet, a
 * length not a multiple of 4, or misplaced padding. Returns the byte count. */
static size_t base64_decode(const char *text, unsigned char *out)
{
    size_t length = strlen(text), n = 0;
    assert_int_equal(length % 4, 0);
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    for (size_t i = 0; i < length; i += 4) {
        unsigned value = 0;
        int pad = 0;
        for (int k = 0; k < 4; k++) {
            char c = text[i + (size_t)k];
            if (c == '=') {
                assert_true(i + 4 == length && k >= 2);
                pad++;
                value <<= 6;
                continue;
            }
            assert_int_equal(pad, 0);
            const char *at = strchr(digits, c);
            assert_true(at && c);
            value = value << 6 | (unsigned)(at - digits);
        }
        out[n++] = (unsigned char)(value >> 16);
        if (pad < 2)
            out[n++] = (unsigned char)(value >> 8);
        if (pad < 1)
            out[n++] = (unsigned char)value;
    }
    return n;
}

static float little_endian_float(const unsigned char *bytes)
{
    uint32_t bits = (uint32_t)bytes[0] | (uint32_t)bytes[1] << 8 | (uint32_t)bytes[2] << 16 |
                    (uint32_t)bytes[3] << 24;
    float value;
    memcpy(&value, &bits, sizeof value);
    return value;
}

/* data[i].embedding as floats into out (n values expected). */
static void float_embedding(const json_t *item, int n, float *out)
{
    const json_t *array = json_object_get(item, "embedding");
    assert_true(json_is_array(array));
    assert_int_equal(json_array_size(array), n);
    for (int j = 0; j < n; j++) {
        const json_t *value = json_array_get(array, (size_t)j);
        assert_true(json_is_real(value));
        out[j] = (float)json_real_value(value);
    }
}

/* ---- the response ---- */

static void test_response_shape_and_values(void **state)
{
    fixture *f = *state;
    serve_context *ctx = make_context(f->mean, 16, false);
    const char *texts[] = {"A man is playing a guitar.", "Un café, s'il vous plaît!",
                           "dogs 🐕 run"};
    float *want = reference(f->mean, texts, 3);
    int dim = semb_model_dimension(f->mean);
    serve_response r = post(ctx, "{\"input\": [\"A man is playing a guitar.\", \"Un caf\\u00e9, "
                                 "s'il vous pla\\u00eet!\", \"dogs \\ud83d\\udc15 run\"], "
                                 "\"model\": \"tiny-model\", \"user\": \"someone\"}");
    assert_int_equal(r.status, 200);
    assert_string_equal(json_string_value(json_object_get(r.body, "object")), "list");
    assert_string_equal(json_string_value(json_object_get(r.body, "model")), "tiny-model");
    assert_null(json_object_get(r.body, "semb"));
    json_t *data = json_object_get(r.body, "data");
    assert_int_equal(json_array_size(data), 3);
    float *got = malloc((size_t)dim * sizeof *got);
    size_t tokens = 0;
    for (size_t i = 0; i < 3; i++) {
        json_t *item = json_array_get(data, i);
        assert_string_equal(json_string_value(json_object_get(item, "object")), "embedding");
        assert_int_equal(json_integer_value(json_object_get(item, "index")), i);
        float_embedding(item, dim, got);
        assert_memory_equal(got, want + i * (size_t)dim, (size_t)dim * sizeof *got);
        tokens += encoded_tokens(f->mean, texts[i]);
    }
    json_int_t prompt_tokens = -1, total_tokens = -1;
    assert_int_equal(json_unpack(json_object_get(r.body, "usage"), "{s:I, s:I}",
                                 "prompt_tokens", &prompt_tokens, "total_tokens", &total_tokens),
                     0);
    assert_int_equal(prompt_tokens, tokens);
    assert_int_equal(total_tokens, tokens);
    /* 9 significant digits bring each float32 back exactly */
    char *dumped = json_dumps(r.body, JSON_REAL_PRECISION(9));
    json_t *again = json_loads(dumped, 0, NULL);
    float_embedding(json_array_get(json_object_get(again, "data"), 2), dim, got);
    assert_memory_equal(got, want + 2 * (size_t)dim, (size_t)dim * sizeof *got);
    json_decref(again);
    free(dumped);
    serve_response_free(&r);
    free(got);
    free(want);
    serve_context_free(ctx);
}

/* A server started with precision int8 (`semb serve --precision int8`) answers with
 * semb_encode's int8 embeddings, bit for bit, not the fp32 ones. */
static void test_precision_int8(void **state)
{
    fixture *f = *state;
    serve_limits limits = serve_limits_default();
    limits.batch_window_ms = 0.0;
    limits.precision = SEMB_COMPUTE_INT8;
    serve_context *ctx = NULL;
    semb_error err = {0};
    if (serve_context_create(f->mean, NULL, "tiny-model", &limits, &ctx, &err))
        fail_msg("%s", err.message);
    const char *texts[] = {"A man is playing a guitar.", "a second, longer sentence here"};
    int dim = semb_model_dimension(f->mean);
    float *want = malloc(2 * (size_t)dim * sizeof *want), *got = malloc((size_t)dim * sizeof *got);
    semb_encode_options int8 = {.precision = SEMB_COMPUTE_INT8};
    assert_int_equal(semb_encode(f->mean, texts, NULL, 2, want, &int8, &err), SEMB_OK);
    float *fp32 = reference(f->mean, texts, 2);
    assert_memory_not_equal(want, fp32, 2 * (size_t)dim * sizeof *want);
    serve_response r = post(ctx, "{\"input\": [\"A man is playing a guitar.\", "
                                 "\"a second, longer sentence here\"]}");
    assert_int_equal(r.status, 200);
    for (size_t i = 0; i < 2; i++) {
        float_embedding(json_array_get(json_object_get(r.body, "data"), i), dim, got);
        assert_memory_equal(got, want + i * (size_t)dim, (size_t)dim * sizeof *got);
    }
    serve_response_free(&r);
    free(want), free(got), free(fp32);
    serve_context_free(ctx);
}

static void test_single_string_and_null_options(void **state)
{
    fixture *f = *state;
    serve_context *ctx = make_context(f->mean, 16, false);
    const char *text = "just one";
    float *want = reference(f->mean, &text, 1);
    int dim = semb_model_dimension(f->mean);
    serve_response r = post(ctx, "{\"input\": \"just one\", \"model\": null, "
                                 "\"encoding_format\": null, \"dimensions\": null}");
    assert_int_equal(r.status, 200);
    json_t *data = json_object_get(r.body, "data");
    assert_int_equal(json_array_size(data), 1);
    float *got = malloc((size_t)dim * sizeof *got);
    float_embedding(json_array_get(data, 0), dim, got);
    assert_memory_equal(got, want, (size_t)dim * sizeof *got);
    serve_response_free(&r);
    /* dimensions equal to the model's: unchanged */
    char json[128];
    snprintf(json, sizeof json, "{\"input\": \"just one\", \"dimensions\": %d}", dim);
    r = post(ctx, json);
    float_embedding(json_array_get(json_object_get(r.body, "data"), 0), dim, got);
    assert_memory_equal(got, want, (size_t)dim * sizeof *got);
    serve_response_free(&r);
    free(got);
    free(want);
    serve_context_free(ctx);
}

static void test_base64(void **state)
{
    fixture *f = *state;
    serve_context *ctx = make_context(f->cls, 16, false);
    const char *texts[] = {"first text", "second, longer text here"};
    float *want = reference(f->cls, texts, 2);
    int dim = semb_model_dimension(f->cls);
    serve_response r = post(ctx, "{\"input\": [\"first text\", \"second, longer text here\"], "
                                 "\"encoding_format\": \"base64\"}");
    assert_int_equal(r.status, 200);
    unsigned char *bytes = malloc((size_t)dim * 4 + 3);
    for (size_t i = 0; i < 2; i++) {
        json_t *item = json_array_get(json_object_get(r.body, "data"), i);
        const char *text = json_string_value(json_object_get(item, "embedding"));
        assert_non_null(text);
        assert_int_equal(strlen(text), ((size_t)dim * 4 + 2) / 3 * 4);
        assert_int_equal(base64_decode(text, bytes), (size_t)dim * 4);
        for (int j = 0; j < dim; j++)
            assert_true(little_endian_float(bytes + 4 * j) == want[i * (size_t)dim + (size_t)j]);
    }
    serve_response_free(&r);
    /* the three paddings: dimensions 1, 2, 3 of a non-normalising model keep the model's
     * values */
    for (int keep = 1; keep <= 3; keep++) {
        char json[128];
        snprintf(json, sizeof json,
                 "{\"input\": \"first text\", \"encoding_format\": \"base64\", "
                 "\"dimensions\": %d}",
                 keep);
        r = post(ctx, json);
        const char *text = json_string_value(
            json_object_get(json_array_get(json_object_get(r.body, "data"), 0), "embedding"));
        size_t want_chars[] = {0, 8, 12, 16};
        assert_int_equal(strlen(text), want_chars[keep]);
        assert_int_equal(strchr(text, '=') ? strlen(strchr(text, '=')) : 0,
                         keep == 1 ? 2 : keep == 2 ? 1 : 0);
        assert_int_equal(base64_decode(text, bytes), 4 * (size_t)keep);
        for (int j = 0; j < keep; j++)
            assert_true(little_endian_float(bytes + 4 * j) == want[j]);
        serve_response_free(&r);
    }
    free(bytes);
    free(want);
    serve_context_free(ctx);
}

/* One value re-normalised is exactly +1 or -1: the RFC 4648 digits of 1.0f (00 00 80 3f)
 * and -1.0f (00 00 80 bf), by hand. */
static void test_base64_known_strings(void **state)
{
    fixture *f = *state;
    serve_context *ctx = make_context(f->mean, 16, false);
    const char *text = "first text";
    float *full = reference(f->mean, &text, 1);
    serve_response r = post(ctx, "{\"input\": \"first text\", \"encoding_format\": "
                                 "\"base64\", \"dimensions\": 1}");
    const char *got = json_string_value(
        json_object_get(json_array_get(json_object_get(r.body, "data"), 0), "embedding"));
    assert_string_equal(got, full[0] > 0 ? "AACAPw==" : "AACAvw==");
    serve_response_free(&r);
    free(full);
    serve_context_free(ctx);
}

static void test_dimensions(void **state)
{
    fixture *f = *state;
    const char *text = "Matryoshka embeddings keep their meaning when cut";
    for (int normalizing = 0; normalizing < 2; normalizing++) {
        semb_model *m = normalizing ? f->mean : f->cls;
        serve_context *ctx = make_context(m, 16, false);
        float *full = reference(m, &text, 1);
        enum { KEEP = 8 };
        char json[256];
        snprintf(json, sizeof json, "{\"input\": [\"%s\"], \"dimensions\": %d}", text, KEEP);
        serve_response r = post(ctx, json);
        assert_int_equal(r.status, 200);
        float got[KEEP];
        float_embedding(json_array_get(json_object_get(r.body, "data"), 0), KEEP, got);
        double norm = 0.0;
        for (int j = 0; j < KEEP; j++)
            norm += (double)full[j] * full[j];
        norm = sqrt(norm);
        double length = 0.0;
        for (int j = 0; j < KEEP; j++) {
            if (normalizing)
                assert_float_equal(got[j], full[j] / norm, 1e-6);
            else
                assert_true(got[j] == full[j]);
            length += (double)got[j] * got[j];
        }
        if (normalizing)
            assert_float_equal(sqrt(length), 1.0, 1e-6);
        else
            assert_true(fabs(sqrt(length) - 1.0) > 1e-3); /* the cls model's are not unit */
        serve_response_free(&r);
        free(full);
        serve_context_free(ctx);
    }
}

/* A text over the max sequence length (128 tokens) and the truncation report. */
static char *long_text(void)
{
    char *text = malloc(4096);
    text[0] = '\0';
    for (int w = 0; w < 200; w++)
        strcat(text, w % 2 ? "word " : "other ");
    return text;
}

static void test_truncation_report(void **state)
{
    fixture *f = *state;
    serve_context *ctx = make_context(f->mean, 16, false);
    char *text = long_text();
    char json[8192];
    snprintf(json, sizeof json, "{\"input\": [\"short\", \"%s\", \"%s\"]}", text, text);
    serve_response r = post(ctx, json);
    assert_int_equal(r.status, 200);
    json_int_t truncated = -1, tokens = -1;
    assert_int_equal(json_unpack(r.body, "{s:{s:I}, s:{s:I}}", "semb", "truncated_inputs",
                                 &truncated, "usage", "prompt_tokens", &tokens),
                     0);
    assert_int_equal(truncated, 2);
    assert_int_equal(tokens, encoded_tokens(f->mean, "short") + 2 * 128);
    serve_response_free(&r);
    serve_context_free(ctx);

    ctx = make_context(f->mean, 16, true);
    expect_error(ctx, json, 400, "input_too_long", "input[1]");
    r = post(ctx, "{\"input\": [\"short\", \"fine\"]}");
    assert_int_equal(r.status, 200);
    serve_response_free(&r);
    free(text);
    serve_context_free(ctx);
}

/* ---- errors ---- */

static void test_errors(void **state)
{
    fixture *f = *state;
    serve_context *ctx = make_context(f->mean, 3, false);
    const char *wrong = "input must be a string or an array of strings";
    expect_error(ctx, "[\"a\"]", 400, "wrong_type", "JSON object");
    expect_error(ctx, "\"a\"", 400, "wrong_type", "JSON object");
    expect_error(ctx, "{}", 400, "missing_field", "input");
    expect_error(ctx, "{\"input\": null}", 400, "missing_field", "input");
    expect_error(ctx, "{\"input\": 5}", 400, "wrong_type", wrong);
    expect_error(ctx, "{\"input\": {\"text\": \"a\"}}", 400, "wrong_type", wrong);
    expect_error(ctx, "{\"input\": [101, 2023, 102]}", 400, "wrong_type", wrong);
    expect_error(ctx, "{\"input\": [[101, 102]]}", 400, "wrong_type", wrong);
    expect_error(ctx, "{\"input\": [\"a\", null]}", 400, "wrong_type", "input[1]");
    expect_error(ctx, "{\"input\": []}", 400, "invalid_value", "input");
    expect_error(ctx, "{\"input\": [\"a\", \"b\", \"c\", \"d\"]}", 400, "too_many_inputs", "3");
    expect_error(ctx, "{\"input\": \"a\", \"model\": 7}", 400, "wrong_type", "model");
    expect_error(ctx, "{\"input\": \"a\", \"model\": \"text-embedding-3-small\"}", 404,
                 "model_not_found", "text-embedding-3-small");
    expect_error(ctx, "{\"input\": \"a\", \"encoding_format\": \"int8\"}", 400, "invalid_value",
                 "encoding_format");
    expect_error(ctx, "{\"input\": \"a\", \"encoding_format\": true}", 400, "wrong_type",
                 "encoding_format");
    expect_error(ctx, "{\"input\": \"a\", \"dimensions\": 0}", 400, "invalid_value",
                 "dimensions");
    expect_error(ctx, "{\"input\": \"a\", \"dimensions\": -3}", 400, "invalid_value",
                 "dimensions");
    expect_error(ctx, "{\"input\": \"a\", \"dimensions\": 33}", 400, "invalid_value",
                 "dimensions");
    expect_error(ctx, "{\"input\": \"a\", \"dimensions\": 8.0}", 400, "wrong_type",
                 "dimensions");
    expect_error(ctx, "{\"input\": \"a\", \"dimensions\": \"8\"}", 400, "wrong_type",
                 "dimensions");
    expect_error(ctx, "{\"input\": \"a\", \"dimensions\": 99999999999999}", 400,
                 "invalid_value", "dimensions");
    serve_context_free(ctx);
}

/* A JSON string holding bytes that are not UTF-8 (the HTTP layer's parser refuses them; a
 * caller that builds the request itself must get a 400 too, naming the input). */
static void test_invalid_utf8(void **state)
{
    fixture *f = *state;
    for (int reject_long = 0; reject_long < 2; reject_long++) {
        serve_context *ctx = make_context(f->mean, 8, reject_long);
        json_t *request = json_pack("{s:[s, o]}", "input", "fine",
                                    json_stringn_nocheck("bad \xff bytes", 11));
        serve_response r = serve_embeddings(ctx, request);
        const char *code = NULL, *message = NULL;
        assert_int_equal(json_unpack(r.body, "{s:{s:s, s:s}}", "error", "code", &code,
                                     "message", &message),
                         0);
        assert_int_equal(r.status, 400);
        assert_string_equal(code, "invalid_utf8");
        if (!strstr(message, "input 1"))
            fail_msg("message '%s' does not name input 1", message);
        serve_response_free(&r);
        json_decref(request);
        serve_context_free(ctx);
    }
}

int main(void)
{
    int skip = test_require_shared("test_serve_embeddings");
    if (skip)
        return skip;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_response_shape_and_values),
        cmocka_unit_test(test_precision_int8),
        cmocka_unit_test(test_single_string_and_null_options),
        cmocka_unit_test(test_base64),
        cmocka_unit_test(test_base64_known_strings),
        cmocka_unit_test(test_dimensions),
        cmocka_unit_test(test_truncation_report),
        cmocka_unit_test(test_errors),
        cmocka_unit_test(test_invalid_utf8),
    };
    return cmocka_run_group_tests(tests, setup_models, teardown_models);
}
