#include "train/mnrl_loss.h"

#include <limits.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "kernels/matmul.h"

/* Score blocks hold at most this many floats (16 MiB): about 128 anchor rows against the
 * 32k candidates of a 16k batch with one hard negative. */
enum { SCORE_BLOCK_FLOATS = 1 << 22 };

/* Loops over fewer elements than this run on the calling thread: waking a team costs more
 * than the work (small batches, the tests' many tiny problems). */
enum { PARALLEL_MIN_ELEMENTS = 1 << 14 };

/* torch.nn.functional.normalize divides by max(norm, eps). */
#define NORMALIZE_EPS 1e-12

/* What the similarity multiplies: the inputs themselves (dot) or unit-length copies
 * (cosine), with the norms that the backward through the normalisation needs. */
typedef struct sim_rows {
    const float *anchors, *candidates;
    float *unit;    /* owned: [batch + n_candidates, dim], cosine only */
    double *norms;  /* owned: anchors' then candidates', cosine only */
} sim_rows;

/* Scratch for the streamed loss. */
typedef struct mnrl_pass {
    const mnrl_config *cfg;
    sim_rows sim;
    int batch, n_candidates, dim, block_rows;
    float *scores;          /* [block_rows, n_candidates]: a block of scores, then of dS */
    double *row_loss;       /* [block_rows]: logsumexp - diagonal score of each row */
    double *row_diag;       /* [block_rows]: the diagonal score of each row */
    /* [batch] each, symmetric only: running max and sum of exp of each positive column
     * while the blocks stream by, then the column's logsumexp */
    double *col_max, *col_sum, *col_lse;
} mnrl_pass;

static semb_status check_args(const mnrl_config *cfg, const float *anchors,
                              const float *candidates, int batch, int n_negatives, int dim,
                              semb_error *err)
{
    if (!cfg || !anchors || !candidates)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "mnrl: missing config or embeddings");
    if (batch < 1 || n_negatives < 0 || dim < 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "mnrl: need batch >= 1, negatives >= 0, dim >= 1 (got %d, %d, %d)",
                         batch, n_negatives, dim);
    if ((long long)batch * (1 + (long long)n_negatives) > INT_MAX)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "mnrl: %d anchors with %d negatives each is too many candidates",
                         batch, n_negatives);
    if (!isfinite(cfg->scale))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "mnrl: scale %g is not finite",
                         (double)cfg->scale);
    if (cfg->similarity != SIMILARITY_COSINE && cfg->similarity != SIMILARITY_DOT)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "mnrl: unknown similarity %d",
                         (int)cfg->similarity);
    return SEMB_OK;
}

static void normalize_rows(const float *x, int rows, int dim, float *unit, double *norms)
{
#pragma omp parallel for schedule(static) if ((long)rows * dim >= PARALLEL_MIN_ELEMENTS)
    for (int r = 0; r < rows; r++) {
        const float *in = x + (size_t)r * dim;
        double sq = 0.0;
        for (int i = 0; i < dim; i++)
            sq += (double)in[i] * in[i];
        double norm = sqrt(sq);
        double inv = 1.0 / fmax(norm, NORMALIZE_EPS);
        for (int i = 0; i < dim; i++)
            unit[(size_t)r * dim + i] = (float)(in[i] * inv);
        norms[r] = norm;
    }
}

/* In place: the gradient with respect to the unit rows becomes the gradient with respect
 * to the raw rows. d(x/|x|) = (g - u (u·g)) / |x|; below eps the divisor is a constant. */
static void normalize_rows_backward(float *grad, const float *unit, const double *norms,
                                    int rows, int dim)
{
#pragma omp parallel for schedule(static) if ((long)rows * dim >= PARALLEL_MIN_ELEMENTS)
    for (int r = 0; r < rows; r++) {
        float *g = grad + (size_t)r * dim;
        const float *u = unit + (size_t)r * dim;
        if (norms[r] < NORMALIZE_EPS) {
            for (int i = 0; i < dim; i++)
                g[i] = (float)(g[i] / NORMALIZE_EPS);
            continue;
        }
        double dot = 0.0;
        for (int i = 0; i < dim; i++)
            dot += (double)u[i] * g[i];
        for (int i = 0; i < dim; i++)
            g[i] = (float)((g[i] - u[i] * dot) / norms[r]);
    }
}

