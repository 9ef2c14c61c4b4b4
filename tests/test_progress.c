/* The progress display: duration, rate and line formatting, and the redraw / plain-line
 * cadence under an injected clock (times are multiples of 1/64 s, exact in binary, so the
 * expected counts are exact). */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/progress.h"

static void assert_duration(double seconds, const char *want)
{
    char buf[32];
    assert_string_equal(progress_format_duration(seconds, buf, sizeof buf), want);
}

static void assert_rate(double rate, const char *want)
{
    char buf[32];
    assert_string_equal(progress_format_rate(rate, buf, sizeof buf), want);
}

static void test_durations(void **state)
{
    assert_duration(0, "00:00");
    assert_duration(59.4, "00:59");
    assert_duration(59.6, "01:00");
    assert_duration(3599, "59:59");
    assert_duration(3600, "1:00:00");
    assert_duration(86399, "23:59:59");
    assert_duration(90061, "1d 01:01:01");
    assert_duration(12 * 86400 + 5, "12d 00:00:05");
    assert_duration(-1, "--:--");
    assert_duration(NAN, "--:--");
    assert_duration(INFINITY, "--:--");
}

static void test_rates(void **state)
{
    assert_rate(0, "0.00");
    assert_rate(3.254, "3.25");
    assert_rate(42.46, "42.5");
    assert_rate(99.99, "100.0");
    assert_rate(1234.4, "1234");
    assert_rate(12345, "12.3k");
    assert_rate(4.56e6, "4.56M");
    assert_rate(NAN, "-");
    assert_rate(-5, "-");
}

static progress_view sample_view(void)
{
    return (progress_view){.step = 450, .total_steps = 1000, .loss = 1.23456, .lr = 1.8e-5,
                           .pairs_per_s = 123.4, .eta_s = 271, .elapsed_s = 221};
}

static void test_plain_line(void **state)
{
    char line[512];
    progress_view v = sample_view();
    progress_format_line(&v, false, 0, "semb train", line, sizeof line);
    assert_string_equal(line, "semb train: step 450/1000 (45%)  loss 1.2346  lr 1.80e-05  "
                              "123 pairs/s  ETA 04:31  elapsed 03:41");
    /* Unknown total: no percentage, no ETA; nothing measured yet: dashes. */
    v = (progress_view){.step = 7, .loss = NAN, .lr = NAN, .pairs_per_s = NAN, .eta_s = NAN,
                        .elapsed_s = 3};
    progress_format_line(&v, false, 0, NULL, line, sizeof line);
    assert_string_equal(line, "step 7  loss -  - pairs/s  elapsed 00:03");
}

static void test_tty_line_and_bar(void **state)
{
    char line[512];
    progress_view v = sample_view();
    size_t len = progress_format_line(&v, true, 140, NULL, line, sizeof line);
    assert_string_equal(line, "[=============>                ]  45%  450/1000  loss 1.2346  "
                              "lr 1.80e-05  123 pairs/s  ETA 04:31  elapsed 03:41");
    assert_int_equal(len, strlen(line));
    /* Every width: the line fits one column short of the terminal, and the bar shrinks
     * before it disappears: 79 columns of text, "[", "] ", a 10-column bar and the spare
     * column need 93. */
    for (int width = 20; width <= 200; width++) {
        len = progress_format_line(&v, true, width, NULL, line, sizeof line);
        assert_true(len <= (size_t)width - 1);
        assert_int_equal(len, strlen(line));
        bool has_bar = line[0] == '[';
        assert_true(has_bar == (width >= 93));
    }
    v.step = 0;
    progress_format_line(&v, true, 140, NULL, line, sizeof line);
    assert_memory_equal(line, "[>                             ]   0%", 37);
    v.step = 1000;
    v.eta_s = 0;
    progress_format_line(&v, true, 140, NULL, line, sizeof line);
    assert_memory_equal(line, "[==============================] 100%", 37);
    /* A tiny buffer is truncated, never overrun. */
    char small[16];
    len = progress_format_line(&v, true, 140, NULL, small, sizeof small);
    assert_int_equal(len, 15);
    assert_int_equal(strlen(small), 15);
}

/* A display writing into memory. */
typedef struct capture {
    char *buf;
    size_t size;
    FILE *out;
} capture;

