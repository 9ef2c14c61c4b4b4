#include "train/data_config.h"

#include <ctype.h>
#include <errno.h>
#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/files.h"

static semb_status add(data_sources *d, char *path, double weight, int64_t lines,
                       semb_error *err)
{
    data_source *grown = realloc(d->items, (d->n + 1) * sizeof *grown);
    if (!grown) {
        free(path);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    d->items = grown;
    d->items[d->n++] = (data_source){path, weight, lines};
    return SEMB_OK;
}

/* A weight: the whole string a positive finite number (strtod's forms, "2", "0.5", "1e3";
 * not "nan", "inf", "1e400" or " 2"). */
static bool parse_weight(const char *s, double *out)
{
    if (!*s || isspace((unsigned char)*s))
        return false;
    char *end;
    errno = 0;
    *out = strtod(s, &end);
    return !errno && !*end && isfinite(*out) && *out > 0;
}

semb_status data_sources_add_spec(data_sources *d, const char *spec, semb_error *err)
{
    const char *colon = strrchr(spec, ':');
    double weight = 1, w;
    size_t path_len = strlen(spec);
    if (colon && parse_weight(colon + 1, &w)) {
        weight = w;
        path_len = (size_t)(colon - spec);
    } else if (colon && !path_exists(spec) && !strchr(colon + 1, '/')) {
        /* a '/' after the ':' makes it part of a path ("data:v2/pairs.jsonl"), a file that
         * does not exist is then the error to tell */
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "--data %s: weight '%s' is not a positive finite number (and no file "
                         "is named '%s')", spec, colon + 1, spec);
    }
    if (path_len == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--data '%s': no file name", spec);
    char *path = strndup(spec, path_len);
    if (!path)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    return add(d, path, weight, -1, err);
}

static semb_status add_entry(data_sources *d, const char *config, const char *dir, size_t i,
                             const json_t *entry, semb_error *err)
{
    const json_t *name = json_object_get(entry, "name");
    const json_t *weight = json_object_get(entry, "weight");
    const json_t *lines = json_object_get(entry, "lines");
    if (!json_is_object(entry))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: entry %zu is not an object", config, i + 1);
    if (!json_is_string(name) || json_string_length(name) == 0)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: entry %zu: \"name\" is missing or not a "
                         "file name", config, i + 1);
    double w = 1;
    if (weight && !(json_is_number(weight) && (w = json_number_value(weight)) > 0 && isfinite(w)))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: entry %zu (%s): \"weight\" is not a positive "
                         "number", config, i + 1, json_string_value(name));
    if (lines && !(json_is_integer(lines) && json_integer_value(lines) >= 0))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: entry %zu (%s): \"lines\" is not a count",
                         config, i + 1, json_string_value(name));
    const char *n = json_string_value(name);
    char *path = n[0] == '/' ? strdup(n) : path_join(dir, n);
    if (!path)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    return add(d, path, w, lines ? (int64_t)json_integer_value(lines) : -1, err);
}

semb_status data_sources_add_config(data_sources *d, const char *config_path, semb_error *err)
{
    json_error_t jerr;
    json_t *root = json_load_file(config_path, 0, &jerr);
    if (!root)
        return semb_fail(err, jerr.line < 0 ? SEMB_ERR_IO : SEMB_ERR_FORMAT,
                         "%s: %s", config_path, jerr.text);
    char *dir = strdup(config_path);
    semb_status st = SEMB_OK;
    if (!dir) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    } else {
        char *slash = strrchr(dir, '/');
        if (slash)
            slash[slash == dir] = '\0'; /* "/x.json" keeps "/" */
        else
            strcpy(dir, ".");
    }
    if (!st && (!json_is_array(root) || json_array_size(root) == 0))
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: not a list of {\"name\", \"weight\", \"lines\"} "
                       "entries", config_path);
    for (size_t i = 0; !st && i < json_array_size(root); i++)
        st = add_entry(d, config_path, dir, i, json_array_get(root, i), err);
    free(dir);
    json_decref(root);
    return st;
}

void data_sources_free(data_sources *d)
{
    for (size_t i = 0; i < d->n; i++)
        free(d->items[i].path);
    free(d->items);
    d->items = NULL;
    d->n = 0;
}
