#include "index/exact_search.h"

#include <math.h>
#include <omp.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/int8_dot.h"
#include "index/quantize.h"
#include "model/similarity.h"

/* A block of 2048 corpus rows is 3 MiB of float32 at dimension 384; a tile of up to 128
 * queries against it is 1 MiB of scores (a batch of 100 queries passes over the corpus
 * once). */
#define CORPUS_BLOCK 2048
#define QUERY_TILE 128
/* Bound on the thread-local heaps of one query tile (large k shrinks the tile). */
#define HEAP_BUDGET_BYTES ((size_t)256 << 20)
/* int8 rows are scored a slice at a time against every query group, so the slice's codes
 * stay in the core's L2 cache while the groups (a few KiB of queries each, in L1) pass. */
#define INT8_SLICE_BYTES ((size_t)96 << 10)
/* From this many queries in a tile on, an int8 block is decoded to floats once and scored
 * by sgemm, which beats the fused kernel's per-group decode (measured: bench/README.md). */
#define INT8_GEMM_MIN_QUERIES 8

/* What the scoring loop compares: prepared float queries, or their sign bits. */
typedef struct query_set {
    const float *rows;   /* [n, dim], similarity_prepare'd */
    const uint8_t *bits; /* [n, row bytes], binary shortlist only; NULL otherwise */
    const float *offsets; /* int8 scored on the codes (int8_dot.h): [dim]; else NULL */
    const float *squared; /* with offsets under euclidean: |row|^2, [n] */
    size_t n;
} query_set;

/* Per-thread scratch: a decoded block and a tile of scores. */
typedef struct scratch {
    float *decoded; /* CORPUS_BLOCK * dim */
    float *scores;  /* QUERY_TILE * CORPUS_BLOCK */
    float *norms;   /* CORPUS_BLOCK */
    uint32_t *distances; /* binary shortlist: CORPUS_BLOCK; else NULL */
} scratch;

/* Float rows of documents first..first+rows: the mapping itself for float32, else decoded
 * into buf and prepared (cosine renormalises the dequantized or +-1 rows). */
static const float *decode_block(const index_file *f, size_t first, size_t rows, float *buf)
{
    int dim = f->info.dimension;
    const uint8_t *data = f->embeddings + first * f->row_bytes;
    switch (f->info.precision) {
    case SEMB_STORAGE_FLOAT32:
        return (const float *)data;
    case SEMB_STORAGE_INT8:
        dequantize_int8_rows((const int8_t *)data, rows, dim, f->int8_starts, f->int8_steps, buf);
        break;
    case SEMB_STORAGE_BINARY:
        unpack_binary_rows(data, rows, dim, buf);
        break;
    }
    similarity_prepare(f->info.similarity, buf, rows, dim);
    return buf;
}

/* int8, few queries: q.x (and |x|^2 into norms unless NULL) straight from the codes
 * (int8_dot.h), a slice of rows at a time against every group of queries. */
static void int8_dot_block(const index_file *f, const query_set *qs, size_t q0, size_t nq,
                           const int8_t *codes, size_t rows, float *scores, float *norms)
{
    int dim = f->info.dimension;
    size_t slice = INT8_SLICE_BYTES / (size_t)dim + 1;
    for (size_t r0 = 0; r0 < rows; r0 += slice) {
        size_t nr = rows - r0 < slice ? rows - r0 : slice;
        for (size_t g = 0; g < nq; g += INT8_DOT_MAX_QUERIES) {
            size_t ng = nq - g < INT8_DOT_MAX_QUERIES ? nq - g : INT8_DOT_MAX_QUERIES;
            int8_dot_rows(codes + r0 * (size_t)dim, nr, dim, qs->offsets, f->int8_steps,
                          qs->rows + (q0 + g) * (size_t)dim, (int)ng, scores + g * rows + r0,
                          rows, g == 0 && norms ? norms + r0 : NULL);
        }
    }
}

