#include "core/error.h"

#include <stdarg.h>
#include <stdio.h>
#include <string.h>

/* Messages must stay on one line: the CLI prints them as `semb: <message>`. */
static void flatten_newlines(char *s)
{
    for (; *s; s++)
        if (*s == '\n' || *s == '\r')
            *s = ' ';
}

semb_status semb_fail(semb_error *err, semb_status status, const char *fmt, ...)
{
    if (!err)
        return status;
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(err->message, sizeof err->message, fmt, ap);
    va_end(ap);
    flatten_newlines(err->message);
    err->status = status;
    err->has_item = false;
    err->item = 0;
    err->reason_at = 0;
    return status;
}

semb_status semb_fail_prefix(semb_error *err, const char *fmt, ...)
{
    if (!err)
        return SEMB_ERR_INVALID_ARG;
    char prefix[SEMB_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    char old[SEMB_ERROR_MESSAGE_SIZE];
    memcpy(old, err->message, sizeof old);
    snprintf(err->message, sizeof err->message, "%s%s", prefix, old);
    flatten_newlines(err->message);
    size_t at = err->reason_at + strlen(prefix), len = strlen(err->message);
    err->reason_at = at < len ? at : len;
    return err->status;
}

semb_status semb_fail_item(semb_error *err, const char *name, size_t index)
{
    if (!err)
        return SEMB_ERR_INVALID_ARG;
    err->reason_at = 0;
    semb_fail_prefix(err, "%s %zu: ", name, index);
    err->has_item = true;
    err->item = index;
    return err->status;
}

semb_status semb_error_rename_item(semb_error *err, size_t index, const char *fmt, ...)
{
    if (!err || !err->has_item)
        return err ? err->status : SEMB_ERR_INVALID_ARG;
    char prefix[SEMB_ERROR_MESSAGE_SIZE], reason[SEMB_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(prefix, sizeof prefix, fmt, ap);
    va_end(ap);
    snprintf(reason, sizeof reason, "%s", err->message + err->reason_at);
    snprintf(err->message, sizeof err->message, "%s%s", prefix, reason);
    flatten_newlines(err->message);
    size_t at = strlen(prefix), len = strlen(err->message);
    err->reason_at = at < len ? at : len;
    err->item = index;
    return err->status;
}

static semb_warning_fn warning_fn;
static void *warning_user;

void semb_set_warning_handler(semb_warning_fn fn, void *user)
{
    warning_fn = fn;
    warning_user = user;
}

void semb_warn(const char *fmt, ...)
{
    if (!warning_fn)
        return;
    char message[SEMB_ERROR_MESSAGE_SIZE];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(message, sizeof message, fmt, ap);
    va_end(ap);
    flatten_newlines(message);
    warning_fn(warning_user, message);
}

void semb_error_clear(semb_error *err)
{
    if (!err)
        return;
    err->status = SEMB_OK;
    err->message[0] = '\0';
    err->has_item = false;
    err->item = 0;
    err->reason_at = 0;
}

const char *semb_status_name(semb_status status)
{
    switch (status) {
    case SEMB_OK: return "ok";
    case SEMB_ERR_IO: return "io error";
    case SEMB_ERR_FORMAT: return "format error";
    case SEMB_ERR_UNSUPPORTED: return "unsupported";
    case SEMB_ERR_INVALID_ARG: return "invalid argument";
    case SEMB_ERR_INPUT: return "bad input";
    case SEMB_ERR_NOMEM: return "out of memory";
    }
    return "unknown status";
}

const char *semb_version(void)
{
    return SEMB_VERSION;
}
