/* Loading a Hugging Face tokenizer.json that describes a WordPiece tokenizer. Its
 * truncation and padding sections are not applied: callers choose truncation per call, as
 * sentence-transformers does, and semb never pads. */
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"
#include "io/json_file.h"
#include "text/tokenizer_internal.h"

#define TEMPLATE_FIELD "post_processor.single"

static semb_status read_normalizer(semb_tokenizer *tok, const json_t *root, const char *path,
                                   semb_error *err)
{
    json_t *normalizer;
    semb_status st = json_field_object_opt(root, "normalizer", path, NULL, &normalizer, err);
    if (st || !normalizer)
        return st; /* null: no normalisation, the identity tokenizer_create set up */
    const char *type;
    if ((st = json_field_string(normalizer, "type", path, "normalizer", &type, err)))
        return st;
    if (strcmp(type, "BertNormalizer") != 0)
        return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                         "%s: normalizer.type: '%s' is not supported (only BertNormalizer)", path,
                         type);
    bool clean_text = true, handle_chinese_chars = true, lowercase = true;
    if ((st = json_field_bool_opt(normalizer, "clean_text", path, "normalizer", &clean_text,
                                  err)) ||
        (st = json_field_bool_opt(normalizer, "handle_chinese_chars", path, "normalizer",
                                  &handle_chinese_chars, err)) ||
        (st = json_field_bool_opt(normalizer, "lowercase", path, "normalizer", &lowercase, err)))
        return st;
    /* strip_accents null (or absent) means "strip when lowercasing". */
    bool strip_accents = lowercase;
    if ((st = json_field_bool_opt(normalizer, "strip_accents", path, "normalizer",
                                  &strip_accents, err)))
        return st;
    bert_normalizer_init(&tok->normalizer, clean_text, handle_chinese_chars, strip_accents,
                         lowercase);
    return SEMB_OK;
}

static semb_status check_pre_tokenizer(const json_t *root, const char *path, semb_error *err)
{
    json_t *pre;
    semb_status st = json_field_object_opt(root, "pre_tokenizer", path, NULL, &pre, err);
    if (st)
        return st;
    const char *type = NULL;
    if (pre && (st = json_field_string_opt(pre, "type", path, "pre_tokenizer", &type, err)))
        return st;
    if (!type || strcmp(type, "BertPreTokenizer") != 0)
        return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                         "%s: pre_tokenizer.type: '%s' is not supported (only BertPreTokenizer)",
                         path, type ? type : "null");
    return SEMB_OK;
}

/* tokenizers' untagged model form (no "type") is recognised by its fields. */
static const char *model_type(const json_t *model)
{
    if (json_object_get(model, "merges"))
        return "BPE";
    if (json_object_get(model, "continuing_subword_prefix") ||
        json_object_get(model, "max_input_chars_per_word"))
        return "WordPiece";
    return NULL;
}

static semb_status read_vocab(semb_tokenizer *tok, const json_t *vocab, const char *path,
                              semb_error *err)
{
    const char *token;
    const json_t *value;
    json_object_foreach ((json_t *)vocab, token, value) {
        if (!json_is_integer(value) || json_integer_value(value) < 0 ||
            json_integer_value(value) > INT32_MAX)
            return semb_fail(err, SEMB_ERR_FORMAT,
                             "%s: model.vocab: '%s': expected a non-negative integer id", path,
                             token);
        semb_status st = wordpiece_add(&tok->model, token, strlen(token),
                                       (int32_t)json_integer_value(value), err);
        if (st)
            return st;
    }
    return SEMB_OK;
}

static semb_status read_model(semb_tokenizer *tok, const json_t *root, const char *path,
                              semb_error *err)
{
    json_t *model;
    semb_status st = json_field_object_opt(root, "model", path, NULL, &model, err);
    if (st)
        return st;
    if (!model)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: model: missing", path);
    const char *type = NULL;
    if ((st = json_field_string_opt(model, "type", path, "model", &type, err)))
        return st;
    if (!type)
        type = model_type(model);
    if (!type)
        return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                         "%s: model.type: missing, and the model is not a WordPiece one", path);
    if (strcmp(type, "WordPiece") != 0)
        return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                         "%s: model.type: '%s' is not supported (only WordPiece)", path, type);
    const char *unk_token = "[UNK]", *prefix = "##";
    long long max_chars = 100;
    if ((st = json_field_string_opt(model, "unk_token", path, "model", &unk_token, err)) ||
        (st = json_field_string_opt(model, "continuing_subword_prefix", path, "model", &prefix,
                                    err)) ||
        (st = json_field_int_opt(model, "max_input_chars_per_word", path, "model", &max_chars,
                                 err)))
        return st;
    if (max_chars < 0)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: model.max_input_chars_per_word: %lld is negative", path, max_chars);
    json_t *vocab;
    if ((st = json_field_object_opt(model, "vocab", path, "model", &vocab, err)))
        return st;
    if (!vocab)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: model.vocab: missing", path);
    if ((st = wordpiece_init(&tok->model, prefix, (size_t)max_chars, json_object_size(vocab),
                             err)))
        return st;
    if ((st = read_vocab(tok, vocab, path, err)))
        return st;
    return wordpiece_set_unk(&tok->model, unk_token, path, "model.unk_token", err);
}

