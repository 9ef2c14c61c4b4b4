#include "train/checkpoint.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/files.h"
#include "io/json_file.h"
#include "io/safetensors.h"
#include "io/st_folder.h"
#include "train/model_save.h"

#define CHECKPOINT_PREFIX "checkpoint-"
#define TEMP_PREFIX ".semb-tmp-" /* every name a save uses on its way; never a checkpoint */
#define STATE_FILE "trainer_state.json"
#define OPTIMIZER_FILE "optimizer.safetensors"
#define STATE_FORMAT "semb-checkpoint"
enum { STATE_VERSION = 1 };

/* ---- folders ---------------------------------------------------------------------------- */

/* The step of a folder named checkpoint-<digits> (no sign, no leading zero), else -1. */
static long parse_checkpoint_name(const char *name)
{
    size_t prefix = strlen(CHECKPOINT_PREFIX);
    if (strncmp(name, CHECKPOINT_PREFIX, prefix) != 0)
        return -1;
    const char *d = name + prefix;
    if (!*d || (d[0] == '0' && d[1]))
        return -1;
    long step = 0;
    for (; *d; d++) {
        if (*d < '0' || *d > '9' || step > (LONG_MAX - 9) / 10)
            return -1;
        step = step * 10 + (*d - '0');
    }
    return step;
}

static char *checkpoint_path(const char *out_dir, long step)
{
    char name[64];
    snprintf(name, sizeof name, CHECKPOINT_PREFIX "%ld", step);
    return path_join(out_dir, name);
}

static int compare_steps(const void *a, const void *b)
{
    long x = *(const long *)a, y = *(const long *)b;
    return (x > y) - (x < y);
}

/* The steps of the checkpoint folders in out_dir, ascending; *steps is malloc'd. */
static semb_status list_checkpoints(const char *out_dir, long **steps, size_t *n, semb_error *err)
{
    *steps = NULL;
    *n = 0;
    DIR *d = opendir(out_dir);
    if (!d)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot read the folder: %s", out_dir,
                         strerror(errno));
    semb_status st = SEMB_OK;
    size_t cap = 0;
    for (struct dirent *e; !st && (e = readdir(d));) {
        long step = parse_checkpoint_name(e->d_name);
        char *path = step >= 0 ? path_join(out_dir, e->d_name) : NULL;
        bool is_checkpoint = path && path_is_dir(path);
        free(path);
        if (!is_checkpoint)
            continue;
        if (*n == cap) {
            cap = cap ? 2 * cap : 16;
            long *bigger = realloc(*steps, cap * sizeof *bigger);
            if (!bigger) {
                st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
                break;
            }
            *steps = bigger;
        }
        (*steps)[(*n)++] = step;
    }
    closedir(d);
    if (st) {
        free(*steps);
        *steps = NULL;
        *n = 0;
        return st;
    }
    if (*n > 1)
        qsort(*steps, *n, sizeof **steps, compare_steps);
    return SEMB_OK;
}

/* Makes the entries of a folder durable. Some file systems refuse fsync on a folder
 * (EINVAL); that is not an error worth failing a save for. */
