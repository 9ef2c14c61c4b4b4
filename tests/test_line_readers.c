/* Every reader of an input file goes through io/line_source: the same lines give the same
 * result plain, gzip- and zstd-compressed (eval pairs and triplets, retrieval pairs, the
 * duplicates TSVs, BEIR, clustering, the index corpus, vocabulary training), errors name the
 * file and line of the decompressed text, and the reader's own no-limit and stream modes keep
 * getline's lines. Every file is written by the test. */
#include "data_test_files.h"

#include <stdint.h>

#include "core/error.h"
#include "eval/beir_data.h"
#include "eval/cluster_eval.h"
#include "eval/duplicates_data.h"
#include "eval/example_file.h"
#include "eval/retrieval_eval.h"
#include "index/corpus_reader.h"
#include "io/files.h"
#include "io/line_source.h"
#include "text/wordpiece_trainer.h"

static const test_compression kinds[] = {TEST_PLAIN, TEST_GZIP, TEST_ZSTD};
static char *tmp;

static int setup(void **state)
{
    (void)state;
    tmp = test_make_temp_dir();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    test_rmtree(tmp);
    free(tmp);
    return 0;
}

/* tmp/NAME with the kind's suffix, holding text compressed as kind. */
static char *write_input(const char *name, test_compression kind, const char *text)
{
    char file[128];
    snprintf(file, sizeof file, "%s%s", name, compression_suffix(kind));
    char *path = path_join(tmp, file);
    write_data(path, kind, text);
    return path;
}

/* --- the reader itself ------------------------------------------------------------------ */

/* With no limit a line longer than the first buffer (64 KiB) grows it and comes whole; "\r"
 * stays, the newline flag tells a final line without "\n". */
static void test_no_limit_keeps_long_lines(void **state)
{
    (void)state;
    size_t long_length = 200000;
    char *text = malloc(long_length + 64);
    strcpy(text, "first\r\n");
    size_t at = strlen(text);
    for (size_t i = 0; i < long_length; i++)
        text[at + i] = (char)('a' + i % 26);
    strcpy(text + at + long_length, "\nlast");
    for (size_t k = 0; k < 3; k++) {
        char *path = write_input("long.txt", kinds[k], text);
        line_source *s;
        semb_error err = {0};
        assert_int_equal(line_source_open(path, LINE_SOURCE_NO_LIMIT, &s, &err), SEMB_OK);
        source_line l;
        bool end;
        assert_int_equal(line_source_next(s, &l, &end, &err), SEMB_OK);
        assert_int_equal(l.length, 6);
        assert_memory_equal(l.text, "first\r", 6);
        assert_true(l.newline);
        assert_int_equal(line_source_next(s, &l, &end, &err), SEMB_OK);
        assert_false(end);
        assert_false(l.too_long);
        assert_int_equal(l.length, long_length);
        assert_int_equal(l.number, 2);
        assert_memory_equal(l.text, text + at, long_length);
        assert_int_equal(line_source_next(s, &l, &end, &err), SEMB_OK);
        assert_int_equal(l.length, 4);
        assert_false(l.newline);
        assert_int_equal(line_source_next(s, &l, &end, &err), SEMB_OK);
        assert_true(end);
        line_source_close(s);
        free(path);
    }
    free(text);
}

/* A pipe cannot seek: the compression is read from its first bytes without going back, the
 * stream stays open for its owner, and the given name is the one errors use. */
static void test_stream_from_pipe(void **state)
{
    (void)state;
    for (size_t k = 0; k < 3; k++) {
        char *path = write_input("piped.txt", kinds[k], "one\ntwo\n");
        char command[4096];
        snprintf(command, sizeof command, "cat '%s'", path);
        FILE *pipe = popen(command, "r");
        assert_non_null(pipe);
        line_source *s;
        semb_error err = {0};
        assert_int_equal(line_source_open_stream(pipe, "<stdin>", 16, &s, &err), SEMB_OK);
        assert_string_equal(line_source_compression(s),
                            kinds[k] == TEST_GZIP ? "gzip" : kinds[k] == TEST_ZSTD ? "zstd"
                                                                                 : "plain");
        source_line l;
        bool end;
        assert_int_equal(line_source_next(s, &l, &end, &err), SEMB_OK);
        assert_memory_equal(l.text, "one", 3);
        assert_int_equal(line_source_next(s, &l, &end, &err), SEMB_OK);
        assert_memory_equal(l.text, "two", 3);
        assert_int_equal(line_source_next(s, &l, &end, &err), SEMB_OK);
        assert_true(end);
        line_source_close(s);
        assert_int_equal(pclose(pipe), 0); /* still open: line_source_close left it */
        free(path);
    }
    FILE *plain = popen("printf 'not gzip\\n'", "r");
    line_source *s;
    semb_error err = {0};
    assert_int_equal(line_source_open_stream(plain, "in.gz", 16, &s, &err), SEMB_ERR_FORMAT);
    assert_non_null(strstr(err.message, "in.gz: named .gz but is not gzip data"));
    pclose(plain);
}

