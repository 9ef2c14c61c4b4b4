/* semb similarity: the cosine similarity matrix of sentences given on the command line. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"

static double cosine(const float *a, const float *b, int dim)
{
    double dot = 0, na = 0, nb = 0;
    for (int i = 0; i < dim; i++) {
        dot += (double)a[i] * b[i];
        na += (double)a[i] * a[i];
        nb += (double)b[i] * b[i];
    }
    double denom = sqrt(na) * sqrt(nb);
    return denom > 0 ? dot / denom : 0.0;
}

/* Prints at most `width` bytes of s without cutting a UTF-8 sequence in half. */
static void print_clipped(const char *s, int width)
{
    int n = (int)strlen(s);
    if (n <= width) {
        printf("%s", s);
        return;
    }
    int cut = width - 3;
    while (cut > 0 && ((unsigned char)s[cut] & 0xc0) == 0x80)
        cut--;
    printf("%.*s...", cut, s);
}

int cmd_similarity(int argc, char **argv)
{
    const char *model_dir = NULL;
    int threads = 0;
    const cli_option options[] = {
        {"--model", CLI_STRING, &model_dir, "sentence-transformers model folder (required)"},
        {"--threads", CLI_INT, &threads, "threads (default: all cores)"},
    };
    char **texts = NULL;
    size_t n = 0;
    int rc = cli_parse(argc, argv, "similarity", "--model DIR \"text a\" \"text b\" ...", options,
                       sizeof options / sizeof options[0], &texts, &n);
    if (rc) {
        free(texts);
        return rc == 1 ? 0 : 2;
    }
    if (!model_dir || n < 2) {
        free(texts);
        return cli_failf("similarity", "needs --model and at least two texts (see --help)"), 2;
    }
    cli_set_threads(threads);
    semb_error err = {0};
    semb_model *model = NULL;
    if (semb_model_load(model_dir, &model, &err)) {
        free(texts);
        return cli_fail("similarity", &err);
    }
    int dim = semb_model_dimension(model);
    float *emb = malloc(n * (size_t)dim * sizeof *emb);
    semb_status st = emb ? semb_encode(model, (const char *const *)texts, NULL, n, emb, NULL, &err)
                         : SEMB_ERR_NOMEM;
    if (!st) {
        printf("Cosine similarity\n\n");
        for (size_t i = 0; i < n; i++) {
            printf("[%zu] ", i + 1);
            print_clipped(texts[i], 70);
            putchar('\n');
        }
        printf("\n      ");
        for (size_t j = 0; j < n; j++)
            printf("  [%zu]%*s", j + 1, j + 1 < 10 ? 2 : 1, "");
        putchar('\n');
        for (size_t i = 0; i < n; i++) {
            printf("[%zu]%*s", i + 1, i + 1 < 10 ? 3 : 2, "");
            for (size_t j = 0; j < n; j++)
                printf("%7.4f", cosine(emb + i * (size_t)dim, emb + j * (size_t)dim, dim));
            putchar('\n');
        }
    } else if (st == SEMB_ERR_NOMEM && !emb) {
        snprintf(err.message, sizeof err.message, "out of memory");
    }
    free(emb);
    free(texts);
    semb_model_free(model);
    return st ? cli_fail("similarity", &err) : 0;
}
