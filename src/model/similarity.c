#include "model/similarity.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

#include "kernels/matmul.h"

void similarity_normalize_rows(float *rows, size_t n, int dim)
{
    for (size_t i = 0; i < n; i++) {
        float *r = rows + i * (size_t)dim;
        double sum = 0;
        for (int d = 0; d < dim; d++)
            sum += (double)r[d] * r[d];
        if (sum > 0) {
            float inv = (float)(1.0 / sqrt(sum));
            for (int d = 0; d < dim; d++)
                r[d] *= inv;
        }
    }
}

void similarity_prepare(semb_similarity sim, float *rows, size_t n, int dim)
{
    if (sim == SEMB_SIMILARITY_COSINE)
        similarity_normalize_rows(rows, n, dim);
}

static double squared_norm(const float *r, int dim)
{
    double sum = 0;
    for (int d = 0; d < dim; d++)
        sum += (double)r[d] * r[d];
    return sum;
}

void similarity_matrix(semb_similarity sim, const float *a, size_t n_a, const float *b,
                       size_t n_b, int dim, float *out)
{
    if (n_a == 0 || n_b == 0)
        return;
    if (sim == SEMB_SIMILARITY_MANHATTAN) {
        for (size_t i = 0; i < n_a; i++)
            for (size_t j = 0; j < n_b; j++)
                out[i * n_b + j] = (float)similarity_pair(sim, a + i * (size_t)dim,
                                                          b + j * (size_t)dim, dim);
        return;
    }
    matmul_sgemm(false, true, (int)n_a, (int)n_b, dim, 1.0f, a, dim, b, dim, 0.0f, out,
                 (int)n_b);
    if (sim != SEMB_SIMILARITY_EUCLIDEAN)
        return;
    /* without memory for the cached norms, each is recomputed: slower, same result */
    double *norm_b = malloc(n_b * sizeof *norm_b);
    for (size_t j = 0; norm_b && j < n_b; j++)
        norm_b[j] = squared_norm(b + j * (size_t)dim, dim);
    for (size_t i = 0; i < n_a; i++) {
        double na = squared_norm(a + i * (size_t)dim, dim);
        for (size_t j = 0; j < n_b; j++) {
            double nb = norm_b ? norm_b[j] : squared_norm(b + j * (size_t)dim, dim);
            double d2 = na + nb - 2.0 * out[i * n_b + j];
            out[i * n_b + j] = (float)-sqrt(d2 > 0 ? d2 : 0);
        }
    }
    free(norm_b);
}

double similarity_pair(semb_similarity sim, const float *a, const float *b, int dim)
{
    double sum = 0;
    switch (sim) {
    case SEMB_SIMILARITY_COSINE:
    case SEMB_SIMILARITY_DOT:
        for (int d = 0; d < dim; d++)
            sum += (double)a[d] * b[d];
        return sum;
    case SEMB_SIMILARITY_EUCLIDEAN:
        for (int d = 0; d < dim; d++)
            sum += ((double)a[d] - b[d]) * ((double)a[d] - b[d]);
        return -sqrt(sum);
    case SEMB_SIMILARITY_MANHATTAN:
        for (int d = 0; d < dim; d++)
            sum += fabs((double)a[d] - b[d]);
        return -sum;
    }
    return 0;
}

semb_status semb_similarity_scores(semb_similarity sim, const float *a, size_t n_a,
                                   const float *b, size_t n_b, int dim, float *out,
                                   semb_error *err)
{
    if ((!a && n_a) || (!b && n_b) || (!out && n_a && n_b) || dim < 1 || n_a > INT_MAX ||
        n_b > INT_MAX || (unsigned)sim > SEMB_SIMILARITY_MANHATTAN)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "semb_similarity_scores: NULL arrays, dimension %d, %zu x %zu rows or "
                         "an unknown similarity", dim, n_a, n_b);
    if (!n_a || !n_b)
        return SEMB_OK;
    if (sim != SEMB_SIMILARITY_COSINE) {
        similarity_matrix(sim, a, n_a, b, n_b, dim, out);
        return SEMB_OK;
    }
    /* cosine needs unit rows: normalised copies, so the caller's arrays stay as they are */
    float *ua = malloc(n_a * (size_t)dim * sizeof *ua), *ub = malloc(n_b * (size_t)dim * sizeof *ub);
    if (!ua || !ub) {
        free(ua);
        free(ub);
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot copy %zu + %zu embeddings", n_a, n_b);
    }
    memcpy(ua, a, n_a * (size_t)dim * sizeof *ua);
    memcpy(ub, b, n_b * (size_t)dim * sizeof *ub);
    similarity_normalize_rows(ua, n_a, dim);
    similarity_normalize_rows(ub, n_b, dim);
    similarity_matrix(sim, ua, n_a, ub, n_b, dim, out);
    free(ua);
    free(ub);
    return SEMB_OK;
}
