#include "train/train_record.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/error.h"

semb_status train_record_step(train_record *r, int64_t step, double loss, double lr,
                              semb_error *err)
{
    if (r->n + 1 > r->cap) {
        size_t c1 = r->cap, c2 = r->cap, c3 = r->cap;
        int64_t *steps = array_grow(r->steps, &c1, r->n + 1, sizeof *steps);
        r->steps = steps ? steps : r->steps;
        double *loss = array_grow(r->loss, &c2, r->n + 1, sizeof *loss);
        r->loss = loss ? loss : r->loss;
        double *lr = array_grow(r->lr, &c3, r->n + 1, sizeof *lr);
        r->lr = lr ? lr : r->lr;
        if (!steps || !loss || !lr)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory recording step %lld",
                             (long long)step);
        r->cap = c1;
    }
    r->steps[r->n] = step;
    r->loss[r->n] = loss;
    r->lr[r->n] = lr;
    r->n++;
    return SEMB_OK;
}

semb_status train_record_eval(train_record *r, int64_t step, const char *metric,
                              const char *dataset, double value, semb_error *err)
{
    train_eval *evals = array_grow(r->evals, &r->cap_evals, r->n_evals + 1, sizeof *evals);
    if (!evals)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory recording an evaluation");
    r->evals = evals;
    train_eval *e = &r->evals[r->n_evals++];
    e->step = step;
    snprintf(e->metric, sizeof e->metric, "%s", metric);
    snprintf(e->dataset, sizeof e->dataset, "%s", dataset);
    e->value = value;
    return SEMB_OK;
}

double train_record_recent_loss(const train_record *r, size_t last)
{
    double sum = 0;
    size_t used = 0;
    for (size_t i = r->n; i > 0 && used < last; i--)
        if (isfinite(r->loss[i - 1])) {
            sum += r->loss[i - 1];
            used++;
        }
    return used ? sum / (double)used : NAN;
}

static json_t *number_or_null(double x)
{
    return isfinite(x) ? json_real(x) : json_null();
}

json_t *train_record_to_json(const train_record *r)
{
    json_t *out = json_array();
    bool ok = out != NULL;
    /* a long run keeps every stride-th step (and the last): the file is rewritten at every
     * checkpoint, and the card's chart draws at most a few thousand points anyway */
    size_t stride = (r->n + TRAIN_RECORD_MAX_SAVED - 1) / TRAIN_RECORD_MAX_SAVED;
    if (stride < 1)
        stride = 1;
    for (size_t i = 0; ok && i < r->n; i++)
        if (i % stride == 0 || i + 1 == r->n)
            ok = !json_array_append_new(out, json_pack("{s:I, s:o, s:o}", "step",
                                                       (json_int_t)r->steps[i], "loss",
                                                       number_or_null(r->loss[i]),
                                                       "learning_rate", number_or_null(r->lr[i])));
    for (size_t i = 0; ok && i < r->n_evals; i++) {
        const train_eval *e = &r->evals[i];
        ok = !json_array_append_new(out, json_pack("{s:I, s:s, s:s, s:o}", "step",
                                                   (json_int_t)e->step, "metric", e->metric,
                                                   "dataset", e->dataset, "value",
                                                   number_or_null(e->value)));
    }
    ok = ok && !json_array_append_new(out, json_pack("{s:f}", "train_runtime", r->seconds));
    if (!ok) {
        json_decref(out);
        return NULL;
    }
    return out;
}

static double number_of(const json_t *v)
{
    return json_is_number(v) ? json_number_value(v) : NAN;
}

/* One entry of the array: a step, an evaluation or the run time. */
static semb_status read_entry(train_record *r, const json_t *e, size_t i, const char *path,
                              semb_error *err)
{
    const json_t *step = json_object_get(e, "step"), *runtime = json_object_get(e, "train_runtime");
    if (json_is_number(runtime)) {
        r->seconds = json_number_value(runtime);
        return SEMB_OK;
    }
    const json_t *metric = json_object_get(e, "metric"), *dataset = json_object_get(e, "dataset");
    if (json_is_integer(step) && json_object_get(e, "loss"))
        return train_record_step(r, json_integer_value(step), number_of(json_object_get(e, "loss")),
                                 number_of(json_object_get(e, "learning_rate")), err);
    if (json_is_integer(step) && json_is_string(metric) && json_is_string(dataset))
        return train_record_eval(r, json_integer_value(step), json_string_value(metric),
                                 json_string_value(dataset), number_of(json_object_get(e, "value")),
                                 err);
    return semb_fail(err, SEMB_ERR_FORMAT,
                     "%s: log_history[%zu]: expected {step, loss, learning_rate}, {step, metric, "
                     "dataset, value} or {train_runtime}", path, i);
}

semb_status train_record_from_json(train_record *r, const json_t *value, const char *path,
                                   semb_error *err)
{
    if (!json_is_array(value))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: log_history: expected an array", path);
    train_record fresh = {0};
    semb_status st = SEMB_OK;
    for (size_t i = 0; !st && i < json_array_size(value); i++)
        st = read_entry(&fresh, json_array_get(value, i), i, path, err);
    if (st) {
        train_record_free(&fresh);
        return st;
    }
    train_record_free(r);
    *r = fresh;
    return SEMB_OK;
}

void train_record_free(train_record *r)
{
    free(r->steps);
    free(r->loss);
    free(r->lr);
    free(r->evals);
    memset(r, 0, sizeof *r);
}
