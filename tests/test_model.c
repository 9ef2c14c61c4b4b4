/* The encoder end to end against the sentence-transformers references in shared/fixtures,
 * plus the model folder's bad-input paths. */
#include "support.h"

#include <jansson.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/files.h"
#include "io/safetensors.h"
#include "model/encoder.h"
#include "model/sentence_model.h"

static const char *fixture_names[] = {"bert-tiny-mean", "bert-tiny-cls", "bert-tiny-max",
                                      "distilbert-tiny-mean", "mpnet-tiny-mean"};

typedef struct fixture_sentences {
    json_t *root;
    const char **texts;
    size_t *lengths;
    size_t n;
} fixture_sentences;

static fixture_sentences load_sentences(const char *fixture)
{
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/%s/ref.tokens.json", fixture);
    json_error_t jerr;
    fixture_sentences s = {0};
    s.root = json_load_file(test_shared_path(rel), 0, &jerr);
    assert_non_null(s.root);
    json_t *arr = json_object_get(s.root, "sentences");
    s.n = json_array_size(arr);
    s.texts = malloc(s.n * sizeof *s.texts);
    s.lengths = malloc(s.n * sizeof *s.lengths);
    for (size_t i = 0; i < s.n; i++) {
        s.texts[i] = json_string_value(json_array_get(arr, i));
        s.lengths[i] = json_string_length(json_array_get(arr, i));
    }
    return s;
}

static void free_sentences(fixture_sentences *s)
{
    json_decref(s->root);
    free(s->texts);
    free(s->lengths);
}

static double *load_reference(const char *fixture, const char *file, size_t count)
{
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/%s/%s", fixture, file);
    safetensors_file f;
    semb_error err = {0};
    assert_int_equal(safetensors_open(test_shared_path(rel), &f, &err), SEMB_OK);
    const safetensors_tensor *t = safetensors_find(&f, "embeddings");
    assert_non_null(t);
    double *ref = malloc(count * sizeof *ref);
    assert_int_equal(safetensors_to_f64(&f, t, ref, count, &err), SEMB_OK);
    safetensors_close(&f);
    return ref;
}

static semb_model *load_fixture(const char *fixture)
{
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/%s", fixture);
    semb_model *m = NULL;
    semb_error err = {0};
    semb_status st = semb_model_load(test_shared_path(rel), &m, &err);
    if (st)
        fail_msg("%s: %s", fixture, err.message);
    return m;
}

/* Every fixture: float32 embeddings within 1e-5 of the float64 reference, at several batch
 * sizes, and the batch sizes agreeing with each other. */
static void test_fixture_embeddings_match_reference(void **state)
{
    for (size_t f = 0; f < sizeof fixture_names / sizeof fixture_names[0]; f++) {
        const char *name = fixture_names[f];
        semb_model *m = load_fixture(name);
        assert_int_equal(semb_model_max_seq_length(m), 128);
        fixture_sentences s = load_sentences(name);
        size_t dim = (size_t)semb_model_dimension(m);
        double *ref = load_reference(name, "ref.embeddings.safetensors", s.n * dim);
        float *first = malloc(s.n * dim * sizeof(float)), *emb = malloc(s.n * dim * sizeof(float));
        static const int batch_sizes[] = {1, 7, 32, 146};
        for (size_t b = 0; b < 4; b++) {
            semb_encode_options o = semb_encode_options_default();
            o.batch_size = batch_sizes[b];
            semb_error err = {0};
            assert_int_equal(semb_encode(m, s.texts, s.lengths, s.n, emb, &o, &err), SEMB_OK);
            double worst = 0, spread = 0;
            for (size_t i = 0; i < s.n * dim; i++) {
                worst = fmax(worst, fabs((double)emb[i] - ref[i]));
                if (b)
                    spread = fmax(spread, fabs((double)emb[i] - (double)first[i]));
            }
            if (b == 0)
                memcpy(first, emb, s.n * dim * sizeof(float));
            printf("  %-22s batch %3d: max |semb - ref| = %.2e, vs batch 1: %.2e\n", name,
                   batch_sizes[b], worst, spread);
            assert_true(worst <= 1e-5);
            assert_true(spread <= 1e-6);
        }
        free(first);
        free(emb);
        free(ref);
        free_sentences(&s);
        semb_model_free(m);
    }
}

