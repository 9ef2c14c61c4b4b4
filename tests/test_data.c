/* Data files: streaming lines from plain, gzip and zstd files (seeking included), parsing
 * the three layouts, the reader's skip accounting and --strict, and the data config. Every
 * file is written by the test. */
#include "data_test_files.h"

#include <sys/stat.h>

#include "core/error.h"
#include "io/files.h"
#include "train/data_config.h"
#include "train/data_reader.h"
#include "text/example_parse.h"
#include "io/line_source.h"

static char *tmp;

static int setup(void **state)
{
    tmp = test_make_temp_dir();
    return 0;
}

static int teardown(void **state)
{
    test_rmtree(tmp);
    free(tmp);
    return 0;
}

static char *tmp_path(const char *name)
{
    return path_join(tmp, name);
}

/* --- line_source ------------------------------------------------------------------------ */

typedef struct read_line {
    char text[64];
    size_t length;
    uint64_t offset, number;
    bool too_long;
} read_line;

static int read_all(const char *path, size_t max_line, read_line *lines, int max)
{
    line_source *s;
    semb_error err = {0};
    if (line_source_open(path, max_line, &s, &err))
        fail_msg("%s", err.message);
    int n = 0;
    for (;;) {
        source_line l;
        bool end;
        if (line_source_next(s, &l, &end, &err))
            fail_msg("%s", err.message);
        if (end)
            break;
        assert_true(n < max);
        lines[n] = (read_line){"", l.length, l.offset, l.number, l.too_long};
        if (!l.too_long)
            snprintf(lines[n].text, sizeof lines[n].text, "%.*s", (int)l.length, l.text);
        n++;
    }
    line_source_close(s);
    return n;
}

/* Same lines, offsets and numbers from every compression, one part or several; a line over
 * the limit is reported (with its length) and dropped, the next one is intact; the last line
 * needs no "\n". */
static void test_lines_from_every_compression(void **state)
{
    char long_line[3001];
    memset(long_line, 'x', 3000);
    long_line[3000] = '\0';
    char whole[4096];
    snprintf(whole, sizeof whole, "first\n\nthird line\r\n%s\nafter long\nlast", long_line);
    const char *parts[] = {"first\n\nthi", "rd line\r\n", long_line, "\nafter long\nlast"};
    for (int kind = TEST_PLAIN; kind <= TEST_ZSTD; kind++)
        for (int split = 0; split < 2; split++) {
            char name[64];
            snprintf(name, sizeof name, "lines%d%s", split, compression_suffix(kind));
            char *path = tmp_path(name);
            if (split)
                write_parts(path, kind, parts, 4);
            else
                write_data(path, kind, whole);
            read_line l[8];
            int n = read_all(path, 1000, l, 8);
            assert_int_equal(n, 6);
            assert_string_equal(l[0].text, "first");
            assert_int_equal(l[1].length, 0);
            assert_string_equal(l[2].text, "third line\r");
            assert_true(l[3].too_long);
            assert_int_equal(l[3].length, 3000);
            assert_string_equal(l[4].text, "after long");
            assert_string_equal(l[5].text, "last");
            for (int i = 0; i < n; i++)
                assert_int_equal(l[i].number, (uint64_t)i + 1);
            assert_int_equal(l[2].offset, 7);
            assert_int_equal(l[4].offset, 7 + 12 + 3001);
            free(path);
        }
}

