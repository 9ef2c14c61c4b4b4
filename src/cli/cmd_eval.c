/* semb eval <kind>: evaluation of a model (or of the TF-IDF baseline) on a labelled file,
 * printed as one JSON object on stdout (--pretty: a table). Each kind is one entry of the
 * table at the end and one function that owns its options. */
#include <jansson.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"
#include "eval/beir_data.h"
#include "eval/duplicates_data.h"
#include "eval/example_file.h"
#include "eval/retrieval_eval.h"
#include "eval/sts_eval.h"
#include "eval/text_ids.h"
#include "eval/tfidf_baseline.h"

/* ---- options shared by the kinds ---- */

typedef struct eval_args {
    const char *model_dir, *data, *baseline, *precision;
    int batch_size, threads, chunk_size;
    bool pretty;
    semb_compute_precision compute; /* --precision, parsed by check_args */
} eval_args;

#define EVAL_MODEL_OPTIONS(a)                                                                  \
    {"--model", CLI_STRING, &(a).model_dir, "sentence-transformers model folder"},            \
    {"--batch-size", CLI_INT, &(a).batch_size, "sentences per forward pass (default 32)"},   \
    {"--threads", CLI_INT, &(a).threads, "threads (default: all cores)"},                    \
    {"--precision", CLI_STRING, &(a).precision, CLI_PRECISION_HELP},                         \
    {"--pretty", CLI_FLAG, &(a).pretty, "a human-readable table instead of JSON"}
#define EVAL_BASELINE_OPTION(a)                                                                \
    {"--baseline", CLI_STRING, &(a).baseline,                                                \
     "tfidf: evaluate bag-of-words TF-IDF cosine instead of a model"}
#define EVAL_CHUNK_OPTION(a)                                                                   \
    {"--chunk-size", CLI_INT, &(a).chunk_size,                                               \
     "texts embedded at once, which bounds memory (default 16384)"}

/* Checks what every kind needs once cli_parse has run; returns -1 to go on, else the exit
 * status. need_data: --data is required; with_baseline: the kind offers --baseline. */
static int check_args(const char *command, eval_args *a, bool need_data, bool with_baseline)
{
    if (need_data && !a->data)
        return cli_failf(command, "--data is required (see --help)"), 2;
    if (a->baseline && strcmp(a->baseline, "tfidf") != 0)
        return cli_failf(command, "--baseline: '%s' is not tfidf", a->baseline), 2;
    if (a->baseline && a->model_dir)
        return cli_failf(command, "--baseline tfidf evaluates without a model: drop --model"), 2;
    if (!a->baseline && !a->model_dir)
        return cli_failf(command, "--model%s is required (see --help)",
                         with_baseline ? " (or --baseline tfidf)" : ""), 2;
    if (a->batch_size < 0 || a->chunk_size < 0)
        return cli_failf(command, "--batch-size and --chunk-size must be positive"), 2;
    if (a->precision && a->baseline)
        return cli_failf(command, "--precision applies to a model, not to --baseline tfidf"), 2;
    if (cli_precision(command, a->precision, &a->compute))
        return 2;
    cli_set_threads(a->threads);
    return -1;
}

static int parse(int argc, char **argv, const char *command, const char *synopsis,
                 const cli_option *options, size_t n_options)
{
    int rc = cli_parse(argc, argv, command, synopsis, options, n_options, NULL, NULL);
    return rc ? (rc == 1 ? 0 : 2) : -1;
}

static semb_eval_options eval_options(const eval_args *a)
{
    semb_eval_options o = semb_eval_options_default();
    o.batch_size = a->batch_size;
    o.chunk_size = (size_t)a->chunk_size;
    o.precision = a->compute;
    return o;
}

/* ---- output: one JSON object, or a table with --pretty ---- */

typedef struct report {
    bool pretty;
    int fields;
} report;

