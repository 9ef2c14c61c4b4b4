#include "train/model_card.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/files.h"
#include "model/sentence_model.h"
#include "train/loss_plot.h"

#ifndef SEMB_VERSION
#define SEMB_VERSION "unknown"
#endif

/* Rows of the training-log table besides those of evaluation steps: enough to see the
 * curve's shape, few enough to read (sentence-transformers logs every few steps and prints
 * them all; thousands of rows help nobody). */
#define LOG_TABLE_ROWS 25
/* The final loss, when not given, is the mean of this many last logged losses: one step's
 * loss is too noisy to quote. */
#define FINAL_LOSS_WINDOW 50

/* ---- escaping ---------------------------------------------------------------------- */

/* Text inside Markdown (a table cell, a heading, a list item): characters Markdown or a
 * table would interpret are backslash-escaped, HTML's are entities, and line breaks become
 * spaces (a newline would end the table row). */
static void put_md(FILE *f, const char *s)
{
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '<')
            fputs("&lt;", f);
        else if (c == '>')
            fputs("&gt;", f);
        else if (c == '&')
            fputs("&amp;", f);
        else if (c < 0x20 || c == 0x7f)
            fputc(' ', f);
        else {
            if (strchr("\\`*_[]|#~!", c))
                fputc('\\', f);
            fputc(c, f);
        }
    }
}

/* A YAML double-quoted scalar. */
static void put_yaml_string(FILE *f, const char *s)
{
    fputc('"', f);
    for (; s && *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(f, "\\%c", c);
        else if (c == '\n')
            fputs("\\n", f);
        else if (c == '\t')
            fputs("\\t", f);
        else if (c < 0x20 || c == 0x7f)
            fprintf(f, "\\x%02x", c);
        else
            fputc(c, f);
    }
    fputc('"', f);
}

/* ---- number formatting --------------------------------------------------------------- */

/* A double as Python's repr prints it (the shortest digits that read back to the same value;
 * positional between 1e-4 and 1e16, with ".0" on whole numbers; scientific outside), so
 * hyperparameters read as they would in a Python config. */
static char *py_float(double v, char *buf, size_t size)
{
    if (isnan(v) || isinf(v)) {
        snprintf(buf, size, isnan(v) ? "nan" : v > 0 ? "inf" : "-inf");
        return buf;
    }
    int digits = 1;
    for (; digits < 17; digits++) {
        snprintf(buf, size, "%.*e", digits - 1, v);
        if (strtod(buf, NULL) == v)
            break;
    }
    int exponent = v == 0 ? 0 : atoi(strchr(buf, 'e') + 1);
    if (exponent < -4 || exponent >= 16) {
        snprintf(buf, size, "%.*e", digits - 1, v);
        return buf;
    }
    int decimals = digits - 1 - exponent;
    snprintf(buf, size, "%.*f", decimals > 0 ? decimals : 0, v);
    if (!strchr(buf, '.'))
        strncat(buf, ".0", size - strlen(buf) - 1);
    return buf;
}

/* 1234567 -> "1,234,567", as sentence-transformers prints dataset sizes. */
static char *thousands(int64_t v, char *buf, size_t size)
{
    char digits[32];
    unsigned long long magnitude = v < 0 ? 0ULL - (unsigned long long)v : (unsigned long long)v;
    snprintf(digits, sizeof digits, "%llu", magnitude);
    size_t n = strlen(digits), out = 0;
    if (v < 0 && out + 1 < size)
        buf[out++] = '-';
    for (size_t i = 0; i < n && out + 2 < size; i++) {
        if (i > 0 && (n - i) % 3 == 0)
            buf[out++] = ',';
        buf[out++] = digits[i];
    }
    buf[out] = '\0';
    return buf;
}

/* 22713216 -> "22.7M". */
static char *compact_count(int64_t v, char *buf, size_t size)
{
    if (v >= 1000000000)
        snprintf(buf, size, "%.1fB", (double)v / 1e9);
    else if (v >= 1000000)
        snprintf(buf, size, "%.1fM", (double)v / 1e6);
    else if (v >= 1000)
        snprintf(buf, size, "%.1fk", (double)v / 1e3);
    else
        snprintf(buf, size, "%lld", (long long)v);
    return buf;
}

/* ---- what the run was ---------------------------------------------------------------- */

static bool uses_gradcache(const model_card_hyperparameters *hp)
{
    return hp->mini_batch_size > 0;
}

/* The sentence-transformers class that computes what semb trained with. */
static const char *loss_class(const model_card_hyperparameters *hp)
{
    if (uses_gradcache(hp))
        return hp->symmetric ? "CachedMultipleNegativesSymmetricRankingLoss"
                             : "CachedMultipleNegativesRankingLoss";
    return hp->symmetric ? "MultipleNegativesSymmetricRankingLoss" : "MultipleNegativesRankingLoss";
}

