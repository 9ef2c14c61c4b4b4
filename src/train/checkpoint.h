/* Training checkpoints: everything a run needs to continue exactly where it stopped, laid
 * out as sentence-transformers' own trainer lays out its output folder:
 *
 *   OUT/                          the latest saved model: a sentence-transformers folder
 *   OUT/checkpoint-<step>/        one per save, <step> in decimal without padding
 *       model.safetensors, config.json, tokenizer files, modules.json, 1_Pooling/,
 *       README.md, ...            the model folder itself, loadable by `semb encode` and
 *                                 SentenceTransformer(path) like any other
 *       optimizer.safetensors     AdamW moments as F32 tensors "exp_avg.<name>" and
 *                                 "exp_avg_sq.<name>", one pair per weight, shaped like it
 *                                 (<name> without any "bert." style prefix)
 *       trainer_state.json        {"format": "semb-checkpoint", "version": 1,
 *                                  "global_step": N, "optimizer_step": N,
 *                                  "options": {...}, "data": ..., "log_history": [...]}
 *                                 (the trainer's randomness lives in "data": dropout and
 *                                 shuffling draw from keyed hashes and the sampler's own
 *                                 generators; a "rng" field of older checkpoints is ignored)
 *
 * Nothing half-written, whenever the process dies (kill -9, power loss):
 *  - a checkpoint is assembled in OUT/.semb-tmp-checkpoint-<step>.XXXXXX, every file and
 *    folder fsync'd, then renamed to checkpoint-<step> (and OUT fsync'd): a folder named
 *    checkpoint-<step> is always complete. Saving a step that already has a folder swaps
 *    the two atomically (renameat2 RENAME_EXCHANGE) before dropping the old one.
 *  - OUT's top level is then refreshed from the new checkpoint, file by file, each file
 *    renamed into place (a hard link to the checkpoint's file where the file system allows,
 *    so the weights are stored once). The files of one run differ only in the weights and
 *    the model card, so an interrupted refresh leaves at worst the previous card beside the
 *    new weights (or, before the first refresh, no model at the top yet), until the next save.
 *  - older checkpoints are removed only after the new one is in place, each first renamed
 *    to a .semb-tmp-* name so that a partly deleted folder never looks like a checkpoint.
 *  - leftovers of an interrupted save (OUT/.semb-tmp-*) are ignored by loading and removed
 *    by the next save. One process saves into an OUT at a time.
 *
 * Resuming: load the model (from the starting folder, or from the checkpoint folder that
 * checkpoint_find_latest names: saves never remove the folder the model was loaded from),
 * then checkpoint_load_latest(OUT) restores its weights, the optimizer, the step and the RNG,
 * and hands back the options to compare (checkpoint_compare_options) and the caller's
 * opaque data state (sampler and reader positions). Checkpoints are F32 throughout, so
 * resuming is bit-exact. */
#ifndef SEMB_TRAIN_CHECKPOINT_H
#define SEMB_TRAIN_CHECKPOINT_H

#include <jansson.h>

#include "core/rng.h"
#include "model/sentence_model.h"
#include "train/adamw.h"

/* What checkpoint_save writes; every pointer is borrowed. */
typedef struct checkpoint_contents {
    const semb_model *model;   /* weights, plus the folder whose files are carried over */
    const adamw_state *adam;   /* n must equal the model's arena_floats */
    long step;                 /* trainer steps done, >= 0: names the folder */
    const json_t *options;     /* object of the settings a resume must share (batch size,
                                * lr, schedule, ...), or NULL for {} */
    const json_t *data;        /* opaque data-pipeline state (sampler, readers), or NULL */
    const json_t *log_history; /* array of per-interval log objects, or NULL for [] */
    /* Called with the checkpoint's temporary folder once the model files are in it, to add
     * files that belong with the model and are published with it: the model card
     * (model_card_write: README.md over the carried one, training_loss.svg). NULL: none. */
    semb_status (*write_extra)(const char *dir, void *extra_ctx, semb_error *err);
    void *extra_ctx;
} checkpoint_contents;

