/* The trainer's state, shared by the word counting (wordpiece_trainer.c) and the merging
 * (wordpiece_merges.c). Not for other modules. */
#ifndef SEMB_TEXT_WORDPIECE_TRAINER_INTERNAL_H
#define SEMB_TEXT_WORDPIECE_TRAINER_INTERNAL_H

#include "text/bert_normalizer.h"
#include "text/wordpiece_trainer.h"

/* The distinct words seen, each with its count; word i is text[offsets[i]..+lengths[i]). */
typedef struct word_list {
    char *text;
    size_t text_length, text_capacity;
    size_t *offsets;
    uint32_t *lengths;
    uint64_t *counts;
    size_t count;
    size_t capacity_offsets, capacity_lengths, capacity_counts;
} word_list;

struct wordpiece_trainer {
    wordpiece_trainer_options options; /* special_tokens points at `specials` */
    char **specials;
    bert_normalizer normalizer;
    word_list words;
    struct word_slot *word_slots; /* hash index of `words` */
    size_t word_mask;             /* slot count - 1 */
    char *scratch;                /* normalised text of the line being counted */
    size_t scratch_capacity;
    wordpiece_corpus_stats stats;
};

/* Grows *array (of item_size items) to hold at least `needed`, doubling; SEMB_ERR_NOMEM
 * naming `what`. */
semb_status wordpiece_grow(void **array, size_t *capacity, size_t needed, size_t item_size,
                           const char *what, semb_error *err);

#endif
