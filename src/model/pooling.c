#include "model/pooling.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/json_file.h"

static const struct {
    pooling_mode mode;
    const char *name;       /* newer "pooling_mode" value */
    const char *classic;    /* classic boolean key */
} modes[POOLING_MODE_COUNT] = {
    {POOLING_CLS, "cls", "pooling_mode_cls_token"},
    {POOLING_MAX, "max", "pooling_mode_max_tokens"},
    {POOLING_MEAN, "mean", "pooling_mode_mean_tokens"},
    {POOLING_MEAN_SQRT_LEN, "mean_sqrt_len_tokens", "pooling_mode_mean_sqrt_len_tokens"},
    {POOLING_WEIGHTED_MEAN, "weightedmean", "pooling_mode_weightedmean_tokens"},
    {POOLING_LAST_TOKEN, "lasttoken", "pooling_mode_lasttoken"},
};

unsigned pooling_mode_from_name(const char *name)
{
    for (int i = 0; i < POOLING_MODE_COUNT; i++) {
        size_t n = strlen(modes[i].name);
        if (strcmp(name, modes[i].name) == 0 ||
            (strncmp(name, modes[i].name, n) == 0 && strcmp(name + n, "_token") == 0) ||
            (strncmp(name, modes[i].name, n) == 0 && strcmp(name + n, "_tokens") == 0))
            return modes[i].mode;
    }
    return 0;
}

const char *pooling_mode_name(pooling_mode mode)
{
    for (int i = 0; i < POOLING_MODE_COUNT; i++)
        if (modes[i].mode == mode)
            return modes[i].name;
    return "unknown";
}

int pooling_output_dim(const pooling_config *cfg)
{
    return cfg->token_dim * __builtin_popcount(cfg->modes);
}

static semb_status parse_mode_value(const json_t *value, const char *path, unsigned *out,
                                    semb_error *err)
{
    const json_t *item;
    size_t i;
    if (json_is_string(value)) {
        unsigned m = pooling_mode_from_name(json_string_value(value));
        if (!m)
            return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                             "%s: field 'pooling_mode': '%s' is not supported (cls, max, mean, "
                             "mean_sqrt_len_tokens, weightedmean, lasttoken)",
                             path, json_string_value(value));
        *out |= m;
        return SEMB_OK;
    }
    if (json_is_array(value) && json_array_size(value) > 0) {
        json_array_foreach(value, i, item) {
            semb_status st = parse_mode_value(item, path, out, err);
            if (st)
                return st;
        }
        return SEMB_OK;
    }
    return semb_fail(err, SEMB_ERR_FORMAT,
                     "%s: field 'pooling_mode': expected a mode name or a list of them", path);
}

semb_status pooling_config_load(const char *path, pooling_config *cfg, semb_error *err)
{
    memset(cfg, 0, sizeof *cfg);
    cfg->include_prompt = true;
    json_t *root;
    semb_status st = json_file_load(path, &root, err);
    if (st)
        return st;
    long long dim = 0;
    const json_t *mode_value = json_object_get(root, "pooling_mode");
    if ((st = json_field_int_opt(root, "embedding_dimension", path, NULL, &dim, err)) ||
        (st = json_field_int_opt(root, "word_embedding_dimension", path, NULL, &dim, err)) ||
        (st = json_field_bool_opt(root, "include_prompt", path, NULL, &cfg->include_prompt, err)))
        goto done;
    if (mode_value && !json_is_null(mode_value)) {
        if ((st = parse_mode_value(mode_value, path, &cfg->modes, err)))
            goto done;
    } else {
        for (int i = 0; i < POOLING_MODE_COUNT; i++) {
            bool on = false;
            if ((st = json_field_bool_opt(root, modes[i].classic, path, NULL, &on, err)))
                goto done;
            if (on)
                cfg->modes |= modes[i].mode;
        }
    }
    if (!cfg->modes) {
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: no pooling mode is enabled", path);
        goto done;
    }
    if (dim <= 0 || dim > (1 << 20)) {
        st = semb_fail(err, SEMB_ERR_FORMAT,
                       "%s: field 'embedding_dimension' (or 'word_embedding_dimension') is "
                       "missing or out of range",
                       path);
        goto done;
    }
    cfg->token_dim = (int)dim;
done:
    json_decref(root);
    return st;
}

