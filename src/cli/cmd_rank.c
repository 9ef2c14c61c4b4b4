/* semb rank: answer candidates ranked for a question (or for each of several), the query and
 * the candidates each with their own prompt, as sentence-transformers' encode_query and
 * encode_document give them. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"

static const char *const command = "rank";

/* -k's value when it is not given (cli_parse never gives it: ints stop at -INT_MAX). */
#define K_ALL INT_MIN

typedef struct rank_args {
    const char *model_dir, *query, *queries_path, *candidates_path, *input_format, *format;
    const char *query_prompt, *query_prompt_name, *document_prompt, *document_prompt_name;
    const char *precision;
    int k, batch_size, threads;
    semb_compute_precision compute;
} rank_args;

/* Returns -1 to go on, else the exit status. */
static int parse_args(int argc, char **argv, rank_args *a)
{
    *a = (rank_args){.input_format = "text", .format = "text", .k = K_ALL, .batch_size = 32};
    const cli_option options[] = {
        {"--model", CLI_STRING, &a->model_dir, "sentence-transformers model folder (required)"},
        {"--query", CLI_STRING, &a->query, "the question"},
        {"--queries", CLI_STRING, &a->queries_path, "a file of questions: one ranking each"},
        {"--candidates", CLI_STRING, &a->candidates_path, "the answer candidates (required)"},
        {"--input-format", CLI_STRING, &a->input_format,
         "text: one per line (default); jsonl: one JSON string per line"},
        {"--query-prompt", CLI_STRING, &a->query_prompt,
         "prepended to the query (\"\": none); default the model's \"query\" prompt"},
        {"--query-prompt-name", CLI_STRING, &a->query_prompt_name,
         "the model's prompt of this name for the query"},
        {"--document-prompt", CLI_STRING, &a->document_prompt,
         "prepended to each candidate (\"\": none); default the model's \"document\", "
         "\"passage\" or \"corpus\" prompt"},
        {"--document-prompt-name", CLI_STRING, &a->document_prompt_name,
         "the model's prompt of this name for the candidates"},
        {"-k", CLI_INT, &a->k, "candidates shown per query (default all)"},
        {"--format", CLI_STRING, &a->format,
         "text (default) or jsonl: {\"rank\", \"score\", \"index\", \"text\"} per line"},
        {"--batch-size", CLI_INT, &a->batch_size, "sentences per forward pass (default 32)"},
        {"--threads", CLI_INT, &a->threads, "threads (default: all cores)"},
        {"--precision", CLI_STRING, &a->precision, CLI_PRECISION_HELP},
    };
    int rc = cli_parse(argc, argv, command,
                       "--model DIR (--query TEXT | --queries FILE) --candidates FILE [options]\n\n"
                       "Prints the candidates best first: rank, score (the model's similarity\n"
                       "function) and text; equal scores keep the file's order. With --queries,\n"
                       "one ranking per query (jsonl lines then carry \"query\": its 0-based index).",
                       options, sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    const char *missing = !a->model_dir ? "--model" : !a->candidates_path ? "--candidates"
                          : !a->query && !a->queries_path ? "--query or --queries" : NULL;
    if (missing)
        return cli_failf(command, "%s is required (see --help)", missing), 2;
    if (a->query && a->queries_path)
        return cli_failf(command, "give --query or --queries, not both"), 2;
    if (a->query_prompt && a->query_prompt_name)
        return cli_failf(command, "give --query-prompt or --query-prompt-name, not both"), 2;
    if (a->document_prompt && a->document_prompt_name)
        return cli_failf(command, "give --document-prompt or --document-prompt-name, not both"),
               2;
    if (a->k != K_ALL && a->k <= 0)
        return cli_failf(command, "-k must be positive"), 2;
    if (a->batch_size <= 0)
        return cli_failf(command, "--batch-size must be positive"), 2;
    if (strcmp(a->format, "text") != 0 && strcmp(a->format, "jsonl") != 0)
        return cli_failf(command, "--format: '%s' is not one of text, jsonl", a->format), 2;
    if (cli_precision(command, a->precision, &a->compute))
        return 2;
    cli_set_threads(a->threads);
    return -1;
}

/* The prompt one side gets: the text given, else the model's prompt of the name given (an
 * error if it has none), else the model's default for that side. */
static semb_status resolve_prompt(const semb_model *model, const char *text, const char *name,
                                  const char *fallback, const char *flag, const char **out,
                                  semb_error *err)
{
    if (text) {
        *out = text;
    } else if (name) {
        if (!(*out = semb_model_prompt(model, name)))
            return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: the model has no prompt named "
                             "'%s' (config_sentence_transformers.json \"prompts\")", flag, name);
    } else {
        *out = fallback;
    }
    return SEMB_OK;
}