/* int8 under cosine, dot or euclidean: q.x and |x|^2 from the codes (fused, or decoded once
 * for a matrix product when the tile has many queries); then cosine divides by |x| (a zero
 * row scores 0, as the reference's normalisation leaves it zero) and euclidean forms
 * -sqrt(|q|^2 + |x|^2 - 2 q.x) clamped at 0, as similarity_matrix does for float rows. */
static void score_int8_block(const index_file *f, const query_set *qs, size_t q0, size_t nq,
                             size_t first, size_t rows, scratch *s)
{
    int dim = f->info.dimension;
    const int8_t *codes = (const int8_t *)(f->embeddings + first * f->row_bytes);
    float *norms = f->info.similarity == SEMB_SIMILARITY_DOT ? NULL : s->norms;
    if (nq < INT8_GEMM_MIN_QUERIES) {
        int8_dot_block(f, qs, q0, nq, codes, rows, s->scores, norms);
    } else {
        int8_decode_rows(codes, rows, dim, qs->offsets, f->int8_steps, s->decoded, norms);
        similarity_matrix(SEMB_SIMILARITY_DOT, qs->rows + q0 * (size_t)dim, nq, s->decoded,
                          rows, dim, s->scores);
    }
    if (f->info.similarity == SEMB_SIMILARITY_COSINE) {
        for (size_t r = 0; r < rows; r++)
            s->norms[r] = s->norms[r] > 0 ? 1.0f / sqrtf(s->norms[r]) : 0.0f;
        for (size_t q = 0; q < nq; q++)
            for (size_t r = 0; r < rows; r++)
                s->scores[q * rows + r] *= s->norms[r];
    } else if (f->info.similarity == SEMB_SIMILARITY_EUCLIDEAN) {
        for (size_t q = 0; q < nq; q++)
            for (size_t r = 0; r < rows; r++) {
                float d2 = qs->squared[q0 + q] + s->norms[r] - 2.0f * s->scores[q * rows + r];
                s->scores[q * rows + r] = -sqrtf(d2 > 0 ? d2 : 0);
            }
    }
}

/* scores[q * rows + r] for queries q0..q0+nq of the set against one corpus block. */
static void score_block(const index_file *f, const query_set *qs, size_t q0, size_t nq,
                        size_t first, size_t rows, scratch *s)
{
    if (qs->offsets) {
        score_int8_block(f, qs, q0, nq, first, rows, s);
        return;
    }
    const float *docs = decode_block(f, first, rows, s->decoded);
    similarity_matrix(f->info.similarity, qs->rows + q0 * (size_t)f->info.dimension, nq, docs,
                      rows, f->info.dimension, s->scores);
}

/* Binary shortlist: each query's Hamming distances to one block (a few KiB, in L1) go
 * straight to its heap, scored -distance; a row farther than the heap's worst is skipped on
 * an integer compare. */
static void offer_hamming_block(const index_file *f, const query_set *qs, size_t q0,
                                size_t nq, size_t first, size_t rows, scratch *s, topk *heaps)
{
    for (size_t q = 0; q < nq; q++) {
        hamming_rows(qs->bits + (q0 + q) * f->row_bytes, 1,
                     f->embeddings + first * f->row_bytes, rows, f->row_bytes, s->distances,
                     rows);
        topk *heap = &heaps[q];
        uint32_t worst = heap->count == heap->k ? (uint32_t)-heap->entries[0].score : UINT32_MAX;
        for (size_t r = 0; r < rows; r++) {
            if (s->distances[r] > worst)
                continue;
            topk_offer(heap, -(float)s->distances[r], first + r);
            if (heap->count == heap->k)
                worst = (uint32_t)-heap->entries[0].score;
        }
    }
}

/* Queries q0..q0+nq against the whole corpus: heaps[t][q] are thread t's heaps, merged into
 * out[q] (capacity k each). */
