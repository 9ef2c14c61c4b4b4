/* The server's dynamic batcher: concurrent serve_encode calls (different texts and prompts)
 * give the same bits as one semb_encode of each request alone; requests that arrive together
 * share encoder batches (made deterministic by holding the encoder thread until they are all
 * queued, never by timing); a request larger than max_batch is encoded in chunks; errors stay
 * with their request; freeing the context finishes what is queued; serve_model_acquire
 * interleaves with the encoder thread. */
#include "support.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "serve/serve_api.h"
#include "serve/serve_batcher.h"
#include "serve/serve_metrics.h"

enum { MAX_TEXTS = 12, TEXT_CHARS = 400 };

/* One client thread's request and what came back. */
typedef struct client {
    serve_context *ctx;
    const char *prompt; /* as given to serve_encode: NULL for the model's default */
    bool direct;        /* through serve_batcher_encode, skipping serve_encode's validation */
    int repeats;        /* serve_encode calls made one after another */
    size_t n;
    char storage[MAX_TEXTS][TEXT_CHARS];
    const char *texts[MAX_TEXTS];
    float *out, *want;
    size_t tokens, truncated;
    semb_status status;
    semb_error err;
    bool mismatch; /* a repeat gave other bits than the first call */
    pthread_t thread;
} client;

static const char *const words[] = {"the", "quick", "brown", "fox", "jumps", "over", "a",
                                    "lazy", "dog", "while", "semb", "serves", "vectors"};

/* n texts of different lengths, distinct per client id. */
static void client_init(client *c, serve_context *ctx, int id, size_t n, const char *prompt)
{
    memset(c, 0, sizeof *c);
    c->ctx = ctx;
    c->prompt = prompt;
    c->n = n;
    c->repeats = 1;
    for (size_t i = 0; i < n; i++) {
        int length = snprintf(c->storage[i], TEXT_CHARS, "client %d text %zu:", id, i);
        for (size_t w = 0; w < 2 + (size_t)(id * 7 + (int)i * 5) % 23; w++)
            length += snprintf(c->storage[i] + length, (size_t)(TEXT_CHARS - length), " %s",
                               words[(w * 3 + i + (size_t)id) % 13]);
        c->texts[i] = c->storage[i];
    }
    int dim = semb_model_dimension(serve_context_model(ctx));
    c->out = calloc(n * (size_t)dim, sizeof *c->out);
    c->want = calloc(n * (size_t)dim, sizeof *c->want);
    assert_non_null(c->out);
    assert_non_null(c->want);
}

/* The reference: semb_encode of this client's texts alone, with its prompt. */
static void client_reference(client *c)
{
    semb_encode_options o = semb_encode_options_default();
    o.batch_size = 32;
    o.prompt = c->prompt;
    semb_error err = {0};
    semb_model *m = serve_model_acquire(c->ctx);
    semb_status st = semb_encode(m, c->texts, NULL, c->n, c->want, &o, &err);
    serve_model_release(c->ctx);
    if (st)
        fail_msg("reference encode: %s", err.message);
}

static void client_free(client *c)
{
    free(c->out);
    free(c->want);
}

static void *client_run(void *arg)
{
    client *c = arg;
    size_t size = c->n * (size_t)semb_model_dimension(serve_context_model(c->ctx));
    for (int r = 0; r < c->repeats && !c->status; r++) {
        if (c->direct)
            c->status = serve_batcher_encode(serve_context_batcher(c->ctx), c->texts, NULL, c->n,
                                             c->prompt, NULL, c->out, &c->err);
        else
            c->status = serve_encode(c->ctx, c->texts, NULL, c->n, c->prompt, c->out,
                                     &c->tokens, &c->truncated, &c->err);
        c->mismatch |= !c->status && memcmp(c->out, c->want, size * sizeof *c->out) != 0;
    }
    return NULL;
}

static void client_start(client *c)
{
    assert_int_equal(pthread_create(&c->thread, NULL, client_run, c), 0);
}

/* Joins the client and checks it succeeded with the reference's bits. */
static void client_expect_ok(client *c)
{
    pthread_join(c->thread, NULL);
    if (c->status)
        fail_msg("client failed: %s", c->err.message);
    int dim = semb_model_dimension(serve_context_model(c->ctx));
    double worst = 0.0;
    for (size_t i = 0; i < c->n * (size_t)dim; i++) {
        double d = c->out[i] > c->want[i] ? c->out[i] - c->want[i] : c->want[i] - c->out[i];
        worst = d > worst ? d : worst;
    }
    if (c->mismatch || memcmp(c->out, c->want, c->n * (size_t)dim * sizeof *c->out) != 0)
        fail_msg("batched embeddings differ from encoding alone (max difference %g)", worst);
}

