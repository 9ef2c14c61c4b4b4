#include "text/token_buffer.h"

#include <stdlib.h>

#include "core/error.h"

/* Capacities double so that a buffer reused across calls stops growing after the longest
 * text it has seen. */
static size_t grown_capacity(size_t current, size_t needed)
{
    size_t capacity = current ? current : 64;
    while (capacity < needed)
        capacity *= 2;
    return capacity;
}

semb_status token_buffer_reserve(token_buffer *buffer, size_t extra, semb_error *err)
{
    size_t needed = buffer->count + extra;
    if (needed <= buffer->capacity)
        return SEMB_OK;
    size_t capacity = grown_capacity(buffer->capacity, needed);
    int32_t *ids = realloc(buffer->ids, capacity * sizeof *ids);
    if (!ids)
        return semb_fail(err, SEMB_ERR_NOMEM, "tokenizer: cannot grow the id buffer to %zu ids",
                         capacity);
    buffer->ids = ids;
    buffer->capacity = capacity;
    return SEMB_OK;
}

semb_status token_buffer_reserve_scratch(token_buffer *buffer, size_t size, semb_error *err)
{
    if (size <= buffer->scratch_capacity)
        return SEMB_OK;
    size_t capacity = grown_capacity(buffer->scratch_capacity, size);
    char *scratch = realloc(buffer->scratch, capacity);
    if (!scratch)
        return semb_fail(err, SEMB_ERR_NOMEM,
                         "tokenizer: cannot grow the text buffer to %zu bytes", capacity);
    buffer->scratch = scratch;
    buffer->scratch_capacity = capacity;
    return SEMB_OK;
}

void token_buffer_free(token_buffer *buffer)
{
    if (!buffer)
        return;
    free(buffer->ids);
    free(buffer->scratch);
    *buffer = (token_buffer){0};
}
