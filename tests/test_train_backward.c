/* Gradient checks of the training core above the kernels (issue #3):
 *  - pooling_backward for every mode and a concatenation of modes, and normalize_backward
 *    (zero and near-zero rows included), against central differences of a double-precision
 *    forward written here from sentence-transformers' definitions, on packed batches of odd
 *    lengths and an odd hidden size;
 *  - the whole embedder (encoder + pooling + normalisation) of a small random model of each
 *    architecture with odd sizes, against float32 central differences of sum(w · embeddings)
 *    for chosen elements of EVERY parameter tensor: this catches layout bugs (a gradient
 *    written to the wrong row, head or q/k/v slot) that the kernel tests cannot see;
 *  - dropout in train_step_gradients on the fixture models: the same key gives the same bits,
 *    another key or no dropout gives other gradients, and GradCache reuses each chunk's
 *    masks in its re-forward (its gradient is that of the loss its first pass computed).
 * The tests that need shared/fixtures skip themselves when it is absent. */
#include "kernels_backward_support.h"

#include <jansson.h>

#include "model/pooling.h"
#include "model/sentence_model.h"
#include "train/embedder.h"
#include "train/mnrl_loss.h"
#include "train/train_step.h"

/* ---- central differences over double inputs -------------------------------------------- */

/* fd[i] = (loss(x + h e_i) - loss(x - h e_i)) / 2h for every element of x (restored). */
static void central_differences(loss_function loss, void *context, double *x, size_t n,
                                double step, double *fd)
{
    for (size_t i = 0; i < n; i++) {
        double saved = x[i];
        x[i] = saved + step;
        double up = loss(context);
        x[i] = saved - step;
        double down = loss(context);
        x[i] = saved;
        fd[i] = (up - down) / (2 * step);
    }
}

/* |got[i] - want[i]| <= tolerance[i], noting the worst ratio. */
static void check_close(const char *what, const float *got, const double *want,
                        const double *tolerance, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        double error = fabs((double)got[i] - want[i]);
        note_ratio(error, tolerance[i]);
        if (!(error <= tolerance[i]))
            fail_msg("%s: [%zu] = %.9g, central differences %.9g, tolerance %.3g", what, i,
                     got[i], want[i], tolerance[i]);
    }
}

/* ---- pooling ---------------------------------------------------------------------------- */

/* sentence-transformers' Pooling on one sequence, in double, written from its definitions
 * (padding does not exist here, so the attention mask is all ones over len tokens). */
static void pool_one_f64(pooling_mode mode, const double *x, int len, int dim, double *out)
{
    for (int i = 0; i < dim; i++) {
        double sum = 0, weighted = 0, weights = 0, max = -INFINITY;
        for (int t = 0; t < len; t++) {
            double v = x[(size_t)t * dim + i];
            sum += v;
            weighted += (t + 1) * v; /* weights arange(1, len + 1) */
            weights += t + 1;
            max = fmax(max, v);
        }
        switch (mode) {
        case POOLING_CLS: out[i] = x[i]; break;
        case POOLING_MAX: out[i] = max; break;
        case POOLING_MEAN: out[i] = sum / len; break;
        case POOLING_MEAN_SQRT_LEN: out[i] = sum / sqrt((double)len); break;
        case POOLING_WEIGHTED_MEAN: out[i] = weighted / weights; break;
        case POOLING_LAST_TOKEN: out[i] = x[(size_t)(len - 1) * dim + i]; break;
        }
    }
}

typedef struct pooling_problem {
    unsigned modes;
    int dim, n_seqs, out_dim;
    const int *cu_seqlens;
    double *hidden, *out, *weights;
} pooling_problem;

/* Concatenated in sentence-transformers' order: cls, max, mean, mean_sqrt_len, weightedmean,
 * lasttoken (the bit order of pooling_mode). */
static void pooling_f64(const pooling_problem *p)
{
    for (int s = 0; s < p->n_seqs; s++) {
        double *o = p->out + (size_t)s * p->out_dim;
        for (int bit = 0; bit < POOLING_MODE_COUNT; bit++)
            if (p->modes & (1u << bit)) {
                pool_one_f64((pooling_mode)(1u << bit),
                             p->hidden + (size_t)p->cu_seqlens[s] * p->dim,
                             p->cu_seqlens[s + 1] - p->cu_seqlens[s], p->dim, o);
                o += p->dim;
            }
    }
}

static double pooling_loss(void *context)
{
    pooling_problem *p = context;
    pooling_f64(p);
    return dot(p->out, p->weights, (size_t)p->n_seqs * p->out_dim);
}

/* Random token states whose values within a column of a sequence are at least gap apart, so
 * that max pooling's choice cannot flip inside a finite-difference step. */
