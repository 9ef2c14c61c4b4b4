/* semb eval: STS and retrieval evaluation of a model, or of the TF-IDF baseline, printed as
 * one JSON object on stdout. */
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "cli.h"
#include "eval/retrieval_eval.h"
#include "eval/sts_eval.h"
#include "eval/tfidf_baseline.h"

typedef struct eval_args {
    const char *model_dir, *data, *baseline;
    int batch_size, threads;
} eval_args;

/* A JSON number, or null for NaN (an undefined correlation), with a warning saying why. */
static void print_correlation(const char *command, const char *key, double value)
{
    if (isnan(value)) {
        fprintf(stderr, "semb %s: warning: %s is undefined (all gold or all predicted scores "
                        "are equal); printed as null\n", command, key);
        printf("\"%s\": null", key);
    } else {
        printf("\"%s\": %.4f", key, value);
    }
}

/* Parses the options shared by both tasks; returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, const char *command, const char *synopsis,
                      eval_args *args)
{
    *args = (eval_args){.batch_size = 32};
    const cli_option options[] = {
        {"--model", CLI_STRING, &args->model_dir, "sentence-transformers model folder"},
        {"--data", CLI_STRING, &args->data, "the evaluation file (required)"},
        {"--baseline", CLI_STRING, &args->baseline,
         "tfidf: evaluate bag-of-words TF-IDF cosine instead of a model"},
        {"--batch-size", CLI_INT, &args->batch_size, "sentences per forward pass (default 32)"},
        {"--threads", CLI_INT, &args->threads, "threads (default: all cores)"},
    };
    int rc = cli_parse(argc, argv, command, synopsis, options,
                       sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!args->data)
        return cli_failf(command, "--data is required (see --help)"), 2;
    if (args->baseline && strcmp(args->baseline, "tfidf") != 0)
        return cli_failf(command, "--baseline: '%s' is not tfidf", args->baseline), 2;
    if (args->baseline && args->model_dir)
        return cli_failf(command, "--baseline tfidf evaluates without a model: drop --model"), 2;
    if (!args->baseline && !args->model_dir)
        return cli_failf(command, "--model (or --baseline tfidf) is required (see --help)"), 2;
    if (args->batch_size <= 0)
        return cli_failf(command, "--batch-size must be positive"), 2;
    cli_set_threads(args->threads);
    return -1;
}

static int eval_sts(int argc, char **argv)
{
    const char *command = "eval sts";
    eval_args args;
    int rc = parse_args(argc, argv, command,
                        "(--model DIR | --baseline tfidf) --data FILE.tsv [options]\n\n"
                        "FILE.tsv has a header score<TAB>sentence1<TAB>sentence2. Prints\n"
                        "{\"spearman\", \"pearson\", \"n\"}: correlations (x100) of the cosine\n"
                        "similarity of each pair with its gold score.",
                        &args);
    if (rc >= 0)
        return rc;
    semb_error err = {0};
    sts_dataset data;
    if (sts_dataset_read(args.data, &data, &err))
        return cli_fail(command, &err);
    semb_model *model = NULL;
    sts_result result;
    semb_status st;
    if (args.baseline) {
        st = tfidf_sts_evaluate(&data, &result, &err);
    } else if (!(st = semb_model_load(args.model_dir, &model, &err))) {
        semb_encode_options opts = {.batch_size = args.batch_size};
        st = sts_evaluate(model, &data, &opts, &result, &err);
    }
    semb_model_free(model);
    sts_dataset_free(&data);
    if (st)
        return cli_fail(command, &err);
    putchar('{');
    print_correlation(command, "spearman", result.spearman);
    fputs(", ", stdout);
    print_correlation(command, "pearson", result.pearson);
    printf(", \"n\": %zu}\n", result.n);
    return fflush(stdout) ? cli_failf(command, "<stdout>: write failed") : 0;
}

static int eval_retrieval(int argc, char **argv)
{
    const char *command = "eval retrieval";
    eval_args args;
    int rc = parse_args(
        argc, argv, command,
        "(--model DIR | --baseline tfidf) --data FILE.jsonl [options]\n\n"
        "FILE.jsonl holds pairs, {\"anchor\": ..., \"positive\": ...} or [\"anchor\", \"positive\"]\n"
        "per line: each distinct anchor is a query, the distinct positives are the corpus, and a\n"
        "query's relevant documents are its positives. Prints MRR@10, Recall@1, Recall@10 and\n"
        "NDCG@10 (in [0, 1]) with the numbers of queries and documents.",
        &args);
    if (rc >= 0)
        return rc;
    semb_error err = {0};
    retrieval_dataset ds;
    if (retrieval_dataset_read_pairs(args.data, &ds, &err))
        return cli_fail(command, &err);
    semb_model *model = NULL;
    retrieval_result result;
    semb_status st;
    if (args.baseline) {
        st = tfidf_retrieval_evaluate(&ds, &result, &err);
    } else if (!(st = semb_model_load(args.model_dir, &model, &err))) {
        semb_encode_options opts = {.batch_size = args.batch_size};
        st = retrieval_evaluate(model, &ds, &opts, &result, &err);
    }
    semb_model_free(model);
    retrieval_dataset_free(&ds);
    if (st)
        return cli_fail(command, &err);
    printf("{\"mrr@10\": %.6f, \"recall@1\": %.6f, \"recall@10\": %.6f, \"ndcg@10\": %.6f, "
           "\"queries\": %zu, \"corpus\": %zu}\n",
           result.mrr_at_10, result.recall_at_1, result.recall_at_10, result.ndcg_at_10,
           result.queries, result.documents);
    return fflush(stdout) ? cli_failf(command, "<stdout>: write failed") : 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: semb eval sts (--model DIR | --baseline tfidf) --data FILE.tsv [options]\n"
                 "       semb eval retrieval (--model DIR | --baseline tfidf) --data FILE.jsonl "
                 "[options]\n\n'semb eval sts --help' and 'semb eval retrieval --help' describe "
                 "each.\n");
}

int cmd_eval(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "sts") == 0)
        return eval_sts(argc - 1, argv + 1);
    if (strcmp(argv[1], "retrieval") == 0)
        return eval_retrieval(argc - 1, argv + 1);
    cli_failf("eval", "unknown task '%s': expected sts or retrieval", argv[1]);
    return 2;
}
