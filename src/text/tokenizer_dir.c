/* Loading the tokenizer of a model folder: tokenizer.json when there is one, else vocab.txt
 * with the settings of tokenizer_config.json and special_tokens_map.json (the first wins
 * where both name a special token, as in transformers). */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/json_file.h"
#include "text/tokenizer_vocab.h"

enum { SPECIAL_UNK, SPECIAL_SEP, SPECIAL_PAD, SPECIAL_CLS, SPECIAL_MASK, SPECIAL_COUNT };

/* transformers' attribute order, which decides the ids of specials missing from vocab.txt. */
static const char *const special_keys[SPECIAL_COUNT] = {"unk_token", "sep_token", "pad_token",
                                                         "cls_token", "mask_token"};

typedef struct vocab_settings {
    tokenizer_vocab_options options;
    added_token_spec specials[SPECIAL_COUNT];
    bool special_given[SPECIAL_COUNT];
    added_token_spec *declared; /* tokenizer_config.json added_tokens_decoder */
    size_t declared_count;
} vocab_settings;

static char *path_in_dir(const char *dir, const char *name, semb_error *err)
{
    size_t size = strlen(dir) + strlen(name) + 2;
    char *path = malloc(size);
    if (!path) {
        semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", dir);
        return NULL;
    }
    snprintf(path, size, "%s/%s", dir, name);
    return path;
}

static bool is_file(const char *path)
{
    struct stat st;
    return stat(path, &st) == 0 && S_ISREG(st.st_mode);
}

/* A special token written as "[CLS]" or as {"content": "[CLS]", "lstrip": false, ...}. */
static semb_status read_special(const json_t *config, const char *key, const char *path,
                                added_token_spec *spec, bool *given, semb_error *err)
{
    const json_t *value = json_object_get(config, key);
    if (*given || !value || json_is_null(value))
        return SEMB_OK;
    if (json_is_string(value)) {
        spec->content = json_string_value(value);
        *given = true;
        return SEMB_OK;
    }
    const char *content = NULL;
    semb_status st;
    if (!json_is_object(value) ||
        (st = json_field_string_opt(value, "content", path, key, &content, err)) || !content)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: %s: expected a string or an object with content", path, key);
    spec->content = content;
    if ((st = json_field_bool_opt(value, "lstrip", path, key, &spec->lstrip, err)) ||
        (st = json_field_bool_opt(value, "rstrip", path, key, &spec->rstrip, err)) ||
        (st = json_field_bool_opt(value, "single_word", path, key, &spec->single_word, err)) ||
        (st = json_field_bool_opt(value, "normalized", path, key, &spec->normalized, err)))
        return st;
    *given = true;
    return SEMB_OK;
}

static semb_status read_specials(vocab_settings *s, const json_t *config, const char *path,
                                 semb_error *err)
{
    for (int i = 0; i < SPECIAL_COUNT; i++) {
        semb_status st =
            read_special(config, special_keys[i], path, &s->specials[i], &s->special_given[i], err);
        if (st)
            return st;
    }
    return SEMB_OK;
}

/* added_tokens_decoder: {"100": {"content": "[UNK]", "lstrip": false, ...}, ...}. */
static semb_status read_declared_tokens(vocab_settings *s, const json_t *config,
                                        const char *path, semb_error *err)
{
    json_t *decoder;
    semb_status st =
        json_field_object_opt(config, "added_tokens_decoder", path, NULL, &decoder, err);
    if (st || !decoder)
        return st;
    s->declared = calloc(json_object_size(decoder) + 1, sizeof *s->declared);
    if (!s->declared)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    const char *key;
    json_t *value;
    json_object_foreach (decoder, key, value) {
        char field[96];
        snprintf(field, sizeof field, "added_tokens_decoder.%s", key);
        char *end;
        long long id = strtoll(key, &end, 10);
        if (*key == '\0' || *end != '\0' || id < 0 || id > INT32_MAX || !json_is_object(value))
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: %s: expected a token id and an object",
                             path, field);
        added_token_spec *spec = &s->declared[s->declared_count];
        *spec = (added_token_spec){.id = (int32_t)id};
        if ((st = json_field_string(value, "content", path, field, &spec->content, err)) ||
            (st = json_field_bool_opt(value, "special", path, field, &spec->special, err)))
            return st;
        spec->normalized = !spec->special;
        if ((st = json_field_bool_opt(value, "lstrip", path, field, &spec->lstrip, err)) ||
            (st = json_field_bool_opt(value, "rstrip", path, field, &spec->rstrip, err)) ||
            (st = json_field_bool_opt(value, "single_word", path, field, &spec->single_word,
                                      err)) ||
            (st = json_field_bool_opt(value, "normalized", path, field, &spec->normalized, err)))
            return st;
        s->declared_count++;
    }
    return SEMB_OK;
}

