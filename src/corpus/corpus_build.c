/* corpus_build: which sources are there, one parser each, the splits and data_config.json.
 *
 * data_config.json weights are round(sqrt(train pairs)): proportional sampling would spend
 * most steps on GCIDE and the package names while the small, dense FOLDOC and Jargon sets
 * would hardly be seen; the square root (temperature sampling with T = 2, as multilingual
 * models balance languages) keeps every dataset in play and still favours the large ones. */
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "core/error.h"
#include "corpus/corpus_internal.h"
#include "io/atomic_file.h"
#include "io/files.h"

typedef struct source_info {
    corpus_source source;
    const char *name, *package;
} source_info;

static const source_info sources[CORPUS_SOURCE_COUNT] = {
    {CORPUS_SOURCE_WORDNET, "wordnet", "wordnet-base"},
    {CORPUS_SOURCE_GCIDE, "gcide", "dict-gcide"},
    {CORPUS_SOURCE_FOLDOC, "foldoc", "dict-foldoc"},
    {CORPUS_SOURCE_JARGON, "jargon", "dict-jargon"},
    {CORPUS_SOURCE_DEBIAN, "debian", NULL},
};

static const source_info *find_source(corpus_source source)
{
    for (size_t i = 0; i < CORPUS_SOURCE_COUNT; i++)
        if (sources[i].source == source)
            return &sources[i];
    return NULL;
}

const char *corpus_source_name(corpus_source source)
{
    const source_info *s = find_source(source);
    return s ? s->name : "?";
}

const char *corpus_source_package(corpus_source source)
{
    const source_info *s = find_source(source);
    return s ? s->package : NULL;
}

semb_status corpus_parse_sources(const char *list, unsigned *mask, semb_error *err)
{
    *mask = 0;
    for (const char *item = list; item;) {
        const char *comma = strchr(item, ',');
        size_t n = comma ? (size_t)(comma - item) : strlen(item);
        unsigned bit = 0;
        if (n == 3 && strncmp(item, "all", 3) == 0)
            bit = CORPUS_SOURCE_ALL;
        for (size_t i = 0; i < CORPUS_SOURCE_COUNT && !bit; i++)
            if (strlen(sources[i].name) == n && strncmp(item, sources[i].name, n) == 0)
                bit = sources[i].source;
        if (!bit)
            return semb_fail(err, SEMB_ERR_INVALID_ARG,
                             "unknown source '%.*s' (known: wordnet, gcide, foldoc, jargon, "
                             "debian, all)", (int)n, item);
        *mask |= bit;
        item = comma ? comma + 1 : NULL;
    }
    return SEMB_OK;
}

/* ---- the datasets ---- */

enum {
    DS_WORDNET_GLOSS, DS_WORDNET_EXAMPLES, DS_GCIDE, DS_FOLDOC, DS_JARGON,
    DS_DEBIAN_DESCRIPTIONS, DS_DEBIAN_NAMES, DS_COUNT
};

static const struct {
    const char *name;
    corpus_source source;
} datasets[DS_COUNT] = {
    {"wordnet_gloss", CORPUS_SOURCE_WORDNET},   {"wordnet_examples", CORPUS_SOURCE_WORDNET},
    {"gcide", CORPUS_SOURCE_GCIDE},             {"foldoc", CORPUS_SOURCE_FOLDOC},
    {"jargon", CORPUS_SOURCE_JARGON},           {"debian_descriptions", CORPUS_SOURCE_DEBIAN},
    {"debian_names", CORPUS_SOURCE_DEBIAN},
};

typedef struct paths {
    const char *wordnet_dir, *dictd_dir, *dpkg_status, *apt_lists_dir;
} paths;

static bool readable(const char *dir, const char *name)
{
    char path[4096];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    return access(path, R_OK) == 0;
}

