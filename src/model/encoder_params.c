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
    float **slots[8 + 16 * ENCODER_MAX_LAYERS];
    int layer; /* the layer being declared, or -1 */
} layout;

/* A tensor's shape with the config.json key behind each dimension. */
typedef struct dims {
    int ndim;
    int64_t size[2];
    const char *key[2];
} dims;

static dims matrix(int rows, const char *rows_key, int cols, const char *cols_key)
{
    return (dims){2, {rows, cols}, {rows_key, cols_key}};
}

static dims vector(int n, const char *key)
{
    return (dims){1, {n, 1}, {key, NULL}};
}

static void declare(layout *l, float **slot, bool optional, dims d, const char *fmt, ...)
    __attribute__((format(printf, 5, 6)));

static void declare(layout *l, float **slot, bool optional, dims d, const char *fmt, ...)
{
    encoder_params *p = l->p;
    param_tensor *t = &p->tensors[p->n_tensors];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(t->name, sizeof t->name, fmt, ap);
    va_end(ap);
    t->ndim = d.ndim;
    t->shape[0] = d.size[0];
    t->shape[1] = d.size[1];
    t->shape_keys[0] = d.key[0];
    t->shape_keys[1] = d.key[1];
    t->layer = l->layer;
    t->numel = (size_t)d.size[0] * (size_t)d.size[1];
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
    const encoder_config_keys *k = encoder_config_keys_for(cfg->arch);
    int H = cfg->hidden_size, I = cfg->intermediate_size;
    dims square = matrix(H, k->hidden, H, k->hidden), hidden = vector(H, k->hidden);
    const char *pre = n->layer_prefix;
    l->layer = i;
    /* q, k, v weights adjacent, then their biases adjacent: one fused QKV matmul. */
    declare(l, &lp->qkv_weight, false, square, "%s%d.%s.weight", pre, i, n->q);
    declare(l, NULL, false, square, "%s%d.%s.weight", pre, i, n->k);
    declare(l, NULL, false, square, "%s%d.%s.weight", pre, i, n->v);
    declare(l, &lp->qkv_bias, false, hidden, "%s%d.%s.bias", pre, i, n->q);
    declare(l, NULL, false, hidden, "%s%d.%s.bias", pre, i, n->k);
    declare(l, NULL, false, hidden, "%s%d.%s.bias", pre, i, n->v);
    declare(l, &lp->out_weight, false, square, "%s%d.%s.weight", pre, i, n->out);
    declare(l, &lp->out_bias, false, hidden, "%s%d.%s.bias", pre, i, n->out);
    declare(l, &lp->attn_norm_weight, false, hidden, "%s%d.%s.weight", pre, i, n->attn_norm);
    declare(l, &lp->attn_norm_bias, false, hidden, "%s%d.%s.bias", pre, i, n->attn_norm);
    declare(l, &lp->ffn_in_weight, false, matrix(I, k->intermediate, H, k->hidden),
            "%s%d.%s.weight", pre, i, n->ffn_in);
    declare(l, &lp->ffn_in_bias, false, vector(I, k->intermediate), "%s%d.%s.bias", pre, i,
            n->ffn_in);
    declare(l, &lp->ffn_out_weight, false, matrix(H, k->hidden, I, k->intermediate),
            "%s%d.%s.weight", pre, i, n->ffn_out);
    declare(l, &lp->ffn_out_bias, false, hidden, "%s%d.%s.bias", pre, i, n->ffn_out);
    declare(l, &lp->ffn_norm_weight, false, hidden, "%s%d.%s.weight", pre, i, n->ffn_norm);
    declare(l, &lp->ffn_norm_bias, false, hidden, "%s%d.%s.bias", pre, i, n->ffn_norm);
    l->layer = -1;
}

