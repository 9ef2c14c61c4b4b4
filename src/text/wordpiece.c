#include "text/wordpiece.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

semb_status wordpiece_init(wordpiece *wp, const char *prefix, size_t max_input_chars_per_word,
                           size_t expected, semb_error *err)
{
    *wp = (wordpiece){.max_input_chars_per_word = max_input_chars_per_word,
                      .unk_id = -1,
                      .max_id = -1};
    wp->prefix_length = strlen(prefix);
    wp->prefix = malloc(wp->prefix_length + 1);
    if (!wp->prefix)
        return semb_fail(err, SEMB_ERR_NOMEM, "wordpiece: out of memory");
    memcpy(wp->prefix, prefix, wp->prefix_length + 1);
    semb_status st = vocab_table_init(&wp->words, expected, err);
    if (!st)
        st = vocab_table_init(&wp->continuations, expected / 4, err);
    if (st)
        wordpiece_free(wp);
    return st;
}

semb_status wordpiece_add(wordpiece *wp, const char *token, size_t length, int32_t id,
                          semb_error *err)
{
    semb_status st = vocab_table_put(&wp->words, token, length, id, err);
    if (!st && length >= wp->prefix_length &&
        memcmp(token, wp->prefix, wp->prefix_length) == 0)
        st = vocab_table_put(&wp->continuations, token + wp->prefix_length,
                             length - wp->prefix_length, id, err);
    if (!st && id > wp->max_id)
        wp->max_id = id;
    return st;
}

semb_status wordpiece_set_unk(wordpiece *wp, const char *unk_token, const char *source,
                              const char *field, semb_error *err)
{
    wp->unk_id = vocab_table_get(&wp->words, unk_token, strlen(unk_token));
    if (wp->unk_id < 0)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: %s: unknown token '%s' is not in the vocabulary", source, field,
                         unk_token);
    return SEMB_OK;
}

int32_t wordpiece_token_to_id(const wordpiece *wp, const char *token, size_t length)
{
    return vocab_table_get(&wp->words, token, length);
}

static bool is_continuation_byte(unsigned char c)
{
    return (c & 0xc0) == 0x80;
}

/* The id of the longest entry of table that text[start..) begins with, ending no later
 * than `length`; *end receives where it ends. -1 if none. */
static int32_t longest_match(const vocab_table *table, const unsigned char *text, size_t start,
                             size_t length, size_t *end)
{
    /* Nothing longer than the longest key can match, so start there (on a character
     * boundary) instead of at the end of the word. */
    size_t stop = length;
    if (stop - start > table->max_key_length) {
        stop = start + table->max_key_length;
        while (stop > start && is_continuation_byte(text[stop]))
            stop--;
    }
    while (stop > start) {
        int32_t id = vocab_table_get(table, (const char *)text + start, stop - start);
        if (id >= 0) {
            *end = stop;
            return id;
        }
        do
            stop--;
        while (stop > start && is_continuation_byte(text[stop]));
    }
    return -1;
}

semb_status wordpiece_encode_word(const wordpiece *wp, const pretoken *word, token_buffer *out,
                                  semb_error *err)
{
    semb_status st = token_buffer_reserve(out, word->chars + 1, err);
    if (st)
        return st;
    if (word->chars > wp->max_input_chars_per_word) {
        token_buffer_push(out, wp->unk_id);
        return SEMB_OK;
    }
    const unsigned char *text = (const unsigned char *)word->text;
    size_t first = out->count, start = 0;
    while (start < word->length) {
        const vocab_table *table = start == 0 ? &wp->words : &wp->continuations;
        size_t end = start;
        int32_t id = longest_match(table, text, start, word->length, &end);
        if (id < 0) {
            out->count = first;
            token_buffer_push(out, wp->unk_id);
            return SEMB_OK;
        }
        token_buffer_push(out, id);
        start = end;
    }
    return SEMB_OK;
}

void wordpiece_prefetch(const wordpiece *wp, const pretoken *word)
{
    if (word->chars <= wp->max_input_chars_per_word)
        vocab_table_prefetch(&wp->words, word->text, word->length);
}

void wordpiece_free(wordpiece *wp)
{
    if (!wp)
        return;
    vocab_table_free(&wp->words);
    vocab_table_free(&wp->continuations);
    free(wp->prefix);
    *wp = (wordpiece){.unk_id = -1, .max_id = -1};
}
