#include "eval/triplet_eval.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "eval/eval_encode.h"
#include "model/similarity.h"

static double norm(const float *v, int dim)
{
    double sum = 0;
    for (int d = 0; d < dim; d++)
        sum += (double)v[d] * v[d];
    return sqrt(sum);
}

/* Cosine from the dot product and the norms, so that no normalised copy is needed. */
static double cosine(const float *a, const float *b, int dim, double norm_a)
{
    double denominator = norm_a * norm(b, dim);
    return denominator > 0 ? similarity_pair(SEMB_SIMILARITY_DOT, a, b, dim) / denominator : 0;
}

void triplet_count_correct(const float *anchors, const float *positives,
                           const float *negatives, size_t n, int dim, size_t correct[4])
{
    for (size_t i = 0; i < n; i++) {
        const float *a = anchors + i * (size_t)dim, *p = positives + i * (size_t)dim,
                    *q = negatives + i * (size_t)dim;
        double na = norm(a, dim);
        correct[SEMB_SIMILARITY_COSINE] += cosine(a, p, dim, na) > cosine(a, q, dim, na);
        for (int s = SEMB_SIMILARITY_DOT; s <= SEMB_SIMILARITY_MANHATTAN; s++)
            correct[s] += similarity_pair((semb_similarity)s, a, p, dim) >
                          similarity_pair((semb_similarity)s, a, q, dim);
    }
}

/* Embeds one chunk of each column, raw (the dot product, the most general preparation). */
static semb_status encode_chunk(semb_model *model, const char *const *columns[3], size_t first,
                                size_t n, const semb_eval_options *opts, float *out[3],
                                semb_error *err)
{
    static const char *names[] = {"anchor", "positive", "negative"};
    for (int c = 0; c < 3; c++) {
        semb_status st = eval_encode(model, columns[c] + first, n, NULL, opts,
                                     SEMB_SIMILARITY_DOT, out[c], err);
        if (st)
            return semb_fail_prefix(err, "triplet %s texts (from triplet %zu): ", names[c], first);
    }
    return SEMB_OK;
}

semb_status semb_eval_triplets(semb_model *model, const char *const *anchors,
                               const char *const *positives, const char *const *negatives,
                               size_t n, const semb_eval_options *opts,
                               semb_triplet_metrics *out, semb_error *err)
{
    if (!model || !out || (n && (!anchors || !positives || !negatives)))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_eval_triplets: NULL argument");
    if (n == 0)
        return semb_fail(err, SEMB_ERR_INPUT, "triplet evaluation needs at least one triplet");
    int dim = semb_model_dimension(model);
    size_t chunk = eval_chunk_size(opts) < n ? eval_chunk_size(opts) : n;
    float *buffer = malloc(3 * chunk * (size_t)dim * sizeof *buffer);
    if (!buffer)
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate embeddings of %zu triplets", chunk);
    float *embeddings[3] = {buffer, buffer + chunk * (size_t)dim, buffer + 2 * chunk * (size_t)dim};
    const char *const *columns[3] = {anchors, positives, negatives};
    size_t correct[4] = {0};
    semb_status st = SEMB_OK;
    for (size_t first = 0; !st && first < n; first += chunk) {
        size_t count = n - first < chunk ? n - first : chunk;
        st = encode_chunk(model, columns, first, count, opts, embeddings, err);
        if (!st)
            triplet_count_correct(embeddings[0], embeddings[1], embeddings[2], count, dim,
                                  correct);
    }
    free(buffer);
    if (st)
        return st;
    for (int s = 0; s < 4; s++)
        out->accuracy_by_function[s] = (double)correct[s] / (double)n;
    out->accuracy = out->accuracy_by_function[semb_model_similarity(model)];
    out->triplets = n;
    return SEMB_OK;
}
