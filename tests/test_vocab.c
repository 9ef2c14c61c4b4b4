/* WordPiece vocabulary training (text/wordpiece_trainer.h) and the tokenizer files written
 * for it (text/tokenizer_write.h): merges checked by hand, the reference trainer's rules
 * (tie-breaking, left-to-right merging, min_frequency, limit_alphabet), determinism,
 * round trips through semb's tokenizer, and bad input. */
#include "support.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "text/tokenizer.h"
#include "text/tokenizer_write.h"
#include "text/wordpiece_trainer.h"

static const char *const bert_specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};

static wordpiece_trainer_options options(size_t size, uint64_t min_frequency)
{
    return (wordpiece_trainer_options){.vocab_size = size, .min_frequency = min_frequency,
                                       .lowercase = true, .special_tokens = bert_specials,
                                       .special_count = 5};
}

static wordpiece_trainer *trainer_with(const wordpiece_trainer_options *o, const char *text)
{
    wordpiece_trainer *t = NULL;
    semb_error err = {0};
    if (wordpiece_trainer_create(o, &t, &err))
        fail_msg("create: %s", err.message);
    if (text && wordpiece_trainer_feed(t, text, strlen(text), &err))
        fail_msg("feed: %s", err.message);
    return t;
}

static wordpiece_vocab train_text(const wordpiece_trainer_options *o, const char *text)
{
    wordpiece_trainer *t = trainer_with(o, text);
    wordpiece_vocab v;
    semb_error err = {0};
    if (wordpiece_trainer_train(t, &v, &err))
        fail_msg("train: %s", err.message);
    wordpiece_trainer_free(t);
    return v;
}

/* The tokens from id `first` on, joined by spaces, into a static buffer. */
static const char *joined(const wordpiece_vocab *v, size_t first)
{
    static char buf[8192];
    buf[0] = '\0';
    for (size_t i = first; i < v->count; i++) {
        if (i > first)
            strcat(buf, " ");
        strcat(buf, v->tokens[i]);
    }
    return buf;
}

static const char *const low_corpus =
    "low low low low low\nlower lower\nnewest newest newest newest newest newest\n"
    "widest widest widest\n";

/* Worked by hand (and identical to what tokenizers' WordPieceTrainer learns):
 * alphabet d e i l n o r s t w, then ##d ##e ##i ##o ##r ##s ##t ##w (ids 15..22).
 * Pair counts: (##e,##s) 9 and (##s,##t) 9 tie -> the smaller ids (16,20) win: ##es; then
 * (##es,##t) 9: ##est; (l,##o) 7 and (##o,##w) 7 -> lo; (lo,##w) 7: low; then three pairs
 * at 6: (n,##e) (9,16) < (##e,##w) (16,22) < (##w,##est) (22,24): ne; then (##w,##est)
 * (22,24) < (ne,##w) (27,22): ##west; then newest. */
static void test_hand_computed_merges(void **state)
{
    (void)state;
    wordpiece_trainer_options o = options(30, 0);
    wordpiece_vocab v = train_text(&o, low_corpus);
    assert_int_equal(v.count, 30);
    assert_string_equal(joined(&v, 0),
                        "[PAD] [UNK] [CLS] [SEP] [MASK] d e i l n o r s t w ##d ##e ##i ##o ##r "
                        "##s ##t ##w ##es ##est lo low ne ##west newest");
    assert_int_equal(v.special_count, 5);
    assert_int_equal(v.alphabet_size, 10);
    assert_int_equal(v.continuation_count, 8);
    assert_int_equal(v.merge_count, 7);
    assert_int_equal(v.stop, WORDPIECE_STOP_SIZE);
    wordpiece_vocab_free(&v);

    /* A smaller size stops after the first merges, in the same order. */
    o.vocab_size = 25;
    v = train_text(&o, low_corpus);
    assert_string_equal(joined(&v, 23), "##es ##est");
    wordpiece_vocab_free(&v);

    /* A larger one runs until every word is one piece. */
    o.vocab_size = 1000;
    v = train_text(&o, low_corpus);
    assert_int_equal(v.stop, WORDPIECE_STOP_NO_PAIRS);
    assert_int_equal(v.count, 35);
    assert_string_equal(joined(&v, 30), "wi ##dest widest ##er lower");
    wordpiece_vocab_free(&v);
}

