/* Error values: every fallible library function returns a semb_status and fills a
 * semb_error (which may be NULL when the caller does not want the message). */
#ifndef SEMB_CORE_ERROR_H
#define SEMB_CORE_ERROR_H

#include "semb.h"

/* Formats a one-line message into err (if non-NULL) and returns status, so call sites
 * read `return semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path, strerror(errno));`. */
semb_status semb_fail(semb_error *err, semb_status status, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Prefixes an existing message with more context ("model dir: " + old message). */
semb_status semb_fail_prefix(semb_error *err, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* Formats a one-line warning and hands it to the handler semb_set_warning_handler set (or
 * drops it when there is none). */
void semb_warn(const char *fmt, ...) __attribute__((format(printf, 1, 2)));

/* Marks a failed err as being about item index of the caller's list: sets has_item and item
 * and prefixes "NAME INDEX: " (e.g. "text 3: "). Returns err->status (SEMB_ERR_INVALID_ARG
 * for a NULL err). */
semb_status semb_fail_item(semb_error *err, const char *name, size_t index);

/* For an err marked by semb_fail_item: replaces all that stands before its reason (the
 * item's name and any prefix added since) with the formatted text, and sets item to index,
 * so that a caller names the item its own way ("input.txt:12: "). An unmarked err is left
 * as it is. Returns err->status. */
semb_status semb_error_rename_item(semb_error *err, size_t index, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

/* Clears err to SEMB_OK with an empty message. NULL allowed. */
void semb_error_clear(semb_error *err);

#endif