static float *separated_states(const int *cu, int n_seqs, int dim, float gap)
{
    size_t n = (size_t)cu[n_seqs] * dim;
    float *x = random_array(n, -1, 1);
    for (int s = 0; s < n_seqs; s++)
        for (int i = 0; i < dim; i++)
            for (int t = cu[s]; t < cu[s + 1]; t++)
                for (int u = cu[s]; u < t; u++)
                    if (fabsf(x[(size_t)t * dim + i] - x[(size_t)u * dim + i]) < gap) {
                        x[(size_t)t * dim + i] = uniform(-1, 1);
                        u = cu[s] - 1; /* recheck against every earlier token */
                    }
    return x;
}

/* One shape, one set of modes: pooling_forward against the double forward, pooling_backward
 * against central differences, and its accumulation into a gradient already there.
 *
 * Tolerances. Pooling is linear (max is piecewise linear and no step crosses a kink), so the
 * differences have no truncation error, only rounding ~1e-16 |loss| / FD_STEP ~ 1e-10. Each
 * float gradient element is a sum of at most one term per mode, each rounded once from
 * double and the sum done in float: within 8 FLT_EPSILON of the sum of the terms'
 * magnitudes, which pooling_backward itself gives when fed |d_out| (every coefficient is
 * positive). The forward: each output is one double result rounded once, within FLT_EPSILON
 * relative. */
static void check_pooling(unsigned modes, const int *cu, int n_seqs, int dim)
{
    char what[96];
    snprintf(what, sizeof what, "pooling modes 0x%02x, %d sequences, dim %d", modes, n_seqs, dim);
    pooling_config cfg = {.modes = modes, .token_dim = dim, .include_prompt = true};
    int out_dim = pooling_output_dim(&cfg);
    size_t n_in = (size_t)cu[n_seqs] * dim, n_out = (size_t)n_seqs * out_dim;
    float *hidden = separated_states(cu, n_seqs, dim, 1e-3f);
    float *d_out = random_array(n_out, -1, 1);
    pooling_problem p = {modes, dim, n_seqs, out_dim, cu, to_double(hidden, n_in), zeros(n_out),
                         to_double(d_out, n_out)};

    float *out = random_array(n_out, -1, 1);
    pooling_forward(&cfg, hidden, cu, n_seqs, out);
    pooling_f64(&p);
    double *tolerance = zeros(n_in > n_out ? n_in : n_out);
    for (size_t i = 0; i < n_out; i++)
        tolerance[i] = FLT_EPSILON * fabs(p.out[i]);
    check_close(what, out, p.out, tolerance, n_out);

    double *fd = zeros(n_in);
    central_differences(pooling_loss, &p, p.hidden, n_in, FD_STEP, fd);
    float *d_hidden = calloc(n_in, sizeof *d_hidden), *magnitude = calloc(n_in, sizeof *magnitude);
    float *abs_d_out = abs_copy(d_out, n_out);
    pooling_backward(&cfg, hidden, cu, n_seqs, d_out, d_hidden);
    pooling_backward(&cfg, hidden, cu, n_seqs, abs_d_out, magnitude);
    for (size_t i = 0; i < n_in; i++)
        tolerance[i] = 8 * FLT_EPSILON * magnitude[i] + 1e-9;
    check_close(what, d_hidden, fd, tolerance, n_in);

    /* The header says +=: a gradient already there is added to, never overwritten. */
    float *before = random_array(n_in, -1, 1), *accumulated = copy_array(before, n_in);
    pooling_backward(&cfg, hidden, cu, n_seqs, d_out, accumulated);
    double *want = zeros(n_in);
    for (size_t i = 0; i < n_in; i++) {
        want[i] = (double)before[i] + fd[i];
        tolerance[i] = 8 * FLT_EPSILON * (fabs(before[i]) + magnitude[i]) + 1e-9;
    }
    snprintf(what + strlen(what), sizeof what - strlen(what), " (accumulated)");
    check_close(what, accumulated, want, tolerance, n_in);

    free(hidden), free(d_out), free(out), free(d_hidden), free(magnitude), free(abs_d_out);
    free(before), free(accumulated), free(want), free(fd), free(tolerance);
    free(p.hidden), free(p.out), free(p.weights);
}

