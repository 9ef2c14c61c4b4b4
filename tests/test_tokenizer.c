/* The tokenizer against Hugging Face `tokenizers` reference ids (shared/fixtures), plus unit
 * tests of its pieces and of bad input. */
#include "support.h"

#include <jansson.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "text/tokenizer.h"

#define BERT_JSON "data/vocab/bert-base-uncased-tokenizer.json"
#define BERT_VOCAB "data/vocab/bert-base-uncased-vocab.txt"
#define MPNET_VOCAB "data/vocab/mpnet-base-vocab.txt"
#define CLS 101
#define SEP 102
#define UNK 100

/* --- helpers ------------------------------------------------------------------------- */

typedef struct reference {
    json_t *root;
    json_t *sentences, *input_ids;
} reference;

static reference load_reference(const char *relative)
{
    json_error_t jerr;
    reference r = {0};
    r.root = json_load_file(test_shared_path(relative), 0, &jerr);
    if (!r.root)
        fail_msg("%s: line %d: %s", relative, jerr.line, jerr.text);
    r.sentences = json_object_get(r.root, "sentences");
    r.input_ids = json_object_get(r.root, "input_ids");
    assert_true(json_is_array(r.sentences));
    assert_int_equal(json_array_size(r.sentences), json_array_size(r.input_ids));
    return r;
}

static semb_tokenizer *load_json_or_fail(const char *path)
{
    semb_tokenizer *tok = NULL;
    semb_error err = {0};
    if (tokenizer_load_json(path, &tok, &err))
        fail_msg("%s", err.message);
    return tok;
}

static semb_tokenizer *load_dir_or_fail(const char *dir, const char *model_type)
{
    semb_tokenizer *tok = NULL;
    semb_error err = {0};
    if (tokenizer_load_dir(dir, model_type, &tok, &err))
        fail_msg("%s", err.message);
    return tok;
}

static semb_tokenizer *load_vocab_or_fail(const char *path, int lowercase, int strip_accents,
                                          int roberta)
{
    tokenizer_vocab_options o = {.lowercase = lowercase,
                                 .strip_accents = strip_accents,
                                 .tokenize_chinese_chars = 1,
                                 .roberta_processing = roberta};
    semb_tokenizer *tok = NULL;
    semb_error err = {0};
    if (tokenizer_load_vocab(path, &o, &tok, &err))
        fail_msg("%s", err.message);
    return tok;
}

static void print_ids(const char *label, const int32_t *ids, size_t n)
{
    fprintf(stderr, "  %s (%zu):", label, n);
    for (size_t i = 0; i < n && i < 40; i++)
        fprintf(stderr, " %d", ids[i]);
    fprintf(stderr, n > 40 ? " ...\n" : "\n");
}

/* Tokenizes reference sentences [first, first + count) (count 0: all) and counts the ones
 * whose ids differ, printing the first few. */
static size_t count_mismatches(const semb_tokenizer *tok, const reference *r, size_t first,
                               size_t count, size_t max_tokens, const char *label)
{
    size_t n = json_array_size(r->sentences), mismatches = 0;
    size_t last = count ? first + count : n;
    token_buffer buf = {0};
    int32_t expected[1024];
    for (size_t i = first; i < last && i < n; i++) {
        const json_t *sentence = json_array_get(r->sentences, i);
        const json_t *ids = json_array_get(r->input_ids, i);
        size_t expected_count = json_array_size(ids);
        assert_true(expected_count <= 1024);
        for (size_t k = 0; k < expected_count; k++)
            expected[k] = (int32_t)json_integer_value(json_array_get(ids, k));
        semb_error err = {0};
        semb_status st = tokenizer_encode(tok, json_string_value(sentence),
                                          json_string_length(sentence), max_tokens, &buf, &err);
        if (st)
            fail_msg("%s: sentence %zu: %s", label, i, err.message);
        if (buf.count == expected_count &&
            memcmp(buf.ids, expected, expected_count * sizeof(int32_t)) == 0)
            continue;
        if (mismatches++ < 5) {
            fprintf(stderr, "%s: sentence %zu differs: %.120s\n", label, i,
                    json_string_value(sentence));
            print_ids("expected", expected, expected_count);
            print_ids("got", buf.ids, buf.count);
        }
    }
    token_buffer_free(&buf);
    if (mismatches)
        fprintf(stderr, "%s: %zu of %zu sentences differ\n", label, mismatches, last - first);
    return mismatches;
}