static bool is_dot(const model_card_hyperparameters *hp)
{
    return hp->similarity && strcmp(hp->similarity, "dot") == 0;
}

static const char *title_of(const model_card *c)
{
    return c->model.name ? c->model.name : "SentenceTransformer trained with semb";
}

static int64_t total_pairs(const model_card *c)
{
    int64_t total = 0;
    for (size_t i = 0; i < c->n_datasets; i++)
        if (c->datasets[i].pairs > 0)
            total += c->datasets[i].pairs;
    return total;
}

/* The final loss to quote: the one given, else the mean of the last logged finite losses.
 * *window is how many were averaged (0 when given or none). */
static double final_loss(const model_card *c, size_t *window)
{
    *window = 0;
    if (!isnan(c->final_loss))
        return c->final_loss;
    double sum = 0;
    for (size_t i = c->n_history; i-- > 0 && *window < FINAL_LOSS_WINDOW;) {
        if (isfinite(c->history_loss[i])) {
            sum += c->history_loss[i];
            (*window)++;
        }
    }
    return *window ? sum / (double)*window : NAN;
}

/* Index of the evaluation that reports (dataset, metric) last: one after training (step < 0)
 * wins, else the latest step. */
static bool is_latest_eval(const model_card *c, size_t k)
{
    const model_card_eval *e = &c->evals[k];
    for (size_t i = 0; i < c->n_evals; i++) {
        const model_card_eval *o = &c->evals[i];
        if (i == k || strcmp(o->dataset, e->dataset) != 0 || strcmp(o->metric, e->metric) != 0)
            continue;
        int64_t ostep = o->step < 0 ? INT64_MAX : o->step;
        int64_t estep = e->step < 0 ? INT64_MAX : e->step;
        if (ostep > estep || (ostep == estep && i > k))
            return false;
    }
    return true;
}

/* Hugging Face task for a metric name (the model-index wants one). */
static void task_of_metric(const char *metric, const char **type, const char **name)
{
    if (strstr(metric, "spearman") || strstr(metric, "pearson")) {
        *type = "semantic-similarity";
        *name = "Semantic Similarity";
    } else if (strstr(metric, "mrr") || strstr(metric, "recall") || strstr(metric, "ndcg") ||
               strstr(metric, "map") || strstr(metric, "accuracy@")) {
        *type = "information-retrieval";
        *name = "Information Retrieval";
    } else {
        *type = "evaluation";
        *name = "Evaluation";
    }
}

/* ---- sections ------------------------------------------------------------------------ */

static void write_front_matter(FILE *f, const model_card *c)
{
    char buf[64];
    fputs("---\ntags:\n- sentence-transformers\n- sentence-similarity\n- feature-extraction\n"
          "- generated_from_trainer\n", f);
    if (total_pairs(c) > 0)
        fprintf(f, "- dataset_size:%lld\n", (long long)total_pairs(c));
    fprintf(f, "- loss:%s\n", loss_class(&c->hp));
    fputs("pipeline_tag: sentence-similarity\nlibrary_name: sentence-transformers\n", f);
    if (c->n_datasets) {
        fputs("datasets:\n", f);
        for (size_t i = 0; i < c->n_datasets; i++) {
            fputs("- ", f);
            put_yaml_string(f, c->datasets[i].name);
            fputc('\n', f);
        }
    }
    if (!c->n_evals) {
        fputs("---\n\n", f);
        return;
    }
    fputs("metrics:\n", f);
    for (size_t i = 0; i < c->n_evals; i++) {
        bool seen = false;
        for (size_t j = 0; j < i && !seen; j++)
            seen = strcmp(c->evals[j].metric, c->evals[i].metric) == 0;
        if (!seen) {
            fputs("- ", f);
            put_yaml_string(f, c->evals[i].metric);
            fputc('\n', f);
        }
    }
    fputs("model-index:\n- name: ", f);
    put_yaml_string(f, title_of(c));
    fputs("\n  results:\n", f);
    for (size_t i = 0; i < c->n_evals; i++) {
        const model_card_eval *e = &c->evals[i];
        if (!is_latest_eval(c, i))
            continue;
        const char *type, *name;
        task_of_metric(e->metric, &type, &name);
        fprintf(f, "  - task:\n      type: %s\n      name: %s\n    dataset:\n      name: ", type,
                name);
        put_yaml_string(f, e->dataset);
        fputs("\n      type: ", f);
        put_yaml_string(f, e->dataset);
        fputs("\n    metrics:\n    - type: ", f);
        put_yaml_string(f, e->metric);
        fprintf(f, "\n      value: %s\n      name: ", py_float(e->value, buf, sizeof buf));
        put_yaml_string(f, e->metric);
        fputc('\n', f);
    }
    fputs("---\n\n", f);
}

