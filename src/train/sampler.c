#include "train/sampler.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/error.h"
#include "core/rng.h"
#include "train/checkpoint.h"

/* One example held by the sampler: its line's position, then its texts, each followed by a
 * NUL, in one allocation. */
typedef struct stored {
    uint64_t offset, line;
    uint32_t n_texts;
    uint32_t lengths[];
} stored;

static char *stored_text(stored *e, uint32_t i)
{
    char *p = (char *)&e->lengths[e->n_texts];
    for (uint32_t k = 0; k < i; k++)
        p += e->lengths[k] + 1;
    return p;
}

static stored *store(const example_view *ex, uint64_t offset, uint64_t line)
{
    size_t bytes = sizeof(stored) + (size_t)ex->n_texts * sizeof(uint32_t);
    for (int i = 0; i < ex->n_texts; i++)
        bytes += ex->lengths[i] + 1;
    stored *e = malloc(bytes);
    if (!e)
        return NULL;
    *e = (stored){offset, line, (uint32_t)ex->n_texts};
    char *p = (char *)&e->lengths[ex->n_texts];
    for (int i = 0; i < ex->n_texts; i++) {
        e->lengths[i] = (uint32_t)ex->lengths[i];
        memcpy(p, ex->texts[i], ex->lengths[i]);
        p[ex->lengths[i]] = '\0';
        p += ex->lengths[i] + 1;
    }
    return e;
}

typedef struct dataset {
    data_reader *reader;
    double weight;
    rng_state rng;   /* shuffle buffer draws */
    stored **buffer; /* shuffle buffer: count examples in slot order */
    size_t count;
    uint64_t used;
} dataset;

/* The texts of the batch being filled: open addressing over (hash, text), reset per batch
 * by bumping the generation instead of clearing. */
typedef struct text_slot {
    uint64_t hash;
    const char *text;
    size_t length;
    uint32_t generation;
} text_slot;

struct sampler {
    sampler_options o;
    dataset *sets;
    size_t n_sets;
    rng_state rng; /* dataset draws */
    stored **batch; /* the examples of the last batch, owned until the next */
    size_t batch_n;
    const char **texts;
    size_t *lengths;
    text_slot *slots;
    size_t slot_mask;
    uint32_t generation;
};

static uint64_t text_hash(const char *s, size_t n)
{
    uint64_t h = 0xcbf29ce484222325ULL; /* FNV-1a */
    for (size_t i = 0; i < n; i++)
        h = (h ^ (unsigned char)s[i]) * 0x100000001b3ULL;
    return h;
}

static text_slot *find_slot(sampler *s, const char *text, size_t length, uint64_t hash)
{
    for (size_t i = hash & s->slot_mask;; i = (i + 1) & s->slot_mask) {
        text_slot *slot = &s->slots[i];
        if (slot->generation != s->generation)
            return slot;
        if (slot->hash == hash && slot->length == length && memcmp(slot->text, text, length) == 0)
            return slot;
    }
}

/* Adds the example's texts to the batch's set unless one is there already. */
static bool add_if_new(sampler *s, stored *e)
{
    uint64_t hashes[EXAMPLE_MAX_TEXTS];
    for (uint32_t i = 0; i < e->n_texts; i++) {
        const char *t = stored_text(e, i);
        hashes[i] = text_hash(t, e->lengths[i]);
        if (find_slot(s, t, e->lengths[i], hashes[i])->generation == s->generation)
            return false;
    }
    for (uint32_t i = 0; i < e->n_texts; i++) {
        const char *t = stored_text(e, i);
        *find_slot(s, t, e->lengths[i], hashes[i]) =
            (text_slot){hashes[i], t, e->lengths[i], s->generation};
    }
    return true;
}

static void free_batch(sampler *s)
{
    for (size_t i = 0; i < s->batch_n; i++)
        free(s->batch[i]);
    s->batch_n = 0;
}

void sampler_free(sampler *s)
{
    if (!s)
        return;
    free_batch(s);
    for (size_t i = 0; i < s->n_sets; i++) {
        data_reader_close(s->sets[i].reader);
        for (size_t k = 0; k < s->sets[i].count; k++)
            free(s->sets[i].buffer[k]);
        free(s->sets[i].buffer);
    }
    free(s->sets);
    free(s->batch);
    free(s->texts);
    free(s->lengths);
    free(s->slots);
    free(s);
}

/* The next example of a file in file order, starting the next pass at its end. */
static semb_status read_next(dataset *d, stored **out, bool *end, semb_error *err)
{
    example_view ex;
    uint64_t offset, line;
    semb_status st = data_reader_next(d->reader, &ex, &offset, &line, end, err);
    if (st || *end)
        return st;
    if (!(*out = store(&ex, offset, line)))
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory holding training examples");
    return SEMB_OK;
}