/* Encodes text (NUL-terminated) with no truncation into a static result. */
static const token_buffer *encode(const semb_tokenizer *tok, const char *text)
{
    static token_buffer buf;
    semb_error err = {0};
    if (tokenizer_encode(tok, text, strlen(text), 0, &buf, &err))
        fail_msg("encode '%s': %s", text, err.message);
    return &buf;
}

static void assert_same_ids(const semb_tokenizer *tok, const char *a, const char *b)
{
    token_buffer first = {0};
    semb_error err = {0};
    assert_int_equal(tokenizer_encode(tok, a, strlen(a), 0, &first, &err), SEMB_OK);
    const token_buffer *second = encode(tok, b);
    if (first.count != second->count ||
        memcmp(first.ids, second->ids, first.count * sizeof(int32_t)) != 0) {
        print_ids(a, first.ids, first.count);
        print_ids(b, second->ids, second->count);
        fail_msg("'%s' and '%s' should tokenize alike", a, b);
    }
    token_buffer_free(&first);
}

static void assert_ids(const token_buffer *buf, const int32_t *expected, size_t n)
{
    if (buf->count != n || memcmp(buf->ids, expected, n * sizeof(int32_t)) != 0) {
        print_ids("expected", expected, n);
        print_ids("got", buf->ids, buf->count);
        fail_msg("ids differ");
    }
}

static int32_t id_of(const semb_tokenizer *tok, const char *token)
{
    int32_t id = tokenizer_token_to_id(tok, token);
    if (id < 0)
        fail_msg("'%s' is not in the vocabulary", token);
    return id;
}

static char *write_temp_file(const char *dir, const char *name, const char *content)
{
    static char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    fputs(content, f);
    fclose(f);
    return path;
}

static void copy_file(const char *from, const char *dir, const char *name)
{
    size_t size;
    char *data = test_read_file(from, &size);
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(data, 1, size, f), size);
    fclose(f);
    free(data);
}

/* --- the references ------------------------------------------------------------------ */

static void test_wordpiece_reference_tokenizer_json(void **state)
{
    semb_tokenizer *tok = load_json_or_fail(test_shared_path(BERT_JSON));
    reference r = load_reference("fixtures/wordpiece_uncased_reference.json");
    assert_int_equal(json_array_size(r.sentences), 4026);
    assert_int_equal(count_mismatches(tok, &r, 0, 0, 0, "tokenizer.json"), 0);
    json_decref(r.root);
    tokenizer_free(tok);
}

static void test_wordpiece_reference_vocab_txt(void **state)
{
    semb_tokenizer *tok = load_vocab_or_fail(test_shared_path(BERT_VOCAB), 1, -1, 0);
    reference r = load_reference("fixtures/wordpiece_uncased_reference.json");
    assert_int_equal(count_mismatches(tok, &r, 0, 0, 0, "vocab.txt"), 0);
    json_decref(r.root);
    tokenizer_free(tok);
}

static const struct {
    const char *dir, *model_type;
} fixture_models[] = {
    {"fixtures/bert-tiny-mean", "bert"},
    {"fixtures/bert-tiny-cls", "bert"},
    {"fixtures/bert-tiny-max", "bert"},
    {"fixtures/distilbert-tiny-mean", "distilbert"},
    {"fixtures/mpnet-tiny-mean", "mpnet"},
};

static void test_fixture_models_truncated_to_128(void **state)
{
    for (size_t m = 0; m < sizeof fixture_models / sizeof fixture_models[0]; m++) {
        char relative[256];
        snprintf(relative, sizeof relative, "%s/ref.tokens.json", fixture_models[m].dir);
        reference r = load_reference(relative);
        assert_int_equal(json_array_size(r.sentences), 146);
        semb_tokenizer *tok =
            load_dir_or_fail(test_shared_path(fixture_models[m].dir), fixture_models[m].model_type);
        assert_int_equal(count_mismatches(tok, &r, 0, 0, 128, fixture_models[m].dir), 0);
        tokenizer_free(tok);
        json_decref(r.root);
    }
}

/* The sentence-transformers folders as the hub ships them (one-line and pretty-printed
 * tokenizer.json, truncation and padding sections set) give the fixtures' ids. */
