/* semb_index_build: corpus -> one index file, streamed in chunks (see semb.h). */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/error.h"
#include "core/timer.h"
#include "index/corpus_reader.h"
#include "index/hnsw_index.h"
#include "index/index_file.h"
#include "index/quantize.h"
#include "model/similarity.h"

#define DEFAULT_CHUNK 4096

/* The sections every index has, in file order; then "int8_ranges" (int8) and "hnsw" (a
 * graph, last: its size is known only once it is built). */
enum { SEC_META, SEC_EMBEDDINGS, SEC_TEXT_OFFSETS, SEC_TEXTS, SEC_ID_OFFSETS, SEC_IDS,
       SEC_ALWAYS };

typedef struct build_state {
    semb_model *model;
    semb_index_build_options o;
    const char *prompt;
    corpus_reader reader;
    int dim;
    semb_similarity similarity;
    size_t n;               /* documents */
    uint64_t text_bytes;    /* texts with their NULs */
    char *id_blob;          /* every id with its NUL */
    uint64_t *id_offsets;   /* n + 1 */
    size_t *lines;          /* n: where each document came from */
    size_t id_blob_cap, ids_cap;
    bool ids_integer;
    uint64_t *text_offsets; /* n + 1, filled by the embedding pass */
    char *meta;
    index_writer writer;
    float *starts, *steps;  /* int8 ranges */
    FILE *float_spill;      /* int8 calibrated on the corpus: float rows until ranges exist */
    size_t int8_section, hnsw_section; /* their places in the file's section list */
    hnsw_index *graph;      /* with opts.hnsw: filled as rows are written */
    float *decoded;         /* int8 / binary rows decoded for the graph, a chunk's worth */
    semb_index_build_result result;
} build_state;

semb_index_build_options semb_index_build_options_default(void)
{
    return (semb_index_build_options){.input_format = "text",
                                      .precision = SEMB_STORAGE_FLOAT32,
                                      .batch_size = 32,
                                      .chunk_size = DEFAULT_CHUNK};
}

/* The document prompt, never NULL, so the index records what was used: the caller's, else
 * the model's (semb_model_document_prompt), else its default prompt (what encode_document
 * falls back to), else none. */
static const char *document_prompt(const semb_model *model, const char *given)
{
    const char *p = given ? given : semb_model_document_prompt(model);
    const char *default_name = semb_model_default_prompt_name(model);
    if (!p && default_name)
        p = semb_model_prompt(model, default_name);
    return p ? p : "";
}

/* ---- pass 1: check and count every document, keep the ids ---- */

static semb_status keep_id(build_state *b, const corpus_document *doc, semb_error *err)
{
    size_t len = strlen(doc->id) + 1;
    if (b->n + 2 > b->ids_cap) {
        size_t cap = b->ids_cap ? 2 * b->ids_cap : 4096;
        uint64_t *o = realloc(b->id_offsets, cap * sizeof *o);
        if (o)
            b->id_offsets = o;
        size_t *l = realloc(b->lines, cap * sizeof *l);
        if (l)
            b->lines = l;
        if (!o || !l)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory holding %zu ids", b->n);
        b->ids_cap = cap;
    }
    uint64_t used = b->n ? b->id_offsets[b->n] : 0;
    if (used + len > b->id_blob_cap) {
        size_t cap = b->id_blob_cap ? 2 * b->id_blob_cap : 65536;
        while (cap < used + len)
            cap *= 2;
        char *blob = realloc(b->id_blob, cap);
        if (!blob)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory holding %zu ids", b->n);
        b->id_blob = blob;
        b->id_blob_cap = cap;
    }
    memcpy(b->id_blob + used, doc->id, len);
    b->id_offsets[0] = 0;
    b->id_offsets[b->n + 1] = used + len;
    b->lines[b->n] = doc->line;
    return SEMB_OK;
}

