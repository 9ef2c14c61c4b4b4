/* Training progress on a terminal or a log: on a TTY one line redrawn in place (bar,
 * step/total, smoothed loss, lr, pairs/s, ETA, elapsed) at most a few times a second; on a
 * pipe or file plain lines every N steps or every ~30 s, so logs stay readable and small;
 * and a summary line at the end. The clock is passed in (`now`, seconds on any monotonic
 * scale), so the cadence is testable and nothing here reads global state. */
#ifndef SEMB_CORE_PROGRESS_H
#define SEMB_CORE_PROGRESS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

typedef struct progress_config {
    const char *label;         /* line prefix in plain mode, e.g. "semb train"; NULL: none */
    int64_t total_steps;       /* <= 0: unknown (no bar, percentage or ETA) */
    int64_t first_step;        /* steps done before this run (a resumed run starts here) */
    double prior_elapsed_s;    /* training time of earlier runs, added to the elapsed shown */
    bool tty;                  /* redraw one line in place; false: plain lines */
    int width;                 /* TTY columns; <= 0: 100 */
    double redraw_interval_s;  /* TTY: at most one redraw per interval; <= 0: 0.1 */
    int64_t plain_every_steps; /* plain: a line every N steps; <= 0: only by time */
    double plain_every_s;      /* plain: a line when this long has passed; <= 0: 30 */
    double loss_smoothing;     /* EMA factor of the loss shown, in [0, 1); <= 0: 0.95 */
} progress_config;

/* What the trainer reports after each optimizer step. */
typedef struct progress_step {
    int64_t step;  /* steps completed in the whole training (first_step + steps of this run) */
    double loss;   /* this step's loss; non-finite values are shown but not smoothed in */
    double lr;
    int64_t pairs; /* training examples (anchors) in this step */
} progress_step;

/* The numbers one line shows; progress_format_line turns them into text. */
typedef struct progress_view {
    int64_t step, total_steps; /* total <= 0: unknown */
    double loss;               /* smoothed; NaN before the first finite loss */
    double lr;
    double pairs_per_s;        /* NaN: not measured yet */
    double eta_s;              /* NaN: unknown */
    double elapsed_s;
} progress_view;

typedef struct progress {
    progress_config cfg;
    FILE *out;
    double start;              /* `now` at progress_init */
    double last_draw;          /* when the last line was drawn (TTY or plain) */
    double last_rate_time;     /* rate window start */
    int64_t last_rate_step, last_rate_pairs;
    int64_t last_plain_step;
    double step_rate, pair_rate; /* EMA of steps/s and pairs/s, bias-corrected by rate_weight */
    double rate_weight;
    double loss_ema, loss_weight;
    double last_loss, last_lr;
    int64_t step, pairs;       /* latest step; pairs of this run */
    int64_t non_finite;        /* steps whose loss was NaN or infinite */
    bool drawn_tty;            /* a TTY line is on screen and needs a newline before others */
} progress;

/* Starts a display writing to out (not owned; usually stderr). Values of cfg <= 0 take the
 * defaults documented in progress_config. Never fails. */
void progress_init(progress *p, const progress_config *cfg, FILE *out, double now);

/* Records one step and draws a line if the cadence says so. Returns true when it drew. */
bool progress_update(progress *p, const progress_step *s, double now);

/* Call before writing anything else to the same stream (a warning, an evaluation result):
 * on a TTY it erases the bar so that text starts on a clean line; the bar comes back at the
 * next update. Does nothing in plain mode. */
void progress_clear_line(progress *p);

/* Draws the final state (the TTY line at its last value, then a newline) and the summary
 * line "done: N steps in T, final loss L (smoothed S), R pairs/s". */
void progress_finish(progress *p, double now);

/* The numbers the display would show at `now`. */
progress_view progress_current_view(const progress *p, double now);

/* Formats a duration as "MM:SS" under an hour, "H:MM:SS" under a day, "Nd HH:MM:SS" beyond,
 * and "--:--" when it is negative or not finite. Returns buf. */
char *progress_format_duration(double seconds, char *buf, size_t size);

/* Formats a rate compactly: "3.25", "42.5", "1234", "12.3k", "4.56M"; "-" when not finite. */
char *progress_format_rate(double per_second, char *buf, size_t size);

/* One display line for v into buf (always NUL-terminated, truncated to size). With `tty`
 * it starts with a bar sized so the whole line fits `width` columns (the bar is dropped
 * when fewer than 10 columns would be left for it); without, it starts with `label`.
 * Returns the length written. */
size_t progress_format_line(const progress_view *v, bool tty, int width, const char *label,
                            char *buf, size_t size);

/* Whether out is a terminal, and its width in columns (80 when it cannot be asked). */
bool progress_stream_is_tty(FILE *out);
int progress_stream_width(FILE *out);

#endif
