/* JSON configuration files (jansson): config.json, modules.json, 1_Pooling/config.json,
 * tokenizer.json, tokenizer_config.json, ... with errors that name the file and the field
 * ("dir/tokenizer.json: normalizer.lowercase: expected true or false"). */
#ifndef SEMB_IO_JSON_FILE_H
#define SEMB_IO_JSON_FILE_H

#include <jansson.h>
#include <stdbool.h>

#include "semb.h"

/* Parses a whole file whatever its top level. On success *out is a new reference the caller
 * must json_decref. Duplicate keys are rejected. When jansson reports an integer too big for
 * it (transformers writes an unset model_max_length as 1e30 in integer form), the file is
 * read again with every integer as a real; the json_field_int* readers accept integral reals.
 * Errors: SEMB_ERR_IO "path: cannot open: reason" or "path: cannot read", SEMB_ERR_FORMAT
 * "path: line L, column C: invalid JSON: reason". */
semb_status json_file_parse(const char *path, json_t **out, semb_error *err);

/* json_file_parse for a file whose top level must be an object; SEMB_ERR_FORMAT "path:
 * expected a JSON object at the top level" otherwise. */
semb_status json_file_load(const char *path, json_t **out, semb_error *err);

/* Typed field readers for obj[key]. `path` and `parent` are only used for messages: a field
 * is named "parent.key", or "key" when parent is NULL, as in "config.json: hidden_size:
 * expected an integer" and "tokenizer.json: normalizer.lowercase: expected true or false".
 * The *_opt variants leave *out as it is when the key is absent or JSON null; the others
 * fail with SEMB_ERR_FORMAT "path: parent.key: missing" then. A present value of the wrong
 * type is always SEMB_ERR_FORMAT "path: parent.key: expected ...".
 * Integers: an integral real (512.0) is read as an integer when it lies within +-9e15,
 * where doubles still hold every integer exactly. */
semb_status json_field_int(const json_t *obj, const char *key, const char *path,
                           const char *parent, long long *out, semb_error *err);
semb_status json_field_int_opt(const json_t *obj, const char *key, const char *path,
                               const char *parent, long long *out, semb_error *err);
/* Any JSON number, integer or real. */
semb_status json_field_number_opt(const json_t *obj, const char *key, const char *path,
                                  const char *parent, double *out, semb_error *err);
semb_status json_field_bool_opt(const json_t *obj, const char *key, const char *path,
                                const char *parent, bool *out, semb_error *err);
/* *out points into obj (valid while obj lives). */
semb_status json_field_string(const json_t *obj, const char *key, const char *path,
                              const char *parent, const char **out, semb_error *err);
semb_status json_field_string_opt(const json_t *obj, const char *key, const char *path,
                                  const char *parent, const char **out, semb_error *err);
/* *out is obj[key] when it is an object, a borrowed reference valid while obj lives; unlike
 * the other *_opt readers it is set to NULL when the key is absent or JSON null. */
semb_status json_field_object_opt(const json_t *obj, const char *key, const char *path,
                                  const char *parent, json_t **out, semb_error *err);

#endif