static semb_status scan_corpus(build_state *b, semb_error *err)
{
    corpus_document doc = {0};
    bool got, first_given = false;
    semb_status st;
    b->ids_integer = true;
    while (!(st = corpus_reader_next(&b->reader, &doc, &got, err)) && got) {
        if (b->n == 0)
            first_given = doc.id_given;
        else if (doc.id_given != first_given)
            return semb_fail(err, SEMB_ERR_INPUT,
                             "%s:%zu: %s, but the first document (line %zu) %s",
                             b->reader.name, doc.line, doc.id_given ? "has an id" : "has no id",
                             b->lines[0], first_given ? "has one" : "has none");
        if ((st = keep_id(b, &doc, err)))
            return st;
        b->ids_integer = b->ids_integer && doc.id_integer;
        b->text_bytes += doc.length + 1;
        b->n++;
    }
    if (!st && b->n == 0)
        st = semb_fail(err, SEMB_ERR_INPUT, "%s: the corpus holds no documents", b->reader.name);
    return st;
}

static int by_id(const void *a, const void *b, void *state)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    const build_state *s = state;
    int c = strcmp(s->id_blob + s->id_offsets[x], s->id_blob + s->id_offsets[y]);
    return c ? c : (x > y) - (x < y);
}

static semb_status check_duplicate_ids(build_state *b, semb_error *err)
{
    size_t *order = malloc(b->n * sizeof *order);
    if (!order)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory checking %zu ids", b->n);
    for (size_t i = 0; i < b->n; i++)
        order[i] = i;
    qsort_r(order, b->n, sizeof *order, by_id, b);
    semb_status st = SEMB_OK;
    for (size_t i = 1; i < b->n && !st; i++) {
        const char *prev = b->id_blob + b->id_offsets[order[i - 1]];
        if (strcmp(prev, b->id_blob + b->id_offsets[order[i]]) == 0)
            st = semb_fail(err, SEMB_ERR_INPUT, "%s:%zu: duplicate id \"%.200s\" (also line %zu)",
                           b->reader.name, b->lines[order[i]], prev, b->lines[order[i - 1]]);
    }
    free(order);
    return st;
}

/* ---- encoding ---- */

/* One chunk of documents, as semb_encode takes them (it puts the prompt in front). */
typedef struct chunk {
    char **texts;
    size_t *lengths, *lines;
    size_t count, capacity;
    float *rows;
} chunk;

static void chunk_clear(chunk *c)
{
    for (size_t i = 0; i < c->count; i++)
        free(c->texts[i]);
    c->count = 0;
}

static void chunk_free(chunk *c)
{
    chunk_clear(c);
    free(c->texts);
    free(c->lengths);
    free(c->lines);
    free(c->rows);
}

static semb_status chunk_alloc(chunk *c, size_t capacity, int dim, semb_error *err)
{
    *c = (chunk){.capacity = capacity};
    c->texts = calloc(capacity, sizeof *c->texts);
    c->lengths = malloc(capacity * sizeof *c->lengths);
    c->lines = malloc(capacity * sizeof *c->lines);
    c->rows = malloc(capacity * (size_t)dim * sizeof *c->rows);
    if (!c->texts || !c->lengths || !c->lines || !c->rows) {
        chunk_free(c);
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate a chunk of %zu documents",
                         capacity);
    }
    return SEMB_OK;
}

static semb_status chunk_add(chunk *c, const corpus_document *doc, semb_error *err)
{
    char *t = malloc(doc->length + 1);
    if (!t)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory encoding the corpus");
    memcpy(t, doc->text, doc->length + 1);
    c->texts[c->count] = t;
    c->lengths[c->count] = doc->length;
    c->lines[c->count++] = doc->line;
    return SEMB_OK;
}

