#include "support.h"

#include <string.h>

#include "core/cpu.h"
#include "core/error.h"

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
        cmocka_unit_test(test_status_names),
        cmocka_unit_test(test_cpu_features_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
