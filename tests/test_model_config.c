/* A model folder's sizes and lengths are checked before anything is allocated (issue #14,
 * items 2 and 7): copies of the fixtures with one config value broken must fail fast,
 * naming the file, the key and (for a shape) the tensor; lengths follow one rule. */
#include "support.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <time.h>

#include "io/files.h"

/* Sets dir/file's key to the JSON text value (NULL removes the key). */
static void set_key(const char *dir, const char *file, const char *key, const char *value)
{
    char *path = path_join(dir, file);
    json_t *root = json_load_file(path, 0, NULL);
    if (!root)
        root = json_object();
    if (value) {
        json_t *v = json_loads(value, JSON_DECODE_ANY, NULL);
        assert_non_null(v);
        json_object_set_new(root, key, v);
    } else {
        json_object_del(root, key);
    }
    assert_int_equal(json_dump_file(root, path, 0), 0);
    json_decref(root);
    free(path);
}

/* Warnings collected through semb_set_warning_handler. */
static char warnings[8][SEMB_ERROR_MESSAGE_SIZE];
static int n_warnings;

static void collect_warning(void *user, const char *message)
{
    (void)user;
    if (n_warnings < 8)
        snprintf(warnings[n_warnings], sizeof warnings[0], "%s", message);
    n_warnings++;
}

/* Loading must fail with FORMAT and a message holding every needle (NULL-terminated). */
static void expect_refused(const char *dir, const char *const *needles)
{
    semb_model *m = NULL;
    semb_error err = {0};
    semb_status st = semb_model_load(dir, &m, &err);
    printf("  refused: %s\n", err.message);
    if (st != SEMB_ERR_FORMAT)
        fail_msg("status %d (want format error): %s", (int)st, err.message);
    assert_null(m);
    for (size_t i = 0; needles[i]; i++)
        if (!strstr(err.message, needles[i]))
            fail_msg("message '%s' lacks '%s'", err.message, needles[i]);
}

typedef struct broken_case {
    const char *fixture, *file, *key, *value;
    const char *needles[4];
} broken_case;

static void run_cases(const broken_case *cases, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        const broken_case *c = &cases[i];
        printf("  %s %s: %s = %s\n", c->fixture, c->file, c->key, c->value);
        char *dir = test_copy_fixture(c->fixture);
        set_key(dir, c->file, c->key, c->value);
        expect_refused(dir, c->needles);
        test_rmtree(dir);
        free(dir);
    }
}

static double seconds_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + 1e-9 * (double)ts.tv_nsec;
}

static long peak_rss_kb(void)
{
    struct rusage ru;
    getrusage(RUSAGE_SELF, &ru);
    return ru.ru_maxrss;
}

/* The tester's case: a config claiming a 16M-wide FFN and 6 layers over a 2-layer file. It
 * must be refused from the safetensors header alone: no weight memory, well under a second.
 * Runs first, while the process's peak RSS is still small enough to show any growth. */
static void test_huge_intermediate_fails_fast(void **state)
{
    char *dir = test_copy_fixture("bert-tiny-mean");
    set_key(dir, "config.json", "intermediate_size", "16777216");
    set_key(dir, "config.json", "num_hidden_layers", "6");
    long before = peak_rss_kb();
    double start = seconds_now();
    expect_refused(dir, (const char *const[]){"model.safetensors", "intermediate_size",
                                               "encoder.layer.0.intermediate.dense.weight",
                                               NULL});
    double elapsed = seconds_now() - start;
    long growth_kb = peak_rss_kb() - before;
    printf("  refused in %.3f s, peak RSS grew %ld kB\n", elapsed, growth_kb);
    assert_true(growth_kb < 100 * 1024);
    assert_true(elapsed < 1.0);
    test_rmtree(dir);
    free(dir);
}

/* Values no model can have: refused naming config.json and the key, for each architecture's
 * spelling. */
