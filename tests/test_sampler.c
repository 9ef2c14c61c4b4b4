/* The multi-file sampler: weights, datasets per batch, pairs and triplets kept apart, no
 * duplicate text in a batch, passes, file order, determinism, and exact state restore. Every
 * file is written by the test; each text names its file and line ("a17:anchor"). */
#include "data_test_files.h"

#include <math.h>

#include "io/files.h"
#include "train/sampler.h"

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

typedef enum layout { OBJECTS, LISTS, TSV } layout;

/* n examples "<tag><i>:anchor", "<tag><i>:positive", negatives "<tag><i>:negative<k>". */
static char *make_file(const char *name, test_compression kind, layout how, const char *tag,
                       int n, int negatives)
{
    size_t cap = (size_t)n * (120 + 40 * (size_t)negatives) + 1, len = 0;
    char *text = malloc(cap);
    text[0] = '\0';
    for (int i = 0; i < n; i++) {
        if (how == OBJECTS)
            len += (size_t)sprintf(text + len, "{\"anchor\": \"%s%d:anchor\", \"positive\": \"%s%d:positive\"%s",
                                   tag, i, tag, i, negatives ? ", \"negative\": [" : "");
        else if (how == LISTS)
            len += (size_t)sprintf(text + len, "[\"%s%d:anchor\", \"%s%d:positive\"", tag, i, tag, i);
        else
            len += (size_t)sprintf(text + len, "%s%d:anchor\t%s%d:positive", tag, i, tag, i);
        for (int k = 0; k < negatives; k++)
            len += (size_t)sprintf(text + len, how == TSV ? "\t%s%d:negative%d"
                                               : how == LISTS || k ? ", \"%s%d:negative%d\""
                                                                   : "\"%s%d:negative%d\"",
                                   tag, i, k);
        len += (size_t)sprintf(text + len, "%s\n", how == OBJECTS ? (negatives ? "]}" : "}")
                                                 : how == LISTS   ? "]"
                                                                  : "");
    }
    char *path = path_join(tmp, name);
    write_data(path, kind, text);
    free(text);
    return path;
}

typedef struct files {
    data_sources sources;
    char *paths[8];
    int n;
} files;

static void add_file(files *f, char *path, double weight)
{
    f->paths[f->n++] = path;
    data_source *grown = realloc(f->sources.items, (f->sources.n + 1) * sizeof *grown);
    assert_non_null(grown);
    f->sources.items = grown;
    f->sources.items[f->sources.n++] = (data_source){strdup(path), weight, -1};
}

static void free_files(files *f)
{
    data_sources_free(&f->sources);
    for (int i = 0; i < f->n; i++)
        free(f->paths[i]);
}

static sampler *make_sampler(const files *f, int batch, int per_batch, size_t buffer,
                             uint64_t seed)
{
    sampler_options o = {.batch_size = batch, .datasets_per_batch = per_batch,
                         .shuffle_buffer = buffer, .seed = seed,
                         .reader = {.max_line_bytes = 1 << 16}};
    sampler *s = NULL;
    semb_error err = {0};
    if (sampler_create(&f->sources, &o, &s, &err))
        fail_msg("%s", err.message);
    return s;
}

static sampler_batch next(sampler *s)
{
    sampler_batch b;
    semb_error err = {0};
    if (sampler_next_batch(s, &b, &err))
        fail_msg("%s", err.message);
    return b;
}

/* Every text of a batch, in order, as one string: batches compared byte for byte. */
static char *signature(const sampler_batch *b)
{
    size_t n = (size_t)b->batch_size * (size_t)(2 + b->n_negatives), len = 0;
    for (size_t i = 0; i < n; i++)
        len += b->lengths[i] + 1;
    char *sig = malloc(len + 1), *p = sig;
    for (size_t i = 0; i < n; i++) {
        memcpy(p, b->texts[i], b->lengths[i]);
        p += b->lengths[i];
        *p++ = '|';
    }
    *p = '\0';
    return sig;
}

/* The example number of a text "<tag><i>:..." and its tag letter. */
static int example_number(const char *text, char *tag)
{
    *tag = text[0];
    return atoi(text + 1);
}

/* Each example's texts come from one line: anchor, positive and negatives agree. */
static void check_rows(const sampler_batch *b)
{
    int B = b->batch_size;
    for (int i = 0; i < B; i++) {
        char tag;
        int n = example_number(b->texts[i], &tag);
        for (int c = 1; c < 2 + b->n_negatives; c++) {
            char t2;
            assert_int_equal(example_number(b->texts[c * B + i], &t2), n);
            assert_int_equal(t2, tag);
        }
        assert_non_null(strstr(b->texts[B + i], ":positive"));
    }
}

