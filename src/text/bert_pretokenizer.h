/* BertPreTokenizer of Hugging Face `tokenizers`: split on whitespace (which is dropped),
 * then make every punctuation character a word of its own. */
#ifndef SEMB_TEXT_BERT_PRETOKENIZER_H
#define SEMB_TEXT_BERT_PRETOKENIZER_H

#include <stdbool.h>
#include <stddef.h>

typedef struct pretoken {
    const char *text; /* points into the text being split */
    size_t length;    /* in bytes */
    size_t chars;     /* in code points (WordPiece's max_input_chars_per_word counts these) */
} pretoken;

/* Finds the next word of text[0..length) (valid UTF-8) at or after *position, stores it in
 * *word and moves *position past it. Returns false when only whitespace is left. */
bool bert_pretokenize_next(const char *text, size_t length, size_t *position, pretoken *word);

#endif
