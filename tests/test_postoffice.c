/*
 * Property tests of the post office scene through headless runs: every
 * parcel is delivered exactly once, each mode's servers do what the mode
 * says (who writes, how many customers at once), the heavy customer holds
 * up the epoll loop and nobody else, the fallback works, and stopping
 * leaves no thread or descriptor behind. Timings are compared only within
 * one run, never against the clock.
 */
#include "config.h"

#include "testutil.h"

#include "scenetest.h"

#include <dirent.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "cli.h"
#include "headless.h"
#include "scene.h"
#include "trace.h"

enum { MODE_ONE, MODE_CLERKS, MODE_EPOLL, MODE_URING };

static struct app a;

#define count_dir scenetest_count_dir
#define stat_of(name) scenetest_stat(&a, name)

/* Run the scene headless with "key=value" settings on top of a small workload. */
static void run(int mode, double secs, const char *const *sets)
{
    const char *all[40] = {"customers=20", "parcels=2", "service_us=200", "pause_ms=5", "clerks=8"};
    int n = 5;
    for (int i = 0; sets && sets[i] && n < 39; i++)
        all[n++] = sets[i];
    all[n] = NULL;
    scenetest_run(&a, "postoffice", mode, secs, all);
}

static int setup(void **state)
{
    (void)state;
    test_watchdog(120);
    return app_init(&a);
}

static int teardown(void **state)
{
    (void)state;
    app_shutdown(&a);
    return 0;
}

/* What every completed round must show, whatever the mode. */
static void check_delivery(void)
{
    assert_true(stat_of("rounds") >= 1);
    assert_true(stat_of("parcels") > 0);
    assert_true(stat_of("delivered") == stat_of("parcels"));
    assert_int_equal((int)stat_of("exactly_once_violations"), 0);
    assert_int_equal((int)stat_of("bad_parcels"), 0);
    /* Written once each: by the loop, or by clerks or pool threads, never both. */
    double writes = stat_of("loop_writes") + stat_of("worker_writes");
    if (stat_of("uring") == 0)
        assert_true(writes == stat_of("parcels"));
}

static void test_postoffice_one_clerk(void **state)
{
    (void)state;
    for (int i = 0; i < 2; i++) {
        run(MODE_ONE, 0.3, NULL);
        check_delivery();
        assert_int_equal((int)stat_of("max_serving"), 1);
        assert_int_equal((int)stat_of("threads"), 1);
        assert_int_equal((int)stat_of("loop_writes"), 0);
    }
}

static void test_postoffice_clerks(void **state)
{
    (void)state;
    static const char *const sets[] = {"heavy=1", NULL};
    run(MODE_CLERKS, 0.3, NULL);
    check_delivery();
    assert_true(stat_of("max_serving") <= 8);
    assert_int_equal((int)stat_of("threads"), 8);
    /* The heavy customer keeps one clerk; the rest of the line goes to the others. */
    run(MODE_CLERKS, 0.4, sets);
    check_delivery();
    assert_true(stat_of("wait_p99_others_ms") < 0.5 * stat_of("heavy_service_ms"));
}

static void test_postoffice_epoll_heavy_blocks_everyone(void **state)
{
    (void)state;
    static const char *const heavy[] = {"heavy=1", NULL};
    run(MODE_EPOLL, 0.3, NULL);
    check_delivery();
    /* The loop is the only one writing, and it serves one customer at a time. */
    assert_true(stat_of("loop_writes") == stat_of("parcels"));
    assert_int_equal((int)stat_of("worker_writes"), 0);
    assert_int_equal((int)stat_of("max_serving"), 1);
    run(MODE_EPOLL, 0.5, heavy);
    check_delivery();
    assert_true(stat_of("loop_writes") == stat_of("parcels"));
    /* Customer 0 is called first; every other customer waits out all its parcels. */
    assert_true(stat_of("wait_p50_others_ms") >= 0.9 * stat_of("heavy_service_ms"));
    assert_true(stat_of("wait_p99_others_ms") >= stat_of("heavy_service_ms"));
}

