#include "kernels/attention.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>

#include "core/error.h"
#include "kernels/attention_internal.h"
#include "kernels/matmul.h"
#include "kernels/simd_math.h"
#include "kernels/small_gemm.h"

/* The arguments every (sequence, head) work item shares. */
typedef struct attention_problem {
    float *out;
    const float *q, *k, *v;
    int ld, n_heads, head_dim;
    float scale;
    const float *position_bias;
    int max_distance;
    dropout_spec dropout;
    const size_t *probs_at;
} attention_problem;

void attention_forward_train_reference(float *out, float *probs, const float *q, const float *k,
                                       const float *v, int ld, const int *cu_seqlens, int n_seqs,
                                       int n_heads, int head_dim, float scale,
                                       const float *position_bias, int max_distance,
                                       dropout_spec dropout)
{
    int row_width = n_heads * head_dim, span = 2 * max_distance - 1;
    size_t probs_at = 0;
    for (int s = 0; s < n_seqs; s++) {
        int start = cu_seqlens[s], L = cu_seqlens[s + 1] - start;
        double p[L > 0 ? L : 1]; /* one row of scores; a reference runs on test-sized L */
        for (int h = 0; h < n_heads; h++) {
            const float *bias = position_bias ? position_bias + (size_t)h * span + max_distance - 1
                                              : NULL;
            for (int i = 0; i < L; i++) {
                const float *qi = q + (size_t)(start + i) * ld + (size_t)h * head_dim;
                double max = -INFINITY, sum = 0.0;
                for (int j = 0; j < L; j++) {
                    const float *kj = k + (size_t)(start + j) * ld + (size_t)h * head_dim;
                    double dot = 0.0;
                    for (int d = 0; d < head_dim; d++)
                        dot += (double)qi[d] * kj[d];
                    p[j] = dot * scale + (bias ? bias[j - i] : 0.0);
                    max = fmax(max, p[j]);
                }
                for (int j = 0; j < L; j++) {
                    p[j] = exp(p[j] - max);
                    sum += p[j];
                }
                for (int j = 0; j < L; j++) {
                    size_t at = probs_at + ((size_t)h * L + i) * L + j;
                    p[j] /= sum;
                    if (probs)
                        probs[at] = (float)p[j];
                    p[j] *= dropout_multiplier(dropout, at);
                }
                for (int d = 0; d < head_dim; d++) {
                    double acc = 0.0;
                    for (int j = 0; j < L; j++)
                        acc += p[j] * v[(size_t)(start + j) * ld + (size_t)h * head_dim + d];
                    out[(size_t)(start + i) * row_width + (size_t)h * head_dim + d] = (float)acc;
                }
            }
        }
        probs_at += (size_t)n_heads * L * L;
    }
}

void attention_forward_reference(float *out, float *probs, const float *q, const float *k,
                                 const float *v, int ld, const int *cu_seqlens, int n_seqs,
                                 int n_heads, int head_dim, float scale,
                                 const float *position_bias, int max_distance)
{
    dropout_spec none = {0.0f, 0};
    attention_forward_train_reference(out, probs, q, k, v, ld, cu_seqlens, n_seqs, n_heads,
                                      head_dim, scale, position_bias, max_distance, none);
}

/* row[j] = softmax(row + bias)[j], bias NULL or indexed by j. */
static void softmax_row_generic(float *row, int L, const float *bias)
{
    float max = -INFINITY, sum = 0.0f;
    for (int j = 0; j < L; j++) {
        if (bias)
            row[j] += bias[j];
        max = fmaxf(max, row[j]);
    }
    for (int j = 0; j < L; j++) {
        row[j] = expf(row[j] - max);
        sum += row[j];
    }
    float inverse = 1.0f / sum;
    for (int j = 0; j < L; j++)
        row[j] *= inverse;
}

