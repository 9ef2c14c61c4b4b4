#include "core/array.h"

#include <stdint.h>
#include <stdlib.h>

/* Small enough to waste little on short lists, large enough to skip the first reallocs. */
enum { FIRST_CAPACITY = 64 };

void *array_grow(void *array, size_t *capacity, size_t need, size_t element)
{
    if (need <= *capacity)
        return array;
    size_t n = !*capacity ? FIRST_CAPACITY : *capacity > SIZE_MAX / 2 ? need : *capacity * 2;
    while (n < need)
        n = n > SIZE_MAX / 2 ? need : n * 2;
    if (element && n > SIZE_MAX / element)
        return NULL;
    void *grown = realloc(array, n * element);
    if (!grown)
        return NULL;
    *capacity = n;
    return grown;
}
