/* Reading a request's fields in the endpoint handlers. Each getter checks one field of a
 * request object and returns true with *out written, or false with *error set to the API
 * contract's 400 response naming the field:
 *   missing_field    a required field is absent (or null)
 *   wrong_type       the field (or an element of an array) has another JSON type
 *   invalid_value    a number out of range, an unknown choice, a string holding a NUL
 *                    character, an array with fewer elements than required
 *   too_many_inputs  an array with more elements than allowed
 * An optional field that is absent or null leaves *out as it was: the caller's default.
 * Strings point into the request (borrowed; valid while the request lives): the JSON parser
 * has already checked them as UTF-8. Nothing here allocates except serve_json_strings_get. */
#ifndef SEMB_SERVE_SERVE_JSON_H
#define SEMB_SERVE_SERVE_JSON_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#include "serve/serve_api.h"

/* The request body itself must be an object: 400 wrong_type otherwise. */
bool serve_json_object(const json_t *request, serve_response *error);

/* A string field, *length its bytes (may be NULL). A string holding a NUL character is
 * refused, so *out is also a valid C string. */
bool serve_json_string(const json_t *request, const char *field, bool required,
                       const char **out, size_t *length, serve_response *error);

/* An integer field in [min, max] (a JSON number with a fraction or exponent is wrong_type). */
bool serve_json_int(const json_t *request, const char *field, json_int_t min, json_int_t max,
                    json_int_t *out, serve_response *error);

/* A number field (integer or real) in [min, max]. */
bool serve_json_number(const json_t *request, const char *field, double min, double max,
                       double *out, serve_response *error);

/* A boolean field. */
bool serve_json_bool(const json_t *request, const char *field, bool *out,
                     serve_response *error);

/* A string field that must be one of choices[0..n); *out receives its position. */
bool serve_json_choice(const json_t *request, const char *field, const char *const *choices,
                       size_t n, size_t *out, serve_response *error);

/* An array field of min_count..max_count elements of any type, *out borrowed (NULL when an
 * optional field is absent). */
bool serve_json_array(const json_t *request, const char *field, bool required,
                      size_t min_count, size_t max_count, const json_t **out,
                      serve_response *error);

/* An array of strings, as the request held them (borrowed, NUL-free). */
typedef struct serve_json_strings {
    const char **texts;
    size_t *lengths;
    size_t count;
} serve_json_strings;

/* An array field of min_count..max_count strings, each checked as serve_json_string checks
 * one and named "field[i]" in errors. On success *out owns two malloc'd arrays (free them
 * with serve_json_strings_free; count 0 and NULL arrays when an optional field is absent);
 * on failure *out is empty. Out of memory is a 500 internal error. */
bool serve_json_strings_get(const json_t *request, const char *field, bool required,
                            size_t min_count, size_t max_count, serve_json_strings *out,
                            serve_response *error);

void serve_json_strings_free(serve_json_strings *s);

/* Checks one string element (of an array the caller walks) as serve_json_strings_get does,
 * naming it "field[index]". */
bool serve_json_element_string(const json_t *value, const char *field, size_t index,
                               const char **out, size_t *length, serve_response *error);

#endif
