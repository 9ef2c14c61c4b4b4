/* The model card (README.md as sentence-transformers writes it) and the SVG loss curve:
 * every field given appears, odd dataset names cannot break the Markdown tables or the YAML,
 * and the SVG is well-formed XML (xmllint when installed, plus a tag-balance check here) with
 * the expected number of points through the edge cases: one step, thousands of steps, NaN and
 * infinite losses, a constant loss, no data. */
#include "support.h"

#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "train/loss_plot.h"
#include "train/model_card.h"

/* ---- XML checks ------------------------------------------------------------------------ */

/* A small well-formedness check: every tag closes in order, attribute values are quoted,
 * and text and attributes hold no raw '<' or an '&' that does not start an entity. */
static void assert_xml_balanced(const char *xml)
{
    char stack[64][32];
    int depth = 0, roots = 0;
    const char *p = xml;
    if (strncmp(p, "<?xml", 5) == 0)
        p = strstr(p, "?>") + 2;
    while (*p) {
        if (*p == '&') {
            const char *end = strchr(p, ';');
            if (!end || end - p > 6 || end == p + 1)
                fail_msg("bare '&' at offset %td", p - xml);
            p = end + 1;
            continue;
        }
        if (*p != '<') {
            p++;
            continue;
        }
        bool closing = p[1] == '/';
        const char *name = p + (closing ? 2 : 1);
        size_t len = strcspn(name, " \t\n/>");
        if (len == 0 || len >= sizeof stack[0])
            fail_msg("bad tag name at offset %td", p - xml);
        const char *q = name + len;
        bool quoted = false;
        for (; *q && (quoted || *q != '>'); q++) {
            if (*q == '"')
                quoted = !quoted;
            else if (*q == '<')
                fail_msg("'<' inside a tag at offset %td", q - xml);
        }
        if (!*q)
            fail_msg("unterminated tag at offset %td", p - xml);
        bool self_closing = q[-1] == '/';
        if (closing) {
            if (depth == 0 || strncmp(stack[depth - 1], name, len) != 0 ||
                stack[depth - 1][len] != '\0')
                fail_msg("</%.*s> does not close <%s>", (int)len, name,
                         depth ? stack[depth - 1] : "(nothing)");
            depth--;
        } else if (!self_closing) {
            if (depth == 0)
                roots++;
            assert_true(depth < 64);
            memcpy(stack[depth], name, len);
            stack[depth++][len] = '\0';
        } else if (depth == 0) {
            roots++;
        }
        p = q + 1;
    }
    assert_int_equal(depth, 0);
    assert_int_equal(roots, 1);
}

static bool have_xmllint(void)
{
    return system("command -v xmllint >/dev/null 2>&1") == 0;
}

static void assert_xml_file_valid(const char *path)
{
    char *xml = test_read_file(path, NULL);
    assert_xml_balanced(xml);
    free(xml);
    if (have_xmllint()) {
        char cmd[1024];
        snprintf(cmd, sizeof cmd, "xmllint --noout '%s'", path);
        if (system(cmd) != 0)
            fail_msg("xmllint rejects %s", path);
    }
}

/* Renders in memory and also through a file, which both checks see. */
static char *render_checked(const loss_plot_input *in, loss_plot_stats *stats)
{
    char *svg;
    semb_error err = {0};
    if (loss_plot_render_svg(in, &svg, stats, &err) != SEMB_OK)
        fail_msg("render: %s", err.message);
    assert_xml_balanced(svg);
    char *dir = test_make_temp_dir();
    char path[512];
    snprintf(path, sizeof path, "%s/loss.svg", dir);
    if (loss_plot_write_svg(path, in, &err) != SEMB_OK)
        fail_msg("write: %s", err.message);
    assert_xml_file_valid(path);
    char *written = test_read_file(path, NULL);
    assert_string_equal(written, svg);
    free(written);
    test_rmtree(dir);
    free(dir);
    /* Coordinates and labels are finite numbers, whatever the data. */
    const char *non_finite[] = {"\"nan", "\"-nan", "\"inf", "\"-inf", " nan,", " -nan", " inf,",
                                " -inf", ",nan", ",-nan", ",inf", ",-inf", ">nan", ">-nan",
                                ">inf", ">-inf"};
    for (size_t i = 0; i < sizeof non_finite / sizeof non_finite[0]; i++)
        if (strstr(svg, non_finite[i]))
            fail_msg("a non-finite number in the SVG: '%s'", non_finite[i]);
    return svg;
}

