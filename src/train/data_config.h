/* The list of training files with their sampling weights, from command-line specs
 * ("FILE[:WEIGHT]") and from data_config.json files in the 1B-pairs recipe's format:
 *   [{"name": "reddit_2015.jsonl.gz", "weight": 10, "lines": 123}, ...]
 * ("name" relative to the config file's folder unless absolute; "weight" default 1; "lines",
 * optional, the file's line count, which saves a counting pass for --epochs). */
#ifndef SEMB_TRAIN_DATA_CONFIG_H
#define SEMB_TRAIN_DATA_CONFIG_H

#include <stddef.h>
#include <stdint.h>

#include "semb.h"

typedef struct data_source {
    char *path;
    double weight;  /* > 0 */
    int64_t lines;  /* < 0: unknown */
} data_source;

typedef struct data_sources {
    data_source *items;
    size_t n;
} data_sources;

/* Adds "FILE" or "FILE:WEIGHT". Paths may hold ':': a trailing ':NUMBER' is always a weight
 * (name a file that ends in ':5' as 'FILE:5:1'); otherwise the whole spec is the file when
 * it exists, or when what follows the last ':' holds a '/'. SEMB_ERR_INVALID_ARG for an empty
 * path, or, naming it, a weight that is not a positive finite number ("-1", "abc", "nan",
 * "inf", "0", "", "1e400"). */
semb_status data_sources_add_spec(data_sources *d, const char *spec, semb_error *err);

/* Adds every entry of a data_config.json. Errors (SEMB_ERR_IO, SEMB_ERR_FORMAT) name the
 * config file and the entry. */
semb_status data_sources_add_config(data_sources *d, const char *config_path, semb_error *err);

void data_sources_free(data_sources *d);

#endif
