/* Shared pieces of the semb command: option parsing, input reading, error reporting.
 * Each subcommand lives in its own cmd_*.c and is thin over the library. */
#ifndef SEMB_CLI_H
#define SEMB_CLI_H

#include <stdbool.h>
#include <stddef.h>

#include "semb.h"

typedef enum cli_option_kind { CLI_STRING, CLI_INT, CLI_FLOAT, CLI_FLAG } cli_option_kind;

typedef struct cli_option {
    const char *name; /* "--model" */
    cli_option_kind kind;
    void *target;     /* const char **, int *, double *, bool * */
    const char *help;
} cli_option;

/* Parses argv[1..] (argv[0] is the subcommand). Positional arguments are collected into
 * *positional (malloc'd array of pointers into argv; caller frees) when allowed.
 * Returns 0 to proceed, 1 when --help was printed, 2 on a usage error (already reported). */
int cli_parse(int argc, char **argv, const char *command, const char *synopsis,
              const cli_option *options, size_t n_options, char ***positional,
              size_t *n_positional);

/* Prints "semb <command>: <message>" to stderr and returns 1 (the exit status). */
int cli_fail(const char *command, const semb_error *err);
int cli_failf(const char *command, const char *fmt, ...) __attribute__((format(printf, 2, 3)));

/* Input sentences: one per line (text) or one JSON string per line (jsonl). */
typedef struct cli_input {
    char **texts;
    size_t *lengths;
    size_t *line_numbers; /* 1-based line of each text in the source */
    size_t count;
} cli_input;

/* Reads path ("-" or NULL: stdin). Text lines lose their "\n" or "\r\n". Errors name the
 * file and line: invalid UTF-8, a jsonl line that is not a JSON string, no input at all. */
semb_status cli_read_input(const char *path, const char *format, cli_input *out, semb_error *err);
void cli_input_free(cli_input *in);

/* Prints s on stdout as a JSON string literal, quotes and escapes included ("null" when it
 * is not valid UTF-8 or memory runs out). */
void cli_print_json_string(const char *s);

/* Sets threads from --threads (<= 0: all cores). */
void cli_set_threads(int threads);

/* The help text of a command's --precision option (semb_encode_options.precision). */
#define CLI_PRECISION_HELP                                                                     \
    "fp32 (default), bf16 or int8: the encoder's arithmetic (see semb encode --precision)"

/* Parses a --precision value (NULL: fp32) into *out; 0 when valid, else prints "semb
 * COMMAND: --precision: 'X' is not fp32, bf16 or int8" and returns 2 (the exit status). */
int cli_precision(const char *command, const char *name, semb_compute_precision *out);

/* The flags of a new model's shape, shared by `semb init` and `semb train --arch`: entries
 * of a cli_option table filling semb_init_options `o` (and a bool for --no-normalize). */
#define CLI_INIT_OPTIONS(o, no_normalize)                                                        \
    {"--arch", CLI_STRING, &(o).arch, "bert, distilbert or mpnet (a new model)"},              \
    {"--hidden", CLI_INT, &(o).hidden_size, "hidden size (default 384)"},                      \
    {"--layers", CLI_INT, &(o).num_layers, "transformer layers (default 6)"},                  \
    {"--heads", CLI_INT, &(o).num_heads, "attention heads (default 12)"},                      \
    {"--intermediate", CLI_INT, &(o).intermediate_size, "feed-forward size (default 1536)"},   \
    {"--max-position", CLI_INT, &(o).max_position_embeddings,                                  \
     "position embeddings (default 512; mpnet 514)"},                                          \
    {"--vocab", CLI_STRING, &(o).vocab_path,                                                   \
     "vocab.txt or tokenizer.json (WordPiece) of a new model"},                                \
    {"--pooling", CLI_STRING, &(o).pooling,                                                    \
     "mean (default), cls, max, mean_sqrt_len_tokens, weightedmean, lasttoken"},               \
    {"--no-normalize", CLI_FLAG, &(no_normalize), "leave out the Normalize module"}

/* Names on stderr each corpus source (corpus_source bits) that is not installed, with the
 * apt-get command that installs them. */
void cli_print_missing_sources(const char *command, unsigned missing);

int cmd_encode(int argc, char **argv);
int cmd_tokenize(int argc, char **argv);
int cmd_similarity(int argc, char **argv);
int cmd_init(int argc, char **argv);
int cmd_selfcheck(int argc, char **argv);
int cmd_train(int argc, char **argv);
int cmd_corpus(int argc, char **argv);
int cmd_vocab(int argc, char **argv);
int cmd_eval(int argc, char **argv);
int cmd_quickstart(int argc, char **argv);
int cmd_rank(int argc, char **argv);
int cmd_bias(int argc, char **argv);
int cmd_cluster(int argc, char **argv);
int cmd_eval_cluster(int argc, char **argv);
/* cmd_cluster.c: embeds texts for clustering (semb cluster, semb eval cluster) with opts
 * (batch size, precision), prepared for the model's similarity (cluster_encode_texts): warns
 * once on stderr about texts the model truncates, and reports a failing text as source:line.
 * On success *out is malloc'd [n, dimension] and 0 is returned; otherwise the exit status,
 * *out NULL. */
int cli_cluster_embed(const char *command, semb_model *model, char *const *texts,
                      const size_t *lengths, const size_t *line_numbers, const char *source,
                      size_t n, const semb_encode_options *opts, float **out);
int cmd_index(int argc, char **argv);
int cmd_search(int argc, char **argv);
int cmd_serve(int argc, char **argv);

#endif
