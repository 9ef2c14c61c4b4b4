/* The --log file (issue #14, item 5): a resume cuts it back to the checkpoint's step (torn
 * last line dropped, other files refused, the rewrite atomic), and a write that fails stops
 * the run with the file named. */
#include "support.h"

#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "train/train_log.h"

static void write_text(const char *path, const char *text)
{
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    assert_int_equal(fwrite(text, 1, strlen(text), f), strlen(text));
    assert_int_equal(fclose(f), 0);
}

static void assert_file_is(const char *path, const char *expected)
{
    char *text = test_read_file(path, NULL);
    assert_string_equal(text, expected);
    free(text);
}

#define STEP_LINES                                                                         \
    "{\"step\": 1, \"loss\": 3.5}\n{\"step\": 2, \"loss\": 3.25}\n"                         \
    "{\"step\": 2, \"eval_sts_spearman\": 0.5}\n{\"step\": 3, \"loss\": 3}\n"

static void test_truncate_keeps_steps_up_to_the_checkpoint(void **state)
{
    test_temp_file *tf = *state;
    semb_error err = {0};
    /* steps 3 and 4 were logged after checkpoint 2, step 5 torn by the kill */
    write_text(tf->path, STEP_LINES "{\"step\": 4, \"loss\": 2.5}\n{\"step\": 5, \"lo");
    assert_int_equal(train_log_truncate(tf->path, 2, &err), SEMB_OK);
    assert_file_is(tf->path, "{\"step\": 1, \"loss\": 3.5}\n{\"step\": 2, \"loss\": 3.25}\n"
                             "{\"step\": 2, \"eval_sts_spearman\": 0.5}\n");
    /* nothing after the step: the very same file, untouched */
    struct stat before, after;
    assert_int_equal(stat(tf->path, &before), 0);
    assert_int_equal(train_log_truncate(tf->path, 7, &err), SEMB_OK);
    assert_int_equal(stat(tf->path, &after), 0);
    assert_true(before.st_ino == after.st_ino);
    /* no temporary file left beside it */
    DIR *d = opendir(tf->dir);
    assert_non_null(d);
    int entries = 0;
    for (struct dirent *e; (e = readdir(d));)
        entries += strcmp(e->d_name, ".") != 0 && strcmp(e->d_name, "..") != 0;
    closedir(d);
    assert_int_equal(entries, 1);
}

static void test_truncate_missing_file_is_fine(void **state)
{
    test_temp_file *tf = *state;
    semb_error err = {0};
    assert_int_equal(train_log_truncate(tf->path, 3, &err), SEMB_OK);
    assert_int_equal(access(tf->path, F_OK), -1);
}

static void test_truncate_refuses_other_files(void **state)
{
    test_temp_file *tf = *state;
    static const char *bad[] = {"{\"step\": 1}\nnot json\n", "{\"step\": 1}\n[1, 2]\n",
                                "{\"step\": 1}\n{\"step\": \"2\"}\n", "{\"step\": 1}\n\n"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        semb_error err = {0};
        write_text(tf->path, bad[k]);
        assert_int_equal(train_log_truncate(tf->path, 1, &err), SEMB_ERR_FORMAT);
        char where[4200];
        snprintf(where, sizeof where, "%s:2: not a JSON object with an integer \"step\"",
                 tf->path);
        assert_non_null(strstr(err.message, where));
        assert_file_is(tf->path, bad[k]);
    }
}

static void test_resume_appends_after_the_checkpoint(void **state)
{
    test_temp_file *tf = *state;
    semb_error err = {0};
    train_log log;
    write_text(tf->path, STEP_LINES);
    assert_int_equal(train_log_open(&log, tf->path, 2, &err), SEMB_OK);
    assert_int_equal(train_log_line(&log, &err, "{\"step\": %d, \"loss\": 9}", 3), SEMB_OK);
    assert_int_equal(train_log_close(&log, &err), SEMB_OK);
    assert_null(log.fp);
    assert_file_is(tf->path, "{\"step\": 1, \"loss\": 3.5}\n{\"step\": 2, \"loss\": 3.25}\n"
                             "{\"step\": 2, \"eval_sts_spearman\": 0.5}\n"
                             "{\"step\": 3, \"loss\": 9}\n");
    /* a fresh run starts the file over */
    assert_int_equal(train_log_open(&log, tf->path, 0, &err), SEMB_OK);
    assert_int_equal(train_log_line(&log, &err, "{\"step\": 1}"), SEMB_OK);
    assert_int_equal(train_log_close(&log, &err), SEMB_OK);
    assert_file_is(tf->path, "{\"step\": 1}\n");
}

static void test_resume_with_a_foreign_file_fails(void **state)
{
    test_temp_file *tf = *state;
    semb_error err = {0};
    train_log log;
    write_text(tf->path, "hello\n");
    assert_int_equal(train_log_open(&log, tf->path, 2, &err), SEMB_ERR_FORMAT);
    assert_null(log.fp);
    assert_null(log.path);
    assert_file_is(tf->path, "hello\n");
}

/* /dev/full takes the open and refuses every write with ENOSPC, as a full disk does. */
static void test_write_errors_name_the_file(void **state)
{
    (void)state;
    if (access("/dev/full", W_OK) != 0)
        skip();
    for (long resume_step = 0; resume_step <= 5; resume_step += 5) {
        semb_error err = {0};
        train_log log;
        assert_int_equal(train_log_open(&log, "/dev/full", resume_step, &err), SEMB_OK);
        assert_int_equal(train_log_line(&log, &err, "{\"step\": %d}", 6), SEMB_ERR_IO);
        assert_string_equal(err.message,
                            "/dev/full: cannot write the log: No space left on device");
        train_log_close(&log, NULL);
    }
}

static void test_open_errors_name_the_file(void **state)
{
    test_temp_file *tf = *state;
    semb_error err = {0};
    train_log log;
    char path[4200];
    snprintf(path, sizeof path, "%s/no-such-folder/log.jsonl", tf->dir);
    assert_int_equal(train_log_open(&log, path, 0, &err), SEMB_ERR_IO);
    assert_non_null(strstr(err.message, "no-such-folder/log.jsonl: cannot open the log"));
    assert_int_equal(train_log_close(&log, &err), SEMB_OK); /* zeroed: safe */
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_truncate_keeps_steps_up_to_the_checkpoint,
                                        test_temp_file_setup, test_temp_file_teardown),
        cmocka_unit_test_setup_teardown(test_truncate_missing_file_is_fine,
                                        test_temp_file_setup, test_temp_file_teardown),
        cmocka_unit_test_setup_teardown(test_truncate_refuses_other_files,
                                        test_temp_file_setup, test_temp_file_teardown),
        cmocka_unit_test_setup_teardown(test_resume_appends_after_the_checkpoint,
                                        test_temp_file_setup, test_temp_file_teardown),
        cmocka_unit_test_setup_teardown(test_resume_with_a_foreign_file_fails,
                                        test_temp_file_setup, test_temp_file_teardown),
        cmocka_unit_test(test_write_errors_name_the_file),
        cmocka_unit_test_setup_teardown(test_open_errors_name_the_file,
                                        test_temp_file_setup, test_temp_file_teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