static void search_tile(const index_file *f, const query_set *qs, size_t q0, size_t nq, size_t k,
                        scratch *scratches, topk *h, topk_entry *heap_store, int threads,
                        topk_entry *out)
{
    size_t n_docs = (size_t)f->info.documents;
    size_t n_blocks = (n_docs + CORPUS_BLOCK - 1) / CORPUS_BLOCK;
    for (size_t t = 0; t < (size_t)threads; t++)
        for (size_t q = 0; q < nq; q++)
            topk_init(&h[t * nq + q], heap_store + (t * nq + q) * k, k);
#pragma omp parallel for schedule(dynamic, 4) num_threads(threads)
    for (size_t b = 0; b < n_blocks; b++) {
        int t = omp_get_thread_num();
        size_t first = b * CORPUS_BLOCK;
        size_t rows = n_docs - first < CORPUS_BLOCK ? n_docs - first : CORPUS_BLOCK;
        if (qs->bits) {
            offer_hamming_block(f, qs, q0, nq, first, rows, &scratches[t], &h[(size_t)t * nq]);
            continue;
        }
        score_block(f, qs, q0, nq, first, rows, &scratches[t]);
        for (size_t q = 0; q < nq; q++) {
            topk *heap = &h[(size_t)t * nq + q];
            const float *row = scratches[t].scores + q * rows;
            for (size_t r = 0; r < rows; r++)
                if (topk_may_take(heap, row[r]))
                    topk_offer(heap, row[r], first + r);
        }
    }
    for (size_t q = 0; q < nq; q++) {
        topk merged;
        topk_init(&merged, out + q * k, k);
        for (int t = 0; t < threads; t++) {
            const topk *heap = &h[(size_t)t * nq + q];
            for (size_t i = 0; i < heap->count; i++)
                topk_offer(&merged, heap->entries[i].score, heap->entries[i].document);
        }
        topk_sort(&merged);
    }
}

/* Every query against the whole corpus, keeping k each (out[q * k ..], sorted). */
static semb_status search_all(const index_file *f, const query_set *qs, size_t k,
                              topk_entry *out, semb_error *err)
{
    int threads = omp_get_max_threads();
    size_t tile = QUERY_TILE;
    while (tile > 1 && (size_t)threads * tile * k * sizeof(topk_entry) > HEAP_BUDGET_BYTES)
        tile /= 2;
    size_t dim = (size_t)f->info.dimension;
    scratch *scratches = calloc((size_t)threads, sizeof *scratches);
    topk_entry *heap_store = malloc((size_t)threads * tile * k * sizeof *heap_store);
    topk *heaps = malloc((size_t)threads * tile * sizeof *heaps);
    semb_status st = SEMB_OK;
    for (int t = 0; scratches && t < threads; t++) {
        scratches[t].decoded = malloc(CORPUS_BLOCK * dim * sizeof(float));
        scratches[t].scores = malloc(tile * CORPUS_BLOCK * sizeof(float));
        scratches[t].norms = malloc(CORPUS_BLOCK * sizeof(float));
        if (qs->bits)
            scratches[t].distances = malloc(CORPUS_BLOCK * sizeof(uint32_t));
        if (!scratches[t].decoded || !scratches[t].scores || !scratches[t].norms ||
            (qs->bits && !scratches[t].distances))
            st = SEMB_ERR_NOMEM;
    }
    if (!scratches || !heap_store || !heaps || st) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "search: cannot allocate %d threads' buffers",
                       threads);
    } else {
        for (size_t q0 = 0; q0 < qs->n; q0 += tile) {
            size_t nq = qs->n - q0 < tile ? qs->n - q0 : tile;
            search_tile(f, qs, q0, nq, k, scratches, heaps, heap_store, threads,
                        out + q0 * k);
        }
    }
    for (int t = 0; scratches && t < threads; t++) {
        free(scratches[t].decoded);
        free(scratches[t].scores);
        free(scratches[t].norms);
        free(scratches[t].distances);
    }
    free(scratches);
    free(heap_store);
    free(heaps);
    return st;
}

/* Rescores one query's shortlist (sorted by Hamming distance) with the float query and keeps
 * the k best in out. */
