#include "eval/rank_stats.h"

#include <math.h>
#include <stdbool.h>
#include <stdlib.h>

#include "core/error.h"

static bool all_finite(const double *x, size_t n)
{
    for (size_t i = 0; i < n; i++)
        if (!isfinite(x[i]))
            return false;
    return true;
}

double rank_stats_pearson(const double *x, const double *y, size_t n)
{
    if (n < 2 || !all_finite(x, n) || !all_finite(y, n))
        return NAN;
    double mean_x = 0, mean_y = 0;
    for (size_t i = 0; i < n; i++) {
        mean_x += x[i];
        mean_y += y[i];
    }
    mean_x /= (double)n;
    mean_y /= (double)n;
    double sxy = 0, sxx = 0, syy = 0;
    for (size_t i = 0; i < n; i++) {
        double dx = x[i] - mean_x, dy = y[i] - mean_y;
        sxy += dx * dy;
        sxx += dx * dx;
        syy += dy * dy;
    }
    if (sxx == 0 || syy == 0)
        return NAN;
    double r = sxy / sqrt(sxx * syy);
    /* Rounding can push a perfect correlation a hair past 1. */
    return r > 1 ? 1 : r < -1 ? -1 : r;
}

typedef struct value_index {
    double value;
    size_t index;
} value_index;

static int by_value(const void *a, const void *b)
{
    const value_index *x = a, *y = b;
    return (x->value > y->value) - (x->value < y->value);
}

semb_status rank_stats_average_ranks(const double *x, size_t n, double *ranks, semb_error *err)
{
    if (n == 0)
        return SEMB_OK;
    value_index *sorted = malloc(n * sizeof *sorted);
    if (!sorted)
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate ranks of %zu values", n);
    for (size_t i = 0; i < n; i++)
        sorted[i] = (value_index){x[i], i};
    qsort(sorted, n, sizeof *sorted, by_value);
    for (size_t start = 0; start < n;) {
        size_t end = start + 1;
        while (end < n && sorted[end].value == sorted[start].value)
            end++;
        /* positions start..end-1 hold ranks start+1..end; their mean is (start+1+end)/2 */
        double rank = 0.5 * (double)(start + 1 + end);
        for (size_t k = start; k < end; k++)
            ranks[sorted[k].index] = rank;
        start = end;
    }
    free(sorted);
    return SEMB_OK;
}

semb_status rank_stats_spearman(const double *x, const double *y, size_t n, double *rho,
                                semb_error *err)
{
    *rho = NAN;
    if (n < 2 || !all_finite(x, n) || !all_finite(y, n))
        return SEMB_OK;
    double *rx = malloc(n * sizeof *rx), *ry = malloc(n * sizeof *ry);
    semb_status st = SEMB_OK;
    if (!rx || !ry)
        st = semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate ranks of %zu values", n);
    if (!st)
        st = rank_stats_average_ranks(x, n, rx, err);
    if (!st)
        st = rank_stats_average_ranks(y, n, ry, err);
    if (!st)
        *rho = rank_stats_pearson(rx, ry, n);
    free(rx);
    free(ry);
    return st;
}
