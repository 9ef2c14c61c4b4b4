/* The hnsw_index blob (layout in hnsw_index.h): written from the graph's public state and
 * read back with every value checked before it reaches hnswlib, which follows links
 * without bounds checks. */
#include <errno.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "index/hnsw_index_internal.h"

#define HNSW_MAGIC "SEMBHNSW"
#define HNSW_VERSION 1u
#define HNSW_HEADER_SIZE 64
/* Far above any level hnswlib draws (about ln(n) / ln(M)); bounds a corrupt value. */
#define HNSW_MAX_LEVEL 1024

typedef struct blob_header {
    uint32_t version, similarity, dim, m, ef_construction, max_level;
    uint64_t count;
    uint32_t entry_point, zero;
    uint64_t seed, vector_hash;
} blob_header;

/* The header at the offsets of the layout in hnsw_index.h, in host (little-endian) order. */
static void encode_header(const blob_header *h, unsigned char *out)
{
    memcpy(out, HNSW_MAGIC, 8);
    memcpy(out + 8, &h->version, 4);
    memcpy(out + 12, &h->similarity, 4);
    memcpy(out + 16, &h->dim, 4);
    memcpy(out + 20, &h->m, 4);
    memcpy(out + 24, &h->ef_construction, 4);
    memcpy(out + 28, &h->max_level, 4);
    memcpy(out + 32, &h->count, 8);
    memcpy(out + 40, &h->entry_point, 4);
    memcpy(out + 44, &h->zero, 4);
    memcpy(out + 48, &h->seed, 8);
    memcpy(out + 56, &h->vector_hash, 8);
}

static void decode_header(const unsigned char *in, blob_header *h)
{
    memcpy(&h->version, in + 8, 4);
    memcpy(&h->similarity, in + 12, 4);
    memcpy(&h->dim, in + 16, 4);
    memcpy(&h->m, in + 20, 4);
    memcpy(&h->ef_construction, in + 24, 4);
    memcpy(&h->max_level, in + 28, 4);
    memcpy(&h->count, in + 32, 8);
    memcpy(&h->entry_point, in + 40, 4);
    memcpy(&h->zero, in + 44, 4);
    memcpy(&h->seed, in + 48, 8);
    memcpy(&h->vector_hash, in + 56, 8);
}

uint64_t hnsw_index_serialized_size(const hnsw_index *index)
{
    const hnsw_graph *g = index->graph;
    size_t n = hnsw_graph_count(g);
    uint64_t size = HNSW_HEADER_SIZE + 8 * (uint64_t)n;
    for (uint32_t id = 0; id < n; id++)
        for (int level = 0; level <= hnsw_graph_level(g, id); level++) {
            uint32_t count;
            hnsw_graph_links(g, id, level, &count);
            size += 4 + 4 * (uint64_t)count;
        }
    return size;
}

static bool put(FILE *stream, const void *data, size_t bytes)
{
    return fwrite(data, 1, bytes, stream) == bytes;
}

static bool put_u32(FILE *stream, uint32_t value)
{
    return put(stream, &value, 4);
}

static bool put_graph(const hnsw_graph *g, FILE *stream)
{
    uint32_t n = (uint32_t)hnsw_graph_count(g);
    for (uint32_t id = 0; id < n; id++)
        if (!put_u32(stream, (uint32_t)hnsw_graph_level(g, id)))
            return false;
    for (uint32_t id = 0; id < n; id++)
        if (!put_u32(stream, hnsw_graph_label(g, id)))
            return false;
    for (uint32_t id = 0; id < n; id++)
        for (int level = 0; level <= hnsw_graph_level(g, id); level++) {
            uint32_t count;
            const uint32_t *links = hnsw_graph_links(g, id, level, &count);
            if (!put_u32(stream, count) || !put(stream, links, 4 * (size_t)count))
                return false;
        }
    return true;
}

