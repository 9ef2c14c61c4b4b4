/* semb cluster: groups input texts by k-means (--k) or by sentence-transformers' community
 * detection (--threshold / --min-size), printed as text or JSONL. */
#include <errno.h>
#include <jansson.h>
#include <limits.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli.h"
#include "core/error.h"
#include "eval/cluster_eval.h"
#include "index/kmeans.h"

/* Tells the user, once, how many texts the model will cut. */
static void warn_truncated(const char *command, const semb_model *model,
                           char *const *texts, const size_t *lengths,
                           const size_t *line_numbers, const char *source, size_t n)
{
    size_t max = (size_t)semb_model_max_seq_length(model), truncated = 0, first = 0;
    for (size_t i = 0; i < n; i++) {
        size_t count;
        if (semb_count_tokens(model, texts[i], lengths[i], &count, NULL) == SEMB_OK &&
            count > max && truncated++ == 0)
            first = line_numbers[i];
    }
    if (truncated)
        fprintf(stderr, "semb %s: warning: %zu text%s longer than %zu tokens truncated to %zu "
                        "tokens (the first at %s:%zu)\n", command, truncated,
                truncated == 1 ? "" : "s", max, max, source, first);
}

int cli_cluster_embed(const char *command, semb_model *model, char *const *texts,
                      const size_t *lengths, const size_t *line_numbers, const char *source,
                      size_t n, const semb_encode_options *opts, float **out)
{
    warn_truncated(command, model, texts, lengths, line_numbers, source, n);
    *out = malloc(n * (size_t)semb_model_dimension(model) * sizeof **out);
    if (!*out)
        return cli_failf(command, "out of memory for %zu embeddings", n);
    semb_error err = {0};
    semb_status st = cluster_encode_texts(model, (const char *const *)texts, lengths, n, opts,
                                          *out, &err);
    if (!st)
        return 0;
    if (err.has_item && err.item < n)
        semb_error_rename_item(&err, err.item, "%s:%zu: ", source, line_numbers[err.item]);
    free(*out);
    *out = NULL;
    return cli_fail(command, &err);
}

/* ---- the clusters as lists of text indices ---- */

typedef struct cluster_list {
    size_t count;
    size_t *offsets;  /* count + 1 */
    size_t *members;
    size_t unclustered;
} cluster_list;

typedef struct ranked {
    size_t group;  /* the cluster's printed position (members); 0 (clusters) */
    double key;    /* distance to the centroid (members); minus the size (clusters) */
    size_t index;  /* the text */
} ranked;

static int by_group_key_index(const void *a, const void *b)
{
    const ranked *x = a, *y = b;
    if (x->group != y->group)
        return x->group < y->group ? -1 : 1;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return (x->index > y->index) - (x->index < y->index);
}

static void cluster_list_free(cluster_list *l)
{
    free(l->offsets);
    free(l->members);
}

/* k-means clusters largest first (ties: the one whose first text comes first), each listing
 * its texts nearest the centroid first (ties: input order), so a cluster's first text is
 * the one nearest its centroid. */
static semb_status list_kmeans(const kmeans_result *km, const float *emb, size_t n,
                               cluster_list *out, semb_error *err)
{
    size_t k = (size_t)km->k, dim = (size_t)km->dim;
    ranked *clusters = malloc(k * sizeof *clusters), *members = malloc(n * sizeof *members);
    size_t *position = malloc(k * sizeof *position);
    *out = (cluster_list){.count = k, .offsets = calloc(k + 1, sizeof *out->offsets),
                          .members = malloc(n * sizeof *out->members)};
    semb_status st = SEMB_OK;
    if (!clusters || !members || !position || !out->offsets || !out->members) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory listing %zu texts", n);
        goto done;
    }
    for (size_t c = 0; c < k; c++)
        clusters[c] = (ranked){0, 0, SIZE_MAX};
    for (size_t i = 0; i < n; i++) {
        ranked *c = &clusters[km->labels[i]];
        c->key -= 1;
        if (c->index == SIZE_MAX)
            c->index = i;
    }
    qsort(clusters, k, sizeof *clusters, by_group_key_index);
    for (size_t p = 0; p < k; p++) /* k-means leaves no cluster empty */
        position[km->labels[clusters[p].index]] = p;
    for (size_t i = 0; i < n; i++) {
        const float *x = emb + i * dim, *c = km->centroids + (size_t)km->labels[i] * dim;
        double d = 0;
        for (size_t j = 0; j < dim; j++)
            d += ((double)x[j] - c[j]) * ((double)x[j] - c[j]);
        members[i] = (ranked){position[km->labels[i]], d, i};
        out->offsets[members[i].group + 1]++;
    }
    qsort(members, n, sizeof *members, by_group_key_index);
    for (size_t p = 0; p < k; p++)
        out->offsets[p + 1] += out->offsets[p];
    for (size_t i = 0; i < n; i++)
        out->members[i] = members[i].index;
