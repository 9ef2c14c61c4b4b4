#include "text/tokenizer_write.h"

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
#include "text/utf8.h"

#define PREFIX "##"
#define MAX_INPUT_CHARS_PER_WORD 100

const tokenizer_special_tokens tokenizer_bert_specials = {"[CLS]", "[SEP]", "[PAD]", "[UNK]",
                                                          "[MASK]", NULL, NULL};

/* Writes a JSON value to path atomically; takes ownership of value (NULL: out of memory). */
static semb_status write_json(const char *path, json_t *value, semb_error *err)
{
    char *text = value ? json_dumps(value, JSON_INDENT(2) | JSON_PRESERVE_ORDER) : NULL;
    json_decref(value);
    semb_status st = text ? atomic_write_buffer(path, text, strlen(text), err)
                          : semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    free(text);
    return st;
}

static semb_status write_json_in(const char *dir, const char *name, json_t *value,
                                 semb_error *err)
{
    char *path = path_join(dir, name);
    if (!path) {
        json_decref(value);
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", dir);
    }
    semb_status st = write_json(path, value, err);
    free(path);
    return st;
}

semb_status tokenizer_write_config_files(const char *dir, const char *tokenizer_class,
                                         bool lowercase, int model_max_length,
                                         const tokenizer_special_tokens *sp, semb_error *err)
{
    json_t *cfg = json_pack("{s:s, s:b, s:b, s:i, s:s, s:s, s:s, s:s, s:s}", "tokenizer_class",
                            tokenizer_class, "do_lower_case", lowercase,
                            "tokenize_chinese_chars", 1, "model_max_length", model_max_length,
                            "cls_token", sp->cls, "sep_token", sp->sep, "pad_token", sp->pad,
                            "unk_token", sp->unk, "mask_token", sp->mask);
    if (cfg && sp->bos)
        json_object_set_new(cfg, "bos_token", json_string(sp->bos));
    if (cfg && sp->eos)
        json_object_set_new(cfg, "eos_token", json_string(sp->eos));
    semb_status st = write_json_in(dir, "tokenizer_config.json", cfg, err);
    if (st)
        return st;
    json_t *map = json_pack("{s:s, s:s, s:s, s:s, s:s}", "cls_token", sp->cls, "sep_token",
                            sp->sep, "pad_token", sp->pad, "unk_token", sp->unk, "mask_token",
                            sp->mask);
    return write_json_in(dir, "special_tokens_map.json", map, err);
}

static semb_status check_token(const char *const *tokens, size_t id, const char *what,
                               semb_error *err)
{
    const char *t = tokens[id];
    size_t length = t ? strlen(t) : 0;
    if (length == 0 || !utf8_validate(t, length, NULL) || strpbrk(t, "\r\n"))
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "%s: token %zu is empty, not UTF-8 or holds a line break", what, id);
    return SEMB_OK;
}

semb_status tokenizer_write_vocab_txt(const char *path, const char *const *tokens, size_t count,
                                      semb_error *err)
{
    for (size_t i = 0; i < count; i++) {
        semb_status st = check_token(tokens, i, path, err);
        if (st)
            return st;
    }
    atomic_file af;
    semb_status st = atomic_file_open(&af, path, err);
    if (st)
        return st;
    for (size_t i = 0; i < count; i++)
        if (fputs(tokens[i], af.fp) == EOF || fputc('\n', af.fp) == EOF) {
            int e = errno;
            atomic_file_abort(&af);
            return semb_fail(err, SEMB_ERR_IO, "%s: cannot write: %s", path, strerror(e));
        }
    return atomic_file_commit(&af, err);
}

/* The vocabulary as a JSON object in id order. */
static semb_status vocab_object(const char *path, const char *const *tokens, size_t count,
                                json_t **out, semb_error *err)
{
    json_t *vocab = json_object();
    if (!vocab)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    for (size_t i = 0; i < count; i++) {
        semb_status st = check_token(tokens, i, path, err);
        if (!st && json_object_get(vocab, tokens[i]))
            st = semb_fail(err, SEMB_ERR_INVALID_ARG,
                           "%s: token '%s' is repeated (ids %lld and %zu)", path, tokens[i],
                           (long long)json_integer_value(json_object_get(vocab, tokens[i])), i);
        if (!st && json_object_set_new(vocab, tokens[i], json_integer((json_int_t)i)) != 0)
            st = semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
        if (st) {
            json_decref(vocab);
            return st;
        }
    }
    *out = vocab;
    return SEMB_OK;
}

static json_t *added_token(const char *content, json_int_t id)
{
    return json_pack("{s:I, s:s, s:b, s:b, s:b, s:b, s:b}", "id", id, "content", content,
                     "single_word", 0, "lstrip", 0, "rstrip", 0, "normalized", 0, "special", 1);
}

static json_t *template_piece(const char *kind, const char *id, int type_id)
{
    return json_pack("{s:{s:s, s:i}}", kind, "id", id, "type_id", type_id);
}

