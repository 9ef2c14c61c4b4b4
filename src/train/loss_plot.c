#include "train/loss_plot.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"

#define WIDTH 800
#define HEIGHT 450
#define MARGIN_LEFT 72
#define MARGIN_RIGHT_PLAIN 28
#define MARGIN_RIGHT_EVAL 72
#define MARGIN_TOP 70
#define MARGIN_BOTTOM 64
#define TARGET_TICKS 6

#define COLOR_RAW "#9ecae1"
#define COLOR_SMOOTH "#08519c"
#define COLOR_EVAL "#d94801"
#define COLOR_GRID "#e5e5e5"
#define COLOR_AXIS "#444444"

/* A linear axis: the data interval [lo, hi] widened to whole ticks of `step`. */
typedef struct axis {
    double lo, hi, step;
    int decimals; /* digits after the point its tick labels need */
} axis;

/* The chart's finite points and what is drawn of them. */
typedef struct series {
    double *x, *y, *smooth; /* finite loss points and their moving average */
    size_t n;
    size_t *raw_index;      /* the points of the raw line, in order */
    size_t n_raw;
} series;

/* 1, 2 or 5 times a power of ten, so that about TARGET_TICKS ticks cover span. */
static double nice_step(double span)
{
    double raw = span / TARGET_TICKS;
    double magnitude = pow(10, floor(log10(raw)));
    double r = raw / magnitude;
    return (r <= 1 ? 1 : r <= 2 ? 2 : r <= 5 ? 5 : 10) * magnitude;
}

/* A degenerate interval (one value, a constant, or differences at the last digit of a
 * double) is widened around it so that the value sits mid-chart rather than on an edge,
 * dividing by zero or needing seventeen decimals. */
static axis make_axis(double lo, double hi, bool integer_ticks)
{
    if (!(hi - lo > 1e-9 * fmax(fabs(lo), fabs(hi)))) {
        double pad = integer_ticks ? 1 : lo != 0 ? 0.1 * fabs(lo) : 1;
        lo -= pad;
        hi += pad;
    }
    axis a = {.step = nice_step(hi - lo)};
    if (integer_ticks && a.step < 1)
        a.step = 1;
    a.lo = floor(lo / a.step + 1e-9) * a.step;
    a.hi = ceil(hi / a.step - 1e-9) * a.step;
    a.decimals = a.step >= 1 ? 0 : (int)ceil(-log10(a.step) - 1e-9);
    if (a.decimals > 12)
        a.decimals = 12;
    return a;
}

static double to_px(const axis *a, double v, double px_lo, double px_hi)
{
    return px_lo + (v - a->lo) / (a->hi - a->lo) * (px_hi - px_lo);
}

/* XML text or attribute content: the five special characters escaped, and control
 * characters (which XML 1.0 forbids) shown as spaces. */
static void put_xml_text(FILE *f, const char *s)
{
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        switch (c) {
        case '&': fputs("&amp;", f); break;
        case '<': fputs("&lt;", f); break;
        case '>': fputs("&gt;", f); break;
        case '"': fputs("&quot;", f); break;
        case '\'': fputs("&apos;", f); break;
        default: fputc(c < 0x20 ? ' ' : c, f);
        }
    }
}

static void series_free(series *s)
{
    free(s->x);
    free(s->y);
    free(s->smooth);
    free(s->raw_index);
}

static double default_span(size_t n)
{
    double span = (double)n / 50;
    return span < 5 ? 5 : span > 200 ? 200 : span;
}

/* Keeps the finite losses and computes their exponential moving average with the bias
 * correction Adam uses, so the first points are not dragged toward zero. */
