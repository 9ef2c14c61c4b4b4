/* Kernel timings for bench/README.md ("Kernels"): GFLOP/s of the matmul candidates on the
 * MiniLM-L6 shapes, the two ways to add a bias, the small products of attention, and the
 * element-wise kernels on each path, on 1 and 2 threads; then the same for the backward
 * kernels (linear, attention, LayerNorm, activations, dropout).
 *
 *   bench_kernels              full run (about a minute)
 *   bench_kernels --quick      shorter timings, no scalar reference
 *   bench_kernels --backward   the backward kernels only
 */
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/cpu.h"
#include "core/timer.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/dropout.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/small_gemm.h"

static double min_seconds = 0.3;

typedef struct bench_case {
    void (*run)(const struct bench_case *);
    bool trans_b, prefill_bias, use_small;
    kernel_path path;
    int M, N, K, ld;
    const float *A, *B, *bias;
    float *C;
    const int *cu_seqlens;
    int n_seqs;
    activation_kind activation;
    float *D, *E, *F; /* gradients and saved activations of the backward cases */
    float dropout;
} bench_case;

/* Best of three timings, each repeating the call for at least min_seconds / 3: the
 * machines are noisy, and the best run is the one least disturbed. */
static double seconds_per_call(const bench_case *bc)
{
    bc->run(bc);
    double best = 1e30;
    for (int round = 0; round < 3; round++) {
        long calls = 0;
        double start = timer_seconds(), elapsed;
        do {
            bc->run(bc);
            calls++;
            elapsed = timer_seconds() - start;
        } while (elapsed < min_seconds / 3);
        if (elapsed / calls < best)
            best = elapsed / calls;
    }
    return best;
}

static float *random_floats(size_t n)
{
    float *x = malloc(n * sizeof *x);
    if (!x) {
        fprintf(stderr, "bench_kernels: out of memory\n");
        exit(1);
    }
    for (size_t i = 0; i < n; i++)
        x[i] = (float)rand() / RAND_MAX * 2.0f - 1.0f;
    return x;
}

static void run_dnnl(const bench_case *bc)
{
    matmul_sgemm(false, bc->trans_b, bc->M, bc->N, bc->K, 1.0f, bc->A, bc->K, bc->B,
                 bc->trans_b ? bc->K : bc->N, 0.0f, bc->C, bc->N);
}

static void run_reference(const bench_case *bc)
{
    matmul_sgemm_reference(false, true, bc->M, bc->N, bc->K, 1.0f, bc->A, bc->K, bc->B, bc->K,
                           0.0f, bc->C, bc->N);
}

static void run_linear(const bench_case *bc)
{
    if (bc->prefill_bias) {
        linear_forward(bc->C, bc->A, bc->B, bc->bias, bc->M, bc->K, bc->N);
        return;
    }
    matmul_sgemm(false, true, bc->M, bc->N, bc->K, 1.0f, bc->A, bc->K, bc->B, bc->K, 0.0f, bc->C,
                 bc->N);
#pragma omp parallel for schedule(static)
    for (int i = 0; i < bc->M; i++)
        for (int j = 0; j < bc->N; j++)
            bc->C[(size_t)i * bc->N + j] += bc->bias[j];
}

static void bench_matmul(bool with_reference)
{
    static const int rows[] = {448, 1792};
    static const int shapes[][2] = {{384, 1152}, {384, 384}, {384, 1536}, {1536, 384}};
    printf("\n## sgemm, C[M,N] = A[M,K] W[N,K]^T (GFLOP/s)\n\n");
    printf("| M | K | N | dnnl 1 thread | dnnl 2 threads | reference 1 thread |\n");
    printf("|---|---|---|---|---|---|\n");
    for (int r = 0; r < 2; r++)
        for (int s = 0; s < 4; s++) {
            bench_case bc = {.trans_b = true, .M = rows[r], .K = shapes[s][0], .N = shapes[s][1]};
            bc.A = random_floats((size_t)bc.M * bc.K);
            bc.B = random_floats((size_t)bc.N * bc.K);
            bc.C = random_floats((size_t)bc.M * bc.N);
            double flop = 2.0 * bc.M * bc.N * bc.K, rate[3] = {0, 0, 0};
            for (int t = 1; t <= 2; t++) {
                omp_set_num_threads(t);
                bc.run = run_dnnl;
                rate[t - 1] = flop / seconds_per_call(&bc) * 1e-9;
            }
            if (with_reference && bc.M <= 448) {
                /* One call: the reference runs for seconds. */
                omp_set_num_threads(1);
                double start = timer_seconds();
                run_reference(&bc);
                rate[2] = flop / (timer_seconds() - start) * 1e-9;
            }
            printf("| %d | %d | %d | %.1f | %.1f | ", bc.M, bc.K, bc.N, rate[0], rate[1]);
            printf(rate[2] > 0 ? "%.2f |\n" : "- |\n", rate[2]);
            free((void *)bc.A);
            free((void *)bc.B);
            free(bc.C);
        }
}

