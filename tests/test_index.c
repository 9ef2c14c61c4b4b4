/* Search index: the top-k heap against a full sort (ties, NaN), int8 and binary quantization
 * against values computed by hand as numpy does, Hamming distance against the bit-by-bit
 * reference, the index file (round trip of each precision, truncation at every offset of
 * the header and a sample beyond, byte flips), exact search against the scalar reference for
 * every precision and similarity (several corpus blocks and query tiles, k beyond the
 * corpus, exact ties in corpus order), and semb_index_build / semb_index_search with a
 * fixture model (skipped without shared/). */
#include "support.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "index/exact_search.h"
#include "index/index_file.h"
#include "index/quantize.h"
#include "model/similarity.h"
#include "index/topk.h"

static uint64_t rng_state = 88172645463325252ull;

static uint64_t next_random(void)
{
    rng_state ^= rng_state << 13;
    rng_state ^= rng_state >> 7;
    rng_state ^= rng_state << 17;
    return rng_state;
}

static float uniform(void)
{
    return (float)((double)(next_random() >> 11) / 9007199254740992.0) * 2.0f - 1.0f;
}

/* ---- top-k ---- */

static void test_topk_matches_sort_with_ties(void **state)
{
    enum { N = 500 };
    topk_entry all[N], kept[N];
    for (int round = 0; round < 40; round++) {
        for (size_t i = 0; i < N; i++) /* few distinct values: many ties */
            all[i] = (topk_entry){(float)(next_random() % 7), i};
        if (round % 5 == 0)
            all[next_random() % N].score = NAN;
        size_t k = 1 + next_random() % (round < 20 ? 20 : N + 10);
        topk heap;
        topk_init(&heap, kept, k);
        for (size_t j = 0; j < N; j++) { /* offered in a scrambled order */
            size_t i = (j * 7919) % N;
            topk_offer(&heap, all[i].score, all[i].document);
        }
        size_t got = topk_sort(&heap);
        topk_sort_reference(all, N);
        assert_int_equal(got, k < N ? k : N);
        for (size_t r = 0; r < got; r++) {
            assert_int_equal(kept[r].document, all[r].document);
            if (r)
                assert_true(topk_before(kept[r - 1].score, kept[r - 1].document, kept[r].score,
                                        kept[r].document));
        }
    }
}

static void test_topk_order_by_hand(void **state)
{
    topk_entry e[3];
    topk heap;
    topk_init(&heap, e, 3);
    const float scores[] = {0.5f, NAN, 0.9f, 0.5f, 0.9f, -1.0f};
    for (size_t i = 0; i < 6; i++)
        topk_offer(&heap, scores[i], i);
    assert_int_equal(topk_sort(&heap), 3);
    /* 0.9 (2), 0.9 (4), 0.5 (0): equal scores in corpus order; NaN last of all */
    assert_int_equal(e[0].document, 2);
    assert_int_equal(e[1].document, 4);
    assert_int_equal(e[2].document, 0);
    /* NaN ranks as -infinity: below every number, tied with -infinity */
    assert_false(topk_before(NAN, 0, -1e30f, 1));
    assert_true(topk_before(NAN, 0, -INFINITY, 1));
    assert_true(topk_before(-INFINITY, 0, NAN, 1));
}

/* ---- quantization ---- */

