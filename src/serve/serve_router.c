/* The request path of `semb serve` without HTTP: API key, route, JSON body, handler,
 * metrics (serve_dispatch); and the three small GET endpoints (health, models, metrics). */
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "core/timer.h"
#include "serve/serve_api.h"
#include "serve/serve_metrics.h"
#include "serve/serve_router.h"

typedef struct route {
    const char *path;
    bool post;                                            /* POST, else GET (and HEAD) */
    serve_response (*page)(serve_context *ctx);           /* GET routes */
    serve_response (*json)(serve_context *ctx, const json_t *request); /* POST routes */
} route;

static const route routes[] = {
    {"/", false, serve_web_page, NULL},
    {"/health", false, serve_health, NULL},
    {"/v1/models", false, serve_models, NULL},
    {"/metrics", false, serve_metrics_page, NULL},
    {"/v1/embeddings", true, NULL, serve_embeddings},
    {"/similarity", true, NULL, serve_similarity},
    {"/rank", true, NULL, serve_rank},
    {"/search", true, NULL, serve_search},
    {"/cluster", true, NULL, serve_cluster},
    {"/bias", true, NULL, serve_bias},
};

static const route *route_find(const char *path)
{
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (strcmp(routes[i].path, path) == 0)
            return &routes[i];
    return NULL;
}

const char *serve_endpoint_label(const char *path)
{
    const route *r = route_find(path ? path : "");
    return r ? r->path : "other";
}

/* HEAD is GET without the body (the HTTP layer drops it), as HTTP requires of a server. */
static bool method_matches(const route *r, const char *method)
{
    if (r->post)
        return strcmp(method, "POST") == 0;
    return strcmp(method, "GET") == 0 || strcmp(method, "HEAD") == 0;
}

/* Client-supplied bytes quoted in an error message: printable ASCII only (the message must
 * stay valid UTF-8 and one line), at most cap - 1 bytes, "..." marking a cut. */
static void quote_client_text(char *out, size_t cap, const char *in)
{
    size_t n = 0, i = 0;
    for (; in[i] && n + 1 < cap; i++)
        out[n++] = in[i] >= 0x20 && in[i] < 0x7f ? in[i] : '?';
    out[n] = '\0';
    if (in[i] && cap > 4)
        memcpy(out + cap - 4, "...", 4);
}

/* Equal in time that depends on the key's length only, never on where the first difference
 * is: an attacker timing 401s learns nothing about the key's bytes. */
static bool same_key(const char *key, const char *given, size_t given_length)
{
    size_t key_length = strlen(key);
    volatile unsigned char diff = key_length != given_length;
    for (size_t i = 0; i < key_length; i++)
        diff |= (unsigned char)key[i] ^ (unsigned char)(i < given_length ? given[i] : 0);
    return diff == 0;
}

/* "Bearer KEY" (the scheme case-insensitive, RFC 7235; spaces before the key skipped). */
static bool authorized(serve_context *ctx, const char *authorization)
{
    const char *key = serve_context_api_key(ctx);
    if (!key)
        return true;
    if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
        return false;
    const char *given = authorization + 7;
    while (*given == ' ')
        given++;
    size_t length = strlen(given);
    while (length && given[length - 1] == ' ')
        length--;
    return same_key(key, given, length);
}

static serve_response parse_error(const json_error_t *e)
{
    if (json_error_code(e) == json_error_invalid_utf8)
        return serve_error(400, "invalid_utf8", "the request body is not valid UTF-8 (byte %d)",
                           e->position);
    char text[JSON_ERROR_TEXT_LENGTH];
    quote_client_text(text, sizeof text, e->text);
    return serve_error(400, "invalid_json", "the request body is not valid JSON: line %d, "
                       "column %d: %s", e->line, e->column, text);
}

/* Duplicate keys are rejected: {"input": "a", "input": "b"} has no one meaning, and a proxy
 * that checks the first while we use the last is a known way to smuggle requests. */
static serve_response call_json(serve_context *ctx, const route *r, const char *body,
                                size_t length)
{
    if (length == 0)
        return serve_error(400, "invalid_json", "the request body is empty: %s expects a JSON "
                           "object", r->path);
    json_error_t e;
    json_t *request = json_loadb(body, length, JSON_REJECT_DUPLICATES | JSON_DECODE_ANY, &e);
    if (!request)
        return parse_error(&e);
    serve_response out;
    if (json_is_object(request))
        out = r->json(ctx, request);
    else
        out = serve_error(400, "wrong_type", "the request body must be a JSON object");
    json_decref(request);
    return out;
}

static serve_response route_request(serve_context *ctx, const route *r, const char *method,
                                    const char *path, const char *authorization,
                                    const char *body, size_t length)
{
    /* /health for probes; / because a browser opening the page cannot send a Bearer header
     * (the page is static: it sends the key the user types with each API call) */
    bool open = r && (r->page == serve_health || r->page == serve_web_page) &&
                method_matches(r, method);
    if (!open && !authorized(ctx, authorization))
        return serve_error(401, "unauthorized", authorization
                               ? "invalid API key"
                               : "this server needs an API key: send 'Authorization: Bearer KEY'");
    if (!r) {
        char quoted[128];
        quote_client_text(quoted, sizeof quoted, path);
        return serve_error(404, "not_found", "no such endpoint: %s", quoted);
    }
    if (!method_matches(r, method)) {
        char quoted[32];
        quote_client_text(quoted, sizeof quoted, method);
        serve_response out = serve_error(405, "method_not_allowed", "%s takes %s, not %s",
                                         r->path, r->post ? "POST" : "GET", quoted);
        out.allow = r->post ? "POST" : "GET, HEAD";
        return out;
    }
    if (r->page)
        return r->page(ctx);
    return call_json(ctx, r, body, length);
}

serve_response serve_dispatch(serve_context *ctx, const char *method, const char *path,
                              const char *authorization, const char *body, size_t length)
{
    double start = timer_seconds();
    method = method ? method : "";
    path = path ? path : "";
    const route *r = route_find(path);
    serve_response out = route_request(ctx, r, method, path, authorization, body, length);
    serve_metrics_request(serve_context_metrics(ctx), r ? r->path : "other", out.status,
                          timer_seconds() - start);
    return out;
}

/* A body jansson could not build (out of memory) is a 500 like any other failure. */
static serve_response json_or_error(json_t *body)
{
    if (!body)
        return serve_error(500, "internal", "out of memory building the response");
    return (serve_response){.status = 200, .body = body};
}

serve_response serve_health(serve_context *ctx)
{
    const semb_model *m = serve_context_model(ctx);
    return json_or_error(json_pack("{s:s, s:s, s:i, s:i, s:b}", "status", "ok", "model",
                                   serve_context_name(ctx), "dimension", semb_model_dimension(m),
                                   "max_seq_length", semb_model_max_seq_length(m), "index",
                                   serve_context_index(ctx) != NULL));
}

serve_response serve_models(serve_context *ctx)
{
    return json_or_error(json_pack("{s:s, s:[{s:s, s:s, s:i, s:s}]}", "object", "list", "data",
                                   "id", serve_context_name(ctx), "object", "model", "created",
                                   0, "owned_by", "semb"));
}

serve_response serve_metrics_page(serve_context *ctx)
{
    char *text = serve_metrics_render(serve_context_metrics(ctx));
    if (!text)
        return serve_error(500, "internal", "out of memory rendering the metrics");
    return (serve_response){.status = 200, .text = text, .text_length = strlen(text),
                            .content_type = "text/plain; version=0.0.4"};
}