/* The (x, y) pairs of the polyline with this id; returns how many, fills ys if non-NULL. */
static size_t polyline_points(const char *svg, const char *id, double *ys, size_t cap)
{
    char key[64];
    snprintf(key, sizeof key, "id=\"%s\"", id);
    const char *at = strstr(svg, key);
    if (!at)
        fail_msg("no polyline %s", id);
    at = strstr(at, "points=\"") + strlen("points=\"");
    size_t n = 0;
    while (*at != '"') {
        double x, y;
        int used;
        if (sscanf(at, "%lf,%lf%n", &x, &y, &used) != 2)
            fail_msg("bad point in %s at '%.20s'", id, at);
        if (ys && n < cap)
            ys[n] = y;
        n++;
        at += used;
        while (*at == ' ')
            at++;
    }
    return n;
}

static size_t count_substrings(const char *s, const char *what)
{
    size_t n = 0;
    for (const char *p = strstr(s, what); p; p = strstr(p + 1, what))
        n++;
    return n;
}

/* ---- a realistic card ------------------------------------------------------------------- */

#define HISTORY 1000

typedef struct card_fixture {
    model_card card;
    model_card_dataset datasets[3];
    model_card_eval evals[5];
    int64_t steps[HISTORY];
    double loss[HISTORY], lr[HISTORY];
} card_fixture;

static void make_card(card_fixture *fx)
{
    memset(fx, 0, sizeof *fx);
    fx->datasets[0] = (model_card_dataset){"wordnet-glosses.jsonl.gz", 10, 117659, 3, 0};
    fx->datasets[1] = (model_card_dataset){"weird | name\nsecond line", 2.5, 1234567, 0, 1};
    fx->datasets[2] = (model_card_dataset){"debian_descriptions.tsv", 1, 64000, 0, 0};
    fx->evals[0] = (model_card_eval){"sts-dev", "spearman_cosine", 61.25, 250};
    fx->evals[1] = (model_card_eval){"sts-dev", "spearman_cosine", 70.5, 500};
    fx->evals[2] = (model_card_eval){"sts-dev", "spearman_cosine", 74.75, 1000};
    fx->evals[3] = (model_card_eval){"wordnet-heldout", "mrr@10", 0.6125, -1};
    fx->evals[4] = (model_card_eval){"sts-dev", "spearman_cosine", 75.125, -1};
    for (int i = 0; i < HISTORY; i++) {
        fx->steps[i] = i + 1;
        fx->loss[i] = 0.4 + 3.0 * exp(-i / 150.0) + 0.05 * sin(i * 1.7);
        fx->lr[i] = 2e-5 * (i < 100 ? (i + 1) / 100.0 : (HISTORY - i) / 900.0);
    }
    fx->card = (model_card){
        .model = {.name = "semb-minilm-debian", .base_model = NULL, .architecture = "BertModel",
                  .vocab_size = 30522, .hidden_size = 384, .num_layers = 6, .num_heads = 12,
                  .intermediate_size = 1536, .max_seq_length = 128, .output_dim = 384,
                  .n_parameters = 22713216, .pooling_mean = true, .include_prompt = true,
                  .normalize = true},
        .datasets = fx->datasets, .n_datasets = 3,
        .hp = {.batch_size = 256, .mini_batch_size = 32, .learning_rate = 2e-5,
               .warmup_steps = 100, .scheduler = "cosine", .weight_decay = 0.01,
               .adam_beta1 = 0.9, .adam_beta2 = 0.999, .adam_epsilon = 1e-8,
               .max_grad_norm = 1.0, .dropout = 0.1, .steps = HISTORY, .epochs = 1.5,
               .seed = 12345, .datasets_per_batch = 2, .similarity = "cosine", .scale = 20,
               .symmetric = true, .training_seconds = 5400},
        .history_steps = fx->steps, .history_loss = fx->loss, .history_lr = fx->lr,
        .n_history = HISTORY, .final_loss = 0.4321, .evals = fx->evals, .n_evals = 5,
        .semb_version = "9.9.9-test"};
}

static char *render_card(const model_card *card, const char *plot)
{
    char *md;
    semb_error err = {0};
    if (model_card_render(card, plot, &md, &err) != SEMB_OK)
        fail_msg("render: %s", err.message);
    return md;
}

