/* A dataset of anchor -> positive pairs: cleaning and dedup on the way in, and on the way out
 * a held-out split that shares no text with the train split. */
#include <ctype.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "corpus/corpus_internal.h"
#include "io/atomic_file.h"
#include "text/utf8.h"

enum { MIN_POSITIVE_BYTES = 10, MIN_POSITIVE_WORDS = 2 };

static semb_status hash_set_grow(corpus_hash_set *set, semb_error *err)
{
    size_t capacity = set->capacity ? set->capacity * 2 : 1024;
    uint64_t *slots = calloc(capacity, sizeof *slots);
    if (!slots)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory (hash set of %zu)", capacity);
    for (size_t i = 0; i < set->capacity; i++) {
        uint64_t h = set->slots[i];
        if (!h)
            continue;
        size_t j = h & (capacity - 1);
        while (slots[j])
            j = (j + 1) & (capacity - 1);
        slots[j] = h;
    }
    free(set->slots);
    set->slots = slots;
    set->capacity = capacity;
    return SEMB_OK;
}

semb_status corpus_hash_set_add(corpus_hash_set *set, uint64_t h, bool *added, semb_error *err)
{
    if (!h)
        h = 1;
    if (2 * (set->count + 1) > set->capacity) {
        semb_status st = hash_set_grow(set, err);
        if (st)
            return st;
    }
    size_t j = h & (set->capacity - 1);
    while (set->slots[j] && set->slots[j] != h)
        j = (j + 1) & (set->capacity - 1);
    *added = !set->slots[j];
    if (*added) {
        set->slots[j] = h;
        set->count++;
    }
    return SEMB_OK;
}

void corpus_hash_set_free(corpus_hash_set *set)
{
    free(set->slots);
    *set = (corpus_hash_set){0};
}

void corpus_pairs_init(corpus_pairs *p, size_t max_chars)
{
    *p = (corpus_pairs){.max_chars = max_chars ? max_chars : 1000};
}

void corpus_pairs_free(corpus_pairs *p)
{
    for (size_t i = 0; i < p->count; i++) {
        free(p->anchors[i]);
        free(p->positives[i]);
    }
    free(p->anchors);
    free(p->positives);
    corpus_hash_set_free(&p->seen);
    *p = (corpus_pairs){0};
}

size_t corpus_pairs_dropped(const corpus_pairs *p)
{
    return p->dropped_short + p->dropped_long + p->dropped_utf8 + p->dropped_duplicate +
           p->dropped_same;
}

/* Copies s with every run of ASCII whitespace made one space, trimmed at both ends. */
static char *collapse_whitespace(const char *s, size_t n, size_t *out_len, size_t *words)
{
    char *out = malloc(n + 1);
    if (!out)
        return NULL;
    size_t len = 0;
    bool pending_space = false;
    *words = 0;
    for (size_t i = 0; i < n; i++) {
        if (isspace((unsigned char)s[i])) {
            pending_space = len > 0;
            continue;
        }
        if (pending_space)
            out[len++] = ' ';
        if (pending_space || len == 0)
            (*words)++;
        pending_space = false;
        out[len++] = s[i];
    }
    out[len] = '\0';
    *out_len = len;
    return out;
}

/* Cuts text (length *len > max) after its last sentence end within max bytes; false when
 * that would keep less than half of max. */
static bool cut_at_sentence(char *text, size_t *len, size_t max)
{
    for (size_t i = max; i > max / 2; i--) {
        char c = text[i - 1];
        if ((c == '.' || c == '!' || c == '?') && text[i] == ' ') {
            text[i] = '\0';
            *len = i;
            return true;
        }
    }
    return false;
}

static bool equal_ignoring_case(const char *a, const char *b)
{
    for (; *a && *b; a++, b++)
        if (tolower((unsigned char)*a) != tolower((unsigned char)*b))
            return false;
    return *a == *b;
}

static semb_status append_pair(corpus_pairs *p, char *anchor, char *positive, semb_error *err)
{
    if (p->count == p->capacity) {
        size_t capacity = p->capacity ? 2 * p->capacity : 1024;
        char **a = realloc(p->anchors, capacity * sizeof *a);
        if (a)
            p->anchors = a;
        char **b = a ? realloc(p->positives, capacity * sizeof *b) : NULL;
        if (!b)
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory (%zu pairs)", capacity);
        p->positives = b;
        p->capacity = capacity;
    }
    p->anchors[p->count] = anchor;
    p->positives[p->count] = positive;
    p->count++;
    return SEMB_OK;
}

