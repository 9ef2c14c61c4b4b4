#include "model/encoder.h"
#include "model/encoder_internal.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/gemm_int8.h"
#include "kernels/gemm_packed.h"
#include "kernels/kernel_path.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"
#include "kernels/matmul_bf16.h"
#include "model/encoder_bf16.h"

void encoder_workspace_free(encoder_workspace *ws)
{
    if (!ws)
        return;
    free(ws->hidden);
    free(ws->qkv);
    free(ws->context);
    free(ws->projected);
    free(ws->ffn);
    free(ws->position_bias);
    free(ws->packed.arena);
    encoder_int8_weights *q = &ws->int8_weights;
    for (int i = 0; q->weights && i < q->n_weights; i++)
        gemm_int8_weight_free(&q->weights[i]);
    free(q->weights);
    free(q->rows);
    free(q->row_scale);
    free(q->row_zero);
    memset(ws, 0, sizeof *ws);
}

static float *grow(float **buf, size_t floats)
{
    float *p = realloc(*buf, floats * sizeof(float));
    if (p)
        *buf = p;
    return p;
}

static semb_status workspace_reserve(encoder_workspace *ws, const encoder_config *cfg,
                                     size_t tokens, semb_error *err)
{
    if (tokens <= ws->token_capacity)
        return SEMB_OK;
    size_t H = (size_t)cfg->hidden_size, I = (size_t)cfg->intermediate_size;
    if (!grow(&ws->hidden, tokens * H) || !grow(&ws->qkv, tokens * 3 * H) ||
        !grow(&ws->context, tokens * H) || !grow(&ws->projected, tokens * H) ||
        !grow(&ws->ffn, tokens * I))
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate activations for %zu tokens",
                         tokens);
    ws->token_capacity = tokens;
    return SEMB_OK;
}

int mpnet_relative_position_bucket(int relative_position)
{
    /* transformers: num_buckets 32 halved per direction, max_exact 8, max_distance 128.
     * The log is taken in float32 there, so it is here too: bucket edges must agree. */
    const int half = 16, max_exact = 8;
    int n = -relative_position;
    int bucket = n < 0 ? half : 0;
    n = abs(n);
    if (n < max_exact)
        return bucket + n;
    float scaled = logf((float)n / (float)max_exact) / (float)log(128.0 / max_exact) *
                   (float)(half - max_exact);
    int large = max_exact + (int)scaled;
    return bucket + (large < half - 1 ? large : half - 1);
}

void encoder_fill_position_bias(const encoder_config *cfg, const encoder_params *params,
                                int max_len, float *out)
{
    size_t span = 2 * (size_t)max_len - 1;
    for (int d = -(max_len - 1); d <= max_len - 1; d++) {
        int bucket = mpnet_relative_position_bucket(d);
        for (int h = 0; h < cfg->num_heads; h++)
            out[(size_t)h * span + (size_t)(d + max_len - 1)] =
                params->relative_attention_bias[(size_t)bucket * (size_t)cfg->num_heads + (size_t)h];
    }
}

static semb_status build_position_bias(const encoder_config *cfg, const encoder_params *params,
                                       int max_len, encoder_workspace *ws, semb_error *err)
{
    size_t need = (2 * (size_t)max_len - 1) * (size_t)cfg->num_heads;
    if (need > ws->position_bias_capacity) {
        if (!grow(&ws->position_bias, need))
            return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate the position bias");
        ws->position_bias_capacity = need;
    }
    encoder_fill_position_bias(cfg, params, max_len, ws->position_bias);
    return SEMB_OK;
}

/* Word + position (+ token type 0 for BERT) embeddings; LayerNorm is applied by the caller.
 * The additions happen in the order transformers does them, for identical rounding. */
void encoder_embeddings_sum(const encoder_config *cfg, const encoder_params *params,
                               const packed_batch *batch, float *out)
{
    int H = cfg->hidden_size;
    int position_offset = cfg->arch == ENCODER_MPNET ? cfg->pad_token_id + 1 : 0;
#pragma omp parallel for schedule(static) if (batch->total_tokens > 64)
    for (int s = 0; s < batch->n_seqs; s++) {
        for (int t = batch->cu_seqlens[s]; t < batch->cu_seqlens[s + 1]; t++) {
            int position = t - batch->cu_seqlens[s] + position_offset;
            const float *word = params->word_embeddings + (size_t)batch->ids[t] * (size_t)H;
            const float *pos = params->position_embeddings + (size_t)position * (size_t)H;
            float *x = out + (size_t)t * (size_t)H;
            if (cfg->arch == ENCODER_BERT) {
                const float *type = params->token_type_embeddings;
                for (int i = 0; i < H; i++)
                    x[i] = (word[i] + type[i]) + pos[i];
            } else {
                for (int i = 0; i < H; i++)
                    x[i] = word[i] + pos[i];
            }
        }
    }
}

