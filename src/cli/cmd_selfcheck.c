/* semb selfcheck: proves on this machine that the fast kernels agree with their scalar
 * references, that a model can be created, saved, loaded and encoded, that results do not
 * depend on batching or order, and (when shared/fixtures is present) that embeddings match
 * the sentence-transformers references. Prints each thing it verified. */
#include <jansson.h>
#include <math.h>
#include <stdarg.h>
#include <omp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli.h"
#include "core/cpu.h"
#include "core/error.h"
#include "core/rng.h"
#include "core/timer.h"
#include "io/atomic_file.h"
#include "io/files.h"
#include "io/safetensors.h"
#include "kernels/activation.h"
#include "kernels/attention.h"
#include "kernels/layernorm.h"
#include "kernels/matmul.h"

static int failures;

static void report(bool ok, const char *what, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void report(bool ok, const char *what, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    printf("  [%s] %-44s ", ok ? " ok " : "FAIL", what);
    vprintf(fmt, ap);
    putchar('\n');
    va_end(ap);
    if (!ok)
        failures++;
}

static float *random_floats(rng_state *rng, size_t n)
{
    float *x = malloc(n * sizeof *x);
    for (size_t i = 0; x && i < n; i++)
        x[i] = rng_normal(rng);
    return x;
}

static double max_abs_diff(const float *a, const float *b, size_t n)
{
    double m = 0;
    for (size_t i = 0; i < n; i++)
        m = fmax(m, fabs((double)a[i] - (double)b[i]));
    return m;
}

static void check_kernels(void)
{
    rng_state rng;
    rng_seed(&rng, 7);
    int M = 37, N = 53, K = 71;
    float *A = random_floats(&rng, (size_t)M * K), *B = random_floats(&rng, (size_t)K * N);
    float *C1 = calloc((size_t)M * N, sizeof(float)), *C2 = calloc((size_t)M * N, sizeof(float));
    double worst = 0;
    for (int ta = 0; ta < 2; ta++)
        for (int tb = 0; tb < 2; tb++) {
            matmul_sgemm(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C1, N);
            matmul_sgemm_reference(ta, tb, M, N, K, 1.0f, A, ta ? M : K, B, tb ? K : N, 0.0f, C2, N);
            worst = fmax(worst, max_abs_diff(C1, C2, (size_t)M * N));
        }
    report(worst < 1e-3, "matmul: fast vs scalar reference", "max |diff| %.2e over 4 transposes", worst);

    float *w = random_floats(&rng, (size_t)N), *b = random_floats(&rng, (size_t)N);
    float *X = random_floats(&rng, (size_t)M * N);
    layernorm_forward(C1, NULL, NULL, X, w, b, M, N, 1e-12f);
    layernorm_forward_reference(C2, NULL, NULL, X, w, b, M, N, 1e-12f);
    double ln = max_abs_diff(C1, C2, (size_t)M * N);
    report(ln < 1e-5, "layernorm: fast vs scalar reference", "max |diff| %.2e", ln);

    activation_forward(ACTIVATION_GELU, C1, X, (size_t)M * N);
    activation_forward_reference(ACTIVATION_GELU, C2, X, (size_t)M * N);
    double ge = max_abs_diff(C1, C2, (size_t)M * N);
    report(ge < 1e-6, "gelu: fast vs scalar reference", "max |diff| %.2e", ge);

    int heads = 4, head_dim = 16, width = heads * head_dim, cu[4] = {0, 5, 22, 53};
    float *qkv = random_floats(&rng, (size_t)53 * 3 * width);
    float *o1 = calloc((size_t)53 * width, sizeof(float)), *o2 = calloc((size_t)53 * width, sizeof(float));
    attention_forward(o1, NULL, qkv, qkv + width, qkv + 2 * width, 3 * width, cu, 3, heads,
                      head_dim, 0.25f, NULL, 0);
    attention_forward_reference(o2, NULL, qkv, qkv + width, qkv + 2 * width, 3 * width, cu, 3,
                                heads, head_dim, 0.25f, NULL, 0);
    double at = max_abs_diff(o1, o2, (size_t)53 * width);
    report(at < 1e-5, "attention (packed, 3 sequences): fast vs ref", "max |diff| %.2e", at);
    free(A), free(B), free(C1), free(C2), free(w), free(b), free(X), free(qkv), free(o1), free(o2);
}

/* A small WordPiece vocabulary, enough to tokenize the check sentences. */
static semb_status write_vocab(const char *path, semb_error *err)
{
    static const char *words[] = {
        "[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", ".", ",", "!", "?", "'", "-", "the", "a",
        "is", "are", "man", "woman", "dog", "cat", "playing", "guitar", "piano", "eating",
        "food", "an", "apple", "sits", "on", "mat", "hello", "world", "weather", "lovely",
        "today", "it", "so", "sunny", "outside", "he", "drove", "to", "stadium", "s", "##s",
        "##ing", "##ed", "##ly"};
    size_t cap = 4096, len = 0;
    char *buf = malloc(cap);
    if (!buf)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    for (size_t i = 0; i < sizeof words / sizeof words[0]; i++)
        len += (size_t)snprintf(buf + len, cap - len, "%s\n", words[i]);
    for (char c = 'a'; c <= 'z'; c++)
        len += (size_t)snprintf(buf + len, cap - len, "%c\n##%c\n", c, c);
    semb_status st = atomic_write_buffer(path, buf, len, err);
    free(buf);
    return st;
}

static const char *sentences[] = {
    "The weather is lovely today.", "It's so sunny outside!", "He drove to the stadium.",
    "A man is playing a guitar.", "A woman is eating an apple.", "The cat sits on the mat.",
    "Hello, world!", "", "dogs", "A man is playing the piano."};
#define N_SENTENCES (sizeof sentences / sizeof sentences[0])

static void check_model(const char *tmp)
{
    semb_error err = {0};
    char *vocab = path_join(tmp, "vocab.txt"), *dir = path_join(tmp, "model");
    semb_init_options o = semb_init_options_default();
    o.hidden_size = 64;
    o.num_layers = 2;
    o.num_heads = 4;
    o.intermediate_size = 128;
    o.vocab_path = vocab;
    o.seed = 1;
    semb_status st = write_vocab(vocab, &err);
    if (!st)
        st = semb_model_init(dir, &o, &err);
    report(!st, "init: random BERT model folder written", "%s", st ? err.message : dir);
    semb_model *m = NULL;
    if (!st)
        st = semb_model_load(dir, &m, &err);
    report(!st, "load: modules, config, safetensors, vocab", "%s",
           st ? err.message : "dimension 64, mean pooling, normalize");
    if (st)
        goto done;
    int32_t *ids;
    size_t n_ids;
    st = semb_tokenize(m, "Hello, world!", 13, &ids, &n_ids, &err);
    /* [CLS]=2 hello=29 ,=6 world=30 !=7 [SEP]=3 in the vocabulary above. */
    static const int32_t expect[] = {2, 29, 6, 30, 7, 3};
    bool tok_ok = !st && n_ids == 6 && memcmp(ids, expect, sizeof expect) == 0;
    report(tok_ok, "tokenize: WordPiece + [CLS]/[SEP]", "'Hello, world!' -> %zu ids", n_ids);
    if (!st)
        free(ids);

    size_t dim = (size_t)semb_model_dimension(m), n = N_SENTENCES;
    float *a = calloc(n * dim, sizeof(float)), *b = calloc(n * dim, sizeof(float));
    semb_encode_options one = semb_encode_options_default(), many = one;
    one.batch_size = 1;
    many.batch_size = 7;
    st = semb_encode(m, sentences, NULL, n, a, &one, &err);
    if (!st)
        st = semb_encode(m, sentences, NULL, n, b, &many, &err);
    double norm_err = 0, batch_diff = st ? 1 : max_abs_diff(a, b, n * dim);
    bool finite = !st;
    for (size_t i = 0; !st && i < n; i++) {
        double sq = 0;
        for (size_t d = 0; d < dim; d++) {
            finite = finite && isfinite(a[i * dim + d]);
            sq += (double)a[i * dim + d] * a[i * dim + d];
        }
        norm_err = fmax(norm_err, fabs(sqrt(sq) - 1.0));
    }
    report(!st && finite && norm_err < 1e-5, "encode: finite, unit-length embeddings", "%s%zu x %zu, max | |e| - 1 | %.1e",
           st ? err.message : "", n, dim, norm_err);
    report(!st && batch_diff < 1e-5, "encode: batch size 1 vs 7 agree", "max |diff| %.2e", batch_diff);
    const char *reversed[N_SENTENCES];
    for (size_t i = 0; i < n; i++)
        reversed[i] = sentences[n - 1 - i];
    st = semb_encode(m, reversed, NULL, n, b, &many, &err);
    double order_diff = 0;
    for (size_t i = 0; !st && i < n; i++)
        order_diff = fmax(order_diff, max_abs_diff(a + i * dim, b + (n - 1 - i) * dim, dim));
    report(!st && order_diff < 1e-5, "encode: input order does not matter", "max |diff| %.2e", order_diff);
    free(a);
    free(b);
done:
    semb_model_free(m);
    free(vocab);
    free(dir);
}

/* Fixture models from shared/fixtures: ids and embeddings against sentence-transformers. */
static void check_fixture(const char *fixtures, const char *name)
{
    char *dir = path_join(fixtures, name);
    char *tokens_path = path_join(dir, "ref.tokens.json");
    char *ref_path = path_join(dir, "ref.embeddings.safetensors");
    semb_error err = {0};
    semb_model *m = NULL;
    json_t *tokens = NULL;
    safetensors_file ref = {0};
    semb_status st = semb_model_load(dir, &m, &err);
    if (!st)
        st = safetensors_open(ref_path, &ref, &err);
    json_error_t jerr;
    if (!st && !(tokens = json_load_file(tokens_path, 0, &jerr)))
        st = semb_fail(&err, SEMB_ERR_FORMAT, "%s: %s", tokens_path, jerr.text);
    if (st) {
        report(false, name, "%s", err.message);
        goto done;
    }
    json_t *sents = json_object_get(tokens, "sentences"), *ids = json_object_get(tokens, "input_ids");
    size_t n = json_array_size(sents), dim = (size_t)semb_model_dimension(m), same = 0;
    const char **texts = malloc(n * sizeof *texts);
    size_t *lengths = malloc(n * sizeof *lengths);
    for (size_t i = 0; i < n; i++) {
        texts[i] = json_string_value(json_array_get(sents, i));
        lengths[i] = json_string_length(json_array_get(sents, i));
        int32_t *got;
        size_t count;
        json_t *want = json_array_get(ids, i);
        if (semb_tokenize(m, texts[i], lengths[i], &got, &count, &err) == SEMB_OK) {
            bool eq = count == json_array_size(want);
            for (size_t k = 0; eq && k < count; k++)
                eq = got[k] == json_integer_value(json_array_get(want, k));
            same += eq;
            free(got);
        }
    }
    float *emb = malloc(n * dim * sizeof *emb);
    double *expect = malloc(n * dim * sizeof *expect);
    const safetensors_tensor *t = safetensors_find(&ref, "embeddings");
    st = semb_encode(m, texts, lengths, n, emb, NULL, &err);
    if (!st)
        st = t ? safetensors_to_f64(&ref, t, expect, n * dim, &err)
               : semb_fail(&err, SEMB_ERR_FORMAT, "%s: no 'embeddings'", ref_path);
    double worst = 0;
    for (size_t i = 0; !st && i < n * dim; i++)
        worst = fmax(worst, fabs((double)emb[i] - expect[i]));
    char what[96];
    snprintf(what, sizeof what, "fixture %s", name);
    report(!st && same == n && worst <= 1e-5, what, "ids %zu/%zu identical, max |emb - ref| %.1e %s",
           same, n, worst, st ? err.message : "");
    free(texts), free(lengths), free(emb), free(expect);
done:
    json_decref(tokens);
    safetensors_close(&ref);
    semb_model_free(m);
    free(dir), free(tokens_path), free(ref_path);
}

int cmd_selfcheck(int argc, char **argv)
{
    const char *fixtures = NULL;
    int threads = 0;
    const cli_option options[] = {
        {"--fixtures", CLI_STRING, &fixtures,
         "shared/fixtures folder (default: $SEMB_SHARED_DIR/fixtures or ../shared/fixtures)"},
        {"--threads", CLI_INT, &threads, "threads (default: all cores)"},
    };
    int rc = cli_parse(argc, argv, "selfcheck", "[--fixtures DIR]", options,
                       sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    cli_set_threads(threads);
    double start = timer_seconds();
    printf("semb %s selfcheck\n  cpu: %s; threads: %d\n", semb_version(), cpu_features_string(),
           omp_get_max_threads());
    check_kernels();
    char tmp[] = "/tmp/semb-selfcheck-XXXXXX";
    if (!mkdtemp(tmp))
        return cli_failf("selfcheck", "cannot create a temporary folder in /tmp");
    check_model(tmp);
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", tmp);
    if (system(cmd) != 0)
        fprintf(stderr, "semb selfcheck: could not remove %s\n", tmp);

    static char found[4096];
    if (!fixtures) {
        const char *shared = getenv("SEMB_SHARED_DIR");
        snprintf(found, sizeof found, "%s/fixtures", shared && *shared ? shared : "../shared");
        fixtures = found;
    }
    if (path_is_dir(fixtures)) {
        static const char *models[] = {"bert-tiny-mean", "bert-tiny-cls", "bert-tiny-max",
                                       "distilbert-tiny-mean", "mpnet-tiny-mean"};
        for (size_t i = 0; i < sizeof models / sizeof models[0]; i++)
            check_fixture(fixtures, models[i]);
    } else {
        printf("  [skip] reference fixtures not found at %s (pass --fixtures DIR)\n", fixtures);
    }
    printf("%s in %.2f s: %d failure%s\n", failures ? "FAILED" : "passed",
           timer_seconds() - start, failures, failures == 1 ? "" : "s");
    return failures ? 1 : 0;
}
