/* Reading the tokenizer's JSON files (tokenizer.json, tokenizer_config.json,
 * special_tokens_map.json) with jansson, with messages that name the file and the field
 * ("dir/tokenizer.json: normalizer.lowercase: expected true or false"). */
#ifndef SEMB_TEXT_CONFIG_JSON_H
#define SEMB_TEXT_CONFIG_JSON_H

#include <jansson.h>
#include <stdbool.h>

#include "semb.h"

/* Parses the file at path. *out is a new reference (json_decref). Errors: SEMB_ERR_IO when
 * it cannot be opened or read, SEMB_ERR_FORMAT "path: line L, column C: invalid JSON:
 * reason", or when the top level is not an object. */
semb_status config_json_load(const char *path, json_t **out, semb_error *err);

/* Typed optional fields of obj: an absent or null key leaves *out as it is; a value of
 * another type is SEMB_ERR_FORMAT "path: parent.key: expected ...". parent may be NULL
 * for top-level keys. *out strings point into obj. */
semb_status config_json_bool(const json_t *obj, const char *key, const char *path,
                             const char *parent, bool *out, semb_error *err);
semb_status config_json_string(const json_t *obj, const char *key, const char *path,
                               const char *parent, const char **out, semb_error *err);
semb_status config_json_integer(const json_t *obj, const char *key, const char *path,
                                const char *parent, long long *out, semb_error *err);

/* obj[key] when it is an object; NULL when absent or null; SEMB_ERR_FORMAT otherwise. */
semb_status config_json_object(const json_t *obj, const char *key, const char *path,
                               const char *parent, json_t **out, semb_error *err);

#endif
