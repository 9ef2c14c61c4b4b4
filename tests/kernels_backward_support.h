/* What the backward kernel tests share: deterministic random inputs, normwise and
 * elementwise error checks that remember the worst error / tolerance ratio (each test
 * reports it), and the central-difference gradient check in double.
 * Errors are normwise unless said otherwise: max |x - exact| / max |exact| over an array.
 * Everything is static inline: each test program includes it once. */
#ifndef SEMB_TEST_KERNELS_BACKWARD_SUPPORT_H
#define SEMB_TEST_KERNELS_BACKWARD_SUPPORT_H

#include "support.h"

#include <float.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "kernels/kernel_path.h"

/* Central differences in double: with step 1e-5 on inputs of size ~1, truncation (h^2 f''')
 * and rounding (1e-16 |loss| / h) are both near 1e-10, four orders below the bound. */
#define FD_STEP 1e-5
#define FD_TOLERANCE 1e-6

/* xorshift64*: the same numbers on every machine and run. */
static uint64_t test_random = 0x2545F4914F6CDD1Dull;

static inline float uniform(float lo, float hi)
{
    test_random ^= test_random >> 12;
    test_random ^= test_random << 25;
    test_random ^= test_random >> 27;
    uint64_t r = test_random * 0x2545F4914F6CDD1Dull;
    return lo + (hi - lo) * (float)((double)(r >> 40) / (double)(1 << 24));
}

static inline float *random_array(size_t n, float lo, float hi)
{
    float *x = malloc((n ? n : 1) * sizeof *x);
    assert_non_null(x);
    for (size_t i = 0; i < n; i++)
        x[i] = uniform(lo, hi);
    return x;
}

static inline float *copy_array(const float *x, size_t n)
{
    float *y = malloc((n ? n : 1) * sizeof *y);
    assert_non_null(y);
    memcpy(y, x, n * sizeof *y);
    return y;
}

static inline double *to_double(const float *x, size_t n)
{
    double *y = calloc(n ? n : 1, sizeof *y);
    assert_non_null(y);
    for (size_t i = 0; i < n; i++)
        y[i] = x[i];
    return y;
}

static inline double *zeros(size_t n)
{
    double *y = calloc(n ? n : 1, sizeof *y);
    assert_non_null(y);
    return y;
}

static inline int testable_paths(kernel_path paths[2])
{
    paths[0] = KERNEL_PATH_GENERIC;
    if (kernel_path_supported(KERNEL_PATH_AVX2)) {
        paths[1] = KERNEL_PATH_AVX2;
        return 2;
    }
    print_message("NOTE: no AVX2 on this CPU (%s): AVX2 path not tested\n", cpu_features_string());
    return 1;
}

/* max |x - exact| / max |exact| (the absolute error when exact is all zero). */
static inline double normwise_error(const float *x, const double *exact, size_t n)
{
    double error = 0, size = 0;
    for (size_t i = 0; i < n; i++) {
        error = fmax(error, fabs((double)x[i] - exact[i]));
        size = fmax(size, fabs(exact[i]));
        if (isnan(x[i]) != isnan(exact[i]))
            return INFINITY;
    }
    return size > 0 ? error / size : error;
}

/* normwise_error of a [rows, cols] block with row stride ld, against float values. */
static inline double block_error(const float *x, const float *exact, int rows, int cols, int ld)
{
    double error = 0, size = 0;
    for (int r = 0; r < rows; r++)
        for (int c = 0; c < cols; c++) {
            size_t at = (size_t)r * ld + c;
            error = fmax(error, fabs((double)x[at] - exact[at]));
            size = fmax(size, fabs((double)exact[at]));
        }
    return size > 0 ? error / size : error;
}

static inline float *abs_copy(const float *x, size_t n)
{
    float *y = copy_array(x, n);
    for (size_t i = 0; i < n; i++)
        y[i] = fabsf(y[i]);
    return y;
}

/* The largest error / tolerance ratio of the checks so far, reported by each test. */
static double worst_ratio;

static inline int reset_worst(void **state)
{
    worst_ratio = 0;
    return 0;
}

static inline void report_worst(const char *what)
{
    print_message("  %s: worst error %.3f of tolerance\n", what, worst_ratio);
    worst_ratio = 0;
}

static inline void note_ratio(double error, double tolerance)
{
    if (error / tolerance > worst_ratio)
        worst_ratio = error / tolerance;
}

static inline void check_error(const char *what, double error, double tolerance)
{
    note_ratio(error, tolerance);
    if (!(error <= tolerance))
        fail_msg("%s: error %.3g > tolerance %.1g", what, error, tolerance);
}

/* |got[i] - expected[i]| <= tolerance[i] for every i. */
static inline void check_elementwise(const char *what, const float *got, const float *expected,
                              const double *tolerance, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double error = fabs((double)got[i] - expected[i]);
        note_ratio(error, tolerance[i]);
        if (!(error <= tolerance[i]))
            fail_msg("%s: [%zu] = %.9g, reference %.9g, tolerance %.3g", what, i, got[i],
                     expected[i], tolerance[i]);
    }
}

/* ---- central differences --------------------------------------------------------------- */

/* The loss of a double layer: sum over outputs of weight * out, so its gradient with respect
 * to the outputs is the fixed random weights; evaluated by a callback on the current inputs. */
typedef double (*loss_function)(void *context);

/* Every element of param perturbed by +-FD_STEP against grad, the analytic gradient. */
static inline void check_central_differences(const char *what, loss_function loss, void *context,
                                      double *param, const double *grad, size_t n)
{
    double error = 0, size = 0;
    for (size_t i = 0; i < n; i++) {
        double saved = param[i];
        param[i] = saved + FD_STEP;
        double up = loss(context);
        param[i] = saved - FD_STEP;
        double down = loss(context);
        param[i] = saved;
        error = fmax(error, fabs((up - down) / (2 * FD_STEP) - grad[i]));
        size = fmax(size, fabs(grad[i]));
    }
    double relative = size > 0 ? error / size : error;
    print_message("  %-34s central differences: %.2g\n", what, relative);
    if (!(relative <= FD_TOLERANCE))
        fail_msg("%s: gradient off the central differences by %.3g", what, relative);
}

static inline double dot(const double *a, const double *b, size_t n)
{
    double sum = 0;
    for (size_t i = 0; i < n; i++)
        sum += a[i] * b[i];
    return sum;
}

#endif
