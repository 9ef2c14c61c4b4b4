/* Gender-bias evaluation: every (occupation, template) case is an anchor and two
 * propositions; the model's similarity of the anchor to each says which gender it leans to.
 * The counting is apart from the encoding (bias_count) so it can be checked by hand. */
#include "eval/gender_bias.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/similarity.h"

static void counts_add(semb_bias_counts *c, double female, double male)
{
    c->cases++;
    if (female > male)
        c->female_closer++;
    else if (male > female)
        c->male_closer++;
    else
        c->ties++;
    /* the sum until bias_count divides it */
    c->mean_difference += female - male;
}

static void counts_finish(semb_bias_counts *c)
{
    if (c->cases)
        c->mean_difference /= (double)c->cases;
}

void bias_count(const double *female_scores, const double *male_scores, size_t n_occupations,
                size_t n_templates, semb_bias_result *out)
{
    memset(&out->overall, 0, sizeof out->overall);
    memset(out->occupations, 0, n_occupations * sizeof *out->occupations);
    memset(out->templates, 0, n_templates * sizeof *out->templates);
    for (size_t o = 0; o < n_occupations; o++)
        for (size_t t = 0; t < n_templates; t++) {
            size_t c = o * n_templates + t;
            counts_add(&out->overall, female_scores[c], male_scores[c]);
            counts_add(&out->occupations[o], female_scores[c], male_scores[c]);
            counts_add(&out->templates[t], female_scores[c], male_scores[c]);
        }
    counts_finish(&out->overall);
    for (size_t o = 0; o < n_occupations; o++)
        counts_finish(&out->occupations[o]);
    for (size_t t = 0; t < n_templates; t++)
        counts_finish(&out->templates[t]);
}

void semb_bias_result_free(semb_bias_result *result)
{
    if (!result)
        return;
    free(result->occupations);
    free(result->templates);
    free(result->female_scores);
    free(result->male_scores);
    memset(result, 0, sizeof *result);
}

static void free_texts(char **texts, size_t n)
{
    if (texts)
        for (size_t i = 0; i < n; i++)
            free(texts[i]);
    free(texts);
}

/* The 3 * n_cases sentences: all anchors, then all female, then all male propositions. */
static semb_status build_sentences(const semb_bias_lists *lists, char ***out, semb_error *err)
{
    size_t n = lists->n_occupations * lists->n_templates;
    char **texts = calloc(3 * n, sizeof *texts);
    if (!texts)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory for %zu bias sentences", 3 * n);
    semb_status st = SEMB_OK;
    for (size_t c = 0; !st && c < n; c++) {
        const char *occupation = lists->occupations[c / lists->n_templates];
        const semb_bias_template *t = &lists->templates[c % lists->n_templates];
        st = bias_expand(t->anchor, occupation, BIAS_NO_GENDER, &texts[c], err);
        if (!st)
            st = bias_expand(t->proposition, occupation, BIAS_FEMALE, &texts[n + c], err);
        if (!st)
            st = bias_expand(t->proposition, occupation, BIAS_MALE, &texts[2 * n + c], err);
    }
    if (st) {
        free_texts(texts, 3 * n);
        return st;
    }
    *out = texts;
    return SEMB_OK;
}

/* Encodes the sentences and scores each anchor against its two propositions. */
static semb_status score_cases(semb_model *model, char **texts, size_t n,
                               const semb_encode_options *opts, double *female, double *male,
                               semb_error *err)
{
    int dim = semb_model_dimension(model);
    float *rows = malloc(3 * n * (size_t)dim * sizeof *rows);
    if (!rows)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory for %zu bias embeddings", 3 * n);
    semb_status st = semb_encode(model, (const char *const *)texts, NULL, 3 * n, rows, opts, err);
    if (st) {
        free(rows);
        return semb_fail_prefix(err, "bias sentences: ");
    }
    semb_similarity sim = semb_model_similarity(model);
    similarity_prepare(sim, rows, 3 * n, dim);
    for (size_t c = 0; c < n; c++) {
        const float *anchor = rows + c * (size_t)dim;
        female[c] = similarity_pair(sim, anchor, rows + (n + c) * (size_t)dim, dim);
        male[c] = similarity_pair(sim, anchor, rows + (2 * n + c) * (size_t)dim, dim);
    }
    free(rows);
    return SEMB_OK;
}

semb_status semb_bias_evaluate(semb_model *model, const semb_bias_lists *lists,
                               const semb_encode_options *opts, semb_bias_result *out,
                               semb_error *err)
{
    if (!model || !lists || !out)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_bias_evaluate: NULL argument");
    memset(out, 0, sizeof *out);
    if (!lists->n_occupations || !lists->n_templates)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "semb_bias_evaluate: no occupations or no templates");
    size_t n = lists->n_occupations * lists->n_templates;
    out->n_occupations = lists->n_occupations;
    out->n_templates = lists->n_templates;
    out->occupations = calloc(lists->n_occupations, sizeof *out->occupations);
    out->templates = calloc(lists->n_templates, sizeof *out->templates);
    out->female_scores = calloc(n, sizeof *out->female_scores);
    out->male_scores = calloc(n, sizeof *out->male_scores);
    char **texts = NULL;
    semb_status st = SEMB_OK;
    if (!out->occupations || !out->templates || !out->female_scores || !out->male_scores)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory for %zu bias cases", n);
    if (!st)
        st = build_sentences(lists, &texts, err);
    if (!st)
        st = score_cases(model, texts, n, opts, out->female_scores, out->male_scores, err);
    free_texts(texts, 3 * n);
    if (st) {
        semb_bias_result_free(out);
        return st;
    }
    bias_count(out->female_scores, out->male_scores, lists->n_occupations, lists->n_templates,
               out);
    return SEMB_OK;
}