static void write_pooling_dict(FILE *f, const model_card_model *m)
{
    fprintf(f, "Pooling({'word_embedding_dimension': %d, 'pooling_mode_cls_token': %s, "
               "'pooling_mode_mean_tokens': %s, 'pooling_mode_max_tokens': %s, "
               "'pooling_mode_mean_sqrt_len_tokens': %s, 'pooling_mode_weightedmean_tokens': %s, "
               "'pooling_mode_lasttoken': %s, 'include_prompt': %s})",
            m->hidden_size, m->pooling_cls ? "True" : "False", m->pooling_mean ? "True" : "False",
            m->pooling_max ? "True" : "False", m->pooling_mean_sqrt_len ? "True" : "False",
            m->pooling_weighted_mean ? "True" : "False", m->pooling_last_token ? "True" : "False",
            m->include_prompt ? "True" : "False");
}

/* "mean", "cls + max", ... for the description. */
static void write_pooling_names(FILE *f, const model_card_model *m)
{
    const struct { bool on; const char *name; } modes[] = {
        {m->pooling_cls, "CLS token"}, {m->pooling_max, "max"}, {m->pooling_mean, "mean"},
        {m->pooling_mean_sqrt_len, "mean / sqrt(length)"},
        {m->pooling_weighted_mean, "weighted mean"}, {m->pooling_last_token, "last token"}};
    int n = 0;
    for (size_t i = 0; i < sizeof modes / sizeof modes[0]; i++)
        if (modes[i].on)
            fprintf(f, "%s%s", n++ ? " + " : "", modes[i].name);
    if (!n)
        fputs("none", f);
}

static void write_description(FILE *f, const model_card *c)
{
    const model_card_model *m = &c->model;
    char buf[32];
    fputs("# ", f);
    put_md(f, title_of(c));
    fputs("\n\nThis is a [sentence-transformers](https://www.SBERT.net) model ", f);
    if (m->base_model) {
        fputs("finetuned from ", f);
        put_md(f, m->base_model);
    } else {
        fputs("trained from scratch (random initialisation)", f);
    }
    fputs(" with semb", f);
    if (c->n_datasets == 1) {
        fputs(" on ", f);
        put_md(f, c->datasets[0].name);
    } else if (c->n_datasets > 1) {
        fprintf(f, " on %zu datasets", c->n_datasets);
    }
    fprintf(f, ". It maps sentences & paragraphs to a %d-dimensional dense vector space and can "
               "be used for semantic textual similarity, semantic search, paraphrase mining, "
               "text classification, clustering, and more.\n\n",
            m->output_dim);
    fputs("## Model Details\n\n### Model Description\n- **Model Type:** Sentence Transformer\n", f);
    fputs("- **Base model:** ", f);
    if (m->base_model)
        put_md(f, m->base_model);
    else
        fputs("none (trained from scratch)", f);
    fputs("\n- **Architecture:** ", f);
    put_md(f, m->architecture ? m->architecture : "unknown");
    fprintf(f, ", %d layers, hidden size %d, %d attention heads, intermediate size %d, "
               "vocabulary of %s tokens",
            m->num_layers, m->hidden_size, m->num_heads, m->intermediate_size,
            thousands(m->vocab_size, buf, sizeof buf));
    if (m->n_parameters > 0)
        fprintf(f, ", %s parameters", compact_count(m->n_parameters, buf, sizeof buf));
    fprintf(f, "\n- **Maximum Sequence Length:** %d tokens\n- **Output Dimensionality:** %d "
               "dimensions\n- **Similarity Function:** %s\n- **Pooling:** ",
            m->max_seq_length, m->output_dim, is_dot(&c->hp) ? "Dot Product" : "Cosine Similarity");
    write_pooling_names(f, m);
    fprintf(f, "\n- **Normalized:** %s\n", m->normalize ? "yes (unit-length embeddings)" : "no");
    if (c->n_datasets) {
        fputs("- **Training Datasets:**\n", f);
        for (size_t i = 0; i < c->n_datasets; i++) {
            fputs("    - ", f);
            put_md(f, c->datasets[i].name);
            fputc('\n', f);
        }
    }
    fputs("\n### Full Model Architecture\n\n```\nSentenceTransformer(\n", f);
    fprintf(f, "  (0): Transformer({'max_seq_length': %d, 'do_lower_case': %s, "
               "'architecture': '%s'})\n  (1): ",
            m->max_seq_length, m->do_lower_case ? "True" : "False",
            m->architecture ? m->architecture : "unknown");
    write_pooling_dict(f, m);
    fputc('\n', f);
    if (m->normalize)
        fputs("  (2): Normalize()\n", f);
    fputs(")\n```\n\n", f);
}

