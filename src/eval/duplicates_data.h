/* The sentence-level input of paraphrase-mining evaluation, as sentence-transformers'
 * ParaphraseMiningEvaluator takes it (sentences_map, duplicates_list): a file of sentences with
 * ids, and a file of duplicate id pairs. Sentences no pair names stay in as distractors. */
#ifndef SEMB_EVAL_DUPLICATES_DATA_H
#define SEMB_EVAL_DUPLICATES_DATA_H

#include <stddef.h>

#include "semb.h"

typedef struct duplicates_data {
    char **sentences; /* n_sentences, NUL-terminated UTF-8, in file order */
    size_t n_sentences;
    size_t *dup_a, *dup_b; /* n_dup index pairs into sentences, a != b */
    size_t n_dup;
} duplicates_data;

/* Reads sentences_path (ID<TAB>SENTENCE a line) and duplicates_path (ID<TAB>ID a line); blank
 * lines are skipped, a trailing "\r" dropped. Errors (SEMB_ERR_FORMAT) name FILE:LINE: a line
 * without a TAB (or, in the duplicates file, with a second one), an empty id, invalid UTF-8, a
 * sentence id given twice, a duplicate naming an unknown id or the same id twice, a file with
 * no entries; SEMB_ERR_IO when a file cannot be read. On success *out owns everything
 * (duplicates_data_free); on failure it is empty. */
semb_status duplicates_data_read(const char *sentences_path, const char *duplicates_path,
                                 duplicates_data *out, semb_error *err);

void duplicates_data_free(duplicates_data *d);

#endif
