#include "model/encoder_params.h"

#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"

/* Hugging Face names of one layer's tensors per architecture, in layer_params order. */
typedef struct layer_names {
    const char *layer_prefix; /* "encoder.layer." */
    const char *q, *k, *v, *out, *attn_norm, *ffn_in, *ffn_out, *ffn_norm;
} layer_names;

static const layer_names bert_names = {
    "encoder.layer.", "attention.self.query", "attention.self.key", "attention.self.value",
    "attention.output.dense", "attention.output.LayerNorm", "intermediate.dense",
    "output.dense", "output.LayerNorm"};
static const layer_names distilbert_names = {
    "transformer.layer.", "attention.q_lin", "attention.k_lin", "attention.v_lin",
    "attention.out_lin", "sa_layer_norm", "ffn.lin1", "ffn.lin2", "output_layer_norm"};
static const layer_names mpnet_names = {
    "encoder.layer.", "attention.attn.q", "attention.attn.k", "attention.attn.v",
    "attention.attn.o", "attention.LayerNorm", "intermediate.dense", "output.dense",
    "output.LayerNorm"};

static const layer_names *names_for(encoder_arch arch)
{
    return arch == ENCODER_DISTILBERT ? &distilbert_names
           : arch == ENCODER_MPNET    ? &mpnet_names
                                      : &bert_names;
}

/* The table is built in two passes: first to count and lay out, then (after the arena
 * exists) to point the views at it. `slot` receives the view pointer. */
typedef struct layout {
    encoder_params *p;
    float **slots[1024];
    size_t capacity;
} layout;

static void declare(layout *l, float **slot, bool optional, int ndim, int64_t d0, int64_t d1,
                    const char *fmt, ...) __attribute__((format(printf, 7, 8)));

static void declare(layout *l, float **slot, bool optional, int ndim, int64_t d0, int64_t d1,
                    const char *fmt, ...)
{
    encoder_params *p = l->p;
    param_tensor *t = &p->tensors[p->n_tensors];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->ndim = ndim;
    t->shape[0] = d0;
    t->shape[1] = ndim == 2 ? d1 : 1;
    t->numel = (size_t)d0 * (size_t)(ndim == 2 ? d1 : 1);
    t->offset = p->arena_floats;
    size_t len = strlen(t->name);
    bool is_bias = len >= 4 && strcmp(t->name + len - 4, "bias") == 0;
    bool is_norm = strstr(t->name, "LayerNorm") || strstr(t->name, "layer_norm");
    t->weight_decay = !is_bias && !is_norm;
    t->optional = optional;
    t->trainable = !optional;
    l->slots[p->n_tensors] = slot;
    p->arena_floats += t->numel;
    p->n_tensors++;
}

static void declare_layer(layout *l, const encoder_config *cfg, int i, layer_params *lp)
{
    const layer_names *n = names_for(cfg->arch);
    int64_t H = cfg->hidden_size, I = cfg->intermediate_size;
    const char *pre = n->layer_prefix;
    /* q, k, v weights adjacent, then their biases adjacent: one fused QKV matmul. */
    declare(l, &lp->qkv_weight, false, 2, H, H, "%s%d.%s.weight", pre, i, n->q);
    declare(l, NULL, false, 2, H, H, "%s%d.%s.weight", pre, i, n->k);
    declare(l, NULL, false, 2, H, H, "%s%d.%s.weight", pre, i, n->v);
    declare(l, &lp->qkv_bias, false, 1, H, 0, "%s%d.%s.bias", pre, i, n->q);
    declare(l, NULL, false, 1, H, 0, "%s%d.%s.bias", pre, i, n->k);
    declare(l, NULL, false, 1, H, 0, "%s%d.%s.bias", pre, i, n->v);
    declare(l, &lp->out_weight, false, 2, H, H, "%s%d.%s.weight", pre, i, n->out);
    declare(l, &lp->out_bias, false, 1, H, 0, "%s%d.%s.bias", pre, i, n->out);
    declare(l, &lp->attn_norm_weight, false, 1, H, 0, "%s%d.%s.weight", pre, i, n->attn_norm);
    declare(l, &lp->attn_norm_bias, false, 1, H, 0, "%s%d.%s.bias", pre, i, n->attn_norm);
    declare(l, &lp->ffn_in_weight, false, 2, I, H, "%s%d.%s.weight", pre, i, n->ffn_in);
    declare(l, &lp->ffn_in_bias, false, 1, I, 0, "%s%d.%s.bias", pre, i, n->ffn_in);
    declare(l, &lp->ffn_out_weight, false, 2, H, I, "%s%d.%s.weight", pre, i, n->ffn_out);
    declare(l, &lp->ffn_out_bias, false, 1, H, 0, "%s%d.%s.bias", pre, i, n->ffn_out);
    declare(l, &lp->ffn_norm_weight, false, 1, H, 0, "%s%d.%s.weight", pre, i, n->ffn_norm);
    declare(l, &lp->ffn_norm_bias, false, 1, H, 0, "%s%d.%s.bias", pre, i, n->ffn_norm);
}

