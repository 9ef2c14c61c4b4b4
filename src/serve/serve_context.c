#include "serve/serve_api.h"

#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/utf8.h"
#include "serve/serve_batcher.h"
#include "serve/serve_metrics.h"

struct serve_context {
    semb_model *model;
    semb_index *index;
    char *name;
    serve_limits limits;
    char *api_key; /* NULL: none */
    serve_metrics *metrics;
    serve_batcher *batcher; /* the one encoder: semb_encode reuses the model's workspace */
};

serve_limits serve_limits_default(void)
{
    return (serve_limits){.max_body = 1u << 20, .max_inputs = 2048, .max_batch = 64,
                          .reject_long = false, .batch_window_ms = 2.0,
                          .precision = SEMB_COMPUTE_FP32};
}

semb_status serve_context_create(semb_model *model, semb_index *index, const char *name,
                                 const serve_limits *limits, serve_context **out,
                                 semb_error *err)
{
    *out = NULL;
    if (limits->max_body == 0 || limits->max_inputs <= 0 || limits->max_batch <= 0 ||
        !(limits->batch_window_ms >= 0.0))
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "serve: max body, max inputs and max batch must be positive");
    if (index && semb_index_check_model(index, model, name, err))
        return SEMB_ERR_INPUT;
    serve_context *ctx = calloc(1, sizeof *ctx);
    if (!ctx || !(ctx->name = strdup(name ? name : ""))) {
        free(ctx);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    semb_status st = serve_metrics_create(&ctx->metrics, err);
    if (!st)
        st = serve_batcher_create(model, ctx->metrics, limits->max_batch,
                                  limits->batch_window_ms, limits->precision, &ctx->batcher,
                                  err);
    if (st) {
        serve_metrics_free(ctx->metrics);
        free(ctx->name);
        free(ctx);
        return st;
    }
    ctx->model = model;
    ctx->index = index;
    ctx->limits = *limits;
    *out = ctx;
    return SEMB_OK;
}

void serve_context_free(serve_context *ctx)
{
    if (!ctx)
        return;
    serve_batcher_free(ctx->batcher); /* encodes what is queued first */
    serve_metrics_free(ctx->metrics);
    free(ctx->api_key);
    free(ctx->name);
    free(ctx);
}

semb_status serve_context_set_api_key(serve_context *ctx, const char *key, semb_error *err)
{
    char *copy = NULL;
    if (key && *key && !(copy = strdup(key)))
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    free(ctx->api_key);
    ctx->api_key = copy;
    return SEMB_OK;
}

const char *serve_context_api_key(const serve_context *ctx)
{
    return ctx->api_key;
}

struct serve_metrics *serve_context_metrics(serve_context *ctx)
{
    return ctx->metrics;
}

semb_model *serve_context_model(serve_context *ctx)
{
    return ctx->model;
}

semb_index *serve_context_index(serve_context *ctx)
{
    return ctx->index;
}

const char *serve_context_name(const serve_context *ctx)
{
    return ctx->name;
}

const serve_limits *serve_context_limits(const serve_context *ctx)
{
    return &ctx->limits;
}

serve_batcher *serve_context_batcher(serve_context *ctx)
{
    return ctx->batcher;
}

semb_model *serve_model_acquire(serve_context *ctx)
{
    return serve_batcher_model_acquire(ctx->batcher);
}

void serve_model_release(serve_context *ctx)
{
    serve_batcher_model_release(ctx->batcher);
}

/* What semb_encode prepends for prompt: NULL means the model's default prompt. "" for none. */
const char *serve_effective_prompt(const serve_context *ctx, const char *prompt)
{
    const char *name = semb_model_default_prompt_name(ctx->model);
    if (!prompt && name)
        prompt = semb_model_prompt(ctx->model, name);
    return prompt ? prompt : "";
}

semb_status serve_count_tokens(serve_context *ctx, const char *const *texts,
                               const size_t *lengths, size_t n, const char *prompt,
                               size_t *counts, semb_error *err)
{
    prompt = serve_effective_prompt(ctx, prompt);
    size_t prompt_length = strlen(prompt), joined_size = 0;
    char *joined = NULL; /* prompt + text, grown as needed */
    semb_status st = SEMB_OK;
    for (size_t i = 0; i < n && !st; i++) {
        size_t length = lengths ? lengths[i] : strlen(texts[i]);
        const char *text = texts[i];
        if (prompt_length) {
            if (joined_size < prompt_length + length) {
                char *grown = realloc(joined, prompt_length + length);
                if (!grown) {
                    st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
                    break;
                }
                joined = grown;
                joined_size = prompt_length + length;
            }
            memcpy(joined, prompt, prompt_length);
            memcpy(joined + prompt_length, texts[i], length);
            text = joined;
            length += prompt_length;
        }
        if ((st = semb_count_tokens(ctx->model, text, length, &counts[i], err)))
            semb_fail_prefix(err, "input %zu: ", i);
    }
    free(joined);
    return st;
}

semb_status serve_encode(serve_context *ctx, const char *const *texts, const size_t *lengths,
                         size_t n, const char *prompt, float *out, size_t *tokens,
                         size_t *truncated, semb_error *err)
{
    size_t total = 0, cut = 0;
    size_t *counts = malloc((n ? n : 1) * sizeof *counts);
    if (!counts)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    prompt = serve_effective_prompt(ctx, prompt);
    semb_status st = serve_count_tokens(ctx, texts, lengths, n, prompt, counts, err);
    if (!st) {
        size_t limit = (size_t)semb_model_max_seq_length(ctx->model);
        for (size_t i = 0; i < n; i++) {
            cut += counts[i] > limit;
            counts[i] = counts[i] > limit ? limit : counts[i];
            total += counts[i];
        }
        st = serve_batcher_encode(ctx->batcher, texts, lengths, n, prompt, counts, out, err);
    }
    free(counts);
    if (tokens)
        *tokens = st ? 0 : total;
    if (truncated)
        *truncated = st ? 0 : cut;
    return st;
}

serve_response serve_error(int status, const char *code, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    /* A message cut at the buffer's end, or quoting a client's bytes, may not be UTF-8, and
     * jansson refuses such strings: each bad byte becomes '?' so the 4xx is never lost. */
    size_t length = strlen(message), bad;
    while (!utf8_validate(message, length, &bad))
        message[bad] = '?';
    const char *type = status >= 500 ? "server_error" : "invalid_request_error";
    json_t *body = json_pack("{s:{s:s, s:s, s:s}}", "error", "message", message, "type", type,
                             "code", code);
    return (serve_response){.status = status, .body = body};
}

void serve_response_free(serve_response *r)
{
    json_decref(r->body);
    free(r->text);
    *r = (serve_response){0};
}