/* Writes OUT/checkpoint-<step> (creating OUT if missing; its parent must exist), refreshes
 * OUT's top-level model from it, then keeps the `keep` checkpoints with the highest steps
 * (keep < 1: all) and removes the others, except the folder the model was loaded from
 * (later saves copy its configuration files). See the top of this file for the guarantees.
 * Errors name the folder or file: SEMB_ERR_INVALID_ARG (a step < 0, moments of the wrong
 * size), SEMB_ERR_IO, SEMB_ERR_NOMEM. An error from the refresh or the clean-up says so:
 * the checkpoint itself is complete by then. */
semb_status checkpoint_save(const char *out_dir, const checkpoint_contents *c, int keep,
                            semb_error *err);

/* What a checkpoint restores besides the weights and moments. Owns its members. */
typedef struct checkpoint_state {
    char *path;           /* the checkpoint folder */
    long step;            /* global_step */
    json_t *options;      /* object */
    json_t *data;         /* whatever the saver passed (JSON null for NULL) */
    json_t *log_history;  /* array */
} checkpoint_state;

void checkpoint_state_free(checkpoint_state *s);

/* The complete checkpoint with the highest step in out_dir: *path (malloc'd, the caller
 * frees) and *step. Leftovers of interrupted saves are skipped.
 * Errors: SEMB_ERR_IO when out_dir cannot be read or holds no checkpoint-<step> folder. */
semb_status checkpoint_find_latest(const char *out_dir, char **path, long *step,
                                   semb_error *err);

/* Restores the checkpoint folder `dir` into params (every tensor: same names, shapes, F32,
 * no others), adam (its n must equal params->arena_floats; moments and step) and *out.
 * Everything is read and checked before anything is written: on failure params and adam
 * are unchanged and *out is zeroed. Errors name the file and the tensor or field:
 * SEMB_ERR_IO (missing or unreadable file), SEMB_ERR_FORMAT (malformed file, wrong shape,
 * missing or extra tensor, a field of the wrong type, a step that disagrees with the
 * folder name), SEMB_ERR_INVALID_ARG (adam sized for another model), SEMB_ERR_NOMEM. */
semb_status checkpoint_load(const char *dir, encoder_params *params, adamw_state *adam,
                            checkpoint_state *out, semb_error *err);

/* checkpoint_find_latest then checkpoint_load. A latest checkpoint that fails to load is an
 * error (it cannot be a half-written one), never a silent fall-back to an older step; the
 * message names the folder. */
semb_status checkpoint_load_latest(const char *out_dir, encoder_params *params,
                                   adamw_state *adam, checkpoint_state *out, semb_error *err);

/* Compares the options a checkpoint was saved with to this run's, key by key (both ways):
 * SEMB_ERR_INVALID_ARG "<path>/trainer_state.json: options.batch_size: the checkpoint has
 * 32, this run 64" for the first difference, naming the checkpoint folder `path`. */
semb_status checkpoint_compare_options(const char *path, const json_t *saved,
                                       const json_t *current, semb_error *err);

/* An RNG state as JSON (four 16-digit hex strings, since JSON integers stop at 2^53 in
 * many readers): the one encoding of a generator in a checkpoint, used by the data pipeline
 * (the sampler) for its generators in the opaque data state. New reference, NULL when out
 * of memory. */
json_t *checkpoint_rng_to_json(const rng_state *rng);

/* The reverse (also reading the single 64-digit string older sampler states hold); `what`
 * names the field in the error ("data.sampler.rng"), path the file. Errors: SEMB_ERR_FORMAT. */
semb_status checkpoint_rng_from_json(const json_t *value, const char *path, const char *what,
                                     rng_state *rng, semb_error *err);

#endif