static void write_usage(FILE *f, const model_card *c)
{
    int dim = c->model.output_dim;
    fprintf(f,
            "## Usage\n\n### Direct Usage (Sentence Transformers)\n\n"
            "First install the Sentence Transformers library:\n\n"
            "```bash\npip install -U sentence-transformers\n```\n\n"
            "Then load this folder and run inference.\n"
            "```python\nfrom sentence_transformers import SentenceTransformer\n\n"
            "model = SentenceTransformer(\"path/to/this/model\")\n"
            "sentences = [\n"
            "    'The weather is lovely today.',\n"
            "    \"It's so sunny outside!\",\n"
            "    'He drove to the stadium.',\n"
            "]\n"
            "embeddings = model.encode(sentences)\nprint(embeddings.shape)\n# [3, %d]\n\n"
            "# Get the similarity scores for the embeddings\n"
            "similarities = model.similarity(embeddings, embeddings)\nprint(similarities.shape)\n"
            "# [3, 3]\n```\n\n"
            "### Direct Usage (semb)\n\n"
            "The same folder works with the `semb` command line, without Python:\n\n"
            "```bash\n"
            "# one sentence per line in, a float32 [n, %d] .npy out\n"
            "semb encode --model path/to/this/model --input sentences.txt "
            "--output embeddings.npy\n\n"
            "# pairwise similarities of a few texts\n"
            "semb similarity --model path/to/this/model \"The weather is lovely today.\" "
            "\"It's so sunny outside!\"\n"
            "```\n\n",
            dim, dim);
}

static void write_evaluation(FILE *f, const model_card *c)
{
    char buf[64];
    bool any = false;
    for (size_t i = 0; i < c->n_evals && !any; i++)
        any = is_latest_eval(c, i);
    if (!any)
        return;
    fputs("## Evaluation\n\n### Metrics\n\n| Dataset | Metric | Value | Step |\n"
          "|:--------|:-------|------:|-----:|\n", f);
    for (size_t i = 0; i < c->n_evals; i++) {
        const model_card_eval *e = &c->evals[i];
        if (!is_latest_eval(c, i))
            continue;
        fputs("| ", f);
        put_md(f, e->dataset);
        fputs(" | ", f);
        put_md(f, e->metric);
        fprintf(f, " | %.4f | ", e->value);
        if (e->step < 0)
            fputs("final", f);
        else
            fputs(thousands(e->step, buf, sizeof buf), f);
        fputs(" |\n", f);
    }
    fputc('\n', f);
}

static void write_datasets(FILE *f, const model_card *c)
{
    char buf[32];
    double weight_sum = 0;
    for (size_t i = 0; i < c->n_datasets; i++)
        if (c->datasets[i].weight > 0)
            weight_sum += c->datasets[i].weight;
    fputs("## Training Details\n\n### Training Datasets\n\n", f);
    if (!c->n_datasets) {
        fputs("Not recorded.\n\n", f);
        return;
    }
    fputs("| Dataset | Weight | Share of draws | Pairs | Columns | Skipped lines |\n"
          "|:--------|-------:|---------------:|------:|:--------|--------------:|\n", f);
    for (size_t i = 0; i < c->n_datasets; i++) {
        const model_card_dataset *d = &c->datasets[i];
        fputs("| ", f);
        put_md(f, d->name);
        fputs(" | ", f);
        if (d->weight > 0)
            fprintf(f, "%s | %.1f%%", py_float(d->weight, buf, sizeof buf),
                    100 * d->weight / weight_sum);
        else
            fputs("- | -", f);
        fprintf(f, " | %s | anchor, positive",
                d->pairs >= 0 ? thousands(d->pairs, buf, sizeof buf) : "?");
        if (d->n_negatives == 1)
            fputs(", negative", f);
        else if (d->n_negatives > 1)
            fprintf(f, ", %d negatives", d->n_negatives);
        fprintf(f, " | %s |\n", d->skipped > 0 ? thousands(d->skipped, buf, sizeof buf) : "0");
    }
    fprintf(f, "\n* Total: %s training pairs\n", thousands(total_pairs(c), buf, sizeof buf));
    if (c->n_datasets > 1 && c->hp.datasets_per_batch > 0)
        fprintf(f, "* Sampling: each batch is filled in equal shares from %d dataset%s, each drawn "
                   "with probability proportional to its weight; pair and triplet datasets are "
                   "never mixed in one batch\n",
                c->hp.datasets_per_batch, c->hp.datasets_per_batch == 1 ? "" : "s");
    fputc('\n', f);
}