static void bench_bias(void)
{
    printf("\n## linear_forward bias: prefilled + beta=1 vs separate pass (GFLOP/s)\n\n");
    printf("| M | K | N | threads | prefill, beta=1 | beta=0, then add |\n");
    printf("|---|---|---|---|---|---|\n");
    static const int shapes[][3] = {{448, 384, 1536}, {1792, 384, 1152}, {1792, 1536, 384}};
    for (int s = 0; s < 3; s++) {
        bench_case bc = {.M = shapes[s][0], .K = shapes[s][1], .N = shapes[s][2],
                         .run = run_linear};
        bc.A = random_floats((size_t)bc.M * bc.K);
        bc.B = random_floats((size_t)bc.N * bc.K);
        bc.bias = random_floats((size_t)bc.N);
        bc.C = random_floats((size_t)bc.M * bc.N);
        double flop = 2.0 * bc.M * bc.N * bc.K;
        for (int t = 1; t <= 2; t++) {
            omp_set_num_threads(t);
            bc.prefill_bias = true;
            double prefill = flop / seconds_per_call(&bc) * 1e-9;
            bc.prefill_bias = false;
            double after = flop / seconds_per_call(&bc) * 1e-9;
            printf("| %d | %d | %d | %d | %.1f | %.1f |\n", bc.M, bc.K, bc.N, t, prefill, after);
        }
        free((void *)bc.A);
        free((void *)bc.B);
        free((void *)bc.bias);
        free(bc.C);
    }
}

/* The two products of one attention head: scores = q k^T (L x L x D), out = p v (L x D x L). */
static void run_head_products(const bench_case *bc)
{
    int L = bc->M, D = bc->K;
    float *scores = bc->C, *out = bc->C + (size_t)L * L, *packed = out + (size_t)L * D;
    if (bc->use_small) {
        for (int j = 0; j < L; j++)
            for (int d = 0; d < D; d++)
                packed[(size_t)d * L + j] = bc->B[(size_t)j * bc->ld + d];
        small_gemm_avx2(L, L, D, 1.0f, bc->A, bc->ld, packed, L, scores, L);
        small_gemm_avx2(L, D, L, 1.0f, scores, L, bc->B, bc->ld, out, D);
    } else {
        matmul_sgemm(false, true, L, L, D, 1.0f, bc->A, bc->ld, bc->B, bc->ld, 0.0f, scores, L);
        matmul_sgemm(false, false, L, D, L, 1.0f, scores, L, bc->B, bc->ld, 0.0f, out, D);
    }
}

static void bench_head_products(void)
{
    printf("\n## One attention head's two products, 1 thread (microseconds per head)\n\n");
    printf("| L | head_dim | small_gemm_avx2 | dnnl_sgemm |\n|---|---|---|---|\n");
    static const int lengths[] = {8, 14, 20, 24, 28, 32, 48, 64, 128, 256};
    omp_set_num_threads(1);
    for (int d = 32; d <= 64; d += 32)
        for (int l = 0; l < 10; l++) {
            int L = lengths[l];
            bench_case bc = {.run = run_head_products, .M = L, .K = d, .ld = 3 * 384};
            bc.A = random_floats((size_t)L * bc.ld);
            bc.B = random_floats((size_t)L * bc.ld);
            bc.C = random_floats((size_t)L * L + 2 * (size_t)L * d);
            bc.use_small = true;
            double small = seconds_per_call(&bc) * 1e6;
            bc.use_small = false;
            double dnnl = seconds_per_call(&bc) * 1e6;
            printf("| %d | %d | %.2f | %.2f |\n", L, d, small, dnnl);
            free((void *)bc.A);
            free((void *)bc.B);
            free(bc.C);
        }
}

static void run_attention(const bench_case *bc)
{
    const float *qkv = bc->A;
    int width = 384;
    attention_forward_using(bc->path, bc->C, NULL, qkv, qkv + width, qkv + 2 * width, 3 * width,
                            bc->cu_seqlens, bc->n_seqs, 12, 32, 0.17677669f, NULL, 0);
}

