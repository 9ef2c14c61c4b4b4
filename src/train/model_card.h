/* The model card: the README.md that sentence-transformers writes into a trained model's
 * folder, written by semb for the models it trains. YAML front matter for the Hugging Face
 * Hub (tags, pipeline_tag, library_name, datasets, metrics and a model-index with the
 * evaluation results), then the model description, its full architecture printed as
 * SentenceTransformer prints itself, usage from Python and from the semb CLI, the training
 * data with weights and pair counts, the loss and its parameters, every hyperparameter, the
 * final loss, evaluation results, a table of training logs, the loss curve (an SVG beside
 * the card), framework versions and citations.
 *
 * The trainer fills a model_card with plain values; nothing here reads training state. */
#ifndef SEMB_TRAIN_MODEL_CARD_H
#define SEMB_TRAIN_MODEL_CARD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "semb.h"

#define MODEL_CARD_FILE "README.md"
#define MODEL_CARD_PLOT_FILE "training_loss.svg"

/* The trained model, as the card describes it. */
typedef struct model_card_model {
    const char *name;             /* card title; NULL: "SentenceTransformer trained with semb" */
    const char *base_model;       /* folder or Hub id training started from; NULL: from scratch */
    const char *architecture;     /* Hugging Face class: BertModel, DistilBertModel, MPNetModel */
    int vocab_size;
    int hidden_size;
    int num_layers;
    int num_heads;
    int intermediate_size;
    int max_seq_length;
    int output_dim;               /* sentence embedding size */
    int64_t n_parameters;         /* encoder parameters; <= 0: not shown */
    bool do_lower_case;           /* the Transformer module's flag (not the tokenizer's) */
    /* Pooling, as sentence-transformers' Pooling config spells its modes. */
    bool pooling_cls, pooling_mean, pooling_max, pooling_mean_sqrt_len, pooling_weighted_mean,
        pooling_last_token;
    bool include_prompt;
    bool normalize;               /* a Normalize module follows pooling */
} model_card_model;

/* One training dataset: a file (or name) with its sampling weight and size. */
typedef struct model_card_dataset {
    const char *name;    /* any text: it is escaped for Markdown and YAML */
    double weight;       /* sampling weight; <= 0: not shown */
    int64_t pairs;       /* usable examples in the file; < 0: unknown */
    int64_t skipped;     /* lines skipped as malformed; <= 0: not shown */
    int n_negatives;     /* hard negatives per example (0: pairs, 1: triplets...) */
} model_card_dataset;

/* Every hyperparameter of the run, as the trainer resolved it (defaults filled in). */
typedef struct model_card_hyperparameters {
    int batch_size;
    int mini_batch_size;         /* GradCache chunk in texts; <= 0: no GradCache */
    double learning_rate;
    int warmup_steps;
    const char *scheduler;       /* "linear", "constant", "cosine" */
    double weight_decay;
    double adam_beta1, adam_beta2, adam_epsilon;
    double max_grad_norm;        /* <= 0: no clipping */
    double dropout;              /* hidden and attention dropout used in training */
    int64_t steps;               /* optimizer steps done */
    double epochs;               /* passes over the data (may be fractional); < 0: unknown */
    uint64_t seed;
    int datasets_per_batch;      /* <= 0: not shown (single dataset) */
    const char *similarity;      /* "cosine" or "dot" */
    double scale;
    bool symmetric;              /* MultipleNegativesSymmetricRankingLoss */
    bool bf16;                   /* bf16 mixed precision (shown as Trainer's `bf16` argument) */
    double training_seconds;     /* < 0: unknown */
} model_card_hyperparameters;

/* One evaluation result, e.g. {"sts-dev", "spearman_cosine", 81.2, 1000}. */
typedef struct model_card_eval {
    const char *dataset;
    const char *metric;
    double value;
    int64_t step;        /* step it was measured at; < 0: after training */
} model_card_eval;

typedef struct model_card {
    model_card_model model;
    const model_card_dataset *datasets;
    size_t n_datasets;
    model_card_hyperparameters hp;
    /* Loss per logged step (n_history entries; lr may be NULL). */
    const int64_t *history_steps;
    const double *history_loss;
    const double *history_lr;
    size_t n_history;
    double final_loss;   /* NaN: the mean of the last logged losses is shown instead */
    const model_card_eval *evals;
    size_t n_evals;
    const char *semb_version; /* NULL: the version this library was built as */
} model_card;

/* Fills out with what a loaded model says about itself (architecture, sizes, pooling,
 * normalisation, parameter count); the caller sets name and base_model. */
void model_card_describe_model(const semb_model *model, model_card_model *out);

/* The card's Markdown in a malloc'd NUL-terminated string (*markdown, freed by the caller).
 * plot_file is the loss curve's file name relative to the card, or NULL for none. Errors:
 * SEMB_ERR_INVALID_ARG for arrays missing while their counts are not zero; SEMB_ERR_NOMEM. */
semb_status model_card_render(const model_card *card, const char *plot_file, char **markdown,
                              semb_error *err);

/* Writes dir/README.md and, when there is a loss history, dir/training_loss.svg, each
 * atomically (the folder must exist). On failure err names the file; a card whose plot
 * failed is not written. */
semb_status model_card_write(const model_card *card, const char *dir, semb_error *err);

#endif