/* Seeking back and forth to reported offsets gives the same lines, in every compression. */
static void test_seek(void **state)
{
    char text[20000] = "";
    for (int i = 0; i < 1000; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "line %d\n", i);
    for (int kind = TEST_PLAIN; kind <= TEST_ZSTD; kind++) {
        char name[32];
        snprintf(name, sizeof name, "seek%s", compression_suffix(kind));
        char *path = tmp_path(name);
        write_data(path, kind, text);
        read_line all[1000];
        assert_int_equal(read_all(path, 64, all, 1000), 1000);
        line_source *s;
        semb_error err = {0};
        assert_int_equal(line_source_open(path, 64, &s, &err), SEMB_OK);
        static const int order[] = {500, 3, 999, 0, 998, 10, 10, 700};
        for (int k = 0; k < 8; k++) {
            const read_line *want = &all[order[k]];
            assert_int_equal(line_source_seek(s, want->offset, want->number, &err), SEMB_OK);
            source_line got;
            bool end;
            assert_int_equal(line_source_next(s, &got, &end, &err), SEMB_OK);
            assert_false(end);
            assert_int_equal(got.length, want->length);
            assert_memory_equal(got.text, want->text, want->length);
            assert_int_equal(got.number, want->number);
            uint64_t number, offset = line_source_tell(s, &number);
            assert_int_equal(number, want->number + 1);
            if (order[k] < 999)
                assert_int_equal(offset, all[order[k] + 1].offset);
        }
        assert_int_equal(line_source_seek(s, 1u << 20, 5, &err), kind == TEST_PLAIN ? SEMB_OK : SEMB_ERR_FORMAT);
        line_source_close(s);
        uint64_t count;
        assert_int_equal(line_source_count_lines(path, &count, &err), SEMB_OK);
        assert_int_equal(count, 1000);
        free(path);
    }
}

static void expect_open_error(const char *path, semb_status status, const char *pattern)
{
    line_source *s;
    semb_error err = {0};
    semb_status st = line_source_open(path, 100, &s, &err);
    if (!st) { /* some damage shows only when reading */
        bool end = false;
        source_line l;
        while (!st && !end)
            st = line_source_next(s, &l, &end, &err);
        line_source_close(s);
    }
    printf("  %s\n", err.message);
    assert_int_equal(st, status);
    assert_non_null(strstr(err.message, pattern));
}

/* The name and the bytes must agree; truncated or corrupt compressed data is an error, never
 * a silently shorter file. */
static void test_damaged_files(void **state)
{
    char *p = tmp_path("plain.gz"), *q = tmp_path("plain.zst"), *r = tmp_path("gzip-named.jsonl");
    write_data(p, TEST_PLAIN, "hello\n");
    write_data(q, TEST_PLAIN, "hello\n");
    write_data(r, TEST_GZIP, "hello\n");
    expect_open_error(p, SEMB_ERR_FORMAT, "named .gz but is not gzip data");
    expect_open_error(q, SEMB_ERR_FORMAT, "named .zst but is not zstd data");
    read_line l[2];
    assert_int_equal(read_all(r, 100, l, 2), 1); /* the bytes decide */
    assert_string_equal(l[0].text, "hello");

    char text[50000] = "";
    for (int i = 0; i < 3000; i++)
        snprintf(text + strlen(text), sizeof text - strlen(text), "%d\n", i * 7919 % 10007);
    for (int kind = TEST_GZIP; kind <= TEST_ZSTD; kind++) {
        char name[32];
        snprintf(name, sizeof name, "cut%s", compression_suffix(kind));
        char *path = tmp_path(name);
        write_data(path, kind, text);
        size_t size;
        char *bytes = test_read_file(path, &size);
        FILE *f = fopen(path, "wb");
        fwrite(bytes, 1, size / 2, f);
        fclose(f);
        expect_open_error(path, SEMB_ERR_FORMAT, "truncated");
        bytes[size / 2] ^= 0x55; /* flip bits in the middle */
        f = fopen(path, "wb");
        fwrite(bytes, 1, size, f);
        fclose(f);
        expect_open_error(path, SEMB_ERR_FORMAT, "corrupt");
        free(bytes);
        free(path);
    }
    char *missing = tmp_path("missing.jsonl");
    expect_open_error(missing, SEMB_ERR_IO, "missing.jsonl: cannot open");
    free(missing);
    free(p);
    free(q);
    free(r);
}

/* --- parsing ------------------------------------------------------------------------------ */

static bool parse(data_format format, const char *line, example_view *ex, char *why)
{
    static example_parser p;
    example_parser_free(&p);
    p.format = format;
    return example_parse(&p, line, strlen(line), ex, why, 200);
}

static void expect_texts(const example_view *ex, int n, const char *const *texts)
{
    assert_int_equal(ex->n_texts, n);
    for (int i = 0; i < n; i++) {
        assert_int_equal(ex->lengths[i], strlen(texts[i]));
        assert_memory_equal(ex->texts[i], texts[i], ex->lengths[i]);
    }
}