/* --precision bf16 on every fixture: each embedding's cosine with the float32 one at least
 * 0.999, not all equal (the bf16 path really ran), fp32 afterwards unchanged (the workspace
 * does not keep bf16 on), and a precision outside the enum refused. */
static void test_encode_bf16_near_fp32(void **state)
{
    double worst_all = 1;
    for (size_t f = 0; f < sizeof fixture_names / sizeof fixture_names[0]; f++) {
        semb_model *m = load_fixture(fixture_names[f]);
        fixture_sentences s = load_sentences(fixture_names[f]);
        size_t dim = (size_t)semb_model_dimension(m);
        float *e32 = malloc(s.n * dim * sizeof(float)), *e16 = malloc(s.n * dim * sizeof(float));
        float *again = malloc(s.n * dim * sizeof(float));
        semb_encode_options o32 = {.precision = SEMB_COMPUTE_FP32};
        semb_encode_options o16 = {.precision = SEMB_COMPUTE_BF16};
        semb_error err = {0};
        assert_int_equal(semb_encode(m, s.texts, s.lengths, s.n, e32, &o32, &err), SEMB_OK);
        assert_int_equal(semb_encode(m, s.texts, s.lengths, s.n, e16, &o16, &err), SEMB_OK);
        assert_int_equal(semb_encode(m, s.texts, s.lengths, s.n, again, &o32, &err), SEMB_OK);
        assert_memory_equal(e32, again, s.n * dim * sizeof(float));
        double worst = 1;
        for (size_t i = 0; i < s.n; i++)
            worst = fmin(worst, test_cosine(e32 + i * dim, e16 + i * dim, dim));
        printf("  %-22s bf16 vs fp32: min cosine 1 - %.2e over %zu sentences\n",
               fixture_names[f], 1 - worst, s.n);
        assert_true(worst >= 0.999);
        assert_true(memcmp(e32, e16, s.n * dim * sizeof(float)) != 0);
        worst_all = fmin(worst_all, worst);
        free(e32), free(e16), free(again);
        free_sentences(&s);
        semb_model_free(m);
    }
    printf("  all fixtures: min cosine 1 - %.2e\n", 1 - worst_all);
    semb_model *m = load_fixture("bert-tiny-mean");
    const char *text = "a";
    float out[32];
    semb_encode_options bad = semb_encode_options_default();
    bad.precision = (semb_compute_precision)7;
    semb_error err = {0};
    assert_int_equal(semb_encode(m, &text, NULL, 1, out, &bad, &err), SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "precision"));
    semb_compute_precision p;
    assert_int_equal(semb_compute_precision_from_name("bf16", &p, &err), SEMB_OK);
    assert_int_equal(p, SEMB_COMPUTE_BF16);
    assert_int_equal(semb_compute_precision_from_name("fp32", &p, &err), SEMB_OK);
    assert_int_equal(p, SEMB_COMPUTE_FP32);
    assert_int_equal(semb_compute_precision_from_name("fp16", &p, &err), SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "'fp16'"));
    assert_string_equal(semb_compute_precision_name(SEMB_COMPUTE_BF16), "bf16");
    semb_model_free(m);
}

static void test_fixture_token_ids(void **state)
{
    for (size_t f = 0; f < sizeof fixture_names / sizeof fixture_names[0]; f++) {
        semb_model *m = load_fixture(fixture_names[f]);
        fixture_sentences s = load_sentences(fixture_names[f]);
        json_t *ids = json_object_get(s.root, "input_ids");
        for (size_t i = 0; i < s.n; i++) {
            int32_t *got;
            size_t n;
            semb_error err = {0};
            assert_int_equal(semb_tokenize(m, s.texts[i], s.lengths[i], &got, &n, &err), SEMB_OK);
            json_t *want = json_array_get(ids, i);
            assert_int_equal(n, json_array_size(want));
            for (size_t k = 0; k < n; k++)
                assert_int_equal(got[k], json_integer_value(json_array_get(want, k)));
            free(got);
        }
        free_sentences(&s);
        semb_model_free(m);
    }
}