static semb_status sim_rows_init(sim_rows *s, const mnrl_config *cfg, const float *anchors,
                                 const float *candidates, int batch, int n_candidates, int dim,
                                 semb_error *err)
{
    *s = (sim_rows){.anchors = anchors, .candidates = candidates};
    if (cfg->similarity == SIMILARITY_DOT)
        return SEMB_OK;
    size_t rows = (size_t)batch + (size_t)n_candidates;
    s->unit = malloc(rows * (size_t)dim * sizeof *s->unit);
    s->norms = malloc(rows * sizeof *s->norms);
    if (!s->unit || !s->norms) {
        free(s->unit);
        free(s->norms);
        return semb_fail(err, SEMB_ERR_NOMEM, "mnrl: cannot allocate %zu normalised rows of %d",
                         rows, dim);
    }
    normalize_rows(anchors, batch, dim, s->unit, s->norms);
    normalize_rows(candidates, n_candidates, dim, s->unit + (size_t)batch * dim,
                   s->norms + batch);
    s->anchors = s->unit;
    s->candidates = s->unit + (size_t)batch * dim;
    return SEMB_OK;
}

static void sim_rows_free(sim_rows *s)
{
    free(s->unit);
    free(s->norms);
}

static void pass_free(mnrl_pass *p)
{
    sim_rows_free(&p->sim);
    free(p->scores);
    free(p->row_loss);
    free(p->row_diag);
    free(p->col_max);
    free(p->col_sum);
    free(p->col_lse);
}

static semb_status pass_init(mnrl_pass *p, const mnrl_config *cfg, const float *anchors,
                             const float *candidates, int batch, int n_negatives, int dim,
                             semb_error *err)
{
    *p = (mnrl_pass){.cfg = cfg, .batch = batch, .dim = dim,
                     .n_candidates = batch * (1 + n_negatives)};
    int rows = cfg->block_rows > 0 ? cfg->block_rows : SCORE_BLOCK_FLOATS / p->n_candidates;
    p->block_rows = rows < 1 ? 1 : rows > batch ? batch : rows;
    semb_status st = sim_rows_init(&p->sim, cfg, anchors, candidates, batch, p->n_candidates,
                                   dim, err);
    if (st != SEMB_OK)
        return st;
    p->scores = malloc((size_t)p->block_rows * p->n_candidates * sizeof *p->scores);
    p->row_loss = malloc((size_t)p->block_rows * sizeof *p->row_loss);
    p->row_diag = malloc((size_t)p->block_rows * sizeof *p->row_diag);
    bool ok = p->scores && p->row_loss && p->row_diag;
    if (cfg->symmetric) {
        p->col_max = malloc((size_t)batch * sizeof *p->col_max);
        p->col_sum = malloc((size_t)batch * sizeof *p->col_sum);
        p->col_lse = malloc((size_t)batch * sizeof *p->col_lse);
        ok = ok && p->col_max && p->col_sum && p->col_lse;
    }
    if (!ok) {
        pass_free(p);
        return semb_fail(err, SEMB_ERR_NOMEM, "mnrl: cannot allocate a %d x %d score block",
                         p->block_rows, p->n_candidates);
    }
    if (cfg->symmetric)
        for (int j = 0; j < batch; j++) {
            p->col_max[j] = -INFINITY;
            p->col_sum[j] = 0.0;
        }
    return SEMB_OK;
}

/* scores[rows, n_cols] = scale · anchors[row0 : row0 + rows] · candidates[0 : n_cols]^T */
static void score_block(const mnrl_pass *p, int row0, int rows, int n_cols)
{
    matmul_sgemm(false, true, rows, n_cols, p->dim, p->cfg->scale,
                 p->sim.anchors + (size_t)row0 * p->dim, p->dim, p->sim.candidates, p->dim,
                 0.0f, p->scores, n_cols);
}

/* Folds this block's rows into the running logsumexp of each positive column. */
static void update_column_stats(mnrl_pass *p, int rows)
{
    const float *s = p->scores;
    int ld = p->n_candidates;
#pragma omp parallel for schedule(static) if ((long)rows * p->batch >= PARALLEL_MIN_ELEMENTS)
    for (int j = 0; j < p->batch; j++) {
        double block_max = -INFINITY;
        for (int r = 0; r < rows; r++)
            block_max = fmax(block_max, s[(size_t)r * ld + j]);
        double new_max = fmax(p->col_max[j], block_max);
        double sum = p->col_sum[j] * exp(p->col_max[j] - new_max);
        for (int r = 0; r < rows; r++)
            sum += exp(s[(size_t)r * ld + j] - new_max);
        p->col_max[j] = new_max;
        p->col_sum[j] = sum;
    }
}

/* Row softmax of each score row (the block is consumed): its loss term, and when want_grad
 * the row turned in place into dLoss/dScore = (softmax - onehot) · weight. One exp per
 * score: the row keeps exp(s - max); the target's -(1 - p) is formed from the sum over the
 * other candidates rather than as p - 1, so it does not cancel when the target dominates. */