/* --- the readers that go through it ----------------------------------------------------- */

static void test_example_and_pair_files(void **state)
{
    (void)state;
    const char *triplets = "{\"anchor\": \"a1\", \"positive\": \"p1\", \"negative\": \"n1\"}\r\n"
                           "\n[\"a2\", \"p2\", \"n2\"]\n";
    const char *pairs = "[\"q1\", \"d1\"]\n[\"q2\", \"d2\"]\n";
    for (size_t k = 0; k < 3; k++) {
        char *path = write_input("triplets.jsonl", kinds[k], triplets);
        example_file file;
        semb_error err = {0};
        assert_int_equal(example_file_read(path, 3, &file, &err), SEMB_OK);
        assert_int_equal(file.count, 2);
        assert_string_equal(file.columns[2][0], "n1");
        assert_string_equal(file.columns[0][1], "a2");
        example_file_free(&file);
        free(path);

        path = write_input("pairs.jsonl", kinds[k], pairs);
        retrieval_dataset ds;
        assert_int_equal(retrieval_dataset_read_pairs(path, &ds, &err), SEMB_OK);
        assert_int_equal(ds.n_queries, 2);
        assert_string_equal(ds.documents[1], "d2");
        retrieval_dataset_free(&ds);
        free(path);

        path = write_input("bad.jsonl", kinds[k], "[\"a\", \"p\"]\n\n{\"anchor\": 1}\n");
        assert_int_equal(example_file_read(path, 2, &file, &err), SEMB_ERR_FORMAT);
        char want[256];
        snprintf(want, sizeof want, "bad.jsonl%s:3:", compression_suffix(kinds[k]));
        assert_non_null(strstr(err.message, want));
        free(path);
    }
}

static void test_duplicates_files(void **state)
{
    (void)state;
    for (size_t k = 0; k < 3; k++) {
        char *sentences = write_input("sentences.tsv", kinds[k],
                                      "s1\tThe cat sat.\r\ns2\tA cat was sitting.\n\ns3\tRain.\n");
        char *duplicates = write_input("duplicates.tsv", kinds[k], "s1\ts2\n");
        duplicates_data d;
        semb_error err = {0};
        assert_int_equal(duplicates_data_read(sentences, duplicates, &d, &err), SEMB_OK);
        assert_int_equal(d.n_sentences, 3);
        assert_string_equal(d.sentences[0], "The cat sat.");
        assert_int_equal(d.n_dup, 1);
        duplicates_data_free(&d);
        free(duplicates);
        duplicates = write_input("duplicates.tsv", kinds[k], "s1\ts2\ns2\ts3\textra\n");
        assert_int_equal(duplicates_data_read(sentences, duplicates, &d, &err),
                         SEMB_ERR_FORMAT);
        assert_non_null(strstr(err.message, ":2: expected ID<TAB>ID"));
        free(sentences);
        free(duplicates);
    }
}

