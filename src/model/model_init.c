/* semb_model_init: a fresh, randomly initialised sentence-transformers model folder. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/atomic_folder.h"
#include "io/files.h"
#include "model/encoder_config.h"
#include "model/encoder_params.h"
#include "model/pooling.h"
#include "text/tokenizer.h"
#include "text/tokenizer_write.h"

/* Writes a JSON value to dir/name atomically; takes ownership of value. */
static semb_status write_json(const char *dir, const char *name, json_t *value, semb_error *err)
{
    char *path = path_join(dir, name);
    char *text = value ? json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(value);
    semb_status st = (path && text) ? atomic_write_buffer(path, text, strlen(text), err)
                                    : semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", dir);
    free(path);
    free(text);
    return st;
}

static tokenizer_special_tokens specials_for(encoder_arch arch)
{
    if (arch == ENCODER_MPNET)
        return (tokenizer_special_tokens){"<s>",   "</s>", "<pad>", "[UNK]",
                                          "<mask>", "<s>", "</s>"};
    return tokenizer_bert_specials;
}

static semb_status load_vocab(const char *vocab_path, encoder_arch arch, semb_tokenizer **tok,
                              semb_error *err)
{
    if (path_has_suffix(vocab_path, ".json"))
        return tokenizer_load_json(vocab_path, tok, err);
    tokenizer_special_tokens sp = specials_for(arch);
    tokenizer_vocab_options o = {
        .lowercase = 1, .strip_accents = -1, .tokenize_chinese_chars = 1,
        .roberta_processing = arch == ENCODER_MPNET,
        .cls_token = sp.cls, .sep_token = sp.sep, .unk_token = sp.unk, .pad_token = sp.pad,
        .mask_token = sp.mask};
    return tokenizer_load_vocab(vocab_path, &o, tok, err);
}

static semb_status write_tokenizer_files(const char *dir, const char *vocab_path,
                                         encoder_arch arch, bool lowercase, int max_seq_length,
                                         semb_error *err)
{
    bool is_json = path_has_suffix(vocab_path, ".json");
    char *dst = path_join(dir, is_json ? "tokenizer.json" : "vocab.txt");
    semb_status st = dst ? file_copy(vocab_path, dst, err)
                         : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    free(dst);
    if (st)
        return st;
    tokenizer_special_tokens sp = specials_for(arch);
    return tokenizer_write_config_files(dir,
                                        arch == ENCODER_MPNET ? "MPNetTokenizer" : "BertTokenizer",
                                        lowercase, max_seq_length, &sp, err);
}

static semb_status write_module_files(const char *dir, const pooling_config *pool,
                                      bool normalize, int max_seq_length, semb_error *err)
{
    json_t *modules = json_pack("[{s:i, s:s, s:s, s:s}, {s:i, s:s, s:s, s:s}]", "idx", 0, "name",
                                "0", "path", "", "type", "sentence_transformers.models.Transformer",
                                "idx", 1, "name", "1", "path", "1_Pooling", "type",
                                "sentence_transformers.models.Pooling");
    if (normalize && modules)
        json_array_append_new(modules, json_pack("{s:i, s:s, s:s, s:s}", "idx", 2, "name", "2",
                                                 "path", "2_Normalize", "type",
                                                 "sentence_transformers.models.Normalize"));
    semb_status st = write_json(dir, "modules.json", modules, err);
    if (!st)
        st = write_json(dir, "sentence_bert_config.json",
                        json_pack("{s:i, s:b}", "max_seq_length", max_seq_length,
                                  "do_lower_case", 0),
                        err);
    if (!st)
        st = write_json(dir, "config_sentence_transformers.json",
                        json_pack("{s:{s:s}, s:{}, s:n, s:s}", "__version__", "semb", SEMB_VERSION,
                                  "prompts", "default_prompt_name", "similarity_fn_name",
                                  "cosine"),
                        err);
    char *pool_dir = path_join(dir, "1_Pooling");
    char *norm_dir = path_join(dir, "2_Normalize");
    if (!st && (!pool_dir || !norm_dir))
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!st && mkdir(pool_dir, 0755) != 0)
        st = semb_fail(err, SEMB_ERR_IO, "%s: cannot create: %s", pool_dir, strerror(errno));
    if (!st) {
        char *path = path_join(pool_dir, "config.json");
        st = path ? pooling_config_save(pool, path, err)
                  : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        free(path);
    }
    if (!st && normalize && mkdir(norm_dir, 0755) != 0)
        st = semb_fail(err, SEMB_ERR_IO, "%s: cannot create: %s", norm_dir, strerror(errno));
    free(pool_dir);
    free(norm_dir);
    return st;
}

