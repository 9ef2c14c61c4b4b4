#include "train/train_step.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "core/timer.h"

void train_step_state_free(train_step_state *s)
{
    if (!s)
        return;
    embedder_free(&s->embedder);
    encoder_bf16_weights_free(&s->bf16);
    free(s->embeddings);
    free(s->d_embeddings);
    memset(s, 0, sizeof *s);
}

static encoder_dropout chunk_dropout(const train_step_config *cfg, int chunk)
{
    return (encoder_dropout){cfg->hidden_dropout, cfg->attention_dropout,
                             rng_hash_u64(cfg->dropout_key, (uint64_t)chunk)};
}

semb_status train_step_gradients(train_step_state *s, const semb_model *model,
                                 const text_batch *batch, const train_step_config *cfg,
                                 encoder_params *grads, double *loss, semb_error *err)
{
    if (batch->batch < 1 || batch->n_negatives < 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "train step: batch %d with %d negatives",
                         batch->batch, batch->n_negatives);
    int n = (2 + batch->n_negatives) * batch->batch;
    size_t dim = (size_t)semb_model_dimension(model), need = (size_t)n * dim;
    if (need > s->capacity) {
        float *e = realloc(s->embeddings, need * sizeof(float));
        if (e)
            s->embeddings = e;
        float *d = realloc(s->d_embeddings, need * sizeof(float));
        if (d)
            s->d_embeddings = d;
        if (!e || !d)
            return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate embeddings for %d texts", n);
        s->capacity = need;
    }
    semb_status st = SEMB_OK;
    if (cfg->precision == SEMB_COMPUTE_BF16 &&
        (st = encoder_bf16_weights_refresh(&s->bf16, &model->config, &model->params, err)))
        return st;
    s->embedder.activations.bf16 = cfg->precision == SEMB_COMPUTE_BF16 ? &s->bf16 : NULL;
    int chunk = cfg->mini_batch_size > 0 && cfg->mini_batch_size < n ? cfg->mini_batch_size : n;
    int n_chunks = (n + chunk - 1) / chunk;
    train_step_timing *tm = &s->timing;
    double clock = timer_seconds(), now;
    /* Pass 1 (GradCache only): embeddings of every chunk; activations are overwritten by the
     * next chunk, which is the point. Without GradCache the single chunk's forward pass is
     * kept for the backward pass below. */
    for (int c = 0; c < n_chunks && !st; c++) {
        int first = c * chunk, count = first + chunk <= n ? chunk : n - first;
        encoder_dropout d = chunk_dropout(cfg, c);
        st = embedder_forward(&s->embedder, model, batch->ids + first, batch->counts + first,
                              count, &d, s->embeddings + (size_t)first * dim, err);
    }
    now = timer_seconds();
    *(n_chunks == 1 ? &tm->forward : &tm->first_pass) += now - clock;
    clock = now;
    if (st)
        return st;
    st = cfg->loss->compute(cfg->loss, s->embeddings, batch->batch, batch->n_negatives,
                            (int)dim, loss, s->d_embeddings, err);
    now = timer_seconds();
    tm->loss += now - clock;
    clock = now;
    if (st)
        return st;
    if (n_chunks == 1) {
        st = embedder_backward(&s->embedder, model, s->d_embeddings, grads, err);
        tm->backward += timer_seconds() - clock;
        return st;
    }
    /* Pass 2: re-run each chunk with its own dropout key (same masks), then backward with the
     * cached gradient of its embeddings. */
    float *scratch = malloc((size_t)chunk * dim * sizeof(float));
    if (!scratch)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    for (int c = 0; c < n_chunks && !st; c++) {
        int first = c * chunk, count = first + chunk <= n ? chunk : n - first;
        encoder_dropout d = chunk_dropout(cfg, c);
        st = embedder_forward(&s->embedder, model, batch->ids + first, batch->counts + first,
                              count, &d, scratch, err);
        now = timer_seconds();
        tm->forward += now - clock;
        clock = now;
        if (!st)
            st = embedder_backward(&s->embedder, model, s->d_embeddings + (size_t)first * dim,
                                   grads, err);
        now = timer_seconds();
        tm->backward += now - clock;
        clock = now;
    }
    free(scratch);
    return st;
}
