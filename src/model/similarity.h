/* Scores between embeddings under a model's similarity function (semb_similarity): the one
 * place that defines what "more similar" means for search, ranking, clustering and
 * evaluation. Higher is always more similar: cosine and dot as they are, euclidean and
 * manhattan negated, as sentence-transformers' similarity functions return them. */
#ifndef SEMB_MODEL_SIMILARITY_H
#define SEMB_MODEL_SIMILARITY_H

#include <stddef.h>

#include "semb.h"

/* L2-normalises n rows of dim floats in place (a zero row stays zero), which turns cosine
 * into a dot product. Each norm is accumulated in double. */
void similarity_normalize_rows(float *rows, size_t n, int dim);

/* Prepares rows for similarity_matrix under sim: normalises them for cosine, leaves them
 * as they are otherwise. Call once on both sides before scoring. */
void similarity_prepare(semb_similarity sim, float *rows, size_t n, int dim);

/* out[i * n_b + j] = score of a[i] against b[j] (row-major, out caller-owned [n_a, n_b]),
 * with a and b already passed through similarity_prepare. Cosine and dot are one blocked
 * matrix product (oneDNN sgemm on the caller's threads); euclidean uses |a|^2 + |b|^2 -
 * 2 a.b clamped at 0 before the square root; manhattan is direct loops. n_a and n_b must
 * fit in int (callers tile larger corpora). Cannot fail. */
void similarity_matrix(semb_similarity sim, const float *a, size_t n_a, const float *b,
                       size_t n_b, int dim, float *out);

/* The score of one pair, accumulated in double: the reference similarity_matrix is tested
 * against, and the right call for a handful of pairs. a and b prepared as above. */
double similarity_pair(semb_similarity sim, const float *a, const float *b, int dim);

#endif
