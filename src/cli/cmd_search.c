/* semb search: the k documents of an index most similar to each query. */
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"

/* Queries searched together: bounds the hits held at once. */
#define QUERY_BATCH 1024

typedef struct search_args {
    const char *index_path, *model_dir, *query, *queries, *format, *query_prompt;
    int k, batch_size, threads, rescore_multiplier, ef;
    bool exact;
} search_args;

static bool ef_given(int argc, char **argv)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], "--ef") == 0)
            return true;
    return false;
}

static int parse_args(int argc, char **argv, search_args *a)
{
    *a = (search_args){.format = "text", .k = 10, .batch_size = 32};
    const cli_option options[] = {
        {"--index", CLI_STRING, &a->index_path, "index file from 'semb index build' (required)"},
        {"--model", CLI_STRING, &a->model_dir, "the model the index was built with (required)"},
        {"--query", CLI_STRING, &a->query, "one query"},
        {"--queries", CLI_STRING, &a->queries, "a file of queries, one a line"},
        {"--top-k", CLI_INT, &a->k, "hits per query (default 10)"},
        {"-k", CLI_INT, &a->k, "the same as --top-k"},
        {"--format", CLI_STRING, &a->format,
         "text (default) or jsonl: {\"rank\", \"score\", \"id\", \"text\"} a hit"},
        {"--exact", CLI_FLAG, &a->exact,
         "score every document: skip the index's HNSW graph, and for a binary index the "
         "Hamming shortlist"},
        {"--ef", CLI_INT, &a->ef,
         "index with an HNSW graph: candidate list of the approximate search, at least 1 "
         "(default max(k, 100); raised to k); larger is slower and finds more of the exact "
         "top k"},
        {"--rescore-multiplier", CLI_INT, &a->rescore_multiplier,
         "binary index: rescore the best N * k by Hamming distance (default 4)"},
        {"--query-prompt", CLI_STRING, &a->query_prompt,
         "prepended to each query (default: the model's \"query\" prompt, if any)"},
        {"--batch-size", CLI_INT, &a->batch_size, "sentences per forward pass (default 32)"},
        {"--threads", CLI_INT, &a->threads, "threads (default: all cores)"},
    };
    int rc = cli_parse(argc, argv, "search",
                       "--index INDEX --model DIR (--query TEXT | --queries FILE) [-k N]\n\n"
                       "Prints the k documents most similar to each query under the model's\n"
                       "similarity function, best first; equal scores in corpus order. An index\n"
                       "built with --hnsw is searched through its graph (approximate; scores\n"
                       "exact) unless --exact; others exactly.",
                       options, sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!a->index_path || !a->model_dir)
        return cli_failf("search", "--index and --model are required (see --help)"), 2;
    if (!a->query == !a->queries)
        return cli_failf("search", "give one of --query or --queries"), 2;
    if (a->k <= 0)
        return cli_failf("search", "-k must be at least 1 (got %d)", a->k), 2;
    if (a->batch_size <= 0 || a->rescore_multiplier < 0)
        return cli_failf("search", "--batch-size and --rescore-multiplier must be positive"), 2;
    if (a->ef < 0 || (a->ef == 0 && ef_given(argc, argv)))
        return cli_failf("search", "--ef must be at least 1 (got %d)", a->ef), 2;
    if (a->ef && a->exact)
        return cli_failf("search", "--ef is for the approximate search; --exact has none"), 2;
    if (strcmp(a->format, "text") != 0 && strcmp(a->format, "jsonl") != 0)
        return cli_failf("search", "--format: '%s' is not one of text, jsonl", a->format), 2;
    cli_set_threads(a->threads);
    return -1;
}

/* Text output keeps one hit a line: line breaks inside a document print as spaces. */
static void print_one_line(const char *s)
{
    for (; *s; s++)
        putchar(*s == '\n' || *s == '\r' ? ' ' : *s);
}

static void print_hit(const search_args *a, const semb_search_hit *h, size_t query, bool many)
{
    if (strcmp(a->format, "jsonl") == 0) {
        printf("{");
        if (many)
            printf("\"query\": %zu, ", query);
        printf("\"rank\": %zu, \"score\": %.6f, \"id\": ", h->rank, (double)h->score);
        if (h->id_is_integer)
            fputs(h->id, stdout);
        else
            cli_print_json_string(h->id);
        fputs(", \"text\": ", stdout);
        cli_print_json_string(h->text);
        puts("}");
        return;
    }
    printf("%3zu  %.4f  %s  ", h->rank, (double)h->score, h->id);
    print_one_line(h->text);
    putchar('\n');
}