/* Counts documents the model will truncate, prompt included (the CLI reports them). */
static semb_status count_truncated(build_state *b, const chunk *c, semb_error *err)
{
    size_t max = (size_t)semb_model_max_seq_length(b->model), plen = strlen(b->prompt);
    char *joined = NULL;
    size_t joined_size = 0;
    semb_status st = SEMB_OK;
    for (size_t i = 0; !st && i < c->count; i++) {
        if (joined_size < plen + c->lengths[i]) {
            char *grown = realloc(joined, plen + c->lengths[i] + 1);
            if (!grown) {
                st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
                break;
            }
            joined = grown;
            joined_size = plen + c->lengths[i] + 1;
        }
        memcpy(joined, b->prompt, plen);
        memcpy(joined + plen, c->texts[i], c->lengths[i]);
        size_t tokens;
        if ((st = semb_count_tokens(b->model, joined, plen + c->lengths[i], &tokens, err)))
            semb_fail_prefix(err, "%s:%zu: ", b->reader.name, c->lines[i]);
        else if (tokens > max && b->result.truncated++ == 0)
            b->result.first_truncated_line = c->lines[i];
    }
    free(joined);
    return st;
}

/* Encodes a chunk into c->rows, prepared for the similarity (normalised for cosine). An
 * encoding error names the document's line instead of its place in the chunk. */
static semb_status encode_chunk(build_state *b, chunk *c, semb_error *err)
{
    semb_encode_options opts = semb_encode_options_default();
    opts.batch_size = b->o.batch_size;
    opts.prompt = b->prompt;
    semb_status st = semb_encode(b->model, (const char *const *)c->texts, c->lengths, c->count,
                                 c->rows, &opts, err);
    if (st) {
        if (err && err->has_item && err->item < c->count)
            semb_error_rename_item(err, err->item, "%s:%zu: ", b->reader.name,
                                   c->lines[err->item]);
        return st;
    }
    similarity_prepare(b->similarity, c->rows, c->count, b->dim);
    return SEMB_OK;
}

/* Reads up to c->capacity documents into c, appending their texts to the "texts" section. */
static semb_status read_chunk(build_state *b, chunk *c, size_t first, semb_error *err)
{
    chunk_clear(c);
    corpus_document doc;
    bool got = true;
    semb_status st = SEMB_OK;
    while (!st && c->count < c->capacity && first + c->count < b->n &&
           !(st = corpus_reader_next(&b->reader, &doc, &got, err)) && got) {
        size_t i = first + c->count;
        if (doc.line != b->lines[i] || strcmp(doc.id, b->id_blob + b->id_offsets[i]) != 0)
            return semb_fail(err, SEMB_ERR_IO, "%s: changed while the index was built",
                             b->reader.name);
        st = index_writer_write(&b->writer, SEC_TEXTS, b->text_offsets[i], doc.text,
                                doc.length + 1, err);
        b->text_offsets[i + 1] = b->text_offsets[i] + doc.length + 1;
        if (!st)
            st = chunk_add(c, &doc, err);
    }
    if (!st && !got)
        st = semb_fail(err, SEMB_ERR_IO, "%s: changed while the index was built", b->reader.name);
    return st;
}

/* ---- storing embeddings ---- */

/* Links rows into the graph as search will read them back from the file: float32 rows as
 * given, int8 and binary ones decoded from what was stored (so the graph's vector hash is
 * that of the file's decoded embeddings, and approximate scores equal exact ones). */
static semb_status add_to_graph(build_state *b, const float *rows, const void *stored, size_t n,
                                semb_error *err)
{
    if (b->o.precision == SEMB_STORAGE_INT8)
        dequantize_int8_rows(stored, n, b->dim, b->starts, b->steps, b->decoded);
    else if (b->o.precision == SEMB_STORAGE_BINARY)
        unpack_binary_rows(stored, n, b->dim, b->decoded);
    double t0 = timer_seconds();
    semb_status st = hnsw_index_add(b->graph, b->o.precision == SEMB_STORAGE_FLOAT32
                                                  ? rows : b->decoded, n, err);
    b->result.hnsw_seconds += timer_seconds() - t0;
    return st;
}

