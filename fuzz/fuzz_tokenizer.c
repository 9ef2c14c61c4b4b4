/* libFuzzer target for the tokenizer: tokenizer.json loading and tokenizing.
 *
 * Input starting with '{': a tokenizer.json text up to the first NUL, loaded from a file;
 * the bytes after the NUL (or a fixed sentence when there is none) are then tokenized with
 * it. Any other input: text tokenized by a fixed tokenizer from the shared fixtures (the
 * first byte's low bit picks BERT's [CLS] A [SEP] or MPNet's <s> A </s>). The input's
 * length picks the truncation (max_tokens 0..7, 0 = none), so both sides of it are seen.
 * Besides the sanitizers' findings it aborts when a result breaks the contract: an id
 * outside the vocabulary, more ids than max_tokens, a failed call that leaves ids behind. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "text/tokenizer.h"

static semb_tokenizer *fixed[2];

static semb_tokenizer *load_fixture(const char *model)
{
    const char *shared = getenv("SEMB_SHARED_DIR");
    char path[4096];
    snprintf(path, sizeof path, "%s/fixtures/%s/tokenizer.json",
             shared && *shared ? shared : SEMB_SHARED_DIR_DEFAULT, model);
    semb_tokenizer *tok = NULL;
    semb_error err = {0};
    if (tokenizer_load_json(path, &tok, &err)) {
        fprintf(stderr, "fuzz_tokenizer: %s\n", err.message);
        exit(1);
    }
    return tok;
}

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    fixed[0] = load_fixture("bert-tiny-mean");
    fixed[1] = load_fixture("mpnet-tiny-mean");
    return 0;
}

static void encode_and_check(const semb_tokenizer *tok, const uint8_t *text, size_t length,
                             size_t max_tokens)
{
    token_buffer out = {0};
    semb_error err = {0};
    size_t vocab = tokenizer_vocab_size(tok);
    if (tokenizer_encode(tok, (const char *)text, length, max_tokens, &out, &err)) {
        if (out.count != 0 || !err.message[0])
            abort();
    } else {
        if (max_tokens && out.count > max_tokens)
            abort();
        if (out.count < tokenizer_num_special_tokens(tok))
            abort();
        for (size_t i = 0; i < out.count; i++)
            if (out.ids[i] < 0 || (size_t)out.ids[i] >= vocab)
                abort();
    }
    token_buffer_free(&out);
}

static void fuzz_json(const uint8_t *data, size_t size, size_t max_tokens)
{
    static const char sentence[] = "Hello, World! Ça va? [MASK] <mask> 東京 unaffable";
    fuzz_part parts[2];
    size_t n = fuzz_split(data, size, parts, 2);
    const char *path = fuzz_write("tokenizer.json", parts[0].data, parts[0].size);
    semb_tokenizer *tok = NULL;
    semb_error err = {0};
    if (tokenizer_load_json(path, &tok, &err)) {
        if (tok || !err.message[0])
            abort();
        return;
    }
    if (n == 2)
        encode_and_check(tok, parts[1].data, parts[1].size, max_tokens);
    else
        encode_and_check(tok, (const uint8_t *)sentence, strlen(sentence), max_tokens);
    int32_t pad = tokenizer_pad_id(tok);
    if (pad < -1 || (pad >= 0 && (size_t)pad >= tokenizer_vocab_size(tok)))
        abort();
    int32_t unk = tokenizer_token_to_id(tok, "[UNK]");
    if (unk < -1 || (unk >= 0 && (size_t)unk >= tokenizer_vocab_size(tok)))
        abort();
    (void)tokenizer_lowercases(tok);
    tokenizer_free(tok);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    size_t max_tokens = size % 8;
    if (size > 0 && data[0] == '{')
        fuzz_json(data, size, max_tokens);
    else
        encode_and_check(fixed[size > 0 ? data[0] & 1 : 0], data, size, max_tokens);
    return 0;
}
