/* The backward of attention_forward_train, one (sequence, head) item at a time. With
 * P the saved probabilities, M the dropout multipliers (0 or 1 / (1 - p)), P' = P M the
 * probabilities that met v, and dO the gradient of out:
 *   dP' = dO v^T           d_v += P'^T dO
 *   dP = dP' M             dS = P (dP - rowsum(dP P))       (the softmax backward)
 *   d_q += scale dS k      d_k += scale dS^T q              d_bias[j - i] += dS[i, j]
 */
#include "kernels/attention.h"

#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/attention_internal.h"
#include "kernels/matmul.h"
#include "kernels/simd_math.h"
#include "kernels/small_gemm.h"

/* The arguments every (sequence, head) work item shares. */
typedef struct backward_problem {
    float *d_q, *d_k, *d_v;
    const float *d_out, *q, *k, *v, *probs;
    int ld, n_heads, head_dim;
    float scale;
    dropout_spec dropout;
    const size_t *probs_at;
} backward_problem;

/* row = p (row - sum(row p)): the softmax backward of one row, dP in, dS out. */
static void softmax_backward_row_generic(float *row, const float *p, int L)
{
    float dot = 0.0f;
    for (int j = 0; j < L; j++)
        dot += row[j] * p[j];
    for (int j = 0; j < L; j++)
        row[j] = p[j] * (row[j] - dot);
}

SIMD_AVX2 static void softmax_backward_row_avx2(float *row, const float *p, int L)
{
    __m256 dot = _mm256_setzero_ps();
    for (int j = 0; j < L; j += 8) {
        __m256i mask = simd_tail_mask(L - j);
        dot = _mm256_fmadd_ps(_mm256_maskload_ps(row + j, mask), _mm256_maskload_ps(p + j, mask),
                              dot);
    }
    __m256 c = _mm256_set1_ps(simd_sum(dot));
    for (int j = 0; j < L; j += 8) {
        __m256i mask = simd_tail_mask(L - j);
        __m256 ds = _mm256_mul_ps(_mm256_maskload_ps(p + j, mask),
                                  _mm256_sub_ps(_mm256_maskload_ps(row + j, mask), c));
        simd_store_first(row + j, ds, L - j);
    }
}

/* share[(j - i) + L - 1] += dS[i, j]: the item's bias gradient by relative distance, rows in
 * order (the same float additions on every path). */
static void add_diagonals(float *share, const float *ds, int L)
{
    for (int i = 0; i < L; i++) {
        float *dst = share + (L - 1 - i);
        const float *row = ds + (size_t)i * L;
        for (int j = 0; j < L; j++)
            dst[j] += row[j];
    }
}

/* One item: sequence s over rows [start, start + L), head h. tile is L x L scratch, other
 * too when dropout is active, packed head_dim x L (small products only); share is the
 * item's 2L - 1 floats of bias gradient (zeroed here), or NULL. */