static void report_key(report *r, const char *key)
{
    if (r->pretty)
        printf("  %-22s", key);
    else
        printf("%s\"%s\": ", r->fields ? ", " : "{", key);
    r->fields++;
}

/* A metric; NaN (undefined) prints as null. */
static void report_number(report *r, const char *key, double value)
{
    report_key(r, key);
    if (isnan(value))
        fputs("null", stdout);
    else
        printf(r->pretty ? "%.4f" : "%.6f", value);
    if (r->pretty)
        putchar('\n');
}

static void report_count(report *r, const char *key, size_t value)
{
    report_key(r, key);
    printf(r->pretty ? "%zu\n" : "%zu", value);
}

static void report_string(report *r, const char *key, const char *value)
{
    report_key(r, key);
    if (r->pretty) {
        printf("%s\n", value);
        return;
    }
    cli_print_json_string(value);
}

/* The model (or baseline) and similarity keys, then the end of the object. */
static int report_end(report *r, const char *command, const eval_args *a, const char *similarity)
{
    report_string(r, "similarity", similarity);
    report_string(r, a->baseline ? "baseline" : "model", a->baseline ? "tfidf" : a->model_dir);
    if (!r->pretty)
        fputs("}\n", stdout);
    return 0;
}

static semb_model *load_model(const char *command, const eval_args *a)
{
    semb_error err = {0};
    semb_model *model = NULL;
    if (semb_model_load(a->model_dir, &model, &err)) {
        cli_fail(command, &err);
        return NULL;
    }
    return model;
}

/* Tells on stderr how many texts (with prompt in front) the model truncates, and the first. */
static void warn_truncated(const char *command, const semb_model *model,
                           const char *const *texts, size_t n, const char *prompt,
                           const char *what)
{
    size_t limit = (size_t)semb_model_max_seq_length(model), longer = 0, first = 0;
    size_t prompt_length = prompt ? strlen(prompt) : 0, capacity = 0;
    char *joined = NULL;
    for (size_t i = 0; i < n; i++) {
        size_t length = strlen(texts[i]), count = 0;
        const char *text = texts[i];
        if (prompt_length) {
            if (prompt_length + length + 1 > capacity) {
                char *grown = realloc(joined, capacity = 2 * (prompt_length + length + 1));
                if (!grown)
                    break;
                joined = grown;
            }
            memcpy(joined, prompt, prompt_length);
            memcpy(joined + prompt_length, text, length + 1);
            text = joined;
            length += prompt_length;
        }
        if (semb_count_tokens(model, text, length, &count, NULL) == SEMB_OK && count > limit &&
            longer++ == 0)
            first = i;
    }
    free(joined);
    if (longer)
        fprintf(stderr, "semb %s: warning: %zu of %zu %s are longer than %zu tokens and were "
                        "truncated to %zu tokens (the first: #%zu)\n",
                command, longer, n, what, limit, limit, first + 1);
}

/* ---- sts ---- */

