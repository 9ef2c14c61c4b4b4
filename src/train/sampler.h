/* Training batches from several data files, as the 1B-pairs recipe makes them.
 *
 * Each batch is filled in datasets_per_batch equal shares (the first batch_size % D shares
 * one example more). The first share's file is drawn with probability proportional to its
 * weight; each further share's file is drawn the same way among the files with the same
 * number of negatives, so pairs and triplets never meet in one batch. Draws are with
 * replacement: a file drawn twice gives two shares, read on from where it was. An example
 * with a text that is already in the batch (any column, exact bytes) is dropped: in-batch
 * negatives equal to a positive are false negatives.
 *
 * Each file is read pass after pass. With a shuffle buffer of N examples a pass comes out in
 * random order (an example leaves from a random slot of the buffer, and the next line of the
 * file takes its place; a file of at most N examples is fully shuffled); a pass is used up
 * before the next one starts. With shuffle_buffer 0, each file comes in file order, and one
 * file gives batches in file order, wrapping around at its end.
 *
 * Everything random comes from the seed, so a seed gives the same batches, and the state
 * (sampler_state_save) holds what it takes to continue exactly. */
#ifndef SEMB_TRAIN_SAMPLER_H
#define SEMB_TRAIN_SAMPLER_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

#include "semb.h"
#include "train/data_config.h"
#include "train/data_reader.h"

typedef struct sampler sampler;

typedef struct sampler_options {
    int batch_size;         /* examples per batch, >= 1 */
    int datasets_per_batch; /* D >= 1 */
    size_t shuffle_buffer;  /* examples held per file; 0: file order */
    uint64_t seed;
    data_reader_options reader;
} sampler_options;

typedef struct sampler_batch {
    int batch_size;
    int n_negatives;
    /* (2 + n_negatives) columns of batch_size texts: anchors, positives, then each negative
     * column; text i of column c at [c * batch_size + i], NUL-terminated, valid until the
     * next sampler call */
    const char *const *texts;
    const size_t *lengths;
} sampler_batch;

typedef struct sampler_dataset_info {
    const char *path;
    double weight;
    int n_negatives;
    uint64_t examples_used; /* put into batches so far */
    uint64_t pass;          /* 0 during the first pass */
    int counts_final;       /* the first pass is over: the counts below are the file's */
    uint64_t lines, skipped, examples;
    uint64_t blank;         /* blank lines, skipped and not in `lines` */
} sampler_dataset_info;

/* Opens and checks every file before anything else (data_reader_open with batch_size as
 * the least number of examples: a batch may take all its shares from one file), so a missing,
 * unreadable or unusable file is an error up front, as is a file with fewer usable examples
 * than a batch (SEMB_ERR_INVALID_ARG, naming --batch-size). On success *out owns the files. */
semb_status sampler_create(const data_sources *sources, const sampler_options *options,
                           sampler **out, semb_error *err);

/* The next batch into *batch. Errors: read errors, --strict's first bad line, and a file
 * whose texts repeat so much that a whole pass cannot fill its share with texts new to the
 * batch (SEMB_ERR_INPUT). */
semb_status sampler_next_batch(sampler *s, sampler_batch *batch, semb_error *err);

/* The sampler's state as a new JSON object (*out, the caller's reference): the draw RNG and,
 * per file, its position (byte offset in the decompressed stream and line number), pass,
 * counts, shuffle RNG and the positions of the examples in its shuffle buffer (re-read on
 * restore, not stored). */
semb_status sampler_state_save(const sampler *s, json_t **out, semb_error *err);

/* Puts a sampler created with the same files and options into a saved state; its next
 * batches are those the saved sampler would have given. Re-reading the shuffle buffers of a
 * compressed file decompresses it from the start up to its position. SEMB_ERR_FORMAT when the
 * state does not fit these files (count, names, negatives, buffer size) or a file changed;
 * after a failure the sampler can only be freed. */
semb_status sampler_state_restore(sampler *s, const json_t *state, semb_error *err);

size_t sampler_dataset_count(const sampler *s);
sampler_dataset_info sampler_dataset(const sampler *s, size_t i);

void sampler_free(sampler *s);

#endif