static void attention_head_backward(const backward_problem *pb, kernel_path path, int s,
                                    int start, int L, int h, float *share, float *tile,
                                    float *other, float *packed)
{
    int D = pb->head_dim, ld = pb->ld, width = pb->n_heads * D;
    size_t rows = (size_t)start * ld + (size_t)h * D, n = (size_t)L * L;
    const float *q = pb->q + rows, *k = pb->k + rows, *v = pb->v + rows;
    const float *d_out = pb->d_out + (size_t)start * width + (size_t)h * D;
    float *d_q = pb->d_q ? pb->d_q + rows : NULL, *d_k = pb->d_k ? pb->d_k + rows : NULL;
    float *d_v = pb->d_v ? pb->d_v + rows : NULL;
    size_t first = pb->probs_at[s] + (size_t)h * n;
    const float *p = pb->probs + first;
    bool small = path == KERNEL_PATH_AVX2 && L <= ATTENTION_SMALL_MAX;
    bool scores = d_q || d_k || share;
    bool dropout = dropout_active(pb->dropout);

    if (scores) { /* tile = dP' */
        if (small) {
            attention_pack_transposed(packed, v, ld, L, D);
            small_gemm_avx2(L, L, D, 1.0f, d_out, width, packed, L, tile, L);
        } else {
            matmul_sgemm(false, true, L, L, D, 1.0f, d_out, width, v, ld, 0.0f, tile, L);
        }
    }
    const float *kept = p; /* P', in other when dropout changes it */
    if (dropout) {
        dropout_multipliers(path, other, n, pb->dropout, first);
        for (size_t x = 0; scores && x < n; x++) /* dP = dP' M */
            tile[x] *= other[x];
        for (size_t x = 0; x < n; x++)
            other[x] *= p[x];
        kept = other;
    }
    if (d_v) {
        if (small)
            small_gemm_accumulate_avx2(true, L, D, L, 1.0f, kept, L, d_out, width, d_v, ld);
        else
            matmul_sgemm(true, false, L, D, L, 1.0f, kept, L, d_out, width, 1.0f, d_v, ld);
    }
    if (!scores)
        return;
    for (int i = 0; i < L; i++) { /* tile = dS */
        if (path == KERNEL_PATH_AVX2)
            softmax_backward_row_avx2(tile + (size_t)i * L, p + (size_t)i * L, L);
        else
            softmax_backward_row_generic(tile + (size_t)i * L, p + (size_t)i * L, L);
    }
    if (share) {
        memset(share, 0, (2 * (size_t)L - 1) * sizeof *share);
        add_diagonals(share, tile, L);
    }
    if (small) {
        if (d_q)
            small_gemm_accumulate_avx2(false, L, D, L, pb->scale, tile, L, k, ld, d_q, ld);
        if (d_k)
            small_gemm_accumulate_avx2(true, L, D, L, pb->scale, tile, L, q, ld, d_k, ld);
    } else {
        if (d_q)
            matmul_sgemm(false, false, L, D, L, pb->scale, tile, L, k, ld, 1.0f, d_q, ld);
        if (d_k)
            matmul_sgemm(true, false, L, D, L, pb->scale, tile, L, q, ld, 1.0f, d_k, ld);
    }
}

/* d_position_bias += the items' shares, head by head, sequences in order. */
static void add_bias_shares(float *d_position_bias, const float *shares, const size_t *share_at,
                            const int *cu_seqlens, int n_seqs, int n_heads, int max_distance)
{
    int span = 2 * max_distance - 1;
#pragma omp parallel for schedule(static) if (share_at[n_seqs] >= (1 << 16))
    for (int h = 0; h < n_heads; h++) {
        float *row = d_position_bias + (size_t)h * span + max_distance - 1;
        for (int s = 0; s < n_seqs; s++) {
            int L = cu_seqlens[s + 1] - cu_seqlens[s];
            const float *share = shares + share_at[s] + (size_t)h * (2 * L - 1);
            for (int distance = 1 - L; distance < L; distance++)
                row[distance] += share[distance + L - 1];
        }
    }
}

