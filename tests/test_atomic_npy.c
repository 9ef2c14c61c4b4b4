#include "support.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/npy.h"

static int make_dir(void **state)
{
    *state = test_make_temp_dir();
    return 0;
}

static int remove_dir(void **state)
{
    test_rmtree(*state);
    free(*state);
    return 0;
}

/* dir/name in one of 4 rotating static buffers. */
static const char *path_in(const char *dir, const char *name)
{
    static char buffers[4][4096];
    static int next;
    char *buf = buffers[next++ % 4];
    snprintf(buf, sizeof buffers[0], "%s/%s", dir, name);
    return buf;
}

/* The folder's entries, sorted and space-separated ("" when empty). */
static void assert_dir_listing(const char *dir, const char *expected)
{
    char cmd[4200];
    snprintf(cmd, sizeof cmd, "test \"$(ls -A '%s' | tr '\\n' ' ')\" = '%s'", dir, expected);
    if (system(cmd) != 0)
        fail_msg("%s does not hold exactly '%s'", dir, expected);
}

static void assert_file_text(const char *path, const char *expected)
{
    size_t size;
    char *text = test_read_file(path, &size);
    assert_int_equal(size, strlen(expected));
    assert_memory_equal(text, expected, size);
    free(text);
}

static void assert_error_names(const semb_error *err, const char *path, const char *reason)
{
    assert_memory_equal(err->message, path, strlen(path));
    if (!strstr(err->message, reason))
        fail_msg("message \"%s\" lacks \"%s\"", err->message, reason);
}

/* --- atomic_file ----------------------------------------------------------------------- */