static void expect_bad(data_format format, const char *line, const char *reason)
{
    example_view ex;
    char why[200] = "";
    assert_false(parse(format, line, &ex, why));
    if (!strstr(why, reason))
        fail_msg("'%s': reason '%s', wanted '%s'", line, why, reason);
}

static void test_parse_layouts(void **state)
{
    example_view ex;
    char why[200];
    assert_true(parse(DATA_FORMAT_JSONL, "{\"anchor\": \"a\", \"positive\": \"p\"}", &ex, why));
    expect_texts(&ex, 2, (const char *[]){"a", "p"});
    assert_true(parse(DATA_FORMAT_JSONL, "{\"anchor\": \"a\", \"positive\": \"p\", \"negative\": \"n\"}", &ex, why));
    expect_texts(&ex, 3, (const char *[]){"a", "p", "n"});
    assert_true(parse(DATA_FORMAT_JSONL, "{\"anchor\": \"a\", \"positive\": \"p\", \"negative\": [\"n1\", \"n2\"]}\r", &ex, why));
    expect_texts(&ex, 4, (const char *[]){"a", "p", "n1", "n2"});
    assert_true(parse(DATA_FORMAT_JSONL, "[\"caf\\u00e9\", \"p\"]", &ex, why));
    expect_texts(&ex, 2, (const char *[]){"caf\xc3\xa9", "p"});
    assert_true(parse(DATA_FORMAT_JSONL, "[\"a\", \"p\", \"n\"]", &ex, why));
    expect_texts(&ex, 3, (const char *[]){"a", "p", "n"});
    assert_true(parse(DATA_FORMAT_TSV, "a b\tp\tn\r", &ex, why));
    expect_texts(&ex, 3, (const char *[]){"a b", "p", "n"});
    assert_true(parse(DATA_FORMAT_TSV, "a\tp", &ex, why));
    expect_texts(&ex, 2, (const char *[]){"a", "p"});

    expect_bad(DATA_FORMAT_JSONL, "{\"anchor\": \"a\"", "malformed JSON");
    expect_bad(DATA_FORMAT_JSONL, "{\"anchor\": \"a\"}", "missing field \"positive\"");
    expect_bad(DATA_FORMAT_JSONL, "{\"anchor\": 1, \"positive\": \"p\"}", "field \"anchor\" is not a string");
    expect_bad(DATA_FORMAT_JSONL, "{\"anchor\": \" \\t\", \"positive\": \"p\"}", "field \"anchor\" is empty");
    expect_bad(DATA_FORMAT_JSONL, "{\"anchor\": \"a\", \"positive\": \"p\", \"negative\": 3}", "not a string or a list");
    expect_bad(DATA_FORMAT_JSONL, "{\"anchor\": \"a\", \"positive\": \"p\", \"negative\": [\"n\", \"\"]}", "field \"negative\": item 2 is empty");
    expect_bad(DATA_FORMAT_JSONL, "{\"anchor\": \"a\", \"positive\": \"p\", \"negative\": [\"n\", 2]}", "item 2 is not a string");
    expect_bad(DATA_FORMAT_JSONL, "[\"only one\"]", "a list of 1 item: needs 2");
    expect_bad(DATA_FORMAT_JSONL, "[\"a\", 5]", "item 2 is not a string");
    expect_bad(DATA_FORMAT_JSONL, "[\"a\", \"  \"]", "item 2 is empty");
    expect_bad(DATA_FORMAT_JSONL, "\"just a string\"", "not a JSON object or list");
    expect_bad(DATA_FORMAT_JSONL, "[\"a\xff\", \"p\"]", "malformed JSON"); /* jansson checks UTF-8 */
    expect_bad(DATA_FORMAT_TSV, "no tab here", "1 column");
    expect_bad(DATA_FORMAT_TSV, "a\t", "column 2 is empty");
    expect_bad(DATA_FORMAT_TSV, "a\xc3\x28\tp", "column 1 is not valid UTF-8");

    assert_int_equal(data_format_detect("x.jsonl.gz", "a\tb", 3), DATA_FORMAT_JSONL);
    assert_int_equal(data_format_detect("x.TSV.zst", "{", 1), DATA_FORMAT_TSV);
    assert_int_equal(data_format_detect("x.txt", "  [\"a\"", 6), DATA_FORMAT_JSONL);
    assert_int_equal(data_format_detect("x.txt", "a\tb", 3), DATA_FORMAT_TSV);
    assert_true(example_is_tsv_header("anchor\tpositive\r", 16));
    assert_true(example_is_tsv_header("Anchor\tPositive\tnegative\tnegative", 33));
    assert_false(example_is_tsv_header("anchor\tsomething", 16));
    assert_false(example_is_tsv_header("anchor", 6));
    parse(DATA_FORMAT_TSV, "", &ex, why); /* frees the static parser's last line */
}

