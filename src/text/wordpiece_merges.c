/* wordpiece_trainer_train: the initial alphabet, then BPE merges over the distinct words.
 *
 * Each word becomes a run of piece ids ("segment") weighted by the word's count. Every
 * adjacent pair keeps its total count and the segments it was seen in, so a merge visits
 * only the segments that hold the pair and updates the counts of the pairs around each
 * occurrence. The next merge comes from a max-heap of (count, pair) entries that is
 * updated lazily: a raised count pushes a fresh entry, and an entry whose count no longer
 * matches its pair when it reaches the top is pushed again with the current count (if
 * lower) or dropped (if higher: a fresher entry exists). Invariant: every pair with a
 * positive count has an entry at least as large, so an entry that matches its pair's count
 * at the top is the best pair; ties go to the smaller (left id, right id). */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "text/unicode_chars.h"
#include "text/vocab.h"
#include "text/wordpiece_trainer_internal.h"

#define PREFIX "##"
#define PREFIX_LENGTH 2

/* ---- the alphabet ---- */

typedef struct char_entry {
    int32_t code_point; /* -1: empty slot */
    bool after_start;   /* seen after the first character of some word */
    bool dropped;       /* left out by limit_alphabet */
    uint64_t count;     /* occurrences, weighted by word counts */
    int32_t id, continuation_id;
} char_entry;

typedef struct char_map {
    char_entry *slots;
    size_t mask, count;
} char_map;

static size_t char_slot(const char_map *m, int32_t cp)
{
    size_t i = ((uint32_t)cp * 0x9e3779b1u) & m->mask;
    while (m->slots[i].code_point >= 0 && m->slots[i].code_point != cp)
        i = (i + 1) & m->mask;
    return i;
}

static semb_status char_map_resize(char_map *m, size_t slot_count, semb_error *err)
{
    char_entry *slots = malloc(slot_count * sizeof *slots);
    if (!slots)
        return semb_fail(err, SEMB_ERR_NOMEM,
                         "vocabulary training: out of memory for the alphabet");
    for (size_t i = 0; i < slot_count; i++)
        slots[i].code_point = -1;
    char_map old = *m;
    m->slots = slots;
    m->mask = slot_count - 1;
    for (size_t i = 0; old.slots && i <= old.mask; i++)
        if (old.slots[i].code_point >= 0)
            m->slots[char_slot(m, old.slots[i].code_point)] = old.slots[i];
    free(old.slots);
    return SEMB_OK;
}

static semb_status count_chars(const word_list *words, char_map *m, semb_error *err)
{
    semb_status st = char_map_resize(m, 256, err);
    for (size_t w = 0; w < words->count && !st; w++) {
        const unsigned char *s = (const unsigned char *)words->text + words->offsets[w];
        for (size_t at = 0, size; at < words->lengths[w] && !st; at += size) {
            int32_t cp = utf8_decode_valid(s + at, &size);
            char_entry *e = &m->slots[char_slot(m, cp)];
            if (e->code_point < 0) {
                *e = (char_entry){.code_point = cp, .id = -1, .continuation_id = -1};
                if (2 * ++m->count > m->mask + 1) {
                    st = char_map_resize(m, 2 * (m->mask + 1), err);
                    e = &m->slots[char_slot(m, cp)];
                }
            }
            e->count += words->counts[w];
            e->after_start |= at > 0;
        }
    }
    return st;
}

static int by_code_point(const void *a, const void *b)
{
    int32_t x = (*(char_entry *const *)a)->code_point, y = (*(char_entry *const *)b)->code_point;
    return (x > y) - (x < y);
}

/* Rarest first; among equals the higher code point goes first, for determinism. */
static int by_rarity(const void *a, const void *b)
{
    const char_entry *x = *(char_entry *const *)a, *y = *(char_entry *const *)b;
    if (x->count != y->count)
        return x->count < y->count ? -1 : 1;
    return (x->code_point < y->code_point) - (x->code_point > y->code_point);
}

