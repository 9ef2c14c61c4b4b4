/* The training loss curve as an SVG line chart, drawn without Python or a plotting library,
 * for the model card: loss against step (raw as a thin line, an exponential moving average
 * over it), optional evaluation scores as markers on a second axis, ticked and labelled
 * axes, a title and a legend. Long runs are downsampled to at most LOSS_PLOT_MAX_POINTS
 * points per line keeping each bucket's minimum and maximum, so spikes stay visible. */
#ifndef SEMB_TRAIN_LOSS_PLOT_H
#define SEMB_TRAIN_LOSS_PLOT_H

#include <stddef.h>
#include <stdint.h>

#include "semb.h"

#define LOSS_PLOT_MAX_POINTS 2000

typedef struct loss_plot_input {
    const int64_t *steps;      /* n steps, non-decreasing */
    const double *loss;        /* n losses; NaN and infinities are skipped (and counted) */
    size_t n;
    const int64_t *eval_steps; /* n_eval evaluation points (right axis), or NULL */
    const double *eval_values;
    size_t n_eval;
    const char *eval_label;    /* e.g. "STS-B dev Spearman"; NULL: "evaluation" */
    const char *title;         /* NULL: "Training loss" */
    double smoothing_span;     /* EMA span in steps; <= 0: n / 50 within [5, 200] */
} loss_plot_input;

/* What the renderer drew, for callers and tests that check it. */
typedef struct loss_plot_stats {
    size_t raw_points;      /* points of the raw loss line */
    size_t smooth_points;   /* points of the smoothed line */
    size_t eval_points;     /* evaluation markers */
    size_t skipped;         /* non-finite losses and evaluation values left out */
} loss_plot_stats;

/* Renders the chart into a malloc'd NUL-terminated string (*svg, freed by the caller).
 * Errors: SEMB_ERR_INVALID_ARG when steps decrease or an array is NULL while its count is not
 * zero; SEMB_ERR_NOMEM. No points at all give a chart saying so, not an error. stats may be
 * NULL. */
semb_status loss_plot_render_svg(const loss_plot_input *in, char **svg, loss_plot_stats *stats,
                                 semb_error *err);

/* Renders and writes the chart to path atomically (temporary file, then rename); on failure
 * path is untouched and err names it. */
semb_status loss_plot_write_svg(const char *path, const loss_plot_input *in, semb_error *err);

#endif