SIMD_AVX2 static void softmax_row_avx2(float *row, int L, const float *bias)
{
    __m256 max = _mm256_set1_ps(-INFINITY);
    for (int j = 0; j < L; j += 8) {
        __m256i mask = simd_tail_mask(L - j);
        __m256 x = _mm256_maskload_ps(row + j, mask);
        if (bias) {
            x = _mm256_add_ps(x, _mm256_maskload_ps(bias + j, mask));
            simd_store_first(row + j, x, L - j);
        }
        max = _mm256_max_ps(max, _mm256_blendv_ps(max, x, _mm256_castsi256_ps(mask)));
    }
    __m256 row_max = _mm256_set1_ps(simd_max(max)), sum = _mm256_setzero_ps();
    for (int j = 0; j < L; j += 8) {
        __m256i mask = simd_tail_mask(L - j);
        __m256 e = simd_exp(_mm256_sub_ps(_mm256_maskload_ps(row + j, mask), row_max));
        e = _mm256_and_ps(e, _mm256_castsi256_ps(mask));
        simd_store_first(row + j, e, L - j);
        sum = _mm256_add_ps(sum, e);
    }
    __m256 inverse = _mm256_set1_ps(1.0f / simd_sum(sum));
    for (int j = 0; j < L; j += 8) {
        __m256 p = _mm256_maskload_ps(row + j, simd_tail_mask(L - j));
        simd_store_first(row + j, _mm256_mul_ps(p, inverse), L - j);
    }
}

void attention_pack_transposed(float *packed, const float *x, int ld, int L, int D)
{
    for (int j = 0; j < L; j++)
        for (int d = 0; d < D; d++)
            packed[(size_t)d * L + j] = x[(size_t)j * ld + d];
}

/* One (sequence, head) item over rows [start, start + L) of sequence s: scores into tile
 * (L x L), softmax in place, then out = tile v, or with dropout out = (tile * mask) v with
 * the dropped tile in dropped (L x L). packed has room for head_dim x L floats (k
 * transposed) when the small AVX2 products are used. */
static void attention_head(const attention_problem *pb, kernel_path path, int s, int start,
                           int L, int h, float *tile, float *packed, float *dropped)
{
    int D = pb->head_dim;
    size_t column = (size_t)h * D;
    const float *q = pb->q + (size_t)start * pb->ld + column;
    const float *k = pb->k + (size_t)start * pb->ld + column;
    const float *v = pb->v + (size_t)start * pb->ld + column;
    float *out = pb->out + (size_t)start * pb->n_heads * D + column;
    bool small = path == KERNEL_PATH_AVX2 && L <= ATTENTION_SMALL_MAX;

    if (small) {
        attention_pack_transposed(packed, k, pb->ld, L, D);
        small_gemm_avx2(L, L, D, pb->scale, q, pb->ld, packed, L, tile, L);
    } else {
        matmul_sgemm(false, true, L, L, D, pb->scale, q, pb->ld, k, pb->ld, 0.0f, tile, L);
    }
    const float *bias = pb->position_bias ? pb->position_bias +
                                                (size_t)h * (2 * pb->max_distance - 1) +
                                                pb->max_distance - 1
                                          : NULL;
    for (int i = 0; i < L; i++) {
        const float *row_bias = bias ? bias - i : NULL;
        if (path == KERNEL_PATH_AVX2)
            softmax_row_avx2(tile + (size_t)i * L, L, row_bias);
        else
            softmax_row_generic(tile + (size_t)i * L, L, row_bias);
    }
    if (dropout_active(pb->dropout)) {
        size_t n = (size_t)L * L;
        dropout_multipliers(path, dropped, n, pb->dropout, pb->probs_at[s] + (size_t)h * n);
        for (size_t x = 0; x < n; x++)
            dropped[x] *= tile[x];
        tile = dropped;
    }
    if (small)
        small_gemm_avx2(L, D, L, 1.0f, tile, L, v, pb->ld, out, pb->n_heads * D);
    else
        matmul_sgemm(false, false, L, D, L, 1.0f, tile, L, v, pb->ld, 0.0f, out, pb->n_heads * D);
}

semb_status attention_plan(const int *cu_seqlens, int n_seqs, int n_heads, bool position_bias,
                           int max_distance, size_t *probs_at, int *longest)
{
    *longest = 0;
    probs_at[0] = 0;
    for (int s = 0; s < n_seqs; s++) {
        int L = cu_seqlens[s + 1] - cu_seqlens[s];
        if (L < 0)
            return semb_fail(NULL, SEMB_ERR_INVALID_ARG, "cu_seqlens decreases at %d", s);
        if (position_bias && L > max_distance)
            return semb_fail(NULL, SEMB_ERR_INVALID_ARG, "sequence of %d > max_distance %d", L,
                             max_distance);
        if (L > *longest)
            *longest = L;
        probs_at[s + 1] = probs_at[s] + (size_t)n_heads * L * L;
    }
    return SEMB_OK;
}

