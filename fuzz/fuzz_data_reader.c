/* libFuzzer target for the training data reader (data_reader over line_source and
 * example_parse): JSONL objects and lists, TSV, plain, gzip and zstd.
 *
 * Input: one option byte, then the file. The byte's low three bits pick the file name
 * (which sets the expected layout and compression: .jsonl, .tsv, .txt, .jsonl.gz, .tsv.gz,
 * .jsonl.zst, .tsv.zst, .data), bit 3 strict, bit 4 a short max_line_bytes (64, else 4096),
 * bits 5-7 min_examples. A file that opens is read to its end (every example checked),
 * rewound, read again at the positions the first pass gave (data_reader_read_at), its state
 * saved and restored, and its lines counted. Besides the sanitizers' findings it aborts when
 * an example breaks the contract: a text count other than 2 + the file's negatives, an
 * empty text, a second pass that disagrees with the first. */
#include <stdlib.h>
#include <string.h>

#include "support.h"
#include "train/data_reader.h"

#define MAX_REMEMBERED 256

static const char *const names[] = {"data.jsonl",     "data.tsv",       "data.txt",
                                    "data.jsonl.gz",  "data.tsv.gz",    "data.jsonl.zst",
                                    "data.tsv.zst",   "data.data"};

static void check_example(const data_reader *r, const example_view *ex)
{
    if (ex->n_texts != 2 + r->n_negatives || ex->n_texts > EXAMPLE_MAX_TEXTS)
        abort();
    for (int i = 0; i < ex->n_texts; i++)
        if (!ex->texts[i] || ex->lengths[i] == 0)
            abort();
}

/* Reads one pass to its end; remembers the first positions. Returns the examples read, or
 * -1 on an error (strict mode, corrupt compressed data). */
static long read_pass(data_reader *r, uint64_t *offsets, uint64_t *lines, size_t *remembered)
{
    long examples = 0;
    for (;;) {
        example_view ex;
        uint64_t offset, line;
        bool end = false;
        semb_error err = {0};
        if (data_reader_next(r, &ex, &offset, &line, &end, &err))
            return -1;
        if (end)
            return examples;
        check_example(r, &ex);
        if (offsets && *remembered < MAX_REMEMBERED) {
            offsets[*remembered] = offset;
            lines[*remembered] = line;
            ++*remembered;
        }
        examples++;
    }
}

static void exercise(data_reader *r)
{
    static uint64_t offsets[MAX_REMEMBERED], lines[MAX_REMEMBERED];
    size_t remembered = 0;
    semb_error err = {0};
    long first = read_pass(r, offsets, lines, &remembered);
    if (first < 0 || data_reader_rewind(r, &err))
        return;
    long second = read_pass(r, NULL, NULL, NULL);
    if (second >= 0 && second != first)
        abort();
    json_t *state = json_object();
    if (!state || data_reader_state_save(r, state, &err))
        abort();
    for (size_t i = 0; i < remembered; i++) {
        example_view ex;
        if (data_reader_read_at(r, offsets[i], lines[i], &ex, &err))
            abort(); /* the file has not changed: the line is still there */
        check_example(r, &ex);
    }
    if (data_reader_state_restore(r, state, &err))
        abort();
    json_decref(state);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size == 0)
        return 0;
    uint8_t flags = data[0];
    const char *path = fuzz_write(names[flags & 7], data + 1, size - 1);
    data_reader_options options = {.max_line_bytes = flags & 16 ? 64 : 4096,
                                    .strict = flags & 8};
    data_reader *r = NULL;
    semb_error err = {0};
    if (data_reader_open(path, &options, (flags >> 5) + 1, &r, &err) == SEMB_OK) {
        exercise(r);
        data_reader_close(r);
    } else if (r || !err.message[0]) {
        abort();
    }
    uint64_t count;
    (void)line_source_count_lines(path, &count, &err);
    return 0;
}