static int eval_sts(int argc, char **argv)
{
    const char *command = "eval sts";
    eval_args a = {0};
    const cli_option options[] = {
        EVAL_MODEL_OPTIONS(a), EVAL_BASELINE_OPTION(a),
        {"--data", CLI_STRING, &a.data, "the evaluation file (required)"},
    };
    int rc = parse(argc, argv, command,
                   "(--model DIR | --baseline tfidf) --data FILE.tsv [options]\n\n"
                   "FILE.tsv has a header naming score, sentence1 and sentence2. Prints\n"
                   "{\"spearman\", \"pearson\", \"n\", ...}: the correlations (fractions, -1 to 1)\n"
                   "of each pair's similarity (the model's function; cosine for most\n"
                   "models and for the TF-IDF baseline) with its gold score.",
                   options, sizeof options / sizeof options[0]);
    if (rc >= 0 || (rc = check_args(command, &a, true, true)) >= 0)
        return rc;
    semb_error err = {0};
    sts_dataset data;
    if (sts_dataset_read(a.data, &data, &err))
        return cli_fail(command, &err);
    semb_model *model = NULL;
    sts_result result;
    semb_status st = SEMB_OK;
    semb_similarity sim = SEMB_SIMILARITY_COSINE;
    if (a.baseline) {
        st = tfidf_sts_evaluate(&data, &result, &err);
    } else if ((model = load_model(command, &a))) {
        sim = semb_model_similarity(model);
        warn_truncated(command, model, data.sentence1, data.count, NULL, "sentence1 texts");
        warn_truncated(command, model, data.sentence2, data.count, NULL, "sentence2 texts");
        semb_encode_options opts = semb_encode_options_default();
        opts.batch_size = a.batch_size;
        opts.precision = a.compute;
        st = sts_evaluate(model, &data, &opts, &result, &err);
    }
    bool loaded = a.baseline || model;
    semb_model_free(model);
    sts_dataset_free(&data);
    if (!loaded)
        return 1;
    if (st)
        return cli_fail(command, &err);
    if (isnan(result.spearman) || isnan(result.pearson))
        fprintf(stderr, "semb %s: warning: a correlation is undefined (all gold or all predicted "
                        "scores are equal); printed as null\n", command);
    report r = {.pretty = a.pretty};
    if (r.pretty)
        printf("STS %s\n", a.data);
    report_number(&r, "spearman", result.spearman / 100);
    report_number(&r, "pearson", result.pearson / 100);
    report_count(&r, "n", result.n);
    for (int f = 0; !a.baseline && f < 4; f++) { /* as EmbeddingSimilarityEvaluator's keys */
        char key[32];
        snprintf(key, sizeof key, "spearman_%s", semb_similarity_name((semb_similarity)f));
        report_number(&r, key, result.spearman_by[f] / 100);
        snprintf(key, sizeof key, "pearson_%s", semb_similarity_name((semb_similarity)f));
        report_number(&r, key, result.pearson_by[f] / 100);
    }
    return report_end(&r, command, &a, semb_similarity_name(sim));
}

/* ---- retrieval ---- */

static void print_warning(void *command, const char *message)
{
    fprintf(stderr, "semb %s: warning: %s\n", (const char *)command, message);
}

static void report_retrieval(report *r, const retrieval_result *m)
{
    report_number(r, "mrr@10", m->mrr_at_10);
    report_number(r, "ndcg@10", m->ndcg_at_10);
    report_number(r, "map@100", m->map_at_100);
    static const char *names[] = {"accuracy", "precision", "recall"};
    const double *values[] = {m->accuracy_at, m->precision_at, m->recall_at};
    for (int kind = 0; kind < 3; kind++)
        for (int c = 0; c < SEMB_RETRIEVAL_CUTOFFS; c++) {
            char key[32];
            snprintf(key, sizeof key, "%s@%d", names[kind], semb_retrieval_cutoff(c));
            report_number(r, key, values[kind][c]);
        }
    report_count(r, "queries", m->queries);
    report_count(r, "documents", m->documents);
}

/* The model's prompt called name unless the user gave one ("" turns it off). */
static const char *prompt_or_default(const char *given, const semb_model *model,
                                     const char *name)
{
    const char *p = given ? given : semb_model_prompt(model, name);
    return p && *p ? p : NULL;
}

static semb_status evaluate_retrieval_model(const char *command, const eval_args *a,
                                            const char *query_prompt,
                                            const char *document_prompt,
                                            const retrieval_dataset *ds, semb_model *model,
                                            retrieval_result *result, semb_error *err)
{
    semb_eval_options opts = eval_options(a);
    opts.query_prompt = prompt_or_default(query_prompt, model, "query");
    opts.document_prompt = prompt_or_default(document_prompt, model, "document");
    warn_truncated(command, model, (const char *const *)ds->queries, ds->n_queries,
                   opts.query_prompt, "queries");
    warn_truncated(command, model, (const char *const *)ds->documents, ds->n_documents,
                   opts.document_prompt, "documents");
    return retrieval_evaluate(model, ds, &opts, result, err);
}

