/* semb encode: sentences in, embeddings out (.npy float32 [n, dim] or JSONL). */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/files.h"
#include "io/npy.h"

/* Sentences are encoded in chunks so the float buffer stays bounded for huge inputs. */
#define ENCODE_CHUNK 16384

static semb_status write_rows(FILE *fp, bool npy, const float *rows, size_t n, int dim,
                              const char *name, semb_error *err)
{
    if (npy) {
        if (fwrite(rows, sizeof(float) * (size_t)dim, n, fp) != n)
            return semb_fail(err, SEMB_ERR_IO, "%s: write failed: %s", name, strerror(errno));
        return SEMB_OK;
    }
    for (size_t i = 0; i < n; i++) {
        fputc('[', fp);
        for (int d = 0; d < dim; d++)
            fprintf(fp, d ? ",%.9g" : "%.9g", (double)rows[i * (size_t)dim + (size_t)d]);
        fputs("]\n", fp);
    }
    if (ferror(fp))
        return semb_fail(err, SEMB_ERR_IO, "%s: write failed: %s", name, strerror(errno));
    return SEMB_OK;
}

static semb_status encode_all(semb_model *model, const cli_input *in, FILE *fp, bool npy,
                              const char *name, const semb_encode_options *opts,
                              semb_error *err)
{
    int dim = semb_model_dimension(model);
    float *rows = malloc((size_t)ENCODE_CHUNK * (size_t)dim * sizeof(float));
    if (!rows)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    semb_status st = SEMB_OK;
    if (npy)
        st = npy_write_f32_header(fp, in->count, (size_t)dim, name, err);
    for (size_t start = 0; !st && start < in->count; start += ENCODE_CHUNK) {
        size_t n = in->count - start < ENCODE_CHUNK ? in->count - start : ENCODE_CHUNK;
        st = semb_encode(model, (const char *const *)in->texts + start, in->lengths + start, n,
                         rows, opts, err);
        if (st) {
            /* The library names the text by its index in this chunk: map it to a line. */
            if (err->has_item && err->item < n)
                semb_error_rename_item(err, start + err->item, "input line %zu: ",
                                       in->line_numbers[start + err->item]);
            break;
        }
        st = write_rows(fp, npy, rows, n, dim, name, err);
    }
    free(rows);
    return st;
}

int cmd_encode(int argc, char **argv)
{
    const char *model_dir = NULL, *input = "-", *input_format = "text", *output = NULL,
               *format = NULL, *prompt = NULL, *prompt_name = NULL, *precision = "fp32";
    int batch_size = 32, threads = 0;
    bool normalize = false;
    const cli_option options[] = {
        {"--model", CLI_STRING, &model_dir, "sentence-transformers model folder (required)"},
        {"--input", CLI_STRING, &input, "input file, '-' for stdin (default)"},
        {"--input-format", CLI_STRING, &input_format,
         "text: one sentence per line (default); jsonl: one JSON string per line"},
        {"--output", CLI_STRING, &output, "output file (default stdout); written atomically"},
        {"--format", CLI_STRING, &format,
         "npy (float32 [n, dim]) or jsonl; default npy for *.npy outputs, else jsonl"},
        {"--batch-size", CLI_INT, &batch_size, "sentences per forward pass (default 32)"},
        {"--threads", CLI_INT, &threads, "threads (default: all cores)"},
        {"--normalize", CLI_FLAG, &normalize, "L2-normalise even if the model does not"},
        {"--prompt", CLI_STRING, &prompt,
         "text put before every sentence (\"\" for none; default: the model's default prompt)"},
        {"--prompt-name", CLI_STRING, &prompt_name,
         "use the model's prompt of this name (config_sentence_transformers.json)"},
        {"--precision", CLI_STRING, &precision,
         "fp32 (default); bf16: linear layers with bfloat16 inputs and float32 accumulation "
         "(hardware bf16 with AVX512-BF16 or AMX, else emulated and no faster); int8: linear "
         "layers with dynamic int8 quantization (7-bit weights per channel, 8-bit inputs per "
         "row), 1.5-1.8x fp32 on AVX2"},
    };
    int rc = cli_parse(argc, argv, "encode", "--model DIR [options]", options,
                       sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!model_dir)
        return cli_failf("encode", "--model is required (see --help)"), 2;
    if (batch_size <= 0)
        return cli_failf("encode", "--batch-size must be positive"), 2;
    if (prompt && prompt_name)
        return cli_failf("encode", "give --prompt or --prompt-name, not both"), 2;
    semb_error err = {0};
    semb_compute_precision compute;
    if (cli_precision("encode", precision, &compute))
        return 2;
    if (!format)
        format = output && path_has_suffix(output, ".npy") ? "npy" : "jsonl";
    bool npy = strcmp(format, "npy") == 0;
    if (!npy && strcmp(format, "jsonl") != 0)
        return cli_failf("encode", "--format: '%s' is not one of npy, jsonl", format), 2;
    cli_set_threads(threads);

    semb_model *model = NULL;
    cli_input in;
    if (semb_model_load(model_dir, &model, &err))
        return cli_fail("encode", &err);
    if (cli_read_input(input, input_format, &in, &err)) {
        semb_model_free(model);
        return cli_fail("encode", &err);
    }
    /* an explicit prompt, else a named one, else (NULL) the model's default_prompt_name */
    if (!prompt && prompt_name && !(prompt = semb_model_prompt(model, prompt_name))) {
        cli_input_free(&in);
        semb_model_free(model);
        return cli_failf("encode", "--prompt-name: the model has no prompt '%s'", prompt_name);
    }
    semb_encode_options opts = semb_encode_options_default();
    opts.batch_size = batch_size;
    opts.normalize = normalize;
    opts.prompt = prompt;
    opts.precision = compute;
    atomic_file af;
    semb_status st = atomic_file_open(&af, output ? output : "-", &err);
    if (!st) {
        st = encode_all(model, &in, af.fp, npy, output ? output : "<stdout>", &opts, &err);
        if (st)
            atomic_file_abort(&af);
        else
            st = atomic_file_commit(&af, &err);
    }
    cli_input_free(&in);
    semb_model_free(model);
    return st ? cli_fail("encode", &err) : 0;
}
