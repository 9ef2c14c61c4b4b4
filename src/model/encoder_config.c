#include "model/encoder_config.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json_file.h"

const char *encoder_arch_name(encoder_arch arch)
{
    switch (arch) {
    case ENCODER_BERT: return "bert";
    case ENCODER_DISTILBERT: return "distilbert";
    case ENCODER_MPNET: return "mpnet";
    }
    return "unknown";
}

bool encoder_arch_from_name(const char *name, encoder_arch *out)
{
    static const struct { const char *name; encoder_arch arch; } names[] = {
        {"bert", ENCODER_BERT},       {"BertModel", ENCODER_BERT},
        {"distilbert", ENCODER_DISTILBERT}, {"DistilBertModel", ENCODER_DISTILBERT},
        {"mpnet", ENCODER_MPNET},     {"MPNetModel", ENCODER_MPNET},
    };
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        if (strcmp(name, names[i].name) == 0) {
            *out = names[i].arch;
            return true;
        }
    return false;
}

const char *activation_hf_name(activation_kind kind)
{
    switch (kind) {
    case ACTIVATION_GELU: return "gelu";
    case ACTIVATION_GELU_TANH: return "gelu_new";
    case ACTIVATION_RELU: return "relu";
    }
    return "gelu";
}

static semb_status parse_activation(const char *name, const char *path, const char *field,
                                    activation_kind *out, semb_error *err)
{
    if (strcmp(name, "gelu") == 0)
        *out = ACTIVATION_GELU;
    else if (strcmp(name, "gelu_new") == 0 || strcmp(name, "gelu_pytorch_tanh") == 0 ||
             strcmp(name, "gelu_fast") == 0)
        *out = ACTIVATION_GELU_TANH;
    else if (strcmp(name, "relu") == 0)
        *out = ACTIVATION_RELU;
    else
        return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                         "%s: field '%s': activation '%s' is not supported (gelu, gelu_new, relu)",
                         path, field, name);
    return SEMB_OK;
}

int encoder_config_position_limit(const encoder_config *cfg)
{
    if (cfg->arch == ENCODER_MPNET)
        return cfg->max_position_embeddings - cfg->pad_token_id - 1;
    return cfg->max_position_embeddings;
}

/* BERT and MPNet share the BERT spelling. */
static const encoder_config_keys bert_keys = {
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
    "max_position_embeddings", "type_vocab_size", NULL, "hidden_act", "hidden_dropout_prob",
    "attention_probs_dropout_prob"};
static const encoder_config_keys mpnet_keys = {
    "vocab_size", "hidden_size", "num_hidden_layers", "num_attention_heads", "intermediate_size",
    "max_position_embeddings", NULL, "relative_attention_num_buckets", "hidden_act",
    "hidden_dropout_prob", "attention_probs_dropout_prob"};
static const encoder_config_keys distilbert_keys = {
    "vocab_size", "dim", "n_layers", "n_heads", "hidden_dim", "max_position_embeddings", NULL,
    NULL, "activation", "dropout", "attention_dropout"};

const encoder_config_keys *encoder_config_keys_for(encoder_arch arch)
{
    return arch == ENCODER_DISTILBERT ? &distilbert_keys
           : arch == ENCODER_MPNET    ? &mpnet_keys
                                      : &bert_keys;
}

semb_status encoder_config_validate(const encoder_config *cfg, const char *source,
                                    semb_error *err)
{
    const encoder_config_keys *k = encoder_config_keys_for(cfg->arch);
    /* The caps are far beyond any released model and keep the parameter count below 2^48
     * floats, so no product of sizes overflows a 64-bit size_t. The real guard against a
     * config that lies is that every tensor's shape must match the weights file. */
    struct { const char *key; int value, min, max; } sizes[] = {
        {k->vocab, cfg->vocab_size, 1, 1 << 24},
        {k->hidden, cfg->hidden_size, 1, 1 << 16},
        {k->layers, cfg->num_layers, 1, ENCODER_MAX_LAYERS},
        {k->heads, cfg->num_heads, 1, cfg->hidden_size},
        {k->intermediate, cfg->intermediate_size, 1, 1 << 24},
        {k->positions, cfg->max_position_embeddings, 1, 1 << 24},
        {k->type_vocab, cfg->type_vocab_size, 1, 1024},
        /* transformers always buckets relative positions into 32 (compute_position_bias
         * ignores the config), so the table needs at least 32 rows. */
        {k->buckets, cfg->relative_attention_num_buckets, 32, 4096},
    };
    for (size_t i = 0; i < sizeof sizes / sizeof sizes[0]; i++)
        if (sizes[i].key && (sizes[i].value < sizes[i].min || sizes[i].value > sizes[i].max))
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: field '%s': %d is out of range (%d to %d)",
                             source, sizes[i].key, sizes[i].value, sizes[i].min, sizes[i].max);
    if (cfg->hidden_size % cfg->num_heads != 0)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: field '%s': %d is not a multiple of '%s' %d",
                         source, k->hidden, cfg->hidden_size, k->heads, cfg->num_heads);
    if (cfg->pad_token_id < 0 || cfg->pad_token_id >= cfg->vocab_size)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: field 'pad_token_id': %d is outside the vocabulary ('%s' %d)",
                         source, cfg->pad_token_id, k->vocab, cfg->vocab_size);
    if (encoder_config_position_limit(cfg) < ENCODER_MIN_SEQ_LENGTH)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: field '%s': %d leaves %d positions%s, fewer than %d", source,
                         k->positions, cfg->max_position_embeddings,
                         encoder_config_position_limit(cfg),
                         cfg->arch == ENCODER_MPNET ? " after pad_token_id" : "",
                         ENCODER_MIN_SEQ_LENGTH);
    if (!(cfg->layer_norm_eps > 0.0f) || !(cfg->hidden_dropout >= 0.0f && cfg->hidden_dropout < 1.0f) ||
        !(cfg->attention_dropout >= 0.0f && cfg->attention_dropout < 1.0f))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: layer_norm_eps or dropout out of range", source);
    return SEMB_OK;
}

