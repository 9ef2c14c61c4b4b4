/* Ranking answer candidates for a query (semb_rank in semb.h): the ordering of one query's
 * scores, apart from the encoding so it can be checked on hand-made scores. */
#ifndef SEMB_EVAL_CANDIDATE_RANK_H
#define SEMB_EVAL_CANDIDATE_RANK_H

#include <stddef.h>

/* One candidate's place while ordering. */
typedef struct rank_entry {
    float score;
    size_t index;
} rank_entry;

/* Orders scores[0..n) best first, equal scores by lower index, NaN last, and writes the
 * first k (k <= n) into indices[k] and out_scores[k]. work is caller-owned scratch of n
 * entries. Cannot fail. */
void rank_order(const float *scores, size_t n, size_t k, rank_entry *work, size_t *indices,
                float *out_scores);

#endif
