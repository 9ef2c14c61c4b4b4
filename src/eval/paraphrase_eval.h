/* Paraphrase-mining evaluation (semb_eval_paraphrase_mining, include/semb.h): gold duplicate
 * pairs as a sorted set, their transitive closure, and average precision / best F1 over a
 * ranked list of mined pairs. */
#ifndef SEMB_EVAL_PARAPHRASE_EVAL_H
#define SEMB_EVAL_PARAPHRASE_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "semb.h"

/* Gold duplicates: distinct (i < j) pairs, sorted. */
typedef struct duplicate_set {
    semb_scored_pair *pairs; /* score unused */
    size_t count;
} duplicate_set;

/* Builds the set from (a[k], b[k]), k < n, indices below n_sentences, in either order,
 * repeats merged; with transitive_closure, every two sentences connected through duplicates
 * become a pair. Fails with SEMB_ERR_INVALID_ARG for an index out of range or a sentence
 * paired with itself, SEMB_ERR_NOMEM. */
semb_status duplicate_set_build(const size_t *a, const size_t *b, size_t n, size_t n_sentences,
                                bool transitive_closure, duplicate_set *out, semb_error *err);

void duplicate_set_free(duplicate_set *set);

bool duplicate_set_contains(const duplicate_set *set, size_t i, size_t j);

/* The metrics of mined pairs (best first, as semb_paraphrase_mine orders them) against the
 * gold set (count > 0): among pairs of equal score non-duplicates are taken first, then
 * sentence-transformers' walk (include/semb.h). Fills all of *out but sentences. Fails only
 * with SEMB_ERR_NOMEM. */
semb_status paraphrase_metrics(const semb_scored_pair *pairs, size_t n_pairs,
                               const duplicate_set *gold, semb_paraphrase_metrics *out,
                               semb_error *err);

#endif