/* "aaaa": (##a,##a) 2 is merged left to right, giving a ##aa ##a (not a ##a ##aa); then the
 * tie (a,##aa) (5,7) beats (##aa,##a) (7,6), so "aaa", then "aaaa". */
static void test_overlapping_pairs_merge_left_to_right(void **state)
{
    (void)state;
    wordpiece_trainer_options o = options(100, 0);
    wordpiece_vocab v = train_text(&o, "aaaa");
    assert_string_equal(joined(&v, 5), "a ##a ##aa aaa aaaa");
    assert_int_equal(v.stop, WORDPIECE_STOP_NO_PAIRS);
    wordpiece_vocab_free(&v);
}

/* (a,##b) 8 first; then (##b,##c) (9,10) and (x,##b) (8,9) tie at 4: x's pair goes first,
 * which leaves no (##b,##c) behind. Characters are in the alphabet wherever they occur. */
static void test_ties_go_to_smaller_ids(void **state)
{
    (void)state;
    wordpiece_trainer_options o = options(100, 0);
    wordpiece_vocab v = train_text(&o, "abc abc abc xbc xbc xbc xbc ab ab ab ab ab");
    assert_string_equal(joined(&v, 5), "a b c x ##b ##c ab xb xbc abc");
    assert_int_equal(v.stop, WORDPIECE_STOP_NO_PAIRS);
    wordpiece_vocab_free(&v);
}

static void test_min_frequency(void **state)
{
    (void)state;
    /* (t,##h) 3, (##h,##e) 3, then (th,##e) 3; (c,##a) ... only once. */
    const char *text = "the the the cat";
    wordpiece_trainer_options o = options(1000, 3);
    wordpiece_vocab v = train_text(&o, text);
    assert_int_equal(v.stop, WORDPIECE_STOP_MIN_FREQUENCY);
    assert_string_equal(joined(&v, 5 + v.alphabet_size + v.continuation_count), "th the");
    wordpiece_vocab_free(&v);
    o.min_frequency = 4;
    v = train_text(&o, text);
    assert_int_equal(v.merge_count, 0);
    assert_int_equal(v.stop, WORDPIECE_STOP_MIN_FREQUENCY);
    wordpiece_vocab_free(&v);
}

/* The specials keep ids 0..4 whatever the corpus says, and their text in the corpus is just
 * text (lowercased and split like any other). */
static void test_specials_first(void **state)
{
    (void)state;
    wordpiece_trainer_options o = options(60, 0);
    wordpiece_vocab v = train_text(&o, "[UNK] [CLS] x [SEP] [MASK] [PAD] unk unk cls");
    for (int i = 0; i < 5; i++)
        assert_string_equal(v.tokens[i], bert_specials[i]);
    for (size_t i = 5; i < v.count; i++)
        assert_null(strchr(v.tokens[i], 'C')); /* lowercased */
    wordpiece_vocab_free(&v);
}