static void test_mpnet_buckets(void **state)
{
    /* Values from transformers' relative_position_bucket(num_buckets=32, max_distance=128):
     * n = -(relative position); n < 0 adds 16; |n| < 8 exact; then logarithmic to 15. */
    assert_int_equal(mpnet_relative_position_bucket(0), 0);
    assert_int_equal(mpnet_relative_position_bucket(-1), 1);
    assert_int_equal(mpnet_relative_position_bucket(1), 17);
    assert_int_equal(mpnet_relative_position_bucket(-7), 7);
    assert_int_equal(mpnet_relative_position_bucket(-8), 8);
    assert_int_equal(mpnet_relative_position_bucket(-15), 9);
    assert_int_equal(mpnet_relative_position_bucket(-16), 10);
    assert_int_equal(mpnet_relative_position_bucket(-32), 12);
    assert_int_equal(mpnet_relative_position_bucket(-64), 14);
    assert_int_equal(mpnet_relative_position_bucket(-127), 15);
    assert_int_equal(mpnet_relative_position_bucket(-1000), 15);
    assert_int_equal(mpnet_relative_position_bucket(16), 26);
    assert_int_equal(mpnet_relative_position_bucket(500), 31);
}

/* --- bad input: a copy of a fixture with one thing broken --------------------------------- */

static void write_text(const char *dir, const char *name, const char *text)
{
    char *p = path_join(dir, name);
    FILE *f = fopen(p, "wb");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
    free(p);
}

static void expect_load_error(const char *dir, semb_status want, const char *needle1,
                              const char *needle2)
{
    semb_model *m = NULL;
    semb_error err = {0};
    semb_status st = semb_model_load(dir, &m, &err);
    printf("  expected error: %s\n", err.message);
    assert_int_equal(st, want);
    assert_null(m);
    if (!strstr(err.message, needle1) || (needle2 && !strstr(err.message, needle2)))
        fail_msg("message '%s' lacks '%s' / '%s'", err.message, needle1, needle2 ? needle2 : "");
}

static void test_missing_folder_and_files(void **state)
{
    expect_load_error("/nonexistent/model", SEMB_ERR_IO, "/nonexistent/model", "not found");
    char *dir = test_copy_fixture("bert-tiny-mean");
    char *p = path_join(dir, "model.safetensors");
    remove(p);
    expect_load_error(dir, SEMB_ERR_IO, "model.safetensors", NULL);
    free(p);
    p = path_join(dir, "config.json");
    remove(p);
    expect_load_error(dir, SEMB_ERR_IO, "config.json", NULL);
    free(p);
    test_rmtree(dir);
    free(dir);
}

static void test_invalid_json_in_each_config(void **state)
{
    static const char *files[] = {"config.json", "modules.json", "1_Pooling/config.json",
                                  "tokenizer.json", "sentence_bert_config.json",
                                  "tokenizer_config.json", "config_sentence_transformers.json"};
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char *dir = test_copy_fixture("bert-tiny-mean");
        write_text(dir, files[i], "{\"hidden_size\": 32,\n  oops }\n");
        expect_load_error(dir, SEMB_ERR_FORMAT, files[i], "line 2");
        test_rmtree(dir);
        free(dir);
    }
}

static void test_unknown_architecture_and_pooling(void **state)
{
    char *dir = test_copy_fixture("bert-tiny-mean");
    char *path = path_join(dir, "config.json");
    json_t *cfg = json_load_file(path, 0, NULL);
    json_object_set_new(cfg, "model_type", json_string("gpt2"));
    json_dump_file(cfg, path, 0);
    json_decref(cfg);
    expect_load_error(dir, SEMB_ERR_UNSUPPORTED, "config.json", "gpt2");
    free(path);
    test_rmtree(dir);
    free(dir);

    dir = test_copy_fixture("bert-tiny-mean");
    write_text(dir, "1_Pooling/config.json",
               "{\"embedding_dimension\": 32, \"pooling_mode\": \"median\"}");
    expect_load_error(dir, SEMB_ERR_UNSUPPORTED, "1_Pooling/config.json", "median");
    write_text(dir, "modules.json",
               "[{\"idx\":0,\"name\":\"0\",\"path\":\"\",\"type\":\"sentence_transformers.models.Transformer\"},"
               "{\"idx\":1,\"name\":\"1\",\"path\":\"1_Pooling\",\"type\":\"sentence_transformers.models.Dense\"}]");
    expect_load_error(dir, SEMB_ERR_UNSUPPORTED, "modules.json", "Dense");
    test_rmtree(dir);
    free(dir);
}