static void declare_all(layout *l, const encoder_config *cfg, bool with_pooler)
{
    encoder_params *p = l->p;
    const encoder_config_keys *k = encoder_config_keys_for(cfg->arch);
    int H = cfg->hidden_size;
    l->layer = -1;
    declare(l, &p->word_embeddings, false, matrix(cfg->vocab_size, k->vocab, H, k->hidden),
            "embeddings.word_embeddings.weight");
    declare(l, &p->position_embeddings, false,
            matrix(cfg->max_position_embeddings, k->positions, H, k->hidden),
            "embeddings.position_embeddings.weight");
    if (cfg->arch == ENCODER_BERT)
        declare(l, &p->token_type_embeddings, false,
                matrix(cfg->type_vocab_size, k->type_vocab, H, k->hidden),
                "embeddings.token_type_embeddings.weight");
    declare(l, &p->embedding_norm_weight, false, vector(H, k->hidden),
            "embeddings.LayerNorm.weight");
    declare(l, &p->embedding_norm_bias, false, vector(H, k->hidden), "embeddings.LayerNorm.bias");
    for (int i = 0; i < cfg->num_layers; i++)
        declare_layer(l, cfg, i, &p->layers[i]);
    if (cfg->arch == ENCODER_MPNET)
        declare(l, &p->relative_attention_bias, false,
                matrix(cfg->relative_attention_num_buckets, k->buckets, cfg->num_heads, k->heads),
                "encoder.relative_attention_bias.weight");
    if (with_pooler && cfg->arch != ENCODER_DISTILBERT) {
        declare(l, &p->pooler_weight, true, matrix(H, k->hidden, H, k->hidden),
                "pooler.dense.weight");
        declare(l, &p->pooler_bias, true, vector(H, k->hidden), "pooler.dense.bias");
    }
}

/* The tensor table alone (small: no weights). *l receives the view slots for the arena. */
static semb_status lay_out(const encoder_config *cfg, bool with_pooler, encoder_params *out,
                           layout **l, semb_error *err)
{
    memset(out, 0, sizeof *out);
    *l = NULL;
    if (cfg->num_layers < 1 || cfg->num_layers > ENCODER_MAX_LAYERS)
        return semb_fail(err, SEMB_ERR_UNSUPPORTED, "%d layers: semb supports 1 to %d",
                         cfg->num_layers, ENCODER_MAX_LAYERS);
    size_t max_tensors = sizeof((*l)->slots) / sizeof((*l)->slots[0]);
    out->tensors = calloc(max_tensors, sizeof *out->tensors);
    out->layers = calloc((size_t)cfg->num_layers, sizeof *out->layers);
    *l = calloc(1, sizeof **l);
    if (!out->tensors || !out->layers || !*l) {
        free(*l);
        *l = NULL;
        encoder_params_free(out);
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate the parameter table");
    }
    (*l)->p = out;
    declare_all(*l, cfg, with_pooler);
    return SEMB_OK;
}

semb_status encoder_params_create(const encoder_config *cfg, bool with_pooler,
                                  encoder_params *out, semb_error *err)
{
    layout *l;
    semb_status st = lay_out(cfg, with_pooler, out, &l, err);
    if (st)
        return st;
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

/* The file's tensor `found` (named `full` there) against the table's t: a float dtype and
 * t's shape, else an error naming the config.json key of the first dimension that differs. */
static semb_status check_tensor(const safetensors_file *file, const char *full,
                                const param_tensor *t, const safetensors_tensor *found,
                                semb_error *err)
{
    safetensors_dtype dt = found->dtype;
    if (dt != SAFETENSORS_F32 && dt != SAFETENSORS_F16 && dt != SAFETENSORS_BF16 &&
        dt != SAFETENSORS_F64)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: tensor '%s' has dtype %s; weights must be F32, F16, BF16 or F64",
                         file->path, full, safetensors_dtype_name(dt));
    int differs = found->ndim != t->ndim ? 0 : -1;
    for (int d = 0; differs < 0 && d < t->ndim; d++)
        if (found->shape[d] != t->shape[d])
            differs = d;
    if (differs < 0)
        return SEMB_OK;
    char want[64], got[64];
    safetensors_format_shape(t->shape, t->ndim, want, sizeof want);
    safetensors_format_shape(found->shape, found->ndim, got, sizeof got);
    return semb_fail(err, SEMB_ERR_FORMAT,
                     "%s: tensor '%s' has shape %s but config.json's '%s' %lld implies %s",
                     file->path, full, got, t->shape_keys[differs], (long long)t->shape[differs],
                     want);
}

