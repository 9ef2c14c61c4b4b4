/* Paraphrase mining (semb_paraphrase_mine*, include/semb.h) and the bounded heaps of scored
 * pairs it is built from. The order of pairs everywhere: score descending, then i, then j
 * ascending. */
#ifndef SEMB_EVAL_PARAPHRASE_MINING_H
#define SEMB_EVAL_PARAPHRASE_MINING_H

#include <stdbool.h>
#include <stddef.h>

#include "semb.h"

/* Whether a ranks before b in the order above. */
bool scored_pair_before(const semb_scored_pair *a, const semb_scored_pair *b);

/* Keeps the best `capacity` pairs offered: heap[0 .. *size) with the worst at heap[0]. */
void scored_pair_heap_offer(semb_scored_pair *heap, size_t *size, size_t capacity,
                            semb_scored_pair pair);

/* Sorts pairs best first. */
void scored_pairs_sort(semb_scored_pair *pairs, size_t n);

/* Mining over embeddings already prepared for sim (similarity_prepare), which it does not
 * change; the contract of semb_paraphrase_mine_embeddings otherwise. */
semb_status paraphrase_mine_prepared(const float *embeddings, size_t n, int dim,
                                     semb_similarity sim, const semb_paraphrase_options *opts,
                                     semb_scored_pair **pairs, size_t *n_pairs,
                                     semb_error *err);

#endif
