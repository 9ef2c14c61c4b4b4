/* Counters for GET /metrics (Prometheus text exposition format): requests and errors by
 * endpoint and status, request latency as a histogram, texts and tokens encoded, and the
 * sizes of the encoder's batches. Safe from any thread (one lock; each update is a few
 * additions). */
#ifndef SEMB_SERVE_SERVE_METRICS_H
#define SEMB_SERVE_SERVE_METRICS_H

#include <stddef.h>

#include "semb.h"

typedef struct serve_metrics serve_metrics;

/* Errors: SEMB_ERR_NOMEM. Free with serve_metrics_free (NULL is a no-op). */
semb_status serve_metrics_create(serve_metrics **out, semb_error *err);
void serve_metrics_free(serve_metrics *m);

/* One finished request: endpoint is the route ("/v1/embeddings", ...; "other" for unknown
 * routes), status the HTTP status sent, seconds the time from its arrival. Statuses >= 400
 * also count as errors. */
void serve_metrics_request(serve_metrics *m, const char *endpoint, int status, double seconds);

/* One batch the encoder ran: texts and tokens (after truncation). */
void serve_metrics_batch(serve_metrics *m, size_t texts, size_t tokens);

/* The totals of connections the server closed on slow clients so far (serve_connections):
 * at a deadline, and to make room for a newer connection. */
void serve_metrics_connections_dropped(serve_metrics *m, size_t deadline, size_t evicted);

/* The exposition text, malloc'd (NULL when out of memory). */
char *serve_metrics_render(serve_metrics *m);

#endif
