#include "kernels/kernel_path.h"

#include "core/cpu.h"

bool kernel_path_supported(kernel_path path)
{
    const semb_cpu_features *cpu = cpu_features();
    switch (path) {
    case KERNEL_PATH_GENERIC: return true;
    case KERNEL_PATH_AVX2: return cpu->avx2 && cpu->fma;
    }
    return false;
}

kernel_path kernel_path_best(void)
{
    return kernel_path_supported(KERNEL_PATH_AVX2) ? KERNEL_PATH_AVX2 : KERNEL_PATH_GENERIC;
}

kernel_path kernel_path_or_generic(kernel_path path)
{
    return kernel_path_supported(path) ? path : KERNEL_PATH_GENERIC;
}

const char *kernel_path_name(kernel_path path)
{
    return path == KERNEL_PATH_AVX2 ? "avx2" : "generic";
}