done:
    free(clusters);
    free(members);
    free(position);
    if (st)
        cluster_list_free(out);
    return st;
}

/* ---- printing ---- */

static json_t *member_json(const cli_input *in, size_t index)
{
    return json_pack("{s:I, s:s%}", "index", (json_int_t)index, "text", in->texts[index],
                     in->lengths[index]);
}

/* One JSON object per line; false when memory ran out. */
static bool print_json_line(json_t *object)
{
    char *line = object ? json_dumps(object, JSON_COMPACT) : NULL;
    json_decref(object);
    if (!line)
        return false;
    puts(line);
    free(line);
    return true;
}

static bool print_jsonl(const cluster_list *l, const cli_input *in, bool kmeans)
{
    for (size_t c = 0; c < l->count; c++) {
        size_t begin = l->offsets[c], end = l->offsets[c + 1];
        json_t *members = json_array();
        for (size_t m = begin; members && m < end; m++)
            if (json_array_append_new(members, member_json(in, l->members[m])))
                json_decref(members), members = NULL;
        json_t *o = members ? json_pack("{s:I, s:I, s:o}", "cluster", (json_int_t)(c + 1),
                                        "size", (json_int_t)(end - begin), "members", members)
                            : NULL;
        if (o && kmeans && json_object_set_new(o, "centroid_nearest",
                                               member_json(in, l->members[begin])))
            json_decref(o), o = NULL;
        if (!print_json_line(o))
            return false;
    }
    return kmeans || print_json_line(json_pack("{s:I}", "unclustered", (json_int_t)l->unclustered));
}

static void print_text(const cluster_list *l, const cli_input *in, bool kmeans, size_t min_size)
{
    for (size_t c = 0; c < l->count; c++) {
        size_t size = l->offsets[c + 1] - l->offsets[c];
        printf("%sCluster %zu (%zu text%s):\n", c ? "\n" : "", c + 1, size, size == 1 ? "" : "s");
        for (size_t m = l->offsets[c]; m < l->offsets[c + 1]; m++)
            printf("  %s\n", in->texts[l->members[m]]);
    }
    if (!kmeans)
        printf("%sUnclustered: %zu text%s (in no community of at least %zu)\n",
               l->count ? "\n" : "", l->unclustered, l->unclustered == 1 ? "" : "s", min_size);
}

/* ---- the command ---- */

/* --k and --min-size when the user did not give them */
#define NOT_GIVEN INT_MIN

typedef struct cluster_args {
    const char *model_dir, *input, *input_format, *format, *precision;
    int k, seed, n_init, max_iter, min_size, batch_size, threads;
    double threshold;
} cluster_args;

static int check_args(const cluster_args *a, bool *kmeans)
{
    const char *c = "cluster";
    bool community = !isnan(a->threshold) || a->min_size != NOT_GIVEN;
    *kmeans = a->k != NOT_GIVEN;
    if (!a->model_dir)
        return cli_failf(c, "--model is required (see --help)"), 2;
    if (*kmeans == community)
        return cli_failf(c, "give either --k N (k-means) or --threshold T / --min-size M "
                            "(community detection)"), 2;
    if (*kmeans && a->k < 1)
        return cli_failf(c, "--k %d: must be at least 1", a->k), 2;
    if (community && !isnan(a->threshold) && !(a->threshold >= -1 && a->threshold <= 1))
        return cli_failf(c, "--threshold %g: must be within [-1, 1]", a->threshold), 2;
    if (community && a->min_size != NOT_GIVEN && a->min_size < 1)
        return cli_failf(c, "--min-size %d: must be at least 1", a->min_size), 2;
    if (a->n_init <= 0 || a->max_iter <= 0)
        return cli_failf(c, "--n-init and --max-iter must be at least 1"), 2;
    if (a->batch_size <= 0)
        return cli_failf(c, "--batch-size must be positive"), 2;
    if (strcmp(a->format, "text") != 0 && strcmp(a->format, "jsonl") != 0)
        return cli_failf(c, "--format: '%s' is not one of text, jsonl", a->format), 2;
    return 0;
}