static semb_status read_tokenizer_config(vocab_settings *s, const json_t *config,
                                         const char *path, semb_error *err)
{
    bool lowercase = true, chinese = true;
    semb_status st;
    if ((st = json_field_bool_opt(config, "do_lower_case", path, NULL, &lowercase, err)) ||
        (st = json_field_bool_opt(config, "tokenize_chinese_chars", path, NULL, &chinese, err)))
        return st;
    bool strip = false, strip_given = false;
    const json_t *strip_value = json_object_get(config, "strip_accents");
    if (strip_value && !json_is_null(strip_value)) {
        if ((st = json_field_bool_opt(config, "strip_accents", path, NULL, &strip, err)))
            return st;
        strip_given = true;
    }
    s->options.lowercase = lowercase;
    s->options.tokenize_chinese_chars = chinese;
    s->options.strip_accents = strip_given ? strip : -1;
    if ((st = read_specials(s, config, path, err)))
        return st;
    return read_declared_tokens(s, config, path, err);
}

/* Reads dir/name into *root when the file exists (NULL otherwise). */
static semb_status load_optional_json(const char *dir, const char *name, json_t **root,
                                      char **path, semb_error *err)
{
    *root = NULL;
    *path = path_in_dir(dir, name, err);
    if (!*path)
        return SEMB_ERR_NOMEM;
    if (!is_file(*path))
        return SEMB_OK;
    return json_file_load(*path, root, err);
}

static void init_settings(vocab_settings *s, bool roberta)
{
    *s = (vocab_settings){
        .options = {.lowercase = 1, .strip_accents = -1, .tokenize_chinese_chars = 1,
                    .roberta_processing = roberta},
    };
    static const char *const bert[SPECIAL_COUNT] = {"[UNK]", "[SEP]", "[PAD]", "[CLS]", "[MASK]"};
    static const char *const mpnet[SPECIAL_COUNT] = {"[UNK]", "</s>", "<pad>", "<s>", "<mask>"};
    for (int i = 0; i < SPECIAL_COUNT; i++)
        s->specials[i] = (added_token_spec){
            .content = roberta ? mpnet[i] : bert[i], .id = -1, .special = true};
    /* MPNetTokenizer makes a mask token given as a plain string take the space before it. */
    s->specials[SPECIAL_MASK].lstrip = roberta;
}

static semb_status build_from_settings(vocab_settings *s, const char *vocab_path,
                                       semb_tokenizer **out, semb_error *err)
{
    size_t count = s->declared_count;
    added_token_spec *all = malloc((count + SPECIAL_COUNT) * sizeof *all);
    if (!all)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", vocab_path);
    if (count)
        memcpy(all, s->declared, count * sizeof *all);
    memcpy(all + count, s->specials, sizeof s->specials);
    s->options.unk_token = s->specials[SPECIAL_UNK].content;
    s->options.sep_token = s->specials[SPECIAL_SEP].content;
    s->options.pad_token = s->specials[SPECIAL_PAD].content;
    s->options.cls_token = s->specials[SPECIAL_CLS].content;
    s->options.mask_token = s->specials[SPECIAL_MASK].content;
    semb_status st =
        tokenizer_build_from_vocab(vocab_path, &s->options, all, count + SPECIAL_COUNT, out, err);
    free(all);
    return st;
}

static semb_status load_vocab_dir(const char *dir, const char *vocab_path, bool roberta,
                                  semb_tokenizer **out, semb_error *err)
{
    vocab_settings s;
    init_settings(&s, roberta);
    json_t *config = NULL, *special_map = NULL;
    char *config_path = NULL, *map_path = NULL;
    semb_status st = load_optional_json(dir, "tokenizer_config.json", &config, &config_path, err);
    if (!st && config)
        st = read_tokenizer_config(&s, config, config_path, err);
    if (!st)
        st = load_optional_json(dir, "special_tokens_map.json", &special_map, &map_path, err);
    if (!st && special_map)
        st = read_specials(&s, special_map, map_path, err);
    if (!st)
        st = build_from_settings(&s, vocab_path, out, err);
    free(s.declared);
    json_decref(config);
    json_decref(special_map);
    free(config_path);
    free(map_path);
    return st;
}

semb_status tokenizer_load_dir(const char *dir, const char *model_type, semb_tokenizer **out,
                               semb_error *err)
{
    *out = NULL;
    char *json_path = path_in_dir(dir, "tokenizer.json", err);
    if (!json_path)
        return SEMB_ERR_NOMEM;
    if (is_file(json_path)) {
        semb_status st = tokenizer_load_json(json_path, out, err);
        free(json_path);
        return st;
    }
    free(json_path);
    char *vocab_path = path_in_dir(dir, "vocab.txt", err);
    if (!vocab_path)
        return SEMB_ERR_NOMEM;
    semb_status st = SEMB_OK;
    bool roberta = model_type && strcmp(model_type, "mpnet") == 0;
    if (!is_file(vocab_path))
        st = semb_fail(err, SEMB_ERR_IO, "%s: no tokenizer.json or vocab.txt", dir);
    else if (model_type && !roberta && strcmp(model_type, "bert") != 0 &&
             strcmp(model_type, "distilbert") != 0)
        st = semb_fail(err, SEMB_ERR_UNSUPPORTED,
                       "%s: a vocab.txt tokenizer for model type '%s' is not supported (bert, "
                       "distilbert or mpnet)",
                       dir, model_type);
    else
        st = load_vocab_dir(dir, vocab_path, roberta, out, err);
    free(vocab_path);
    return st;
}
