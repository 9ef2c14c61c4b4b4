#include "eval/eval_encode.h"

#include "core/error.h"
#include "index/similarity.h"

size_t eval_chunk_size(const semb_eval_options *opts)
{
    return opts && opts->chunk_size ? opts->chunk_size : EVAL_DEFAULT_CHUNK;
}

semb_status eval_encode(semb_model *model, const char *const *texts, size_t n,
                        const char *prompt, int batch_size, semb_similarity sim, float *out,
                        semb_error *err)
{
    semb_encode_options opts = {.batch_size = batch_size, .prompt = prompt};
    semb_status st = semb_encode(model, texts, NULL, n, out, &opts, err);
    if (!st)
        similarity_prepare(sim, out, n, semb_model_dimension(model));
    return st;
}
