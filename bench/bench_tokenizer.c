/* Tokenizer throughput on one thread: sentences/s of tokenizer_encode (truncation to 128
 * tokens, as the models use it) over all sentences of STS-B TSV files (score \t sentence1 \t
 * sentence2, header line).
 * usage: bench_tokenizer [--tokenizer PATH] STS.tsv...
 * PATH is a tokenizer.json, a vocab.txt (uncased BERT) or a model folder; by default
 * ../vocab/bert-base-uncased-tokenizer.json next to the first TSV's folder.
 * Prints the median and best of 15 timed passes (each pass tokenizes every sentence). */
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/timer.h"
#include "text/tokenizer.h"

#define PASSES 15

typedef struct sentences {
    char **texts;
    size_t *lengths;
    size_t count, capacity, bytes;
} sentences;

static void add_sentence(sentences *s, const char *text)
{
    if (s->count == s->capacity) {
        s->capacity = s->capacity ? 2 * s->capacity : 1024;
        s->texts = realloc(s->texts, s->capacity * sizeof *s->texts);
        s->lengths = realloc(s->lengths, s->capacity * sizeof *s->lengths);
        if (!s->texts || !s->lengths) {
            fprintf(stderr, "out of memory\n");
            exit(1);
        }
    }
    s->lengths[s->count] = strlen(text);
    s->texts[s->count] = strdup(text);
    s->bytes += s->lengths[s->count];
    s->count++;
}

static int read_sts(const char *path, sentences *s)
{
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    char *line = NULL;
    size_t line_capacity = 0;
    for (int header = 1; getline(&line, &line_capacity, f) > 0; header = 0) {
        if (header)
            continue;
        line[strcspn(line, "\r\n")] = '\0';
        char *first = strchr(line, '\t'), *second = first ? strchr(first + 1, '\t') : NULL;
        if (!second)
            continue;
        *second = '\0';
        add_sentence(s, first + 1);
        add_sentence(s, second + 1);
    }
    free(line);
    fclose(f);
    return 0;
}

static semb_status load_tokenizer(const char *path, semb_tokenizer **tok, semb_error *err)
{
    struct stat st;
    if (stat(path, &st) == 0 && S_ISDIR(st.st_mode))
        return tokenizer_load_dir(path, NULL, tok, err);
    size_t n = strlen(path);
    if (n > 4 && strcmp(path + n - 4, ".txt") == 0) {
        tokenizer_vocab_options o = {.lowercase = 1, .strip_accents = -1,
                                     .tokenize_chinese_chars = 1};
        return tokenizer_load_vocab(path, &o, tok, err);
    }
    return tokenizer_load_json(path, tok, err);
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

int main(int argc, char **argv)
{
    const char *tokenizer_path = NULL;
    int first_file = 1;
    if (argc > 2 && strcmp(argv[1], "--tokenizer") == 0) {
        tokenizer_path = argv[2];
        first_file = 3;
    }
    if (first_file >= argc) {
        fprintf(stderr, "usage: %s [--tokenizer PATH] STS.tsv...\n", argv[0]);
        return 2;
    }
    sentences s = {0};
    for (int i = first_file; i < argc; i++)
        if (read_sts(argv[i], &s) != 0) {
            fprintf(stderr, "cannot read %s\n", argv[i]);
            return 1;
        }
    char default_path[4096];
    if (!tokenizer_path) {
        char *copy = strdup(argv[first_file]);
        snprintf(default_path, sizeof default_path, "%s/../vocab/bert-base-uncased-tokenizer.json",
                 dirname(copy));
        free(copy);
        tokenizer_path = default_path;
    }
    semb_tokenizer *tok;
    semb_error err = {0};
    if (load_tokenizer(tokenizer_path, &tok, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    token_buffer buf = {0};
    size_t tokens = 0;
    double rates[PASSES];
    for (int pass = -1; pass < PASSES; pass++) { /* pass -1 warms up the buffers */
        double start = timer_seconds();
        tokens = 0;
        for (size_t i = 0; i < s.count; i++) {
            if (tokenizer_encode(tok, s.texts[i], s.lengths[i], 128, &buf, &err)) {
                fprintf(stderr, "sentence %zu: %s\n", i, err.message);
                return 1;
            }
            tokens += buf.count;
        }
        if (pass >= 0)
            rates[pass] = (double)s.count / (timer_seconds() - start);
    }
    qsort(rates, PASSES, sizeof rates[0], compare_double);
    double median = rates[PASSES / 2];
    printf("tokenizer: %zu sentences (%.1f bytes, %.1f tokens each), 1 thread\n", s.count,
           (double)s.bytes / (double)s.count, (double)tokens / (double)s.count);
    printf("tokenizer: median %.0f sentences/s (best %.0f), %.1f M tokens/s, %.1f MB/s\n",
           median, rates[PASSES - 1], median * (double)tokens / (double)s.count / 1e6,
           median * (double)s.bytes / (double)s.count / 1e6);
    token_buffer_free(&buf);
    tokenizer_free(tok);
    for (size_t i = 0; i < s.count; i++)
        free(s.texts[i]);
    free(s.texts);
    free(s.lengths);
    return 0;
}