static void test_pooling_gradients(void **state)
{
    /* odd lengths 1, 2, 5, 7 in a mixed order, and a batch of 19 sequences: more than 16
     * takes pooling's OpenMP branch */
    static const int cu_small[] = {0, 5, 6, 13, 15};
    int cu_many[20] = {0};
    for (int s = 0; s < 19; s++)
        cu_many[s + 1] = cu_many[s] + 1 + s * 5 % 7;
    static const unsigned combinations[] = {
        POOLING_CLS | POOLING_MEAN | POOLING_MAX,
        POOLING_MAX | POOLING_MEAN_SQRT_LEN | POOLING_LAST_TOKEN,
        (1u << POOLING_MODE_COUNT) - 1, /* all six */
    };
    for (int bit = 0; bit < POOLING_MODE_COUNT; bit++) {
        check_pooling(1u << bit, cu_small, 4, 13);
        check_pooling(1u << bit, cu_many, 19, 3);
    }
    for (int c = 0; c < 3; c++) {
        check_pooling(combinations[c], cu_small, 4, 13);
        check_pooling(combinations[c], cu_many, 19, 3);
    }
    report_worst("pooling vs central differences");
}

/* torch.max over a dimension sends the gradient of a tie to the first maximal token, and
 * pooling_backward says it does the same. */
static void test_max_pooling_tie_goes_to_first(void **state)
{
    const float hidden[] = {1, 5, /**/ 3, 5, /**/ 3, 2}; /* one sequence, 3 tokens, dim 2 */
    const int cu[] = {0, 3};
    pooling_config cfg = {.modes = POOLING_MAX, .token_dim = 2, .include_prompt = true};
    float d_hidden[6] = {0};
    pooling_backward(&cfg, hidden, cu, 1, (const float[]){10, 20}, d_hidden);
    const float want[] = {0, 20, 10, 0, 0, 0};
    for (int i = 0; i < 6; i++)
        assert_true(d_hidden[i] == want[i]);
}

/* ---- normalisation ---------------------------------------------------------------------- */

typedef struct normalize_problem {
    int n, dim;
    double *x, *y, *weights;
} normalize_problem;

/* torch.nn.functional.normalize(x, p=2, dim=1, eps=1e-12): x / max(|x|, eps). */
static double normalize_loss(void *context)
{
    normalize_problem *p = context;
    for (int r = 0; r < p->n; r++) {
        const double *x = p->x + (size_t)r * p->dim;
        double sq = 0;
        for (int i = 0; i < p->dim; i++)
            sq += x[i] * x[i];
        double divisor = fmax(sqrt(sq), 1e-12);
        for (int i = 0; i < p->dim; i++)
            p->y[(size_t)r * p->dim + i] = x[i] / divisor;
    }
    return dot(p->y, p->weights, (size_t)p->n * p->dim);
}

/* Rows: three ordinary ones, one of norm ~1e-14 and one of zeros (both below eps, where the
 * output is x / 1e-12 and the gradient d_y / 1e-12, as torch's clamp_min makes it), one just
 * above eps (~1e-11) and one large. The step is 1e-5 of each row's scale, and the error is
 * measured row by row, relative to the row's largest gradient, as the rows' gradients span
 * 24 orders of magnitude. In double, truncation ((1e-5)^2 relative) and rounding (1e-16 /
 * 1e-5) are both below 1e-9; the float gradient is one double value rounded once (and added
 * to zero), so 1e-6 leaves a wide margin while a wrong formula misses by O(1). */
static void test_normalize_gradients(void **state)
{
    enum { N = 7, DIM = 13 };
    static const double row_scale[N] = {1, 1, 1, 1e-14, 0, 1e-11, 1e3};
    float *x = random_array((size_t)N * DIM, -1, 1);
    for (int r = 0; r < N; r++)
        for (int i = 0; i < DIM; i++)
            x[r * DIM + i] = (float)(x[r * DIM + i] * row_scale[r]);
    float *d_y = random_array((size_t)N * DIM, -1, 1);
    normalize_problem p = {N, DIM, to_double(x, N * DIM), zeros(N * DIM), to_double(d_y, N * DIM)};

    /* forward: the float result against the double definition; no NaN from the zero row */
    float *y = copy_array(x, N * DIM);
    normalize_forward(y, N, DIM);
    normalize_loss(&p);
    double forward_error = normwise_error(y, p.y, N * DIM);
    check_error("normalize_forward", forward_error, 2 * FLT_EPSILON);

    float *d_x = calloc(N * DIM, sizeof *d_x), *accumulated = random_array(N * DIM, -1, 1);
    float *before = copy_array(accumulated, N * DIM);
    normalize_backward(x, d_y, d_x, N, DIM);
    normalize_backward(x, d_y, accumulated, N, DIM);
    double fd[DIM];
    for (int r = 0; r < N; r++) {
        double step = FD_STEP * (row_scale[r] > 0 ? row_scale[r] : 1e-14);
        normalize_problem row = {1, DIM, p.x + r * DIM, p.y + r * DIM, p.weights + r * DIM};
        central_differences(normalize_loss, &row, row.x, DIM, step, fd);
        char what[64];
        snprintf(what, sizeof what, "normalize_backward, row scale %g", row_scale[r]);
        double error = normwise_error(d_x + r * DIM, fd, DIM);
        print_message("  %-40s central differences: %.2g\n", what, error);
        check_error(what, error, 1e-6);
        if (row_scale[r] == 1) {
            /* the header says +=; added to values of size 1, the sum is within an ulp */
            for (int i = 0; i < DIM; i++)
                fd[i] += before[r * DIM + i];
            snprintf(what, sizeof what, "normalize_backward accumulated, row %d", r);
            check_error(what, normwise_error(accumulated + r * DIM, fd, DIM), 1e-6);
        }
    }
    report_worst("normalize vs central differences");
    free(x), free(d_y), free(y), free(d_x), free(accumulated), free(before);
    free(p.x), free(p.y), free(p.weights);
}

