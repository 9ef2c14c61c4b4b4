/* Semantic textual similarity evaluation, as sentence-transformers' EmbeddingSimilarityEvaluator
 * does it: embed both sentences of each pair, score the pair by the model's similarity function
 * (cosine unless its config_sentence_transformers.json says otherwise), and report
 * Spearman's rho and Pearson's r between those scores and the gold scores (both x100). */
#ifndef SEMB_EVAL_STS_EVAL_H
#define SEMB_EVAL_STS_EVAL_H

#include <stddef.h>

#include "semb.h"

/* Sentence pairs with gold scores, read once and evaluated as often as needed. */
typedef struct sts_dataset {
    const char **sentence1; /* NUL-terminated, pointing into storage */
    const char **sentence2;
    size_t *length1, *length2;
    double *scores;         /* the gold score of each pair */
    size_t *line_numbers;   /* 1-based line of each pair in its file */
    size_t count;
    char *path;             /* the file, for messages */
    char *storage;          /* the file's bytes, split in place */
} sts_dataset;

/* Reads a TSV file whose first line is a header naming the columns `score`, `sentence1` and
 * `sentence2` (in any order; other columns are ignored), as the files in shared/data/stsb and the
 * Hugging Face STS-B export do. Fields are split on tabs only: quotes are ordinary characters,
 * since STS-B sentences hold unbalanced quotes. A "\r\n" line end is accepted and blank lines
 * are skipped. Every other line must have as many fields as the header, a finite number as its
 * score and valid UTF-8; the first line that does not is an error naming file:line
 * (SEMB_ERR_FORMAT), as are a missing header column, an empty file and a file with no pairs.
 * On success *out owns everything (free with sts_dataset_free); on failure it is empty. */
semb_status sts_dataset_read(const char *path, sts_dataset *out, semb_error *err);

void sts_dataset_free(sts_dataset *data);

typedef struct sts_result {
    double spearman; /* x100; NaN when undefined (constant gold or predicted scores) */
    double pearson;  /* x100; NaN likewise */
    size_t n;        /* pairs evaluated */
    /* sts_evaluate: the same under each similarity function (indexed by semb_similarity), as
     * EmbeddingSimilarityEvaluator reports spearman_cosine, spearman_dot, ...; spearman and
     * pearson above are the model's own function's. Others leave them NaN. */
    double spearman_by[4], pearson_by[4];
} sts_result;

/* Correlations between predicted[0..n) and gold[0..n), x100. Fails with SEMB_ERR_INPUT
 * when n < 2 (no correlation exists), SEMB_ERR_NOMEM when scratch space runs out. A constant
 * column is not an error: its correlation is reported as NaN, as scipy does. */
semb_status sts_score(const double *predicted, const double *gold, size_t n, sts_result *out,
                      semb_error *err);

/* Embeds both columns of data with model (opts as for semb_encode; NULL for defaults),
 * scores each pair by each similarity function (cosine: 0 when one embedding is the zero
 * vector; the model's own is the headline) and
 * correlates them with the gold scores. Pairs are encoded in chunks, so memory does not grow
 * with the dataset. The weights are not changed, so a trainer may call this between steps.
 * Errors are those of semb_encode (rewritten to name file:line and column of the sentence)
 * and of sts_score. */
semb_status sts_evaluate(semb_model *model, const sts_dataset *data,
                         const semb_encode_options *opts, sts_result *out, semb_error *err);

#endif
