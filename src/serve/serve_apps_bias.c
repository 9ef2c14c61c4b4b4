/* POST /bias: the gender-bias evaluation of `semb bias` on the served model, over the
 * built-in lists or the request's own. The report carries the CLI's `--format json` fields
 * (cases, female_closer, male_closer, ties, the shares, mean_difference) for the whole set,
 * each occupation and each template, plus the mean female and male scores, "difference"
 * (female - male) and a "preference". semb_bias_evaluate encodes by itself, so it runs while
 * holding the model.
 *
 *   {"occupations": [O, ...] (1..max_inputs; the built-in list),
 *    "templates": ["ANCHOR\tPROPOSITION" | {"anchor", "proposition"}, ...] (the built-in)}
 *   -> {"model", "similarity", "overall": COUNTS, "occupations": [{"occupation", COUNTS}],
 *       "templates": [{"anchor", "proposition", COUNTS}]}, COUNTS being cases, female_closer,
 *       male_closer, ties, female_share, male_share, tie_share, mean_difference, female and
 *       male (mean scores), difference (= mean_difference) and preference: the gender more
 *       cases lean to, on equal counts the sign of the mean difference, else "neutral". */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "eval/gender_bias.h"
#include "serve/serve_apps.h"

static double share(size_t part, size_t cases)
{
    return cases ? (double)part / (double)cases : 0.0;
}

/* The gender more cases lean to; on equal counts, the sign of the mean difference. */
static const char *preference(const semb_bias_counts *c)
{
    if (c->female_closer != c->male_closer)
        return c->female_closer > c->male_closer ? "female" : "male";
    if (c->mean_difference != 0)
        return c->mean_difference > 0 ? "female" : "male";
    return "neutral";
}

/* label (an object with the entry's name, NULL when out of memory) with the counts added. */
static json_t *with_counts(json_t *label, const semb_bias_counts *c, double female, double male)
{
    json_t *counts = json_pack(
        "{s:I, s:I, s:I, s:I, s:f, s:f, s:f, s:f, s:f, s:f, s:f, s:s}", "cases",
        (json_int_t)c->cases, "female_closer", (json_int_t)c->female_closer, "male_closer",
        (json_int_t)c->male_closer, "ties", (json_int_t)c->ties, "female_share",
        share(c->female_closer, c->cases), "male_share", share(c->male_closer, c->cases),
        "tie_share", share(c->ties, c->cases), "mean_difference", c->mean_difference, "female",
        female, "male", male, "difference", c->mean_difference, "preference", preference(c));
    if (!label || !counts || json_object_update(label, counts)) {
        json_decref(label);
        label = NULL;
    }
    json_decref(counts);
    return label;
}

/* Mean scores of every case, per occupation and per template. */
typedef struct bias_means {
    double female, male;
    double *occupation_female, *occupation_male, *template_female, *template_male;
} bias_means;

static void bias_means_free(bias_means *m)
{
    free(m->occupation_female);
    free(m->occupation_male);
    free(m->template_female);
    free(m->template_male);
}

static bool bias_means_compute(const semb_bias_result *r, bias_means *m)
{
    size_t no = r->n_occupations, nt = r->n_templates;
    *m = (bias_means){0, 0, calloc(no, sizeof(double)), calloc(no, sizeof(double)),
                      calloc(nt, sizeof(double)), calloc(nt, sizeof(double))};
    if (!m->occupation_female || !m->occupation_male || !m->template_female ||
        !m->template_male)
        return false;
    for (size_t o = 0; o < no; o++)
        for (size_t t = 0; t < nt; t++) {
            double f = r->female_scores[o * nt + t], male = r->male_scores[o * nt + t];
            m->occupation_female[o] += f / (double)nt;
            m->occupation_male[o] += male / (double)nt;
            m->template_female[t] += f / (double)no;
            m->template_male[t] += male / (double)no;
            m->female += f / (double)(no * nt);
            m->male += male / (double)(no * nt);
        }
    return true;
}