static void capture_start(capture *c, progress *p, const progress_config *cfg, double now)
{
    c->buf = NULL;
    c->size = 0;
    c->out = open_memstream(&c->buf, &c->size);
    assert_non_null(c->out);
    progress_init(p, cfg, c->out, now);
}

/* Closes the stream; returns the text written (the caller frees it). */
static char *capture_end(capture *c)
{
    fclose(c->out);
    return c->buf;
}

/* Runs n steps dt seconds apart through a display writing to memory; returns the output. */
static char *run_steps(const progress_config *cfg, int n, double dt, int *draws, double loss)
{
    capture c;
    progress p;
    double t0 = 1000;
    capture_start(&c, &p, cfg, t0);
    *draws = 0;
    for (int i = 1; i <= n; i++) {
        progress_step s = {.step = cfg->first_step + i, .loss = loss, .lr = 1e-4, .pairs = 32};
        *draws += progress_update(&p, &s, t0 + i * dt);
    }
    progress_finish(&p, t0 + n * dt);
    return capture_end(&c);
}

static int count_char(const char *s, char c)
{
    int n = 0;
    for (; *s; s++)
        n += *s == c;
    return n;
}

static void test_tty_cadence(void **state)
{
    /* 800 steps 1/64 s apart, redraws at most every 1/8 s: steps 1, 9, ..., 793 (100 draws),
     * then the last step at once, then the final redraw of progress_finish. */
    progress_config cfg = {.total_steps = 800, .tty = true, .width = 120,
                           .redraw_interval_s = 0.125};
    int draws;
    char *out = run_steps(&cfg, 800, 1.0 / 64, &draws, 2.0);
    assert_int_equal(draws, 101);
    assert_int_equal(count_char(out, '\r'), 102);
    assert_int_equal(count_char(out, '\n'), 2); /* end of the bar, then the summary */
    assert_non_null(strstr(out, "800/800"));
    assert_non_null(strstr(out, "done: 800 steps in 00:13, final loss 2.0000 (smoothed 2.0000), "
                                "2048 pairs/s\n"));
    free(out);
}

static void test_plain_cadence_by_time(void **state)
{
    /* One step per second, a line every 100 steps or 30 s: time wins. Lines at steps 1, 31,
     * 61, 91, then finish adds step 100 and the summary. */
    progress_config cfg = {.label = "semb train", .total_steps = 100, .plain_every_steps = 100,
                           .plain_every_s = 30};
    int draws;
    char *out = run_steps(&cfg, 100, 1, &draws, 1.5);
    assert_int_equal(draws, 4);
    assert_null(strchr(out, '\r'));
    assert_int_equal(count_char(out, '\n'), 6);
    const char *want[] = {"step 1/100 ", "step 31/100 ", "step 61/100 ", "step 91/100 ",
                          "step 100/100 ", "done: 100 steps in 01:40"};
    const char *at = out;
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++) {
        assert_memory_equal(at, "semb train: ", 12);
        if (!strstr(at, want[i]) || strchr(at, '\n') < strstr(at, want[i]))
            fail_msg("line %zu: want '%s' in: %.*s", i, want[i], (int)(strchr(at, '\n') - at), at);
        at = strchr(at, '\n') + 1;
    }
    free(out);
}

static void test_plain_cadence_by_steps(void **state)
{
    /* 1/64 s per step: the 100-step rule fires first (lines at 1, 101, ..., 901), finish
     * adds step 1000. The constant rate makes ETA and pairs/s exact. */
    progress_config cfg = {.total_steps = 1000, .plain_every_steps = 100, .plain_every_s = 30};
    int draws;
    char *out = run_steps(&cfg, 1000, 1.0 / 64, &draws, 0.5);
    assert_int_equal(draws, 10);
    assert_int_equal(count_char(out, '\n'), 12);
    /* At step 501: 64 steps/s, 2048 pairs/s, 499 steps left = 7.8 s. */
    assert_non_null(strstr(out, "step 501/1000 (50%)  loss 0.5000  lr 1.00e-04  2048 pairs/s  "
                                "ETA 00:08  elapsed 00:08\n"));
    assert_non_null(strstr(out, "step 1000/1000 (100%)"));
    free(out);
}

