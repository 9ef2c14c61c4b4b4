#include "eval/eval_encode.h"

#include "core/error.h"
#include "model/similarity.h"

semb_eval_options semb_eval_options_default(void)
{
    semb_encode_options encode = semb_encode_options_default();
    return (semb_eval_options){.batch_size = encode.batch_size, .chunk_size = EVAL_DEFAULT_CHUNK,
                               .precision = encode.precision};
}

size_t eval_chunk_size(const semb_eval_options *opts)
{
    return opts && opts->chunk_size ? opts->chunk_size : EVAL_DEFAULT_CHUNK;
}

semb_status eval_encode(semb_model *model, const char *const *texts, size_t n,
                        const char *prompt, const semb_eval_options *opts, semb_similarity sim,
                        float *out, semb_error *err)
{
    semb_encode_options encode = semb_encode_options_default();
    encode.prompt = prompt;
    if (opts) {
        encode.batch_size = opts->batch_size;
        encode.precision = opts->precision;
    }
    semb_status st = semb_encode(model, texts, NULL, n, out, &encode, err);
    if (!st)
        similarity_prepare(sim, out, n, semb_model_dimension(model));
    return st;
}