/* 3:1 weights over 4,000 batches: one file per batch with 1 dataset per batch (both files'
 * share within 3 points of 75/25), both files in some batches with 2 per batch. */
static void test_weights_and_datasets_per_batch(void **state)
{
    files f = {0};
    add_file(&f, make_file("a.jsonl", TEST_PLAIN, OBJECTS, "a", 2000, 0), 3);
    add_file(&f, make_file("b.jsonl.gz", TEST_GZIP, LISTS, "b", 2000, 0), 1);
    for (int per_batch = 1; per_batch <= 2; per_batch++) {
        sampler *s = make_sampler(&f, 4, per_batch, 500, 1);
        long from_a = 0, total = 0, mixed = 0;
        for (int k = 0; k < 4000; k++) {
            sampler_batch b = next(s);
            check_rows(&b);
            int in_a = 0;
            for (int i = 0; i < 4; i++)
                in_a += b.texts[i][0] == 'a';
            from_a += in_a;
            total += 4;
            mixed += in_a != 0 && in_a != 4;
        }
        double share = (double)from_a / (double)total;
        printf("  %d dataset(s) per batch: %.4f of examples from the weight-3 file, %ld mixed batches\n",
               per_batch, share, mixed);
        assert_true(fabs(share - 0.75) < 0.03);
        if (per_batch == 1)
            assert_int_equal(mixed, 0);
        else
            assert_true(mixed > 4000 * 2 * 0.75 * 0.25 * 0.8); /* expected 1500 */
        assert_int_equal(sampler_dataset(s, 0).examples_used + sampler_dataset(s, 1).examples_used, 16000);
        sampler_free(s);
    }
    free_files(&f);
}

/* Two pair files, a 1-negative file and a 2-negative file: a batch holds one kind only, and
 * every kind comes up. */
static void test_pairs_and_triplets_never_mixed(void **state)
{
    files f = {0};
    add_file(&f, make_file("p.jsonl", TEST_PLAIN, OBJECTS, "p", 300, 0), 1);
    add_file(&f, make_file("q.tsv.zst", TEST_ZSTD, TSV, "q", 300, 0), 1);
    add_file(&f, make_file("t.jsonl", TEST_PLAIN, LISTS, "t", 300, 1), 1);
    add_file(&f, make_file("u.tsv", TEST_PLAIN, TSV, "u", 300, 2), 1);
    sampler *s = make_sampler(&f, 6, 3, 100, 2);
    int kinds[3] = {0};
    for (int k = 0; k < 2000; k++) {
        sampler_batch b = next(s);
        check_rows(&b);
        kinds[b.n_negatives]++;
        for (int i = 0; i < 6; i++) {
            char tag = b.texts[i][0];
            int want = tag == 't' ? 1 : tag == 'u' ? 2 : 0;
            assert_int_equal(b.n_negatives, want);
        }
    }
    printf("  batches of pairs %d, 1 negative %d, 2 negatives %d\n", kinds[0], kinds[1], kinds[2]);
    assert_true(kinds[0] > 800 && kinds[1] > 300 && kinds[2] > 300);
    sampler_free(s);
    free_files(&f);
}

/* Anchors from a pool of 40 and each negative the next line's positive: no text twice in a
 * batch, in any column. A file whose every anchor is the same cannot fill a batch: an error,
 * not a hang. */
static void test_no_duplicate_texts_in_a_batch(void **state)
{
    char *text = malloc(100000), *p = text;
    for (int i = 0; i < 500; i++)
        p += sprintf(p, "[\"query %d\", \"answer %d\", \"answer %d\"]\n", i * 7 % 40, i, i + 1);
    char *path = path_join(tmp, "dups.jsonl");
    write_data(path, TEST_PLAIN, text);
    files f = {0};
    add_file(&f, path, 1);
    for (size_t buffer = 0; buffer <= 50; buffer += 50) {
        sampler *s = make_sampler(&f, 16, 2, buffer, 3);
        for (int k = 0; k < 500; k++) {
            sampler_batch b = next(s);
            for (int i = 0; i < 48; i++)
                for (int j = 0; j < i; j++)
                    if (b.lengths[i] == b.lengths[j] && memcmp(b.texts[i], b.texts[j], b.lengths[i]) == 0)
                        fail_msg("batch %d: '%s' twice", k, b.texts[i]);
        }
        sampler_free(s);
    }
    free_files(&f);

    p = text;
    for (int i = 0; i < 20; i++)
        p += sprintf(p, "[\"the same question\", \"answer %d\"]\n", i);
    path = path_join(tmp, "same.jsonl");
    write_data(path, TEST_PLAIN, text);
    free(text);
    files g = {0};
    add_file(&g, path, 1);
    sampler *s = make_sampler(&g, 4, 1, 10, 3);
    sampler_batch b;
    semb_error err = {0};
    assert_int_equal(sampler_next_batch(s, &b, &err), SEMB_ERR_INPUT);
    printf("  %s\n", err.message);
    assert_non_null(strstr(err.message, "repeats its texts too much"));
    sampler_free(s);
    free_files(&g);
}

