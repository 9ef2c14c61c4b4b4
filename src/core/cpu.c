#include "core/cpu.h"

#include <cpuid.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static semb_cpu_features features;
static char description[256];
static int detected;

static uint64_t read_xcr0(void)
{
    uint32_t eax, edx;
    __asm__ volatile("xgetbv" : "=a"(eax), "=d"(edx) : "c"(0));
    return ((uint64_t)edx << 32) | eax;
}

static void append(const char *name, bool on)
{
    if (!on)
        return;
    if (description[0])
        strncat(description, " ", sizeof description - strlen(description) - 1);
    strncat(description, name, sizeof description - strlen(description) - 1);
}

static void detect(void)
{
    unsigned a, b, c, d;
    const char *forced = getenv("SEMB_CPU");
    if (!(forced && strcmp(forced, "generic") == 0) && __get_cpuid(1, &a, &b, &c, &d)) {
        bool osxsave = c & bit_OSXSAVE;
        uint64_t xcr0 = osxsave ? read_xcr0() : 0;
        bool ymm_ok = (xcr0 & 0x6) == 0x6;
        bool zmm_ok = ymm_ok && (xcr0 & 0xe0) == 0xe0;
        bool tile_ok = (xcr0 & 0x60000) == 0x60000;
        features.fma = ymm_ok && (c & bit_FMA);
        features.f16c = ymm_ok && (c & bit_F16C);
        if (__get_cpuid_count(7, 0, &a, &b, &c, &d)) {
            features.avx2 = ymm_ok && (b & bit_AVX2);
            features.avx512f = zmm_ok && (b & bit_AVX512F);
            features.avx512bw = zmm_ok && (b & bit_AVX512BW);
            features.avx512vl = zmm_ok && (b & bit_AVX512VL);
            features.avx512dq = zmm_ok && (b & bit_AVX512DQ);
            features.amx_bf16 = tile_ok && (d & (1u << 22));
            features.amx_tile = tile_ok && (d & (1u << 24));
            features.amx_int8 = tile_ok && (d & (1u << 25));
        }
        if (__get_cpuid_count(7, 1, &a, &b, &c, &d))
            features.avx512_bf16 = features.avx512f && (a & (1u << 5));
    }
    append("avx2", features.avx2);
    append("fma", features.fma);
    append("f16c", features.f16c);
    append("avx512f", features.avx512f);
    append("avx512bw", features.avx512bw);
    append("avx512vl", features.avx512vl);
    append("avx512_bf16", features.avx512_bf16);
    append("amx_tile", features.amx_tile);
    append("amx_bf16", features.amx_bf16);
    if (!description[0])
        strcpy(description, "generic x86-64");
    detected = 1;
}

const semb_cpu_features *cpu_features(void)
{
    if (!detected) {
#pragma omp critical(semb_cpu_detect)
        if (!detected)
            detect();
    }
    return &features;
}

const char *cpu_features_string(void)
{
    cpu_features();
    return description;
}
