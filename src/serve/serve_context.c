#include "serve/serve_api.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "serve/serve_metrics.h"

struct serve_context {
    semb_model *model;
    semb_index *index;
    char *name;
    serve_limits limits;
    char *api_key; /* NULL: none */
    serve_metrics *metrics;
    pthread_mutex_t model_lock; /* one encoder: semb_encode reuses the model's workspace */
};

serve_limits serve_limits_default(void)
{
    return (serve_limits){.max_body = 1u << 20, .max_inputs = 2048, .max_batch = 64,
                          .reject_long = false, .batch_window_ms = 2.0};
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
    if (st) {
        free(ctx->name);
        free(ctx);
        return st;
    }
    ctx->model = model;
    ctx->index = index;
    ctx->limits = *limits;
    pthread_mutex_init(&ctx->model_lock, NULL);
    *out = ctx;
    return SEMB_OK;
}

void serve_context_free(serve_context *ctx)
{
    if (!ctx)
        return;
    pthread_mutex_lock(&ctx->model_lock); /* nothing is encoding past this point */
    pthread_mutex_unlock(&ctx->model_lock);
    pthread_mutex_destroy(&ctx->model_lock);
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

semb_model *serve_model_acquire(serve_context *ctx)
{
    pthread_mutex_lock(&ctx->model_lock);
    return ctx->model;
}

void serve_model_release(serve_context *ctx)
{
    pthread_mutex_unlock(&ctx->model_lock);
}

semb_status serve_encode(serve_context *ctx, const char *const *texts, const size_t *lengths,
                         size_t n, const char *prompt, float *out, size_t *tokens,
                         size_t *truncated, semb_error *err)
{
    int limit = semb_model_max_seq_length(ctx->model);
    size_t total = 0, cut = 0;
    for (size_t i = 0; i < n; i++) {
        size_t count = 0;
        size_t length = lengths ? lengths[i] : strlen(texts[i]);
        semb_status st = semb_count_tokens(ctx->model, texts[i], length, &count, err);
        if (st)
            return semb_fail_prefix(err, "input %zu: ", i);
        cut += count > (size_t)limit;
        total += count > (size_t)limit ? (size_t)limit : count;
    }
    semb_encode_options o = {.batch_size = ctx->limits.max_batch, .prompt = prompt};
    semb_model *m = serve_model_acquire(ctx);
    semb_status st = semb_encode(m, texts, lengths, n, out, &o, err);
    serve_model_release(ctx);
    if (!st)
        serve_metrics_batch(ctx->metrics, n, total);
    if (tokens)
        *tokens = total;
    if (truncated)
        *truncated = cut;
    return st;
}

serve_response serve_error(int status, const char *code, const char *fmt, ...)
{
    char message[512];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
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