/* Buffers transformers saved in old checkpoints and ignores on loading. */
static bool is_ignored_buffer(const char *name)
{
    size_t len = strlen(name);
    return len >= 12 && strcmp(name + len - 12, "position_ids") == 0;
}

/* Warns about the file's tensors that no table entry names (layers beyond the config's,
 * task heads such as cls.predictions): the model loads without them, as in transformers. */
static void warn_unused(const encoder_params *p, const safetensors_file *file,
                        const char *prefix, size_t used, const encoder_config *cfg)
{
    size_t ignored = 0;
    for (size_t i = 0; i < file->n_tensors; i++)
        ignored += is_ignored_buffer(file->tensors[i].name);
    if (file->n_tensors - ignored <= used)
        return;
    const char *example = NULL;
    for (size_t i = 0; i < file->n_tensors && !example; i++) {
        const char *name = file->tensors[i].name;
        size_t plen = strlen(prefix);
        bool known = false;
        if (!is_ignored_buffer(name) && strncmp(name, prefix, plen) == 0)
            known = encoder_params_find(p, name + plen) != NULL;
        if (!known && !is_ignored_buffer(name))
            example = name;
    }
    semb_warn("%s: %zu tensor%s not used by a %s model of config.json's shape ('%s' %d), "
              "e.g. '%s': ignored",
              file->path, file->n_tensors - ignored - used,
              file->n_tensors - ignored - used == 1 ? "" : "s", encoder_arch_name(cfg->arch),
              encoder_config_keys_for(cfg->arch)->layers, cfg->num_layers,
              example ? example : "?");
}

semb_status encoder_params_check_file(const encoder_config *cfg, bool with_pooler,
                                      const safetensors_file *file, semb_error *err)
{
    encoder_params table;
    layout *l;
    semb_status st = lay_out(cfg, with_pooler, &table, &l, err);
    if (st)
        return st;
    free(l);
    const char *prefix = detect_prefix(file);
    size_t used = 0;
    for (size_t i = 0; i < table.n_tensors && !st; i++) {
        const param_tensor *t = &table.tensors[i];
        char full[160];
        snprintf(full, sizeof full, "%s%s", prefix, t->name);
        const safetensors_tensor *found = safetensors_find(file, full);
        if (found) {
            st = check_tensor(file, full, t, found, err);
            used++;
        } else if (t->layer >= 0) {
            st = semb_fail(err, SEMB_ERR_FORMAT,
                           "%s: missing tensor '%s' (config.json's '%s' is %d)", file->path,
                           full, encoder_config_keys_for(cfg->arch)->layers, cfg->num_layers);
        } else if (!t->optional) {
            st = semb_fail(err, SEMB_ERR_FORMAT,
                           "%s: missing tensor '%s' (config.json's model_type is %s)",
                           file->path, full, encoder_arch_name(cfg->arch));
        }
    }
    if (!st)
        warn_unused(&table, file, prefix, used, cfg);
    encoder_params_free(&table);
    return st;
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
        const safetensors_tensor *found = safetensors_find(file, full);
        if (!found) {
            if (t->optional)
                continue;
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: missing tensor '%s'", file->path, full);
        }
        semb_status st = check_tensor(file, full, t, found, err);
        if (!st)
            st = safetensors_to_f32(file, found, p->arena + t->offset, t->numel, err);
        if (st)
            return st;
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