static semb_status read_added_token(semb_tokenizer *tok, const json_t *item, const char *path,
                                    const char *field, semb_error *err)
{
    if (!json_is_object(item))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: %s: expected an object", path, field);
    const char *content = NULL;
    long long id = -1;
    semb_status st;
    if ((st = json_field_string(item, "content", path, field, &content, err)) ||
        (st = json_field_int_opt(item, "id", path, field, &id, err)))
        return st;
    if (id < 0 || id > INT32_MAX)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: %s.id: missing or not a valid id", path,
                         field);
    /* Like tokenizers, take the id from the vocabulary (or the next free one) and only
     * check that the file gives one. */
    added_token_spec spec = {.content = content, .id = -1};
    if ((st = json_field_bool_opt(item, "special", path, field, &spec.special, err)))
        return st;
    spec.normalized = !spec.special; /* tokenizers' default */
    if ((st = json_field_bool_opt(item, "single_word", path, field, &spec.single_word, err)) ||
        (st = json_field_bool_opt(item, "lstrip", path, field, &spec.lstrip, err)) ||
        (st = json_field_bool_opt(item, "rstrip", path, field, &spec.rstrip, err)) ||
        (st = json_field_bool_opt(item, "normalized", path, field, &spec.normalized, err)))
        return st;
    return tokenizer_add_token(tok, &spec, err);
}

static semb_status read_added_tokens(semb_tokenizer *tok, const json_t *root, const char *path,
                                     semb_error *err)
{
    const json_t *list = json_object_get(root, "added_tokens");
    if (list && !json_is_null(list) && !json_is_array(list))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: added_tokens: expected an array", path);
    for (size_t i = 0; list && i < json_array_size(list); i++) {
        char field[48];
        snprintf(field, sizeof field, "added_tokens[%zu]", i);
        semb_status st = read_added_token(tok, json_array_get(list, i), path, field, err);
        if (st)
            return st;
    }
    return tokenizer_finish_added_tokens(tok, err);
}

/* Appends the ids of special token `name` (post_processor.special_tokens[name].ids). */
static semb_status template_special_ids(const json_t *specials, const char *name,
                                        const char *path, int32_t *ids, size_t *count,
                                        semb_error *err)
{
    const json_t *entry = json_object_get(specials, name);
    const json_t *list = json_object_get(entry, "ids");
    if (!json_is_array(list))
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: post_processor.special_tokens: '%s' is missing or has no ids", path,
                         name);
    for (size_t i = 0; i < json_array_size(list); i++) {
        const json_t *id = json_array_get(list, i);
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) > INT32_MAX)
            return semb_fail(err, SEMB_ERR_FORMAT,
                             "%s: post_processor.special_tokens.%s.ids: expected token ids", path,
                             name);
        if (*count == TOKENIZER_MAX_TEMPLATE_IDS)
            return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                             "%s: " TEMPLATE_FIELD ": more than %d special tokens on one side",
                             path, TOKENIZER_MAX_TEMPLATE_IDS);
        ids[(*count)++] = (int32_t)json_integer_value(id);
    }
    return SEMB_OK;
}