static semb_status rescore(const index_file *f, const float *query, const topk_entry *shortlist,
                           size_t m, size_t k, topk_entry *out, semb_error *err)
{
    int dim = f->info.dimension;
    float *rows = malloc(m * (size_t)dim * sizeof *rows);
    float *scores = malloc(m * sizeof *scores);
    if (!rows || !scores) {
        free(rows);
        free(scores);
        return semb_fail(err, SEMB_ERR_NOMEM, "search: cannot allocate a rescoring shortlist "
                                              "of %zu documents", m);
    }
    for (size_t i = 0; i < m; i++)
        decode_block(f, shortlist[i].document, 1, rows + i * (size_t)dim);
    similarity_matrix(f->info.similarity, query, 1, rows, m, dim, scores);
    topk heap;
    topk_init(&heap, out, k);
    for (size_t i = 0; i < m; i++)
        topk_offer(&heap, scores[i], shortlist[i].document);
    topk_sort(&heap);
    free(rows);
    free(scores);
    return SEMB_OK;
}

static semb_status binary_shortlist_search(const index_file *f, const query_set *qs,
                                           size_t k, size_t m, topk_entry *hits,
                                           semb_error *err)
{
    size_t row_bytes = f->row_bytes;
    uint8_t *bits = malloc(qs->n * row_bytes);
    topk_entry *shortlists = malloc(qs->n * m * sizeof *shortlists);
    semb_status st = SEMB_OK;
    if (!bits || !shortlists)
        st = semb_fail(err, SEMB_ERR_NOMEM, "search: cannot allocate %zu shortlists", qs->n);
    if (!st) {
        quantize_binary_rows(qs->rows, qs->n, f->info.dimension, bits);
        query_set hamming_set = {.rows = qs->rows, .bits = bits, .n = qs->n};
        st = search_all(f, &hamming_set, m, shortlists, err);
    }
    for (size_t q = 0; !st && q < qs->n; q++)
        st = rescore(f, qs->rows + q * (size_t)f->info.dimension, shortlists + q * m, m, k,
                     hits + q * k, err);
    free(bits);
    free(shortlists);
    return st;
}

/* int8 under cosine, dot or euclidean: the dequantization offsets, and each query's |q|^2
 * (euclidean adds it to every distance). */
static semb_status int8_search(const index_file *f, query_set *qs, size_t k, topk_entry *hits,
                               semb_error *err)
{
    int dim = f->info.dimension;
    float *offsets = malloc((size_t)dim * sizeof *offsets);
    float *squared = malloc((qs->n ? qs->n : 1) * sizeof *squared);
    semb_status st = SEMB_OK;
    if (!offsets || !squared)
        st = semb_fail(err, SEMB_ERR_NOMEM, "search: cannot allocate %zu queries", qs->n);
    if (!st) {
        int8_dot_offsets(f->int8_starts, f->int8_steps, dim, offsets);
        for (size_t q = 0; q < qs->n; q++) {
            const float *row = qs->rows + q * (size_t)dim;
            squared[q] = (float)similarity_pair(SEMB_SIMILARITY_DOT, row, row, dim);
        }
        qs->offsets = offsets;
        qs->squared = squared;
        st = search_all(f, qs, k, hits, err);
    }
    free(offsets);
    free(squared);
    return st;
}

/* The shortlist size of a binary search: multiplier * k, at most the corpus. */
static size_t shortlist_size(const index_file *f, const search_params *p)
{
    size_t mult = p->rescore_multiplier > 0 ? (size_t)p->rescore_multiplier
                                          : SEARCH_DEFAULT_RESCORE_MULTIPLIER;
    size_t m = p->k > SIZE_MAX / mult ? SIZE_MAX : p->k * mult;
    return m < f->info.documents ? m : (size_t)f->info.documents;
}