static int eval_retrieval(int argc, char **argv)
{
    const char *command = "eval retrieval";
    eval_args a = {0};
    const char *queries = NULL, *corpus = NULL, *qrels = NULL, *query_prompt = NULL,
               *document_prompt = NULL;
    const cli_option options[] = {
        EVAL_MODEL_OPTIONS(a), EVAL_BASELINE_OPTION(a), EVAL_CHUNK_OPTION(a),
        {"--data", CLI_STRING, &a.data, "pairs JSONL (instead of the three BEIR files)"},
        {"--queries", CLI_STRING, &queries, "BEIR queries.jsonl ({\"_id\", \"text\"})"},
        {"--corpus", CLI_STRING, &corpus, "BEIR corpus.jsonl ({\"_id\", \"title\", \"text\"})"},
        {"--qrels", CLI_STRING, &qrels, "BEIR qrels TSV (query-id, corpus-id, score; header)"},
        {"--query-prompt", CLI_STRING, &query_prompt,
         "text put before each query (default: the model's \"query\" prompt, if any)"},
        {"--document-prompt", CLI_STRING, &document_prompt,
         "text put before each document (default: the model's \"document\" prompt)"},
    };
    int rc = parse(
        argc, argv, command,
        "(--model DIR | --baseline tfidf) (--data PAIRS.jsonl | --queries Q.jsonl --corpus\n"
        "       C.jsonl --qrels QRELS.tsv) [options]\n\n"
        "PAIRS.jsonl: {\"anchor\": ..., \"positive\": ...} or [\"anchor\", \"positive\"] per line;\n"
        "each distinct anchor is a query, the distinct positives are the corpus. The BEIR\n"
        "layout gives queries, corpus (title + \" \" + text) and relevance (score > 0).\n"
        "Prints MRR@10, NDCG@10, MAP@100 and Accuracy/Precision/Recall@{1,3,5,10} as\n"
        "sentence-transformers' InformationRetrievalEvaluator computes them (fractions).",
        options, sizeof options / sizeof options[0]);
    if (rc >= 0)
        return rc;
    bool beir = queries || corpus || qrels;
    if (beir && (!queries || !corpus || !qrels))
        return cli_failf(command, "the BEIR layout needs all of --queries, --corpus and --qrels"),
               2;
    if (beir == (a.data != NULL))
        return cli_failf(command, "give either --data or --queries/--corpus/--qrels (see --help)"),
               2;
    if ((rc = check_args(command, &a, false, true)) >= 0)
        return rc;
    semb_error err = {0};
    retrieval_dataset ds;
    if (beir ? beir_dataset_read(queries, corpus, qrels, print_warning, (void *)command, &ds, &err)
             : retrieval_dataset_read_pairs(a.data, &ds, &err))
        return cli_fail(command, &err);
    semb_model *model = NULL;
    retrieval_result result;
    semb_status st = SEMB_OK;
    if (a.baseline)
        st = tfidf_retrieval_evaluate(&ds, &result, &err);
    else if ((model = load_model(command, &a)))
        st = evaluate_retrieval_model(command, &a, query_prompt, document_prompt, &ds, model,
                                      &result, &err);
    bool loaded = a.baseline || model;
    const char *similarity = model ? semb_similarity_name(semb_model_similarity(model)) : "cosine";
    report r = {.pretty = a.pretty};
    if (loaded && !st) {
        if (r.pretty)
            printf("retrieval %s\n", beir ? corpus : a.data);
        report_retrieval(&r, &result);
        rc = report_end(&r, command, &a, similarity);
    }
    semb_model_free(model);
    retrieval_dataset_free(&ds);
    return !loaded ? 1 : st ? cli_fail(command, &err) : rc;
}

/* ---- triplet ---- */