/* ---- the whole embedder, float32 central differences ------------------------------------ */

/* A model of the given architecture with odd sizes (hidden 15 in 3 heads of 5, FFN 23, 2
 * layers, a vocabulary of 41), filled with random values large enough that every path
 * carries a gradient: Hugging Face's 0.02 init would leave attention nearly uniform and
 * the q/k gradients at the rounding floor. No tokenizer: the tests feed token ids. */
static semb_model *random_model(encoder_arch arch, unsigned pooling_modes, bool normalize)
{
    semb_model *m = calloc(1, sizeof *m);
    assert_non_null(m);
    m->config = (encoder_config){
        .arch = arch, .vocab_size = 41, .hidden_size = 15, .num_layers = 2, .num_heads = 3,
        .intermediate_size = 23, .max_position_embeddings = 20,
        .type_vocab_size = arch == ENCODER_BERT ? 2 : 0,
        .pad_token_id = arch == ENCODER_MPNET ? 1 : 0,
        .relative_attention_num_buckets = arch == ENCODER_MPNET ? 32 : 0,
        .layer_norm_eps = 1e-12f, .activation = ACTIVATION_GELU};
    semb_error err = {0};
    if (encoder_config_validate(&m->config, "random model", &err) ||
        encoder_params_create(&m->config, false, &m->params, &err))
        fail_msg("%s", err.message);
    for (size_t i = 0; i < m->params.n_tensors; i++) {
        const param_tensor *t = &m->params.tensors[i];
        float *x = m->params.arena + t->offset;
        bool is_bias = strstr(t->name, "bias") != NULL && x != m->params.relative_attention_bias;
        bool is_norm = strstr(t->name, "LayerNorm") || strstr(t->name, "layer_norm");
        bool is_table = strstr(t->name, "embeddings") || x == m->params.relative_attention_bias;
        for (size_t j = 0; j < t->numel; j++)
            x[j] = is_norm && !is_bias ? uniform(0.5f, 1.5f)
                   : is_bias           ? uniform(-0.2f, 0.2f)
                   : is_table          ? uniform(-1, 1)
                                       : uniform(-0.5f, 0.5f);
    }
    m->pooling = (pooling_config){pooling_modes, m->config.hidden_size, true};
    m->normalize = normalize;
    m->max_seq_length = encoder_config_position_limit(&m->config);
    return m;
}

static void random_model_free(semb_model *m)
{
    encoder_params_free(&m->params);
    free(m);
}

/* Sequences of 1, 2, 5, 7 and 3 tokens: random ids, never the padding id, one id repeated
 * across sequences and within one so the embedding scatter-add has collisions. */
enum { N_TEXTS = 5 };
static const int text_lengths[N_TEXTS] = {1, 2, 5, 7, 3};

typedef struct embed_problem {
    semb_model *model;
    embedder embedder;
    int32_t *ids[N_TEXTS];
    float *embeddings, *weights; /* [N_TEXTS, dim] */
    size_t n_out;
} embed_problem;

/* sum(w · embeddings), summed in double so that only the forward's float rounding is in it. */
static double embed_objective(embed_problem *p)
{
    encoder_dropout none = {0};
    semb_error err = {0};
    if (embedder_forward(&p->embedder, p->model, (const int32_t *const *)p->ids, text_lengths,
                         N_TEXTS, &none, p->embeddings, &err))
        fail_msg("%s", err.message);
    double sum = 0;
    for (size_t i = 0; i < p->n_out; i++)
        sum += (double)p->weights[i] * p->embeddings[i];
    return sum;
}

/* The rows of an embedding table (or of MPNet's bucket table) that the batch reads: only
 * they can have a gradient. NULL for a tensor that is not a table: every element is used. */