/* ---- the vocabulary being built ---- */

typedef struct token_list {
    char **tokens;
    size_t count, capacity;
    vocab_table index;
} token_list;

/* The id of token[0..length), added at the end when new. */
static semb_status token_intern(token_list *l, const char *token, size_t length, int32_t *id,
                                semb_error *err)
{
    *id = vocab_table_get(&l->index, token, length);
    if (*id >= 0)
        return SEMB_OK;
    semb_status st = wordpiece_grow((void **)&l->tokens, &l->capacity, l->count + 1,
                                    sizeof *l->tokens, "the vocabulary", err);
    char *copy = st ? NULL : malloc(length + 1);
    if (!st && !copy)
        st = semb_fail(err, SEMB_ERR_NOMEM, "vocabulary training: out of memory");
    if (!st)
        st = vocab_table_put(&l->index, token, length, (int32_t)l->count, err);
    if (st) {
        free(copy);
        return st;
    }
    memcpy(copy, token, length);
    copy[length] = '\0';
    *id = (int32_t)l->count;
    l->tokens[l->count++] = copy;
    return SEMB_OK;
}

static void token_list_free(token_list *l)
{
    for (size_t i = 0; i < l->count; i++)
        free(l->tokens[i]);
    free(l->tokens);
    vocab_table_free(&l->index);
}

/* Specials, then the kept characters, then "##" + those seen after a word's start, each
 * group in code point order. */
static semb_status initial_vocabulary(const wordpiece_trainer *t, char_map *chars,
                                      token_list *tokens, wordpiece_vocab *out, semb_error *err)
{
    semb_status st = SEMB_OK;
    int32_t id;
    for (size_t i = 0; i < t->options.special_count && !st; i++)
        st = token_intern(tokens, t->specials[i], strlen(t->specials[i]), &id, err);
    char_entry **sorted = malloc((chars->count + 1) * sizeof *sorted);
    if (!st && !sorted)
        st = semb_fail(err, SEMB_ERR_NOMEM, "vocabulary training: out of memory");
    if (st) {
        free(sorted);
        return st;
    }
    size_t n = 0;
    for (size_t i = 0; i <= chars->mask; i++)
        if (chars->slots[i].code_point >= 0)
            sorted[n++] = &chars->slots[i];
    size_t limit = t->options.limit_alphabet;
    if (limit && n > limit) {
        qsort(sorted, n, sizeof *sorted, by_rarity);
        for (size_t i = 0; i < n - limit; i++)
            sorted[i]->dropped = true;
        out->dropped_chars = n - limit;
    }
    qsort(sorted, n, sizeof *sorted, by_code_point);
    size_t before = tokens->count;
    char piece[PREFIX_LENGTH + 4];
    for (size_t i = 0; i < n && !st; i++)
        if (!sorted[i]->dropped) {
            size_t size = utf8_encode(sorted[i]->code_point, piece);
            st = token_intern(tokens, piece, size, &sorted[i]->id, err);
        }
    out->alphabet_size = tokens->count - before;
    before = tokens->count;
    memcpy(piece, PREFIX, PREFIX_LENGTH);
    for (size_t i = 0; i < n && !st; i++)
        if (!sorted[i]->dropped && sorted[i]->after_start) {
            size_t size = utf8_encode(sorted[i]->code_point, piece + PREFIX_LENGTH);
            st = token_intern(tokens, piece, PREFIX_LENGTH + size, &sorted[i]->continuation_id,
                              err);
        }
    out->continuation_count = tokens->count - before;
    free(sorted);
    return st;
}

/* ---- segments, pairs and the heap ---- */

typedef struct pair_record {
    uint64_t key;     /* left id << 32 | right id */
    int64_t count;    /* occurrences weighted by word counts */
    uint32_t *where;  /* segments it was counted or formed in (some may no longer hold it) */
    uint32_t where_length, where_capacity;
    uint32_t raised;  /* the merge that last raised its count */
} pair_record;

