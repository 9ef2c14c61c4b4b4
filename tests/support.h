/* Helpers shared by the cmocka test programs. */
#ifndef SEMB_TEST_SUPPORT_H
#define SEMB_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

#include "semb.h"

#define TEST_SKIPPED 77

/* The shared/ folder (env SEMB_SHARED_DIR, else the build's default), or NULL when it
 * is not there. */
const char *test_shared_dir(void);

/* shared/<relative>, in one of 8 rotating static buffers. */
const char *test_shared_path(const char *relative);

/* Call first in main() of a test that needs shared/: returns 0 when it is there, or
 * prints a loud SKIPPED line and returns TEST_SKIPPED (CTest counts it as skipped). */
int test_require_shared(const char *program);

/* Reads a whole file into a malloc'd NUL-terminated buffer; fails the test if it cannot. */
char *test_read_file(const char *path, size_t *size);

/* A fresh temporary directory (mkdtemp) the test may write to; removed by test_rmtree. */
char *test_make_temp_dir(void);
void test_rmtree(const char *path);

/* dir/name in one of 8 rotating static buffers. */
const char *test_path_in(const char *dir, const char *name);

/* A cmocka fixture: *state becomes a fresh temporary directory (its malloc'd path);
 * teardown removes the directory and frees the path. */
int test_temp_dir_setup(void **state);
int test_temp_dir_teardown(void **state);
/* A cmocka test entry that runs test in a fresh temporary directory (*state, its path). */
#define test_in_temp_dir(test) \
    cmocka_unit_test_setup_teardown(test, test_temp_dir_setup, test_temp_dir_teardown)

/* Copies shared/fixtures/<fixture>'s files into the folder dest (made when missing), every
 * file writable, so a test can break one without touching shared/; fails the test if it cannot. */
void test_copy_fixture_to(const char *fixture, const char *dest);

/* A fresh temporary directory holding a writable copy of shared/fixtures/<fixture>'s files;
 * the caller removes it with test_rmtree and frees the path. */
char *test_copy_fixture(const char *fixture);

/* A cmocka fixture: *state becomes a test_temp_file whose path names "test.idx" in a fresh
 * temporary directory; teardown removes the directory. */
typedef struct test_temp_file {
    char *dir;
    char path[4096];
} test_temp_file;
int test_temp_file_setup(void **state);
int test_temp_file_teardown(void **state);

/* The cosine of two float vectors of dim entries, summed in double. */
double test_cosine(const float *a, const float *b, size_t dim);

/* shared/fixtures/<name> loaded as a model; fails the test if it cannot. */
semb_model *test_load_fixture(const char *fixture);

/* A fixture's reference triples (ref.mnrl.json "triples"), tokenized by the model, in the
 * column layout of a training batch: n anchors, then n positives, then n negatives. */
typedef struct test_triples {
    int n;
    int32_t **ids; /* [3 * n], each malloc'd */
    int *counts;
} test_triples;

test_triples test_load_triples(const semb_model *m, const char *fixture);
void test_free_triples(test_triples *t);

/* MultipleNegativesRankingLoss over cos x 20, as the fixtures' references were made: one
 * for the whole program (still reachable at exit, so not a leak). */
struct train_loss;
const struct train_loss *test_cosine20_loss(void);

#endif
