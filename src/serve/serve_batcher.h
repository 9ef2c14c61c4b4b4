/* The server's one encoder: a thread that owns the model's forward passes and batches the
 * texts of concurrent requests together (dynamic batching), so that many small requests cost
 * about what one semb_encode of all their texts costs.
 *
 * Queue: requests wait in arrival order (FIFO). The encoder thread starts a batch when the
 * queued texts reach max_batch, or when the oldest waiting request has waited window_ms. A
 * batch is the next max_batch texts in arrival order, across request boundaries: a request
 * larger than max_batch is encoded over several batches (chunks of max_batch texts, other
 * requests' chunks after it in turn), and never starves a later one of its turn. Within a
 * batch, the texts of requests with the same prompt go through one semb_encode call;
 * semb_encode's rows do not depend on which other texts share the call, so a request's
 * embeddings are bit-identical to encoding it alone.
 *
 * Errors: serve_encode validates texts before they are queued (serve_count_tokens: invalid
 * UTF-8 fails there, for its own request only). A semb_encode call over several requests that
 * fails anyway (out of memory; unvalidated texts given to serve_batcher_encode directly) is
 * run again one request at a time, so that only the requests at fault fail.
 *
 * The model lock: library calls that encode by themselves (semb_rank, ...) take the model
 * through serve_batcher_model_acquire, a first-come-first-served lock the encoder thread
 * also takes for each batch, so neither side can starve the other. */
#ifndef SEMB_SERVE_SERVE_BATCHER_H
#define SEMB_SERVE_SERVE_BATCHER_H

#include <stdbool.h>
#include <stddef.h>

#include "semb.h"

struct serve_context;
struct serve_metrics;
typedef struct serve_batcher serve_batcher;

/* Starts the encoder thread over model (borrowed; outlives the batcher), recording each
 * semb_encode call it runs in metrics (borrowed) with serve_metrics_batch; every call uses
 * precision (semb_encode_options.precision). max_batch >= 1, window_ms >= 0. Errors:
 * SEMB_ERR_INVALID_ARG, SEMB_ERR_NOMEM (also when the thread cannot be started). */
semb_status serve_batcher_create(semb_model *model, struct serve_metrics *metrics, int max_batch,
                                 double window_ms, semb_compute_precision precision,
                                 serve_batcher **out, semb_error *err);

/* Stops taking new requests, encodes every request already queued, joins the thread and
 * waits until every caller has returned from serve_batcher_encode; then frees. NULL is a
 * no-op. */
void serve_batcher_free(serve_batcher *b);

/* Queues n texts (lengths may be NULL: NUL-terminated) with prompt (as
 * semb_encode_options.prompt, already resolved: "" for none, never NULL) and blocks until
 * out[n * dimension] holds their embeddings. tokens[i] (may be NULL) is text i's token count
 * after truncation, summed into the metrics of the batch it is encoded in. Everything is
 * borrowed until the call returns. Safe from any thread. Errors: those of semb_encode (the
 * message prefixed "encoder: "), SEMB_ERR_INVALID_ARG after serve_batcher_free began and
 * the encoder has stopped. */
semb_status serve_batcher_encode(serve_batcher *b, const char *const *texts,
                                 const size_t *lengths, size_t n, const char *prompt,
                                 const size_t *tokens, float *out, semb_error *err);

/* Exclusive use of the model, first come first served with the encoder thread's batches.
 * Never call serve_batcher_encode (serve_encode) while holding it: the encoder thread would
 * wait for it forever. */
semb_model *serve_batcher_model_acquire(serve_batcher *b);
void serve_batcher_model_release(serve_batcher *b);

/* For tests, to make batching deterministic: while held, the encoder thread takes nothing
 * from the queue (serve_batcher_free overrides a hold). */
void serve_batcher_hold(serve_batcher *b, bool hold);

/* For tests: blocks until at least requests requests wait in the queue. */
void serve_batcher_wait_queued(serve_batcher *b, size_t requests);

/* The context's batcher (defined in serve_context.c). */
serve_batcher *serve_context_batcher(struct serve_context *ctx);

#endif
