#include "config.h"

#include "testutil.h"

#include "rounds.h"

static void test_rounds_empty_says_nothing(void **state)
{
    (void)state;
    struct rounds r;
    rounds_reset(&r);
    double med = -1, lo = -1, hi = -1;
    assert_int_equal(rounds_summary(&r, &med, &lo, &hi), 0);
    static struct scene_stats out;
    out.n = 0;
    scene_stat_rounds(&out, "speedup", &r, "x");
    assert_int_equal(out.n, 0);
}

static void test_rounds_median_odd_count(void **state)
{
    (void)state;
    struct rounds r;
    rounds_reset(&r);
    const double v[] = {1.9, 1.7, 2.4, 1.8, 0.9};
    for (unsigned i = 0; i < 5; i++)
        rounds_add(&r, v[i]);
    double med, lo, hi;
    assert_int_equal(rounds_summary(&r, &med, &lo, &hi), 5);
    assert_float_equal(med, 1.8, 1e-12);
    assert_float_equal(lo, 0.9, 1e-12);
    assert_float_equal(hi, 2.4, 1e-12);
    /* One value: it is median, min and max. */
    rounds_reset(&r);
    rounds_add(&r, 3.5);
    assert_int_equal(rounds_summary(&r, &med, &lo, &hi), 1);
    assert_float_equal(med, 3.5, 1e-12);
    assert_float_equal(lo, 3.5, 1e-12);
    assert_float_equal(hi, 3.5, 1e-12);
}

static void test_rounds_median_even_count(void **state)
{
    (void)state;
    struct rounds r;
    rounds_reset(&r);
    const double v[] = {4, 1, 3, 2};
    for (unsigned i = 0; i < 4; i++)
        rounds_add(&r, v[i]);
    double med;
    assert_int_equal(rounds_summary(&r, &med, NULL, NULL), 4);
    assert_float_equal(med, 2.5, 1e-12);
}

static void test_rounds_ring_keeps_the_most_recent(void **state)
{
    (void)state;
    struct rounds r;
    rounds_reset(&r);
    /* 100 old values of 1000, then ROUNDS_MAX new ones 1..ROUNDS_MAX. */
    for (int i = 0; i < 100; i++)
        rounds_add(&r, 1000);
    for (int i = 1; i <= ROUNDS_MAX; i++)
        rounds_add(&r, i);
    double med, lo, hi;
    assert_int_equal(rounds_summary(&r, &med, &lo, &hi), ROUNDS_MAX);
    assert_float_equal(lo, 1, 1e-12);
    assert_float_equal(hi, ROUNDS_MAX, 1e-12);
    assert_float_equal(med, (ROUNDS_MAX + 1) / 2.0, 1e-12);
    /* One more pushes out the oldest (1). */
    rounds_add(&r, 0.5);
    assert_int_equal(rounds_summary(&r, &med, &lo, &hi), ROUNDS_MAX);
    assert_float_equal(lo, 0.5, 1e-12);
    assert_float_equal(hi, ROUNDS_MAX, 1e-12);
    rounds_add(&r, 0.25); /* pushes out 2 */
    assert_int_equal(rounds_summary(&r, &med, &lo, &hi), ROUNDS_MAX);
    assert_float_equal(lo, 0.25, 1e-12);
    assert_float_equal(med, (3 + ROUNDS_MAX) / 2.0 - 1, 1e-12);
}

static void test_rounds_figure_carries_the_spread(void **state)
{
    (void)state;
    struct rounds r;
    rounds_reset(&r);
    rounds_add(&r, 1.71);
    rounds_add(&r, 1.84);
    rounds_add(&r, 1.93);
    static struct scene_stats out;
    out.n = 0;
    scene_stat(&out, "plain", 7, "ms");
    scene_stat_rounds(&out, "speedup", &r, "x");
    assert_int_equal(out.n, 2);
    assert_int_equal(out.s[0].rounds, 0);
    assert_float_equal(out.s[0].lo, 7, 0);
    assert_float_equal(out.s[0].hi, 7, 0);
    assert_string_equal(out.s[1].name, "speedup");
    assert_string_equal(out.s[1].unit, "x");
    assert_int_equal(out.s[1].rounds, 3);
    assert_float_equal(out.s[1].value, 1.84, 1e-12);
    assert_float_equal(out.s[1].lo, 1.71, 1e-12);
    assert_float_equal(out.s[1].hi, 1.93, 1e-12);
}

static void test_stats_full_list_counts_what_it_drops(void **state)
{
    (void)state;
    static struct scene_stats out;
    out.n = out.dropped = 0;
    for (int i = 0; i < SCENE_MAX_STATS + 5; i++)
        scene_stat(&out, "f", i, "");
    assert_int_equal(out.n, SCENE_MAX_STATS);
    assert_int_equal(out.dropped, 5);
    assert_float_equal(out.s[SCENE_MAX_STATS - 1].value, SCENE_MAX_STATS - 1, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_rounds_empty_says_nothing),
        cmocka_unit_test(test_rounds_median_odd_count),
        cmocka_unit_test(test_rounds_median_even_count),
        cmocka_unit_test(test_rounds_ring_keeps_the_most_recent),
        cmocka_unit_test(test_rounds_figure_carries_the_spread),
        cmocka_unit_test(test_stats_full_list_counts_what_it_drops),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