semb_status encoder_validate_batch(const encoder_config *cfg, const packed_batch *batch,
                                  semb_error *err)
{
    int limit = encoder_config_position_limit(cfg);
    if (batch->n_seqs <= 0 || batch->cu_seqlens[0] != 0 ||
        batch->cu_seqlens[batch->n_seqs] != batch->total_tokens)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "malformed packed batch offsets");
    for (int s = 0; s < batch->n_seqs; s++) {
        int len = batch->cu_seqlens[s + 1] - batch->cu_seqlens[s];
        if (len <= 0 || len > limit || len > batch->max_len)
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "sequence %d has %d tokens (allowed 1 .. %d)", s, len,
                             limit < batch->max_len ? limit : batch->max_len);
    }
    for (int t = 0; t < batch->total_tokens; t++)
        if (batch->ids[t] < 0 || batch->ids[t] >= cfg->vocab_size)
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "token id %d is outside the model's vocabulary of %d",
                             (int)batch->ids[t], cfg->vocab_size);
    return SEMB_OK;
}

/* The four matrices of layer l inside the packed arena: qkv, out, ffn_in, ffn_out. */
typedef struct packed_layer {
    const float *qkv, *out, *ffn_in, *ffn_out;
} packed_layer;

static size_t packed_layer_floats(const encoder_config *cfg)
{
    int H = cfg->hidden_size, I = cfg->intermediate_size;
    return gemm_packed_floats(3 * H, H) + gemm_packed_floats(H, H) + gemm_packed_floats(I, H) +
           gemm_packed_floats(H, I);
}

static packed_layer packed_layer_at(const encoder_config *cfg, const float *arena, int l)
{
    int H = cfg->hidden_size, I = cfg->intermediate_size;
    packed_layer p;
    p.qkv = arena + (size_t)l * packed_layer_floats(cfg);
    p.out = p.qkv + gemm_packed_floats(3 * H, H);
    p.ffn_in = p.out + gemm_packed_floats(H, H);
    p.ffn_out = p.ffn_in + gemm_packed_floats(I, H);
    return p;
}

static semb_status ensure_packed(const encoder_config *cfg, const encoder_params *params,
                                 encoder_packed_weights *pw, semb_error *err)
{
    if (pw->arena && pw->version == params->version)
        return SEMB_OK;
    size_t floats = packed_layer_floats(cfg) * (size_t)cfg->num_layers;
    if (!pw->arena || pw->floats != floats) {
        free(pw->arena);
        pw->arena = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        pw->floats = pw->arena ? floats : 0;
        if (!pw->arena)
            return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate %zu MB of packed weights",
                             floats * sizeof(float) >> 20);
    }
    int H = cfg->hidden_size, I = cfg->intermediate_size;
    for (int l = 0; l < cfg->num_layers; l++) {
        const layer_params *lp = &params->layers[l];
        packed_layer p = packed_layer_at(cfg, pw->arena, l);
        gemm_pack_weight((float *)p.qkv, lp->qkv_weight, 3 * H, H);
        gemm_pack_weight((float *)p.out, lp->out_weight, H, H);
        gemm_pack_weight((float *)p.ffn_in, lp->ffn_in_weight, I, H);
        gemm_pack_weight((float *)p.ffn_out, lp->ffn_out_weight, H, I);
    }
    pw->version = params->version;
    return SEMB_OK;
}

/* Quantizes the layers' weights for gemm_int8 unless they are current, and sizes the
 * quantized input rows for `tokens` rows. */