static void sync_folder(const char *path)
{
    int fd = open(path, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
    if (fd >= 0) {
        fsync(fd);
        close(fd);
    }
}

/* Calls visit for every entry below root, folders before what they hold, with its path and
 * its path relative to root. */
typedef semb_status (*tree_visitor)(const char *path, const char *rel, bool is_dir, void *ctx,
                                    semb_error *err);

static semb_status walk_tree(const char *root, const char *rel, tree_visitor visit, void *ctx,
                             semb_error *err)
{
    char *dir = path_join(root, rel);
    DIR *d = dir ? opendir(dir) : NULL;
    if (!d) {
        semb_status st = dir ? semb_fail(err, SEMB_ERR_IO, "%s: cannot read the folder: %s", dir,
                                         strerror(errno))
                             : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        free(dir);
        return st;
    }
    semb_status st = SEMB_OK;
    for (struct dirent *e; !st && (e = readdir(d));) {
        if (strcmp(e->d_name, ".") == 0 || strcmp(e->d_name, "..") == 0)
            continue;
        char *child_rel = path_join(rel, e->d_name), *child = path_join(dir, e->d_name);
        struct stat sb;
        if (!child_rel || !child)
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        else if (lstat(child, &sb) != 0)
            st = semb_fail(err, SEMB_ERR_IO, "%s: %s", child, strerror(errno));
        else if (!(st = visit(child, child_rel, S_ISDIR(sb.st_mode), ctx, err)) &&
                 S_ISDIR(sb.st_mode))
            st = walk_tree(root, child_rel, visit, ctx, err);
        free(child_rel);
        free(child);
    }
    closedir(d);
    free(dir);
    return st;
}

static semb_status sync_visitor(const char *path, const char *rel, bool is_dir, void *ctx,
                                semb_error *err)
{
    (void)rel, (void)ctx, (void)err;
    if (is_dir)
        sync_folder(path);
    return SEMB_OK;
}

/* ---- saving ----------------------------------------------------------------------------- */

static semb_status write_optimizer(const char *path, const encoder_params *params,
                                   const adamw_state *adam, semb_error *err)
{
    size_t n = 2 * params->n_tensors;
    safetensors_entry *entries = calloc(n ? n : 1, sizeof *entries);
    char (*names)[128] = calloc(n ? n : 1, sizeof *names);
    if (!entries || !names) {
        free(entries);
        free(names);
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: cannot allocate the tensor list", path);
    }
    for (size_t i = 0; i < params->n_tensors; i++) {
        const param_tensor *t = &params->tensors[i];
        for (int moment = 0; moment < 2; moment++) {
            size_t k = 2 * i + (size_t)moment;
            snprintf(names[k], sizeof names[k], "%s.%s", moment ? "exp_avg_sq" : "exp_avg",
                     t->name);
            const float *data = moment ? adam->exp_avg_sq : adam->exp_avg;
            entries[k] = (safetensors_entry){.name = names[k], .dtype = SAFETENSORS_F32,
                                             .ndim = t->ndim, .shape = {t->shape[0], t->shape[1]},
                                             .data = data + t->offset};
        }
    }
    semb_status st = safetensors_write(path, entries, n, NULL, err);
    free(entries);
    free(names);
    return st;
}

static semb_status write_state(const char *path, const checkpoint_contents *c, semb_error *err)
{
    /* jansson's API takes non-const values; "o" takes over the reference made here */
    json_t *options = c->options ? json_incref((json_t *)c->options) : json_object();
    json_t *data = c->data ? json_incref((json_t *)c->data) : json_null();
    json_t *history = c->log_history ? json_incref((json_t *)c->log_history) : json_array();
    json_t *root = json_pack("{s:s, s:i, s:I, s:I, s:o, s:o, s:o}", "format", STATE_FORMAT,
                             "version", STATE_VERSION, "global_step", (json_int_t)c->step,
                             "optimizer_step", (json_int_t)c->adam->step, "options", options,
                             "data", data, "log_history", history);
    char *text = root ? json_dumps(root, JSON_INDENT(2)) : NULL;
    json_decref(root);
    if (!text)
        return semb_fail(err, SEMB_ERR_NOMEM, "%s: out of memory building the JSON", path);
    size_t len = strlen(text);
    char *line = realloc(text, len + 2);
    if (!line) {
        free(text);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    memcpy(line + len, "\n", 2);
    semb_status st = atomic_write_buffer(path, line, len + 1, err);
    free(line);
    return st;
}

/* Every file of the checkpoint, in folder `dir`, each flushed to disk, then the folders. */
static semb_status write_checkpoint(const char *dir, const checkpoint_contents *c, semb_error *err)
{
    semb_status st = model_save_files(c->model, dir, err);
    if (!st && c->write_extra)
        st = c->write_extra(dir, c->extra_ctx, err);
    char *optimizer = path_join(dir, OPTIMIZER_FILE), *state = path_join(dir, STATE_FILE);
    if (!st && (!optimizer || !state))
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!st)
        st = write_optimizer(optimizer, &c->model->params, c->adam, err);
    if (!st)
        st = write_state(state, c, err);
    free(optimizer);
    free(state);
    /* The files were each fsync'd as they were written (atomic_file); their folders'
     * entries must be durable too before the rename publishes them. */
    if (!st)
        st = walk_tree(dir, "", sync_visitor, NULL, err);
    if (!st)
        sync_folder(dir);
    return st;
}

/* Removes what interrupted saves left in out_dir. */
static semb_status remove_leftovers(const char *out_dir, semb_error *err)
{
    DIR *d = opendir(out_dir);
    if (!d)
        return semb_fail(err, SEMB_ERR_IO, "%s: cannot read the folder: %s", out_dir,
                         strerror(errno));
    semb_status st = SEMB_OK;
    for (struct dirent *e; !st && (e = readdir(d));) {
        if (strncmp(e->d_name, TEMP_PREFIX, strlen(TEMP_PREFIX)) != 0)
            continue;
        char *path = path_join(out_dir, e->d_name);
        if (path)
            path_remove_tree(path);
        else
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        free(path);
    }
    closedir(d);
    return st;
}

/* A checkpoint folder with a higher step means out_dir holds another run's checkpoints:
 * saving beside them would make the other run's latest look like this one's. */
static semb_status check_no_newer(const char *out_dir, long step, semb_error *err)
{
    long *steps;
    size_t n;
    semb_status st = list_checkpoints(out_dir, &steps, &n, err);
    if (!st && n && steps[n - 1] > step)
        st = semb_fail(err, SEMB_ERR_INVALID_ARG,
                       "%s: holds " CHECKPOINT_PREFIX "%ld, newer than step %ld: these are another "
                       "run's checkpoints; resume from them or choose a new output folder",
                       out_dir, steps[n - 1], step);
    free(steps);
    return st;
}

/* Renames the finished temporary folder to its checkpoint name. A folder of the same step
 * (a run that saves its last step twice, a resumed run that had nothing left to do) is
 * swapped out atomically, then removed from under its new temporary name. */
static semb_status move_into_place(const char *tmp, const char *final, semb_error *err)
{
    if (rename(tmp, final) == 0)
        return SEMB_OK;
    if (errno == ENOTEMPTY || errno == EEXIST) {
        if (renameat2(AT_FDCWD, tmp, AT_FDCWD, final, RENAME_EXCHANGE) == 0) {
            path_remove_tree(tmp);
            return SEMB_OK;
        }
        return semb_fail(err, SEMB_ERR_IO,
                         "%s: exists and cannot be replaced atomically here (%s); remove it",
                         final, strerror(errno));
    }
    return semb_fail(err, SEMB_ERR_IO, "%s: cannot move the checkpoint into place: %s", final,
                     strerror(errno));
}

typedef struct publish_context {
    const char *out_dir;
    unsigned counter; /* names the temporary links */
} publish_context;

/* One file of the checkpoint onto out_dir/rel: a hard link under a temporary name, renamed
 * over the old file. A copy where the file system has no hard links. */
static semb_status publish_file(publish_context *p, const char *src, const char *dst,
                                semb_error *err)
{
    char name[64];
    snprintf(name, sizeof name, TEMP_PREFIX "publish-%ld-%u", (long)getpid(), p->counter++);
    char *tmp = path_join(p->out_dir, name);
    if (!tmp)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    semb_status st = SEMB_OK;
    unlink(tmp);
    if (link(src, tmp) != 0) {
        if (errno == EXDEV || errno == EPERM || errno == EMLINK || errno == EOPNOTSUPP)
            st = file_copy(src, tmp, err);
        else
            st = semb_fail(err, SEMB_ERR_IO, "%s: cannot link %s there: %s", p->out_dir, src,
                           strerror(errno));
    }
    if (!st && rename(tmp, dst) != 0)
        st = semb_fail(err, SEMB_ERR_IO, "%s: cannot replace it: %s", dst, strerror(errno));
    /* gone after a rename, except when dst already was this very file: rename then leaves
     * both names */
    unlink(tmp);
    free(tmp);
    return st;
}

static semb_status publish_visitor(const char *path, const char *rel, bool is_dir, void *ctx,
                                   semb_error *err)
{
    publish_context *p = ctx;
    if (strcmp(rel, OPTIMIZER_FILE) == 0 || strcmp(rel, STATE_FILE) == 0)
        return SEMB_OK;
    char *dst = path_join(p->out_dir, rel);
    if (!dst)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    semb_status st = is_dir ? path_make_dir(dst, err) : publish_file(p, path, dst, err);
    char *slash = strrchr(dst, '/');
    if (!st && !is_dir && slash) { /* the rename must be durable in dst's own folder */
        *slash = '\0';
        sync_folder(dst);
    }
    free(dst);
    return st;
}

/* True when a and b are the same folder (the model's folder may be given by another path). */
static bool same_folder(const char *a, const char *b)
{
    struct stat sa, sb;
    return stat(a, &sa) == 0 && stat(b, &sb) == 0 && sa.st_dev == sb.st_dev &&
           sa.st_ino == sb.st_ino;
}

/* Removes all but the `keep` newest checkpoints; each steps aside to a temporary name
 * first, so a deletion cut short never leaves a partial folder named like a checkpoint. */
static semb_status prune(const char *out_dir, int keep, const char *model_dir, semb_error *err)
{
    long *steps;
    size_t n;
    semb_status st = list_checkpoints(out_dir, &steps, &n, err);
    for (size_t i = 0; !st && keep > 0 && i + (size_t)keep < n; i++) {
        char *path = checkpoint_path(out_dir, steps[i]), name[96];
        snprintf(name, sizeof name, TEMP_PREFIX "removed-" CHECKPOINT_PREFIX "%ld", steps[i]);
        char *gone = path_join(out_dir, name);
        if (!path || !gone)
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
        else if (same_folder(path, model_dir))
            ; /* later saves copy the model's configuration files from it */
        else if (rename(path, gone) != 0)
            st = semb_fail(err, SEMB_ERR_IO, "%s: cannot remove the old checkpoint: %s", path,
                           strerror(errno));
        else
            path_remove_tree(gone);
        free(path);
        free(gone);
    }
    free(steps);
    if (!st)
        sync_folder(out_dir);
    return st;
}

static semb_status check_contents(const checkpoint_contents *c, semb_error *err)
{
    if (!c || !c->model || !c->adam)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "checkpoint: model and optimizer required");
    if (c->step < 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "checkpoint: step %ld is negative", c->step);
    if (c->adam->n != c->model->params.arena_floats)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "checkpoint: optimizer state for %zu parameters, model has %zu",
                         c->adam->n, c->model->params.arena_floats);
    if (c->options && !json_is_object(c->options))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "checkpoint: options must be a JSON object");
    if (c->log_history && !json_is_array(c->log_history))
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "checkpoint: log_history must be a JSON array");
    return SEMB_OK;
}

