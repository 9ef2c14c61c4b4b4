/* semb: the command-line tool. Each subcommand is a thin layer over the library.
 * Exit status: 0 success, 2 a usage error (the command line itself is wrong: an unknown,
 * missing or contradictory option, a value out of range), 1 anything else (a file, the data,
 * the model, the network, a full disk, output that could not be written). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "core/cpu.h"
#include "kernels/kernel_path.h"

typedef struct subcommand {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *summary;
} subcommand;

static const subcommand commands[] = {
    {"quickstart", cmd_quickstart, "train a model from scratch on Debian's own texts (main job)"},
    {"encode", cmd_encode, "embed sentences (.npy or JSONL output)"},
    {"tokenize", cmd_tokenize, "print token ids as the model's tokenizer gives them"},
    {"similarity", cmd_similarity, "similarity matrix of a few sentences, or the top pairs of a file"},
    {"train", cmd_train, "train with MultipleNegativesRankingLoss (GradCache optional)"},
    {"corpus", cmd_corpus, "build pair datasets from Debian's dictionaries and package texts"},
    {"init", cmd_init, "create a randomly initialised model folder"},
    {"vocab", cmd_vocab, "learn a WordPiece vocabulary from plain text"},
    {"eval", cmd_eval, "evaluate: STS, retrieval, triplet, paraphrase mining, clustering"},
    {"index", cmd_index, "embed a corpus into a search index file"},
    {"search", cmd_search, "the documents of an index most similar to a query"},
    {"selfcheck", cmd_selfcheck, "verify kernels, tokenizer and encoder on this machine"},
    {"rank", cmd_rank, "rank answer candidates for a question (asymmetric prompts)"},
    {"bias", cmd_bias, "gender bias: occupations closer to female or male propositions"},
    {"cluster", cmd_cluster, "group texts by k-means or community detection"},
    {"serve", cmd_serve, "HTTP API (OpenAI-compatible embeddings, apps) and a demo page"},
};

static void usage(FILE *out)
{
    fprintf(out, "semb %s: sentence embeddings in C\n\nusage: semb <command> [options]\n\n"
                 "commands:\n", semb_version());
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        fprintf(out, "  %-12s %s\n", commands[i].name, commands[i].summary);
    fprintf(out, "\n'semb <command> --help' describes each command's options.\n");
}

/* Every command's output reaches standard output or the command fails: a write error that
 * stdio kept in its buffer (a full disk, a closed pipe's EIO) shows only at the last flush
 * and close, after the command has returned. */
static int finish_stdout(const char *command, int rc)
{
    errno = 0;
    bool failed = fflush(stdout) != 0 || ferror(stdout);
    int e = errno;
    if (fclose(stdout) != 0 && !failed) {
        failed = true;
        e = errno;
    }
    if (!failed)
        return rc;
    fprintf(stderr, "semb%s%s: standard output: write failed: %s\n", command ? " " : "",
            command ? command : "", strerror(e ? e : EIO));
    return rc ? rc : 1;
}

/* "semb encode: warning: ...", as errors are "semb encode: ...". */
static void print_warning(void *command, const char *message)
{
    fprintf(stderr, "semb %s: warning: %s\n", (const char *)command, message);
}

int main(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--version") == 0 || strcmp(argv[1], "version") == 0) {
        printf("semb %s (cpu: %s; kernels: %s)\n", semb_version(), cpu_features_string(),
               kernel_paths_string());
        return finish_stdout(NULL, 0);
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0 ||
        strcmp(argv[1], "help") == 0) {
        usage(stdout);
        return finish_stdout(NULL, 0);
    }
    for (size_t i = 0; i < sizeof commands / sizeof commands[0]; i++)
        if (strcmp(argv[1], commands[i].name) == 0) {
            semb_set_warning_handler(print_warning, (void *)commands[i].name);
            return finish_stdout(commands[i].name, commands[i].run(argc - 1, argv + 1));
        }
    fprintf(stderr, "semb: unknown command '%s' (see semb --help)\n", argv[1]);
    return 2;
}
