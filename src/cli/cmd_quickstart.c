/* semb quickstart: the main job. From nothing but Debian's own text packages to a trained
 * sentence-embedding model, in five steps, each a library call:
 *   1. pair datasets from WordNet, the GCIDE/FOLDOC/Jargon dictionaries and package
 *      descriptions, each with a held-out split (corpus/corpus.h);
 *   2. a WordPiece vocabulary learned on the training texts (text/wordpiece_trainer.h) and a
 *      small BERT initialised over it (semb_model_init);
 *   3. training with the recipe: MNRL, symmetric, two datasets per batch, GradCache, for a
 *      time budget (semb_train_run; a few timed steps first size the schedule to the budget);
 *   4. retrieval on every held-out split (MRR@10, Recall@1/10), beside a TF-IDF baseline,
 *      and STS when given a file;
 *   5. the model with its card, and a few example matches. */
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli.h"
#include "core/timer.h"
#include "corpus/corpus.h"
#include "eval/retrieval_eval.h"
#include "eval/sts_eval.h"
#include "eval/tfidf_baseline.h"
#include "io/files.h"
#include "model/sentence_model.h"
#include "text/tokenizer_write.h"
#include "text/wordpiece_trainer.h"
#include "train/data_reader.h"

#define QUICKSTART_MAX_DATASETS CORPUS_MAX_DATASETS

typedef struct quickstart {
    const char *output, *work;
    double minutes;
    int vocab_size, hidden, layers, batch_size, mini_batch_size, threads, seed;
    const char *eval_sts;
    corpus_report corpus;
    char *corpus_dir, *vocab_dir, *init_dir, *data_config;
} quickstart;

static char *join(const char *a, const char *b)
{
    char *p = path_join(a, b);
    if (!p) {
        fprintf(stderr, "semb quickstart: out of memory\n");
        exit(1);
    }
    return p;
}

/* Step 1. */
static int build_corpus(quickstart *q)
{
    corpus_options co = {.output_dir = q->corpus_dir, .held_out = 0.02, .seed = (uint64_t)q->seed};
    semb_error err = {0};
    printf("[1/5] building pair datasets from Debian's text packages into %s\n", q->corpus_dir);
    fflush(stdout);
    if (corpus_build(&co, &q->corpus, &err)) {
        cli_print_missing_sources("quickstart", q->corpus.missing);
        return cli_fail("quickstart", &err);
    }
    cli_print_missing_sources("quickstart", q->corpus.missing);
    size_t train = 0, held = 0;
    for (size_t i = 0; i < q->corpus.dataset_count; i++) {
        const corpus_dataset_report *d = &q->corpus.datasets[i];
        printf("      %-22s %8zu train pairs %6zu held out  (weight %g)\n", d->name,
               d->train_pairs, d->heldout_pairs, d->weight);
        train += d->train_pairs;
        held += d->heldout_pairs;
    }
    printf("      %zu datasets, %zu train pairs, %zu held out, in %.1f s\n",
           q->corpus.dataset_count, train, held, q->corpus.seconds);
    return 0;
}

static void ignore_warning(void *user, const char *message)
{
    (void)user, (void)message;
}

/* Feeds every text of a pairs file to the vocabulary trainer. */
static semb_status feed_pairs(wordpiece_trainer *t, const char *path, semb_error *err)
{
    data_reader *r = NULL;
    data_reader_options ro = {.max_line_bytes = 1 << 20, .warn = ignore_warning};
    semb_status st = data_reader_open(path, &ro, 1, &r, err);
    for (bool end = false; !st && !end;) {
        example_view ex;
        uint64_t offset, line;
        st = data_reader_next(r, &ex, &offset, &line, &end, err);
        for (int k = 0; !st && !end && k < ex.n_texts; k++)
            st = wordpiece_trainer_feed(t, ex.texts[k], ex.lengths[k], err);
    }
    if (r)
        data_reader_close(r);
    return st;
}

