/* libFuzzer target for loading a model folder through the public API: the JSON files of a
 * sentence-transformers folder are fuzzed, the weights and tokenizer are a shared fixture's.
 *
 * Input: one byte that picks the fixture (its value modulo the number of fixtures), then the
 * files below joined by NUL bytes, in this order. A file whose part is empty is absent from
 * the folder; a file past the last part is the fixture's own (so "<byte>" alone is the
 * fixture). A non-empty vocab.txt part replaces tokenizer.json by that vocab.txt.
 * When the model loads, one sentence is encoded and the result checked for finite values.
 * The fixtures: $SEMB_SHARED_DIR/fixtures (see fuzz/run.sh). */
#include <limits.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "semb.h"
#include "support.h"

static const char *const fixtures[] = {"bert-tiny-mean", "bert-tiny-cls", "bert-tiny-max",
                                       "distilbert-tiny-mean", "mpnet-tiny-mean"};
#define N_FIXTURES (sizeof fixtures / sizeof *fixtures)

static const char *const files[] = {"config.json",
                                    "modules.json",
                                    "sentence_bert_config.json",
                                    "tokenizer_config.json",
                                    "1_Pooling/config.json",
                                    "config_sentence_transformers.json",
                                    "vocab.txt"};
#define N_FILES (sizeof files / sizeof *files)

static char shared[PATH_MAX];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc, (void)argv;
    const char *dir = getenv("SEMB_SHARED_DIR");
    snprintf(shared, sizeof shared, "%s/fixtures", dir && *dir ? dir : SEMB_SHARED_DIR_DEFAULT);
    semb_set_threads(1);
    return 0;
}

static void link_fixture(const char *fixture, const char *name)
{
    char target[PATH_MAX];
    snprintf(target, sizeof target, "%s/%s/%s", shared, fixture, name);
    const char *path = fuzz_path(name);
    if (symlink(target, path) != 0) {
        perror(path);
        exit(1);
    }
}

static void copy_fixture(const char *fixture, const char *name)
{
    char source[PATH_MAX];
    snprintf(source, sizeof source, "%s/%s/%s", shared, fixture, name);
    FILE *f = fopen(source, "rb");
    if (!f) {
        fuzz_remove(name); /* the fixture has none: neither has the folder */
        return;
    }
    char buffer[65536];
    size_t n = fread(buffer, 1, sizeof buffer, f);
    fclose(f);
    fuzz_write(name, buffer, n);
}

static void check_encoding(semb_model *model)
{
    static const char *const text[] = {"A man is playing a guitar."};
    int dim = semb_model_dimension(model);
    if (dim <= 0)
        abort();
    float *out = malloc((size_t)dim * sizeof *out);
    if (!out)
        abort();
    semb_error err = {0};
    if (semb_encode(model, text, NULL, 1, out, NULL, &err) == SEMB_OK) {
        for (int i = 0; i < dim; i++)
            if (!isfinite(out[i]))
                abort();
    } else if (!err.message[0]) {
        abort();
    }
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    const char *fixture = fixtures[data[0] % N_FIXTURES];
    fuzz_part parts[N_FILES];
    size_t n = fuzz_split(data + 1, size - 1, parts, N_FILES);
    for (size_t i = 0; i < N_FILES; i++) {
        if (i < n && parts[i].size)
            fuzz_write(files[i], parts[i].data, parts[i].size);
        else if (i < n || i == N_FILES - 1)
            fuzz_remove(files[i]);
        else
            copy_fixture(fixture, files[i]);
    }
    fuzz_remove("model.safetensors");
    fuzz_remove("tokenizer.json");
    link_fixture(fixture, "model.safetensors");
    if (n < N_FILES || !parts[N_FILES - 1].size)
        link_fixture(fixture, "tokenizer.json");

    semb_model *model = NULL;
    semb_error err = {0};
    if (semb_model_load(fuzz_dir(), &model, &err) == SEMB_OK) {
        check_encoding(model);
        semb_model_free(model);
    } else if (model || !err.message[0]) {
        abort();
    }
    return 0;
}