/* The dictd data file: NAME.dict.dz, or NAME.dict where it was installed uncompressed. */
static bool dictd_files(const char *dir, const char *name, char *index, char *dict, size_t size)
{
    snprintf(index, size, "%s/%s.index", dir, name);
    snprintf(dict, size, "%s/%s.dict.dz", dir, name);
    if (access(dict, R_OK) != 0)
        snprintf(dict, size, "%s/%s.dict", dir, name);
    return access(index, R_OK) == 0 && access(dict, R_OK) == 0;
}

/* apt list files holding descriptions, sorted so that "first file wins" is reproducible. */
typedef struct apt_lists {
    char **translations, **packages;
    size_t n_translations, n_packages;
} apt_lists;

static void apt_lists_free(apt_lists *l)
{
    for (size_t i = 0; i < l->n_translations; i++)
        free(l->translations[i]);
    for (size_t i = 0; i < l->n_packages; i++)
        free(l->packages[i]);
    free(l->translations);
    free(l->packages);
    *l = (apt_lists){0};
}

static int compare_strings(const void *a, const void *b)
{
    return strcmp(*(char *const *)a, *(char *const *)b);
}

static void note(corpus_report *report, const char *fmt, const char *arg)
{
    size_t used = strlen(report->notes);
    if (used < sizeof report->notes - 1)
        snprintf(report->notes + used, sizeof report->notes - used, fmt, arg);
}

/* "..._Packages" or "..._i18n_Translation-en", plain or in a compression semb reads. */
static semb_status find_apt_lists(const char *dir, apt_lists *out, corpus_report *report,
                                  semb_error *err)
{
    *out = (apt_lists){0};
    DIR *d = opendir(dir);
    if (!d)
        return SEMB_OK; /* no apt lists (not apt-get update'd): dpkg's status still serves */
    semb_status st = SEMB_OK;
    struct dirent *e;
    while (!st && (e = readdir(d))) {
        const char *name = e->d_name;
        bool translation = strstr(name, "_i18n_Translation-en") != NULL;
        const char *kind = translation ? strstr(name, "_i18n_Translation-en") : strstr(name, "_Packages");
        if (!kind)
            continue;
        const char *suffix = kind + (translation ? strlen("_i18n_Translation-en")
                                                 : strlen("_Packages"));
        if (strcmp(suffix, "") != 0 && strcmp(suffix, ".gz") != 0 && strcmp(suffix, ".lz4") != 0) {
            if (strncmp(suffix, ".diff", 5) != 0 && suffix[0] == '.')
                note(report, "skipped %s (compression not read; plain, .gz and .lz4 are)\n", name);
            continue;
        }
        char ***list = translation ? &out->translations : &out->packages;
        size_t *n = translation ? &out->n_translations : &out->n_packages;
        char **grown = realloc(*list, (*n + 1) * sizeof **list);
        char *path = grown ? path_join(dir, name) : NULL;
        if (grown)
            *list = grown;
        if (!path) {
            st = semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
            break;
        }
        (*list)[(*n)++] = path;
    }
    closedir(d);
    if (st) {
        apt_lists_free(out);
        return st;
    }
    if (out->n_translations)
        qsort(out->translations, out->n_translations, sizeof *out->translations, compare_strings);
    if (out->n_packages)
        qsort(out->packages, out->n_packages, sizeof *out->packages, compare_strings);
    return SEMB_OK;
}

static bool available(corpus_source source, const paths *p)
{
    char a[4096], b[4096];
    switch (source) {
    case CORPUS_SOURCE_WORDNET:
        return readable(p->wordnet_dir, "data.noun") && readable(p->wordnet_dir, "data.verb") &&
               readable(p->wordnet_dir, "data.adj") && readable(p->wordnet_dir, "data.adv");
    case CORPUS_SOURCE_GCIDE:
    case CORPUS_SOURCE_FOLDOC:
    case CORPUS_SOURCE_JARGON:
        return dictd_files(p->dictd_dir, corpus_source_name(source), a, b, sizeof a);
    case CORPUS_SOURCE_DEBIAN:
        return access(p->dpkg_status, R_OK) == 0;
    default:
        return false;
    }
}