static void test_int8_by_hand(void **state)
{
    /* calibration rows; numpy: steps = (max - min) / 255 in float32, codes =
     * ((x - starts) / steps - 128).astype(np.int8) (float32 throughout) */
    const float rows[3][3] = {{-1.0f, 0.0f, 0.3f}, {1.0f, 2.55f, 0.3f}, {0.5f, 1.0f, 0.3f}};
    float min[3], max[3], starts[3], steps[3];
    int8_calibration cal;
    int8_calibration_init(&cal, 3, min, max);
    int8_calibration_add(&cal, &rows[0][0], 3);
    int8_calibration_finish(&cal, starts, steps);
    assert_true(starts[0] == -1.0f && starts[1] == 0.0f && starts[2] == 0.3f);
    assert_true(steps[0] == 0.007843137718737125f && steps[1] == 0.009999999776482582f &&
                steps[2] == 0.0f);
    int8_t codes[5][3];
    quantize_int8_rows(&rows[0][0], 3, 3, starts, steps, &codes[0][0]);
    const float outside[2][3] = {{0.0f, 1.3f, 0.3f}, {2.0f, -1.0f, 0.3f}};
    quantize_int8_rows(&outside[0][0], 2, 3, starts, steps, &codes[3][0]);
    /* (x - start) / step: 0, 254.99998 -> 126 (the maximum itself truncates below 127),
     * 191.24998 -> 63, 127.49999 -> 0, 382.5 clips to 127; 255 -> 127, 100 -> -28,
     * 130 -> 2, -100 clips to -128; a constant dimension is -128 */
    const int8_t want[5][3] = {{-128, -128, -128}, {126, 127, -128}, {63, -28, -128},
                               {0, 2, -128}, {127, -128, -128}};
    for (int i = 0; i < 5; i++)
        for (int d = 0; d < 3; d++)
            if (codes[i][d] != want[i][d])
                fail_msg("row %d dim %d: code %d, want %d", i, d, codes[i][d], want[i][d]);
    float back[3];
    dequantize_int8_rows(&codes[2][0], 1, 3, starts, steps, back);
    /* bucket midpoints: -1 + 191.5 * step, 0 + 100.5 * 0.01, 0.3 */
    assert_true(fabsf(back[0] - 0.50196f) < 1e-5f);
    assert_true(fabsf(back[1] - 1.005f) < 1e-6f);
    assert_true(back[2] == 0.3f);
}

static void test_binary_by_hand(void **state)
{
    /* numpy.packbits([1,0,0,1,1,0,1,1, 0,1]) = [0x9b, 0x40]; x > 0 is 1, zero is 0 */
    const float row[10] = {1, -1, 0, 2, 3, -4, 5, 6, -7, 8};
    uint8_t bits[2];
    assert_int_equal(binary_row_bytes(10), 2);
    quantize_binary_rows(row, 1, 10, bits);
    assert_int_equal(bits[0], 0x9b);
    assert_int_equal(bits[1], 0x40);
    float back[10];
    unpack_binary_rows(bits, 1, 10, back);
    const float want[10] = {1, -1, -1, 1, 1, -1, 1, 1, -1, 1};
    assert_memory_equal(back, want, sizeof want);
    const uint8_t a[3] = {0xff, 0x00, 0x0f}, b[3] = {0x0f, 0x01, 0xff};
    assert_int_equal(hamming_distance(a, b, 3), 4 + 1 + 4);
}

/* Both paths of hamming_rows against the bit-by-bit reference: every row size up to 200
 * bytes with a step, the unrolled sizes (32, 48, 64, 96, 128) among them, several rows and
 * queries, ld past the row count (the columns after it untouched). */
static void test_hamming_matches_reference(void **state)
{
    enum { ROWS = 7, QUERIES = 5, MAX_BYTES = 200 };
    static uint8_t rows[ROWS * MAX_BYTES], queries[QUERIES * MAX_BYTES];
    const size_t ld = ROWS + 2;
    for (size_t bytes = 0; bytes <= MAX_BYTES; bytes += bytes < 130 ? 1 : 7) {
        for (size_t i = 0; i < ROWS * bytes; i++)
            rows[i] = (uint8_t)next_random();
        for (size_t i = 0; i < QUERIES * bytes; i++)
            queries[i] = i < bytes ? rows[i] : (uint8_t)next_random(); /* query 0 = row 0 */
        for (int path = KERNEL_PATH_GENERIC; path <= KERNEL_PATH_AVX2; path++) {
            uint32_t out[QUERIES * (ROWS + 2)];
            for (size_t i = 0; i < QUERIES * ld; i++)
                out[i] = 12345;
            hamming_rows_using((kernel_path)path, queries, QUERIES, rows, ROWS, bytes, out, ld);
            for (size_t q = 0; q < QUERIES; q++) {
                for (size_t r = 0; r < ROWS; r++)
                    assert_int_equal(out[q * ld + r],
                                     hamming_distance_reference(queries + q * bytes,
                                                                rows + r * bytes, bytes));
                assert_int_equal(out[q * ld + ROWS], 12345);
                assert_int_equal(out[q * ld + ROWS + 1], 12345);
            }
            assert_int_equal(out[0], 0);
        }
        assert_int_equal(hamming_distance(queries + bytes, rows, bytes),
                         hamming_distance_reference(queries + bytes, rows, bytes));
    }
}