static void test_eta_follows_the_rate(void **state)
{
    capture c;
    progress p;
    progress_config cfg = {.total_steps = 1000, .tty = true, .redraw_interval_s = 0.125};
    capture_start(&c, &p, &cfg, 0);
    /* 8 steps/s for 50 s, then 2 steps/s: the smoothed ETA must move to the new rate. */
    double t = 0;
    int64_t step = 0;
    for (; step < 400; step++) {
        t += 0.125;
        progress_update(&p, &(progress_step){step + 1, 1.0, 1e-4, 16}, t);
    }
    progress_view v = progress_current_view(&p, t);
    assert_true(fabs(v.eta_s - 600.0 / 8) < 1e-6);
    assert_true(fabs(v.pairs_per_s - 128) < 1e-6);
    for (; step < 500; step++) {
        t += 0.5;
        progress_update(&p, &(progress_step){step + 1, 1.0, 1e-4, 16}, t);
    }
    v = progress_current_view(&p, t);
    assert_true(fabs(v.eta_s - 500.0 / 2) < 1);
    assert_true(fabs(v.elapsed_s - t) < 1e-9);
    free(capture_end(&c));
}

static void test_loss_smoothing_skips_non_finite(void **state)
{
    capture c;
    progress p;
    progress_config cfg = {.total_steps = 10, .loss_smoothing = 0.5};
    capture_start(&c, &p, &cfg, 0);
    progress_update(&p, &(progress_step){1, 4.0, 1e-4, 8}, 1);
    progress_update(&p, &(progress_step){2, NAN, 1e-4, 8}, 2);
    progress_update(&p, &(progress_step){3, INFINITY, 1e-4, 8}, 3);
    /* Bias-corrected EMA of 4 then 2 with factor 0.5: (0.25 * 4 + 0.5 * 2) / 0.75. */
    progress_update(&p, &(progress_step){4, 2.0, 1e-4, 8}, 4);
    progress_view v = progress_current_view(&p, 4);
    assert_true(fabs(v.loss - 2.0 / 0.75) < 1e-12);
    progress_finish(&p, 4);
    char *out = capture_end(&c);
    assert_non_null(strstr(out, "2 steps with a non-finite loss"));
    free(out);
}

static void test_resumed_run(void **state)
{
    /* Resumed at step 100 of 200 after 60 s: steps and elapsed continue, the summary counts
     * this run's steps and says where it resumed. */
    progress_config cfg = {.label = "semb train", .total_steps = 200, .first_step = 100,
                           .prior_elapsed_s = 60, .plain_every_steps = 50};
    int draws;
    char *out = run_steps(&cfg, 100, 0.25, &draws, 1.0);
    assert_non_null(strstr(out, "semb train: step 101/200 (50%)"));
    assert_non_null(strstr(out, "elapsed 01:00\n"));
    assert_non_null(strstr(out, "done: 100 steps in 01:25 (resumed at step 100)"));
    free(out);
}

static void test_clear_line(void **state)
{
    capture c;
    progress p;
    progress_config cfg = {.total_steps = 10, .tty = true};
    capture_start(&c, &p, &cfg, 0);
    progress_clear_line(&p); /* nothing drawn yet: nothing to clear */
    fflush(c.out);
    assert_int_equal(c.size, 0);
    progress_update(&p, &(progress_step){1, 1.0, 1e-4, 8}, 0.01);
    progress_clear_line(&p);
    fflush(c.out);
    assert_memory_equal(c.buf + c.size - 4, "\r\033[K", 4);
    /* The next update redraws at once even inside the redraw interval. */
    assert_true(progress_update(&p, &(progress_step){2, 1.0, 1e-4, 8}, 0.02));
    free(capture_end(&c));
    /* Not a terminal: plain mode is what a pipe or file gets. */
    FILE *f = tmpfile();
    assert_false(progress_stream_is_tty(f));
    assert_int_equal(progress_stream_width(f), 80);
    fclose(f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_durations),
        cmocka_unit_test(test_rates),
        cmocka_unit_test(test_plain_line),
        cmocka_unit_test(test_tty_line_and_bar),
        cmocka_unit_test(test_tty_cadence),
        cmocka_unit_test(test_plain_cadence_by_time),
        cmocka_unit_test(test_plain_cadence_by_steps),
        cmocka_unit_test(test_eta_follows_the_rate),
        cmocka_unit_test(test_loss_smoothing_skips_non_finite),
        cmocka_unit_test(test_resumed_run),
        cmocka_unit_test(test_clear_line),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
