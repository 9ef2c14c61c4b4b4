/* Counting the corpus's words (normalised and pre-tokenized as at encode time) in a hash
 * table of distinct words; the alphabet and the merges are in wordpiece_merges.c. */
#include "text/wordpiece_trainer.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/line_source.h"
#include "text/bert_normalizer.h"
#include "text/bert_pretokenizer.h"
#include "text/utf8.h"
#include "text/wordpiece_trainer_internal.h"

#define MAX_SPECIAL_TOKEN_BYTES 1000

static uint64_t hash_bytes(const unsigned char *s, size_t n)
{
    uint64_t h = 0x9e3779b97f4a7c15ull ^ (uint64_t)n;
    for (; n >= 8; s += 8, n -= 8) {
        uint64_t v;
        memcpy(&v, s, 8);
        h = (h ^ v) * 0xbf58476d1ce4e5b9ull;
        h ^= h >> 29;
    }
    uint64_t v = 0;
    for (size_t i = 0; i < n; i++)
        v |= (uint64_t)s[i] << (8 * i);
    h = (h ^ v) * 0x94d049bb133111ebull;
    return h ^ (h >> 31);
}

semb_status wordpiece_grow(void **array, size_t *capacity, size_t needed, size_t item_size,
                           const char *what, semb_error *err)
{
    if (needed <= *capacity)
        return SEMB_OK;
    size_t capacity_new = *capacity ? *capacity : 1024;
    while (capacity_new < needed)
        capacity_new *= 2;
    void *p = realloc(*array, capacity_new * item_size);
    if (!p)
        return semb_fail(err, SEMB_ERR_NOMEM, "vocabulary training: out of memory for %s", what);
    *array = p;
    *capacity = capacity_new;
    return SEMB_OK;
}

/* ---- the word-count table: open addressing, linear probing, load <= 1/2 ---- */

typedef struct word_slot {
    uint32_t tag;   /* the hash's high bits, so most mismatches skip the memcmp */
    uint32_t index; /* word index + 1; 0: empty */
} word_slot;

static semb_status word_slots_resize(wordpiece_trainer *t, size_t slot_count, semb_error *err)
{
    word_slot *slots = calloc(slot_count, sizeof *slots);
    if (!slots)
        return semb_fail(err, SEMB_ERR_NOMEM, "vocabulary training: out of memory for %zu words",
                         t->words.count);
    size_t mask = slot_count - 1;
    for (size_t w = 0; w < t->words.count; w++) {
        uint64_t h = hash_bytes((const unsigned char *)t->words.text + t->words.offsets[w],
                                t->words.lengths[w]);
        size_t i = (size_t)h & mask;
        while (slots[i].index)
            i = (i + 1) & mask;
        slots[i] = (word_slot){(uint32_t)(h >> 32), (uint32_t)w + 1};
    }
    free(t->word_slots);
    t->word_slots = slots;
    t->word_mask = mask;
    return SEMB_OK;
}

/* Adds a word seen for the first time; slot is the empty slot its lookup ended on. */
static semb_status add_new_word(wordpiece_trainer *t, const char *word, size_t length,
                                size_t slot, uint32_t tag, semb_error *err)
{
    word_list *w = &t->words;
    if (w->count >= UINT32_MAX - 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "vocabulary training: more than %u distinct words", UINT32_MAX - 2);
    semb_status st;
    if ((st = wordpiece_grow((void **)&w->text, &w->text_capacity, w->text_length + length, 1,
                             "the words", err)) ||
        (st = wordpiece_grow((void **)&w->offsets, &w->capacity_offsets, w->count + 1,
                             sizeof *w->offsets, "the words", err)) ||
        (st = wordpiece_grow((void **)&w->lengths, &w->capacity_lengths, w->count + 1,
                             sizeof *w->lengths, "the words", err)) ||
        (st = wordpiece_grow((void **)&w->counts, &w->capacity_counts, w->count + 1,
                             sizeof *w->counts, "the words", err)))
        return st;
    memcpy(w->text + w->text_length, word, length);
    w->offsets[w->count] = w->text_length;
    w->lengths[w->count] = (uint32_t)length;
    w->counts[w->count] = 1;
    w->text_length += length;
    w->count++;
    t->word_slots[slot] = (word_slot){tag, (uint32_t)w->count};
    if (2 * w->count > t->word_mask + 1)
        return word_slots_resize(t, 2 * (t->word_mask + 1), err);
    return SEMB_OK;
}

static semb_status count_word(wordpiece_trainer *t, const char *word, size_t length,
                              semb_error *err)
{
    uint64_t h = hash_bytes((const unsigned char *)word, length);
    uint32_t tag = (uint32_t)(h >> 32);
    const word_list *w = &t->words;
    size_t i = (size_t)h & t->word_mask;
    for (;; i = (i + 1) & t->word_mask) {
        word_slot slot = t->word_slots[i];
        if (!slot.index)
            break;
        size_t k = slot.index - 1;
        if (slot.tag == tag && w->lengths[k] == length &&
            memcmp(w->text + w->offsets[k], word, length) == 0) {
            t->words.counts[k]++;
            return SEMB_OK;
        }
    }
    return add_new_word(t, word, length, i, tag, err);
}

/* ---- creating and feeding ---- */

