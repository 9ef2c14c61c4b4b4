#include "train/embedder.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

void embedder_free(embedder *e)
{
    if (!e)
        return;
    encoder_activations_free(&e->activations);
    packed_batch_buffers_free(&e->batch_buffers);
    free(e->pooled);
    free(e->d_tokens);
    memset(e, 0, sizeof *e);
}

static bool reserve(void **buf, size_t *capacity, size_t need, size_t elem)
{
    if (need <= *capacity)
        return true;
    void *p = realloc(*buf, need * elem);
    if (!p)
        return false;
    *buf = p;
    *capacity = need;
    return true;
}

semb_status embedder_forward(embedder *e, const semb_model *model, const int32_t *const *ids,
                             const int *counts, int n, const encoder_dropout *dropout,
                             float *embeddings, semb_error *err)
{
    semb_status st = packed_batch_build(&e->batch_buffers, ids, counts, NULL, n, &e->batch, err);
    if (st)
        return st;
    size_t total = (size_t)e->batch.total_tokens;
    size_t dim = (size_t)semb_model_dimension(model), H = (size_t)model->config.hidden_size;
    /* pooled and d_pooled share one allocation of 2 * n * dim floats */
    if (!reserve((void **)&e->pooled, &e->pooled_capacity, 2 * (size_t)n * dim, sizeof(float)) ||
        !reserve((void **)&e->d_tokens, &e->tokens_capacity, total * H, sizeof(float)))
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate a batch of %zu tokens", total);
    e->d_pooled = e->pooled + (size_t)n * dim;
    e->dropout = *dropout;
    st = encoder_forward_train(&model->config, &model->params, &e->batch, dropout,
                               &e->activations, err);
    if (st)
        return st;
    pooling_forward(&model->pooling, e->activations.output, e->batch.cu_seqlens, n, e->pooled);
    memcpy(embeddings, e->pooled, (size_t)n * dim * sizeof(float));
    if (model->normalize)
        normalize_forward(embeddings, n, (int)dim);
    return SEMB_OK;
}

semb_status embedder_backward(embedder *e, const semb_model *model, const float *d_embeddings,
                              encoder_params *grads, semb_error *err)
{
    int n = e->batch.n_seqs, dim = semb_model_dimension(model);
    size_t pooled = (size_t)n * (size_t)dim;
    if (model->normalize) {
        memset(e->d_pooled, 0, pooled * sizeof(float));
        normalize_backward(e->pooled, d_embeddings, e->d_pooled, n, dim);
    } else {
        memcpy(e->d_pooled, d_embeddings, pooled * sizeof(float));
    }
    size_t tokens = (size_t)e->batch.total_tokens * (size_t)model->config.hidden_size;
    memset(e->d_tokens, 0, tokens * sizeof(float));
    pooling_backward(&model->pooling, e->activations.output, e->batch.cu_seqlens, n, e->d_pooled,
                     e->d_tokens);
    return encoder_backward(&model->config, &model->params, &e->batch, &e->dropout,
                            &e->activations, e->d_tokens, grads, err);
}
