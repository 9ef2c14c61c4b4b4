#include "serve/serve_http.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <microhttpd.h>
#include <netdb.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/error.h"
#include "core/timer.h"
#include "serve/serve_connections.h"
#include "serve/serve_metrics.h"
#include "serve/serve_router.h"

struct serve_http {
    serve_context *ctx;
    struct MHD_Daemon *daemon;
    serve_connections *connections;
    atomic_size_t in_flight;
    atomic_bool closing;    /* answers say "Connection: close" */
    char url[96];
};

/* One request's body as it arrives. */
typedef struct request_state {
    char *body;
    size_t length, cap;
    bool answered; /* a response is queued already (413 before the body) */
} request_state;

/* What a response body falls back to when it cannot be built. */
static const char internal_error_body[] =
    "{\"error\":{\"message\":\"out of memory building the response\",\"type\":\"server_error\","
    "\"code\":\"internal\"}}\n";

/* The body bytes of r in a libmicrohttpd response; JSON as the contract prints it (compact,
 * floats with 9 significant digits: float32 round-trips), one line. NULL when out of memory. */
static struct MHD_Response *body_of(serve_response *r)
{
    if (r->body) {
        char *json = json_dumps(r->body, JSON_COMPACT | JSON_REAL_PRECISION(9));
        size_t n = json ? strlen(json) : 0;
        char *line = json ? realloc(json, n + 2) : NULL;
        if (!line) {
            free(json);
            return NULL;
        }
        memcpy(line + n, "\n", 2);
        return MHD_create_response_from_buffer(n + 1, line, MHD_RESPMEM_MUST_FREE);
    }
    if (r->text) {
        struct MHD_Response *out = MHD_create_response_from_buffer(r->text_length, r->text,
                                                                   MHD_RESPMEM_MUST_FREE);
        if (out)
            r->text = NULL; /* the response frees it now */
        return out;
    }
    if (r->static_text)
        return MHD_create_response_from_buffer(r->text_length, (void *)r->static_text,
                                               MHD_RESPMEM_PERSISTENT);
    return NULL;
}

static enum MHD_Result send_response(serve_http *http, struct MHD_Connection *c,
                                     serve_response r)
{
    int status = r.status;
    const char *type = r.content_type ? r.content_type : "application/json";
    struct MHD_Response *response = body_of(&r);
    if (!response) {
        status = 500;
        type = "application/json";
        response = MHD_create_response_from_buffer(sizeof internal_error_body - 1,
                                                   (void *)internal_error_body,
                                                   MHD_RESPMEM_PERSISTENT);
    }
    enum MHD_Result ok = MHD_NO;
    if (response) {
        MHD_add_response_header(response, MHD_HTTP_HEADER_CONTENT_TYPE, type);
        MHD_add_response_header(response, "X-Content-Type-Options", "nosniff");
        if (r.allow)
            MHD_add_response_header(response, MHD_HTTP_HEADER_ALLOW, r.allow);
        if (status == 401)
            MHD_add_response_header(response, MHD_HTTP_HEADER_WWW_AUTHENTICATE, "Bearer");
        if (atomic_load(&http->closing))
            MHD_add_response_header(response, MHD_HTTP_HEADER_CONNECTION, "close");
        ok = MHD_queue_response(c, (unsigned)status, response);
        MHD_destroy_response(response);
    }
    serve_response_free(&r);
    return ok;
}

/* The Content-Length the client announced, 0 when none (chunked; libmicrohttpd itself
 * rejects a malformed one). */
static unsigned long long declared_length(struct MHD_Connection *c)
{
    const char *v = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                MHD_HTTP_HEADER_CONTENT_LENGTH);
    return v ? strtoull(v, NULL, 10) : 0;
}

/* The body the deadline allows for: the announced length, --max-body for a chunked one
 * (its length is unknown), none when there is neither header. */
static double expected_body(struct MHD_Connection *c, size_t max_body)
{
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_CONTENT_LENGTH))
        return (double)declared_length(c);
    if (MHD_lookup_connection_value(c, MHD_HEADER_KIND, MHD_HTTP_HEADER_TRANSFER_ENCODING))
        return (double)max_body;
    return 0;
}

/* The serve_connection recorded for c when it was accepted (NULL: none, out of memory). */
static serve_connection *connection_of(struct MHD_Connection *c)
{
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_SOCKET_CONTEXT);
    return info ? info->socket_context : NULL;
}

static bool append_body(request_state *s, const char *data, size_t n)
{
    if (s->length + n > s->cap) {
        size_t cap = s->cap ? s->cap : 4096;
        while (cap < s->length + n)
            cap *= 2;
        char *grown = realloc(s->body, cap);
        if (!grown)
            return false;
        s->body = grown;
        s->cap = cap;
    }
    memcpy(s->body + s->length, data, n);
    s->length += n;
    return true;
}

/* First call: headers only; a body announced over the limit is answered 413 before any of it
 * is read (libmicrohttpd then sends no "100 Continue" and closes the connection). Middle
 * calls: body bytes. Last call (no bytes): dispatch. A chunked body that grows past the
 * limit closes the connection: libmicrohttpd cannot queue a response mid-upload, and reading
 * on to the end would let a client hold the thread forever. */
