/* A bag-of-words TF-IDF baseline, so that an evaluation can show what a trained model adds
 * over lexical overlap. It is scikit-learn's TfidfVectorizer with its defaults, so anyone can
 * reproduce its numbers in Python:
 *   - words, not the model's subword tokens (no model is needed, and the baseline stays the
 *     same whichever vocabulary a model has): the text is lowercased (Unicode simple case
 *     mapping), and a word is a maximal run of at least two word characters (Unicode letters
 *     and numbers, and '_'), the pattern (?u)\b\w\w+\b;
 *   - tf = the raw count of the word in the text;
 *   - idf = ln((1 + n) / (1 + df)) + 1 over the n texts it was fitted on (smooth_idf);
 *   - each vector scaled to unit L2 norm; words never seen in fitting are dropped.
 * Similarity is the cosine of two such vectors (0 when either has no known word). */
#ifndef SEMB_EVAL_TFIDF_BASELINE_H
#define SEMB_EVAL_TFIDF_BASELINE_H

#include <stddef.h>
#include <stdint.h>

#include "eval/retrieval_eval.h"
#include "eval/sts_eval.h"
#include "semb.h"

typedef struct tfidf_model tfidf_model;

/* Learns the vocabulary and document frequencies of texts[0..n) (NUL-terminated UTF-8;
 * bytes that are not valid UTF-8 separate words). On success *out owns the model (free with
 * tfidf_free); fails only with SEMB_ERR_NOMEM, *out then NULL. */
semb_status tfidf_fit(const char *const *texts, size_t n, tfidf_model **out, semb_error *err);

void tfidf_free(tfidf_model *model);

/* Number of distinct words the model knows. */
size_t tfidf_vocabulary_size(const tfidf_model *model);

/* A sparse unit vector: terms ascending, count 0 for a text with no known word. */
typedef struct tfidf_vector {
    size_t count;
    int32_t *terms;
    float *weights;
} tfidf_vector;

/* The TF-IDF vector of text. On success *out owns its arrays (free with tfidf_vector_free).
 * Fails only with SEMB_ERR_NOMEM. Safe to call from several threads on one model. */
semb_status tfidf_transform(const tfidf_model *model, const char *text, tfidf_vector *out,
                            semb_error *err);

void tfidf_vector_free(tfidf_vector *vector);

/* Cosine similarity of two vectors of one model: their dot product, in double. */
double tfidf_cosine(const tfidf_vector *a, const tfidf_vector *b);

/* STS with the baseline: fitted on every sentence of data (both columns), each pair scored by
 * cosine, correlated as sts_score does. */
semb_status tfidf_sts_evaluate(const sts_dataset *data, sts_result *out, semb_error *err);

/* Retrieval with the baseline: fitted on the corpus (queries only looked up in it), the corpus
 * ranked for each query by cosine through an inverted index, every document scored, ties
 * ordered as retrieval_eval.h says. */
semb_status tfidf_retrieval_evaluate(const retrieval_dataset *ds, retrieval_result *out,
                                     semb_error *err);

#endif