static void assert_contains(const char *text, const char *want)
{
    if (!strstr(text, want))
        fail_msg("missing: %s", want);
}

/* Unescaped '|' in a line. */
static int table_cells(const char *line, size_t len)
{
    int n = 0;
    for (size_t i = 0; i < len; i++) {
        if (line[i] == '\\') {
            i++;
            continue;
        }
        n += line[i] == '|';
    }
    return n;
}

/* Every Markdown table: each row has as many unescaped pipes as its header, and the table
 * ends at a blank line (a stray newline from a dataset name would leave a non-row line). */
static void assert_tables_consistent(const char *md, int min_tables)
{
    int tables = 0;
    const char *line = md;
    while (*line) {
        const char *end = strchr(line, '\n');
        size_t len = end ? (size_t)(end - line) : strlen(line);
        if (line[0] == '|') {
            int header = table_cells(line, len);
            tables++;
            while (end && end[1] == '|') {
                line = end + 1;
                end = strchr(line, '\n');
                len = end ? (size_t)(end - line) : strlen(line);
                if (table_cells(line, len) != header)
                    fail_msg("table row with %d cells under a header of %d: %.*s",
                             table_cells(line, len), header, (int)len, line);
            }
            if (end && end[1] != '\n')
                fail_msg("table not followed by a blank line: %.40s", end + 1);
        }
        line = end ? end + 1 : line + len;
    }
    assert_true(tables >= min_tables);
}

static void test_card_front_matter(void **state)
{
    card_fixture *fx = malloc(sizeof *fx);
    make_card(fx);
    char *md = render_card(&fx->card, MODEL_CARD_PLOT_FILE);
    assert_memory_equal(md, "---\ntags:\n- sentence-transformers\n- sentence-similarity\n"
                            "- feature-extraction\n- generated_from_trainer\n"
                            "- dataset_size:1416226\n"
                            "- loss:CachedMultipleNegativesSymmetricRankingLoss\n"
                            "pipeline_tag: sentence-similarity\n"
                            "library_name: sentence-transformers\n"
                            "datasets:\n- \"wordnet-glosses.jsonl.gz\"\n"
                            "- \"weird | name\\nsecond line\"\n- \"debian_descriptions.tsv\"\n"
                            "metrics:\n- \"spearman_cosine\"\n- \"mrr@10\"\n",
                        strlen("---\ntags:\n- sentence-transformers\n- sentence-similarity\n"
                               "- feature-extraction\n- generated_from_trainer\n"
                               "- dataset_size:1416226\n"
                               "- loss:CachedMultipleNegativesSymmetricRankingLoss\n"
                               "pipeline_tag: sentence-similarity\n"
                               "library_name: sentence-transformers\n"
                               "datasets:\n- \"wordnet-glosses.jsonl.gz\"\n"
                               "- \"weird | name\\nsecond line\"\n- \"debian_descriptions.tsv\"\n"
                               "metrics:\n- \"spearman_cosine\"\n- \"mrr@10\"\n"));
    /* The model-index holds the final result of each (dataset, metric), not the history. */
    assert_contains(md, "model-index:\n- name: \"semb-minilm-debian\"\n  results:\n");
    assert_contains(md, "      type: semantic-similarity\n");
    assert_contains(md, "      type: information-retrieval\n");
    assert_contains(md, "      value: 75.125\n");
    assert_contains(md, "      value: 0.6125\n");
    assert_null(strstr(md, "value: 70.5"));
    /* The front matter closes before the title. */
    assert_contains(md, "\n---\n\n# semb-minilm-debian\n");
    free(md);
    free(fx);
}

