#include "eval/paraphrase_eval.h"

#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "eval/paraphrase_mining.h"

void duplicate_set_free(duplicate_set *set)
{
    free(set->pairs);
    memset(set, 0, sizeof *set);
}

static int by_indices(const void *a, const void *b)
{
    const semb_scored_pair *x = a, *y = b;
    if (x->i != y->i)
        return (x->i > y->i) - (x->i < y->i);
    return (x->j > y->j) - (x->j < y->j);
}

bool duplicate_set_contains(const duplicate_set *set, size_t i, size_t j)
{
    semb_scored_pair key = {0, i < j ? i : j, i < j ? j : i};
    return bsearch(&key, set->pairs, set->count, sizeof key, by_indices) != NULL;
}

static size_t find_root(size_t *parent, size_t x)
{
    while (parent[x] != x)
        x = parent[x] = parent[parent[x]];
    return x;
}

/* Replaces the set by all pairs within each connected component. */
static semb_status close_transitively(duplicate_set *set, size_t n_sentences, semb_error *err)
{
    size_t *parent = malloc(n_sentences * sizeof *parent);
    size_t *order = malloc(n_sentences * sizeof *order);
    semb_status st = SEMB_OK;
    if (!parent || !order) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory closing duplicates");
        goto done;
    }
    for (size_t s = 0; s < n_sentences; s++)
        parent[s] = s;
    for (size_t k = 0; k < set->count; k++) {
        size_t a = find_root(parent, set->pairs[k].i), b = find_root(parent, set->pairs[k].j);
        parent[a > b ? a : b] = a < b ? a : b;
    }
    /* sentences grouped by component (counting sort by root), ascending within each */
    size_t *start = calloc(n_sentences + 1, sizeof *start), total = 0;
    if (!start) {
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory closing duplicates");
        goto done;
    }
    for (size_t s = 0; s < n_sentences; s++)
        start[find_root(parent, s) + 1]++;
    for (size_t r = 0; r < n_sentences; r++) {
        size_t size = start[r + 1];
        total += size * (size - (size > 0)) / 2;
        start[r + 1] += start[r];
    }
    for (size_t s = 0; s < n_sentences; s++)
        order[start[find_root(parent, s)]++] = s;
    semb_scored_pair *pairs = malloc((total ? total : 1) * sizeof *pairs);
    if (!pairs) {
        free(start);
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory: %zu duplicate pairs", total);
        goto done;
    }
    size_t count = 0;
    for (size_t r = 0, begin = 0; r < n_sentences; begin = start[r++])
        for (size_t x = begin; x < start[r]; x++)
            for (size_t y = x + 1; y < start[r]; y++)
                pairs[count++] = (semb_scored_pair){0, order[x], order[y]};
    free(start);
    free(set->pairs);
    set->pairs = pairs;
    set->count = count;
    qsort(set->pairs, set->count, sizeof *set->pairs, by_indices);
done:
    free(parent);
    free(order);
    return st;
}

semb_status duplicate_set_build(const size_t *a, const size_t *b, size_t n, size_t n_sentences,
                                bool transitive_closure, duplicate_set *out, semb_error *err)
{
    memset(out, 0, sizeof *out);
    out->pairs = malloc((n ? n : 1) * sizeof *out->pairs);
    if (!out->pairs)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory: %zu duplicate pairs", n);
    for (size_t k = 0; k < n; k++) {
        if (a[k] >= n_sentences || b[k] >= n_sentences || a[k] == b[k]) {
            duplicate_set_free(out);
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "duplicate pair %zu: (%zu, %zu) is not two distinct sentences "
                             "below %zu", k, a[k], b[k], n_sentences);
        }
        out->pairs[k] = (semb_scored_pair){0, a[k] < b[k] ? a[k] : b[k], a[k] < b[k] ? b[k] : a[k]};
    }
    qsort(out->pairs, n, sizeof *out->pairs, by_indices);
    for (size_t k = 0; k < n; k++)
        if (out->count == 0 || by_indices(&out->pairs[k], &out->pairs[out->count - 1]) != 0)
            out->pairs[out->count++] = out->pairs[k];
    semb_status st = transitive_closure ? close_transitively(out, n_sentences, err) : SEMB_OK;
    if (st)
        duplicate_set_free(out);
    return st;
}