semb_status attention_backward_using(kernel_path path, float *d_q, float *d_k, float *d_v,
                                     float *d_position_bias, const float *d_out, const float *q,
                                     const float *k, const float *v, int ld, const float *probs,
                                     const int *cu_seqlens, int n_seqs, int n_heads,
                                     int head_dim, float scale, int max_distance,
                                     dropout_spec dropout)
{
    if (n_seqs <= 0 || n_heads <= 0)
        return SEMB_OK;
    path = kernel_path_or_generic(path);
    /* probs_at, then share_at: where each sequence's bias shares start. */
    size_t *offsets = malloc(2 * ((size_t)n_seqs + 1) * sizeof *offsets);
    if (!offsets)
        return semb_fail(NULL, SEMB_ERR_NOMEM, "attention: no memory for %d sequences", n_seqs);
    size_t *probs_at = offsets, *share_at = offsets + n_seqs + 1;
    int longest;
    semb_status status = attention_plan(cu_seqlens, n_seqs, n_heads, d_position_bias != NULL,
                                        max_distance, probs_at, &longest);
    share_at[0] = 0;
    for (int s = 0; s < n_seqs; s++) {
        int L = cu_seqlens[s + 1] - cu_seqlens[s];
        share_at[s + 1] = share_at[s] + (L > 0 ? (size_t)n_heads * (2 * L - 1) : 0);
    }
    int packed_length = longest < ATTENTION_SMALL_MAX ? longest : ATTENTION_SMALL_MAX;
    size_t packed_floats = path == KERNEL_PATH_AVX2 ? (size_t)head_dim * packed_length : 0;
    size_t square = (size_t)longest * longest;
    size_t per_thread = (dropout_active(dropout) ? 2 * square : square) + packed_floats;
    int threads = omp_get_max_threads();
    float *work = NULL, *shares = NULL;
    if (status == SEMB_OK && longest > 0) {
        work = malloc((size_t)threads * per_thread * sizeof *work);
        if (d_position_bias)
            shares = malloc(share_at[n_seqs] * sizeof *shares);
        if (!work || (d_position_bias && !shares))
            status = semb_fail(NULL, SEMB_ERR_NOMEM, "attention: no memory for %d tiles of %d^2",
                               threads, longest);
    }
    if (status == SEMB_OK && longest > 0) {
        backward_problem pb = {d_q, d_k, d_v, d_out, q, k, v, probs, ld, n_heads, head_dim,
                               scale, dropout, probs_at};
        long items = (long)n_seqs * n_heads;
        /* Dynamic: an item costs L^2, and lengths in a batch vary widely. */
#pragma omp parallel for schedule(dynamic, 1)
        for (long item = 0; item < items; item++) {
            int s = (int)(item / n_heads), h = (int)(item % n_heads);
            int start = cu_seqlens[s], L = cu_seqlens[s + 1] - start;
            if (L <= 0) /* empty (attention_plan rejected negative lengths) */
                continue;
            float *tile = work + (size_t)omp_get_thread_num() * per_thread;
            float *share = shares ? shares + share_at[s] + (size_t)h * (2 * L - 1) : NULL;
            float *packed = tile + per_thread - packed_floats;
            attention_head_backward(&pb, path, s, start, L, h, share, tile,
                                    dropout_active(dropout) ? tile + square : NULL,
                                    packed);
        }
        if (shares)
            add_bias_shares(d_position_bias, shares, share_at, cu_seqlens, n_seqs, n_heads,
                            max_distance);
    }
    free(shares);
    free(work);
    free(offsets);
    return status;
}

semb_status attention_backward(float *d_q, float *d_k, float *d_v, float *d_position_bias,
                               const float *d_out, const float *q, const float *k, const float *v,
                               int ld, const float *probs, const int *cu_seqlens, int n_seqs,
                               int n_heads, int head_dim, float scale, int max_distance,
                               dropout_spec dropout)
{
    return attention_backward_using(kernel_path_best(), d_q, d_k, d_v, d_position_bias, d_out, q,
                                    k, v, ld, probs, cu_seqlens, n_seqs, n_heads, head_dim, scale,
                                    max_distance, dropout);
}

