/* The quickstart's training corpus, built from text that Debian itself ships, so that a model
 * can be trained from scratch with no download beyond Debian packages.
 *
 * Datasets (each a list of anchor -> positive pairs; corpus_internal.h says how each is cut):
 *   wordnet_gloss        WordNet synonyms ("car, auto, automobile")  -> the synset's definition
 *   wordnet_examples     a WordNet usage example ("he drove his car") -> the definition it shows
 *   gcide                GCIDE headword or compound ("Apple brandy")  -> its first definition
 *   foldoc               FOLDOC term                                  -> first paragraph
 *   jargon               Jargon File term                             -> first paragraph
 *   debian_descriptions  package short description                    -> first paragraph of the long one
 *   debian_names         package name                                 -> short description
 *
 * Each dataset is written as DIR/<name>.train.jsonl and DIR/<name>.heldout.jsonl
 * ({"anchor": ..., "positive": ...} per line) and listed in DIR/data_config.json in the
 * format of the 1B-pairs recipe. The held-out split never shares a text with the train split
 * of the same dataset (see corpus_pairs_write), so retrieval on it measures generalisation. */
#ifndef SEMB_CORPUS_CORPUS_H
#define SEMB_CORPUS_CORPUS_H

#include <stddef.h>
#include <stdint.h>

#include "semb.h"

typedef enum corpus_source {
    CORPUS_SOURCE_WORDNET = 1 << 0,
    CORPUS_SOURCE_GCIDE = 1 << 1,
    CORPUS_SOURCE_FOLDOC = 1 << 2,
    CORPUS_SOURCE_JARGON = 1 << 3,
    CORPUS_SOURCE_DEBIAN = 1 << 4,
    CORPUS_SOURCE_ALL = (1 << 5) - 1,
} corpus_source;

#define CORPUS_SOURCE_COUNT 5

/* Parses a comma-separated list ("wordnet,gcide,debian"; "all") into a corpus_source mask.
 * Fails with SEMB_ERR_INVALID_ARG naming the unknown item. */
semb_status corpus_parse_sources(const char *list, unsigned *mask, semb_error *err);

/* The source's name ("gcide") and the Debian package that provides it ("dict-gcide";
 * NULL for debian, whose data is the package system itself). */
const char *corpus_source_name(corpus_source source);
const char *corpus_source_package(corpus_source source);

typedef struct corpus_options {
    const char *output_dir; /* created if missing; dataset files in it are replaced */
    unsigned sources;       /* corpus_source mask; 0 means all */
    /* Held-out share per dataset: below 1 a fraction of its pairs (default 0.02), from 1 up
     * a number of pairs. */
    double held_out;
    uint64_t seed;          /* picks the held-out split and the order of the train files */
    size_t max_chars;       /* longest text kept, in bytes (0: 1000); longer ones are cut at
                             * a sentence end when one is near, else the pair is dropped */
    /* Where the data lives (NULL: the Debian locations), so tests can point at fixtures. */
    const char *wordnet_dir;   /* /usr/share/wordnet */
    const char *dictd_dir;     /* /usr/share/dictd */
    const char *dpkg_status;   /* /var/lib/dpkg/status */
    const char *apt_lists_dir; /* /var/lib/apt/lists */
} corpus_options;

typedef struct corpus_dataset_report {
    char name[32];
    corpus_source source;
    size_t train_pairs, heldout_pairs;
    double weight;        /* as written to data_config.json */
    size_t dropped;       /* candidate pairs not kept, all reasons together */
    size_t duplicates;    /* of which identical to a pair already kept */
} corpus_dataset_report;

#define CORPUS_MAX_DATASETS 8

typedef struct corpus_report {
    corpus_dataset_report datasets[CORPUS_MAX_DATASETS];
    size_t dataset_count;
    unsigned missing;     /* requested sources whose files are not installed */
    /* Files seen but not read (e.g. apt lists compressed in a format semb does not read),
     * one per line; empty when none. */
    char notes[1024];
    double seconds;
} corpus_report;

/* Builds every available requested source into DIR (see the top of this file) and fills
 * report. A requested source that is not installed is skipped and flagged in report->missing;
 * it is an error (SEMB_ERR_IO) only when no requested source is installed. A source that is
 * installed but unreadable or malformed fails with the file named. Files are written
 * atomically; data_config.json last. */
semb_status corpus_build(const corpus_options *opts, corpus_report *report, semb_error *err);

#endif
