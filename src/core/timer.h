/* Monotonic wall-clock time in seconds, for progress and benchmarks. */
#ifndef SEMB_CORE_TIMER_H
#define SEMB_CORE_TIMER_H

#include <time.h>

static inline double timer_seconds(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

#endif