static bool *used_rows(const embed_problem *p, const param_tensor *t)
{
    const encoder_config *c = &p->model->config;
    const float *x = p->model->params.arena + t->offset;
    bool *used = calloc((size_t)t->shape[0], sizeof *used);
    assert_non_null(used);
    int position_offset = c->arch == ENCODER_MPNET ? c->pad_token_id + 1 : 0, max_len = 0;
    for (int s = 0; s < N_TEXTS; s++)
        max_len = text_lengths[s] > max_len ? text_lengths[s] : max_len;
    if (x == p->model->params.word_embeddings) {
        for (int s = 0; s < N_TEXTS; s++)
            for (int k = 0; k < text_lengths[s]; k++)
                used[p->ids[s][k]] = true;
    } else if (x == p->model->params.position_embeddings) {
        for (int k = 0; k < max_len; k++)
            used[position_offset + k] = true;
    } else if (x == p->model->params.token_type_embeddings) {
        used[0] = true;
    } else if (x == p->model->params.relative_attention_bias) {
        for (int d = -(max_len - 1); d <= max_len - 1; d++)
            used[mpnet_relative_position_bucket(d)] = true;
    } else {
        free(used);
        return NULL;
    }
    return used;
}

/* Float32 central differences of sum(w · embeddings) with step 1e-2 (parameters are O(0.1
 * .. 1)). Error budget per element: truncation h^2 |f'''| / 6, measured at most 9.4e-4
 * relative (where |differences| > 0.05), plus rounding: the forward's float error in the
 * objective (~1e-6 with sum |w| ~ 35) over h, measured at most 2.2e-4 absolute (on key
 * biases, whose exact gradient is zero). The check is
 *     |analytic - differences| <= 5e-3 |differences| + 1e-3,
 * about 5 times the worst of either (the worst ratio is reported), while a gradient written
 * to the wrong element (an O(0.1 .. 1) error) cannot pass. Key biases are held to the
 * absolute term only. Each tensor's checks: 4 random elements (of rows the batch reads, for
 * tables), the element with the largest gradient, and for tables one element of an unread
 * row, where the gradient and the differences must both be exactly zero (every unread row's
 * gradient must be exactly zero). */
#define EMBED_STEP 1e-2
#define EMBED_RELATIVE 5e-3
#define EMBED_ABSOLUTE 1e-3

static void check_embedder_gradients(encoder_arch arch, unsigned pooling_modes, bool normalize)
{
    embed_problem p = {.model = random_model(arch, pooling_modes, normalize)};
    const encoder_config *c = &p.model->config;
    for (int s = 0; s < N_TEXTS; s++) {
        p.ids[s] = malloc((size_t)text_lengths[s] * sizeof *p.ids[s]);
        for (int k = 0; k < text_lengths[s]; k++) {
            do
                p.ids[s][k] = (int32_t)uniform(0, (float)c->vocab_size);
            while (p.ids[s][k] == c->pad_token_id || p.ids[s][k] >= c->vocab_size);
        }
    }
    p.ids[3][4] = p.ids[3][1]; /* a repeat within a sequence */
    p.ids[2][0] = p.ids[3][1]; /* and across sequences */
    p.n_out = (size_t)N_TEXTS * semb_model_dimension(p.model);
    p.embeddings = calloc(p.n_out, sizeof(float));
    p.weights = random_array(p.n_out, -1, 1);

    encoder_params grads;
    semb_error err = {0};
    assert_int_equal(encoder_params_create(c, false, &grads, &err), SEMB_OK);
    embed_objective(&p);
    if (embedder_backward(&p.embedder, p.model, p.weights, &grads, &err))
        fail_msg("%s", err.message);

    float *arena = p.model->params.arena;
    double worst = 0;
    const char *worst_name = "";
    int checked = 0;
    for (size_t ti = 0; ti < grads.n_tensors; ti++) {
        const param_tensor *t = &grads.tensors[ti];
        const float *g = grads.arena + t->offset;
        bool *used = used_rows(&p, t);
        size_t row = t->ndim == 2 ? (size_t)t->shape[1] : 1;
        double largest_gradient = 0;
        size_t largest = 0;
        for (size_t j = 0; j < t->numel; j++) {
            if (used && !used[j / row]) {
                if (g[j] != 0)
                    fail_msg("%s %s[%zu]: gradient %.3g in a row the batch never reads",
                             encoder_arch_name(arch), t->name, j, g[j]);
                continue;
            }
            if (fabsf(g[j]) > largest_gradient) {
                largest_gradient = fabsf(g[j]);
                largest = j;
            }
        }
        size_t elements[6];
        int n_elements = 0;
        while (n_elements < 4) {
            size_t j = (size_t)uniform(0, (float)t->numel);
            if (j < t->numel && (!used || used[j / row]))
                elements[n_elements++] = j;
        }
        elements[n_elements++] = largest;
        if (used)
            for (size_t j = 0; j < t->numel; j += row)
                if (!used[j / row]) {
                    elements[n_elements++] = j + (size_t)uniform(0, (float)row) % row;
                    break;
                }
        bool zero_in_exact_arithmetic = strstr(t->name, "attention.self.key.bias") ||
                                        strstr(t->name, "attention.k_lin.bias") ||
                                        strstr(t->name, "attention.attn.k.bias");
        for (int e = 0; e < n_elements; e++) {
            size_t j = elements[e];
            float saved = arena[t->offset + j];
            arena[t->offset + j] = saved + (float)EMBED_STEP;
            double up = embed_objective(&p);
            arena[t->offset + j] = saved - (float)EMBED_STEP;
            double down = embed_objective(&p);
            arena[t->offset + j] = saved;
            /* the float steps actually taken, not the nominal one */
            double h = ((double)(saved + (float)EMBED_STEP) - (double)(saved - (float)EMBED_STEP)) / 2;
            double fd = (up - down) / (2 * h), error = fabs(g[j] - fd);
            double tolerance =
                EMBED_ABSOLUTE + (zero_in_exact_arithmetic ? 0 : EMBED_RELATIVE * fabs(fd));
            if (used && !used[j / row])
                tolerance = 0; /* nothing reads it: both exactly zero */
            note_ratio(error, tolerance > 0 ? tolerance : 1);
            if (error / (tolerance > 0 ? tolerance : 1) > worst) {
                worst = error / (tolerance > 0 ? tolerance : 1);
                worst_name = t->name;
            }
            if (!(error <= tolerance))
                fail_msg("%s %s[%zu]: gradient %.7g, central differences %.7g (tolerance %.3g)",
                         encoder_arch_name(arch), t->name, j, g[j], fd, tolerance);
            checked++;
        }
        free(used);
    }
    print_message("  %-10s pooling 0x%02x%s: %zu tensors, %d elements, worst %.3f of tolerance "
                  "(%s)\n",
                  encoder_arch_name(arch), pooling_modes, normalize ? " + normalize" : "",
                  grads.n_tensors, checked, worst, worst_name);
    encoder_params_free(&grads);
    embedder_free(&p.embedder);
    for (int s = 0; s < N_TEXTS; s++)
        free(p.ids[s]);
    free(p.embeddings), free(p.weights);
    random_model_free(p.model);
}