/* A varied corpus: words of many lengths, accents, CJK, punctuation, digits. */
static char *varied_corpus(size_t lines, uint64_t seed)
{
    static const char *const pieces[] = {
        "un", "re", "in", "ing", "ed", "tion", "s", "Qu", "ick", "br", "own", "fox", "é",
        "ï", "ß", "日本", "語", "über", "Ça", "-", ",", ".", "'", "42", "7", "th", "er", "a"};
    size_t n_pieces = sizeof pieces / sizeof pieces[0];
    size_t capacity = lines * 200 + 1, length = 0;
    char *text = malloc(capacity);
    assert_non_null(text);
    for (size_t l = 0; l < lines; l++) {
        for (int w = 0; w < 12; w++) {
            int parts = 1 + (int)(seed % 4);
            for (int p = 0; p < parts; p++) {
                seed = seed * 6364136223846793005ull + 1442695040888963407ull;
                /* Skewed towards the first pieces, as word frequencies are. */
                size_t k = (size_t)((seed >> 33) % n_pieces);
                k = k * k / n_pieces;
                length += (size_t)snprintf(text + length, capacity - length, "%s", pieces[k]);
            }
            text[length++] = w == 11 ? '\n' : ' ';
        }
    }
    text[length] = '\0';
    return text;
}

static void test_deterministic_and_order_free(void **state)
{
    (void)state;
    char *text = varied_corpus(400, 1);
    wordpiece_trainer_options o = options(150, 2);
    wordpiece_vocab a = train_text(&o, text);
    wordpiece_vocab b = train_text(&o, text);
    /* The same lines fed one by one, last first, give the same vocabulary: it depends on the
     * word counts only. */
    wordpiece_trainer *t = trainer_with(&o, NULL);
    semb_error err = {0};
    for (char *end = text + strlen(text); end > text;) {
        char *start = end - 1;
        while (start > text && start[-1] != '\n')
            start--;
        assert_int_equal(wordpiece_trainer_feed(t, start, (size_t)(end - start), &err), SEMB_OK);
        end = start;
    }
    wordpiece_vocab c;
    assert_int_equal(wordpiece_trainer_train(t, &c, &err), SEMB_OK);
    assert_int_equal(a.count, 150);
    assert_int_equal(b.count, 150);
    assert_int_equal(c.count, 150);
    for (size_t i = 0; i < a.count; i++) {
        assert_string_equal(a.tokens[i], b.tokens[i]);
        assert_string_equal(a.tokens[i], c.tokens[i]);
    }
    /* Training again from the same trainer gives the same result too. */
    wordpiece_vocab d;
    assert_int_equal(wordpiece_trainer_train(t, &d, &err), SEMB_OK);
    for (size_t i = 0; i < a.count; i++)
        assert_string_equal(a.tokens[i], d.tokens[i]);
    wordpiece_vocab_free(&a);
    wordpiece_vocab_free(&b);
    wordpiece_vocab_free(&c);
    wordpiece_vocab_free(&d);
    wordpiece_trainer_free(t);
    free(text);
}

static semb_tokenizer *load_dir(const char *dir)
{
    semb_tokenizer *tok = NULL;
    semb_error err = {0};
    if (tokenizer_load_dir(dir, "bert", &tok, &err))
        fail_msg("load %s: %s", dir, err.message);
    return tok;
}

static semb_tokenizer *load_vocab_txt(const char *dir)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/vocab.txt", dir);
    tokenizer_vocab_options o = {.lowercase = 1, .strip_accents = -1, .tokenize_chinese_chars = 1};
    semb_tokenizer *tok = NULL;
    semb_error err = {0};
    if (tokenizer_load_vocab(path, &o, &tok, &err))
        fail_msg("load %s: %s", path, err.message);
    return tok;
}

/* Every line of the corpus encodes without [UNK] through both files, to the same ids; at
 * the exhausted size every word is a single piece. */