static void test_st_config_folders(void **state)
{
    reference bert = load_reference("fixtures/bert-tiny-mean/ref.tokens.json");
    reference mpnet = load_reference("fixtures/mpnet-tiny-mean/ref.tokens.json");
    const char *bert_dirs[] = {"data/st-configs/all-MiniLM-L6-v2",
                               "data/st-configs/all-MiniLM-L6-v2-resaved-st3"};
    for (int i = 0; i < 2; i++) {
        semb_tokenizer *tok = load_dir_or_fail(test_shared_path(bert_dirs[i]), "bert");
        assert_int_equal(count_mismatches(tok, &bert, 0, 0, 128, bert_dirs[i]), 0);
        assert_int_equal(tokenizer_vocab_size(tok), 30522);
        assert_int_equal(tokenizer_pad_id(tok), 0);
        tokenizer_free(tok);
    }
    semb_tokenizer *tok =
        load_dir_or_fail(test_shared_path("data/st-configs/all-mpnet-base-v2"), "mpnet");
    assert_int_equal(count_mismatches(tok, &mpnet, 0, 0, 128, "all-mpnet-base-v2"), 0);
    assert_int_equal(tokenizer_vocab_size(tok), 30527);
    assert_int_equal(tokenizer_pad_id(tok), 1);
    assert_int_equal(tokenizer_num_special_tokens(tok), 2);
    tokenizer_free(tok);
    json_decref(bert.root);
    json_decref(mpnet.root);
}

static void test_mpnet_vocab_txt(void **state)
{
    reference r = load_reference("fixtures/mpnet-tiny-mean/ref.tokens.json");
    semb_tokenizer *tok = load_vocab_or_fail(test_shared_path(MPNET_VOCAB), 1, -1, 1);
    assert_int_equal(count_mismatches(tok, &r, 0, 0, 128, "mpnet vocab.txt"), 0);
    assert_int_equal(tokenizer_pad_id(tok), 1);
    assert_int_equal(tokenizer_token_to_id(tok, "<mask>"), 30526);
    tokenizer_free(tok);
    json_decref(r.root);
}

/* A folder with vocab.txt, tokenizer_config.json and special_tokens_map.json only. */
static void test_load_dir_vocab_txt(void **state)
{
    char *dir = test_make_temp_dir();
    copy_file(test_shared_path(BERT_VOCAB), dir, "vocab.txt");
    const char *st3 = "data/st-configs/all-MiniLM-L6-v2-resaved-st3";
    char source[512];
    snprintf(source, sizeof source, "%s/tokenizer_config.json", st3);
    copy_file(test_shared_path(source), dir, "tokenizer_config.json");
    snprintf(source, sizeof source, "%s/special_tokens_map.json", st3);
    copy_file(test_shared_path(source), dir, "special_tokens_map.json");
    reference r = load_reference("fixtures/bert-tiny-mean/ref.tokens.json");
    semb_tokenizer *tok = load_dir_or_fail(dir, "bert");
    assert_int_equal(count_mismatches(tok, &r, 0, 0, 128, "vocab.txt folder"), 0);
    tokenizer_free(tok);

    /* A cased configuration: no lowercasing and, following it, no accent stripping. */
    write_temp_file(dir, "tokenizer_config.json",
                    "{\"do_lower_case\": false, \"cls_token\": \"[CLS]\"}");
    tok = load_dir_or_fail(dir, NULL);
    const int32_t cased[] = {CLS, id_of(tok, "[UNK]"), SEP};
    assert_ids(encode(tok, "Héllo"), cased, 3);
    tokenizer_free(tok);
    json_decref(r.root);
    test_rmtree(dir);
    free(dir);
}

/* --- pieces ---------------------------------------------------------------------------- */

static semb_tokenizer *bert_tokenizer;

static void test_accents_stripped(void **state)
{
    const semb_tokenizer *tok = bert_tokenizer;
    assert_same_ids(tok, "Héllo Wörld naïve café", "hello world naive cafe");
    assert_same_ids(tok, "ÀÉÎÕÜ Ångström", "aeiou angstrom");
    assert_same_ids(tok, "e\xcc\x81", "e"); /* e + combining acute */
    assert_same_ids(tok, "\xc4\xb0stanbul", "istanbul"); /* U+0130: NFD, mark dropped */
}

static void test_uppercase_dotted_i_without_stripping(void **state)
{
    /* Lowercase without accent stripping: U+0130 becomes "i" + U+0307, so the word no
     * longer matches "istanbul". */
    semb_tokenizer *tok = load_vocab_or_fail(test_shared_path(BERT_VOCAB), 1, 0, 0);
    const token_buffer *buf = encode(tok, "\xc4\xb0stanbul");
    assert_true(buf->count >= 3);
    assert_int_not_equal(buf->ids[1], id_of(tok, "istanbul"));
    assert_same_ids(tok, "Café", "café");
    tokenizer_free(tok);
}

