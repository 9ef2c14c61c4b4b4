/* The training record kept in checkpoints: round trip through JSON, thinning of long runs,
 * non-finite losses, and malformed input. */
#include "support.h"

#include <jansson.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "train/train_record.h"

static void test_round_trip(void **state)
{
    train_record r = {0}, back = {0};
    semb_error err = {0};
    for (int i = 1; i <= 5; i++)
        assert_int_equal(train_record_step(&r, i, i == 3 ? NAN : 4.0 - 0.5 * i, 1e-4 * i, &err),
                         SEMB_OK);
    assert_int_equal(train_record_eval(&r, 5, "spearman_cosine", "dev.tsv", 61.5, &err), SEMB_OK);
    r.seconds = 12.25;
    json_t *j = train_record_to_json(&r);
    assert_non_null(j);
    assert_int_equal(json_array_size(j), 5 + 1 + 1);
    assert_int_equal(train_record_from_json(&back, j, "state.json", &err), SEMB_OK);
    assert_int_equal(back.n, 5);
    assert_true(isnan(back.loss[2]));
    assert_true(back.loss[4] == 1.5 && back.lr[4] == 5e-4 && back.steps[4] == 5);
    assert_int_equal(back.n_evals, 1);
    assert_string_equal(back.evals[0].dataset, "dev.tsv");
    assert_true(back.evals[0].value == 61.5 && back.seconds == 12.25);
    /* mean of the last 2 finite losses: steps 4 and 5 */
    assert_true(fabs(train_record_recent_loss(&back, 2) - 1.75) < 1e-12);
    json_decref(j);
    train_record_free(&r);
    train_record_free(&back);
}

static void test_long_runs_are_thinned(void **state)
{
    train_record r = {0}, back = {0};
    semb_error err = {0};
    size_t n = 3 * TRAIN_RECORD_MAX_SAVED + 7;
    for (size_t i = 1; i <= n; i++)
        assert_int_equal(train_record_step(&r, (int64_t)i, 1.0, 1e-4, &err), SEMB_OK);
    json_t *j = train_record_to_json(&r);
    assert_non_null(j);
    assert_int_equal(train_record_from_json(&back, j, "state.json", &err), SEMB_OK);
    assert_true(back.n <= TRAIN_RECORD_MAX_SAVED + 1);
    assert_true(back.n >= TRAIN_RECORD_MAX_SAVED / 2);
    assert_int_equal(back.steps[0], 1);
    assert_int_equal(back.steps[back.n - 1], (int64_t)n); /* the last step is always kept */
    for (size_t i = 1; i < back.n; i++)
        assert_true(back.steps[i] > back.steps[i - 1]);
    json_decref(j);
    train_record_free(&r);
    train_record_free(&back);
}

static void test_malformed_history(void **state)
{
    static const char *bad[] = {"{}", "[{\"step\": 1}]", "[{\"step\": \"x\", \"loss\": 1}]",
                                "[{\"metric\": \"m\", \"dataset\": \"d\"}]", "[3]"};
    for (size_t k = 0; k < sizeof bad / sizeof bad[0]; k++) {
        train_record r = {0};
        semb_error err = {0};
        assert_int_equal(train_record_step(&r, 1, 2.0, 0.1, &err), SEMB_OK);
        json_t *j = json_loads(bad[k], 0, NULL);
        assert_non_null(j);
        assert_int_equal(train_record_from_json(&r, j, "state.json", &err), SEMB_ERR_FORMAT);
        assert_non_null(strstr(err.message, "state.json: log_history"));
        assert_int_equal(r.n, 1); /* unchanged on failure */
        json_decref(j);
        train_record_free(&r);
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_round_trip),
        cmocka_unit_test(test_long_runs_are_thinned),
        cmocka_unit_test(test_malformed_history),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
