/* src/index/hnsw_*: approximate search through hnswlib. Recall@10 against exact search on
 * random and clustered vectors for cosine, dot and euclidean; hit order and scores (ties by
 * lower index); the distance kernels against their generic reference; save at an offset ->
 * load from memory -> identical results; truncated and corrupted blobs failing cleanly (or,
 * where a corruption leaves a valid graph, searching without fault); the exact fallback of
 * a disconnected graph; k > n, n = 1 and refused arguments. Needs nothing from shared/. */
#include "support.h"

#include <math.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/rng.h"
#include "index/hnsw_distance.h"
#include "index/hnsw_index.h"
#include "model/similarity.h"

static const semb_similarity searchable[] = {SEMB_SIMILARITY_COSINE, SEMB_SIMILARITY_DOT,
                                             SEMB_SIMILARITY_EUCLIDEAN};

static void assert_message_contains(const semb_error *err, const char *part)
{
    if (!strstr(err->message, part))
        fail_msg("error '%s' does not contain '%s'", err->message, part);
}

static float *random_vectors(size_t n, int dim, uint64_t seed)
{
    rng_state rng;
    rng_seed(&rng, seed);
    float *v = malloc(sizeof(float) * n * dim);
    for (size_t i = 0; i < n * dim; i++)
        v[i] = rng_uniform(&rng) * 2 - 1;
    return v;
}

/* n points around `clusters` random centres (each coordinate of a centre uniform in [-1, 1],
 * points centre + N(0, 0.15^2) per coordinate): embeddings cluster like this, uniform noise
 * does not. Queries drawn with the same seed's centres and another point seed. */
static float *clustered_vectors(size_t n, int dim, int clusters, uint64_t seed, uint64_t point_seed)
{
    float *centres = random_vectors((size_t)clusters, dim, seed);
    rng_state rng;
    rng_seed(&rng, point_seed);
    float *v = malloc(sizeof(float) * n * dim);
    for (size_t i = 0; i < n; i++) {
        const float *c = centres + (rng_next_u64(&rng) % (uint64_t)clusters) * dim;
        for (int d = 0; d < dim; d++)
            v[i * dim + d] = c[d] + 0.15f * rng_normal(&rng);
    }
    free(centres);
    return v;
}

/* Top-k by double-precision scores over all n, best first, equal scores by lower index. */
static void exact_topk(semb_similarity sim, const float *vectors, size_t n, int dim,
                       const float *query, size_t k, size_t *out, float *out_scores)
{
    float *v = malloc(sizeof(float) * n * dim), *q = malloc(sizeof(float) * dim);
    memcpy(v, vectors, sizeof(float) * n * dim);
    memcpy(q, query, sizeof(float) * dim);
    similarity_prepare(sim, v, n, dim);
    similarity_prepare(sim, q, 1, dim);
    size_t count = 0;
    for (size_t i = 0; i < n; i++) {
        float s = (float)similarity_pair(sim, q, v + i * dim, dim);
        size_t at = count < k ? count++ : k;
        if (at == k && !(s > out_scores[k - 1]))
            continue;
        if (at == k)
            at = k - 1;
        for (; at > 0 && s > out_scores[at - 1]; at--) {
            out[at] = out[at - 1];
            out_scores[at] = out_scores[at - 1];
        }
        out[at] = i;
        out_scores[at] = s;
    }
    free(v);
    free(q);
}

static hnsw_index *build_ok(const float *v, size_t n, int dim, semb_similarity sim,
                            const hnsw_index_options *opts)
{
    hnsw_index *index;
    semb_error err;
    if (hnsw_index_build(v, n, dim, sim, opts, &index, &err) != SEMB_OK)
        fail_msg("build: %s", err.message);
    return index;
}

static void search_ok(const hnsw_index *index, const float *q, size_t nq, int dim, size_t k,
                      size_t ef, size_t *idx, float *scores, size_t want_hits)
{
    semb_error err;
    size_t hits;
    if (hnsw_index_search(index, q, nq, dim, k, ef, idx, scores, &hits, &err) != SEMB_OK)
        fail_msg("search: %s", err.message);
    assert_int_equal(hits, want_hits);
}