/* ---- index files written directly ---- */


/* An index of rows[n * dim] as semb_index_build stores them: prepared for the similarity,
 * quantized with the rows' own ranges; document i has text "document i" and id i. */
static void write_index(const char *path, float *rows, size_t n, int dim, semb_storage_precision p,
                        semb_similarity sim)
{
    similarity_prepare(sim, rows, n, dim);
    size_t row_bytes = index_row_bytes(p, dim);
    uint8_t *stored = malloc(n * row_bytes);
    float *ranges = malloc(2 * (size_t)dim * sizeof *ranges), *min = malloc(dim * sizeof *min),
          *max = malloc(dim * sizeof *max);
    int8_calibration cal;
    int8_calibration_init(&cal, dim, min, max);
    int8_calibration_add(&cal, rows, n);
    int8_calibration_finish(&cal, ranges, ranges + dim);
    if (p == SEMB_STORAGE_FLOAT32)
        memcpy(stored, rows, n * row_bytes);
    else if (p == SEMB_STORAGE_INT8)
        quantize_int8_rows(rows, n, dim, ranges, ranges + dim, (int8_t *)stored);
    else
        quantize_binary_rows(rows, n, dim, stored);
    uint64_t *text_offsets = malloc((n + 1) * 8), *id_offsets = malloc((n + 1) * 8);
    char *texts = malloc(n * 32), *ids = malloc(n * 16);
    text_offsets[0] = id_offsets[0] = 0;
    for (size_t i = 0; i < n; i++) {
        text_offsets[i + 1] = text_offsets[i] + (size_t)sprintf(texts + text_offsets[i],
                                                                "document %zu", i) + 1;
        id_offsets[i + 1] = id_offsets[i] + (size_t)sprintf(ids + id_offsets[i], "%zu", i) + 1;
    }
    const char *meta = "{\"model\": \"test\", \"document_prompt\": \"\"}";
    const char *names[] = {"meta", "embeddings", "text_offsets", "texts", "id_offsets", "ids",
                           "int8_ranges"};
    uint64_t sizes[] = {strlen(meta), n * row_bytes, (n + 1) * 8, text_offsets[n],
                        (n + 1) * 8, id_offsets[n], 2 * (size_t)dim * sizeof(float)};
    index_info info = {.documents = n, .dimension = dim, .precision = p, .similarity = sim,
                       .ids_integer = true, .max_seq_length = 128};
    memset(info.fingerprint, 'a', 32);
    index_writer w;
    semb_error err = {0};
    assert_int_equal(index_writer_begin(&w, path, &info, names, sizes,
                                        p == SEMB_STORAGE_INT8 ? 7 : 6, &err), SEMB_OK);
    const void *data[] = {meta, stored, text_offsets, texts, id_offsets, ids, ranges};
    for (size_t s = 0; s < (p == SEMB_STORAGE_INT8 ? 7u : 6u); s++)
        assert_int_equal(index_writer_write(&w, s, 0, data[s], sizes[s], &err), SEMB_OK);
    assert_int_equal(index_writer_commit(&w, &err), SEMB_OK);
    free(stored);
    free(ranges);
    free(min);
    free(max);
    free(text_offsets);
    free(id_offsets);
    free(texts);
    free(ids);
}

static float *random_rows(size_t n, int dim)
{
    float *rows = malloc(n * (size_t)dim * sizeof *rows);
    for (size_t i = 0; i < n * (size_t)dim; i++)
        rows[i] = uniform();
    return rows;
}

