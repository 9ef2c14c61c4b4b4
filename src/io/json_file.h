/* JSON configuration files (jansson) with errors that name the file and the field. */
#ifndef SEMB_IO_JSON_FILE_H
#define SEMB_IO_JSON_FILE_H

#include <jansson.h>
#include <stdbool.h>

#include "semb.h"

/* Parses a whole file. On success *out is a new reference the caller must json_decref.
 * Errors: SEMB_ERR_IO when the file cannot be read, SEMB_ERR_FORMAT with
 * "path: line L, column C: reason" when it is not valid JSON, or when the top level is not
 * an object. */
semb_status json_file_load(const char *path, json_t **out, semb_error *err);

/* Typed field readers. `path` is only used for messages ("config.json: field 'hidden_size':
 * expected an integer"). The *_opt variants leave *out at its default when the key is absent
 * or JSON null; a present value of the wrong type is always an error. */
semb_status json_field_int(const json_t *obj, const char *key, const char *path, long long *out,
                           semb_error *err);
semb_status json_field_int_opt(const json_t *obj, const char *key, const char *path,
                               long long *out, semb_error *err);
semb_status json_field_number_opt(const json_t *obj, const char *key, const char *path,
                                  double *out, semb_error *err);
semb_status json_field_bool_opt(const json_t *obj, const char *key, const char *path, bool *out,
                                semb_error *err);
/* *out points into obj (valid while obj lives). */
semb_status json_field_string(const json_t *obj, const char *key, const char *path,
                              const char **out, semb_error *err);
semb_status json_field_string_opt(const json_t *obj, const char *key, const char *path,
                                  const char **out, semb_error *err);

#endif