/* Warns about queries the model will truncate. */
static void warn_long_queries(const semb_model *model, const cli_input *in, const char *prompt,
                              const char *queries_path)
{
    size_t max = (size_t)semb_model_max_seq_length(model), plen = strlen(prompt);
    for (size_t i = 0; i < in->count; i++) {
        char *text = malloc(plen + in->lengths[i] + 1);
        size_t tokens = 0;
        if (!text)
            return;
        memcpy(text, prompt, plen);
        memcpy(text + plen, in->texts[i], in->lengths[i] + 1);
        if (!semb_count_tokens(model, text, plen + in->lengths[i], &tokens, NULL) &&
            tokens > max)
        {
            if (queries_path)
                fprintf(stderr, "semb search: warning: %s:%zu: the query is %zu tokens long; "
                                "truncated to %zu tokens\n",
                        queries_path, in->line_numbers[i], tokens, max);
            else
                fprintf(stderr, "semb search: warning: the query is %zu tokens long; truncated "
                                "to %zu tokens\n", tokens, max);
        }
        free(text);
    }
}

static semb_status search_all(const search_args *a, const semb_index *index, semb_model *model,
                              const cli_input *in, semb_error *err)
{
    size_t k = (size_t)a->k;
    semb_search_hit *hits = malloc(QUERY_BATCH * k * sizeof *hits);
    if (!hits)
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate %d hits per query", a->k);
    semb_search_options opts = semb_search_options_default();
    opts.exact = a->exact;
    opts.rescore_multiplier = a->rescore_multiplier;
    opts.query_prompt = a->query_prompt;
    opts.ef = (size_t)a->ef;
    bool many = a->queries != NULL;
    semb_status st = SEMB_OK;
    for (size_t q0 = 0; !st && q0 < in->count; q0 += QUERY_BATCH) {
        size_t n = in->count - q0 < QUERY_BATCH ? in->count - q0 : QUERY_BATCH, per_query;
        st = semb_index_search(index, model, (const char *const *)in->texts + q0, n, k, &opts,
                               hits, &per_query, err);
        for (size_t q = 0; !st && q < n; q++) {
            if (many && strcmp(a->format, "text") == 0)
                printf("%squery %zu: %s\n", q0 + q ? "\n" : "", q0 + q, in->texts[q0 + q]);
            for (size_t r = 0; r < per_query; r++)
                print_hit(a, &hits[q * k + r], q0 + q, many);
        }
    }
    free(hits);
    return st;
}

static semb_status read_queries(const search_args *a, cli_input *in, semb_error *err)
{
    if (a->queries)
        return cli_read_input(a->queries, "text", in, err);
    char *text = strdup(a->query);
    in->texts = malloc(sizeof *in->texts);
    in->lengths = malloc(sizeof *in->lengths);
    in->line_numbers = calloc(1, sizeof *in->line_numbers);
    if (!text || !in->texts || !in->lengths || !in->line_numbers) {
        free(text);
        cli_input_free(in);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory reading the query");
    }
    in->texts[0] = text;
    in->lengths[0] = strlen(text);
    in->count = 1;
    return SEMB_OK;
}

/* Options that only one search path reads are errors on the other; the graph is loaded
 * (and validated) before any query is encoded. */
static semb_status check_search_mode(const search_args *a, semb_index *index, semb_error *err)
{
    semb_index_graph g;
    semb_index_graph_info(index, &g);
    if (a->ef && !g.present)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--ef: %s has no HNSW graph (build it with "
                                                    "'semb index build --hnsw'); its search is "
                                                    "exact", a->index_path);
    if (!g.present || a->exact)
        return SEMB_OK;
    if (a->rescore_multiplier)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--rescore-multiplier: %s is searched "
                                                    "through its HNSW graph, not a Hamming "
                                                    "shortlist (add --exact to score every "
                                                    "document)", a->index_path);
    return semb_index_load_graph(index, err);
}

int cmd_search(int argc, char **argv)
{
    search_args a;
    int rc = parse_args(argc, argv, &a);
    if (rc >= 0)
        return rc;
    semb_error err = {0};
    semb_index *index = NULL;
    semb_model *model = NULL;
    cli_input in = {0};
    semb_status st = semb_index_open(a.index_path, &index, &err);
    if (!st)
        st = semb_model_load(a.model_dir, &model, &err);
    if (!st)
        st = semb_index_check_model(index, model, a.model_dir, &err);
    if (!st)
        st = check_search_mode(&a, index, &err);
    if (!st)
        st = read_queries(&a, &in, &err);
    if (!st) {
        const char *prompt = a.query_prompt ? a.query_prompt : semb_model_prompt(model, "query");
        warn_long_queries(model, &in, prompt ? prompt : "", a.queries);
        if ((size_t)a.k > semb_index_count(index))
            fprintf(stderr, "semb search: warning: -k %d is more than the %zu documents of %s; "
                            "returning all of them\n",
                    a.k, semb_index_count(index), a.index_path);
        st = search_all(&a, index, model, &in, &err);
    }
    cli_input_free(&in);
    semb_model_free(model);
    semb_index_close(index);
    if (st)
        return cli_fail("search", &err);
    return 0;
}