static void check_round_trip(const char *text, size_t size, bool whole_words)
{
    wordpiece_trainer_options o = options(size, 0);
    wordpiece_vocab v = train_text(&o, text);
    char *tmp = test_make_temp_dir();
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/vocab", tmp);
    semb_error err = {0};
    if (tokenizer_write_wordpiece_folder(dir, (const char *const *)v.tokens, v.count, true, 512,
                                         &tokenizer_bert_specials, &err))
        fail_msg("write: %s", err.message);
    semb_tokenizer *from_json = load_dir(dir), *from_txt = load_vocab_txt(dir);
    assert_int_equal(tokenizer_vocab_size(from_json), v.count);
    assert_int_equal(tokenizer_token_to_id(from_json, "[UNK]"), 1);
    token_buffer a = {0}, b = {0};
    size_t lines = 0;
    for (const char *line = text; *line;) {
        const char *end = strchr(line, '\n');
        size_t length = end ? (size_t)(end - line) : strlen(line);
        assert_int_equal(tokenizer_encode(from_json, line, length, 0, &a, &err), SEMB_OK);
        assert_int_equal(tokenizer_encode(from_txt, line, length, 0, &b, &err), SEMB_OK);
        assert_int_equal(a.count, b.count);
        assert_memory_equal(a.ids, b.ids, a.count * sizeof *a.ids);
        assert_int_equal(a.ids[0], 2);
        assert_int_equal(a.ids[a.count - 1], 3);
        for (size_t k = 0; k < a.count; k++) {
            assert_int_not_equal(a.ids[k], 1);
            if (whole_words && k > 0 && k + 1 < a.count)
                assert_true(strncmp(v.tokens[a.ids[k]], "##", 2) != 0);
        }
        lines++;
        line = end ? end + 1 : line + length;
    }
    assert_true(lines > 0);
    token_buffer_free(&a);
    token_buffer_free(&b);
    tokenizer_free(from_json);
    tokenizer_free(from_txt);
    wordpiece_vocab_free(&v);
    test_rmtree(tmp);
    free(tmp);
}

static void test_round_trip_without_unk(void **state)
{
    (void)state;
    char *text = varied_corpus(300, 7);
    check_round_trip(text, 200, false);
    check_round_trip(text, 100000, true);
    free(text);
}

/* Only the most frequent characters are kept; a word is split at a dropped one, so no
 * piece spans it ("xqy" gives x and ##y, never "xy"). */
static void test_limit_alphabet(void **state)
{
    (void)state;
    wordpiece_trainer_options o = options(100, 0);
    o.limit_alphabet = 2;
    wordpiece_vocab v = train_text(&o, "xqy xqy xy xy xy xy yy yy z");
    /* x 6, y 10, q 2, z 1: q and z go. */
    assert_int_equal(v.dropped_chars, 2);
    assert_int_equal(v.alphabet_size, 2);
    for (size_t i = 5; i < v.count; i++) {
        assert_null(strchr(v.tokens[i], 'q'));
        assert_null(strchr(v.tokens[i], 'z'));
    }
    /* xy is learnt from the four "xy" alone: count 4, and (y,##y) 2 comes after. */
    assert_string_equal(joined(&v, 5), "x y ##y xy yy");
    wordpiece_vocab_free(&v);
}

static void test_cased(void **state)
{
    (void)state;
    wordpiece_trainer_options o = options(100, 0);
    o.lowercase = false;
    wordpiece_vocab v = train_text(&o, "Héllo Héllo");
    assert_string_equal(joined(&v, 5), "H l o é ##l ##o ##é Hé ##ll Héll Héllo");
    wordpiece_vocab_free(&v);
    o.lowercase = true;
    v = train_text(&o, "Héllo Héllo");
    assert_string_equal(joined(&v, 5), "e h l o ##e ##l ##o he ##ll hell hello");
    wordpiece_vocab_free(&v);
}

static void test_size_too_small(void **state)
{
    (void)state;
    wordpiece_trainer_options o = options(20, 0);
    wordpiece_trainer *t = trainer_with(&o, low_corpus);
    wordpiece_vocab v;
    semb_error err = {0};
    assert_int_equal(wordpiece_trainer_train(t, &v, &err), SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "too small"));
    assert_non_null(strstr(err.message, "23 entries"));
    assert_null(v.tokens);
    wordpiece_trainer_free(t);
    /* Exactly the initial entries is fine: no merge. */
    o.vocab_size = 23;
    v = train_text(&o, low_corpus);
    assert_int_equal(v.count, 23);
    assert_int_equal(v.merge_count, 0);
    wordpiece_vocab_free(&v);
}