static semb_status collect_points(const loss_plot_input *in, series *s, size_t *skipped,
                                  semb_error *err)
{
    size_t cap = in->n ? in->n : 1;
    s->x = malloc(cap * sizeof *s->x);
    s->y = malloc(cap * sizeof *s->y);
    s->smooth = malloc(cap * sizeof *s->smooth);
    s->raw_index = malloc((cap < LOSS_PLOT_MAX_POINTS ? cap : LOSS_PLOT_MAX_POINTS) *
                          sizeof *s->raw_index);
    if (!s->x || !s->y || !s->smooth || !s->raw_index)
        return semb_fail(err, SEMB_ERR_NOMEM, "loss plot: out of memory for %zu points", in->n);
    double span = in->smoothing_span > 0 ? in->smoothing_span : default_span(in->n);
    double alpha = span > 1 ? 2 / (span + 1) : 1;
    double ema = 0, weight = 0;
    for (size_t i = 0; i < in->n; i++) {
        if (!isfinite(in->loss[i])) {
            (*skipped)++;
            continue;
        }
        ema = (1 - alpha) * ema + alpha * in->loss[i];
        weight = (1 - alpha) * weight + alpha;
        s->x[s->n] = (double)in->steps[i];
        s->y[s->n] = in->loss[i];
        s->smooth[s->n] = ema / weight;
        s->n++;
    }
    return SEMB_OK;
}

/* At most LOSS_PLOT_MAX_POINTS points: all of them when they fit, else for each of
 * LOSS_PLOT_MAX_POINTS / 2 equal buckets its lowest and highest loss in step order (the
 * bucket's first and last point when it is flat), which keeps the envelope of a noisy
 * curve and every spike. */
static void choose_raw_points(series *s)
{
    if (s->n <= LOSS_PLOT_MAX_POINTS) {
        for (size_t i = 0; i < s->n; i++)
            s->raw_index[i] = i;
        s->n_raw = s->n;
        return;
    }
    size_t buckets = LOSS_PLOT_MAX_POINTS / 2;
    for (size_t b = 0; b < buckets; b++) {
        size_t begin = b * s->n / buckets, end = (b + 1) * s->n / buckets;
        size_t lo = begin, hi = begin;
        for (size_t i = begin; i < end; i++) {
            if (s->y[i] < s->y[lo])
                lo = i;
            if (s->y[i] > s->y[hi])
                hi = i;
        }
        if (lo == hi) {
            lo = begin;
            hi = end - 1;
        }
        s->raw_index[s->n_raw++] = lo < hi ? lo : hi;
        s->raw_index[s->n_raw++] = lo < hi ? hi : lo;
    }
}

typedef struct frame {
    double left, right, top, bottom; /* plot area in pixels */
    axis x, y, eval;
    bool has_eval;
} frame;

static void range_of(const double *v, size_t n, double *lo, double *hi)
{
    *lo = INFINITY;
    *hi = -INFINITY;
    for (size_t i = 0; i < n; i++) {
        if (!isfinite(v[i]))
            continue;
        *lo = v[i] < *lo ? v[i] : *lo;
        *hi = v[i] > *hi ? v[i] : *hi;
    }
}

static void write_header(FILE *f, const char *title)
{
    fprintf(f, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
               "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"%d\" height=\"%d\" "
               "viewBox=\"0 0 %d %d\" font-family=\"DejaVu Sans, Helvetica, Arial, sans-serif\" "
               "font-size=\"12\">\n<title>",
            WIDTH, HEIGHT, WIDTH, HEIGHT);
    put_xml_text(f, title);
    fprintf(f, "</title>\n<rect width=\"%d\" height=\"%d\" fill=\"#ffffff\"/>\n"
               "<text x=\"%d\" y=\"28\" text-anchor=\"middle\" font-size=\"16\" "
               "font-weight=\"bold\">",
            WIDTH, HEIGHT, WIDTH / 2);
    put_xml_text(f, title);
    fputs("</text>\n", f);
}

/* Horizontal grid lines and labels for a vertical axis at x = at (left or right side). */
static void write_y_ticks(FILE *f, const frame *fr, const axis *a, bool right, bool grid)
{
    double x = right ? fr->right : fr->left;
    for (int k = 0; k <= 4 * TARGET_TICKS && a->lo + k * a->step <= a->hi + a->step * 1e-6; k++) {
        double v = a->lo + k * a->step;
        double y = to_px(a, v, fr->bottom, fr->top);
        if (grid)
            fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\"/>\n",
                    fr->left, y, fr->right, y, COLOR_GRID);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\"/>\n", x,
                y, right ? x + 5 : x - 5, y, COLOR_AXIS);
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"%s\" dominant-baseline=\"middle\"%s>"
                   "%.*f</text>\n",
                right ? x + 8 : x - 8, y, right ? "start" : "end",
                right ? " fill=\"" COLOR_EVAL "\"" : "", a->decimals,
                fabs(v) < a->step * 1e-9 ? 0.0 : v);
    }
}

