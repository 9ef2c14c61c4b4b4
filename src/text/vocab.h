/* A string -> token id hash table (open addressing, linear probing, load <= 1/2) for the
 * short strings of a vocabulary: the first 8 bytes of each key sit in its slot, so most
 * lookups touch one cache line and compare two integers. Built once at load time, then only
 * read, so concurrent lookups are safe. */
#ifndef SEMB_TEXT_VOCAB_H
#define SEMB_TEXT_VOCAB_H

#include <stddef.h>
#include <stdint.h>

#include "semb.h"

/* Longest key the table takes, in bytes. */
#define VOCAB_MAX_KEY_LENGTH 65535

typedef struct vocab_slot {
    uint64_t head;   /* the key's first 8 bytes, zero-padded */
    int32_t id;      /* -1: empty slot */
    uint16_t length; /* key length in bytes */
    uint16_t tag;    /* 16 more bits of the hash, so long keys rarely need a memcmp */
} vocab_slot;

typedef struct vocab_table {
    vocab_slot *slots;
    uint32_t *tail_offsets; /* per slot: where bytes 8.. of a longer key are in `tails` */
    size_t mask;            /* slot count - 1 (a power of two) */
    size_t count;
    char *tails;
    size_t tails_length, tails_capacity;
    size_t max_key_length;
} vocab_table;

/* Prepares an empty table sized for about `expected` keys (it grows past that). */
semb_status vocab_table_init(vocab_table *table, size_t expected, semb_error *err);

/* Maps key[0..length) to id (>= 0), replacing the id of a key already there (as a later
 * line of vocab.txt does). SEMB_ERR_FORMAT for a key over VOCAB_MAX_KEY_LENGTH bytes,
 * SEMB_ERR_NOMEM on allocation failure. */
semb_status vocab_table_put(vocab_table *table, const char *key, size_t length, int32_t id,
                            semb_error *err);

/* The id of key[0..length), or -1. */
int32_t vocab_table_get(const vocab_table *table, const char *key, size_t length);

/* Starts loading the slot where key[0..length) would be looked up first, so that lookups
 * of several words overlap their cache misses. No effect on results. */
void vocab_table_prefetch(const vocab_table *table, const char *key, size_t length);

void vocab_table_free(vocab_table *table);

#endif
