/* The fp32 FMA peak of this machine, measured: the denominator of "fraction of peak" in
 * bench/run.sh. Each thread runs ten independent chains acc = acc * a + b of vector FMAs (ten
 * covers the 4-cycle FMA latency of two FMA ports: 8 chains in flight are needed), kept in
 * registers by an empty asm statement that claims to change them, so the compiler can neither
 * fold nor spill them. AVX2 (8 lanes) and, where the CPU has it, AVX-512F (16 lanes), chosen at
 * run time; a scalar fmaf recurrence checks that each path computed what it claims.
 * usage: bench_peak [--threads 1,2] [--seconds S]
 * Prints one line per (path, threads): best GFLOP/s of 5 runs, total and per thread. */
#include <immintrin.h>
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/timer.h"

#define CHAINS 10
/* acc converges to b / (1 - a) = 1: no overflow, no denormals, whatever the iteration count */
#define FMA_A 0.999f
#define FMA_B 0.001f

typedef float (*fma_kernel)(long iterations);

/* The chains' value after `iterations` steps (all lanes of all chains are equal; NaN if
 * they are not). */
__attribute__((target("avx2,fma"))) static float fma_chains_avx2(long iterations)
{
    __m256 a = _mm256_set1_ps(FMA_A), b = _mm256_set1_ps(FMA_B);
    __m256 c0 = _mm256_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
           c7 = c0, c8 = c0, c9 = c0;
    for (long i = 0; i < iterations; i++) {
        c0 = _mm256_fmadd_ps(c0, a, b);
        c1 = _mm256_fmadd_ps(c1, a, b);
        c2 = _mm256_fmadd_ps(c2, a, b);
        c3 = _mm256_fmadd_ps(c3, a, b);
        c4 = _mm256_fmadd_ps(c4, a, b);
        c5 = _mm256_fmadd_ps(c5, a, b);
        c6 = _mm256_fmadd_ps(c6, a, b);
        c7 = _mm256_fmadd_ps(c7, a, b);
        c8 = _mm256_fmadd_ps(c8, a, b);
        c9 = _mm256_fmadd_ps(c9, a, b);
        __asm__ volatile("" : "+x"(c0), "+x"(c1), "+x"(c2), "+x"(c3), "+x"(c4), "+x"(c5),
                         "+x"(c6), "+x"(c7), "+x"(c8), "+x"(c9), "+x"(a), "+x"(b));
    }
    const __m256 chains[CHAINS] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9};
    for (int k = 0; k < CHAINS; k++)
        if (_mm256_movemask_ps(_mm256_cmp_ps(chains[k], c0, _CMP_EQ_OQ)) != 0xff)
            return NAN;
    return _mm256_cvtss_f32(c0);
}

__attribute__((target("avx512f"))) static float fma_chains_avx512(long iterations)
{
    __m512 a = _mm512_set1_ps(FMA_A), b = _mm512_set1_ps(FMA_B);
    __m512 c0 = _mm512_setzero_ps(), c1 = c0, c2 = c0, c3 = c0, c4 = c0, c5 = c0, c6 = c0,
           c7 = c0, c8 = c0, c9 = c0;
    for (long i = 0; i < iterations; i++) {
        c0 = _mm512_fmadd_ps(c0, a, b);
        c1 = _mm512_fmadd_ps(c1, a, b);
        c2 = _mm512_fmadd_ps(c2, a, b);
        c3 = _mm512_fmadd_ps(c3, a, b);
        c4 = _mm512_fmadd_ps(c4, a, b);
        c5 = _mm512_fmadd_ps(c5, a, b);
        c6 = _mm512_fmadd_ps(c6, a, b);
        c7 = _mm512_fmadd_ps(c7, a, b);
        c8 = _mm512_fmadd_ps(c8, a, b);
        c9 = _mm512_fmadd_ps(c9, a, b);
        __asm__ volatile("" : "+v"(c0), "+v"(c1), "+v"(c2), "+v"(c3), "+v"(c4), "+v"(c5),
                         "+v"(c6), "+v"(c7), "+v"(c8), "+v"(c9), "+v"(a), "+v"(b));
    }
    const __m512 chains[CHAINS] = {c0, c1, c2, c3, c4, c5, c6, c7, c8, c9};
    for (int k = 0; k < CHAINS; k++)
        if (_mm512_cmp_ps_mask(chains[k], c0, _CMP_EQ_OQ) != 0xffff)
            return NAN;
    return _mm512_cvtss_f32(c0);
}

