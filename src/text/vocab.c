#include "text/vocab.h"

#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* The first 8 bytes of a key, zero-padded; never reads past key[length - 1]. */
static uint64_t key_head(const unsigned char *key, size_t length)
{
    uint64_t head = 0;
    if (length >= 8) {
        memcpy(&head, key, 8);
        return head;
    }
    for (size_t k = 0; k < length; k++)
        head |= (uint64_t)key[k] << (8 * k);
    return head;
}

static const unsigned char *key_tail(const unsigned char *key, size_t length)
{
    return length > 8 ? key + 8 : key;
}

/* splitmix64-style mixing, 8 bytes at a time. */
static uint64_t mix(uint64_t h)
{
    h ^= h >> 31;
    h *= 0xbf58476d1ce4e5b9ull;
    h ^= h >> 29;
    return h;
}

/* tail: the key's bytes from 8 on (read only when length > 8). */
static uint64_t hash_key(uint64_t head, const unsigned char *tail, size_t length)
{
    uint64_t h = mix(head ^ (0x9e3779b97f4a7c15ull * (uint64_t)(length + 1)));
    for (size_t at = 8; at < length; at += 8)
        h = mix(h ^ key_head(tail + at - 8, length - at < 8 ? length - at : 8));
    h *= 0x94d049bb133111ebull;
    return h ^ (h >> 32);
}

static uint16_t hash_tag(uint64_t hash)
{
    return (uint16_t)(hash >> 48);
}

static semb_status allocate_slots(vocab_table *table, size_t slot_count, semb_error *err)
{
    vocab_slot *slots = malloc(slot_count * sizeof *slots);
    uint32_t *tail_offsets = malloc(slot_count * sizeof *tail_offsets);
    if (!slots || !tail_offsets) {
        free(slots);
        free(tail_offsets);
        return semb_fail(err, SEMB_ERR_NOMEM, "vocabulary: cannot allocate %zu hash slots",
                         slot_count);
    }
    for (size_t i = 0; i < slot_count; i++)
        slots[i].id = -1;
    table->slots = slots;
    table->tail_offsets = tail_offsets;
    table->mask = slot_count - 1;
    return SEMB_OK;
}

semb_status vocab_table_init(vocab_table *table, size_t expected, semb_error *err)
{
    *table = (vocab_table){0};
    size_t slot_count = 16;
    while (slot_count < 2 * expected)
        slot_count *= 2;
    return allocate_slots(table, slot_count, err);
}

static bool slot_holds(const vocab_table *table, size_t i, const unsigned char *key,
                       size_t length, uint64_t head, uint16_t tag)
{
    const vocab_slot *slot = &table->slots[i];
    if (slot->head != head || slot->length != length || slot->tag != tag)
        return false;
    return length <= 8 ||
           memcmp(table->tails + table->tail_offsets[i], key + 8, length - 8) == 0;
}

/* The slot holding the key, or the empty slot where it would go. */
static size_t find_slot(const vocab_table *table, const unsigned char *key, size_t length,
                        uint64_t head, uint64_t hash)
{
    uint16_t tag = hash_tag(hash);
    size_t i = (size_t)hash & table->mask;
    while (table->slots[i].id >= 0 && !slot_holds(table, i, key, length, head, tag))
        i = (i + 1) & table->mask;
    return i;
}

static semb_status grow_slots(vocab_table *table, semb_error *err)
{
    vocab_table old = *table;
    semb_status st = allocate_slots(table, 2 * (old.mask + 1), err);
    if (st)
        return st;
    for (size_t i = 0; i <= old.mask; i++) {
        const vocab_slot *slot = &old.slots[i];
        if (slot->id < 0)
            continue;
        const unsigned char *tail = (const unsigned char *)table->tails + old.tail_offsets[i];
        uint64_t hash = hash_key(slot->head, tail, slot->length);
        /* Keys are distinct, so the first empty slot on the probe path is the place. */
        size_t j = (size_t)hash & table->mask;
        while (table->slots[j].id >= 0)
            j = (j + 1) & table->mask;
        table->slots[j] = *slot;
        table->tail_offsets[j] = old.tail_offsets[i];
    }
    free(old.slots);
    free(old.tail_offsets);
    return SEMB_OK;
}

static semb_status store_tail(vocab_table *table, const char *tail, size_t length,
                              uint32_t *offset, semb_error *err)
{
    if (table->tails_length + length > table->tails_capacity) {
        size_t capacity = table->tails_capacity ? table->tails_capacity : 4096;
        while (capacity < table->tails_length + length)
            capacity *= 2;
        if (capacity > UINT32_MAX)
            return semb_fail(err, SEMB_ERR_NOMEM, "vocabulary: more than 4 GiB of token text");
        char *tails = realloc(table->tails, capacity);
        if (!tails)
            return semb_fail(err, SEMB_ERR_NOMEM, "vocabulary: cannot grow the token text pool");
        table->tails = tails;
        table->tails_capacity = capacity;
    }
    *offset = (uint32_t)table->tails_length;
    memcpy(table->tails + table->tails_length, tail, length);
    table->tails_length += length;
    return SEMB_OK;
}

semb_status vocab_table_put(vocab_table *table, const char *key, size_t length, int32_t id,
                            semb_error *err)
{
    if (length > VOCAB_MAX_KEY_LENGTH)
        return semb_fail(err, SEMB_ERR_FORMAT, "vocabulary: a token of %zu bytes is too long",
                         length);
    const unsigned char *k = (const unsigned char *)key;
    uint64_t head = key_head(k, length), hash = hash_key(head, key_tail(k, length), length);
    size_t i = find_slot(table, k, length, head, hash);
    if (table->slots[i].id >= 0) {
        table->slots[i].id = id;
        return SEMB_OK;
    }
    uint32_t offset = 0;
    if (length > 8) {
        semb_status st = store_tail(table, key + 8, length - 8, &offset, err);
        if (st)
            return st;
    }
    table->slots[i] = (vocab_slot){head, id, (uint16_t)length, hash_tag(hash)};
    table->tail_offsets[i] = offset;
    table->count++;
    if (length > table->max_key_length)
        table->max_key_length = length;
    if (2 * table->count > table->mask + 1)
        return grow_slots(table, err);
    return SEMB_OK;
}

int32_t vocab_table_get(const vocab_table *table, const char *key, size_t length)
{
    if (!table->slots || length > table->max_key_length)
        return -1;
    const unsigned char *k = (const unsigned char *)key;
    uint64_t head = key_head(k, length);
    uint64_t hash = hash_key(head, key_tail(k, length), length);
    return table->slots[find_slot(table, k, length, head, hash)].id;
}

void vocab_table_prefetch(const vocab_table *table, const char *key, size_t length)
{
    if (!table->slots || length > table->max_key_length)
        return;
    const unsigned char *k = (const unsigned char *)key;
    uint64_t hash = hash_key(key_head(k, length), key_tail(k, length), length);
    __builtin_prefetch(&table->slots[(size_t)hash & table->mask]);
}

void vocab_table_free(vocab_table *table)
{
    if (!table)
        return;
    free(table->slots);
    free(table->tail_offsets);
    free(table->tails);
    *table = (vocab_table){0};
}