/* As torch's nn.Embedding(padding_idx=pad_token_id): a text holding the pad token itself
 * (a literal "[PAD]" in the data) leaves the padding row's gradient at zero. */
static void test_padding_row_gets_no_gradient(void **state)
{
    static const encoder_arch archs[] = {ENCODER_BERT, ENCODER_DISTILBERT, ENCODER_MPNET};
    for (int a = 0; a < 3; a++) {
        semb_model *m = random_model(archs[a], POOLING_MEAN, true);
        int pad = m->config.pad_token_id, H = m->config.hidden_size;
        int32_t text[4] = {5, pad, 7, pad};
        const int32_t *ids[1] = {text};
        int count = 4;
        embedder e = {0};
        encoder_dropout none = {0};
        semb_error err = {0};
        float *emb = calloc((size_t)H, sizeof(float)), *w = random_array((size_t)H, -1, 1);
        encoder_params grads;
        assert_int_equal(encoder_params_create(&m->config, false, &grads, &err), SEMB_OK);
        assert_int_equal(embedder_forward(&e, m, ids, &count, 1, &none, emb, &err), SEMB_OK);
        assert_int_equal(embedder_backward(&e, m, w, &grads, &err), SEMB_OK);
        double pad_sum = 0, used_sum = 0;
        for (int i = 0; i < H; i++) {
            pad_sum += fabs(grads.word_embeddings[(size_t)pad * H + i]);
            used_sum += fabs(grads.word_embeddings[(size_t)5 * H + i]);
        }
        assert_true(pad_sum == 0);
        assert_true(used_sum > 0);
        encoder_params_free(&grads);
        embedder_free(&e);
        free(emb);
        free(w);
        random_model_free(m);
    }
}

static void test_embedder_gradients_bert(void **state)
{
    check_embedder_gradients(ENCODER_BERT, POOLING_MEAN, true);
    report_worst("bert embedder vs central differences");
}

static void test_embedder_gradients_distilbert(void **state)
{
    check_embedder_gradients(ENCODER_DISTILBERT,
                             POOLING_CLS | POOLING_MEAN_SQRT_LEN | POOLING_WEIGHTED_MEAN, false);
    report_worst("distilbert embedder vs central differences");
}

static void test_embedder_gradients_mpnet(void **state)
{
    check_embedder_gradients(ENCODER_MPNET, POOLING_MEAN | POOLING_LAST_TOKEN, true);
    report_worst("mpnet embedder vs central differences");
}