static void test_cjk_characters_split(void **state)
{
    const semb_tokenizer *tok = bert_tokenizer;
    const int32_t cjk[] = {CLS, id_of(tok, "中"), id_of(tok, "文"), id_of(tok, "a"), SEP};
    assert_ids(encode(tok, "中文a"), cjk, 5);
    /* Hiragana is not a CJK ideograph: it stays in the word. */
    const token_buffer *kana = encode(tok, "のの");
    assert_int_equal(kana->ids[1], id_of(tok, "の"));
    assert_int_equal(kana->ids[2], id_of(tok, "##の"));
}

static void test_control_and_whitespace(void **state)
{
    const semb_tokenizer *tok = bert_tokenizer;
    assert_same_ids(tok, "a\x01" "b", "ab");
    assert_same_ids(tok, "zero\xe2\x80\x8bwidth", "zerowidth"); /* U+200B, Cf */
    assert_same_ids(tok, "soft\xc2\xad" "hyphen", "softhyphen"); /* U+00AD, Cf */
    assert_same_ids(tok, "bad\xef\xbf\xbdsign", "badsign");       /* U+FFFD */
    assert_same_ids(tok, "tabs\tand\nnew\r\nlines", "tabs and new lines");
    assert_same_ids(tok, "no\xc2\xa0" "break\xe3\x80\x80space", "no break space");
    assert_same_ids(tok, "   ", "");
    /* An embedded NUL is dropped, not an end of string. */
    token_buffer buf = {0};
    semb_error err = {0};
    assert_int_equal(tokenizer_encode(tok, "a\0b", 3, 0, &buf, &err), SEMB_OK);
    const int32_t ab[] = {CLS, id_of(tok, "ab"), SEP};
    assert_ids(&buf, ab, 3);
    token_buffer_free(&buf);
}

static void test_punctuation_isolated(void **state)
{
    const semb_tokenizer *tok = bert_tokenizer;
    const int32_t expected[] = {CLS, id_of(tok, "a"), id_of(tok, ","), id_of(tok, "b"),
                                id_of(tok, "$"), id_of(tok, "$"), id_of(tok, "c"), SEP};
    assert_ids(encode(tok, "a,b$$c"), expected, 8);
    /* Unicode punctuation (em dash, Pd) is isolated too; symbols (©, So) are not. */
    assert_same_ids(tok, "a\xe2\x80\x94" "b", "a \xe2\x80\x94 b");
}

static void test_long_word_is_unknown(void **state)
{
    const semb_tokenizer *tok = bert_tokenizer;
    char word[202];
    memset(word, 'a', 101);
    word[101] = '\0';
    const int32_t unknown[] = {CLS, UNK, SEP};
    assert_ids(encode(tok, word), unknown, 3); /* 101 characters: over the limit */
    word[100] = '\0';
    const token_buffer *buf = encode(tok, word); /* 100: split into pieces */
    assert_true(buf->count > 3);
    assert_int_not_equal(buf->ids[1], UNK);
    /* A word whose rest matches nothing is unknown as a whole. */
    assert_ids(encode(tok, "\xe2\x88\x9e\xe2\x88\x9e\xf0\x9f\x99\x82"), unknown, 3);
}

static void test_truncation(void **state)
{
    const semb_tokenizer *tok = bert_tokenizer;
    const char *text = "the quick brown fox";
    token_buffer buf = {0};
    semb_error err = {0};
    assert_int_equal(tokenizer_encode(tok, text, strlen(text), 0, &buf, &err), SEMB_OK);
    assert_int_equal(buf.count, 6);
    int32_t full[6];
    memcpy(full, buf.ids, sizeof full);
    for (size_t max = 3; max <= 7; max++) {
        assert_int_equal(tokenizer_encode(tok, text, strlen(text), max, &buf, &err), SEMB_OK);
        size_t n = max < 6 ? max : 6;
        assert_int_equal(buf.count, n);
        assert_memory_equal(buf.ids, full, (n - 1) * sizeof(int32_t));
        assert_int_equal(buf.ids[n - 1], SEP);
    }
    const int32_t specials_only[] = {CLS, SEP};
    assert_int_equal(tokenizer_encode(tok, text, strlen(text), 2, &buf, &err), SEMB_OK);
    assert_ids(&buf, specials_only, 2);
    assert_int_equal(tokenizer_encode(tok, text, strlen(text), 1, &buf, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "max_tokens 1"));
    assert_int_equal(buf.count, 0);
    /* A word split into pieces is cut between its pieces. */
    const char *pieces = "unbelievably";
    assert_int_equal(tokenizer_encode(tok, pieces, strlen(pieces), 0, &buf, &err), SEMB_OK);
    assert_true(buf.count > 4);
    int32_t first_piece = buf.ids[1];
    assert_int_equal(tokenizer_encode(tok, pieces, strlen(pieces), 3, &buf, &err), SEMB_OK);
    const int32_t cut[] = {CLS, first_piece, SEP};
    assert_ids(&buf, cut, 3);
    token_buffer_free(&buf);
}