static semb_status read_debian(const paths *p, corpus_pairs *descriptions, corpus_pairs *names,
                               corpus_report *report, semb_error *err)
{
    corpus_hash_set descriptions_seen = {0}, names_seen = {0};
    apt_lists lists;
    semb_status st = corpus_read_debian_stanzas(p->dpkg_status, descriptions, &descriptions_seen,
                                                names, &names_seen, err);
    if (!st)
        st = find_apt_lists(p->apt_lists_dir, &lists, report, err);
    if (st) {
        corpus_hash_set_free(&descriptions_seen);
        corpus_hash_set_free(&names_seen);
        return st;
    }
    /* translations first: they carry the long descriptions the Packages lists lack */
    for (size_t i = 0; i < lists.n_translations && !st; i++)
        st = corpus_read_debian_stanzas(lists.translations[i], descriptions, &descriptions_seen,
                                        names, &names_seen, err);
    for (size_t i = 0; i < lists.n_packages && !st; i++)
        st = corpus_read_debian_stanzas(lists.packages[i], descriptions, &descriptions_seen,
                                        names, &names_seen, err);
    apt_lists_free(&lists);
    corpus_hash_set_free(&descriptions_seen);
    corpus_hash_set_free(&names_seen);
    return st;
}

static semb_status read_source(corpus_source source, const paths *p, corpus_pairs *pairs,
                               corpus_report *report, semb_error *err)
{
    char index[4096], dict[4096];
    switch (source) {
    case CORPUS_SOURCE_WORDNET:
        return corpus_read_wordnet(p->wordnet_dir, &pairs[DS_WORDNET_GLOSS],
                                   &pairs[DS_WORDNET_EXAMPLES], err);
    case CORPUS_SOURCE_GCIDE:
    case CORPUS_SOURCE_FOLDOC:
    case CORPUS_SOURCE_JARGON:
        dictd_files(p->dictd_dir, corpus_source_name(source), index, dict, sizeof index);
        return corpus_read_dictd(index, dict,
                                 source == CORPUS_SOURCE_GCIDE ? CORPUS_DICTD_GCIDE
                                                               : CORPUS_DICTD_PLAIN,
                                 &pairs[source == CORPUS_SOURCE_GCIDE    ? DS_GCIDE
                                        : source == CORPUS_SOURCE_FOLDOC ? DS_FOLDOC
                                                                         : DS_JARGON],
                                 err);
    case CORPUS_SOURCE_DEBIAN:
        return read_debian(p, &pairs[DS_DEBIAN_DESCRIPTIONS], &pairs[DS_DEBIAN_NAMES], report,
                           err);
    default:
        return SEMB_OK;
    }
}

static semb_status make_dirs(const char *dir, semb_error *err)
{
    char path[4096];
    if (strcmp(dir, "-") == 0)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "-: standard output cannot hold a folder; "
                         "give a folder name");
    if (snprintf(path, sizeof path, "%s", dir) >= (int)sizeof path)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "%s: path too long", dir);
    for (char *p = path + 1;; p++) {
        bool end = *p == '\0';
        if (*p == '/' || end) {
            *p = '\0';
            if (mkdir(path, 0777) != 0 && errno != EEXIST)
                return semb_fail(err, SEMB_ERR_IO, "%s: cannot create: %s", path,
                                 strerror(errno));
            if (end)
                break;
            *p = '/';
        }
    }
    if (!path_is_dir(dir))
        return semb_fail(err, SEMB_ERR_IO, "%s: not a folder", dir);
    return SEMB_OK;
}

