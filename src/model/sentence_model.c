#include "model/sentence_model.h"

#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"

/* Checks the length `file` (in the Transformer's folder) gives under `key`. */
static semb_status check_length_from(const st_folder *folder, const encoder_config *cfg,
                                     const char *file, const char *key, long long value,
                                     semb_error *err)
{
    char *path = path_join(folder->transformer_dir, file);
    if (!path)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    semb_status st = encoder_config_check_max_length(cfg, value, path, key, SEMB_ERR_FORMAT, err);
    free(path);
    return st;
}

semb_status sentence_model_resolve_max_seq_length(const st_folder *folder,
                                                  const encoder_config *cfg, int *out,
                                                  semb_error *err)
{
    semb_status st;
    if (folder->has_max_seq_length &&
        (st = check_length_from(folder, cfg, "sentence_bert_config.json", "max_seq_length",
                                folder->max_seq_length, err)))
        return st;
    if (folder->has_model_max_length &&
        (st = check_length_from(folder, cfg, "tokenizer_config.json", "model_max_length",
                                folder->model_max_length, err)))
        return st;
    if (folder->has_max_seq_length && folder->has_model_max_length &&
        folder->model_max_length < folder->max_seq_length)
        semb_warn("%s: tokenizer_config.json's model_max_length %lld is below "
                  "sentence_bert_config.json's max_seq_length %lld: texts are cut at %lld "
                  "tokens, as sentence-transformers cuts them",
                  folder->transformer_dir, folder->model_max_length, folder->max_seq_length,
                  folder->max_seq_length);
    *out = folder->has_max_seq_length     ? (int)folder->max_seq_length
           : folder->has_model_max_length ? (int)folder->model_max_length
                                          : encoder_config_position_limit(cfg);
    return SEMB_OK;
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
    /* Every size config.json claims is checked against the file before the weights'
     * memory is allocated: a lying config fails here, not after gigabytes are touched. */
    st = encoder_params_check_file(&m->config, has_pooler, &file, err);
    if (!st)
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
                       "%s: field 'embedding_dimension': %d does not match config.json's '%s' "
                       "%d",
                       path, m->pooling.token_dim,
                       encoder_config_keys_for(m->config.arch)->hidden, m->config.hidden_size);
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
        st = sentence_model_resolve_max_seq_length(&m->folder, &m->config, &m->max_seq_length,
                                                   err);
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
    packed_batch_buffers_free(&m->batch_buffers);
    encoder_bf16_weights_free(&m->bf16_weights);
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

semb_status semb_count_tokens(const semb_model *m, const char *text, size_t length,
                              size_t *count, semb_error *err)
{
    *count = 0;
    token_buffer buf = {0};
    semb_status st = tokenizer_encode(m->tokenizer, text, length, 0, &buf, err);
    if (!st)
        *count = buf.count;
    token_buffer_free(&buf);
    return st;
}

/* 64-bit multiply-xorshift mixing over 8-byte words: fast enough to hash a large model at
 * load-time speed, and any changed weight changes the result. Not cryptographic: it guards
 * against mixing up models, not against forgery. */
static uint64_t hash_bytes(uint64_t h, const void *data, size_t size)
{
    const unsigned char *p = data;
    const uint64_t mul = 0x9E3779B97F4A7C15ull;
    while (size >= 8) {
        uint64_t w;
        memcpy(&w, p, 8);
        h = (h ^ w) * mul;
        h ^= h >> 29;
        p += 8;
        size -= 8;
    }
    uint64_t tail = size;
    for (size_t i = 0; i < size; i++)
        tail = (tail << 8) | p[i];
    h = (h ^ tail) * mul;
    return h ^ (h >> 32);
}

void semb_model_fingerprint(const semb_model *m, char out[SEMB_FINGERPRINT_SIZE])
{
    int shape[] = {(int)m->config.arch,        m->config.hidden_size, m->config.num_layers,
                   m->config.num_heads,        m->config.intermediate_size,
                   m->config.vocab_size,       (int)m->pooling.modes, m->normalize,
                   m->max_seq_length,          (int)m->params.arena_floats};
    static const char probe[] = "Semb fingerprint probe: Ünïcode, CASE, numbers 12345, "
                                "unbelievably-long-words and 中文.";
    uint64_t h[2] = {0x736562ull, 0x66696e67ull};
    token_buffer buf = {0};
    semb_error ignored;
    bool tokenized = !tokenizer_encode(m->tokenizer, probe, sizeof probe - 1, 0, &buf, &ignored);
    for (int k = 0; k < 2; k++) {
        h[k] = hash_bytes(h[k] + (uint64_t)k, shape, sizeof shape);
        h[k] = hash_bytes(h[k], m->params.arena, m->params.arena_floats * sizeof(float));
        if (tokenized)
            h[k] = hash_bytes(h[k], buf.ids, buf.count * sizeof *buf.ids);
    }
    token_buffer_free(&buf);
    snprintf(out, SEMB_FINGERPRINT_SIZE, "%016llx%016llx", (unsigned long long)h[0],
             (unsigned long long)h[1]);
}

const char *semb_model_query_prompt(const semb_model *model)
{
    return semb_model_prompt(model, "query");
}

const char *semb_model_document_prompt(const semb_model *model)
{
    static const char *const names[] = {"document", "passage", "corpus"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        const char *prompt = semb_model_prompt(model, names[i]);
        if (prompt)
            return prompt;
    }
    return NULL;
}

semb_similarity semb_model_similarity(const semb_model *m)
{
    return m->folder.similarity;
}

const char *semb_model_prompt(const semb_model *m, const char *name)
{
    for (size_t i = 0; i < m->folder.n_prompts; i++)
        if (!strcmp(m->folder.prompt_names[i], name))
            return m->folder.prompt_texts[i];
    return NULL;
}

const char *semb_model_default_prompt_name(const semb_model *m)
{
    return m->folder.default_prompt_name;
}
