/* Triplet evaluation, as sentence-transformers' TripletEvaluator: the share of (anchor,
 * positive, negative) triplets with sim(anchor, positive) > sim(anchor, negative), strictly,
 * so a tie counts as wrong. Computed under all four similarity functions at once
 * (semb_triplet_metrics, include/semb.h). */
#ifndef SEMB_EVAL_TRIPLET_EVAL_H
#define SEMB_EVAL_TRIPLET_EVAL_H

#include <stddef.h>

#include "semb.h"

/* Adds the outcome of triplets [0, n) of raw (unprepared) embeddings anchors / positives /
 * negatives [n, dim] to correct[4] (indexed by semb_similarity). Scores are exact
 * (similarity_pair, in double); cosine of a zero vector is 0. */
void triplet_count_correct(const float *anchors, const float *positives,
                           const float *negatives, size_t n, int dim, size_t correct[4]);

#endif
