/* UTF-8 validation (RFC 3629: no overlongs, no surrogates, nothing above U+10FFFF). */
#ifndef SEMB_TEXT_UTF8_H
#define SEMB_TEXT_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..len) is valid UTF-8; otherwise *bad_offset (if non-NULL) is the offset of
 * the first byte of the first invalid sequence. */
bool utf8_validate(const char *s, size_t len, size_t *bad_offset);

#endif
