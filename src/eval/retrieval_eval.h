/* Retrieval evaluation, as sentence-transformers' InformationRetrievalEvaluator reports it:
 * each query ranks the whole corpus by similarity, and the ranks of its relevant documents
 * give MRR@10, Recall@1, Recall@10 and NDCG@10 (binary relevance), averaged over queries.
 *
 * Ties: documents are ordered by score, highest first; among equal scores an irrelevant
 * document comes before a relevant one, then the lower document index first. So a model
 * that scores everything alike (a collapsed encoder, a TF-IDF query with no known word)
 * earns nothing from the order of the corpus, which for pair data matches the queries. */
#ifndef SEMB_EVAL_RETRIEVAL_EVAL_H
#define SEMB_EVAL_RETRIEVAL_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "semb.h"

#define RETRIEVAL_TOP_K 10

/* Queries, a corpus, and which documents are relevant to each query. */
typedef struct retrieval_dataset {
    char **queries;   /* NUL-terminated UTF-8 */
    size_t n_queries;
    char **documents;
    size_t n_documents;
    size_t *relevant_offsets; /* n_queries + 1: query q's relevant documents are */
    size_t *relevant;         /* relevant[relevant_offsets[q] .. relevant_offsets[q + 1]),
                                 ascending document indices, at least one per query */
} retrieval_dataset;

/* Builds the dataset of held-out pairs: the queries are the distinct anchors, the corpus is
 * the distinct positives (both in order of first appearance), and a query's relevant
 * documents are the positives it was paired with. Identical texts are merged, so a duplicate
 * positive never competes with itself. Texts are copied. Fails with SEMB_ERR_INPUT when n is
 * 0, SEMB_ERR_NOMEM when memory runs out; on failure *out is empty. */
semb_status retrieval_dataset_from_pairs(const char *const *anchors,
                                         const char *const *positives, size_t n,
                                         retrieval_dataset *out, semb_error *err);

/* Reads a pairs JSONL file, one pair per line: {"anchor": ..., "positive": ...} (other keys,
 * such as "negative", are ignored) or the recipe's list form ["anchor", "positive", ...], and
 * builds the dataset as retrieval_dataset_from_pairs does. Blank lines are skipped; any other
 * line that is not such a pair of strings (or holds a NUL character) is an error naming
 * file:line (SEMB_ERR_FORMAT), as is a file with no pairs. */
semb_status retrieval_dataset_read_pairs(const char *path, retrieval_dataset *out,
                                         semb_error *err);

void retrieval_dataset_free(retrieval_dataset *ds);

/* Whether document is relevant to query (binary search). */
bool retrieval_is_relevant(const retrieval_dataset *ds, size_t query, size_t document);

typedef struct retrieval_result {
    double mrr_at_10;    /* in [0, 1], means over queries */
    double recall_at_1;  /* share of a query's relevant documents ranked first */
    double recall_at_10; /* share of them in the top 10 */
    double ndcg_at_10;
    size_t queries, documents;
} retrieval_result;

/* The best RETRIEVAL_TOP_K documents one query has been offered so far, best first, in the
 * order the header describes. Start from {0}. */
typedef struct retrieval_top {
    size_t count;
    float score[RETRIEVAL_TOP_K];
    size_t document[RETRIEVAL_TOP_K];
    bool relevant[RETRIEVAL_TOP_K];
} retrieval_top;

/* Offers one scored document; a NaN score ranks as -infinity. Offering every document
 * of the corpus once, in any order, gives the exact top RETRIEVAL_TOP_K. */
void retrieval_top_offer(retrieval_top *top, float score, size_t document, bool relevant);

/* The mean metrics of all queries, from tops[0 .. ds->n_queries) each offered the whole
 * corpus. */
void retrieval_result_from_tops(const retrieval_top *tops, const retrieval_dataset *ds,
                                retrieval_result *out);

/* Ranks ds's corpus for every query by the dot product of query_embeddings[n_queries, dim]
 * and document_embeddings[n_documents, dim] (row-major; pass L2-normalised rows for cosine
 * similarity) and fills out. Exact: every query-document score is computed, in tiles of
 * blocked matrix products, so memory beyond the inputs is a few MB. SEMB_ERR_NOMEM is the only
 * failure. */
semb_status retrieval_evaluate_embeddings(const float *query_embeddings,
                                          const float *document_embeddings, int dim,
                                          const retrieval_dataset *ds, retrieval_result *out,
                                          semb_error *err);

/* Embeds the queries and the corpus with model (opts as for semb_encode, NULL for defaults;
 * embeddings are always L2-normalised, so the ranking is by cosine similarity, as
 * sentence-transformers ranks) and evaluates them. Holds (queries + documents) x dimension
 * floats. Errors are those of semb_encode, naming the query or document. */
semb_status retrieval_evaluate(semb_model *model, const retrieval_dataset *ds,
                               const semb_encode_options *opts, retrieval_result *out,
                               semb_error *err);

#endif