static semb_status next_in_file_order(dataset *d, stored **out, semb_error *err)
{
    bool end;
    semb_status st = read_next(d, out, &end, err);
    if (!st && end && !(st = data_reader_rewind(d->reader, err)))
        st = read_next(d, out, &end, err);
    if (!st && end)
        st = semb_fail(err, SEMB_ERR_INPUT, "%s: no usable example left (has the file changed?)",
                       d->reader->path);
    return st;
}

/* The next example of a shuffled pass: from a random slot, refilled from the file; an empty
 * buffer (a new pass) is filled first. */
static semb_status next_shuffled(sampler *s, dataset *d, stored **out, semb_error *err)
{
    semb_status st;
    bool end = false;
    if (d->count == 0) {
        if (d->reader->at_end && (st = data_reader_rewind(d->reader, err)))
            return st;
        while (d->count < s->o.shuffle_buffer) {
            if ((st = read_next(d, &d->buffer[d->count], &end, err)))
                return st;
            if (end)
                break;
            d->count++;
        }
        if (d->count == 0)
            return semb_fail(err, SEMB_ERR_INPUT, "%s: no usable example left (has the file "
                             "changed?)", d->reader->path);
    }
    size_t slot = (size_t)(rng_next_u64(&d->rng) % d->count);
    *out = d->buffer[slot];
    if ((st = read_next(d, &d->buffer[slot], &end, err)))
        return st;
    if (end)
        d->buffer[slot] = d->buffer[--d->count];
    return SEMB_OK;
}

/* A file drawn with probability proportional to its weight, among those with n_negatives
 * (< 0: among all). */
static size_t draw_dataset(sampler *s, int n_negatives)
{
    double total = 0;
    for (size_t i = 0; i < s->n_sets; i++)
        if (n_negatives < 0 || s->sets[i].reader->n_negatives == n_negatives)
            total += s->sets[i].weight;
    double u = (double)(rng_next_u64(&s->rng) >> 11) * 0x1.0p-53 * total;
    size_t last = 0;
    for (size_t i = 0; i < s->n_sets; i++) {
        if (n_negatives >= 0 && s->sets[i].reader->n_negatives != n_negatives)
            continue;
        last = i;
        if (u < s->sets[i].weight)
            return i;
        u -= s->sets[i].weight;
    }
    return last; /* rounding at the top end */
}

static semb_status fill_share(sampler *s, dataset *d, int share, semb_error *err)
{
    uint64_t taken = 0;
    for (int got = 0; got < share;) {
        stored *e;
        semb_status st = s->o.shuffle_buffer ? next_shuffled(s, d, &e, err)
                                             : next_in_file_order(d, &e, err);
        if (st)
            return st;
        taken++;
        if (add_if_new(s, e)) {
            s->batch[s->batch_n++] = e;
            got++;
            continue;
        }
        free(e);
        /* two passes' worth hold one whole pass: nothing in it was new to the batch */
        if (d->reader->counts_final && taken > 2 * d->reader->examples)
            return semb_fail(err, SEMB_ERR_INPUT, "%s: a whole pass over its %llu examples "
                             "cannot fill its share of a batch (%d) with texts not already in the "
                             "batch; it repeats its texts too much for --batch-size %d",
                             d->reader->path, (unsigned long long)d->reader->examples, share,
                             s->o.batch_size);
    }
    d->used += (uint64_t)share;
    return SEMB_OK;
}

semb_status sampler_next_batch(sampler *s, sampler_batch *batch, semb_error *err)
{
    free_batch(s);
    if (++s->generation == 0) { /* wrapped: stale slots could look current */
        memset(s->slots, 0, (s->slot_mask + 1) * sizeof *s->slots);
        s->generation = 1;
    }
    int B = s->o.batch_size, D = s->o.datasets_per_batch, n_negatives = -1;
    for (int k = 0; k < D; k++) {
        int share = B / D + (k < B % D);
        if (share == 0)
            continue;
        dataset *d = &s->sets[draw_dataset(s, n_negatives)];
        n_negatives = d->reader->n_negatives;
        semb_status st = fill_share(s, d, share, err);
        if (st)
            return st;
    }
    int width = 2 + n_negatives;
    for (int b = 0; b < B; b++)
        for (int c = 0; c < width; c++) {
            s->texts[c * B + b] = stored_text(s->batch[b], (uint32_t)c);
            s->lengths[c * B + b] = s->batch[b]->lengths[c];
        }
    *batch = (sampler_batch){B, n_negatives, s->texts, s->lengths};
    return SEMB_OK;
}

