/* semb train: contrastive training with MultipleNegativesRankingLoss. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"

static bool given(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return true;
    return false;
}

/* --data may be given several times: each value is collected in order. */
static int collect_data(int argc, char **argv, const char ***specs, size_t *n)
{
    *specs = calloc((size_t)argc, sizeof **specs);
    *n = 0;
    if (!*specs)
        return cli_failf("train", "out of memory"), 1;
    for (int i = 1; i + 1 < argc; i++)
        if (strcmp(argv[i], "--data") == 0)
            (*specs)[(*n)++] = argv[++i];
    return 0;
}

int cmd_train(int argc, char **argv)
{
    semb_train_options o = semb_train_options_default();
    const char *scheduler = "linear", *similarity = "cosine", *last_data = NULL,
               *precision = "fp32";
    int threads = 0, seed = 42, max_line_bytes = (int)o.max_line_bytes;
    double scale = 0, dropout = -1;
    bool symmetric = false, no_shuffle = false, strict = false, no_normalize = false;
    semb_init_options init = semb_init_options_default();
    init.arch = NULL;
    const cli_option options[] = {
        {"--model", CLI_STRING, &o.model_dir,
         "starting model folder (or --arch and --vocab for a new model)"},
        CLI_INIT_OPTIONS(init, no_normalize),
        {"--name", CLI_STRING, &o.model_name, "model name, the title of the model card"},
        {"--data", CLI_STRING, &last_data,
         "FILE[:WEIGHT], repeatable: a training file and its sampling weight (default 1; only a "
         "trailing ':NUMBER' is a weight, so name a file ending in ':5' as FILE:5:1). JSONL "
         "objects {\"anchor\", \"positive\"[, \"negative\": text or list]}, JSONL lists "
         "[\"anchor\", \"positive\", negatives...] or TSV anchor<TAB>positive[<TAB>negative...] "
         "(by the name: .jsonl/.json or .tsv, else by the first line), plain, .gz or .zst; "
         "streamed, never loaded whole. Every line of a file has the same number of negatives; a "
         "line that is malformed, lacks a field, has an empty or non-UTF-8 text, is longer than "
         "--max-line-bytes or has another number of negatives is skipped with a warning naming "
         "FILE:LINE (the first 5 per file), and counted; a file with no usable line is an error"},
        {"--data-config", CLI_STRING, &o.data_config_path,
         "data_config.json of the 1B-pairs recipe: [{\"name\": FILE, \"weight\": W, \"lines\": "
         "N}, ...], names relative to its folder; adds to --data"},
        {"--output", CLI_STRING, &o.output_dir,
         "folder for the trained model (required); must not exist or be empty: a folder with "
         "files in it is refused, never overwritten. It gets the model (a sentence-transformers "
         "folder with a model card README.md and training_loss.svg) and its checkpoint-STEP "
         "folders; every save is built under a temporary name and renamed, so a failed or "
         "killed run never leaves a partial model"},
        {"--save-every", CLI_INT, &o.save_every,
         "a checkpoint (model, optimizer, data positions) every N steps; there is always one at "
         "the end (default: only the end)"},
        {"--keep-checkpoints", CLI_INT, &o.keep_checkpoints,
         "checkpoints kept, the most recent (default 2; 0: all)"},
        {"--resume", CLI_STRING, &o.resume_dir,
         "continue from the latest checkpoint in DIR (the --output of an earlier run, with the "
         "same options) up to --steps, saving into DIR; the result equals an uninterrupted run. "
         "One run at a time uses a folder (a lock beside it, .DIR.semb-train.lock)"},
        {"--max-minutes", CLI_FLOAT, &o.max_minutes,
         "stop after the step that passes this much time, with a checkpoint to --resume from"},
        {"--eval-sts", CLI_STRING, &o.eval_sts_path,
         "STS TSV (score, sentence1, sentence2) to evaluate Spearman on during training"},
        {"--eval-every", CLI_INT, &o.eval_every, "steps between evaluations (default: at the end)"},
        {"--batch-size", CLI_INT, &o.batch_size,
         "anchors per step (default 32, at least 2; every file needs at least this many usable examples: a "
         "batch may take all its shares from one file)"},
        {"--datasets-per-batch", CLI_INT, &o.datasets_per_batch,
         "each batch is filled in this many equal shares, each from a file drawn with probability "
         "proportional to its weight, among files with the same number of negatives (default 2; "
         "1: one file per batch, as sentence-transformers does). An example with a text already "
         "in the batch is dropped (it would be a false negative)"},
        {"--steps", CLI_INT, &o.steps, "optimizer steps (default 1000)"},
        {"--epochs", CLI_FLOAT, &o.epochs,
         "instead of --steps: steps = epochs x lines of all files / batch size; lines from the "
         "data config's \"lines\", else counted in one streaming pass over each file up front"},
        {"--max-seq-length", CLI_INT, &o.max_seq_length,
         "truncate training texts to N tokens (default: the model's max_seq_length; at most its "
         "position limit); the saved model keeps its own"},
        {"--mini-batch-size", CLI_INT, &o.mini_batch_size,
         "GradCache: texts per forward/backward chunk (default: whole batch)"},
        {"--lr", CLI_FLOAT, &o.lr, "peak learning rate (default 2e-5)"},
        {"--warmup-steps", CLI_INT, &o.warmup_steps, "warmup steps (default min(500, 10% of steps))"},
        {"--scheduler", CLI_STRING, &scheduler, "linear (default), constant or cosine"},
        {"--weight-decay", CLI_FLOAT, &o.weight_decay, "AdamW weight decay (default 0.01)"},
        {"--max-grad-norm", CLI_FLOAT, &o.max_grad_norm,
         "clip gradients to this L2 norm (default 1; 0: no clipping)"},
        {"--similarity", CLI_STRING, &similarity, "cosine (default) or dot"},
        {"--scale", CLI_FLOAT, &scale, "logit scale (default 20 for cosine, 1 for dot)"},
        {"--symmetric", CLI_FLAG, &symmetric, "also the positive -> anchor direction"},
        {"--dropout", CLI_FLOAT, &dropout,
         "dropout for hidden and attention, in [0, 1) (default: the model's)"},
        {"--shuffle-buffer", CLI_INT, &o.shuffle_buffer,
         "examples held per file to shuffle each pass (default 10000; a file that fits is fully "
         "shuffled; memory grows with N x files)"},
        {"--no-shuffle", CLI_FLAG, &no_shuffle,
         "each file in file order, wrapping at its end (one file: batches in file order)"},
        {"--max-line-bytes", CLI_INT, &max_line_bytes,
         "longer lines are skipped (default 1048576)"},
        {"--strict", CLI_FLAG, &strict, "stop at the first unusable line instead of skipping it"},
        {"--seed", CLI_INT, &seed, "seed for data order and dropout (default 42)"},
        {"--precision", CLI_STRING, &precision,
         "fp32 (default) or bf16 mixed precision: linear layers forward and backward with "
         "bfloat16 inputs and float32 accumulation; attention, softmax, LayerNorm, loss, "
         "optimizer and master weights float32 (hardware bf16 with AVX512-BF16 or AMX, else "
         "emulated and no faster); a --resume must give the same"},
        {"--threads", CLI_INT, &threads, "threads (default: all cores)"},
        {"--log", CLI_STRING, &o.log_path,
         "JSONL log, a line per --log-every steps: step, loss (mean over the interval), lr, "
         "grad_norm, pairs_per_s, tokens_per_s, elapsed_s, step_s, data_s (of step_s: reading "
         "and tokenizing); and eval lines; on --resume, cut back to the checkpoint's step, then "
         "appended to"},
        {"--log-every", CLI_INT, &o.log_every, "steps per log line (default 1)"},
        {"--dump-gradients", CLI_STRING, &o.dump_gradients_path,
         "write the first step's gradients (before clipping) and loss as safetensors"},
    };
    int rc = cli_parse(argc, argv, "train", "(--model DIR | --arch A --vocab FILE) --data "
                       "FILE[:WEIGHT]... --output DIR [options]\n       semb train --resume DIR "
                       "--data ... [the options of the run it continues]", options,
                       sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if ((!last_data && !o.data_config_path) || !(o.output_dir || o.resume_dir))
        return cli_failf("train", "--data and --output (or --resume) are required (see --help)"), 2;
    if (!o.resume_dir && !o.model_dir == !init.arch)
        return cli_failf("train", "give --model DIR, or --arch and --vocab for a new model"), 2;
    if (init.arch && !init.vocab_path)
        return cli_failf("train", "--arch needs --vocab (vocab.txt or tokenizer.json)"), 2;
    if (init.arch) {
        init.normalize = !no_normalize;
        if (o.max_seq_length > 0)
            init.max_seq_length = o.max_seq_length;
        init.seed = (uint64_t)seed;
        o.init = &init;
    }
    if (given(argc, argv, "--keep-checkpoints") && o.keep_checkpoints < 0)
        return cli_failf("train", "--keep-checkpoints: %d is negative", o.keep_checkpoints), 2;
    /* The library reads "not set" into some values; given on the command line they must be
     * in range. */
    if (given(argc, argv, "--mini-batch-size") && o.mini_batch_size < 1)
        return cli_failf("train", "--mini-batch-size: %d is not a positive number",
                         o.mini_batch_size), 2;
    if (given(argc, argv, "--warmup-steps") && o.warmup_steps < 0)
        return cli_failf("train", "--warmup-steps: %d is negative", o.warmup_steps), 2;
    if (given(argc, argv, "--dropout") && !(dropout >= 0 && dropout < 1))
        return cli_failf("train", "--dropout: %g is not in [0, 1)", dropout), 2;
    if (given(argc, argv, "--scale") && !(scale > 0 && isfinite(scale)))
        return cli_failf("train", "--scale: %g is not a positive number", scale), 2;
    if (!(o.max_grad_norm >= 0 && isfinite(o.max_grad_norm)))
        return cli_failf("train", "--max-grad-norm: %g is not a finite number >= 0",
                         o.max_grad_norm), 2;
    if (given(argc, argv, "--epochs") && given(argc, argv, "--steps"))
        return cli_failf("train", "--epochs and --steps: give one of them"), 2;
    if (given(argc, argv, "--epochs") && !(o.epochs > 0 && isfinite(o.epochs)))
        return cli_failf("train", "--epochs: %g is not a positive number", o.epochs), 2;
    if (given(argc, argv, "--max-seq-length") && o.max_seq_length < 1)
        return cli_failf("train", "--max-seq-length: %d is not a positive number",
                         o.max_seq_length), 2;
    semb_error err = {0};
    if (semb_compute_precision_from_name(precision, &o.precision, &err) ||
        o.precision == SEMB_COMPUTE_INT8)
        return cli_failf("train", "--precision: '%s' is not fp32 or bf16%s", precision,
                         o.precision == SEMB_COMPUTE_INT8 ? " (int8 is for encoding only)" : ""),
               2;
    if (max_line_bytes < 1)
        return cli_failf("train", "--max-line-bytes: %d is not a positive number",
                         max_line_bytes), 2;
    const char **specs;
    if (collect_data(argc, argv, &specs, &o.n_data_specs))
        return 1;
    o.data_specs = specs;
    o.max_line_bytes = (size_t)max_line_bytes;
    o.strict = strict;
    o.scheduler = scheduler;
    o.similarity = similarity;
    o.scale = scale;
    o.dropout = dropout;
    o.symmetric = symmetric;
    o.shuffle = !no_shuffle;
    o.seed = (uint64_t)seed;
    o.progress = isatty(STDERR_FILENO);
    cli_set_threads(threads);
    semb_train_result r;
    const char *out = o.resume_dir ? o.resume_dir : o.output_dir;
    rc = 0;
    if (semb_train_run(&o, &r, &err)) /* exit 2 for a bad option value, as for usage errors */
        rc = cli_fail("train", &err) + (err.status == SEMB_ERR_INVALID_ARG);
    else if (r.stopped_early)
        printf("stopped at step %d of %d (--max-minutes); model and checkpoint saved to %s; "
               "continue with --resume %s\n", r.steps_done, r.steps_total, out, out);
    else
        printf("trained %d steps; model saved to %s\n", r.steps_done, out);
    if (!rc && r.seconds > 0)
        printf("reading and tokenizing data: %.3f s of %.3f s (%.1f%%)\n", r.data_seconds,
               r.seconds, 100 * r.data_seconds / r.seconds);
    free(specs);
    return rc;
}