static void row_softmax(mnrl_pass *p, int row0, int rows, bool want_grad, double weight)
{
    int n = p->n_candidates;
#pragma omp parallel for schedule(static) if ((long)rows * n >= PARALLEL_MIN_ELEMENTS)
    for (int r = 0; r < rows; r++) {
        float *s = p->scores + (size_t)r * n;
        int target = row0 + r;
        double target_score = s[target];
        double max = -INFINITY;
        for (int j = 0; j < n; j++)
            max = fmax(max, s[j]);
        double others = 0.0;
        for (int j = 0; j < n; j++) {
            double e = exp(s[j] - max);
            s[j] = (float)e;
            others += j == target ? 0.0 : e;
        }
        double sum = others + exp(target_score - max);
        p->row_diag[r] = target_score;
        p->row_loss[r] = max + log(sum) - target_score;
        if (!want_grad)
            continue;
        for (int j = 0; j < n; j++)
            s[j] = (float)(s[j] / sum * weight);
        s[target] = (float)(-others / sum * weight);
    }
}

/* d_anchors[row0 : row0 + rows] (+)= scale · dS · candidates[0 : n_cols] and
 * d_candidates[0 : n_cols] += scale · dS^T · anchors[row0 : row0 + rows]. */
static void accumulate_grads(const mnrl_pass *p, int row0, int rows, int n_cols,
                             float anchor_beta, float *d_anchors, float *d_candidates)
{
    int d = p->dim;
    float scale = p->cfg->scale;
    matmul_sgemm(false, false, rows, d, n_cols, scale, p->scores, n_cols, p->sim.candidates, d,
                 anchor_beta, d_anchors + (size_t)row0 * d, d);
    matmul_sgemm(true, false, n_cols, d, rows, scale, p->scores, n_cols,
                 p->sim.anchors + (size_t)row0 * d, d, 1.0f, d_candidates, d);
}

/* The anchor-to-candidate direction over every block; returns the sum of the row losses
 * and adds the diagonal scores to *diag_sum (the symmetric loss needs them). */
static double forward_direction(mnrl_pass *p, bool want_grad, double weight, double *diag_sum,
                                float *d_anchors, float *d_candidates)
{
    double total = 0.0;
    for (int row0 = 0; row0 < p->batch; row0 += p->block_rows) {
        int rows = p->batch - row0 < p->block_rows ? p->batch - row0 : p->block_rows;
        score_block(p, row0, rows, p->n_candidates);
        if (p->cfg->symmetric)
            update_column_stats(p, rows);
        row_softmax(p, row0, rows, want_grad, weight);
        /* summed in row order so the loss does not depend on the thread count */
        for (int r = 0; r < rows; r++) {
            total += p->row_loss[r];
            *diag_sum += p->row_diag[r];
        }
        if (want_grad)
            accumulate_grads(p, row0, rows, p->n_candidates, 0.0f, d_anchors, d_candidates);
    }
    return total;
}

/* Completes the column logsumexps; returns the positive-to-anchor direction's loss sum. */
static double finish_column_stats(mnrl_pass *p, double diag_sum)
{
    double total = -diag_sum;
    for (int j = 0; j < p->batch; j++) {
        p->col_lse[j] = p->col_max[j] + log(p->col_sum[j]);
        total += p->col_lse[j];
    }
    return total;
}

/* The positive-to-anchor direction's gradient, once the column logsumexps are complete:
 * dS[i][j] = (exp(S[i][j] - lse_j) - [i == j]) · weight over the positive columns. */
static void backward_direction_grads(mnrl_pass *p, double weight, float *d_anchors,
                                     float *d_candidates)
{
    int b = p->batch;
    for (int row0 = 0; row0 < b; row0 += p->block_rows) {
        int rows = b - row0 < p->block_rows ? b - row0 : p->block_rows;
        score_block(p, row0, rows, b);
#pragma omp parallel for schedule(static) if ((long)rows * b >= PARALLEL_MIN_ELEMENTS)
        for (int r = 0; r < rows; r++) {
            float *s = p->scores + (size_t)r * b;
            for (int j = 0; j < b; j++)
                s[j] = (float)((exp(s[j] - p->col_lse[j]) - (j == row0 + r)) * weight);
        }
        accumulate_grads(p, row0, rows, b, 1.0f, d_anchors, d_candidates);
    }
}

