#include "io/st_folder.h"

#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/files.h"
#include "io/json_file.h"

void st_folder_free(st_folder *f)
{
    if (!f)
        return;
    free(f->dir);
    free(f->transformer_dir);
    free(f->pooling_dir);
    free(f->normalize_dir);
    for (size_t i = 0; i < f->n_prompts; i++) {
        free(f->prompt_names[i]);
        free(f->prompt_texts[i]);
    }
    free(f->prompt_names);
    free(f->prompt_texts);
    free(f->default_prompt_name);
    memset(f, 0, sizeof *f);
}

/* "sentence_transformers.models.Pooling" and
 * "sentence_transformers.sentence_transformer.modules.pooling.Pooling" both end in the class
 * name; anything outside the sentence_transformers package is not ours to run. */
static const char *module_class(const char *type, bool *classic)
{
    static const char package[] = "sentence_transformers.";
    if (strncmp(type, package, sizeof package - 1) != 0)
        return NULL;
    *classic = strncmp(type, "sentence_transformers.models.", 29) == 0;
    const char *dot = strrchr(type, '.');
    return dot + 1;
}

static semb_status read_modules(st_folder *f, const char *path, semb_error *err)
{
    json_t *root;
    semb_status st = json_file_parse(path, &root, err);
    if (st)
        return st;
    if (!json_is_array(root) || json_array_size(root) == 0) {
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: expected a non-empty list of modules", path);
        goto done;
    }
    size_t i;
    json_t *module;
    bool have_transformer = false;
    json_array_foreach(root, i, module) {
        const char *type = NULL, *sub = "";
        char field[64];
        snprintf(field, sizeof field, "modules[%zu]", i);
        if (!json_is_object(module) ||
            (st = json_field_string(module, "type", path, field, &type, err)) ||
            (st = json_field_string_opt(module, "path", path, field, &sub, err))) {
            if (!st)
                st = semb_fail(err, SEMB_ERR_FORMAT, "%s: %s: expected an object", path, field);
            goto done;
        }
        bool classic = false;
        const char *cls = module_class(type, &classic);
        if (!cls || (strcmp(cls, "Transformer") != 0 && strcmp(cls, "Pooling") != 0 &&
                     strcmp(cls, "Normalize") != 0)) {
            st = semb_fail(err, SEMB_ERR_UNSUPPORTED,
                           "%s: %s: module type '%s' is not supported (Transformer, Pooling, "
                           "Normalize)",
                           path, field, type);
            goto done;
        }
        f->classic_types = f->classic_types || classic;
        bool order_ok = strcmp(cls, "Transformer") == 0 ? i == 0
                        : strcmp(cls, "Pooling") == 0   ? have_transformer && !f->pooling_dir
                                                        : f->pooling_dir && !f->has_normalize;
        if (!order_ok) {
            st = semb_fail(err, SEMB_ERR_UNSUPPORTED,
                           "%s: %s: '%s' is out of place (expected Transformer, Pooling, "
                           "optional Normalize)",
                           path, field, cls);
            goto done;
        }
        if (strcmp(cls, "Transformer") == 0) {
            have_transformer = true;
            free(f->transformer_dir);
            f->transformer_dir = path_join(f->dir, sub);
        } else if (strcmp(cls, "Pooling") == 0) {
            f->pooling_dir = path_join(f->dir, sub);
        } else {
            f->has_normalize = true;
            f->normalize_dir = path_join(f->dir, sub);
        }
    }
    if (!f->pooling_dir) {
        st = semb_fail(err, SEMB_ERR_UNSUPPORTED, "%s: no Pooling module", path);
        goto done;
    }
done:
    json_decref(root);
    return st;
}

/* sentence_bert_config.json is optional; a present but broken one is an error. */
static semb_status read_sentence_bert_config(st_folder *f, semb_error *err)
{
    char *path = path_join(f->transformer_dir, "sentence_bert_config.json");
    semb_status st = SEMB_OK;
    if (path && path_exists(path)) {
        json_t *root;
        if (!(st = json_file_load(path, &root, err))) {
            f->has_max_seq_length = json_object_get(root, "max_seq_length") &&
                                    !json_is_null(json_object_get(root, "max_seq_length"));
            st = json_field_int_opt(root, "max_seq_length", path, NULL, &f->max_seq_length, err);
            json_decref(root);
        }
    }
    free(path);
    return st;
}

static semb_status read_tokenizer_config(st_folder *f, semb_error *err)
{
    char *path = path_join(f->transformer_dir, "tokenizer_config.json");
    semb_status st = SEMB_OK;
    if (path && path_exists(path)) {
        json_t *root;
        double max_len = NAN;
        if (!(st = json_file_load(path, &root, err))) {
            st = json_field_number_opt(root, "model_max_length", path, NULL, &max_len, err);
            json_decref(root);
        }
        /* transformers writes "no limit" as int(1e30) (VERY_LARGE_INTEGER) or int(1e20). */
        if (!st && !isnan(max_len) && max_len < 1e18) {
            if (max_len != floor(max_len))
                st = semb_fail(err, SEMB_ERR_FORMAT,
                               "%s: field 'model_max_length': %g is not a whole number", path,
                               max_len);
            f->has_model_max_length = true;
            f->model_max_length = max_len < -1e18 ? LLONG_MIN : (long long)max_len;
        }
    }
    free(path);
    return st;
}

