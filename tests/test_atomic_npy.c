#include "support.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/error.h"
#include "io/atomic_file.h"
#include "io/files.h"
#include "io/npy.h"

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

/* --- path_make_dir --------------------------------------------------------------------- */

/* A new folder and one already there succeed; a file in its place or a missing parent is an
 * error naming the path. */
static void test_make_dir(void **state)
{
    semb_error err = {0};
    const char *dir = test_path_in(*state, "made");
    assert_int_equal(path_make_dir(dir, &err), SEMB_OK);
    assert_true(path_is_dir(dir));
    assert_int_equal(path_make_dir(dir, &err), SEMB_OK);
    const char *file = test_path_in(*state, "plain");
    assert_int_equal(path_make_dir(file, &err), SEMB_OK);
    assert_int_equal(rmdir(file), 0);
    FILE *f = fopen(file, "w");
    assert_non_null(f);
    fclose(f);
    assert_int_equal(path_make_dir(file, &err), SEMB_ERR_IO);
    assert_error_names(&err, file, "File exists");
    const char *orphan = test_path_in(*state, "no/parent");
    assert_int_equal(path_make_dir(orphan, &err), SEMB_ERR_IO);
    assert_error_names(&err, orphan, "No such file or directory");
}

/* --- atomic_file ----------------------------------------------------------------------- */

static void test_commit_creates_file(void **state)
{
    const char *path = test_path_in(*state, "out.txt");
    atomic_file af;
    semb_error err;
    assert_int_equal(atomic_file_open(&af, path, &err), SEMB_OK);
    assert_non_null(af.fp);
    assert_false(af.stream);
    fputs("hello\n", af.fp);
    struct stat st;
    assert_int_equal(stat(path, &st), -1); /* not there until committed */
    assert_dir_listing(*state, ""); /* nor under a temporary name (O_TMPFILE) */
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
    const char *path = test_path_in(*state, "out.txt");
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
    const char *path = test_path_in(*state, "out.txt");
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
    const char *missing = test_path_in(*state, "no/such/dir/out.txt");
    assert_int_equal(atomic_file_open(&af, missing, &err), SEMB_ERR_IO);
    assert_error_names(&err, missing, "No such file or directory");
    assert_null(af.fp);
    assert_null(af.path);

    /* A path below a regular file fails even for root, unlike a read-only folder. */
    const char *file = test_path_in(*state, "plain");
    assert_int_equal(atomic_write_buffer(file, "x", 1, &err), SEMB_OK);
    const char *below_file = test_path_in(*state, "plain/out.txt");
    assert_int_equal(atomic_write_buffer(below_file, "x", 1, &err), SEMB_ERR_IO);
    assert_error_names(&err, below_file, "Not a directory");
    assert_dir_listing(*state, "plain ");
}