static void test_empty_text(void **state)
{
    const int32_t specials_only[] = {CLS, SEP};
    assert_ids(encode(bert_tokenizer, ""), specials_only, 2);
    token_buffer buf = {0};
    semb_error err = {0};
    assert_int_equal(tokenizer_encode(bert_tokenizer, NULL, 0, 128, &buf, &err), SEMB_OK);
    assert_ids(&buf, specials_only, 2);
    token_buffer_free(&buf);
}

static void test_special_tokens_in_text(void **state)
{
    const semb_tokenizer *tok = bert_tokenizer;
    const int32_t expected[] = {CLS, CLS, SEP, 103, 0, UNK, SEP};
    assert_ids(encode(tok, "[CLS] [SEP] [MASK] [PAD] [UNK]"), expected, 7);
    /* Raw (not normalised) matching: the lowercase spelling is ordinary text. */
    const int32_t glued[] = {CLS, id_of(tok, "a"), 103, id_of(tok, "b"), SEP};
    assert_ids(encode(tok, "a[MASK]b"), glued, 5);
    assert_int_not_equal(encode(tok, "[mask]")->ids[1], 103);
    assert_int_equal(tokenizer_token_to_id(tok, "[MASK]"), 103);
    assert_int_equal(tokenizer_token_to_id(tok, "no-such-token"), -1);
    assert_int_equal(tokenizer_num_special_tokens(tok), 2);
    assert_int_equal(tokenizer_vocab_size(tok), 30522);
}

/* all-mpnet-base-v2 declares <unk> with normalized=true: it is matched after lowercasing. */
static void test_normalized_added_token(void **state)
{
    semb_tokenizer *tok =
        load_json_or_fail(test_shared_path("data/st-configs/all-mpnet-base-v2/tokenizer.json"));
    const int32_t unk[] = {0, 3, 2};
    assert_ids(encode(tok, "<unk>"), unk, 3);
    assert_ids(encode(tok, "<UNK>"), unk, 3);
    const int32_t word_unk[] = {0, 104, 2};
    assert_ids(encode(tok, "[UNK]"), word_unk, 3);
    const int32_t mask[] = {0, id_of(tok, "hello"), 30526, 2};
    assert_ids(encode(tok, "hello <mask>"), mask, 4);
    tokenizer_free(tok);
}

static const char small_tokenizer_json[] =
    "{\"version\": \"1.0\", \"added_tokens\": [\n"
    " {\"id\": 5, \"content\": \"ab\", \"single_word\": true, \"lstrip\": false,"
    "  \"rstrip\": false, \"normalized\": false, \"special\": false}],\n"
    " \"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": false},\n"
    " \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},\n"
    " \"post_processor\": {\"type\": \"BertProcessing\", \"cls\": [\"[CLS]\", 1],"
    "  \"sep\": [\"[SEP]\", 2]},\n"
    " \"model\": {\"unk_token\": \"[UNK]\", \"continuing_subword_prefix\": \"##\","
    "  \"max_input_chars_per_word\": 100,\n"
    "  \"vocab\": {\"[UNK]\": 0, \"[CLS]\": 1, \"[SEP]\": 2, \"x\": 3, \"##ab\": 4, \"ab\": 5,"
    "  \"##x\": 6, \"Ab\": 7}}}\n";

/* single_word tokens only match outside words; a vocabulary without "type" is WordPiece;
 * lowercase false keeps case (and, strip_accents being unset, accents). */
static void test_single_word_added_token(void **state)
{
    char *dir = test_make_temp_dir();
    semb_tokenizer *tok = load_json_or_fail(write_temp_file(dir, "tokenizer.json",
                                                            small_tokenizer_json));
    const int32_t expected[] = {1, 3, 4, 5, 3, 6, 0, 7, 2};
    assert_ids(encode(tok, "xab ab xx \xc3\x81" "b Ab"), expected, 9);
    assert_int_equal(tokenizer_pad_id(tok), -1);
    tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);
}

typedef struct thread_job {
    const semb_tokenizer *tok;
    const reference *r;
    size_t mismatches;
} thread_job;

static void *encode_all(void *arg)
{
    thread_job *job = arg;
    for (int round = 0; round < 3; round++)
        job->mismatches += count_mismatches(job->tok, job->r, 0, 0, 0, "thread");
    return NULL;
}

