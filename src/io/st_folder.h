/* The sentence-transformers folder layout: which modules a model folder holds (modules.json
 * in both its classic `sentence_transformers.models.*` and newer
 * `sentence_transformers.base.modules.*` spellings), where each lives, and the maximum
 * sequence length, resolved the way sentence-transformers resolves it. */
#ifndef SEMB_IO_ST_FOLDER_H
#define SEMB_IO_ST_FOLDER_H

#include <stdbool.h>

#include "io/files.h"
#include "semb.h"

typedef struct st_folder {
    char *dir;             /* the model folder */
    char *transformer_dir; /* folder of the Transformer module (often dir itself) */
    char *pooling_dir;     /* folder of the Pooling module; NULL: mean pooling by default */
    bool has_modules_json; /* false: a plain Hugging Face folder */
    bool has_normalize;
    char *normalize_dir;   /* folder of the Normalize module (it has no files of its own), or NULL */
    bool classic_types;     /* modules.json used sentence_transformers.models.* names */
    /* The maximum lengths as the files give them, unchecked: only the encoder's config knows
     * the position limit they must respect (sentence_model applies the rule). */
    bool has_max_seq_length;    /* sentence_bert_config.json has max_seq_length */
    long long max_seq_length;
    bool has_model_max_length;  /* tokenizer_config.json has a model_max_length that is not
                                 * transformers' "no limit" (int(1e30) or int(1e20)) */
    long long model_max_length;
    /* from config_sentence_transformers.json (all optional) */
    semb_similarity similarity; /* similarity_fn_name; cosine when absent or null */
    size_t n_prompts;
    char **prompt_names;        /* prompts: name -> text prepended to the input */
    char **prompt_texts;
    char *default_prompt_name;  /* NULL when absent or null; else one of prompt_names */
} st_folder;

/* Reads modules.json, sentence_bert_config.json, tokenizer_config.json and
 * config_sentence_transformers.json of dir.
 * Errors: a missing folder or config.json (SEMB_ERR_IO), invalid JSON or unknown module types
 * (SEMB_ERR_FORMAT / SEMB_ERR_UNSUPPORTED), all naming the file and field. Free with
 * st_folder_free. */
semb_status st_folder_open(const char *dir, st_folder *out, semb_error *err);
void st_folder_free(st_folder *f);

#endif