typedef struct heap_entry {
    int64_t count;
    uint64_t key;
    uint32_t pair;
} heap_entry;

/* One word (or the part of one between dropped characters) as piece ids. Kept together so
 * that visiting a segment costs one cache miss, not one per field. */
typedef struct word_segment {
    size_t start;     /* in merge_state.symbols */
    uint64_t count;   /* the word's count */
    uint32_t length;  /* pieces now */
    uint32_t visited; /* the last merge that scanned it */
} word_segment;

typedef struct merge_state {
    int32_t *symbols; /* every segment's piece ids, one after the other */
    size_t symbols_length, symbols_capacity;
    word_segment *segments;
    size_t segment_count, segment_capacity;
    pair_record *pairs;
    size_t pair_count, pair_capacity;
    uint32_t *pair_slots; /* pair index + 1; 0: empty */
    size_t pair_mask;
    heap_entry *heap;
    size_t heap_size, heap_capacity;
    uint32_t *raised; /* pairs raised by the current merge */
    size_t raised_count, raised_capacity;
    uint32_t merge_number;
} merge_state;

static semb_status add_segment(merge_state *m, const int32_t *ids, size_t n, uint64_t count,
                               semb_error *err)
{
    if (n < 2) /* a single piece has no pair and never changes */
        return SEMB_OK;
    if (m->segment_count >= UINT32_MAX - 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "vocabulary training: too many words");
    size_t k = m->segment_count;
    semb_status st;
    if ((st = wordpiece_grow((void **)&m->symbols, &m->symbols_capacity,
                             m->symbols_length + n, sizeof *m->symbols, "the words", err)) ||
        (st = wordpiece_grow((void **)&m->segments, &m->segment_capacity, k + 1,
                             sizeof *m->segments, "the words", err)))
        return st;
    memcpy(m->symbols + m->symbols_length, ids, n * sizeof *ids);
    m->segments[k] = (word_segment){m->symbols_length, count, (uint32_t)n, 0};
    m->symbols_length += n;
    m->segment_count++;
    return SEMB_OK;
}

/* Splits every word into piece ids: its first character plain, the others with "##"; a
 * dropped character ends the segment. */
static semb_status build_segments(const word_list *words, const char_map *chars,
                                  merge_state *m, semb_error *err)
{
    int32_t ids[WORDPIECE_TRAINER_MAX_WORD_CHARS];
    semb_status st = SEMB_OK;
    for (size_t w = 0; w < words->count && !st; w++) {
        const unsigned char *s = (const unsigned char *)words->text + words->offsets[w];
        size_t n = 0;
        for (size_t at = 0, size; at < words->lengths[w] && !st; at += size) {
            const char_entry *e = &chars->slots[char_slot(chars, utf8_decode_valid(s + at, &size))];
            if (e->dropped) {
                st = add_segment(m, ids, n, words->counts[w], err);
                n = 0;
            } else {
                ids[n++] = at ? e->continuation_id : e->id;
            }
        }
        if (!st)
            st = add_segment(m, ids, n, words->counts[w], err);
    }
    return st;
}

static uint64_t pair_key(int32_t left, int32_t right)
{
    return (uint64_t)(uint32_t)left << 32 | (uint32_t)right;
}

static size_t pair_slot(const merge_state *m, uint64_t key)
{
    uint64_t h = key * 0x9e3779b97f4a7c15ull;
    size_t i = (size_t)(h ^ (h >> 29)) & m->pair_mask;
    while (m->pair_slots[i] && m->pairs[m->pair_slots[i] - 1].key != key)
        i = (i + 1) & m->pair_mask;
    return i;
}

static semb_status pair_slots_resize(merge_state *m, size_t slot_count, semb_error *err)
{
    uint32_t *slots = calloc(slot_count, sizeof *slots);
    if (!slots)
        return semb_fail(err, SEMB_ERR_NOMEM, "vocabulary training: out of memory for %zu pairs",
                         m->pair_count);
    free(m->pair_slots);
    m->pair_slots = slots;
    m->pair_mask = slot_count - 1;
    for (size_t p = 0; p < m->pair_count; p++)
        m->pair_slots[pair_slot(m, m->pairs[p].key)] = (uint32_t)p + 1;
    return SEMB_OK;
}