static void test_concurrent_encoding(void **state)
{
    reference r = load_reference("fixtures/wordpiece_uncased_reference.json");
    pthread_t threads[4];
    thread_job jobs[4];
    for (int i = 0; i < 4; i++) {
        jobs[i] = (thread_job){bert_tokenizer, &r, 0};
        assert_int_equal(pthread_create(&threads[i], NULL, encode_all, &jobs[i]), 0);
    }
    for (int i = 0; i < 4; i++) {
        pthread_join(threads[i], NULL);
        assert_int_equal(jobs[i].mismatches, 0);
    }
    json_decref(r.root);
}

static void test_buffers_reused(void **state)
{
    reference r = load_reference("fixtures/wordpiece_uncased_reference.json");
    token_buffer buf = {0};
    semb_error err = {0};
    for (int round = 0; round < 2; round++) {
        int32_t *ids = buf.ids;
        char *scratch = buf.scratch;
        for (size_t i = 0; i < json_array_size(r.sentences); i++) {
            const json_t *s = json_array_get(r.sentences, i);
            assert_int_equal(tokenizer_encode(bert_tokenizer, json_string_value(s),
                                              json_string_length(s), 0, &buf, &err),
                             SEMB_OK);
        }
        if (round == 1) {
            assert_ptr_equal(buf.ids, ids);
            assert_ptr_equal(buf.scratch, scratch);
        }
    }
    token_buffer_free(&buf);
    token_buffer_free(&buf); /* safe twice */
    json_decref(r.root);
}

/* Random text over a mix of scripts, marks, controls and punctuation: the vocab.txt and
 * tokenizer.json routes agree, every id is in range, and truncation keeps a prefix. */
static size_t random_text(uint64_t *seed, char *out, size_t capacity)
{
    static const uint32_t pool[] = {
        'a', 'Z', ' ', '.', '\'', '\t', 0x01, 0x7f, 0xe9, 0x130, 0x301, 0x308, 0x345, 0x0f71,
        0x1d165, 0x1d16d, 0x302e, 0x4e2d, 0xf900, 0x3042, 0x0391, 0x0436, 0x2014, 0x00a0,
        0x200b, 0xfffd, 0x1f642, 0xac00, 0x2028, 0xe000, 0x212b, 0x1e9e, 0xff21, 0x0};
    size_t n = 0;
    size_t chars = (*seed >> 33) % 60;
    for (size_t i = 0; i < chars && n + 4 < capacity; i++) {
        *seed = *seed * 6364136223846793005ull + 1442695040888963407ull;
        uint32_t cp = pool[(*seed >> 35) % (sizeof pool / sizeof pool[0])];
        if (cp < 0x80) {
            out[n++] = (char)cp;
        } else if (cp < 0x800) {
            out[n++] = (char)(0xc0 | (cp >> 6));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        } else if (cp < 0x10000) {
            out[n++] = (char)(0xe0 | (cp >> 12));
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        } else {
            out[n++] = (char)(0xf0 | (cp >> 18));
            out[n++] = (char)(0x80 | ((cp >> 12) & 0x3f));
            out[n++] = (char)(0x80 | ((cp >> 6) & 0x3f));
            out[n++] = (char)(0x80 | (cp & 0x3f));
        }
    }
    return n;
}

static void test_random_text(void **state)
{
    semb_tokenizer *vocab = load_vocab_or_fail(test_shared_path(BERT_VOCAB), 1, -1, 0);
    token_buffer a = {0}, b = {0};
    semb_error err = {0};
    uint64_t seed = 12345;
    char text[512];
    for (int round = 0; round < 20000; round++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        size_t n = random_text(&seed, text, sizeof text);
        assert_int_equal(tokenizer_encode(bert_tokenizer, text, n, 0, &a, &err), SEMB_OK);
        assert_int_equal(tokenizer_encode(vocab, text, n, 0, &b, &err), SEMB_OK);
        assert_int_equal(a.count, b.count);
        assert_memory_equal(a.ids, b.ids, a.count * sizeof(int32_t));
        for (size_t i = 0; i < a.count; i++)
            assert_true(a.ids[i] >= 0 && a.ids[i] < 30522);
        size_t max = 2 + (size_t)(seed >> 60);
        assert_int_equal(tokenizer_encode(bert_tokenizer, text, n, max, &b, &err), SEMB_OK);
        size_t expected = a.count < max ? a.count : max;
        assert_int_equal(b.count, expected);
        assert_memory_equal(b.ids, a.ids, (expected - 1) * sizeof(int32_t));
        assert_int_equal(b.ids[expected - 1], SEP);
    }
    token_buffer_free(&a);
    token_buffer_free(&b);
    tokenizer_free(vocab);
}

