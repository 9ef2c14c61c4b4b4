/* Encoding throughput: sentences/s and tokens/s of semb_encode (as `semb encode` calls it).
 *
 *   bench_encode MODEL_DIR STS.tsv [REPEATS] [options]
 *       the sentences of an STS TSV file (score \t sentence1 \t sentence2, header line)
 *   bench_encode MODEL_DIR --lengths 16,64,128,256 --source STS.tsv [options]
 *       per length L, synthetic sentences of exactly L tokens (special tokens included), made
 *       of the source's words in order
 * options:
 *   --batch 32,128 --threads 1,2   the configurations (every batch size for every thread count)
 *   --repeats N                    timed passes per configuration (default 3; median reported)
 *   --sentences N                  STS mode: only the first N sentences of the file
 *   --length-tokens T              lengths mode: about T tokens per pass (default 8192)
 *   --write-tokens DIR             lengths mode: DIR/len-L.jsonl, each sentence's token ids as a
 *                                  JSON array (`semb tokenize` format), for the other engines
 *   --precision NAME               semb_encode_options.precision (fp32, bf16) where it exists
 * Prints a line per configuration, and a `RESULT {json}` line with the same numbers
 * (tokens_real and tokens_sq: sums of the sentences' token counts and of their squares, for
 * the FLOP count of attention). */
#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/timer.h"
#include "semb.h"

#define MAX_CONFIGS 16
#define MAX_REPEATS 32

typedef struct bench_args {
    const char *model_dir, *sts_path, *source_path, *write_tokens_dir, *precision;
    int batches[MAX_CONFIGS], n_batches;
    int threads[MAX_CONFIGS], n_threads;
    int lengths[MAX_CONFIGS], n_lengths;
    int repeats;
    long sentences, length_tokens;
} bench_args;

typedef struct texts {
    char **items;
    size_t n, cap;
} texts;

static void texts_free(texts *t)
{
    for (size_t i = 0; i < t->n; i++)
        free(t->items[i]);
    free(t->items);
    *t = (texts){0};
}

/* Takes ownership of s (NULL: out of memory). */
static bool texts_add(texts *t, char *s)
{
    if (!s)
        return false;
    if (t->n == t->cap) {
        size_t cap = t->cap ? 2 * t->cap : 1024;
        char **items = realloc(t->items, cap * sizeof *items);
        if (!items) {
            free(s);
            return false;
        }
        t->items = items;
        t->cap = cap;
    }
    t->items[t->n++] = s;
    return true;
}

/* Sentence 1 and sentence 2 of each line after the header, at most `limit` (<= 0: all). */
static bool read_sts(const char *path, long limit, texts *out)
{
    FILE *f = fopen(path, "r");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return false;
    }
    char *line = NULL;
    size_t line_cap = 0;
    bool ok = true;
    for (long lineno = 1; ok && getline(&line, &line_cap, f) > 0; lineno++) {
        line[strcspn(line, "\r\n")] = '\0';
        char *a = strchr(line, '\t'), *b = a ? strchr(a + 1, '\t') : NULL;
        if (lineno == 1 || !b)
            continue;
        *b = '\0';
        for (int k = 0; k < 2 && ok && (limit <= 0 || (long)out->n < limit); k++)
            ok = texts_add(out, strdup(k ? b + 1 : a + 1));
    }
    free(line);
    fclose(f);
    if (ok && out->n == 0)
        fprintf(stderr, "%s: no sentences (score \\t sentence1 \\t sentence2 after a header)\n", path);
    return ok && out->n > 0;
}