static semb_status read_prompts(st_folder *f, const json_t *prompts, const char *path,
                                semb_error *err)
{
    size_t n = json_object_size(prompts);
    f->prompt_names = calloc(n ? n : 1, sizeof *f->prompt_names);
    f->prompt_texts = calloc(n ? n : 1, sizeof *f->prompt_texts);
    if (!f->prompt_names || !f->prompt_texts)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    const char *name;
    json_t *value;
    json_object_foreach((json_t *)prompts, name, value) {
        if (!json_is_string(value))
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: prompts.%s: expected a string", path,
                             name);
        f->prompt_names[f->n_prompts] = strdup(name);
        f->prompt_texts[f->n_prompts] = strdup(json_string_value(value));
        f->n_prompts++;
        if (!f->prompt_names[f->n_prompts - 1] || !f->prompt_texts[f->n_prompts - 1])
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    return SEMB_OK;
}

/* config_sentence_transformers.json is optional (older folders lack the fields); unknown
 * similarity functions are refused rather than silently ranked by cosine. */
/* The names of config_sentence_transformers.json's similarity_fn_name, in enum order. */
static const char *const similarity_names[] = {"cosine", "dot", "euclidean", "manhattan"};

const char *semb_similarity_name(semb_similarity similarity)
{
    return (unsigned)similarity < 4 ? similarity_names[similarity] : "unknown";
}

semb_status semb_similarity_from_name(const char *name, semb_similarity *out)
{
    for (int i = 0; i < 4; i++)
        if (!strcmp(name, similarity_names[i])) {
            *out = (semb_similarity)i;
            return SEMB_OK;
        }
    if (!strcmp(name, "dot_product") || !strcmp(name, "cos_sim")) {
        *out = name[0] == 'd' ? SEMB_SIMILARITY_DOT : SEMB_SIMILARITY_COSINE;
        return SEMB_OK;
    }
    return SEMB_ERR_INVALID_ARG;
}

static semb_status read_st_config(st_folder *f, semb_error *err)
{
    f->similarity = SEMB_SIMILARITY_COSINE;
    char *path = path_join(f->dir, "config_sentence_transformers.json");
    if (!path)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    semb_status st = SEMB_OK;
    json_t *root = NULL;
    if (path_exists(path) && !(st = json_file_load(path, &root, err))) {
        const char *fn = NULL, *default_name = NULL;
        json_t *prompts = NULL;
        st = json_field_string_opt(root, "similarity_fn_name", path, NULL, &fn, err);
        if (!st && fn && semb_similarity_from_name(fn, &f->similarity))
            st = semb_fail(err, SEMB_ERR_UNSUPPORTED,
                           "%s: similarity_fn_name: '%s' is not one of cosine, dot, euclidean, "
                           "manhattan", path, fn);
        if (!st)
            st = json_field_object_opt(root, "prompts", path, NULL, &prompts, err);
        if (!st && prompts)
            st = read_prompts(f, prompts, path, err);
        if (!st)
            st = json_field_string_opt(root, "default_prompt_name", path, NULL, &default_name,
                                       err);
        if (!st && default_name) {
            bool known = false;
            for (size_t i = 0; i < f->n_prompts; i++)
                known |= !strcmp(f->prompt_names[i], default_name);
            if (!known)
                st = semb_fail(err, SEMB_ERR_FORMAT,
                               "%s: default_prompt_name: '%s' is not one of the prompts", path,
                               default_name);
            else if (!(f->default_prompt_name = strdup(default_name)))
                st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        }
    }
    json_decref(root);
    free(path);
    return st;
}

semb_status st_folder_open(const char *dir, st_folder *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    if (!path_is_dir(dir))
        return semb_fail(err, SEMB_ERR_IO, "%s: model folder not found", dir);
    out->dir = strdup(dir);
    char *modules = path_join(dir, "modules.json");
    if (!out->dir || !modules) {
        free(modules);
        st_folder_free(out);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    semb_status st = SEMB_OK;
    if (path_exists(modules)) {
        out->has_modules_json = true;
        st = read_modules(out, modules, err);
    } else {
        /* A plain Hugging Face folder: sentence-transformers adds mean pooling. */
        out->transformer_dir = strdup(dir);
    }
    free(modules);
    if (!st)
        st = read_sentence_bert_config(out, err);
    if (!st)
        st = read_tokenizer_config(out, err);
    if (!st)
        st = read_st_config(out, err);
    if (!st) {
        char *config = path_join(out->transformer_dir, "config.json");
        if (!config || !path_exists(config))
            st = semb_fail(err, SEMB_ERR_IO, "%s: missing config.json",
                           config ? config : out->transformer_dir);
        free(config);
    }
    if (st)
        st_folder_free(out);
    return st;
}