/* A counter of GET /metrics' text, e.g. "semb_encoder_batches_total". */
static unsigned long long metric(serve_context *ctx, const char *name)
{
    char *text = serve_metrics_render(serve_context_metrics(ctx));
    assert_non_null(text);
    char key[128];
    snprintf(key, sizeof key, "\n%s ", name);
    const char *at = strstr(text, key);
    if (!at)
        fail_msg("no %s in the metrics", name);
    unsigned long long value = strtoull(at + strlen(key), NULL, 10);
    free(text);
    return value;
}

static serve_context *make_context(semb_model *m, int max_batch, double window_ms)
{
    serve_limits limits = serve_limits_default();
    limits.max_batch = max_batch;
    limits.batch_window_ms = window_ms;
    serve_context *ctx = NULL;
    semb_error err = {0};
    if (serve_context_create(m, NULL, "tiny", &limits, &ctx, &err))
        fail_msg("%s", err.message);
    return ctx;
}

/* The model's token count of prompt + text, truncated as the encoder truncates. */
static size_t encoded_tokens(const semb_model *m, const char *prompt, const char *text)
{
    char joined[2 * TEXT_CHARS];
    snprintf(joined, sizeof joined, "%s%s", prompt ? prompt : "", text);
    size_t count = 0;
    assert_int_equal(semb_count_tokens(m, joined, strlen(joined), &count, NULL), SEMB_OK);
    size_t limit = (size_t)semb_model_max_seq_length(m);
    return count > limit ? limit : count;
}

static int setup_model(void **state)
{
    *state = test_load_fixture("bert-tiny-mean");
    return 0;
}

static int teardown_model(void **state)
{
    semb_model_free(*state);
    return 0;
}

/* ---- batching ---- */

static void test_concurrent_clients_share_batches(void **state)
{
    semb_model *m = *state;
    serve_context *ctx = make_context(m, 64, 2.0);
    const char *prompts[] = {NULL, "query: ", "passage: "};
    enum { CLIENTS = 8 };
    client clients[CLIENTS];
    size_t texts = 0, tokens = 0;
    for (int i = 0; i < CLIENTS; i++) {
        client_init(&clients[i], ctx, i, 1 + (size_t)i % 4, prompts[i % 3]);
        client_reference(&clients[i]);
        texts += clients[i].n;
    }
    serve_batcher_hold(serve_context_batcher(ctx), true);
    for (int i = 0; i < CLIENTS; i++)
        client_start(&clients[i]);
    serve_batcher_wait_queued(serve_context_batcher(ctx), CLIENTS);
    assert_int_equal(metric(ctx, "semb_encoder_batches_total"), 0);
    serve_batcher_hold(serve_context_batcher(ctx), false);
    for (int i = 0; i < CLIENTS; i++) {
        client_expect_ok(&clients[i]);
        size_t want = 0;
        for (size_t t = 0; t < clients[i].n; t++)
            want += encoded_tokens(m, clients[i].prompt, clients[i].texts[t]);
        assert_int_equal(clients[i].tokens, want);
        assert_int_equal(clients[i].truncated, 0);
        tokens += want;
    }
    /* 20 texts < max_batch: one batch, one semb_encode per prompt */
    assert_int_equal(metric(ctx, "semb_encoder_batches_total"), 3);
    assert_int_equal(metric(ctx, "semb_texts_encoded_total"), texts);
    assert_int_equal(metric(ctx, "semb_tokens_encoded_total"), tokens);
    serve_context_free(ctx);
    for (int i = 0; i < CLIENTS; i++)
        client_free(&clients[i]);
}

