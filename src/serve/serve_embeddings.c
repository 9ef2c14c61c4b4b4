/* POST /v1/embeddings, as OpenAI's embeddings API: a string or an array of strings in, one
 * embedding per input out (float arrays, or base64 of little-endian float32 as the OpenAI
 * clients ask for by default), optional Matryoshka truncation (dimensions), usage in tokens.
 * Fields are checked one by one and every error names the field; optional fields may be
 * null (as absent), and fields OpenAI has that mean nothing here (user) are ignored. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_api.h"

typedef struct embeddings_request {
    const char **texts; /* borrowed from the request's JSON strings */
    size_t *lengths;
    size_t n;
    bool base64;
    int dimensions; /* values kept per embedding: the model's dimension unless asked */
} embeddings_request;

static void embeddings_request_free(embeddings_request *req)
{
    free(req->texts);
    free(req->lengths);
}

static const json_t *optional_field(const json_t *request, const char *name)
{
    const json_t *value = json_object_get(request, name);
    return json_is_null(value) ? NULL : value;
}

/* input: a string, or an array of 1..max_inputs strings. False with *bad filled when not. */
static bool parse_input(const json_t *input, int max_inputs, embeddings_request *req,
                        serve_response *bad)
{
    static const char *const wrong = "input must be a string or an array of strings";
    if (!input) {
        *bad = serve_error(400, "missing_field", "input is required");
        return false;
    }
    if (!json_is_string(input) && !json_is_array(input)) {
        *bad = serve_error(400, "wrong_type", "%s", wrong);
        return false;
    }
    size_t n = json_is_string(input) ? 1 : json_array_size(input);
    if (n == 0) {
        *bad = serve_error(400, "invalid_value", "input is an empty array: give at least one text");
        return false;
    }
    if (n > (size_t)max_inputs) {
        *bad = serve_error(400, "too_many_inputs", "input has %zu texts; at most %d are allowed",
                           n, max_inputs);
        return false;
    }
    req->texts = malloc(n * sizeof *req->texts);
    req->lengths = malloc(n * sizeof *req->lengths);
    if (!req->texts || !req->lengths) {
        *bad = serve_error(500, "internal", "out of memory");
        return false;
    }
    for (size_t i = 0; i < n; i++) {
        const json_t *text = json_is_string(input) ? input : json_array_get(input, i);
        if (!json_is_string(text)) {
            *bad = serve_error(400, "wrong_type", "input[%zu] is not a string: %s", i, wrong);
            return false;
        }
        req->texts[i] = json_string_value(text);
        req->lengths[i] = json_string_length(text);
    }
    req->n = n;
    return true;
}

/* model, encoding_format and dimensions. False with *bad filled when one is unusable. */
static bool parse_options(serve_context *ctx, const json_t *request, embeddings_request *req,
                          serve_response *bad)
{
    const json_t *model = optional_field(request, "model");
    const char *name = serve_context_name(ctx);
    if (model && !json_is_string(model)) {
        *bad = serve_error(400, "wrong_type", "model must be a string");
        return false;
    }
    if (model && strcmp(json_string_value(model), name) != 0) {
        *bad = serve_error(404, "model_not_found",
                           "The model '%.200s' does not exist: this server serves '%.200s'",
                           json_string_value(model), name);
        return false;
    }
    const json_t *format = optional_field(request, "encoding_format");
    if (format && !json_is_string(format)) {
        *bad = serve_error(400, "wrong_type", "encoding_format must be a string");
        return false;
    }
    const char *format_name = format ? json_string_value(format) : "float";
    req->base64 = strcmp(format_name, "base64") == 0;
    if (!req->base64 && strcmp(format_name, "float") != 0) {
        *bad = serve_error(400, "invalid_value",
                           "encoding_format must be \"float\" or \"base64\", not \"%.100s\"",
                           format_name);
        return false;
    }
    int dim = semb_model_dimension(serve_context_model(ctx));
    const json_t *dimensions = optional_field(request, "dimensions");
    req->dimensions = dim;
    if (dimensions && !json_is_integer(dimensions)) {
        *bad = serve_error(400, "wrong_type", "dimensions must be an integer");
        return false;
    }
    if (dimensions) {
        json_int_t asked = json_integer_value(dimensions);
        if (asked < 1 || asked > dim) {
            *bad = serve_error(400, "invalid_value", "dimensions must be from 1 to %d, not %lld",
                               dim, (long long)asked);
            return false;
        }
        req->dimensions = (int)asked;
    }
    return true;
}

/* With --reject-long: the first text over the model's max sequence length is an error. */
static bool check_lengths(serve_context *ctx, const embeddings_request *req,
                          serve_response *bad)
{
    size_t *counts = malloc(req->n * sizeof *counts);
    if (!counts) {
        *bad = serve_error(500, "internal", "out of memory");
        return false;
    }
    semb_error err = {0};
    semb_status st = serve_count_tokens(ctx, req->texts, req->lengths, req->n, NULL, counts, &err);
    size_t limit = (size_t)semb_model_max_seq_length(serve_context_model(ctx)), i = 0;
    while (!st && i < req->n && counts[i] <= limit)
        i++;
    free(counts);
    if (st == SEMB_ERR_INPUT)
        *bad = serve_error(400, "invalid_utf8", "%s", err.message);
    else if (st)
        *bad = serve_error(500, "internal", "%s", err.message);
    else if (i < req->n)
        *bad = serve_error(400, "input_too_long",
                           "input[%zu] has more than %zu tokens (the model's max sequence "
                           "length); this server refuses long inputs instead of truncating them",
                           i, limit);
    return !st && i == req->n;
}

