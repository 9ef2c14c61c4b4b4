/* Gender-bias evaluation: counting on hand-made scores (ties included), template expansion
 * ("a"/"an", capitals at a sentence start, every pronoun form), the list parsers' errors
 * naming file:line, the built-in lists against the shipped data/bias/ files, and
 * semb_bias_evaluate on a tiny random model against scores computed here. */
#include "support.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/gender_bias.h"

static void assert_close(double got, double want, double tol, const char *what)
{
    if (!(fabs(got - want) <= tol))
        fail_msg("%s: got %.10g, want %.10g", what, got, want);
}

static void assert_counts(const semb_bias_counts *c, size_t cases, size_t female, size_t male,
                          size_t ties, double mean, const char *what)
{
    if (c->cases != cases || c->female_closer != female || c->male_closer != male ||
        c->ties != ties)
        fail_msg("%s: %zu cases %zu/%zu/%zu, want %zu cases %zu/%zu/%zu", what, c->cases,
                 c->female_closer, c->male_closer, c->ties, cases, female, male, ties);
    assert_close(c->mean_difference, mean, 1e-12, what);
}

/* ---- counting ---- */

static void test_count_by_hand(void **state)
{
    /* 2 occupations x 3 templates, occupation-major:
     *   occupation 0: f>m (0.9 vs 0.5), tie (0.7 vs 0.7), m>f (0.2 vs 0.6)
     *   occupation 1: f>m (0.8 vs 0.1), f>m (0.3 vs 0.2), tie (-0.5 vs -0.5) */
    const double female[] = {0.9, 0.7, 0.2, 0.8, 0.3, -0.5};
    const double male[] = {0.5, 0.7, 0.6, 0.1, 0.2, -0.5};
    semb_bias_counts occupations[2], templates[3];
    semb_bias_result r = {.occupations = occupations, .templates = templates};
    bias_count(female, male, 2, 3, &r);
    assert_counts(&r.overall, 6, 3, 1, 2, (0.4 + 0 - 0.4 + 0.7 + 0.1 + 0) / 6, "overall");
    assert_counts(&occupations[0], 3, 1, 1, 1, 0.0, "occupation 0");
    assert_counts(&occupations[1], 3, 2, 0, 1, 0.8 / 3, "occupation 1");
    assert_counts(&templates[0], 2, 2, 0, 0, (0.4 + 0.7) / 2, "template 0");
    assert_counts(&templates[1], 2, 1, 0, 1, 0.1 / 2, "template 1");
    assert_counts(&templates[2], 2, 0, 1, 1, -0.4 / 2, "template 2");
}

/* ---- expansion ---- */

static void expect_expansion(const char *template_text, const char *occupation,
                             bias_gender gender, const char *want)
{
    char *got = NULL;
    semb_error err = {0};
    assert_int_equal(bias_expand(template_text, occupation, gender, &got, &err), SEMB_OK);
    if (strcmp(got, want))
        fail_msg("'%s' with '%s': got '%s', want '%s'", template_text, occupation, got, want);
    free(got);
}

static void test_expand(void **state)
{
    expect_expansion("The {occupation} prepared the report.", "nurse", BIAS_NO_GENDER,
                     "The nurse prepared the report.");
    expect_expansion("{pronoun} prepared the report.", "nurse", BIAS_FEMALE,
                     "She prepared the report.");
    expect_expansion("{pronoun} prepared the report.", "nurse", BIAS_MALE,
                     "He prepared the report.");
    expect_expansion("{a_occupation} walked in.", "engineer", BIAS_NO_GENDER,
                     "An engineer walked in.");
    expect_expansion("{a_occupation} walked in.", "nurse", BIAS_NO_GENDER, "A nurse walked in.");
    expect_expansion("I met {a_occupation}.", "electrician", BIAS_NO_GENDER,
                     "I met an electrician.");
    expect_expansion("I met {a_occupation}.", "university professor", BIAS_NO_GENDER,
                     "I met a university professor.");
    expect_expansion("{occupation}s work hard.", "welder", BIAS_NO_GENDER, "Welders work hard.");
    expect_expansion("{pronoun} read {possessive} email and thanked {object}. {pronoun} "
                     "blamed {reflexive}!  {possessive} turn.", "x", BIAS_FEMALE,
                     "She read her email and thanked her. She blamed herself!  Her turn.");
    expect_expansion("{pronoun} read {possessive} email and thanked {object}. {pronoun} "
                     "blamed {reflexive}!  {possessive} turn.", "x", BIAS_MALE,
                     "He read his email and thanked him. He blamed himself!  His turn.");
    expect_expansion("e.g.{pronoun}", "x", BIAS_MALE, "e.g.he");
    expect_expansion("{pronoun} is {a_occupation}.", "optician", BIAS_MALE,
                     "He is an optician.");
}

