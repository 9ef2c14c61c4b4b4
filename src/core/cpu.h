/* Run-time CPU feature detection: the one binary runs on any x86-64 and picks its
 * kernels from what this CPU and OS support (never from -march). */
#ifndef SEMB_CORE_CPU_H
#define SEMB_CORE_CPU_H

#include <stdbool.h>

typedef struct semb_cpu_features {
    bool avx2, fma, f16c;
    bool avx512f, avx512bw, avx512vl, avx512dq;
    bool avx512_bf16, avx512_vnni, avx_vnni;
    bool amx_tile, amx_bf16, amx_int8;
} semb_cpu_features;

/* The features of this CPU, with OS support (XSAVE state) taken into account.
 * Computed once; the pointer is to static storage. SEMB_CPU in the environment caps them, to
 * exercise the slower paths on a fast CPU: "generic" turns every feature off (the portable
 * paths), "avx2" keeps AVX2 / FMA / F16C / AVX-VNNI and turns AVX-512 and AMX off, "avx512"
 * turns AMX off; unset, empty or "native" caps nothing. Any other value caps nothing either
 * and is named in cpu_features_string (the library cannot refuse it: there is no caller to
 * tell). */
const semb_cpu_features *cpu_features(void);

/* A short human description ("avx2 fma avx512f ..."), static storage. */
const char *cpu_features_string(void);

#endif
