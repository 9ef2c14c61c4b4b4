/* The open connections of `semb serve` and the limits that keep slow clients from holding
 * them: a hard deadline for each request's head and body, one for idle keep-alive, and room
 * kept for new connections by closing the one that has waited longest for its request.
 *
 * Deadlines are absolute, never restarted by bytes that trickle in: a client that sends one
 * header line every second still loses its connection at the deadline. A connection is closed
 * by shutdown(2) of its socket, from whichever thread notices; the thread that owns the
 * connection (libmicrohttpd's) then reads end-of-file and closes it as if the client had.
 * shutdown, unlike close, cannot hit a descriptor number reused by another connection.
 *
 * Times are seconds on one monotonic clock (timer_seconds), passed in so that tests choose
 * them. Safe from any thread (one lock). The calls that take a connection accept NULL (one
 * that could not be recorded) and do nothing with it. */
#ifndef SEMB_SERVE_SERVE_CONNECTIONS_H
#define SEMB_SERVE_SERVE_CONNECTIONS_H

#include <stddef.h>

#include "semb.h"

typedef struct serve_connection_limits {
    double request_seconds;   /* from connection (or request line) to complete head */
    double min_body_rate;     /* bytes/s: a body of B bytes gets request_seconds + B / rate */
    double idle_seconds;      /* between a response and the next request line */
    unsigned max_connections; /* the server's slots; an eighth are kept free for newcomers */
} serve_connection_limits;

typedef struct serve_connections serve_connections;
typedef struct serve_connection serve_connection;

/* Errors: SEMB_ERR_INVALID_ARG (a limit not positive), SEMB_ERR_NOMEM. Free with
 * serve_connections_free after every connection is closed (NULL is a no-op). */
semb_status serve_connections_create(const serve_connection_limits *limits,
                                     serve_connections **out, semb_error *err);
void serve_connections_free(serve_connections *table);

/* A connection accepted at now on socket fd (borrowed: the caller closes it, after
 * serve_connection_close), waiting for its first request's head. When fewer than an eighth
 * of the slots are free, the open connection that has waited longest for a request (head or
 * body unfinished, or idle between requests) is shut down to make room. NULL when out of
 * memory: the caller should refuse the connection. */
serve_connection *serve_connection_open(serve_connections *table, int fd, double now);

/* The connection is gone (its socket about to be closed): forgets and frees it. */
void serve_connection_close(serve_connections *table, serve_connection *c);

/* A request line arrived: an idle connection starts a head deadline at now (a connection
 * still on its first head keeps the deadline it has). */
void serve_connection_request_line(serve_connections *table, serve_connection *c, double now);

/* The head is complete at now; a body of body_bytes is expected (the announced length, or
 * the largest allowed when none is announced): its deadline is set from now. */
void serve_connection_head_done(serve_connections *table, serve_connection *c,
                                double body_bytes, double now);

/* The request is complete and being answered: no deadline until serve_connection_answered,
 * and never chosen to make room. */
void serve_connection_busy(serve_connections *table, serve_connection *c);

/* The response was sent at now: the connection idles, with the idle deadline. */
void serve_connection_answered(serve_connections *table, serve_connection *c, double now);

/* Shuts down every connection whose deadline is at or before now; returns how many. */
size_t serve_connections_expire(serve_connections *table, double now);

/* Connections open and not yet shut down by a deadline or to make room. */
size_t serve_connections_live(serve_connections *table);

/* Connections shut down so far: at a deadline, and to make room for a newer one. */
void serve_connections_dropped(serve_connections *table, size_t *deadline, size_t *evicted);

/* A thread that calls serve_connections_expire ten times a second (deadlines are late by at
 * most 0.1 s) until serve_connections_stop_watch. Errors: SEMB_ERR_IO (no thread). */
semb_status serve_connections_start_watch(serve_connections *table, semb_error *err);
void serve_connections_stop_watch(serve_connections *table);

#endif
