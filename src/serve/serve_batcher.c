#include "serve/serve_batcher.h"

#include <math.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/error.h"
#include "core/timer.h"
#include "serve/serve_metrics.h"

/* One caller's texts, living on its stack while it waits in serve_batcher_encode. */
typedef struct batch_request {
    const char *const *texts;
    const size_t *lengths;
    const size_t *tokens;
    size_t n;
    const char *prompt;
    float *out;
    size_t taken;   /* texts [0, taken) are in a batch already */
    double arrival; /* timer_seconds() when queued */
    bool done;
    semb_status status;
    semb_error err;
    pthread_cond_t wake;
    struct batch_request *next;
} batch_request;

/* Texts [start, start + count) of one request, inside a batch. */
typedef struct batch_slice {
    batch_request *request;
    size_t start, count;
} batch_slice;

struct serve_batcher {
    semb_model *model;
    serve_metrics *metrics;
    int max_batch, dim;
    double window_seconds;
    semb_compute_precision precision;

    pthread_mutex_t lock; /* guards everything below up to the model lock */
    pthread_cond_t work;  /* queue changes, hold changes, stop, last caller gone */
    batch_request *head, *tail;
    size_t queued_requests, queued_texts; /* texts not yet taken into a batch */
    size_t callers;                       /* threads inside serve_batcher_encode */
    bool held, stopping, stopped;
    pthread_t thread;

    /* A ticket lock: pthread mutexes are not fair, and an encoder thread that relocks at
     * once after each batch could keep a semb_rank waiting as long as load lasts. */
    pthread_mutex_t model_mutex;
    pthread_cond_t model_turn;
    unsigned long model_next_ticket, model_serving;

    /* The encoder thread's scratch for one batch (at most max_batch slices and texts). */
    batch_slice *slices;
    bool *slice_done; /* encoded (or failed) already in this batch */
    int *members;     /* the slices of the semb_encode call being made */
    const char **group_texts;
    size_t *group_lengths;
    float *group_out;
};

semb_model *serve_batcher_model_acquire(serve_batcher *b)
{
    pthread_mutex_lock(&b->model_mutex);
    unsigned long ticket = b->model_next_ticket++;
    while (b->model_serving != ticket)
        pthread_cond_wait(&b->model_turn, &b->model_mutex);
    pthread_mutex_unlock(&b->model_mutex);
    return b->model;
}

void serve_batcher_model_release(serve_batcher *b)
{
    pthread_mutex_lock(&b->model_mutex);
    b->model_serving++;
    pthread_cond_broadcast(&b->model_turn);
    pthread_mutex_unlock(&b->model_mutex);
}

static struct timespec monotonic_deadline(double seconds)
{
    double whole = floor(seconds);
    struct timespec ts = {.tv_sec = (time_t)whole, .tv_nsec = (long)((seconds - whole) * 1e9)};
    if (ts.tv_nsec >= 1000000000L)
        ts.tv_nsec = 999999999L;
    return ts;
}

/* Under b->lock: waits until a batch should start (true) or the thread should exit (false). */
static bool wait_for_batch(serve_batcher *b)
{
    for (;;) {
        if (b->stopping && !b->head)
            return false;
        if (b->head && (!b->held || b->stopping)) {
            if (b->stopping || b->queued_texts >= (size_t)b->max_batch)
                return true;
            double deadline = b->head->arrival + b->window_seconds, now = timer_seconds();
            if (now >= deadline)
                return true;
            /* a second at most: any window (even an infinite one) makes a valid timespec */
            struct timespec ts = monotonic_deadline(fmin(deadline, now + 1.0));
            pthread_cond_timedwait(&b->work, &b->lock, &ts);
            continue;
        }
        pthread_cond_wait(&b->work, &b->lock);
    }
}

/* Under b->lock: moves the next max_batch texts, in arrival order, into b->slices; requests
 * taken whole leave the queue. Returns the number of slices. */
static int take_batch(serve_batcher *b)
{
    int slices = 0;
    size_t room = (size_t)b->max_batch;
    while (b->head && room > 0) {
        batch_request *r = b->head;
        size_t count = r->n - r->taken < room ? r->n - r->taken : room;
        b->slices[slices++] = (batch_slice){r, r->taken, count};
        r->taken += count;
        room -= count;
        b->queued_texts -= count;
        if (r->taken == r->n) {
            b->head = r->next;
            if (!b->head)
                b->tail = NULL;
            b->queued_requests--;
        }
    }
    return slices;
}

/* semb_encode of n texts with prompt into out; each successful call is one batch in the
 * metrics (tokens: the texts' count after truncation). */