static void test_bad_options_and_input(void **state)
{
    (void)state;
    wordpiece_trainer *t = NULL;
    semb_error err = {0};
    wordpiece_trainer_options o = options(0, 0);
    assert_int_equal(wordpiece_trainer_create(&o, &t, &err), SEMB_ERR_INVALID_ARG);
    assert_null(t);
    const char *repeated[] = {"[PAD]", "[PAD]"};
    o = options(10, 0);
    o.special_tokens = repeated;
    o.special_count = 2;
    assert_int_equal(wordpiece_trainer_create(&o, &t, &err), SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "repeated"));

    o = options(100, 0);
    t = trainer_with(&o, " \t\n ");
    wordpiece_vocab v;
    assert_int_equal(wordpiece_trainer_train(t, &v, &err), SEMB_ERR_INPUT);
    assert_int_equal(wordpiece_trainer_feed(t, "ok \xff", 4, &err), SEMB_ERR_INPUT);
    assert_non_null(strstr(err.message, "byte offset 3"));
    assert_int_equal(wordpiece_trainer_stats(t)->words, 0);
    /* A word over 100 characters is not counted. */
    char long_word[150];
    memset(long_word, 'k', 101);
    strcpy(long_word + 101, " short");
    assert_int_equal(wordpiece_trainer_feed(t, long_word, strlen(long_word), &err), SEMB_OK);
    assert_int_equal(wordpiece_trainer_stats(t)->words, 1);
    assert_int_equal(wordpiece_trainer_stats(t)->long_words, 1);
    wordpiece_trainer_free(t);
}

static void write_file(const char *path, const char *data, size_t size)
{
    FILE *fp = fopen(path, "wb");
    assert_non_null(fp);
    assert_int_equal(fwrite(data, 1, size, fp), size);
    fclose(fp);
}

static void test_feed_files(void **state)
{
    (void)state;
    char *tmp = test_make_temp_dir();
    char a[4200], b[4200], missing[4200];
    snprintf(a, sizeof a, "%s/a.txt", tmp);
    snprintf(b, sizeof b, "%s/b.txt", tmp);
    snprintf(missing, sizeof missing, "%s/missing.txt", tmp);
    write_file(a, "low low\r\nlower\n", 15);
    static const char bad[] = "newest\nbad \xc3\x28 line\nwidest"; /* no final newline */
    write_file(b, bad, sizeof bad - 1);
    wordpiece_trainer_options o = options(100, 0);
    wordpiece_trainer *t = trainer_with(&o, NULL);
    semb_error err = {0};

    const char *with_missing[] = {a, missing};
    assert_int_equal(wordpiece_trainer_feed_files(t, with_missing, 2, &err), SEMB_ERR_IO);
    assert_non_null(strstr(err.message, "missing.txt"));
    assert_int_equal(wordpiece_trainer_stats(t)->lines, 0); /* nothing read from a.txt */

    const char *both[] = {a, b};
    assert_int_equal(wordpiece_trainer_feed_files(t, both, 2, &err), SEMB_OK);
    const wordpiece_corpus_stats *s = wordpiece_trainer_stats(t);
    assert_int_equal(s->lines, 5);
    assert_int_equal(s->invalid_lines, 1);
    assert_int_equal(s->words, 5);
    assert_int_equal(s->unique_words, 4);
    assert_int_equal(s->bytes, 15 + sizeof bad - 1);
    assert_non_null(strstr(s->first_invalid, "b.txt:2 (byte offset 4)"));
    wordpiece_vocab v;
    assert_int_equal(wordpiece_trainer_train(t, &v, &err), SEMB_OK);
    wordpiece_vocab_free(&v);
    wordpiece_trainer_free(t);
    test_rmtree(tmp);
    free(tmp);
}