/* The index of the pair with `key`, added with count 0 when new. */
static semb_status pair_find_or_add(merge_state *m, uint64_t key, uint32_t *index,
                                    semb_error *err)
{
    size_t i = pair_slot(m, key);
    if (m->pair_slots[i]) {
        *index = m->pair_slots[i] - 1;
        return SEMB_OK;
    }
    if (m->pair_count >= UINT32_MAX - 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "vocabulary training: too many pairs");
    semb_status st = wordpiece_grow((void **)&m->pairs, &m->pair_capacity, m->pair_count + 1,
                                    sizeof *m->pairs, "the pairs", err);
    if (st)
        return st;
    *index = (uint32_t)m->pair_count;
    m->pairs[m->pair_count++] = (pair_record){.key = key};
    m->pair_slots[i] = *index + 1;
    if (2 * m->pair_count > m->pair_mask + 1)
        return pair_slots_resize(m, 2 * (m->pair_mask + 1), err);
    return SEMB_OK;
}

static semb_status pair_raise(merge_state *m, int32_t left, int32_t right, uint32_t segment,
                              semb_error *err)
{
    uint32_t index = 0;
    semb_status st = pair_find_or_add(m, pair_key(left, right), &index, err);
    if (st)
        return st;
    pair_record *p = &m->pairs[index];
    p->count += (int64_t)m->segments[segment].count;
    if (!p->where_length || p->where[p->where_length - 1] != segment) {
        if (p->where_length == p->where_capacity) {
            /* Most pairs occur in a handful of words: start small. */
            uint32_t capacity = p->where_capacity ? 2 * p->where_capacity : 2;
            uint32_t *where = realloc(p->where, capacity * sizeof *where);
            if (!where)
                return semb_fail(err, SEMB_ERR_NOMEM, "vocabulary training: out of memory for "
                                 "the pairs");
            p->where = where;
            p->where_capacity = capacity;
        }
        p->where[p->where_length++] = segment;
    }
    if (p->raised != m->merge_number) {
        p->raised = m->merge_number;
        if ((st = wordpiece_grow((void **)&m->raised, &m->raised_capacity, m->raised_count + 1,
                                 sizeof *m->raised, "the pairs", err)))
            return st;
        m->raised[m->raised_count++] = index;
    }
    return SEMB_OK;
}

/* Every pair lowered here was counted in this segment before, so it exists. */
static void pair_lower(merge_state *m, int32_t left, int32_t right, uint32_t segment)
{
    m->pairs[m->pair_slots[pair_slot(m, pair_key(left, right))] - 1].count -=
        (int64_t)m->segments[segment].count;
}

static bool heap_before(const heap_entry *x, const heap_entry *y)
{
    return x->count > y->count || (x->count == y->count && x->key < y->key);
}

static semb_status heap_push(merge_state *m, uint32_t pair, semb_error *err)
{
    semb_status st = wordpiece_grow((void **)&m->heap, &m->heap_capacity, m->heap_size + 1,
                                    sizeof *m->heap, "the pair queue", err);
    if (st)
        return st;
    heap_entry e = {m->pairs[pair].count, m->pairs[pair].key, pair};
    size_t i = m->heap_size++;
    while (i > 0 && heap_before(&e, &m->heap[(i - 1) / 2])) {
        m->heap[i] = m->heap[(i - 1) / 2];
        i = (i - 1) / 2;
    }
    m->heap[i] = e;
    return SEMB_OK;
}

static heap_entry heap_pop(merge_state *m)
{
    heap_entry top = m->heap[0], last = m->heap[--m->heap_size];
    size_t i = 0, n = m->heap_size;
    for (;;) {
        size_t child = 2 * i + 1;
        if (child >= n)
            break;
        if (child + 1 < n && heap_before(&m->heap[child + 1], &m->heap[child]))
            child++;
        if (!heap_before(&m->heap[child], &last))
            break;
        m->heap[i] = m->heap[child];
        i = child;
    }
    if (n)
        m->heap[i] = last;
    return top;
}

