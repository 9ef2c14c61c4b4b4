#include "serve/serve_metrics.h"

#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Latency bucket upper bounds in seconds (Prometheus' le labels), then +Inf. */
static const double latency_bounds[] = {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05,
                                        0.1,   0.25,   0.5,   1,    2.5,   5, 10};
enum { LATENCY_BUCKETS = sizeof latency_bounds / sizeof *latency_bounds };

/* Requests are counted per (endpoint, status); a server sees a handful of each. */
enum { MAX_SERIES = 64, ENDPOINT_CHARS = 32 };

typedef struct request_series {
    char endpoint[ENDPOINT_CHARS];
    int status;
    unsigned long long count;
} request_series;

struct serve_metrics {
    pthread_mutex_t lock;
    request_series series[MAX_SERIES];
    int n_series;
    unsigned long long errors, latency_counts[LATENCY_BUCKETS + 1], requests;
    double latency_sum;
    unsigned long long batches, texts, tokens;
    size_t dropped_deadline, dropped_evicted;
};

semb_status serve_metrics_create(serve_metrics **out, semb_error *err)
{
    *out = calloc(1, sizeof **out);
    if (!*out)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    pthread_mutex_init(&(*out)->lock, NULL);
    return SEMB_OK;
}

void serve_metrics_free(serve_metrics *m)
{
    if (!m)
        return;
    pthread_mutex_destroy(&m->lock);
    free(m);
}

void serve_metrics_request(serve_metrics *m, const char *endpoint, int status, double seconds)
{
    pthread_mutex_lock(&m->lock);
    int s = 0;
    while (s < m->n_series &&
           !(m->series[s].status == status && strcmp(m->series[s].endpoint, endpoint) == 0))
        s++;
    if (s == m->n_series && s < MAX_SERIES) {
        snprintf(m->series[s].endpoint, ENDPOINT_CHARS, "%s", endpoint);
        m->series[s].status = status;
        m->n_series++;
    }
    if (s < MAX_SERIES) /* past the table (never with this API's routes): only the totals */
        m->series[s].count++;
    m->requests++;
    m->errors += status >= 400;
    int b = 0;
    while (b < LATENCY_BUCKETS && seconds > latency_bounds[b])
        b++;
    m->latency_counts[b]++;
    m->latency_sum += seconds;
    pthread_mutex_unlock(&m->lock);
}

void serve_metrics_batch(serve_metrics *m, size_t texts, size_t tokens)
{
    pthread_mutex_lock(&m->lock);
    m->batches++;
    m->texts += texts;
    m->tokens += tokens;
    pthread_mutex_unlock(&m->lock);
}

/* Appends to a growing buffer; on allocation failure the buffer is freed and NULL kept. */
typedef struct text_out {
    char *data;
    size_t length, cap;
} text_out;

__attribute__((format(printf, 2, 3))) static void put(text_out *t, const char *fmt, ...)
{
    if (!t->data && t->cap)
        return;
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->data ? t->data + t->length : NULL, t->data ? t->cap - t->length : 0,
                          fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (t->data && t->length + (size_t)n < t->cap) {
            t->length += (size_t)n;
            return;
        }
        size_t cap = (t->cap ? t->cap : 1024) * 2 + (size_t)n;
        char *grown = realloc(t->data, cap);
        if (!grown) {
            free(t->data);
            t->data = NULL;
            t->cap = 1; /* marks the failure */
            return;
        }
        t->data = grown;
        t->cap = cap;
    }
}

void serve_metrics_connections_dropped(serve_metrics *m, size_t deadline, size_t evicted)
{
    pthread_mutex_lock(&m->lock);
    m->dropped_deadline = deadline;
    m->dropped_evicted = evicted;
    pthread_mutex_unlock(&m->lock);
}

char *serve_metrics_render(serve_metrics *m)
{
    text_out t = {0};
    pthread_mutex_lock(&m->lock);
    put(&t, "# HELP semb_requests_total HTTP requests answered, by endpoint and status.\n"
            "# TYPE semb_requests_total counter\n");
    for (int s = 0; s < m->n_series; s++)
        put(&t, "semb_requests_total{endpoint=\"%s\",status=\"%d\"} %llu\n",
            m->series[s].endpoint, m->series[s].status, m->series[s].count);
    put(&t, "# HELP semb_request_errors_total Requests answered with a status >= 400.\n"
            "# TYPE semb_request_errors_total counter\nsemb_request_errors_total %llu\n",
        m->errors);
    put(&t, "# HELP semb_request_duration_seconds Time from a request's arrival to its answer.\n"
            "# TYPE semb_request_duration_seconds histogram\n");
    unsigned long long cumulative = 0;
    for (int b = 0; b < LATENCY_BUCKETS; b++) {
        cumulative += m->latency_counts[b];
        put(&t, "semb_request_duration_seconds_bucket{le=\"%g\"} %llu\n", latency_bounds[b],
            cumulative);
    }
    cumulative += m->latency_counts[LATENCY_BUCKETS];
    put(&t, "semb_request_duration_seconds_bucket{le=\"+Inf\"} %llu\n"
            "semb_request_duration_seconds_sum %.9g\nsemb_request_duration_seconds_count %llu\n",
        cumulative, m->latency_sum, m->requests);
    put(&t, "# HELP semb_encoder_batches_total Batches the encoder ran.\n"
            "# TYPE semb_encoder_batches_total counter\nsemb_encoder_batches_total %llu\n"
            "# HELP semb_texts_encoded_total Texts encoded.\n"
            "# TYPE semb_texts_encoded_total counter\nsemb_texts_encoded_total %llu\n"
            "# HELP semb_tokens_encoded_total Tokens encoded (after truncation).\n"
            "# TYPE semb_tokens_encoded_total counter\nsemb_tokens_encoded_total %llu\n",
        m->batches, m->texts, m->tokens);
    put(&t, "# HELP semb_connections_dropped_total Connections closed on slow clients: at their "
            "deadline, or to make room for a newer one.\n"
            "# TYPE semb_connections_dropped_total counter\n"
            "semb_connections_dropped_total{reason=\"deadline\"} %zu\n"
            "semb_connections_dropped_total{reason=\"evicted\"} %zu\n",
        m->dropped_deadline, m->dropped_evicted);
    pthread_mutex_unlock(&m->lock);
    return t.data;
}