static semb_status open_datasets(sampler *s, const data_sources *sources, semb_error *err)
{
    int max_width = 2;
    for (size_t i = 0; i < sources->n; i++) {
        dataset *d = &s->sets[i];
        semb_status st = data_reader_open(sources->items[i].path, &s->o.reader,
                                          (uint64_t)s->o.batch_size, &d->reader, err);
        if (st)
            return st;
        s->n_sets++;
        if (d->reader->counts_final && d->reader->examples < (uint64_t)s->o.batch_size)
            return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: --batch-size %d is larger than the "
                             "data (%llu usable examples)", d->reader->path, s->o.batch_size,
                             (unsigned long long)d->reader->examples);
        d->weight = sources->items[i].weight;
        rng_seed(&d->rng, rng_hash_u64(s->o.seed, i + 1));
        if (s->o.shuffle_buffer && !(d->buffer = malloc(s->o.shuffle_buffer * sizeof *d->buffer)))
            return semb_fail(err, SEMB_ERR_NOMEM, "out of memory for a shuffle buffer of %zu",
                             s->o.shuffle_buffer);
        if (2 + d->reader->n_negatives > max_width)
            max_width = 2 + d->reader->n_negatives;
    }
    size_t texts = (size_t)s->o.batch_size * (size_t)max_width, slots = 16;
    while (slots < 2 * texts)
        slots *= 2;
    s->slot_mask = slots - 1;
    s->batch = malloc((size_t)s->o.batch_size * sizeof *s->batch);
    s->texts = malloc(texts * sizeof *s->texts);
    s->lengths = malloc(texts * sizeof *s->lengths);
    s->slots = calloc(slots, sizeof *s->slots);
    if (!s->batch || !s->texts || !s->lengths || !s->slots)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    return SEMB_OK;
}

semb_status sampler_create(const data_sources *sources, const sampler_options *options,
                           sampler **out, semb_error *err)
{
    *out = NULL;
    if (sources->n == 0 || options->batch_size < 1 || options->datasets_per_batch < 1)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "sampler: no data, or a batch size or "
                         "datasets per batch below 1");
    sampler *s = calloc(1, sizeof *s);
    if (!s || !(s->sets = calloc(sources->n, sizeof *s->sets))) {
        free(s);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    s->o = *options;
    rng_seed(&s->rng, options->seed);
    semb_status st = open_datasets(s, sources, err);
    if (st) {
        sampler_free(s);
        return st;
    }
    *out = s;
    return SEMB_OK;
}

size_t sampler_dataset_count(const sampler *s)
{
    return s->n_sets;
}

sampler_dataset_info sampler_dataset(const sampler *s, size_t i)
{
    const dataset *d = &s->sets[i];
    const data_reader *r = d->reader;
    return (sampler_dataset_info){r->path, d->weight, r->n_negatives, d->used, r->pass,
                                  r->counts_final, r->lines, r->skipped, r->examples, r->blank};
}

/* --- state ------------------------------------------------------------------------------ */

/* The generators' states as checkpoint_rng_to_json writes them (the one encoding). */
static bool rng_from_json(const json_t *v, rng_state *rng)
{
    return checkpoint_rng_from_json(v, "saved sampler state", "rng", rng, NULL) == SEMB_OK;
}

static semb_status dataset_state(const dataset *d, json_t *sets, semb_error *err)
{
    json_t *obj = json_object(), *buffer = json_array();
    bool ok = obj && buffer && json_array_append_new(sets, obj) == 0 &&
              json_object_set_new(obj, "buffer", buffer) == 0;
    if (!ok) { /* the appends took their references only if they succeeded */
        json_decref(buffer);
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory saving the sampler state");
    }
    ok = json_object_set_new(obj, "rng", checkpoint_rng_to_json(&d->rng)) == 0 &&
         json_object_set_new(obj, "used", json_integer((json_int_t)d->used)) == 0;
    for (size_t k = 0; ok && k < d->count; k++)
        ok = json_array_append_new(buffer, json_pack("[I, I]", (json_int_t)d->buffer[k]->offset,
                                                     (json_int_t)d->buffer[k]->line)) == 0;
    if (!ok)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory saving the sampler state");
    return data_reader_state_save(d->reader, obj, err);
}

semb_status sampler_state_save(const sampler *s, json_t **out, semb_error *err)
{
    *out = NULL;
    json_t *sets = json_array();
    json_t *state = json_pack("{s:s, s:o, s:o}", "format", "semb-sampler-1", "rng",
                              checkpoint_rng_to_json(&s->rng), "datasets", sets);
    if (!state)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory saving the sampler state");
    for (size_t i = 0; i < s->n_sets; i++) {
        semb_status st = dataset_state(&s->sets[i], sets, err);
        if (st) {
            json_decref(state);
            return st;
        }
    }
    *out = state;
    return SEMB_OK;
}

