/* semb similarity: the similarity matrix of a few sentences given on the command line, or the
 * most similar pairs among the sentences of a file (paraphrase mining), under the model's
 * similarity function. */
#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "model/similarity.h"

/* Prints at most `width` bytes of s without cutting a UTF-8 sequence in half. */
static void print_clipped(const char *s, int width)
{
    int n = (int)strlen(s);
    if (n <= width) {
        printf("%s", s);
        return;
    }
    int cut = width - 3;
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
        cut--;
    printf("%.*s...", cut, s);
}

static void capitalized(const char *name)
{
    printf("%c%s", name[0] - 'a' + 'A', name + 1);
}

static int print_matrix(semb_model *model, char **texts, size_t n,
                        semb_compute_precision precision)
{
    int dim = semb_model_dimension(model);
    semb_similarity sim = semb_model_similarity(model);
    float *emb = malloc(n * (size_t)dim * sizeof *emb);
    semb_error err = {0};
    if (!emb)
        return cli_failf("similarity", "out of memory");
    semb_encode_options opts = semb_encode_options_default();
    opts.precision = precision;
    if (semb_encode(model, (const char *const *)texts, NULL, n, emb, &opts, &err)) {
        free(emb);
        return cli_fail("similarity", &err);
    }
    similarity_prepare(sim, emb, n, dim);
    capitalized(semb_similarity_name(sim));
    printf(" similarity\n\n");
    for (size_t i = 0; i < n; i++) {
        printf("[%zu] ", i + 1);
        print_clipped(texts[i], 70);
        putchar('\n');
    }
    printf("\n      ");
    for (size_t j = 0; j < n; j++)
        printf("  [%zu]%*s", j + 1, j + 1 < 10 ? 2 : 1, "");
    putchar('\n');
    for (size_t i = 0; i < n; i++) {
        printf("[%zu]%*s", i + 1, i + 1 < 10 ? 3 : 2, "");
        for (size_t j = 0; j < n; j++)
            printf("%7.4f", similarity_pair(sim, emb + i * (size_t)dim, emb + j * (size_t)dim, dim));
        putchar('\n');
    }
    free(emb);
    return 0;
}

/* One line per pair, best first: text "score<TAB>line i<TAB>line j<TAB>text i<TAB>text j"
 * (1-based input lines), or jsonl {"rank", "score", "line_i", "line_j", "text_i", "text_j"}. */
static void print_pairs(const cli_input *in, const semb_scored_pair *pairs, size_t n, bool jsonl)
{
    for (size_t k = 0; k < n; k++) {
        const semb_scored_pair *p = &pairs[k];
        size_t li = in->line_numbers[p->i], lj = in->line_numbers[p->j];
        if (!jsonl) {
            printf("%.4f\t%zu\t%zu\t%s\t%s\n", p->score, li, lj, in->texts[p->i], in->texts[p->j]);
            continue;
        }
        printf("{\"rank\": %zu, \"score\": %.6f, \"line_i\": %zu, \"line_j\": %zu, \"text_i\": ", k + 1,
               p->score, li, lj);
        cli_print_json_string(in->texts[p->i]);
        fputs(", \"text_j\": ", stdout);
        cli_print_json_string(in->texts[p->j]);
        fputs("}\n", stdout);
    }
}

/* Warns about sentences the model truncates. */
static void warn_truncated(const semb_model *model, const cli_input *in)
{
    size_t limit = (size_t)semb_model_max_seq_length(model), longer = 0, first = 0;
    for (size_t i = 0; i < in->count; i++) {
        size_t count = 0;
        if (semb_count_tokens(model, in->texts[i], in->lengths[i], &count, NULL) == SEMB_OK &&
            count > limit && longer++ == 0)
            first = in->line_numbers[i];
    }
    if (longer)
        fprintf(stderr, "semb similarity: warning: %zu sentence%s longer than %zu tokens "
                        "truncated to %zu tokens (the first on line %zu)\n",
                longer, longer == 1 ? "" : "s", limit, limit, first);
}

static int print_top_pairs(semb_model *model, const char *input, const char *input_format,
                           int top, bool jsonl, semb_compute_precision precision)
{
    semb_error err = {0};
    cli_input in;
    if (cli_read_input(input, input_format, &in, &err))
        return cli_fail("similarity", &err);
    warn_truncated(model, &in);
    semb_paraphrase_options po = semb_paraphrase_options_default();
    po.top_k = (size_t)top;
    po.max_pairs = (size_t)top;
    semb_scored_pair *pairs = NULL;
    size_t n_pairs = 0;
    semb_eval_options eo = semb_eval_options_default();
    eo.precision = precision;
    semb_status st = semb_paraphrase_mine(model, (const char *const *)in.texts, in.count, &eo,
                                          &po, &pairs, &n_pairs, &err);
    if (!st) {
        if (in.count < 2)
            fprintf(stderr, "semb similarity: warning: %zu sentence%s: no pairs\n", in.count,
                    in.count == 1 ? "" : "s");
        print_pairs(&in, pairs, n_pairs, jsonl);
    }
    free(pairs);
    cli_input_free(&in);
    if (st)
        return cli_fail("similarity", &err);
    return 0;
}

int cmd_similarity(int argc, char **argv)
{
    const char *model_dir = NULL, *input = NULL, *input_format = "text", *format = "text";
    const char *precision = NULL;
    int threads = 0, top = 20;
    const cli_option options[] = {
        {"--model", CLI_STRING, &model_dir, "sentence-transformers model folder (required)"},
        {"--input", CLI_STRING, &input, "a file of sentences ('-': stdin): print the top pairs"},
        {"--input-format", CLI_STRING, &input_format, "text (one per line, default) or jsonl"},
        {"--top", CLI_INT, &top, "pairs printed with --input (default 20)"},
        {"--format", CLI_STRING, &format,
         "text (score, lines i and j, texts; tab-separated) or jsonl"},
        {"--threads", CLI_INT, &threads, "threads (default: all cores)"},
        {"--precision", CLI_STRING, &precision, CLI_PRECISION_HELP},
    };
    char **texts = NULL;
    size_t n = 0;
    int rc = cli_parse(argc, argv, "similarity",
                       "--model DIR \"text a\" \"text b\" ...\n"
                       "       semb similarity --model DIR --input FILE [--top N] [--format text|jsonl]",
                       options, sizeof options / sizeof options[0], &texts, &n);
    if (rc) {
        free(texts);
        return rc == 1 ? 0 : 2;
    }
    bool jsonl = strcmp(format, "jsonl") == 0;
    if (!jsonl && strcmp(format, "text") != 0)
        rc = cli_failf("similarity", "--format: '%s' is not text or jsonl", format);
    else if (top <= 0)
        rc = cli_failf("similarity", "--top must be positive");
    else if (!model_dir || (input ? n > 0 : n < 2))
        rc = cli_failf("similarity", "needs --model and either --input FILE or at least two "
                                     "texts (see --help)");
    semb_compute_precision compute = SEMB_COMPUTE_FP32;
    if (rc || (rc = cli_precision("similarity", precision, &compute))) {
        free(texts);
        return 2;
    }
    cli_set_threads(threads);
    semb_error err = {0};
    semb_model *model = NULL;
    if (semb_model_load(model_dir, &model, &err)) {
        free(texts);
        return cli_fail("similarity", &err);
    }
    rc = input ? print_top_pairs(model, input, input_format, top, jsonl, compute)
               : print_matrix(model, texts, n, compute);
    free(texts);
    semb_model_free(model);
    return rc;
}