static void test_card_every_field(void **state)
{
    card_fixture *fx = malloc(sizeof *fx);
    make_card(fx);
    char *md = render_card(&fx->card, MODEL_CARD_PLOT_FILE);
    const char *want[] = {
        /* model description */
        "trained from scratch (random initialisation) with semb on 3 datasets",
        "384-dimensional dense vector space",
        "- **Architecture:** BertModel, 6 layers, hidden size 384, 12 attention heads, "
        "intermediate size 1536, vocabulary of 30,522 tokens, 22.7M parameters\n",
        "- **Maximum Sequence Length:** 128 tokens\n",
        "- **Output Dimensionality:** 384 dimensions\n",
        "- **Similarity Function:** Cosine Similarity\n",
        "- **Pooling:** mean\n",
        "- **Normalized:** yes",
        /* architecture as SentenceTransformer prints itself */
        "```\nSentenceTransformer(\n"
        "  (0): Transformer({'max_seq_length': 128, 'do_lower_case': False, "
        "'architecture': 'BertModel'})\n"
        "  (1): Pooling({'word_embedding_dimension': 384, 'pooling_mode_cls_token': False, "
        "'pooling_mode_mean_tokens': True, 'pooling_mode_max_tokens': False, "
        "'pooling_mode_mean_sqrt_len_tokens': False, 'pooling_mode_weightedmean_tokens': False, "
        "'pooling_mode_lasttoken': False, 'include_prompt': True})\n"
        "  (2): Normalize()\n)\n```\n",
        /* usage, Python and CLI */
        "from sentence_transformers import SentenceTransformer",
        "print(embeddings.shape)\n# [3, 384]\n",
        "semb encode --model path/to/this/model --input sentences.txt --output embeddings.npy",
        "semb similarity --model path/to/this/model",
        /* datasets with weights, shares and pair counts */
        "| wordnet-glosses.jsonl.gz | 10.0 | 74.1% | 117,659 | anchor, positive | 3 |\n",
        "| weird \\| name second line | 2.5 | 18.5% | 1,234,567 | anchor, positive, negative "
        "| 0 |\n",
        "| debian\\_descriptions.tsv | 1.0 | 7.4% | 64,000 | anchor, positive | 0 |\n",
        "* Total: 1,416,226 training pairs\n",
        "each batch is filled in equal shares from 2 datasets",
        /* loss and its parameters */
        "[<code>CachedMultipleNegativesSymmetricRankingLoss</code>](https://sbert.net/docs/"
        "package_reference/sentence_transformer/losses.html#"
        "cachedmultiplenegativessymmetricrankingloss)",
        "{\n    \"scale\": 20.0,\n    \"similarity_fct\": \"cos_sim\",\n"
        "    \"mini_batch_size\": 32\n}",
        /* every hyperparameter */
        "- `per_device_train_batch_size`: 256\n",
        "- `mini_batch_size`: 32 (GradCache)\n",
        "- `learning_rate`: 2e-05\n",
        "- `lr_scheduler_type`: cosine\n",
        "- `warmup_steps`: 100\n",
        "- `weight_decay`: 0.01\n",
        "- `adam_beta1`: 0.9\n",
        "- `adam_beta2`: 0.999\n",
        "- `adam_epsilon`: 1e-08\n",
        "- `max_grad_norm`: 1.0\n",
        "- `dropout`: 0.1\n",
        "- `max_steps`: 1000\n",
        "- `num_train_epochs`: 1.50\n",
        "- `seed`: 12345\n",
        "- `max_seq_length`: 128\n",
        "- `datasets_per_batch`: 2\n",
        "- `multi_dataset_batch_sampler`: proportional\n",
        /* results, curve, evaluation */
        "- Steps: 1,000\n",
        "- Training time: 5400 s (1.50 h)\n",
        "- Final training loss: 0.4321\n",
        "![Training loss](training_loss.svg)\n",
        "| sts-dev | spearman\\_cosine | 75.1250 | final |\n",
        "| wordnet-heldout | mrr@10 | 0.6125 | final |\n",
        "| Step | Epoch | Training Loss | Learning Rate | sts-dev spearman\\_cosine |\n",
        /* versions and citations */
        "- semb: 9.9.9-test",
        "@inproceedings{reimers-2019-sentence-bert,",
        "@misc{henderson2017efficient,",
        "@misc{gao2021scaling,",
    };
    for (size_t i = 0; i < sizeof want / sizeof want[0]; i++)
        assert_contains(md, want[i]);
    assert_tables_consistent(md, 3);
    free(md);
    free(fx);
}

/* Rows of the training-log table: about 25 evenly spaced plus each evaluation's step, with
 * the evaluation value on its row and the mean loss since the previous row. */
static void test_card_training_logs(void **state)
{
    card_fixture *fx = malloc(sizeof *fx);
    make_card(fx);
    char *md = render_card(&fx->card, MODEL_CARD_PLOT_FILE);
    const char *table = strstr(md, "| Step | Epoch |");
    assert_non_null(table);
    size_t rows = 0;
    for (const char *line = strchr(table, '\n') + 1; *line == '|'; line = strchr(line, '\n') + 1)
        rows++;
    rows -= 1; /* the alignment row */
    assert_int_equal(rows, 25);
    assert_contains(table, "| 1 | 0.0015 | 3.4000 | 2.000e-07 | - |\n");
    assert_contains(table, "| 250 | 0.3750 |");
    assert_contains(table, " | 61.2500 |\n");
    assert_contains(table, " | 70.5000 |\n");
    assert_contains(table, "| 1,000 | 1.5000 |");
    assert_contains(table, " | 74.7500 |\n");
    free(md);
    free(fx);
}

