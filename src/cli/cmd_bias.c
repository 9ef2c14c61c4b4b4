/* semb bias: which gender a model's embeddings lean to for each occupation: a table sorted
 * from the most female-leaning occupation to the most male-leaning, per template too, and the
 * overall proportions; or one JSON object. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"

static const char *const command = "bias";

/* One row of a table: what it is called and its counts. */
typedef struct bias_row {
    const char *label, *label2; /* label2: a template's proposition, else NULL */
    const semb_bias_counts *counts;
    size_t order;               /* place in the list */
} bias_row;

static double share(size_t part, size_t cases)
{
    return cases ? (double)part / (double)cases : 0.0;
}

/* Female-leaning first: by female minus male share, then mean difference, then list order. */
static int row_compare(const void *pa, const void *pb)
{
    const bias_row *a = pa, *b = pb;
    double lean_a = share(a->counts->female_closer, a->counts->cases) -
                    share(a->counts->male_closer, a->counts->cases);
    double lean_b = share(b->counts->female_closer, b->counts->cases) -
                    share(b->counts->male_closer, b->counts->cases);
    if (lean_a != lean_b)
        return lean_a > lean_b ? -1 : 1;
    if (a->counts->mean_difference != b->counts->mean_difference)
        return a->counts->mean_difference > b->counts->mean_difference ? -1 : 1;
    return a->order < b->order ? -1 : a->order > b->order;
}

static void print_counts(const semb_bias_counts *c)
{
    printf("%6.1f%%  %6.1f%%  %5.1f%%  %+10.6f", 100 * share(c->female_closer, c->cases),
           100 * share(c->male_closer, c->cases), 100 * share(c->ties, c->cases),
           c->mean_difference);
}

static void print_table(const char *heading, bias_row *rows, size_t n)
{
    qsort(rows, n, sizeof *rows, row_compare);
    int width = (int)strlen(heading);
    for (size_t i = 0; i < n; i++) {
        int w = (int)strlen(rows[i].label) + (rows[i].label2 ? 3 + (int)strlen(rows[i].label2) : 0);
        width = w > width ? w : width;
    }
    printf("%-*s  female    male   ties  mean f-m\n", width, heading);
    for (size_t i = 0; i < n; i++) {
        int w = printf("%s", rows[i].label);
        if (rows[i].label2)
            w += printf(" | %s", rows[i].label2);
        printf("%*s  ", width - w, "");
        print_counts(rows[i].counts);
        putchar('\n');
    }
}

static semb_status print_text(const semb_bias_lists *lists, const semb_bias_result *r)
{
    bias_row *rows = malloc((r->n_occupations + r->n_templates) * sizeof *rows);
    if (!rows)
        return SEMB_ERR_NOMEM;
    for (size_t i = 0; i < r->n_occupations; i++)
        rows[i] = (bias_row){lists->occupations[i], NULL, &r->occupations[i], i};
    print_table("occupation", rows, r->n_occupations);
    for (size_t i = 0; i < r->n_templates; i++)
        rows[i] = (bias_row){lists->templates[i].anchor, lists->templates[i].proposition,
                             &r->templates[i], i};
    putchar('\n');
    print_table("template (anchor | proposition)", rows, r->n_templates);
    free(rows);
    const semb_bias_counts *c = &r->overall;
    printf("\noverall: %zu cases (%zu occupations x %zu templates): closer to female %.1f%%, "
           "closer to male %.1f%%, ties %.1f%%, mean difference (female - male) %+.6f\n",
           c->cases, r->n_occupations, r->n_templates, 100 * share(c->female_closer, c->cases),
           100 * share(c->male_closer, c->cases), 100 * share(c->ties, c->cases),
           c->mean_difference);
    return SEMB_OK;
}

/* Adds the counts' fields to o (NULL passes through, as out of memory). */
static json_t *with_counts(json_t *o, const semb_bias_counts *c)
{
    if (!o)
        return NULL;
    json_object_set_new(o, "cases", json_integer((json_int_t)c->cases));
    json_object_set_new(o, "female_closer", json_integer((json_int_t)c->female_closer));
    json_object_set_new(o, "male_closer", json_integer((json_int_t)c->male_closer));
    json_object_set_new(o, "ties", json_integer((json_int_t)c->ties));
    json_object_set_new(o, "female_share", json_real(share(c->female_closer, c->cases)));
    json_object_set_new(o, "male_share", json_real(share(c->male_closer, c->cases)));
    json_object_set_new(o, "tie_share", json_real(share(c->ties, c->cases)));
    json_object_set_new(o, "mean_difference", json_real(c->mean_difference));
    return o;
}