static semb_status ensure_int8(const encoder_config *cfg, const encoder_params *params,
                               size_t tokens, encoder_int8_weights *q, semb_error *err)
{
    int H = cfg->hidden_size, I = cfg->intermediate_size, L = cfg->num_layers;
    size_t row_bytes = (size_t)gemm_int8_row_bytes(I > H ? I : H);
    if (tokens > q->row_capacity || row_bytes > q->row_bytes) {
        size_t rows = tokens > q->row_capacity ? tokens : q->row_capacity;
        uint8_t *r = realloc(q->rows, rows * row_bytes);
        if (r)
            q->rows = r;
        float *s = realloc(q->row_scale, rows * sizeof *s);
        if (s)
            q->row_scale = s;
        int32_t *z = realloc(q->row_zero, rows * sizeof *z);
        if (z)
            q->row_zero = z;
        if (!r || !s || !z)
            return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate int8 inputs for %zu tokens",
                             tokens);
        q->row_capacity = rows;
        q->row_bytes = row_bytes;
    }
    if (q->weights && q->version == params->version)
        return SEMB_OK;
    if (!q->weights) {
        q->weights = calloc(L > 0 ? 4 * (size_t)L : 1, sizeof *q->weights);
        if (!q->weights)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        q->n_weights = 4 * L;
    }
    semb_status st = SEMB_OK;
    for (int l = 0; l < L && !st; l++) {
        const layer_params *lp = &params->layers[l];
        const float *W[4] = {lp->qkv_weight, lp->out_weight, lp->ffn_in_weight, lp->ffn_out_weight};
        const int N[4] = {3 * H, H, I, H}, K[4] = {H, H, H, I};
        for (int m = 0; m < 4 && !st; m++) {
            gemm_int8_weight_free(&q->weights[4 * l + m]);
            if ((st = gemm_int8_quantize_weight(&q->weights[4 * l + m], W[m], N[m], K[m], err)))
                semb_fail_prefix(err, "layer %d: ", l);
        }
    }
    if (st) { /* nothing half-made is kept: the next call starts over */
        for (int i = 0; i < q->n_weights; i++)
            gemm_int8_weight_free(&q->weights[i]);
        free(q->weights);
        q->weights = NULL;
        return st;
    }
    q->version = params->version;
    return SEMB_OK;
}

/* Where one linear map's weights come from: packed for gemm_packed (bias and activation
 * fused into the product), int8 (gemm_int8, the same fusions, inputs quantized first), bf16
 * copies (linear_forward_bf16), or none of them (linear_forward). */
typedef struct linear_source {
    const float *packed;
    const gemm_int8_weight *int8;
    encoder_int8_weights *int8_rows; /* with int8: where the inputs are quantized */
    const uint16_t *bf16;
} linear_source;

static semb_status layer_linear(linear_source src, bool activate, const encoder_config *cfg,
                                float *out, const float *inp, const float *weight,
                                const float *bias, int M, int K, int N, semb_error *err)
{
    gemm_epilogue epilogue = activate ? gemm_epilogue_for(cfg->activation) : GEMM_EPILOGUE_NONE;
    if (src.int8) {
        encoder_int8_weights *q = src.int8_rows;
        gemm_int8_quantize_rows(q->rows, q->row_scale, q->row_zero, inp, K, M, K);
        gemm_int8(out, N, q->rows, q->row_scale, q->row_zero, src.int8, M, bias, epilogue);
        return SEMB_OK;
    }
    if (src.packed) {
        gemm_packed(out, N, inp, K, src.packed, M, N, K, bias, epilogue, false);
        return SEMB_OK;
    }
    if (src.bf16) {
        semb_status st = linear_forward_bf16(out, inp, src.bf16, bias, M, K, N, err);
        if (st)
            return st;
    } else {
        linear_forward(out, inp, weight, bias, M, K, N);
    }
    if (activate)
        activation_forward(cfg->activation, out, out, (size_t)M * (size_t)N);
    return SEMB_OK;
}

/* One layer on ws->hidden in place. packed, int8 (this layer's four quantized weights) or
 * bf16 (at most one) choose the linear maps' weights; none: the float32 masters through
 * linear_forward. */
