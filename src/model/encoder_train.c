#include "model/encoder_train.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/dropout.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/matmul_bf16.h"
#include "model/encoder_bf16.h"
#include "model/encoder_internal.h"

/* Dropout sites within a layer; the embeddings use layer index -1. */
enum { SITE_EMBEDDINGS, SITE_ATTENTION_PROBS, SITE_ATTENTION_OUTPUT, SITE_FFN_OUTPUT };

static dropout_spec site_dropout(const encoder_dropout *d, int layer, int site)
{
    float p = site == SITE_ATTENTION_PROBS ? d->attention : d->hidden;
    uint64_t key = d->key ^ (0x9e3779b97f4a7c15ULL * (uint64_t)(4 * (layer + 1) + site + 1));
    return (dropout_spec){p, rng_hash_u64(key, 0x5eed)};
}

void encoder_activations_free(encoder_activations *a)
{
    if (!a)
        return;
    free(a->arena);
    free(a->layers);
    memset(a, 0, sizeof *a);
}

static size_t probs_floats(const packed_batch *b, int heads)
{
    size_t n = 0;
    for (int s = 0; s < b->n_seqs; s++) {
        size_t len = (size_t)(b->cu_seqlens[s + 1] - b->cu_seqlens[s]);
        n += len * len;
    }
    return n * (size_t)heads;
}

