#include "io/json_file.h"

#include <errno.h>
#include <string.h>

#include "core/error.h"

semb_status json_file_load(const char *path, json_t **out, semb_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    json_error_t jerr;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    if (!root && strstr(jerr.text, "too big integer")) {
        /* transformers writes an unset model_max_length as 1e30 in integer form, which
         * overflows jansson's integers: read integers as doubles instead. */
        rewind(f);
        root = json_loadf(f, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    }
    fclose(f);
    if (!root)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: line %d, column %d: invalid JSON: %s", path,
                         jerr.line, jerr.column, jerr.text);
    if (!json_is_object(root)) {
        json_decref(root);
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: expected a JSON object at the top level",
                         path);
    }
    *out = root;
    return SEMB_OK;
}

static semb_status wrong_type(const char *path, const char *key, const char *expected,
                              semb_error *err)
{
    return semb_fail(err, SEMB_ERR_FORMAT, "%s: field '%s': expected %s", path, key, expected);
}

static const json_t *present(const json_t *obj, const char *key)
{
    const json_t *v = json_object_get(obj, key);
    return (v && !json_is_null(v)) ? v : NULL;
}

semb_status json_field_int_opt(const json_t *obj, const char *key, const char *path,
                               long long *out, semb_error *err)
{
    const json_t *v = present(obj, key);
    if (!v)
        return SEMB_OK;
    if (json_is_integer(v)) {
        *out = json_integer_value(v);
        return SEMB_OK;
    }
    /* Some configs write integral values as 512.0. */
    double r = json_is_real(v) ? json_real_value(v) : 0.5;
    if (r > -9e15 && r < 9e15 && r == (double)(long long)r) {
        *out = (long long)json_real_value(v);
        return SEMB_OK;
    }
    return wrong_type(path, key, "an integer", err);
}

semb_status json_field_int(const json_t *obj, const char *key, const char *path, long long *out,
                           semb_error *err)
{
    if (!present(obj, key))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: missing field '%s'", path, key);
    return json_field_int_opt(obj, key, path, out, err);
}

semb_status json_field_number_opt(const json_t *obj, const char *key, const char *path,
                                  double *out, semb_error *err)
{
    const json_t *v = present(obj, key);
    if (!v)
        return SEMB_OK;
    if (!json_is_number(v))
        return wrong_type(path, key, "a number", err);
    *out = json_number_value(v);
    return SEMB_OK;
}

semb_status json_field_bool_opt(const json_t *obj, const char *key, const char *path, bool *out,
                                semb_error *err)
{
    const json_t *v = present(obj, key);
    if (!v)
        return SEMB_OK;
    if (!json_is_boolean(v))
        return wrong_type(path, key, "true or false", err);
    *out = json_is_true(v);
    return SEMB_OK;
}

semb_status json_field_string_opt(const json_t *obj, const char *key, const char *path,
                                  const char **out, semb_error *err)
{
    const json_t *v = present(obj, key);
    if (!v)
        return SEMB_OK;
    if (!json_is_string(v))
        return wrong_type(path, key, "a string", err);
    *out = json_string_value(v);
    return SEMB_OK;
}

semb_status json_field_string(const json_t *obj, const char *key, const char *path,
                              const char **out, semb_error *err)
{
    if (!present(obj, key))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: missing field '%s'", path, key);
    return json_field_string_opt(obj, key, path, out, err);
}