/* Counts every adjacent pair and queues them. */
static semb_status count_pairs(merge_state *m, semb_error *err)
{
    semb_status st = pair_slots_resize(m, 1 << 16, err);
    m->merge_number = 1; /* new pairs start with raised == 0, so each is queued once */
    for (uint32_t s = 0; s < m->segment_count && !st; s++) {
        const int32_t *x = m->symbols + m->segments[s].start;
        for (uint32_t i = 0; i + 1 < m->segments[s].length && !st; i++)
            st = pair_raise(m, x[i], x[i + 1], s, err);
    }
    for (size_t i = 0; i < m->raised_count && !st; i++)
        st = heap_push(m, m->raised[i], err);
    m->raised_count = 0;
    return st;
}

/* Replaces every (left, right) in one segment by merged, left to right as tokenizers does
 * ("a a a" with (a, a) gives "aa a"), updating the neighbouring pairs' counts. */
static semb_status merge_segment(merge_state *m, uint32_t s, int32_t left, int32_t right,
                                 int32_t merged, semb_error *err)
{
    int32_t *x = m->symbols + m->segments[s].start;
    uint32_t n = m->segments[s].length, j = 0;
    semb_status st = SEMB_OK;
    for (uint32_t i = 0; i < n && !st;) {
        if (i + 1 < n && x[i] == left && x[i + 1] == right) {
            pair_lower(m, left, right, s);
            if (j > 0) {
                pair_lower(m, x[j - 1], left, s);
                st = pair_raise(m, x[j - 1], merged, s, err);
            }
            if (!st && i + 2 < n) {
                pair_lower(m, right, x[i + 2], s);
                st = pair_raise(m, merged, x[i + 2], s, err);
            }
            x[j++] = merged;
            i += 2;
        } else {
            x[j++] = x[i++];
        }
    }
    m->segments[s].length = j;
    return st;
}

/* The entry of the best pair in *best, and *found when its count is at least min_count.
 * When no pair is left, *best is zeroed. */
static semb_status next_pair(merge_state *m, int64_t min_count, bool *found, heap_entry *best,
                             semb_error *err)
{
    *found = false;
    *best = (heap_entry){0};
    while (m->heap_size) {
        heap_entry e = heap_pop(m);
        int64_t current = m->pairs[e.pair].count;
        if (current == e.count) {
            *found = current >= min_count;
            *best = e;
            return SEMB_OK;
        }
        if (current > 0 && current < e.count) {
            semb_status st = heap_push(m, e.pair, err);
            if (st)
                return st;
        }
    }
    return SEMB_OK;
}

static semb_status merge_pair(merge_state *m, token_list *tokens, const heap_entry *best,
                              semb_error *err)
{
    int32_t left = (int32_t)(best->key >> 32), right = (int32_t)(uint32_t)best->key;
    const char *a = tokens->tokens[left], *b = tokens->tokens[right];
    if (strncmp(b, PREFIX, PREFIX_LENGTH) == 0)
        b += PREFIX_LENGTH;
    size_t la = strlen(a), lb = strlen(b);
    char *joined = malloc(la + lb + 1);
    if (!joined)
        return semb_fail(err, SEMB_ERR_NOMEM, "vocabulary training: out of memory");
    memcpy(joined, a, la);
    memcpy(joined + la, b, lb);
    int32_t merged;
    semb_status st = token_intern(tokens, joined, la + lb, &merged, err);
    free(joined);
    if (st)
        return st;
    pair_record *p = &m->pairs[best->pair];
    uint32_t *where = p->where, where_length = p->where_length;
    *p = (pair_record){.key = p->key, .count = p->count, .raised = p->raised};
    m->merge_number++;
    /* Segments lie scattered in memory: fetch them ahead of use. */
    enum { SEGMENT_AHEAD = 16, SYMBOLS_AHEAD = 8 };
    for (uint32_t i = 0; i < where_length && !st; i++) {
        if (i + SEGMENT_AHEAD < where_length)
            __builtin_prefetch(&m->segments[where[i + SEGMENT_AHEAD]]);
        if (i + SYMBOLS_AHEAD < where_length)
            __builtin_prefetch(m->symbols + m->segments[where[i + SYMBOLS_AHEAD]].start);
        word_segment *seg = &m->segments[where[i]];
        if (seg->visited == m->merge_number)
            continue;
        seg->visited = m->merge_number;
        st = merge_segment(m, where[i], left, right, merged, err);
    }
    free(where);
    for (size_t i = 0; i < m->raised_count && !st; i++)
        if (m->pairs[m->raised[i]].count > 0)
            st = heap_push(m, m->raised[i], err);
    m->raised_count = 0;
    return st;
}