static void test_file_round_trip(void **state)
{
    test_temp_file *t = *state;
    const int dim = 13;
    for (int p = SEMB_STORAGE_FLOAT32; p <= SEMB_STORAGE_BINARY; p++) {
        float *rows = random_rows(40, dim);
        write_index(t->path, rows, 40, dim, (semb_storage_precision)p, SEMB_SIMILARITY_DOT);
        index_file f;
        semb_error err = {0};
        assert_int_equal(index_file_open(t->path, &f, &err), SEMB_OK);
        assert_int_equal(f.info.documents, 40);
        assert_int_equal(f.info.dimension, dim);
        assert_int_equal(f.info.precision, p);
        assert_int_equal(f.info.similarity, SEMB_SIMILARITY_DOT);
        assert_true(f.info.ids_integer);
        assert_string_equal(f.model_name, "test");
        size_t len;
        assert_string_equal(index_file_text(&f, 17, &len), "document 17");
        assert_int_equal(len, 11);
        assert_string_equal(index_file_id(&f, 39), "39");
        size_t row_bytes = index_row_bytes((semb_storage_precision)p, dim);
        uint8_t *want = malloc(row_bytes);
        if (p == SEMB_STORAGE_FLOAT32)
            memcpy(want, rows + 5 * dim, row_bytes);
        else if (p == SEMB_STORAGE_INT8)
            quantize_int8_rows(rows + 5 * dim, 1, dim, f.int8_starts, f.int8_steps,
                               (int8_t *)want);
        else
            quantize_binary_rows(rows + 5 * dim, 1, dim, want);
        assert_memory_equal(f.embeddings + 5 * row_bytes, want, row_bytes);
        free(want);
        free(rows);
        index_file_close(&f);
    }
}

/* ---- exact search against the reference ---- */

/* The fast hits must be the reference's up to float rounding: the same score at each rank,
 * and each fast document's reference score equal to that rank's (so only near-ties may be
 * ordered differently). */
static void check_against_reference(const index_file *f, const float *queries, size_t n,
                                    const search_params *p)
{
    topk_entry *fast = malloc(n * p->k * sizeof *fast), *ref = malloc(n * p->k * sizeof *ref);
    size_t per_fast, per_ref;
    semb_error err = {0};
    assert_int_equal(exact_search(f, queries, n, p, fast, &per_fast, &err), SEMB_OK);
    assert_int_equal(exact_search_reference(f, queries, n, p, ref, &per_ref, &err), SEMB_OK);
    assert_int_equal(per_fast, per_ref);
    assert_int_equal(per_fast, p->k < f->info.documents ? p->k : f->info.documents);
    for (size_t q = 0; q < n; q++)
        for (size_t r = 0; r < per_fast; r++) {
            const topk_entry *a = &fast[q * p->k + r], *b = &ref[q * p->k + r];
            double tol = 2e-5 * (1 + fabs(b->score));
            if (fabs(a->score - b->score) > tol)
                fail_msg("precision %d sim %d query %zu rank %zu: score %.9g, reference %.9g",
                         f->info.precision, f->info.similarity, q, r, a->score, b->score);
            if (a->document != b->document) {
                /* find the fast document in the reference list: a near-tie swap */
                bool near = false;
                for (size_t s = 0; s < per_ref; s++)
                    if (ref[q * p->k + s].document == a->document)
                        near = fabs(ref[q * p->k + s].score - b->score) <= tol;
                if (!near)
                    fail_msg("query %zu rank %zu: document %zu, reference %zu", q, r, a->document,
                             b->document);
            }
        }
    free(fast);
    free(ref);
}

static void test_exact_matches_reference(void **state)
{
    test_temp_file *t = *state;
    /* three corpus blocks; 140 queries are two query tiles (int8: decoded blocks and a
     * matrix product), 7 and 3 take int8's fused kernel (two query groups, and one) */
    const size_t n = 5000, nq = 140, counts[] = {140, 7, 3};
    const int dim = 37;
    for (int p = SEMB_STORAGE_FLOAT32; p <= SEMB_STORAGE_BINARY; p++)
        for (int s = SEMB_SIMILARITY_COSINE; s <= SEMB_SIMILARITY_MANHATTAN; s++) {
            float *rows = random_rows(n, dim), *queries = random_rows(nq, dim);
            write_index(t->path, rows, n, dim, (semb_storage_precision)p, (semb_similarity)s);
            index_file f;
            semb_error err = {0};
            assert_int_equal(index_file_open(t->path, &f, &err), SEMB_OK);
            const size_t ks[] = {1, 10, 150};
            for (size_t i = 0; i < 3; i++) {
                search_params prm = {.k = ks[i], .rescore_multiplier = (int)i + 1};
                check_against_reference(&f, queries, counts[i], &prm);
                prm.exact = true;
                if (p == SEMB_STORAGE_BINARY)
                    check_against_reference(&f, queries, 5, &prm);
            }
            free(rows);
            free(queries);
            index_file_close(&f);
        }
}

