#include "train/loss.h"

#include <string.h>

#include "core/error.h"
#include "train/mnrl_loss.h"

semb_status train_loss_from_options(const semb_train_options *o, train_loss **out,
                                    semb_error *err)
{
    *out = NULL;
    mnrl_config cfg = {.symmetric = o->symmetric};
    if (!o->similarity || strcmp(o->similarity, "cosine") == 0)
        cfg.similarity = SIMILARITY_COSINE;
    else if (strcmp(o->similarity, "dot") == 0)
        cfg.similarity = SIMILARITY_DOT;
    else
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "--similarity: '%s' is not cosine or dot",
                         o->similarity);
    /* sentence-transformers' defaults: 20 for cosine, 1 for dot */
    cfg.scale = o->scale > 0                                ? (float)o->scale
                : cfg.similarity == SIMILARITY_COSINE ? 20.0f
                                                      : 1.0f;
    return mnrl_train_loss_create(&cfg, out, err);
}

void train_loss_free(train_loss *loss)
{
    if (loss)
        loss->free(loss);
}
