#include "train/adamw.h"

#include <math.h>
#include <stdlib.h>

#include "core/error.h"
#include "kernels/simd_math.h"

/* The gradient norm is summed over this many fixed slices, then the slices in order, so
 * the result does not depend on the thread count. */
enum { NORM_SLICES = 256 };

/* Arenas smaller than this are updated on the calling thread: waking a team costs more. */
enum { PARALLEL_MIN_ELEMENTS = 1 << 15 };

adamw_config adamw_config_default(void)
{
    return (adamw_config){
        .beta1 = 0.9, .beta2 = 0.999, .eps = 1e-8, .weight_decay = 0.01, .grad_scale = 1.0f};
}

semb_status adamw_state_create(size_t n, adamw_state *out, semb_error *err)
{
    *out = (adamw_state){.n = n};
    out->exp_avg = calloc(n ? n : 1, sizeof *out->exp_avg);
    out->exp_avg_sq = calloc(n ? n : 1, sizeof *out->exp_avg_sq);
    if (!out->exp_avg || !out->exp_avg_sq) {
        adamw_state_free(out);
        return semb_fail(err, SEMB_ERR_NOMEM, "adamw: cannot allocate moments for %zu parameters",
                         n);
    }
    return SEMB_OK;
}

void adamw_state_free(adamw_state *state)
{
    free(state->exp_avg);
    free(state->exp_avg_sq);
    *state = (adamw_state){0};
}

/* torch.lerp(start, end, weight) as ATen computes it: from whichever end is nearer. */
static inline float lerp(float start, float end, float weight)
{
    return weight < 0.5f ? start + weight * (end - start)
                         : end - (end - start) * (1.0f - weight);
}

/* The per-step scalars, computed in double as Python computes them in torch's
 * _single_tensor_adam, then rounded to float where torch hands them to a float op. */
typedef struct adamw_scalars {
    float decay;          /* 1 - lr·wd */
    float one_minus_beta1, beta2, one_minus_beta2;
    float neg_step_size;  /* -lr / (1 - β1^t) */
    float bias_correction2_sqrt;
    float eps;
} adamw_scalars;

static adamw_scalars step_scalars(const adamw_config *cfg, double lr, long step)
{
    double bias_correction1 = 1.0 - pow(cfg->beta1, (double)step);
    double bias_correction2 = 1.0 - pow(cfg->beta2, (double)step);
    return (adamw_scalars){
        .decay = (float)(1.0 - lr * cfg->weight_decay),
        .one_minus_beta1 = (float)(1.0 - cfg->beta1),
        .beta2 = (float)cfg->beta2,
        .one_minus_beta2 = (float)(1.0 - cfg->beta2),
        .neg_step_size = (float)-(lr / bias_correction1),
        .bias_correction2_sqrt = (float)pow(bias_correction2, 0.5),
        .eps = (float)cfg->eps,
    };
}

static inline void update_one(const adamw_scalars *s, bool decay, float *p, float g, float *m,
                              float *v)
{
    if (decay)
        *p *= s->decay;
    *m = lerp(*m, g, s->one_minus_beta1);
    *v = *v * s->beta2 + s->one_minus_beta2 * g * g;
    float denom = sqrtf(*v) / s->bias_correction2_sqrt + s->eps;
    *p = *p + s->neg_step_size * *m / denom;
}

static void update_range_generic(const adamw_scalars *s, bool decay, float grad_scale,
                                 float *p, const float *g, float *m, float *v, size_t n)
{
    for (size_t i = 0; i < n; i++)
        update_one(s, decay, &p[i], g[i] * grad_scale, &m[i], &v[i]);
}

/* update_one's operations, lane by lane, in its order; lerp's branch depends only on the
 * weight, so it is taken once. The arena is streamed once (28 bytes a parameter), so this
 * is bound by memory where the scalar loop was bound by its divide and square root. */
SIMD_AVX2 static void update_range_avx2(const adamw_scalars *s, bool decay, float grad_scale,
                                        float *p, const float *g, float *m, float *v, size_t n)
{
    const __m256 scale = _mm256_set1_ps(grad_scale), dec = _mm256_set1_ps(s->decay);
    const __m256 w = _mm256_set1_ps(s->one_minus_beta1),
                 w_rest = _mm256_set1_ps(1.0f - s->one_minus_beta1);
    const __m256 b2 = _mm256_set1_ps(s->beta2), omb2 = _mm256_set1_ps(s->one_minus_beta2);
    const __m256 bc2 = _mm256_set1_ps(s->bias_correction2_sqrt), eps = _mm256_set1_ps(s->eps);
    const __m256 step = _mm256_set1_ps(s->neg_step_size);
    bool near_start = s->one_minus_beta1 < 0.5f;
    size_t i = 0;
    for (; i + 8 <= n; i += 8) {
        __m256 gi = _mm256_mul_ps(_mm256_loadu_ps(g + i), scale);
        __m256 pi = _mm256_loadu_ps(p + i), mi = _mm256_loadu_ps(m + i);
        __m256 vi = _mm256_loadu_ps(v + i);
        if (decay)
            pi = _mm256_mul_ps(pi, dec);
        __m256 diff = _mm256_sub_ps(gi, mi);
        mi = near_start ? _mm256_add_ps(mi, _mm256_mul_ps(w, diff))
                        : _mm256_sub_ps(gi, _mm256_mul_ps(diff, w_rest));
        vi = _mm256_add_ps(_mm256_mul_ps(vi, b2), _mm256_mul_ps(_mm256_mul_ps(omb2, gi), gi));
        __m256 denom = _mm256_add_ps(_mm256_div_ps(_mm256_sqrt_ps(vi), bc2), eps);
        pi = _mm256_add_ps(pi, _mm256_div_ps(_mm256_mul_ps(step, mi), denom));
        _mm256_storeu_ps(p + i, pi);
        _mm256_storeu_ps(m + i, mi);
        _mm256_storeu_ps(v + i, vi);
    }
    update_range_generic(s, decay, grad_scale, p + i, g + i, m + i, v + i, n - i);
}

