/* The WordPiece model of Hugging Face `tokenizers`: each word is split greedily into the
 * longest vocabulary entries from the left, pieces after the first carrying the
 * continuing-subword prefix ("##"); a word with an unmatched rest, or longer than
 * max_input_chars_per_word characters, becomes the unknown token as a whole. */
#ifndef SEMB_TEXT_WORDPIECE_H
#define SEMB_TEXT_WORDPIECE_H

#include <stddef.h>
#include <stdint.h>

#include "text/bert_pretokenizer.h"
#include "text/token_buffer.h"
#include "text/vocab.h"

typedef struct wordpiece {
    vocab_table words;         /* every vocabulary entry, as written */
    vocab_table continuations; /* the entries that start with the prefix, without it */
    char *prefix;
    size_t prefix_length;
    size_t max_input_chars_per_word;
    int32_t unk_id; /* -1 until wordpiece_set_unk */
    int32_t max_id; /* largest id added, -1 when empty */
} wordpiece;

/* Prepares an empty model for about `expected` entries. prefix is copied. On failure the
 * model needs no wordpiece_free. */
semb_status wordpiece_init(wordpiece *wp, const char *prefix, size_t max_input_chars_per_word,
                           size_t expected, semb_error *err);

/* Adds the vocabulary entry token[0..length) with id (>= 0); a repeated entry takes the
 * new id. */
semb_status wordpiece_add(wordpiece *wp, const char *token, size_t length, int32_t id,
                          semb_error *err);

/* Sets the unknown token, which must be in the vocabulary: otherwise SEMB_ERR_FORMAT
 * "<source>: <field>: unknown token '<unk>' is not in the vocabulary". */
semb_status wordpiece_set_unk(wordpiece *wp, const char *unk_token, const char *source,
                              const char *field, semb_error *err);

/* The id of a vocabulary entry, -1 if absent. */
int32_t wordpiece_token_to_id(const wordpiece *wp, const char *token, size_t length);

/* Appends the ids of one word to out (growing it). Fails only with SEMB_ERR_NOMEM. */
semb_status wordpiece_encode_word(const wordpiece *wp, const pretoken *word, token_buffer *out,
                                  semb_error *err);

/* Prefetches what encoding `word` looks up first (see vocab_table_prefetch). */
void wordpiece_prefetch(const wordpiece *wp, const pretoken *word);

void wordpiece_free(wordpiece *wp);

#endif