/* Mean recall@10 of the default search, after checking each hit's score is its exact score
 * and each row is best first. */
static double recall_at_10(semb_similarity sim, const float *v, size_t n, const float *q,
                           size_t nq, int dim)
{
    hnsw_index *index = build_ok(v, n, dim, sim, NULL);
    size_t *idx = malloc(sizeof(size_t) * nq * 10), want[10];
    float *scores = malloc(sizeof(float) * nq * 10), want_scores[10];
    search_ok(index, q, nq, dim, 10, 0, idx, scores, 10);
    size_t agree = 0;
    float *pq = malloc(sizeof(float) * dim), *pv = malloc(sizeof(float) * dim);
    for (size_t i = 0; i < nq; i++) {
        exact_topk(sim, v, n, dim, q + i * dim, 10, want, want_scores);
        for (int j = 0; j < 10; j++) {
            memcpy(pq, q + i * dim, sizeof(float) * dim);
            memcpy(pv, v + idx[i * 10 + j] * dim, sizeof(float) * dim);
            similarity_prepare(sim, pq, 1, dim);
            similarity_prepare(sim, pv, 1, dim);
            assert_float_equal(scores[i * 10 + j], (float)similarity_pair(sim, pq, pv, dim), 0);
            if (j > 0)
                assert_true(scores[i * 10 + j] <= scores[i * 10 + j - 1]);
            for (int w = 0; w < 10; w++)
                agree += idx[i * 10 + j] == want[w];
        }
    }
    free(pq);
    free(pv);
    free(idx);
    free(scores);
    hnsw_index_free(index);
    return (double)agree / (10.0 * nq);
}

static void test_recall_random_and_clustered(void **state)
{
    const size_t n = 5000, nq = 200;
    const int dim = 48;
    float *random = random_vectors(n, dim, 1), *random_q = random_vectors(nq, dim, 2);
    float *clustered = clustered_vectors(n, dim, 50, 3, 4);
    float *clustered_q = clustered_vectors(nq, dim, 50, 3, 5);
    for (int s = 0; s < 3; s++) {
        double r1 = recall_at_10(searchable[s], random, n, random_q, nq, dim);
        double r2 = recall_at_10(searchable[s], clustered, n, clustered_q, nq, dim);
        print_message("recall@10 %s: random %.4f, clustered %.4f\n",
                      semb_similarity_name(searchable[s]), r1, r2);
        if (r1 < 0.95 || r2 < 0.95)
            fail_msg("%s: recall@10 random %.4f, clustered %.4f, want >= 0.95",
                     semb_similarity_name(searchable[s]), r1, r2);
    }
    free(random);
    free(random_q);
    free(clustered);
    free(clustered_q);
}

static void test_distance_kernels_match_reference(void **state)
{
    static const size_t dims[] = {1, 3, 7, 8, 9, 15, 16, 17, 31, 33, 48, 384, 385};
    float *a = random_vectors(385, 1, 11), *b = random_vectors(385, 1, 12);
    for (int ip = 0; ip < 2; ip++)
        for (size_t i = 0; i < sizeof dims / sizeof dims[0]; i++) {
            size_t dim = dims[i];
            double want = 0;
            for (size_t d = 0; d < dim; d++)
                want += ip ? (double)a[d] * b[d] : ((double)a[d] - b[d]) * ((double)a[d] - b[d]);
            if (ip)
                want = 1 - want;
            float generic = hnsw_distance_using(ip, KERNEL_PATH_GENERIC)(a, b, &dim);
            float fast = hnsw_distance_using(ip, KERNEL_PATH_AVX2)(a, b, &dim);
            if (fabs(generic - want) > 1e-5 * (1 + fabs(want)) || fabs(fast - generic) > 1e-5 * (1 + fabs(want)))
                fail_msg("%s dim %zu: generic %.8g, avx2 %.8g, double %.8g", ip ? "ip" : "l2", dim,
                         generic, fast, want);
        }
    /* hand values: a.b = 16 (1 - 16 = -15), |a - b|^2 = 18 */
    float x[] = {3, 4, 0}, y[] = {0, 4, 3};
    size_t three = 3;
    for (int path = 0; path < 2; path++) {
        assert_float_equal(hnsw_distance_using(true, (kernel_path)path)(x, y, &three), -15, 0);
        assert_float_equal(hnsw_distance_using(false, (kernel_path)path)(x, y, &three), 18, 0);
    }
    free(a);
    free(b);
}

