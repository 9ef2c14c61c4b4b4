/* Pieces of the corpus builder: a pair collection that cleans and deduplicates, the split and
 * writer, whole-file reading of compressed inputs, and one parser per source format. The
 * parsers take paths, never fixed locations, so tests run them on small files they write. */
#ifndef SEMB_CORPUS_INTERNAL_H
#define SEMB_CORPUS_INTERNAL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "corpus/corpus.h"

/* ---- pairs (corpus_pairs.c) ---- */

/* A set of non-zero 64-bit hashes (open addressing). */
typedef struct corpus_hash_set {
    uint64_t *slots;
    size_t capacity, count;
} corpus_hash_set;

/* Adds hash h (0 is mapped to 1); *added says whether it was new. Fails only with
 * SEMB_ERR_NOMEM. */
semb_status corpus_hash_set_add(corpus_hash_set *set, uint64_t h, bool *added, semb_error *err);
void corpus_hash_set_free(corpus_hash_set *set);

typedef struct corpus_pairs {
    char **anchors, **positives; /* owned, NUL-terminated, cleaned */
    size_t count, capacity;
    corpus_hash_set seen;        /* hashes of the pairs kept */
    size_t max_chars;            /* longest text kept (bytes) */
    size_t dropped_short, dropped_long, dropped_utf8, dropped_duplicate, dropped_same;
} corpus_pairs;

void corpus_pairs_init(corpus_pairs *p, size_t max_chars);
void corpus_pairs_free(corpus_pairs *p);
size_t corpus_pairs_dropped(const corpus_pairs *p);

/* Adds anchor -> positive after collapsing whitespace runs to one space and trimming. The pair
 * is dropped (and counted, not an error) when a text is invalid UTF-8, the anchor is empty,
 * the positive has fewer than 2 words or 10 bytes, a text is too long (a positive over
 * max_chars is first cut at its last sentence end within the limit, if that keeps at least
 * half of it), both texts are equal ignoring case, or the pair was already added.
 * Fails only with SEMB_ERR_NOMEM. */
semb_status corpus_pairs_add(corpus_pairs *p, const char *anchor, size_t anchor_len,
                             const char *positive, size_t positive_len, semb_error *err);

/* Splits p into held-out and train and writes DIR/<name>.heldout.jsonl and .train.jsonl
 * atomically. Pairs are grouped into connected components of shared texts (two pairs sharing
 * an anchor or a positive are in one group), and whole groups, in an order fixed by seed,
 * go to held-out until it holds the target count (held_out < 1: that fraction of the pairs,
 * rounded up; else that many), so no text of a held-out pair appears in train. The train file
 * is shuffled (seeded) because readers shuffle only within a bounded buffer and the sources
 * are alphabetical. Fills train/heldout counts in out. */
semb_status corpus_pairs_write(const corpus_pairs *p, const char *dir, const char *name,
                               double held_out, uint64_t seed, corpus_dataset_report *out,
                               semb_error *err);

/* ---- text helpers (corpus_text.c) ---- */

/* A growable byte buffer, always NUL-terminated once anything was appended. */
typedef struct corpus_buffer {
    char *data;
    size_t size, capacity;
} corpus_buffer;

semb_status corpus_buffer_append(corpus_buffer *b, const char *s, size_t n, semb_error *err);
void corpus_buffer_free(corpus_buffer *b);

/* Reads the whole file, inflating it when it is gzip (also dictzip: .dict.dz) or an LZ4 frame
 * (apt's lists with GzipIndexes), judged by the content, not the name. SEMB_ERR_IO names the
 * file; SEMB_ERR_FORMAT a corrupt stream. */
semb_status corpus_read_file(const char *path, corpus_buffer *out, semb_error *err);

/* 64-bit FNV-1a, the identity of texts in dedup sets and the split. */
uint64_t corpus_hash(const char *s, size_t n);

/* ---- parsers: each adds its pairs and fails only on unreadable or malformed input ---- */

/* WordNet 3.0 database files DIR/data.{noun,verb,adj,adv}; see corpus_wordnet.c. */
semb_status corpus_read_wordnet(const char *dir, corpus_pairs *gloss, corpus_pairs *examples,
                                semb_error *err);

typedef enum corpus_dictd_style {
    CORPUS_DICTD_GCIDE,   /* Webster-style entries with \pronunciation\ and [entity] markup */
    CORPUS_DICTD_PLAIN,   /* dictfmt -t: headword lines, blank line, indented paragraphs */
} corpus_dictd_style;

/* A dictd database: index (headword TAB base64 offset TAB base64 length) and dict (.dz or
 * plain). Each distinct entry block is parsed once whatever number of headwords point at it. */
semb_status corpus_read_dictd(const char *index_path, const char *dict_path,
                              corpus_dictd_style style, corpus_pairs *pairs, semb_error *err);

/* Package descriptions from a dpkg status file or apt's Packages / Translation-en lists
 * (control-file stanzas). Adds short -> first long paragraph to descriptions and name -> short
 * to names, each package name once per collection (the first file read wins): names_seen and
 * descriptions_seen remember the names (corpus_hash) across files. Stanzas without a
 * Package or a description are skipped. */
semb_status corpus_read_debian_stanzas(const char *path, corpus_pairs *descriptions,
                                       corpus_hash_set *descriptions_seen, corpus_pairs *names,
                                       corpus_hash_set *names_seen, semb_error *err);

#endif
