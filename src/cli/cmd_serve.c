/* semb serve: the JSON API of src/serve/ over HTTP until SIGINT or SIGTERM. */
#include <errno.h>
#include <libgen.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli.h"
#include "core/error.h"
#include "core/timer.h"
#include "serve/serve_api.h"
#include "serve/serve_http.h"
#include "text/utf8.h"

typedef struct serve_args {
    const char *model_dir, *host, *index_path, *max_body, *api_key, *name, *precision;
    const char *min_body_rate;
    int port, threads, max_batch, max_inputs, max_connections, timeout, request_timeout;
    int max_per_address;
    size_t body_rate; /* min_body_rate parsed */
    double batch_window_ms;
    bool reject_long;
} serve_args;

/* "1048576", "64k", "16M", "1G" (binary multiples) as bytes; false when it is none of these
 * or is 0. */
static bool parse_size(const char *s, size_t *out)
{
    char *end = NULL;
    errno = 0;
    unsigned long long v = strtoull(s, &end, 10);
    if (errno || end == s || *s == '-')
        return false;
    unsigned shift = 0;
    if (*end && strchr("kK", *end))
        shift = 10;
    else if (*end && strchr("mM", *end))
        shift = 20;
    else if (*end && strchr("gG", *end))
        shift = 30;
    if (shift)
        end++;
    if (*end || v == 0 || v > (SIZE_MAX >> shift))
        return false;
    *out = (size_t)(v << shift);
    return true;
}

static int check_args(serve_args *a, serve_limits *limits)
{
    if (!a->model_dir)
        return cli_failf("serve", "--model is required (see --help)"), 2;
    if (a->port < 0 || a->port > 65535)
        return cli_failf("serve", "--port must be in 0..65535 (got %d; 0 picks a free port)",
                         a->port), 2;
    if (a->max_body && !parse_size(a->max_body, &limits->max_body))
        return cli_failf("serve", "--max-body: '%s' is not a size in bytes (such as 1048576, "
                                  "512k or 4M)", a->max_body), 2;
    if (a->max_batch <= 0 || a->max_inputs <= 0 || a->max_connections <= 0 || a->timeout <= 0 ||
        a->request_timeout <= 0)
        return cli_failf("serve", "--max-batch, --max-inputs, --max-connections, --timeout and "
                                  "--request-timeout must be at least 1"), 2;
    if (a->max_per_address < 0)
        return cli_failf("serve", "--max-per-address must be at least 0 (0: no cap)"), 2;
    if (!parse_size(a->min_body_rate, &a->body_rate) || a->body_rate > UINT32_MAX)
        return cli_failf("serve", "--min-body-rate: '%s' is not a rate in bytes/s (such as "
                                  "16k)", a->min_body_rate), 2;
    if (!(a->batch_window_ms >= 0 && a->batch_window_ms <= 1000))
        return cli_failf("serve", "--batch-window must be in 0..1000 ms"), 2;
    if (a->name && (!*a->name || !utf8_validate(a->name, strlen(a->name), NULL)))
        return cli_failf("serve", "--name must be a non-empty UTF-8 string"), 2;
    if (cli_precision("serve", a->precision, &limits->precision))
        return 2;
    limits->max_batch = a->max_batch;
    limits->max_inputs = a->max_inputs;
    limits->reject_long = a->reject_long;
    limits->batch_window_ms = a->batch_window_ms;
    if (!a->api_key)
        a->api_key = getenv("SEMB_API_KEY");
    return -1;
}

