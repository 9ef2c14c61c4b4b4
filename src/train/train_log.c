#include "train/train_log.h"

#include <errno.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/line_source.h"

/* The step of one complete log line; false when the line is not a log entry. */
static bool line_step(const char *line, size_t length, json_int_t *step)
{
    json_t *entry = json_loadb(line, length, 0, NULL);
    const json_t *value = json_object_get(entry, "step");
    bool ok = json_is_integer(value);
    if (ok)
        *step = json_integer_value(value);
    json_decref(entry);
    return ok;
}

/* Copies the lines of in up to last_step into out; *changed says whether any was left out. */
static semb_status copy_kept_lines(line_source *in, FILE *out, const char *path, long last_step,
                                   bool *changed, semb_error *err)
{
    semb_status st;
    source_line line;
    bool end = false;
    *changed = false;
    while (!(st = line_source_next(in, &line, &end, err)) && !end) {
        json_int_t step;
        if (!line.newline)
            *changed = true; /* torn by a kill: whatever it was, it is being written again */
        else if (!line_step(line.text, line.length, &step))
            st = semb_fail(err, SEMB_ERR_FORMAT, "%s:%llu: not a JSON object with an integer "
                           "\"step\": not a semb train log, left as it is", path,
                           (unsigned long long)line.number);
        else if (step > last_step)
            *changed = true;
        else if (fwrite(line.text, 1, line.length + 1, out) != line.length + 1)
            st = semb_fail(err, SEMB_ERR_IO, "%s: cannot write the shortened log: %s", path,
                           strerror(errno));
        if (st)
            break;
    }
    return st;
}

semb_status train_log_truncate(const char *path, long last_step, semb_error *err)
{
    FILE *file = fopen(path, "rb");
    if (!file)
        return errno == ENOENT ? SEMB_OK
                               : semb_fail(err, SEMB_ERR_IO, "%s: cannot open: %s", path,
                                           strerror(errno));
    line_source *in;
    semb_status st = line_source_open_stream(file, path, LINE_SOURCE_NO_LIMIT, &in, err);
    if (st) {
        fclose(file);
        return st;
    }
    atomic_file out;
    st = atomic_file_open(&out, path, err);
    bool changed = false;
    if (!st)
        st = copy_kept_lines(in, out.fp, path, last_step, &changed, err);
    line_source_close(in);
    fclose(file);
    if (st || !changed) {
        atomic_file_abort(&out);
        return st;
    }
    return atomic_file_commit(&out, err);
}

semb_status train_log_open(train_log *log, const char *path, long resume_step, semb_error *err)
{
    memset(log, 0, sizeof *log);
    struct stat sb;
    bool regular = stat(path, &sb) == 0 && S_ISREG(sb.st_mode);
    if (resume_step > 0 && regular) {
        semb_status st = train_log_truncate(path, resume_step, err);
        if (st)
            return st;
    }
    if (!(log->path = strdup(path)))
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!(log->fp = fopen(path, resume_step > 0 ? "a" : "w"))) {
        semb_status st = semb_fail(err, SEMB_ERR_IO, "%s: cannot open the log: %s", path,
                                   strerror(errno));
        free(log->path);
        log->path = NULL;
        return st;
    }
    return SEMB_OK;
}

semb_status train_log_line(train_log *log, semb_error *err, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    errno = 0;
    bool ok = vfprintf(log->fp, fmt, ap) >= 0 && fputc('\n', log->fp) != EOF &&
              fflush(log->fp) == 0;
    va_end(ap);
    if (!ok)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot write the log: %s", log->path,
                         strerror(errno ? errno : EIO));
    return SEMB_OK;
}

semb_status train_log_close(train_log *log, semb_error *err)
{
    semb_status st = SEMB_OK;
    if (log->fp && fclose(log->fp) != 0)
        st = semb_fail(err, SEMB_ERR_IO, "%s: cannot close the log: %s", log->path,
                       strerror(errno));
    free(log->path);
    memset(log, 0, sizeof *log);
    return st;
}