static void test_absurd_sizes(void **state)
{
    static const broken_case cases[] = {
        {"bert-tiny-mean", "config.json", "hidden_size", "0", {"config.json", "hidden_size"}},
        {"bert-tiny-mean", "config.json", "hidden_size", "-32", {"config.json", "hidden_size"}},
        {"bert-tiny-mean", "config.json", "hidden_size", "131072", {"hidden_size"}},
        {"bert-tiny-mean", "config.json", "intermediate_size", "0", {"intermediate_size"}},
        {"bert-tiny-mean", "config.json", "intermediate_size", "1e12", {"intermediate_size"}},
        {"bert-tiny-mean", "config.json", "intermediate_size", "4294967296",
         {"intermediate_size"}},
        {"bert-tiny-mean", "config.json", "num_hidden_layers", "0", {"num_hidden_layers"}},
        {"bert-tiny-mean", "config.json", "num_hidden_layers", "100000", {"num_hidden_layers"}},
        {"bert-tiny-mean", "config.json", "num_attention_heads", "0", {"num_attention_heads"}},
        {"bert-tiny-mean", "config.json", "num_attention_heads", "5",
         {"hidden_size", "num_attention_heads"}},
        {"bert-tiny-mean", "config.json", "num_attention_heads", "64", {"num_attention_heads"}},
        {"bert-tiny-mean", "config.json", "vocab_size", "0", {"vocab_size"}},
        {"bert-tiny-mean", "config.json", "vocab_size", "1073741824", {"vocab_size"}},
        {"bert-tiny-mean", "config.json", "max_position_embeddings", "0",
         {"max_position_embeddings"}},
        {"bert-tiny-mean", "config.json", "max_position_embeddings", "2",
         {"max_position_embeddings"}},
        {"bert-tiny-mean", "config.json", "type_vocab_size", "0", {"type_vocab_size"}},
        {"bert-tiny-mean", "config.json", "type_vocab_size", "100000", {"type_vocab_size"}},
        {"distilbert-tiny-mean", "config.json", "dim", "0", {"config.json", "'dim'"}},
        {"distilbert-tiny-mean", "config.json", "hidden_dim", "-1", {"hidden_dim"}},
        {"distilbert-tiny-mean", "config.json", "n_layers", "0", {"n_layers"}},
        {"distilbert-tiny-mean", "config.json", "n_heads", "3", {"n_heads"}},
        {"mpnet-tiny-mean", "config.json", "relative_attention_num_buckets", "8",
         {"relative_attention_num_buckets"}},
        /* positions start after padding_idx 1: 4 leaves only 2 */
        {"mpnet-tiny-mean", "config.json", "max_position_embeddings", "4",
         {"max_position_embeddings"}},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Plausible sizes the weights contradict: refused naming the file, the tensor and the key. */
static void test_sizes_disagreeing_with_tensors(void **state)
{
    static const broken_case cases[] = {
        {"bert-tiny-mean", "config.json", "vocab_size", "30000",
         {"model.safetensors", "embeddings.word_embeddings.weight", "vocab_size"}},
        {"bert-tiny-mean", "config.json", "max_position_embeddings", "256",
         {"embeddings.position_embeddings.weight", "max_position_embeddings"}},
        {"bert-tiny-mean", "config.json", "type_vocab_size", "3",
         {"embeddings.token_type_embeddings.weight", "type_vocab_size"}},
        {"bert-tiny-mean", "config.json", "hidden_size", "64",
         {"1_Pooling/config.json", "embedding_dimension", "hidden_size' 64"}},
        {"bert-tiny-mean", "config.json", "intermediate_size", "128",
         {"encoder.layer.0.intermediate.dense.weight", "intermediate_size"}},
        {"bert-tiny-mean", "config.json", "num_hidden_layers", "3",
         {"missing tensor 'encoder.layer.2.", "num_hidden_layers"}},
        {"distilbert-tiny-mean", "config.json", "hidden_dim", "128",
         {"transformer.layer.0.ffn.lin1.weight", "hidden_dim"}},
        {"distilbert-tiny-mean", "config.json", "n_layers", "4",
         {"missing tensor 'transformer.layer.2.", "n_layers"}},
        {"mpnet-tiny-mean", "config.json", "relative_attention_num_buckets", "64",
         {"encoder.relative_attention_bias.weight", "relative_attention_num_buckets"}},
        {"mpnet-tiny-mean", "config.json", "num_attention_heads", "8",
         {"encoder.relative_attention_bias.weight", "num_attention_heads"}},
        {"bert-tiny-mean", "1_Pooling/config.json", "embedding_dimension", "64",
         {"1_Pooling/config.json", "embedding_dimension", "hidden_size"}},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* Tensors the config does not need (layers past num_hidden_layers) load with one warning
 * naming the file, as transformers warns about unused weights. */
static void test_unused_tensors_warn(void **state)
{
    char *dir = test_copy_fixture("bert-tiny-mean");
    set_key(dir, "config.json", "num_hidden_layers", "1");
    n_warnings = 0;
    semb_set_warning_handler(collect_warning, NULL);
    semb_model *m = NULL;
    semb_error err = {0};
    semb_status st = semb_model_load(dir, &m, &err);
    semb_set_warning_handler(NULL, NULL);
    if (st)
        fail_msg("%s", err.message);
    semb_model_free(m);
    assert_int_equal(n_warnings, 1);
    printf("  warning: %s\n", warnings[0]);
    assert_non_null(strstr(warnings[0], "model.safetensors"));
    assert_non_null(strstr(warnings[0], "16 tensors"));
    assert_non_null(strstr(warnings[0], "encoder.layer.1."));
    test_rmtree(dir);
    free(dir);
}

/* Loads dir; returns its max_seq_length and the number of warnings it gave. */
static int load_max_length(const char *dir, int *n_warned)
{
    n_warnings = 0;
    semb_set_warning_handler(collect_warning, NULL);
    semb_model *m = NULL;
    semb_error err = {0};
    semb_status st = semb_model_load(dir, &m, &err);
    semb_set_warning_handler(NULL, NULL);
    if (st)
        fail_msg("%s: %s", dir, err.message);
    int length = semb_model_max_seq_length(m);
    semb_model_free(m);
    *n_warned = n_warnings;
    return length;
}

/* Every length a folder gives follows one rule: below 3 or above the position limit is an
 * error naming the file and key. */
static void test_bad_max_lengths(void **state)
{
    static const broken_case cases[] = {
        {"bert-tiny-mean", "sentence_bert_config.json", "max_seq_length", "2",
         {"sentence_bert_config.json", "max_seq_length"}},
        {"bert-tiny-mean", "sentence_bert_config.json", "max_seq_length", "0",
         {"sentence_bert_config.json", "max_seq_length"}},
        {"bert-tiny-mean", "sentence_bert_config.json", "max_seq_length", "-1",
         {"sentence_bert_config.json", "max_seq_length"}},
        {"bert-tiny-mean", "sentence_bert_config.json", "max_seq_length", "513",
         {"sentence_bert_config.json", "max_seq_length", "max_position_embeddings"}},
        {"bert-tiny-mean", "tokenizer_config.json", "model_max_length", "2",
         {"tokenizer_config.json", "model_max_length"}},
        {"bert-tiny-mean", "tokenizer_config.json", "model_max_length", "1000",
         {"tokenizer_config.json", "model_max_length", "max_position_embeddings"}},
        {"bert-tiny-mean", "tokenizer_config.json", "model_max_length", "128.5",
         {"tokenizer_config.json", "model_max_length"}},
        /* MPNet's positions start after padding_idx: 514 - 1 - 1 = 512 usable */
        {"mpnet-tiny-mean", "sentence_bert_config.json", "max_seq_length", "513",
         {"sentence_bert_config.json", "max_seq_length", "512"}},
        {"distilbert-tiny-mean", "tokenizer_config.json", "model_max_length", "600",
         {"tokenizer_config.json", "model_max_length"}},
    };
    run_cases(cases, sizeof cases / sizeof cases[0]);
}

/* The lengths that must keep loading, and where each resolved length comes from. */
static void test_good_max_lengths(void **state)
{
    int warned;
    char *dir = test_copy_fixture("bert-tiny-mean");
    /* transformers' "no limit" sentinel, int(1e30), written as an integer (too big for
     * jansson's integers): the position limit applies */
    char cmd[8192];
    snprintf(cmd, sizeof cmd,
             "sed -i 's/\"model_max_length\": *[0-9]*/\"model_max_length\": "
             "1000000000000000019884624838656/' '%s/tokenizer_config.json' && "
             "grep -q 1000000000000000019884624838656 '%s/tokenizer_config.json'",
             dir, dir);
    assert_int_equal(system(cmd), 0);
    assert_int_equal(load_max_length(dir, &warned), 512);
    assert_int_equal(warned, 0);
    set_key(dir, "tokenizer_config.json", "model_max_length", NULL);
    set_key(dir, "sentence_bert_config.json", "max_seq_length", "3");
    assert_int_equal(load_max_length(dir, &warned), 3);
    set_key(dir, "sentence_bert_config.json", "max_seq_length", "512");
    assert_int_equal(load_max_length(dir, &warned), 512);
    assert_int_equal(warned, 0);
    test_rmtree(dir);
    free(dir);

    dir = test_copy_fixture("mpnet-tiny-mean");
    set_key(dir, "sentence_bert_config.json", "max_seq_length", "512");
    set_key(dir, "tokenizer_config.json", "model_max_length", "512");
    assert_int_equal(load_max_length(dir, &warned), 512);
    assert_int_equal(warned, 0);
    test_rmtree(dir);
    free(dir);
}

/* A tokenizer limit below max_seq_length is a warning, not an error: max_seq_length wins, as
 * in sentence-transformers. */
static void test_tokenizer_limit_below_max_seq_length_warns(void **state)
{
    char *dir = test_copy_fixture("bert-tiny-mean");
    set_key(dir, "sentence_bert_config.json", "max_seq_length", "100");
    set_key(dir, "tokenizer_config.json", "model_max_length", "50");
    int warned;
    assert_int_equal(load_max_length(dir, &warned), 100);
    assert_int_equal(warned, 1);
    printf("  warning: %s\n", warnings[0]);
    assert_non_null(strstr(warnings[0], "model_max_length"));
    assert_non_null(strstr(warnings[0], "max_seq_length"));
    test_rmtree(dir);
    free(dir);
}

/* semb_model_init's max_seq_length follows the same rule; left at 0 it defaults to 256, or
 * the position limit when that is less. */
static void test_init_max_length_rule(void **state)
{
    char *tmp = test_make_temp_dir();
    char *out = path_join(tmp, "model");
    semb_init_options o = semb_init_options_default();
    o.vocab_path = test_shared_path("data/vocab/bert-base-uncased-vocab.txt");
    o.hidden_size = 32;
    o.num_layers = 1;
    o.num_heads = 4;
    o.intermediate_size = 64;
    semb_error err = {0};
    static const int bad[] = {2, 513};
    for (size_t i = 0; i < 2; i++) {
        o.max_seq_length = bad[i];
        assert_int_equal(semb_model_init(out, &o, &err), SEMB_ERR_INVALID_ARG);
        printf("  refused: %s\n", err.message);
        assert_non_null(strstr(err.message, "--max-seq-length"));
        assert_false(path_exists(out));
    }
    o.max_seq_length = 0;
    o.max_position_embeddings = 128;
    assert_int_equal(semb_model_init(out, &o, &err), SEMB_OK);
    int warned;
    assert_int_equal(load_max_length(out, &warned), 128);
    test_rmtree(tmp);
    free(out);
    free(tmp);
}

/* The fixtures themselves load without a warning. */
static void test_fixtures_load_quietly(void **state)
{
    static const char *fixtures[] = {"bert-tiny-mean", "bert-tiny-cls", "bert-tiny-max",
                                     "distilbert-tiny-mean", "mpnet-tiny-mean"};
    for (size_t i = 0; i < sizeof fixtures / sizeof fixtures[0]; i++) {
        char rel[256];
        snprintf(rel, sizeof rel, "fixtures/%s", fixtures[i]);
        int warned;
        assert_int_equal(load_max_length(test_shared_path(rel), &warned), 128);
        assert_int_equal(warned, 0);
    }
}

int main(void)
{
    int skip = test_require_shared("test_model_config");
    if (skip)
        return skip;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_huge_intermediate_fails_fast),
        cmocka_unit_test(test_absurd_sizes),
        cmocka_unit_test(test_sizes_disagreeing_with_tensors),
        cmocka_unit_test(test_unused_tensors_warn),
        cmocka_unit_test(test_bad_max_lengths),
        cmocka_unit_test(test_good_max_lengths),
        cmocka_unit_test(test_tokenizer_limit_below_max_seq_length_warns),
        cmocka_unit_test(test_init_max_length_rule),
        cmocka_unit_test(test_fixtures_load_quietly),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