static void test_weights_disagreeing_with_config(void **state)
{
    char *dir = test_copy_fixture("bert-tiny-mean");
    char *path = path_join(dir, "config.json");
    json_t *cfg = json_load_file(path, 0, NULL);
    json_object_set_new(cfg, "intermediate_size", json_integer(48));
    json_dump_file(cfg, path, 0);
    json_decref(cfg);
    expect_load_error(dir, SEMB_ERR_FORMAT, "encoder.layer.0.intermediate.dense.weight", "[64, 32]");
    free(path);
    test_rmtree(dir);
    free(dir);
}

static void test_truncated_and_corrupt_safetensors(void **state)
{
    char *dir = test_copy_fixture("bert-tiny-mean");
    char *path = path_join(dir, "model.safetensors");
    char cmd[8192];
    snprintf(cmd, sizeof cmd, "truncate -s 100000 '%s'", path);
    assert_int_equal(system(cmd), 0);
    expect_load_error(dir, SEMB_ERR_FORMAT, "model.safetensors", NULL);
    /* A header length far past the end of the file. */
    FILE *f = fopen(path, "r+b");
    unsigned char huge[8] = {0xff, 0xff, 0xff, 0x7f, 0, 0, 0, 0};
    fwrite(huge, 1, 8, f);
    fclose(f);
    expect_load_error(dir, SEMB_ERR_FORMAT, "model.safetensors", NULL);
    free(path);
    test_rmtree(dir);
    free(dir);
}

/* A weight stored with a non-float dtype is refused, naming the tensor. */
static void test_wrong_dtype(void **state)
{
    char *dir = test_copy_fixture("bert-tiny-mean");
    char *path = path_join(dir, "model.safetensors"), *tmp_path = path_join(dir, "x.safetensors");
    safetensors_file f;
    semb_error err = {0};
    assert_int_equal(safetensors_open(path, &f, &err), SEMB_OK);
    safetensors_entry *entries = calloc(f.n_tensors, sizeof *entries);
    for (size_t i = 0; i < f.n_tensors; i++) {
        const safetensors_tensor *t = &f.tensors[i];
        entries[i] = (safetensors_entry){.name = t->name, .dtype = t->dtype, .ndim = t->ndim,
                                         .data = t->data};
        memcpy(entries[i].shape, t->shape, sizeof t->shape);
        if (strcmp(t->name, "embeddings.LayerNorm.weight") == 0)
            entries[i].dtype = SAFETENSORS_I32;
    }
    assert_int_equal(safetensors_write(tmp_path, entries, f.n_tensors, NULL, &err), SEMB_OK);
    free(entries);
    safetensors_close(&f);
    assert_int_equal(rename(tmp_path, path), 0);
    expect_load_error(dir, SEMB_ERR_FORMAT, "embeddings.LayerNorm.weight", "I32");
    free(path);
    free(tmp_path);
    test_rmtree(dir);
    free(dir);
}

