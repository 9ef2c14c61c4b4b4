/* semb_encode: tokenize, sort by length, run packed batches, pool, normalise, and write
 * each embedding back at its input position. */
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "model/sentence_model.h"

#define ENCODE_DEFAULT_BATCH 32

typedef struct tokenized {
    int32_t **ids;
    int *counts;
    size_t n;
} tokenized;

static void tokenized_free(tokenized *t)
{
    if (t->ids)
        for (size_t i = 0; i < t->n; i++)
            free(t->ids[i]);
    free(t->ids);
    free(t->counts);
}

/* Tokenizes all texts in parallel. On failure the error reported is that of the lowest
 * failing index, so the message does not depend on thread timing. */
static semb_status tokenize_all(const semb_model *m, const char *const *texts,
                                const size_t *lengths, size_t n, const char *prompt,
                                tokenized *out, semb_error *err)
{
    size_t prompt_len = prompt ? strlen(prompt) : 0;
    out->n = n;
    out->ids = calloc(n, sizeof *out->ids);
    out->counts = calloc(n, sizeof *out->counts);
    if (!out->ids || !out->counts)
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate token lists for %zu texts", n);
    size_t first_bad = n;
    semb_error first_err = {0};
#pragma omp parallel
    {
        token_buffer buf = {0};
        semb_error local;
        char *joined = NULL; /* prompt + text, grown as needed */
        size_t joined_size = 0;
#pragma omp for schedule(dynamic, 64)
        for (size_t i = 0; i < n; i++) {
            size_t len = lengths ? lengths[i] : strlen(texts[i]);
            const char *text = texts[i];
            semb_status st = SEMB_OK;
            if (prompt_len) {
                if (joined_size < prompt_len + len + 1) {
                    char *grown = realloc(joined, prompt_len + len + 1);
                    if (grown) {
                        joined = grown;
                        joined_size = prompt_len + len + 1;
                    } else {
                        st = semb_fail(&local, SEMB_ERR_NOMEM, "out of memory");
                    }
                }
                if (!st) {
                    memcpy(joined, prompt, prompt_len);
                    memcpy(joined + prompt_len, texts[i], len);
                    text = joined;
                    len += prompt_len;
                }
            }
            if (!st)
                st = tokenizer_encode(m->tokenizer, text, len, (size_t)m->max_seq_length, &buf,
                                      &local);
            if (!st) {
                out->ids[i] = malloc(buf.count * sizeof(int32_t) + 1);
                if (out->ids[i])
                    memcpy(out->ids[i], buf.ids, buf.count * sizeof(int32_t));
                else
                    st = semb_fail(&local, SEMB_ERR_NOMEM, "out of memory");
                out->counts[i] = (int)buf.count;
            }
            if (st) {
#pragma omp critical(semb_encode_error)
                if (i < first_bad) {
                    first_bad = i;
                    first_err = local;
                }
            }
        }
        token_buffer_free(&buf);
        free(joined);
    }
    if (first_bad < n) {
        if (err) {
            *err = first_err;
            semb_fail_item(err, "text", first_bad);
        }
        return first_err.status;
    }
    return SEMB_OK;
}

typedef struct length_index {
    int length;
    size_t index;
} length_index;

static int by_length(const void *a, const void *b)
{
    const length_index *x = a, *y = b;
    if (x->length != y->length)
        return x->length < y->length ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

/* Runs one packed batch of the sentences order[0 .. count) and scatters the embeddings. */
static semb_status encode_batch(semb_model *m, const tokenized *tok, const size_t *order,
                                int count, encoder_linear_mode mode, bool normalize, int skip,
                                float *out, semb_error *err)
{
    int dim = semb_model_dimension(m);
    float *pooled = malloc((size_t)count * (size_t)dim * sizeof *pooled);
    packed_batch batch;
    const int32_t *const *lists = (const int32_t *const *)tok->ids;
    semb_status st = pooled ? packed_batch_build(&m->batch_buffers, lists, tok->counts, order,
                                                 count, &batch, err)
                            : semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate %d embeddings",
                                        count);
    if (st)
        goto done;
    float *hidden;
    if ((st = encoder_forward(&m->config, &m->params, &batch, mode, &m->workspace, &hidden,
                              err)))
        goto done;
    pooling_forward_skip(&m->pooling, hidden, batch.cu_seqlens, count, skip, pooled);
    if (normalize)
        normalize_forward(pooled, count, dim);
    for (int i = 0; i < count; i++)
        memcpy(out + order[i] * (size_t)dim, pooled + (size_t)i * (size_t)dim,
               (size_t)dim * sizeof(float));
done:
    free(pooled);
    return st;
}

