/* Character-level helpers for the BERT tokenizer: decoding and encoding valid UTF-8, and
 * the character classes Hugging Face `tokenizers` uses (whitespace, control, punctuation,
 * CJK ideograph, word character), answered from utf8proc's Unicode tables. */
#ifndef SEMB_TEXT_UNICODE_CHARS_H
#define SEMB_TEXT_UNICODE_CHARS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Decodes the code point starting at s[0] of text already checked by utf8_validate;
 * *size receives its length in bytes (1-4). */
static inline int32_t utf8_decode_valid(const unsigned char *s, size_t *size)
{
    unsigned c = s[0];
    if (c < 0x80) {
        *size = 1;
        return (int32_t)c;
    }
    if (c < 0xe0) {
        *size = 2;
        return (int32_t)(((c & 0x1f) << 6) | (s[1] & 0x3f));
    }
    if (c < 0xf0) {
        *size = 3;
        return (int32_t)(((c & 0x0f) << 12) | ((s[1] & 0x3f) << 6) | (s[2] & 0x3f));
    }
    *size = 4;
    return (int32_t)(((c & 0x07) << 18) | ((s[1] & 0x3f) << 12) | ((s[2] & 0x3f) << 6) |
                     (s[3] & 0x3f));
}

/* Writes code point cp (a valid scalar value) as UTF-8 to dst; returns the byte count. */
static inline size_t utf8_encode(int32_t cp, char *dst)
{
    unsigned char *d = (unsigned char *)dst;
    if (cp < 0x80) {
        d[0] = (unsigned char)cp;
        return 1;
    }
    if (cp < 0x800) {
        d[0] = (unsigned char)(0xc0 | (cp >> 6));
        d[1] = (unsigned char)(0x80 | (cp & 0x3f));
        return 2;
    }
    if (cp < 0x10000) {
        d[0] = (unsigned char)(0xe0 | (cp >> 12));
        d[1] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
        d[2] = (unsigned char)(0x80 | (cp & 0x3f));
        return 3;
    }
    d[0] = (unsigned char)(0xf0 | (cp >> 18));
    d[1] = (unsigned char)(0x80 | ((cp >> 12) & 0x3f));
    d[2] = (unsigned char)(0x80 | ((cp >> 6) & 0x3f));
    d[3] = (unsigned char)(0x80 | (cp & 0x3f));
    return 4;
}

/* Rust's char::is_whitespace: the Unicode White_Space property. */
bool unicode_is_whitespace(int32_t cp);

/* BertNormalizer's "control": categories Cc, Cf and Co, except tab, newline and carriage
 * return (which count as whitespace). */
bool unicode_is_bert_control(int32_t cp);

/* BertPreTokenizer's punctuation: ASCII punctuation (which includes symbols such as $ + <
 * = > ^ ` | ~) or any Unicode P* category. */
bool unicode_is_bert_punctuation(int32_t cp);

/* BertNormalizer's "Chinese character": the CJK ideograph blocks tokenizers lists. */
bool unicode_is_cjk_ideograph(int32_t cp);

/* Category Mn (nonspacing mark), the marks strip_accents removes after NFD. */
bool unicode_is_nonspacing_mark(int32_t cp);

/* A regex \w character (letters, marks, decimal digits, letter numbers, connector
 * punctuation, ZWJ/ZWNJ), used by single_word added tokens. */
bool unicode_is_word_char(int32_t cp);

#endif