static void bench_attention(void)
{
    printf("\n## attention_forward, MiniLM heads (12 x 32), lengths 5..23 (microseconds)\n\n");
    printf("| sequences | tokens | path | 1 thread | 2 threads |\n|---|---|---|---|---|\n");
    for (int n = 32; n <= 128; n *= 4) {
        int *cu = malloc((n + 1) * sizeof *cu);
        cu[0] = 0;
        for (int s = 0; s < n; s++)
            cu[s + 1] = cu[s] + 5 + (s * 7) % 19;
        bench_case bc = {.run = run_attention, .cu_seqlens = cu, .n_seqs = n};
        bc.A = random_floats((size_t)cu[n] * 3 * 384);
        bc.C = random_floats((size_t)cu[n] * 384);
        for (int p = KERNEL_PATH_GENERIC; p <= KERNEL_PATH_AVX2; p++) {
            bc.path = (kernel_path)p;
            double us[2];
            for (int t = 1; t <= 2; t++) {
                omp_set_num_threads(t);
                us[t - 1] = seconds_per_call(&bc) * 1e6;
            }
            printf("| %d | %d | %s | %.0f | %.0f |\n", n, cu[n], kernel_path_name(bc.path), us[0],
                   us[1]);
        }
        free((void *)bc.A);
        free(bc.C);
        free(cu);
    }
}

static void run_layernorm(const bench_case *bc)
{
    layernorm_forward_using(bc->path, bc->C, NULL, NULL, bc->A, bc->B, bc->bias, bc->M, bc->N,
                            1e-12f);
}

static void run_activation(const bench_case *bc)
{
    activation_forward_using(bc->path, bc->activation, bc->C, bc->A, (size_t)bc->M * bc->N);
}

static void bench_elementwise(void)
{
    printf("\n## Element-wise kernels, 1792 rows (nanoseconds per element)\n\n");
    printf("| kernel | path | 1 thread | 2 threads |\n|---|---|---|---|\n");
    static const struct {
        const char *name;
        void (*run)(const bench_case *);
        int N;
        activation_kind activation;
    } kernels[] = {{"layernorm C=384", run_layernorm, 384, ACTIVATION_GELU},
                   {"gelu (erf) N=1536", run_activation, 1536, ACTIVATION_GELU},
                   {"gelu_tanh N=1536", run_activation, 1536, ACTIVATION_GELU_TANH},
                   {"relu N=1536", run_activation, 1536, ACTIVATION_RELU}};
    for (int k = 0; k < 4; k++) {
        bench_case bc = {.run = kernels[k].run, .M = 1792, .N = kernels[k].N,
                         .activation = kernels[k].activation};
        size_t n = (size_t)bc.M * bc.N;
        bc.A = random_floats(n);
        bc.B = random_floats((size_t)bc.N);
        bc.bias = random_floats((size_t)bc.N);
        bc.C = random_floats(n);
        for (int p = KERNEL_PATH_GENERIC; p <= KERNEL_PATH_AVX2; p++) {
            bc.path = (kernel_path)p;
            double ns[2];
            for (int t = 1; t <= 2; t++) {
                omp_set_num_threads(t);
                ns[t - 1] = seconds_per_call(&bc) / n * 1e9;
            }
            printf("| %s | %s | %.2f | %.2f |\n", kernels[k].name, kernel_path_name(bc.path), ns[0],
                   ns[1]);
        }
        free((void *)bc.A);
        free((void *)bc.B);
        free((void *)bc.bias);
        free(bc.C);
    }
}

/* ---- backward -------------------------------------------------------------------------- */

static void run_linear_backward(const bench_case *bc)
{
    linear_backward(bc->D, bc->E, bc->F, bc->A, bc->B, bc->bias, bc->M, bc->K, bc->N);
}

static void run_bias_gradient(const bench_case *bc)
{
    linear_backward(NULL, NULL, bc->F, bc->A, bc->B, bc->bias, bc->M, bc->K, bc->N);
}