/* Matryoshka truncation: row i's first keep values move to rows + i * keep; each is scaled
 * back to unit length when the model's output is normalised (by its norm, at least 1e-12,
 * as sentence-transformers' Normalize). */
static void truncate_rows(float *rows, size_t n, int dim, int keep, bool normalize)
{
    for (size_t i = 0; i < n; i++) {
        float *row = rows + i * (size_t)keep;
        memmove(row, rows + i * (size_t)dim, (size_t)keep * sizeof *row);
        if (!normalize)
            continue;
        double squares = 0.0;
        for (int j = 0; j < keep; j++)
            squares += (double)row[j] * row[j];
        double norm = fmax(sqrt(squares), 1e-12);
        for (int j = 0; j < keep; j++)
            row[j] = (float)(row[j] / norm);
    }
}

/* Standard base64 (RFC 4648: A-Z a-z 0-9 + /, '=' padding) of n floats as little-endian
 * float32, as OpenAI's encoding_format "base64". malloc'd; NULL when out of memory. */
static char *base64_floats(const float *values, size_t n)
{
    static const char digits[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    size_t size = n * 4;
    unsigned char *bytes = malloc(size ? size : 1);
    char *text = malloc((size + 2) / 3 * 4 + 1);
    if (!bytes || !text) {
        free(bytes);
        free(text);
        return NULL;
    }
    for (size_t i = 0; i < n; i++) {
        uint32_t bits;
        memcpy(&bits, &values[i], sizeof bits);
        for (int b = 0; b < 4; b++)
            bytes[4 * i + (size_t)b] = (unsigned char)(bits >> (8 * b));
    }
    char *o = text;
    for (size_t i = 0; i < size; i += 3) {
        uint32_t group = (uint32_t)bytes[i] << 16;
        if (i + 1 < size)
            group |= (uint32_t)bytes[i + 1] << 8;
        if (i + 2 < size)
            group |= bytes[i + 2];
        *o++ = digits[group >> 18 & 63];
        *o++ = digits[group >> 12 & 63];
        *o++ = i + 1 < size ? digits[group >> 6 & 63] : '=';
        *o++ = i + 2 < size ? digits[group & 63] : '=';
    }
    *o = '\0';
    free(bytes);
    return text;
}

/* One embedding's JSON value; NULL when out of memory or a value is not finite. */
static json_t *embedding_value(const float *values, int n, bool base64)
{
    if (base64) {
        char *text = base64_floats(values, (size_t)n);
        json_t *value = text ? json_string(text) : NULL;
        free(text);
        return value;
    }
    json_t *array = json_array();
    for (int j = 0; array && j < n; j++)
        if (json_array_append_new(array, json_real(values[j])) != 0) {
            json_decref(array);
            array = NULL;
        }
    return array;
}

/* The 200 body: {"object": "list", "data": [...], "model", "usage", "semb" when truncated}. */
static serve_response embeddings_response(serve_context *ctx, const embeddings_request *req,
                                          const float *rows, size_t tokens, size_t truncated)
{
    json_t *data = json_array();
    json_t *body = json_pack("{s:s, s:o, s:s, s:{s:I, s:I}}", "object", "list", "data", data,
                             "model", serve_context_name(ctx), "usage", "prompt_tokens",
                             (json_int_t)tokens, "total_tokens", (json_int_t)tokens);
    bool ok = body != NULL;
    for (size_t i = 0; ok && i < req->n; i++) {
        json_t *value = embedding_value(rows + i * (size_t)req->dimensions, req->dimensions,
                                        req->base64);
        ok = value && json_array_append_new(data, json_pack("{s:s, s:I, s:o}", "object",
                                                            "embedding", "index",
                                                            (json_int_t)i, "embedding",
                                                            value)) == 0;
    }
    if (ok && truncated)
        ok = json_object_set_new(body, "semb",
                                 json_pack("{s:I}", "truncated_inputs", (json_int_t)truncated)) ==
             0;
    if (!ok) {
        json_decref(body);
        return serve_error(500, "internal", "cannot build the response (out of memory or an "
                                            "embedding that is not a finite number)");
    }
    return (serve_response){.status = 200, .body = body};
}

/* Encodes the parsed request and answers it. */
static serve_response embed(serve_context *ctx, const embeddings_request *req)
{
    semb_model *model = serve_context_model(ctx);
    int dim = semb_model_dimension(model);
    float *rows = malloc(req->n * (size_t)dim * sizeof *rows);
    if (!rows)
        return serve_error(500, "internal", "out of memory");
    size_t tokens = 0, truncated = 0;
    semb_error err = {0};
    semb_status st = serve_encode(ctx, req->texts, req->lengths, req->n, NULL, rows, &tokens,
                                  &truncated, &err);
    serve_response response;
    if (st == SEMB_ERR_INPUT)
        response = serve_error(400, "invalid_utf8", "%s", err.message);
    else if (st)
        response = serve_error(500, "internal", "%s", err.message);
    else {
        if (req->dimensions < dim)
            truncate_rows(rows, req->n, dim, req->dimensions, semb_model_normalizes(model));
        response = embeddings_response(ctx, req, rows, tokens, truncated);
    }
    free(rows);
    return response;
}

serve_response serve_embeddings(serve_context *ctx, const json_t *request)
{
    if (!json_is_object(request))
        return serve_error(400, "wrong_type", "the request body must be a JSON object");
    embeddings_request req = {0};
    serve_response response;
    if (parse_input(optional_field(request, "input"), serve_context_limits(ctx)->max_inputs,
                    &req, &response) &&
        parse_options(ctx, request, &req, &response) &&
        (!serve_context_limits(ctx)->reject_long || check_lengths(ctx, &req, &response)))
        response = embed(ctx, &req);
    embeddings_request_free(&req);
    return response;
}