static int eval_triplet(int argc, char **argv)
{
    const char *command = "eval triplet";
    eval_args a = {0};
    const cli_option options[] = {
        EVAL_MODEL_OPTIONS(a), EVAL_CHUNK_OPTION(a),
        {"--data", CLI_STRING, &a.data, "triplets (required)"},
    };
    int rc = parse(argc, argv, command,
                   "--model DIR --data TRIPLETS.jsonl [options]\n\n"
                   "TRIPLETS.jsonl: {\"anchor\", \"positive\", \"negative\"} or [a, p, n] per line\n"
                   "(or TSV). Prints the share of triplets with sim(a, p) > sim(a, n), strictly,\n"
                   "under the model's similarity function (\"accuracy\") and under each of the\n"
                   "four (\"accuracy_cosine\", ...), as sentence-transformers' TripletEvaluator.",
                   options, sizeof options / sizeof options[0]);
    if (rc >= 0 || (rc = check_args(command, &a, true, false)) >= 0)
        return rc;
    semb_error err = {0};
    example_file file;
    if (example_file_read(a.data, 3, &file, &err))
        return cli_fail(command, &err);
    semb_model *model = load_model(command, &a);
    semb_triplet_metrics m;
    semb_status st = SEMB_ERR_IO;
    if (model) {
        static const char *what[] = {"anchors", "positives", "negatives"};
        for (int c = 0; c < 3; c++)
            warn_truncated(command, model, (const char *const *)file.columns[c], file.count, NULL,
                           what[c]);
        semb_eval_options opts = eval_options(&a);
        st = semb_eval_triplets(model, (const char *const *)file.columns[0],
                                (const char *const *)file.columns[1],
                                (const char *const *)file.columns[2], file.count, &opts, &m, &err);
    }
    if (model && !st) {
        report r = {.pretty = a.pretty};
        if (r.pretty)
            printf("triplets %s\n", a.data);
        report_number(&r, "accuracy", m.accuracy);
        for (int s = 0; s < 4; s++) {
            char key[48];
            snprintf(key, sizeof key, "accuracy_%s", semb_similarity_name((semb_similarity)s));
            report_number(&r, key, m.accuracy_by_function[s]);
        }
        report_count(&r, "triplets", m.triplets);
        rc = report_end(&r, command, &a, semb_similarity_name(semb_model_similarity(model)));
    }
    bool loaded = model != NULL;
    semb_model_free(model);
    example_file_free(&file);
    return !loaded ? 1 : st ? cli_fail(command, &err) : rc;
}

/* ---- paraphrase mining ---- */

/* The pairs file as sentences (distinct texts, in order of first appearance) and duplicate
 * index pairs; a pair of two identical texts names one sentence and is dropped. */
typedef struct mining_data {
    char **sentences;
    size_t n_sentences, *dup_a, *dup_b, n_dup, dropped;
} mining_data;

static semb_status mining_data_read(const char *path, mining_data *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    example_file file;
    semb_status st = example_file_read(path, 2, &file, err);
    if (st)
        return st;
    size_t n = file.count;
    const char **texts = malloc(2 * n * sizeof *texts);
    size_t *ids = malloc(2 * n * sizeof *ids);
    out->dup_a = malloc(n * sizeof *out->dup_a);
    out->dup_b = malloc(n * sizeof *out->dup_b);
    if (!texts || !ids || !out->dup_a || !out->dup_b)
        st = SEMB_ERR_NOMEM;
    for (size_t i = 0; !st && i < n; i++) {
        texts[2 * i] = file.columns[0][i];
        texts[2 * i + 1] = file.columns[1][i];
    }
    if (st)
        semb_fail(err, st, "out of memory reading %zu pairs", n);
    else
        st = text_ids_number(texts, 2 * n, ids, &out->sentences, &out->n_sentences, err);
    for (size_t i = 0; !st && i < n; i++) {
        if (ids[2 * i] == ids[2 * i + 1]) {
            out->dropped++;
            continue;
        }
        out->dup_a[out->n_dup] = ids[2 * i];
        out->dup_b[out->n_dup++] = ids[2 * i + 1];
    }
    free(texts);
    free(ids);
    example_file_free(&file);
    return st;
}