/* Duplicates tie: with k = n the whole order is exact search's, equal scores by index. */
static void test_order_and_ties(void **state)
{
    const int dim = 4;
    float v[12 * 4];
    float *base = random_vectors(6, dim, 21);
    for (int i = 0; i < 12; i++) /* rows i and i + 6 equal, appearing in either order */
        memcpy(v + i * dim, base + (i % 6) * dim, sizeof(float) * dim);
    float q[4] = {0.3f, -0.2f, 0.5f, 0.1f};
    for (int s = 0; s < 3; s++) {
        hnsw_index *index = build_ok(v, 12, dim, searchable[s], NULL);
        size_t idx[12], want[12];
        float scores[12], want_scores[12];
        search_ok(index, q, 1, dim, 12, 0, idx, scores, 12);
        exact_topk(searchable[s], v, 12, dim, q, 12, want, want_scores);
        for (int j = 0; j < 12; j++) {
            assert_int_equal(idx[j], want[j]);
            assert_float_equal(scores[j], want_scores[j], 0);
        }
        for (int j = 0; j < 12; j += 2) { /* each pair: the same score, lower index first */
            assert_float_equal(scores[j], scores[j + 1], 0);
            assert_int_equal(idx[j] + 6, idx[j + 1]);
        }
        hnsw_index_free(index);
    }
    free(base);
}

static void test_k_above_n_and_single_vector(void **state)
{
    const int dim = 5;
    float *v = random_vectors(5, dim, 31), *q = random_vectors(2, dim, 32);
    hnsw_index *index = build_ok(v, 5, dim, SEMB_SIMILARITY_COSINE, NULL);
    size_t idx[2 * 10], want[5];
    float scores[2 * 10], want_scores[5];
    search_ok(index, q, 2, dim, 10, 0, idx, scores, 5);
    for (int i = 0; i < 2; i++) { /* rows have the caller's stride k = 10 */
        exact_topk(SEMB_SIMILARITY_COSINE, v, 5, dim, q + i * dim, 5, want, want_scores);
        for (int j = 0; j < 5; j++)
            assert_int_equal(idx[i * 10 + j], want[j]);
    }
    hnsw_index_free(index);

    index = build_ok(v, 1, dim, SEMB_SIMILARITY_EUCLIDEAN, NULL);
    assert_int_equal(hnsw_index_count(index), 1);
    search_ok(index, q, 2, dim, 3, 1, idx, scores, 1);
    assert_int_equal(idx[0], 0);
    assert_int_equal(idx[3], 0);
    assert_float_equal(scores[0], (float)similarity_pair(SEMB_SIMILARITY_EUCLIDEAN, q, v, dim), 0);
    hnsw_index_free(index);
    free(v);
    free(q);
}