/* Truncation warnings named one by one; past this many, a count. */
#define WARN_LIMIT 5

/* Counts the texts cut at the max sequence length, naming the first WARN_LIMIT on stderr. */
typedef struct truncation_report {
    size_t count;
    size_t max_tokens;
} truncation_report;

/* Warns on stderr when prompt + text is longer than the model takes. */
static semb_status check_length(const semb_model *model, const char *prompt, const char *text,
                                const char *what, truncation_report *report, semb_error *err)
{
    size_t prompt_length = prompt ? strlen(prompt) : 0, length = strlen(text);
    char *full = malloc(prompt_length + length + 1);
    if (!full)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    memcpy(full, prompt ? prompt : "", prompt_length);
    memcpy(full + prompt_length, text, length + 1);
    size_t tokens;
    semb_status st = semb_count_tokens(model, full, prompt_length + length, &tokens, err);
    free(full);
    if (st)
        return semb_fail_prefix(err, "%s: ", what);
    if (tokens <= report->max_tokens)
        return SEMB_OK;
    if (++report->count <= WARN_LIMIT)
        fprintf(stderr, "semb %s: warning: %s has %zu tokens%s; truncated to %zu tokens\n",
                command, what, tokens, prompt_length ? " with its prompt" : "",
                report->max_tokens);
    return SEMB_OK;
}

/* The texts a ranking runs over, with where each came from. */
typedef struct rank_texts {
    cli_input queries, candidates;
    const char *queries_name; /* NULL: the one --query */
} rank_texts;

static semb_status check_no_nul(const cli_input *in, const char *name, semb_error *err)
{
    for (size_t i = 0; i < in->count; i++)
        if (strlen(in->texts[i]) != in->lengths[i])
            return semb_fail(err, SEMB_ERR_INPUT, "%s: line %zu: the text holds a NUL character",
                             name, in->line_numbers[i]);
    return SEMB_OK;
}

static semb_status read_texts(const rank_args *a, rank_texts *t, semb_error *err)
{
    memset(t, 0, sizeof *t);
    semb_status st = cli_read_input(a->candidates_path, a->input_format, &t->candidates, err);
    if (!st)
        st = check_no_nul(&t->candidates, a->candidates_path, err);
    if (!st && a->queries_path) {
        t->queries_name = a->queries_path;
        st = cli_read_input(a->queries_path, a->input_format, &t->queries, err);
        if (!st)
            st = check_no_nul(&t->queries, a->queries_path, err);
    } else if (!st) {
        t->queries.texts = malloc(sizeof *t->queries.texts);
        t->queries.lengths = malloc(sizeof *t->queries.lengths);
        t->queries.line_numbers = calloc(1, sizeof *t->queries.line_numbers);
        char *copy = strdup(a->query);
        if (!t->queries.texts || !t->queries.lengths || !t->queries.line_numbers || !copy) {
            free(copy);
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        } else {
            t->queries.texts[0] = copy;
            t->queries.lengths[0] = strlen(copy);
            t->queries.count = 1;
        }
    }
    return st;
}

static semb_status warn_truncations(const semb_model *model, const rank_texts *t,
                                    const semb_rank_options *opts, semb_error *err)
{
    truncation_report report = {0, (size_t)semb_model_max_seq_length(model)};
    char what[128];
    semb_status st = SEMB_OK;
    for (size_t i = 0; !st && i < t->queries.count; i++) {
        if (t->queries_name)
            snprintf(what, sizeof what, "query %zu (%s line %zu)", i + 1, t->queries_name,
                     t->queries.line_numbers[i]);
        else
            snprintf(what, sizeof what, "the query");
        st = check_length(model, opts->query_prompt, t->queries.texts[i], what, &report, err);
    }
    for (size_t i = 0; !st && i < t->candidates.count; i++) {
        snprintf(what, sizeof what, "candidate %zu (line %zu)", i + 1,
                 t->candidates.line_numbers[i]);
        st = check_length(model, opts->document_prompt, t->candidates.texts[i], what, &report,
                          err);
    }
    if (!st && report.count > WARN_LIMIT)
        fprintf(stderr, "semb %s: warning: %zu more texts truncated to %zu tokens (%zu in all)\n",
                command, report.count - WARN_LIMIT, report.max_tokens, report.count);
    return st;
}