static void test_k_beyond_corpus_and_zero(void **state)
{
    test_temp_file *t = *state;
    float *rows = random_rows(7, 8), *queries = random_rows(2, 8);
    write_index(t->path, rows, 7, 8, SEMB_STORAGE_FLOAT32, SEMB_SIMILARITY_COSINE);
    index_file f;
    semb_error err = {0};
    assert_int_equal(index_file_open(t->path, &f, &err), SEMB_OK);
    search_params prm = {.k = 20};
    check_against_reference(&f, queries, 2, &prm);
    topk_entry hits[40];
    size_t per = 99;
    assert_int_equal(exact_search(&f, queries, 2, &prm, hits, &per, &err), SEMB_OK);
    assert_int_equal(per, 7);
    /* the second query's hits start at its stride k = 20 */
    bool seen[7] = {0};
    for (size_t r = 0; r < 7; r++)
        seen[hits[20 + r].document] = true;
    for (size_t d = 0; d < 7; d++)
        assert_true(seen[d]);
    prm.k = 0;
    assert_int_equal(exact_search(&f, queries, 2, &prm, hits, &per, &err),
                     SEMB_ERR_INVALID_ARG);
    free(rows);
    free(queries);
    index_file_close(&f);
}

static void test_exact_ties_in_corpus_order(void **state)
{
    test_temp_file *t = *state;
    /* small integer vectors: every dot product is exact in float, and rows repeat, so
     * scores tie exactly; n spans two blocks, so ties cross blocks and threads */
    const size_t n = 4500;
    const int dim = 4;
    float *rows = malloc(n * dim * sizeof *rows);
    for (size_t i = 0; i < n; i++)
        for (int d = 0; d < dim; d++)
            rows[i * dim + d] = (float)((i * (d + 3)) % 3);
    const float query[4] = {1, 2, 0, 1};
    for (int p = SEMB_STORAGE_FLOAT32; p <= SEMB_STORAGE_BINARY; p++) {
        float *copy = malloc(n * dim * sizeof *copy);
        memcpy(copy, rows, n * dim * sizeof *copy);
        write_index(t->path, copy, n, dim, (semb_storage_precision)p, SEMB_SIMILARITY_DOT);
        index_file f;
        semb_error err = {0};
        assert_int_equal(index_file_open(t->path, &f, &err), SEMB_OK);
        search_params prm = {.k = 25, .rescore_multiplier = 2};
        topk_entry fast[25], ref[25];
        size_t per;
        assert_int_equal(exact_search(&f, query, 1, &prm, fast, &per, &err), SEMB_OK);
        assert_int_equal(exact_search_reference(&f, query, 1, &prm, ref, &per, &err), SEMB_OK);
        for (size_t r = 0; r < 25; r++) {
            assert_int_equal(fast[r].document, ref[r].document);
            /* int8 folds the dequantization into the query: equal up to float rounding */
            assert_true(fabsf(fast[r].score - ref[r].score) <= 1e-5f * (1 + fabsf(ref[r].score)));
            if (r && fast[r].score == fast[r - 1].score)
                assert_true(fast[r].document > fast[r - 1].document);
        }
        /* rows are {0, i % 3, 2i % 3, 0}: three distinct rows, each 1500 times */
        assert_true(fast[0].score == fast[24].score);
        assert_int_equal(fast[0].document, p == SEMB_STORAGE_BINARY ? 1 : 2);
        free(copy);
        index_file_close(&f);
    }
    free(rows);
}

/* ---- corrupt files ---- */

static void write_bytes(const char *path, const uint8_t *data, size_t size)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
}

/* Opening must fail cleanly with a message naming the file. */
static void expect_open_fails(const char *path, const char *what)
{
    index_file f;
    semb_error err = {0};
    semb_status st = index_file_open(path, &f, &err);
    if (st == SEMB_OK)
        fail_msg("%s: opened", what);
    assert_non_null(strstr(err.message, path));
}