static void write_loss(FILE *f, const model_card *c)
{
    char buf[64];
    const char *cls = loss_class(&c->hp);
    char anchor[96];
    size_t n = 0;
    for (const char *s = cls; *s && n + 1 < sizeof anchor; s++)
        anchor[n++] = (char)((*s >= 'A' && *s <= 'Z') ? *s - 'A' + 'a' : *s);
    anchor[n] = '\0';
    fprintf(f, "### Loss\n\n[<code>%s</code>](https://sbert.net/docs/package_reference/"
               "sentence_transformer/losses.html#%s) with these parameters:\n"
               "```json\n{\n    \"scale\": %s,\n    \"similarity_fct\": \"%s\"",
            cls, anchor, py_float(c->hp.scale, buf, sizeof buf),
            is_dot(&c->hp) ? "dot_score" : "cos_sim");
    if (uses_gradcache(&c->hp))
        fprintf(f, ",\n    \"mini_batch_size\": %d", c->hp.mini_batch_size);
    fputs("\n}\n```\n\n", f);
}

static void write_hyperparameters(FILE *f, const model_card *c)
{
    const model_card_hyperparameters *hp = &c->hp;
    char buf[64];
    fputs("### Training Hyperparameters\n\n", f);
    fprintf(f, "- `per_device_train_batch_size`: %d\n", hp->batch_size);
    if (uses_gradcache(hp))
        fprintf(f, "- `mini_batch_size`: %d (GradCache)\n", hp->mini_batch_size);
    else
        fputs("- `mini_batch_size`: None (no GradCache: the whole batch in one pass)\n", f);
    fprintf(f, "- `learning_rate`: %s\n", py_float(hp->learning_rate, buf, sizeof buf));
    fprintf(f, "- `lr_scheduler_type`: %s\n", hp->scheduler ? hp->scheduler : "linear");
    fprintf(f, "- `warmup_steps`: %d\n", hp->warmup_steps);
    fprintf(f, "- `weight_decay`: %s\n", py_float(hp->weight_decay, buf, sizeof buf));
    fprintf(f, "- `adam_beta1`: %s\n", py_float(hp->adam_beta1, buf, sizeof buf));
    fprintf(f, "- `adam_beta2`: %s\n", py_float(hp->adam_beta2, buf, sizeof buf));
    fprintf(f, "- `adam_epsilon`: %s\n", py_float(hp->adam_epsilon, buf, sizeof buf));
    if (hp->max_grad_norm > 0)
        fprintf(f, "- `max_grad_norm`: %s\n", py_float(hp->max_grad_norm, buf, sizeof buf));
    else
        fputs("- `max_grad_norm`: None (no clipping)\n", f);
    fprintf(f, "- `dropout`: %s\n", py_float(hp->dropout, buf, sizeof buf));
    if (hp->bf16)
        fputs("- `bf16`: True\n", f);
    fprintf(f, "- `max_steps`: %lld\n", (long long)hp->steps);
    if (hp->epochs >= 0)
        fprintf(f, "- `num_train_epochs`: %.2f\n", hp->epochs);
    fprintf(f, "- `seed`: %llu\n", (unsigned long long)hp->seed);
    fprintf(f, "- `max_seq_length`: %d\n", c->model.max_seq_length);
    if (hp->datasets_per_batch > 0)
        fprintf(f, "- `datasets_per_batch`: %d\n", hp->datasets_per_batch);
    if (c->n_datasets > 1)
        fputs("- `multi_dataset_batch_sampler`: proportional\n", f);
    fputs("- `optim`: adamw\n\n", f);
}

static void write_results(FILE *f, const model_card *c, const char *plot_file)
{
    char buf[32];
    size_t window;
    double loss = final_loss(c, &window);
    fputs("### Training Results\n\n", f);
    fprintf(f, "- Steps: %s\n", thousands(c->hp.steps, buf, sizeof buf));
    if (c->hp.training_seconds >= 0)
        fprintf(f, "- Training time: %.0f s (%.2f h)\n", c->hp.training_seconds,
                c->hp.training_seconds / 3600);
    if (isfinite(loss)) {
        fprintf(f, "- Final training loss: %.4f", loss);
        if (window)
            fprintf(f, " (mean of the last %zu logged steps)", window);
        fputc('\n', f);
    } else {
        fputs("- Final training loss: not recorded\n", f);
    }
    fputc('\n', f);
    if (plot_file && c->n_history) {
        fputs("![Training loss](", f);
        /* A relative link; spaces and parentheses would end it. */
        for (const char *s = plot_file; *s; s++)
            if (*s == ' ' || *s == '(' || *s == ')')
                fprintf(f, "%%%02X", (unsigned char)*s);
            else
                fputc(*s, f);
        fputs(")\n\n", f);
    }
}

