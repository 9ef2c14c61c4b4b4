#include "index/topk.h"

#include <math.h>
#include <stdlib.h>

void topk_init(topk *heap, topk_entry *entries, size_t k)
{
    *heap = (topk){.entries = entries, .k = k, .count = 0};
}

bool topk_before(float a_score, size_t a_document, float b_score, size_t b_document)
{
    if (isnan(a_score))
        a_score = -INFINITY;
    if (isnan(b_score))
        b_score = -INFINITY;
    if (a_score != b_score)
        return a_score > b_score;
    return a_document < b_document;
}

static bool entry_before(const topk_entry *a, const topk_entry *b)
{
    return topk_before(a->score, a->document, b->score, b->document);
}

/* Restores the heap below position i: the worst entry rises to the root. */
static void sift_down(topk_entry *e, size_t n, size_t i)
{
    for (;;) {
        size_t worst = i, left = 2 * i + 1, right = left + 1;
        if (left < n && entry_before(&e[worst], &e[left]))
            worst = left;
        if (right < n && entry_before(&e[worst], &e[right]))
            worst = right;
        if (worst == i)
            return;
        topk_entry t = e[i];
        e[i] = e[worst];
        e[worst] = t;
        i = worst;
    }
}

void topk_offer(topk *heap, float score, size_t document)
{
    topk_entry entry = {score, document};
    topk_entry *e = heap->entries;
    if (heap->count < heap->k) {
        size_t i = heap->count++;
        while (i > 0 && entry_before(&e[(i - 1) / 2], &entry)) {
            e[i] = e[(i - 1) / 2];
            i = (i - 1) / 2;
        }
        e[i] = entry;
        return;
    }
    if (heap->k == 0 || !entry_before(&entry, &e[0]))
        return;
    e[0] = entry;
    sift_down(e, heap->count, 0);
}

size_t topk_sort(topk *heap)
{
    /* heapsort: repeatedly move the worst entry to the end of the shrinking heap */
    topk_entry *e = heap->entries;
    for (size_t n = heap->count; n > 1; n--) {
        topk_entry t = e[0];
        e[0] = e[n - 1];
        e[n - 1] = t;
        sift_down(e, n - 1, 0);
    }
    return heap->count;
}

static int compare_entries(const void *a, const void *b)
{
    const topk_entry *x = a, *y = b;
    return entry_before(x, y) ? -1 : entry_before(y, x) ? 1 : 0;
}

void topk_sort_reference(topk_entry *entries, size_t n)
{
    qsort(entries, n, sizeof *entries, compare_entries);
}
