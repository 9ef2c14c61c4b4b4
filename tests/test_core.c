#include "support.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "core/array.h"
#include "core/cpu.h"
#include "core/error.h"

/* Appends one at a time keep every element, reallocate only O(log n) times, and a size that
 * overflows size_t fails leaving the array and its capacity as they were. */
static void test_array_grow(void **state)
{
    (void)state;
    int *a = NULL;
    size_t cap = 0;
    int moves = 0;
    for (int i = 0; i < 10000; i++) {
        size_t before = cap;
        int *grown = array_grow(a, &cap, (size_t)i + 1, sizeof *a);
        assert_non_null(grown);
        assert_true(cap >= (size_t)i + 1);
        moves += cap != before;
        a = grown;
        a[i] = i;
    }
    for (int i = 0; i < 10000; i++)
        assert_int_equal(a[i], i);
    assert_true(moves <= 10);
    assert_ptr_equal(array_grow(a, &cap, cap, sizeof *a), a);
    size_t kept = cap;
    assert_null(array_grow(a, &cap, SIZE_MAX / 2, sizeof *a));
    assert_int_equal(cap, kept);
    assert_int_equal(a[9999], 9999);
    free(a);
}

static void test_fail_formats_one_line(void **state)
{
    semb_error err;
    semb_error_clear(&err);
    semb_status st = semb_fail(&err, SEMB_ERR_FORMAT, "%s: line %d:\nbad", "x.json", 3);
    assert_int_equal(st, SEMB_ERR_FORMAT);
    assert_int_equal(err.status, SEMB_ERR_FORMAT);
    assert_string_equal(err.message, "x.json: line 3: bad");
    semb_fail_prefix(&err, "model %s: ", "m");
    assert_string_equal(err.message, "model m: x.json: line 3: bad");
    assert_int_equal(semb_fail(NULL, SEMB_ERR_IO, "ignored"), SEMB_ERR_IO);
}

/* An error about one item of a list carries its index, and a caller can name the item its
 * own way while keeping the reason (no parsing of the message back). */
static void test_error_item(void **state)
{
    (void)state;
    semb_error err;
    semb_fail(&err, SEMB_ERR_INPUT, "invalid UTF-8 at byte %d", 7);
    assert_false(err.has_item);
    assert_int_equal(semb_fail_item(&err, "text", 3), SEMB_ERR_INPUT);
    assert_true(err.has_item);
    assert_int_equal(err.item, 3);
    assert_string_equal(err.message, "text 3: invalid UTF-8 at byte 7");
    semb_fail_prefix(&err, "chunk 2: ");
    assert_true(err.has_item);
    assert_int_equal(semb_error_rename_item(&err, 12, "%s:%d: ", "in.txt", 40), SEMB_ERR_INPUT);
    assert_string_equal(err.message, "in.txt:40: invalid UTF-8 at byte 7");
    assert_int_equal(err.item, 12);
    assert_int_equal(semb_error_rename_item(&err, 5, "query %d: ", 5), SEMB_ERR_INPUT);
    assert_string_equal(err.message, "query 5: invalid UTF-8 at byte 7");
    /* a new failure is about no item; renaming it changes nothing */
    semb_fail(&err, SEMB_ERR_IO, "x: cannot open");
    assert_false(err.has_item);
    semb_error_rename_item(&err, 1, "line %d: ", 1);
    assert_string_equal(err.message, "x: cannot open");
    semb_fail_item(&err, "text", 0);
    semb_error_clear(&err);
    assert_false(err.has_item);
}

static void test_status_names(void **state)
{
    for (int s = SEMB_OK; s <= SEMB_ERR_NOMEM; s++)
        assert_true(strlen(semb_status_name((semb_status)s)) > 0);
    assert_string_equal(semb_status_name((semb_status)999), "unknown status");
}

static void test_cpu_features_consistent(void **state)
{
    const semb_cpu_features *f = cpu_features();
    if (f->avx512bw)
        assert_true(f->avx512f);
    if (f->amx_bf16)
        assert_true(f->amx_tile);
    assert_true(strlen(cpu_features_string()) > 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_fail_formats_one_line),
        cmocka_unit_test(test_error_item),
        cmocka_unit_test(test_array_grow),
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_cpu_features_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