static int compare_size(const void *a, const void *b)
{
    size_t x = *(const size_t *)a, y = *(const size_t *)b;
    return x < y ? -1 : x > y;
}

/* The history rows of the log table: evenly spaced ones (first and last included), each
 * evaluation's step (the last logged step at or before it) taking the place of the nearest
 * evenly spaced row when that is within half a spacing, so that rows stay evenly spread and
 * few; sorted and unique. */
static size_t choose_log_rows(const model_card *c, size_t *rows)
{
    size_t n = 0, h = c->n_history;
    size_t even = h < LOG_TABLE_ROWS ? h : LOG_TABLE_ROWS;
    double spacing = even > 1 ? (double)(h - 1) / (double)(even - 1) : 1;
    for (size_t k = 0; k < even; k++)
        rows[n++] = (size_t)((double)k * spacing + 0.5);
    for (size_t i = 0; i < c->n_evals; i++) {
        if (c->evals[i].step < 0)
            continue;
        size_t at = SIZE_MAX;
        for (size_t j = 0; j < h && c->history_steps[j] <= c->evals[i].step; j++)
            at = j;
        if (at == SIZE_MAX)
            continue;
        size_t nearest = (size_t)((double)at / spacing + 0.5);
        bool inner = nearest > 0 && nearest + 1 < even;
        if (inner && fabs((double)rows[nearest] - (double)at) * 2 <= spacing &&
            rows[nearest] == (size_t)((double)nearest * spacing + 0.5))
            rows[nearest] = at;
        else
            rows[n++] = at;
    }
    qsort(rows, n, sizeof *rows, compare_size);
    size_t unique = 0;
    for (size_t i = 0; i < n; i++)
        if (!unique || rows[unique - 1] != rows[i])
            rows[unique++] = rows[i];
    return unique;
}

/* Distinct (dataset, metric) pairs measured during training: the table's extra columns. */
static size_t eval_columns(const model_card *c, size_t *first_of_column)
{
    size_t n = 0;
    for (size_t i = 0; i < c->n_evals; i++) {
        if (c->evals[i].step < 0)
            continue;
        bool seen = false;
        for (size_t k = 0; k < n && !seen; k++) {
            const model_card_eval *o = &c->evals[first_of_column[k]];
            seen = !strcmp(o->dataset, c->evals[i].dataset) &&
                   !strcmp(o->metric, c->evals[i].metric);
        }
        if (!seen)
            first_of_column[n++] = i;
    }
    return n;
}

static void write_log_row(FILE *f, const model_card *c, size_t row, size_t prev_end,
                          const size_t *columns, size_t n_columns)
{
    char buf[32];
    int64_t step = c->history_steps[row];
    int64_t prev_step = prev_end ? c->history_steps[prev_end - 1] : INT64_MIN;
    fprintf(f, "| %s", thousands(step, buf, sizeof buf));
    if (c->hp.epochs >= 0 && c->hp.steps > 0)
        fprintf(f, " | %.4f", (double)step * c->hp.epochs / (double)c->hp.steps);
    double sum = 0;
    size_t count = 0;
    for (size_t j = prev_end; j <= row; j++)
        if (isfinite(c->history_loss[j])) {
            sum += c->history_loss[j];
            count++;
        }
    if (count)
        fprintf(f, " | %.4f", sum / (double)count);
    else
        fputs(" | -", f);
    if (c->history_lr)
        fprintf(f, " | %.3e", c->history_lr[row]);
    for (size_t k = 0; k < n_columns; k++) {
        const model_card_eval *col = &c->evals[columns[k]];
        const model_card_eval *hit = NULL;
        for (size_t i = 0; i < c->n_evals; i++) {
            const model_card_eval *e = &c->evals[i];
            if (e->step >= 0 && e->step > prev_step && e->step <= step &&
                !strcmp(e->dataset, col->dataset) &&
                !strcmp(e->metric, col->metric))
                hit = e;
        }
        if (hit)
            fprintf(f, " | %.4f", hit->value);
        else
            fputs(" | -", f);
    }
    fputs(" |\n", f);
}

