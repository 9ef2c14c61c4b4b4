/* The packed GEMM kernels alone, path against path (bench/README.md, "AVX-512"): GFLOP/s of
 * gemm_packed_using on the AVX2 and AVX-512 kernels, and GOP/s of gemm_int8_using on the AVX2
 * and AVX512-VNNI kernels (inputs quantized beforehand), for one 2,048 x 1,536 x 384 product and
 * the MiniLM-L6 linear layers (M tokens, K in, N out; the FFN's first layer with its fused
 * GELU), on 1 and 2 threads. Machines here are shared: each round times every path once, in
 * turn, and the median over rounds is printed, with the fp32 rates' share of --peak (the
 * AVX-512 fp32 peak per thread from bench_peak, GFLOP/s) when given.
 *
 *   bench_gemm [--rounds N] [--seconds S] [--peak GFLOPS_PER_THREAD]
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/timer.h"
#include "kernels/gemm_int8.h"
#include "kernels/gemm_packed.h"
#include "kernels/kernel_path.h"

typedef struct shape {
    const char *name;
    int M, N, K;
    gemm_epilogue epilogue;
} shape;

typedef struct operands {
    const shape *s;
    float *A, *packed, *bias, *C;
    gemm_int8_weight int8;
    uint8_t *q;
    float *row_scale;
    int32_t *row_zero;
} operands;

static double seconds_per_call = 0.3;

static float *random_floats(size_t n)
{
    float *x = aligned_alloc(64, (n * sizeof(float) + 63) / 64 * 64);
    if (!x) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rand() / RAND_MAX * 2.0f - 1.0f;
    return x;
}

static operands make_operands(const shape *s)
{
    operands o = {.s = s,
                  .A = random_floats((size_t)s->M * s->K),
                  .bias = random_floats((size_t)s->N),
                  .C = random_floats((size_t)s->M * s->N)};
    float *W = random_floats((size_t)s->N * s->K);
    o.packed = random_floats(gemm_packed_floats(s->N, s->K));
    gemm_pack_weight(o.packed, W, s->N, s->K);
    semb_error err = {0};
    o.q = malloc((size_t)s->M * gemm_int8_row_bytes(s->K));
    o.row_scale = malloc((size_t)s->M * sizeof(float));
    o.row_zero = malloc((size_t)s->M * sizeof(int32_t));
    if (!o.q || !o.row_scale || !o.row_zero ||
        gemm_int8_quantize_weight(&o.int8, W, s->N, s->K, &err) != SEMB_OK) {
        fprintf(stderr, "bench_gemm: out of memory\n");
        exit(1);
    }
    gemm_int8_quantize_rows(o.q, o.row_scale, o.row_zero, o.A, s->K, s->M, s->K);
    free(W);
    return o;
}

static void free_operands(operands *o)
{
    free(o->A), free(o->packed), free(o->bias), free(o->C);
    free(o->q), free(o->row_scale), free(o->row_zero);
    gemm_int8_weight_free(&o->int8);
}

static void run_path(const operands *o, kernel_path path, bool int8)
{
    const shape *s = o->s;
    if (int8)
        gemm_int8_using(path, o->C, s->N, o->q, o->row_scale, o->row_zero, &o->int8, s->M,
                        o->bias, s->epilogue);
    else
        gemm_packed_using(path, o->C, s->N, o->A, s->K, o->packed, s->M, s->N, s->K, o->bias,
                          s->epilogue, false);
}

/* G(FL)OP/s of one timing: calls repeated for seconds_per_call after one warm-up call. */
static double time_path(const operands *o, kernel_path path, bool int8, int threads)
{
    const shape *s = o->s;
    omp_set_num_threads(threads);
    run_path(o, path, int8);
    long calls = 0;
    double start = timer_seconds(), elapsed;
    do {
        run_path(o, path, int8);
        calls++;
        elapsed = timer_seconds() - start;
    } while (elapsed < seconds_per_call);
    return 2.0 * s->M * s->N * s->K * calls / elapsed * 1e-9;
}