static enum MHD_Result on_request(void *cls, struct MHD_Connection *c, const char *url,
                                  const char *method, const char *version,
                                  const char *upload, size_t *upload_size, void **state)
{
    serve_http *http = cls;
    request_state *s = *state;
    size_t max_body = serve_context_limits(http->ctx)->max_body;
    if (!s) {
        if (!(s = calloc(1, sizeof *s)))
            return MHD_NO;
        *state = s;
        atomic_fetch_add(&http->in_flight, 1);
        serve_connection_head_done(http->connections, connection_of(c),
                                   expected_body(c, max_body), timer_seconds());
        if (declared_length(c) <= max_body)
            return MHD_YES;
        s->answered = true;
        serve_connection_busy(http->connections, connection_of(c));
        serve_metrics_request(serve_context_metrics(http->ctx), serve_endpoint_label(url), 413,
                              0.0);
        return send_response(http, c, serve_error(413, "body_too_large", "the request body "
                             "is %llu bytes; this server takes at most %zu",
                             declared_length(c), max_body));
    }
    if (*upload_size) {
        if (!s->answered &&
            (s->length + *upload_size > max_body || !append_body(s, upload, *upload_size)))
            return MHD_NO;
        *upload_size = 0;
        return MHD_YES;
    }
    if (s->answered)
        return MHD_YES;
    s->answered = true;
    serve_connection_busy(http->connections, connection_of(c));
    /* pushed before each answer, so that GET /metrics shows the totals of now */
    size_t deadline, evicted;
    serve_connections_dropped(http->connections, &deadline, &evicted);
    serve_metrics_connections_dropped(serve_context_metrics(http->ctx), deadline, evicted);
    const char *authorization = MHD_lookup_connection_value(c, MHD_HEADER_KIND,
                                                            MHD_HTTP_HEADER_AUTHORIZATION);
    return send_response(http, c, serve_dispatch(http->ctx, method, url, authorization,
                                                 s->body, s->length));
}

static void on_completed(void *cls, struct MHD_Connection *c, void **state,
                         enum MHD_RequestTerminationCode why)
{
    serve_http *http = cls;
    request_state *s = *state;
    if (!s)
        return;
    free(s->body);
    free(s);
    *state = NULL;
    atomic_fetch_sub(&http->in_flight, 1);
    if (why == MHD_REQUEST_TERMINATED_COMPLETED_OK)
        serve_connection_answered(http->connections, connection_of(c), timer_seconds());
}

/* Records each accepted connection for its deadlines; one that cannot be recorded is refused
 * (it would escape them). */
static void on_connection(void *cls, struct MHD_Connection *c, void **socket_context,
                          enum MHD_ConnectionNotificationCode why)
{
    serve_http *http = cls;
    if (why == MHD_CONNECTION_NOTIFY_CLOSED) {
        serve_connection_close(http->connections, *socket_context);
        *socket_context = NULL;
        return;
    }
    const union MHD_ConnectionInfo *info =
        MHD_get_connection_info(c, MHD_CONNECTION_INFO_CONNECTION_FD);
    if (!info)
        return;
    *socket_context = serve_connection_open(http->connections, info->connect_fd,
                                            timer_seconds());
    if (!*socket_context)
        shutdown(info->connect_fd, SHUT_RDWR);
}

/* libmicrohttpd's first sign of a request on a kept-alive connection: its request line. */
static void *on_request_line(void *cls, const char *uri, struct MHD_Connection *c)
{
    serve_http *http = cls;
    serve_connection_request_line(http->connections, connection_of(c), timer_seconds());
    return NULL; /* on_request still sees a first call with no state */
}

/* The URL of the bound socket: its numeric address (IPv6 in brackets) and actual port. */
static void describe_socket(int fd, char *url, size_t cap)
{
    struct sockaddr_storage a;
    socklen_t n = sizeof a;
    char host[INET6_ADDRSTRLEN] = "?";
    int port = 0;
    if (getsockname(fd, (struct sockaddr *)&a, &n) == 0 && a.ss_family == AF_INET6) {
        struct sockaddr_in6 *a6 = (struct sockaddr_in6 *)&a;
        inet_ntop(AF_INET6, &a6->sin6_addr, host, sizeof host);
        port = ntohs(a6->sin6_port);
        snprintf(url, cap, "http://[%s]:%d", host, port);
        return;
    }
    if (a.ss_family == AF_INET) {
        struct sockaddr_in *a4 = (struct sockaddr_in *)&a;
        inet_ntop(AF_INET, &a4->sin_addr, host, sizeof host);
        port = ntohs(a4->sin_port);
    }
    snprintf(url, cap, "http://%s:%d", host, port);
}