/* ---- dropout in the training step, on the fixture models -------------------------------- */

static const char *const fixtures[] = {"bert-tiny-mean", "distilbert-tiny-mean", "mpnet-tiny-mean"};

static train_step_config step_config(float dropout, uint64_t key, int mini_batch)
{
    return (train_step_config){.loss = test_cosine20_loss(),
                               .mini_batch_size = mini_batch,
                               .hidden_dropout = dropout,
                               .attention_dropout = dropout,
                               .dropout_key = key};
}

/* Zeroes grads and fills it with one step's gradient; state may be reused. */
static double step_gradients(train_step_state *s, const semb_model *m, const test_triples *t,
                             const train_step_config *cfg, encoder_params *grads)
{
    memset(grads->arena, 0, grads->arena_floats * sizeof(float));
    text_batch b = {t->n, 1, (const int32_t *const *)t->ids, t->counts};
    double loss;
    semb_error err = {0};
    if (train_step_gradients(s, m, &b, cfg, grads, &loss, &err))
        fail_msg("%s", err.message);
    return loss;
}

static double one_step(const semb_model *m, const test_triples *t, const train_step_config *cfg,
                       encoder_params *grads)
{
    train_step_state s = {0};
    double loss = step_gradients(&s, m, t, cfg, grads);
    train_step_state_free(&s);
    return loss;
}

static double relative_difference(const encoder_params *a, const encoder_params *b)
{
    double diff = 0, norm = 0;
    for (size_t i = 0; i < a->arena_floats; i++) {
        double d = (double)a->arena[i] - b->arena[i];
        diff += d * d;
        norm += (double)b->arena[i] * b->arena[i];
    }
    return sqrt(diff / norm);
}

static void create_grads(const semb_model *m, encoder_params *grads)
{
    semb_error err = {0};
    if (encoder_params_create(&m->config, m->params.pooler_weight != NULL, grads, &err))
        fail_msg("%s", err.message);
}

/* (a) the same key gives the same bits, from a fresh state and from a reused one; (b) another
 * key and (d) no dropout give gradients that differ by far more than rounding. */
static void test_dropout_deterministic_by_key(void **state)
{
    if (!test_shared_dir())
        skip();
    for (int f = 0; f < 3; f++) {
        semb_model *m = test_load_fixture(fixtures[f]);
        test_triples t = test_load_triples(m, fixtures[f]);
        encoder_params first, again, other_key, no_dropout;
        create_grads(m, &first), create_grads(m, &again), create_grads(m, &other_key);
        create_grads(m, &no_dropout);
        train_step_config cfg = step_config(0.1f, 0x1234567ull, 0);
        double loss = one_step(m, &t, &cfg, &first);
        train_step_state reused = {0};
        train_step_config other = step_config(0.1f, 0x7654321ull, 0);
        step_gradients(&reused, m, &t, &other, &other_key); /* leaves buffers behind */
        double loss_again = step_gradients(&reused, m, &t, &cfg, &again);
        train_step_state_free(&reused);
        assert_true(loss == loss_again);
        assert_memory_equal(first.arena, again.arena, first.arena_floats * sizeof(float));
        double loss_other = one_step(m, &t, &other, &other_key);
        train_step_config off = step_config(0, 0x1234567ull, 0);
        double loss_off = one_step(m, &t, &off, &no_dropout);
        double by_key = relative_difference(&other_key, &first);
        double by_dropout = relative_difference(&no_dropout, &first);
        print_message("  %-22s dropout 0.1: loss %.6f, other key %.6f, no dropout %.6f; "
                      "gradient relative L2 change: other key %.3f, no dropout %.3f\n",
                      fixtures[f], loss, loss_other, loss_off, by_key, by_dropout);
        /* dropout 0.1 on every site of a 2-layer model moves the gradient by tens of percent */
        assert_true(by_key > 0.05 && by_dropout > 0.05);
        assert_true(loss_other != loss && loss_off != loss);
        encoder_params_free(&first), encoder_params_free(&again);
        encoder_params_free(&other_key), encoder_params_free(&no_dropout);
        test_free_triples(&t);
        semb_model_free(m);
    }
}