static void test_commit_failure_removes_temp(void **state)
{
    /* A folder is refused before anything is written. */
    const char *target = test_path_in(*state, "folder");
    assert_int_equal(mkdir(target, 0755), 0);
    semb_error err;
    assert_int_equal(atomic_write_buffer(test_path_in(*state, "folder/inside"), "x", 1, &err),
                     SEMB_OK);
    assert_int_equal(atomic_write_buffer(target, "data", 4, &err), SEMB_ERR_IO);
    assert_error_names(&err, target, "is a folder");
    assert_dir_listing(*state, "folder ");

    /* A write error of the caller's surfaces at commit. */
    const char *path = test_path_in(*state, "out.txt");
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

/* --- targets that are not plain files (issue #14: outputs never clobber) ---------------- */

/* A killed writer leaves nothing behind: the child dies by SIGKILL between writing and
 * committing, as `kill -9` of a long encode would. */
static void test_killed_writer_leaves_nothing(void **state)
{
    const char *path = test_path_in(*state, "out.npy");
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        atomic_file af;
        semb_error err;
        if (atomic_file_open(&af, path, &err) != SEMB_OK)
            _exit(3);
        fputs("half of the embeddings", af.fp);
        fflush(af.fp);
        raise(SIGKILL);
        _exit(4);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    assert_true(WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL);
    assert_dir_listing(*state, "");
}

static void assert_is_link_to(const char *link, const char *expected_target)
{
    char buf[4096];
    ssize_t n = readlink(link, buf, sizeof buf - 1);
    assert_true(n > 0);
    buf[n] = '\0';
    assert_string_equal(buf, expected_target);
}

static void test_symlink_is_followed(void **state)
{
    semb_error err;
    const char *real = test_path_in(*state, "real.txt");
    const char *link = test_path_in(*state, "link.txt");
    assert_int_equal(atomic_write_buffer(real, "old", 3, &err), SEMB_OK);
    assert_int_equal(chmod(real, 0600), 0);
    assert_int_equal(symlink("real.txt", link), 0); /* relative, as ln -s makes them */
    assert_int_equal(atomic_write_buffer(link, "new", 3, &err), SEMB_OK);
    assert_is_link_to(link, "real.txt");
    assert_file_text(real, "new");
    struct stat st;
    assert_int_equal(stat(real, &st), 0);
    assert_int_equal(st.st_mode & 0777, 0600); /* a replaced file keeps its permissions */

    /* a chain of links, the last one dangling: the file is created where it points */
    const char *dangling = test_path_in(*state, "dangling");
    const char *chain = test_path_in(*state, "chain");
    assert_int_equal(symlink("created.txt", dangling), 0);
    assert_int_equal(symlink(dangling, chain), 0); /* absolute */
    assert_int_equal(atomic_write_buffer(chain, "made", 4, &err), SEMB_OK);
    assert_is_link_to(chain, dangling);
    assert_is_link_to(dangling, "created.txt");
    assert_file_text(test_path_in(*state, "created.txt"), "made");
    assert_dir_listing(*state, "chain created.txt dangling link.txt real.txt ");

    const char *loop = test_path_in(*state, "loop");
    assert_int_equal(symlink("loop", loop), 0);
    assert_int_equal(atomic_write_buffer(loop, "x", 1, &err), SEMB_ERR_IO);
    assert_error_names(&err, loop, "Too many levels of symbolic links");
    assert_is_link_to(loop, "loop");
}

/* A FIFO is written in place, as the bytes come, and stays a FIFO; a writer that seeks back
 * gets its bytes in their final order. */
static void test_fifo_written_in_place(void **state)
{
    const char *fifo = test_path_in(*state, "fifo");
    assert_int_equal(mkfifo(fifo, 0600), 0);
    for (int seekable = 0; seekable < 2; seekable++) {
        /* a reader first, so that opening the FIFO for writing does not block */
        int reader = open(fifo, O_RDONLY | O_NONBLOCK);
        assert_true(reader >= 0);
        atomic_file af;
        semb_error err;
        assert_int_equal(seekable ? atomic_file_open_seekable(&af, fifo, &err)
                                  : atomic_file_open(&af, fifo, &err),
                         SEMB_OK);
        assert_true(af.stream);
        fputs("abcdef", af.fp);
        if (seekable) {
            assert_int_equal(fseeko(af.fp, 0, SEEK_SET), 0);
            fputc('X', af.fp);
        } else {
            fflush(af.fp); /* streaming: the reader has the bytes before the commit */
            char early[8] = {0};
            assert_int_equal(read(reader, early, sizeof early), 6);
            assert_string_equal(early, "abcdef");
            fputs("gh", af.fp);
        }
        assert_int_equal(atomic_file_commit(&af, &err), SEMB_OK);
        char got[16] = {0};
        ssize_t n = read(reader, got, sizeof got - 1);
        close(reader);
        assert_string_equal(got, seekable ? "Xbcdef" : "gh");
        assert_int_equal(n, seekable ? 6 : 2);
        struct stat st;
        assert_int_equal(lstat(fifo, &st), 0);
        assert_true(S_ISFIFO(st.st_mode));
    }
    assert_dir_listing(*state, "fifo ");
}

/* Character devices (made here as copies of /dev/null and /dev/full, never the machine's
 * own nodes) are written in place: a full device's error is reported, the node stays. */
static void test_device_written_in_place(void **state)
{
    const char *null_dev = test_path_in(*state, "null");
    const char *full_dev = test_path_in(*state, "full");
    if (mknod(null_dev, S_IFCHR | 0666, makedev(1, 3)) != 0 ||
        mknod(full_dev, S_IFCHR | 0666, makedev(1, 7)) != 0)
        skip(); /* not root */
    int probe = open(null_dev, O_WRONLY);
    if (probe < 0)
        skip(); /* a nodev mount */
    close(probe);
    semb_error err;
    assert_int_equal(atomic_write_buffer(null_dev, "gone", 4, &err), SEMB_OK);
    assert_int_equal(atomic_write_buffer(full_dev, "full", 4, &err), SEMB_ERR_IO);
    assert_error_names(&err, full_dev, "No space left on device");
    atomic_file af;
    assert_int_equal(atomic_file_open_seekable(&af, full_dev, &err), SEMB_OK);
    fputs("spooled", af.fp);
    assert_int_equal(atomic_file_commit(&af, &err), SEMB_ERR_IO);
    assert_error_names(&err, full_dev, "No space left on device");
    struct stat st;
    assert_int_equal(lstat(null_dev, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_int_equal(lstat(full_dev, &st), 0);
    assert_true(S_ISCHR(st.st_mode));
    assert_dir_listing(*state, "full null ");
}

/* "-", /dev/stdout and /dev/fd/1 write through this process's standard output, keeping
 * its open mode: a shell's `>>` appends. */
static void test_standard_output(void **state)
{
    const char *names[] = {"-", "/dev/stdout", "/dev/fd/1", "/proc/self/fd/1"};
    const char *log = test_path_in(*state, "log.txt");
    semb_error err;
    assert_int_equal(atomic_write_buffer(log, "before\n", 7, &err), SEMB_OK);
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        pid_t pid = fork();
        assert_true(pid >= 0);
        if (pid == 0) {
            int fd = open(log, O_WRONLY | O_APPEND);
            if (fd < 0 || dup2(fd, STDOUT_FILENO) < 0)
                _exit(3);
            _exit(atomic_write_buffer(names[i], names[i], strlen(names[i]), NULL) ? 4 : 0);
        }
        int status;
        assert_int_equal(waitpid(pid, &status, 0), pid);
        assert_true(WIFEXITED(status));
        assert_int_equal(WEXITSTATUS(status), 0);
    }
    assert_file_text(log, "before\n-/dev/stdout/dev/fd/1/proc/self/fd/1");
    assert_dir_listing(*state, "log.txt ");
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
    const char *path = test_path_in(*state, "x.npy");
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
    const char *missing = test_path_in(*state, "missing/x.npy");
    const float x = 1;
    assert_int_equal(npy_write_f32(missing, &x, 1, 1, &err), SEMB_ERR_IO);
    assert_error_names(&err, missing, "No such file or directory");
    const char *path = test_path_in(*state, "huge.npy");
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
    const char *path = test_path_in(*state, "x.npy");
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
        test_in_temp_dir(test_make_dir),
        test_in_temp_dir(test_commit_creates_file),
        test_in_temp_dir(test_commit_replaces_file),
        test_in_temp_dir(test_abort_leaves_nothing),
        test_in_temp_dir(test_open_fails_cleanly),
        test_in_temp_dir(test_commit_failure_removes_temp),
        test_in_temp_dir(test_killed_writer_leaves_nothing),
        test_in_temp_dir(test_symlink_is_followed),
        test_in_temp_dir(test_fifo_written_in_place),
        test_in_temp_dir(test_device_written_in_place),
        test_in_temp_dir(test_standard_output),
        test_in_temp_dir(test_npy_file),
        cmocka_unit_test(test_npy_header_sizes),
        test_in_temp_dir(test_npy_errors),
        test_in_temp_dir(test_npy_loads_in_numpy),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