static void declare_all(layout *l, const encoder_config *cfg, bool with_pooler)
{
    encoder_params *p = l->p;
    int64_t H = cfg->hidden_size;
    declare(l, &p->word_embeddings, false, 2, cfg->vocab_size, H,
            "embeddings.word_embeddings.weight");
    declare(l, &p->position_embeddings, false, 2, cfg->max_position_embeddings, H,
            "embeddings.position_embeddings.weight");
    if (cfg->arch == ENCODER_BERT)
        declare(l, &p->token_type_embeddings, false, 2, cfg->type_vocab_size, H,
                "embeddings.token_type_embeddings.weight");
    declare(l, &p->embedding_norm_weight, false, 1, H, 0, "embeddings.LayerNorm.weight");
    declare(l, &p->embedding_norm_bias, false, 1, H, 0, "embeddings.LayerNorm.bias");
    for (int i = 0; i < cfg->num_layers; i++)
        declare_layer(l, cfg, i, &p->layers[i]);
    if (cfg->arch == ENCODER_MPNET)
        declare(l, &p->relative_attention_bias, false, 2, cfg->relative_attention_num_buckets,
                cfg->num_heads, "encoder.relative_attention_bias.weight");
    if (with_pooler && cfg->arch != ENCODER_DISTILBERT) {
        declare(l, &p->pooler_weight, true, 2, H, H, "pooler.dense.weight");
        declare(l, &p->pooler_bias, true, 1, H, 0, "pooler.dense.bias");
    }
}

semb_status encoder_params_create(const encoder_config *cfg, bool with_pooler,
                                  encoder_params *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    size_t max_tensors = 8 + 16 * (size_t)cfg->num_layers;
    if (max_tensors > sizeof(((layout *)0)->slots) / sizeof(float **))
        return semb_fail(err, SEMB_ERR_UNSUPPORTED, "%d layers is more than semb supports",
                         cfg->num_layers);
    out->tensors = calloc(max_tensors, sizeof *out->tensors);
    out->layers = calloc((size_t)cfg->num_layers, sizeof *out->layers);
    layout *l = calloc(1, sizeof *l);
    if (!out->tensors || !out->layers || !l) {
        free(l);
        encoder_params_free(out);
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate the parameter table");
    }
    l->p = out;
    declare_all(l, cfg, with_pooler);
    /* 64-byte aligned so vector kernels and AMX tiles can load rows directly. */
    size_t bytes = (out->arena_floats * sizeof(float) + 63) & ~(size_t)63;
    out->arena = aligned_alloc(64, bytes);
    if (!out->arena) {
        free(l);
        encoder_params_free(out);
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate %zu bytes of parameters", bytes);
    }
    memset(out->arena, 0, bytes);
    for (size_t i = 0; i < out->n_tensors; i++)
        if (l->slots[i]) /* NULL: k and v, reached through the fused q view */
            *l->slots[i] = out->arena + out->tensors[i].offset;
    free(l);
    return SEMB_OK;
}

void encoder_params_free(encoder_params *p)
{
    if (!p)
        return;
    free(p->arena);
    free(p->tensors);
    free(p->layers);
    memset(p, 0, sizeof *p);
}

const param_tensor *encoder_params_find(const encoder_params *p, const char *name)
{
    for (size_t i = 0; i < p->n_tensors; i++)
        if (strcmp(p->tensors[i].name, name) == 0)
            return &p->tensors[i];
    return NULL;
}

/* Checkpoints saved from BertForMaskedLM & co. prefix every name with the base model's
 * attribute; sentence-transformers folders usually do not. */
