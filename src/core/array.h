/* Growing a malloc'd array for appends: the one capacity-doubling rule the readers share. */
#ifndef SEMB_CORE_ARRAY_H
#define SEMB_CORE_ARRAY_H

#include <stddef.h>

/* Returns array (elements of `element` bytes, *capacity of them allocated; NULL with
 * capacity 0 to start) grown to hold at least need >= 1 elements, moved by realloc and
 * *capacity raised when it had to grow (to at least twice the old capacity, so appends cost
 * amortised O(1)). Returns NULL when out of memory or when the size overflows size_t; array
 * and *capacity are then unchanged and still the caller's to free. */
void *array_grow(void *array, size_t *capacity, size_t need, size_t element);

#endif
