#include "serve/serve_connections.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/socket.h>
#include <time.h>

#include "core/error.h"
#include "core/timer.h"

typedef enum phase {
    PHASE_WAITING, /* for the head of a request: deadline, may make room */
    PHASE_BODY,    /* for the body: deadline, may make room */
    PHASE_BUSY,    /* being answered: neither */
    PHASE_IDLE,    /* between requests: deadline, may make room */
    PHASE_CLOSING  /* shut down by us; its thread has yet to notice */
} phase;

struct serve_connection {
    int fd;
    phase phase;
    double since;    /* when it began waiting: the oldest waiter makes room first */
    double deadline; /* for every phase but BUSY and CLOSING */
    serve_connection *prev, *next;
};

struct serve_connections {
    serve_connection_limits limits;
    pthread_mutex_t lock;
    serve_connection *head; /* every open connection, newest first */
    size_t live;            /* open, not CLOSING */
    size_t dropped_deadline, dropped_evicted;
    pthread_t watcher;
    pthread_cond_t wake; /* stop_watch signals it */
    bool watching, stopping;
};

semb_status serve_connections_create(const serve_connection_limits *limits,
                                     serve_connections **out, semb_error *err)
{
    *out = NULL;
    if (!(limits->request_seconds > 0 && limits->min_body_rate > 0 &&
          limits->idle_seconds > 0 && limits->max_connections > 0))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "connection limits: request_seconds, "
                         "min_body_rate, idle_seconds and max_connections must be positive");
    serve_connections *t = calloc(1, sizeof *t);
    if (!t)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    t->limits = *limits;
    pthread_mutex_init(&t->lock, NULL);
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&t->wake, &attr);
    pthread_condattr_destroy(&attr);
    *out = t;
    return SEMB_OK;
}

void serve_connections_free(serve_connections *t)
{
    if (!t)
        return;
    serve_connections_stop_watch(t);
    pthread_cond_destroy(&t->wake);
    pthread_mutex_destroy(&t->lock);
    free(t);
}

/* Under the lock. */
static void drop(serve_connections *t, serve_connection *c)
{
    shutdown(c->fd, SHUT_RDWR);
    c->phase = PHASE_CLOSING;
    t->live--;
}

static bool waiting(const serve_connection *c)
{
    return c->phase == PHASE_WAITING || c->phase == PHASE_BODY || c->phase == PHASE_IDLE;
}

/* Under the lock: the slots kept free are an eighth (at least one), so that a burst of new
 * connections finds room while the ones shut down for it are still closing. */
static void make_room(serve_connections *t, const serve_connection *newcomer)
{
    size_t spare = (t->limits.max_connections + 7) / 8;
    if (t->live + spare <= t->limits.max_connections)
        return;
    serve_connection *oldest = NULL;
    for (serve_connection *c = t->head; c; c = c->next)
        if (c != newcomer && waiting(c) && (!oldest || c->since <= oldest->since))
            oldest = c;
    if (oldest) {
        drop(t, oldest);
        t->dropped_evicted++;
    }
}

serve_connection *serve_connection_open(serve_connections *t, int fd, double now)
{
    serve_connection *c = calloc(1, sizeof *c);
    if (!c)
        return NULL;
    *c = (serve_connection){.fd = fd, .phase = PHASE_WAITING, .since = now,
                            .deadline = now + t->limits.request_seconds};
    pthread_mutex_lock(&t->lock);
    c->next = t->head;
    if (t->head)
        t->head->prev = c;
    t->head = c;
    t->live++;
    make_room(t, c);
    pthread_mutex_unlock(&t->lock);
    return c;
}

void serve_connection_close(serve_connections *t, serve_connection *c)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->head = c->next;
    if (c->next)
        c->next->prev = c->prev;
    if (c->phase != PHASE_CLOSING)
        t->live--;
    pthread_mutex_unlock(&t->lock);
    free(c);
}

