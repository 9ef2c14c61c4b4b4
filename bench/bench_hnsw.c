/* Approximate search (src/index/hnsw_index) against exact search, for bench/README.md
 * ("Approximate search (HNSW)"): build time, graph size, queries/s on one thread and on all
 * threads, and recall@10 against exact top-10 for a range of ef; exact search timed as one
 * blocked similarity_matrix over all queries (its best case: matrix-matrix products) and
 * as one query at a time (what an interactive search does).
 *
 *   bench_hnsw [--n 100000] [--dim 384] [--queries 1000] [--data random|clustered]
 *              [--clusters 1000] [--similarity cosine|dot|euclidean] [--m 16]
 *              [--ef-construction 200] [--ef 16,32,64,128,256] [--seed 1]
 *
 * random: Gaussian vectors normalised to unit length (uniform on the sphere). clustered:
 * centres uniform on the sphere, each point centre + N(0, 0.5^2 / dim) per coordinate, then
 * normalised (points of a cluster have cosine about 0.9 to their centre, like embeddings
 * of one topic). Queries are drawn the same way with another seed, never from the index. */
#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "core/timer.h"
#include "index/hnsw_index.h"
#include "model/similarity.h"

#define K 10

typedef struct bench_args {
    size_t n, queries;
    int dim, clusters;
    const char *data;
    semb_similarity similarity;
    hnsw_index_options options;
    char ef_list[128];
    uint64_t seed;
} bench_args;

static void *alloc_or_die(size_t bytes)
{
    void *p = malloc(bytes);
    if (!p) {
        fprintf(stderr, "bench_hnsw: out of memory (%zu bytes)\n", bytes);
        exit(1);
    }
    return p;
}

static float *make_vectors(const bench_args *a, size_t n, uint64_t point_seed)
{
    rng_state rng;
    float *v = alloc_or_die(sizeof(float) * n * a->dim), *centres = NULL;
    if (strcmp(a->data, "clustered") == 0) {
        centres = alloc_or_die(sizeof(float) * a->clusters * a->dim);
        rng_seed(&rng, a->seed);
        for (size_t i = 0; i < (size_t)a->clusters * a->dim; i++)
            centres[i] = rng_normal(&rng);
        similarity_normalize_rows(centres, (size_t)a->clusters, a->dim);
    }
    rng_seed(&rng, point_seed);
    float spread = 0.5f / sqrtf((float)a->dim);
    for (size_t i = 0; i < n; i++) {
        const float *c = centres ? centres + (rng_next_u64(&rng) % (uint64_t)a->clusters) * a->dim : NULL;
        for (int d = 0; d < a->dim; d++)
            v[i * a->dim + d] = c ? c[d] + spread * rng_normal(&rng) : rng_normal(&rng);
    }
    similarity_normalize_rows(v, n, a->dim);
    free(centres);
    return v;
}

/* Keeps row[0 .. k) best first (equal scores by lower index). */
static void topk_insert(size_t *idx, float *best, size_t *count, float score, size_t index)
{
    size_t at = *count < K ? (*count)++ : K;
    if (at == K) {
        if (!(score > best[K - 1]))
            return;
        at = K - 1;
    }
    for (; at > 0 && score > best[at - 1]; at--) {
        idx[at] = idx[at - 1];
        best[at] = best[at - 1];
    }
    idx[at] = index;
    best[at] = score;
}

/* Exact top-K of nq queries by similarity_matrix over corpus blocks; returns seconds. */
static double exact_search(const bench_args *a, const float *corpus, const float *queries,
                           size_t nq, size_t *idx)
{
    const size_t block = 8192;
    float *scores = alloc_or_die(sizeof(float) * nq * block), *best = alloc_or_die(sizeof(float) * nq * K);
    size_t *count = calloc(nq, sizeof *count);
    double start = timer_seconds();
    for (size_t b0 = 0; b0 < a->n; b0 += block) {
        size_t nb = a->n - b0 < block ? a->n - b0 : block;
        similarity_matrix(a->similarity, queries, nq, corpus + b0 * a->dim, nb, a->dim, scores);
#pragma omp parallel for schedule(static)
        for (size_t q = 0; q < nq; q++)
            for (size_t j = 0; j < nb; j++)
                topk_insert(idx + q * K, best + q * K, &count[q], scores[q * nb + j], b0 + j);
    }
    double seconds = timer_seconds() - start;
    free(scores);
    free(best);
    free(count);
    return seconds;
}

static double recall(const size_t *got, const size_t *want, size_t nq)
{
    size_t agree = 0;
    for (size_t q = 0; q < nq; q++)
        for (int i = 0; i < K; i++)
            for (int j = 0; j < K; j++)
                agree += got[q * K + i] == want[q * K + j];
    return (double)agree / (double)(nq * K);
}

static double timed_search(const hnsw_index *index, const float *queries, size_t nq, int dim,
                           size_t ef, int threads, size_t *idx, float *scores)
{
    omp_set_num_threads(threads);
    size_t hits;
    semb_error err;
    double start = timer_seconds();
    if (hnsw_index_search(index, queries, nq, dim, K, ef, idx, scores, &hits, &err) != SEMB_OK) {
        fprintf(stderr, "bench_hnsw: search: %s\n", err.message);
        exit(1);
    }
    return timer_seconds() - start;
}

