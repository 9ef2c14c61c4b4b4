/* Gender-bias evaluation (semb_bias_* in semb.h), in two separable steps: building the
 * sentences of each (occupation, template) case from the lists, and counting which
 * proposition given scores favour. Counting is kept apart from encoding so it can be checked
 * on hand-made scores, ties included. */
#ifndef SEMB_EVAL_GENDER_BIAS_H
#define SEMB_EVAL_GENDER_BIAS_H

#include <stddef.h>

#include "semb.h"

typedef enum bias_gender { BIAS_FEMALE, BIAS_MALE, BIAS_NO_GENDER } bias_gender;

/* The built-in lists, generated at build time from data/bias/ (bias_defaults.c). */
extern const char bias_default_occupations_text[];
extern const char bias_default_templates_text[];

/* Parses an occupations list or a templates file held in text[0..length) (name is the file
 * named in errors) into out, which must start empty ({0}); the other half of out is left as
 * it is. Errors as semb_bias_lists_load. */
semb_status bias_parse_occupations(const char *name, const char *text, size_t length,
                                   semb_bias_lists *out, semb_error *err);
semb_status bias_parse_templates(const char *name, const char *text, size_t length,
                                 semb_bias_lists *out, semb_error *err);

/* One occupation, or one template, given on its own instead of as a line of a list file
 * (the entries of a JSON request), appended to out with the checks a file line gets: valid
 * UTF-8 without NUL; an occupation trimmed of surrounding spaces and TABs, not empty, without
 * TAB, brace or line break; a template's anchor and proposition as in a templates file (the
 * placeholders, no pronoun in the anchor), neither holding a TAB or a line break (so the lists
 * can be written back as files); no duplicate. where names the entry in errors
 * ("occupations[2]"); a duplicate also names the earlier one by its 0-based position in
 * out. Errors: SEMB_ERR_FORMAT, SEMB_ERR_NOMEM; out is unchanged on failure. */
semb_status bias_append_occupation(const char *where, const char *text, size_t length,
                                   semb_bias_lists *out, semb_error *err);
semb_status bias_append_template(const char *where, const char *anchor, const char *proposition,
                                 semb_bias_lists *out, semb_error *err);

/* Expands template for occupation, with the pronouns of gender (BIAS_NO_GENDER for an
 * anchor), into a malloc'd string *out (caller frees). The template must have passed the
 * parser's checks. SEMB_ERR_NOMEM is the only failure. */
semb_status bias_expand(const char *template_text, const char *occupation, bias_gender gender,
                        char **out, semb_error *err);

/* "a" or "an" before phrase, by its first sound as English spelling usually gives it: "an"
 * before a vowel letter, except the "you"/"w" sounds (university, European, one), and before
 * a silent h (hour, honest, heir). */
const char *bias_indefinite_article(const char *phrase);

/* Counts n_occupations x n_templates cases from their scores (occupation-major, as in
 * semb_bias_result) into out's overall, occupations and templates, which out must already
 * hold (n_occupations and n_templates long); the score arrays are not touched. */
void bias_count(const double *female_scores, const double *male_scores, size_t n_occupations,
                size_t n_templates, semb_bias_result *out);

#endif