static semb_status write_training_logs(FILE *f, const model_card *c, semb_error *err)
{
    if (!c->n_history)
        return SEMB_OK;
    size_t *rows = malloc((LOG_TABLE_ROWS + c->n_evals) * sizeof *rows);
    size_t *columns = malloc((c->n_evals + 1) * sizeof *columns);
    if (!rows || !columns) {
        free(rows);
        free(columns);
        return semb_fail(err, SEMB_ERR_NOMEM, "model card: out of memory");
    }
    size_t n_rows = choose_log_rows(c, rows), n_columns = eval_columns(c, columns);
    fputs("### Training Logs\n\nTraining loss is the mean over the steps since the previous "
          "row.\n\n| Step", f);
    if (c->hp.epochs >= 0 && c->hp.steps > 0)
        fputs(" | Epoch", f);
    fputs(" | Training Loss", f);
    if (c->history_lr)
        fputs(" | Learning Rate", f);
    for (size_t k = 0; k < n_columns; k++) {
        fputs(" | ", f);
        put_md(f, c->evals[columns[k]].dataset);
        fputc(' ', f);
        put_md(f, c->evals[columns[k]].metric);
    }
    fputs(" |\n|-----:", f);
    if (c->hp.epochs >= 0 && c->hp.steps > 0)
        fputs("|------:", f);
    fputs("|--------------:", f);
    if (c->history_lr)
        fputs("|--------------:", f);
    for (size_t k = 0; k < n_columns; k++)
        fputs("|------:", f);
    fputs("|\n", f);
    size_t prev_end = 0;
    for (size_t r = 0; r < n_rows; r++) {
        write_log_row(f, c, rows[r], prev_end, columns, n_columns);
        prev_end = rows[r] + 1;
    }
    fputc('\n', f);
    free(rows);
    free(columns);
    return SEMB_OK;
}

static void write_framework_and_citations(FILE *f, const model_card *c)
{
    fprintf(f, "### Framework Versions\n- semb: %s (C; no Python, PyTorch or Transformers "
               "involved in training)\n- Saved in the sentence-transformers format\n\n",
            c->semb_version ? c->semb_version : SEMB_VERSION);
    fputs("## Citation\n\n### BibTeX\n\n#### Sentence Transformers\n```bibtex\n"
          "@inproceedings{reimers-2019-sentence-bert,\n"
          "    title = \"Sentence-BERT: Sentence Embeddings using Siamese BERT-Networks\",\n"
          "    author = \"Reimers, Nils and Gurevych, Iryna\",\n"
          "    booktitle = \"Proceedings of the 2019 Conference on Empirical Methods in Natural "
          "Language Processing\",\n"
          "    month = \"11\",\n    year = \"2019\",\n"
          "    publisher = \"Association for Computational Linguistics\",\n"
          "    url = \"https://arxiv.org/abs/1908.10084\",\n}\n```\n\n", f);
    fputs("#### MultipleNegativesRankingLoss\n```bibtex\n@misc{henderson2017efficient,\n"
          "    title={Efficient Natural Language Response Suggestion for Smart Reply},\n"
          "    author={Matthew Henderson and Rami Al-Rfou and Brian Strope and Yun-hsuan Sung and "
          "Laszlo Lukacs and Ruiqi Guo and Sanjiv Kumar and Balint Miklos and Ray Kurzweil},\n"
          "    year={2017},\n    eprint={1705.00652},\n    archivePrefix={arXiv},\n"
          "    primaryClass={cs.CL}\n}\n```\n", f);
    if (uses_gradcache(&c->hp))
        fprintf(f, "\n#### %s\n```bibtex\n@misc{gao2021scaling,\n"
                   "    title={Scaling Deep Contrastive Learning Batch Size under Memory Limited "
                   "Setup},\n"
                   "    author={Luyu Gao and Yunyi Zhang and Jiawei Han and Jamie Callan},\n"
                   "    year={2021},\n    eprint={2101.06983},\n    archivePrefix={arXiv},\n"
                   "    primaryClass={cs.LG}\n}\n```\n",
                loss_class(&c->hp));
}

static semb_status check_card(const model_card *c, semb_error *err)
{
    if ((c->n_datasets && !c->datasets) || (c->n_evals && !c->evals) ||
        (c->n_history && (!c->history_steps || !c->history_loss)))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "model card: a list has a count but no data");
    for (size_t i = 0; i < c->n_datasets; i++)
        if (!c->datasets[i].name)
            return semb_fail(err, SEMB_ERR_INVALID_ARG, "model card: dataset %zu has no name", i);
    for (size_t i = 0; i < c->n_evals; i++)
        if (!c->evals[i].dataset || !c->evals[i].metric)
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "model card: evaluation %zu has no dataset or metric name", i);
    return SEMB_OK;
}

