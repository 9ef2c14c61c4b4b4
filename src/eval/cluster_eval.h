/* Clustering evaluation: k-means on the embeddings of labelled texts, scored against the
 * labels with V-measure (and its homogeneity and completeness) and the adjusted Rand index,
 * as sklearn.metrics computes them (semb_cluster_scores_compute in semb.h):
 *
 *   H(C) = -sum_c n_c/N ln(n_c/N), H(K) likewise over clusters,
 *   I(C; K) = sum_ck n_ck/N ln(N n_ck / (n_c n_k)) (0 when either side has one value),
 *   homogeneity = I / H(C) (1 when H(C) = 0), completeness = I / H(K) (1 when H(K) = 0),
 *   v_measure = 2 h c / (h + c) (0 when h + c = 0),
 *   ARI = 2 (tp tn - fn fp) / ((tp + fn)(fn + tn) + (tp + fp)(fp + tn)) over ordered pairs
 *   (1 when fn = fp = 0), as sklearn's adjusted_rand_score. */
#ifndef SEMB_EVAL_CLUSTER_EVAL_H
#define SEMB_EVAL_CLUSTER_EVAL_H

#include <stddef.h>
#include <stdint.h>

#include "semb.h"

/* Labelled texts: JSONL objects {"text": "...", "label": "name" | integer}. */
typedef struct cluster_dataset {
    char **texts;          /* NUL-terminated UTF-8 */
    size_t *lengths;
    size_t *line_numbers;  /* 1-based line of each text in the file */
    int32_t *labels;       /* [n] dense ids, in order of first appearance */
    size_t n;
    size_t n_labels;       /* distinct labels */
} cluster_dataset;

/* Reads path. Blank lines are skipped; other keys are ignored. A line that is not JSON, not
 * an object, lacks a string "text" or a string/integer "label", or holds invalid UTF-8 or a
 * NUL is an error naming file:line (SEMB_ERR_FORMAT); so is a file without texts. The label
 * 1 and the label "1" are different classes (as in Python). On failure *out is empty. */
semb_status cluster_dataset_read(const char *path, cluster_dataset *out, semb_error *err);

void cluster_dataset_free(cluster_dataset *ds);

/* Encodes n texts into out[n, dim] in chunks (bounded memory inside semb_encode), then
 * prepares them for k-means under the model's similarity: L2-normalised for cosine, as they
 * are otherwise. A failure names the text by its index in the whole input ("text I: ..."). */
semb_status cluster_encode_texts(semb_model *model, const char *const *texts,
                                 const size_t *lengths, size_t n,
                                 const semb_encode_options *opts, float *out, semb_error *err);

typedef struct cluster_eval_result {
    semb_cluster_scores scores;
    double inertia;
    int k;
    size_t texts, labels;
} cluster_eval_result;

/* Runs k-means on embeddings[ds->n, dim] (prepared by cluster_encode_texts; kopts->k <= 0:
 * k = the number of distinct labels) and scores the clusters against ds's labels. Errors are
 * kmeans_fit's (k larger than the number of texts, ...). */
semb_status cluster_evaluate_embeddings(const float *embeddings, int dim,
                                        const cluster_dataset *ds,
                                        const semb_kmeans_options *kopts,
                                        cluster_eval_result *out, semb_error *err);

#endif