/* F16 and BF16 checkpoints load (converted to float32) and still embed sensibly. */
static void test_half_precision_weights(void **state)
{
    static const safetensors_dtype dtypes[] = {SAFETENSORS_F16, SAFETENSORS_BF16};
    static const double tolerance[] = {2e-3, 2e-2};
    for (int d = 0; d < 2; d++) {
        char *dir = test_copy_fixture("bert-tiny-mean");
        char *path = path_join(dir, "model.safetensors");
        safetensors_file f;
        semb_error err = {0};
        assert_int_equal(safetensors_open(path, &f, &err), SEMB_OK);
        safetensors_entry *entries = calloc(f.n_tensors, sizeof *entries);
        void **buffers = calloc(f.n_tensors, sizeof *buffers);
        for (size_t i = 0; i < f.n_tensors; i++) {
            const safetensors_tensor *t = &f.tensors[i];
            size_t n = safetensors_numel(t);
            float *x = malloc(n * sizeof(float));
            assert_int_equal(safetensors_to_f32(&f, t, x, n, &err), SEMB_OK);
            uint16_t *h = malloc(n * sizeof(uint16_t) + 2);
            for (size_t k = 0; k < n; k++) {
                uint32_t bits;
                memcpy(&bits, &x[k], 4);
                if (dtypes[d] == SAFETENSORS_BF16) {
                    h[k] = (uint16_t)((bits + 0x7fff + ((bits >> 16) & 1)) >> 16);
                } else {
                    _Float16 v = (_Float16)x[k];
                    memcpy(&h[k], &v, 2);
                }
            }
            free(x);
            buffers[i] = h;
            entries[i] = (safetensors_entry){.name = t->name, .dtype = dtypes[d], .ndim = t->ndim,
                                             .data = h};
            memcpy(entries[i].shape, t->shape, sizeof t->shape);
        }
        char *half_path = path_join(dir, "half.safetensors");
        assert_int_equal(safetensors_write(half_path, entries, f.n_tensors, NULL, &err), SEMB_OK);
        for (size_t i = 0; i < f.n_tensors; i++)
            free(buffers[i]);
        free(buffers);
        free(entries);
        safetensors_close(&f);
        assert_int_equal(rename(half_path, path), 0);

        semb_model *m = NULL;
        assert_int_equal(semb_model_load(dir, &m, &err), SEMB_OK);
        fixture_sentences s = load_sentences("bert-tiny-mean");
        double *ref = load_reference("bert-tiny-mean", "ref.embeddings.safetensors", s.n * 32);
        float *emb = malloc(s.n * 32 * sizeof(float));
        assert_int_equal(semb_encode(m, s.texts, s.lengths, s.n, emb, NULL, &err), SEMB_OK);
        double worst = 0;
        for (size_t i = 0; i < s.n * 32; i++)
            worst = fmax(worst, fabs(emb[i] - ref[i]));
        printf("  %s weights: max |semb - f32 ref| = %.2e\n", d ? "BF16" : "F16", worst);
        assert_true(worst < tolerance[d]);
        free(emb);
        free(ref);
        free_sentences(&s);
        semb_model_free(m);
        free(half_path);
        free(path);
        test_rmtree(dir);
        free(dir);
    }
}

/* Both generations of the folder format: the classic all-MiniLM-L6-v2 configs (no weights
 * there, so loading stops at model.safetensors after everything else parsed). */
static void test_classic_format_configs(void **state)
{
    st_folder folder;
    semb_error err = {0};
    const char *dir = test_shared_path("data/st-configs/all-MiniLM-L6-v2");
    assert_int_equal(st_folder_open(dir, &folder, &err), SEMB_OK);
    assert_true(folder.classic_types);
    assert_true(folder.has_normalize);
    assert_int_equal(folder.max_seq_length, 256);
    pooling_config pool;
    char *p = path_join(folder.pooling_dir, "config.json");
    assert_int_equal(pooling_config_load(p, &pool, &err), SEMB_OK);
    assert_int_equal(pool.modes, POOLING_MEAN);
    assert_int_equal(pool.token_dim, 384);
    free(p);
    encoder_config cfg;
    p = path_join(dir, "config.json");
    assert_int_equal(encoder_config_load(p, &cfg, &err), SEMB_OK);
    assert_int_equal(cfg.hidden_size, 384);
    assert_int_equal(cfg.num_layers, 6);
    int max_seq_length = 0;
    assert_int_equal(sentence_model_resolve_max_seq_length(&folder, &cfg, &max_seq_length, &err),
                     SEMB_OK);
    assert_int_equal(max_seq_length, 256);
    free(p);
    st_folder_free(&folder);
    semb_model *m = NULL;
    expect_load_error(dir, SEMB_ERR_IO, "model.safetensors", NULL);
    (void)m;

    dir = test_shared_path("data/st-configs/all-MiniLM-L6-v2-resaved-st3");
    assert_int_equal(st_folder_open(dir, &folder, &err), SEMB_OK);
    p = path_join(folder.pooling_dir, "config.json");
    assert_int_equal(pooling_config_load(p, &pool, &err), SEMB_OK);
    assert_int_equal(pool.modes, POOLING_MEAN);
    free(p);
    st_folder_free(&folder);
}