static json_t *load_json(const char *dir, const char *name)
{
    char path[4200];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    json_error_t jerr;
    json_t *root = json_load_file(path, 0, &jerr);
    if (!root)
        fail_msg("%s: %s", path, jerr.text);
    return root;
}

/* tokenizer.json has tokenizers' schema: the sections of bert-base-uncased's, key for key,
 * with this vocabulary's ids. */
static void test_tokenizer_json_schema(void **state)
{
    (void)state;
    wordpiece_trainer_options o = options(40, 0);
    wordpiece_vocab v = train_text(&o, low_corpus);
    char *tmp = test_make_temp_dir();
    char dir[4200];
    snprintf(dir, sizeof dir, "%s/out", tmp);
    semb_error err = {0};
    assert_int_equal(tokenizer_write_wordpiece_folder(dir, (const char *const *)v.tokens,
                                                      v.count, true, 512,
                                                      &tokenizer_bert_specials, &err),
                     SEMB_OK);
    json_t *root = load_json(dir, "tokenizer.json");
    const char *keys[] = {"version",      "truncation",     "padding", "added_tokens",
                          "normalizer",   "pre_tokenizer",  "post_processor", "decoder",
                          "model"};
    const char *key;
    json_t *value;
    size_t k = 0;
    json_object_foreach (root, key, value)
        assert_string_equal(key, keys[k++]);
    assert_int_equal(k, 9);
    json_t *model = json_object_get(root, "model");
    assert_string_equal(json_string_value(json_object_get(model, "type")), "WordPiece");
    json_t *vocab = json_object_get(model, "vocab");
    assert_int_equal(json_object_size(vocab), v.count);
    k = 0;
    json_object_foreach (vocab, key, value) { /* in id order */
        assert_string_equal(key, v.tokens[k]);
        assert_int_equal(json_integer_value(value), k++);
    }
    json_t *added = json_object_get(root, "added_tokens");
    assert_int_equal(json_array_size(added), 5);
    for (size_t i = 0; i < 5; i++) {
        assert_int_equal(json_integer_value(json_object_get(json_array_get(added, i), "id")), i);
        assert_string_equal(
            json_string_value(json_object_get(json_array_get(added, i), "content")),
            bert_specials[i]);
    }
    json_t *cls_ids = json_object_get(
        json_object_get(json_object_get(json_object_get(root, "post_processor"),
                                        "special_tokens"), "[CLS]"), "ids");
    assert_int_equal(json_integer_value(json_array_get(cls_ids, 0)), 2);

    /* Against the reference file, where there is one: every section but the ids equal. */
    const char *shared = test_shared_dir();
    if (shared) {
        json_t *ref = load_json(test_shared_path("data/vocab"), "bert-base-uncased-tokenizer.json");
        const char *same[] = {"version", "truncation", "padding", "normalizer", "pre_tokenizer",
                              "decoder"};
        for (size_t i = 0; i < 6; i++)
            assert_true(json_equal(json_object_get(root, same[i]), json_object_get(ref, same[i])));
        json_t *ref_model = json_object_get(ref, "model");
        const char *model_keys[] = {"unk_token", "continuing_subword_prefix",
                                    "max_input_chars_per_word"};
        for (size_t i = 0; i < 3; i++)
            assert_true(json_equal(json_object_get(model, model_keys[i]),
                                   json_object_get(ref_model, model_keys[i])));
        json_t *pp = json_deep_copy(json_object_get(root, "post_processor"));
        json_t *ref_pp = json_object_get(ref, "post_processor");
        json_t *sp = json_object_get(pp, "special_tokens");
        json_array_set_new(json_object_get(json_object_get(sp, "[CLS]"), "ids"), 0,
                           json_integer(101));
        json_array_set_new(json_object_get(json_object_get(sp, "[SEP]"), "ids"), 0,
                           json_integer(102));
        assert_true(json_equal(pp, ref_pp));
        json_decref(pp);
        json_decref(ref);
    }
    json_t *config = load_json(dir, "tokenizer_config.json");
    assert_string_equal(json_string_value(json_object_get(config, "tokenizer_class")),
                        "BertTokenizer");
    assert_true(json_is_true(json_object_get(config, "do_lower_case")));
    json_t *map = load_json(dir, "special_tokens_map.json");
    assert_string_equal(json_string_value(json_object_get(map, "mask_token")), "[MASK]");
    json_decref(map);
    json_decref(config);
    json_decref(root);
    wordpiece_vocab_free(&v);
    test_rmtree(tmp);
    free(tmp);
}

