/* The BEIR layout of a retrieval task, as sentence-transformers' BEIR examples read it:
 *   corpus.jsonl   {"_id": ..., "title": ..., "text": ...} per line; a document's text is
 *                  title + " " + text with surrounding whitespace stripped
 *   queries.jsonl  {"_id": ..., "text": ...} per line
 *   qrels.tsv      query-id<TAB>corpus-id<TAB>score, after a header line; score > 0 marks a
 *                  relevant document, anything else is ignored
 * Ids are strings (a JSON integer is taken as its decimal text). */
#ifndef SEMB_EVAL_BEIR_DATA_H
#define SEMB_EVAL_BEIR_DATA_H

#include "eval/retrieval_eval.h"
#include "semb.h"

/* Receives each warning as one line of text without a prefix. */
typedef void (*beir_warning_fn)(void *user, const char *message);

/* Reads the three files into *out (queries and documents in file order). Errors name
 * file:line (SEMB_ERR_FORMAT): a line that is not a JSON object, a missing or non-string
 * "_id" / "text" (or a non-string "title"), a repeated id, a qrels line without three
 * tab-separated fields or with a score that is not a number, a file with no entries, and no
 * query left with a relevant document; SEMB_ERR_IO when a file cannot be read. Warnings (warn
 * may be NULL): a qrels line naming an unknown query or document id (the first few with
 * file:line, then the count; such lines are skipped), and the number of queries without any
 * relevant document, which are left out as BEIR leaves them out. On failure *out is empty. */
semb_status beir_dataset_read(const char *queries_path, const char *corpus_path,
                              const char *qrels_path, beir_warning_fn warn, void *warn_user,
                              retrieval_dataset *out, semb_error *err);

#endif
