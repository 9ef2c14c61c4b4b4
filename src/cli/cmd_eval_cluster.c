/* semb eval cluster: k-means on the embeddings of labelled texts, scored against the labels
 * (V-measure, homogeneity, completeness, adjusted Rand index), one JSON object on stdout or a
 * table with --pretty. */
#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "eval/cluster_eval.h"
#include "index/kmeans.h"

static void print_json(const char *model_dir, const semb_model *model,
                       const cluster_eval_result *r, int seed, int n_init)
{
    json_t *path = json_string(model_dir);
    char *name = path ? json_dumps(path, JSON_ENCODE_ANY) : NULL;
    json_decref(path);
    printf("{\"v_measure\": %.6f, \"homogeneity\": %.6f, \"completeness\": %.6f, "
           "\"adjusted_rand\": %.6f, \"clusters\": %d, \"texts\": %zu, \"labels\": %zu, "
           "\"inertia\": %.6g, \"seed\": %d, \"n_init\": %d, \"model\": %s, "
           "\"similarity\": \"%s\"}\n",
           r->scores.v_measure, r->scores.homogeneity, r->scores.completeness,
           r->scores.adjusted_rand, r->k, r->texts, r->labels, r->inertia, seed, n_init,
           name ? name : "null", semb_similarity_name(semb_model_similarity(model)));
    free(name);
}

static void print_pretty(const char *model_dir, const cluster_eval_result *r)
{
    printf("Clustering: k-means (k = %d) of %zu texts with %zu labels\nmodel: %s\n\n",
           r->k, r->texts, r->labels, model_dir);
    printf("  %-16s %8.4f\n", "V-measure", r->scores.v_measure);
    printf("  %-16s %8.4f\n", "homogeneity", r->scores.homogeneity);
    printf("  %-16s %8.4f\n", "completeness", r->scores.completeness);
    printf("  %-16s %8.4f\n", "adjusted Rand", r->scores.adjusted_rand);
}

int cmd_eval_cluster(int argc, char **argv)
{
    const char *command = "eval cluster", *model_dir = NULL, *data = NULL, *precision = NULL;
    int k = 0, seed = 0, n_init = 1, max_iter = 300, batch_size = 32, threads = 0;
    bool pretty = false;
    const cli_option options[] = {
        {"--model", CLI_STRING, &model_dir, "sentence-transformers model folder (required)"},
        {"--data", CLI_STRING, &data, "JSONL of {\"text\", \"label\"} objects (required)"},
        {"--k", CLI_INT, &k, "clusters (default: the number of distinct labels)"},
        {"--seed", CLI_INT, &seed, "k-means random seed (default 0)"},
        {"--n-init", CLI_INT, &n_init, "k-means restarts, the lowest inertia kept (1)"},
        {"--max-iter", CLI_INT, &max_iter, "k-means iterations per restart (300)"},
        {"--batch-size", CLI_INT, &batch_size, "sentences per forward pass (default 32)"},
        {"--threads", CLI_INT, &threads, "threads (default: all cores)"},
        {"--precision", CLI_STRING, &precision, CLI_PRECISION_HELP},
        {"--pretty", CLI_FLAG, &pretty, "a human-readable table instead of JSON"},
    };
    int rc = cli_parse(argc, argv, command,
                       "--model DIR --data FILE.jsonl [options]\n\n"
                       "Embeds the texts, clusters them by k-means (k-means++ start; cosine\n"
                       "models cluster normalised embeddings) and prints V-measure, homogeneity,\n"
                       "completeness (as sklearn.metrics) and the adjusted Rand index against\n"
                       "the labels, with the numbers of clusters, texts and labels.",
                       options, sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    if (!model_dir || !data)
        return cli_failf(command, "--model and --data are required (see --help)"), 2;
    if (k < 0)
        return cli_failf(command, "--k %d: must be at least 1", k), 2;
    if (n_init <= 0 || max_iter <= 0 || batch_size <= 0)
        return cli_failf(command, "--n-init, --max-iter and --batch-size must be positive"), 2;
    semb_encode_options encode = semb_encode_options_default();
    encode.batch_size = batch_size;
    if (cli_precision(command, precision, &encode.precision))
        return 2;
    cli_set_threads(threads);
    semb_error err = {0};
    cluster_dataset ds;
    if (cluster_dataset_read(data, &ds, &err))
        return cli_fail(command, &err);
    semb_model *model = NULL;
    if (semb_model_load(model_dir, &model, &err)) {
        cluster_dataset_free(&ds);
        return cli_fail(command, &err);
    }
    float *emb = NULL;
    rc = cli_cluster_embed(command, model, ds.texts, ds.lengths, ds.line_numbers, data, ds.n,
                           &encode, &emb);
    semb_kmeans_options o = semb_kmeans_options_default(k);
    o.seed = (uint64_t)(unsigned)seed, o.n_init = n_init, o.max_iter = max_iter;
    cluster_eval_result r;
    if (!rc && cluster_evaluate_embeddings(emb, semb_model_dimension(model), &ds, &o, &r, &err))
        rc = cli_fail(command, &err);
    if (!rc) {
        if (pretty)
            print_pretty(model_dir, &r);
        else
            print_json(model_dir, model, &r, seed, n_init);
    }
    free(emb);
    semb_model_free(model);
    cluster_dataset_free(&ds);
    return rc;
}
