#include "kernels/kernel_path.h"

#include <stdio.h>

#include "core/cpu.h"
#include "kernels/gemm_int8.h"

bool kernel_path_supported(kernel_path path)
{
    const semb_cpu_features *cpu = cpu_features();
    switch (path) {
    case KERNEL_PATH_GENERIC: return true;
    case KERNEL_PATH_AVX2: return cpu->avx2 && cpu->fma;
    case KERNEL_PATH_AVX512:
        return cpu->avx2 && cpu->fma && cpu->avx512f && cpu->avx512bw && cpu->avx512vl &&
               cpu->avx512dq;
    }
    return false;
}

kernel_path kernel_path_best(void)
{
    return kernel_path_supported(KERNEL_PATH_AVX2) ? KERNEL_PATH_AVX2 : KERNEL_PATH_GENERIC;
}

kernel_path kernel_path_best_gemm(void)
{
    return kernel_path_supported(KERNEL_PATH_AVX512) ? KERNEL_PATH_AVX512 : kernel_path_best();
}

kernel_path kernel_path_or_generic(kernel_path path)
{
    if (path == KERNEL_PATH_AVX512)
        path = KERNEL_PATH_AVX2;
    return kernel_path_supported(path) ? path : KERNEL_PATH_GENERIC;
}

const char *kernel_path_name(kernel_path path)
{
    switch (path) {
    case KERNEL_PATH_GENERIC: break;
    case KERNEL_PATH_AVX2: return "avx2";
    case KERNEL_PATH_AVX512: return "avx512";
    }
    return "generic";
}

const char *kernel_paths_string(void)
{
    static char text[128];
    static int written;
    if (!written) {
#pragma omp critical(semb_kernel_paths)
        if (!written) {
            snprintf(text, sizeof text, "fp32 gemm %s, int8 gemm %s, other kernels %s",
                     kernel_path_name(kernel_path_best_gemm()),
                     gemm_int8_path_name(kernel_path_best_gemm()),
                     kernel_path_name(kernel_path_best()));
            written = 1;
        }
    }
    return text;
}
