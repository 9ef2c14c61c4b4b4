/* The connection table of `semb serve` (serve_connections) at chosen times, each connection
 * a socketpair whose far end shows whether the table shut it down: the head deadline holds
 * however late the phases are reported; the body deadline grows with the body at the
 * minimum rate; idle keep-alive has its own deadline, and a request line on it starts a new
 * head deadline; a busy connection has none; a new connection that leaves fewer than an
 * eighth of the slots free shuts down the one waiting longest for its request, never a busy
 * one. Needs no fixtures. */
#include "support.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <stdbool.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "core/timer.h"
#include "serve/serve_connections.h"

enum { MAX_PEERS = 16 };

typedef struct peers {
    int ours[MAX_PEERS], theirs[MAX_PEERS]; /* the table gets ours; the client holds theirs */
    serve_connection *c[MAX_PEERS];
    int n;
} peers;

static serve_connections *table_with(unsigned max_connections)
{
    serve_connection_limits limits = {.request_seconds = 5, .min_body_rate = 1000,
                                      .idle_seconds = 30, .max_connections = max_connections};
    serve_connections *t = NULL;
    assert_int_equal(serve_connections_create(&limits, &t, NULL), SEMB_OK);
    return t;
}

/* Opens connection i at now. */
static int open_at(serve_connections *t, peers *p, double now)
{
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    fcntl(fds[1], F_SETFL, O_NONBLOCK);
    int i = p->n++;
    p->ours[i] = fds[0];
    p->theirs[i] = fds[1];
    p->c[i] = serve_connection_open(t, fds[0], now);
    assert_non_null(p->c[i]);
    return i;
}

/* The table shut connection i down: its client reads end-of-file. */
static bool was_shut(const peers *p, int i)
{
    char byte;
    ssize_t n = read(p->theirs[i], &byte, 1);
    assert_true(n == 0 || (n < 0 && errno == EAGAIN));
    return n == 0;
}

static void close_all(serve_connections *t, peers *p)
{
    for (int i = 0; i < p->n; i++) {
        serve_connection_close(t, p->c[i]);
        close(p->ours[i]);
        close(p->theirs[i]);
    }
    serve_connections_free(t);
}

static void test_head_deadline_does_not_restart(void **state)
{
    serve_connections *t = table_with(64);
    peers p = {0};
    int a = open_at(t, &p, 100.0);
    /* a request line on a connection still on its first head restarts nothing */
    serve_connection_request_line(t, p.c[a], 103.0);
    assert_int_equal(serve_connections_expire(t, 104.9), 0);
    assert_false(was_shut(&p, a));
    assert_int_equal(serve_connections_expire(t, 105.0), 1);
    assert_true(was_shut(&p, a));
    assert_int_equal(serve_connections_live(t), 0);
    assert_int_equal(serve_connections_expire(t, 200.0), 0); /* once */
    size_t deadline, evicted;
    serve_connections_dropped(t, &deadline, &evicted);
    assert_int_equal(deadline, 1);
    assert_int_equal(evicted, 0);
    close_all(t, &p);
}

static void test_body_deadline_at_minimum_rate(void **state)
{
    serve_connections *t = table_with(64);
    peers p = {0};
    int a = open_at(t, &p, 0.0);
    serve_connection_head_done(t, p.c[a], 10000, 1.0); /* 5 s + 10,000 B at 1,000 B/s */
    assert_int_equal(serve_connections_expire(t, 15.9), 0);
    assert_int_equal(serve_connections_expire(t, 16.0), 1);
    assert_true(was_shut(&p, a));
    close_all(t, &p);
}