/* Tensors are cut into pieces of this many parameters, shared out dynamically: a thread
 * slowed by a neighbour on its core takes fewer. */
enum { UPDATE_PIECE = 1 << 14 };

semb_status adamw_step(const adamw_config *cfg, adamw_state *state, double lr, float *params,
                       const float *grads, const param_tensor *tensors, size_t n_tensors,
                       semb_error *err)
{
    return adamw_step_using(kernel_path_best(), cfg, state, lr, params, grads, tensors,
                            n_tensors, err);
}

semb_status adamw_step_using(kernel_path path, const adamw_config *cfg, adamw_state *state,
                             double lr, float *params, const float *grads,
                             const param_tensor *tensors, size_t n_tensors, semb_error *err)
{
    if (!(lr >= 0.0) || !isfinite(lr))
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "adamw: learning rate %g must be finite and >= 0", lr);
    for (size_t t = 0; t < n_tensors; t++)
        if (tensors[t].offset > state->n || tensors[t].numel > state->n - tensors[t].offset)
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "adamw: tensor %s [%zu, +%zu) reaches past the %zu-float arena",
                             tensors[t].name, tensors[t].offset, tensors[t].numel, state->n);
    state->step++;
    adamw_scalars s = step_scalars(cfg, lr, state->step);
    bool any_decay = cfg->weight_decay != 0.0;
    bool avx2 = kernel_path_or_generic(path) == KERNEL_PATH_AVX2;
    float grad_scale = cfg->grad_scale > 0.0f ? cfg->grad_scale : 1.0f;
    float *m = state->exp_avg, *v = state->exp_avg_sq;
#pragma omp parallel if (state->n >= PARALLEL_MIN_ELEMENTS)
    for (size_t t = 0; t < n_tensors; t++) {
        /* torch skips a parameter without a gradient entirely, decay included */
        if (!tensors[t].trainable)
            continue;
        size_t begin = tensors[t].offset, numel = tensors[t].numel;
        bool decay = any_decay && tensors[t].weight_decay;
        long pieces = (long)((numel + UPDATE_PIECE - 1) / UPDATE_PIECE);
        /* tensors are disjoint, so no thread waits for the others between them */
#pragma omp for schedule(dynamic, 1) nowait
        for (long k = 0; k < pieces; k++) {
            size_t i = begin + (size_t)k * UPDATE_PIECE;
            size_t count = numel - (size_t)k * UPDATE_PIECE;
            count = count < UPDATE_PIECE ? count : UPDATE_PIECE;
            if (avx2)
                update_range_avx2(&s, decay, grad_scale, params + i, grads + i, m + i, v + i,
                                  count);
            else
                update_range_generic(&s, decay, grad_scale, params + i, grads + i, m + i, v + i,
                                     count);
        }
    }
    return SEMB_OK;
}

double grad_norm(const float *grads, size_t n)
{
    double slices[NORM_SLICES];
    size_t per_slice = (n + NORM_SLICES - 1) / NORM_SLICES;
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
    for (int k = 0; k < NORM_SLICES; k++) {
        size_t begin = (size_t)k * per_slice;
        size_t end = begin + per_slice < n ? begin + per_slice : n;
        double sum = 0.0;
        for (size_t i = begin; i < end; i++)
            sum += (double)grads[i] * grads[i];
        slices[k] = sum;
    }
    double sum = 0.0;
    for (int k = 0; k < NORM_SLICES; k++)
        sum += slices[k];
    return sqrt(sum);
}

float grad_norm_clip_coefficient(double max_norm, double total_norm)
{
    if (!isfinite(total_norm))
        return 1.0f;
    /* torch computes the factor on float tensors */
    float coef = (float)max_norm / ((float)total_norm + 1e-6f);
    return coef < 1.0f ? coef : 1.0f;
}

semb_status grad_clip_norm(float *grads, size_t n, double max_norm, double *total_norm,
                           semb_error *err)
{
    if (!(max_norm > 0.0) || !isfinite(max_norm))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "clip: max norm %g must be positive",
                         max_norm);
    *total_norm = grad_norm(grads, n);
    float coef = grad_norm_clip_coefficient(max_norm, *total_norm);
    if (coef < 1.0f) {
#pragma omp parallel for schedule(static) if (n >= PARALLEL_MIN_ELEMENTS)
        for (size_t i = 0; i < n; i++)
            grads[i] *= coef;
    }
    return SEMB_OK;
}
