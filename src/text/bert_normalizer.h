/* BertNormalizer of Hugging Face `tokenizers`: in this order, clean_text (drop NUL, U+FFFD
 * and control characters; turn whitespace into ' '), handle_chinese_chars (a space on each
 * side of a CJK ideograph), strip_accents (NFD, then drop nonspacing marks) and lowercase
 * (full per-character lowercasing, so U+0130 becomes "i" + U+0307). */
#ifndef SEMB_TEXT_BERT_NORMALIZER_H
#define SEMB_TEXT_BERT_NORMALIZER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "semb.h"

typedef struct bert_normalizer {
    bool clean_text, handle_chinese_chars, strip_accents, lowercase;
    /* What each ASCII byte becomes (-1: dropped), so ASCII text skips utf8proc. */
    int16_t ascii_map[128];
} bert_normalizer;

/* Fills n for the given options (all false: the identity, as a null normalizer). */
void bert_normalizer_init(bert_normalizer *n, bool clean_text, bool handle_chinese_chars,
                          bool strip_accents, bool lowercase);

/* Normalises text[0..length), which must be valid UTF-8, into (*out)[0..*out_length),
 * growing the caller-owned *out / *out_capacity with realloc as needed (both may start
 * NULL / 0). The output is valid UTF-8. Fails only with SEMB_ERR_NOMEM. */
semb_status bert_normalize(const bert_normalizer *n, const char *text, size_t length,
                           char **out, size_t *out_capacity, size_t *out_length,
                           semb_error *err);

#endif
