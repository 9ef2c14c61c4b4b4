/* The HTTP side of `semb serve`: a libmicrohttpd daemon that reads each request (body up to
 * the context's max_body), hands it to serve_dispatch and writes the answer.
 *
 * Threads: one per connection (libmicrohttpd's thread-per-connection mode). A handler waits
 * while the shared encoder batches its texts with other requests'; a thread pool would let
 * one waiting handler stall every connection its thread polls and cap a batch at the pool's
 * size, while a thread per connection lets every concurrent request join the batch. The
 * connection limit bounds the threads; serve_connections keeps slow clients from holding
 * them (deadlines, room for newcomers) and a cap per client address keeps one address from
 * taking them all. */
#ifndef SEMB_SERVE_SERVE_HTTP_H
#define SEMB_SERVE_SERVE_HTTP_H

#include <stdarg.h>
#include <stddef.h>

#include "semb.h"
#include "serve/serve_api.h"

typedef struct serve_http_options {
    const char *host;          /* address or name to bind; NULL: 127.0.0.1 (loopback only) */
    int port;                  /* 0: any free port (see serve_http_url) */
    unsigned max_connections;  /* open at once (each a thread; an eighth more for those
                                * being closed to make room); 0: 256 */
    unsigned timeout_seconds;  /* idle between requests, or no bytes moving; 0: 30 */
    unsigned request_seconds;  /* a request's head must be complete within; 0: 5 */
    unsigned min_body_rate;    /* bytes/s a body must average (see serve_connections); 0: 16k */
    unsigned max_per_address;  /* connections open from one client address; 0: no cap */
    /* libmicrohttpd's own error messages (printf-style), NULL: not reported */
    void (*log)(void *cls, const char *fmt, va_list ap);
    void *log_cls;
} serve_http_options;

typedef struct serve_http serve_http;

/* Binds host:port and starts answering requests with ctx (borrowed; must outlive the
 * server). Errors: SEMB_ERR_INVALID_ARG (port out of range, a host that does not resolve),
 * SEMB_ERR_IO (the address cannot be bound, naming it and why; the daemon does not start),
 * SEMB_ERR_NOMEM. */
semb_status serve_http_start(serve_context *ctx, const serve_http_options *opts,
                             serve_http **out, semb_error *err);

/* Where the server listens, "http://127.0.0.1:8080" ("http://[::1]:8080" for IPv6): the
 * address bound and the actual port (port 0 chose one). Owned by the server. */
const char *serve_http_url(const serve_http *http);

/* Stops accepting connections (the port is released at once). Requests already received
 * are answered; connections close after their next response. Idempotent. */
void serve_http_quiesce(serve_http *http);

/* Requests between their first byte of headers and the end of their response. */
size_t serve_http_in_flight(serve_http *http);

/* Closes every connection, waits for handlers running now, and frees. Call
 * serve_http_quiesce and wait for serve_http_in_flight to reach 0 first for a graceful
 * stop. NULL is a no-op. */
void serve_http_stop(serve_http *http);

#endif
