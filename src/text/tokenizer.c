/* Running a tokenizer: added tokens, normalisation, pre-tokenisation, WordPiece, template
 * and truncation; plus the small builder steps the loaders share. */
#include "text/tokenizer_internal.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/utf8.h"

semb_status tokenizer_create(semb_tokenizer **out, semb_error *err)
{
    *out = NULL;
    semb_tokenizer *tok = calloc(1, sizeof *tok);
    if (!tok)
        return semb_fail(err, SEMB_ERR_NOMEM, "tokenizer: out of memory");
    bert_normalizer_init(&tok->normalizer, false, false, false, false);
    tok->model.unk_id = -1;
    tok->model.max_id = -1;
    tok->pad_id = -1;
    *out = tok;
    return SEMB_OK;
}

void tokenizer_free(semb_tokenizer *tok)
{
    if (!tok)
        return;
    for (size_t i = 0; i < tok->added_count; i++) {
        free(tok->added[i].content);
        free(tok->added[i].pattern);
    }
    free(tok->added);
    added_token_matcher_free(&tok->raw_matcher);
    added_token_matcher_free(&tok->normalized_matcher);
    wordpiece_free(&tok->model);
    free(tok);
}

static const added_token *find_added(const semb_tokenizer *tok, const char *content)
{
    for (size_t i = 0; i < tok->added_count; i++)
        if (strcmp(tok->added[i].content, content) == 0)
            return &tok->added[i];
    return NULL;
}

/* As tokenizers does for a token not in the vocabulary: one past the largest id so far. */
static int32_t next_free_id(const semb_tokenizer *tok)
{
    int32_t max = tok->model.max_id;
    for (size_t i = 0; i < tok->added_count; i++)
        if (tok->added[i].id > max)
            max = tok->added[i].id;
    return max + 1;
}

static semb_status normalized_pattern(const semb_tokenizer *tok, const char *content,
                                      char **pattern, size_t *length, semb_error *err)
{
    size_t capacity = 0;
    *pattern = NULL;
    return bert_normalize(&tok->normalizer, content, strlen(content), pattern, &capacity, length,
                          err);
}

semb_status tokenizer_add_token(semb_tokenizer *tok, const added_token_spec *spec,
                                semb_error *err)
{
    if (find_added(tok, spec->content))
        return SEMB_OK;
    if (tok->added_count == tok->added_capacity) {
        size_t capacity = tok->added_capacity ? 2 * tok->added_capacity : 8;
        added_token *grown = realloc(tok->added, capacity * sizeof *grown);
        if (!grown)
            return semb_fail(err, SEMB_ERR_NOMEM, "tokenizer: out of memory");
        tok->added = grown;
        tok->added_capacity = capacity;
    }
    added_token t = {
        .id = spec->id,
        .single_word = spec->single_word,
        .lstrip = spec->lstrip,
        .rstrip = spec->rstrip,
        .normalized = spec->normalized,
        .special = spec->special,
    };
    if (t.id < 0) {
        t.id = tokenizer_token_to_id(tok, spec->content);
        if (t.id < 0)
            t.id = next_free_id(tok);
    }
    t.content = strdup(spec->content);
    semb_status st =
        t.content ? SEMB_OK : semb_fail(err, SEMB_ERR_NOMEM, "tokenizer: out of memory");
    if (!st && t.normalized) {
        st = normalized_pattern(tok, t.content, &t.pattern, &t.pattern_length, err);
    } else if (!st) {
        t.pattern = strdup(t.content);
        t.pattern_length = strlen(t.content);
        if (!t.pattern)
            st = semb_fail(err, SEMB_ERR_NOMEM, "tokenizer: out of memory");
    }
    if (st) {
        free(t.content);
        free(t.pattern);
        return st;
    }
    tok->added[tok->added_count++] = t;
    return SEMB_OK;
}