static void test_commit_creates_file(void **state)
{
    const char *path = path_in(*state, "out.txt");
    atomic_file af;
    semb_error err;
    assert_int_equal(atomic_file_open(&af, path, &err), SEMB_OK);
    assert_non_null(af.fp);
    assert_memory_equal(af.tmp_path, path, strlen(path));
    assert_memory_equal(af.tmp_path + strlen(path), ".tmp.", 5);
    fputs("hello\n", af.fp);
    struct stat st;
    assert_int_equal(stat(path, &st), -1); /* not there until committed */
    assert_int_equal(atomic_file_commit(&af, &err), SEMB_OK);
    assert_null(af.fp);
    assert_null(af.tmp_path);
    assert_file_text(path, "hello\n");
    assert_int_equal(stat(path, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0644);
    assert_dir_listing(*state, "out.txt ");
}

static void test_commit_replaces_file(void **state)
{
    const char *path = path_in(*state, "out.txt");
    semb_error err;
    assert_int_equal(atomic_write_buffer(path, "old contents", 12, &err), SEMB_OK);
    assert_int_equal(atomic_write_buffer(path, "new", 3, &err), SEMB_OK);
    assert_file_text(path, "new");
    assert_int_equal(atomic_write_buffer(path, NULL, 0, &err), SEMB_OK);
    assert_file_text(path, "");
    assert_dir_listing(*state, "out.txt ");
}

static void test_abort_leaves_nothing(void **state)
{
    const char *path = path_in(*state, "out.txt");
    atomic_file af;
    semb_error err;
    assert_int_equal(atomic_file_open(&af, path, &err), SEMB_OK);
    fputs("partial", af.fp);
    atomic_file_abort(&af);
    assert_null(af.tmp_path);
    assert_dir_listing(*state, "");

    assert_int_equal(atomic_write_buffer(path, "kept", 4, &err), SEMB_OK);
    assert_int_equal(atomic_file_open(&af, path, &err), SEMB_OK);
    fputs("replacement", af.fp);
    atomic_file_abort(&af);
    assert_file_text(path, "kept");
    assert_dir_listing(*state, "out.txt ");

    atomic_file zeroed = {0};
    atomic_file_abort(&zeroed);
    atomic_file_abort(NULL);
}

static void test_open_fails_cleanly(void **state)
{
    atomic_file af;
    semb_error err;
    const char *missing = path_in(*state, "no/such/dir/out.txt");
    assert_int_equal(atomic_file_open(&af, missing, &err), SEMB_ERR_IO);
    assert_error_names(&err, missing, "No such file or directory");
    assert_null(af.fp);
    assert_null(af.path);

    /* A path below a regular file fails even for root, unlike a read-only folder. */
    const char *file = path_in(*state, "plain");
    assert_int_equal(atomic_write_buffer(file, "x", 1, &err), SEMB_OK);
    const char *below_file = path_in(*state, "plain/out.txt");
    assert_int_equal(atomic_write_buffer(below_file, "x", 1, &err), SEMB_ERR_IO);
    assert_error_names(&err, below_file, "Not a directory");
    assert_dir_listing(*state, "plain ");
}

static void test_commit_failure_removes_temp(void **state)
{
    /* Renaming a file onto a non-empty folder fails at the last step. */
    const char *target = path_in(*state, "folder");
    assert_int_equal(mkdir(target, 0755), 0);
    semb_error err;
    assert_int_equal(atomic_write_buffer(path_in(*state, "folder/inside"), "x", 1, &err),
                     SEMB_OK);
    assert_int_equal(atomic_write_buffer(target, "data", 4, &err), SEMB_ERR_IO);
    assert_error_names(&err, target, "rename");
    assert_dir_listing(*state, "folder ");

    /* A write error of the caller's surfaces at commit. */
    const char *path = path_in(*state, "out.txt");
    atomic_file af;
    assert_int_equal(atomic_file_open(&af, path, &err), SEMB_OK);
    fputs("unwritable", af.fp);
    FILE *real = af.fp;
    af.fp = fopen("/dev/full", "wb");
    if (!af.fp) {
        af.fp = real;
        atomic_file_abort(&af);
        skip();
    }
    fclose(real);
    fputs("fills the disk", af.fp);
    assert_int_equal(atomic_file_commit(&af, &err), SEMB_ERR_IO);
    assert_error_names(&err, path, "No space left on device");
    assert_null(af.tmp_path);
    assert_dir_listing(*state, "folder ");
}

/* --- npy -------------------------------------------------------------------------------- */

/* Checks the header and returns its length, where the data starts. */
static size_t check_npy_header(const unsigned char *bytes, size_t size, const char *shape)
{
    assert_true(size >= 64);
    assert_memory_equal(bytes, "\x93NUMPY\x01\x00", 8);
    size_t header_len = bytes[8] | (size_t)bytes[9] << 8;
    size_t total = 10 + header_len;
    assert_int_equal(total % 64, 0);
    assert_true(total <= size);
    char dict[256];
    snprintf(dict, sizeof dict, "{'descr': '<f4', 'fortran_order': False, 'shape': %s, }",
             shape);
    assert_memory_equal(bytes + 10, dict, strlen(dict));
    for (size_t i = 10 + strlen(dict); i < total - 1; i++)
        assert_int_equal(bytes[i], ' ');
    assert_int_equal(bytes[total - 1], '\n');
    return total;
}

static void test_npy_file(void **state)
{
    const char *path = path_in(*state, "x.npy");
    float data[12];
    for (int i = 0; i < 12; i++)
        data[i] = (float)i - 5.5f;
    semb_error err;
    assert_int_equal(npy_write_f32(path, data, 3, 4, &err), SEMB_OK);
    size_t size;
    unsigned char *bytes = (unsigned char *)test_read_file(path, &size);
    size_t header = check_npy_header(bytes, size, "(3, 4)");
    assert_int_equal(header, 128);
    assert_int_equal(size, header + sizeof data);
    assert_memory_equal(bytes + header, data, sizeof data);
    free(bytes);
    assert_dir_listing(*state, "x.npy ");

    assert_int_equal(npy_write_f32(path, NULL, 0, 384, &err), SEMB_OK);
    bytes = (unsigned char *)test_read_file(path, &size);
    assert_int_equal(check_npy_header(bytes, size, "(0, 384)"), size);
    free(bytes);
}

static void test_npy_header_sizes(void **state)
{
    const size_t shapes[][2] = {{1, 1}, {146, 32}, {123456789012, 7}, {SIZE_MAX, SIZE_MAX}};
    for (size_t i = 0; i < sizeof shapes / sizeof shapes[0]; i++) {
        char *buf = NULL;
        size_t size = 0;
        FILE *fp = open_memstream(&buf, &size);
        assert_non_null(fp);
        semb_error err;
        assert_int_equal(npy_write_f32_header(fp, shapes[i][0], shapes[i][1], "mem.npy", &err),
                         SEMB_OK);
        assert_int_equal(fclose(fp), 0);
        char shape[64];
        snprintf(shape, sizeof shape, "(%zu, %zu)", shapes[i][0], shapes[i][1]);
        assert_int_equal(check_npy_header((const unsigned char *)buf, size, shape), size);
        free(buf);
    }
}

static void test_npy_errors(void **state)
{
    semb_error err;
    const char *missing = path_in(*state, "missing/x.npy");
    const float x = 1;
    assert_int_equal(npy_write_f32(missing, &x, 1, 1, &err), SEMB_ERR_IO);
    assert_error_names(&err, missing, "No such file or directory");
    const char *path = path_in(*state, "huge.npy");
    assert_int_equal(npy_write_f32(path, &x, SIZE_MAX / 2, 3, &err), SEMB_ERR_INVALID_ARG);
    assert_error_names(&err, path, "too large");
    assert_dir_listing(*state, "");

    FILE *full = fopen("/dev/full", "wb");
    if (!full)
        skip();
    setvbuf(full, NULL, _IONBF, 0);
    assert_int_equal(npy_write_f32_header(full, 2, 2, "/dev/full", &err), SEMB_ERR_IO);
    assert_error_names(&err, "/dev/full", "No space left on device");
    fclose(full);
}

/* numpy itself reads the file, when this machine has it; the header checks above do not
 * depend on it. */
static void test_npy_loads_in_numpy(void **state)
{
    if (system("/usr/bin/python3 -c 'import numpy' 2>/dev/null") != 0)
        skip();
    const char *path = path_in(*state, "x.npy");
    float data[6] = {1.5f, -2, 0, 3.25f, 1e-20f, 7};
    semb_error err;
    assert_int_equal(npy_write_f32(path, data, 2, 3, &err), SEMB_OK);
    char cmd[4400];
    snprintf(cmd, sizeof cmd,
             "/usr/bin/python3 -c \"import numpy as np; a = np.load('%s'); "
             "assert a.dtype == np.float32 and a.shape == (2, 3) and a.flags.c_contiguous; "
             "assert (a == np.array([[1.5, -2, 0], [3.25, 1e-20, 7]], np.float32)).all()\"",
             path);
    assert_int_equal(system(cmd), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_commit_creates_file, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_commit_replaces_file, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_abort_leaves_nothing, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_open_fails_cleanly, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_commit_failure_removes_temp, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_npy_file, make_dir, remove_dir),
        cmocka_unit_test(test_npy_header_sizes),
        cmocka_unit_test_setup_teardown(test_npy_errors, make_dir, remove_dir),
        cmocka_unit_test_setup_teardown(test_npy_loads_in_numpy, make_dir, remove_dir),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
