#include "model/encoder_bf16.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/bf16.h"

void encoder_bf16_weights_free(encoder_bf16_weights *w)
{
    if (!w)
        return;
    free(w->arena);
    free(w->layers);
    memset(w, 0, sizeof *w);
}

/* Blocks of this many values are rounded per thread: the copies are made every step. */
enum { ROUND_BLOCK = 1 << 14 };

static void round_parallel(uint16_t *out, const float *in, size_t n)
{
    long blocks = (long)((n + ROUND_BLOCK - 1) / ROUND_BLOCK);
#pragma omp parallel for schedule(static) if (blocks > 1)
    for (long b = 0; b < blocks; b++) {
        size_t begin = (size_t)b * ROUND_BLOCK, count = n - begin < ROUND_BLOCK ? n - begin : ROUND_BLOCK;
        bf16_from_floats(out + begin, in + begin, count);
    }
}

semb_status encoder_bf16_weights_refresh(encoder_bf16_weights *w, const encoder_config *cfg,
                                         const encoder_params *params, semb_error *err)
{
    size_t H = (size_t)cfg->hidden_size, I = (size_t)cfg->intermediate_size;
    size_t per_layer = 3 * H * H + H * H + 2 * H * I, need = per_layer * (size_t)cfg->num_layers;
    if (need > w->capacity || w->n_layers != cfg->num_layers) {
        encoder_bf16_weights_free(w);
        w->arena = malloc((need ? need : 1) * sizeof *w->arena);
        w->layers = calloc(cfg->num_layers ? (size_t)cfg->num_layers : 1, sizeof *w->layers);
        if (!w->arena || !w->layers) {
            encoder_bf16_weights_free(w);
            return semb_fail(err, SEMB_ERR_NOMEM,
                             "cannot allocate %.1f MB of bf16 weight copies", (double)need * 2 / 1e6);
        }
        w->capacity = need;
        w->n_layers = cfg->num_layers;
    }
    uint16_t *p = w->arena;
    for (int l = 0; l < cfg->num_layers; l++) {
        const layer_params *lp = &params->layers[l];
        layer_bf16_weights *lw = &w->layers[l];
        const float *masters[4] = {lp->qkv_weight, lp->out_weight, lp->ffn_in_weight,
                                   lp->ffn_out_weight};
        uint16_t **copies[4] = {&lw->qkv, &lw->out, &lw->ffn_in, &lw->ffn_out};
        size_t sizes[4] = {3 * H * H, H * H, H * I, I * H};
        for (int k = 0; k < 4; k++) {
            *copies[k] = p;
            round_parallel(p, masters[k], sizes[k]);
            p += sizes[k];
        }
    }
    w->version = params->version;
    return SEMB_OK;
}

const char *semb_compute_precision_name(semb_compute_precision precision)
{
    switch (precision) {
    case SEMB_COMPUTE_FP32: return "fp32";
    case SEMB_COMPUTE_BF16: return "bf16";
    case SEMB_COMPUTE_INT8: return "int8";
    }
    return "?";
}

semb_status semb_compute_precision_from_name(const char *name, semb_compute_precision *out,
                                             semb_error *err)
{
    if (name && (strcmp(name, "fp32") == 0 || strcmp(name, "float32") == 0)) {
        *out = SEMB_COMPUTE_FP32;
        return SEMB_OK;
    }
    if (name && (strcmp(name, "bf16") == 0 || strcmp(name, "bfloat16") == 0)) {
        *out = SEMB_COMPUTE_BF16;
        return SEMB_OK;
    }
    if (name && strcmp(name, "int8") == 0) {
        *out = SEMB_COMPUTE_INT8;
        return SEMB_OK;
    }
    return semb_fail(err, SEMB_ERR_INVALID_ARG, "precision '%s' is not fp32, bf16 or int8",
                     name ? name : "(null)");
}
