#include "text/config_json.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#include "core/error.h"

semb_status config_json_load(const char *path, json_t **out, semb_error *err)
{
    *out = NULL;
    FILE *f = fopen(path, "rb");
    if (!f)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));
    json_error_t jerr;
    json_t *root = json_loadf(f, 0, &jerr);
    int read_failed = ferror(f);
    fclose(f);
    if (!root && read_failed)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot read", path);
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

static const json_t *present(const json_t *obj, const char *key)
{
    const json_t *value = json_object_get(obj, key);
    return json_is_null(value) ? NULL : value;
}

static semb_status wrong_type(const char *path, const char *parent, const char *key,
                              const char *expected, semb_error *err)
{
    return semb_fail(err, SEMB_ERR_FORMAT, "%s: %s%s%s: expected %s", path, parent ? parent : "",
                     parent ? "." : "", key, expected);
}

semb_status config_json_bool(const json_t *obj, const char *key, const char *path,
                             const char *parent, bool *out, semb_error *err)
{
    const json_t *value = present(obj, key);
    if (!value)
        return SEMB_OK;
    if (!json_is_boolean(value))
        return wrong_type(path, parent, key, "true or false", err);
    *out = json_is_true(value);
    return SEMB_OK;
}

semb_status config_json_string(const json_t *obj, const char *key, const char *path,
                               const char *parent, const char **out, semb_error *err)
{
    const json_t *value = present(obj, key);
    if (!value)
        return SEMB_OK;
    if (!json_is_string(value))
        return wrong_type(path, parent, key, "a string", err);
    *out = json_string_value(value);
    return SEMB_OK;
}

semb_status config_json_integer(const json_t *obj, const char *key, const char *path,
                                const char *parent, long long *out, semb_error *err)
{
    const json_t *value = present(obj, key);
    if (!value)
        return SEMB_OK;
    if (!json_is_integer(value))
        return wrong_type(path, parent, key, "an integer", err);
    *out = json_integer_value(value);
    return SEMB_OK;
}

semb_status config_json_object(const json_t *obj, const char *key, const char *path,
                               const char *parent, json_t **out, semb_error *err)
{
    *out = NULL;
    json_t *value = json_object_get(obj, key);
    if (!value || json_is_null(value))
        return SEMB_OK;
    if (!json_is_object(value))
        return wrong_type(path, parent, key, "an object", err);
    *out = value;
    return SEMB_OK;
}