static semb_status write_rows(build_state *b, const float *rows, size_t n, size_t first,
                              semb_error *err)
{
    size_t row_bytes = index_row_bytes(b->o.precision, b->dim);
    void *out = (void *)rows;
    if (b->o.precision != SEMB_STORAGE_FLOAT32 && !(out = malloc(n * row_bytes)))
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory quantizing %zu rows", n);
    if (b->o.precision == SEMB_STORAGE_INT8)
        quantize_int8_rows(rows, n, b->dim, b->starts, b->steps, out);
    else if (b->o.precision == SEMB_STORAGE_BINARY)
        quantize_binary_rows(rows, n, b->dim, out);
    semb_status st = index_writer_write(&b->writer, SEC_EMBEDDINGS, (uint64_t)first * row_bytes,
                                        out, n * row_bytes, err);
    if (!st && b->graph)
        st = add_to_graph(b, rows, out, n, err);
    if (out != rows)
        free(out);
    return st;
}

/* A temporary file beside the output, unlinked at once, so nothing outlives the build. */
static semb_status open_spill(build_state *b, const char *output_path, semb_error *err)
{
    size_t len = strlen(output_path);
    char *path = malloc(len + sizeof ".float.XXXXXX");
    if (!path)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    memcpy(path, output_path, len);
    memcpy(path + len, ".float.XXXXXX", sizeof ".float.XXXXXX");
    int fd = mkstemp(path);
    if (fd >= 0) {
        unlink(path);
        b->float_spill = fdopen(fd, "w+b");
        if (!b->float_spill)
            close(fd);
    }
    semb_status st = b->float_spill ? SEMB_OK
                                    : semb_fail(err, SEMB_ERR_IO,
                                                "%s: cannot create a temporary file: %s", path,
                                                strerror(errno));
    free(path);
    return st;
}

/* int8 calibrated on the corpus: the float rows come back from the spill file, quantized
 * with the ranges of all of them. */
static semb_status quantize_spilled(build_state *b, chunk *c, const int8_calibration *cal,
                                    semb_error *err)
{
    int8_calibration_finish(cal, b->starts, b->steps);
    if (fseeko(b->float_spill, 0, SEEK_SET) != 0)
        return semb_fail(err, SEMB_ERR_IO, "temporary float file: %s", strerror(errno));
    semb_status st = SEMB_OK;
    for (size_t first = 0; !st && first < b->n; first += c->capacity) {
        size_t n = b->n - first < c->capacity ? b->n - first : c->capacity;
        if (fread(c->rows, (size_t)b->dim * sizeof(float), n, b->float_spill) != n)
            return semb_fail(err, SEMB_ERR_IO, "temporary float file: read failed");
        st = write_rows(b, c->rows, n, first, err);
    }
    return st;
}

/* Embeds rows of the chunk into the index, or into the spill file and the calibration. */
static semb_status store_chunk(build_state *b, chunk *c, size_t first, int8_calibration *cal,
                               semb_error *err)
{
    if (!b->float_spill)
        return write_rows(b, c->rows, c->count, first, err);
    int8_calibration_add(cal, c->rows, c->count);
    if (fwrite(c->rows, (size_t)b->dim * sizeof(float), c->count, b->float_spill) != c->count)
        return semb_fail(err, SEMB_ERR_IO, "temporary float file: write failed: %s",
                         strerror(errno));
    return SEMB_OK;
}