static int compare_doubles(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static double median(double *v, int n)
{
    qsort(v, (size_t)n, sizeof *v, compare_doubles);
    return n % 2 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int main(int argc, char **argv)
{
    int rounds = 5;
    double peak = 0;
    for (int i = 1; i < argc; i++) {
        if (!strcmp(argv[i], "--rounds") && i + 1 < argc)
            rounds = atoi(argv[++i]);
        else if (!strcmp(argv[i], "--seconds") && i + 1 < argc)
            seconds_per_call = atof(argv[++i]);
        else if (!strcmp(argv[i], "--peak") && i + 1 < argc)
            peak = atof(argv[++i]);
        else {
            fprintf(stderr, "usage: %s [--rounds N] [--seconds S] [--peak GFLOPS_PER_THREAD]\n",
                    argv[0]);
            return 2;
        }
    }
    if (rounds < 1 || rounds > 99 || !(seconds_per_call > 0) || peak < 0) {
        fprintf(stderr, "bench_gemm: --rounds 1..99, --seconds > 0, --peak >= 0\n");
        return 2;
    }
    if (!kernel_path_supported(KERNEL_PATH_AVX512)) {
        fprintf(stderr, "bench_gemm: this CPU (%s) has no AVX-512; nothing to compare\n",
                cpu_features_string());
        return 1;
    }
    static const shape shapes[] = {
        {"one product", 2048, 1536, 384, GEMM_EPILOGUE_NONE},
        {"QKV, 448 tokens", 448, 1152, 384, GEMM_EPILOGUE_NONE},
        {"attention out, 448 tokens", 448, 384, 384, GEMM_EPILOGUE_NONE},
        {"FFN in + GELU, 448 tokens", 448, 1536, 384, GEMM_EPILOGUE_GELU},
        {"FFN out, 448 tokens", 448, 384, 1536, GEMM_EPILOGUE_NONE},
        {"QKV, 1792 tokens", 1792, 1152, 384, GEMM_EPILOGUE_NONE},
        {"attention out, 1792 tokens", 1792, 384, 384, GEMM_EPILOGUE_NONE},
        {"FFN in + GELU, 1792 tokens", 1792, 1536, 384, GEMM_EPILOGUE_GELU},
        {"FFN out, 1792 tokens", 1792, 384, 1536, GEMM_EPILOGUE_NONE},
    };
    static const kernel_path paths[] = {KERNEL_PATH_AVX2, KERNEL_PATH_AVX512};
    printf("# bench_gemm: cpu %s; %d rounds, medians; peak %.1f GFLOP/s per thread\n\n",
           cpu_features_string(), rounds, peak);
    printf("| product | M | N | K | threads | fp32 avx2 | fp32 avx512 | avx512 / avx2 |"
           " avx2 %% of peak | avx512 %% of peak | int8 avx2 | int8 %s | %s / avx2 |\n",
           gemm_int8_path_name(KERNEL_PATH_AVX512), gemm_int8_path_name(KERNEL_PATH_AVX512));
    printf("|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n");
    for (size_t s = 0; s < sizeof shapes / sizeof *shapes; s++) {
        operands o = make_operands(&shapes[s]);
        for (int threads = 1; threads <= 2; threads++) {
            /* [int8][path][round] */
            double rate[2][2][99], med[2][2];
            for (int r = 0; r < rounds; r++)
                for (int k = 0; k < 4; k++) {
                    int path = (k + r) % 2; /* the first path of each round alternates */
                    rate[k / 2][path][r] = time_path(&o, paths[path], k / 2, threads);
                }
            for (int i = 0; i < 2; i++)
                for (int p = 0; p < 2; p++)
                    med[i][p] = median(rate[i][p], rounds);
            printf("| %s | %d | %d | %d | %d | %.1f | %.1f | %.2f |", shapes[s].name,
                   shapes[s].M, shapes[s].N, shapes[s].K, threads, med[0][0], med[0][1],
                   med[0][1] / med[0][0]);
            if (peak > 0)
                printf(" %.0f %% | %.0f %% |", 100 * med[0][0] / (peak * threads),
                       100 * med[0][1] / (peak * threads));
            else
                printf(" - | - |");
            printf(" %.1f | %.1f | %.2f |\n", med[1][0], med[1][1], med[1][1] / med[1][0]);
            fflush(stdout);
        }
        free_operands(&o);
    }
    return 0;
}
