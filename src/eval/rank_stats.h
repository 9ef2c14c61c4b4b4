/* Correlation coefficients for evaluation: Pearson's r, and Spearman's rho with average
 * ranks for ties, as scipy.stats.pearsonr / spearmanr compute them. */
#ifndef SEMB_EVAL_RANK_STATS_H
#define SEMB_EVAL_RANK_STATS_H

#include <stddef.h>

#include "semb.h"

/* Pearson's r of x[0..n) and y[0..n), in double with the means subtracted first (no
 * cancellation on scores far from zero). NaN, the value scipy gives, when r is undefined:
 * n < 2, a constant column, or any value that is not finite. */
double rank_stats_pearson(const double *x, const double *y, size_t n);

/* Writes the 1-based rank of each x[i] into ranks[i] (caller-owned, n entries); tied values
 * all get the mean of the ranks they span (scipy.stats.rankdata's "average"): {10, 20, 20, 30}
 * gives {1, 2.5, 2.5, 4}. x must hold no NaN. SEMB_ERR_NOMEM when scratch space cannot be
 * allocated; ranks is then unspecified. */
semb_status rank_stats_average_ranks(const double *x, size_t n, double *ranks, semb_error *err);

/* Spearman's rho: Pearson's r of the average ranks of x and y. *rho is NaN in the cases
 * rank_stats_pearson gives NaN. Fails only with SEMB_ERR_NOMEM. */
semb_status rank_stats_spearman(const double *x, const double *y, size_t n, double *rho,
                                semb_error *err);

#endif