static void test_refused_arguments(void **state)
{
    const int dim = 8;
    float *v = random_vectors(20, dim, 41);
    hnsw_index *index = (hnsw_index *)1;
    semb_error err;
    assert_int_equal(hnsw_index_build(v, 20, dim, SEMB_SIMILARITY_MANHATTAN, NULL, &index, &err),
                     SEMB_ERR_UNSUPPORTED);
    assert_null(index);
    assert_message_contains(&err, "manhattan");
    assert_int_equal(hnsw_index_build(v, 0, dim, SEMB_SIMILARITY_COSINE, NULL, &index, &err),
                     SEMB_ERR_INVALID_ARG);
    hnsw_index_options opts;
    hnsw_index_options_default(&opts);
    opts.m = 1;
    assert_int_equal(hnsw_index_build(v, 20, dim, SEMB_SIMILARITY_COSINE, &opts, &index, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "M = 1");
    opts.m = 16;
    opts.ef_construction = 0;
    assert_int_equal(hnsw_index_build(v, 20, dim, SEMB_SIMILARITY_COSINE, &opts, &index, &err),
                     SEMB_ERR_INVALID_ARG);
    v[3 * dim + 5] = NAN;
    assert_int_equal(hnsw_index_build(v, 20, dim, SEMB_SIMILARITY_DOT, NULL, &index, &err),
                     SEMB_ERR_INPUT);
    assert_message_contains(&err, "vector 3, dimension 5");
    v[3 * dim + 5] = 0.5f;

    index = build_ok(v, 20, dim, SEMB_SIMILARITY_DOT, NULL);
    size_t idx[4], hits = 99;
    float scores[4];
    assert_int_equal(hnsw_index_search(index, v, 1, dim - 1, 4, 0, idx, scores, &hits, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "dimension 7, the index 8");
    assert_int_equal(hits, 0);
    assert_int_equal(hnsw_index_search(index, v, 1, dim, 0, 0, idx, scores, &hits, &err),
                     SEMB_ERR_INVALID_ARG);
    float bad_query[8] = {0, 0, INFINITY};
    assert_int_equal(hnsw_index_search(index, bad_query, 1, dim, 4, 0, idx, scores, &hits, &err),
                     SEMB_ERR_INPUT);
    hnsw_index_free(index);
    free(v);
}

/* ---- save and load ---- */

typedef struct blob {
    char *file; /* the whole "container file" */
    size_t file_size, offset, size;
} blob;

/* Saves index into a memory stream after `offset` bytes of something else. */
static blob save_at(const hnsw_index *index, size_t offset)
{
    blob b = {0};
    FILE *f = open_memstream(&b.file, &b.file_size);
    for (size_t i = 0; i < offset; i++)
        fputc('x', f);
    uint64_t written;
    semb_error err;
    if (hnsw_index_save(index, f, &written, &err) != SEMB_OK)
        fail_msg("save: %s", err.message);
    assert_int_equal((size_t)ftell(f), offset + written);
    fputs("trailer", f);
    fclose(f);
    assert_int_equal(written, hnsw_index_serialized_size(index));
    b.offset = offset;
    b.size = (size_t)written;
    return b;
}

static void test_save_load_identical(void **state)
{
    const size_t n = 1500, nq = 50, k = 10;
    const int dim = 24;
    float *v = clustered_vectors(n, dim, 20, 51, 52), *q = clustered_vectors(nq, dim, 20, 51, 53);
    for (int s = 0; s < 3; s++) {
        hnsw_index_options opts = {12, 100, 7};
        hnsw_index *index = build_ok(v, n, dim, searchable[s], &opts);
        blob b = save_at(index, 13); /* an odd offset: the loader reads unaligned */
        hnsw_index *loaded;
        semb_error err;
        if (hnsw_index_load(b.file + b.offset, b.size, v, n, dim, &loaded, &err) != SEMB_OK)
            fail_msg("load: %s", err.message);
        assert_int_equal(hnsw_index_count(loaded), n);
        assert_int_equal(hnsw_index_similarity(loaded), searchable[s]);
        hnsw_index_options got = hnsw_index_get_options(loaded);
        assert_int_equal(got.m, 12);
        assert_int_equal(got.ef_construction, 100);
        assert_int_equal(got.seed, 7);
        size_t ia[50 * 10], ib[50 * 10];
        float sa[50 * 10], sb[50 * 10];
        for (size_t ef = 10; ef <= 40; ef += 30) {
            search_ok(index, q, nq, dim, k, ef, ia, sa, k);
            search_ok(loaded, q, nq, dim, k, ef, ib, sb, k);
            assert_memory_equal(ia, ib, sizeof ia);
            assert_memory_equal(sa, sb, sizeof sa);
        }
        blob again = save_at(loaded, 0); /* a loaded graph saves to the same bytes */
        assert_int_equal(again.size, b.size);
        assert_memory_equal(again.file, b.file + b.offset, b.size);
        free(again.file);
        hnsw_index_free(loaded);
        hnsw_index_free(index);
        free(b.file);
    }
    free(v);
    free(q);
}

static void test_load_refuses_other_vectors(void **state)
{
    const int dim = 6;
    float *v = random_vectors(40, dim, 61);
    hnsw_index *index = build_ok(v, 40, dim, SEMB_SIMILARITY_COSINE, NULL), *loaded;
    blob b = save_at(index, 0);
    semb_error err;
    assert_int_equal(hnsw_index_load(b.file, b.size, v, 39, dim, &loaded, &err), SEMB_ERR_INVALID_ARG);
    assert_message_contains(&err, "built over 40 vectors of dimension 6, given 39 of 6");
    assert_int_equal(hnsw_index_load(b.file, b.size, v, 40, dim + 1, &loaded, &err),
                     SEMB_ERR_INVALID_ARG);
    v[17] += 0.25f;
    assert_int_equal(hnsw_index_load(b.file, b.size, v, 40, dim, &loaded, &err), SEMB_ERR_FORMAT);
    assert_message_contains(&err, "not the ones it was built from");
    assert_null(loaded);
    hnsw_index_free(index);
    free(b.file);
    free(v);
}

/* Loads a (possibly damaged) blob; a success must give a searchable index with full rows. */
static semb_status try_load(const char *data, size_t size, const float *v, size_t n, int dim,
                            semb_error *err)
{
    hnsw_index *loaded = (hnsw_index *)1;
    semb_status status = hnsw_index_load(data, size, v, n, dim, &loaded, err);
    if (status != SEMB_OK) {
        assert_null(loaded);
        return status;
    }
    size_t idx[3 * 7];
    float scores[3 * 7];
    search_ok(loaded, v, 3, dim, 7, 0, idx, scores, 7);
    for (int j = 0; j < 3 * 7; j++)
        assert_true(idx[j] < n);
    hnsw_index_free(loaded);
    return status;
}

static void test_truncated_blobs_fail(void **state)
{
    const size_t n = 300;
    const int dim = 8;
    float *v = random_vectors(n, dim, 71);
    hnsw_index_options opts = {6, 40, 1};
    hnsw_index *index = build_ok(v, n, dim, SEMB_SIMILARITY_EUCLIDEAN, &opts);
    blob b = save_at(index, 0);
    semb_error err;
    char *copy = malloc(b.size + 1);
    for (size_t size = 0; size < b.size; size += size < 80 ? 1 : 7) {
        memcpy(copy, b.file, size); /* exactly size bytes, so ASan sees any read beyond */
        semb_status status = try_load(copy, size, v, n, dim, &err);
        if (status != SEMB_ERR_FORMAT)
            fail_msg("truncated to %zu of %zu bytes: status %d (%s)", size, b.size, status,
                     err.message);
    }
    memcpy(copy, b.file, b.size);
    assert_int_equal(try_load(copy, b.size - 1, v, n, dim, &err), SEMB_ERR_FORMAT);
    assert_message_contains(&err, "truncated");
    copy[b.size] = 0;
    assert_int_equal(try_load(copy, b.size + 1, v, n, dim, &err), SEMB_ERR_FORMAT);
    assert_message_contains(&err, "1 bytes after its end");
    assert_int_equal(try_load(copy, b.size, v, n, dim, &err), SEMB_OK);
    free(copy);
    free(b.file);
    hnsw_index_free(index);
    free(v);
}

static void put_u32_at(char *p, size_t at, uint32_t value)
{
    memcpy(p + at, &value, 4);
}

/* Named corruptions, each refused with its message; then random byte damage anywhere,
 * which must fail cleanly or (a link redirected to another valid element) load and
 * search without fault. */
static void test_corrupt_blobs(void **state)
{
    const size_t n = 200;
    const int dim = 8;
    float *v = random_vectors(n, dim, 81);
    hnsw_index_options opts = {4, 20, 1};
    hnsw_index *index = build_ok(v, n, dim, SEMB_SIMILARITY_DOT, &opts);
    blob b = save_at(index, 0);
    char *c = malloc(b.size);
    const size_t levels = 64, labels = 64 + 4 * n, links = 64 + 8 * n;
    static const struct {
        size_t at;
        uint32_t value;
        const char *message;
    } cases[] = {
        {0, 0x41414141, "bad magic"}, {8, 2, "version 2"}, {12, 3, "similarity 3"},
        {20, 1, "M 1"}, {44, 5, "reserved 5"}, {40, 200, "entry point 200"},
        {28, 5000, "max level 5000"}, {levels + 4 * 9, 4000, "element 9: level 4000"},
        {labels + 4 * 5, 200, "element 5: label 200"}, {labels + 4 * 6, 0, "repeated"},
        {links, 9, "element 0 level 0: 9 links, at most 8"},
        {links + 4, 200, "element 0 level 0: link to 200"},
        {links + 4, 0, "link to 0"},
    };
    semb_error err;
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        memcpy(c, b.file, b.size);
        if (cases[i].at == labels + 4 * 6) /* a repeat of element 5's label */
            memcpy(c + labels + 4 * 6, c + labels + 4 * 5, 4);
        else
            put_u32_at(c, cases[i].at, cases[i].value);
        semb_status status = try_load(c, b.size, v, n, dim, &err);
        if (status != SEMB_ERR_FORMAT || !strstr(err.message, cases[i].message))
            fail_msg("case %zu: status %d, '%s', want '%s'", i, status, err.message,
                     cases[i].message);
    }
    rng_state rng;
    rng_seed(&rng, 82);
    int loaded = 0;
    for (int trial = 0; trial < 300; trial++) {
        memcpy(c, b.file, b.size);
        for (int hits = 0; hits < 1 + trial % 3; hits++)
            c[rng_next_u64(&rng) % b.size] = (char)rng_next_u64(&rng);
        semb_status status = try_load(c, b.size, v, n, dim, &err);
        loaded += status == SEMB_OK;
        assert_true(status == SEMB_OK || status == SEMB_ERR_FORMAT || status == SEMB_ERR_INVALID_ARG);
    }
    print_message("random damage: %d of 300 still valid graphs\n", loaded);
    free(c);
    free(b.file);
    hnsw_index_free(index);
    free(v);
}

/* A graph without a single link (a valid blob, every count 0): each search reaches only the
 * entry point, and the exact fallback must still give exact search's rows. */
static void test_disconnected_graph_falls_back_to_exact(void **state)
{
    const size_t n = 60;
    const int dim = 5;
    float *v = random_vectors(n, dim, 91), *q = random_vectors(4, dim, 92);
    hnsw_index *index = build_ok(v, n, dim, SEMB_SIMILARITY_COSINE, NULL);
    blob b = save_at(index, 0);
    size_t links = 64 + 8 * n, size = links;
    char *c = malloc(b.size);
    memcpy(c, b.file, links);
    for (size_t id = 0; id < n; id++) {
        uint32_t level;
        memcpy(&level, b.file + 64 + 4 * id, 4);
        for (uint32_t l = 0; l <= level; l++, size += 4)
            put_u32_at(c, size, 0);
    }
    hnsw_index *empty;
    semb_error err;
    if (hnsw_index_load(c, size, v, n, dim, &empty, &err) != SEMB_OK)
        fail_msg("load: %s", err.message);
    size_t idx[4 * 6], want[6];
    float scores[4 * 6], want_scores[6];
    search_ok(empty, q, 4, dim, 6, 0, idx, scores, 6);
    for (int i = 0; i < 4; i++) {
        exact_topk(SEMB_SIMILARITY_COSINE, v, n, dim, q + i * dim, 6, want, want_scores);
        for (int j = 0; j < 6; j++)
            assert_int_equal(idx[i * 6 + j], want[j]);
    }
    hnsw_index_free(empty);
    hnsw_index_free(index);
    free(c);
    free(b.file);
    free(v);
    free(q);
}

static void test_one_thread_build_is_reproducible(void **state)
{
    const int threads = omp_get_max_threads();
    omp_set_num_threads(1);
    float *v = clustered_vectors(500, 16, 10, 101, 102);
    hnsw_index *a = build_ok(v, 500, 16, SEMB_SIMILARITY_COSINE, NULL);
    hnsw_index *b = build_ok(v, 500, 16, SEMB_SIMILARITY_COSINE, NULL);
    blob ba = save_at(a, 0), bb = save_at(b, 0);
    assert_int_equal(ba.size, bb.size);
    assert_memory_equal(ba.file, bb.file, ba.size);
    omp_set_num_threads(threads);
    free(ba.file);
    free(bb.file);
    hnsw_index_free(a);
    hnsw_index_free(b);
    free(v);
}

/* Built in pieces whose byte sizes are not multiples of 8 (dim 5: the hash carries a partial
 * word across pieces), one thread: the same blob as one build over all the vectors. */
static void test_build_in_pieces_equals_whole(void **state)
{
    const int threads = omp_get_max_threads(), dim = 5;
    const size_t n = 300, pieces[] = {3, 1, 96, 200};
    omp_set_num_threads(1);
    float *v = clustered_vectors(n, dim, 6, 111, 112);
    hnsw_index *whole = build_ok(v, n, dim, SEMB_SIMILARITY_DOT, NULL), *parts;
    semb_error err = {0};
    assert_int_equal(hnsw_index_begin(n, dim, SEMB_SIMILARITY_DOT, NULL, &parts, &err), SEMB_OK);
    size_t at = 0;
    for (size_t i = 0; i < 4; i++) {
        /* an incomplete index is not saved */
        assert_int_equal(hnsw_index_save(parts, stderr, NULL, &err), SEMB_ERR_INVALID_ARG);
        assert_int_equal(hnsw_index_add(parts, v + at * dim, pieces[i], &err), SEMB_OK);
        at += pieces[i];
    }
    assert_int_equal(hnsw_index_add(parts, v, 1, &err), SEMB_ERR_INVALID_ARG);
    blob a = save_at(whole, 0), b = save_at(parts, 0);
    assert_int_equal(a.size, b.size);
    assert_memory_equal(a.file, b.file, a.size);
    hnsw_index_free(parts);
    /* a NaN is named by its place in the whole sequence */
    assert_int_equal(hnsw_index_begin(n, dim, SEMB_SIMILARITY_DOT, NULL, &parts, &err), SEMB_OK);
    assert_int_equal(hnsw_index_add(parts, v, 10, &err), SEMB_OK);
    v[12 * dim + 4] = NAN;
    assert_int_equal(hnsw_index_add(parts, v + 10 * dim, 10, &err), SEMB_ERR_INPUT);
    assert_message_contains(&err, "vector 12, dimension 4");
    omp_set_num_threads(threads);
    hnsw_index_free(parts);
    hnsw_index_free(whole);
    free(a.file);
    free(b.file);
    free(v);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_distance_kernels_match_reference),
        cmocka_unit_test(test_recall_random_and_clustered),
        cmocka_unit_test(test_order_and_ties),
        cmocka_unit_test(test_k_above_n_and_single_vector),
        cmocka_unit_test(test_refused_arguments),
        cmocka_unit_test(test_save_load_identical),
        cmocka_unit_test(test_load_refuses_other_vectors),
        cmocka_unit_test(test_truncated_blobs_fail),
        cmocka_unit_test(test_corrupt_blobs),
        cmocka_unit_test(test_disconnected_graph_falls_back_to_exact),
        cmocka_unit_test(test_one_thread_build_is_reproducible),
        cmocka_unit_test(test_build_in_pieces_equals_whole),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
