/* semb vocab: learn a WordPiece vocabulary from plain text and write it as a tokenizer
 * folder (vocab.txt, tokenizer.json, tokenizer_config.json, special_tokens_map.json). */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/timer.h"
#include "text/tokenizer_write.h"
#include "text/wordpiece_trainer.h"

#define COMMAND "vocab"

/* --corpus may be repeated, and files may also follow it ("--corpus a.txt b.txt"), so the
 * --corpus values are taken out of argv before the common parser sees it. */
static char **take_corpus_options(int argc, char **argv, int *argc_left, size_t *n_corpus)
{
    char **rest = calloc((size_t)argc + 1, sizeof *rest);
    char **corpus = calloc((size_t)argc + 1, sizeof *corpus);
    if (!rest || !corpus) {
        free(rest);
        free(corpus);
        return NULL;
    }
    int n_rest = 0;
    *n_corpus = 0;
    for (int i = 0; i < argc; i++) {
        if (i > 0 && strcmp(argv[i], "--corpus") == 0 && i + 1 < argc)
            corpus[(*n_corpus)++] = argv[++i];
        else
            rest[n_rest++] = argv[i];
    }
    memcpy(argv, rest, (size_t)n_rest * sizeof *argv);
    *argc_left = n_rest;
    free(rest);
    return corpus;
}

static const char *stop_reason(wordpiece_stop_reason stop)
{
    switch (stop) {
    case WORDPIECE_STOP_NO_PAIRS:
        return "; stopped early: the corpus ran out of pairs to merge";
    case WORDPIECE_STOP_MIN_FREQUENCY:
        return "; stopped early: no pair left that occurs --min-frequency times";
    default:
        return "";
    }
}

static void report(const char *output, const wordpiece_vocab *v, const wordpiece_corpus_stats *s,
                   double count_seconds, double merge_seconds)
{
    double mb = (double)s->bytes / 1e6;
    fprintf(stderr,
            "corpus: %.1f MB, %llu lines, %llu words (%llu distinct) counted in %.2f s "
            "(%.1f MB/s, %.2fM words/s)\n",
            mb, (unsigned long long)s->lines, (unsigned long long)s->words,
            (unsigned long long)s->unique_words, count_seconds,
            count_seconds > 0 ? mb / count_seconds : 0,
            count_seconds > 0 ? (double)s->words / count_seconds / 1e6 : 0);
    if (s->invalid_lines)
        fprintf(stderr, "warning: skipped %llu lines that are not valid UTF-8, the first at %s\n",
                (unsigned long long)s->invalid_lines, s->first_invalid);
    if (s->long_words)
        fprintf(stderr, "note: %llu words over %d characters were not counted (WordPiece maps "
                        "them to [UNK])\n",
                (unsigned long long)s->long_words, WORDPIECE_TRAINER_MAX_WORD_CHARS);
    if (v->dropped_chars)
        fprintf(stderr, "note: %zu rare characters left out by --limit-alphabet (they become "
                        "[UNK])\n",
                v->dropped_chars);
    printf("wrote %s: %zu tokens (%zu special, %zu characters, %zu '##' characters, %zu merges "
           "in %.2f s)%s\n",
           output, v->count, v->special_count, v->alphabet_size, v->continuation_count,
           v->merge_count, merge_seconds, stop_reason(v->stop));
}

static int run(const char *const *corpus, size_t n_corpus, const char *output,
               const wordpiece_trainer_options *o)
{
    semb_error err = {0};
    wordpiece_trainer *trainer = NULL;
    wordpiece_vocab vocab = {0};
    double start = timer_seconds();
    semb_status st = wordpiece_trainer_create(o, &trainer, &err);
    if (!st)
        st = wordpiece_trainer_feed_files(trainer, corpus, n_corpus, &err);
    double counted = timer_seconds();
    if (!st)
        st = wordpiece_trainer_train(trainer, &vocab, &err);
    double trained = timer_seconds();
    if (!st)
        st = tokenizer_write_wordpiece_folder(output, (const char *const *)vocab.tokens,
                                              vocab.count, o->lowercase, 512,
                                              &tokenizer_bert_specials, &err);
    if (!st)
        report(output, &vocab, wordpiece_trainer_stats(trainer), counted - start,
               trained - counted);
    wordpiece_vocab_free(&vocab);
    wordpiece_trainer_free(trainer);
    return st ? cli_fail(COMMAND, &err) : 0;
}

int cmd_vocab(int argc, char **argv)
{
    const char *output = NULL;
    const char *listed_corpus = NULL; /* only for --help: take_corpus_options takes the values */
    int size = 30000, min_frequency = 2, limit_alphabet = 1000;
    bool cased = false;
    const cli_option options[] = {
        {"--corpus", CLI_STRING, &listed_corpus,
         "plain-text file(s), UTF-8 (required; repeat it or list several files after it)"},
        {"--size", CLI_INT, &size,
         "vocabulary size, the 5 special tokens included (default 30000)"},
        {"--output", CLI_STRING, &output, "new folder for the tokenizer files (must not exist)"},
        {"--min-frequency", CLI_INT, &min_frequency,
         "merge only pairs seen at least this often (default 2)"},
        {"--limit-alphabet", CLI_INT, &limit_alphabet,
         "keep the N most frequent characters, 0 for all (default 1000)"},
        {"--cased", CLI_FLAG, &cased, "keep case and accents (default: lowercase, strip accents)"},
    };
    int argc_left;
    size_t n_corpus;
    char **corpus = take_corpus_options(argc, argv, &argc_left, &n_corpus);
    if (!corpus)
        return cli_failf(COMMAND, "out of memory");
    char **positional = NULL;
    size_t n_positional = 0;
    int rc = cli_parse(argc_left, argv, COMMAND, "--corpus FILE [FILE...] --size N --output DIR",
                       options, sizeof options / sizeof options[0], &positional, &n_positional);
    for (size_t i = 0; rc == 0 && i < n_positional; i++)
        corpus[n_corpus++] = positional[i];
    free(positional);
    if (rc) {
        free(corpus);
        return rc == 1 ? 0 : 2;
    }
    int status = 2;
    if (!n_corpus || !output)
        cli_failf(COMMAND, "--corpus and --output are required (see --help)");
    else if (size < 1 || min_frequency < 0 || limit_alphabet < 0)
        cli_failf(COMMAND, "--size must be positive, --min-frequency and --limit-alphabet not "
                           "negative");
    else {
        static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
        wordpiece_trainer_options o = {
            .vocab_size = (size_t)size, .min_frequency = (uint64_t)min_frequency,
            .limit_alphabet = (size_t)limit_alphabet, .lowercase = !cased,
            .special_tokens = specials, .special_count = 5};
        status = run((const char *const *)corpus, n_corpus, output, &o);
    }
    free(corpus);
    return status;
}