/* Ranges from the embeddings of a calibration file's lines (encoded as documents are). */
static semb_status calibrate_from_file(build_state *b, chunk *c, semb_error *err)
{
    corpus_reader r;
    semb_status st = corpus_reader_open(&r, b->o.calibration_path, "text", err);
    if (st)
        return st;
    float *min = malloc((size_t)b->dim * sizeof *min), *max = malloc((size_t)b->dim * sizeof *max);
    int8_calibration cal = {0};
    if (!min || !max)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    else
        int8_calibration_init(&cal, b->dim, min, max);
    corpus_reader saved = b->reader;
    b->reader = r; /* so encoding errors name the calibration file */
    for (bool got = true; !st && got;) {
        chunk_clear(c);
        corpus_document doc;
        while (!st && c->count < c->capacity &&
               !(st = corpus_reader_next(&b->reader, &doc, &got, err)) && got)
            st = chunk_add(c, &doc, err);
        if (!st && c->count && !(st = encode_chunk(b, c, err)))
            int8_calibration_add(&cal, c->rows, c->count);
    }
    r = b->reader;
    b->reader = saved;
    if (!st && cal.rows == 0)
        st = semb_fail(err, SEMB_ERR_INPUT, "%s: no calibration texts", r.name);
    if (!st)
        int8_calibration_finish(&cal, b->starts, b->steps);
    corpus_reader_close(&r);
    free(min);
    free(max);
    return st;
}

/* ---- the file ---- */

static semb_status make_meta(build_state *b, semb_error *err)
{
    json_t *meta = json_pack("{s:s, s:s, s:s, s:s, s:s, s:s?}", "model",
                             b->o.model_name ? b->o.model_name : "model", "document_prompt",
                             b->prompt, "precision", semb_storage_precision_name(b->o.precision),
                             "similarity", semb_similarity_name(b->similarity), "semb_version",
                             semb_version(), "corpus",
                             b->o.corpus_name ? b->o.corpus_name : b->o.corpus_path);
    if (meta && b->graph) {
        hnsw_index_options h = hnsw_index_get_options(b->graph);
        json_t *params = json_pack("{s:i, s:i, s:I}", "m", h.m, "ef_construction",
                                   h.ef_construction, "seed", (json_int_t)h.seed);
        if (!params || json_object_set_new(meta, "hnsw", params) != 0) {
            json_decref(meta);
            meta = NULL;
        }
    }
    b->meta = meta ? json_dumps(meta, JSON_COMPACT) : NULL;
    json_decref(meta);
    if (!b->meta)
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot describe the index (invalid UTF-8 in "
                                              "the model name or prompt?)");
    return SEMB_OK;
}

static semb_status begin_file(build_state *b, const char *output_path, semb_error *err)
{
    index_info info = {.documents = b->n,
                       .dimension = b->dim,
                       .precision = b->o.precision,
                       .similarity = b->similarity,
                       .normalized = semb_model_normalizes(b->model) != 0,
                       .ids_integer = b->ids_integer,
                       .max_seq_length = semb_model_max_seq_length(b->model)};
    semb_model_fingerprint(b->model, info.fingerprint);
    const char *names[SEC_ALWAYS + 2] = {"meta", "embeddings", "text_offsets", "texts",
                                         "id_offsets", "ids"};
    uint64_t sizes[SEC_ALWAYS + 2] = {
        [SEC_META] = strlen(b->meta),
        [SEC_EMBEDDINGS] = (uint64_t)b->n * index_row_bytes(b->o.precision, b->dim),
        [SEC_TEXT_OFFSETS] = ((uint64_t)b->n + 1) * 8,
        [SEC_TEXTS] = b->text_bytes,
        [SEC_ID_OFFSETS] = ((uint64_t)b->n + 1) * 8,
        [SEC_IDS] = b->id_offsets[b->n]};
    size_t n = SEC_ALWAYS;
    if (b->o.precision == SEMB_STORAGE_INT8) {
        b->int8_section = n;
        names[n] = "int8_ranges";
        sizes[n++] = (uint64_t)b->dim * 2 * sizeof(float);
    }
    if (b->graph) {
        b->hnsw_section = n;
        names[n] = "hnsw";
        sizes[n++] = INDEX_SECTION_SIZE_DEFERRED;
    }
    return index_writer_begin(&b->writer, output_path, &info, names, sizes, n, err);
}