/* --- the reader --------------------------------------------------------------------------- */

typedef struct warnings {
    char lines[16][400];
    int n;
} warnings;

static void collect(void *user, const char *message)
{
    warnings *w = user;
    if (w->n < 16)
        snprintf(w->lines[w->n], sizeof w->lines[0], "%s", message);
    w->n++;
}

static const char *mixed_lines =
    "{\"anchor\": \"a1\", \"positive\": \"p1\"}\n"
    "broken\n"                                        /* 2 */
    "\n"
    "[\"a2\", \"p2\"]\n"
    "{\"anchor\": \"a3\"}\n"                          /* 5 */
    "[\"a4\", \"p4\", \"n4\"]\n"                      /* 6: another number of negatives */
    "[\"a5\", \"\"]\n"                                /* 7 */
    "[\"a6\", \"p6\"]\n"
    "[\"a7\", \"p7\", 1]\n"                           /* 9 */
    "[\"this line is far too long for the limit of sixty-four bytes\", \"p\"]\n" /* 10 */
    "[\"a8\", \"p8\"]\n";

static data_reader *open_reader(const char *path, bool strict, uint64_t min, warnings *w,
                                semb_error *err)
{
    data_reader_options o = {.max_line_bytes = 64, .strict = strict, .warn = collect, .warn_user = w};
    data_reader *r = NULL;
    semb_status st = data_reader_open(path, &o, min, &r, err);
    assert_true(st == SEMB_OK || r == NULL);
    return r;
}

/* A small file is read whole when opened: its warnings (the first 5 skipped lines, then the
 * count) come at once, and later passes repeat nothing. */
static void test_reader_small_file_counts(void **state)
{
    char *path = tmp_path("mixed.jsonl.zst");
    write_data(path, TEST_ZSTD, mixed_lines);
    warnings w = {0};
    semb_error err = {0};
    data_reader *r = open_reader(path, false, 10, &w, &err);
    assert_non_null(r);
    for (int i = 0; i < w.n; i++)
        printf("  warning: %s\n", w.lines[i]);
    assert_int_equal(w.n, 6);
    assert_non_null(strstr(w.lines[0], "mixed.jsonl.zst:2: malformed JSON"));
    assert_non_null(strstr(w.lines[1], ":5: missing field \"positive\"; line skipped"));
    assert_non_null(strstr(w.lines[2], ":6: 1 negative, but the first example (line 1) has 0"));
    assert_non_null(strstr(w.lines[3], ":7: item 2 is empty"));
    assert_non_null(strstr(w.lines[4], ":9: item 3 is not a string"));
    assert_non_null(strstr(w.lines[5], "mixed.jsonl.zst: skipped 6 of 10 lines (the first 5 "
                                       "listed above) and 1 blank line; training on 4 "
                                       "examples"));
    assert_int_equal(r->blank, 1);
    assert_true(r->counts_final);
    assert_int_equal(r->n_negatives, 0);
    for (int pass = 0; pass < 2; pass++) {
        static const char *anchors[] = {"a1", "a2", "a6", "a8"};
        static const uint64_t lines[] = {1, 4, 8, 11};
        for (int i = 0; i < 4; i++) {
            example_view ex;
            uint64_t offset, line;
            bool end;
            assert_int_equal(data_reader_next(r, &ex, &offset, &line, &end, &err), SEMB_OK);
            assert_false(end);
            assert_memory_equal(ex.texts[0], anchors[i], 2);
            assert_int_equal(line, lines[i]);
        }
        example_view ex;
        uint64_t offset, line;
        bool end;
        assert_int_equal(data_reader_next(r, &ex, &offset, &line, &end, &err), SEMB_OK);
        assert_true(end);
        assert_int_equal(data_reader_rewind(r, &err), SEMB_OK);
    }
    assert_int_equal(w.n, 6);
    assert_int_equal(r->pass, 2);
    data_reader_close(r);
    free(path);
}

