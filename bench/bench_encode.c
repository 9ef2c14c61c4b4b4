/* Encoding throughput: sentences/s of semb_encode on the STS-B sentences of a TSV file
 * (score \t sentence1 \t sentence2, header line), for given batch sizes and thread counts.
 * usage: bench_encode MODEL_DIR STS.tsv [repeats]
 * Prints one line per (batch, threads): median sentences/s over the repeats. */
#include <omp.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "semb.h"

static char **read_sts(const char *path, size_t *n)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = 1024, count = 0;
    char **texts = malloc(cap * sizeof *texts), *line = NULL;
    size_t line_cap = 0;
    bool header = true;
    while (getline(&line, &line_cap, f) > 0) {
        if (header) {
            header = false;
            continue;
        }
        line[strcspn(line, "\r\n")] = '\0';
        char *a = strchr(line, '\t'), *b = a ? strchr(a + 1, '\t') : NULL;
        if (!b)
            continue;
        *b = '\0';
        if (count + 2 > cap)
            texts = realloc(texts, (cap *= 2) * sizeof *texts);
        texts[count++] = strdup(a + 1);
        texts[count++] = strdup(b + 1);
    }
    free(line);
    fclose(f);
    *n = count;
    return texts;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: %s MODEL_DIR STS.tsv [repeats]\n", argv[0]);
        return 2;
    }
    int repeats = argc > 3 ? atoi(argv[3]) : 3;
    size_t n;
    char **texts = read_sts(argv[2], &n);
    if (!texts || n == 0) {
        fprintf(stderr, "cannot read sentences from %s\n", argv[2]);
        return 1;
    }
    semb_model *m;
    semb_error err = {0};
    if (semb_model_load(argv[1], &m, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    float *out = malloc(n * (size_t)semb_model_dimension(m) * sizeof(float));
    static const int batches[] = {32, 128}, threads[] = {1, 2};
    printf("sentences %zu, model %s\n", n, argv[1]);
    for (int t = 0; t < 2; t++)
        for (int b = 0; b < 2; b++) {
            semb_set_threads(threads[t]);
            semb_encode_options o = {.batch_size = batches[b]};
            semb_encode(m, (const char *const *)texts, NULL, 256, out, &o, &err); /* warm-up */
            double rates[32];
            int reps = repeats < 32 ? repeats : 32;
            for (int r = 0; r < reps; r++) {
                double t0 = timer_seconds();
                if (semb_encode(m, (const char *const *)texts, NULL, n, out, &o, &err)) {
                    fprintf(stderr, "%s\n", err.message);
                    return 1;
                }
                rates[r] = (double)n / (timer_seconds() - t0);
            }
            qsort(rates, (size_t)reps, sizeof rates[0], compare_double);
            printf("encode batch %3d threads %d: %8.1f sentences/s (median of %d; min %.1f max %.1f)\n",
                   batches[b], threads[t], rates[reps / 2], reps, rates[0], rates[reps - 1]);
            fflush(stdout);
        }
    semb_model_free(m);
    for (size_t i = 0; i < n; i++)
        free(texts[i]);
    free(texts);
    free(out);
    return 0;
}