/* Tokens of text without the special tokens the tokenizer adds around it. */
static bool content_tokens(semb_model *m, const char *text, size_t specials, size_t *count)
{
    semb_error err = {0};
    if (semb_count_tokens(m, text, strlen(text), count, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return false;
    }
    *count -= specials;
    return true;
}

typedef struct word_stream {
    char **words;
    size_t *tokens; /* content tokens of each word alone */
    size_t n, next;
} word_stream;

static void word_stream_free(word_stream *w)
{
    for (size_t i = 0; i < w->n; i++)
        free(w->words[i]);
    free(w->words);
    free(w->tokens);
}

/* The whitespace-separated words of the sentences, with their token counts. */
static bool word_stream_make(semb_model *m, const texts *sentences, size_t specials,
                             word_stream *w)
{
    size_t cap = 0;
    *w = (word_stream){0};
    for (size_t i = 0; i < sentences->n; i++) {
        char *copy = strdup(sentences->items[i]), *save = NULL;
        for (char *word = copy ? strtok_r(copy, " \t", &save) : NULL; word;
             word = strtok_r(NULL, " \t", &save)) {
            if (w->n == cap) {
                cap = cap ? 2 * cap : 4096;
                char **words = realloc(w->words, cap * sizeof *words);
                size_t *tokens = words ? realloc(w->tokens, cap * sizeof *tokens) : NULL;
                if (words)
                    w->words = words;
                if (!tokens) {
                    free(copy);
                    return false;
                }
                w->tokens = tokens;
            }
            if (!(w->words[w->n] = strdup(word)) ||
                !content_tokens(m, word, specials, &w->tokens[w->n])) {
                free(w->words[w->n]);
                free(copy);
                return false;
            }
            w->n++;
        }
        free(copy);
    }
    return w->n > 0;
}

/* The next words of the stream (round and round) that add up to exactly `content` tokens:
 * a word that would overshoot is passed over. NULL if no word fits for a whole turn. */
static char *sentence_of_tokens(word_stream *w, size_t content)
{
    size_t cap = 64, len = 0, misses = 0;
    char *s = malloc(cap);
    if (!s)
        return NULL;
    s[0] = '\0';
    while (content > 0 && misses < w->n) {
        size_t i = w->next;
        w->next = (w->next + 1) % w->n;
        if (w->tokens[i] == 0 || w->tokens[i] > content) {
            misses++;
            continue;
        }
        size_t add = strlen(w->words[i]) + 1;
        if (len + add + 1 > cap) {
            char *bigger = realloc(s, cap = 2 * (len + add + 1));
            if (!bigger) {
                free(s);
                return NULL;
            }
            s = bigger;
        }
        len += (size_t)sprintf(s + len, "%s%s", len ? " " : "", w->words[i]);
        content -= w->tokens[i];
        misses = 0;
    }
    if (content > 0) {
        free(s);
        return NULL;
    }
    return s;
}

/* n sentences of exactly `length` tokens each (checked on the whole text). */
static bool make_length_texts(semb_model *m, word_stream *w, size_t specials, int length,
                              size_t n, texts *out)
{
    for (size_t i = 0; i < n; i++) {
        char *s = sentence_of_tokens(w, (size_t)length - specials);
        size_t count = 0;
        if (!s || !content_tokens(m, s, 0, &count) || count != (size_t)length) {
            fprintf(stderr, "cannot make a sentence of exactly %d tokens from the source's words "
                    "(got %zu)\n", length, s ? count : 0);
            free(s);
            return false;
        }
        if (!texts_add(out, s))
            return false;
    }
    return true;
}

static bool write_token_file(semb_model *m, const texts *t, const char *dir, int length)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/len-%d.jsonl", dir, length);
    FILE *f = fopen(path, "w");
    if (!f) {
        fprintf(stderr, "%s: %s\n", path, strerror(errno));
        return false;
    }
    bool ok = true;
    for (size_t i = 0; ok && i < t->n; i++) {
        int32_t *ids = NULL;
        size_t count = 0;
        semb_error err = {0};
        if (semb_tokenize(m, t->items[i], strlen(t->items[i]), &ids, &count, &err)) {
            fprintf(stderr, "%s\n", err.message);
            ok = false;
            break;
        }
        fputc('[', f);
        for (size_t k = 0; k < count; k++)
            fprintf(f, k ? ", %d" : "%d", ids[k]);
        fputs("]\n", f);
        free(ids);
    }
    if (fclose(f) != 0 || !ok) {
        fprintf(stderr, "%s: not written\n", path);
        return false;
    }
    return true;
}

static int compare_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return (x > y) - (x < y);
}

static bool set_precision(semb_encode_options *o, const char *name)
{
    if (!name)
        return true;
    semb_error err = {0};
    if (semb_compute_precision_from_name(name, &o->precision, &err) == SEMB_OK)
        return true;
    fprintf(stderr, "--precision: %s\n", err.message);
    return false;
}

/* Times semb_encode over the texts for every (threads, batch), after a warm-up pass over the
 * first `warm` texts; length 0: STS sentences. */