/* (c) GradCache with dropout. Chunk c draws its masks from a key derived from (step key, c)
 * and each element's packed position inside the chunk, so they are not the masks of the
 * unchunked batch: with dropout, GradCache is another draw of the masks (as in
 * sentence-transformers' CachedMultipleNegativesRankingLoss, which replays each mini-batch's
 * RNG state but never reproduces the full batch's), and its gradient differs from the
 * unchunked one by as much as another key does (printed). What GradCache must guarantee is
 * that each chunk's re-forward reuses the masks of its first forward: then its gradient is
 * the gradient of the loss the first pass computed, which central differences of that loss
 * check here, for the element with the largest gradient of every trainable tensor.
 *
 * Step 3e-3 (relative to the parameter where it is above 1): truncation then measured at most
 * 1.5e-3 relative (the token-type row, which every token reads), rounding (the float loss
 * carries ~1e-6: 20 · cosines of float embeddings) at most 2.7e-4 absolute. Tolerance:
 * 5e-3 relative plus 5e-4 of the model's largest gradient, so the worst measured is about a
 * quarter of it. Power: had the re-forward drawn other masks, the gradient would be off by
 * about as much as another key moves it; the test asserts that another key's gradient fails
 * at least a quarter of these checks (measured: 144 of 220). */
static void test_gradcache_reuses_dropout_masks(void **state)
{
    if (!test_shared_dir())
        skip();
    static const int chunks[] = {1, 5};
    for (int f = 0; f < 3; f++) {
        semb_model *m = test_load_fixture(fixtures[f]);
        test_triples t = test_load_triples(m, fixtures[f]);
        encoder_params full, cached, other, scratch;
        create_grads(m, &full), create_grads(m, &cached), create_grads(m, &other);
        create_grads(m, &scratch);
        train_step_config full_cfg = step_config(0.1f, 99, 0);
        one_step(m, &t, &full_cfg, &full);
        for (int c = 0; c < 2; c++) {
            train_step_config cfg = step_config(0.1f, 99, chunks[c]);
            train_step_config other_cfg = step_config(0.1f, 100, chunks[c]);
            one_step(m, &t, &cfg, &cached);
            one_step(m, &t, &other_cfg, &other);
            double largest = 0;
            for (size_t i = 0; i < cached.arena_floats; i++)
                largest = fmax(largest, fabsf(cached.arena[i]));
            train_step_state s = {0};
            double worst = 0;
            int checks = 0, other_key_fails = 0;
            for (size_t ti = 0; ti < cached.n_tensors; ti++) {
                const param_tensor *p = &cached.tensors[ti];
                if (!p->trainable)
                    continue;
                size_t j = 0;
                for (size_t k = 1; k < p->numel; k++)
                    if (fabsf(cached.arena[p->offset + k]) > fabsf(cached.arena[p->offset + j]))
                        j = k;
                float *x = m->params.arena + p->offset + j, saved = *x;
                float step = 3e-3f * fmaxf(1, fabsf(saved));
                *x = saved + step;
                double up = step_gradients(&s, m, &t, &cfg, &scratch);
                *x = saved - step;
                double down = step_gradients(&s, m, &t, &cfg, &scratch);
                *x = saved;
                /* the float steps actually taken, not the nominal one */
                double h = ((double)(saved + step) - (double)(saved - step)) / 2;
                double fd = (up - down) / (2 * h), g = cached.arena[p->offset + j];
                double tolerance = 5e-3 * fabs(fd) + 5e-4 * largest;
                note_ratio(fabs(g - fd), tolerance);
                worst = fmax(worst, fabs(g - fd) / tolerance);
                checks++;
                if (!(fabs(other.arena[p->offset + j] - fd) <= tolerance))
                    other_key_fails++;
                if (!(fabs(g - fd) <= tolerance))
                    fail_msg("%s, mini-batch %d: %s[%zu] gradient %.7g, central differences "
                             "of the loss %.7g (tolerance %.3g)",
                             fixtures[f], chunks[c], p->name, j, g, fd, tolerance);
            }
            train_step_state_free(&s);
            print_message("  %-22s mini-batch %d with dropout: worst %.3f of tolerance; another "
                          "key's gradient fails %d of %d checks; relative L2 to the unchunked "
                          "batch %.3f\n",
                          fixtures[f], chunks[c], worst, other_key_fails, checks,
                          relative_difference(&cached, &full));
            assert_true(4 * other_key_fails >= checks);
        }
        encoder_params_free(&full), encoder_params_free(&cached);
        encoder_params_free(&other), encoder_params_free(&scratch);
        test_free_triples(&t);
        semb_model_free(m);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup(test_pooling_gradients, reset_worst),
        cmocka_unit_test(test_max_pooling_tie_goes_to_first),
        cmocka_unit_test_setup(test_normalize_gradients, reset_worst),
        cmocka_unit_test(test_padding_row_gets_no_gradient),
        cmocka_unit_test_setup(test_embedder_gradients_bert, reset_worst),
        cmocka_unit_test_setup(test_embedder_gradients_distilbert, reset_worst),
        cmocka_unit_test_setup(test_embedder_gradients_mpnet, reset_worst),
        cmocka_unit_test(test_dropout_deterministic_by_key),
        cmocka_unit_test_setup(test_gradcache_reuses_dropout_masks, reset_worst),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
