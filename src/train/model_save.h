/* Saving a (trained) model as a sentence-transformers folder in the format it was loaded
 * from: every configuration and tokenizer file is carried over, then the weights are written
 * atomically, last, so a reader never sees new configs beside half-written weights. */
#ifndef SEMB_TRAIN_MODEL_SAVE_H
#define SEMB_TRAIN_MODEL_SAVE_H

#include "model/sentence_model.h"

/* Writes model to dir (created if missing; existing files replaced one by one, each
 * atomically). Errors name the file. */
semb_status model_save(const semb_model *model, const char *dir, semb_error *err);

#endif