/* A large file is checked only up to what a batch needs; its skipped lines are reported as
 * the first pass meets them, with the count at the end of that pass. */
static void test_reader_large_file_reports_as_it_goes(void **state)
{
    char *path = tmp_path("big.tsv.gz");
    char *text = malloc(200000);
    text[0] = '\0';
    size_t len = 0;
    len += (size_t)sprintf(text + len, "anchor\tpositive\n"); /* a header, not data */
    for (int i = 0; i < 5000; i++) {
        if (i % 2000 == 500) /* blank lines, one of them spaces and a tab */
            len += (size_t)sprintf(text + len, "%s\n", i == 500 ? "  \t" : "");
        if (i % 1000 == 999)
            len += (size_t)sprintf(text + len, "lonely %d\n", i);
        else
            len += (size_t)sprintf(text + len, "anchor %d\tpositive %d\n", i, i);
    }
    write_data(path, TEST_GZIP, text);
    free(text);
    warnings w = {0};
    semb_error err = {0};
    data_reader *r = open_reader(path, false, 10, &w, &err);
    assert_non_null(r);
    assert_int_equal(w.n, 0);
    assert_false(r->counts_final);
    assert_int_equal(r->n_negatives, 0);
    uint64_t n = 0;
    for (;;) {
        example_view ex;
        uint64_t offset, line;
        bool end;
        assert_int_equal(data_reader_next(r, &ex, &offset, &line, &end, &err), SEMB_OK);
        if (end)
            break;
        if (n == 0)
            assert_int_equal(line, 2);
        n++;
    }
    assert_int_equal(n, 4995);
    for (int i = 0; i < w.n; i++)
        printf("  warning: %s\n", w.lines[i]);
    assert_int_equal(w.n, 6);
    assert_non_null(strstr(w.lines[0], "big.tsv.gz:1002: 1 column"));
    assert_non_null(strstr(w.lines[5], "big.tsv.gz: skipped 5 of 5000 lines and 3 blank "
                                       "lines; training on 4995 examples"));
    assert_true(r->counts_final);
    data_reader_close(r);
    free(path);
}

/* --strict: the first unusable line is an error naming it, up front when it comes before
 * the examples the check needs, while reading otherwise. */
static void test_reader_strict(void **state)
{
    char *path = tmp_path("strict.jsonl");
    write_data(path, TEST_PLAIN, mixed_lines);
    warnings w = {0};
    semb_error err = {0};
    assert_null(open_reader(path, true, 2, &w, &err));
    printf("  %s\n", err.message);
    assert_int_equal(err.status, SEMB_ERR_INPUT);
    assert_non_null(strstr(err.message, "strict.jsonl:2: malformed JSON"));
    assert_non_null(strstr(err.message, "--strict"));
    data_reader *r = open_reader(path, true, 1, &w, &err); /* line 1 is enough to start */
    assert_non_null(r);
    example_view ex;
    uint64_t offset, line;
    bool end;
    assert_int_equal(data_reader_next(r, &ex, &offset, &line, &end, &err), SEMB_OK);
    assert_int_equal(data_reader_next(r, &ex, &offset, &line, &end, &err), SEMB_ERR_INPUT);
    assert_non_null(strstr(err.message, "strict.jsonl:2: malformed JSON"));
    assert_int_equal(w.n, 0);
    data_reader_close(r);
    free(path);
}