static void bench_linear_backward(void)
{
    static const int shapes[][2] = {{384, 1152}, {384, 384}, {384, 1536}, {1536, 384}};
    printf("\n## linear_backward, M = 1792 (GFLOP/s of the two products; bias sums alone, us)\n\n");
    printf("| K | N | 1 thread | 2 threads | d_bias alone, 1 / 2 threads |\n");
    printf("|---|---|---|---|---|\n");
    for (int s = 0; s < 4; s++) {
        /* A = d_out [M,N], B = inp [M,K], bias = weight [N,K]; D, E, F the gradients. */
        bench_case bc = {.M = 1792, .K = shapes[s][0], .N = shapes[s][1]};
        bc.A = random_floats((size_t)bc.M * bc.N);
        bc.B = random_floats((size_t)bc.M * bc.K);
        bc.bias = random_floats((size_t)bc.N * bc.K);
        bc.D = random_floats((size_t)bc.M * bc.K);
        bc.E = random_floats((size_t)bc.N * bc.K);
        bc.F = random_floats((size_t)bc.N);
        double flop = 4.0 * bc.M * bc.N * bc.K, rate[2], bias_us[2];
        for (int t = 1; t <= 2; t++) {
            omp_set_num_threads(t);
            bc.run = run_linear_backward;
            rate[t - 1] = flop / seconds_per_call(&bc) * 1e-9;
            bc.run = run_bias_gradient;
            bias_us[t - 1] = seconds_per_call(&bc) * 1e6;
        }
        printf("| %d | %d | %.1f | %.1f | %.0f / %.0f |\n", bc.K, bc.N, rate[0], rate[1],
               bias_us[0], bias_us[1]);
        free((void *)bc.A), free((void *)bc.B), free((void *)bc.bias);
        free(bc.D), free(bc.E), free(bc.F);
    }
}

/* A: fused qkv [T, 3 * 384], C: out, D: d_qkv, E: probs, F: d_out. */
static void run_attention_train(const bench_case *bc)
{
    const float *qkv = bc->A;
    dropout_spec dropout = {bc->dropout, 7};
    attention_forward_train_using(bc->path, bc->C, bc->E, qkv, qkv + 384, qkv + 768, 3 * 384,
                                  bc->cu_seqlens, bc->n_seqs, 12, 32, 0.17677669f, NULL, 0,
                                  dropout);
}

static void run_attention_backward(const bench_case *bc)
{
    const float *qkv = bc->A;
    dropout_spec dropout = {bc->dropout, 7};
    attention_backward_using(bc->path, bc->D, bc->D + 384, bc->D + 768, NULL, bc->F, qkv,
                             qkv + 384, qkv + 768, 3 * 384, bc->E, bc->cu_seqlens, bc->n_seqs, 12,
                             32, 0.17677669f, 0, dropout);
}

static void bench_attention_backward(void)
{
    printf("\n## attention, training: forward_train and backward, MiniLM heads (12 x 32), lengths "
           "5..23 (microseconds, 1 / 2 threads)\n\n");
    printf("| sequences | tokens | path | dropout | forward_train | backward |\n");
    printf("|---|---|---|---|---|---|\n");
    for (int n = 32; n <= 128; n *= 4) {
        int *cu = malloc((n + 1) * sizeof *cu);
        cu[0] = 0;
        size_t n_probs = 0;
        for (int s = 0; s < n; s++) {
            cu[s + 1] = cu[s] + 5 + (s * 7) % 19;
            n_probs += 12 * (size_t)(cu[s + 1] - cu[s]) * (cu[s + 1] - cu[s]);
        }
        bench_case bc = {.cu_seqlens = cu, .n_seqs = n};
        bc.A = random_floats((size_t)cu[n] * 3 * 384);
        bc.C = random_floats((size_t)cu[n] * 384);
        bc.D = random_floats((size_t)cu[n] * 3 * 384);
        bc.E = random_floats(n_probs);
        bc.F = random_floats((size_t)cu[n] * 384);
        for (int p = KERNEL_PATH_GENERIC; p <= KERNEL_PATH_AVX2; p++)
            for (int d = 0; d < 2; d++) {
                bc.path = (kernel_path)p;
                bc.dropout = d ? 0.1f : 0.0f;
                double us[2][2];
                for (int t = 1; t <= 2; t++) {
                    omp_set_num_threads(t);
                    bc.run = run_attention_train;
                    us[0][t - 1] = seconds_per_call(&bc) * 1e6;
                    bc.run = run_attention_backward;
                    us[1][t - 1] = seconds_per_call(&bc) * 1e6;
                }
                printf("| %d | %d | %s | %.1f | %.0f / %.0f | %.0f / %.0f |\n", n, cu[n],
                       kernel_path_name(bc.path), bc.dropout, us[0][0], us[0][1], us[1][0],
                       us[1][1]);
            }
        free((void *)bc.A), free(bc.C), free(bc.D), free(bc.E), free(bc.F), free(cu);
    }
}