static semb_status resolve_config(const semb_init_options *o, const semb_tokenizer *tok,
                                  encoder_config *cfg, semb_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    if (!o->arch || !encoder_arch_from_name(o->arch, &cfg->arch))
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "--arch: '%s' is not supported (bert, distilbert, mpnet)",
                         o->arch ? o->arch : "");
    cfg->vocab_size = (int)tokenizer_vocab_size(tok);
    cfg->hidden_size = o->hidden_size;
    cfg->num_layers = o->num_layers;
    cfg->num_heads = o->num_heads;
    cfg->intermediate_size = o->intermediate_size;
    cfg->pad_token_id = tokenizer_pad_id(tok) >= 0 ? tokenizer_pad_id(tok) : 0;
    cfg->max_position_embeddings = o->max_position_embeddings > 0 ? o->max_position_embeddings
                                   : cfg->arch == ENCODER_MPNET ? 512 + cfg->pad_token_id + 1
                                                                : 512;
    cfg->type_vocab_size = cfg->arch == ENCODER_BERT ? 2 : 0;
    cfg->relative_attention_num_buckets = cfg->arch == ENCODER_MPNET ? 32 : 0;
    cfg->layer_norm_eps = cfg->arch == ENCODER_MPNET ? 1e-5f : 1e-12f;
    cfg->hidden_dropout = 0.1f;
    cfg->attention_dropout = 0.1f;
    cfg->activation = ACTIVATION_GELU;
    return encoder_config_validate(cfg, "semb init", err);
}

static semb_status build_folder(const char *dir, const semb_init_options *o,
                                const encoder_config *cfg, bool lowercase, semb_error *err)
{
    pooling_config pool = {.modes = pooling_mode_from_name(o->pooling ? o->pooling : "mean"),
                           .token_dim = cfg->hidden_size, .include_prompt = true};
    if (!pool.modes)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--pooling: unknown mode '%s'", o->pooling);
    int limit = encoder_config_position_limit(cfg);
    int max_seq = o->max_seq_length > 0 ? o->max_seq_length : limit < 256 ? limit : 256;
    encoder_params params;
    semb_status st = encoder_config_check_max_length(cfg, max_seq, NULL,
                                                     "--max-seq-length", SEMB_ERR_INVALID_ARG,
                                                     err);
    if (!st)
        st = encoder_params_create(cfg, cfg->arch != ENCODER_DISTILBERT, &params, err);
    if (st)
        return st;
    encoder_params_init_random(&params, cfg, o->seed);
    char *config_path = path_join(dir, "config.json");
    char *weights_path = path_join(dir, "model.safetensors");
    if (!config_path || !weights_path)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!st)
        st = encoder_config_save(cfg, config_path, err);
    if (!st)
        st = encoder_params_save(&params, weights_path, err);
    if (!st)
        st = write_tokenizer_files(dir, o->vocab_path, cfg->arch, lowercase, max_seq, err);
    if (!st)
        st = write_module_files(dir, &pool, o->normalize, max_seq, err);
    free(config_path);
    free(weights_path);
    encoder_params_free(&params);
    return st;
}

semb_status semb_model_init(const char *output_dir, const semb_init_options *o, semb_error *err)
{
    if (!output_dir || !o || !o->vocab_path)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb init: output folder and vocab required");
    semb_status st = atomic_folder_check(output_dir, false, err);
    if (st)
        return st;
    encoder_arch arch = ENCODER_BERT;
    if (o->arch)
        encoder_arch_from_name(o->arch, &arch);
    semb_tokenizer *tok = NULL;
    st = load_vocab(o->vocab_path, arch, &tok, err);
    if (st)
        return st;
    encoder_config cfg;
    st = resolve_config(o, tok, &cfg, err);
    bool lowercase = tokenizer_lowercases(tok);
    tokenizer_free(tok);
    if (st)
        return st;
    atomic_folder f;
    if ((st = atomic_folder_begin(&f, output_dir, false, err)))
        return st;
    if ((st = build_folder(f.tmp, o, &cfg, lowercase, err))) {
        atomic_folder_abort(&f);
        return st;
    }
    return atomic_folder_commit(&f, err);
}

semb_init_options semb_init_options_default(void)
{
    return (semb_init_options){.arch = "bert", .hidden_size = 384, .num_layers = 6,
                               .num_heads = 12, .intermediate_size = 1536,
                               .max_seq_length = 0, .pooling = "mean", .normalize = 1,
                               .seed = 42};
}