static int parse_args(int argc, char **argv, serve_args *a, serve_limits *limits)
{
    *limits = serve_limits_default();
    *a = (serve_args){.host = "127.0.0.1", .port = 8080, .max_batch = limits->max_batch,
                      .max_inputs = limits->max_inputs, .max_connections = 256, .timeout = 30,
                      .request_timeout = 5, .min_body_rate = "16k", .max_per_address = 64,
                      .batch_window_ms = limits->batch_window_ms, .precision = "fp32"};
    const cli_option options[] = {
        {"--model", CLI_STRING, &a->model_dir, "sentence-transformers model folder (required)"},
        {"--host", CLI_STRING, &a->host,
         "address to listen on (default 127.0.0.1, loopback only; 0.0.0.0 or :: for every "
         "interface)"},
        {"--port", CLI_INT, &a->port, "TCP port (default 8080; 0: any free port)"},
        {"--index", CLI_STRING, &a->index_path,
         "search index from 'semb index build' (built with this model) for POST /search"},
        {"--name", CLI_STRING, &a->name,
         "the model's name in responses and /v1/models (default: the model folder's name)"},
        {"--api-key", CLI_STRING, &a->api_key,
         "require 'Authorization: Bearer KEY' on every route but GET /health (default: env "
         "SEMB_API_KEY; none when unset); the environment keeps it out of ps"},
        {"--max-body", CLI_STRING, &a->max_body,
         "largest request body in bytes, suffix k, M or G allowed (default 1M; larger: 413)"},
        {"--max-inputs", CLI_INT, &a->max_inputs, "texts in one request (default 2048)"},
        {"--max-batch", CLI_INT, &a->max_batch,
         "texts the encoder runs together, from all requests (default 64)"},
        {"--batch-window", CLI_FLOAT, &a->batch_window_ms,
         "ms the encoder waits for more requests to join a batch (default 2)"},
        {"--reject-long", CLI_FLAG, &a->reject_long,
         "answer 400 for a text over the model's max sequence length (default: truncate it "
         "and report it)"},
        {"--max-connections", CLI_INT, &a->max_connections,
         "connections open at once, one thread each (default 256); when fewer than an eighth "
         "are free, a new one closes the connection waiting longest for its request"},
        {"--max-per-address", CLI_INT, &a->max_per_address,
         "connections open at once from one client address (default 64; more are closed at "
         "once; 0: no cap, for a reverse proxy in front)"},
        {"--request-timeout", CLI_INT, &a->request_timeout,
         "seconds from a connection (or the next request line) to the end of the request's "
         "head (default 5); the connection is closed then, however the bytes trickle"},
        {"--min-body-rate", CLI_STRING, &a->min_body_rate,
         "slowest body upload, bytes/s, suffix k or M allowed (default 16k): a body of B "
         "bytes must arrive within --request-timeout + B / rate seconds of the head"},
        {"--timeout", CLI_INT, &a->timeout,
         "seconds a connection may idle between requests, or a response stall (default 30); "
         "also the longest wait for requests in flight at shutdown"},
        {"--threads", CLI_INT, &a->threads, "encoder threads (default: all cores)"},
        {"--precision", CLI_STRING, &a->precision,
         "the encoder's arithmetic on every endpoint: fp32 (default), bf16 or int8 (dynamic "
         "int8 quantization, about 1.5-1.8x fp32 on AVX2; see semb encode)"},
    };
    int rc = cli_parse(argc, argv, "serve",
                       "--model DIR [--host 127.0.0.1] [--port 8080] [--index FILE]\n\n"
                       "Serves the model over HTTP: POST /v1/embeddings (OpenAI-compatible),\n"
                       "/similarity, /rank, /search, /cluster, /bias; GET /health, /v1/models,\n"
                       "/metrics (Prometheus) and / (a demo page). Concurrent requests are\n"
                       "encoded together. Prints 'semb serve: listening on URL' on stderr once\n"
                       "ready; SIGINT or SIGTERM stops it after the requests in flight.",
                       options, sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    rc = check_args(a, limits);
    if (rc < 0)
        cli_set_threads(a->threads);
    return rc;
}

/* The default name: the model folder's last component ("models/minilm/" -> "minilm", "."
 * -> the current folder's name). */
static char *default_name(const char *model_dir)
{
    char *copy = realpath(model_dir, NULL);
    if (!copy)
        copy = strdup(model_dir);
    char *name = copy ? strdup(basename(copy)) : NULL;
    free(copy);
    return name;
}

static void log_http(void *cls, const char *fmt, va_list ap)
{
    fputs("semb serve: http: ", stderr);
    vfprintf(stderr, fmt, ap);
}

/* Waits for the signal that stops the server, then for the requests in flight (at most
 * drain_seconds; a second signal stops waiting). */
static void run_until_signalled(serve_http *http, const sigset_t *stop, double drain_seconds)
{
    int sig = 0;
    sigwait(stop, &sig);
    serve_http_quiesce(http);
    size_t busy = serve_http_in_flight(http);
    fprintf(stderr, "semb serve: %s: finishing %zu request%s in flight\n",
            sig == SIGINT ? "SIGINT" : "SIGTERM", busy, busy == 1 ? "" : "s");
    double deadline = timer_seconds() + drain_seconds;
    const struct timespec tick = {0, 20 * 1000 * 1000};
    while (serve_http_in_flight(http) && timer_seconds() < deadline)
        if (sigtimedwait(stop, NULL, &tick) > 0) {
            fprintf(stderr, "semb serve: second signal: stopping now\n");
            return;
        }
    if (serve_http_in_flight(http))
        fprintf(stderr, "semb serve: %zu requests still in flight after %.0f s; closing them\n",
                serve_http_in_flight(http), drain_seconds);
}

static semb_status open_index(const char *path, semb_index **index, semb_error *err)
{
    *index = NULL;
    if (!path)
        return SEMB_OK;
    semb_status st = semb_index_open(path, index, err);
    if (!st)
        st = semb_index_load_graph(*index, err); /* now, not in the first request */
    return st;
}

static semb_status serve(const serve_args *a, const serve_limits *limits, semb_model *model,
                         semb_index *index, const sigset_t *stop, semb_error *err)
{
    char *name = a->name ? strdup(a->name) : default_name(a->model_dir);
    if (!name)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!utf8_validate(name, strlen(name), NULL)) {
        free(name);
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "the model folder's name is not UTF-8: "
                                                    "give the served name with --name");
    }
    serve_context *ctx = NULL;
    serve_http *http = NULL;
    semb_status st = serve_context_create(model, index, name, limits, &ctx, err);
    if (!st)
        st = serve_context_set_api_key(ctx, a->api_key, err);
    serve_http_options o = {.host = a->host, .port = a->port,
                            .max_connections = (unsigned)a->max_connections,
                            .timeout_seconds = (unsigned)a->timeout,
                            .request_seconds = (unsigned)a->request_timeout,
                            .min_body_rate = (unsigned)a->body_rate,
                            .max_per_address = (unsigned)a->max_per_address, .log = log_http};
    if (!st)
        st = serve_http_start(ctx, &o, &http, err);
    if (!st) {
        fprintf(stderr, "semb serve: model %s (dimension %d, max_seq_length %d)%s%s\n", name,
                semb_model_dimension(model), semb_model_max_seq_length(model),
                index ? ", index " : "", index ? a->index_path : "");
        if (!serve_context_api_key(ctx) && strncmp(a->host, "127.", 4) != 0 &&
            strcmp(a->host, "::1") != 0 && strcmp(a->host, "localhost") != 0)
            fprintf(stderr, "semb serve: warning: listening beyond loopback without an API "
                            "key (--api-key or SEMB_API_KEY)\n");
        fprintf(stderr, "semb serve: listening on %s\n", serve_http_url(http));
        run_until_signalled(http, stop, a->timeout);
        serve_http_stop(http);
        fprintf(stderr, "semb serve: stopped\n");
    }
    serve_context_free(ctx);
    free(name);
    return st;
}

int cmd_serve(int argc, char **argv)
{
    serve_args a;
    serve_limits limits;
    int rc = parse_args(argc, argv, &a, &limits);
    if (rc >= 0)
        return rc;
    /* Blocked before any thread starts (OpenMP, encoder, HTTP), so every thread inherits the
     * mask and only sigwait sees SIGINT/SIGTERM: shutdown runs in plain code, not a handler.
     * A client that disconnects mid-response must not kill the server. */
    sigset_t stop;
    sigemptyset(&stop);
    sigaddset(&stop, SIGINT);
    sigaddset(&stop, SIGTERM);
    pthread_sigmask(SIG_BLOCK, &stop, NULL);
    signal(SIGPIPE, SIG_IGN);
    semb_error err = {0};
    semb_model *model = NULL;
    semb_index *index = NULL;
    semb_status st = semb_model_load(a.model_dir, &model, &err);
    if (!st)
        st = open_index(a.index_path, &index, &err);
    if (!st)
        st = serve(&a, &limits, model, index, &stop, &err);
    semb_index_close(index);
    semb_model_free(model);
    return st ? cli_fail("serve", &err) : 0;
}