static void test_large_request_in_chunks(void **state)
{
    semb_model *m = *state;
    serve_context *ctx = make_context(m, 4, 2.0);
    client big, small;
    client_init(&big, ctx, 1, 10, NULL);
    client_init(&small, ctx, 2, 2, NULL);
    client_reference(&big);
    client_reference(&small);
    serve_batcher_hold(serve_context_batcher(ctx), true);
    client_start(&big);
    serve_batcher_wait_queued(serve_context_batcher(ctx), 1);
    client_start(&small);
    serve_batcher_wait_queued(serve_context_batcher(ctx), 2);
    serve_batcher_hold(serve_context_batcher(ctx), false);
    client_expect_ok(&big);
    client_expect_ok(&small);
    /* big's texts 0-3, 4-7, then 8-9 with small's two */
    assert_int_equal(metric(ctx, "semb_encoder_batches_total"), 3);
    assert_int_equal(metric(ctx, "semb_texts_encoded_total"), 12);
    serve_context_free(ctx);
    client_free(&big);
    client_free(&small);
}

/* A full batch starts at once: with an hour-long window, this would hang if it waited. */
static void test_full_batch_does_not_wait_for_window(void **state)
{
    serve_context *ctx = make_context(*state, 4, 3600e3);
    client c;
    client_init(&c, ctx, 3, 4, "query: ");
    client_reference(&c);
    client_start(&c);
    client_expect_ok(&c);
    assert_int_equal(metric(ctx, "semb_encoder_batches_total"), 1);
    serve_context_free(ctx);
    client_free(&c);
}

/* ---- errors ---- */

static void test_invalid_text_fails_only_its_request(void **state)
{
    semb_model *m = *state;
    serve_context *ctx = make_context(m, 64, 0.0);
    client a, c;
    client_init(&a, ctx, 4, 3, NULL);
    client_init(&c, ctx, 5, 2, NULL);
    client_reference(&a);
    client_reference(&c);
    serve_batcher_hold(serve_context_batcher(ctx), true);
    client_start(&a);
    client_start(&c);
    serve_batcher_wait_queued(serve_context_batcher(ctx), 2);
    /* refused before it is queued: it returns although the encoder is held */
    const char *bad[] = {"fine", "broken \xff\xfe text", "fine too"};
    int dim = semb_model_dimension(m);
    float *out = calloc(3 * (size_t)dim, sizeof *out);
    semb_error err = {0};
    size_t tokens = 7, truncated = 7;
    assert_int_equal(serve_encode(ctx, bad, NULL, 3, NULL, out, &tokens, &truncated, &err),
                     SEMB_ERR_INPUT);
    if (!strstr(err.message, "input 1:"))
        fail_msg("error '%s' does not name input 1", err.message);
    assert_int_equal(tokens, 0);
    assert_int_equal(truncated, 0);
    serve_batcher_hold(serve_context_batcher(ctx), false);
    client_expect_ok(&a);
    client_expect_ok(&c);
    assert_int_equal(metric(ctx, "semb_encoder_batches_total"), 1);
    serve_context_free(ctx);
    client_free(&a);
    client_free(&c);
    free(out);
}

/* A text that reaches the encoder unvalidated fails its semb_encode call: the call is run
 * again request by request, so the request beside it in the same call still succeeds. */
static void test_failed_batch_retried_per_request(void **state)
{
    serve_context *ctx = make_context(*state, 64, 0.0);
    client good, bad, other;
    client_init(&good, ctx, 6, 3, "");
    client_init(&bad, ctx, 7, 2, "");
    client_init(&other, ctx, 8, 2, "query: ");
    client_reference(&good);
    client_reference(&other);
    snprintf(bad.storage[1], TEXT_CHARS, "bad \xc3\x28 bytes");
    bad.direct = true;
    serve_batcher_hold(serve_context_batcher(ctx), true);
    client_start(&good);
    client_start(&bad);
    client_start(&other);
    serve_batcher_wait_queued(serve_context_batcher(ctx), 3);
    serve_batcher_hold(serve_context_batcher(ctx), false);
    client_expect_ok(&good);
    client_expect_ok(&other);
    pthread_join(bad.thread, NULL);
    assert_int_equal(bad.status, SEMB_ERR_INPUT);
    if (!strstr(bad.err.message, "encoder: text 1:"))
        fail_msg("error '%s' does not name text 1", bad.err.message);
    /* good alone (after the failed call with bad) and other: two batches ran */
    assert_int_equal(metric(ctx, "semb_encoder_batches_total"), 2);
    assert_int_equal(metric(ctx, "semb_texts_encoded_total"), 5);
    serve_context_free(ctx);
    client_free(&good);
    client_free(&bad);
    client_free(&other);
}

/* ---- shutdown and the model lock ---- */

