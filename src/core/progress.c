#include "core/progress.h"

#include <math.h>
#include <stdarg.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

/* Rates are smoothed over draws as tqdm does (weight 0.3 on the newest window): steady
 * enough to read, quick enough to follow a slowdown. */
#define RATE_SMOOTHING 0.7
#define BAR_MAX_WIDTH 30
#define BAR_MIN_WIDTH 10
#define LINE_MAX 512

void progress_init(progress *p, const progress_config *cfg, FILE *out, double now)
{
    memset(p, 0, sizeof *p);
    p->cfg = *cfg;
    if (p->cfg.width <= 0)
        p->cfg.width = 100;
    if (p->cfg.redraw_interval_s <= 0)
        p->cfg.redraw_interval_s = 0.1;
    if (p->cfg.plain_every_s <= 0)
        p->cfg.plain_every_s = 30;
    if (!(p->cfg.loss_smoothing > 0 && p->cfg.loss_smoothing < 1))
        p->cfg.loss_smoothing = 0.95;
    p->out = out;
    p->start = p->last_rate_time = now;
    p->last_draw = -INFINITY;
    p->step = p->last_rate_step = p->last_plain_step = cfg->first_step;
    p->last_loss = p->last_lr = NAN;
}

static double ema_value(double sum, double weight)
{
    return weight > 0 ? sum / weight : NAN;
}

progress_view progress_current_view(const progress *p, double now)
{
    progress_view v = {.step = p->step, .total_steps = p->cfg.total_steps,
                       .loss = ema_value(p->loss_ema, p->loss_weight), .lr = p->last_lr,
                       .pairs_per_s = ema_value(p->pair_rate, p->rate_weight), .eta_s = NAN,
                       .elapsed_s = p->cfg.prior_elapsed_s + (now - p->start)};
    double step_rate = ema_value(p->step_rate, p->rate_weight);
    if (v.total_steps > 0 && step_rate > 0)
        v.eta_s = (double)(v.total_steps > v.step ? v.total_steps - v.step : 0) / step_rate;
    return v;
}

/* Folds the window since the last measurement into the smoothed rates. */
static void measure_rates(progress *p, double now)
{
    double dt = now - p->last_rate_time;
    if (!(dt > 0) || p->step == p->last_rate_step)
        return;
    double steps = (double)(p->step - p->last_rate_step);
    double pairs = (double)(p->pairs - p->last_rate_pairs);
    p->step_rate = RATE_SMOOTHING * p->step_rate + (1 - RATE_SMOOTHING) * steps / dt;
    p->pair_rate = RATE_SMOOTHING * p->pair_rate + (1 - RATE_SMOOTHING) * pairs / dt;
    p->rate_weight = RATE_SMOOTHING * p->rate_weight + (1 - RATE_SMOOTHING);
    p->last_rate_time = now;
    p->last_rate_step = p->step;
    p->last_rate_pairs = p->pairs;
}

char *progress_format_duration(double seconds, char *buf, size_t size)
{
    if (!isfinite(seconds) || seconds < 0 || seconds > 1e9) {
        snprintf(buf, size, "--:--");
        return buf;
    }
    long long s = llround(seconds);
    long long days = s / 86400, h = s / 3600 % 24, m = s / 60 % 60, sec = s % 60;
    if (days > 0)
        snprintf(buf, size, "%lldd %02lld:%02lld:%02lld", days, h, m, sec);
    else if (h > 0)
        snprintf(buf, size, "%lld:%02lld:%02lld", h, m, sec);
    else
        snprintf(buf, size, "%02lld:%02lld", m, sec);
    return buf;
}