semb_status mnrl_loss(const mnrl_config *cfg, const float *anchors, const float *candidates,
                      int batch, int n_negatives, int dim, double *loss, float *d_anchors,
                      float *d_candidates, semb_error *err)
{
    semb_status st = check_args(cfg, anchors, candidates, batch, n_negatives, dim, err);
    if (st != SEMB_OK)
        return st;
    if (!loss)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "mnrl: no place for the loss");
    if (!d_anchors != !d_candidates)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "mnrl: pass both gradient buffers or neither");
    mnrl_pass p;
    st = pass_init(&p, cfg, anchors, candidates, batch, n_negatives, dim, err);
    if (st != SEMB_OK)
        return st;

    bool want_grad = d_anchors != NULL;
    /* Each direction is a mean over batch rows; the symmetric loss halves both. */
    double weight = (cfg->symmetric ? 0.5 : 1.0) / batch;
    if (want_grad)
        memset(d_candidates, 0, (size_t)p.n_candidates * dim * sizeof *d_candidates);
    double diag_sum = 0.0;
    double forward = forward_direction(&p, want_grad, weight, &diag_sum, d_anchors,
                                       d_candidates);
    if (!cfg->symmetric) {
        *loss = forward / batch;
    } else {
        double backward = finish_column_stats(&p, diag_sum);
        *loss = (forward / batch + backward / batch) / 2;
        if (want_grad)
            backward_direction_grads(&p, weight, d_anchors, d_candidates);
    }
    if (want_grad && cfg->similarity == SIMILARITY_COSINE) {
        normalize_rows_backward(d_anchors, p.sim.anchors, p.sim.norms, batch, dim);
        normalize_rows_backward(d_candidates, p.sim.candidates, p.sim.norms + batch,
                                p.n_candidates, dim);
    }
    pass_free(&p);
    return SEMB_OK;
}

semb_status mnrl_scores(const mnrl_config *cfg, const float *anchors, const float *candidates,
                        int batch, int n_negatives, int dim, float *scores, semb_error *err)
{
    semb_status st = check_args(cfg, anchors, candidates, batch, n_negatives, dim, err);
    if (st != SEMB_OK)
        return st;
    if (!scores)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "mnrl: no place for the scores");
    int n_candidates = batch * (1 + n_negatives);
    sim_rows sim;
    st = sim_rows_init(&sim, cfg, anchors, candidates, batch, n_candidates, dim, err);
    if (st != SEMB_OK)
        return st;
    matmul_sgemm(false, true, batch, n_candidates, dim, cfg->scale, sim.anchors, dim,
                 sim.candidates, dim, 0.0f, scores, n_candidates);
    sim_rows_free(&sim);
    return SEMB_OK;
}

/* ---- behind the train_loss interface ---- */

typedef struct mnrl_train_loss {
    train_loss base; /* first: a train_loss * is a mnrl_train_loss * */
    mnrl_config cfg;
} mnrl_train_loss;

static semb_status mnrl_compute(const train_loss *loss, const float *embeddings, int batch,
                                int n_negatives, int dim, double *value, float *d_embeddings,
                                semb_error *err)
{
    const mnrl_config *cfg = &((const mnrl_train_loss *)loss)->cfg;
    size_t anchors = (size_t)(batch > 0 ? batch : 0) * (size_t)(dim > 0 ? dim : 0);
    return mnrl_loss(cfg, embeddings, embeddings + anchors, batch, n_negatives, dim, value,
                     d_embeddings, d_embeddings ? d_embeddings + anchors : NULL, err);
}

static const char *similarity_option(const mnrl_config *cfg)
{
    return cfg->similarity == SIMILARITY_DOT ? "dot" : "cosine";
}

static int mnrl_add_options(const train_loss *loss, json_t *options)
{
    const mnrl_config *cfg = &((const mnrl_train_loss *)loss)->cfg;
    return json_object_set_new(options, "similarity", json_string(similarity_option(cfg))) ||
                   json_object_set_new(options, "scale", json_real(cfg->scale)) ||
                   json_object_set_new(options, "symmetric", json_boolean(cfg->symmetric))
               ? -1
               : 0;
}

static void mnrl_describe(const train_loss *loss, model_card_hyperparameters *hp)
{
    const mnrl_config *cfg = &((const mnrl_train_loss *)loss)->cfg;
    hp->similarity = similarity_option(cfg);
    hp->scale = cfg->scale;
    hp->symmetric = cfg->symmetric;
}

static void mnrl_free(train_loss *loss)
{
    free(loss);
}

semb_status mnrl_train_loss_create(const mnrl_config *cfg, train_loss **out, semb_error *err)
{
    mnrl_train_loss *l = calloc(1, sizeof *l);
    if (!l) {
        *out = NULL;
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    l->base = (train_loss){.compute = mnrl_compute, .add_options = mnrl_add_options,
                           .describe = mnrl_describe, .free = mnrl_free};
    l->cfg = *cfg;
    *out = &l->base;
    return SEMB_OK;
}
