/* Added tokens (special tokens such as [CLS], and user-added ones) as Hugging Face
 * `tokenizers` finds them: leftmost-longest matches, scanned left to right without
 * overlap; single_word rejects a match inside a word; lstrip / rstrip swallow whitespace
 * on that side. Tokens with normalized=false are searched in the raw text, the others in
 * the normalised text of the pieces between raw matches. */
#ifndef SEMB_TEXT_ADDED_TOKENS_H
#define SEMB_TEXT_ADDED_TOKENS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "semb.h"

typedef struct added_token {
    char *content;  /* the token as written (owned) */
    char *pattern;  /* what is searched for: content, or content normalised (owned) */
    size_t pattern_length;
    int32_t id;
    bool single_word, lstrip, rstrip, normalized, special;
} added_token;

/* The tokens searched for in one kind of text (raw or normalised). */
typedef struct added_token_matcher {
    const added_token **tokens; /* borrowed from the tokenizer's list (owned array) */
    size_t count;
    uint8_t first_bytes[32]; /* bit set: some pattern starts with this byte */
} added_token_matcher;

/* Where a scan of one text stands: the next byte to search from and the end of the last
 * match (whitespace swallowed by rstrip included). Start at {0, 0}. */
typedef struct added_token_scan {
    size_t search_from, covered_to;
} added_token_scan;

typedef struct added_token_match {
    size_t before_start, before_end; /* the text before the token (may be empty) */
    int32_t id;
} added_token_match;

/* Builds a matcher over the tokens of list[0..count) whose `normalized` flag equals
 * `normalized` and whose pattern is not empty. SEMB_ERR_NOMEM on failure. */
semb_status added_token_matcher_init(added_token_matcher *m, const added_token *list,
                                     size_t count, bool normalized, semb_error *err);

/* Finds the next token in text[0..length) (valid UTF-8) after scan. On true, *match holds
 * the token id and the text between the previous token and this one, and scan has moved
 * on; on false the text from scan->covered_to to the end is left. */
bool added_token_next(const added_token_matcher *m, const char *text, size_t length,
                      added_token_scan *scan, added_token_match *match);

void added_token_matcher_free(added_token_matcher *m);

#endif
