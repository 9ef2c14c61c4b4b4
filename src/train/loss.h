/* A training loss: one module behind this one interface, so that GradCache (train_step.h),
 * a wrapping loss (Matryoshka's nested prefixes) and distributed training use any loss the
 * same way, and a new loss is one file plus its test.
 *
 * A loss sees a batch's embeddings in sentence-transformers' column layout: embeddings
 * [(2 + n_negatives) · batch, dim] = B anchors, then B positives, then B first hard negatives,
 * ..., then B k-th hard negatives. It returns the loss and, when asked, d loss / d embeddings
 * in the same layout; the encoder's backward takes it from there.
 *
 * Today's losses: MultipleNegativesRankingLoss and its symmetric variant (mnrl_loss.h). */
#ifndef SEMB_TRAIN_LOSS_H
#define SEMB_TRAIN_LOSS_H

#include <jansson.h>
#include <stdbool.h>

#include "semb.h"
#include "train/model_card.h"

typedef struct train_loss train_loss;

struct train_loss {
    /* The loss over one batch; d_embeddings (NULL: forward only) is overwritten, not
     * accumulated into. Errors: SEMB_ERR_INVALID_ARG for sizes the loss cannot take,
     * SEMB_ERR_NOMEM; nothing is written on error. */
    semb_status (*compute)(const train_loss *loss, const float *embeddings, int batch,
                           int n_negatives, int dim, double *value, float *d_embeddings,
                           semb_error *err);
    /* Adds the loss's options to a run's options object (checkpoints, the log): what a
     * resumed run must match. Returns 0, or -1 when memory runs out. */
    int (*add_options)(const train_loss *loss, json_t *options);
    /* Fills the loss's part of a model card: the sentence-transformers class and its
     * arguments. */
    void (*describe)(const train_loss *loss, model_card_hyperparameters *hp);
    void (*free)(train_loss *loss);
};

/* The loss semb_train_options asks for (similarity, scale, symmetric): the one place those
 * options become a loss. *out is owned by the caller (train_loss_free). Errors:
 * SEMB_ERR_INVALID_ARG naming the option (--similarity, --scale), SEMB_ERR_NOMEM. */
semb_status train_loss_from_options(const semb_train_options *o, train_loss **out,
                                    semb_error *err);

/* Frees a loss; NULL allowed. */
void train_loss_free(train_loss *loss);

#endif