static void test_reader_unusable_files(void **state)
{
    static const struct {
        const char *name, *text, *error;
    } cases[] = {
        {"empty.jsonl", "", "empty.jsonl: no training examples: the file is empty"},
        {"blank.jsonl", "\n \n", "blank.jsonl: no training examples: the file holds only blank lines"},
        {"allbad.jsonl", "x\n{\"anchor\": \"a\"}\n", "allbad.jsonl: no usable training examples: all 2 lines skipped; first: "},
        {"nope.jsonl", NULL, "nope.jsonl: cannot open"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        char *path = tmp_path(cases[i].name);
        if (cases[i].text)
            write_data(path, TEST_PLAIN, cases[i].text);
        warnings w = {0};
        semb_error err = {0};
        assert_null(open_reader(path, false, 1, &w, &err));
        printf("  %s\n", err.message);
        assert_non_null(strstr(err.message, cases[i].error));
        free(path);
    }
}

/* Save, read on, restore: the same examples again, also across the end of a pass. */
static void test_reader_state(void **state)
{
    char *path = tmp_path("state.jsonl.gz");
    write_data(path, TEST_GZIP, mixed_lines);
    warnings w = {0};
    semb_error err = {0};
    data_reader *r = open_reader(path, false, 1, &w, &err);
    example_view ex;
    uint64_t offset, line;
    bool end;
    assert_int_equal(data_reader_next(r, &ex, &offset, &line, &end, &err), SEMB_OK);
    json_t *saved = json_object();
    assert_int_equal(data_reader_state_save(r, saved, &err), SEMB_OK);
    char seen[8][8];
    int n = 0;
    for (int k = 0; k < 6; k++) {
        assert_int_equal(data_reader_next(r, &ex, &offset, &line, &end, &err), SEMB_OK);
        if (end) {
            assert_int_equal(data_reader_rewind(r, &err), SEMB_OK);
            continue;
        }
        snprintf(seen[n++], 8, "%.*s", (int)ex.lengths[0], ex.texts[0]);
    }
    assert_int_equal(data_reader_state_restore(r, saved, &err), SEMB_OK);
    assert_int_equal(r->pass, 0);

    int m = 0;
    for (int k = 0; k < 6; k++) {
        assert_int_equal(data_reader_next(r, &ex, &offset, &line, &end, &err), SEMB_OK);
        if (end) {
            assert_int_equal(data_reader_rewind(r, &err), SEMB_OK);
            continue;
        }
        assert_memory_equal(ex.texts[0], seen[m], strlen(seen[m]));
        m++;
    }
    assert_int_equal(m, n);
    json_object_set_new(saved, "negatives", json_integer(2));
    assert_int_equal(data_reader_state_restore(r, saved, &err), SEMB_ERR_FORMAT);
    json_decref(saved);
    data_reader_close(r);
    /* the blank lines of the first pass so far are kept, and a checkpoint from before they
     * were counted restores as none */
    r = open_reader(path, false, 1, &w, &err);
    for (int k = 0; k < 2; k++) /* lines 1 and 4: past the blank line 3 */
        assert_int_equal(data_reader_next(r, &ex, &offset, &line, &end, &err), SEMB_OK);
    saved = json_object();
    assert_int_equal(data_reader_state_save(r, saved, &err), SEMB_OK);
    r->blank = 7;
    assert_int_equal(data_reader_state_restore(r, saved, &err), SEMB_OK);
    assert_int_equal(r->blank, 1);
    assert_int_equal(json_object_del(saved, "blank"), 0);
    assert_int_equal(data_reader_state_restore(r, saved, &err), SEMB_OK);
    assert_int_equal(r->blank, 0);
    json_decref(saved);
    data_reader_close(r);
    free(path);
}

/* --- data sources ------------------------------------------------------------------------- */

static void test_data_specs(void **state)
{
    data_sources d = {0};
    semb_error err = {0};
    /* a name with ':' whose end is no weight is a file when it exists */
    char *colon_file = tmp_path("host:2021-01.tsv");
    write_data(colon_file, TEST_PLAIN, "a\tb\n");
    assert_int_equal(data_sources_add_spec(&d, "plain.jsonl", &err), SEMB_OK);
    assert_int_equal(data_sources_add_spec(&d, "a:b.jsonl:3", &err), SEMB_OK);
    assert_int_equal(data_sources_add_spec(&d, colon_file, &err), SEMB_OK);
    assert_int_equal(data_sources_add_spec(&d, "x:0.25", &err), SEMB_OK);
    assert_int_equal(data_sources_add_spec(&d, "ends:5:1", &err), SEMB_OK);
    assert_int_equal(data_sources_add_spec(&d, "data:v2/pairs.jsonl", &err), SEMB_OK);
    assert_int_equal(data_sources_add_spec(&d, "y:1e3", &err), SEMB_OK);
    assert_int_equal(d.n, 7);
    assert_string_equal(d.items[0].path, "plain.jsonl");
    assert_true(d.items[0].weight == 1);
    assert_string_equal(d.items[1].path, "a:b.jsonl");
    assert_true(d.items[1].weight == 3);
    assert_string_equal(d.items[2].path, colon_file);
    assert_true(d.items[2].weight == 1);
    assert_string_equal(d.items[3].path, "x");
    assert_true(d.items[3].weight == 0.25);
    assert_string_equal(d.items[4].path, "ends:5");
    assert_string_equal(d.items[5].path, "data:v2/pairs.jsonl");
    assert_true(d.items[6].weight == 1000);
    /* a bad weight is named as one, not taken into a file name that does not exist */
    static const char *bad[] = {"0", "-1", "abc", "nan", "inf", "-inf", "", "1e400", "1e-400",
                                "1.2.3", " 2", "2x", "2021-01.tsv"};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        char spec[64], want[160];
        snprintf(spec, sizeof spec, "x.jsonl:%s", bad[i]);
        snprintf(want, sizeof want, "--data %s: weight '%s' is not a positive finite number",
                 spec, bad[i]);
        assert_int_equal(data_sources_add_spec(&d, spec, &err), SEMB_ERR_INVALID_ARG);
        assert_non_null(strstr(err.message, want));
    }
    assert_int_equal(data_sources_add_spec(&d, ":3", &err), SEMB_ERR_INVALID_ARG);
    assert_int_equal(d.n, 7);
    data_sources_free(&d);
    free(colon_file);
}