static int bind_one(const struct addrinfo *ai, int *saved_errno)
{
    int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_CLOEXEC, ai->ai_protocol);
    int yes = 1;
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, sizeof yes) != 0 ||
        bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 || listen(fd, SOMAXCONN) != 0 ||
        fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK) != 0)
    {
        *saved_errno = errno;
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

/* The listening socket is made here rather than by libmicrohttpd, so that a failure says
 * which address and why (libmicrohttpd only returns NULL). */
static semb_status listen_on(const char *host, int port, int *fd, semb_error *err)
{
    if (port < 0 || port > 65535)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "port %d is not in 0..65535", port);
    char service[16];
    snprintf(service, sizeof service, "%d", port);
    struct addrinfo hints = {.ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
    struct addrinfo *list = NULL;
    int rc = getaddrinfo(host, service, &hints, &list);
    if (rc != 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "host '%s': %s", host, gai_strerror(rc));
    int saved_errno = 0;
    *fd = -1;
    for (const struct addrinfo *ai = list; ai && *fd < 0; ai = ai->ai_next)
        *fd = bind_one(ai, &saved_errno);
    freeaddrinfo(list);
    if (*fd < 0)
        return semb_fail(err, SEMB_ERR_IO, "cannot listen on %s port %d: %s", host, port,
                         strerror(saved_errno));
    return SEMB_OK;
}

static void ignore_log(void *cls, const char *fmt, va_list ap)
{
}

/* The connection table with opts' limits (their defaults for 0s), its watch thread running. */
static semb_status start_connections(const serve_http_options *opts, serve_connections **out,
                                     semb_error *err)
{
    serve_connection_limits limits = {
        .request_seconds = opts->request_seconds ? opts->request_seconds : 5,
        .min_body_rate = opts->min_body_rate ? opts->min_body_rate : 16384,
        .idle_seconds = opts->timeout_seconds ? opts->timeout_seconds : 30,
        .max_connections = opts->max_connections ? opts->max_connections : 256};
    semb_status st = serve_connections_create(&limits, out, err);
    if (!st && (st = serve_connections_start_watch(*out, err))) {
        serve_connections_free(*out);
        *out = NULL;
    }
    return st;
}

semb_status serve_http_start(serve_context *ctx, const serve_http_options *opts,
                             serve_http **out, semb_error *err)
{
    *out = NULL;
    serve_http *http = calloc(1, sizeof *http);
    if (!http)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    const char *host = opts->host ? opts->host : "127.0.0.1";
    int listen_fd = -1;
    semb_status st = listen_on(host, opts->port, &listen_fd, err);
    if (!st && (st = start_connections(opts, &http->connections, err)))
        close(listen_fd);
    if (st) {
        free(http);
        return st;
    }
    http->ctx = ctx;
    atomic_init(&http->in_flight, 0);
    atomic_init(&http->closing, false);
    describe_socket(listen_fd, http->url, sizeof http->url);
    /* libmicrohttpd counts a connection until its thread ends, so connections shut down to
     * make room (serve_connections) get an eighth more slots to close in: otherwise clients
     * that reconnect at once would have newcomers refused at the door. */
    unsigned max_connections = opts->max_connections ? opts->max_connections : 256u;
    unsigned flags = MHD_USE_INTERNAL_POLLING_THREAD | MHD_USE_THREAD_PER_CONNECTION |
                     MHD_USE_POLL | MHD_USE_ITC | (opts->log ? MHD_USE_ERROR_LOG : 0);
    http->daemon = MHD_start_daemon(
        flags, 0, NULL, NULL, on_request, http, MHD_OPTION_EXTERNAL_LOGGER, /* first: */
        opts->log ? opts->log : ignore_log, opts->log_cls, /* it then gets every message */
        MHD_OPTION_LISTEN_SOCKET, listen_fd, MHD_OPTION_CONNECTION_LIMIT,
        max_connections + (max_connections + 7) / 8, MHD_OPTION_CONNECTION_TIMEOUT,
        opts->timeout_seconds ? opts->timeout_seconds : 30u, MHD_OPTION_PER_IP_CONNECTION_LIMIT,
        opts->max_per_address, MHD_OPTION_NOTIFY_CONNECTION, on_connection, http,
        MHD_OPTION_URI_LOG_CALLBACK, on_request_line, http, MHD_OPTION_NOTIFY_COMPLETED,
        on_completed, http, MHD_OPTION_END);
    if (!http->daemon) {
        close(listen_fd);
        serve_connections_free(http->connections);
        free(http);
        return semb_fail(err, SEMB_ERR_IO, "cannot start the HTTP server on %s port %d",
                         host, opts->port);
    }
    *out = http;
    return SEMB_OK;
}

const char *serve_http_url(const serve_http *http)
{
    return http->url;
}

void serve_http_quiesce(serve_http *http)
{
    if (atomic_exchange(&http->closing, true))
        return;
    MHD_socket fd = MHD_quiesce_daemon(http->daemon);
    if (fd != MHD_INVALID_SOCKET)
        close(fd);
}

size_t serve_http_in_flight(serve_http *http)
{
    return atomic_load(&http->in_flight);
}

void serve_http_stop(serve_http *http)
{
    if (!http)
        return;
    serve_http_quiesce(http); /* the listening socket is then ours to close, once */
    MHD_stop_daemon(http->daemon); /* forgets every connection in http->connections */
    serve_connections_free(http->connections);
    free(http);
}