static semb_status write_data_config(const char *dir, const corpus_report *report,
                                     semb_error *err)
{
    char *path = path_join(dir, "data_config.json");
    if (!path)
        return semb_fail(err, SEMB_ERR_NOMEM, "out of memory");
    atomic_file af;
    semb_status st = atomic_file_open(&af, path, err);
    free(path);
    if (st)
        return st;
    fputs("[\n", af.fp);
    size_t written = 0;
    for (size_t i = 0; i < report->dataset_count; i++) {
        const corpus_dataset_report *d = &report->datasets[i];
        if (d->train_pairs == 0)
            continue;
        fprintf(af.fp, "%s  {\"name\": \"%s.train.jsonl\", \"weight\": %.0f, \"lines\": %zu}",
                written++ ? ",\n" : "", d->name, d->weight, d->train_pairs);
    }
    fputs("\n]\n", af.fp);
    return atomic_file_commit(&af, err);
}

semb_status corpus_build(const corpus_options *opts, corpus_report *report, semb_error *err)
{
    *report = (corpus_report){0};
    struct timespec t0, t1;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    if (!opts->output_dir || !*opts->output_dir)
        return semb_fail(err, SEMB_ERR_INVALID_ARG, "no output folder given");
    double held_out = opts->held_out;
    if (held_out < 0 || (held_out >= 1 && held_out != floor(held_out)))
        return semb_fail(err, SEMB_ERR_INVALID_ARG,
                         "held-out %g: give a fraction below 1 or a whole number of pairs",
                         held_out);
    const paths p = {
        opts->wordnet_dir ? opts->wordnet_dir : "/usr/share/wordnet",
        opts->dictd_dir ? opts->dictd_dir : "/usr/share/dictd",
        opts->dpkg_status ? opts->dpkg_status : "/var/lib/dpkg/status",
        opts->apt_lists_dir ? opts->apt_lists_dir : "/var/lib/apt/lists",
    };
    unsigned wanted = opts->sources ? opts->sources : CORPUS_SOURCE_ALL, present = 0;
    for (size_t i = 0; i < CORPUS_SOURCE_COUNT; i++) {
        if (!(wanted & sources[i].source))
            continue;
        if (available(sources[i].source, &p))
            present |= sources[i].source;
        else
            report->missing |= sources[i].source;
    }
    if (!present) {
        char packages[256] = "";
        for (size_t i = 0; i < CORPUS_SOURCE_COUNT; i++)
            if ((report->missing & sources[i].source) && sources[i].package) {
                strcat(packages, " ");
                strcat(packages, sources[i].package);
            }
        return semb_fail(err, SEMB_ERR_IO,
                         "none of the requested corpus sources is installed%s%s%s",
                         packages[0] ? " (apt-get install" : "", packages,
                         packages[0] ? ")" : "");
    }
    semb_status st = make_dirs(opts->output_dir, err);
    corpus_pairs pairs[DS_COUNT];
    for (size_t d = 0; d < DS_COUNT; d++)
        corpus_pairs_init(&pairs[d], opts->max_chars);
    for (size_t i = 0; i < CORPUS_SOURCE_COUNT && !st; i++)
        if (present & sources[i].source)
            st = read_source(sources[i].source, &p, pairs, report, err);
    for (size_t d = 0; d < DS_COUNT && !st; d++) {
        if (!(present & datasets[d].source))
            continue;
        corpus_dataset_report *r = &report->datasets[report->dataset_count++];
        snprintf(r->name, sizeof r->name, "%s", datasets[d].name);
        r->source = datasets[d].source;
        r->dropped = corpus_pairs_dropped(&pairs[d]);
        r->duplicates = pairs[d].dropped_duplicate;
        st = corpus_pairs_write(&pairs[d], opts->output_dir, datasets[d].name, held_out,
                                opts->seed, r, err);
        r->weight = r->train_pairs ? fmax(1.0, round(sqrt((double)r->train_pairs))) : 0;
        corpus_pairs_free(&pairs[d]);
    }
    for (size_t d = 0; d < DS_COUNT; d++)
        corpus_pairs_free(&pairs[d]);
    if (!st)
        st = write_data_config(opts->output_dir, report, err);
    clock_gettime(CLOCK_MONOTONIC, &t1);
    report->seconds = (double)(t1.tv_sec - t0.tv_sec) + 1e-9 * (double)(t1.tv_nsec - t0.tv_nsec);
    return st;
}