semb_status corpus_pairs_add(corpus_pairs *p, const char *anchor, size_t anchor_len,
                             const char *positive, size_t positive_len, semb_error *err)
{
    if (!utf8_validate(anchor, anchor_len, NULL) || !utf8_validate(positive, positive_len, NULL)) {
        p->dropped_utf8++;
        return SEMB_OK;
    }
    size_t a_len, p_len, a_words, p_words;
    char *a = collapse_whitespace(anchor, anchor_len, &a_len, &a_words);
    char *b = a ? collapse_whitespace(positive, positive_len, &p_len, &p_words) : NULL;
    if (!b) {
        free(a);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    size_t *reason = NULL;
    if (a_len == 0 || p_len < MIN_POSITIVE_BYTES || p_words < MIN_POSITIVE_WORDS)
        reason = &p->dropped_short;
    else if (a_len > p->max_chars ||
             (p_len > p->max_chars && !cut_at_sentence(b, &p_len, p->max_chars)))
        reason = &p->dropped_long;
    else if (equal_ignoring_case(a, b))
        reason = &p->dropped_same;
    semb_status st = SEMB_OK;
    if (!reason) {
        bool added = false;
        uint64_t h = rng_hash_u64(corpus_hash(a, a_len), corpus_hash(b, p_len));
        st = corpus_hash_set_add(&p->seen, h, &added, err);
        if (!st && !added)
            reason = &p->dropped_duplicate;
    }
    if (!st && !reason && !(st = append_pair(p, a, b, err)))
        return SEMB_OK;
    if (reason)
        (*reason)++;
    free(a);
    free(b);
    return st;
}

/* ---- the held-out split ---- */

/* Texts of the dataset, each once, with a union-find forest over them. */
typedef struct text_graph {
    uint64_t *keys;   /* open addressing: text hash, 0 = empty */
    size_t *node;     /* slot -> node index */
    size_t capacity;
    size_t *parent;   /* node -> parent node */
    uint64_t *hashes; /* node -> text hash */
    size_t count;
} text_graph;

static size_t graph_node(text_graph *g, const char *text)
{
    uint64_t h = corpus_hash(text, strlen(text));
    if (!h)
        h = 1;
    size_t j = h & (g->capacity - 1);
    while (g->keys[j] && g->keys[j] != h)
        j = (j + 1) & (g->capacity - 1);
    if (!g->keys[j]) {
        g->keys[j] = h;
        g->node[j] = g->count;
        g->parent[g->count] = g->count;
        g->hashes[g->count] = h;
        g->count++;
    }
    return g->node[j];
}

static size_t graph_root(text_graph *g, size_t x)
{
    while (g->parent[x] != x) {
        g->parent[x] = g->parent[g->parent[x]];
        x = g->parent[x];
    }
    return x;
}

typedef struct component {
    uint64_t key;
    size_t root, pairs;
} component;

static int compare_components(const void *a, const void *b)
{
    const component *x = a, *y = b;
    if (x->key != y->key)
        return x->key < y->key ? -1 : 1;
    return x->root < y->root ? -1 : x->root > y->root;
}

/* Sets heldout[i] for the pairs chosen (see corpus_pairs_write); returns how many. */
static size_t choose_heldout(const corpus_pairs *p, double held_out, uint64_t seed, bool *heldout,
                             semb_error *err, semb_status *st)
{
    /* the epsilon keeps 0.02 * 50 (which is 1 + 2e-17 in binary) at 1 */
    size_t target = held_out < 1 ? (size_t)ceil(held_out * (double)p->count - 1e-9)
                                 : (size_t)held_out;
    if (p->count < 2 || target == 0)
        return 0;
    if (target >= p->count)
        target = p->count - 1; /* a dataset with no train pairs is useless to the trainer */
    text_graph g = {0};
    g.capacity = 16;
    while (g.capacity < 4 * p->count)
        g.capacity *= 2;
    g.keys = calloc(g.capacity, sizeof *g.keys);
    g.node = malloc(g.capacity * sizeof *g.node);
    g.parent = malloc(2 * p->count * sizeof *g.parent);
    g.hashes = malloc(2 * p->count * sizeof *g.hashes);
    size_t *pair_root = malloc(p->count * sizeof *pair_root);
    size_t *comp_of_root = malloc(2 * p->count * sizeof *comp_of_root);
    component *comps = malloc(p->count * sizeof *comps);
    size_t taken = 0, n_comps = 0;
    if (!g.keys || !g.node || !g.parent || !g.hashes || !pair_root || !comp_of_root || !comps) {
        *st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory (split of %zu pairs)", p->count);
        goto done;
    }
    for (size_t i = 0; i < p->count; i++) {
        size_t a = graph_root(&g, graph_node(&g, p->anchors[i]));
        size_t b = graph_root(&g, graph_node(&g, p->positives[i]));
        g.parent[b] = a;
    }
    for (size_t n = 0; n < g.count; n++)
        comp_of_root[n] = SIZE_MAX;
    for (size_t i = 0; i < p->count; i++) {
        size_t r = graph_root(&g, graph_node(&g, p->anchors[i]));
        pair_root[i] = r;
        if (comp_of_root[r] == SIZE_MAX) {
            comp_of_root[r] = n_comps;
            /* keyed by the root's text, so the order does not depend on the input order */
            comps[n_comps++] = (component){rng_hash_u64(g.hashes[r], seed), r, 0};
        }
        comps[comp_of_root[r]].pairs++;
    }
    qsort(comps, n_comps, sizeof *comps, compare_components);
    bool *comp_heldout = calloc(g.count, sizeof *comp_heldout);
    if (!comp_heldout) {
        *st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        goto done;
    }
    for (size_t c = 0; c < n_comps && taken < target; c++)
        if (taken + comps[c].pairs <= target) {
            comp_heldout[comps[c].root] = true;
            taken += comps[c].pairs;
        }
    for (size_t i = 0; i < p->count; i++)
        heldout[i] = comp_heldout[pair_root[i]];
    free(comp_heldout);
done:
    free(g.keys);
    free(g.node);
    free(g.parent);
    free(g.hashes);
    free(pair_root);
    free(comp_of_root);
    free(comps);
    return taken;
}

/* Writes s as a JSON string: quotes, backslashes and control characters escaped, UTF-8 as is
 * (the text was validated when added). */
static void write_json_string(FILE *fp, const char *s)
{
    fputc('"', fp);
    for (; *s; s++) {
        unsigned char c = (unsigned char)*s;
        if (c == '"' || c == '\\')
            fprintf(fp, "\\%c", c);
        else if (c < 0x20)
            fprintf(fp, "\\u%04x", c);
        else
            fputc(c, fp);
    }
    fputc('"', fp);
}

static semb_status write_split(const corpus_pairs *p, const size_t *order, size_t n,
                               const char *path, semb_error *err)
{
    atomic_file af;
    semb_status st = atomic_file_open(&af, path, err);
    if (st)
        return st;
    for (size_t k = 0; k < n; k++) {
        fputs("{\"anchor\": ", af.fp);
        write_json_string(af.fp, p->anchors[order[k]]);
        fputs(", \"positive\": ", af.fp);
        write_json_string(af.fp, p->positives[order[k]]);
        fputs("}\n", af.fp);
    }
    return atomic_file_commit(&af, err);
}

semb_status corpus_pairs_write(const corpus_pairs *p, const char *dir, const char *name,
                               double held_out, uint64_t seed, corpus_dataset_report *out,
                               semb_error *err)
{
    semb_status st = SEMB_OK;
    bool *heldout = calloc(p->count ? p->count : 1, sizeof *heldout);
    size_t *order = malloc((p->count ? p->count : 1) * sizeof *order);
    size_t path_size = strlen(dir) + strlen(name) + 32;
    char *path = malloc(path_size);
    if (!heldout || !order || !path) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        goto done;
    }
    size_t n_heldout = choose_heldout(p, held_out, seed, heldout, err, &st);
    if (st)
        goto done;
    size_t n_train = 0, h = p->count - n_heldout;
    for (size_t i = 0; i < p->count; i++) {
        if (heldout[i])
            order[h++] = i;
        else
            order[n_train++] = i;
    }
    rng_state rng;
    rng_seed(&rng, seed ^ corpus_hash(name, strlen(name)));
    for (size_t i = n_train; i > 1; i--) {
        size_t j = rng_next_u64(&rng) % i;
        size_t t = order[i - 1];
        order[i - 1] = order[j];
        order[j] = t;
    }
    snprintf(path, path_size, "%s/%s.train.jsonl", dir, name);
    if ((st = write_split(p, order, n_train, path, err)))
        goto done;
    snprintf(path, path_size, "%s/%s.heldout.jsonl", dir, name);
    if ((st = write_split(p, order + n_train, n_heldout, path, err)))
        goto done;
    out->train_pairs = n_train;
    out->heldout_pairs = n_heldout;
done:
    free(heldout);
    free(order);
    free(path);
    return st;
}
