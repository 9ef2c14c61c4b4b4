#include "model/packed_batch.h"

#include <limits.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/error.h"

semb_status packed_batch_build(packed_batch_buffers *b, const int32_t *const *lists,
                               const int *counts, const size_t *order, int n, packed_batch *out,
                               semb_error *err)
{
    size_t total = 0;
    int max_len = 0;
    for (int i = 0; i < n; i++) {
        int c = counts[order ? order[i] : (size_t)i];
        total += (size_t)c;
        if (c > max_len)
            max_len = c;
    }
    if (total > INT_MAX)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "a batch of %zu tokens is too large", total);
    int32_t *ids = array_grow(b->ids, &b->ids_capacity, total ? total : 1, sizeof *ids);
    if (ids)
        b->ids = ids;
    int *cu = array_grow(b->cu_seqlens, &b->seqs_capacity, (size_t)n + 1, sizeof *cu);
    if (cu)
        b->cu_seqlens = cu;
    if (!ids || !cu)
        return semb_fail(err, SEMB_ERR_NOMEM, "cannot allocate a batch of %zu tokens", total);
    b->cu_seqlens[0] = 0;
    for (int i = 0; i < n; i++) {
        size_t s = order ? order[i] : (size_t)i;
        memcpy(b->ids + b->cu_seqlens[i], lists[s], (size_t)counts[s] * sizeof *b->ids);
        b->cu_seqlens[i + 1] = b->cu_seqlens[i] + counts[s];
    }
    *out = (packed_batch){b->ids, b->cu_seqlens, n, (int)total, max_len};
    return SEMB_OK;
}

void packed_batch_buffers_free(packed_batch_buffers *b)
{
    if (!b)
        return;
    free(b->ids);
    free(b->cu_seqlens);
    memset(b, 0, sizeof *b);
}