static void mining_data_free(mining_data *d)
{
    text_ids_free(d->sentences, d->n_sentences);
    free(d->dup_a);
    free(d->dup_b);
}

static void report_mining(report *r, const semb_paraphrase_metrics *m)
{
    report_number(r, "average_precision", m->average_precision);
    report_number(r, "f1", m->f1);
    report_number(r, "precision", m->precision);
    report_number(r, "recall", m->recall);
    report_number(r, "threshold", m->threshold);
    report_count(r, "sentences", m->sentences);
    report_count(r, "duplicates", m->duplicates);
    report_count(r, "candidates", m->candidates);
}

static int eval_paraphrase_mining(int argc, char **argv)
{
    const char *command = "eval paraphrase-mining";
    eval_args a = {0};
    int top_k = 100, max_pairs = 500000, query_chunk = 0, corpus_chunk = 0;
    bool closure = false;
    const char *sentences = NULL, *duplicates = NULL;
    const cli_option options[] = {
        EVAL_MODEL_OPTIONS(a), EVAL_CHUNK_OPTION(a),
        {"--data", CLI_STRING, &a.data, "duplicate pairs (or --sentences and --duplicates)"},
        {"--sentences", CLI_STRING, &sentences,
         "ID<TAB>SENTENCE lines: every sentence mined, distractors included"},
        {"--duplicates", CLI_STRING, &duplicates, "ID<TAB>ID lines: the duplicate pairs"},
        {"--add-transitive-closure", CLI_FLAG, &closure, "a~b and b~c make a~c a duplicate"},
        {"--top-k", CLI_INT, &top_k, "neighbours mined per sentence (default 100)"},
        {"--max-pairs", CLI_INT, &max_pairs, "pairs mined at most (default 500000)"},
        {"--query-chunk-size", CLI_INT, &query_chunk, "sentences ranked at once (default 1024)"},
        {"--corpus-chunk-size", CLI_INT, &corpus_chunk,
         "sentences scored against them at once (default 8192)"},
    };
    int rc = parse(argc, argv, command,
                   "--model DIR (--data PAIRS.jsonl | --sentences S.tsv --duplicates D.tsv)\n"
                   "       [options]\n\n"
                   "Each line of PAIRS.jsonl is a duplicate pair; the sentences are the distinct\n"
                   "texts. Or, as ParaphraseMiningEvaluator's sentences_map and duplicates_list,\n"
                   "sentences with ids (those in no pair are distractors) and id pairs. Mines the most similar pairs (top-k per sentence, at most max-pairs)\n"
                   "and prints the average precision of the ranked pairs, and the best F1 with its\n"
                   "threshold, precision and recall, as sentence-transformers'\n"
                   "ParaphraseMiningEvaluator.",
                   options, sizeof options / sizeof options[0]);
    if (rc >= 0)
        return rc;
    bool by_ids = sentences || duplicates;
    if (by_ids && (a.data || !sentences || !duplicates))
        return cli_failf(command, "give --data, or both --sentences and --duplicates"), 2;
    if (by_ids)
        a.data = sentences; /* named in the report; check_args wants a data file */
    if ((rc = check_args(command, &a, true, false)) >= 0)
        return rc;
    if (top_k <= 0 || max_pairs <= 0 || query_chunk < 0 || corpus_chunk < 0)
        return cli_failf(command, "--top-k, --max-pairs and the chunk sizes must be positive"), 2;
    semb_error err = {0};
    mining_data d;
    if (by_ids) {
        duplicates_data dd;
        if (duplicates_data_read(sentences, duplicates, &dd, &err))
            return cli_fail(command, &err);
        d = (mining_data){dd.sentences, dd.n_sentences, dd.dup_a, dd.dup_b, dd.n_dup, 0};
    } else if (mining_data_read(a.data, &d, &err)) {
        return mining_data_free(&d), cli_fail(command, &err);
    }
    if (d.dropped)
        fprintf(stderr, "semb %s: warning: %zu pair%s of identical texts left out (a sentence is "
                        "never mined with itself)\n", command, d.dropped, d.dropped == 1 ? "" : "s");
    semb_model *model = d.n_dup ? load_model(command, &a) : NULL;
    semb_paraphrase_metrics m;
    semb_status st = SEMB_ERR_INPUT;
    if (!d.n_dup)
        cli_failf(command, "%s: no pair of two different texts", a.data);
    if (model) {
        warn_truncated(command, model, (const char *const *)d.sentences, d.n_sentences, NULL,
                       "sentences");
        semb_eval_options eo = eval_options(&a);
        semb_paraphrase_options po = semb_paraphrase_options_default();
        po.top_k = (size_t)top_k;
        po.max_pairs = (size_t)max_pairs;
        po.query_chunk_size = (size_t)query_chunk;
        po.corpus_chunk_size = (size_t)corpus_chunk;
        st = semb_eval_paraphrase_mining(model, (const char *const *)d.sentences, d.n_sentences,
                                         d.dup_a, d.dup_b, d.n_dup, closure, &eo, &po, &m, &err);
    }
    if (model && !st) {
        report r = {.pretty = a.pretty};
        if (r.pretty)
            printf("paraphrase mining %s\n", a.data);
        report_mining(&r, &m);
        rc = report_end(&r, command, &a, semb_similarity_name(semb_model_similarity(model)));
    }
    bool loaded = model != NULL;
    semb_model_free(model);
    mining_data_free(&d);
    return !loaded ? 1 : st ? cli_fail(command, &err) : rc;
}

