#include "eval/eval_encode.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/similarity.h"

size_t eval_chunk_size(const semb_eval_options *opts)
{
    return opts && opts->chunk_size ? opts->chunk_size : EVAL_DEFAULT_CHUNK;
}

/* texts with prompt in front, in one buffer: (*joined)[i] points into *storage. */
static semb_status join_prompt(const char *const *texts, size_t n, const char *prompt,
                               char ***joined, char **storage, semb_error *err)
{
    size_t prompt_length = strlen(prompt), total = 0;
    for (size_t i = 0; i < n; i++)
        total += prompt_length + strlen(texts[i]) + 1;
    *joined = malloc((n ? n : 1) * sizeof **joined);
    *storage = malloc(total ? total : 1);
    if (!*joined || !*storage) {
        free(*joined);
        free(*storage);
        *joined = NULL;
        *storage = NULL;
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate %zu prompted texts", n);
    }
    char *at = *storage;
    for (size_t i = 0; i < n; i++) {
        size_t length = strlen(texts[i]);
        (*joined)[i] = at;
        memcpy(at, prompt, prompt_length);
        memcpy(at + prompt_length, texts[i], length + 1);
        at += prompt_length + length + 1;
    }
    return SEMB_OK;
}

semb_status eval_encode(semb_model *model, const char *const *texts, size_t n,
                        const char *prompt, int batch_size, semb_similarity sim, float *out,
                        semb_error *err)
{
    semb_encode_options opts = {.batch_size = batch_size};
    char **joined = NULL, *storage = NULL;
    semb_status st = SEMB_OK;
    if (prompt && *prompt)
        st = join_prompt(texts, n, prompt, &joined, &storage, err);
    if (!st)
        st = semb_encode(model, joined ? (const char *const *)joined : texts, NULL, n, out,
                         &opts, err);
    if (!st)
        similarity_prepare(sim, out, n, semb_model_dimension(model));
    free(joined);
    free(storage);
    return st;
}