semb_status encoder_config_check_max_length(const encoder_config *cfg, long long value,
                                            const char *source, const char *key,
                                            semb_status status, semb_error *err)
{
    int limit = encoder_config_position_limit(cfg);
    const char *sep = source ? ": " : "";
    if (!source)
        source = "";
    if (value < ENCODER_MIN_SEQ_LENGTH)
        return semb_fail(err, status,
                         "%s%s%s: %lld is below %d tokens (with fewer, every text encodes alike)",
                         source, sep, key, value, ENCODER_MIN_SEQ_LENGTH);
    if (value > limit)
        return semb_fail(err, status,
                         "%s%s%s: %lld is above the %d positions that config.json's "
                         "max_position_embeddings (%d) allows",
                         source, sep, key, value, limit, cfg->max_position_embeddings);
    return SEMB_OK;
}

static semb_status read_int(const json_t *root, const char *key, const char *path, int *out,
                            bool required, semb_error *err)
{
    long long v = *out;
    semb_status st = required ? json_field_int(root, key, path, NULL, &v, err)
                              : json_field_int_opt(root, key, path, NULL, &v, err);
    if (st)
        return st;
    if (v < -1 || v > (1LL << 30))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: field '%s': %lld is out of range", path, key, v);
    *out = (int)v;
    return SEMB_OK;
}

static semb_status read_float(const json_t *root, const char *key, const char *path, float *out,
                              semb_error *err)
{
    double v = *out;
    semb_status st = json_field_number_opt(root, key, path, NULL, &v, err);
    *out = (float)v;
    return st;
}

static semb_status detect_arch(const json_t *root, const char *path, encoder_arch *arch,
                               semb_error *err)
{
    const char *model_type = NULL;
    semb_status st = json_field_string_opt(root, "model_type", path, NULL, &model_type, err);
    if (st)
        return st;
    if (!model_type) {
        const json_t *archs = json_object_get(root, "architectures");
        const json_t *first = json_is_array(archs) ? json_array_get(archs, 0) : NULL;
        if (!json_is_string(first))
            return semb_fail(err, SEMB_ERR_FORMAT,
                             "%s: missing field 'model_type' (and no 'architectures')", path);
        model_type = json_string_value(first);
    }
    if (!encoder_arch_from_name(model_type, arch))
        return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                         "%s: field 'model_type': '%s' is not supported (bert, distilbert, mpnet)",
                         path, model_type);
    return SEMB_OK;
}