semb_status pooling_config_save(const pooling_config *cfg, const char *path, semb_error *err)
{
    json_t *o = json_object();
    json_object_set_new(o, "embedding_dimension", json_integer(cfg->token_dim));
    if (__builtin_popcount(cfg->modes) == 1) {
        json_object_set_new(o, "pooling_mode", json_string(pooling_mode_name((pooling_mode)cfg->modes)));
    } else {
        json_t *list = json_array();
        for (int i = 0; i < POOLING_MODE_COUNT; i++)
            if (cfg->modes & modes[i].mode)
                json_array_append_new(list, json_string(modes[i].name));
        json_object_set_new(o, "pooling_mode", list);
    }
    json_object_set_new(o, "include_prompt", json_boolean(cfg->include_prompt));
    char *text = json_dumps(o, JSON_INDENT(4) | JSON_PRESERVE_ORDER);
    json_decref(o);
    if (!text)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: cannot serialise the pooling config", path);
    semb_status st = atomic_write_buffer(path, text, strlen(text), err);
    free(text);
    return st;
}

/* One mode for one sequence of len rows, accumulated in double: the reference is float64
 * and a long sequence's sum is where float32 would drift. The first `skip` rows are left out
 * of the masked modes (mean, max, mean_sqrt_len, weightedmean), as sentence-transformers
 * masks a prompt with include_prompt false; weightedmean keeps each row's position weight. */
static void pool_sequence(pooling_mode mode, const float *x, int len, int skip, int dim,
                          float *out)
{
    switch (mode) {
    case POOLING_CLS:
        memcpy(out, x, (size_t)dim * sizeof(float));
        return;
    case POOLING_LAST_TOKEN:
        memcpy(out, x + (size_t)(len - 1) * (size_t)dim, (size_t)dim * sizeof(float));
        return;
    case POOLING_MAX:
        if (skip >= len) { /* every row masked: zeros rather than torch's -1e9 fill value */
            memset(out, 0, (size_t)dim * sizeof(float));
            return;
        }
        for (int i = 0; i < dim; i++) {
            float m = x[(size_t)skip * (size_t)dim + (size_t)i];
            for (int t = skip + 1; t < len; t++)
                m = fmaxf(m, x[(size_t)t * (size_t)dim + (size_t)i]);
            out[i] = m;
        }
        return;
    case POOLING_MEAN:
    case POOLING_MEAN_SQRT_LEN:
    case POOLING_WEIGHTED_MEAN: {
        double weight_sum = 0.0;
        for (int t = skip; t < len; t++)
            weight_sum += mode == POOLING_WEIGHTED_MEAN ? (double)(t + 1) : 1.0;
        double divisor = mode == POOLING_MEAN_SQRT_LEN ? sqrt((double)(len - skip)) : weight_sum;
        if (!(divisor > 0)) { /* every row masked: sentence-transformers' clamp gives zeros */
            memset(out, 0, (size_t)dim * sizeof(float));
            return;
        }
        for (int i = 0; i < dim; i++) {
            double acc = 0.0;
            for (int t = skip; t < len; t++) {
                /* weightedmean weighs position t (0-based) by t + 1. */
                double w = mode == POOLING_WEIGHTED_MEAN ? (double)(t + 1) : 1.0;
                acc += w * (double)x[(size_t)t * (size_t)dim + (size_t)i];
            }
            out[i] = (float)(acc / divisor);
        }
        return;
    }
    }
}

void pooling_forward_skip(const pooling_config *cfg, const float *hidden, const int *cu_seqlens,
                          int n_seqs, int skip, float *out)
{
    int dim = cfg->token_dim, out_dim = pooling_output_dim(cfg);
#pragma omp parallel for schedule(static) if (n_seqs > 16)
    for (int s = 0; s < n_seqs; s++) {
        const float *x = hidden + (size_t)cu_seqlens[s] * (size_t)dim;
        int len = cu_seqlens[s + 1] - cu_seqlens[s];
        float *o = out + (size_t)s * (size_t)out_dim;
        for (int i = 0; i < POOLING_MODE_COUNT; i++)
            if (cfg->modes & modes[i].mode) {
                pool_sequence(modes[i].mode, x, len, skip < len ? skip : len, dim, o);
                o += dim;
            }
    }
}

