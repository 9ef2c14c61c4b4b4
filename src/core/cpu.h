/* Run-time CPU feature detection: the one binary runs on any x86-64 and picks its
 * kernels from what this CPU and OS support (never from -march). */
#ifndef SEMB_CORE_CPU_H
#define SEMB_CORE_CPU_H

#include <stdbool.h>

typedef struct semb_cpu_features {
    bool avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512dq;
    bool avx512_bf16;
    bool amx_tile, amx_bf16, amx_int8;
} semb_cpu_features;

/* The features of this CPU, with OS support (XSAVE state) taken into account.
 * Computed once; the pointer is to static storage. SEMB_CPU=generic in the environment
 * forces every feature off, to exercise the portable paths. */
const semb_cpu_features *cpu_features(void);

/* A short human description ("avx2 fma avx512f ..."), static storage. */
const char *cpu_features_string(void);

#endif