semb_status tokenizer_finish_added_tokens(semb_tokenizer *tok, semb_error *err)
{
    added_token_matcher_free(&tok->raw_matcher);
    added_token_matcher_free(&tok->normalized_matcher);
    semb_status st = added_token_matcher_init(&tok->raw_matcher, tok->added, tok->added_count,
                                              false, err);
    if (!st)
        st = added_token_matcher_init(&tok->normalized_matcher, tok->added, tok->added_count,
                                      true, err);
    return st;
}

semb_status tokenizer_set_template(semb_tokenizer *tok, const int32_t *prefix_ids,
                                   size_t prefix_count, const int32_t *suffix_ids,
                                   size_t suffix_count, const char *source, semb_error *err)
{
    if (prefix_count > TOKENIZER_MAX_TEMPLATE_IDS || suffix_count > TOKENIZER_MAX_TEMPLATE_IDS)
        return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                         "%s: more than %d special tokens on one side of the sentence", source,
                         TOKENIZER_MAX_TEMPLATE_IDS);
    /* tokenizer_vocab_size bounds every id the model looks up: one past it reads outside
     * the embedding table */
    int32_t limit = next_free_id(tok);
    for (size_t i = 0; i < prefix_count + suffix_count; i++) {
        int32_t id = i < prefix_count ? prefix_ids[i] : suffix_ids[i - prefix_count];
        if (id < 0 || id >= limit)
            return semb_fail(err, SEMB_ERR_FORMAT,
                             "%s: special token id %d of the post-processor is outside the "
                             "vocabulary (%d ids)",
                             source, id, limit);
    }
    memcpy(tok->prefix_ids, prefix_ids, prefix_count * sizeof *prefix_ids);
    memcpy(tok->suffix_ids, suffix_ids, suffix_count * sizeof *suffix_ids);
    tok->prefix_count = prefix_count;
    tok->suffix_count = suffix_count;
    return SEMB_OK;
}

/* --- encoding ------------------------------------------------------------------------- */

typedef struct encode_state {
    const semb_tokenizer *tok;
    token_buffer *out;
    size_t limit; /* out->count at which the content is truncated */
    bool full;
} encode_state;

/* Truncation keeps the first ids, so once the limit is reached the rest of the text need
 * not be tokenised: the result is the same. */
static void check_limit(encode_state *state)
{
    if (state->out->count >= state->limit) {
        state->out->count = state->limit;
        state->full = true;
    }
}

static semb_status push_added_token(encode_state *state, int32_t id, semb_error *err)
{
    semb_status st = token_buffer_reserve(state->out, 1, err);
    if (st)
        return st;
    token_buffer_push(state->out, id);
    check_limit(state);
    return SEMB_OK;
}

/* Words are split off a batch at a time and their first vocabulary slots prefetched, so
 * the cache misses of a batch overlap instead of queueing one behind the other. */
#define WORD_BATCH 16

static semb_status encode_words(encode_state *state, const char *text, size_t length,
                                semb_error *err)
{
    const wordpiece *model = &state->tok->model;
    size_t position = 0;
    pretoken words[WORD_BATCH];
    while (!state->full) {
        size_t count = 0;
        while (count < WORD_BATCH && bert_pretokenize_next(text, length, &position, &words[count]))
            wordpiece_prefetch(model, &words[count++]);
        for (size_t i = 0; i < count && !state->full; i++) {
            semb_status st = wordpiece_encode_word(model, &words[i], state->out, err);
            if (st)
                return st;
            check_limit(state);
        }
        if (count < WORD_BATCH)
            break;
    }
    return SEMB_OK;
}

/* Normalised text: split at normalized added tokens, the pieces between go to the
 * pre-tokenizer and WordPiece. */
static semb_status encode_normalized(encode_state *state, const char *text, size_t length,
                                     semb_error *err)
{
    const added_token_matcher *m = &state->tok->normalized_matcher;
    added_token_scan scan = {0, 0};
    added_token_match match;
    semb_status st = SEMB_OK;
    while (!st && !state->full && added_token_next(m, text, length, &scan, &match)) {
        st = encode_words(state, text + match.before_start,
                          match.before_end - match.before_start, err);
        if (!st && !state->full)
            st = push_added_token(state, match.id, err);
    }
    if (!st && !state->full)
        st = encode_words(state, text + scan.covered_to, length - scan.covered_to, err);
    return st;
}

