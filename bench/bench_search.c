/* Search throughput on random unit vectors (no model): an index of N documents x D
 * dimensions is written at one precision, then opened (mmap) and searched exactly: median
 * single-query latency, queries/s for batches of 100, and (int8, binary) recall@10 against
 * the float32 index's exact top 10 for the same queries. Prints one JSON object.
 * usage: bench_search --precision float32|int8|binary [--documents N] [--dim D]
 *                     [--dir FOLDER] [--threads N] [--data random|clustered] [--hnsw 1]
 * The float32 index (FOLDER/float32.idx) must exist before int8/binary runs measure recall;
 * bench/search_bench.sh runs the three in order.
 * --data clustered: 1,000 centres uniform on the sphere, each point centre + N(0, 0.5^2/D)
 * per coordinate, normalised (bench_hnsw's clustered set; queries drawn the same way).
 * --hnsw 1 (float32): the index also holds an HNSW graph (M 16, ef_construction 200) built
 * over all rows in memory; adds graph build and load times, and per ef the single-query
 * latency, queries/s of a batch of 100 and recall@10 against the same index's exact top 10. */
#include <math.h>
#include <stdbool.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>

#include "core/timer.h"
#include "index/exact_search.h"
#include "index/hnsw_index.h"
#include "index/index_file.h"
#include "index/quantize.h"
#include "model/similarity.h"

#define CHUNK 65536
#define BATCH 100
#define SINGLE 30

typedef struct bench_args {
    size_t documents;
    int dim, threads, hnsw;
    semb_storage_precision precision;
    const char *dir;
    bool clustered;
} bench_args;

#define CENTRES 1000

/* Row i of the corpus (or of the queries, with another stream): a deterministic isotropic
 * unit vector, so every precision indexes the same corpus. */
static void random_unit_rows(uint64_t stream, size_t first, size_t n, int dim, float *out)
{
#pragma omp parallel for schedule(static)
    for (size_t i = 0; i < n; i++) {
        uint64_t s = (stream * 0x9E3779B97F4A7C15ull) ^ ((first + i + 1) * 0xBF58476D1CE4E5B9ull);
        float *r = out + i * (size_t)dim;
        for (int d = 0; d < dim; d += 2) {
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            double u1 = ((s >> 11) + 1) / 9007199254740993.0;
            s ^= s << 13, s ^= s >> 7, s ^= s << 17;
            double u2 = (s >> 11) / 9007199254740992.0, radius = sqrt(-2 * log(u1));
            r[d] = (float)(radius * cos(6.283185307179586 * u2));
            if (d + 1 < dim)
                r[d + 1] = (float)(radius * sin(6.283185307179586 * u2));
        }
    }
    similarity_normalize_rows(out, n, dim);
}

/* Clustered rows instead: row i's centre and noise from its own stream, so chunks agree. */
static void clustered_rows(uint64_t stream, size_t first, size_t n, int dim, float *out)
{
    static float *centres;
    static int centres_dim;
    if (centres_dim != dim) {
        free(centres);
        centres = malloc((size_t)CENTRES * dim * sizeof *centres);
        random_unit_rows(99, 0, CENTRES, dim, centres);
        centres_dim = dim;
    }
    random_unit_rows(stream, first, n, dim, out); /* the noise directions */
    const float spread = 0.5f; /* unit noise: cosine ~0.9 to the centre */
    for (size_t i = 0; i < n; i++) {
        uint64_t c = ((first + i) * 0x9E3779B97F4A7C15ull ^ stream) % CENTRES;
        for (int d = 0; d < dim; d++)
            out[i * dim + d] = centres[c * dim + d] + spread * out[i * dim + d];
    }
    similarity_normalize_rows(out, n, dim);
}

static bool use_clustered;

static void corpus_rows(uint64_t stream, size_t first, size_t n, int dim, float *out)
{
    if (use_clustered)
        clustered_rows(stream, first, n, dim, out);
    else
        random_unit_rows(stream, first, n, dim, out);
}

static void die(const char *what, const semb_error *err)
{
    fprintf(stderr, "bench_search: %s: %s\n", what, err ? err->message : "");
    exit(1);
}

