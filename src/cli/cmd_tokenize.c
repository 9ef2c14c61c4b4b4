/* semb tokenize: one JSON array of token ids per input sentence. */
#include <stdio.h>
#include <stdlib.h>

#include "cli.h"
#include "core/error.h"

int cmd_tokenize(int argc, char **argv)
{
    const char *model_dir = NULL, *input = "-", *input_format = "text";
    const cli_option options[] = {
        {"--model", CLI_STRING, &model_dir, "sentence-transformers model folder (required)"},
        {"--input", CLI_STRING, &input, "input file, '-' for stdin (default)"},
        {"--input-format", CLI_STRING, &input_format,
         "text: one sentence per line (default); jsonl: one JSON string per line"},
    };
    int rc = cli_parse(argc, argv, "tokenize", "--model DIR [options]", options,
                       sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!model_dir)
        return cli_failf("tokenize", "--model is required (see --help)"), 2;
    semb_error err = {0};
    semb_model *model = NULL;
    cli_input in;
    if (semb_model_load(model_dir, &model, &err))
        return cli_fail("tokenize", &err);
    if (cli_read_input(input, input_format, &in, &err)) {
        semb_model_free(model);
        return cli_fail("tokenize", &err);
    }
    semb_status st = SEMB_OK;
    for (size_t i = 0; i < in.count && !st; i++) {
        int32_t *ids;
        size_t n;
        st = semb_tokenize(model, in.texts[i], in.lengths[i], &ids, &n, &err);
        if (st) {
            semb_fail_prefix(&err, "input line %zu: ", in.line_numbers[i]);
            break;
        }
        putchar('[');
        for (size_t k = 0; k < n; k++)
            printf(k ? ", %d" : "%d", (int)ids[k]);
        puts("]");
        free(ids);
    }
    cli_input_free(&in);
    semb_model_free(model);
    return st ? cli_fail("tokenize", &err) : 0;
}
