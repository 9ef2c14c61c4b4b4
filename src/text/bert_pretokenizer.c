#include "text/bert_pretokenizer.h"

#include <stdint.h>

#include "text/unicode_chars.h"

enum char_class { CLASS_WORD = 0, CLASS_SPACE, CLASS_PUNCT };

/* ASCII classes: Rust's char::is_whitespace and char::is_ascii_punctuation. */
static const uint8_t ascii_class[128] = {
    ['\t'] = CLASS_SPACE, ['\n'] = CLASS_SPACE, ['\v'] = CLASS_SPACE, ['\f'] = CLASS_SPACE,
    ['\r'] = CLASS_SPACE, [' '] = CLASS_SPACE,
    ['!'] = CLASS_PUNCT, ['"'] = CLASS_PUNCT, ['#'] = CLASS_PUNCT, ['$'] = CLASS_PUNCT,
    ['%'] = CLASS_PUNCT, ['&'] = CLASS_PUNCT, ['\''] = CLASS_PUNCT, ['('] = CLASS_PUNCT,
    [')'] = CLASS_PUNCT, ['*'] = CLASS_PUNCT, ['+'] = CLASS_PUNCT, [','] = CLASS_PUNCT,
    ['-'] = CLASS_PUNCT, ['.'] = CLASS_PUNCT, ['/'] = CLASS_PUNCT, [':'] = CLASS_PUNCT,
    [';'] = CLASS_PUNCT, ['<'] = CLASS_PUNCT, ['='] = CLASS_PUNCT, ['>'] = CLASS_PUNCT,
    ['?'] = CLASS_PUNCT, ['@'] = CLASS_PUNCT, ['['] = CLASS_PUNCT, ['\\'] = CLASS_PUNCT,
    [']'] = CLASS_PUNCT, ['^'] = CLASS_PUNCT, ['_'] = CLASS_PUNCT, ['`'] = CLASS_PUNCT,
    ['{'] = CLASS_PUNCT, ['|'] = CLASS_PUNCT, ['}'] = CLASS_PUNCT, ['~'] = CLASS_PUNCT,
};

/* Class and byte length of the character at s[0]. */
static enum char_class classify(const unsigned char *s, size_t *size)
{
    if (s[0] < 0x80) {
        *size = 1;
        return (enum char_class)ascii_class[s[0]];
    }
    int32_t cp = utf8_decode_valid(s, size);
    if (unicode_is_whitespace(cp))
        return CLASS_SPACE;
    if (unicode_is_bert_punctuation(cp))
        return CLASS_PUNCT;
    return CLASS_WORD;
}

bool bert_pretokenize_next(const char *text, size_t length, size_t *position, pretoken *word)
{
    const unsigned char *s = (const unsigned char *)text;
    size_t i = *position, size = 0;
    enum char_class cls = CLASS_SPACE;
    while (i < length && (cls = classify(s + i, &size)) == CLASS_SPACE)
        i += size;
    if (i >= length) {
        *position = length;
        return false;
    }
    size_t start = i;
    i += size;
    size_t chars = 1;
    while (cls == CLASS_WORD && i < length) {
        if (s[i] < 0x80) {
            if (ascii_class[s[i]] != CLASS_WORD)
                break;
            i++;
        } else if (classify(s + i, &size) == CLASS_WORD) {
            i += size;
        } else {
            break;
        }
        chars++;
    }
    word->text = text + start;
    word->length = i - start;
    word->chars = chars;
    *position = i;
    return true;
}