/* Creates the temporary folder the checkpoint is assembled in, readable like a folder mkdir
 * would make (mkdtemp makes it private). */
static semb_status make_temp_folder(const char *out_dir, long step, char **tmp, semb_error *err)
{
    char name[96];
    snprintf(name, sizeof name, TEMP_PREFIX CHECKPOINT_PREFIX "%ld.XXXXXX", step);
    *tmp = path_join(out_dir, name);
    if (!*tmp)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!mkdtemp(*tmp)) {
        semb_status st = semb_fail(err, SEMB_ERR_IO, "%s: cannot create a folder there: %s",
                                   out_dir, strerror(errno));
        free(*tmp);
        *tmp = NULL;
        return st;
    }
    chmod(*tmp, 0755);
    return SEMB_OK;
}

semb_status checkpoint_save(const char *out_dir, const checkpoint_contents *c, int keep,
                            semb_error *err)
{
    semb_status st = check_contents(c, err);
    if (st || (st = path_make_dir(out_dir, err)) || (st = remove_leftovers(out_dir, err)) ||
        (st = check_no_newer(out_dir, c->step, err)))
        return st;
    char *tmp = NULL, *final = checkpoint_path(out_dir, c->step);
    if (!final)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if ((st = make_temp_folder(out_dir, c->step, &tmp, err))) {
        free(final);
        return st;
    }
    st = write_checkpoint(tmp, c, err);
    if (!st)
        st = move_into_place(tmp, final, err);
    if (st) {
        semb_fail_prefix(err, "%s: cannot save the checkpoint: ", final);
        path_remove_tree(tmp);
    } else {
        sync_folder(out_dir);
        publish_context p = {.out_dir = out_dir};
        st = walk_tree(final, "", publish_visitor, &p, err);
        if (!st)
            st = prune(out_dir, keep, c->model->folder.dir, err);
        if (st)
            semb_fail_prefix(err, "%s is saved, but: ", final);
    }
    free(tmp);
    free(final);
    return st;
}

