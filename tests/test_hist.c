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

/* A 300 ms task every time reads 300 ms, whether the values are kept or bucketed. */
static void test_hist_constant_reads_true(void **state)
{
    (void)state;
    static struct hist h;
    for (int n = 1; n <= 20000; n = n < 100 ? n * 3 : n * 10) {
        hist_reset(&h);
        for (int i = 0; i < n; i++)
            hist_record(&h, 300000000);
        for (double p = 0; p <= 1.0; p += 0.05) {
            double v = (double)hist_percentile(&h, p);
            assert_true(v >= 300000000 * 0.99 && v <= 300000000 * 1.01);
        }
        assert_int_equal(hist_percentile(&h, 0.5), 300000000);
        assert_int_equal(hist_min(&h), 300000000);
    }
    /* A 1 s wait with a little jitter, many times: within 1 %. */
    hist_reset(&h);
    for (int i = 0; i < 5000; i++)
        hist_record(&h, 1000000000ull + (uint64_t)(i % 7) * 100000);
    double p50 = (double)hist_percentile(&h, 0.5);
    assert_true(p50 >= 1e9 && p50 <= 1e9 * 1.01);
}

/* Up to HIST_RAW values, every percentile is one of the values: the nearest rank. */
static void test_hist_small_counts_are_exact(void **state)
{
    (void)state;
    static struct hist h;
    hist_reset(&h);
    const uint64_t v[] = {9000, 1000, 5000, 3000, 7000}; /* sorted: 1 3 5 7 9 thousand */
    for (unsigned i = 0; i < 5; i++)
        hist_record(&h, v[i]);
    assert_int_equal(hist_percentile(&h, 0), 1000);
    assert_int_equal(hist_percentile(&h, 0.2), 1000);
    assert_int_equal(hist_percentile(&h, 0.21), 3000);
    assert_int_equal(hist_percentile(&h, 0.5), 5000);
    assert_int_equal(hist_percentile(&h, 0.99), 9000);
    assert_int_equal(hist_percentile(&h, 1), 9000);
    assert_int_equal(hist_min(&h), 1000);
    /* Values a bucket apart from the midpoint come back as they were. */
    hist_reset(&h);
    for (uint64_t i = 0; i < HIST_RAW; i++)
        hist_record(&h, 1000003 + i * 7919);
    for (uint64_t k = 1; k <= HIST_RAW; k++)
        assert_int_equal(hist_percentile(&h, (double)k / HIST_RAW), 1000003 + (k - 1) * 7919);
    /* Merging two small ones stays exact. */
    static struct hist a, b;
    hist_reset(&a);
    hist_reset(&b);
    hist_record(&a, 285);
    hist_record(&b, 300);
    hist_record(&b, 301);
    hist_merge(&a, &b);
    assert_int_equal(hist_count(&a), 3);
    assert_int_equal(hist_percentile(&a, 0.5), 300);
    assert_int_equal(hist_min(&a), 285);
}

/* Past HIST_RAW: interpolated within a bucket, far closer than a bucket's midpoint. */
static void test_hist_interpolates_within_a_bucket(void **state)
{
    (void)state;
    static struct hist h;
    hist_reset(&h);
    for (uint64_t v = 1; v <= 100000; v++)
        hist_record(&h, 1000000 + v * 37); /* 1.000037 ms .. 4.7 ms, evenly */
    assert_true(hist_count(&h) > HIST_RAW);
    for (double p = 0.05; p < 1; p += 0.05) {
        double want = 1000000 + p * 100000 * 37, got = (double)hist_percentile(&h, p);
        double err = got > want ? got / want - 1 : 1 - got / want;
        assert_true(err < 0.01);
        /* The bucket midpoint alone can be 6 % off: interpolation must do better here. */
        double mid = (double)hist__bucket_mid(hist__bucket((uint64_t)want));
        double mid_err = mid > want ? mid / want - 1 : 1 - mid / want;
        assert_true(err <= mid_err + 1e-9);
    }
}

/* Never below the smallest value recorded, never above the largest. */
static void test_hist_never_below_min(void **state)
{
    (void)state;
    static struct hist h;
    hist_reset(&h);
    /* All in one bucket, well above its lower edge. */
    uint64_t lo = 1146880, hi = lo + 20000; /* the bucket holds 1048576..1179647 */
    assert_int_equal(hist__bucket(lo), hist__bucket(hi));
    assert_true(hist__bucket_mid(hist__bucket(lo)) < lo); /* a midpoint would be below */
    for (int i = 0; i < 3000; i++)
        hist_record(&h, lo + (uint64_t)(i % 3) * 10000);
    for (double p = 0; p <= 1.0; p += 0.01) {
        uint64_t v = hist_percentile(&h, p);
        assert_true(v >= lo && v <= hi);
    }
    assert_int_equal(hist_percentile(&h, 0), lo);
    assert_int_equal(hist_percentile(&h, 1), hi);
    assert_int_equal(hist_min(&h), lo);
    assert_int_equal(hist_max(&h), hi);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_hist_buckets_are_monotonic),
        cmocka_unit_test(test_hist_bucket_error_is_bounded),
        cmocka_unit_test(test_hist_percentiles_uniform),
        cmocka_unit_test(test_hist_empty_and_merge),
        cmocka_unit_test(test_hist_constant_reads_true),
        cmocka_unit_test(test_hist_small_counts_are_exact),
        cmocka_unit_test(test_hist_interpolates_within_a_bucket),
        cmocka_unit_test(test_hist_never_below_min),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