static semb_status read_template(semb_tokenizer *tok, const json_t *processor, const char *path,
                                 semb_error *err)
{
    const json_t *single = json_object_get(processor, "single");
    const json_t *specials = json_object_get(processor, "special_tokens");
    if (!json_is_array(single))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: " TEMPLATE_FIELD ": expected an array", path);
    int32_t ids[2][TOKENIZER_MAX_TEMPLATE_IDS];
    size_t counts[2] = {0, 0};
    int sequences = 0;
    for (size_t i = 0; i < json_array_size(single); i++) {
        const json_t *piece = json_array_get(single, i);
        const json_t *special = json_object_get(piece, "SpecialToken");
        const json_t *sequence = json_object_get(piece, "Sequence");
        const char *name = json_string_value(json_object_get(special ? special : sequence, "id"));
        if (!name)
            return semb_fail(err, SEMB_ERR_FORMAT,
                             "%s: " TEMPLATE_FIELD "[%zu]: expected a SpecialToken or a Sequence "
                             "with an id",
                             path, i);
        if (sequence) {
            if (strcmp(name, "A") != 0 || sequences++ > 0)
                return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                                 "%s: " TEMPLATE_FIELD ": only templates with one $A are supported",
                                 path);
            continue;
        }
        semb_status st =
            template_special_ids(specials, name, path, ids[sequences], &counts[sequences], err);
        if (st)
            return st;
    }
    if (sequences != 1)
        return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                         "%s: " TEMPLATE_FIELD ": only templates with one $A are supported", path);
    return tokenizer_set_template(tok, ids[0], counts[0], ids[1], counts[1], path, err);
}

/* RobertaProcessing and BertProcessing: "cls": ["<s>", 0], "sep": ["</s>", 2]. */
static semb_status read_cls_sep(semb_tokenizer *tok, const json_t *processor, const char *path,
                                semb_error *err)
{
    int32_t ids[2];
    const char *keys[2] = {"cls", "sep"};
    for (int i = 0; i < 2; i++) {
        const json_t *pair = json_object_get(processor, keys[i]);
        const json_t *id = json_array_get(pair, 1);
        if (!json_is_integer(id) || json_integer_value(id) < 0 ||
            json_integer_value(id) > INT32_MAX)
            return semb_fail(err, SEMB_ERR_FORMAT,
                             "%s: post_processor.%s: expected [token, id]", path, keys[i]);
        ids[i] = (int32_t)json_integer_value(id);
    }
    return tokenizer_set_template(tok, &ids[0], 1, &ids[1], 1, path, err);
}

static semb_status read_post_processor(semb_tokenizer *tok, const json_t *root,
                                       const char *path, semb_error *err)
{
    json_t *processor;
    semb_status st = json_field_object_opt(root, "post_processor", path, NULL, &processor, err);
    if (st || !processor)
        return st;
    const char *type = NULL;
    if ((st = json_field_string_opt(processor, "type", path, "post_processor", &type, err)))
        return st;
    if (type && strcmp(type, "TemplateProcessing") == 0)
        return read_template(tok, processor, path, err);
    if (type && (strcmp(type, "RobertaProcessing") == 0 || strcmp(type, "BertProcessing") == 0))
        return read_cls_sep(tok, processor, path, err);
    return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                     "%s: post_processor.type: '%s' is not supported (only TemplateProcessing, "
                     "RobertaProcessing and BertProcessing)",
                     path, type ? type : "missing");
}

static semb_status read_pad_id(semb_tokenizer *tok, const json_t *root, const char *path,
                               semb_error *err)
{
    json_t *padding;
    long long pad_id = -1;
    semb_status st = json_field_object_opt(root, "padding", path, NULL, &padding, err);
    if (!st && padding)
        st = json_field_int_opt(padding, "pad_id", path, "padding", &pad_id, err);
    if (st)
        return st;
    if (pad_id >= (long long)tokenizer_vocab_size(tok))
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: padding.pad_id: %lld is outside the vocabulary (%zu ids)", path,
                         pad_id, tokenizer_vocab_size(tok));
    if (pad_id >= 0)
        tok->pad_id = (int32_t)pad_id;
    else if ((tok->pad_id = tokenizer_token_to_id(tok, "[PAD]")) < 0)
        tok->pad_id = tokenizer_token_to_id(tok, "<pad>");
    return SEMB_OK;
}

semb_status tokenizer_load_json(const char *path, semb_tokenizer **out, semb_error *err)
{
    *out = NULL;
    json_t *root;
    semb_status st = json_file_load(path, &root, err);
    if (st)
        return st;
    semb_tokenizer *tok = NULL;
    if (!(st = tokenizer_create(&tok, err)) && !(st = read_normalizer(tok, root, path, err)) &&
        !(st = check_pre_tokenizer(root, path, err)) && !(st = read_model(tok, root, path, err)) &&
        !(st = read_added_tokens(tok, root, path, err)) &&
        !(st = read_post_processor(tok, root, path, err)))
        st = read_pad_id(tok, root, path, err);
    json_decref(root);
    if (st) {
        tokenizer_free(tok);
        return st;
    }
    *out = tok;
    return SEMB_OK;
}
