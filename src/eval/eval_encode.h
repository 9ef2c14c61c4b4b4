/* Embedding for the evaluators: texts with an optional prompt prepended, as the model outputs
 * them, then prepared for scoring under a similarity function (similarity_prepare). */
#ifndef SEMB_EVAL_EVAL_ENCODE_H
#define SEMB_EVAL_EVAL_ENCODE_H

#include <stddef.h>

#include "semb.h"

#define EVAL_DEFAULT_CHUNK 16384

/* The chunk size opts asks for (EVAL_DEFAULT_CHUNK when opts is NULL or says 0). */
size_t eval_chunk_size(const semb_eval_options *opts);

/* Writes the embeddings of texts[0..n) into out[n, dim]: prompt + text when prompt is not
 * NULL, with opts' batch size and precision (opts may be NULL: 32, fp32), then
 * similarity_prepare(sim). Errors are those of semb_encode (naming the text's index within
 * texts) or SEMB_ERR_NOMEM. */
semb_status eval_encode(semb_model *model, const char *const *texts, size_t n,
                        const char *prompt, const semb_eval_options *opts, semb_similarity sim,
                        float *out, semb_error *err);

#endif