/* The tokens a prompt covers, as sentence-transformers counts them for include_prompt false:
 * the prompt tokenized alone with its special tokens, less one (the closing [SEP] or </s>), so
 * the count spans [CLS] and the prompt. */
static semb_status prompt_token_count(const semb_model *m, const char *prompt, int *skip,
                                      semb_error *err)
{
    token_buffer buf = {0};
    semb_status st = tokenizer_encode(m->tokenizer, prompt, strlen(prompt), 0, &buf, err);
    if (st)
        semb_fail_prefix(err, "prompt: ");
    else
        *skip = buf.count > 0 ? (int)buf.count - 1 : 0;
    token_buffer_free(&buf);
    return st;
}

semb_encode_options semb_encode_options_default(void)
{
    return (semb_encode_options){.batch_size = ENCODE_DEFAULT_BATCH,
                                 .precision = SEMB_COMPUTE_FP32};
}

semb_status semb_encode(semb_model *m, const char *const *texts, const size_t *lengths,
                        size_t n, float *out, const semb_encode_options *opts, semb_error *err)
{
    if (!m || (!texts && n) || (!out && n))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_encode: NULL model, texts or output");
    semb_compute_precision precision = opts ? opts->precision : SEMB_COMPUTE_FP32;
    if (precision != SEMB_COMPUTE_FP32 && precision != SEMB_COMPUTE_BF16 &&
        precision != SEMB_COMPUTE_INT8)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "semb_encode: precision %d is not fp32, bf16 or int8", (int)precision);
    if (n == 0)
        return SEMB_OK;
    int batch_size = opts && opts->batch_size > 0 ? opts->batch_size : ENCODE_DEFAULT_BATCH;
    bool normalize = m->normalize || (opts && opts->normalize);
    /* sentence-transformers' encode(): no prompt given means the model's default prompt */
    const char *prompt = opts && opts->prompt ? opts->prompt
                         : m->folder.default_prompt_name
                             ? semb_model_prompt(m, m->folder.default_prompt_name)
                             : NULL;
    if (prompt && !*prompt)
        prompt = NULL;
    tokenized tok = {0};
    size_t *order = NULL;
    int skip = 0;
    semb_status st = prompt && !m->pooling.include_prompt ? prompt_token_count(m, prompt, &skip, err)
                                                          : SEMB_OK;
    if (!st)
        st = tokenize_all(m, texts, lengths, n, prompt, &tok, err);
    if (st)
        goto done;
    /* Similar lengths together: fewer wasted attention tiles, steadier batch sizes. */
    length_index *sorted = malloc(n * sizeof *sorted);
    order = malloc(n * sizeof *order);
    if (!order || !sorted) {
        free(sorted);
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t i = 0; i < n; i++)
        sorted[i] = (length_index){tok.counts[i], i};
    qsort(sorted, n, sizeof *sorted, by_length);
    for (size_t i = 0; i < n; i++)
        order[i] = sorted[i].index;
    free(sorted);
    /* Remade when the parameters changed since (training, a restored checkpoint). */
    if (precision == SEMB_COMPUTE_BF16 &&
        (!m->bf16_weights.arena || m->bf16_weights.version != m->params.version) &&
        (st = encoder_bf16_weights_refresh(&m->bf16_weights, &m->config, &m->params, err)))
        goto done;
    encoder_linear_mode mode = {.bf16 = precision == SEMB_COMPUTE_BF16 ? &m->bf16_weights : NULL,
                                .int8 = precision == SEMB_COMPUTE_INT8};
    for (size_t start = 0; start < n && !st; start += (size_t)batch_size) {
        int count = (int)(n - start < (size_t)batch_size ? n - start : (size_t)batch_size);
        st = encode_batch(m, &tok, order + start, count, mode, normalize, skip, out, err);
    }
done:
    free(order);
    tokenized_free(&tok);
    return st;
}