semb_status hnsw_index_save(const hnsw_index *index, FILE *stream, uint64_t *bytes_written,
                            semb_error *err)
{
    const hnsw_graph *g = index->graph;
    if (hnsw_graph_count(g) != hnsw_graph_capacity(g))
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "hnsw save: the graph holds %zu of its %zu vectors", hnsw_graph_count(g),
                         hnsw_graph_capacity(g));
    blob_header h = {
        .version = HNSW_VERSION,
        .similarity = (uint32_t)index->similarity,
        .dim = (uint32_t)index->dim,
        .m = (uint32_t)hnsw_graph_m(g),
        .ef_construction = (uint32_t)hnsw_graph_ef_construction(g),
        .max_level = (uint32_t)hnsw_graph_max_level(g),
        .count = hnsw_graph_count(g),
        .entry_point = hnsw_graph_entry_point(g),
        .seed = index->options.seed,
        .vector_hash = hnsw_hasher_value(&index->hasher),
    };
    unsigned char header[HNSW_HEADER_SIZE];
    encode_header(&h, header);
    errno = 0;
    if (!put(stream, header, sizeof header) || !put_graph(g, stream))
        return semb_fail(err, SEMB_ERR_IO, "hnsw save: write failed: %s",
                         errno ? strerror(errno) : "short write");
    if (bytes_written)
        *bytes_written = hnsw_index_serialized_size(index);
    return SEMB_OK;
}

static semb_status check_header(const blob_header *h, size_t n, int dim, semb_error *err)
{
    if (h->version != HNSW_VERSION)
        return semb_fail(err, SEMB_ERR_FORMAT, "hnsw graph: version %u, this semb reads version %u",
                         h->version, HNSW_VERSION);
    if (h->similarity != SEMB_SIMILARITY_COSINE && h->similarity != SEMB_SIMILARITY_DOT &&
        h->similarity != SEMB_SIMILARITY_EUCLIDEAN)
        return semb_fail(err, SEMB_ERR_FORMAT, "hnsw graph: similarity %u is not one hnsw supports",
                         h->similarity);
    if (h->m < 2 || h->m > HNSW_INDEX_MAX_M || h->ef_construction < 1 ||
        h->ef_construction > INT32_MAX || h->zero != 0)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "hnsw graph: corrupt header (M %u, ef_construction %u, reserved %u)",
                         h->m, h->ef_construction, h->zero);
    if (h->dim != (uint32_t)dim || h->count != n)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "hnsw graph: built over %llu vectors of dimension %u, given %zu of %d",
                         (unsigned long long)h->count, h->dim, n, dim);
    if (h->max_level > HNSW_MAX_LEVEL || h->entry_point >= n)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "hnsw graph: corrupt header (max level %u, entry point %u of %zu)",
                         h->max_level, h->entry_point, n);
    return SEMB_OK;
}

static uint32_t u32_at(const unsigned char *p, size_t index)
{
    uint32_t v;
    memcpy(&v, p + 4 * index, 4);
    return v;
}

/* Levels within max_level with the entry point on top, labels a permutation of 0 .. n-1. */
static semb_status check_levels_labels(const unsigned char *levels, const unsigned char *labels,
                                       const blob_header *h, size_t n, semb_error *err)
{
    for (size_t id = 0; id < n; id++)
        if (u32_at(levels, id) > h->max_level)
            return semb_fail(err, SEMB_ERR_FORMAT, "hnsw graph: element %zu: level %u above the top %u",
                             id, u32_at(levels, id), h->max_level);
    if (u32_at(levels, h->entry_point) != h->max_level)
        return semb_fail(err, SEMB_ERR_FORMAT, "hnsw graph: entry point %u is not on the top level",
                         h->entry_point);
    unsigned char *seen = calloc(n, 1);
    if (!seen)
        return semb_fail(err, SEMB_ERR_NOMEM, "hnsw load: out of memory");
    semb_status status = SEMB_OK;
    for (size_t id = 0; id < n && status == SEMB_OK; id++) {
        uint32_t label = u32_at(labels, id);
        if (label >= n || seen[label])
            status = semb_fail(err, SEMB_ERR_FORMAT,
                               "hnsw graph: element %zu: label %u is out of range or repeated", id, label);
        else
            seen[label] = 1;
    }
    free(seen);
    return status;
}

typedef struct blob_reader {
    const unsigned char *data;
    size_t size, at;
    const unsigned char *levels; /* u32 [n] */
    uint32_t m;
    size_t n;
} blob_reader;