/* Save into memory and load back (what opening an index file does after mmap). */
static void time_save_load(const hnsw_index *index, const float *corpus, const bench_args *a)
{
    char *buffer;
    size_t size;
    FILE *f = open_memstream(&buffer, &size);
    semb_error err;
    hnsw_index *loaded;
    double start = timer_seconds();
    if (!f || hnsw_index_save(index, f, NULL, &err) != SEMB_OK || fclose(f) != 0) {
        fprintf(stderr, "bench_hnsw: save failed\n");
        exit(1);
    }
    double saved = timer_seconds();
    if (hnsw_index_load(buffer, size, corpus, a->n, a->dim, &loaded, &err) != SEMB_OK) {
        fprintf(stderr, "bench_hnsw: load: %s\n", err.message);
        exit(1);
    }
    printf("save %.2f s, load from memory %.2f s (checks and hash included)\n", saved - start,
           timer_seconds() - saved);
    hnsw_index_free(loaded);
    free(buffer);
}

static void run(const bench_args *a)
{
    int threads = omp_get_max_threads();
    float *corpus = make_vectors(a, a->n, a->seed + 1), *queries = make_vectors(a, a->queries, a->seed + 2);
    size_t *want = alloc_or_die(sizeof(size_t) * a->queries * K), *got = alloc_or_die(sizeof(size_t) * a->queries * K);
    float *scores = alloc_or_die(sizeof(float) * a->queries * K);
    printf("== %zu x %d %s vectors, %s, %zu queries, M %d, ef_construction %d, %d threads\n", a->n,
           a->dim, a->data, semb_similarity_name(a->similarity), a->queries, a->options.m,
           a->options.ef_construction, threads);
    double exact_batch = exact_search(a, corpus, queries, a->queries, want);
    size_t single = a->queries < 50 ? a->queries : 50;
    double exact_one = 0;
    for (size_t q = 0; q < single; q++)
        exact_one += exact_search(a, corpus, queries + q * a->dim, 1, got);
    printf("exact: batched %.0f queries/s (%.3f ms/query), one query at a time %.1f queries/s "
           "(%.2f ms/query), %d threads\n", a->queries / exact_batch, 1e3 * exact_batch / a->queries,
           single / exact_one, 1e3 * exact_one / single, threads);
    fflush(stdout);

    hnsw_index *index;
    semb_error err;
    double start = timer_seconds();
    if (hnsw_index_build(corpus, a->n, a->dim, a->similarity, &a->options, &index, &err) != SEMB_OK) {
        fprintf(stderr, "bench_hnsw: build: %s\n", err.message);
        exit(1);
    }
    double build = timer_seconds() - start;
    uint64_t size = hnsw_index_serialized_size(index);
    printf("build: %.1f s (%.0f vectors/s, %d threads); graph %.1f MB (%.1f bytes/vector), "
           "vectors %.1f MB\n", build, a->n / build, threads, size / 1e6, (double)size / a->n,
           a->n * a->dim * 4.0 / 1e6);
    time_save_load(index, corpus, a);
    printf("| ef | recall@10 | queries/s, 1 thread | queries/s, %d threads | ms/query, 1 thread | "
           "speed-up vs exact one at a time | vs exact batched |\n|---:|---:|---:|---:|---:|---:|---:|\n",
           threads);
    char list[128];
    snprintf(list, sizeof list, "%s", a->ef_list);
    for (char *tok = strtok(list, ","); tok; tok = strtok(NULL, ",")) {
        size_t ef = strtoul(tok, NULL, 10);
        double t1 = timed_search(index, queries, a->queries, a->dim, ef, 1, got, scores);
        double tn = timed_search(index, queries, a->queries, a->dim, ef, threads, got, scores);
        printf("| %zu | %.4f | %.0f | %.0f | %.3f | %.0fx | %.1fx |\n", ef,
               recall(got, want, a->queries), a->queries / t1, a->queries / tn,
               1e3 * t1 / a->queries, (exact_one / single) / (tn / a->queries),
               exact_batch / tn);
        fflush(stdout);
    }
    hnsw_index_free(index);
    free(corpus);
    free(queries);
    free(want);
    free(got);
    free(scores);
}

static int parse_args(int argc, char **argv, bench_args *a)
{
    *a = (bench_args){.n = 100000, .queries = 1000, .dim = 384, .clusters = 1000, .data = "random",
                      .similarity = SEMB_SIMILARITY_COSINE, .ef_list = "16,32,64,128,256", .seed = 1};
    hnsw_index_options_default(&a->options);
    for (int i = 1; i + 1 < argc; i += 2) {
        const char *k = argv[i], *v = argv[i + 1];
        if (!strcmp(k, "--n")) a->n = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--dim")) a->dim = atoi(v);
        else if (!strcmp(k, "--queries")) a->queries = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--data")) a->data = v;
        else if (!strcmp(k, "--clusters")) a->clusters = atoi(v);
        else if (!strcmp(k, "--m")) a->options.m = atoi(v);
        else if (!strcmp(k, "--ef-construction")) a->options.ef_construction = atoi(v);
        else if (!strcmp(k, "--ef")) snprintf(a->ef_list, sizeof a->ef_list, "%s", v);
        else if (!strcmp(k, "--seed")) a->seed = strtoull(v, NULL, 10);
        else if (!strcmp(k, "--similarity")) {
            if (semb_similarity_from_name(v, &a->similarity) != SEMB_OK)
                return 1;
        } else
            return 1;
    }
    if ((argc - 1) % 2 || a->n == 0 || a->queries == 0 || a->dim < 1 || a->clusters < 1 ||
        (strcmp(a->data, "random") && strcmp(a->data, "clustered")))
        return 1;
    return 0;
}

int main(int argc, char **argv)
{
    bench_args a;
    if (parse_args(argc, argv, &a)) {
        fprintf(stderr, "usage: bench_hnsw [--n N] [--dim D] [--queries Q] [--data random|clustered] "
                        "[--clusters C] [--similarity S] [--m M] [--ef-construction E] "
                        "[--ef LIST] [--seed S]\n");
        return 2;
    }
    run(&a);
    return 0;
}