static void write_axes(FILE *f, const frame *fr, const char *eval_label)
{
    fprintf(f, "<g id=\"axes\" font-size=\"11\" fill=\"%s\">\n", COLOR_AXIS);
    write_y_ticks(f, fr, &fr->y, false, true);
    if (fr->has_eval)
        write_y_ticks(f, fr, &fr->eval, true, false);
    for (int k = 0; k <= 4 * TARGET_TICKS &&
                    fr->x.lo + k * fr->x.step <= fr->x.hi + fr->x.step * 1e-6; k++) {
        double v = fr->x.lo + k * fr->x.step;
        double x = to_px(&fr->x, v, fr->left, fr->right);
        fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\"/>\n", x,
                fr->bottom, x, fr->bottom + 5, COLOR_AXIS);
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\">%.0f</text>\n", x,
                fr->bottom + 18, v);
    }
    fprintf(f, "<rect x=\"%.2f\" y=\"%.2f\" width=\"%.2f\" height=\"%.2f\" fill=\"none\" "
               "stroke=\"%s\"/>\n",
            fr->left, fr->top, fr->right - fr->left, fr->bottom - fr->top, COLOR_AXIS);
    fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"13\">step</text>\n",
            (fr->left + fr->right) / 2, fr->bottom + 40);
    double mid = (fr->top + fr->bottom) / 2;
    fprintf(f, "<text x=\"18\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"13\" "
               "transform=\"rotate(-90 18 %.2f)\">loss</text>\n", mid, mid);
    if (fr->has_eval) {
        fprintf(f, "<text x=\"%d\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"13\" fill=\"%s\" "
                   "transform=\"rotate(90 %d %.2f)\">",
                WIDTH - 16, mid, COLOR_EVAL, WIDTH - 16, mid);
        put_xml_text(f, eval_label);
        fputs("</text>\n", f);
    }
    fputs("</g>\n", f);
}

static void write_polyline(FILE *f, const char *id, const char *color, double stroke_width,
                           const frame *fr, const double *x, const double *y,
                           const size_t *index, size_t n)
{
    fprintf(f, "<polyline id=\"%s\" fill=\"none\" stroke=\"%s\" stroke-width=\"%g\" "
               "stroke-linejoin=\"round\" points=\"", id, color, stroke_width);
    for (size_t k = 0; k < n; k++) {
        size_t i = index ? index[k] : k;
        fprintf(f, "%s%.2f,%.2f", k ? " " : "", to_px(&fr->x, x[i], fr->left, fr->right),
                to_px(&fr->y, y[i], fr->bottom, fr->top));
    }
    fputs("\"/>\n", f);
}

/* The smoothed line at up to LOSS_PLOT_MAX_POINTS evenly spaced points, first and last
 * included (it has no spikes to preserve). */
static size_t write_smooth_line(FILE *f, const frame *fr, const series *s)
{
    size_t n = s->n < LOSS_PLOT_MAX_POINTS ? s->n : LOSS_PLOT_MAX_POINTS;
    fprintf(f, "<polyline id=\"loss-smooth\" fill=\"none\" stroke=\"%s\" stroke-width=\"2\" "
               "stroke-linejoin=\"round\" points=\"", COLOR_SMOOTH);
    for (size_t k = 0; k < n; k++) {
        size_t i = n > 1 ? (size_t)((double)k * (double)(s->n - 1) / (double)(n - 1) + 0.5) : 0;
        fprintf(f, "%s%.2f,%.2f", k ? " " : "", to_px(&fr->x, s->x[i], fr->left, fr->right),
                to_px(&fr->y, s->smooth[i], fr->bottom, fr->top));
    }
    fputs("\"/>\n", f);
    return n;
}

/* Evaluation scores as circles on the right axis, joined by a dashed line, each with a
 * tooltip giving its step and value. */