static semb_status layer_forward(const encoder_config *cfg, const layer_params *lp,
                                 const packed_layer *packed, const gemm_int8_weight *int8,
                                 const layer_bf16_weights *bf16, const packed_batch *batch,
                                 encoder_workspace *ws, const float *position_bias,
                                 semb_error *err)
{
    int T = batch->total_tokens, H = cfg->hidden_size, I = cfg->intermediate_size;
    int heads = cfg->num_heads, head_dim = H / heads;
    float eps = cfg->layer_norm_eps;
    encoder_int8_weights *rows = &ws->int8_weights;
    linear_source qkv = {packed ? packed->qkv : NULL, int8 ? &int8[0] : NULL, rows,
                         bf16 ? bf16->qkv : NULL};
    linear_source out = {packed ? packed->out : NULL, int8 ? &int8[1] : NULL, rows,
                         bf16 ? bf16->out : NULL};
    linear_source ffn_in = {packed ? packed->ffn_in : NULL, int8 ? &int8[2] : NULL, rows,
                            bf16 ? bf16->ffn_in : NULL};
    linear_source ffn_out = {packed ? packed->ffn_out : NULL, int8 ? &int8[3] : NULL, rows,
                             bf16 ? bf16->ffn_out : NULL};
    semb_status st = layer_linear(qkv, false, cfg, ws->qkv, ws->hidden, lp->qkv_weight,
                                  lp->qkv_bias, T, H, 3 * H, err);
    if (st)
        return st;
    if (attention_forward(ws->context, NULL, ws->qkv, ws->qkv + H, ws->qkv + 2 * H, 3 * H,
                          batch->cu_seqlens, batch->n_seqs, heads, head_dim,
                          1.0f / sqrtf((float)head_dim), position_bias, batch->max_len))
        return semb_fail(err, SEMB_ERR_NOMEM, "attention: out of memory");
    if ((st = layer_linear(out, false, cfg, ws->projected, ws->context, lp->out_weight,
                           lp->out_bias, T, H, H, err)))
        return st;
    add_layernorm_forward(ws->hidden, NULL, NULL, ws->projected, ws->hidden, lp->attn_norm_weight,
                          lp->attn_norm_bias, T, H, eps);
    if ((st = layer_linear(ffn_in, true, cfg, ws->ffn, ws->hidden, lp->ffn_in_weight,
                           lp->ffn_in_bias, T, H, I, err)) ||
        (st = layer_linear(ffn_out, false, cfg, ws->projected, ws->ffn, lp->ffn_out_weight,
                           lp->ffn_out_bias, T, I, H, err)))
        return st;
    add_layernorm_forward(ws->hidden, NULL, NULL, ws->projected, ws->hidden, lp->ffn_norm_weight,
                          lp->ffn_norm_bias, T, H, eps);
    return SEMB_OK;
}

semb_status encoder_forward(const encoder_config *cfg, const encoder_params *params,
                            const packed_batch *batch, encoder_linear_mode mode,
                            encoder_workspace *ws, float **hidden, semb_error *err)
{
    semb_status st = encoder_validate_batch(cfg, batch, err);
    if (st || (st = workspace_reserve(ws, cfg, (size_t)batch->total_tokens, err)))
        return st;
    const float *position_bias = NULL;
    if (cfg->arch == ENCODER_MPNET) {
        if ((st = build_position_bias(cfg, params, batch->max_len, ws, err)))
            return st;
        position_bias = ws->position_bias;
    }
    encoder_embeddings_sum(cfg, params, batch, ws->hidden);
    layernorm_forward(ws->hidden, NULL, NULL, ws->hidden, params->embedding_norm_weight,
                      params->embedding_norm_bias, batch->total_tokens, cfg->hidden_size,
                      cfg->layer_norm_eps);
    bool int8 = mode.int8 && !mode.bf16;
    bool use_packed = !mode.bf16 && !int8 && kernel_path_best() == KERNEL_PATH_AVX2;
    if (use_packed && (st = ensure_packed(cfg, params, &ws->packed, err)))
        return st;
    if (int8 && (st = ensure_int8(cfg, params, (size_t)batch->total_tokens, &ws->int8_weights, err)))
        return st;
    for (int l = 0; l < cfg->num_layers; l++) {
        packed_layer p = use_packed ? packed_layer_at(cfg, ws->packed.arena, l) : (packed_layer){0};
        const gemm_int8_weight *q = int8 ? &ws->int8_weights.weights[4 * l] : NULL;
        const layer_bf16_weights *bf16 = mode.bf16 ? &mode.bf16->layers[l] : NULL;
        if ((st = layer_forward(cfg, &params->layers[l], use_packed ? &p : NULL, q, bf16, batch,
                                ws, position_bias, err)))
            return st;
    }
    *hidden = ws->hidden;
    return SEMB_OK;
}