/* ---- loading ---------------------------------------------------------------------------- */

void checkpoint_state_free(checkpoint_state *s)
{
    if (!s)
        return;
    free(s->path);
    json_decref(s->options);
    json_decref(s->data);
    json_decref(s->log_history);
    *s = (checkpoint_state){0};
}

semb_status checkpoint_find_latest(const char *out_dir, char **path, long *step, semb_error *err)
{
    *path = NULL;
    long *steps;
    size_t n;
    semb_status st = list_checkpoints(out_dir, &steps, &n, err);
    if (st)
        return st;
    if (n == 0)
        st = semb_fail(err, SEMB_ERR_IO,
                       "%s: no " CHECKPOINT_PREFIX "<step> folder in it: nothing to resume from",
                       out_dir);
    else if (!(*path = checkpoint_path(out_dir, steps[n - 1])))
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    else
        *step = steps[n - 1];
    free(steps);
    return st;
}

json_t *checkpoint_rng_to_json(const rng_state *rng)
{
    char words[4][17];
    for (int i = 0; i < 4; i++)
        snprintf(words[i], sizeof words[i], "%016" PRIx64, rng->s[i]);
    return json_pack("[s, s, s, s]", words[0], words[1], words[2], words[3]);
}

semb_status checkpoint_rng_from_json(const json_t *value, const char *path, const char *what,
                                     rng_state *rng, semb_error *err)
{
    /* one 64-digit string: how semb-sampler-1 states were written before this encoding
     * became the only one; read so that those checkpoints still resume */
    const char *joined = json_string_value(value);
    if (!joined && (!json_is_array(value) || json_array_size(value) != 4))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: %s: expected an array of 4 hex strings",
                         path, what);
    if (joined && strlen(joined) != 64)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: %s: expected 64 lowercase hex digits",
                         path, what);
    rng_state r;
    for (size_t i = 0; i < 4; i++) {
        char word[17] = {0};
        if (joined)
            memcpy(word, joined + 16 * i, 16);
        const char *s = joined ? word : json_string_value(json_array_get(value, i));
        bool ok = s && strlen(s) == 16;
        for (int k = 0; ok && k < 16; k++)
            ok = (s[k] >= '0' && s[k] <= '9') || (s[k] >= 'a' && s[k] <= 'f');
        if (!ok)
            return semb_fail(err, SEMB_ERR_FORMAT, "%s: %s[%zu]: expected 16 lowercase hex digits",
                             path, what, i);
        r.s[i] = strtoull(s, NULL, 16);
    }
    if (!(r.s[0] | r.s[1] | r.s[2] | r.s[3])) /* xoshiro's one fixed point: zeros forever */
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: %s: an all-zero state is not valid", path,
                         what);
    *rng = r;
    return SEMB_OK;
}