semb_status model_card_render(const model_card *c, const char *plot_file, char **markdown,
                              semb_error *err)
{
    *markdown = NULL;
    semb_status st = check_card(c, err);
    if (st)
        return st;
    char *buf = NULL;
    size_t size = 0;
    FILE *f = open_memstream(&buf, &size);
    if (!f)
        return semb_fail(err, SEMB_ERR_NOMEM, "model card: out of memory");
    write_front_matter(f, c);
    write_description(f, c);
    write_usage(f, c);
    write_evaluation(f, c);
    write_datasets(f, c);
    write_loss(f, c);
    write_hyperparameters(f, c);
    write_results(f, c, plot_file);
    st = write_training_logs(f, c, err);
    if (!st)
        write_framework_and_citations(f, c);
    bool failed = ferror(f) != 0;
    if (fclose(f) != 0 || failed || !buf) {
        free(buf);
        return st ? st : semb_fail(err, SEMB_ERR_NOMEM, "model card: out of memory");
    }
    if (st) {
        free(buf);
        return st;
    }
    *markdown = buf;
    return SEMB_OK;
}

/* The evaluation drawn on the loss chart: the first (dataset, metric) measured during
 * training, all its points. */
static semb_status write_plot(const model_card *c, const char *path, semb_error *err)
{
    loss_plot_input in = {.steps = c->history_steps, .loss = c->history_loss, .n = c->n_history};
    int64_t *eval_steps = malloc((c->n_evals + 1) * sizeof *eval_steps);
    double *eval_values = malloc((c->n_evals + 1) * sizeof *eval_values);
    char label[256] = "";
    if (!eval_steps || !eval_values) {
        free(eval_steps);
        free(eval_values);
        return semb_fail(err, SEMB_ERR_NOMEM, "model card: out of memory");
    }
    const model_card_eval *shown = NULL;
    for (size_t i = 0; i < c->n_evals; i++) {
        const model_card_eval *e = &c->evals[i];
        if (e->step < 0)
            continue;
        if (!shown) {
            shown = e;
            snprintf(label, sizeof label, "%s %s", e->dataset, e->metric);
        }
        if (!strcmp(e->dataset, shown->dataset) && !strcmp(e->metric, shown->metric)) {
            eval_steps[in.n_eval] = e->step;
            eval_values[in.n_eval++] = e->value;
        }
    }
    in.eval_steps = eval_steps;
    in.eval_values = eval_values;
    in.eval_label = shown ? label : NULL;
    semb_status st = loss_plot_write_svg(path, &in, err);
    free(eval_steps);
    free(eval_values);
    return st;
}

semb_status model_card_write(const model_card *c, const char *dir, semb_error *err)
{
    char *card_path = path_join(dir, MODEL_CARD_FILE);
    char *plot_path = path_join(dir, MODEL_CARD_PLOT_FILE);
    char *markdown = NULL;
    semb_status st = SEMB_OK;
    if (!card_path || !plot_path)
        st = semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory", dir);
    const char *plot_file = c->n_history ? MODEL_CARD_PLOT_FILE : NULL;
    if (!st && plot_file)
        st = write_plot(c, plot_path, err);
    if (!st)
        st = model_card_render(c, plot_file, &markdown, err);
    if (!st)
        st = atomic_write_buffer(card_path, markdown, strlen(markdown), err);
    free(markdown);
    free(card_path);
    free(plot_path);
    return st;
}

void model_card_describe_model(const semb_model *model, model_card_model *out)
{
    static const char *const class_names[] = {
        [ENCODER_BERT] = "BertModel", [ENCODER_DISTILBERT] = "DistilBertModel",
        [ENCODER_MPNET] = "MPNetModel"};
    const encoder_config *cfg = &model->config;
    memset(out, 0, sizeof *out);
    out->architecture = class_names[cfg->arch];
    out->vocab_size = cfg->vocab_size;
    out->hidden_size = cfg->hidden_size;
    out->num_layers = cfg->num_layers;
    out->num_heads = cfg->num_heads;
    out->intermediate_size = cfg->intermediate_size;
    out->max_seq_length = model->max_seq_length;
    out->output_dim = pooling_output_dim(&model->pooling);
    for (size_t i = 0; i < model->params.n_tensors; i++)
        out->n_parameters += (int64_t)model->params.tensors[i].numel;
    unsigned modes = model->pooling.modes;
    out->pooling_cls = modes & POOLING_CLS;
    out->pooling_mean = modes & POOLING_MEAN;
    out->pooling_max = modes & POOLING_MAX;
    out->pooling_mean_sqrt_len = modes & POOLING_MEAN_SQRT_LEN;
    out->pooling_weighted_mean = modes & POOLING_WEIGHTED_MEAN;
    out->pooling_last_token = modes & POOLING_LAST_TOKEN;
    out->include_prompt = model->pooling.include_prompt;
    out->normalize = model->normalize;
}