static size_t write_eval(FILE *f, const frame *fr, const loss_plot_input *in, size_t *skipped)
{
    size_t drawn = 0;
    fprintf(f, "<g id=\"eval\" fill=\"%s\" stroke=\"%s\">\n<polyline fill=\"none\" "
               "stroke-dasharray=\"4 3\" points=\"", COLOR_EVAL, COLOR_EVAL);
    for (size_t i = 0; i < in->n_eval; i++)
        if (isfinite(in->eval_values[i]))
            fprintf(f, "%s%.2f,%.2f", drawn++ ? " " : "",
                    to_px(&fr->x, (double)in->eval_steps[i], fr->left, fr->right),
                    to_px(&fr->eval, in->eval_values[i], fr->bottom, fr->top));
    fputs("\"/>\n", f);
    for (size_t i = 0; i < in->n_eval; i++) {
        if (!isfinite(in->eval_values[i])) {
            (*skipped)++;
            continue;
        }
        fprintf(f, "<circle class=\"eval-marker\" cx=\"%.2f\" cy=\"%.2f\" r=\"4\">"
                   "<title>step %lld: %.4g</title></circle>\n",
                to_px(&fr->x, (double)in->eval_steps[i], fr->left, fr->right),
                to_px(&fr->eval, in->eval_values[i], fr->bottom, fr->top),
                (long long)in->eval_steps[i], in->eval_values[i]);
    }
    fputs("</g>\n", f);
    return drawn;
}

/* One legend entry at (x, y); returns where the next one starts. Text width is estimated
 * (about 0.6 em a character at 11 px), which is all a static SVG can do. */
static double legend_entry(FILE *f, double x, double y, const char *color, double width,
                           const char *dash, const char *text)
{
    fprintf(f, "<line x1=\"%.2f\" y1=\"%.2f\" x2=\"%.2f\" y2=\"%.2f\" stroke=\"%s\" "
               "stroke-width=\"%g\"%s/>\n<text x=\"%.2f\" y=\"%.2f\" dominant-baseline=\"middle\">",
            x, y, x + 22, y, color, width, dash, x + 28, y);
    put_xml_text(f, text);
    fputs("</text>\n", f);
    return x + 28 + 6.6 * (double)strlen(text) + 24;
}

/* A single row between the title and the plot, so it never hides a part of the curves. */
static void write_legend(FILE *f, const frame *fr, double span, const char *eval_label)
{
    char smooth[64];
    snprintf(smooth, sizeof smooth, "moving average (EMA, span %.0f)", span);
    double x = fr->left, y = fr->top - 18;
    fputs("<g id=\"legend\" font-size=\"11\">\n", f);
    x = legend_entry(f, x, y, COLOR_RAW, 1, "", "loss per step");
    x = legend_entry(f, x, y, COLOR_SMOOTH, 2, "", smooth);
    if (fr->has_eval)
        legend_entry(f, x, y, COLOR_EVAL, 1, " stroke-dasharray=\"4 3\"", eval_label);
    fputs("</g>\n", f);
}

static semb_status check_input(const loss_plot_input *in, semb_error *err)
{
    if ((in->n && (!in->steps || !in->loss)) ||
        (in->n_eval && (!in->eval_steps || !in->eval_values)))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "loss plot: a series has a count but no data");
    for (size_t i = 1; i < in->n; i++)
        if (in->steps[i] < in->steps[i - 1])
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "loss plot: steps go backwards at point %zu (%lld after %lld)", i,
                             (long long)in->steps[i], (long long)in->steps[i - 1]);
    return SEMB_OK;
}

/* Axes spanning the finite loss points and the evaluation steps and values. */
static frame make_frame(const series *s, const loss_plot_input *in)
{
    frame fr = {.left = MARGIN_LEFT, .top = MARGIN_TOP, .bottom = HEIGHT - MARGIN_BOTTOM};
    double xlo, xhi, ylo, yhi, elo, ehi;
    range_of(s->x, s->n, &xlo, &xhi);
    range_of(s->y, s->n, &ylo, &yhi);
    range_of(in->eval_values, in->n_eval, &elo, &ehi);
    fr.has_eval = elo <= ehi;
    for (size_t i = 0; i < in->n_eval; i++) {
        if (!isfinite(in->eval_values[i]))
            continue;
        xlo = fmin(xlo, (double)in->eval_steps[i]);
        xhi = fmax(xhi, (double)in->eval_steps[i]);
    }
    if (xlo > xhi)
        xlo = xhi = 0;
    if (ylo > yhi)
        ylo = yhi = 0;
    fr.right = WIDTH - (fr.has_eval ? MARGIN_RIGHT_EVAL : MARGIN_RIGHT_PLAIN);
    fr.x = make_axis(xlo, xhi, true);
    fr.y = make_axis(ylo, yhi, false);
    /* Markers are drawn whole: a margin keeps the best and worst off the frame. */
    if (fr.has_eval)
        fr.eval = make_axis(elo - 0.05 * (ehi - elo), ehi + 0.05 * (ehi - elo), false);
    return fr;
}