/* Step 2: vocabulary, then the model's shape over it. */
static int build_model(quickstart *q)
{
    printf("[2/5] learning a %d-token WordPiece vocabulary and initialising the model\n",
           q->vocab_size);
    fflush(stdout);
    static const char *const specials[] = {"[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"};
    wordpiece_trainer_options wo = {.vocab_size = (size_t)q->vocab_size, .min_frequency = 2,
                                    .limit_alphabet = 1000, .lowercase = true,
                                    .special_tokens = specials, .special_count = 5};
    wordpiece_trainer *t = NULL;
    wordpiece_vocab vocab = {0};
    semb_error err = {0};
    double start = timer_seconds();
    semb_status st = wordpiece_trainer_create(&wo, &t, &err);
    for (size_t i = 0; !st && i < q->corpus.dataset_count; i++) {
        char name[64];
        snprintf(name, sizeof name, "%s.train.jsonl", q->corpus.datasets[i].name);
        char *path = join(q->corpus_dir, name);
        st = feed_pairs(t, path, &err);
        free(path);
    }
    if (!st)
        st = wordpiece_trainer_train(t, &vocab, &err);
    if (!st)
        st = tokenizer_write_wordpiece_folder(q->vocab_dir, (const char *const *)vocab.tokens,
                                              vocab.count, true, 512, &tokenizer_bert_specials,
                                              &err);
    if (!st)
        printf("      %zu tokens from %llu words (%llu distinct) in %.1f s\n", vocab.count,
               (unsigned long long)wordpiece_trainer_stats(t)->words,
               (unsigned long long)wordpiece_trainer_stats(t)->unique_words,
               timer_seconds() - start);
    wordpiece_vocab_free(&vocab);
    wordpiece_trainer_free(t);
    if (st)
        return cli_fail("quickstart", &err);
    semb_init_options io = semb_init_options_default();
    char *vocab_file = join(q->vocab_dir, "tokenizer.json");
    io.vocab_path = vocab_file;
    io.hidden_size = q->hidden;
    io.num_layers = q->layers;
    io.num_heads = q->hidden / 64 > 0 ? q->hidden / 64 : 1;
    io.intermediate_size = 4 * q->hidden;
    io.max_seq_length = 64;
    io.seed = (uint64_t)q->seed;
    st = semb_model_init(q->init_dir, &io, &err);
    free(vocab_file);
    if (st)
        return cli_fail("quickstart", &err);
    printf("      BERT: hidden %d, %d layers, %d heads, FFN %d, max %d tokens, mean pooling, "
           "normalized\n", io.hidden_size, io.num_layers, io.num_heads, io.intermediate_size,
           io.max_seq_length);
    return 0;
}

static semb_train_options train_options(const quickstart *q)
{
    semb_train_options o = semb_train_options_default();
    o.model_dir = q->init_dir;
    o.data_config_path = q->data_config;
    o.batch_size = q->batch_size;
    o.mini_batch_size = q->mini_batch_size < q->batch_size ? q->mini_batch_size : 0;
    o.datasets_per_batch = 2;
    o.symmetric = 1;
    o.lr = 5e-4;
    o.seed = (uint64_t)q->seed;
    o.max_seq_length = 64;
    return o;
}

/* Step 3: a few timed steps size the schedule to the budget, then the real run (with the
 * budget as a hard stop as well). */
static int train(quickstart *q, semb_train_result *result)
{
    semb_train_options o = train_options(q);
    semb_error err = {0};
    char *probe_dir = join(q->work, "probe");
    path_remove_tree(probe_dir);
    o.output_dir = probe_dir;
    o.steps = 9; /* the first few are slower (memory first touched): their median is not */
    o.warmup_steps = 0;
    semb_train_result probe;
    printf("[3/5] training for %g minutes: MNRL (symmetric, scale 20), batch %d%s, 2 datasets "
           "per batch, lr %g\n", q->minutes, q->batch_size,
           o.mini_batch_size ? " with GradCache" : "", o.lr);
    fflush(stdout);
    semb_status st = semb_train_run(&o, &probe, &err);
    path_remove_tree(probe_dir);
    free(probe_dir);
    if (st)
        return cli_fail("quickstart", &err);
    double per_step = probe.step_seconds;
    int steps = (int)(q->minutes * 60 / per_step);
    if (steps < 10)
        steps = 10;
    printf("      %.2f s per step here: %d steps\n", per_step, steps);
    fflush(stdout);
    o = train_options(q);
    o.output_dir = q->output;
    o.steps = steps;
    o.warmup_steps = steps / 10;
    o.max_minutes = q->minutes * 1.15;
    o.save_every = steps / 4 > 0 ? steps / 4 : 1;
    o.keep_checkpoints = 1;
    o.eval_sts_path = q->eval_sts;
    o.progress = 1;
    o.model_name = "semb-quickstart";
    char *log = join(q->work, "train_log.jsonl");
    o.log_path = log;
    o.log_every = 10;
    st = semb_train_run(&o, result, &err);
    free(log);
    if (st)
        return cli_fail("quickstart", &err);
    printf("      %d steps in %.0f s, final loss %.4f%s\n", result->steps_done, result->seconds,
           result->final_loss, result->stopped_early ? " (time budget reached first)" : "");
    return 0;
}