static const char *base_name(const char *path)
{
    const char *slash = strrchr(path, '/');
    return slash ? slash + 1 : path;
}

typedef struct buffered_line {
    uint64_t offset, line;
    size_t slot;
} buffered_line;

static int by_offset(const void *a, const void *b)
{
    const buffered_line *x = a, *y = b;
    return x->offset < y->offset ? -1 : x->offset > y->offset;
}

/* The shuffle buffer's examples re-read from their lines into their slots, in order of
 * offset so that a compressed file is read forwards once. */
static semb_status rebuild_buffer(sampler *s, dataset *d, const json_t *buffer, semb_error *err)
{
    size_t n = json_array_size(buffer);
    if (n > s->o.shuffle_buffer)
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: saved with %zu examples in its shuffle buffer, "
                         "more than --shuffle-buffer %zu", d->reader->path, n, s->o.shuffle_buffer);
    buffered_line *lines = malloc((n ? n : 1) * sizeof *lines);
    if (!lines)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    semb_status st = SEMB_OK;
    for (size_t k = 0; k < n; k++)
        d->buffer[k] = NULL;
    for (size_t k = 0; !st && k < n; k++) {
        json_int_t offset, line;
        if (json_unpack(json_array_get(buffer, k), "[I, I]", &offset, &line) || offset < 0 ||
            line < 1)
            st = semb_fail(err, SEMB_ERR_FORMAT, "%s: saved shuffle buffer entry %zu is not "
                           "[offset, line]", d->reader->path, k + 1);
        lines[k] = (buffered_line){(uint64_t)offset, (uint64_t)line, k};
    }
    d->count = n;
    qsort(lines, n, sizeof *lines, by_offset);
    for (size_t k = 0; !st && k < n; k++) {
        example_view ex;
        st = data_reader_read_at(d->reader, lines[k].offset, lines[k].line, &ex, err);
        if (!st && !(d->buffer[lines[k].slot] = store(&ex, lines[k].offset, lines[k].line)))
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    }
    free(lines);
    return st;
}

static void clear_buffer(dataset *d)
{
    for (size_t k = 0; k < d->count; k++)
        free(d->buffer[k]);
    d->count = 0;
}

static semb_status restore_dataset(sampler *s, dataset *d, const json_t *saved, semb_error *err)
{
    const char *path = json_string_value(json_object_get(saved, "path"));
    const json_t *buffer = json_object_get(saved, "buffer");
    json_int_t used;
    if (!path || !json_is_array(buffer) || json_unpack((json_t *)saved, "{s:I}", "used", &used) ||
        used < 0 || !rng_from_json(json_object_get(saved, "rng"), &d->rng))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: saved sampler state is incomplete",
                         d->reader->path);
    if (strcmp(base_name(path), base_name(d->reader->path)) != 0)
        return semb_fail(err, SEMB_ERR_FORMAT, "saved sampler state is for %s, not %s", path,
                         d->reader->path);
    if (!s->o.shuffle_buffer && json_array_size(buffer))
        return semb_fail(err, SEMB_ERR_FORMAT, "%s: saved with a shuffle buffer, restored "
                         "without one (--no-shuffle)", d->reader->path);
    clear_buffer(d);
    d->used = (uint64_t)used;
    semb_status st = rebuild_buffer(s, d, buffer, err);
    if (!st) /* after the buffer: its reads moved the file */
        st = data_reader_state_restore(d->reader, saved, err);
    if (st)
        clear_buffer(d);
    return st;
}

semb_status sampler_state_restore(sampler *s, const json_t *state, semb_error *err)
{
    const char *format = json_string_value(json_object_get(state, "format"));
    const json_t *sets = json_object_get(state, "datasets");
    rng_state rng;
    if (!format || strcmp(format, "semb-sampler-1") != 0 || !json_is_array(sets) ||
        !rng_from_json(json_object_get(state, "rng"), &rng))
        return semb_fail(err, SEMB_ERR_FORMAT, "saved sampler state: not a semb-sampler-1 object");
    if (json_array_size(sets) != s->n_sets)
        return semb_fail(err, SEMB_ERR_FORMAT, "saved sampler state has %zu data files, this run "
                         "%zu", json_array_size(sets), s->n_sets);
    free_batch(s);
    for (size_t i = 0; i < s->n_sets; i++) {
        semb_status st = restore_dataset(s, &s->sets[i], json_array_get(sets, i), err);
        if (st)
            return st;
    }
    s->rng = rng;
    return SEMB_OK;
}