static size_t entries_in(const char *dir)
{
    char cmd[4300];
    snprintf(cmd, sizeof cmd, "ls -A '%s' | wc -l", dir);
    FILE *p = popen(cmd, "r");
    assert_non_null(p);
    size_t n = 0;
    assert_int_equal(fscanf(p, "%zu", &n), 1);
    pclose(p);
    return n;
}

static void test_folder_refused_or_failed_leaves_nothing(void **state)
{
    (void)state;
    wordpiece_trainer_options o = options(40, 0);
    wordpiece_vocab v = train_text(&o, low_corpus);
    const char *const *tokens = (const char *const *)v.tokens;
    char *tmp = test_make_temp_dir();
    char dir[4200];
    semb_error err = {0};
    /* An existing folder is never written into. */
    snprintf(dir, sizeof dir, "%s/existing", tmp);
    assert_int_equal(mkdir(dir, 0755), 0);
    assert_int_equal(tokenizer_write_wordpiece_folder(dir, tokens, v.count, true, 512,
                                                      &tokenizer_bert_specials, &err),
                     SEMB_ERR_IO);
    assert_non_null(strstr(err.message, "already exists"));
    assert_int_equal(entries_in(dir), 0);
    /* A missing parent. */
    snprintf(dir, sizeof dir, "%s/no/such/out", tmp);
    assert_int_equal(tokenizer_write_wordpiece_folder(dir, tokens, v.count, true, 512,
                                                      &tokenizer_bert_specials, &err),
                     SEMB_ERR_IO);
    /* A failure half way (a special token missing from the vocabulary) removes the
     * temporary folder. */
    tokenizer_special_tokens odd = tokenizer_bert_specials;
    odd.mask = "<mask>";
    snprintf(dir, sizeof dir, "%s/out", tmp);
    assert_int_equal(tokenizer_write_wordpiece_folder(dir, tokens, v.count, true, 512, &odd,
                                                      &err),
                     SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "'<mask>' is not in the vocabulary"));
    assert_int_equal(entries_in(tmp), 1); /* only "existing" */
    /* A token vocab.txt could not hold. */
    char *bad[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "a\nb"};
    assert_int_equal(tokenizer_write_wordpiece_folder(dir, (const char *const *)bad, 6, true, 512,
                                                      &tokenizer_bert_specials, &err),
                     SEMB_ERR_INVALID_ARG);
    assert_int_equal(entries_in(tmp), 1);
    wordpiece_vocab_free(&v);
    test_rmtree(tmp);
    free(tmp);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hand_computed_merges),
        cmocka_unit_test(test_overlapping_pairs_merge_left_to_right),
        cmocka_unit_test(test_ties_go_to_smaller_ids),
        cmocka_unit_test(test_min_frequency),
        cmocka_unit_test(test_specials_first),
        cmocka_unit_test(test_deterministic_and_order_free),
        cmocka_unit_test(test_round_trip_without_unk),
        cmocka_unit_test(test_limit_alphabet),
        cmocka_unit_test(test_cased),
        cmocka_unit_test(test_size_too_small),
        cmocka_unit_test(test_bad_options_and_input),
        cmocka_unit_test(test_feed_files),
        cmocka_unit_test(test_tokenizer_json_schema),
        cmocka_unit_test(test_folder_refused_or_failed_leaves_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