/* Reads a held-out pairs file into a retrieval dataset. */
static semb_status heldout(const quickstart *q, const char *name, retrieval_dataset *ds,
                           semb_error *err)
{
    char file[64];
    snprintf(file, sizeof file, "%s.heldout.jsonl", name);
    char *path = join(q->corpus_dir, file);
    semb_status st = retrieval_dataset_read_pairs(path, ds, err);
    free(path);
    return st;
}

/* Step 4. */
static int evaluate(const quickstart *q, semb_model *model)
{
    printf("[4/5] retrieval on the held-out pairs (query: anchor, corpus: all positives of the "
           "split)\n");
    printf("      %-22s %7s  %-22s  %-22s\n", "", "queries", "semb  MRR@10 R@1  R@10",
           "TF-IDF MRR@10 R@1  R@10");
    semb_error err = {0};
    double sum_model = 0, sum_tfidf = 0;
    size_t n = 0;
    for (size_t i = 0; i < q->corpus.dataset_count; i++) {
        retrieval_dataset ds;
        retrieval_result m, b;
        if (heldout(q, q->corpus.datasets[i].name, &ds, &err) ||
            retrieval_evaluate(model, &ds, NULL, &m, &err) ||
            tfidf_retrieval_evaluate(&ds, &b, &err))
            return cli_fail("quickstart", &err);
        printf("      %-22s %7zu  %6.3f %5.3f %5.3f    %6.3f %5.3f %5.3f\n",
               q->corpus.datasets[i].name, m.queries, m.mrr_at_10, m.recall_at[0], m.recall_at[3],
               b.mrr_at_10, b.recall_at[0], b.recall_at[3]);
        sum_model += m.mrr_at_10;
        sum_tfidf += b.mrr_at_10;
        n++;
        retrieval_dataset_free(&ds);
    }
    if (n)
        printf("      mean MRR@10: semb %.3f, TF-IDF %.3f\n", sum_model / n, sum_tfidf / n);
    if (q->eval_sts) {
        sts_dataset sts;
        sts_result r, b;
        if (sts_dataset_read(q->eval_sts, &sts, &err) || sts_evaluate(model, &sts, NULL, &r, &err) ||
            tfidf_sts_evaluate(&sts, &b, &err))
            return cli_fail("quickstart", &err);
        printf("      STS %s: Spearman semb %.2f, TF-IDF %.2f (%zu pairs)\n", q->eval_sts,
               r.spearman, b.spearman, r.n);
        sts_dataset_free(&sts);
    }
    return 0;
}

/* Step 5: the first held-out pair of every dataset; each query's best match among all their
 * positives (texts from different sources, so a match has to find the right topic). */
static int examples(const quickstart *q, semb_model *model)
{
    printf("[5/5] model saved to %s (with README.md model card and training_loss.svg)\n",
           q->output);
    size_t n = 0, dim = (size_t)semb_model_dimension(model);
    char *queries[QUICKSTART_MAX_DATASETS], *docs[QUICKSTART_MAX_DATASETS];
    semb_error err = {0};
    for (size_t i = 0; i < q->corpus.dataset_count; i++) {
        retrieval_dataset ds;
        if (heldout(q, q->corpus.datasets[i].name, &ds, &err)) {
            for (size_t k = 0; k < n; k++)
                free(queries[k]), free(docs[k]);
            return cli_fail("quickstart", &err);
        }
        queries[n] = strdup(ds.queries[0]);
        docs[n] = strdup(ds.documents[ds.relevant[ds.relevant_offsets[0]]]);
        n += queries[n] && docs[n];
        retrieval_dataset_free(&ds);
    }
    float *qe = malloc((n ? n : 1) * dim * sizeof *qe), *de = malloc((n ? n : 1) * dim * sizeof *de);
    semb_encode_options eo = semb_encode_options_default();
    eo.normalize = 1;
    int rc = 0;
    if (!qe || !de || semb_encode(model, (const char *const *)queries, NULL, n, qe, &eo, &err) ||
        semb_encode(model, (const char *const *)docs, NULL, n, de, &eo, &err)) {
        rc = qe && de ? cli_fail("quickstart", &err) : cli_failf("quickstart", "out of memory");
    } else {
        size_t right = 0;
        printf("      the first held-out pair of each dataset: every query's best match among "
               "the %zu positives\n", n);
        for (size_t i = 0; i < n; i++) {
            size_t best = 0;
            double best_score = -2;
            for (size_t j = 0; j < n; j++) {
                double s = 0;
                for (size_t k = 0; k < dim; k++)
                    s += (double)qe[i * dim + k] * de[j * dim + k];
                if (s > best_score) {
                    best_score = s;
                    best = j;
                }
            }
            right += best == i;
            printf("      %s \"%.60s\"\n        -> %.3f \"%.70s\"\n", best == i ? "ok  " : "miss",
                   queries[i], best_score, docs[best]);
        }
        printf("      %zu of %zu matched\n", right, n);
    }
    for (size_t k = 0; k < n; k++)
        free(queries[k]), free(docs[k]);
    free(qe);
    free(de);
    return rc;
}