static void test_card_minimal(void **state)
{
    /* One dataset, no GradCache, dot product, plain MNRL, nothing evaluated or logged. */
    model_card_dataset d = {"pairs.jsonl", 0, 500, 0, 0};
    model_card card = {
        .model = {.architecture = "MPNetModel", .vocab_size = 30527, .hidden_size = 768,
                  .num_layers = 12, .num_heads = 12, .intermediate_size = 3072,
                  .max_seq_length = 384, .output_dim = 1536, .pooling_cls = true,
                  .pooling_max = true, .base_model = "models/start"},
        .datasets = &d, .n_datasets = 1,
        .hp = {.batch_size = 32, .learning_rate = 1e-4, .scheduler = "linear",
               .max_grad_norm = 0, .steps = 10, .epochs = -1, .similarity = "dot", .scale = 1,
               .training_seconds = -1},
        .final_loss = NAN};
    char *md = render_card(&card, NULL);
    assert_contains(md, "- loss:MultipleNegativesRankingLoss\n");
    assert_contains(md, "- dataset_size:500\n");
    assert_contains(md, "finetuned from models/start with semb on pairs.jsonl.");
    assert_contains(md, "- **Similarity Function:** Dot Product\n");
    assert_contains(md, "- **Pooling:** CLS token + max\n");
    assert_contains(md, "- **Normalized:** no\n");
    assert_contains(md, "\"similarity_fct\": \"dot_score\"\n}");
    assert_contains(md, "- `mini_batch_size`: None");
    assert_contains(md, "- `max_grad_norm`: None (no clipping)\n");
    assert_contains(md, "- Final training loss: not recorded\n");
    assert_contains(md, "| pairs.jsonl | - | - | 500 | anchor, positive | 0 |\n");
    assert_contains(md, "@misc{henderson2017efficient,");
    assert_null(strstr(md, "Normalize()"));
    assert_null(strstr(md, "gao2021scaling"));
    assert_null(strstr(md, "metrics:"));
    assert_null(strstr(md, "model-index"));
    assert_null(strstr(md, "## Evaluation"));
    assert_null(strstr(md, "Training Logs"));
    assert_null(strstr(md, "!["));
    assert_null(strstr(md, "num_train_epochs"));
    assert_null(strstr(md, "datasets_per_batch"));
    assert_null(strstr(md, "Training time"));
    free(md);
}

static void test_card_final_loss_from_history(void **state)
{
    int64_t steps[80];
    double loss[80];
    for (int i = 0; i < 80; i++) {
        steps[i] = i + 1;
        loss[i] = i < 30 ? 5.0 : 1.0;
    }
    loss[79] = NAN; /* left out of the mean: the window reaches one step further back */
    model_card card = {.model = {.architecture = "BertModel", .output_dim = 8},
                       .hp = {.steps = 80, .epochs = -1, .training_seconds = -1},
                       .history_steps = steps, .history_loss = loss, .n_history = 80,
                       .final_loss = NAN};
    char *md = render_card(&card, "my plot (1).svg");
    /* Losses 30..78 are 1.0 (49 of them) and loss 29 is 5.0: (49 + 5) / 50. */
    assert_contains(md, "- Final training loss: 1.0800 (mean of the last 50 logged steps)\n");
    assert_contains(md, "![Training loss](my%20plot%20%281%29.svg)\n");
    assert_contains(md, "| Step | Training Loss |\n");
    free(md);
}

