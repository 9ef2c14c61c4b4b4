/* semb init: a new model folder with random weights, the starting point of training from
 * scratch and the model benchmarks use. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cmd_init(int argc, char **argv)
{
    const char *arch = NULL, *vocab = NULL, *output = NULL, *pooling = "mean";
    int hidden = 384, layers = 6, heads = 12, intermediate = 1536, max_pos = 0, max_seq = 256,
        seed = 42;
    bool no_normalize = false;
    const cli_option options[] = {
        {"--arch", CLI_STRING, &arch, "bert, distilbert or mpnet (required)"},
        {"--hidden", CLI_INT, &hidden, "hidden size (default 384)"},
        {"--layers", CLI_INT, &layers, "transformer layers (default 6)"},
        {"--heads", CLI_INT, &heads, "attention heads (default 12)"},
        {"--intermediate", CLI_INT, &intermediate, "feed-forward size (default 1536)"},
        {"--max-position", CLI_INT, &max_pos, "position embeddings (default 512; mpnet 514)"},
        {"--max-seq-length", CLI_INT, &max_seq, "max tokens per sentence (default 256)"},
        {"--vocab", CLI_STRING, &vocab, "vocab.txt or tokenizer.json (WordPiece; required)"},
        {"--pooling", CLI_STRING, &pooling,
         "mean (default), cls, max, mean_sqrt_len_tokens, weightedmean, lasttoken"},
        {"--no-normalize", CLI_FLAG, &no_normalize, "leave out the Normalize module"},
        {"--output", CLI_STRING, &output, "new model folder (required; must not exist)"},
        {"--seed", CLI_INT, &seed, "random seed (default 42)"},
    };
    int rc = cli_parse(argc, argv, "init", "--arch A --vocab FILE --output DIR [options]", options,
                       sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!arch || !vocab || !output)
        return cli_failf("init", "--arch, --vocab and --output are required (see --help)"), 2;
    semb_init_options o = {
        .arch = arch, .hidden_size = hidden, .num_layers = layers, .num_heads = heads,
        .intermediate_size = intermediate, .max_position_embeddings = max_pos,
        .max_seq_length = max_seq, .vocab_path = vocab, .pooling = pooling,
        .normalize = !no_normalize, .seed = (uint64_t)seed};
    semb_error err = {0};
    if (semb_model_init(output, &o, &err))
        return cli_fail("init", &err);
    printf("wrote %s: %s, hidden %d, %d layers, %d heads, FFN %d, %s pooling%s\n", output, arch,
           hidden, layers, heads, intermediate, pooling, no_normalize ? "" : ", normalized");
    return 0;
}