/* --- bad input ------------------------------------------------------------------------- */

static void test_invalid_utf8(void **state)
{
    static const struct {
        const char *text;
        size_t offset;
    } cases[] = {
        {"ab\xff" "cd", 2},           /* not a UTF-8 byte */
        {"abc\xc3", 3},               /* truncated sequence */
        {"\xc0\xaf", 0},              /* overlong '/' */
        {"x\xed\xa0\x80", 1},         /* surrogate U+D800 */
        {"ok \xf4\x90\x80\x80", 3},   /* above U+10FFFF */
        {"caf\xc3\xa9 \x80", 6},      /* stray continuation byte */
    };
    token_buffer buf = {0};
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        semb_error err = {0};
        assert_int_equal(tokenizer_encode(bert_tokenizer, cases[i].text, strlen(cases[i].text),
                                          0, &buf, &err),
                         SEMB_ERR_INPUT);
        char expected[64];
        snprintf(expected, sizeof expected, "byte offset %zu", cases[i].offset);
        if (!strstr(err.message, expected))
            fail_msg("case %zu: '%s' lacks '%s'", i, err.message, expected);
        assert_int_equal(buf.count, 0);
    }
    token_buffer_free(&buf);
}

static void expect_load_error(const char *json, semb_status status, const char *fragment)
{
    char *dir = test_make_temp_dir();
    const char *path = write_temp_file(dir, "tokenizer.json", json);
    semb_tokenizer *tok = (semb_tokenizer *)1;
    semb_error err = {0};
    assert_int_equal(tokenizer_load_json(path, &tok, &err), status);
    assert_null(tok);
    if (!strstr(err.message, fragment))
        fail_msg("message '%s' lacks '%s'", err.message, fragment);
    assert_non_null(strstr(err.message, "tokenizer.json"));
    test_rmtree(dir);
    free(dir);
}

static void test_bad_tokenizer_json(void **state)
{
    expect_load_error("{\"model\": {\n  \"type\": \"WordPiece\",,\n}}", SEMB_ERR_FORMAT,
                      "line 2, column");
    expect_load_error("[1, 2]", SEMB_ERR_FORMAT, "top level");
    expect_load_error("{\"normalizer\": null, \"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
                      " \"model\": {\"type\": \"BPE\", \"vocab\": {}, \"merges\": []}}",
                      SEMB_ERR_UNSUPPORTED, "model.type: 'BPE' is not supported");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"},"
                      " \"model\": {\"vocab\": {}, \"merges\": []}}",
                      SEMB_ERR_UNSUPPORTED, "model.type: 'BPE' is not supported");
    expect_load_error("{\"normalizer\": {\"type\": \"NFKC\"}}", SEMB_ERR_UNSUPPORTED,
                      "normalizer.type: 'NFKC' is not supported");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"ByteLevel\"}}", SEMB_ERR_UNSUPPORTED,
                      "pre_tokenizer.type: 'ByteLevel' is not supported");
    expect_load_error("{\"normalizer\": {\"type\": \"BertNormalizer\", \"lowercase\": 1}}",
                      SEMB_ERR_FORMAT, "normalizer.lowercase: expected true or false");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": {"
                      "\"type\": \"WordPiece\", \"vocab\": {\"a\": 0}}}",
                      SEMB_ERR_FORMAT, "model.unk_token: unknown token '[UNK]'");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": {"
                      "\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": \"zero\"}}}",
                      SEMB_ERR_FORMAT, "model.vocab: '[UNK]'");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": {"
                      "\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}},"
                      " \"post_processor\": {\"type\": \"ByteLevel\"}}",
                      SEMB_ERR_UNSUPPORTED, "post_processor.type: 'ByteLevel'");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": {"
                      "\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0}},"
                      " \"added_tokens\": [{\"id\": 0}]}",
                      SEMB_ERR_FORMAT, "added_tokens[0].content: missing");
    /* found by fuzz_tokenizer: ids the model would look up past its embedding table */
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": {"
                      "\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 1}},"
                      " \"post_processor\": {\"type\": \"RobertaProcessing\","
                      " \"cls\": [\"[UNK]\", 0], \"sep\": [\"[SEP]\", 32]}}",
                      SEMB_ERR_FORMAT, "special token id 32 of the post-processor is outside");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": {"
                      "\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 1}},"
                      " \"post_processor\": {\"type\": \"TemplateProcessing\","
                      " \"single\": [{\"SpecialToken\": {\"id\": \"X\"}},"
                      " {\"Sequence\": {\"id\": \"A\"}}],"
                      " \"special_tokens\": {\"X\": {\"ids\": [2]}}}}",
                      SEMB_ERR_FORMAT, "special token id 2 of the post-processor is outside");
    expect_load_error("{\"pre_tokenizer\": {\"type\": \"BertPreTokenizer\"}, \"model\": {"
                      "\"type\": \"WordPiece\", \"vocab\": {\"[UNK]\": 0, \"a\": 1}},"
                      " \"padding\": {\"pad_id\": 2}}",
                      SEMB_ERR_FORMAT, "padding.pad_id: 2 is outside the vocabulary");
}

