/*
 * Property tests of the post office scene through headless runs: every
 * parcel is delivered exactly once, each mode's servers do what the mode
 * says (who writes, how many customers at once, the epoll loop's writes
 * never wait), the heavy customer's long business holds up the epoll loop
 * and nobody else, the comparison at the defaults puts the epoll loop with
 * the clerks and io_uring far ahead of one clerk, the customer lanes show
 * the line, the fallback works, and stopping leaves no thread or
 * descriptor behind. Timings are compared only within one run, never
 * against the clock.
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

/* The history lane called name, or NULL. */
static const struct history_lane *lane_or_null(const char *name)
{
    for (int i = 0; i < a.hist.nlanes; i++)
        if (strcmp(a.hist.lane[i].name, name) == 0)
            return &a.hist.lane[i];
    return NULL;
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
        assert_int_equal((int)stat_of("eagain"), 0);
    }
}

/*
 * The customer lanes are the whole line, front to back: customers 0, 6, 12
 * and 19 of 20. With one clerk each waits (ready), is served (io) and is
 * done, and the back of the line waits far longer than the front.
 */
static void test_postoffice_customer_lanes(void **state)
{
    (void)state;
    run(MODE_ONE, 0.4, NULL);
    check_delivery();
    static const char *const names[] = {"customer 0", "customer 6", "customer 12", "customer 19"};
    const struct history_lane *l[4];
    for (int k = 0; k < 4; k++) {
        l[k] = scenetest_lane(&a, names[k]);
        assert_true(l[k]->totals[TRACE_IO] > 0);
        assert_true(l[k]->totals[TRACE_DONE] > 0);
    }
    assert_null(lane_or_null("customer 1"));
    assert_true(l[3]->totals[TRACE_READY] > 3 * l[0]->totals[TRACE_READY]);
    assert_true(l[3]->totals[TRACE_READY] > l[1]->totals[TRACE_READY]);
    assert_true(l[2]->totals[TRACE_READY] > l[1]->totals[TRACE_READY]);
}

static void test_postoffice_clerks(void **state)
{
    (void)state;
    static const char *const sets[] = {"heavy=1", "service_us=2000", "clerks=20", NULL};
    run(MODE_CLERKS, 0.3, NULL);
    check_delivery();
    assert_true(stat_of("max_serving") <= 8);
    assert_int_equal((int)stat_of("threads"), 8);
    assert_int_equal((int)stat_of("eagain"), 0);
    /* The heavy customer keeps one clerk computing; the others serve the rest of the line. */
    run(MODE_CLERKS, 1.5, sets);
    check_delivery();
    assert_true(stat_of("wait_p99_others_ms") < 0.5 * stat_of("heavy_service_ms"));
}

static void test_postoffice_epoll_heavy_blocks_everyone(void **state)
{
    (void)state;
    static const char *const heavy[] = {"heavy=1", "service_us=2000", NULL};
    run(MODE_EPOLL, 0.3, NULL);
    check_delivery();
    /* The loop is the only one writing, and it serves every customer at once. */
    assert_true(stat_of("loop_writes") == stat_of("parcels"));
    assert_int_equal((int)stat_of("worker_writes"), 0);
    assert_int_equal((int)stat_of("threads"), 1);
    /*
     * It calls the customers as their windows first have room, in ticket
     * order, so nearly all 20 are in service at once. Not always all: when
     * the loop is preempted between two writes (a loaded machine), a
     * customer's reader can empty its window each time and finish before the
     * last tickets are called.
     */
    assert_true(stat_of("max_serving") >= 16);
    /* Its writes never wait: a full window answers EAGAIN (a blocking write never does). */
    assert_true(stat_of("eagain") > 0);
    run(MODE_EPOLL, 1.5, heavy);
    check_delivery();
    assert_true(stat_of("loop_writes") == stat_of("parcels"));
    /* Customer 0 is called first; every other customer waits out its long business. */
    assert_true(stat_of("wait_p50_others_ms") >= 0.5 * stat_of("heavy_service_ms"));
    assert_true(stat_of("wait_p99_others_ms") >= 0.5 * stat_of("heavy_service_ms"));
}

