/* Training a WordPiece vocabulary the way Hugging Face tokenizers' WordPieceTrainer does (it
 * is its BpeTrainer with the continuing-subword prefix "##"): the corpus is normalised
 * (BertNormalizer) and pre-tokenized (BertPreTokenizer) exactly as semb's tokenizer does at
 * encode time, and its words are counted. The vocabulary starts as the special tokens, then
 * every character (the most frequent `limit_alphabet` of them) and "##" + every character
 * seen after the start of a word; then the most frequent adjacent pair of pieces, counted
 * over all words, is merged into a new piece, again and again, until the vocabulary has
 * vocab_size entries, no pair is left, or the best pair is rarer than min_frequency.
 *
 * Where tokenizers leaves the result to hash-map iteration order, semb is deterministic:
 * characters and "##" characters take ids in code point order, and among pairs of equal
 * count the one with the smaller (left id, right id) is merged first (tokenizers' own rule).
 * Deliberate differences, both about words WordPiece could never split anyway: a word over
 * WORDPIECE_TRAINER_MAX_WORD_CHARS characters (which WordPiece turns into [UNK] whole) is
 * not counted, and a character left out by limit_alphabet breaks its word in two instead
 * of letting its neighbours pair up across it. */
#ifndef SEMB_TEXT_WORDPIECE_TRAINER_H
#define SEMB_TEXT_WORDPIECE_TRAINER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "semb.h"

/* WordPiece's max_input_chars_per_word in every BERT tokenizer. */
#define WORDPIECE_TRAINER_MAX_WORD_CHARS 100

typedef struct wordpiece_trainer wordpiece_trainer;

typedef struct wordpiece_trainer_options {
    size_t vocab_size;       /* entries wanted, special tokens included */
    uint64_t min_frequency;  /* a pair counted fewer times is never merged (0 or 1: any) */
    size_t limit_alphabet;   /* keep only this many distinct characters, the most frequent;
                                0: keep all */
    bool lowercase;          /* BertNormalizer lowercase + strip_accents; false keeps both */
    const char *const *special_tokens; /* ids 0, 1, ... in this order; copied */
    size_t special_count;
} wordpiece_trainer_options;

typedef struct wordpiece_corpus_stats {
    uint64_t bytes, lines;
    uint64_t words;         /* pre-tokenized words counted, repeats included */
    uint64_t unique_words;
    uint64_t invalid_lines; /* skipped: not valid UTF-8 */
    uint64_t long_words;    /* skipped: over WORDPIECE_TRAINER_MAX_WORD_CHARS characters */
    char first_invalid[512]; /* "file:line (byte offset N)" of the first skipped line, or "" */
} wordpiece_corpus_stats;

typedef enum wordpiece_stop_reason {
    WORDPIECE_STOP_SIZE,          /* vocab_size reached */
    WORDPIECE_STOP_NO_PAIRS,      /* every word is a single piece: the corpus is exhausted */
    WORDPIECE_STOP_MIN_FREQUENCY, /* the best pair was counted fewer than min_frequency times */
} wordpiece_stop_reason;

/* A trained vocabulary: tokens[id], special tokens first. */
typedef struct wordpiece_vocab {
    char **tokens;
    size_t count;
    size_t special_count, alphabet_size, continuation_count; /* the entries before merging */
    size_t merge_count;   /* merges done (a merge may rebuild an existing entry) */
    size_t dropped_chars; /* distinct characters left out by limit_alphabet */
    wordpiece_stop_reason stop;
} wordpiece_vocab;

/* A trainer with no words counted yet. Errors: SEMB_ERR_INVALID_ARG (naming the option)
 * when vocab_size is 0 or above INT32_MAX, or a special token is empty, repeated or
 * longer than 1000 bytes; SEMB_ERR_NOMEM. *out is owned by the caller
 * (wordpiece_trainer_free). */
semb_status wordpiece_trainer_create(const wordpiece_trainer_options *options,
                                     wordpiece_trainer **out, semb_error *err);

/* Counts the words of text[0..length). SEMB_ERR_INPUT "text is not valid UTF-8 (at byte
 * offset N)" (nothing counted), SEMB_ERR_NOMEM. */
semb_status wordpiece_trainer_feed(wordpiece_trainer *trainer, const char *text, size_t length,
                                   semb_error *err);

/* Counts the words of text files (plain, gzip or zstd: io/line_source), streamed line by
 * line (memory grows with the distinct words, not the file sizes). Every file is opened before any is read, so a
 * missing or unreadable one fails (SEMB_ERR_IO naming it) with nothing counted. Lines that
 * are not valid UTF-8 are skipped and counted in the stats; a read error is SEMB_ERR_IO. */
semb_status wordpiece_trainer_feed_files(wordpiece_trainer *trainer, const char *const *paths,
                                         size_t path_count, semb_error *err);

/* What has been fed so far. */
const wordpiece_corpus_stats *wordpiece_trainer_stats(const wordpiece_trainer *trainer);

/* Learns the vocabulary from the words counted so far (the counts are kept, so it may be
 * called again). The result has vocab_size entries unless the corpus ran out of pairs or
 * min_frequency stopped it first (out->stop says which). Errors: SEMB_ERR_INPUT when no
 * word was counted; SEMB_ERR_INVALID_ARG when vocab_size is below the entries needed before
 * any merge (special tokens, characters and "##" characters; the message gives the number
 * and suggests limit_alphabet); SEMB_ERR_NOMEM. On success *out is owned by the caller
 * (wordpiece_vocab_free); on failure it is empty. */
semb_status wordpiece_trainer_train(wordpiece_trainer *trainer, wordpiece_vocab *out,
                                    semb_error *err);

void wordpiece_vocab_free(wordpiece_vocab *vocab);
void wordpiece_trainer_free(wordpiece_trainer *trainer);

#endif