/* A piece of the raw text between two raw added tokens: normalised into the buffer's
 * scratch space, then encoded. */
static semb_status encode_raw_piece(encode_state *state, const char *text, size_t length,
                                    semb_error *err)
{
    if (length == 0 || state->full)
        return SEMB_OK;
    token_buffer *out = state->out;
    size_t normalized_length;
    semb_status st = bert_normalize(&state->tok->normalizer, text, length, &out->scratch,
                                    &out->scratch_capacity, &normalized_length, err);
    if (st)
        return st;
    return encode_normalized(state, out->scratch, normalized_length, err);
}

static semb_status push_ids(token_buffer *out, const int32_t *ids, size_t count,
                            semb_error *err)
{
    semb_status st = token_buffer_reserve(out, count, err);
    if (st)
        return st;
    for (size_t i = 0; i < count; i++)
        token_buffer_push(out, ids[i]);
    return SEMB_OK;
}

static semb_status encode_content(encode_state *state, const char *text, size_t length,
                                  semb_error *err)
{
    const added_token_matcher *m = &state->tok->raw_matcher;
    added_token_scan scan = {0, 0};
    added_token_match match;
    semb_status st = SEMB_OK;
    while (!st && !state->full && added_token_next(m, text, length, &scan, &match)) {
        st = encode_raw_piece(state, text + match.before_start,
                              match.before_end - match.before_start, err);
        if (!st && !state->full)
            st = push_added_token(state, match.id, err);
    }
    if (!st)
        st = encode_raw_piece(state, text + scan.covered_to, length - scan.covered_to, err);
    return st;
}

semb_status tokenizer_encode(const semb_tokenizer *tok, const char *text, size_t length,
                             size_t max_tokens, token_buffer *out, semb_error *err)
{
    out->count = 0;
    if (!text && length > 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "tokenizer_encode: text is NULL");
    size_t bad_offset;
    if (!utf8_validate(text, length, &bad_offset))
        return semb_fail(err, SEMB_ERR_INPUT, "text is not valid UTF-8 (at byte offset %zu)",
                         bad_offset);
    size_t special = tok->prefix_count + tok->suffix_count;
    if (max_tokens > 0 && max_tokens < special)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "max_tokens %zu leaves no room for the %zu special tokens", max_tokens,
                         special);
    encode_state state = {
        .tok = tok,
        .out = out,
        .limit = max_tokens > 0 ? max_tokens - tok->suffix_count : SIZE_MAX,
    };
    semb_status st = push_ids(out, tok->prefix_ids, tok->prefix_count, err);
    if (!st) {
        check_limit(&state);
        st = encode_content(&state, text, length, err);
    }
    if (!st)
        st = push_ids(out, tok->suffix_ids, tok->suffix_count, err);
    if (st)
        out->count = 0;
    return st;
}

/* --- queries -------------------------------------------------------------------------- */

bool tokenizer_lowercases(const semb_tokenizer *tok)
{
    return tok->normalizer.lowercase;
}

size_t tokenizer_vocab_size(const semb_tokenizer *tok)
{
    return (size_t)(next_free_id(tok));
}

int32_t tokenizer_pad_id(const semb_tokenizer *tok)
{
    return tok->pad_id;
}

size_t tokenizer_num_special_tokens(const semb_tokenizer *tok)
{
    return tok->prefix_count + tok->suffix_count;
}

int32_t tokenizer_token_to_id(const semb_tokenizer *tok, const char *token)
{
    const added_token *t = find_added(tok, token);
    if (t)
        return t->id;
    return wordpiece_token_to_id(&tok->model, token, strlen(token));
}
