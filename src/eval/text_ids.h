/* Numbering the distinct texts of a list, for evaluation sets built from pairs. */
#ifndef SEMB_EVAL_TEXT_IDS_H
#define SEMB_EVAL_TEXT_IDS_H

#include <stddef.h>

#include "semb.h"

/* Numbers the distinct texts[0..n) in order of first appearance: ids[i] (caller-owned, n
 * entries) is the number of texts[i]; on success *copies (malloc'd, n slots) holds a malloc'd
 * copy of each distinct text, *n_distinct of them. Fails only with SEMB_ERR_NOMEM, *copies
 * then freed and NULL. */
semb_status text_ids_number(const char *const *texts, size_t n, size_t *ids, char ***copies,
                            size_t *n_distinct, semb_error *err);

/* Frees copies[0..n) and copies. */
void text_ids_free(char **copies, size_t n);

#endif