static semb_status check_options(const wordpiece_trainer_options *o, semb_error *err)
{
    if (o->vocab_size == 0 || o->vocab_size > INT32_MAX)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "vocabulary size %zu is out of range (1 to %d)", o->vocab_size,
                         INT32_MAX);
    if (o->special_count && !o->special_tokens)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "special tokens: none given");
    for (size_t i = 0; i < o->special_count; i++) {
        const char *s = o->special_tokens[i];
        size_t length = s ? strlen(s) : 0;
        if (length == 0 || length > MAX_SPECIAL_TOKEN_BYTES || !utf8_validate(s, length, NULL))
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "special token %zu: must be 1 to %d bytes of UTF-8", i + 1,
                             MAX_SPECIAL_TOKEN_BYTES);
        for (size_t k = 0; k < i; k++)
            if (strcmp(o->special_tokens[k], s) == 0)
                return semb_fail(err, SEMB_ERR_INVALID_ARG, "special token '%s' is repeated",
                                 s);
    }
    return SEMB_OK;
}

semb_status wordpiece_trainer_create(const wordpiece_trainer_options *options,
                                     wordpiece_trainer **out, semb_error *err)
{
    *out = NULL;
    semb_status st = check_options(options, err);
    if (st)
        return st;
    wordpiece_trainer *t = calloc(1, sizeof *t);
    char **specials = calloc(options->special_count + 1, sizeof *specials);
    if (!t || !specials) {
        free(t);
        free(specials);
        return semb_fail(err, SEMB_ERR_NOMEM, "vocabulary training: out of memory");
    }
    t->options = *options;
    t->options.special_tokens = (const char *const *)specials;
    t->specials = specials;
    for (size_t i = 0; i < options->special_count && !st; i++)
        if (!(specials[i] = strdup(options->special_tokens[i])))
            st = semb_fail(err, SEMB_ERR_NOMEM, "vocabulary training: out of memory");
    bert_normalizer_init(&t->normalizer, true, true, options->lowercase, options->lowercase);
    if (!st)
        st = word_slots_resize(t, 1 << 16, err);
    if (st) {
        wordpiece_trainer_free(t);
        return st;
    }
    *out = t;
    return SEMB_OK;
}

/* Counts the words of valid UTF-8 text. */
static semb_status feed_valid(wordpiece_trainer *t, const char *text, size_t length,
                              semb_error *err)
{
    size_t normalized_length;
    semb_status st = bert_normalize(&t->normalizer, text, length, &t->scratch,
                                    &t->scratch_capacity, &normalized_length, err);
    size_t position = 0;
    pretoken word;
    while (!st && bert_pretokenize_next(t->scratch, normalized_length, &position, &word)) {
        if (word.chars > WORDPIECE_TRAINER_MAX_WORD_CHARS) {
            t->stats.long_words++;
            continue;
        }
        t->stats.words++;
        st = count_word(t, word.text, word.length, err);
    }
    t->stats.unique_words = t->words.count;
    return st;
}

semb_status wordpiece_trainer_feed(wordpiece_trainer *t, const char *text, size_t length,
                                   semb_error *err)
{
    size_t bad;
    if (!utf8_validate(text, length, &bad))
        return semb_fail(err, SEMB_ERR_INPUT, "text is not valid UTF-8 (at byte offset %zu)",
                         bad);
    t->stats.bytes += length;
    t->stats.lines++;
    return feed_valid(t, text, length, err);
}

/* Lines are fed with their "\n" (the pre-tokeniser drops it) so that bytes counts the file. */
static semb_status feed_source(wordpiece_trainer *t, line_source *source, const char *path,
                               semb_error *err)
{
    semb_status st;
    source_line line;
    bool end = false;
    while (!(st = line_source_next(source, &line, &end, err)) && !end) {
        size_t length = line.length + line.newline; /* the "\n" follows text in the buffer */
        t->stats.bytes += length;
        t->stats.lines++;
        size_t bad;
        if (!utf8_validate(line.text, length, &bad)) {
            if (!t->stats.invalid_lines++)
                snprintf(t->stats.first_invalid, sizeof t->stats.first_invalid,
                         "%s:%llu (byte offset %zu)", path, (unsigned long long)line.number,
                         bad);
            continue;
        }
        if ((st = feed_valid(t, line.text, length, err)))
            break;
    }
    return st;
}

semb_status wordpiece_trainer_feed_files(wordpiece_trainer *t, const char *const *paths,
                                         size_t path_count, semb_error *err)
{
    line_source **sources = calloc(path_count + 1, sizeof *sources);
    if (!sources)
        return semb_fail(err, SEMB_ERR_NOMEM, "vocabulary training: out of memory");
    semb_status st = SEMB_OK;
    /* every file opened before any is read: a wrong name fails at once, not after an hour */
    for (size_t i = 0; i < path_count && !st; i++)
        st = line_source_open(paths[i], LINE_SOURCE_NO_LIMIT, &sources[i], err);
    for (size_t i = 0; i < path_count && !st; i++)
        st = feed_source(t, sources[i], paths[i], err);
    for (size_t i = 0; i < path_count; i++)
        line_source_close(sources[i]);
    free(sources);
    return st;
}

const wordpiece_corpus_stats *wordpiece_trainer_stats(const wordpiece_trainer *t)
{
    return &t->stats;
}

void wordpiece_trainer_free(wordpiece_trainer *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < t->options.special_count; i++)
        free(t->specials[i]);
    free(t->specials);
    free(t->word_slots);
    free(t->words.text);
    free(t->words.offsets);
    free(t->words.lengths);
    free(t->words.counts);
    free(t->scratch);
    free(t);
}