static bool bench_texts(semb_model *m, const bench_args *a, const texts *t, size_t warm, int length)
{
    size_t dim = (size_t)semb_model_dimension(m), max_len = (size_t)semb_model_max_seq_length(m);
    size_t tokens = 0, tokens_sq = 0;
    for (size_t i = 0; i < t->n; i++) { /* as encoded: truncated to the model's maximum */
        size_t count = 0;
        if (!content_tokens(m, t->items[i], 0, &count))
            return false;
        count = count < max_len ? count : max_len;
        tokens += count;
        tokens_sq += count * count;
    }
    float *out = malloc(t->n * dim * sizeof *out);
    if (!out)
        return false;
    warm = warm < t->n ? warm : t->n;
    for (int ti = 0; ti < a->n_threads; ti++)
        for (int bi = 0; bi < a->n_batches; bi++) {
            semb_set_threads(a->threads[ti]);
            semb_encode_options o = semb_encode_options_default();
            o.batch_size = a->batches[bi];
            semb_error err = {0};
            double seconds[MAX_REPEATS], rates[MAX_REPEATS];
            if (!set_precision(&o, a->precision) ||
                semb_encode(m, (const char *const *)t->items, NULL, warm, out, &o, &err)) {
                if (err.message[0])
                    fprintf(stderr, "%s\n", err.message);
                free(out);
                return false;
            }
            for (int r = 0; r < a->repeats; r++) {
                double t0 = timer_seconds();
                if (semb_encode(m, (const char *const *)t->items, NULL, t->n, out, &o, &err)) {
                    fprintf(stderr, "%s\n", err.message);
                    free(out);
                    return false;
                }
                seconds[r] = timer_seconds() - t0;
                rates[r] = (double)t->n / seconds[r];
            }
            qsort(rates, (size_t)a->repeats, sizeof rates[0], compare_double);
            double median = rates[a->repeats / 2];
            const char *precision = a->precision ? a->precision : "fp32";
            printf("encode %s length %3d batch %3d threads %d: %8.1f sentences/s, %9.0f tokens/s "
                   "(median of %d; min %.1f max %.1f)\n", precision, length, a->batches[bi],
                   a->threads[ti], median, median * (double)tokens / (double)t->n, a->repeats,
                   rates[0], rates[a->repeats - 1]);
            printf("RESULT {\"engine\": \"semb\", \"version\": \"%s\", \"precision\": \"%s\", "
                   "\"length\": %d, \"batch\": %d, \"threads\": %d, \"unit\": \"sent/s\", "
                   "\"sentences\": %zu, \"tokens_real\": %zu, \"tokens_sq\": %zu, "
                   "\"rep_seconds\": [", semb_version(), precision, length, a->batches[bi],
                   a->threads[ti], t->n, tokens, tokens_sq);
            for (int r = 0; r < a->repeats; r++)
                printf(r ? ", %.6f" : "%.6f", seconds[r]);
            printf("], \"thr_min\": %.3f, \"thr_median\": %.3f, \"thr_max\": %.3f}\n", rates[0],
                   median, rates[a->repeats - 1]);
            fflush(stdout);
        }
    free(out);
    return true;
}

/* The lengths mode: per length, about length_tokens tokens of sentences (at least a batch). */
static bool bench_lengths(semb_model *m, const bench_args *a)
{
    texts source = {0};
    word_stream w = {0};
    size_t specials = 0;
    bool ok = read_sts(a->source_path, 0, &source) && content_tokens(m, "", 0, &specials) &&
              word_stream_make(m, &source, specials, &w);
    if (!ok)
        fprintf(stderr, "%s: no words to build sentences from\n", a->source_path);
    for (int li = 0; ok && li < a->n_lengths; li++) {
        int length = a->lengths[li];
        if (length > semb_model_max_seq_length(m) || (size_t)length <= specials) {
            fprintf(stderr, "--lengths: %d is not in (%zu, %d], the model's max_seq_length\n",
                    length, specials, semb_model_max_seq_length(m));
            ok = false;
            break;
        }
        long n = a->length_tokens / length, largest_batch = 0;
        for (int bi = 0; bi < a->n_batches; bi++)
            largest_batch = largest_batch > a->batches[bi] ? largest_batch : a->batches[bi];
        n = n > largest_batch ? n : largest_batch;
        texts t = {0};
        /* one batch warms up: every sentence has the same length */
        ok = make_length_texts(m, &w, specials, length, (size_t)n, &t) &&
             (!a->write_tokens_dir || write_token_file(m, &t, a->write_tokens_dir, length)) &&
             bench_texts(m, a, &t, (size_t)largest_batch, length);
        texts_free(&t);
    }
    word_stream_free(&w);
    texts_free(&source);
    return ok;
}

