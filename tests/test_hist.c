#include "config.h"

#include "testutil.h"

#include "hist.h"

static void test_hist_buckets_are_monotonic(void **state)
{
    (void)state;
    unsigned prev = 0;
    for (uint64_t v = 0; v < 100000; v += 7) {
        unsigned b = hist__bucket(v);
        assert_true(b >= prev);
        assert_true(b < HIST_BUCKETS);
        prev = b;
    }
    assert_true(hist__bucket(UINT64_MAX) < HIST_BUCKETS);
}

static void test_hist_bucket_error_is_bounded(void **state)
{
    (void)state;
    for (uint64_t v = 1; v < (1ull << 40); v = v * 3 + 1) {
        uint64_t mid = hist__bucket_mid(hist__bucket(v));
        double err = mid > v ? (double)(mid - v) / (double)v : (double)(v - mid) / (double)v;
        assert_true(err <= 0.0625 + 1e-9);
    }
}

static void test_hist_percentiles_uniform(void **state)
{
    (void)state;
    static struct hist h;
    hist_reset(&h);
    for (uint64_t v = 1; v <= 10000; v++)
        hist_record(&h, v * 1000);
    assert_int_equal(hist_count(&h), 10000);
    assert_int_equal(hist_max(&h), 10000000);
    double p50 = (double)hist_percentile(&h, 0.5), p99 = (double)hist_percentile(&h, 0.99);
    assert_true(p50 > 5000000 * 0.93 && p50 < 5000000 * 1.07);
    assert_true(p99 > 9900000 * 0.93 && p99 <= 10000000);
    assert_true(hist_mean(&h) > 5000400 && hist_mean(&h) < 5000600);
}

static void test_hist_empty_and_merge(void **state)
{
    (void)state;
    static struct hist a, b;
    hist_reset(&a);
    hist_reset(&b);
    assert_int_equal(hist_percentile(&a, 0.5), 0);
    hist_record(&a, 10);
    hist_record(&b, 1000000);
    hist_merge(&a, &b);
    assert_int_equal(hist_count(&a), 2);
    assert_int_equal(hist_max(&a), 1000000);
    assert_true(hist_percentile(&a, 1.0) >= 900000);
    assert_true(hist_percentile(&a, 0.0) <= 10);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_buckets_are_monotonic),
        cmocka_unit_test(test_hist_bucket_error_is_bounded),
        cmocka_unit_test(test_hist_percentiles_uniform),
        cmocka_unit_test(test_hist_empty_and_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
