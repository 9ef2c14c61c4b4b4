/* libFuzzer target for the search index file reader (index_file_open, and semb_index_open
 * with its HNSW graph and a search).
 *
 * Input: one flag byte, then the file. Unless told otherwise by the flag the harness writes
 * the file's real size into the header and recomputes the header CRC (as the writer does),
 * so mutations reach the section table and the sections past those checks: bit 0 keeps the
 * CRC as given, bit 1 the file size. A file that opens has every text, id and row read, its
 * graph loaded and one exact and one approximate search run with a fixed query. Besides the
 * sanitizers' findings it aborts when an opened index breaks the contract: a text or id
 * that is not NUL-terminated where the offsets say, more hits than asked for. */
#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "index/index_file.h"
#include "semb.h"
#include "support.h"

static void put_u32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get_u32(const uint8_t *p)
{
    return p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* The header CRC as index_file.c defines it: the 128-byte header with the CRC field zero,
 * then the section table. A table that does not fit is left for the reader to refuse. */
static void fix_header(uint8_t *file, size_t size, uint8_t flags)
{
    if (size < INDEX_HEADER_SIZE)
        return;
    if (!(flags & 2))
        for (int i = 0; i < 8; i++)
            file[16 + i] = (uint8_t)((uint64_t)size >> (8 * i));
    uint32_t n = get_u32(file + 52);
    if (flags & 1 || n > INDEX_MAX_SECTIONS ||
        INDEX_HEADER_SIZE + (size_t)n * INDEX_SECTION_ENTRY_SIZE > size)
        return;
    put_u32(file + 12, 0);
    uLong crc = crc32(0L, Z_NULL, 0);
    crc = crc32(crc, file, INDEX_HEADER_SIZE + n * INDEX_SECTION_ENTRY_SIZE);
    put_u32(file + 12, (uint32_t)crc);
}

static void read_file(const char *path)
{
    index_file f;
    semb_error err = {0};
    if (index_file_open(path, &f, &err)) {
        if (f.map || !err.message[0])
            abort();
        return;
    }
    volatile size_t sum = 0;
    for (size_t i = 0; i < f.info.documents; i++) {
        size_t length;
        const char *text = index_file_text(&f, i, &length);
        if (strlen(text) != length)
            abort();
        sum += strlen(index_file_id(&f, i));
        for (size_t b = 0; b < f.row_bytes; b++)
            sum += f.embeddings[i * f.row_bytes + b];
    }
    (void)sum;
    index_file_close(&f);
}

static void search(const char *path)
{
    semb_index *index = NULL;
    semb_error err = {0};
    if (semb_index_open(path, &index, &err)) {
        if (index || !err.message[0])
            abort();
        return;
    }
    int dim = semb_index_dimension(index);
    size_t documents = semb_index_count(index), k = 3, per_query = 0;
    semb_index_graph graph;
    semb_index_graph_info(index, &graph);
    (void)semb_index_load_graph(index, &err);
    float *query = malloc((size_t)dim * sizeof *query);
    if (!query)
        abort();
    for (int i = 0; i < dim; i++)
        query[i] = (float)(i % 3) - 0.5f;
    semb_search_hit hits[3];
    for (int exact = 0; exact <= 1; exact++) {
        semb_search_options o = {.exact = exact};
        if (semb_index_search_embeddings(index, query, 1, k, &o, hits, &per_query, &err))
            continue;
        if (per_query != (documents < k ? documents : k))
            abort();
        for (size_t i = 0; i < per_query; i++)
            if (!hits[i].id || !hits[i].text || hits[i].document >= documents)
                abort();
    }
    free(query);
    semb_index_close(index);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t *file = malloc(size - 1 ? size - 1 : 1);
    if (!file)
        abort();
    memcpy(file, data + 1, size - 1);
    fix_header(file, size - 1, data[0]);
    const char *path = fuzz_write("docs.idx", file, size - 1);
    free(file);
    read_file(path);
    search(path);
    return 0;
}