static void test_busy_has_no_deadline_idle_has_its_own(void **state)
{
    serve_connections *t = table_with(64);
    peers p = {0};
    int a = open_at(t, &p, 0.0);
    serve_connection_head_done(t, p.c[a], 0, 1.0);
    serve_connection_busy(t, p.c[a]);
    assert_int_equal(serve_connections_expire(t, 1000.0), 0);
    serve_connection_answered(t, p.c[a], 1000.0);
    assert_int_equal(serve_connections_expire(t, 1029.9), 0);
    serve_connection_request_line(t, p.c[a], 1029.0); /* the next request: 5 s for its head */
    assert_int_equal(serve_connections_expire(t, 1033.9), 0);
    assert_false(was_shut(&p, a));
    assert_int_equal(serve_connections_expire(t, 1034.0), 1);
    assert_true(was_shut(&p, a));

    int b = open_at(t, &p, 2000.0);
    serve_connection_busy(t, p.c[b]);
    serve_connection_answered(t, p.c[b], 2001.0);
    assert_int_equal(serve_connections_expire(t, 2031.0), 1); /* idle 30 s, no request line */
    assert_true(was_shut(&p, b));
    close_all(t, &p);
}

static void test_new_connection_makes_room(void **state)
{
    serve_connections *t = table_with(8); /* one slot kept free: room is made at the 8th */
    peers p = {0};
    int busy = open_at(t, &p, 0.0); /* the oldest, but answering: never chosen */
    serve_connection_busy(t, p.c[busy]);
    int idle = open_at(t, &p, 1.0);
    serve_connection_answered(t, p.c[idle], 3.5);
    int oldest_waiting = open_at(t, &p, 2.0);
    for (int i = 0; i < 4; i++)
        open_at(t, &p, 3.6 + i * 0.05);
    assert_int_equal(serve_connections_live(t), 7);
    for (int i = 0; i < p.n; i++)
        assert_false(was_shut(&p, i));
    int newcomer = open_at(t, &p, 4.0);
    assert_true(was_shut(&p, oldest_waiting));
    assert_int_equal(serve_connections_live(t), 7);
    open_at(t, &p, 4.1);
    assert_true(was_shut(&p, idle)); /* idle since 3.5: now the longest waiting */
    assert_false(was_shut(&p, busy));
    assert_false(was_shut(&p, newcomer));
    size_t deadline, evicted;
    serve_connections_dropped(t, &deadline, &evicted);
    assert_int_equal(evicted, 2);
    /* a connection shut down to make room keeps that state when its thread reports on it */
    serve_connection_head_done(t, p.c[oldest_waiting], 0, 4.2);
    assert_int_equal(serve_connections_expire(t, 100.0), 6);
    assert_false(was_shut(&p, busy));
    close_all(t, &p);
}

static void test_invalid_limits(void **state)
{
    serve_connection_limits limits = {.request_seconds = 0, .min_body_rate = 1,
                                      .idle_seconds = 1, .max_connections = 1};
    serve_connections *t = NULL;
    semb_error err = {0};
    assert_int_equal(serve_connections_create(&limits, &t, &err), SEMB_ERR_INVALID_ARG);
    assert_null(t);
    assert_non_null(strstr(err.message, "request_seconds"));
}

static void test_watch_thread_enforces_deadlines(void **state)
{
    serve_connection_limits limits = {.request_seconds = 0.2, .min_body_rate = 1,
                                      .idle_seconds = 30, .max_connections = 4};
    serve_connections *t = NULL;
    assert_int_equal(serve_connections_create(&limits, &t, NULL), SEMB_OK);
    assert_int_equal(serve_connections_start_watch(t, NULL), SEMB_OK);
    int fds[2];
    assert_int_equal(socketpair(AF_UNIX, SOCK_STREAM, 0, fds), 0);
    serve_connection *c = serve_connection_open(t, fds[0], timer_seconds());
    struct pollfd far_end = {.fd = fds[1], .events = POLLIN};
    assert_int_equal(poll(&far_end, 1, 10000), 1); /* the watch shuts it down in ~0.3 s */
    char byte;
    assert_int_equal(read(fds[1], &byte, 1), 0);
    serve_connection_close(t, c);
    serve_connections_free(t);
    close(fds[0]);
    close(fds[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_head_deadline_does_not_restart),
        cmocka_unit_test(test_body_deadline_at_minimum_rate),
        cmocka_unit_test(test_busy_has_no_deadline_idle_has_its_own),
        cmocka_unit_test(test_new_connection_makes_room),
        cmocka_unit_test(test_invalid_limits),
        cmocka_unit_test(test_watch_thread_enforces_deadlines),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