/* Text output: control characters (a JSONL text's newlines) print as spaces, one hit a line. */
static void print_plain(const char *s)
{
    for (; *s; s++)
        putchar((unsigned char)*s < ' ' ? ' ' : *s);
}

static void print_rankings(const rank_args *a, const rank_texts *t, size_t k,
                           const size_t *indices, const float *scores)
{
    bool jsonl = strcmp(a->format, "jsonl") == 0, several = t->queries_name != NULL;
    for (size_t q = 0; q < t->queries.count; q++) {
        if (several && !jsonl) {
            printf("%squery %zu: ", q ? "\n" : "", q + 1);
            print_plain(t->queries.texts[q]);
            putchar('\n');
        }
        for (size_t r = 0; r < k; r++) {
            size_t c = indices[q * k + r];
            double score = scores[q * k + r];
            if (jsonl) {
                if (several)
                    printf("{\"query\": %zu, ", q);
                printf("%s\"rank\": %zu, \"score\": %.6f, \"index\": %zu, \"text\": ",
                       several ? "" : "{", r + 1, score, c);
                cli_print_json_string(t->candidates.texts[c]);
                puts("}");
            } else {
                printf("%4zu  %9.6f  ", r + 1, score);
                print_plain(t->candidates.texts[c]);
                putchar('\n');
            }
        }
    }
}

static semb_status rank_and_print(semb_model *model, const rank_args *a, const rank_texts *t,
                                  const semb_rank_options *opts, semb_error *err)
{
    size_t n = t->candidates.count, k = opts->top_k;
    size_t *indices = malloc(t->queries.count * k * sizeof *indices);
    float *scores = malloc(t->queries.count * k * sizeof *scores);
    semb_status st = SEMB_OK;
    if (!indices || !scores)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory for %zu rankings", t->queries.count);
    if (!st)
        st = semb_rank(model, (const char *const *)t->queries.texts, t->queries.count,
                       (const char *const *)t->candidates.texts, n, opts, indices, scores, err);
    if (!st)
        print_rankings(a, t, k, indices, scores);
    free(indices);
    free(scores);
    return st;
}

int cmd_rank(int argc, char **argv)
{
    rank_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    semb_error err = {0};
    semb_model *model = NULL;
    rank_texts t;
    if (semb_model_load(a.model_dir, &model, &err))
        return cli_fail(command, &err);
    semb_rank_options opts = semb_rank_options_default();
    opts.batch_size = a.batch_size;
    opts.precision = a.compute;
    semb_status st = read_texts(&a, &t, &err);
    if (!st)
        st = resolve_prompt(model, a.query_prompt, a.query_prompt_name,
                            semb_model_query_prompt(model), "--query-prompt-name",
                            &opts.query_prompt, &err);
    if (!st)
        st = resolve_prompt(model, a.document_prompt, a.document_prompt_name,
                            semb_model_document_prompt(model), "--document-prompt-name",
                            &opts.document_prompt, &err);
    if (!st)
        st = warn_truncations(model, &t, &opts, &err);
    if (!st) {
        size_t n = t.candidates.count;
        if (a.k != K_ALL && (size_t)a.k > n)
            fprintf(stderr, "semb %s: note: -k %d is more than the %zu candidates; showing all "
                            "%zu\n", command, a.k, n, n);
        opts.top_k = a.k == K_ALL || (size_t)a.k > n ? n : (size_t)a.k;
        st = rank_and_print(model, &a, &t, &opts, &err);
    }
    cli_input_free(&t.queries);
    cli_input_free(&t.candidates);
    semb_model_free(model);
    return st ? cli_fail(command, &err) : 0;
}