static void merge_state_free(merge_state *m)
{
    for (size_t p = 0; p < m->pair_count; p++)
        free(m->pairs[p].where);
    free(m->pairs);
    free(m->pair_slots);
    free(m->heap);
    free(m->raised);
    free(m->symbols);
    free(m->segments);
}

static semb_status run_merges(const wordpiece_trainer *t, const char_map *chars,
                              token_list *tokens, wordpiece_vocab *out, semb_error *err)
{
    merge_state m = {0};
    semb_status st = build_segments(&t->words, chars, &m, err);
    if (!st)
        st = count_pairs(&m, err);
    int64_t min_count = t->options.min_frequency > 1 ? (int64_t)t->options.min_frequency : 1;
    out->stop = WORDPIECE_STOP_SIZE;
    while (!st && tokens->count < t->options.vocab_size) {
        bool found;
        heap_entry best;
        if ((st = next_pair(&m, min_count, &found, &best, err)))
            break;
        if (!found) {
            out->stop = best.count > 0 ? WORDPIECE_STOP_MIN_FREQUENCY : WORDPIECE_STOP_NO_PAIRS;
            break;
        }
        st = merge_pair(&m, tokens, &best, err);
        out->merge_count++;
    }
    merge_state_free(&m);
    return st;
}

semb_status wordpiece_trainer_train(wordpiece_trainer *t, wordpiece_vocab *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    if (t->words.count == 0)
        return semb_fail(err, SEMB_ERR_INPUT,
                         "vocabulary training: the corpus has no words to learn from");
    char_map chars = {0};
    token_list tokens = {0};
    semb_status st = count_chars(&t->words, &chars, err);
    if (!st)
        st = vocab_table_init(&tokens.index, t->options.vocab_size, err);
    if (!st)
        st = initial_vocabulary(t, &chars, &tokens, out, err);
    out->special_count = t->options.special_count;
    if (!st && tokens.count > t->options.vocab_size)
        st = semb_fail(err, SEMB_ERR_INVALID_ARG,
                       "vocabulary size %zu is too small: the corpus needs %zu entries before "
                       "any merge (%zu special tokens, %zu characters, %zu '##' characters); "
                       "raise the size or limit the alphabet",
                       t->options.vocab_size, tokens.count, out->special_count,
                       out->alphabet_size, out->continuation_count);
    if (!st)
        st = run_merges(t, &chars, &tokens, out, err);
    free(chars.slots);
    if (st) {
        token_list_free(&tokens);
        memset(out, 0, sizeof *out);
        return st;
    }
    vocab_table_free(&tokens.index);
    out->tokens = tokens.tokens;
    out->count = tokens.count;
    return SEMB_OK;
}

void wordpiece_vocab_free(wordpiece_vocab *vocab)
{
    if (!vocab)
        return;
    for (size_t i = 0; i < vocab->count; i++)
        free(vocab->tokens[i]);
    free(vocab->tokens);
    memset(vocab, 0, sizeof *vocab);
}
