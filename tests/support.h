/* Helpers shared by the cmocka test programs. */
#ifndef SEMB_TEST_SUPPORT_H
#define SEMB_TEST_SUPPORT_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>

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

#endif