void pooling_forward(const pooling_config *cfg, const float *hidden, const int *cu_seqlens,
                     int n_seqs, float *out)
{
    pooling_forward_skip(cfg, hidden, cu_seqlens, n_seqs, 0, out);
}

void normalize_forward(float *x, int n, int dim)
{
    for (int r = 0; r < n; r++) {
        float *row = x + (size_t)r * (size_t)dim;
        double sq = 0.0;
        for (int i = 0; i < dim; i++)
            sq += (double)row[i] * (double)row[i];
        double norm = sqrt(sq);
        double inv = 1.0 / (norm > 1e-12 ? norm : 1e-12);
        for (int i = 0; i < dim; i++)
            row[i] = (float)((double)row[i] * inv);
    }
}

static void pool_sequence_backward(pooling_mode mode, const float *x, int len, int dim,
                                   const float *d_out, float *d_x)
{
    switch (mode) {
    case POOLING_CLS:
        for (int i = 0; i < dim; i++)
            d_x[i] += d_out[i];
        return;
    case POOLING_LAST_TOKEN:
        for (int i = 0; i < dim; i++)
            d_x[(size_t)(len - 1) * (size_t)dim + (size_t)i] += d_out[i];
        return;
    case POOLING_MAX:
        for (int i = 0; i < dim; i++) {
            int best = 0;
            for (int t = 1; t < len; t++)
                if (x[(size_t)t * (size_t)dim + (size_t)i] > x[(size_t)best * (size_t)dim + (size_t)i])
                    best = t;
            d_x[(size_t)best * (size_t)dim + (size_t)i] += d_out[i];
        }
        return;
    case POOLING_MEAN:
    case POOLING_MEAN_SQRT_LEN:
    case POOLING_WEIGHTED_MEAN: {
        double weight_sum = mode == POOLING_WEIGHTED_MEAN ? (double)len * (len + 1) / 2.0 : len;
        double divisor = mode == POOLING_MEAN_SQRT_LEN ? sqrt((double)len) : weight_sum;
        for (int t = 0; t < len; t++) {
            double w = (mode == POOLING_WEIGHTED_MEAN ? (double)(t + 1) : 1.0) / divisor;
            for (int i = 0; i < dim; i++)
                d_x[(size_t)t * (size_t)dim + (size_t)i] += (float)(w * (double)d_out[i]);
        }
        return;
    }
    }
}

void pooling_backward(const pooling_config *cfg, const float *hidden, const int *cu_seqlens,
                      int n_seqs, const float *d_out, float *d_hidden)
{
    int dim = cfg->token_dim, out_dim = pooling_output_dim(cfg);
#pragma omp parallel for schedule(static) if (n_seqs > 16)
    for (int s = 0; s < n_seqs; s++) {
        size_t first = (size_t)cu_seqlens[s] * (size_t)dim;
        int len = cu_seqlens[s + 1] - cu_seqlens[s];
        const float *g = d_out + (size_t)s * (size_t)out_dim;
        for (int i = 0; i < POOLING_MODE_COUNT; i++)
            if (cfg->modes & modes[i].mode) {
                pool_sequence_backward(modes[i].mode, hidden + first, len, dim, g,
                                       d_hidden + first);
                g += dim;
            }
    }
}

void normalize_backward(const float *x, const float *d_y, float *d_x, int n, int dim)
{
    for (int r = 0; r < n; r++) {
        const float *xr = x + (size_t)r * (size_t)dim, *gr = d_y + (size_t)r * (size_t)dim;
        float *dr = d_x + (size_t)r * (size_t)dim;
        double sq = 0.0, dot = 0.0;
        for (int i = 0; i < dim; i++) {
            sq += (double)xr[i] * (double)xr[i];
            dot += (double)xr[i] * (double)gr[i];
        }
        double norm = sqrt(sq);
        if (norm > 1e-12) {
            /* y = x/|x|: dx = (dy - y (y . dy)) / |x| */
            double proj = dot / (norm * norm);
            for (int i = 0; i < dim; i++)
                dr[i] += (float)(((double)gr[i] - (double)xr[i] * proj) / norm);
        } else {
            for (int i = 0; i < dim; i++)
                dr[i] += (float)((double)gr[i] / 1e-12);
        }
    }
}