/* One object: model, similarity, overall, then occupations and templates in list order. */
static semb_status print_json(const char *model_dir, const semb_model *model,
                              const semb_bias_lists *lists, const semb_bias_result *r)
{
    json_t *root = json_object(), *occupations = json_array(), *templates = json_array();
    json_object_set_new(root, "model", json_string(model_dir));
    json_object_set_new(root, "similarity",
                        json_string(semb_similarity_name(semb_model_similarity(model))));
    json_object_set_new(root, "overall", with_counts(json_object(), &r->overall));
    for (size_t i = 0; i < r->n_occupations; i++)
        json_array_append_new(occupations,
                              with_counts(json_pack("{s:s}", "occupation",
                                                    lists->occupations[i]),
                                          &r->occupations[i]));
    for (size_t i = 0; i < r->n_templates; i++)
        json_array_append_new(templates,
                              with_counts(json_pack("{s:s, s:s}", "anchor",
                                                    lists->templates[i].anchor, "proposition",
                                                    lists->templates[i].proposition),
                                          &r->templates[i]));
    json_object_set_new(root, "occupations", occupations);
    json_object_set_new(root, "templates", templates);
    int failed = !root || json_dumpf(root, stdout, JSON_REAL_PRECISION(8));
    json_decref(root);
    if (failed)
        return SEMB_ERR_NOMEM;
    putchar('\n');
    return SEMB_OK;
}

int cmd_bias(int argc, char **argv)
{
    const char *model_dir = NULL, *occupations = NULL, *templates = NULL, *format = "text";
    const char *precision = NULL;
    int batch_size = 32, threads = 0;
    const cli_option options[] = {
        {"--model", CLI_STRING, &model_dir, "sentence-transformers model folder (required)"},
        {"--occupations", CLI_STRING, &occupations,
         "one occupation per line (default: the built-in list of 60)"},
        {"--templates", CLI_STRING, &templates,
         "ANCHOR<TAB>PROPOSITION per line (default: the built-in 10)"},
        {"--format", CLI_STRING, &format, "text (default) or json"},
        {"--batch-size", CLI_INT, &batch_size, "sentences per forward pass (default 32)"},
        {"--precision", CLI_STRING, &precision, CLI_PRECISION_HELP},
        {"--threads", CLI_INT, &threads, "threads (default: all cores)"},
    };
    int rc = cli_parse(argc, argv, command,
                       "--model DIR [--occupations FILE] [--templates FILE] [options]\n\n"
                       "For each occupation and template, an anchor without gender (\"The nurse\n"
                       "prepared the report.\") is compared with two propositions differing only\n"
                       "by pronoun (\"She/He prepared the report.\"). Prints, per occupation, per\n"
                       "template and overall, the share of cases closer to the female and to the\n"
                       "male proposition, ties, and the mean score difference (female - male).\n"
                       "Near 50/50 and 0 means no preference. Templates use {occupation},\n"
                       "{a_occupation} (\"an engineer\"), {pronoun}, {object}, {possessive} and\n"
                       "{reflexive}; see README.md.",
                       options, sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!model_dir)
        return cli_failf(command, "--model is required (see --help)"), 2;
    if (batch_size <= 0)
        return cli_failf(command, "--batch-size must be positive"), 2;
    bool json = strcmp(format, "json") == 0;
    if (!json && strcmp(format, "text") != 0)
        return cli_failf(command, "--format: '%s' is not one of text, json", format), 2;
    semb_encode_options opts = semb_encode_options_default();
    opts.batch_size = batch_size;
    if (cli_precision(command, precision, &opts.precision))
        return 2;
    cli_set_threads(threads);

    semb_error err = {0};
    semb_bias_lists lists;
    if (semb_bias_lists_load(occupations, templates, &lists, &err))
        return cli_fail(command, &err);
    semb_model *model = NULL;
    semb_bias_result result = {0};
    semb_status st = semb_model_load(model_dir, &model, &err);
    if (!st)
        st = semb_bias_evaluate(model, &lists, &opts, &result, &err);
    if (!st && (st = json ? print_json(model_dir, model, &lists, &result)
                          : print_text(&lists, &result)))
        semb_fail(&err, st, "out of memory printing the result");
    semb_bias_result_free(&result);
    semb_model_free(model);
    semb_bias_lists_free(&lists);
    return st ? cli_fail(command, &err) : 0;
}
