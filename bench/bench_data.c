/* The data pipeline alone: reader + sampler + tokenizer, one thread, no model forward.
 * usage: bench_data MODEL_DIR FILE[:WEIGHT]... [--batches N] [--batch-size B]
 *        [--datasets-per-batch D] [--shuffle-buffer N] [--no-tokenize]
 * Prints pairs/s (examples per second), texts/s, decompressed MB/s and peak RSS. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>

#include "core/timer.h"
#include "semb.h"
#include "train/data_config.h"
#include "train/sampler.h"

static void warn(void *user, const char *message)
{
    fprintf(stderr, "warning: %s\n", message);
}

int main(int argc, char **argv)
{
    if (argc < 3) {
        fprintf(stderr, "usage: bench_data MODEL_DIR FILE[:WEIGHT]... [--batches N] [--batch-size B] "
                        "[--datasets-per-batch D] [--shuffle-buffer N] [--no-tokenize]\n");
        return 2;
    }
    long batches = 10000;
    sampler_options o = {.batch_size = 256, .datasets_per_batch = 2, .shuffle_buffer = 10000,
                         .seed = 42, .reader = {.max_line_bytes = 1 << 20, .warn = warn}};
    int tokenize = 1;
    data_sources sources = {0};
    semb_error err = {0};
    for (int i = 2; i < argc; i++) {
        if (strcmp(argv[i], "--batches") == 0 && i + 1 < argc)
            batches = atol(argv[++i]);
        else if (strcmp(argv[i], "--batch-size") == 0 && i + 1 < argc)
            o.batch_size = atoi(argv[++i]);
        else if (strcmp(argv[i], "--datasets-per-batch") == 0 && i + 1 < argc)
            o.datasets_per_batch = atoi(argv[++i]);
        else if (strcmp(argv[i], "--shuffle-buffer") == 0 && i + 1 < argc)
            o.shuffle_buffer = (size_t)atol(argv[++i]);
        else if (strcmp(argv[i], "--no-tokenize") == 0)
            tokenize = 0;
        else if (data_sources_add_spec(&sources, argv[i], &err))
            return fprintf(stderr, "%s\n", err.message), 1;
    }
    semb_model *model = NULL;
    if (tokenize && semb_model_load(argv[1], &model, &err))
        return fprintf(stderr, "%s\n", err.message), 1;
    double t0 = timer_seconds();
    sampler *s;
    if (sampler_create(&sources, &o, &s, &err))
        return fprintf(stderr, "%s\n", err.message), 1;
    double opened = timer_seconds() - t0;
    long pairs = 0, texts = 0, tokens = 0;
    double bytes = 0;
    struct rusage ru0;
    getrusage(RUSAGE_SELF, &ru0);
    double cpu0 = (double)ru0.ru_utime.tv_sec + 1e-6 * (double)ru0.ru_utime.tv_usec +
                  (double)ru0.ru_stime.tv_sec + 1e-6 * (double)ru0.ru_stime.tv_usec;
    t0 = timer_seconds();
    for (long b = 0; b < batches; b++) {
        sampler_batch batch;
        if (sampler_next_batch(s, &batch, &err))
            return fprintf(stderr, "batch %ld: %s\n", b, err.message), 1;
        size_t n = (size_t)batch.batch_size * (size_t)(2 + batch.n_negatives);
        for (size_t i = 0; i < n; i++) {
            bytes += (double)batch.lengths[i];
            if (!tokenize)
                continue;
            int32_t *ids;
            size_t count;
            if (semb_tokenize(model, batch.texts[i], batch.lengths[i], &ids, &count, &err))
                return fprintf(stderr, "%s\n", err.message), 1;
            tokens += (long)count;
            free(ids);
        }
        pairs += batch.batch_size;
        texts += (long)n;
    }
    double seconds = timer_seconds() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    /* CPU time too: on a shared VM the wall clock measures the neighbours */
    double cpu = (double)ru.ru_utime.tv_sec + 1e-6 * (double)ru.ru_utime.tv_usec +
                 (double)ru.ru_stime.tv_sec + 1e-6 * (double)ru.ru_stime.tv_usec - cpu0;
    printf("opened and checked %zu file(s) in %.2f s\n", sources.n, opened);
    for (size_t i = 0; i < sampler_dataset_count(s); i++) {
        sampler_dataset_info d = sampler_dataset(s, i);
        printf("  %s: weight %g, %d negatives, %llu examples used, pass %llu\n", d.path, d.weight,
               d.n_negatives, (unsigned long long)d.examples_used, (unsigned long long)d.pass);
    }
    printf("%ld batches of %d, %s: %.0f pairs/s (%.0f per CPU second), %.0f texts/s, %.1f MB/s "
           "of text, %.1f tokens/text, %.1f s wall, %.1f s CPU, peak RSS %.1f MiB\n", batches,
           o.batch_size, tokenize ? "tokenized" : "not tokenized", pairs / seconds, pairs / cpu,
           texts / seconds, bytes / seconds / 1e6, texts ? (double)tokens / (double)texts : 0.0,
           seconds, cpu, ru.ru_maxrss / 1024.0);
    sampler_free(s);
    semb_model_free(model);
    data_sources_free(&sources);
    return 0;
}