static semb_status read_step(const json_t *root, const char *key, const char *path, long *out,
                             semb_error *err)
{
    long long v;
    semb_status st = json_field_int(root, key, path, NULL, &v, err);
    if (st)
        return st;
    if (v < 0 || v > LONG_MAX)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: %s: %lld is not a step count", path, key, v);
    *out = (long)v;
    return SEMB_OK;
}

/* trainer_state.json into *out (path, step, rng, JSON members) and *optimizer_step. */
static semb_status read_state(const char *path, checkpoint_state *out, long *optimizer_step,
                              semb_error *err)
{
    json_t *root;
    semb_status st = json_file_load(path, &root, err);
    if (st)
        return st;
    const char *format = NULL;
    long long version = 0;
    if ((st = json_field_string(root, "format", path, NULL, &format, err)))
        goto done;
    if (strcmp(format, STATE_FORMAT) != 0) {
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: format: \"%s\", expected \"" STATE_FORMAT "\"",
                       path, format);
        goto done;
    }
    if ((st = json_field_int(root, "version", path, NULL, &version, err)))
        goto done;
    if (version != STATE_VERSION) {
        st = semb_fail(err, SEMB_ERR_UNSUPPORTED,
                       "%s: version %lld: this semb reads version %d checkpoints", path, version,
                       STATE_VERSION);
        goto done;
    }
    if ((st = read_step(root, "global_step", path, &out->step, err)) ||
        (st = read_step(root, "optimizer_step", path, optimizer_step, err)))
        goto done;
    json_t *options = json_object_get(root, "options");
    json_t *history = json_object_get(root, "log_history");
    json_t *data = json_object_get(root, "data");
    if (!json_is_object(options))
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: options: expected an object", path);
    else if (!json_is_array(history))
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: log_history: expected an array", path);
    else if (!data)
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: data: missing", path);
    if (!st) {
        out->options = json_incref(options);
        out->log_history = json_incref(history);
        out->data = json_incref(data);
    }
