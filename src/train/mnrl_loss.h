/* sentence-transformers' MultipleNegativesRankingLoss (and its symmetric variant) on
 * embeddings already computed: forward loss and the gradients with respect to the
 * embeddings, so that the encoder's backward (or GradCache) can take it from there.
 *
 * Layout, as sentence-transformers builds it: anchors [B, D]; candidates [(1+k)·B, D] =
 * all positives (B rows), then the first hard negative of every anchor (B rows), ..., then
 * the k-th. scores[i][j] = scale · sim(anchor_i, candidate_j) and the loss is the mean over
 * anchors of cross_entropy(scores[i], target i). The symmetric loss averages that with the
 * cross-entropy of scores[:, 0:B] transposed (each positive picking its anchor among all
 * anchors), as MultipleNegativesSymmetricRankingLoss does.
 *
 * The B × (1+k)B scores matrix is never held whole: it is computed a block of anchor rows at
 * a time, with softmax sums in double, so memory stays bounded for batches of 16k and more. */
#ifndef SEMB_TRAIN_MNRL_LOSS_H
#define SEMB_TRAIN_MNRL_LOSS_H

#include <stdbool.h>

#include "semb.h"
#include "train/loss.h"

typedef enum similarity_kind {
    SIMILARITY_COSINE, /* sentence-transformers' cos_sim: rows L2-normalised, eps 1e-12 */
    SIMILARITY_DOT
} similarity_kind;

typedef struct mnrl_config {
    similarity_kind similarity;
    float scale;     /* sentence-transformers' defaults: 20 for cosine, 1 for dot */
    bool symmetric;  /* MultipleNegativesSymmetricRankingLoss */
    int block_rows;  /* anchors per score block; 0 picks one that bounds memory */
} mnrl_config;

/* The loss, and when d_anchors and d_candidates are given the gradient of the loss with
 * respect to every input element: d_anchors [batch, dim] and d_candidates
 * [(1 + n_negatives) · batch, dim], overwritten (not accumulated into). Pass both gradient
 * pointers or neither (forward only). The caller owns every buffer; scratch memory is
 * allocated and freed inside.
 * Errors: SEMB_ERR_INVALID_ARG for batch < 1, n_negatives < 0, dim < 1, a scale that is not
 * finite, a missing input or only one of the two gradient buffers, sizes that overflow;
 * SEMB_ERR_NOMEM when scratch memory cannot be had. On error nothing is written. */
semb_status mnrl_loss(const mnrl_config *cfg, const float *anchors, const float *candidates,
                      int batch, int n_negatives, int dim, double *loss, float *d_anchors,
                      float *d_candidates, semb_error *err);

/* The whole scores matrix, scores[batch, (1 + n_negatives) · batch] (caller-owned), for
 * inspection and small batches; the loss itself never needs it. Errors as mnrl_loss. */
semb_status mnrl_scores(const mnrl_config *cfg, const float *anchors, const float *candidates,
                        int batch, int n_negatives, int dim, float *scores, semb_error *err);

/* This loss behind the train_loss interface (train/loss.h), with cfg copied; *out is owned
 * by the caller (train_loss_free). Its options are "similarity", "scale" and "symmetric";
 * its model-card class MultipleNegatives(Symmetric)RankingLoss. Errors: SEMB_ERR_NOMEM. */
semb_status mnrl_train_loss_create(const mnrl_config *cfg, train_loss **out, semb_error *err);

#endif