semb_status encoder_config_load(const char *path, encoder_config *cfg, semb_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    json_t *root;
    semb_status st = json_file_load(path, &root, err);
    if (st)
        return st;
    st = detect_arch(root, path, &cfg->arch, err);
    if (st)
        goto done;
    const encoder_config_keys *f = encoder_config_keys_for(cfg->arch);
    cfg->layer_norm_eps = 1e-12f;
    cfg->hidden_dropout = 0.1f;
    cfg->attention_dropout = 0.1f;
    cfg->max_position_embeddings = 512;
    cfg->pad_token_id = cfg->arch == ENCODER_MPNET ? 1 : 0;
    cfg->type_vocab_size = cfg->arch == ENCODER_BERT ? 2 : 0;
    cfg->relative_attention_num_buckets = cfg->arch == ENCODER_MPNET ? 32 : 0;
    const char *act = "gelu";
    if ((st = read_int(root, "vocab_size", path, &cfg->vocab_size, true, err)) ||
        (st = read_int(root, f->hidden, path, &cfg->hidden_size, true, err)) ||
        (st = read_int(root, f->layers, path, &cfg->num_layers, true, err)) ||
        (st = read_int(root, f->heads, path, &cfg->num_heads, true, err)) ||
        (st = read_int(root, f->intermediate, path, &cfg->intermediate_size, true, err)) ||
        (st = read_int(root, "max_position_embeddings", path, &cfg->max_position_embeddings,
                       false, err)) ||
        (st = read_int(root, "pad_token_id", path, &cfg->pad_token_id, false, err)) ||
        (st = read_float(root, f->dropout, path, &cfg->hidden_dropout, err)) ||
        (st = read_float(root, f->attn_dropout, path, &cfg->attention_dropout, err)) ||
        (st = json_field_string_opt(root, f->activation, path, NULL, &act, err)) ||
        (st = parse_activation(act, path, f->activation, &cfg->activation, err)))
        goto done;
    if (cfg->arch != ENCODER_DISTILBERT &&
        (st = read_float(root, "layer_norm_eps", path, &cfg->layer_norm_eps, err)))
        goto done;
    if (cfg->arch == ENCODER_BERT) {
        const char *pos_type = "absolute";
        if ((st = read_int(root, "type_vocab_size", path, &cfg->type_vocab_size, false, err)) ||
            (st = json_field_string_opt(root, "position_embedding_type", path, NULL, &pos_type,
                                        err)))
            goto done;
        if (strcmp(pos_type, "absolute") != 0) {
            st = semb_fail(err, SEMB_ERR_UNSUPPORTED,
                           "%s: field 'position_embedding_type': '%s' is not supported (absolute)",
                           path, pos_type);
            goto done;
        }
    }
    if (cfg->arch == ENCODER_MPNET &&
        (st = read_int(root, "relative_attention_num_buckets", path,
                       &cfg->relative_attention_num_buckets, false, err)))
        goto done;
    st = encoder_config_validate(cfg, path, err);
done:
    json_decref(root);
    return st;
}

/* A float field written as its shortest decimal (0.1, not 0.100000001490116). */
static json_t *json_real_from_float(float value)
{
    char text[32];
    snprintf(text, sizeof text, "%.7g", (double)value);
    return json_real(strtod(text, NULL));
}

static json_t *config_to_json(const encoder_config *cfg)
{
    json_t *o = json_object();
    const char *arch_class = cfg->arch == ENCODER_BERT         ? "BertModel"
                             : cfg->arch == ENCODER_DISTILBERT ? "DistilBertModel"
                                                               : "MPNetModel";
    json_object_set_new(o, "architectures", json_pack("[s]", arch_class));
    json_object_set_new(o, "model_type", json_string(encoder_arch_name(cfg->arch)));
    const encoder_config_keys *f = encoder_config_keys_for(cfg->arch);
    json_object_set_new(o, f->hidden, json_integer(cfg->hidden_size));
    json_object_set_new(o, f->layers, json_integer(cfg->num_layers));
    json_object_set_new(o, f->heads, json_integer(cfg->num_heads));
    json_object_set_new(o, f->intermediate, json_integer(cfg->intermediate_size));
    json_object_set_new(o, f->activation, json_string(activation_hf_name(cfg->activation)));
    json_object_set_new(o, f->dropout, json_real_from_float(cfg->hidden_dropout));
    json_object_set_new(o, f->attn_dropout, json_real_from_float(cfg->attention_dropout));
    json_object_set_new(o, "vocab_size", json_integer(cfg->vocab_size));
    json_object_set_new(o, "max_position_embeddings", json_integer(cfg->max_position_embeddings));
    json_object_set_new(o, "pad_token_id", json_integer(cfg->pad_token_id));
    json_object_set_new(o, "initializer_range", json_real(0.02));
    if (cfg->arch != ENCODER_DISTILBERT)
        json_object_set_new(o, "layer_norm_eps", json_real_from_float(cfg->layer_norm_eps));
    if (cfg->arch == ENCODER_BERT) {
        json_object_set_new(o, "type_vocab_size", json_integer(cfg->type_vocab_size));
        json_object_set_new(o, "position_embedding_type", json_string("absolute"));
    }
    if (cfg->arch == ENCODER_DISTILBERT)
        json_object_set_new(o, "sinusoidal_pos_embds", json_false());
    if (cfg->arch == ENCODER_MPNET) {
        json_object_set_new(o, "relative_attention_num_buckets",
                            json_integer(cfg->relative_attention_num_buckets));
        json_object_set_new(o, "bos_token_id", json_integer(0));
        json_object_set_new(o, "eos_token_id", json_integer(2));
    }
    return o;
}

semb_status encoder_config_save(const encoder_config *cfg, const char *path, semb_error *err)
{
    json_t *o = config_to_json(cfg);
    char *text = json_dumps(o, JSON_INDENT(2) | JSON_SORT_KEYS | JSON_REAL_PRECISION(9));
    json_decref(o);
    if (!text)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: cannot serialise the configuration", path);
    semb_status st = atomic_write_buffer(path, text, strlen(text), err);
    free(text);
    return st;
}
