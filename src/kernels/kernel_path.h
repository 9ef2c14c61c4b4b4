/* Which implementation a dispatched kernel runs. The public kernels choose the best path
 * this CPU supports (kernel_path_best); the *_using variants take the path explicitly, so
 * that tests and benchmarks can run every path on the same input. */
#ifndef SEMB_KERNELS_KERNEL_PATH_H
#define SEMB_KERNELS_KERNEL_PATH_H

#include <stdbool.h>

typedef enum kernel_path {
    KERNEL_PATH_GENERIC, /* portable C: any x86-64 */
    KERNEL_PATH_AVX2     /* AVX2 + FMA intrinsics */
} kernel_path;

/* The fastest path cpu_features() allows; KERNEL_PATH_GENERIC under SEMB_CPU=generic. */
kernel_path kernel_path_best(void);

/* Whether this CPU can run path. */
bool kernel_path_supported(kernel_path path);

/* path itself when supported, else KERNEL_PATH_GENERIC: the *_using functions pass their
 * argument through this, so asking for a path the CPU lacks never faults. */
kernel_path kernel_path_or_generic(kernel_path path);

/* "generic" or "avx2". */
const char *kernel_path_name(kernel_path path);

#endif