/* Shuffled, a pass gives every example once, in an order that changes from pass to pass;
 * with a buffer that holds the whole file and one far smaller than it. */
static void test_passes_are_permutations(void **state)
{
    for (int small = 0; small < 2; small++) {
        int n = small ? 1000 : 12, B = small ? 10 : 4;
        files f = {0};
        add_file(&f, make_file("perm.jsonl.gz", TEST_GZIP, OBJECTS, "x", n, 0), 1);
        sampler *s = make_sampler(&f, B, 1, small ? 50 : 100, 4);
        int *first_order = malloc((size_t)n * sizeof *first_order);
        bool same_order = true;
        for (int pass = 0; pass < 3; pass++) {
            char *seen = calloc((size_t)n, 1);
            for (int k = 0; k < n / B; k++) {
                sampler_batch b = next(s);
                for (int i = 0; i < B; i++) {
                    char tag;
                    int x = example_number(b.texts[i], &tag);
                    assert_false(seen[x]);
                    seen[x] = 1;
                    if (pass == 0)
                        first_order[k * B + i] = x;
                    else
                        same_order &= first_order[k * B + i] == x;
                }
            }
            free(seen);
            assert_int_equal(sampler_dataset(s, 0).pass, (uint64_t)pass);
        }
        assert_false(same_order);
        free(first_order);
        sampler_free(s);
        free_files(&f);
    }
}

/* No shuffle, one file: batches in file order, wrapping around, whatever the shares. */
static void test_file_order(void **state)
{
    files f = {0};
    add_file(&f, make_file("order.tsv", TEST_PLAIN, TSV, "o", 10, 1), 1);
    sampler *s = make_sampler(&f, 4, 2, 0, 5);
    for (int k = 0; k < 8; k++) {
        sampler_batch b = next(s);
        check_rows(&b);
        for (int i = 0; i < 4; i++) {
            char tag;
            assert_int_equal(example_number(b.texts[i], &tag), (k * 4 + i) % 10);
        }
    }
    sampler_free(s);
    free_files(&f);
}

static void test_seed_determinism(void **state)
{
    files f = {0};
    add_file(&f, make_file("d1.jsonl", TEST_PLAIN, OBJECTS, "d", 200, 0), 2);
    add_file(&f, make_file("e1.jsonl.zst", TEST_ZSTD, OBJECTS, "e", 150, 0), 1);
    sampler *a = make_sampler(&f, 8, 2, 30, 7), *b = make_sampler(&f, 8, 2, 30, 7);
    sampler *c = make_sampler(&f, 8, 2, 30, 8);
    int differ = 0;
    for (int k = 0; k < 60; k++) {
        sampler_batch x = next(a), y = next(b), z = next(c);
        char *sx = signature(&x), *sy = signature(&y), *sz = signature(&z);
        assert_string_equal(sx, sy);
        differ += strcmp(sx, sz) != 0;
        free(sx);
        free(sy);
        free(sz);
    }
    assert_true(differ > 50);
    sampler_free(a);
    sampler_free(b);
    sampler_free(c);
    free_files(&f);
}

/* Run N batches, save, run M more; a fresh sampler restored from the saved state (through
 * its JSON text) gives the same M batches, bit for bit. Files of every compression and
 * layout, passes ending on both sides of the save, shuffled and in file order. */