static void test_card_escaping(void **state)
{
    model_card_dataset d = {"a|b\nc*d_<e>`[x](y)&\"q\"\\", 1, 7, 0, 0};
    model_card_eval e = {"dev|set\n2", "spearman\"x", 0.5, -1};
    model_card card = {.model = {.name = "my *model*\n| evil", .architecture = "BertModel",
                                 .output_dim = 8},
                       .datasets = &d, .n_datasets = 1, .evals = &e, .n_evals = 1,
                       .hp = {.steps = 1, .epochs = -1, .training_seconds = -1},
                       .final_loss = 1};
    char *md = render_card(&card, NULL);
    const char *escaped = "a\\|b c\\*d\\_&lt;e&gt;\\`\\[x\\](y)&amp;\"q\"\\\\";
    assert_contains(md, escaped);
    assert_contains(md, "- \"a|b\\nc*d_<e>`[x](y)&\\\"q\\\"\\\\\"\n");
    assert_contains(md, "# my \\*model\\* \\| evil\n");
    assert_contains(md, "- name: \"my *model*\\n| evil\"\n");
    assert_contains(md, "| dev\\|set 2 | spearman\"x | 0.5000 | final |\n");
    assert_contains(md, "    - type: \"spearman\\\"x\"\n");
    /* No raw newline from a name anywhere: each name line holds the whole escaped name. */
    assert_null(strstr(md, "\nc*d"));
    assert_null(strstr(md, "\n| evil"));
    assert_tables_consistent(md, 2);
    free(md);
}

static void test_card_bad_input(void **state)
{
    model_card card = {.n_datasets = 2};
    char *md = (char *)1;
    semb_error err = {0};
    assert_int_equal(model_card_render(&card, NULL, &md, &err), SEMB_ERR_INVALID_ARG);
    assert_null(md);
    model_card_dataset d = {NULL, 1, 1, 0, 0};
    card.datasets = &d;
    card.n_datasets = 1;
    assert_int_equal(model_card_render(&card, NULL, &md, &err), SEMB_ERR_INVALID_ARG);
    assert_non_null(strstr(err.message, "dataset 0"));
}

static void test_card_write(void **state)
{
    card_fixture *fx = malloc(sizeof *fx);
    make_card(fx);
    char *dir = test_make_temp_dir();
    semb_error err = {0};
    if (model_card_write(&fx->card, dir, &err) != SEMB_OK)
        fail_msg("write: %s", err.message);
    char path[512];
    snprintf(path, sizeof path, "%s/%s", dir, MODEL_CARD_FILE);
    char *md = test_read_file(path, NULL);
    char *rendered = render_card(&fx->card, MODEL_CARD_PLOT_FILE);
    assert_string_equal(md, rendered);
    snprintf(path, sizeof path, "%s/%s", dir, MODEL_CARD_PLOT_FILE);
    assert_xml_file_valid(path);
    char *svg = test_read_file(path, NULL);
    assert_int_equal(polyline_points(svg, "loss-raw", NULL, 0), HISTORY);
    /* The evaluation drawn is the first one measured during training: its three points. */
    assert_int_equal(count_substrings(svg, "class=\"eval-marker\""), 3);
    assert_non_null(strstr(svg, ">sts-dev spearman_cosine</text>"));
    free(svg);
    free(md);
    free(rendered);
    /* A folder that is not there: an error naming the file, and nothing written. */
    char missing[512];
    snprintf(missing, sizeof missing, "%s/no/such/folder", dir);
    assert_int_not_equal(model_card_write(&fx->card, missing, &err), SEMB_OK);
    assert_non_null(strstr(err.message, missing));
    struct stat sb;
    assert_int_not_equal(stat(missing, &sb), 0);
    /* No history: no plot file, no image link. */
    char *dir2 = test_make_temp_dir();
    fx->card.n_history = 0;
    assert_int_equal(model_card_write(&fx->card, dir2, &err), SEMB_OK);
    snprintf(path, sizeof path, "%s/%s", dir2, MODEL_CARD_PLOT_FILE);
    assert_int_not_equal(stat(path, &sb), 0);
    test_rmtree(dir);
    test_rmtree(dir2);
    free(dir);
    free(dir2);
    free(fx);
}

static void test_describe_model(void **state)
{
    if (!test_shared_dir())
        skip();
    semb_model *model;
    semb_error err = {0};
    if (semb_model_load(test_shared_path("fixtures/bert-tiny-mean"), &model, &err) != SEMB_OK)
        fail_msg("%s", err.message);
    model_card_model m;
    model_card_describe_model(model, &m);
    assert_string_equal(m.architecture, "BertModel");
    assert_int_equal(m.output_dim, m.hidden_size);
    assert_true(m.hidden_size > 0 && m.num_layers > 0 && m.num_heads > 0 && m.vocab_size > 0);
    assert_true(m.pooling_mean);
    assert_false(m.pooling_cls || m.pooling_max || m.pooling_last_token);
    assert_true(m.max_seq_length > 0);
    /* Embeddings alone are vocab x hidden; the count covers at least those. */
    assert_true(m.n_parameters > (int64_t)m.vocab_size * m.hidden_size);
    semb_model_free(model);
}