/* "16,64,128" into out (each in [1, 100000]); the count, or -1. */
static int parse_list(const char *list, int *out)
{
    int n = 0;
    for (const char *s = list; *s;) {
        char *end;
        long v = strtol(s, &end, 10);
        if (end == s || v < 1 || v > 100000 || n == MAX_CONFIGS || (*end && *end != ','))
            return -1;
        out[n++] = (int)v;
        s = *end ? end + 1 : end;
    }
    return n;
}

static bool parse_args(int argc, char **argv, bench_args *a)
{
    *a = (bench_args){.batches = {32, 128}, .n_batches = 2, .threads = {1, 2}, .n_threads = 2,
                      .repeats = 3, .length_tokens = 8192};
    int positional = 0;
    for (int i = 1; i < argc; i++) {
        const char *k = argv[i], *v = i + 1 < argc ? argv[i + 1] : NULL;
        bool ok = true;
        if (k[0] != '-' || !k[1]) {
            if (positional == 0)
                a->model_dir = k;
            else if (positional == 1)
                a->sts_path = k;
            else if (positional == 2)
                ok = (a->repeats = atoi(k)) > 0;
            else
                ok = false;
            positional++;
            if (!ok) {
                fprintf(stderr, "%s: unexpected argument\n", k);
                return false;
            }
            continue;
        }
        if (!v) {
            fprintf(stderr, "%s: needs a value\n", k);
            return false;
        }
        i++;
        if (!strcmp(k, "--batch"))
            ok = (a->n_batches = parse_list(v, a->batches)) > 0;
        else if (!strcmp(k, "--threads"))
            ok = (a->n_threads = parse_list(v, a->threads)) > 0;
        else if (!strcmp(k, "--lengths"))
            ok = (a->n_lengths = parse_list(v, a->lengths)) > 0;
        else if (!strcmp(k, "--repeats"))
            ok = (a->repeats = atoi(v)) > 0;
        else if (!strcmp(k, "--sentences"))
            ok = (a->sentences = atol(v)) > 0;
        else if (!strcmp(k, "--length-tokens"))
            ok = (a->length_tokens = atol(v)) > 0;
        else if (!strcmp(k, "--source"))
            a->source_path = v;
        else if (!strcmp(k, "--write-tokens"))
            a->write_tokens_dir = v;
        else if (!strcmp(k, "--precision"))
            a->precision = v;
        else
            ok = false;
        if (!ok) {
            fprintf(stderr, "%s %s: unknown option or bad value\n", k, v);
            return false;
        }
    }
    if (a->repeats > MAX_REPEATS)
        a->repeats = MAX_REPEATS;
    if (!a->model_dir || (a->n_lengths ? !a->source_path || a->sts_path : !a->sts_path)) {
        fprintf(stderr, "usage: bench_encode MODEL_DIR STS.tsv [REPEATS] [options]\n"
                        "       bench_encode MODEL_DIR --lengths 16,64 --source STS.tsv [options]\n"
                        "(options: see the head of bench/bench_encode.c)\n");
        return false;
    }
    return true;
}

int main(int argc, char **argv)
{
    bench_args a;
    semb_encode_options probe = semb_encode_options_default();
    if (!parse_args(argc, argv, &a) || !set_precision(&probe, a.precision))
        return 2;
    semb_model *m;
    semb_error err = {0};
    if (semb_model_load(a.model_dir, &m, &err)) {
        fprintf(stderr, "%s\n", err.message);
        return 1;
    }
    bool ok;
    if (a.n_lengths) {
        ok = bench_lengths(m, &a);
    } else {
        texts t = {0};
        ok = read_sts(a.sts_path, a.sentences, &t);
        if (ok)
            printf("sentences %zu of %s, model %s\n", t.n, a.sts_path, a.model_dir);
        ok = ok && bench_texts(m, &a, &t, 256, 0);
        texts_free(&t);
    }
    semb_model_free(m);
    return ok ? 0 : 1;
}
