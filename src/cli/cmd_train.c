/* semb train: contrastive training with MultipleNegativesRankingLoss. */
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
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

int cmd_train(int argc, char **argv)
{
    semb_train_options o = semb_train_options_default();
    const char *scheduler = "linear", *similarity = "cosine";
    int threads = 0, seed = 42;
    double scale = 0, dropout = -1;
    bool symmetric = false, no_shuffle = false;
    const cli_option options[] = {
        {"--model", CLI_STRING, &o.model_dir, "starting model folder (required)"},
        {"--data", CLI_STRING, &o.data_path,
         "JSONL training file: {\"anchor\", \"positive\"[, \"negative\": text or list]} per line, "
         "every line with the same number of negatives; a line that is malformed JSON, lacks a "
         "field, has an empty text or another number of negatives is skipped with a warning "
         "naming FILE:LINE, and counted; a file with no usable line is an error"},
        {"--output", CLI_STRING, &o.output_dir,
         "folder for the trained model (required); must not exist or be empty: a folder with "
         "files in it is refused, never overwritten. Written under a temporary name and renamed "
         "at the end, so a failed run leaves nothing behind"},
        {"--batch-size", CLI_INT, &o.batch_size,
         "anchors per step (default 32; at most the number of usable examples)"},
        {"--steps", CLI_INT, &o.steps, "optimizer steps (default 1000)"},
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
        {"--no-shuffle", CLI_FLAG, &no_shuffle, "batches in file order, wrapping at the end"},
        {"--seed", CLI_INT, &seed, "seed for shuffling and dropout (default 42)"},
        {"--threads", CLI_INT, &threads, "threads (default: all cores)"},
        {"--log", CLI_STRING, &o.log_path, "JSONL log: step, loss, lr, grad_norm, pairs_per_s"},
        {"--dump-gradients", CLI_STRING, &o.dump_gradients_path,
         "write the first step's gradients (before clipping) and loss as safetensors"},
    };
    int rc = cli_parse(argc, argv, "train", "--model DIR --data FILE.jsonl --output DIR [options]",
                       options, sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!o.model_dir || !o.data_path || !o.output_dir)
        return cli_failf("train", "--model, --data and --output are required (see --help)"), 2;
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
    o.scheduler = scheduler;
    o.similarity = similarity;
    o.scale = scale;
    o.dropout = dropout;
    o.symmetric = symmetric;
    o.shuffle = !no_shuffle;
    o.seed = (uint64_t)seed;
    o.progress = isatty(STDERR_FILENO);
    cli_set_threads(threads);
    semb_error err = {0};
    if (semb_train(&o, &err)) /* exit 2 for a bad option value, as for usage errors */
        return cli_fail("train", &err) + (err.status == SEMB_ERR_INVALID_ARG);
    printf("trained %d steps; model saved to %s\n", o.steps, o.output_dir);
    return 0;
}