/* ---- the SVG chart ------------------------------------------------------------------------ */

/* The plot area's top and bottom in the 800 x 450 chart (loss_plot.c's margins). */
#define PLOT_TOP 70
#define PLOT_BOTTOM (450 - 64)

static void make_series(int64_t *steps, double *loss, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        steps[i] = (int64_t)i + 1;
        loss[i] = 0.5 + 2.5 * exp(-(double)i / ((double)n / 5 + 1)) + 0.1 * sin((double)i);
    }
}

static void test_svg_point_counts(void **state)
{
    const size_t sizes[] = {1, 2, 37, 1999, 2000, 2001, 5000, 100000};
    const size_t raw[] = {1, 2, 37, 1999, 2000, 2000, 2000, 2000};
    for (size_t k = 0; k < sizeof sizes / sizeof sizes[0]; k++) {
        size_t n = sizes[k];
        int64_t *steps = malloc(n * sizeof *steps);
        double *loss = malloc(n * sizeof *loss);
        make_series(steps, loss, n);
        loss_plot_input in = {.steps = steps, .loss = loss, .n = n};
        loss_plot_stats stats;
        char *svg = render_checked(&in, &stats);
        assert_int_equal(stats.raw_points, raw[k]);
        assert_int_equal(stats.smooth_points, raw[k]);
        assert_int_equal(polyline_points(svg, "loss-raw", NULL, 0), raw[k]);
        assert_int_equal(polyline_points(svg, "loss-smooth", NULL, 0), raw[k]);
        assert_int_equal(stats.skipped, 0);
        assert_null(strstr(svg, "skipped-note"));
        assert_non_null(strstr(svg, "<title>Training loss</title>"));
        assert_non_null(strstr(svg, ">step</text>"));
        assert_non_null(strstr(svg, ">loss</text>"));
        /* One step alone is also drawn as a dot (a one-point line is invisible). */
        assert_int_equal(strstr(svg, "<circle") != NULL, n == 1);
        free(svg);
        free(steps);
        free(loss);
    }
}

static void test_svg_non_finite(void **state)
{
    int64_t steps[100];
    double loss[100];
    make_series(steps, loss, 100);
    const int bad[] = {0, 13, 14, 50, 77, 98, 99};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        loss[bad[i]] = i % 3 == 0 ? NAN : i % 3 == 1 ? INFINITY : -INFINITY;
    loss_plot_input in = {.steps = steps, .loss = loss, .n = 100};
    loss_plot_stats stats;
    char *svg = render_checked(&in, &stats);
    assert_int_equal(stats.raw_points, 93);
    assert_int_equal(polyline_points(svg, "loss-raw", NULL, 0), 93);
    assert_int_equal(polyline_points(svg, "loss-smooth", NULL, 0), 93);
    assert_int_equal(stats.skipped, 7);
    assert_non_null(strstr(svg, "7 non-finite values (NaN or infinity) left out"));
    free(svg);
}

static void test_svg_constant_loss(void **state)
{
    int64_t steps[50];
    double loss[50], ys[50];
    for (int i = 0; i < 50; i++) {
        steps[i] = i + 1;
        loss[i] = 2.0;
    }
    loss_plot_input in = {.steps = steps, .loss = loss, .n = 50};
    char *svg = render_checked(&in, NULL);
    assert_int_equal(polyline_points(svg, "loss-raw", ys, 50), 50);
    /* A flat line inside the plot area (not on its edge), between distinct tick labels. */
    for (int i = 0; i < 50; i++)
        assert_true(ys[i] == ys[0]);
    assert_true(ys[0] > PLOT_TOP + 1 && ys[0] < PLOT_BOTTOM - 1);
    assert_non_null(strstr(svg, ">2.0</text>"));
    assert_non_null(strstr(svg, ">1.8</text>"));
    assert_non_null(strstr(svg, ">2.2</text>"));
    free(svg);
}