/* The scalar reference: the same recurrence with the same (single) rounding per step. */
static float fma_chain_scalar(long iterations)
{
    volatile float a = FMA_A, b = FMA_B; /* volatile: computed at run time, as the kernels */
    float c = 0;
    for (long i = 0; i < iterations; i++)
        c = fmaf(c, a, b);
    return c;
}

typedef struct peak_path {
    const char *name;
    fma_kernel kernel;
    int lanes;
} peak_path;

/* Best GFLOP/s of 5 runs of `iterations` per thread on `threads` threads; NaN if a chain
 * went wrong. */
static double measure(const peak_path *p, int threads, long iterations)
{
    double best = 0;
    for (int run = 0; run < 5; run++) {
        int wrong = 0;
        double t0 = timer_seconds();
#pragma omp parallel num_threads(threads) reduction(+ : wrong)
        wrong += isnan(p->kernel(iterations)) != 0;
        double seconds = timer_seconds() - t0;
        double flops = 2.0 * CHAINS * p->lanes * (double)iterations * threads;
        if (wrong)
            return NAN;
        if (flops / seconds / 1e9 > best)
            best = flops / seconds / 1e9;
    }
    return best;
}

/* Iterations per thread for about `seconds` of one run on this path. */
static long calibrate(const peak_path *p, double seconds)
{
    long n = 1 << 16;
    for (;;) {
        double t0 = timer_seconds();
        volatile float v = p->kernel(n);
        (void)v;
        double t = timer_seconds() - t0;
        if (t >= 0.02 || n > (1L << 40))
            return (long)((double)n * seconds / (t > 0 ? t : 1e-9)) + 1;
        n *= 4;
    }
}

static int parse_threads(const char *list, int *out, int max)
{
    int n = 0;
    for (const char *s = list; *s && n < max;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 1024)
            return -1;
        out[n++] = (int)v;
        s = *end == ',' ? end + 1 : end;
        if (*end && *end != ',')
            return -1;
    }
    return n;
}

int main(int argc, char **argv)
{
    int threads[16] = {1, 2}, n_threads = 2;
    double seconds = 0.2;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--threads") && i + 1 < argc) {
            if ((n_threads = parse_threads(argv[++i], threads, 16)) <= 0) {
                fprintf(stderr, "--threads: '%s' is not a list of thread counts\n", argv[i]);
                return 2;
            }
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            seconds = atof(argv[++i]);
            if (!(seconds > 0 && seconds < 100)) {
                fprintf(stderr, "--seconds: '%s' is not in (0, 100)\n", argv[i]);
                return 2;
            }
        } else {
            fprintf(stderr, "usage: %s [--threads 1,2] [--seconds S]\n", argv[0]);
            return 2;
        }
    }
    const semb_cpu_features *cpu = cpu_features();
    const peak_path paths[] = {{"avx2-fma", fma_chains_avx2, 8},
                               {"avx512f-fma", fma_chains_avx512, 16}};
    const int usable[] = {cpu->avx2 && cpu->fma, cpu->avx512f};
    printf("cpu: %s\n", cpu_features_string());
    for (int k = 0; k < 2; k++) {
        if (!usable[k]) {
            printf("peak fp32 %s: not on this CPU\n", paths[k].name);
            continue;
        }
        const long check_iterations = 100000;
        float got = paths[k].kernel(check_iterations), want = fma_chain_scalar(check_iterations);
        if (got != want) {
            fprintf(stderr, "%s: %.9g after %ld steps, the scalar reference %.9g\n",
                    paths[k].name, got, check_iterations, want);
            return 1;
        }
        long iterations = calibrate(&paths[k], seconds);
        for (int t = 0; t < n_threads; t++) {
            double gflops = measure(&paths[k], threads[t], iterations);
            if (isnan(gflops)) {
                fprintf(stderr, "%s: the chains disagree on %d threads\n", paths[k].name, threads[t]);
                return 1;
            }
            printf("peak fp32 %s threads %d: %.1f GFLOP/s (%.1f per thread)\n", paths[k].name,
                   threads[t], gflops, gflops / threads[t]);
            fflush(stdout);
        }
    }
    return 0;
}