semb_status attention_forward_train_using(kernel_path path, float *out, float *probs,
                                          const float *q, const float *k, const float *v, int ld,
                                          const int *cu_seqlens, int n_seqs, int n_heads,
                                          int head_dim, float scale, const float *position_bias,
                                          int max_distance, dropout_spec dropout)
{
    if (n_seqs <= 0 || n_heads <= 0)
        return SEMB_OK;
    path = kernel_path_or_generic(path);
    size_t *probs_at = malloc(((size_t)n_seqs + 1) * sizeof *probs_at);
    if (!probs_at)
        return semb_fail(NULL, SEMB_ERR_NOMEM, "attention: no memory for %d sequences", n_seqs);
    int longest;
    semb_status status = attention_plan(cu_seqlens, n_seqs, n_heads, position_bias != NULL,
                                        max_distance, probs_at, &longest);
    /* Per thread: a score tile unless probs holds the tiles, k transposed for the small
     * products, and the dropped tile. */
    size_t square = (size_t)longest * longest;
    size_t tile_floats = probs ? 0 : square;
    int packed_length = longest < ATTENTION_SMALL_MAX ? longest : ATTENTION_SMALL_MAX;
    size_t packed_floats = path == KERNEL_PATH_AVX2 ? (size_t)head_dim * packed_length : 0;
    size_t dropped_floats = dropout_active(dropout) ? square : 0;
    size_t per_thread = tile_floats + packed_floats + dropped_floats;
    int threads = omp_get_max_threads();
    float *work = NULL;
    if (status == SEMB_OK && per_thread > 0) {
        work = malloc((size_t)threads * per_thread * sizeof *work);
        if (!work)
            status = semb_fail(NULL, SEMB_ERR_NOMEM, "attention: no memory for %d tiles of %d^2",
                               threads, longest);
    }
    if (status == SEMB_OK) {
        attention_problem pb = {out, q, k, v, ld, n_heads, head_dim, scale, position_bias,
                                max_distance, dropout, probs_at};
        long items = (long)n_seqs * n_heads;
        /* Dynamic: an item costs L^2, and lengths in a batch vary widely. */
#pragma omp parallel for schedule(dynamic, 1)
        for (long item = 0; item < items; item++) {
            int s = (int)(item / n_heads), h = (int)(item % n_heads);
            int start = cu_seqlens[s], L = cu_seqlens[s + 1] - start;
            if (L == 0)
                continue;
            float *mine = work ? work + (size_t)omp_get_thread_num() * per_thread : NULL;
            float *tile = probs ? probs + probs_at[s] + (size_t)h * L * L : mine;
            attention_head(&pb, path, s, start, L, h, tile, mine ? mine + tile_floats : NULL,
                           mine ? mine + tile_floats + packed_floats : NULL);
        }
    }
    free(work);
    free(probs_at);
    return status;
}

semb_status attention_forward_train(float *out, float *probs, const float *q, const float *k,
                                    const float *v, int ld, const int *cu_seqlens, int n_seqs,
                                    int n_heads, int head_dim, float scale,
                                    const float *position_bias, int max_distance,
                                    dropout_spec dropout)
{
    return attention_forward_train_using(kernel_path_best(), out, probs, q, k, v, ld, cu_seqlens,
                                         n_seqs, n_heads, head_dim, scale, position_bias,
                                         max_distance, dropout);
}

semb_status attention_forward_using(kernel_path path, float *out, float *probs, const float *q,
                                    const float *k, const float *v, int ld,
                                    const int *cu_seqlens, int n_seqs, int n_heads, int head_dim,
                                    float scale, const float *position_bias, int max_distance)
{
    dropout_spec none = {0.0f, 0};
    return attention_forward_train_using(path, out, probs, q, k, v, ld, cu_seqlens, n_seqs,
                                         n_heads, head_dim, scale, position_bias, max_distance,
                                         none);
}

semb_status attention_forward(float *out, float *probs, const float *q, const float *k,
                              const float *v, int ld, const int *cu_seqlens, int n_seqs,
                              int n_heads, int head_dim, float scale, const float *position_bias,
                              int max_distance)
{
    return attention_forward_using(kernel_path_best(), out, probs, q, k, v, ld, cu_seqlens,
                                   n_seqs, n_heads, head_dim, scale, position_bias, max_distance);
}