static void test_data_config(void **state)
{
    char *dir = tmp_path("config");
    assert_int_equal(mkdir(dir, 0755), 0);
    char *config = path_join(dir, "data_config.json");
    write_data(config, TEST_PLAIN,
               "[{\"name\": \"reddit.jsonl.gz\", \"weight\": 10, \"lines\": 123},\n"
               " {\"name\": \"/abs/x.tsv\", \"extra\": true}]");
    data_sources d = {0};
    semb_error err = {0};
    assert_int_equal(data_sources_add_config(&d, config, &err), SEMB_OK);
    assert_int_equal(d.n, 2);
    char *want = path_join(dir, "reddit.jsonl.gz");
    assert_string_equal(d.items[0].path, want);
    assert_true(d.items[0].weight == 10);
    assert_int_equal(d.items[0].lines, 123);
    assert_string_equal(d.items[1].path, "/abs/x.tsv");
    assert_true(d.items[1].weight == 1);
    assert_true(d.items[1].lines < 0);
    data_sources_free(&d);
    static const struct {
        const char *text, *error;
    } bad[] = {
        {"{}", "not a list"},
        {"[{\"weight\": 2}]", "entry 1: \"name\" is missing"},
        {"[{\"name\": \"a\"}, {\"name\": \"b\", \"weight\": -1}]", "entry 2 (b): \"weight\" is not a positive number"},
        {"[{\"name\": \"a\", \"lines\": 1.5}]", "entry 1 (a): \"lines\" is not a count"},
        {"[{\"name\": ", "data_config.json: "},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        write_data(config, TEST_PLAIN, bad[i].text);
        assert_int_not_equal(data_sources_add_config(&d, config, &err), SEMB_OK);
        printf("  %s\n", err.message);
        assert_non_null(strstr(err.message, bad[i].error));
        data_sources_free(&d);
    }
    char *missing = path_join(dir, "none.json");
    assert_int_equal(data_sources_add_config(&d, missing, &err), SEMB_ERR_IO);
    free(missing);
    free(want);
    free(config);
    free(dir);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines_from_every_compression),
        cmocka_unit_test(test_seek),
        cmocka_unit_test(test_damaged_files),
        cmocka_unit_test(test_parse_layouts),
        cmocka_unit_test(test_reader_small_file_counts),
        cmocka_unit_test(test_reader_large_file_reports_as_it_goes),
        cmocka_unit_test(test_reader_strict),
        cmocka_unit_test(test_reader_unusable_files),
        cmocka_unit_test(test_reader_state),
        cmocka_unit_test(test_data_specs),
        cmocka_unit_test(test_data_config),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