static void test_svg_keeps_spikes(void **state)
{
    size_t n = 5000;
    int64_t *steps = malloc(n * sizeof *steps);
    double *loss = malloc(n * sizeof *loss);
    double *ys = malloc(2000 * sizeof *ys);
    make_series(steps, loss, n);
    loss[2501] = 100; /* one step in a 5-point bucket */
    loss_plot_input in = {.steps = steps, .loss = loss, .n = n};
    char *svg = render_checked(&in, NULL);
    size_t count = polyline_points(svg, "loss-raw", ys, 2000);
    assert_int_equal(count, 2000);
    /* The axis now runs up to 100; only the spike reaches the upper half of the plot. */
    size_t high = 0;
    for (size_t i = 0; i < count; i++)
        high += ys[i] < (PLOT_TOP + PLOT_BOTTOM) / 2.0;
    assert_int_equal(high, 1);
    free(svg);
    free(steps);
    free(loss);
    free(ys);
}

static void test_svg_eval_markers(void **state)
{
    int64_t steps[300];
    double loss[300];
    make_series(steps, loss, 300);
    int64_t eval_steps[] = {100, 200, 250, 300};
    double eval_values[] = {55.5, NAN, 70.25, 72};
    loss_plot_input in = {.steps = steps, .loss = loss, .n = 300, .eval_steps = eval_steps,
                          .eval_values = eval_values, .n_eval = 4,
                          .eval_label = "STS <dev> & \"test\"", .title = "Loss of 'run' <1>"};
    loss_plot_stats stats;
    char *svg = render_checked(&in, &stats);
    assert_int_equal(stats.eval_points, 3);
    assert_int_equal(stats.skipped, 1);
    assert_int_equal(count_substrings(svg, "class=\"eval-marker\""), 3);
    assert_non_null(strstr(svg, "STS &lt;dev&gt; &amp; &quot;test&quot;"));
    assert_non_null(strstr(svg, "<title>Loss of &apos;run&apos; &lt;1&gt;</title>"));
    assert_non_null(strstr(svg, "<title>step 250: 70.25</title>"));
    assert_non_null(strstr(svg, "1 non-finite value (NaN or infinity) left out"));
    free(svg);
}

static void test_svg_no_data_and_errors(void **state)
{
    loss_plot_input empty = {0};
    loss_plot_stats stats;
    char *svg = render_checked(&empty, &stats);
    assert_int_equal(stats.raw_points, 0);
    assert_non_null(strstr(svg, "no finite loss values to plot"));
    free(svg);
    int64_t steps[3] = {1, 2, 3};
    double nan_loss[3] = {NAN, NAN, INFINITY};
    loss_plot_input all_bad = {.steps = steps, .loss = nan_loss, .n = 3};
    svg = render_checked(&all_bad, &stats);
    assert_int_equal(stats.skipped, 3);
    assert_non_null(strstr(svg, "no finite loss values to plot"));
    free(svg);

    semb_error err = {0};
    int64_t backwards[3] = {1, 3, 2};
    double loss[3] = {1, 2, 3};
    loss_plot_input bad = {.steps = backwards, .loss = loss, .n = 3};
    svg = (char *)1;
    assert_int_equal(loss_plot_render_svg(&bad, &svg, NULL, &err), SEMB_ERR_INVALID_ARG);
    assert_null(svg);
    assert_non_null(strstr(err.message, "backwards at point 2"));
    loss_plot_input missing = {.n = 3};
    assert_int_equal(loss_plot_render_svg(&missing, &svg, NULL, &err), SEMB_ERR_INVALID_ARG);
    /* A failed write names the file and leaves nothing. */
    loss_plot_input ok = {.steps = steps, .loss = loss, .n = 3};
    assert_int_not_equal(loss_plot_write_svg("/nonexistent-dir/loss.svg", &ok, &err), SEMB_OK);
    assert_non_null(strstr(err.message, "/nonexistent-dir/loss.svg"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_card_front_matter),
        cmocka_unit_test(test_card_every_field),
        cmocka_unit_test(test_card_training_logs),
        cmocka_unit_test(test_card_minimal),
        cmocka_unit_test(test_card_final_loss_from_history),
        cmocka_unit_test(test_card_escaping),
        cmocka_unit_test(test_card_bad_input),
        cmocka_unit_test(test_card_write),
        cmocka_unit_test(test_describe_model),
        cmocka_unit_test(test_svg_point_counts),
        cmocka_unit_test(test_svg_non_finite),
        cmocka_unit_test(test_svg_constant_loss),
        cmocka_unit_test(test_svg_keeps_spikes),
        cmocka_unit_test(test_svg_eval_markers),
        cmocka_unit_test(test_svg_no_data_and_errors),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