semb_status exact_search(const index_file *f, const float *queries, size_t n,
                         const search_params *p, topk_entry *hits, size_t *per_query,
                         semb_error *err)
{
    if (p->k == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "search: k must be at least 1");
    size_t docs = (size_t)f->info.documents, k = p->k < docs ? p->k : docs;
    int dim = f->info.dimension;
    float *prepared = malloc((n ? n : 1) * (size_t)dim * sizeof *prepared);
    topk_entry *dense = k == p->k ? hits : malloc((n ? n : 1) * k * sizeof *dense);
    if (!prepared || !dense) {
        free(prepared);
        if (dense != hits)
            free(dense);
        return semb_fail(err, SEMB_ERR_NOMEM, "search: cannot allocate %zu queries", n);
    }
    memcpy(prepared, queries, n * (size_t)dim * sizeof *prepared);
    similarity_prepare(f->info.similarity, prepared, n, dim);
    query_set qs = {.rows = prepared, .n = n};
    semb_status st;
    if (f->info.precision == SEMB_STORAGE_BINARY && !p->exact)
        st = binary_shortlist_search(f, &qs, k, shortlist_size(f, p), dense, err);
    else if (f->info.precision == SEMB_STORAGE_INT8 &&
             f->info.similarity != SEMB_SIMILARITY_MANHATTAN)
        st = int8_search(f, &qs, k, dense, err);
    else
        st = search_all(f, &qs, k, dense, err);
    /* hits is laid out with stride p->k; a k cut to the corpus size was computed densely */
    if (!st && dense != hits)
        for (size_t q = n; q-- > 0;)
            memmove(hits + q * p->k, dense + q * k, k * sizeof *hits);
    if (dense != hits)
        free(dense);
    free(prepared);
    if (!st)
        *per_query = k;
    return st;
}

/* ---- the reference ---- */

static void reference_row(const index_file *f, size_t i, float *out)
{
    int dim = f->info.dimension;
    const uint8_t *data = f->embeddings + i * f->row_bytes;
    if (f->info.precision == SEMB_STORAGE_FLOAT32)
        memcpy(out, data, (size_t)dim * sizeof *out);
    else if (f->info.precision == SEMB_STORAGE_INT8)
        dequantize_int8_rows((const int8_t *)data, 1, dim, f->int8_starts, f->int8_steps, out);
    else
        unpack_binary_rows(data, 1, dim, out);
    similarity_prepare(f->info.similarity, out, 1, dim);
}

static void reference_one(const index_file *f, const float *query, const search_params *p,
                          size_t k, topk_entry *all, float *row, uint8_t *bits,
                          topk_entry *out)
{
    size_t docs = (size_t)f->info.documents;
    size_t candidates = docs;
    if (f->info.precision == SEMB_STORAGE_BINARY && !p->exact) {
        quantize_binary_rows(query, 1, f->info.dimension, bits);
        for (size_t i = 0; i < docs; i++)
            all[i] = (topk_entry){-(float)hamming_distance_reference(
                                      bits, f->embeddings + i * f->row_bytes, f->row_bytes),
                                  i};
        topk_sort_reference(all, docs);
        candidates = shortlist_size(f, p);
    } else {
        for (size_t i = 0; i < docs; i++)
            all[i].document = i;
    }
    for (size_t i = 0; i < candidates; i++) {
        reference_row(f, all[i].document, row);
        all[i].score = (float)similarity_pair(f->info.similarity, query, row,
                                              f->info.dimension);
    }
    topk_sort_reference(all, candidates);
    memcpy(out, all, k * sizeof *out);
}

semb_status exact_search_reference(const index_file *f, const float *queries, size_t n,
                                   const search_params *p, topk_entry *hits,
                                   size_t *per_query, semb_error *err)
{
    if (p->k == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "search: k must be at least 1");
    size_t docs = (size_t)f->info.documents, k = p->k < docs ? p->k : docs;
    int dim = f->info.dimension;
    topk_entry *all = malloc(docs * sizeof *all);
    float *query = malloc((size_t)dim * sizeof *query), *row = malloc((size_t)dim * sizeof *row);
    uint8_t *bits = malloc(f->row_bytes);
    semb_status st = SEMB_OK;
    if (!all || !query || !row || !bits)
        st = semb_fail(err, SEMB_ERR_NOMEM, "reference search: out of memory");
    for (size_t q = 0; !st && q < n; q++) {
        memcpy(query, queries + q * (size_t)dim, (size_t)dim * sizeof *query);
        similarity_prepare(f->info.similarity, query, 1, dim);
        reference_one(f, query, p, k, all, row, bits, hits + q * p->k);
    }
    free(all);
    free(query);
    free(row);
    free(bits);
    if (!st)
        *per_query = k;
    return st;
}