static void test_beir_files(void **state)
{
    (void)state;
    for (size_t k = 0; k < 3; k++) {
        char *corpus = write_input("corpus.jsonl", kinds[k],
                                   "{\"_id\": \"d1\", \"title\": \"T\", \"text\": \"one\"}\n"
                                   "{\"_id\": \"d2\", \"text\": \"two\"}\r\n");
        char *queries = write_input("queries.jsonl", kinds[k],
                                    "{\"_id\": \"q1\", \"text\": \"which one\"}\n");
        char *qrels = write_input("qrels.tsv", kinds[k],
                                  "query-id\tcorpus-id\tscore\nq1\td2\t1\n");
        retrieval_dataset ds;
        semb_error err = {0};
        assert_int_equal(beir_dataset_read(queries, corpus, qrels, NULL, NULL, &ds, &err),
                         SEMB_OK);
        assert_int_equal(ds.n_queries, 1);
        assert_int_equal(ds.n_documents, 2);
        assert_string_equal(ds.documents[0], "T one");
        assert_string_equal(ds.queries[0], "which one");
        assert_int_equal(ds.relevant_offsets[1], 1);
        assert_int_equal(ds.relevant[0], 1);
        retrieval_dataset_free(&ds);
        free(corpus);
        free(queries);
        free(qrels);
    }
}

static void test_cluster_file(void **state)
{
    (void)state;
    const char *text = "{\"text\": \"a\", \"label\": \"x\"} \r\n\n{\"text\": \"b\", \"label\": 1}\n"
                       "{\"text\": \"c\", \"label\": \"x\"}";
    for (size_t k = 0; k < 3; k++) {
        char *path = write_input("labelled.jsonl", kinds[k], text);
        cluster_dataset ds;
        semb_error err = {0};
        assert_int_equal(cluster_dataset_read(path, &ds, &err), SEMB_OK);
        assert_int_equal(ds.n, 3);
        assert_int_equal(ds.n_labels, 2);
        assert_int_equal(ds.line_numbers[1], 3);
        assert_string_equal(ds.texts[2], "c");
        assert_int_equal(ds.labels[2], ds.labels[0]);
        cluster_dataset_free(&ds);
        free(path);
    }
}

static void test_index_corpus(void **state)
{
    (void)state;
    for (size_t k = 0; k < 3; k++) {
        char *path = write_input("corpus.txt", kinds[k], "alpha\r\n\nbeta\n");
        corpus_reader r;
        semb_error err = {0};
        assert_int_equal(corpus_reader_open(&r, path, "text", &err), SEMB_OK);
        for (int pass = 0; pass < 2; pass++) { /* the index reads its corpus twice */
            corpus_document doc;
            bool got;
            assert_int_equal(corpus_reader_next(&r, &doc, &got, &err), SEMB_OK);
            assert_true(got);
            assert_string_equal(doc.text, "alpha");
            assert_int_equal(corpus_reader_next(&r, &doc, &got, &err), SEMB_OK);
            assert_string_equal(doc.text, "beta");
            assert_int_equal(doc.line, 3);
            assert_int_equal(corpus_reader_next(&r, &doc, &got, &err), SEMB_OK);
            assert_false(got);
            assert_int_equal(corpus_reader_rewind(&r, &err), SEMB_OK);
        }
        corpus_reader_close(&r);
        free(path);
    }
}

/* The counts of vocabulary training (bytes with each "\n", lines, the first invalid line's
 * place) are those of the decompressed text. */
static void test_vocab_files(void **state)
{
    (void)state;
    const char *text = "hello world\r\nbad \xff byte\nhello again";
    for (size_t k = 0; k < 3; k++) {
        char *path = write_input("vocab.txt", kinds[k], text);
        wordpiece_trainer *t;
        semb_error err = {0};
        wordpiece_trainer_options o = {.vocab_size = 100};
        assert_int_equal(wordpiece_trainer_create(&o, &t, &err), SEMB_OK);
        const char *paths[] = {path};
        assert_int_equal(wordpiece_trainer_feed_files(t, paths, 1, &err), SEMB_OK);
        const wordpiece_corpus_stats *s = wordpiece_trainer_stats(t);
        assert_int_equal(s->bytes, strlen(text));
        assert_int_equal(s->lines, 3);
        assert_int_equal(s->invalid_lines, 1);
        assert_int_equal(s->words, 4);
        assert_non_null(strstr(s->first_invalid, ":2 (byte offset 4)"));
        wordpiece_trainer_free(t);
        free(path);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_no_limit_keeps_long_lines),
        cmocka_unit_test(test_stream_from_pipe),
        cmocka_unit_test(test_example_and_pair_files),
        cmocka_unit_test(test_duplicates_files),
        cmocka_unit_test(test_beir_files),
        cmocka_unit_test(test_cluster_file),
        cmocka_unit_test(test_index_corpus),
        cmocka_unit_test(test_vocab_files),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