char *progress_format_rate(double r, char *buf, size_t size)
{
    if (!isfinite(r) || r < 0)
        snprintf(buf, size, "-");
    else if (r < 10)
        snprintf(buf, size, "%.2f", r);
    else if (r < 100)
        snprintf(buf, size, "%.1f", r);
    else if (r < 9999.5)
        snprintf(buf, size, "%.0f", r);
    else if (r < 999.95e3)
        snprintf(buf, size, "%.1fk", r / 1e3);
    else
        snprintf(buf, size, "%.2fM", r / 1e6);
    return buf;
}

/* Appends to a bounded buffer, keeping it NUL-terminated and *len at most size - 1. */
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
static void append(char *buf, size_t size, size_t *len, const char *fmt, ...)
{
    if (*len + 1 >= size)
        return;
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(buf + *len, size - *len, fmt, ap);
    va_end(ap);
    if (n > 0)
        *len = *len + (size_t)n < size ? *len + (size_t)n : size - 1;
}

/* The part of a line after the bar or the label: loss, lr, rate, ETA, elapsed. */
static void format_fields(const progress_view *v, char *buf, size_t size, size_t *len)
{
    char rate[32], eta[32], elapsed[32];
    if (isfinite(v->loss))
        append(buf, size, len, "  loss %.4f", v->loss);
    else
        append(buf, size, len, "  loss -");
    if (isfinite(v->lr))
        append(buf, size, len, "  lr %.2e", v->lr);
    append(buf, size, len, "  %s pairs/s", progress_format_rate(v->pairs_per_s, rate, sizeof rate));
    if (v->total_steps > 0)
        append(buf, size, len, "  ETA %s", progress_format_duration(v->eta_s, eta, sizeof eta));
    append(buf, size, len, "  elapsed %s",
           progress_format_duration(v->elapsed_s, elapsed, sizeof elapsed));
}

static double fraction_done(const progress_view *v)
{
    double f = (double)v->step / (double)v->total_steps;
    return f < 0 ? 0 : f > 1 ? 1 : f;
}

size_t progress_format_line(const progress_view *v, bool tty, int width, const char *label,
                            char *buf, size_t size)
{
    char head[96], tail[LINE_MAX];
    size_t head_len = 0, tail_len = 0, len = 0;
    if (size == 0)
        return 0;
    buf[0] = head[0] = tail[0] = '\0';
    format_fields(v, tail, sizeof tail, &tail_len);
    if (!tty) {
        if (label && *label)
            append(buf, size, &len, "%s: ", label);
        append(buf, size, &len, "step %lld", (long long)v->step);
        if (v->total_steps > 0)
            append(buf, size, &len, "/%lld (%.0f%%)", (long long)v->total_steps,
                   floor(100 * fraction_done(v)));
        append(buf, size, &len, "%s", tail);
        return len;
    }
    if (v->total_steps > 0)
        append(head, sizeof head, &head_len, "%3.0f%%  %lld/%lld", floor(100 * fraction_done(v)),
               (long long)v->step, (long long)v->total_steps);
    else
        append(head, sizeof head, &head_len, "step %lld", (long long)v->step);
    /* One column short of the terminal: writing the last column makes some terminals wrap,
     * and a wrapped line can no longer be redrawn with \r. */
    int columns = (width > 0 ? width : 100) - 1;
    int bar = columns - (int)(head_len + tail_len) - 3; /* "[" bar "] " */
    if (bar > BAR_MAX_WIDTH)
        bar = BAR_MAX_WIDTH;
    if (v->total_steps > 0 && bar >= BAR_MIN_WIDTH) {
        int filled = (int)(fraction_done(v) * bar);
        append(buf, size, &len, "[");
        for (int i = 0; i < bar; i++)
            append(buf, size, &len, "%c", i < filled ? '=' : i == filled ? '>' : ' ');
        append(buf, size, &len, "] ");
    }
    append(buf, size, &len, "%s%s", head, tail);
    if (columns > 0 && len > (size_t)columns) {
        len = (size_t)columns;
        buf[len] = '\0';
    }
    return len;
}

