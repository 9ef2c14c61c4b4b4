#include "io/json_file.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

semb_status json_file_parse(const char *path, json_t **out, semb_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    json_error_t jerr;
    json_t *root = json_loadf(f, JSON_REJECT_DUPLICATES, &jerr);
    if (!root && !ferror(f) && strstr(jerr.text, "too big integer")) {
        /* transformers writes an unset model_max_length as 1e30 in integer form, which
         * overflows jansson's integers: read integers as doubles instead. */
        rewind(f);
        root = json_loadf(f, JSON_REJECT_DUPLICATES | JSON_DECODE_INT_AS_REAL, &jerr);
    }
    bool read_failed = ferror(f);
    fclose(f);
    if (!root && read_failed)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot read", path);
    if (!root)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: line %d, column %d: invalid JSON: %s", path,
                         jerr.line, jerr.column, jerr.text);
    *out = root;
    return SEMB_OK;
}

semb_status json_file_load(const char *path, json_t **out, semb_error *err)
{
    json_t *root;
    semb_status st = json_file_parse(path, &root, err);
    if (st)
        return st;
    if (!json_is_object(root)) {
        json_decref(root);
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: expected a JSON object at the top level",
                         path);
    }
    *out = root;
    return SEMB_OK;
}

/* Messages name the field "parent.key", or "key" at the top level. */
static semb_status field_fail(const char *path, const char *parent, const char *key,
                              const char *problem, semb_error *err)
{
    return semb_fail(err, SEMB_ERR_FORMAT, "%s: %s%s%s: %s", path, parent ? parent : "",
                     parent ? "." : "", key, problem);
}

/* obj[key] unless it is absent or JSON null. */
static json_t *present(const json_t *obj, const char *key)
{
    json_t *value = json_object_get(obj, key);
    return json_is_null(value) ? NULL : value;
}

semb_status json_field_int_opt(const json_t *obj, const char *key, const char *path,
                               const char *parent, long long *out, semb_error *err)
{
    const json_t *value = present(obj, key);
    if (!value)
        return SEMB_OK;
    if (json_is_integer(value)) {
        *out = json_integer_value(value);
        return SEMB_OK;
    }
    /* Some configs write integral values as 512.0, and json_file_parse may have read every
     * integer as a real. Within +-9e15 the cast is defined and doubles are exact. */
    if (json_is_real(value)) {
        double real = json_real_value(value);
        if (real > -9e15 && real < 9e15 && real == (double)(long long)real) {
            *out = (long long)real;
            return SEMB_OK;
        }
    }
    return field_fail(path, parent, key, "expected an integer", err);
}

semb_status json_field_int(const json_t *obj, const char *key, const char *path,
                           const char *parent, long long *out, semb_error *err)
{
    if (!present(obj, key))
        return field_fail(path, parent, key, "missing", err);
    return json_field_int_opt(obj, key, path, parent, out, err);
}

semb_status json_field_number_opt(const json_t *obj, const char *key, const char *path,
                                  const char *parent, double *out, semb_error *err)
{
    const json_t *value = present(obj, key);
    if (!value)
        return SEMB_OK;
    if (!json_is_number(value))
        return field_fail(path, parent, key, "expected a number", err);
    *out = json_number_value(value);
    return SEMB_OK;
}

semb_status json_field_bool_opt(const json_t *obj, const char *key, const char *path,
                                const char *parent, bool *out, semb_error *err)
{
    const json_t *value = present(obj, key);
    if (!value)
        return SEMB_OK;
    if (!json_is_boolean(value))
        return field_fail(path, parent, key, "expected true or false", err);
    *out = json_is_true(value);
    return SEMB_OK;
}

semb_status json_field_string_opt(const json_t *obj, const char *key, const char *path,
                                  const char *parent, const char **out, semb_error *err)
{
    const json_t *value = present(obj, key);
    if (!value)
        return SEMB_OK;
    if (!json_is_string(value))
        return field_fail(path, parent, key, "expected a string", err);
    *out = json_string_value(value);
    return SEMB_OK;
}

semb_status json_field_string(const json_t *obj, const char *key, const char *path,
                              const char *parent, const char **out, semb_error *err)
{
    if (!present(obj, key))
        return field_fail(path, parent, key, "missing", err);
    return json_field_string_opt(obj, key, path, parent, out, err);
}

semb_status json_field_object_opt(const json_t *obj, const char *key, const char *path,
                                  const char *parent, json_t **out, semb_error *err)
{
    *out = NULL;
    json_t *value = present(obj, key);
    if (!value)
        return SEMB_OK;
    if (!json_is_object(value))
        return field_fail(path, parent, key, "expected an object", err);
    *out = value;
    return SEMB_OK;
}