static semb_status cluster_texts(const cluster_args *a, bool kmeans, const float *emb,
                                 size_t n, int dim, cluster_list *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    if (kmeans) {
        semb_kmeans_options o = semb_kmeans_options_default(a->k);
        o.seed = (uint64_t)(unsigned)a->seed, o.n_init = a->n_init, o.max_iter = a->max_iter;
        kmeans_result km;
        semb_status st = kmeans_fit(emb, n, dim, &o, &km, err);
        if (!st)
            st = list_kmeans(&km, emb, n, out, err);
        kmeans_result_free(&km);
        return st;
    }
    semb_communities c;
    double threshold = isnan(a->threshold) ? 0.75 : a->threshold;
    int min_size = a->min_size != NOT_GIVEN ? a->min_size : 10;
    semb_status st = semb_community_detection(emb, n, dim, threshold, min_size, 0, &c, err);
    if (st)
        return st;
    *out = (cluster_list){c.count, c.offsets, c.members, n - c.offsets[c.count]};
    return SEMB_OK;
}

int cmd_cluster(int argc, char **argv)
{
    cluster_args a = {.input = "-", .input_format = "text", .format = "text", .n_init = 1,
                      .max_iter = 300, .batch_size = 32, .threshold = NAN, .k = NOT_GIVEN,
                      .min_size = NOT_GIVEN};
    const cli_option options[] = {
        {"--model", CLI_STRING, &a.model_dir, "sentence-transformers model folder (required)"},
        {"--input", CLI_STRING, &a.input, "input file, '-' for stdin (default)"},
        {"--input-format", CLI_STRING, &a.input_format,
         "text: one text per line (default); jsonl: one JSON string per line"},
        {"--k", CLI_INT, &a.k, "k-means with N clusters"},
        {"--seed", CLI_INT, &a.seed, "k-means: random seed (default 0)"},
        {"--n-init", CLI_INT, &a.n_init, "k-means: restarts, the lowest inertia kept (1)"},
        {"--max-iter", CLI_INT, &a.max_iter, "k-means: iterations per restart (300)"},
        {"--threshold", CLI_FLOAT, &a.threshold,
         "community detection: cosine similarity threshold (0.75)"},
        {"--min-size", CLI_INT, &a.min_size, "community detection: smallest community (10)"},
        {"--format", CLI_STRING, &a.format, "text (default) or jsonl (one cluster per line)"},
        {"--batch-size", CLI_INT, &a.batch_size, "sentences per forward pass (default 32)"},
        {"--precision", CLI_STRING, &a.precision, CLI_PRECISION_HELP},
        {"--threads", CLI_INT, &a.threads, "threads (default: all cores)"},
    };
    int rc = cli_parse(argc, argv, "cluster",
                       "--model DIR [--input FILE] (--k N | --threshold T --min-size M) "
                       "[options]\n\n"
                       "k-means (k-means++ start; cosine models cluster normalised embeddings)\n"
                       "or sentence-transformers' community detection (always cosine). Prints\n"
                       "the clusters largest first; k-means lists each cluster's texts nearest\n"
                       "the centroid first, a community its centre first. Texts in no community\n"
                       "are counted as unclustered.",
                       options, sizeof options / sizeof options[0], NULL, NULL);
    if (rc)
        return rc == 1 ? 0 : 2;
    bool kmeans;
    semb_encode_options encode = semb_encode_options_default();
    encode.batch_size = a.batch_size;
    if ((rc = check_args(&a, &kmeans)) || (rc = cli_precision("cluster", a.precision, &encode.precision)))
        return rc;
    cli_set_threads(a.threads);
    semb_error err = {0};
    semb_model *model = NULL;
    cli_input in = {0};
    if (semb_model_load(a.model_dir, &model, &err) ||
        cli_read_input(a.input, a.input_format, &in, &err)) {
        semb_model_free(model);
        return cli_fail("cluster", &err);
    }
    const char *source = strcmp(a.input, "-") ? a.input : "<stdin>";
    float *emb = NULL;
    cluster_list list = {0};
    rc = cli_cluster_embed("cluster", model, in.texts, in.lengths, in.line_numbers, source,
                           in.count, &encode, &emb);
    if (!rc && cluster_texts(&a, kmeans, emb, in.count, semb_model_dimension(model), &list,
                             &err))
        rc = cli_fail("cluster", &err);
    if (!rc) {
        if (strcmp(a.format, "jsonl") == 0) {
            if (!print_jsonl(&list, &in, kmeans))
                rc = cli_failf("cluster", "out of memory printing clusters");
        } else {
            size_t min_size = a.min_size != NOT_GIVEN ? (size_t)a.min_size : 10;
            print_text(&list, &in, kmeans, min_size < in.count ? min_size : in.count);
        }
    }
    cluster_list_free(&list);
    free(emb);
    cli_input_free(&in);
    semb_model_free(model);
    return rc;
}