static void test_missing_files(void **state)
{
    semb_tokenizer *tok = NULL;
    semb_error err = {0};
    assert_int_equal(tokenizer_load_json("/nonexistent/tokenizer.json", &tok, &err), SEMB_ERR_IO);
    assert_non_null(strstr(err.message, "/nonexistent/tokenizer.json"));
    tokenizer_vocab_options o = {.lowercase = 1, .strip_accents = -1};
    assert_int_equal(tokenizer_load_vocab("/nonexistent/vocab.txt", &o, &tok, &err), SEMB_ERR_IO);
    char *dir = test_make_temp_dir();
    assert_int_equal(tokenizer_load_dir(dir, "bert", &tok, &err), SEMB_ERR_IO);
    assert_non_null(strstr(err.message, "no tokenizer.json or vocab.txt"));
    write_temp_file(dir, "vocab.txt", "[PAD]\n[UNK]\n[CLS]\n[SEP]\n[MASK]\nhello\n");
    assert_int_equal(tokenizer_load_dir(dir, "roberta", &tok, &err), SEMB_ERR_UNSUPPORTED);
    write_temp_file(dir, "tokenizer_config.json", "{\"do_lower_case\": tru}");
    assert_int_equal(tokenizer_load_dir(dir, "bert", &tok, &err), SEMB_ERR_FORMAT);
    assert_non_null(strstr(err.message, "tokenizer_config.json: line 1"));
    write_temp_file(dir, "tokenizer_config.json", "{\"unk_token\": \"<nope>\"}");
    assert_int_equal(tokenizer_load_dir(dir, "bert", &tok, &err), SEMB_ERR_FORMAT);
    assert_non_null(strstr(err.message, "'<nope>' is not in the vocabulary"));
    assert_null(tok);
    /* A small vocab.txt folder works, with ids from the file. */
    write_temp_file(dir, "tokenizer_config.json", "{}");
    tok = load_dir_or_fail(dir, NULL);
    const int32_t hello[] = {2, 5, 1, 3};
    assert_ids(encode(tok, "Hello world"), hello, 4);
    assert_int_equal(tokenizer_pad_id(tok), 0);
    tokenizer_free(tok);
    test_rmtree(dir);
    free(dir);
}

static int setup_bert(void **state)
{
    bert_tokenizer = load_json_or_fail(test_shared_path(BERT_JSON));
    return 0;
}

static int teardown_bert(void **state)
{
    tokenizer_free(bert_tokenizer);
    return 0;
}

int main(void)
{
    int rc = test_require_shared("test_tokenizer");
    if (rc)
        return rc;
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_wordpiece_reference_tokenizer_json),
        cmocka_unit_test(test_wordpiece_reference_vocab_txt),
        cmocka_unit_test(test_fixture_models_truncated_to_128),
        cmocka_unit_test(test_st_config_folders),
        cmocka_unit_test(test_mpnet_vocab_txt),
        cmocka_unit_test(test_load_dir_vocab_txt),
        cmocka_unit_test(test_accents_stripped),
        cmocka_unit_test(test_uppercase_dotted_i_without_stripping),
        cmocka_unit_test(test_cjk_characters_split),
        cmocka_unit_test(test_control_and_whitespace),
        cmocka_unit_test(test_punctuation_isolated),
        cmocka_unit_test(test_long_word_is_unknown),
        cmocka_unit_test(test_truncation),
        cmocka_unit_test(test_empty_text),
        cmocka_unit_test(test_special_tokens_in_text),
        cmocka_unit_test(test_normalized_added_token),
        cmocka_unit_test(test_single_word_added_token),
        cmocka_unit_test(test_concurrent_encoding),
        cmocka_unit_test(test_buffers_reused),
        cmocka_unit_test(test_random_text),
        cmocka_unit_test(test_invalid_utf8),
        cmocka_unit_test(test_bad_tokenizer_json),
        cmocka_unit_test(test_missing_files),
    };
    return cmocka_run_group_tests(tests, setup_bert, teardown_bert);
}