/* The graph, once every row is in it, as the file's last section. */
static semb_status write_graph(build_state *b, semb_error *err)
{
    uint64_t size = hnsw_index_serialized_size(b->graph), written;
    FILE *stream;
    semb_status st = index_writer_set_size(&b->writer, b->hnsw_section, size, err);
    if (!st)
        st = index_writer_stream(&b->writer, b->hnsw_section, &stream, err);
    if (!st)
        st = hnsw_index_save(b->graph, stream, &written, err);
    if (st)
        semb_fail_prefix(err, "%s: ", b->writer.file.path);
    else
        b->result.hnsw_bytes = written;
    return st;
}

static semb_status write_tables(build_state *b, semb_error *err)
{
    size_t offsets_bytes = (b->n + 1) * sizeof(uint64_t);
    semb_status st = index_writer_write(&b->writer, SEC_META, 0, b->meta, strlen(b->meta), err);
    if (!st)
        st = index_writer_write(&b->writer, SEC_TEXT_OFFSETS, 0, b->text_offsets, offsets_bytes,
                                err);
    if (!st)
        st = index_writer_write(&b->writer, SEC_ID_OFFSETS, 0, b->id_offsets, offsets_bytes, err);
    if (!st)
        st = index_writer_write(&b->writer, SEC_IDS, 0, b->id_blob, b->id_offsets[b->n], err);
    if (!st && b->o.precision == SEMB_STORAGE_INT8) {
        size_t half = (size_t)b->dim * sizeof(float);
        st = index_writer_write(&b->writer, b->int8_section, 0, b->starts, half, err);
        if (!st)
            st = index_writer_write(&b->writer, b->int8_section, half, b->steps, half, err);
    }
    return st;
}

/* Pass 2: read, encode and store the corpus chunk by chunk. */
static semb_status embed_corpus(build_state *b, chunk *c, semb_error *err)
{
    float *min = NULL, *max = NULL;
    int8_calibration cal = {0};
    if (b->float_spill) {
        min = malloc((size_t)b->dim * sizeof *min);
        max = malloc((size_t)b->dim * sizeof *max);
        if (!min || !max) {
            free(min);
            free(max);
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        }
        int8_calibration_init(&cal, b->dim, min, max);
    }
    semb_status st = corpus_reader_rewind(&b->reader, err);
    b->text_offsets[0] = 0;
    for (size_t first = 0; !st && first < b->n; first += c->count) {
        st = read_chunk(b, c, first, err);
        if (!st)
            st = count_truncated(b, c, err);
        if (!st)
            st = encode_chunk(b, c, err);
        if (!st)
            st = store_chunk(b, c, first, &cal, err);
        if (!st && b->o.progress)
            b->o.progress(b->o.progress_user, first + c->count, b->n);
    }
    if (!st && b->float_spill)
        st = quantize_spilled(b, c, &cal, err);
    free(min);
    free(max);
    return st;
}

static semb_status begin_graph(build_state *b, semb_error *err)
{
    hnsw_index_options h;
    hnsw_index_options_default(&h);
    h.m = b->o.hnsw_m ? b->o.hnsw_m : h.m;
    h.ef_construction = b->o.hnsw_ef_construction ? b->o.hnsw_ef_construction
                                                  : h.ef_construction;
    if (b->o.precision != SEMB_STORAGE_FLOAT32 &&
        !(b->decoded = malloc(b->o.chunk_size * (size_t)b->dim * sizeof *b->decoded)))
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    return hnsw_index_begin(b->n, b->dim, b->similarity, &h, &b->graph, err);
}