static semb_status encode_texts(serve_batcher *b, const char *const *texts,
                                const size_t *lengths, size_t n, const char *prompt,
                                size_t tokens, float *out, semb_error *err)
{
    semb_encode_options opts = semb_encode_options_default();
    opts.batch_size = b->max_batch;
    opts.prompt = prompt;
    opts.precision = b->precision;
    semb_status st = semb_encode(b->model, texts, lengths, n, out, &opts, err);
    if (st)
        semb_fail_prefix(err, "encoder: ");
    else
        serve_metrics_batch(b->metrics, n, tokens);
    return st;
}

/* Encodes one slice by itself, straight into its request's rows; a failure is the request's. */
static void encode_slice(serve_batcher *b, const batch_slice *slice)
{
    batch_request *r = slice->request;
    size_t tokens = 0;
    for (size_t i = slice->start; r->tokens && i < slice->start + slice->count; i++)
        tokens += r->tokens[i];
    semb_error err = {0};
    semb_status st = encode_texts(b, r->texts + slice->start,
                                  r->lengths ? r->lengths + slice->start : NULL, slice->count,
                                  r->prompt, tokens, r->out + slice->start * (size_t)b->dim,
                                  &err);
    if (st && !r->status) {
        r->status = st;
        r->err = err;
    }
}

/* One semb_encode call over the slices not yet encoded (slice_done false) whose prompt is
 * that of slice first, marking them done, and each row written back to its request. When the
 * call fails, each slice is encoded again alone, so that only the requests at fault fail. */
static void encode_group(serve_batcher *b, int first, int slices)
{
    const char *prompt = b->slices[first].request->prompt;
    int members = 0;
    size_t n = 0, tokens = 0;
    for (int s = first; s < slices; s++) {
        batch_slice *slice = &b->slices[s];
        batch_request *r = slice->request;
        if (b->slice_done[s] || strcmp(r->prompt, prompt) != 0)
            continue;
        b->slice_done[s] = true;
        b->members[members++] = s;
        for (size_t i = slice->start; i < slice->start + slice->count; i++, n++) {
            b->group_texts[n] = r->texts[i];
            b->group_lengths[n] = r->lengths ? r->lengths[i] : strlen(r->texts[i]);
            tokens += r->tokens ? r->tokens[i] : 0;
        }
    }
    if (members == 1) {
        encode_slice(b, &b->slices[first]);
        return;
    }
    semb_error err = {0};
    semb_status st = encode_texts(b, b->group_texts, b->group_lengths, n, prompt, tokens,
                                  b->group_out, &err);
    size_t row = 0, dim = (size_t)b->dim;
    for (int m = 0; m < members; m++) {
        batch_slice *slice = &b->slices[b->members[m]];
        if (st)
            encode_slice(b, slice);
        else
            memcpy(slice->request->out + slice->start * dim, b->group_out + row * dim,
                   slice->count * dim * sizeof(float));
        row += slice->count;
    }
}

/* Under b->lock: wakes each request the batch finished (its last text encoded, or failed: a
 * failed request still queued for later chunks leaves the queue). */
static void finish_batch(serve_batcher *b, int slices)
{
    for (int s = 0; s < slices; s++) {
        batch_request *r = b->slices[s].request;
        if (r->done || (!r->status && r->taken < r->n))
            continue;
        if (r->taken < r->n) { /* failed part-way: only the queue's head can be part-taken */
            b->queued_texts -= r->n - r->taken;
            b->queued_requests--;
            b->head = r->next;
            if (!b->head)
                b->tail = NULL;
        }
        r->done = true;
        pthread_cond_signal(&r->wake);
    }
}

static void *encoder_thread(void *arg)
{
    serve_batcher *b = arg;
    pthread_mutex_lock(&b->lock);
    while (wait_for_batch(b)) {
        int slices = take_batch(b);
        pthread_mutex_unlock(&b->lock);
        memset(b->slice_done, 0, (size_t)slices * sizeof *b->slice_done);
        serve_batcher_model_acquire(b);
        for (int s = 0; s < slices; s++)
            if (!b->slice_done[s])
                encode_group(b, s, slices);
        serve_batcher_model_release(b);
        pthread_mutex_lock(&b->lock);
        finish_batch(b, slices);
    }
    b->stopped = true;
    pthread_mutex_unlock(&b->lock);
    return NULL;
}

static void batcher_destroy(serve_batcher *b)
{
    pthread_mutex_destroy(&b->lock);
    pthread_cond_destroy(&b->work);
    pthread_mutex_destroy(&b->model_mutex);
    pthread_cond_destroy(&b->model_turn);
    free(b->slices);
    free(b->slice_done);
    free(b->members);
    free(b->group_texts);
    free(b->group_lengths);
    free(b->group_out);
    free(b);
}