/* ---- dispatch ---- */

typedef struct eval_kind {
    const char *name;
    int (*run)(int argc, char **argv);
    const char *synopsis;
} eval_kind;

static const eval_kind kinds[] = {
    {"sts", eval_sts, "(--model DIR | --baseline tfidf) --data FILE.tsv"},
    {"retrieval", eval_retrieval,
     "(--model DIR | --baseline tfidf) (--data PAIRS.jsonl | --queries Q --corpus C --qrels R)"},
    {"triplet", eval_triplet, "--model DIR --data TRIPLETS.jsonl"},
    {"paraphrase-mining", eval_paraphrase_mining, "--model DIR --data PAIRS.jsonl"},
    {"cluster", cmd_eval_cluster, "--model DIR --data LABELLED.jsonl"},
};

#define N_KINDS (sizeof kinds / sizeof kinds[0])

static void usage(FILE *out)
{
    for (size_t k = 0; k < N_KINDS; k++)
        fprintf(out, "%s semb eval %s %s [options]\n", k ? "      " : "usage:", kinds[k].name,
                kinds[k].synopsis);
    fprintf(out, "\nEach prints one JSON object of metrics (fractions) on stdout, or a table with "
                 "--pretty;\n'semb eval KIND --help' describes KIND.\n");
}

int cmd_eval(int argc, char **argv)
{
    if (argc < 2) {
        usage(stderr);
        return 2;
    }
    if (strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
        usage(stdout);
        return 0;
    }
    for (size_t k = 0; k < N_KINDS; k++)
        if (strcmp(argv[1], kinds[k].name) == 0)
            return kinds[k].run(argc - 1, argv + 1);
    char names[256] = "";
    for (size_t k = 0; k < N_KINDS; k++)
        snprintf(names + strlen(names), sizeof names - strlen(names), "%s%s",
                 k ? (k + 1 == N_KINDS ? " or " : ", ") : "", kinds[k].name);
    cli_failf("eval", "unknown task '%s': expected %s", argv[1], names);
    return 2;
}