/* semb_model_init writes folders that load and encode, for all three architectures. */
static void test_init_round_trip(void **state)
{
    static const char *archs[] = {"bert", "distilbert", "mpnet"};
    static const char *vocabs[] = {"data/vocab/bert-base-uncased-vocab.txt",
                                   "data/vocab/bert-base-uncased-tokenizer.json",
                                   "data/vocab/mpnet-base-vocab.txt"};
    for (int a = 0; a < 3; a++) {
        char *tmp = test_make_temp_dir();
        char *dir = path_join(tmp, "model");
        semb_init_options o = semb_init_options_default();
        o.arch = archs[a];
        o.hidden_size = 24;
        o.num_layers = 2;
        o.num_heads = 3;
        o.intermediate_size = 40;
        o.vocab_path = test_shared_path(vocabs[a]);
        o.seed = 3;
        semb_error err = {0};
        if (semb_model_init(dir, &o, &err))
            fail_msg("%s: %s", archs[a], err.message);
        assert_int_equal(semb_model_init(dir, &o, &err), SEMB_ERR_IO); /* exists now */
        semb_model *m = NULL;
        if (semb_model_load(dir, &m, &err))
            fail_msg("%s: %s", archs[a], err.message);
        assert_int_equal(semb_model_dimension(m), 24);
        assert_int_equal(semb_model_max_seq_length(m), 256);
        const char *texts[] = {"A man is playing a guitar.", "Un homme joue de la guitare."};
        float emb[48];
        assert_int_equal(semb_encode(m, texts, NULL, 2, emb, NULL, &err), SEMB_OK);
        double norm = 0;
        for (int i = 0; i < 24; i++)
            norm += emb[i] * emb[i];
        assert_true(fabs(norm - 1.0) < 1e-5);
        semb_model_free(m);
        free(dir);
        test_rmtree(tmp);
        free(tmp);
    }
}

/* The fingerprint follows what the model computes: equal for two loads of one folder, and
 * changed by one weight, by the pooling, by normalisation or by the max sequence length. */
static void test_fingerprint_and_token_count(void **state)
{
    semb_error err = {0};
    semb_model *a = NULL, *b = NULL;
    assert_int_equal(semb_model_load(test_shared_path("fixtures/bert-tiny-mean"), &a, &err), 0);
    assert_int_equal(semb_model_load(test_shared_path("fixtures/bert-tiny-mean"), &b, &err), 0);
    char fa[SEMB_FINGERPRINT_SIZE], fb[SEMB_FINGERPRINT_SIZE];
    semb_model_fingerprint(a, fa);
    semb_model_fingerprint(b, fb);
    assert_int_equal(strlen(fa), 32);
    assert_string_equal(fa, fb);
    float saved = b->params.arena[b->params.arena_floats - 1];
    b->params.arena[b->params.arena_floats - 1] = nextafterf(saved, 1e9f);
    semb_model_fingerprint(b, fb);
    assert_string_not_equal(fa, fb);
    b->params.arena[b->params.arena_floats - 1] = saved;
    b->normalize = !b->normalize;
    semb_model_fingerprint(b, fb);
    assert_string_not_equal(fa, fb);
    b->normalize = !b->normalize;
    b->max_seq_length--;
    semb_model_fingerprint(b, fb);
    assert_string_not_equal(fa, fb);
    b->max_seq_length++;
    b->pooling.modes = POOLING_CLS;
    semb_model_fingerprint(b, fb);
    assert_string_not_equal(fa, fb);
    semb_model *c = NULL;
    assert_int_equal(semb_model_load(test_shared_path("fixtures/bert-tiny-cls"), &c, &err), 0);
    semb_model_fingerprint(c, fb);
    assert_string_not_equal(fa, fb);

    /* untruncated count: [CLS] + one token per "word " + [SEP], past the max length */
    size_t words = (size_t)semb_model_max_seq_length(a) + 20, count = 0;
    char *text = malloc(words * 2 + 1);
    for (size_t i = 0; i < words; i++)
        memcpy(text + 2 * i, "a ", 2);
    text[words * 2] = 0;
    assert_int_equal(semb_count_tokens(a, text, words * 2, &count, &err), SEMB_OK);
    assert_int_equal(count, words + 2);
    int32_t *ids = NULL;
    size_t n_ids = 0;
    assert_int_equal(semb_tokenize(a, text, words * 2, &ids, &n_ids, &err), SEMB_OK);
    assert_int_equal(n_ids, (size_t)semb_model_max_seq_length(a));
    free(ids);
    assert_int_equal(semb_count_tokens(a, "\xff", 1, &count, &err), SEMB_ERR_INPUT);
    free(text);
    semb_model_free(a);
    semb_model_free(b);
    semb_model_free(c);
}