/* Reads and checks the links of element id on level, then hands them to the graph. */
static semb_status read_links(blob_reader *r, hnsw_graph *g, uint32_t id, uint32_t level,
                              uint32_t *scratch, semb_error *err)
{
    uint32_t limit = level == 0 ? 2 * r->m : r->m, count;
    if (r->size - r->at < 4)
        return semb_fail(err, SEMB_ERR_FORMAT, "hnsw graph: truncated at byte %zu (links of element %u)",
                         r->at, id);
    memcpy(&count, r->data + r->at, 4);
    if (count > limit)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "hnsw graph: element %u level %u: %u links, at most %u (byte %zu)", id, level,
                         count, limit, r->at);
    r->at += 4;
    if ((r->size - r->at) / 4 < count)
        return semb_fail(err, SEMB_ERR_FORMAT, "hnsw graph: truncated at byte %zu (links of element %u)",
                         r->at, id);
    memcpy(scratch, r->data + r->at, 4 * (size_t)count);
    for (uint32_t i = 0; i < count; i++)
        if (scratch[i] >= r->n || scratch[i] == id || u32_at(r->levels, scratch[i]) < level)
            return semb_fail(err, SEMB_ERR_FORMAT,
                             "hnsw graph: element %u level %u: link to %u, not an element on that level (byte %zu)",
                             id, level, scratch[i], r->at + 4 * (size_t)i);
    r->at += 4 * (size_t)count;
    hnsw_graph_set_links(g, id, (int)level, scratch, count);
    return SEMB_OK;
}

static semb_status read_elements(blob_reader *r, hnsw_index *index, const unsigned char *labels,
                                 const float *vectors, semb_error *err)
{
    int dim = index->dim;
    float *row = malloc(sizeof(float) * (size_t)dim);
    uint32_t *scratch = malloc(sizeof(uint32_t) * 2 * r->m);
    semb_status status = row && scratch ? SEMB_OK
                                        : semb_fail(err, SEMB_ERR_NOMEM, "hnsw load: out of memory");
    for (uint32_t id = 0; id < r->n && status == SEMB_OK; id++) {
        uint32_t label = u32_at(labels, id), level = u32_at(r->levels, id);
        hnsw_prepare_vector(index->similarity, vectors + (size_t)label * dim, dim, row);
        status = hnsw_graph_append(index->graph, label, (int)level, row, err);
        for (uint32_t l = 0; l <= level && status == SEMB_OK; l++)
            status = read_links(r, index->graph, id, l, scratch, err);
    }
    free(row);
    free(scratch);
    return status;
}

static semb_status load_checked(const unsigned char *data, size_t size, const blob_header *h,
                                const float *vectors, size_t n, int dim, hnsw_index **out,
                                semb_error *err)
{
    const unsigned char *levels = data + HNSW_HEADER_SIZE, *labels = levels + 4 * n;
    semb_status status = check_levels_labels(levels, labels, h, n, err);
    if (status != SEMB_OK)
        return status;
    hnsw_index_options opts = {(int)h->m, (int)h->ef_construction, h->seed};
    hnsw_index *index;
    status = hnsw_index_create(n, dim, (semb_similarity)h->similarity, &opts, &index, err);
    if (status != SEMB_OK)
        return status;
    index->hasher.hash = h->vector_hash;
    index->added = n;
    blob_reader r = {data, size, HNSW_HEADER_SIZE + 8 * n, levels, h->m, n};
    status = read_elements(&r, index, labels, vectors, err);
    if (status == SEMB_OK && r.at != size)
        status = semb_fail(err, SEMB_ERR_FORMAT, "hnsw graph: %zu bytes after its end (byte %zu of %zu)",
                           size - r.at, r.at, size);
    if (status != SEMB_OK) {
        hnsw_index_free(index);
        return status;
    }
    hnsw_graph_set_entry_point(index->graph, h->entry_point, (int)h->max_level);
    *out = index;
    return SEMB_OK;
}

semb_status hnsw_index_load(const void *data, size_t size, const float *vectors, size_t n,
                            int dim, hnsw_index **out, semb_error *err)
{
    *out = NULL;
    const unsigned char *bytes = data;
    if (size < HNSW_HEADER_SIZE)
        return semb_fail(err, SEMB_ERR_FORMAT, "hnsw graph: %zu bytes, shorter than its %d-byte header",
                         size, HNSW_HEADER_SIZE);
    if (memcmp(bytes, HNSW_MAGIC, 8) != 0)
        return semb_fail(err, SEMB_ERR_FORMAT, "hnsw graph: not an hnsw graph (bad magic)");
    blob_header h;
    decode_header(bytes, &h);
    semb_status status = check_header(&h, n, dim, err);
    if (status != SEMB_OK)
        return status;
    if ((size - HNSW_HEADER_SIZE) / 8 < n)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "hnsw graph: truncated: %zu bytes cannot hold the levels and labels of %zu elements",
                         size, n);
    if (hnsw_vectors_hash(vectors, n, dim) != h.vector_hash)
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "hnsw graph: the vectors given are not the ones it was built from (hash mismatch)");
    return load_checked(bytes, size, &h, vectors, n, dim, out, err);
}