/* int8 ranges of the whole corpus (a first pass, as semb index build makes). */
static void corpus_ranges(const bench_args *a, float *chunk, float *starts, float *steps)
{
    float *min = malloc((size_t)a->dim * sizeof *min), *max = malloc((size_t)a->dim * sizeof *max);
    int8_calibration cal;
    int8_calibration_init(&cal, a->dim, min, max);
    for (size_t first = 0; first < a->documents; first += CHUNK) {
        size_t n = a->documents - first < CHUNK ? a->documents - first : CHUNK;
        corpus_rows(1, first, n, a->dim, chunk);
        int8_calibration_add(&cal, chunk, n);
    }
    int8_calibration_finish(&cal, starts, steps);
    free(min);
    free(max);
}

/* Writes the index; returns the seconds spent quantizing and writing (not generating). With
 * --hnsw, *graph_s receives the graph's build time (excluded from the return value). */
static double write_index(const bench_args *a, const char *path, double *graph_s,
                          uint64_t *graph_bytes)
{
    float *all = a->hnsw ? malloc(a->documents * a->dim * sizeof *all) : NULL;
    size_t n = a->documents, row_bytes = index_row_bytes(a->precision, a->dim);
    float *chunk = malloc((size_t)CHUNK * a->dim * sizeof *chunk);
    uint8_t *stored = malloc((size_t)CHUNK * row_bytes);
    float *ranges = malloc(2 * (size_t)a->dim * sizeof *ranges);
    uint64_t *offsets = malloc((n + 1) * sizeof *offsets);
    char *texts = malloc(n * 12);
    offsets[0] = 0;
    for (size_t i = 0; i < n; i++)
        offsets[i + 1] = offsets[i] + (size_t)sprintf(texts + offsets[i], "%zu", i) + 1;
    const char *meta = a->hnsw ? "{\"model\": \"synthetic\", \"document_prompt\": \"\", "
                                 "\"hnsw\": {\"m\": 16, \"ef_construction\": 200, \"seed\": 100}}"
                               : "{\"model\": \"synthetic\", \"document_prompt\": \"\"}";
    const char *names[] = {"meta", "embeddings", "text_offsets", "texts", "id_offsets", "ids",
                           a->precision == SEMB_STORAGE_INT8 ? "int8_ranges" : "hnsw"};
    uint64_t sizes[] = {strlen(meta), n * row_bytes, (n + 1) * 8, offsets[n], (n + 1) * 8,
                        offsets[n], a->hnsw ? INDEX_SECTION_SIZE_DEFERRED
                                            : 2 * (uint64_t)a->dim * 4};
    index_info info = {.documents = n, .dimension = a->dim, .precision = a->precision,
                       .similarity = SEMB_SIMILARITY_COSINE, .normalized = true,
                       .ids_integer = true, .max_seq_length = 256};
    memset(info.fingerprint, '0', 32);
    double seconds = 0, t0 = timer_seconds();
    if (a->precision == SEMB_STORAGE_INT8)
        corpus_ranges(a, chunk, ranges, ranges + a->dim);
    seconds += timer_seconds() - t0;
    index_writer w;
    semb_error err = {0};
    size_t n_sections = a->precision == SEMB_STORAGE_INT8 || a->hnsw ? 7 : 6;
    if (index_writer_begin(&w, path, &info, names, sizes, n_sections, &err))
        die(path, &err);
    for (size_t first = 0; first < n; first += CHUNK) {
        size_t rows = n - first < CHUNK ? n - first : CHUNK;
        corpus_rows(1, first, rows, a->dim, chunk);
        if (all)
            memcpy(all + first * a->dim, chunk, rows * a->dim * sizeof *all);
        t0 = timer_seconds();
        const void *out = chunk;
        if (a->precision == SEMB_STORAGE_INT8)
            quantize_int8_rows(chunk, rows, a->dim, ranges, ranges + a->dim, (int8_t *)(out = stored));
        else if (a->precision == SEMB_STORAGE_BINARY)
            quantize_binary_rows(chunk, rows, a->dim, (uint8_t *)(out = stored));
        if (index_writer_write(&w, 1, first * row_bytes, out, rows * row_bytes, &err))
            die(path, &err);
        seconds += timer_seconds() - t0;
    }
    t0 = timer_seconds();
    const void *data[] = {meta, NULL, offsets, texts, offsets, texts, ranges};
    for (size_t s = 0; s < n_sections; s++)
        if (s != 1 && !(s == 6 && a->hnsw) && index_writer_write(&w, s, 0, data[s], sizes[s], &err))
            die(path, &err);
    if (a->hnsw) {
        double g0 = timer_seconds();
        hnsw_index *graph;
        FILE *stream;
        if (hnsw_index_build(all, n, a->dim, SEMB_SIMILARITY_COSINE, NULL, &graph, &err))
            die("hnsw build", &err);
        *graph_s = timer_seconds() - g0;
        *graph_bytes = hnsw_index_serialized_size(graph);
        if (index_writer_set_size(&w, 6, *graph_bytes, &err) ||
            index_writer_stream(&w, 6, &stream, &err) ||
            hnsw_index_save(graph, stream, NULL, &err))
            die(path, &err);
        hnsw_index_free(graph);
        free(all);
        t0 = timer_seconds();
    }
    if (index_writer_commit(&w, &err))
        die(path, &err);
    seconds += timer_seconds() - t0;
    free(chunk);
    free(stored);
    free(ranges);
    free(offsets);
    free(texts);
    return seconds;
}

