/* Which implementation a dispatched kernel runs. The public kernels choose the best path
 * this CPU supports (kernel_path_best, or kernel_path_best_gemm for the products that have an
 * AVX-512 form); the *_using variants take the path explicitly, so that tests and benchmarks
 * can run every path on the same input. */
#ifndef SEMB_KERNELS_KERNEL_PATH_H
#define SEMB_KERNELS_KERNEL_PATH_H

#include <stdbool.h>

typedef enum kernel_path {
    KERNEL_PATH_GENERIC, /* portable C: any x86-64 */
    KERNEL_PATH_AVX2,    /* AVX2 + FMA intrinsics */
    KERNEL_PATH_AVX512   /* AVX-512 F/BW/VL/DQ on top of AVX2 + FMA: the packed GEMMs only */
} kernel_path;

/* The fastest path that every kernel has: KERNEL_PATH_AVX2 where cpu_features() allows it
 * (an AVX-512 CPU included), else KERNEL_PATH_GENERIC (so under SEMB_CPU=generic). */
kernel_path kernel_path_best(void);

/* The fastest path for the packed products (gemm_packed, gemm_int8): KERNEL_PATH_AVX512
 * where supported (not under SEMB_CPU=avx2), else kernel_path_best(). */
kernel_path kernel_path_best_gemm(void);

/* Whether this CPU can run path. */
bool kernel_path_supported(kernel_path path);

/* The path a kernel without an AVX-512 form runs when asked for path: KERNEL_PATH_AVX512
 * counts as KERNEL_PATH_AVX2, and a path the CPU lacks as KERNEL_PATH_GENERIC. The *_using
 * functions pass their argument through this, so asking for a path never faults. */
kernel_path kernel_path_or_generic(kernel_path path);

/* "generic", "avx2" or "avx512". */
const char *kernel_path_name(kernel_path path);

/* The paths the dispatched kernels take on this CPU, for `semb --version` (static storage):
 * e.g. "fp32 gemm avx512, int8 gemm avx512-vnni, other kernels avx2". */
const char *kernel_paths_string(void);

#endif