done:
    json_decref(root);
    return st;
}

/* The file's tensor `name`, checked to be F32 and shaped like t. */
static semb_status find_tensor(const safetensors_file *f, const char *name, const param_tensor *t,
                               const safetensors_tensor **out, semb_error *err)
{
    const safetensors_tensor *s = safetensors_find(f, name);
    if (!s)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: missing tensor '%s'", f->path, name);
    if (s->dtype != SAFETENSORS_F32)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: tensor '%s' is %s; a checkpoint holds F32",
                         f->path, name, safetensors_dtype_name(s->dtype));
    bool same = s->ndim == t->ndim;
    for (int d = 0; same && d < t->ndim; d++)
        same = s->shape[d] == t->shape[d];
    if (!same) {
        char got[96], want[96];
        safetensors_format_shape(s->shape, s->ndim, got, sizeof got);
        safetensors_format_shape(t->shape, t->ndim, want, sizeof want);
        return semb_fail(err, SEMB_ERR_FORMAT,
                         "%s: tensor '%s' has shape %s, the model's is %s: a checkpoint of "
                         "another model", f->path, name, got, want);
    }
    *out = s;
    return SEMB_OK;
}

/* Every tensor of the table under `copies` name patterns (one "%s" for the name) must be in f,
 * and nothing else; found[k * n_tensors + i] is tensor i under pattern k. */
static semb_status match_tensors(const safetensors_file *f, const encoder_params *params,
                                 const char *const *patterns, size_t copies,
                                 const safetensors_tensor **found, semb_error *err)
{
    for (size_t k = 0; k < copies; k++)
        for (size_t i = 0; i < params->n_tensors; i++) {
            char name[192];
            snprintf(name, sizeof name, patterns[k], params->tensors[i].name);
            semb_status st = find_tensor(f, name, &params->tensors[i],
                                         &found[k * params->n_tensors + i], err);
            if (st)
                return st;
        }
    if (f->n_tensors != copies * params->n_tensors) /* names are unique: the rest are extra */
        for (size_t j = 0; j < f->n_tensors; j++) {
            bool known = false;
            for (size_t i = 0; !known && i < copies * params->n_tensors; i++)
                known = found[i] == &f->tensors[j];
            if (!known)
                return semb_fail(err, SEMB_ERR_FORMAT,
                                 "%s: tensor '%s' is not one of the model's", f->path,
                                 f->tensors[j].name);
        }
    return SEMB_OK;
}

/* The model's weights file in a checkpoint folder (in its Transformer module's folder). */
static semb_status weights_path(const char *dir, char **out, semb_error *err)
{
    st_folder folder;
    semb_status st = st_folder_open(dir, &folder, err);
    if (st)
        return st;
    *out = path_join(folder.transformer_dir, "model.safetensors");
    st_folder_free(&folder);
    return *out ? SEMB_OK : semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
}

/* The step a folder's name gives, or -1 when it is not named checkpoint-<step>. */
static long step_of_folder(const char *dir)
{
    size_t len = strlen(dir);
    while (len > 1 && dir[len - 1] == '/')
        len--;
    size_t start = len;
    while (start > 0 && dir[start - 1] != '/')
        start--;
    char name[64];
    if (len - start >= sizeof name)
        return -1;
    memcpy(name, dir + start, len - start);
    name[len - start] = '\0';
    return parse_checkpoint_name(name);
}

typedef struct open_checkpoint {
    safetensors_file weights, optimizer;
    const safetensors_tensor **found; /* weights [n], exp_avg [n], exp_avg_sq [n] */
    long optimizer_step;
} open_checkpoint;

static void open_checkpoint_close(open_checkpoint *o)
{
    safetensors_close(&o->weights);
    safetensors_close(&o->optimizer);
    free(o->found);
}

