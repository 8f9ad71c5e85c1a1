/* test_eval_metrics — `ragd eval`'s arithmetic on a case small enough to
 * check by hand: four questions whose article comes at ranks 1, 3, 7 and
 * not at all. */
#include <math.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>

#include <cmocka.h>

#include "app/eval_metrics.h"

static void test_first_rank(void **state) {
    (void)state;
    const char *ids[] = {"12", "7", "12", "40"};
    assert_int_equal(eval_first_rank(ids, 4, "12"), 1);
    assert_int_equal(eval_first_rank(ids, 4, "40"), 4);
    assert_int_equal(eval_first_rank(ids, 4, "1"), 0);  /* "1" is not a prefix match of "12" */
    assert_int_equal(eval_first_rank(ids, 0, "12"), 0);
}

static void test_hand_checked_means(void **state) {
    (void)state;
    eval_totals t = {0};
    eval_add(&t, 1);
    eval_add(&t, 3);
    eval_add(&t, 7);
    eval_add(&t, 0);
    eval_totals m = eval_mean(&t);
    assert_int_equal(m.n, 4);
    assert_float_equal(m.r1, 0.25, 1e-12);  /* rank 1 only */
    assert_float_equal(m.r5, 0.50, 1e-12);  /* ranks 1 and 3 */
    assert_float_equal(m.r10, 0.75, 1e-12); /* ranks 1, 3, 7 */
    /* (1 + 1/3 + 1/7 + 0) / 4 = 31/84 */
    assert_float_equal(m.mrr10, 31.0 / 84.0, 1e-12);
    /* (1/log2(2) + 1/log2(4) + 1/log2(8) + 0) / 4 = (1 + 1/2 + 1/3) / 4 = 11/24 */
    assert_float_equal(m.ndcg10, 11.0 / 24.0, 1e-12);
}

static void test_beyond_ten_counts_nothing(void **state) {
    (void)state;
    eval_totals t = {0};
    eval_add(&t, 11);
    eval_totals m = eval_mean(&t);
    assert_float_equal(m.r10, 0, 0);
    assert_float_equal(m.mrr10, 0, 0);
    assert_float_equal(m.ndcg10, 0, 0);
    eval_totals none = {0};
    m = eval_mean(&none);
    assert_int_equal(m.n, 0);
    assert_float_equal(m.r1, 0, 0);
}

int main(void) {
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_first_rank),
        cmocka_unit_test(test_hand_checked_means),
        cmocka_unit_test(test_beyond_ten_counts_nothing),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