/* Carves every buffer out of one arena sized for this batch. */
static semb_status activations_reserve(const encoder_config *cfg, const packed_batch *b,
                                       encoder_activations *a, semb_error *err)
{
    size_t T = (size_t)b->total_tokens, H = (size_t)cfg->hidden_size;
    size_t I = (size_t)cfg->intermediate_size, L = (size_t)cfg->num_layers;
    size_t P = probs_floats(b, cfg->num_heads);
    size_t bias = cfg->arch == ENCODER_MPNET ? (2 * (size_t)b->max_len - 1) * (size_t)cfg->num_heads : 0;
    size_t per_layer = T * (H + 3 * H + H + H + H + I + I + H) + 4 * T + P;
    size_t total = T * H + 2 * T + L * per_layer + T * H + bias +
                   /* backward scratch */ T * H * 4 + T * 3 * H + 2 * T * I + bias;
    if (total > a->arena_floats) {
        free(a->arena);
        a->arena = malloc(total * sizeof(float));
        if (!a->arena) {
            a->arena_floats = 0;
            return semb_fail(err, SEMB_ERR_NOMEM,
                             "cannot allocate %.1f MB of training activations for %zu tokens",
                             (double)total * 4 / 1e6, T);
        }
        a->arena_floats = total;
    }
    if (!a->layers) {
        a->layers = calloc(L ? L : 1, sizeof *a->layers);
        if (!a->layers)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    float *p = a->arena;
#define TAKE(n) (p += (n), p - (n))
    a->embed_sum = TAKE(T * H);
    a->embed_mean = TAKE(T);
    a->embed_rstd = TAKE(T);
    for (size_t l = 0; l < L; l++) {
        layer_activations *la = &a->layers[l];
        la->input = TAKE(T * H);
        la->qkv = TAKE(3 * T * H);
        la->probs = TAKE(P);
        la->context = TAKE(T * H);
        la->attn_sum = TAKE(T * H);
        la->attn_mean = TAKE(T);
        la->attn_rstd = TAKE(T);
        la->attn_out = TAKE(T * H);
        la->ffn_pre = TAKE(T * I);
        la->ffn_act = TAKE(T * I);
        la->ffn_sum = TAKE(T * H);
        la->ffn_mean = TAKE(T);
        la->ffn_rstd = TAKE(T);
    }
    a->output = TAKE(T * H);
    a->position_bias = bias ? TAKE(bias) : NULL;
    a->d_hidden = TAKE(T * H);
    a->d_next = TAKE(T * H);
    a->d_context = TAKE(T * H);
    a->d_sum = TAKE(T * H);
    a->d_qkv = TAKE(3 * T * H);
    a->d_ffn = TAKE(T * I);
    a->d_ffn_pre = TAKE(T * I);
    a->d_position_bias = bias ? TAKE(bias) : NULL;
#undef TAKE
    a->total_tokens = b->total_tokens;
    a->position_bias_len = b->max_len;
    return SEMB_OK;
}

/* linear_forward, or its bf16 form when the pass has a bf16 copy of the weight. */
static semb_status linear(float *out, const float *inp, const float *weight,
                          const uint16_t *weight_bf16, const float *bias, int M, int K, int N,
                          semb_error *err)
{
    if (weight_bf16)
        return linear_forward_bf16(out, inp, weight_bf16, bias, M, K, N, err);
    linear_forward(out, inp, weight, bias, M, K, N);
    return SEMB_OK;
}

/* linear_backward, or its bf16 form with the copy the forward pass used. */
static semb_status linear_grad(float *d_inp, float *d_weight, float *d_bias, const float *d_out,
                               const float *inp, const float *weight,
                               const uint16_t *weight_bf16, int M, int K, int N, semb_error *err)
{
    if (weight_bf16)
        return linear_backward_bf16(d_inp, d_weight, d_bias, d_out, inp, weight_bf16, M, K, N, err);
    linear_backward(d_inp, d_weight, d_bias, d_out, inp, weight, M, K, N);
    return SEMB_OK;
}

/* Layer l's bf16 weight copies, or all NULL for a float32 pass. */
static layer_bf16_weights layer_bf16(const encoder_activations *a, int l)
{
    return a->bf16 ? a->bf16->layers[l] : (layer_bf16_weights){0};
}

static semb_status layer_forward_train(const encoder_config *cfg, const layer_params *lp, int l,
                                       const packed_batch *b, const encoder_dropout *dropout,
                                       layer_activations *la, layer_bf16_weights w16, float *out,
                                       const float *position_bias, semb_error *err)
{
    int T = b->total_tokens, H = cfg->hidden_size, I = cfg->intermediate_size;
    int heads = cfg->num_heads, head_dim = H / heads;
    size_t TH = (size_t)T * (size_t)H;
    float eps = cfg->layer_norm_eps;
    semb_status st = linear(la->qkv, la->input, lp->qkv_weight, w16.qkv, lp->qkv_bias, T, H,
                            3 * H, err);
    if (st)
        return st;
    st = attention_forward_train(
        la->context, la->probs, la->qkv, la->qkv + H, la->qkv + 2 * H, 3 * H, b->cu_seqlens,
        b->n_seqs, heads, head_dim, 1.0f / sqrtf((float)head_dim), position_bias, b->max_len,
        site_dropout(dropout, l, SITE_ATTENTION_PROBS));
    if (st)
        return semb_fail(err, st, "attention: cannot run layer %d", l);
    /* attn_sum = dropout(context · Wo + bo) + input; DistilBERT has no dropout there. */
    if ((st = linear(la->attn_sum, la->context, lp->out_weight, w16.out, lp->out_bias, T, H, H,
                     err)))
        return st;
    if (cfg->arch != ENCODER_DISTILBERT)
        dropout_forward(la->attn_sum, la->attn_sum, TH, site_dropout(dropout, l, SITE_ATTENTION_OUTPUT));
    for (size_t i = 0; i < TH; i++)
        la->attn_sum[i] += la->input[i];
    layernorm_forward(la->attn_out, la->attn_mean, la->attn_rstd, la->attn_sum,
                      lp->attn_norm_weight, lp->attn_norm_bias, T, H, eps);
    if ((st = linear(la->ffn_pre, la->attn_out, lp->ffn_in_weight, w16.ffn_in, lp->ffn_in_bias,
                     T, H, I, err)))
        return st;
    activation_forward(cfg->activation, la->ffn_act, la->ffn_pre, (size_t)T * (size_t)I);
    if ((st = linear(la->ffn_sum, la->ffn_act, lp->ffn_out_weight, w16.ffn_out,
                     lp->ffn_out_bias, T, I, H, err)))
        return st;
    dropout_forward(la->ffn_sum, la->ffn_sum, TH, site_dropout(dropout, l, SITE_FFN_OUTPUT));
    for (size_t i = 0; i < TH; i++)
        la->ffn_sum[i] += la->attn_out[i];
    layernorm_forward(out, la->ffn_mean, la->ffn_rstd, la->ffn_sum, lp->ffn_norm_weight,
                      lp->ffn_norm_bias, T, H, eps);
    return SEMB_OK;
}

semb_status encoder_forward_train(const encoder_config *cfg, const encoder_params *params,
                                  const packed_batch *batch, const encoder_dropout *dropout,
                                  encoder_activations *a, semb_error *err)
{
    semb_status st = encoder_validate_batch(cfg, batch, err);
    if (st || (st = activations_reserve(cfg, batch, a, err)))
        return st;
    int T = batch->total_tokens, H = cfg->hidden_size;
    if (a->position_bias)
        encoder_fill_position_bias(cfg, params, batch->max_len, a->position_bias);
    encoder_embeddings_sum(cfg, params, batch, a->embed_sum);
    float *first_input = cfg->num_layers ? a->layers[0].input : a->output;
    layernorm_forward(first_input, a->embed_mean, a->embed_rstd, a->embed_sum,
                      params->embedding_norm_weight, params->embedding_norm_bias, T, H,
                      cfg->layer_norm_eps);
    dropout_forward(first_input, first_input, (size_t)T * (size_t)H,
                    site_dropout(dropout, -1, SITE_EMBEDDINGS));
    for (int l = 0; l < cfg->num_layers; l++) {
        float *out = l + 1 < cfg->num_layers ? a->layers[l + 1].input : a->output;
        st = layer_forward_train(cfg, &params->layers[l], l, batch, dropout, &a->layers[l],
                                 layer_bf16(a, l), out, a->position_bias, err);
        if (st)
            return st;
    }
    return SEMB_OK;
}

/* d_out: gradient w.r.t. this layer's output (consumed). On return d_in holds the gradient
 * w.r.t. the layer's input (overwritten, not accumulated). */
static semb_status layer_backward(const encoder_config *cfg, const layer_params *lp,
                                  layer_params *gp, int l, const packed_batch *b,
                                  const encoder_dropout *dropout, const layer_activations *la,
                                  encoder_activations *a, const float *d_out, float *d_in,
                                  float *d_position_bias, semb_error *err)
{
    layer_bf16_weights w16 = layer_bf16(a, l);
    int T = b->total_tokens, H = cfg->hidden_size, I = cfg->intermediate_size;
    int heads = cfg->num_heads, head_dim = H / heads;
    size_t TH = (size_t)T * (size_t)H;
    /* output LayerNorm: d_sum = dLN2; the residual sends it to attn_out as well */
    memset(a->d_sum, 0, TH * sizeof(float));
    layernorm_backward(a->d_sum, gp->ffn_norm_weight, gp->ffn_norm_bias, d_out, la->ffn_sum,
                       lp->ffn_norm_weight, la->ffn_mean, la->ffn_rstd, T, H);
    float *d_attn_out = a->d_context; /* reused: d_context is not needed until later */
    memcpy(d_attn_out, a->d_sum, TH * sizeof(float));
    /* through the FFN output dropout into the second linear, in place on d_sum */
    memset(a->d_next, 0, TH * sizeof(float));
    dropout_backward(a->d_next, a->d_sum, TH, site_dropout(dropout, l, SITE_FFN_OUTPUT));
    size_t TI = (size_t)T * (size_t)I;
    memset(a->d_ffn, 0, TI * sizeof(float));
    semb_status st = linear_grad(a->d_ffn, gp->ffn_out_weight, gp->ffn_out_bias, a->d_next,
                                 la->ffn_act, lp->ffn_out_weight, w16.ffn_out, T, I, H, err);
    if (st)
        return st;
    memset(a->d_ffn_pre, 0, TI * sizeof(float));
    activation_backward(cfg->activation, a->d_ffn_pre, la->ffn_pre, a->d_ffn, TI);
    if ((st = linear_grad(d_attn_out, gp->ffn_in_weight, gp->ffn_in_bias, a->d_ffn_pre,
                          la->attn_out, lp->ffn_in_weight, w16.ffn_in, T, H, I, err)))
        return st;
    /* attention LayerNorm; the residual sends its gradient straight to the layer input */
    memset(a->d_sum, 0, TH * sizeof(float));
    layernorm_backward(a->d_sum, gp->attn_norm_weight, gp->attn_norm_bias, d_attn_out,
                       la->attn_sum, lp->attn_norm_weight, la->attn_mean, la->attn_rstd, T, H);
    memcpy(d_in, a->d_sum, TH * sizeof(float));
    memset(a->d_next, 0, TH * sizeof(float));
    if (cfg->arch != ENCODER_DISTILBERT)
        dropout_backward(a->d_next, a->d_sum, TH, site_dropout(dropout, l, SITE_ATTENTION_OUTPUT));
    else
        memcpy(a->d_next, a->d_sum, TH * sizeof(float));
    memset(a->d_context, 0, TH * sizeof(float));
    if ((st = linear_grad(a->d_context, gp->out_weight, gp->out_bias, a->d_next, la->context,
                          lp->out_weight, w16.out, T, H, H, err)))
        return st;
    memset(a->d_qkv, 0, 3 * TH * sizeof(float));
    st = attention_backward(
        a->d_qkv, a->d_qkv + H, a->d_qkv + 2 * H, d_position_bias, a->d_context, la->qkv,
        la->qkv + H, la->qkv + 2 * H, 3 * H, la->probs, b->cu_seqlens, b->n_seqs, heads, head_dim,
        1.0f / sqrtf((float)head_dim), b->max_len, site_dropout(dropout, l, SITE_ATTENTION_PROBS));
    if (st)
        return semb_fail(err, st, "attention backward failed in layer %d", l);
    return linear_grad(d_in, gp->qkv_weight, gp->qkv_bias, a->d_qkv, la->input, lp->qkv_weight,
                       w16.qkv, T, H, 3 * H, err);
}

/* Scatter-add of the embedding gradient into the tables. Parallel over hidden columns, so
 * repeated token ids never race and the sum order is fixed. */
static void embeddings_backward(const encoder_config *cfg, const packed_batch *b,
                                const float *d_sum, encoder_params *grads)
{
    int H = cfg->hidden_size;
    int position_offset = cfg->arch == ENCODER_MPNET ? cfg->pad_token_id + 1 : 0;
#pragma omp parallel for schedule(static)
    for (int i = 0; i < H; i++) {
        for (int s = 0; s < b->n_seqs; s++)
            for (int t = b->cu_seqlens[s]; t < b->cu_seqlens[s + 1]; t++) {
                float g = d_sum[(size_t)t * (size_t)H + (size_t)i];
                size_t position = (size_t)(t - b->cu_seqlens[s] + position_offset);
                /* torch's nn.Embedding(padding_idx=pad_token_id): the padding row gets no
                 * gradient, even where a text holds the pad token itself */
                if (b->ids[t] != cfg->pad_token_id)
                    grads->word_embeddings[(size_t)b->ids[t] * (size_t)H + (size_t)i] += g;
                grads->position_embeddings[position * (size_t)H + (size_t)i] += g;
                if (cfg->arch == ENCODER_BERT)
                    grads->token_type_embeddings[i] += g;
            }
    }
}

/* MPNet: the bias gradient by distance goes back to the bucket table rows. */
static void position_bias_backward(const encoder_config *cfg, int max_len, const float *d_bias,
                                   encoder_params *grads)
{
    size_t span = 2 * (size_t)max_len - 1;
    for (int d = -(max_len - 1); d <= max_len - 1; d++) {
        int bucket = mpnet_relative_position_bucket(d);
        for (int h = 0; h < cfg->num_heads; h++)
            grads->relative_attention_bias[(size_t)bucket * (size_t)cfg->num_heads + (size_t)h] +=
                d_bias[(size_t)h * span + (size_t)(d + max_len - 1)];
    }
}

semb_status encoder_backward(const encoder_config *cfg, const encoder_params *params,
                             const packed_batch *batch, const encoder_dropout *dropout,
                             encoder_activations *a, float *d_output, encoder_params *grads,
                             semb_error *err)
{
    if (a->total_tokens != batch->total_tokens)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "encoder_backward: activations are for %d tokens, the batch has %d",
                         a->total_tokens, batch->total_tokens);
    int T = batch->total_tokens, H = cfg->hidden_size;
    size_t TH = (size_t)T * (size_t)H;
    if (a->d_position_bias)
        memset(a->d_position_bias, 0,
               (2 * (size_t)batch->max_len - 1) * (size_t)cfg->num_heads * sizeof(float));
    float *d_out = d_output, *d_in = a->d_hidden;
    for (int l = cfg->num_layers - 1; l >= 0; l--) {
        semb_status st = layer_backward(cfg, &params->layers[l], &grads->layers[l], l, batch,
                                        dropout, &a->layers[l], a, d_out, d_in,
                                        a->d_position_bias, err);
        if (st)
            return st;
        float *t = d_out;
        d_out = d_in;
        d_in = t;
    }
    /* d_out now holds the gradient w.r.t. the dropped-out embedding LayerNorm output. */
    memset(d_in, 0, TH * sizeof(float));
    dropout_backward(d_in, d_out, TH, site_dropout(dropout, -1, SITE_EMBEDDINGS));
    memset(d_out, 0, TH * sizeof(float));
    layernorm_backward(d_out, grads->embedding_norm_weight, grads->embedding_norm_bias, d_in,
                       a->embed_sum, params->embedding_norm_weight, a->embed_mean, a->embed_rstd,
                       T, H);
    embeddings_backward(cfg, batch, d_out, grads);
    if (a->d_position_bias)
        position_bias_backward(cfg, batch->max_len, a->d_position_bias, grads);
    return SEMB_OK;
}