static void write_notes(FILE *f, const frame *fr, const series *s, size_t skipped)
{
    if (s->n == 0)
        fprintf(f, "<text x=\"%.2f\" y=\"%.2f\" text-anchor=\"middle\" font-size=\"14\" "
                   "fill=\"%s\">no finite loss values to plot</text>\n",
                (fr->left + fr->right) / 2, (fr->top + fr->bottom) / 2, COLOR_AXIS);
    if (skipped)
        fprintf(f, "<text id=\"skipped-note\" x=\"%.2f\" y=\"%d\" font-size=\"11\" "
                   "fill=\"#b00000\">%zu non-finite value%s (NaN or infinity) left out</text>\n",
                fr->left, HEIGHT - 8, skipped, skipped == 1 ? "" : "s");
}

static void render(FILE *f, const loss_plot_input *in, series *s, size_t skipped,
                   loss_plot_stats *stats)
{
    const char *title = in->title ? in->title : "Training loss";
    const char *eval_label = in->eval_label ? in->eval_label : "evaluation";
    frame fr = make_frame(s, in);
    write_header(f, title);
    write_axes(f, &fr, eval_label);
    choose_raw_points(s);
    write_polyline(f, "loss-raw", COLOR_RAW, 1, &fr, s->x, s->y, s->raw_index, s->n_raw);
    if (s->n == 1)
        fprintf(f, "<circle cx=\"%.2f\" cy=\"%.2f\" r=\"3\" fill=\"%s\"/>\n",
                to_px(&fr.x, s->x[0], fr.left, fr.right), to_px(&fr.y, s->y[0], fr.bottom, fr.top),
                COLOR_SMOOTH);
    stats->raw_points = s->n_raw;
    stats->smooth_points = write_smooth_line(f, &fr, s);
    if (fr.has_eval)
        stats->eval_points = write_eval(f, &fr, in, &skipped);
    else
        skipped += in->n_eval; /* none of them finite */
    double span = in->smoothing_span > 0 ? in->smoothing_span : default_span(in->n);
    write_legend(f, &fr, span, eval_label);
    write_notes(f, &fr, s, skipped);
    fputs("</svg>\n", f);
    stats->skipped = skipped;
}

semb_status loss_plot_render_svg(const loss_plot_input *in, char **svg, loss_plot_stats *stats,
                                 semb_error *err)
{
    *svg = NULL;
    semb_status st = check_input(in, err);
    if (st)
        return st;
    series s = {0};
    size_t skipped = 0;
    if ((st = collect_points(in, &s, &skipped, err))) {
        series_free(&s);
        return st;
    }
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f) {
        series_free(&s);
        return semb_fail(err, SEMB_ERR_NOMEM, "loss plot: out of memory");
    }
    loss_plot_stats local = {0};
    render(f, in, &s, skipped, &local);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed || !buf) {
        free(buf);
        series_free(&s);
        return semb_fail(err, SEMB_ERR_NOMEM, "loss plot: out of memory writing the chart");
    }
    series_free(&s);
    if (stats)
        *stats = local;
    *svg = buf;
    return SEMB_OK;
}

semb_status loss_plot_write_svg(const char *path, const loss_plot_input *in, semb_error *err)
{
    char *svg;
    semb_status st = loss_plot_render_svg(in, &svg, NULL, err);
    if (st)
        return semb_fail_prefix(err, "%s: ", path);
    st = atomic_write_buffer(path, svg, strlen(svg), err);
    free(svg);
    return st;
}