static void test_postoffice_completions(void **state)
{
    (void)state;
    static const char *const heavy[] = {"heavy=1", "service_us=2000", NULL};
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
    /* With io_uring no pool lanes; without it, the pool's. */
    if (stat_of("uring") == 1)
        assert_null(lane_or_null("pool 0"));
    else
        assert_non_null(lane_or_null("pool 0"));
    /* Every customer's parcels go in at once: the heavy one delays nobody's start. */
    assert_true(stat_of("max_serving") == 20);
    run(MODE_URING, 1.5, heavy);
    check_delivery();
    assert_true(stat_of("wait_p99_others_ms") < 0.5 * stat_of("heavy_service_ms"));
    /* Its business runs in the loop's completion callback: the notices behind it wait. */
    if (stat_of("uring") == 1)
        assert_true(stat_of("done_p99_others_ms") >= 0.5 * stat_of("heavy_service_ms"));
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
        assert_non_null(lane_or_null("pool 0"));
        assert_non_null(lane_or_null("pool 2"));
        assert_null(lane_or_null("pool 3"));
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

/* Is there a figure by that name in the last stats? */
static bool have_stat(const char *name)
{
    for (int i = 0; i < a.stats.n; i++)
        if (strcmp(a.stats.s[i].name, name) == 0)
            return true;
    return false;
}

/* Run the scene at its defaults (heavy as given) until the comparison is in. */
static void compare_at_defaults(bool heavy)
{
    const struct scene_entry *e = scene_find("postoffice");
    assert_non_null(e);
    int64_t params[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        params[i] = e->params[i].def;
    params[scene_param_find(e, "compare")] = 1;
    params[scene_param_find(e, "heavy")] = heavy;
    assert_int_equal(app_start(&a, e, MODE_ONE, params), 0);
    /* Bounded by the watchdog, not by a time of its own: a busy machine is only slower. */
    for (;;) {
        uint64_t now = trace_now_ns();
        app_tick(&a, now);
        app_stats(&a, now);
        if (have_stat("cmp_mode4_total_ms"))
            break;
        nanosleep(&(struct timespec){0, 100000000}, NULL);
    }
    app_stop(&a);
}

/*
 * The course's claim at the defaults: one thread that waits for readiness
 * serves the line about as fast as a clerk per customer or the kernel doing
 * the writes, and far faster than one clerk.
 */
static void test_postoffice_compare_defaults(void **state)
{
    (void)state;
    compare_at_defaults(false);
    double one = stat_of("cmp_mode1_total_ms"), clerks = stat_of("cmp_mode2_total_ms");
    double loop = stat_of("cmp_mode3_total_ms"), uring = stat_of("cmp_mode4_total_ms");
    assert_true(loop < one / 5);
    assert_true(clerks < one / 5 && uring < one / 5);
    assert_true(loop < 3 * (clerks > uring ? clerks : uring));
    app_release(&a);
}

/*
 * heavy=on at the defaults: customer 0's long business stalls the readiness
 * loop, so everyone else's wait grows there, and not with clerks or io_uring.
 */
static void test_postoffice_compare_heavy(void **state)
{
    (void)state;
    compare_at_defaults(true);
    double clerks = stat_of("cmp_mode2_p99_ms"), loop = stat_of("cmp_mode3_p99_ms");
    double uring = stat_of("cmp_mode4_p99_ms");
    assert_true(loop > 4 * clerks);
    assert_true(loop > 4 * uring);
    app_release(&a);
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
        T(test_postoffice_one_clerk),     T(test_postoffice_customer_lanes),
        T(test_postoffice_clerks),        T(test_postoffice_epoll_heavy_blocks_everyone),
        T(test_postoffice_completions),   T(test_postoffice_pool_fallback),
        T(test_postoffice_compare),       T(test_postoffice_compare_defaults),
        T(test_postoffice_compare_heavy), T(test_postoffice_key),
        T(test_postoffice_cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
