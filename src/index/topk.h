/* The k best of a stream of scored documents, kept in a bounded heap: O(log k) per offer,
 * k entries of memory however long the stream. "Best" is the search order used everywhere
 * in an index: higher score first, and among equal scores the lower document index (corpus
 * order). A NaN score ranks below every number. */
#ifndef SEMB_INDEX_TOPK_H
#define SEMB_INDEX_TOPK_H

#include <stdbool.h>
#include <stddef.h>

typedef struct topk_entry {
    float score;
    size_t document;
} topk_entry;

/* A min-heap on the search order: entries[0] is the worst kept entry, the one a better
 * offer replaces. */
typedef struct topk {
    topk_entry *entries; /* caller-owned storage of capacity k */
    size_t k, count;
} topk;

/* Starts an empty heap of capacity k over storage entries[k]. */
void topk_init(topk *heap, topk_entry *entries, size_t k);

/* Whether (a_score, a_document) comes before (b_score, b_document) in the search order. */
bool topk_before(float a_score, size_t a_document, float b_score, size_t b_document);

/* Offers one document; kept when the heap is not full or it ranks before the worst kept. */
void topk_offer(topk *heap, float score, size_t document);

/* Whether an offer of score could change a full heap: false means it certainly cannot (the
 * cheap test inner loops use before calling topk_offer). */
static inline bool topk_may_take(const topk *heap, float score)
{
    return heap->count < heap->k || !(score < heap->entries[0].score);
}

/* Sorts the kept entries best first, in place (the heap is no longer a heap: offer nothing
 * more), and returns their number, min(k, documents offered). */
size_t topk_sort(topk *heap);

/* The reference: sorts entries[0..n) best first with a full comparison sort. */
void topk_sort_reference(topk_entry *entries, size_t n);

#endif