/* The reference's work for one item: dS, then the d_k and d_v sums in double. */
static void reference_head(const backward_problem *pb, int s, int start, int L, int h,
                           double *ds, double *bias_row, int max_distance)
{
    int D = pb->head_dim, ld = pb->ld, width = pb->n_heads * D;
    size_t rows = (size_t)start * ld + (size_t)h * D, first = pb->probs_at[s] + (size_t)h * L * L;
    const float *q = pb->q + rows, *k = pb->k + rows, *v = pb->v + rows, *p = pb->probs + first;
    const float *d_out = pb->d_out + (size_t)start * width + (size_t)h * D;
    for (int i = 0; i < L; i++) {
        double *row = ds + (size_t)i * L, dot = 0.0;
        for (int j = 0; j < L; j++) {
            double dp = 0.0;
            for (int d = 0; d < D; d++)
                dp += (double)d_out[(size_t)i * width + d] * v[(size_t)j * ld + d];
            row[j] = dp * dropout_multiplier(pb->dropout, first + (size_t)i * L + j);
            dot += row[j] * p[(size_t)i * L + j];
        }
        for (int j = 0; j < L; j++) {
            row[j] = p[(size_t)i * L + j] * (row[j] - dot);
            if (bias_row)
                bias_row[(j - i) + max_distance - 1] += row[j];
        }
    }
    for (int i = 0; i < L; i++)
        for (int d = 0; d < D; d++) {
            double dq = 0.0, dk = 0.0, dv = 0.0;
            for (int j = 0; j < L; j++) {
                dq += ds[(size_t)i * L + j] * k[(size_t)j * ld + d];
                dk += ds[(size_t)j * L + i] * q[(size_t)j * ld + d];
                dv += (double)p[(size_t)j * L + i] *
                      dropout_multiplier(pb->dropout, first + (size_t)j * L + i) *
                      d_out[(size_t)j * width + d];
            }
            size_t at = rows + (size_t)i * ld + d;
            if (pb->d_q)
                pb->d_q[at] = (float)(pb->d_q[at] + pb->scale * dq);
            if (pb->d_k)
                pb->d_k[at] = (float)(pb->d_k[at] + pb->scale * dk);
            if (pb->d_v)
                pb->d_v[at] = (float)(pb->d_v[at] + dv);
        }
}

semb_status attention_backward_reference(float *d_q, float *d_k, float *d_v,
                                         float *d_position_bias, const float *d_out,
                                         const float *q, const float *k, const float *v, int ld,
                                         const float *probs, const int *cu_seqlens, int n_seqs,
                                         int n_heads, int head_dim, float scale,
                                         int max_distance, dropout_spec dropout)
{
    if (n_seqs <= 0 || n_heads <= 0)
        return SEMB_OK;
    size_t *probs_at = malloc(((size_t)n_seqs + 1) * sizeof *probs_at);
    if (!probs_at)
        return semb_fail(NULL, SEMB_ERR_NOMEM, "attention: no memory for %d sequences", n_seqs);
    int longest, span = 2 * max_distance - 1;
    semb_status status = attention_plan(cu_seqlens, n_seqs, n_heads, d_position_bias != NULL,
                                        max_distance, probs_at, &longest);
    size_t square = (size_t)longest * longest;
    size_t bias_doubles = d_position_bias ? (size_t)n_heads * span : 0;
    double *ds = NULL;
    if (status == SEMB_OK) {
        ds = calloc(square + bias_doubles + 1, sizeof *ds);
        if (!ds)
            status = semb_fail(NULL, SEMB_ERR_NOMEM, "attention: no memory for %d^2", longest);
    }
    if (status == SEMB_OK) {
        backward_problem pb = {d_q, d_k, d_v, d_out, q, k, v, probs, ld, n_heads, head_dim,
                               scale, dropout, probs_at};
        double *bias_sum = ds + square;
        for (int s = 0; s < n_seqs; s++)
            for (int h = 0; h < n_heads; h++)
                reference_head(&pb, s, cu_seqlens[s], cu_seqlens[s + 1] - cu_seqlens[s], h, ds,
                               d_position_bias ? bias_sum + (size_t)h * span : NULL,
                               max_distance);
        for (size_t x = 0; x < bias_doubles; x++)
            d_position_bias[x] = (float)(d_position_bias[x] + bias_sum[x]);
    }
    free(ds);
    free(probs_at);
    return status;
}