/* The pairs with non-duplicates first within each run of equal scores; is_duplicate[k] says
 * what walked[k] is. */
static void order_ties(const semb_scored_pair *pairs, size_t n, const duplicate_set *gold,
                       semb_scored_pair *walked, bool *is_duplicate)
{
    size_t at = 0;
    for (size_t begin = 0, end; begin < n; begin = end) {
        for (end = begin + 1; end < n && pairs[end].score == pairs[begin].score; end++)
            ;
        for (int duplicates = 0; duplicates < 2; duplicates++)
            for (size_t k = begin; k < end; k++)
                if (duplicate_set_contains(gold, pairs[k].i, pairs[k].j) == (bool)duplicates) {
                    walked[at] = pairs[k];
                    is_duplicate[at++] = duplicates;
                }
    }
}

semb_status paraphrase_metrics(const semb_scored_pair *pairs, size_t n_pairs,
                               const duplicate_set *gold, semb_paraphrase_metrics *out,
                               semb_error *err)
{
    semb_scored_pair *walked = malloc((n_pairs ? n_pairs : 1) * sizeof *walked);
    bool *is_duplicate = malloc(n_pairs ? n_pairs : 1);
    if (!walked || !is_duplicate) {
        free(walked);
        free(is_duplicate);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory ranking %zu pairs", n_pairs);
    }
    order_ties(pairs, n_pairs, gold, walked, is_duplicate);
    double correct = 0, sum_precision = 0, total = (double)gold->count;
    semb_paraphrase_metrics m = {.duplicates = gold->count, .candidates = n_pairs};
    for (size_t k = 0; k < n_pairs; k++) {
        if (!is_duplicate[k])
            continue;
        correct++;
        double precision = correct / (double)(k + 1), recall = correct / total;
        double f1 = 2 * precision * recall / (precision + recall);
        sum_precision += precision;
        if (f1 > m.f1) {
            m.f1 = f1;
            m.precision = precision;
            m.recall = recall;
            m.threshold = (walked[k].score + walked[k + 1 < n_pairs ? k + 1 : k].score) / 2;
        }
    }
    m.average_precision = total > 0 ? sum_precision / total : 0;
    free(walked);
    free(is_duplicate);
    *out = m;
    return SEMB_OK;
}

semb_status semb_eval_paraphrase_mining(semb_model *model, const char *const *texts, size_t n,
                                        const size_t *dup_a, const size_t *dup_b,
                                        size_t n_duplicates, int add_transitive_closure,
                                        const semb_eval_options *eval_opts,
                                        const semb_paraphrase_options *opts,
                                        semb_paraphrase_metrics *out, semb_error *err)
{
    if (!model || !out || (n && !texts) || (n_duplicates && (!dup_a || !dup_b)))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "semb_eval_paraphrase_mining: NULL argument");
    if (n_duplicates == 0)
        return semb_fail(err, SEMB_ERR_INPUT, "paraphrase mining evaluation needs at least one "
                         "duplicate pair");
    duplicate_set gold;
    semb_status st = duplicate_set_build(dup_a, dup_b, n_duplicates, n,
                                         add_transitive_closure != 0, &gold, err);
    if (st)
        return st;
    semb_scored_pair *pairs = NULL;
    size_t n_pairs = 0;
    st = semb_paraphrase_mine(model, texts, n, eval_opts, opts, &pairs, &n_pairs, err);
    if (!st)
        st = paraphrase_metrics(pairs, n_pairs, &gold, out, err);
    if (!st)
        out->sentences = n;
    free(pairs);
    duplicate_set_free(&gold);
    return st;
}