static semb_status build(build_state *b, const char *output_path, semb_error *err)
{
    semb_status st = scan_corpus(b, err);
    if (!st)
        st = check_duplicate_ids(b, err);
    if (!st && !(b->text_offsets = malloc((b->n + 1) * sizeof *b->text_offsets)))
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory for %zu text offsets", b->n);
    chunk c = {0};
    if (!st)
        st = chunk_alloc(&c, b->o.chunk_size, b->dim, err);
    if (!st && b->o.hnsw)
        st = begin_graph(b, err);
    if (!st && b->o.precision == SEMB_STORAGE_INT8) {
        b->starts = malloc((size_t)b->dim * sizeof *b->starts);
        b->steps = malloc((size_t)b->dim * sizeof *b->steps);
        if (!b->starts || !b->steps)
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        else if (b->o.calibration_path)
            st = calibrate_from_file(b, &c, err);
        else
            st = open_spill(b, output_path, err);
    }
    if (!st)
        st = make_meta(b, err);
    if (!st && !(st = begin_file(b, output_path, err))) {
        st = embed_corpus(b, &c, err);
        if (!st)
            st = write_tables(b, err);
        if (!st && b->graph)
            st = write_graph(b, err);
        b->result.file_bytes = b->writer.file_size;
        if (!st)
            st = index_writer_commit(&b->writer, err);
        else
            index_writer_abort(&b->writer);
    }
    chunk_free(&c);
    return st;
}

static semb_status check_options(const semb_model *model, const semb_index_build_options *o,
                                 const char *output_path, semb_error *err)
{
    if (!model || !o || !output_path)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_index_build: NULL argument");
    if (!o->corpus_path && !o->texts && o->n_texts)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_index_build: no corpus given");
    if (o->precision > SEMB_STORAGE_BINARY)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "unknown precision %d", (int)o->precision);
    if (o->calibration_path && o->precision != SEMB_STORAGE_INT8)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "a calibration file is for int8 only");
    if (!o->hnsw)
        return SEMB_OK;
    if (semb_model_similarity(model) == SEMB_SIMILARITY_MANHATTAN)
        return semb_fail(err, SEMB_ERR_UNSUPPORTED,
                         "%s uses manhattan similarity, which an HNSW graph (hnswlib: inner "
                         "product and euclidean) cannot search; build without the graph for "
                         "exact search", o->model_name ? o->model_name : "the model");
    if (o->hnsw_m != 0 && (o->hnsw_m < 2 || o->hnsw_m > HNSW_INDEX_MAX_M))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "HNSW M %d: must be in 2 .. %d", o->hnsw_m,
                         HNSW_INDEX_MAX_M);
    if (o->hnsw_ef_construction < 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "HNSW ef_construction %d: must be at least 1",
                         o->hnsw_ef_construction);
    return SEMB_OK;
}

semb_status semb_index_build(semb_model *model, const semb_index_build_options *opts,
                             const char *output_path, semb_index_build_result *result,
                             semb_error *err)
{
    semb_status st = check_options(model, opts, output_path, err);
    if (st)
        return st;
    build_state b = {.model = model, .o = *opts};
    b.o.chunk_size = b.o.chunk_size ? b.o.chunk_size : DEFAULT_CHUNK;
    b.o.batch_size = b.o.batch_size > 0 ? b.o.batch_size : 32;
    b.prompt = document_prompt(model, opts->document_prompt);
    b.dim = semb_model_dimension(model);
    b.similarity = semb_model_similarity(model);
    if (opts->corpus_path) {
        st = corpus_reader_open(&b.reader, opts->corpus_path, opts->input_format, err);
        if (!st && opts->corpus_name)
            b.reader.name = opts->corpus_name;
    } else
        corpus_reader_open_memory(&b.reader, opts->texts, opts->lengths, opts->ids,
                                  opts->n_texts);
    if (!st)
        st = build(&b, output_path, err);
    b.result.documents = b.n;
    b.result.document_prompt = b.prompt;
    if (!st && result)
        *result = b.result;
    corpus_reader_close(&b.reader);
    if (b.float_spill)
        fclose(b.float_spill);
    free(b.id_blob);
    free(b.id_offsets);
    free(b.lines);
    free(b.text_offsets);
    free(b.meta);
    free(b.starts);
    free(b.steps);
    free(b.decoded);
    hnsw_index_free(b.graph);
    return st;
}
