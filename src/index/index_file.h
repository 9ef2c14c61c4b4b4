/* The search index file: one self-describing file holding a corpus's embeddings, texts and
 * ids and the identity of the model that made them.
 *
 * Layout (all integers little-endian):
 *   header, 128 bytes:
 *     0  magic "SEMBINDX"            8   u32 format version (1)
 *     12 u32 CRC-32 of the header (this field zero) and the section table
 *     16 u64 file size               24  u64 documents
 *     32 u32 dimension               36  u32 precision (semb_storage_precision)
 *     40 u32 similarity (semb_similarity)
 *     44 u32 flags: 1 = the model normalizes, 2 = ids are integers
 *     48 u32 the model's max sequence length      52 u32 sections
 *     56 char[32] model fingerprint (hex)          88..128 zero
 *   section table: one 32-byte entry per section, char[16] name (NUL-padded), u64 offset,
 *     u64 size; sections start at multiples of 64 bytes, in any order, never overlapping.
 *   sections:
 *     "meta"         JSON object: "model" (name or path, for messages), "document_prompt",
 *                    "semb_version", "corpus", with a graph "hnsw": {"m", "ef_construction",
 *                    "seed"} (what it was built with)
 *     "embeddings"   documents rows: float32[dim] (cosine rows L2-normalised), int8[dim], or
 *                    packed bits[ceil(dim / 8)] (see quantize.h)
 *     "int8_ranges"  float32 starts[dim] then steps[dim] (int8 only)
 *     "text_offsets" u64[documents + 1] into "texts": each text UTF-8 with a NUL after it
 *     "id_offsets"   u64[documents + 1] into "ids", likewise
 *     "hnsw"         optional: an HNSW graph over the stored embeddings (hnsw_index_save's
 *                    blob, see hnsw_index.h; the last section, written after the graph is
 *                    built); float32 rows are its vectors, int8 rows dequantized, binary
 *                    rows as +1/-1
 * Readers ignore sections they do not know, so a new one is added by naming it in
 * index_writer_begin, with no change of version. */
#ifndef SEMB_INDEX_INDEX_FILE_H
#define SEMB_INDEX_INDEX_FILE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "io/atomic_file.h"
#include "semb.h"

#define INDEX_FILE_MAGIC "SEMBINDX"
#define INDEX_FILE_VERSION 1
#define INDEX_HEADER_SIZE 128
#define INDEX_SECTION_ENTRY_SIZE 32
#define INDEX_SECTION_NAME_SIZE 16
#define INDEX_MAX_SECTIONS 64
#define INDEX_SECTION_ALIGN 64

/* What the header says about an index. */
typedef struct index_info {
    uint64_t documents;
    int dimension;
    semb_storage_precision precision;
    semb_similarity similarity;
    bool normalized;
    bool ids_integer;
    int max_seq_length;
    char fingerprint[SEMB_FINGERPRINT_SIZE];
} index_info;

typedef struct index_section {
    char name[INDEX_SECTION_NAME_SIZE + 1];
    uint64_t offset, size;
} index_section;

/* Bytes of one stored embedding row. */
size_t index_row_bytes(semb_storage_precision precision, int dimension);

/* ---- writing ---- */

typedef struct index_writer {
    atomic_file file;
    index_info info;
    index_section sections[INDEX_MAX_SECTIONS];
    size_t n_sections;
    bool deferred; /* the last section's size is still to be set */
    uint64_t file_size, position;
} index_writer;

/* The size of a last section not known when the file begins (a graph built while the
 * embeddings are written): laid out after all others, sized by index_writer_set_size. */
#define INDEX_SECTION_SIZE_DEFERRED UINT64_MAX

/* Lays out n sections of the given names and exact sizes, creates path's temporary file and
 * writes the header and section table. Sections are then filled in any order by
 * index_writer_write; bytes never written read as zero. The last size (only) may be
 * INDEX_SECTION_SIZE_DEFERRED. Errors: SEMB_ERR_INVALID_ARG (bad name, too many sections, a
 * deferred size not last), SEMB_ERR_IO naming path. */
semb_status index_writer_begin(index_writer *w, const char *path, const index_info *info,
                               const char *const *names, const uint64_t *sizes, size_t n,
                               semb_error *err);

/* Writes size bytes at byte `at` of section number `section` (its place in names). Writing
 * past the section's end is SEMB_ERR_INVALID_ARG; a failed write SEMB_ERR_IO. */
semb_status index_writer_write(index_writer *w, size_t section, uint64_t at, const void *data,
                               size_t size, semb_error *err);

/* Sets the size of the deferred last section, once, before it is written; the file grows to
 * hold it. SEMB_ERR_INVALID_ARG when there is no deferred section or it was already set. */
semb_status index_writer_set_size(index_writer *w, size_t section, uint64_t size,
                                  semb_error *err);

/* Positions the file at the start of section for a serializer that writes exactly its size
 * to the returned stream (hnsw_index_save); the stream stays the writer's. SEMB_ERR_IO when
 * the seek fails, SEMB_ERR_INVALID_ARG for a deferred section not yet sized. */
semb_status index_writer_stream(index_writer *w, size_t section, FILE **stream,
                                semb_error *err);

/* Writes the header and section table again (the file's final size and CRC), completes the
 * file and renames it onto the path; on failure nothing is left. SEMB_ERR_INVALID_ARG when a
 * deferred size was never set. */
semb_status index_writer_commit(index_writer *w, semb_error *err);

/* Removes the temporary file. Safe after a failed begin or commit. */
void index_writer_abort(index_writer *w);

/* ---- reading ---- */

typedef struct index_file {
    char *path;
    void *map;
    size_t map_size;
    index_info info;
    index_section sections[INDEX_MAX_SECTIONS];
    size_t n_sections;
    const uint8_t *embeddings; /* documents * row_bytes */
    size_t row_bytes;
    const float *int8_starts, *int8_steps; /* int8 only, else NULL */
    const uint64_t *text_offsets, *id_offsets;
    const char *texts, *ids;
    char *model_name;      /* from "meta"; malloc'd */
    char *document_prompt; /* from "meta"; malloc'd, "" when none was used */
    const uint8_t *hnsw;   /* the "hnsw" section (not yet validated: hnsw_index_load does),
                              NULL when the index has no graph */
    uint64_t hnsw_size;
    int hnsw_m, hnsw_ef_construction; /* from "meta", with a graph */
    uint64_t hnsw_seed;
} index_file;

/* Maps path read-only and validates everything a search relies on: magic, version, CRC of
 * header and section table, file size, section bounds, overlap and sizes, the required
 * sections of the precision, offsets that rise to their blob's end with a NUL closing each
 * text and id, integer ids that are integers, finite int8 ranges, the meta JSON, a graph's parameters in
 * meta (the graph itself is checked when it is loaded). A corrupt or
 * truncated file is SEMB_ERR_FORMAT naming path and what is wrong; never a crash. On
 * failure *out is zeroed. Close with index_file_close. */
semb_status index_file_open(const char *path, index_file *out, semb_error *err);

/* Unmaps and frees; safe on a zeroed index_file. */
void index_file_close(index_file *f);

/* The section called name, or NULL. */
const index_section *index_file_section(const index_file *f, const char *name);

/* The text and id of document i (NUL-terminated, inside the mapping). */
const char *index_file_text(const index_file *f, size_t i, size_t *length);
const char *index_file_id(const index_file *f, size_t i);

#endif
