#include "model/sentence_model.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"

int sentence_model_resolve_max_seq_length(const st_folder *folder, const encoder_config *cfg)
{
    int limit = encoder_config_position_limit(cfg);
    int len = folder->max_seq_length > 0     ? folder->max_seq_length
              : folder->model_max_length > 0 ? folder->model_max_length
                                             : limit;
    return len < limit ? len : limit;
}

static semb_status load_weights(semb_model *m, semb_error *err)
{
    char *path = path_join(m->folder.transformer_dir, "model.safetensors");
    if (!path)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!path_exists(path)) {
        char *bin = path_join(m->folder.transformer_dir, "pytorch_model.bin");
        bool has_bin = bin && path_exists(bin);
        free(bin);
        semb_status st = semb_fail(err, SEMB_ERR_IO, "%s: not found%s", path,
                                   has_bin ? " (only pytorch_model.bin is there: semb reads "
                                             "safetensors; convert it with safetensors' "
                                             "convert script)"
                                           : "");
        free(path);
        return st;
    }
    safetensors_file file;
    semb_status st = safetensors_open(path, &file, err);
    free(path);
    if (st)
        return st;
    bool has_pooler = false;
    for (size_t i = 0; i < file.n_tensors; i++)
        if (strstr(file.tensors[i].name, "pooler.dense.weight"))
            has_pooler = true;
    st = encoder_params_create(&m->config, has_pooler, &m->params, err);
    if (!st)
        st = encoder_params_load(&m->params, &file, err);
    safetensors_close(&file);
    return st;
}

static semb_status load_pooling(semb_model *m, semb_error *err)
{
    if (!m->folder.pooling_dir) {
        m->pooling.modes = POOLING_MEAN;
        m->pooling.token_dim = m->config.hidden_size;
        m->pooling.include_prompt = true;
        return SEMB_OK;
    }
    char *path = path_join(m->folder.pooling_dir, "config.json");
    if (!path)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    semb_status st = pooling_config_load(path, &m->pooling, err);
    if (!st && m->pooling.token_dim != m->config.hidden_size)
        st = semb_fail(err, SEMB_ERR_FORMAT,
                       "%s: embedding dimension %d does not match the encoder's hidden size %d",
                       path, m->pooling.token_dim, m->config.hidden_size);
    free(path);
    return st;
}

semb_status semb_model_load(const char *dir, semb_model **out, semb_error *err)
{
    *out = NULL;
    semb_model *m = calloc(1, sizeof *m);
    if (!m)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    semb_status st = st_folder_open(dir, &m->folder, err);
    if (!st) {
        char *config = path_join(m->folder.transformer_dir, "config.json");
        st = config ? encoder_config_load(config, &m->config, err)
                    : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        free(config);
    }
    if (!st)
        st = load_pooling(m, err);
    if (!st)
        st = load_weights(m, err);
    if (!st)
        st = tokenizer_load_dir(m->folder.transformer_dir, encoder_arch_name(m->config.arch),
                                &m->tokenizer, err);
    if (!st && tokenizer_vocab_size(m->tokenizer) > (size_t)m->config.vocab_size)
        st = semb_fail(err, SEMB_ERR_FORMAT,
                       "%s: the tokenizer has %zu tokens but config.json's vocab_size is %d",
                       m->folder.transformer_dir, tokenizer_vocab_size(m->tokenizer),
                       m->config.vocab_size);
    if (st) {
        semb_model_free(m);
        return st;
    }
    m->normalize = m->folder.has_normalize;
    m->max_seq_length = sentence_model_resolve_max_seq_length(&m->folder, &m->config);
    *out = m;
    return SEMB_OK;
}

void semb_model_free(semb_model *m)
{
    if (!m)
        return;
    st_folder_free(&m->folder);
    encoder_params_free(&m->params);
    tokenizer_free(m->tokenizer);
    encoder_workspace_free(&m->workspace);
    free(m);
}

int semb_model_dimension(const semb_model *m)
{
    return pooling_output_dim(&m->pooling);
}

int semb_model_max_seq_length(const semb_model *m)
{
    return m->max_seq_length;
}

int semb_model_normalizes(const semb_model *m)
{
    return m->normalize;
}

semb_status semb_tokenize(const semb_model *m, const char *text, size_t length, int32_t **ids,
                          size_t *count, semb_error *err)
{
    *ids = NULL;
    *count = 0;
    token_buffer buf = {0};
    semb_status st = tokenizer_encode(m->tokenizer, text, length, (size_t)m->max_seq_length, &buf,
                                      err);
    if (st) {
        token_buffer_free(&buf);
        return st;
    }
    *ids = buf.ids;
    *count = buf.count;
    buf.ids = NULL; /* ownership passes to the caller; the rest of buf is released */
    token_buffer_free(&buf);
    return SEMB_OK;
}