static void test_free_finishes_queued_requests(void **state)
{
    semb_model *m = *state;
    serve_context *ctx = make_context(m, 5, 3600e3);
    enum { CLIENTS = 8 };
    client clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        client_init(&clients[i], ctx, 20 + i, 1 + (size_t)i % 3, i % 2 ? "query: " : NULL);
        client_reference(&clients[i]);
    }
    serve_batcher_hold(serve_context_batcher(ctx), true);
    for (int i = 0; i < CLIENTS; i++)
        client_start(&clients[i]);
    serve_batcher_wait_queued(serve_context_batcher(ctx), CLIENTS);
    serve_context_free(ctx); /* overrides the hold and the window, and waits for every client */
    for (int i = 0; i < CLIENTS; i++) {
        clients[i].ctx = NULL;
        pthread_join(clients[i].thread, NULL);
        if (clients[i].status)
            fail_msg("client %d: %s", i, clients[i].err.message);
        assert_memory_equal(clients[i].out, clients[i].want,
                            clients[i].n * (size_t)semb_model_dimension(m) * sizeof(float));
        client_free(&clients[i]);
    }
}

typedef struct direct_user {
    serve_context *ctx;
    client *reference; /* texts and bits to reproduce */
    int repeats;
    bool mismatch;
    semb_status status;
} direct_user;

/* A handler's library call that encodes by itself (as semb_rank does), over and over. */
static void *direct_run(void *arg)
{
    direct_user *u = arg;
    client *c = u->reference;
    size_t size = c->n * (size_t)semb_model_dimension(serve_context_model(u->ctx));
    float *out = malloc(size * sizeof *out);
    semb_encode_options o = semb_encode_options_default();
    o.batch_size = 32;
    o.prompt = c->prompt;
    for (int r = 0; r < u->repeats && !u->status && out; r++) {
        semb_model *m = serve_model_acquire(u->ctx);
        u->status = semb_encode(m, c->texts, NULL, c->n, out, &o, NULL);
        serve_model_release(u->ctx);
        u->mismatch |= memcmp(out, c->want, size * sizeof *out) != 0;
    }
    free(out);
    return NULL;
}

static void test_model_lock_interleaves_with_encoder(void **state)
{
    serve_context *ctx = make_context(*state, 8, 0.5);
    enum { CLIENTS = 4 };
    client clients[CLIENTS];
    for (int i = 0; i < CLIENTS; i++) {
        client_init(&clients[i], ctx, 40 + i, 3, i % 2 ? "passage: " : NULL);
        client_reference(&clients[i]);
        clients[i].repeats = 6;
    }
    direct_user user = {ctx, &clients[0], 6, false, SEMB_OK};
    pthread_t thread;
    assert_int_equal(pthread_create(&thread, NULL, direct_run, &user), 0);
    for (int i = 0; i < CLIENTS; i++)
        client_start(&clients[i]);
    for (int i = 0; i < CLIENTS; i++)
        client_expect_ok(&clients[i]);
    pthread_join(thread, NULL);
    assert_int_equal(user.status, SEMB_OK);
    assert_false(user.mismatch);
    serve_context_free(ctx);
    for (int i = 0; i < CLIENTS; i++)
        client_free(&clients[i]);
}

static void test_empty_request(void **state)
{
    serve_context *ctx = make_context(*state, 4, 2.0);
    size_t tokens = 9, truncated = 9;
    assert_int_equal(serve_encode(ctx, NULL, NULL, 0, NULL, NULL, &tokens, &truncated, NULL),
                     SEMB_OK);
    assert_int_equal(tokens, 0);
    assert_int_equal(truncated, 0);
    assert_int_equal(metric(ctx, "semb_encoder_batches_total"), 0);
    serve_context_free(ctx);
}

int main(void)
{
    int skip = test_require_shared("test_serve_batcher");
    if (skip)
        return skip;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_concurrent_clients_share_batches),
        cmocka_unit_test(test_large_request_in_chunks),
        cmocka_unit_test(test_full_batch_does_not_wait_for_window),
        cmocka_unit_test(test_invalid_text_fails_only_its_request),
        cmocka_unit_test(test_failed_batch_retried_per_request),
        cmocka_unit_test(test_free_finishes_queued_requests),
        cmocka_unit_test(test_model_lock_interleaves_with_encoder),
        cmocka_unit_test(test_empty_request),
    };
    return cmocka_run_group_tests(tests, setup_model, teardown_model);
}
