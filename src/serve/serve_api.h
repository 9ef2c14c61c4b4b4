/* The JSON API behind `semb serve`, independent of HTTP: a context holding the loaded model
 * (and optionally an index), and one handler per endpoint turning a parsed JSON request into
 * a status and a JSON body. The HTTP layer (serve_http.c, libmicrohttpd) only routes, checks
 * limits and the API key, parses bodies and writes responses; tests and the fuzz target call
 * the handlers and serve_dispatch directly.
 *
 * Threads: every handler may run on any of the HTTP server's threads at once. The model is
 * not thread-safe (semb_encode reuses its workspace), so handlers encode only through
 * serve_encode (which batches concurrent requests together for the encoder) or, for library
 * calls that encode by themselves (semb_rank, semb_bias_evaluate, semb_index_search), inside
 * serve_model_acquire / serve_model_release. */
#ifndef SEMB_SERVE_SERVE_API_H
#define SEMB_SERVE_SERVE_API_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "semb.h"

typedef struct serve_limits {
    size_t max_body;    /* bytes of a request body (413 beyond) */
    int max_inputs;     /* texts in one request (400 beyond: code "too_many_inputs") */
    int max_batch;      /* texts the encoder takes in one batch (dynamic batching) */
    bool reject_long;   /* a text over the model's max sequence length: 400 instead of
                           truncating it and reporting it in the response */
    double batch_window_ms; /* how long the batcher waits for more requests to join */
    /* the encoder's arithmetic for every endpoint (semb_encode_options.precision): fp32,
     * bf16 or int8 */
    semb_compute_precision precision;
} serve_limits;

/* --max-body 1 MiB, 2,048 inputs, batch 64, truncate, 2 ms, fp32. */
serve_limits serve_limits_default(void);

typedef struct serve_context serve_context;

/* A context serving model (borrowed; must outlive the context) and index (borrowed, may be
 * NULL: /search then answers 400 "no_index"); name is what /v1/models and responses call
 * the model (copied). Errors: SEMB_ERR_NOMEM, SEMB_ERR_INVALID_ARG (limits out of range),
 * SEMB_ERR_INPUT (the index was built with another model). */
semb_status serve_context_create(semb_model *model, semb_index *index, const char *name,
                                 const serve_limits *limits, serve_context **out,
                                 semb_error *err);

/* Waits for encoding in flight to finish, then frees. NULL is a no-op. */
void serve_context_free(serve_context *ctx);

semb_model *serve_context_model(serve_context *ctx);
semb_index *serve_context_index(serve_context *ctx);
const char *serve_context_name(const serve_context *ctx);
const serve_limits *serve_context_limits(const serve_context *ctx);

/* Embeds n texts (lengths may be NULL: NUL-terminated) into out[n * dimension] through the
 * shared encoder, with prompt as semb_encode_options.prompt (NULL: the model's default).
 * *tokens (may be NULL) receives the tokens encoded, after truncation; *truncated (may be
 * NULL) the number of texts that were truncated. Safe from any thread; concurrent calls are
 * encoded together (serve_batcher.h), with the same bits as encoding each alone. Errors:
 * SEMB_ERR_INPUT naming "input I" (0-based) on invalid UTF-8, checked before queuing so that
 * it fails this call only; SEMB_ERR_NOMEM and semb_encode's others prefixed "encoder: ". */
semb_status serve_encode(serve_context *ctx, const char *const *texts, const size_t *lengths,
                         size_t n, const char *prompt, float *out, size_t *tokens,
                         size_t *truncated, semb_error *err);

/* The prompt encoding applies for prompt: itself, or for NULL the model's default prompt
 * ("" when it has none), as semb_encode_options.prompt does. */
const char *serve_effective_prompt(const serve_context *ctx, const char *prompt);

/* The tokens each text has with prompt prepended (NULL: the model's default, as serve_encode),
 * special tokens included, before truncation, into counts[n]: a text with more than
 * semb_model_max_seq_length tokens will be truncated (or, with limits.reject_long, should be
 * refused before serve_encode). Errors: SEMB_ERR_INPUT naming "input I" (0-based) on invalid
 * UTF-8, SEMB_ERR_NOMEM. */
semb_status serve_count_tokens(serve_context *ctx, const char *const *texts,
                               const size_t *lengths, size_t n, const char *prompt,
                               size_t *counts, semb_error *err);

/* Exclusive use of the model for a library call that encodes by itself; pair every acquire
 * with one release on the same thread, and never call serve_encode in between (the encoder
 * thread would wait for the model forever). First come first served with the encoder. */
semb_model *serve_model_acquire(serve_context *ctx);
void serve_model_release(serve_context *ctx);

/* A handler's answer: an HTTP status and either a JSON body (owned: the caller json_decref's
 * it) or, when body is NULL, text (owned: the caller frees it; static_text instead when the
 * bytes are static, as the web page) with its content type. allow names the methods of a 405. */
typedef struct serve_response {
    int status;
    json_t *body;
    char *text;
    const char *static_text;
    size_t text_length;
    const char *content_type; /* NULL: application/json */
    const char *allow;
} serve_response;

/* Releases what the response owns. */
void serve_response_free(serve_response *r);

/* {"error": {"message": ..., "type": ..., "code": ...}} with status, the OpenAI error shape:
 * type "invalid_request_error" for 4xx, "server_error" for 5xx; code a short machine-readable
 * word ("invalid_json", "missing_field", "wrong_type", "too_many_inputs", ...). Never fails
 * (a body that cannot be allocated becomes a static one). */
serve_response serve_error(int status, const char *code, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* The whole request path without HTTP: checks the API key (authorization is the
 * Authorization header or NULL; compared in constant time when the server has a key), routes
 * method + path (404 unknown route, 405 wrong method), parses the body as JSON (400
 * invalid_json; bodies are checked as UTF-8 by the parser), calls the endpoint's handler and
 * records the request in the metrics. The HTTP layer and the fuzz target call it. */
serve_response serve_dispatch(serve_context *ctx, const char *method, const char *path,
                              const char *authorization, const char *body, size_t length);

/* The server's API key (NULL or "" for none; copied). Errors: SEMB_ERR_NOMEM. */
semb_status serve_context_set_api_key(serve_context *ctx, const char *key, semb_error *err);

/* The key set by serve_context_set_api_key, NULL for none. */
const char *serve_context_api_key(const serve_context *ctx);

/* The metrics of this context (owned by it). */
struct serve_metrics *serve_context_metrics(serve_context *ctx);

/* GET /health, GET /v1/models, GET /metrics (Prometheus text), GET / (the web demo page). */
serve_response serve_health(serve_context *ctx);
serve_response serve_models(serve_context *ctx);
serve_response serve_metrics_page(serve_context *ctx);
serve_response serve_web_page(serve_context *ctx);

/* The endpoints. request is the parsed body (any JSON value: handlers check its type and
 * every field's, answering 400 with a message naming the field). */
serve_response serve_embeddings(serve_context *ctx, const json_t *request); /* POST /v1/embeddings */
serve_response serve_similarity(serve_context *ctx, const json_t *request); /* POST /similarity */
serve_response serve_rank(serve_context *ctx, const json_t *request);       /* POST /rank */
serve_response serve_search(serve_context *ctx, const json_t *request);     /* POST /search */
serve_response serve_cluster(serve_context *ctx, const json_t *request);    /* POST /cluster */
serve_response serve_bias(serve_context *ctx, const json_t *request);       /* POST /bias */

#endif