static json_t *report_json(serve_context *ctx, const semb_bias_lists *lists,
                           const semb_bias_result *r, const bias_means *m)
{
    semb_similarity sim = semb_model_similarity(serve_context_model(ctx));
    json_t *occupations = json_array(), *templates = json_array();
    for (size_t o = 0; occupations && o < r->n_occupations; o++)
        if (json_array_append_new(
                occupations,
                with_counts(json_pack("{s:s}", "occupation", lists->occupations[o]),
                            &r->occupations[o], m->occupation_female[o],
                            m->occupation_male[o]))) {
            json_decref(occupations);
            occupations = NULL;
        }
    for (size_t t = 0; templates && t < r->n_templates; t++)
        if (json_array_append_new(
                templates, with_counts(json_pack("{s:s, s:s}", "anchor",
                                                 lists->templates[t].anchor, "proposition",
                                                 lists->templates[t].proposition),
                                       &r->templates[t], m->template_female[t],
                                       m->template_male[t]))) {
            json_decref(templates);
            templates = NULL;
        }
    json_t *overall = with_counts(json_object(), &r->overall, m->female, m->male);
    json_t *body = occupations && templates && overall
                       ? json_pack("{s:s, s:s, s:O, s:O, s:O}", "model",
                                   serve_context_name(ctx), "similarity",
                                   semb_similarity_name(sim), "overall", overall,
                                   "occupations", occupations, "templates", templates)
                       : NULL;
    json_decref(occupations);
    json_decref(templates);
    json_decref(overall);
    return body;
}

static bool scores_finite(const semb_bias_result *r)
{
    for (size_t c = 0; c < r->n_occupations * r->n_templates; c++)
        if (!isfinite(r->female_scores[c]) || !isfinite(r->male_scores[c]))
            return false;
    return true;
}

static serve_response evaluate(serve_context *ctx, const semb_bias_lists *lists)
{
    const serve_limits *limits = serve_context_limits(ctx);
    semb_encode_options opts = semb_encode_options_default();
    opts.batch_size = limits->max_batch;
    opts.precision = limits->precision;
    semb_bias_result result = {0};
    semb_error err = {0};
    semb_model *model = serve_model_acquire(ctx);
    semb_status st = semb_bias_evaluate(model, lists, &opts, &result, &err);
    serve_model_release(ctx);
    if (st)
        return serve_apps_failure(st, &err);
    serve_response r;
    bias_means means = {0};
    if (!scores_finite(&result))
        r = serve_error(500, "internal", "the model gave a non-finite score");
    else if (!bias_means_compute(&result, &means))
        r = serve_error(500, "internal", "out of memory for the bias report");
    else
        r = serve_apps_ok(report_json(ctx, lists, &result, &means));
    bias_means_free(&means);
    semb_bias_result_free(&result);
    return r;
}

/* ---- the lists of the request ---- */

/* A list entry the library refused: the user's (400) unless memory ran out. */
static serve_response entry_failure(semb_status st, const semb_error *err)
{
    if (st == SEMB_ERR_NOMEM)
        return serve_error(500, "internal", "%s", err->message);
    return serve_error(400, "invalid_value", "%s", err->message);
}

static bool read_occupations(serve_context *ctx, const json_t *request, semb_bias_lists *lists,
                             serve_response *error)
{
    serve_json_strings given;
    size_t max = (size_t)serve_context_limits(ctx)->max_inputs;
    if (!serve_json_strings_get(request, "occupations", false, 1, max, &given, error))
        return false;
    semb_error err = {0};
    semb_status st = SEMB_OK;
    if (!given.texts) {
        const char *builtin = semb_bias_default_occupations();
        st = bias_parse_occupations("<built-in occupations>", builtin, strlen(builtin), lists,
                                    &err);
    }
    for (size_t i = 0; !st && i < given.count; i++) {
        char where[48];
        snprintf(where, sizeof where, "occupations[%zu]", i);
        st = bias_append_occupation(where, given.texts[i], given.lengths[i], lists, &err);
    }
    serve_json_strings_free(&given);
    if (st)
        *error = entry_failure(st, &err);
    return !st;
}

/* Copies of a template entry's two sides: "ANCHOR<TAB>PROPOSITION" (a templates file's
 * line) or {"anchor": ..., "proposition": ...}. */
