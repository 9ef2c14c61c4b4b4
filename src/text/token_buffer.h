/* Growing a token_buffer (internal to the text module). */
#ifndef SEMB_TEXT_TOKEN_BUFFER_H
#define SEMB_TEXT_TOKEN_BUFFER_H

#include "text/tokenizer.h"

/* Makes room for `extra` more ids after buffer->count. SEMB_ERR_NOMEM (err filled) when the
 * allocation fails; the buffer is unchanged then. */
semb_status token_buffer_reserve(token_buffer *buffer, size_t extra, semb_error *err);

/* Makes buffer->scratch at least `size` bytes, keeping its contents. SEMB_ERR_NOMEM on
 * failure. */
semb_status token_buffer_reserve_scratch(token_buffer *buffer, size_t size, semb_error *err);

/* Appends one id; the caller has reserved room for it. */
static inline void token_buffer_push(token_buffer *buffer, int32_t id)
{
    buffer->ids[buffer->count++] = id;
}

#endif