static void test_truncated_and_flipped_files(void **state)
{
    test_temp_file *t = *state;
    for (int p = SEMB_STORAGE_FLOAT32; p <= SEMB_STORAGE_BINARY; p++) {
        float *rows = random_rows(30, 9);
        write_index(t->path, rows, 30, 9, (semb_storage_precision)p, SEMB_SIMILARITY_COSINE);
        free(rows);
        size_t size;
        uint8_t *good = (uint8_t *)test_read_file(t->path, &size);
        char bad_path[4200];
        snprintf(bad_path, sizeof bad_path, "%s.bad", t->path);
        size_t table_end = INDEX_HEADER_SIZE + 7 * INDEX_SECTION_ENTRY_SIZE;
        for (size_t cut = 0; cut < size; cut += cut < table_end ? 1 : 1 + size / 97) {
            write_bytes(bad_path, good, cut);
            expect_open_fails(bad_path, "truncated");
        }
        uint8_t *bad = malloc(size + 64);
        memcpy(bad, good, size);
        memset(bad + size, 0, 64);
        write_bytes(bad_path, bad, size + 64);
        expect_open_fails(bad_path, "extended");
        /* every byte of the header and the section table, flipped one bit at a time */
        for (size_t i = 0; i < table_end; i++) {
            memcpy(bad, good, size);
            bad[i] ^= (uint8_t)(1u << (next_random() % 8));
            write_bytes(bad_path, bad, size);
            if (i < INDEX_HEADER_SIZE + (p == SEMB_STORAGE_INT8 ? 7 : 6) * 32)
                expect_open_fails(bad_path, "flipped header byte");
        }
        /* a text offset out of order, a text without its NUL, a bad integer id */
        index_file f;
        semb_error err = {0};
        assert_int_equal(index_file_open(t->path, &f, &err), SEMB_OK);
        size_t text_offsets = index_file_section(&f, "text_offsets")->offset;
        size_t texts = index_file_section(&f, "texts")->offset;
        size_t ids = index_file_section(&f, "ids")->offset;
        index_file_close(&f);
        const size_t spots[] = {text_offsets + 8 * 3, texts + 10, ids};
        const uint8_t values[] = {0xff, 'x', 'z'};
        for (size_t s = 0; s < 3; s++) {
            memcpy(bad, good, size);
            bad[spots[s]] = values[s];
            write_bytes(bad_path, bad, size);
            expect_open_fails(bad_path, "corrupt string table");
        }
        write_bytes(bad_path, (const uint8_t *)"not an index at all, just some text", 35);
        expect_open_fails(bad_path, "not an index");
        free(bad);
        free(good);
    }
}

/* ---- building and searching with a model ---- */

static const char *const corpus_texts[] = {
    "How do I brew a stout at home?", "What is the capital of France?",
    "Which hops give beer a citrus aroma?", "How long should lager ferment?",
    "What is the capital of France?", "Why is the sky blue?"};

static semb_model *fixture_or_skip(const char *name)
{
    if (!test_shared_dir())
        skip();
    return test_load_fixture(name);
}