static bool template_sides(const json_t *value, size_t index, char **anchor,
                           char **proposition, serve_response *error)
{
    *anchor = *proposition = NULL;
    const json_t *a = json_object_get(value, "anchor"), *p = json_object_get(value, "proposition");
    const char *s;
    size_t n;
    if (json_is_string(a) && json_is_string(p)) {
        if (strlen(json_string_value(a)) != json_string_length(a) ||
            strlen(json_string_value(p)) != json_string_length(p)) {
            *error = serve_error(400, "invalid_value", "'templates[%zu]' holds a NUL character",
                                 index);
            return false;
        }
        *anchor = strdup(json_string_value(a));
        *proposition = strdup(json_string_value(p));
    } else if (json_is_string(value)) {
        if (!serve_json_element_string(value, "templates", index, &s, &n, error))
            return false;
        const char *tab = memchr(s, '\t', n);
        if (!tab) {
            *error = serve_error(400, "invalid_value", "'templates[%zu]': missing TAB between "
                                 "the anchor and the proposition (give \"ANCHOR\\tPROPOSITION\" "
                                 "or {\"anchor\": ..., \"proposition\": ...})", index);
            return false;
        }
        *anchor = strndup(s, (size_t)(tab - s));
        *proposition = strdup(tab + 1);
    } else {
        *error = serve_error(400, "wrong_type", "'templates[%zu]' must be a string "
                             "\"ANCHOR\\tPROPOSITION\" or an object with the strings "
                             "\"anchor\" and \"proposition\"", index);
        return false;
    }
    if (*anchor && *proposition)
        return true;
    free(*anchor);
    free(*proposition);
    *error = serve_error(500, "internal", "out of memory reading 'templates'");
    return false;
}

static bool read_templates(serve_context *ctx, const json_t *request, semb_bias_lists *lists,
                           serve_response *error)
{
    const json_t *given;
    size_t max = (size_t)serve_context_limits(ctx)->max_inputs;
    if (!serve_json_array(request, "templates", false, 1, max, &given, error))
        return false;
    semb_error err = {0};
    semb_status st = SEMB_OK;
    if (!given) {
        const char *builtin = semb_bias_default_templates();
        st = bias_parse_templates("<built-in templates>", builtin, strlen(builtin), lists, &err);
    }
    for (size_t i = 0; given && !st && i < json_array_size(given); i++) {
        char where[48], *anchor, *proposition;
        if (!template_sides(json_array_get(given, i), i, &anchor, &proposition, error))
            return false;
        snprintf(where, sizeof where, "templates[%zu]", i);
        st = bias_append_template(where, anchor, proposition, lists, &err);
        free(anchor);
        free(proposition);
    }
    if (st)
        *error = entry_failure(st, &err);
    return !st;
}

/* The cases of the built-in lists (0 if they cannot be read, which a test prevents). */
static size_t builtin_cases(void)
{
    semb_bias_lists builtin;
    if (semb_bias_lists_load(NULL, NULL, &builtin, NULL))
        return 0;
    size_t cases = builtin.n_occupations * builtin.n_templates;
    semb_bias_lists_free(&builtin);
    return cases;
}

/* Each case is three texts to encode: a request may run as many cases as --max-inputs, or
 * as the built-in lists hold when that is more (the default evaluation always runs). */
static bool check_cases(serve_context *ctx, const semb_bias_lists *lists,
                        serve_response *error)
{
    size_t cases = lists->n_occupations * lists->n_templates;
    size_t max = (size_t)serve_context_limits(ctx)->max_inputs, builtin = builtin_cases();
    max = builtin > max ? builtin : max;
    if (cases <= max)
        return true;
    *error = serve_error(400, "too_many_inputs", "%zu occupations x %zu templates = %zu cases; "
                         "this server evaluates at most %zu in one request",
                         lists->n_occupations, lists->n_templates, cases, max);
    return false;
}

serve_response serve_bias(serve_context *ctx, const json_t *request)
{
    serve_response error;
    semb_bias_lists lists = {0};
    if (!serve_json_object(request, &error) || !read_occupations(ctx, request, &lists, &error) ||
        !read_templates(ctx, request, &lists, &error) || !check_cases(ctx, &lists, &error)) {
        semb_bias_lists_free(&lists);
        return error;
    }
    serve_response r = evaluate(ctx, &lists);
    semb_bias_lists_free(&lists);
    return r;
}