static int by_double(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return (a > b) - (a < b);
}

/* Mean share of the float32 index's top 10 found in this index's top 10. */
static double recall_at_10(const bench_args *a, const index_file *f, const float *queries)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/float32.idx", a->dir);
    index_file exact;
    semb_error err = {0};
    if (index_file_open(path, &exact, &err))
        return NAN;
    topk_entry *want = malloc(BATCH * 10 * sizeof *want), *got = malloc(BATCH * 10 * sizeof *got);
    size_t per;
    search_params p = {.k = 10};
    if (exact_search(&exact, queries, BATCH, &p, want, &per, &err) ||
        exact_search(f, queries, BATCH, &p, got, &per, &err))
        die("recall", &err);
    size_t hits = 0;
    for (size_t q = 0; q < BATCH; q++)
        for (size_t i = 0; i < 10; i++)
            for (size_t j = 0; j < 10; j++)
                hits += want[q * 10 + i].document == got[q * 10 + j].document;
    index_file_close(&exact);
    free(want);
    free(got);
    return (double)hits / (BATCH * 10);
}

/* The graph loaded from the index's section, then searched at several ef; hits holds the
 * exact top 10 of the BATCH queries. One JSON object per ef. */
static void hnsw_rows(const index_file *f, const float *queries, const topk_entry *exact,
                      double graph_s, uint64_t graph_bytes)
{
    size_t n = (size_t)f->info.documents, dim = (size_t)f->info.dimension, got;
    semb_error err = {0};
    hnsw_index *graph;
    double t0 = timer_seconds();
    if (hnsw_index_load(f->hnsw, f->hnsw_size, (const float *)f->embeddings, n, (int)dim, &graph,
                        &err))
        die("hnsw load", &err);
    double load_s = timer_seconds() - t0;
    size_t idx[BATCH * 10];
    float scores[BATCH * 10];
    const size_t efs[] = {16, 32, 64, 100, 200};
    for (size_t e = 0; e < 5; e++) {
        double single[SINGLE];
        for (int i = 0; i < SINGLE; i++) {
            t0 = timer_seconds();
            if (hnsw_index_search(graph, queries + i * dim, 1, (int)dim, 10, efs[e], idx, scores,
                                  &got, &err))
                die("hnsw search", &err);
            single[i] = timer_seconds() - t0;
        }
        qsort(single, SINGLE, sizeof *single, by_double);
        t0 = timer_seconds();
        if (hnsw_index_search(graph, queries, BATCH, (int)dim, 10, efs[e], idx, scores, &got,
                              &err))
            die("hnsw search", &err);
        double batch_s = timer_seconds() - t0;
        size_t found = 0;
        for (size_t q = 0; q < BATCH; q++)
            for (size_t i = 0; i < 10; i++)
                for (size_t j = 0; j < 10; j++)
                    found += exact[q * 10 + i].document == idx[q * 10 + j];
        printf("{\"hnsw_ef\": %zu, \"graph_build_s\": %.1f, \"graph_mb\": %.1f, "
               "\"graph_load_s\": %.2f, \"single_query_ms\": %.3f, "
               "\"batch100_queries_per_s\": %.0f, \"recall@10\": %.4f}\n",
               efs[e], graph_s, (double)graph_bytes / 1e6, load_s, 1e3 * single[SINGLE / 2],
               BATCH / batch_s, (double)found / (BATCH * 10));
    }
    hnsw_index_free(graph);
}