static void test_build_and_search(void **state)
{
    test_temp_file *t = *state;
    semb_model *model = fixture_or_skip("bert-tiny-mean");
    int dim = semb_model_dimension(model);
    semb_index_build_options o = semb_index_build_options_default();
    o.texts = corpus_texts;
    o.n_texts = 6;
    o.chunk_size = 4; /* two chunks */
    semb_index_build_result result;
    semb_error err = {0};
    assert_int_equal(semb_index_build(model, &o, t->path, &result, &err), SEMB_OK);
    assert_int_equal(result.documents, 6);
    semb_index *index;
    assert_int_equal(semb_index_open(t->path, &index, &err), SEMB_OK);
    assert_int_equal(semb_index_count(index), 6);
    assert_int_equal(semb_index_check_model(index, model, "tiny", &err), SEMB_OK);
    /* searching with a corpus text finds it first, and its duplicate (an exact tie) after */
    const char *query = corpus_texts[1];
    semb_search_hit hits[6];
    size_t per;
    semb_search_options so = semb_search_options_default();
    so.query_prompt = "";
    assert_int_equal(semb_index_search(index, model, &query, 1, 6, &so, hits, &per, &err),
                     SEMB_OK);
    assert_int_equal(per, 6);
    assert_int_equal(hits[0].document, 1);
    assert_int_equal(hits[1].document, 4);
    assert_true(hits[0].score == hits[1].score);
    assert_string_equal(hits[1].id, "4");
    assert_true(hits[1].id_is_integer);
    assert_string_equal(hits[1].text, corpus_texts[4]);
    assert_int_equal(hits[5].rank, 6);
    /* the scores are the cosines of semb_encode's embeddings */
    float *emb = malloc(7 * (size_t)dim * sizeof *emb);
    assert_int_equal(semb_encode(model, corpus_texts, NULL, 6, emb, NULL, &err), SEMB_OK);
    assert_int_equal(semb_encode(model, &query, NULL, 1, emb + 6 * dim, NULL, &err), SEMB_OK);
    similarity_normalize_rows(emb, 7, dim);
    for (size_t r = 0; r < 6; r++) {
        double want = similarity_pair(SEMB_SIMILARITY_COSINE, emb + 6 * dim,
                                      emb + hits[r].document * dim, dim);
        assert_true(fabs(hits[r].score - want) < 1e-5);
    }
    semb_index_close(index);
    /* int8 on the corpus itself: the stored ranges are the embeddings' min and max */
    o.precision = SEMB_STORAGE_INT8;
    assert_int_equal(semb_index_build(model, &o, t->path, &result, &err), SEMB_OK);
    index_file f;
    assert_int_equal(index_file_open(t->path, &f, &err), SEMB_OK);
    for (int d = 0; d < dim; d++) {
        float lo = INFINITY, hi = -INFINITY;
        for (size_t i = 0; i < 6; i++) {
            lo = fminf(lo, emb[i * dim + d]);
            hi = fmaxf(hi, emb[i * dim + d]);
        }
        assert_true(fabsf(f.int8_starts[d] - lo) < 1e-6f);
        assert_true(fabsf(f.int8_steps[d] - (hi - lo) / 255.0f) < 1e-7f);
    }
    index_file_close(&f);
    free(emb);
    semb_model_free(model);
}

static void test_other_model_refused(void **state)
{
    test_temp_file *t = *state;
    semb_model *model = fixture_or_skip("bert-tiny-mean");
    semb_model *other = test_load_fixture("bert-tiny-cls");
    semb_index_build_options o = semb_index_build_options_default();
    o.texts = corpus_texts;
    o.n_texts = 3;
    o.model_name = "tiny-mean";
    semb_error err = {0};
    assert_int_equal(semb_index_build(model, &o, t->path, NULL, &err), SEMB_OK);
    semb_index *index;
    assert_int_equal(semb_index_open(t->path, &index, &err), SEMB_OK);
    assert_int_equal(semb_index_check_model(index, other, "tiny-cls", &err),
                     SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "tiny-mean"));
    assert_non_null(strstr(err.message, "tiny-cls"));
    const char *query = "beer";
    semb_search_hit hits[1];
    size_t per;
    assert_int_equal(semb_index_search(index, other, &query, 1, 1, NULL, hits, &per, &err),
                     SEMB_ERR_INVALID_ARG);
    semb_index_close(index);
    semb_model_free(model);
    semb_model_free(other);
}

/* Builds from a corpus file; returns the status, message in err. */
static semb_status build_file(test_temp_file *t, semb_model *model, const char *content,
                              const char *format, semb_error *err)
{
    char corpus[4200];
    snprintf(corpus, sizeof corpus, "%s/corpus", t->dir);
    write_bytes(corpus, (const uint8_t *)content, strlen(content));
    semb_index_build_options o = semb_index_build_options_default();
    o.corpus_path = corpus;
    o.input_format = format;
    unlink(t->path);
    return semb_index_build(model, &o, t->path, NULL, err);
}

