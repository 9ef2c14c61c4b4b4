#include "train/model_save.h"

#include <dirent.h>
#include <errno.h>
#include <ftw.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_folder.h"
#include "io/files.h"

/* The files sentence-transformers and transformers write beside the weights. */
static const char *const carried_files[] = {
    "config.json", "config_sentence_transformers.json", "modules.json",
    "sentence_bert_config.json", "tokenizer.json", "tokenizer_config.json",
    "special_tokens_map.json", "vocab.txt", "added_tokens.json", "README.md",
    /* BPE and sentencepiece tokenizers (RoBERTa, XLM-R) */
    "vocab.json", "merges.txt", "sentencepiece.bpe.model", "spiece.model"};

static semb_status copy_if_present(const char *from_dir, const char *to_dir, const char *name,
                                   semb_error *err)
{
    char *src = path_join(from_dir, name), *dst = path_join(to_dir, name);
    semb_status st = SEMB_OK;
    if (!src || !dst)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    else if (path_exists(src) && strcmp(src, dst) != 0)
        st = file_copy(src, dst, err);
    free(src);
    free(dst);
    return st;
}

/* A module folder (1_Pooling, 2_Normalize, ...) relative to the model folder, or NULL. */
static const char *module_subdir(const st_folder *f, const char *module_dir)
{
    size_t n = strlen(f->dir);
    if (!module_dir || strncmp(module_dir, f->dir, n) != 0)
        return NULL;
    const char *rest = module_dir + n;
    while (*rest == '/')
        rest++;
    return *rest ? rest : NULL;
}

/* The model folder a run started from may be gone by the time a later checkpoint copies
 * from it; without config.json the copy would silently be no model at all. */
static semb_status check_source(const st_folder *f, semb_error *err)
{
    char *config = path_join(f->transformer_dir, "config.json");
    if (!config)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    semb_status st = SEMB_OK;
    if (!path_exists(config))
        st = semb_fail(err, SEMB_ERR_IO,
                       "%s: missing: the folder the model was loaded from must stay in place "
                       "until its last save", config);
    free(config);
    return st;
}

semb_status model_save_files(const semb_model *model, const char *dir, semb_error *err)
{
    const st_folder *f = &model->folder;
    semb_status st = check_source(f, err);
    if (st)
        return st;
    const char *transformer_sub = module_subdir(f, f->transformer_dir);
    char *weights_dir = transformer_sub ? path_join(dir, transformer_sub) : strdup(dir);
    if (!weights_dir)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!st && transformer_sub)
        st = path_make_dir(weights_dir, err);
    for (size_t i = 0; !st && i < sizeof carried_files / sizeof carried_files[0]; i++) {
        st = copy_if_present(f->transformer_dir, weights_dir, carried_files[i], err);
        if (!st && transformer_sub)
            st = copy_if_present(f->dir, dir, carried_files[i], err);
    }
    const char *pooling_sub = module_subdir(f, f->pooling_dir);
    if (!st && pooling_sub) {
        char *to = path_join(dir, pooling_sub);
        st = to ? path_make_dir(to, err) : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        if (!st)
            st = copy_if_present(f->pooling_dir, to, "config.json", err);
        free(to);
    }
    const char *normalize_sub = module_subdir(f, f->normalize_dir);
    if (!st && normalize_sub) {
        char *to = path_join(dir, normalize_sub);
        st = to ? path_make_dir(to, err) : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        if (!st)
            st = copy_if_present(f->normalize_dir, to, "config.json", err);
        free(to);
    }
    if (!st) {
        char *weights = path_join(weights_dir, "model.safetensors");
        st = weights ? encoder_params_save(&model->params, weights, err)
                     : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        free(weights);
    }
    free(weights_dir);
    return st;
}

semb_status model_save_check_output(const char *dir, semb_error *err)
{
    return atomic_folder_check(dir, true, err);
}

semb_status model_save(const semb_model *model, const char *dir, semb_error *err)
{
    atomic_folder f;
    semb_status st = atomic_folder_begin(&f, dir, true, err);
    if (st)
        return st;
    if ((st = model_save_files(model, f.tmp, err))) {
        semb_fail_prefix(err, "%s: cannot save the model: ", dir);
        atomic_folder_abort(&f);
        return st;
    }
    return atomic_folder_commit(&f, err);
}
