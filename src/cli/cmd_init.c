/* semb init: a new model folder with random weights, the starting point of training from
 * scratch and the model benchmarks use. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"

int cmd_init(int argc, char **argv)
{
    semb_init_options o = semb_init_options_default();
    o.arch = NULL; /* required */
    const char *output = NULL;
    int seed = (int)o.seed;
    bool no_normalize = false;
    const cli_option options[] = {
        CLI_INIT_OPTIONS(o, no_normalize),
        {"--max-seq-length", CLI_INT, &o.max_seq_length, "max tokens per sentence (default 256)"},
        {"--output", CLI_STRING, &output, "new model folder (required; must not exist)"},
        {"--seed", CLI_INT, &seed, "random seed (default 42)"},
    };
    int rc = cli_parse(argc, argv, "init", "--arch A --vocab FILE --output DIR [options]", options,
                       sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!o.arch || !o.vocab_path || !output)
        return cli_failf("init", "--arch, --vocab and --output are required (see --help)"), 2;
    o.normalize = !no_normalize;
    o.seed = (uint64_t)seed;
    semb_error err = {0};
    if (semb_model_init(output, &o, &err))
        return cli_fail("init", &err);
    printf("wrote %s: %s, hidden %d, %d layers, %d heads, FFN %d, %s pooling%s\n", output, o.arch,
           o.hidden_size, o.num_layers, o.num_heads, o.intermediate_size, o.pooling,
           no_normalize ? "" : ", normalized");
    return 0;
}
