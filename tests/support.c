#include "support.h"

#include <jansson.h>

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train/mnrl_loss.h"

const char *test_shared_dir(void)
{
    const char *dir = getenv("SEMB_SHARED_DIR");
    if (!dir || !*dir)
        dir = SEMB_SHARED_DIR_DEFAULT;
    struct stat st;
    if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
        return NULL;
    return dir;
}

const char *test_shared_path(const char *relative)
{
    static char buffers[8][4096];
    static int next;
    char *buf = buffers[next++ % 8];
    const char *dir = test_shared_dir();
    snprintf(buf, sizeof buffers[0], "%s/%s", dir ? dir : "(missing-shared)", relative);
    return buf;
}

int test_require_shared(const char *program)
{
    if (test_shared_dir())
        return 0;
    fprintf(stderr, "SKIPPED %s: shared/ not found (set SEMB_SHARED_DIR); none of its tests ran\n",
            program);
    return TEST_SKIPPED;
}

char *test_read_file(const char *path, size_t *size)
{
    FILE *f = fopen(path, "rb");
    if (!f)
        fail_msg("cannot open %s", path);
    fseek(f, 0, SEEK_END);
    long n = ftell(f);
    fseek(f, 0, SEEK_SET);
    char *buf = malloc((size_t)n + 1);
    assert_non_null(buf);
    assert_int_equal(fread(buf, 1, (size_t)n, f), (size_t)n);
    buf[n] = '\0';
    fclose(f);
    if (size)
        *size = (size_t)n;
    return buf;
}

char *test_make_temp_dir(void)
{
    char templ[] = "/tmp/semb-test-XXXXXX";
    char *dir = mkdtemp(templ);
    assert_non_null(dir);
    return strdup(dir);
}

void test_rmtree(const char *path)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", path);
    if (system(cmd) != 0)
        fprintf(stderr, "warning: could not remove %s\n", path);
}

const char *test_path_in(const char *dir, const char *name)
{
    static char buffers[8][4096];
    static int next;
    char *buf = buffers[next++ % 8];
    snprintf(buf, sizeof buffers[0], "%s/%s", dir, name);
    return buf;
}

int test_temp_dir_setup(void **state)
{
    *state = test_make_temp_dir();
    return 0;
}

int test_temp_dir_teardown(void **state)
{
    test_rmtree(*state);
    free(*state);
    return 0;
}

void test_copy_fixture_to(const char *fixture, const char *dest)
{
    char rel[256], cmd[9000];
    snprintf(rel, sizeof rel, "fixtures/%s", fixture);
    snprintf(cmd, sizeof cmd, "mkdir -p '%s' && cp -r '%s/.' '%s/' && chmod -R u+w '%s'", dest,
             test_shared_path(rel), dest, dest);
    if (system(cmd) != 0)
        fail_msg("cannot copy the fixture %s to %s", fixture, dest);
}

char *test_copy_fixture(const char *fixture)
{
    char *dir = test_make_temp_dir();
    test_copy_fixture_to(fixture, dir);
    return dir;
}

double test_cosine(const float *a, const float *b, size_t dim)
{
    double ab = 0, aa = 0, bb = 0;
    for (size_t d = 0; d < dim; d++) {
        ab += (double)a[d] * b[d];
        aa += (double)a[d] * a[d];
        bb += (double)b[d] * b[d];
    }
    return ab / sqrt(aa * bb);
}

semb_model *test_load_fixture(const char *fixture)
{
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/%s", fixture);
    semb_model *m = NULL;
    semb_error err = {0};
    if (semb_model_load(test_shared_path(rel), &m, &err))
        fail_msg("%s", err.message);
    return m;
}

test_triples test_load_triples(const semb_model *m, const char *fixture)
{
    char rel[256];
    snprintf(rel, sizeof rel, "fixtures/%s/ref.mnrl.json", fixture);
    json_t *root = json_load_file(test_shared_path(rel), 0, NULL);
    assert_non_null(root);
    json_t *list = json_object_get(root, "triples");
    assert_true(json_is_array(list));
    test_triples t = {.n = (int)json_array_size(list)};
    t.ids = calloc((size_t)t.n * 3, sizeof *t.ids);
    t.counts = calloc((size_t)t.n * 3, sizeof *t.counts);
    assert_true(t.ids && t.counts);
    for (int i = 0; i < t.n; i++)
        for (int c = 0; c < 3; c++) {
            json_t *s = json_array_get(json_array_get(list, (size_t)i), (size_t)c);
            size_t count;
            semb_error err = {0};
            if (semb_tokenize(m, json_string_value(s), json_string_length(s), &t.ids[c * t.n + i],
                              &count, &err))
                fail_msg("%s", err.message);
            t.counts[c * t.n + i] = (int)count;
        }
    json_decref(root);
    return t;
}

void test_free_triples(test_triples *t)
{
    for (int i = 0; i < 3 * t->n; i++)
        free(t->ids[i]);
    free(t->ids);
    free(t->counts);
}

int test_temp_file_setup(void **state)
{
    test_temp_file *t = calloc(1, sizeof *t);
    t->dir = test_make_temp_dir();
    snprintf(t->path, sizeof t->path, "%s/test.idx", t->dir);
    *state = t;
    return 0;
}

int test_temp_file_teardown(void **state)
{
    test_temp_file *t = *state;
    test_rmtree(t->dir);
    free(t->dir);
    free(t);
    return 0;
}

const struct train_loss *test_cosine20_loss(void)
{
    static train_loss *loss;
    mnrl_config c = {.similarity = SIMILARITY_COSINE, .scale = 20.0f};
    if (!loss && mnrl_train_loss_create(&c, &loss, NULL) != SEMB_OK)
        fail_msg("out of memory");
    return loss;
}