static void draw(progress *p, double now, bool tty)
{
    char line[LINE_MAX];
    measure_rates(p, now);
    progress_view v = progress_current_view(p, now);
    progress_format_line(&v, tty, p->cfg.width, p->cfg.label, line, sizeof line);
    if (tty) {
        /* \033[K clears what a longer previous line left to the right. */
        fprintf(p->out, "\r%s\033[K", line);
        p->drawn_tty = true;
    } else {
        fprintf(p->out, "%s\n", line);
        p->last_plain_step = p->step;
    }
    fflush(p->out);
    p->last_draw = now;
}

bool progress_update(progress *p, const progress_step *s, double now)
{
    bool first = p->step == p->cfg.first_step;
    p->step = s->step;
    p->pairs += s->pairs;
    p->last_loss = s->loss;
    p->last_lr = s->lr;
    if (isfinite(s->loss)) {
        double a = p->cfg.loss_smoothing;
        p->loss_ema = a * p->loss_ema + (1 - a) * s->loss;
        p->loss_weight = a * p->loss_weight + (1 - a);
    } else {
        p->non_finite++;
    }
    bool due;
    if (p->cfg.tty) {
        bool last = p->cfg.total_steps > 0 && s->step >= p->cfg.total_steps;
        due = first || last || now - p->last_draw >= p->cfg.redraw_interval_s;
    } else {
        /* The first step is shown at once: it says training has started and what the loss
         * was before the model learned anything. */
        due = first || now - p->last_draw >= p->cfg.plain_every_s ||
              (p->cfg.plain_every_steps > 0 &&
               s->step - p->last_plain_step >= p->cfg.plain_every_steps);
    }
    if (due)
        draw(p, now, p->cfg.tty);
    return due;
}

void progress_clear_line(progress *p)
{
    if (!p->drawn_tty)
        return;
    fputs("\r\033[K", p->out);
    fflush(p->out);
    p->drawn_tty = false;
    p->last_draw = -INFINITY;
}

void progress_finish(progress *p, double now)
{
    if (p->cfg.tty) {
        draw(p, now, true);
        fputc('\n', p->out);
    } else if (p->step != p->last_plain_step) {
        draw(p, now, false);
    }
    char elapsed[32], rate[32];
    double seconds = now - p->start;
    int64_t steps = p->step - p->cfg.first_step;
    if (p->cfg.label && *p->cfg.label)
        fprintf(p->out, "%s: ", p->cfg.label);
    fprintf(p->out, "done: %lld steps in %s", (long long)steps,
            progress_format_duration(seconds + p->cfg.prior_elapsed_s, elapsed, sizeof elapsed));
    if (p->cfg.first_step > 0)
        fprintf(p->out, " (resumed at step %lld)", (long long)p->cfg.first_step);
    if (steps > 0) {
        fprintf(p->out, ", final loss ");
        fprintf(p->out, isfinite(p->last_loss) ? "%.4f" : "%g", p->last_loss);
        double smoothed = ema_value(p->loss_ema, p->loss_weight);
        if (isfinite(smoothed))
            fprintf(p->out, " (smoothed %.4f)", smoothed);
    }
    double pairs_per_s = seconds > 0 ? (double)p->pairs / seconds : NAN;
    fprintf(p->out, ", %s pairs/s", progress_format_rate(pairs_per_s, rate, sizeof rate));
    if (p->non_finite)
        fprintf(p->out, ", %lld step%s with a non-finite loss", (long long)p->non_finite,
                p->non_finite == 1 ? "" : "s");
    fputc('\n', p->out);
    fflush(p->out);
}

bool progress_stream_is_tty(FILE *out)
{
    return out && isatty(fileno(out));
}

int progress_stream_width(FILE *out)
{
    struct winsize ws;
    if (out && ioctl(fileno(out), TIOCGWINSZ, &ws) == 0 && ws.ws_col > 0)
        return ws.ws_col;
    return 80;
}