/* Opens and checks every file of the checkpoint against the model; nothing is copied. */
static semb_status open_and_check(const char *dir, const encoder_params *params,
                                  const adamw_state *adam, open_checkpoint *o,
                                  checkpoint_state *out, semb_error *err)
{
    if (adam->n != params->arena_floats)
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "checkpoint: optimizer state for %zu parameters, the model has %zu",
                         adam->n, params->arena_floats);
    char *state = path_join(dir, STATE_FILE), *optimizer = path_join(dir, OPTIMIZER_FILE);
    char *weights = NULL;
    o->found = calloc(3 * params->n_tensors + 1, sizeof *o->found);
    semb_status st = SEMB_OK;
    if (!state || !optimizer || !o->found)
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!st)
        st = read_state(state, out, &o->optimizer_step, err);
    long named = step_of_folder(dir);
    if (!st && named >= 0 && named != out->step)
        st = semb_fail(err, SEMB_ERR_FORMAT, "%s: global_step %ld disagrees with the folder's name",
                       state, out->step);
    if (!st)
        st = weights_path(dir, &weights, err);
    if (!st)
        st = safetensors_open(weights, &o->weights, err);
    if (!st) {
        /* the weights carry the prefix the saved model was loaded with ("bert.", ...) */
        char probe[192], pattern[64];
        snprintf(probe, sizeof probe, "%s%s", params->name_prefix,
                 params->n_tensors ? params->tensors[0].name : "");
        bool prefixed = safetensors_find(&o->weights, probe) != NULL;
        snprintf(pattern, sizeof pattern, "%s%%s", prefixed ? params->name_prefix : "");
        const char *patterns[] = {pattern};
        st = match_tensors(&o->weights, params, patterns, 1, o->found, err);
    }
    if (!st)
        st = safetensors_open(optimizer, &o->optimizer, err);
    if (!st) {
        const char *patterns[] = {"exp_avg.%s", "exp_avg_sq.%s"};
        st = match_tensors(&o->optimizer, params, patterns, 2, o->found + params->n_tensors, err);
    }
    free(state);
    free(optimizer);
    free(weights);
    return st;
}

semb_status checkpoint_load(const char *dir, encoder_params *params, adamw_state *adam,
                            checkpoint_state *out, semb_error *err)
{
    *out = (checkpoint_state){0};
    open_checkpoint o = {0};
    semb_status st = open_and_check(dir, params, adam, &o, out, err);
    if (!st && !(out->path = strdup(dir)))
        st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    if (!st) {
        size_t n = params->n_tensors;
        float *targets[3] = {params->arena, adam->exp_avg, adam->exp_avg_sq};
        for (size_t k = 0; k < 3; k++)
            for (size_t i = 0; i < n; i++)
                memcpy(targets[k] + params->tensors[i].offset, o.found[k * n + i]->data,
                       params->tensors[i].numel * sizeof(float));
        adam->step = o.optimizer_step;
        encoder_params_changed(params);
    } else {
        checkpoint_state_free(out);
    }
    open_checkpoint_close(&o);
    return st;
}

semb_status checkpoint_load_latest(const char *out_dir, encoder_params *params,
                                   adamw_state *adam, checkpoint_state *out, semb_error *err)
{
    *out = (checkpoint_state){0};
    char *path;
    long step;
    semb_status st = checkpoint_find_latest(out_dir, &path, &step, err);
    if (st)
        return st;
    st = checkpoint_load(path, params, adam, out, err);
    if (st)
        semb_fail_prefix(err, "cannot resume from %s: ", path);
    free(path);
    return st;
}

/* A JSON value as compact text for a message, into buf. */
static const char *describe(const json_t *v, char *buf, size_t size)
{
    char *text = v ? json_dumps(v, JSON_ENCODE_ANY | JSON_COMPACT) : NULL;
    snprintf(buf, size, "%s", text ? text : "nothing");
    free(text);
    return buf;
}

semb_status checkpoint_compare_options(const char *path, const json_t *saved,
                                       const json_t *current, semb_error *err)
{
    const json_t *sides[2] = {current, saved};
    for (int side = 0; side < 2; side++) {
        const char *key;
        json_t *value;
        json_object_foreach((json_t *)sides[side], key, value) {
            json_t *a = json_object_get(saved, key), *b = json_object_get(current, key);
            if (a && b && json_equal(a, b))
                continue;
            char was[160], now[160];
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "%s/" STATE_FILE ": options.%s: the checkpoint has %s, this run %s",
                             path, key, describe(a, was, sizeof was), describe(b, now, sizeof now));
        }
    }
    return SEMB_OK;
}
