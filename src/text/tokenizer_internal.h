/* The tokenizer's representation, shared by the files that build it (tokenizer.json,
 * vocab.txt, model folder) and the one that runs it. Not for other modules. */
#ifndef SEMB_TEXT_TOKENIZER_INTERNAL_H
#define SEMB_TEXT_TOKENIZER_INTERNAL_H

#include <stdbool.h>

#include "text/added_tokens.h"
#include "text/bert_normalizer.h"
#include "text/tokenizer.h"
#include "text/wordpiece.h"

/* Most ids a post-processor template may put on either side of the sentence. */
#define TOKENIZER_MAX_TEMPLATE_IDS 8

struct semb_tokenizer {
    bert_normalizer normalizer;
    wordpiece model;
    added_token *added; /* in the order they were added; ids unique per content */
    size_t added_count, added_capacity;
    added_token_matcher raw_matcher, normalized_matcher;
    int32_t prefix_ids[TOKENIZER_MAX_TEMPLATE_IDS]; /* post-processor: before the sentence */
    int32_t suffix_ids[TOKENIZER_MAX_TEMPLATE_IDS]; /* and after it */
    size_t prefix_count, suffix_count;
    int32_t pad_id; /* -1: none */
};

/* How one added token is declared (tokenizer.json added_tokens, or a special token). */
typedef struct added_token_spec {
    const char *content;
    int32_t id; /* < 0: the token's id in the vocabulary, else the next free id */
    bool single_word, lstrip, rstrip, normalized, special;
} added_token_spec;

/* A new tokenizer with the identity normaliser, no vocabulary, no added tokens and no
 * post-processor; *out is owned by the caller (tokenizer_free). */
semb_status tokenizer_create(semb_tokenizer **out, semb_error *err);

/* Adds one added token. Set the normaliser and vocabulary first: normalized tokens are
 * matched in their normalised form, computed here. A content already added is ignored.
 * Call tokenizer_finish_added_tokens after the last one. */
semb_status tokenizer_add_token(semb_tokenizer *tok, const added_token_spec *spec,
                                semb_error *err);

/* Builds the added-token matchers. */
semb_status tokenizer_finish_added_tokens(semb_tokenizer *tok, semb_error *err);

/* Sets the post-processor to prefix_ids, sentence, suffix_ids. Fails with
 * SEMB_ERR_UNSUPPORTED (naming source) when either side is longer than
 * TOKENIZER_MAX_TEMPLATE_IDS. */
semb_status tokenizer_set_template(semb_tokenizer *tok, const int32_t *prefix_ids,
                                   size_t prefix_count, const int32_t *suffix_ids,
                                   size_t suffix_count, const char *source, semb_error *err);

#endif