static void test_indefinite_article(void **state)
{
    const char *const an[] = {"engineer", "accountant", "architect", "insurance agent",
                              "office clerk", "urban planner", "hour", "honest broker",
                              "Engineer", "economist", "usher"};
    const char *const a[] = {"nurse", "university professor", "user researcher", "one",
                             "european", "usual suspect", "unit manager", "hairdresser", "", "y"};
    for (size_t i = 0; i < sizeof an / sizeof an[0]; i++)
        if (strcmp(bias_indefinite_article(an[i]), "an"))
            fail_msg("'%s' should take 'an'", an[i]);
    for (size_t i = 0; i < sizeof a / sizeof a[0]; i++)
        if (strcmp(bias_indefinite_article(a[i]), "a"))
            fail_msg("'%s' should take 'a'", a[i]);
}

/* ---- parsing ---- */

static void expect_template_error(const char *text, const char *want)
{
    semb_bias_lists lists = {0};
    semb_error err = {0};
    assert_int_equal(bias_parse_templates("t.tsv", text, strlen(text), &lists, &err),
                     SEMB_ERR_FORMAT);
    if (!strstr(err.message, want))
        fail_msg("error '%s' does not contain '%s'", err.message, want);
    semb_bias_lists_free(&lists);
}

static void test_template_errors(void **state)
{
    const char *good = "# comment\nThe {occupation} left.\t{pronoun} left.\n";
    char text[512];
    struct {
        const char *line, *want;
    } cases[] = {
        {"The {occupation} left. {pronoun} left.", "t.tsv:3: missing TAB"},
        {"The {occupation} left.\t{pronoun} left.\textra", "t.tsv:3: more than one TAB"},
        {"The boss left.\t{pronoun} left.", "t.tsv:3: the anchor has no {occupation}"},
        {"The {occupation} left.\tSomeone left.", "t.tsv:3: the proposition has no pronoun"},
        {"The {occupation} said she left.\t{pronoun} left.",
         "t.tsv:3: the anchor holds the gendered pronoun 'she'"},
        {"The {occupation} took HIS coat.\t{pronoun} left.", "pronoun 'his'"},
        {"{pronoun}, the {occupation}, left.\t{pronoun} left.",
         "t.tsv:3: the anchor holds {pronoun}"},
        {"The {occupation} left.\t{gender} left.",
         "t.tsv:3: the proposition has an unknown placeholder '{gender}'"},
        {"The {occupation left.\t{pronoun} left.", "t.tsv:3: the anchor has an unclosed '{'"},
        {"The {occupation} left.\t{pronoun left.", "the proposition has an unclosed '{'"},
        {"The occupation} left.\t{pronoun} left.", "the anchor has a '}' without '{'"},
        {"The {occupation} left.\t{pronoun} left.", "t.tsv:3: duplicate template"},
        {"The {occupation} left caf\xc3.\t{pronoun} left.", "t.tsv:3: invalid UTF-8"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(text, sizeof text, "%s%s\n", good, cases[i].line);
        expect_template_error(text, cases[i].want);
    }
    expect_template_error("# only a comment\n\n   \n", "t.tsv: no templates");
    expect_template_error("", "t.tsv: no templates");
}

static void test_template_file_read(void **state)
{
    const char *text = "# header\r\n\r\nThe {occupation} left.\t{pronoun} left.\r\n"
                       "{a_occupation} sat.\tI saw {object}.";
    semb_bias_lists lists = {0};
    semb_error err = {0};
    assert_int_equal(bias_parse_templates("t.tsv", text, strlen(text), &lists, &err), SEMB_OK);
    assert_int_equal(lists.n_templates, 2);
    assert_string_equal(lists.templates[0].anchor, "The {occupation} left.");
    assert_string_equal(lists.templates[0].proposition, "{pronoun} left.");
    assert_string_equal(lists.templates[1].proposition, "I saw {object}.");
    semb_bias_lists_free(&lists);
}

static void test_occupations(void **state)
{
    const char *text = "# jobs\n  nurse \r\n\nbus driver\n";
    semb_bias_lists lists = {0};
    semb_error err = {0};
    assert_int_equal(bias_parse_occupations("o.txt", text, strlen(text), &lists, &err), SEMB_OK);
    assert_int_equal(lists.n_occupations, 2);
    assert_string_equal(lists.occupations[0], "nurse");
    assert_string_equal(lists.occupations[1], "bus driver");
    semb_bias_lists_free(&lists);
    struct {
        const char *text, *want;
    } cases[] = {
        {"nurse\nteacher\n nurse\n", "o.txt:3: duplicate occupation 'nurse' (also on line 1)"},
        {"nurse\nbus\tdriver\n", "o.txt:2: a TAB inside an occupation"},
        {"nurse\n{occupation}\n", "o.txt:2: braces"},
        {"caf\xc3\n", "o.txt:1: invalid UTF-8"},
        {"# none\n", "o.txt: no occupations"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        semb_bias_lists l = {0};
        assert_int_equal(bias_parse_occupations("o.txt", cases[i].text, strlen(cases[i].text),
                                                &l, &err), SEMB_ERR_FORMAT);
        if (!strstr(err.message, cases[i].want))
            fail_msg("error '%s' does not contain '%s'", err.message, cases[i].want);
        semb_bias_lists_free(&l);
    }
    const char nul[] = "nurse\nte\0acher\n";
    semb_bias_lists l = {0};
    assert_int_equal(bias_parse_occupations("o.txt", nul, sizeof nul - 1, &l, &err),
                     SEMB_ERR_FORMAT);
    assert_non_null(strstr(err.message, "o.txt:2: contains a NUL byte"));
    semb_bias_lists_free(&l);
}

/* ---- the built-in lists ---- */

static void test_defaults_equal_shipped_files(void **state)
{
    char *occupations = test_read_file(SEMB_SOURCE_DIR "/data/bias/occupations.txt", NULL);
    char *templates = test_read_file(SEMB_SOURCE_DIR "/data/bias/templates.tsv", NULL);
    assert_string_equal(semb_bias_default_occupations(), occupations);
    assert_string_equal(semb_bias_default_templates(), templates);
    free(occupations);
    free(templates);
    semb_bias_lists lists;
    semb_error err = {0};
    assert_int_equal(semb_bias_lists_load(NULL, NULL, &lists, &err), SEMB_OK);
    assert_int_equal(lists.n_occupations, 60);
    assert_int_equal(lists.n_templates, 10);
    for (size_t i = 0; i < lists.n_occupations; i++)
        for (const char *s = lists.occupations[i]; *s; s++)
            if (!islower((unsigned char)*s) && *s != ' ')
                fail_msg("occupation '%s' is not a lowercase phrase", lists.occupations[i]);
    semb_bias_lists_free(&lists);
    assert_int_equal(semb_bias_lists_load("/nonexistent/o.txt", NULL, &lists, &err),
                     SEMB_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/o.txt"));
    assert_null(lists.occupations);
}

/* ---- semb_bias_evaluate on a tiny random model ---- */

static semb_model *tiny_model(const char *dir, const char *words)
{
    char vocab[4200], model_dir[4200];
    snprintf(vocab, sizeof vocab, "%s/vocab.txt", dir);
    snprintf(model_dir, sizeof model_dir, "%s/model", dir);
    FILE *f = fopen(vocab, "w");
    assert_non_null(f);
    fprintf(f, "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\n%s", words);
    fclose(f);
    semb_init_options o = semb_init_options_default();
    o.hidden_size = 16;
    o.num_layers = 1;
    o.num_heads = 2;
    o.intermediate_size = 32;
    o.vocab_path = vocab;
    o.normalize = 0;
    o.seed = 11;
    semb_error err = {0};
    if (semb_model_init(model_dir, &o, &err))
        fail_msg("init: %s", err.message);
    semb_model *m = NULL;
    if (semb_model_load(model_dir, &m, &err))
        fail_msg("load: %s", err.message);
    return m;
}

static double cosine_of(semb_model *m, const char *a, const char *b)
{
    int dim = semb_model_dimension(m);
    float *e = malloc(2 * (size_t)dim * sizeof *e);
    const char *texts[] = {a, b};
    semb_error err = {0};
    assert_int_equal(semb_encode(m, texts, NULL, 2, e, NULL, &err), SEMB_OK);
    double dot = 0, na = 0, nb = 0;
    for (int k = 0; k < dim; k++) {
        dot += (double)e[k] * e[dim + k];
        na += (double)e[k] * e[k];
        nb += (double)e[dim + k] * e[dim + k];
    }
    free(e);
    return dot / sqrt(na * nb);
}

static void load_lists(semb_bias_lists *lists)
{
    const char *occupations = "nurse\nengineer\ncarpenter\n";
    const char *templates = "The {occupation} is here.\t{pronoun} is here.\n"
                            "{a_occupation} ran.\t{pronoun} ran.\n";
    semb_error err = {0};
    memset(lists, 0, sizeof *lists);
    assert_int_equal(bias_parse_occupations("o", occupations, strlen(occupations), lists, &err),
                     SEMB_OK);
    assert_int_equal(bias_parse_templates("t", templates, strlen(templates), lists, &err),
                     SEMB_OK);
}

static void test_evaluate_by_hand(void **state)
{
    char *dir = test_make_temp_dir();
    semb_model *m = tiny_model(dir, "the\nis\nhere\nran\na\nan\n.\nnurse\nengineer\ncarpenter\n"
                                    "she\nhe\n");
    semb_bias_lists lists;
    load_lists(&lists);
    semb_bias_result r;
    semb_error err = {0};
    semb_encode_options opts = semb_encode_options_default();
    opts.batch_size = 5;
    assert_int_equal(semb_bias_evaluate(m, &lists, &opts, &r, &err), SEMB_OK);
    const char *anchors[] = {"The nurse is here.", "A nurse ran.", "The engineer is here.",
                             "An engineer ran.", "The carpenter is here.", "A carpenter ran."};
    const char *props[] = {"is here.", "ran."};
    for (int c = 0; c < 6; c++) {
        char she[64], he[64];
        snprintf(she, sizeof she, "She %s", props[c % 2]);
        snprintf(he, sizeof he, "He %s", props[c % 2]);
        assert_close(r.female_scores[c], cosine_of(m, anchors[c], she), 1e-5, "female score");
        assert_close(r.male_scores[c], cosine_of(m, anchors[c], he), 1e-5, "male score");
    }
    semb_bias_counts occupations[3], templates[2];
    semb_bias_result again = {.occupations = occupations, .templates = templates};
    bias_count(r.female_scores, r.male_scores, 3, 2, &again);
    assert_memory_equal(&again.overall, &r.overall, sizeof again.overall);
    assert_memory_equal(occupations, r.occupations, sizeof occupations);
    assert_memory_equal(templates, r.templates, sizeof templates);
    assert_int_equal(r.overall.cases, 6);
    semb_bias_result_free(&r);
    semb_bias_lists_free(&lists);
    semb_model_free(m);
    test_rmtree(dir);
    free(dir);
}

/* A vocabulary without "she" and "he" reads both as [UNK]: every case is a tie, and the
 * counts say so instead of hiding them. */
static void test_evaluate_counts_ties(void **state)
{
    char *dir = test_make_temp_dir();
    semb_model *m = tiny_model(dir, "the\nis\nhere\nran\na\nan\n.\nnurse\nengineer\n");
    semb_bias_lists lists;
    load_lists(&lists);
    semb_bias_result r;
    semb_error err = {0};
    assert_int_equal(semb_bias_evaluate(m, &lists, NULL, &r, &err), SEMB_OK);
    assert_counts(&r.overall, 6, 0, 0, 6, 0.0, "all ties");
    assert_counts(&r.occupations[2], 2, 0, 0, 2, 0.0, "carpenter ([UNK] too)");
    semb_bias_result_free(&r);
    semb_bias_lists lists_empty = {0};
    assert_int_equal(semb_bias_evaluate(m, &lists_empty, NULL, &r, &err), SEMB_ERR_INVALID_ARG);
    semb_bias_lists_free(&lists);
    semb_model_free(m);
    test_rmtree(dir);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_count_by_hand),
        cmocka_unit_test(test_expand),
        cmocka_unit_test(test_indefinite_article),
        cmocka_unit_test(test_template_errors),
        cmocka_unit_test(test_template_file_read),
        cmocka_unit_test(test_occupations),
        cmocka_unit_test(test_defaults_equal_shipped_files),
        cmocka_unit_test(test_evaluate_by_hand),
        cmocka_unit_test(test_evaluate_counts_ties),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