/* A: inp, B: weight, D: d_inp, E: d_weight, F: d_bias, C: d_out; bias: mean, rstd. */
static void run_layernorm_backward(const bench_case *bc)
{
    layernorm_backward_using(bc->path, bc->D, bc->E, bc->F, bc->C, bc->A, bc->B, bc->bias,
                             bc->bias + bc->M, bc->M, bc->N);
}

static void run_activation_backward(const bench_case *bc)
{
    activation_backward_using(bc->path, bc->activation, bc->D, bc->A, bc->C,
                              (size_t)bc->M * bc->N);
}

static void run_dropout_forward(const bench_case *bc)
{
    dropout_spec spec = {0.1f, 7};
    dropout_forward_using(bc->path, bc->D, bc->A, (size_t)bc->M * bc->N, spec);
}

static void run_dropout_backward(const bench_case *bc)
{
    dropout_spec spec = {0.1f, 7};
    dropout_backward_using(bc->path, bc->D, bc->C, (size_t)bc->M * bc->N, spec);
}

static void bench_elementwise_backward(void)
{
    printf("\n## Element-wise backward kernels and dropout, 1792 rows (ns per element)\n\n");
    printf("| kernel | path | 1 thread | 2 threads |\n|---|---|---|---|\n");
    static const struct {
        const char *name;
        void (*run)(const bench_case *);
        int N;
        activation_kind activation;
    } kernels[] = {{"layernorm_backward C=384", run_layernorm_backward, 384, ACTIVATION_GELU},
                   {"gelu (erf) backward N=1536", run_activation_backward, 1536, ACTIVATION_GELU},
                   {"gelu_tanh backward N=1536", run_activation_backward, 1536,
                    ACTIVATION_GELU_TANH},
                   {"relu backward N=1536", run_activation_backward, 1536, ACTIVATION_RELU},
                   {"dropout_forward p=0.1 N=384", run_dropout_forward, 384, ACTIVATION_GELU},
                   {"dropout_backward p=0.1 N=384", run_dropout_backward, 384, ACTIVATION_GELU}};
    for (int k = 0; k < 6; k++) {
        bench_case bc = {.run = kernels[k].run, .M = 1792, .N = kernels[k].N,
                         .activation = kernels[k].activation};
        size_t n = (size_t)bc.M * bc.N;
        bc.A = random_floats(n);
        bc.B = random_floats((size_t)bc.N);
        bc.C = random_floats(n);
        bc.D = random_floats(n);
        bc.E = random_floats((size_t)bc.N);
        bc.F = random_floats((size_t)bc.N);
        float *stats = random_floats(2 * (size_t)bc.M);
        for (int r = 0; r < bc.M; r++)
            stats[bc.M + r] = 1.0f; /* rstd */
        bc.bias = stats;
        for (int p = KERNEL_PATH_GENERIC; p <= KERNEL_PATH_AVX2; p++) {
            bc.path = (kernel_path)p;
            double ns[2];
            for (int t = 1; t <= 2; t++) {
                omp_set_num_threads(t);
                ns[t - 1] = seconds_per_call(&bc) / n * 1e9;
            }
            printf("| %s | %s | %.2f | %.2f |\n", kernels[k].name, kernel_path_name(bc.path),
                   ns[0], ns[1]);
        }
        free((void *)bc.A), free((void *)bc.B), free(bc.C), free(bc.D), free(bc.E), free(bc.F);
        free(stats);
    }
}

int main(int argc, char **argv)
{
    bool quick = argc > 1 && strcmp(argv[1], "--quick") == 0;
    bool backward_only = argc > 1 && strcmp(argv[1], "--backward") == 0;
    if (quick)
        min_seconds = 0.05;
    if (!kernel_path_supported(KERNEL_PATH_AVX2)) {
        fprintf(stderr, "bench_kernels: this CPU (%s) has no AVX2; nothing to compare\n",
                cpu_features_string());
        return 1;
    }
    printf("# bench_kernels: cpu %s, %d processors\n", cpu_features_string(), omp_get_num_procs());
    if (!backward_only) {
        bench_matmul(!quick);
        bench_bias();
        bench_head_products();
        bench_attention();
        bench_elementwise();
    }
    bench_linear_backward();
    bench_attention_backward();
    bench_elementwise_backward();
    return 0;
}