static void expect_build_error(test_temp_file *t, semb_model *model, const char *content,
                               const char *format, const char *part)
{
    semb_error err = {0};
    assert_int_not_equal(build_file(t, model, content, format, &err), SEMB_OK);
    if (!strstr(err.message, part))
        fail_msg("error '%s' lacks '%s'", err.message, part);
    assert_int_equal(access(t->path, F_OK), -1); /* nothing written */
}

static void test_build_inputs(void **state)
{
    test_temp_file *t = *state;
    semb_model *model = fixture_or_skip("bert-tiny-mean");
    semb_error err = {0};
    /* ids, titles, blank lines */
    assert_int_equal(build_file(t, model,
                                "{\"_id\": \"d1\", \"title\": \"Beer\", \"text\": \"is brewed.\"}\n"
                                "\n{\"_id\": 7, \"text\": \" plain \"}\n",
                                "jsonl", &err), SEMB_OK);
    index_file f;
    assert_int_equal(index_file_open(t->path, &f, &err), SEMB_OK);
    assert_int_equal(f.info.documents, 2);
    assert_false(f.info.ids_integer); /* a mix is stored as strings */
    assert_string_equal(index_file_text(&f, 0, NULL), "Beer is brewed.");
    assert_string_equal(index_file_text(&f, 1, NULL), " plain ");
    assert_string_equal(index_file_id(&f, 1), "7");
    index_file_close(&f);
    assert_int_equal(build_file(t, model, "\"a\"\n\n\"b\"\n", "jsonl", &err), SEMB_OK);
    assert_int_equal(index_file_open(t->path, &f, &err), SEMB_OK);
    assert_string_equal(index_file_id(&f, 1), "3"); /* line numbers */
    assert_true(f.info.ids_integer);
    index_file_close(&f);

    expect_build_error(t, model, "", "text", "no documents");
    expect_build_error(t, model, "\n\n", "text", "no documents");
    expect_build_error(t, model, "ok\nbad \xff byte\n", "text", "corpus:2: invalid UTF-8");
    expect_build_error(t, model, "{\"id\": 1, \"text\": \"a\"}\n{\"id\": 1, \"text\": \"b\"}\n",
                       "jsonl", "corpus:2: duplicate id \"1\" (also line 1)");
    expect_build_error(t, model, "{\"id\": 1, \"text\": \"a\"}\n{\"text\": \"b\"}\n", "jsonl",
                       "corpus:2: has no id");
    expect_build_error(t, model, "{\"title\": \"a\"}\n", "jsonl", "corpus:1: expected");
    expect_build_error(t, model, "{\"id\": 1.5, \"text\": \"a\"}\n", "jsonl", "corpus:1:");
    expect_build_error(t, model, "[1, 2]\n", "jsonl", "corpus:1:");
    expect_build_error(t, model, "{\"text\": \"a\\u0000b\"}\n", "jsonl", "corpus:1: not JSON");
    expect_build_error(t, model, "a\n", "csv", "csv");
    semb_model_free(model);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_topk_matches_sort_with_ties),
        cmocka_unit_test(test_topk_order_by_hand),
        cmocka_unit_test(test_int8_by_hand),
        cmocka_unit_test(test_binary_by_hand),
        cmocka_unit_test(test_hamming_matches_reference),
        cmocka_unit_test_setup_teardown(test_file_round_trip, test_temp_file_setup, test_temp_file_teardown),
        cmocka_unit_test_setup_teardown(test_exact_matches_reference, test_temp_file_setup, test_temp_file_teardown),
        cmocka_unit_test_setup_teardown(test_k_beyond_corpus_and_zero, test_temp_file_setup, test_temp_file_teardown),
        cmocka_unit_test_setup_teardown(test_exact_ties_in_corpus_order, test_temp_file_setup,
                                        test_temp_file_teardown),
        cmocka_unit_test_setup_teardown(test_truncated_and_flipped_files, test_temp_file_setup,
                                        test_temp_file_teardown),
        cmocka_unit_test_setup_teardown(test_build_and_search, test_temp_file_setup, test_temp_file_teardown),
        cmocka_unit_test_setup_teardown(test_other_model_refused, test_temp_file_setup, test_temp_file_teardown),
        cmocka_unit_test_setup_teardown(test_build_inputs, test_temp_file_setup, test_temp_file_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
