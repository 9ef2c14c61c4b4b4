/* Retrieval evaluation, as sentence-transformers' InformationRetrievalEvaluator reports it:
 * each query ranks the whole corpus by similarity, and the ranks of its relevant documents
 * in its top RETRIEVAL_DEPTH give the metrics of semb_retrieval_metrics (include/semb.h,
 * where each is defined), averaged over queries.
 *
 * Ties: documents are ordered by score, highest first; among equal scores an irrelevant
 * document comes before a relevant one, then the lower document index first. So a model
 * that scores everything alike (a collapsed encoder, a TF-IDF query with no known word)
 * earns nothing from the order of the corpus, which for pair data matches the queries.
 * (sentence-transformers leaves the order of ties to torch.topk and a heap.) */
#ifndef SEMB_EVAL_RETRIEVAL_EVAL_H
#define SEMB_EVAL_RETRIEVAL_EVAL_H

#include <stdbool.h>
#include <stddef.h>

#include "semb.h"

/* The deepest cutoff of any metric (MAP@100): each query keeps its best this many. */
#define RETRIEVAL_DEPTH 100

typedef semb_retrieval_metrics retrieval_result;

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

/* Fills ds->relevant_offsets and ds->relevant (ds->n_queries set) from the n (query_ids[i],
 * document_ids[i]) pairs, repeats merged. Fails only with SEMB_ERR_NOMEM. */
semb_status retrieval_dataset_set_relevance(retrieval_dataset *ds, const size_t *query_ids,
                                            const size_t *document_ids, size_t n,
                                            semb_error *err);

void retrieval_dataset_free(retrieval_dataset *ds);

/* Whether document is relevant to query (binary search). */
bool retrieval_is_relevant(const retrieval_dataset *ds, size_t query, size_t document);

/* The best RETRIEVAL_DEPTH documents one query has been offered so far, best first, in the
 * order the header describes. Start from {0}. */
typedef struct retrieval_top {
    size_t count;
    float score[RETRIEVAL_DEPTH];
    size_t document[RETRIEVAL_DEPTH];
    bool relevant[RETRIEVAL_DEPTH];
} retrieval_top;

/* Offers one scored document; a NaN score ranks as -infinity. Offering every document
 * of the corpus once, in any order, gives the exact top RETRIEVAL_DEPTH. */
void retrieval_top_offer(retrieval_top *top, float score, size_t document, bool relevant);

/* Whether a score could enter top at all (false: no need to look up its relevance). */
static inline bool retrieval_top_admits(const retrieval_top *top, float score)
{
    return top->count < RETRIEVAL_DEPTH || !(score < top->score[RETRIEVAL_DEPTH - 1]);
}

/* The mean metrics of all queries, from tops[0 .. ds->n_queries) each offered the whole
 * corpus. */
void retrieval_result_from_tops(const retrieval_top *tops, const retrieval_dataset *ds,
                                retrieval_result *out);

/* Offers documents first_document .. first_document + n_documents - 1, embedded as
 * document_embeddings[n_documents, dim], to the tops of all ds->n_queries queries
 * (query_embeddings[n_queries, dim]); both sides prepared for sim (similarity_prepare).
 * Scores are computed in tiles of blocked matrix products (a few MB of scratch).
 * SEMB_ERR_NOMEM is the only failure. */
semb_status retrieval_rank_chunk(retrieval_top *tops, const retrieval_dataset *ds,
                                 const float *query_embeddings,
                                 const float *document_embeddings, size_t first_document,
                                 size_t n_documents, int dim, semb_similarity sim,
                                 semb_error *err);

/* Ranks the whole corpus (document_embeddings[ds->n_documents, dim]) for every query and
 * fills out; embeddings prepared for sim. SEMB_ERR_NOMEM is the only failure. */
semb_status retrieval_evaluate_embeddings(const float *query_embeddings,
                                          const float *document_embeddings, int dim,
                                          semb_similarity sim, const retrieval_dataset *ds,
                                          retrieval_result *out, semb_error *err);

/* Embeds the queries and then the corpus, chunk by chunk, with model (opts as
 * semb_eval_options says, NULL for defaults), scores under semb_model_similarity(model) and
 * evaluates. Memory: the query embeddings, one chunk of documents and the tops. Errors are
 * those of semb_encode, prefixed "retrieval queries: " or "retrieval corpus: ". */
semb_status retrieval_evaluate(semb_model *model, const retrieval_dataset *ds,
                               const semb_eval_options *opts, retrieval_result *out,
                               semb_error *err);

#endif
