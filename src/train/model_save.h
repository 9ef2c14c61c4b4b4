/* Saving a (trained) model as a sentence-transformers folder in the format it was loaded
 * from: every configuration and tokenizer file is carried over and the weights written, all
 * into a temporary sibling folder ("DIR.tmp.XXXXXX") that is renamed onto DIR only once
 * complete. A failure removes the temporary folder: nothing half-written is ever left. */
#ifndef SEMB_TRAIN_MODEL_SAVE_H
#define SEMB_TRAIN_MODEL_SAVE_H

#include "model/sentence_model.h"

/* Writes model to dir, which must not exist or be an empty folder (a folder with files in
 * it is refused, never overwritten). Errors name the folder and the file. */
semb_status model_save(const semb_model *model, const char *dir, semb_error *err);

/* Writes every file of the model (weights as F32; the configuration, tokenizer and README
 * files carried over from the folder it was loaded from; module subfolders) into dir, an
 * existing folder. Each file is written atomically, the set is not: callers that need the
 * whole folder to appear at once write into a temporary folder and rename it (model_save,
 * checkpoint_save). Errors name the file: SEMB_ERR_IO (including a loaded-from folder that
 * no longer holds config.json), SEMB_ERR_NOMEM. */
semb_status model_save_files(const semb_model *model, const char *dir, semb_error *err);

/* The checks model_save makes before writing, for a caller to fail early (before hours of
 * training): dir is missing or an empty folder, and a folder can be created beside it. */
semb_status model_save_check_output(const char *dir, semb_error *err);

#endif