static json_t *post_processor(const tokenizer_special_tokens *sp, json_int_t cls_id,
                              json_int_t sep_id)
{
    json_t *single = json_pack("[o, o, o]", template_piece("SpecialToken", sp->cls, 0),
                               template_piece("Sequence", "A", 0),
                               template_piece("SpecialToken", sp->sep, 0));
    json_t *pair = json_pack("[o, o, o, o, o]", template_piece("SpecialToken", sp->cls, 0),
                             template_piece("Sequence", "A", 0),
                             template_piece("SpecialToken", sp->sep, 0),
                             template_piece("Sequence", "B", 1),
                             template_piece("SpecialToken", sp->sep, 1));
    json_t *specials = json_pack("{s:{s:s, s:[I], s:[s]}, s:{s:s, s:[I], s:[s]}}", sp->cls,
                                 "id", sp->cls, "ids", cls_id, "tokens", sp->cls, sp->sep, "id",
                                 sp->sep, "ids", sep_id, "tokens", sp->sep);
    return json_pack("{s:s, s:o, s:o, s:o}", "type", "TemplateProcessing", "single", single,
                     "pair", pair, "special_tokens", specials);
}

semb_status tokenizer_write_wordpiece_json(const char *path, const char *const *tokens,
                                           size_t count, bool lowercase,
                                           const tokenizer_special_tokens *sp, semb_error *err)
{
    json_t *vocab = NULL;
    semb_status st = vocab_object(path, tokens, count, &vocab, err);
    if (st)
        return st;
    const char *roles[] = {sp->pad, sp->unk, sp->cls, sp->sep, sp->mask};
    json_int_t ids[5];
    for (size_t r = 0; r < 5; r++) {
        json_t *id = roles[r] ? json_object_get(vocab, roles[r]) : NULL;
        if (!id) {
            json_decref(vocab);
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "%s: special token '%s' is not in the vocabulary", path,
                             roles[r] ? roles[r] : "(none)");
        }
        ids[r] = json_integer_value(id);
    }
    /* tokenizers lists added tokens by id. */
    json_t *added = json_array();
    bool done[5] = {0};
    for (size_t k = 0; k < 5 && added; k++) {
        size_t best = 5;
        for (size_t r = 0; r < 5; r++)
            if (!done[r] && (best == 5 || ids[r] < ids[best]))
                best = r;
        done[best] = true;
        json_array_append_new(added, added_token(roles[best], ids[best]));
    }
    json_t *root = json_pack(
        "{s:s, s:n, s:n, s:o, s:{s:s, s:b, s:b, s:n, s:b}, s:{s:s}, s:o, s:{s:s, s:s, s:b},"
        " s:{s:s, s:s, s:s, s:i, s:o}}",
        "version", "1.0", "truncation", "padding", "added_tokens", added, "normalizer", "type",
        "BertNormalizer", "clean_text", 1, "handle_chinese_chars", 1, "strip_accents",
        "lowercase", lowercase, "pre_tokenizer", "type", "BertPreTokenizer", "post_processor",
        post_processor(sp, ids[2], ids[3]), "decoder", "type", "WordPiece", "prefix", PREFIX,
        "cleanup", 1, "model", "type", "WordPiece", "unk_token", sp->unk,
        "continuing_subword_prefix", PREFIX, "max_input_chars_per_word",
        MAX_INPUT_CHARS_PER_WORD, "vocab", vocab);
    return write_json(path, root, err);
}

static const char *const folder_files[] = {"vocab.txt", "tokenizer.json",
                                           "tokenizer_config.json", "special_tokens_map.json"};

static semb_status fill_folder(const char *dir, const char *const *tokens, size_t count,
                               bool lowercase, int model_max_length,
                               const tokenizer_special_tokens *sp, semb_error *err)
{
    char *vocab_path = path_join(dir, folder_files[0]);
    char *json_path = path_join(dir, folder_files[1]);
    semb_status st = vocab_path && json_path ? SEMB_OK
                                             : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!st)
        st = tokenizer_write_wordpiece_json(json_path, tokens, count, lowercase, sp, err);
    if (!st)
        st = tokenizer_write_vocab_txt(vocab_path, tokens, count, err);
    if (!st)
        st = tokenizer_write_config_files(dir, "BertTokenizer", lowercase, model_max_length, sp,
                                          err);
    free(vocab_path);
    free(json_path);
    return st;
}

semb_status tokenizer_write_wordpiece_folder(const char *dir, const char *const *tokens,
                                             size_t count, bool lowercase,
                                             int model_max_length,
                                             const tokenizer_special_tokens *sp,
                                             semb_error *err)
{
    atomic_folder f;
    semb_status st = atomic_folder_begin(&f, dir, false, err);
    if (st)
        return st;
    if ((st = fill_folder(f.tmp, tokens, count, lowercase, model_max_length, sp, err))) {
        atomic_folder_abort(&f);
        return st;
    }
    return atomic_folder_commit(&f, err);
}
