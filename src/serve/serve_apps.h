/* What the application endpoints (serve_apps*.c: /similarity, /rank, /search, /cluster,
 * /bias) share: encoding a request's texts through serve_encode, the --reject-long check,
 * turning library failures into responses, and keeping NaN out of every response. */
#ifndef SEMB_SERVE_SERVE_APPS_H
#define SEMB_SERVE_SERVE_APPS_H

#include <stdbool.h>
#include <stddef.h>

#include "serve/serve_api.h"
#include "serve/serve_json.h"

/* With the server's reject_long limit, 400 input_too_long when one of texts[0..n), with
 * prompt put before it (NULL: the model's default prompt, as serve_encode applies it), has
 * more tokens than the model's max sequence length; field names the text ("field" for one
 * text, "field[i]" in an array when array). Without the limit, always true: long texts are
 * truncated as sentence-transformers does. */
bool serve_apps_check_lengths(serve_context *ctx, const char *field, bool array,
                              const char *const *texts, const size_t *lengths, size_t n,
                              const char *prompt, serve_response *error);

/* Embeds texts[0..n) with prompt (as serve_encode takes it) into *out, malloc'd
 * [n, dimension] (the caller frees it). A model giving a non-finite value is 500 internal;
 * encoding errors become apps' failure responses (serve_apps_failure). */
bool serve_apps_encode(serve_context *ctx, const char *const *texts, const size_t *lengths,
                       size_t n, const char *prompt, float **out, serve_response *error);

/* The response to a failed library call: the user's text (SEMB_ERR_INPUT) is 400
 * invalid_value, anything else 500 internal; err's message either way. */
serve_response serve_apps_failure(semb_status status, const semb_error *err);

/* false with 500 internal ("the model gave a non-finite <what>") unless every one of
 * values[0..n) is finite: JSON has no NaN, and a client must not get one as a score. */
bool serve_apps_finite(const float *values, size_t n, const char *what, serve_response *error);

/* The 200 response with body, or 500 internal when body is NULL (out of memory while
 * building it). */
serve_response serve_apps_ok(json_t *body);

#endif