static const char *detect_prefix(const safetensors_file *file)
{
    static const char *prefixes[] = {"", "bert.", "distilbert.", "mpnet.", "model."};
    char probe[160];
    for (size_t i = 0; i < sizeof prefixes / sizeof prefixes[0]; i++) {
        snprintf(probe, sizeof probe, "%sembeddings.word_embeddings.weight", prefixes[i]);
        if (safetensors_find(file, probe))
            return prefixes[i];
    }
    return "";
}

static void format_shape(char *buf, size_t size, int ndim, const int64_t *shape)
{
    int n = snprintf(buf, size, "[");
    for (int d = 0; d < ndim && n < (int)size; d++)
        n += snprintf(buf + n, size - (size_t)n, d ? ", %lld" : "%lld", (long long)shape[d]);
    if (n < (int)size)
        snprintf(buf + n, size - (size_t)n, "]");
}

semb_status encoder_params_load(encoder_params *p, const safetensors_file *file,
                                semb_error *err)
{
    const char *prefix = detect_prefix(file);
    snprintf(p->name_prefix, sizeof p->name_prefix, "%s", prefix);
    for (size_t i = 0; i < p->n_tensors; i++) {
        const param_tensor *t = &p->tensors[i];
        char full[160];
        snprintf(full, sizeof full, "%s%s", prefix, t->name);
        const safetensors_tensor *st = safetensors_find(file, full);
        if (!st) {
            if (t->optional)
                continue;
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: missing tensor '%s'", file->path, full);
        }
        bool same = st->ndim == t->ndim && st->shape[0] == t->shape[0] &&
                    (t->ndim == 1 || st->shape[1] == t->shape[1]);
        if (!same) {
            char want[64], got[64];
            format_shape(want, sizeof want, t->ndim, t->shape);
            format_shape(got, sizeof got, st->ndim, st->shape);
            return semb_fail(err, SEMB_ERR_FORMAT,
                             "%s: tensor '%s' has shape %s but config.json implies %s",
                             file->path, full, got, want);
        }
        semb_status s = safetensors_to_f32(file, st, p->arena + t->offset, t->numel, err);
        if (s)
            return s;
    }
    return SEMB_OK;
}

void encoder_params_init_random(encoder_params *p, const encoder_config *cfg, uint64_t seed)
{
    rng_state rng;
    rng_seed(&rng, seed);
    for (size_t i = 0; i < p->n_tensors; i++) {
        const param_tensor *t = &p->tensors[i];
        float *x = p->arena + t->offset;
        size_t len = strlen(t->name);
        bool is_bias = strcmp(t->name + len - 4, "bias") == 0;
        bool is_norm = strstr(t->name, "LayerNorm") || strstr(t->name, "layer_norm");
        for (size_t j = 0; j < t->numel; j++)
            x[j] = is_norm && !is_bias ? 1.0f : is_bias ? 0.0f : 0.02f * rng_normal(&rng);
    }
    /* nn.Embedding(padding_idx=pad) keeps the padding row at zero. */
    memset(p->word_embeddings + (size_t)cfg->pad_token_id * (size_t)cfg->hidden_size, 0,
           (size_t)cfg->hidden_size * sizeof(float));
    if (cfg->arch == ENCODER_MPNET)
        memset(p->position_embeddings + (size_t)cfg->pad_token_id * (size_t)cfg->hidden_size, 0,
               (size_t)cfg->hidden_size * sizeof(float));
}

semb_status encoder_params_save(const encoder_params *p, const char *path, semb_error *err)
{
    safetensors_entry *entries = calloc(p->n_tensors, sizeof *entries);
    char (*names)[160] = calloc(p->n_tensors, sizeof *names);
    if (!entries || !names) {
        free(entries);
        free(names);
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: cannot allocate the tensor list", path);
    }
    for (size_t i = 0; i < p->n_tensors; i++) {
        const param_tensor *t = &p->tensors[i];
        snprintf(names[i], sizeof names[i], "%s%s", p->name_prefix, t->name);
        entries[i].name = names[i];
        entries[i].dtype = SAFETENSORS_F32;
        entries[i].ndim = t->ndim;
        entries[i].shape[0] = t->shape[0];
        entries[i].shape[1] = t->shape[1];
        entries[i].data = p->arena + t->offset;
    }
    static const char *const metadata[] = {"format", "pt", NULL};
    semb_status st = safetensors_write(path, entries, p->n_tensors, metadata, err);
    free(entries);
    free(names);
    return st;
}

void encoder_params_changed(encoder_params *p)
{
    p->version++;
}