/* Moves c to phase p with deadline unless it was shut down meanwhile (it stays CLOSING). */
static void set_phase(serve_connections *t, serve_connection *c, phase p, double since,
                      double deadline)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->lock);
    if (c->phase != PHASE_CLOSING) {
        c->phase = p;
        c->since = since;
        c->deadline = deadline;
    }
    pthread_mutex_unlock(&t->lock);
}

void serve_connection_request_line(serve_connections *t, serve_connection *c, double now)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->lock);
    bool idle = c->phase == PHASE_IDLE;
    pthread_mutex_unlock(&t->lock);
    /* only the owning thread moves c out of IDLE, so the check above still holds */
    if (idle)
        set_phase(t, c, PHASE_WAITING, now, now + t->limits.request_seconds);
}

void serve_connection_head_done(serve_connections *t, serve_connection *c, double body_bytes,
                                double now)
{
    if (!c)
        return;
    pthread_mutex_lock(&t->lock);
    double since = c->since;
    pthread_mutex_unlock(&t->lock);
    set_phase(t, c, PHASE_BODY, since,
              now + t->limits.request_seconds + body_bytes / t->limits.min_body_rate);
}

void serve_connection_busy(serve_connections *t, serve_connection *c)
{
    set_phase(t, c, PHASE_BUSY, 0, 0);
}

void serve_connection_answered(serve_connections *t, serve_connection *c, double now)
{
    set_phase(t, c, PHASE_IDLE, now, now + t->limits.idle_seconds);
}

size_t serve_connections_expire(serve_connections *t, double now)
{
    size_t n = 0;
    pthread_mutex_lock(&t->lock);
    for (serve_connection *c = t->head; c; c = c->next)
        if (waiting(c) && c->deadline <= now) {
            drop(t, c);
            n++;
        }
    t->dropped_deadline += n;
    pthread_mutex_unlock(&t->lock);
    return n;
}

size_t serve_connections_live(serve_connections *t)
{
    pthread_mutex_lock(&t->lock);
    size_t n = t->live;
    pthread_mutex_unlock(&t->lock);
    return n;
}

void serve_connections_dropped(serve_connections *t, size_t *deadline, size_t *evicted)
{
    pthread_mutex_lock(&t->lock);
    *deadline = t->dropped_deadline;
    *evicted = t->dropped_evicted;
    pthread_mutex_unlock(&t->lock);
}

/* A fixed tick rather than a sleep until the earliest deadline: deadlines move with every
 * request, and a tick needs no wake-up for each move. */
static void *watch(void *arg)
{
    serve_connections *t = arg;
    pthread_mutex_lock(&t->lock);
    while (!t->stopping) {
        struct timespec at;
        clock_gettime(CLOCK_MONOTONIC, &at);
        at.tv_nsec += 100 * 1000 * 1000;
        if (at.tv_nsec >= 1000 * 1000 * 1000) {
            at.tv_sec++;
            at.tv_nsec -= 1000 * 1000 * 1000;
        }
        pthread_cond_timedwait(&t->wake, &t->lock, &at);
        if (t->stopping)
            break;
        pthread_mutex_unlock(&t->lock);
        serve_connections_expire(t, timer_seconds());
        pthread_mutex_lock(&t->lock);
    }
    pthread_mutex_unlock(&t->lock);
    return NULL;
}

semb_status serve_connections_start_watch(serve_connections *t, semb_error *err)
{
    t->stopping = false;
    if (pthread_create(&t->watcher, NULL, watch, t) != 0)
        return semb_fail(err, SEMB_ERR_IO, "cannot start the connection deadline thread");
    t->watching = true;
    return SEMB_OK;
}

void serve_connections_stop_watch(serve_connections *t)
{
    if (!t->watching)
        return;
    pthread_mutex_lock(&t->lock);
    t->stopping = true;
    pthread_cond_signal(&t->wake);
    pthread_mutex_unlock(&t->lock);
    pthread_join(t->watcher, NULL);
    t->watching = false;
}