static void test_postoffice_completions(void **state)
{
    (void)state;
    static const char *const heavy[] = {"heavy=1", NULL};
    run(MODE_URING, 0.3, NULL);
    check_delivery();
    /* The loop never writes: the kernel (or the pool) does. */
    assert_int_equal((int)stat_of("loop_writes"), 0);
    if (stat_of("uring") == 1) {
        assert_int_equal((int)stat_of("worker_writes"), 0);
        assert_int_equal((int)stat_of("threads"), 1);
    } else {
        assert_true(stat_of("worker_writes") == stat_of("parcels"));
    }
    /* Every customer's parcels go in at once: the heavy one delays nobody. */
    assert_true(stat_of("max_serving") == 20);
    run(MODE_URING, 0.4, heavy);
    check_delivery();
    assert_true(stat_of("wait_p99_others_ms") < 0.5 * stat_of("heavy_service_ms"));
}

static void test_postoffice_pool_fallback(void **state)
{
    (void)state;
    static const char *const sets[] = {"uring=off", "pool=3", NULL};
    for (int i = 0; i < 2; i++) {
        run(MODE_URING, 0.3, sets);
        check_delivery();
        assert_int_equal((int)stat_of("uring"), 0);
        assert_int_equal((int)stat_of("loop_writes"), 0);
        assert_true(stat_of("worker_writes") == stat_of("parcels"));
        assert_int_equal((int)stat_of("threads"), 4);
        char note[SCENE_NOTE_MAX];
        scene_note_get(&a.ctx, note, sizeof note);
        assert_non_null(strstr(note, "pool"));
    }
}

/* compare=on runs the four modes one after another and reports each. */
static void test_postoffice_compare(void **state)
{
    (void)state;
    static const char *const sets[] = {"compare=on", NULL};
    run(MODE_ONE, 0.5, sets);
    check_delivery();
    char name[32];
    for (int m = 1; m <= 4; m++) {
        snprintf(name, sizeof name, "cmp_mode%d_total_ms", m);
        assert_true(stat_of(name) > 0);
        snprintf(name, sizeof name, "cmp_mode%d_parcels_s", m);
        assert_true(stat_of(name) > 0);
        snprintf(name, sizeof name, "cmp_mode%d_p99_ms", m);
        assert_true(stat_of(name) >= 0);
    }
}

/* The scene takes its 'c' key. */
static void test_postoffice_key(void **state)
{
    (void)state;
    const struct scene_entry *e = scene_find("postoffice");
    assert_non_null(e);
    assert_int_equal(scene_index(e), 0); /* the first scene of the course */
    assert_int_equal(app_start(&a, e, MODE_ONE, NULL), 0);
    assert_int_equal(app_key(&a, 'c', 80), APP_CONTINUE);
    assert_int_equal(a.msg[0], '\0');
    app_stop(&a);
    app_release(&a);
}

/* Wait up to a second for the kernel to finish reaping exited threads. */
static int settle_tasks(int want)
{
    int n = count_dir("/proc/self/task");
    for (int i = 0; i < 100 && n != want; i++) {
        nanosleep(&(struct timespec){0, 10000000}, NULL);
        n = count_dir("/proc/self/task");
    }
    return n;
}

/* Stopping mid-round, in every mode, leaves no thread and no descriptor behind. */
static void test_postoffice_cleanup(void **state)
{
    (void)state;
    static const char *const slow[] = {"service_us=5000", "parcels=4", NULL};
    static const char *const slow_pool[] = {"service_us=5000", "parcels=4", "uring=off", NULL};
    int threads = count_dir("/proc/self/task"), fds = count_dir("/proc/self/fd");
    for (int mode = 0; mode < 5; mode++) {
        run(mode < 4 ? mode : MODE_URING, 0.1, mode < 4 ? slow : slow_pool);
        app_release(&a);
        assert_int_equal(settle_tasks(threads), threads);
        assert_int_equal(count_dir("/proc/self/fd"), fds);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_postoffice_one_clerk),
        T(test_postoffice_clerks),
        T(test_postoffice_epoll_heavy_blocks_everyone),
        T(test_postoffice_completions),
        T(test_postoffice_pool_fallback),
        T(test_postoffice_compare),
        T(test_postoffice_key),
        T(test_postoffice_cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