/* config_sentence_transformers.json: similarity function, prompts and the default prompt, and
 * the errors of each field. */
static void test_similarity_and_prompts(void **state)
{
    semb_error err = {0};
    semb_model *m = NULL;
    assert_int_equal(semb_model_load(test_shared_path("fixtures/bert-tiny-mean"), &m, &err), 0);
    assert_int_equal(semb_model_similarity(m), SEMB_SIMILARITY_COSINE);
    assert_string_equal(semb_model_prompt(m, "query"), ""); /* sentence-transformers 6 writes "" */
    assert_null(semb_model_prompt(m, "passage"));
    assert_null(semb_model_default_prompt_name(m));
    semb_model_free(m);

    char *dir = test_copy_fixture("bert-tiny-mean");
    write_text(dir, "config_sentence_transformers.json",
               "{\"similarity_fn_name\": \"dot\", \"prompts\": {\"query\": \"query: \", "
               "\"passage\": \"passage: \"}, \"default_prompt_name\": \"passage\"}");
    assert_int_equal(semb_model_load(dir, &m, &err), 0);
    assert_int_equal(semb_model_similarity(m), SEMB_SIMILARITY_DOT);
    assert_string_equal(semb_model_prompt(m, "query"), "query: ");
    assert_string_equal(semb_model_prompt(m, "passage"), "passage: ");
    assert_string_equal(semb_model_default_prompt_name(m), "passage");
    { /* semb_encode without a prompt applies the default one, as encode() does; "" none */
        const char *plain[] = {"a dog"}, *prompted[] = {"passage: a dog"};
        float x[64], y[64], z[64], w[64];
        assert_true(semb_model_dimension(m) <= 64);
        assert_int_equal(semb_encode(m, plain, NULL, 1, x, NULL, &err), 0);
        semb_encode_options no_prompt = semb_encode_options_default();
        no_prompt.prompt = "";
        assert_int_equal(semb_encode(m, prompted, NULL, 1, y, &no_prompt, &err), 0);
        assert_int_equal(semb_encode(m, plain, NULL, 1, z, &no_prompt, &err), 0);
        /* the defaults are what NULL options give: the default prompt among them */
        semb_encode_options defaults = semb_encode_options_default();
        assert_int_equal(semb_encode(m, plain, NULL, 1, w, &defaults, &err), 0);
        assert_memory_equal(w, x, (size_t)semb_model_dimension(m) * sizeof *w);
        double same = 0, differ = 0;
        for (int i = 0; i < semb_model_dimension(m); i++) {
            same += fabs(x[i] - y[i]);
            differ += fabs(x[i] - z[i]);
        }
        assert_true(same < 1e-5);
        assert_true(differ > 1e-3);
    }
    semb_model_free(m);

    write_text(dir, "config_sentence_transformers.json", "{\"similarity_fn_name\": \"jaccard\"}");
    expect_load_error(dir, SEMB_ERR_UNSUPPORTED, "config_sentence_transformers.json", "jaccard");
    write_text(dir, "config_sentence_transformers.json", "{\"prompts\": {\"query\": 3}}");
    expect_load_error(dir, SEMB_ERR_FORMAT, "config_sentence_transformers.json", "prompts.query");
    write_text(dir, "config_sentence_transformers.json",
               "{\"prompts\": {\"query\": \"q: \"}, \"default_prompt_name\": \"doc\"}");
    expect_load_error(dir, SEMB_ERR_FORMAT, "default_prompt_name", "doc");
    write_text(dir, "config_sentence_transformers.json", "{\"similarity_fn_name\": null}");
    assert_int_equal(semb_model_load(dir, &m, &err), 0);
    assert_int_equal(semb_model_similarity(m), SEMB_SIMILARITY_COSINE);
    semb_model_free(m);
    test_rmtree(dir);
    free(dir);

    semb_similarity s = SEMB_SIMILARITY_COSINE;
    for (int i = 0; i < 4; i++) {
        assert_int_equal(semb_similarity_from_name(semb_similarity_name((semb_similarity)i), &s), 0);
        assert_int_equal(s, i);
    }
    assert_int_equal(semb_similarity_from_name("dot_product", &s), 0);
    assert_int_equal(s, SEMB_SIMILARITY_DOT);
    assert_int_equal(semb_similarity_from_name("cosine ", &s), SEMB_ERR_INVALID_ARG);
}