static void parse(int argc, char **argv, bench_args *a)
{
    *a = (bench_args){.documents = 1000000, .dim = 384, .precision = SEMB_STORAGE_FLOAT32,
                      .dir = "bench/out"};
    semb_error err = {0};
    for (int i = 1; i + 1 < argc; i += 2) {
        if (strcmp(argv[i], "--documents") == 0)
            a->documents = strtoull(argv[i + 1], NULL, 10);
        else if (strcmp(argv[i], "--dim") == 0)
            a->dim = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--threads") == 0)
            a->threads = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--dir") == 0)
            a->dir = argv[i + 1];
        else if (strcmp(argv[i], "--hnsw") == 0)
            a->hnsw = atoi(argv[i + 1]);
        else if (strcmp(argv[i], "--data") == 0)
            a->clustered = strcmp(argv[i + 1], "clustered") == 0;
        else if (strcmp(argv[i], "--precision") != 0 ||
                 semb_storage_precision_from_name(argv[i + 1], &a->precision, &err))
            die(argv[i], &err);
    }
    if (a->documents == 0 || a->dim <= 0)
        die("--documents and --dim must be positive", NULL);
    if (a->hnsw && a->precision != SEMB_STORAGE_FLOAT32)
        die("--hnsw: float32 only here", NULL);
    use_clustered = a->clustered;
}

int main(int argc, char **argv)
{
    bench_args a;
    parse(argc, argv, &a);
    semb_set_threads(a.threads);
    mkdir(a.dir, 0755);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s.idx", a.dir, semb_storage_precision_name(a.precision));
    double graph_s = 0;
    uint64_t graph_bytes = 0;
    double build_s = write_index(&a, path, &graph_s, &graph_bytes);
    index_file f;
    semb_error err = {0};
    double t0 = timer_seconds();
    if (index_file_open(path, &f, &err))
        die(path, &err);
    double open_s = timer_seconds() - t0;
    float *queries = malloc((size_t)BATCH * a.dim * sizeof *queries);
    corpus_rows(2, 0, BATCH, a.dim, queries);
    topk_entry *hits = malloc(BATCH * 10 * sizeof *hits);
    size_t per;
    search_params p = {.k = 10};
    double single[SINGLE];
    for (int i = 0; i < SINGLE; i++) {
        t0 = timer_seconds();
        if (exact_search(&f, queries + (size_t)i * a.dim, 1, &p, hits, &per, &err))
            die("search", &err);
        single[i] = timer_seconds() - t0;
    }
    qsort(single, SINGLE, sizeof *single, by_double);
    t0 = timer_seconds();
    if (exact_search(&f, queries, BATCH, &p, hits, &per, &err))
        die("search", &err);
    double batch_s = timer_seconds() - t0;
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    double recall = a.precision == SEMB_STORAGE_FLOAT32 ? 1.0 : recall_at_10(&a, &f, queries);
    printf("{\"precision\": \"%s\", \"documents\": %zu, \"dim\": %d, \"threads\": %d, "
           "\"index_mb\": %.1f, \"build_s\": %.2f, \"open_s\": %.3f, \"single_query_ms\": %.1f, "
           "\"batch100_queries_per_s\": %.0f, \"peak_rss_mb\": %.0f, \"recall@10\": %.4f}\n",
           semb_storage_precision_name(a.precision), a.documents, a.dim, omp_get_max_threads(),
           (double)f.map_size / 1e6, build_s, open_s, 1e3 * single[SINGLE / 2], BATCH / batch_s,
           (double)ru.ru_maxrss / 1024, recall);
    if (a.hnsw)
        hnsw_rows(&f, queries, hits, graph_s, graph_bytes);
    index_file_close(&f);
    free(queries);
    free(hits);
    return 0;
}
