/* semb index build: a corpus embedded into one search index file (semb search reads it). */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/error.h"
#include "io/atomic_file.h"
#include "io/files.h"
#include "index/hnsw_index.h"

typedef struct build_args {
    const char *model_dir, *corpus, *input_format, *output, *precision, *calibration,
        *document_prompt;
    int batch_size, threads, chunk_size;
    bool hnsw;
    int hnsw_m, hnsw_ef_construction; /* NOT_GIVEN unless given */
} build_args;

#define NOT_GIVEN INT_MIN

/* A redrawn "embedded N / M" line on a terminal; nothing on a pipe. */
static void show_progress(void *user, size_t done, size_t total)
{
    (void)user;
    fprintf(stderr, "\rsemb index build: embedded %zu / %zu documents%s", done, total,
            done == total ? "\n" : "");
}

static int parse_build(int argc, char **argv, build_args *a)
{
    *a = (build_args){.input_format = "text", .precision = "float32", .batch_size = 32,
                      .chunk_size = 4096, .hnsw_m = NOT_GIVEN,
                      .hnsw_ef_construction = NOT_GIVEN};
    const cli_option options[] = {
        {"--model", CLI_STRING, &a->model_dir, "sentence-transformers model folder (required)"},
        {"--corpus", CLI_STRING, &a->corpus, "the documents: a file, or - for stdin (required)"},
        {"--input-format", CLI_STRING, &a->input_format,
         "text: one document a line (default); jsonl: a JSON string or an object with \"text\" "
         "and optional \"title\", \"id\"/\"_id\" a line"},
        {"--output", CLI_STRING, &a->output, "the index file to write (required); atomic"},
        {"--precision", CLI_STRING, &a->precision, "float32 (default), int8 or binary"},
        {"--calibration", CLI_STRING, &a->calibration,
         "int8: text file whose embeddings give the ranges (default: the corpus)"},
        {"--document-prompt", CLI_STRING, &a->document_prompt,
         "prepended to each document (default: the model's \"document\" prompt, if any)"},
        {"--batch-size", CLI_INT, &a->batch_size, "sentences per forward pass (default 32)"},
        {"--chunk-size", CLI_INT, &a->chunk_size,
         "documents read and encoded at a time (default 4096)"},
        {"--hnsw", CLI_FLAG, &a->hnsw,
         "also build an HNSW graph for approximate search (semb search uses it by default)"},
        {"--hnsw-m", CLI_INT, &a->hnsw_m,
         "with --hnsw: links per element and level, 2 to 2048 (default 16)"},
        {"--hnsw-ef-construction", CLI_INT, &a->hnsw_ef_construction,
         "with --hnsw: candidate list while linking, at least 1 (default 200)"},
        {"--threads", CLI_INT, &a->threads, "threads (default: all cores)"},
    };
    int rc = cli_parse(argc, argv, "index build",
                       "--model DIR --corpus FILE --output INDEX [options]\n\n"
                       "Embeds every document of FILE and writes one index file holding the\n"
                       "embeddings, texts, ids and the model's identity. Ids are the JSONL\n"
                       "\"id\"/\"_id\" values, else line numbers; duplicate ids are an error.",
                       options, sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    const char *missing = !a->model_dir ? "--model" : !a->corpus ? "--corpus"
                          : !a->output  ? "--output" : NULL;
    if (missing)
        return cli_failf("index build", "%s is required (see --help)", missing), 2;
    if (a->batch_size <= 0 || a->chunk_size <= 0)
        return cli_failf("index build", "--batch-size and --chunk-size must be positive"), 2;
    if (strcmp(a->input_format, "text") != 0 && strcmp(a->input_format, "jsonl") != 0)
        return cli_failf("index build", "--input-format: '%s' is not one of text, jsonl",
                         a->input_format), 2;
    if (!a->hnsw && (a->hnsw_m != NOT_GIVEN || a->hnsw_ef_construction != NOT_GIVEN))
        return cli_failf("index build", "--hnsw-m and --hnsw-ef-construction need --hnsw"), 2;
    if (a->hnsw_m != NOT_GIVEN && (a->hnsw_m < 2 || a->hnsw_m > 2048))
        return cli_failf("index build", "--hnsw-m must be in 2 .. 2048 (got %d)", a->hnsw_m), 2;
    if (a->hnsw_ef_construction != NOT_GIVEN && a->hnsw_ef_construction < 1)
        return cli_failf("index build", "--hnsw-ef-construction must be at least 1 (got %d)",
                         a->hnsw_ef_construction), 2;
    cli_set_threads(a->threads);
    return -1;
}

static void report(FILE *out, const build_args *a, const semb_index_build_result *r,
                   int max_seq)
{
    if (r->truncated)
        fprintf(stderr, "semb index build: warning: %zu document%s longer than %d tokens, "
                        "truncated to %d tokens (the first at %s:%zu)\n",
                r->truncated, r->truncated == 1 ? " is" : "s are", max_seq, max_seq, a->corpus,
                r->first_truncated_line);
    fprintf(out, "indexed %zu documents into %s (%s, %.1f MB, document prompt \"%s\")\n",
           r->documents, a->output, a->precision, (double)r->file_bytes / 1e6,
           r->document_prompt);
    if (a->hnsw)
        fprintf(out, "HNSW graph: M %d, ef_construction %d, %.2f MB, linked in %.1f s\n",
                a->hnsw_m, a->hnsw_ef_construction, (double)r->hnsw_bytes / 1e6,
                r->hnsw_seconds);
}

/* Copies stdin into a scratch file beside the output (the build reads its corpus twice, so
 * a pipe must be kept). The file has no name and vanishes with *fd or the process; the
 * build reads it as "/proc/self/fd/N", written into path. */
static semb_status spool_stdin(const char *output, int *fd, char *path, size_t path_size,
                               semb_error *err)
{
    semb_status st = file_create_scratch(atomic_file_is_stream(output) ? "/tmp/" : output, fd,
                                         err);
    if (st)
        return st;
    snprintf(path, path_size, "/proc/self/fd/%d", *fd);
    char buffer[1 << 16];
    size_t got;
    while (!st && (got = fread(buffer, 1, sizeof buffer, stdin)) > 0)
        for (size_t done = 0; !st && done < got;) {
            ssize_t n = write(*fd, buffer + done, got - done);
            if (n < 0 && errno != EINTR)
                st = semb_fail(err, SEMB_ERR_IO, "<stdin>: cannot keep a copy: %s",
                               strerror(errno));
            done += n > 0 ? (size_t)n : 0;
        }
    if (!st && ferror(stdin))
        st = semb_fail(err, SEMB_ERR_IO, "<stdin>: read failed");
    if (st) {
        close(*fd);
        *fd = -1;
    }
    return st;
}

static int index_build(int argc, char **argv)
{
    build_args a;
    int rc = parse_build(argc, argv, &a);
    if (rc >= 0)
        return rc;
    semb_error err = {0};
    semb_index_build_options o = semb_index_build_options_default();
    if (semb_storage_precision_from_name(a.precision, &o.precision, &err))
        return cli_failf("index build", "--precision: %s", err.message), 2;
    o.corpus_path = a.corpus;
    o.input_format = a.input_format;
    o.calibration_path = a.calibration;
    o.document_prompt = a.document_prompt;
    o.batch_size = a.batch_size;
    o.chunk_size = (size_t)a.chunk_size;
    o.model_name = a.model_dir;
    o.hnsw = a.hnsw;
    if (a.hnsw) {
        a.hnsw_m = a.hnsw_m == NOT_GIVEN ? HNSW_INDEX_DEFAULT_M : a.hnsw_m;
        a.hnsw_ef_construction = a.hnsw_ef_construction == NOT_GIVEN
                                     ? HNSW_INDEX_DEFAULT_EF_CONSTRUCTION
                                     : a.hnsw_ef_construction;
        o.hnsw_m = a.hnsw_m;
        o.hnsw_ef_construction = a.hnsw_ef_construction;
    }
    if (isatty(fileno(stderr)))
        o.progress = show_progress;
    semb_model *model = NULL;
    if (semb_model_load(a.model_dir, &model, &err))
        return cli_fail("index build", &err);
    int spool_fd = -1;
    char spooled[64];
    semb_status st = SEMB_OK;
    if (strcmp(a.corpus, "-") == 0 &&
        !(st = spool_stdin(a.output, &spool_fd, spooled, sizeof spooled, &err))) {
        o.corpus_path = spooled;
        o.corpus_name = "<stdin>";
    }
    semb_index_build_result result;
    if (!st)
        st = semb_index_build(model, &o, a.output, &result, &err);
    if (spool_fd >= 0)
        close(spool_fd);
    /* an index written to standard output keeps it to itself */
    if (!st)
        report(atomic_file_is_stream(a.output) ? stderr : stdout, &a, &result,
               semb_model_max_seq_length(model));
    semb_model_free(model);
    if (st)
        return cli_fail("index build", &err);
    return 0;
}

/* semb index info: what an index holds, without a model. */
static int index_info(int argc, char **argv)
{
    const char *path = NULL;
    const cli_option options[] = {
        {"--index", CLI_STRING, &path, "the index file (or give it as the one argument)"},
    };
    char **positional = NULL;
    size_t n_positional = 0;
    int rc = cli_parse(argc, argv, "index info", "(--index INDEX | INDEX)", options, 1,
                       &positional, &n_positional);
    if (!rc && (n_positional > 1 || (n_positional == 1 && path))) {
        cli_failf("index info", "give one index file (see --help)");
        rc = 2;
    }
    if (!rc && n_positional == 1)
        path = positional[0];
    free(positional);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!path)
        return cli_failf("index info", "--index is required (see --help)"), 2;
    semb_error err = {0};
    semb_index *index;
    if (semb_index_open(path, &index, &err))
        return cli_fail("index info", &err);
    printf("documents: %zu\ndimension: %d\nprecision: %s\nsimilarity: %s\nmodel: %s\n"
           "fingerprint: %s\n",
           semb_index_count(index), semb_index_dimension(index),
           semb_storage_precision_name(semb_index_precision(index)),
           semb_similarity_name(semb_index_similarity(index)), semb_index_model_name(index),
           semb_index_fingerprint(index));
    semb_index_graph g;
    semb_index_graph_info(index, &g);
    if (g.present)
        printf("hnsw: M %d, ef_construction %d, seed %llu, %llu bytes\n", g.m,
               g.ef_construction, (unsigned long long)g.seed, (unsigned long long)g.bytes);
    else
        printf("hnsw: none (exact search only)\n");
    semb_index_close(index);
    return 0;
}

static void usage(FILE *out)
{
    fprintf(out, "usage: semb index build --model DIR --corpus FILE --output INDEX [--hnsw] "
                 "[options]\n"
                 "       semb index info (--index INDEX | INDEX)\n\n"
                 "'semb index build --help' describes the options; 'semb search' queries an "
                 "index.\n");
}

int cmd_index(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    if (strcmp(argv[1], "build") == 0)
        return index_build(argc - 1, argv + 1);
    if (strcmp(argv[1], "info") == 0)
        return index_info(argc - 1, argv + 1);
    cli_failf("index", "unknown subcommand '%s': expected build or info", argv[1]);
    return 2;
}
