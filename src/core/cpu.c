#include "core/cpu.h"

#include <cpuid.h>
#include <stdint.h>
#include <stdio.h>
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

/* How far SEMB_CPU lets the detected features reach (cpu.h). */
typedef enum cpu_cap { CAP_GENERIC, CAP_AVX2, CAP_AVX512, CAP_NATIVE, CAP_UNKNOWN } cpu_cap;

static cpu_cap requested_cap(const char *forced)
{
    if (!forced || !forced[0] || strcmp(forced, "native") == 0)
        return CAP_NATIVE;
    if (strcmp(forced, "generic") == 0)
        return CAP_GENERIC;
    if (strcmp(forced, "avx2") == 0)
        return CAP_AVX2;
    if (strcmp(forced, "avx512") == 0)
        return CAP_AVX512;
    return CAP_UNKNOWN;
}

static void apply_cap(cpu_cap cap)
{
    if (cap == CAP_AVX2 || cap == CAP_AVX512)
        features.amx_tile = features.amx_bf16 = features.amx_int8 = false;
    if (cap == CAP_AVX2)
        features.avx512f = features.avx512bw = features.avx512vl = features.avx512dq =
            features.avx512_bf16 = features.avx512_vnni = false;
}

static void detect(void)
{
    unsigned a, b, c, d;
    const char *forced = getenv("SEMB_CPU");
    cpu_cap cap = requested_cap(forced);
    if (cap != CAP_GENERIC && __get_cpuid(1, &a, &b, &c, &d)) {
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
            features.avx512_vnni = zmm_ok && (c & (1u << 11));
            features.amx_bf16 = tile_ok && (d & (1u << 22));
            features.amx_tile = tile_ok && (d & (1u << 24));
            features.amx_int8 = tile_ok && (d & (1u << 25));
        }
        if (__get_cpuid_count(7, 1, &a, &b, &c, &d)) {
            features.avx_vnni = ymm_ok && (a & (1u << 4));
            features.avx512_bf16 = features.avx512f && (a & (1u << 5));
        }
        apply_cap(cap);
    }
    append("avx2", features.avx2);
    append("fma", features.fma);
    append("f16c", features.f16c);
    append("avx512f", features.avx512f);
    append("avx512bw", features.avx512bw);
    append("avx512vl", features.avx512vl);
    append("avx512dq", features.avx512dq);
    append("avx512_bf16", features.avx512_bf16);
    append("avx512_vnni", features.avx512_vnni);
    append("avx_vnni", features.avx_vnni);
    append("amx_tile", features.amx_tile);
    append("amx_bf16", features.amx_bf16);
    if (!description[0])
        strcpy(description, "generic x86-64");
    if (cap == CAP_UNKNOWN) {
        size_t used = strlen(description);
        snprintf(description + used, sizeof description - used,
                 "; SEMB_CPU=%.40s not understood (generic, avx2, avx512, native): ignored",
                 forced);
    } else if (cap != CAP_NATIVE) {
        size_t used = strlen(description);
        snprintf(description + used, sizeof description - used, "; capped by SEMB_CPU=%s",
                 forced);
    }
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