/* semb_encode's prompt: with include_prompt true it is encoding prompt + text; with false the
 * prompt's tokens ([CLS] and the prompt, as sentence-transformers counts them) leave mean
 * pooling: checked against the encoder's token states pooled by hand in double. */
static void test_encode_prompt(void **state)
{
    semb_error err = {0};
    semb_model *m = NULL;
    assert_int_equal(semb_model_load(test_shared_path("fixtures/bert-tiny-mean"), &m, &err), 0);
    int dim = semb_model_dimension(m);
    const char *texts[] = {"A man is playing a guitar.", "x"};
    const char *joined[] = {"query: A man is playing a guitar.", "query: x"};
    float *a = malloc(sizeof(float) * 2 * dim), *b = malloc(sizeof(float) * 2 * dim);
    semb_encode_options o = semb_encode_options_default();
    o.prompt = "query: ";
    assert_int_equal(semb_encode(m, texts, NULL, 2, a, &o, &err), 0);
    assert_int_equal(semb_encode(m, joined, NULL, 2, b, NULL, &err), 0);
    for (int i = 0; i < 2 * dim; i++)
        assert_true(fabsf(a[i] - b[i]) < 1e-6f);

    m->pooling.include_prompt = false;
    assert_int_equal(semb_encode(m, texts, NULL, 2, a, &o, &err), 0);
    int32_t *ids = NULL;
    size_t n_ids = 0, n_prompt = 0;
    assert_int_equal(semb_tokenize(m, joined[0], strlen(joined[0]), &ids, &n_ids, &err), 0);
    assert_int_equal(semb_count_tokens(m, "query: ", 7, &n_prompt, &err), 0);
    int skip = (int)n_prompt - 1; /* [CLS] query : */
    assert_int_equal(skip, 3);
    int cu[2] = {0, (int)n_ids};
    packed_batch batch = {ids, cu, 1, (int)n_ids, (int)n_ids};
    float *hidden = NULL;
    assert_int_equal(encoder_forward(&m->config, &m->params, &batch, (encoder_linear_mode){0},
                                     &m->workspace, &hidden, &err), 0);
    double want[512] = {0}, norm = 0;
    for (int d = 0; d < dim; d++) {
        for (int t = skip; t < (int)n_ids; t++)
            want[d] += hidden[(size_t)t * dim + d];
        want[d] /= (double)n_ids - skip;
        norm += want[d] * want[d];
    }
    for (int d = 0; d < dim; d++)
        if (fabs(a[d] - want[d] / sqrt(norm)) > 1e-5)
            fail_msg("dimension %d: %g vs %g", d, a[d], want[d] / sqrt(norm));
    /* "x" with the prompt is 5 tokens: one left after the skip */
    double diff = 0;
    for (int d = 0; d < dim; d++)
        diff += fabs(a[dim + d] - b[dim + d]);
    assert_true(diff > 1e-3);
    free(ids);
    free(a);
    free(b);
    semb_model_free(m);
}

int main(void)
{
    int rc = test_require_shared("test_model");
    if (rc)
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_mpnet_buckets),
        cmocka_unit_test(test_fixture_token_ids),
        cmocka_unit_test(test_fixture_embeddings_match_reference),
        cmocka_unit_test(test_encode_bf16_near_fp32),
        cmocka_unit_test(test_missing_folder_and_files),
        cmocka_unit_test(test_invalid_json_in_each_config),
        cmocka_unit_test(test_unknown_architecture_and_pooling),
        cmocka_unit_test(test_weights_disagreeing_with_config),
        cmocka_unit_test(test_truncated_and_corrupt_safetensors),
        cmocka_unit_test(test_wrong_dtype),
        cmocka_unit_test(test_half_precision_weights),
        cmocka_unit_test(test_classic_format_configs),
        cmocka_unit_test(test_init_round_trip),
        cmocka_unit_test(test_fingerprint_and_token_count),
        cmocka_unit_test(test_similarity_and_prompts),
        cmocka_unit_test(test_encode_prompt),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