static void test_state_restore_is_exact(void **state)
{
    files f = {0};
    add_file(&f, make_file("s1.jsonl", TEST_PLAIN, OBJECTS, "f", 60, 0), 3);
    add_file(&f, make_file("s2.tsv.gz", TEST_GZIP, TSV, "g", 50, 0), 1);
    add_file(&f, make_file("s3.jsonl.zst", TEST_ZSTD, LISTS, "h", 80, 0), 2);
    add_file(&f, make_file("s4.jsonl.gz", TEST_GZIP, OBJECTS, "i", 40, 1), 2);
    static const int saves[] = {0, 1, 13, 97};
    for (int shuffled = 0; shuffled < 2; shuffled++)
        for (int k = 0; k < 4; k++) {
            size_t buffer = shuffled ? 16 : 0;
            sampler *s = make_sampler(&f, 8, 2, buffer, 11);
            for (int i = 0; i < saves[k]; i++)
                next(s);
            json_t *saved;
            semb_error err = {0};
            assert_int_equal(sampler_state_save(s, &saved, &err), SEMB_OK);
            char *text = json_dumps(saved, JSON_COMPACT);
            json_decref(saved);
            enum { M = 60 };
            char *want[M];
            for (int i = 0; i < M; i++) {
                sampler_batch b = next(s);
                want[i] = signature(&b);
            }
            sampler *r = make_sampler(&f, 8, 2, buffer, 999); /* the state carries the seed's effects */
            json_t *loaded = json_loads(text, 0, NULL);
            assert_non_null(loaded);
            if (sampler_state_restore(r, loaded, &err))
                fail_msg("%s", err.message);
            json_decref(loaded);
            for (int i = 0; i < M; i++) {
                sampler_batch b = next(r);
                char *got = signature(&b);
                assert_string_equal(got, want[i]);
                free(got);
                free(want[i]);
            }
            for (size_t d = 0; d < 4; d++)
                assert_int_equal(sampler_dataset(r, d).examples_used, sampler_dataset(s, d).examples_used);
            if (k == 3)
                printf("  %s: saved after %d batches, %zu bytes of state\n",
                       shuffled ? "shuffled" : "file order", saves[k], strlen(text));
            free(text);
            sampler_free(s);
            sampler_free(r);
        }
    free_files(&f);
}

static void test_restore_refuses_other_files(void **state)
{
    files f = {0}, g = {0};
    add_file(&f, make_file("r1.jsonl", TEST_PLAIN, OBJECTS, "r", 30, 0), 1);
    add_file(&g, make_file("r2.jsonl", TEST_PLAIN, OBJECTS, "r", 30, 0), 1);
    sampler *s = make_sampler(&f, 4, 1, 8, 1), *t = make_sampler(&g, 4, 1, 8, 1);
    next(s);
    json_t *saved;
    semb_error err = {0};
    assert_int_equal(sampler_state_save(s, &saved, &err), SEMB_OK);
    assert_int_equal(sampler_state_restore(t, saved, &err), SEMB_ERR_FORMAT);
    printf("  %s\n", err.message);
    assert_non_null(strstr(err.message, "r1.jsonl"));
    json_decref(saved);
    sampler_free(s);
    sampler_free(t);
    free_files(&f);
    free_files(&g);
}

static void test_batch_larger_than_a_file(void **state)
{
    files f = {0};
    add_file(&f, make_file("big.jsonl", TEST_PLAIN, OBJECTS, "b", 100, 0), 1);
    add_file(&f, make_file("small.jsonl", TEST_PLAIN, OBJECTS, "s", 5, 0), 1);
    sampler_options o = {.batch_size = 6, .datasets_per_batch = 2, .shuffle_buffer = 10,
                         .reader = {.max_line_bytes = 1000}};
    sampler *s = NULL;
    semb_error err = {0};
    assert_int_equal(sampler_create(&f.sources, &o, &s, &err), SEMB_ERR_INVALID_ARG);
    assert_null(s);
    printf("  %s\n", err.message);
    assert_non_null(strstr(err.message, "small.jsonl: --batch-size 6 is larger than the data (5 usable examples)"));
    free_files(&f);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_weights_and_datasets_per_batch),
        cmocka_unit_test(test_pairs_and_triplets_never_mixed),
        cmocka_unit_test(test_no_duplicate_texts_in_a_batch),
        cmocka_unit_test(test_passes_are_permutations),
        cmocka_unit_test(test_file_order),
        cmocka_unit_test(test_seed_determinism),
        cmocka_unit_test(test_state_restore_is_exact),
        cmocka_unit_test(test_restore_refuses_other_files),
        cmocka_unit_test(test_batch_larger_than_a_file),
    };
    return cmocka_run_group_tests(tests, setup, teardown);
}