/* The queue's condition variable times out on the monotonic clock, as timer_seconds reads. */
static void batcher_init_sync(serve_batcher *b)
{
    pthread_condattr_t attr;
    pthread_condattr_init(&attr);
    pthread_condattr_setclock(&attr, CLOCK_MONOTONIC);
    pthread_cond_init(&b->work, &attr);
    pthread_condattr_destroy(&attr);
    pthread_mutex_init(&b->lock, NULL);
    pthread_mutex_init(&b->model_mutex, NULL);
    pthread_cond_init(&b->model_turn, NULL);
}

semb_status serve_batcher_create(semb_model *model, serve_metrics *metrics, int max_batch,
                                 double window_ms, semb_compute_precision precision,
                                 serve_batcher **out, semb_error *err)
{
    *out = NULL;
    if (!model || !metrics || max_batch < 1 || !(window_ms >= 0.0))
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "serve batcher: needs a model, metrics, a max batch >= 1 and a "
                         "batch window >= 0 ms");
    serve_batcher *b = calloc(1, sizeof *b);
    if (!b)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    size_t batch = (size_t)max_batch;
    b->model = model;
    b->metrics = metrics;
    b->max_batch = max_batch;
    b->dim = semb_model_dimension(model);
    b->window_seconds = window_ms / 1000.0;
    b->precision = precision;
    batcher_init_sync(b);
    b->slices = malloc(batch * sizeof *b->slices);
    b->slice_done = malloc(batch * sizeof *b->slice_done);
    b->members = malloc(batch * sizeof *b->members);
    b->group_texts = malloc(batch * sizeof *b->group_texts);
    b->group_lengths = malloc(batch * sizeof *b->group_lengths);
    b->group_out = malloc(batch * (size_t)b->dim * sizeof *b->group_out);
    if (!b->slices || !b->slice_done || !b->members || !b->group_texts || !b->group_lengths ||
        !b->group_out) {
        batcher_destroy(b);
        return semb_fail(err, SEMB_ERR_NOMEM, "serve batcher: cannot allocate a batch of %d",
                         max_batch);
    }
    if (pthread_create(&b->thread, NULL, encoder_thread, b) != 0) {
        batcher_destroy(b);
        return semb_fail(err, SEMB_ERR_NOMEM, "serve batcher: cannot start the encoder thread");
    }
    *out = b;
    return SEMB_OK;
}

void serve_batcher_free(serve_batcher *b)
{
    if (!b)
        return;
    pthread_mutex_lock(&b->lock);
    b->stopping = true;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->lock);
    pthread_join(b->thread, NULL);
    /* Woken callers still need the lock to return from their wait. */
    pthread_mutex_lock(&b->lock);
    while (b->callers > 0)
        pthread_cond_wait(&b->work, &b->lock);
    pthread_mutex_unlock(&b->lock);
    batcher_destroy(b);
}

semb_status serve_batcher_encode(serve_batcher *b, const char *const *texts,
                                 const size_t *lengths, size_t n, const char *prompt,
                                 const size_t *tokens, float *out, semb_error *err)
{
    if (n == 0)
        return SEMB_OK;
    batch_request r = {.texts = texts, .lengths = lengths, .tokens = tokens, .n = n,
                       .prompt = prompt, .out = out};
    pthread_cond_init(&r.wake, NULL);
    pthread_mutex_lock(&b->lock);
    if (b->stopped) {
        pthread_mutex_unlock(&b->lock);
        pthread_cond_destroy(&r.wake);
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "serve: the encoder has stopped");
    }
    r.arrival = timer_seconds();
    if (b->tail)
        b->tail->next = &r;
    else
        b->head = &r;
    b->tail = &r;
    b->queued_requests++;
    b->queued_texts += n;
    b->callers++;
    pthread_cond_broadcast(&b->work);
    while (!r.done)
        pthread_cond_wait(&r.wake, &b->lock);
    if (--b->callers == 0 && b->stopping)
        pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->lock);
    pthread_cond_destroy(&r.wake);
    if (r.status && err)
        *err = r.err;
    return r.status;
}

void serve_batcher_hold(serve_batcher *b, bool hold)
{
    pthread_mutex_lock(&b->lock);
    b->held = hold;
    pthread_cond_broadcast(&b->work);
    pthread_mutex_unlock(&b->lock);
}

void serve_batcher_wait_queued(serve_batcher *b, size_t requests)
{
    pthread_mutex_lock(&b->lock);
    while (b->queued_requests < requests)
        pthread_cond_wait(&b->work, &b->lock);
    pthread_mutex_unlock(&b->lock);
}
