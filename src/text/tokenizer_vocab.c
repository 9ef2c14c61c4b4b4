/* Building a tokenizer from a WordPiece vocab.txt (one token per line, id = line number)
 * and explicit settings, as transformers' BertTokenizer / MPNetTokenizer do: BertNormalizer,
 * BertPreTokenizer, WordPiece ("##", 100 characters), the special tokens as added tokens,
 * and [CLS] A [SEP] or <s> A </s> around the sentence. */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/tokenizer_vocab.h"
#include "text/utf8.h"

static semb_status read_whole_file(const char *path, char **data, size_t *size, semb_error *err)
{
    *data = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    size_t capacity = 1 << 16, length = 0;
    char *buffer = malloc(capacity);
    semb_status st = buffer ? SEMB_OK : semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
    while (!st) {
        if (length == capacity) {
            char *grown = realloc(buffer, 2 * capacity);
            if (!grown) {
                st = semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", path);
                break;
            }
            buffer = grown;
            capacity *= 2;
        }
        size_t n = fread(buffer + length, 1, capacity - length, f);
        length += n;
        if (n == 0) {
            if (ferror(f))
                st = semb_fail(err, SEMB_ERR_IO, "%s: read error", path);
            break;
        }
    }
    fclose(f);
    if (st) {
        free(buffer);
        return st;
    }
    *data = buffer;
    *size = length;
    return SEMB_OK;
}

static size_t count_lines(const char *data, size_t size)
{
    size_t lines = 0;
    for (const char *p = data; (p = memchr(p, '\n', size - (size_t)(p - data))); p++)
        lines++;
    return lines + 1;
}

static bool is_ascii_space(char c)
{
    return c == ' ' || c == '\t' || c == '\r' || c == '\n' || c == '\v' || c == '\f';
}

/* Each line, its trailing whitespace trimmed (as tokenizers reads vocab files), is the
 * token whose id is the line number. */
static semb_status read_vocab_lines(wordpiece *model, const char *path, const char *data,
                                    size_t size, semb_error *err)
{
    size_t start = 0;
    for (int64_t line = 0; start < size; line++) {
        const char *newline = memchr(data + start, '\n', size - start);
        size_t end = newline ? (size_t)(newline - data) : size;
        size_t next = newline ? end + 1 : size;
        while (end > start && is_ascii_space(data[end - 1]))
            end--;
        size_t bad;
        if (!utf8_validate(data + start, end - start, &bad))
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: line %lld: not valid UTF-8", path,
                             (long long)line + 1);
        if (line > INT32_MAX)
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: more than %d lines", path, INT32_MAX);
        semb_status st = wordpiece_add(model, data + start, end - start, (int32_t)line, err);
        if (st)
            return st;
        start = next;
    }
    return SEMB_OK;
}

static semb_status load_vocab_file(semb_tokenizer *tok, const char *path, semb_error *err)
{
    char *data;
    size_t size = 0;
    semb_status st = read_whole_file(path, &data, &size, err);
    if (st)
        return st;
    st = wordpiece_init(&tok->model, "##", 100, count_lines(data, size), err);
    if (!st)
        st = read_vocab_lines(&tok->model, path, data, size, err);
    free(data);
    return st;
}

static const char *or_default(const char *value, const char *fallback)
{
    return value ? value : fallback;
}

static semb_status resolve_template(semb_tokenizer *tok, const char *vocab_path,
                                    const char *cls_token, const char *sep_token,
                                    semb_error *err)
{
    int32_t cls = tokenizer_token_to_id(tok, cls_token);
    int32_t sep = tokenizer_token_to_id(tok, sep_token);
    if (cls < 0 || sep < 0)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: special token '%s' has no id", vocab_path,
                         cls < 0 ? cls_token : sep_token);
    return tokenizer_set_template(tok, &cls, 1, &sep, 1, vocab_path, err);
}

semb_status tokenizer_build_from_vocab(const char *vocab_path,
                                       const tokenizer_vocab_options *opts,
                                       const added_token_spec *added, size_t added_count,
                                       semb_tokenizer **out, semb_error *err)
{
    *out = NULL;
    const bool roberta = opts->roberta_processing != 0;
    const char *unk = or_default(opts->unk_token, "[UNK]");
    const char *cls = or_default(opts->cls_token, roberta ? "<s>" : "[CLS]");
    const char *sep = or_default(opts->sep_token, roberta ? "</s>" : "[SEP]");
    const char *pad = or_default(opts->pad_token, roberta ? "<pad>" : "[PAD]");
    semb_tokenizer *tok;
    semb_status st = tokenizer_create(&tok, err);
    if (st)
        return st;
    bool lowercase = opts->lowercase != 0;
    bool strip_accents = opts->strip_accents < 0 ? lowercase : opts->strip_accents != 0;
    bert_normalizer_init(&tok->normalizer, true, opts->tokenize_chinese_chars != 0,
                         strip_accents, lowercase);
    st = load_vocab_file(tok, vocab_path, err);
    if (!st)
        st = wordpiece_set_unk(&tok->model, unk, vocab_path, "unk_token", err);
    for (size_t i = 0; !st && i < added_count; i++)
        st = tokenizer_add_token(tok, &added[i], err);
    if (!st)
        st = tokenizer_finish_added_tokens(tok, err);
    if (!st)
        st = resolve_template(tok, vocab_path, cls, sep, err);
    if (st) {
        tokenizer_free(tok);
        return st;
    }
    tok->pad_id = tokenizer_token_to_id(tok, pad);
    *out = tok;
    return SEMB_OK;
}

semb_status tokenizer_load_vocab(const char *vocab_path, const tokenizer_vocab_options *opts,
                                 semb_tokenizer **out, semb_error *err)
{
    const bool roberta = opts->roberta_processing != 0;
    /* transformers' order of special-token attributes, which decides the ids of special
     * tokens missing from the vocabulary. */
    const char *contents[5] = {
        or_default(opts->unk_token, "[UNK]"),
        or_default(opts->sep_token, roberta ? "</s>" : "[SEP]"),
        or_default(opts->pad_token, roberta ? "<pad>" : "[PAD]"),
        or_default(opts->cls_token, roberta ? "<s>" : "[CLS]"),
        or_default(opts->mask_token, roberta ? "<mask>" : "[MASK]"),
    };
    added_token_spec specs[5];
    for (int i = 0; i < 5; i++)
        specs[i] = (added_token_spec){.content = contents[i], .id = -1, .special = true};
    /* MPNetTokenizer's mask token takes the space before it. */
    specs[4].lstrip = roberta;
    return tokenizer_build_from_vocab(vocab_path, opts, specs, 5, out, err);
}