int cmd_quickstart(int argc, char **argv)
{
    quickstart q = {.output = "semb-quickstart-model", .minutes = 10, .vocab_size = 12000,
                    .hidden = 256, .layers = 4, .batch_size = 128, .mini_batch_size = 64,
                    .seed = 42};
    const cli_option options[] = {
        {"--minutes", CLI_FLOAT, &q.minutes, "training time budget (default 10)"},
        {"--output", CLI_STRING, &q.output,
         "folder for the trained model (default semb-quickstart-model; must not exist)"},
        {"--work", CLI_STRING, &q.work,
         "folder for the corpus, vocabulary and logs (default: OUTPUT-work)"},
        {"--eval-sts", CLI_STRING, &q.eval_sts,
         "also report STS Spearman on this TSV (score, sentence1, sentence2)"},
        {"--vocab-size", CLI_INT, &q.vocab_size, "WordPiece vocabulary size (default 12000)"},
        {"--hidden", CLI_INT, &q.hidden, "hidden size, a multiple of 64 (default 256)"},
        {"--layers", CLI_INT, &q.layers, "transformer layers (default 4)"},
        {"--batch-size", CLI_INT, &q.batch_size, "pairs per step (default 128)"},
        {"--mini-batch-size", CLI_INT, &q.mini_batch_size,
         "GradCache chunk in texts when the batch holds more (default 64)"},
        {"--threads", CLI_INT, &q.threads, "threads (default: all cores)"},
        {"--seed", CLI_INT, &q.seed, "seed of every random choice (default 42)"},
    };
    int rc = cli_parse(argc, argv, "quickstart", "[--minutes N] [--output DIR] [options]",
                       options, sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!(q.minutes > 0) || q.vocab_size < 1000 || q.hidden < 64 || q.hidden % 64 ||
        q.layers < 1 || q.batch_size < 2 || q.mini_batch_size < 1)
        return cli_failf("quickstart", "--minutes > 0, --vocab-size >= 1000, --hidden a multiple "
                         "of 64, --layers >= 1, --batch-size >= 2, --mini-batch-size >= 1"), 2;
    if (path_exists(q.output))
        return cli_failf("quickstart", "%s already exists; remove it or give --output", q.output);
    char *work = NULL;
    if (!q.work) {
        size_t len = strlen(q.output) + sizeof "-work";
        work = malloc(len);
        if (!work)
            return cli_failf("quickstart", "out of memory");
        snprintf(work, len, "%s-work", q.output);
        q.work = work;
    }
    if (mkdir(q.work, 0755) != 0 && !path_is_dir(q.work))
        return free(work), cli_failf("quickstart", "%s: cannot create the folder", q.work);
    q.corpus_dir = join(q.work, "corpus");
    q.vocab_dir = join(q.work, "vocab");
    q.init_dir = join(q.work, "init");
    q.data_config = join(q.corpus_dir, "data_config.json");
    path_remove_tree(q.vocab_dir); /* a previous quickstart's; rebuilt from this corpus */
    path_remove_tree(q.init_dir);
    cli_set_threads(q.threads);
    double start = timer_seconds();
    semb_train_result result;
    semb_model *model = NULL;
    semb_error err = {0};
    rc = build_corpus(&q);
    if (!rc)
        rc = build_model(&q);
    if (!rc)
        rc = train(&q, &result);
    if (!rc && semb_model_load(q.output, &model, &err))
        rc = cli_fail("quickstart", &err);
    if (!rc)
        rc = evaluate(&q, model);
    if (!rc)
        rc = examples(&q, model);
    if (!rc)
        printf("done in %.1f minutes. Try: semb similarity --model %s \"a small dog\" \"a puppy\" "
               "\"a tax form\"\n", (timer_seconds() - start) / 60, q.output);
    semb_model_free(model);
    free(q.corpus_dir);
    free(q.vocab_dir);
    free(q.init_dir);
    free(q.data_config);
    free(work);
    return rc;
}
