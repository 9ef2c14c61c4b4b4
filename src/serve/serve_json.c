#include "serve/serve_json.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* The field's value, NULL when it is absent or null (both mean "not given"). */
static const json_t *field_value(const json_t *request, const char *field)
{
    const json_t *value = json_object_get(request, field);
    return json_is_null(value) ? NULL : value;
}

/* false with a missing_field error when a required field is not given, else true with
 * *present telling whether it was. */
static bool given(const json_t *value, const char *field, bool required, bool *present,
                  serve_response *error)
{
    *present = value != NULL;
    if (!value && required) {
        *error = serve_error(400, "missing_field", "'%s' is required", field);
        return false;
    }
    return true;
}

bool serve_json_object(const json_t *request, serve_response *error)
{
    if (json_is_object(request))
        return true;
    *error = serve_error(400, "wrong_type", "the request body must be a JSON object");
    return false;
}

/* Checks that value is a NUL-free string; name is the field or "field[index]". */
static bool check_string(const json_t *value, const char *name, const char **out,
                         size_t *length, serve_response *error)
{
    if (!json_is_string(value)) {
        *error = serve_error(400, "wrong_type", "'%s' must be a string", name);
        return false;
    }
    const char *s = json_string_value(value);
    size_t n = json_string_length(value);
    if (memchr(s, '\0', n)) {
        *error = serve_error(400, "invalid_value", "'%s' holds a NUL character", name);
        return false;
    }
    *out = s;
    if (length)
        *length = n;
    return true;
}

bool serve_json_string(const json_t *request, const char *field, bool required,
                       const char **out, size_t *length, serve_response *error)
{
    const json_t *value = field_value(request, field);
    bool present;
    if (!given(value, field, required, &present, error))
        return false;
    return !present || check_string(value, field, out, length, error);
}

bool serve_json_int(const json_t *request, const char *field, json_int_t min, json_int_t max,
                    json_int_t *out, serve_response *error)
{
    const json_t *value = field_value(request, field);
    if (!value)
        return true;
    if (!json_is_integer(value)) {
        *error = serve_error(400, "wrong_type", "'%s' must be an integer", field);
        return false;
    }
    json_int_t v = json_integer_value(value);
    if (v < min || v > max) {
        *error = serve_error(400, "invalid_value",
                             "'%s' must be between %" JSON_INTEGER_FORMAT " and %"
                             JSON_INTEGER_FORMAT " (got %" JSON_INTEGER_FORMAT ")",
                             field, min, max, v);
        return false;
    }
    *out = v;
    return true;
}

bool serve_json_number(const json_t *request, const char *field, double min, double max,
                       double *out, serve_response *error)
{
    const json_t *value = field_value(request, field);
    if (!value)
        return true;
    if (!json_is_number(value)) {
        *error = serve_error(400, "wrong_type", "'%s' must be a number", field);
        return false;
    }
    double v = json_number_value(value);
    if (!(v >= min && v <= max)) {
        *error = serve_error(400, "invalid_value", "'%s' must be between %g and %g (got %g)",
                             field, min, max, v);
        return false;
    }
    *out = v;
    return true;
}

bool serve_json_bool(const json_t *request, const char *field, bool *out,
                     serve_response *error)
{
    const json_t *value = field_value(request, field);
    if (!value)
        return true;
    if (!json_is_boolean(value)) {
        *error = serve_error(400, "wrong_type", "'%s' must be true or false", field);
        return false;
    }
    *out = json_is_true(value);
    return true;
}

bool serve_json_choice(const json_t *request, const char *field, const char *const *choices,
                       size_t n, size_t *out, serve_response *error)
{
    const char *s = NULL;
    if (!serve_json_string(request, field, false, &s, NULL, error))
        return false;
    if (!s)
        return true;
    for (size_t i = 0; i < n; i++)
        if (strcmp(s, choices[i]) == 0) {
            *out = i;
            return true;
        }
    char known[256] = "";
    for (size_t i = 0, used = 0; i < n && used < sizeof known; i++)
        used += (size_t)snprintf(known + used, sizeof known - used, "%s%s", i ? ", " : "",
                                 choices[i]);
    *error = serve_error(400, "invalid_value", "'%s' must be one of %s (got '%.100s')", field,
                         known, s);
    return false;
}

bool serve_json_array(const json_t *request, const char *field, bool required,
                      size_t min_count, size_t max_count, const json_t **out,
                      serve_response *error)
{
    const json_t *value = field_value(request, field);
    bool present;
    if (!given(value, field, required, &present, error))
        return false;
    if (!present) {
        *out = NULL;
        return true;
    }
    if (!json_is_array(value)) {
        *error = serve_error(400, "wrong_type", "'%s' must be an array", field);
        return false;
    }
    size_t count = json_array_size(value);
    if (count < min_count) {
        *error = serve_error(400, "invalid_value", "'%s' must hold at least %zu element%s (got %zu)",
                             field, min_count, min_count == 1 ? "" : "s", count);
        return false;
    }
    if (count > max_count) {
        *error = serve_error(400, "too_many_inputs",
                             "'%s' holds %zu elements; this server takes at most %zu", field,
                             count, max_count);
        return false;
    }
    *out = value;
    return true;
}

bool serve_json_element_string(const json_t *value, const char *field, size_t index,
                               const char **out, size_t *length, serve_response *error)
{
    char name[160];
    snprintf(name, sizeof name, "%.120s[%zu]", field, index);
    return check_string(value, name, out, length, error);
}

void serve_json_strings_free(serve_json_strings *s)
{
    free(s->texts);
    free(s->lengths);
    *s = (serve_json_strings){0};
}

bool serve_json_strings_get(const json_t *request, const char *field, bool required,
                            size_t min_count, size_t max_count, serve_json_strings *out,
                            serve_response *error)
{
    *out = (serve_json_strings){0};
    const json_t *array;
    if (!serve_json_array(request, field, required, min_count, max_count, &array, error))
        return false;
    if (!array || json_array_size(array) == 0)
        return true;
    size_t n = json_array_size(array);
    out->texts = malloc(n * sizeof *out->texts);
    out->lengths = malloc(n * sizeof *out->lengths);
    if (!out->texts || !out->lengths) {
        serve_json_strings_free(out);
        *error = serve_error(500, "internal", "out of memory reading '%s'", field);
        return false;
    }
    for (size_t i = 0; i < n; i++)
        if (!serve_json_element_string(json_array_get(array, i), field, i, &out->texts[i],
                                       &out->lengths[i], error)) {
            serve_json_strings_free(out);
            return false;
        }
    out->count = n;
    return true;
}
