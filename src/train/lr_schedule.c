#include "train/lr_schedule.h"

#include <math.h>
#include <string.h>

#include "core/error.h"

semb_status lr_schedule_create(const char *name, long warmup_steps, long total_steps,
                               lr_schedule *out, semb_error *err)
{
    static const struct {
        const char *name;
        lr_schedule_kind kind;
    } known[] = {{"linear", LR_SCHEDULE_LINEAR},
                 {"constant", LR_SCHEDULE_CONSTANT},
                 {"cosine", LR_SCHEDULE_COSINE}};
    if (warmup_steps < 0 || total_steps < 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "lr schedule: negative step count (warmup %ld, total %ld)",
                         warmup_steps, total_steps);
    for (size_t i = 0; name && i < sizeof known / sizeof known[0]; i++)
        if (strcmp(name, known[i].name) == 0) {
            *out = (lr_schedule){known[i].kind, warmup_steps, total_steps};
            return SEMB_OK;
        }
    return semb_fail(err, SEMB_ERR_INVALID_ARG,
                     "lr schedule: unknown \"%s\" (linear, constant or cosine)",
                     name ? name : "(null)");
}

static double at_least_one(long n)
{
    return n > 1 ? (double)n : 1.0;
}

double lr_schedule_factor(const lr_schedule *schedule, long step)
{
    long warmup = schedule->warmup_steps, total = schedule->total_steps;
    if (step < warmup)
        return (double)step / at_least_one(warmup);
    switch (schedule->kind) {
    case LR_SCHEDULE_CONSTANT:
        return 1.0;
    case LR_SCHEDULE_LINEAR:
        return fmax(0.0, (double)(total - step) / at_least_one(total - warmup));
    case LR_SCHEDULE_COSINE: {
        const double num_cycles = 0.5;
        double progress = (double)(step - warmup) / at_least_one(total - warmup);
        return fmax(0.0, 0.5 * (1.0 + cos(M_PI * num_cycles * 2.0 * progress)));
    }
    }
    return 1.0;
}

double lr_schedule_lr(const lr_schedule *schedule, double base_lr, long step)
{
    return base_lr * lr_schedule_factor(schedule, step);
}
