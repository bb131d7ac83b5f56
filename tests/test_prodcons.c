/*
 * Property tests of the producer-consumer scene through headless runs: the
 * real workers run, then the recorded history and the scene's own checks
 * are inspected. Timings are never asserted, only invariants.
 */
#include "config.h"

#include "testutil.h"

#include "scenetest.h"

#include <dirent.h>
#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "app.h"
#include "cli.h"
#include "headless.h"
#include "scene.h"
#include "trace.h"

static struct app a;

#define count_dir scenetest_count_dir
#define stat_of(name) scenetest_stat(&a, name)
#define note_id(words) scenetest_note_id(&a, words)
#define lane_named(name) scenetest_lane(&a, name)
#define run(mode, secs, sets) scenetest_run(&a, "prodcons", mode, secs, sets)

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

/* The invariants every run must keep, whatever the mode and settings. */
static void check_invariants(void)
{
    int cap = (int)a.params[scene_param_find(a.scene, "capacity")];
    assert_true(stat_of("max_occupancy") <= cap);
    assert_int_equal((int)stat_of("fifo_violations"), 0);
    assert_int_equal((int)stat_of("exactly_once_violations"), 0);
    assert_true(stat_of("produced") == stat_of("consumed") + stat_of("left_in_queue"));
    int full = note_id("queue full"), empty = note_id("queue empty");
    int lockwait = note_id("waiting for the queue lock");
    for (int i = 0; i < a.hist.nlanes; i++) {
        const struct history_lane *l = &a.hist.lane[i];
        for (size_t k = 0; k < history_kept(l); k++) {
            const struct trace_event *e = history_at(l, k);
            if (l->kind == TRACE_LANE_GAUGE) {
                assert_true(e->arg <= (uint32_t)cap);
                continue;
            }
            unsigned st = TRACE_STATE_OF(e->state), note = TRACE_NOTE_OF(e->state);
            /* A full or empty queue is a wait for the other side, never a lock. */
            if ((int)note == full || (int)note == empty)
                assert_int_equal(st, TRACE_WAIT);
            /* Lock only for the queue's mutex, which the lock-free ring does not have. */
            if (st == TRACE_LOCK) {
                assert_int_equal(note, lockwait);
                assert_int_not_equal(a.ctx.mode, 2);
            }
            /* Shown blocked on full only while full, on empty only while empty. */
            if (st == TRACE_WAIT && (int)note == full) {
                assert_non_null(strstr(l->name, "producer"));
                assert_int_equal(e->arg, cap);
            }
            if (st == TRACE_WAIT && (int)note == empty) {
                assert_non_null(strstr(l->name, "consumer"));
                assert_int_equal(e->arg, 0);
            }
        }
    }
}

/* Whether the last stats have a figure by that name. */
static bool has_stat(const char *name)
{
    for (int i = 0; i < a.stats.n; i++)
        if (strcmp(a.stats.s[i].name, name) == 0)
            return true;
    return false;
}

/*
 * The course's program: Queue(10), one item a second, a consumer that takes
 * at once. The queue never fills (at most an item or two in it); the
 * producer never waits for room and the consumer spends the run waiting.
 * Modes 1 and 2 are queue.Queue's and multiprocessing.Queue's design (the
 * lock-free ring's occupancy figure is the producer's bound, not a count).
 */
static void test_prodcons_course_example(void **state)
{
    (void)state;
    static const char *const sets[] = {"capacity=10", "prod_rate=1", "cons_rate=0", NULL};
    for (int mode = 0; mode < 2; mode++) {
        run(mode, 3.2, sets);
        check_invariants();
        assert_true(stat_of("max_occupancy") <= 2);
        assert_true(stat_of("produced") >= 2);
        assert_int_equal((int)stat_of("full_waits"), 0);
        assert_false(has_stat("full_at_s"));
        /* The consumer waits on "not empty" most of the run; the producer never blocks. */
        assert_true(stat_of("consumer_blocked") > 50);
        assert_true(stat_of("producer_blocked") == 0);
    }
}

/*
 * The default regime: producer 4/s, consumer 2/s, Queue(10). The queue
 * fills (no sooner than ten puts a quarter second apart allow) and from
 * then on the producer waits for room.
 */
static void test_prodcons_default_fills(void **state)
{
    (void)state;
    const struct scene_entry *e = scene_find("prodcons");
    assert_int_equal(e->params[scene_param_find(e, "capacity")].def, 10);
    assert_int_equal(e->params[scene_param_find(e, "prod_rate")].def, 4);
    assert_int_equal(e->params[scene_param_find(e, "cons_rate")].def, 2);
    run(0, 7.0, NULL);
    check_invariants();
    assert_int_equal((int)stat_of("max_occupancy"), 10);
    assert_true(has_stat("full_at_s"));
    assert_true(stat_of("full_at_s") >= 9 * 0.25 * 0.95);
    assert_true(stat_of("full_waits") >= 1);
    /* More made than taken: the consumer sets the pace once it is full. */
    assert_true(stat_of("produced") > stat_of("consumed"));
    assert_true(stat_of("producer_blocked") > stat_of("consumer_blocked"));
}

static void test_prodcons_threads_flat_out(void **state)
{
    (void)state;
    static const char *const sets[] = {"prod_rate=0", "cons_rate=0", NULL};
    for (int i = 0; i < 3; i++) {
        run(0, 0.4, sets);
        check_invariants();
        assert_true(stat_of("consumed") > 0);
    }
}

static void test_prodcons_threads_many_workers(void **state)
{
    (void)state;
    static const char *const sets[] = {"producers=3", "consumers=2", "capacity=4",
                                       "prod_rate=0", "cons_rate=0", NULL};
    for (int i = 0; i < 3; i++) {
        run(0, 0.4, sets);
        check_invariants();
    }
}

static void test_prodcons_slow_consumer_blocks_producer(void **state)
{
    (void)state;
    static const char *const sets[] = {"prod_rate=0", "cons_rate=200", "capacity=5", NULL};
    run(0, 0.5, sets);
    check_invariants();
    assert_true(stat_of("full_waits") > 0);
    assert_int_equal((int)stat_of("max_occupancy"), 5);
}

static void test_prodcons_processes(void **state)
{
    (void)state;
    static const char *const sets[] = {"producers=2", "consumers=2", "capacity=5",
                                       "prod_rate=0", "cons_rate=0", NULL};
    for (int i = 0; i < 2; i++) {
        run(1, 0.4, sets);
        check_invariants();
        assert_true(stat_of("consumed") > 0);
    }
}

static void test_prodcons_lockfree_spsc_and_mpmc(void **state)
{
    (void)state;
    static const char *const spsc[] = {"prod_rate=0", "cons_rate=0", NULL};
    static const char *const mpmc[] = {"producers=2", "consumers=3", "capacity=7",
                                       "prod_rate=0", "cons_rate=0", NULL};
    static const char *const slow[] = {"prod_rate=0", "cons_rate=300", NULL};
    for (int i = 0; i < 3; i++) {
        run(2, 0.3, spsc);
        check_invariants();
        run(2, 0.3, mpmc);
        check_invariants();
    }
    run(2, 0.3, slow);
    check_invariants();
}

/* Quitting mid-run leaves no thread, no child process and no descriptor behind. */
static void test_prodcons_cleanup(void **state)
{
    (void)state;
    static const char *const sets[] = {"producers=3", "consumers=3", "prod_rate=0", NULL};
    int threads = count_dir("/proc/self/task"), fds = count_dir("/proc/self/fd");
    int shm = count_dir("/dev/shm");
    for (int mode = 0; mode < 3; mode++) {
        run(mode, 0.2, sets);
        app_release(&a);
        assert_int_equal(count_dir("/proc/self/task"), threads);
        assert_int_equal(count_dir("/proc/self/fd"), fds);
        assert_int_equal(count_dir("/dev/shm"), shm);
        scenetest_no_children();
    }
}

/* Events on the workers' lanes (gauges are sampled on, frozen or not). */
static uint64_t worker_events(void)
{
    uint64_t n = 0;
    for (int i = 0; i < a.hist.nlanes; i++)
        if (a.hist.lane[i].kind == TRACE_LANE_STATE)
            n += a.hist.lane[i].count;
    return n;
}

/* Frozen workers record nothing; each step lets exactly one transition through. */
static void test_prodcons_step_gate(void **state)
{
    (void)state;
    int64_t params[SCENE_MAX_PARAMS];
    const struct scene_entry *e = scene_find("prodcons");
    for (int i = 0; i < e->nparams; i++)
        params[i] = e->params[i].def;
    params[scene_param_find(e, "prod_rate")] = 50;
    params[scene_param_find(e, "cons_rate")] = 50;
    assert_int_equal(app_start(&a, e, 0, params), 0);
    struct timespec d = {0, 100000000};
    nanosleep(&d, NULL);
    trace_freeze(true);
    /*
     * Wait until nothing moves: every worker is parked at the gate or
     * blocked in the queue (a consumer waiting on an empty queue never
     * reaches the gate).
     */
    uint64_t before;
    do {
        app_tick(&a, trace_now_ns());
        before = worker_events();
        nanosleep(&(struct timespec){0, 100000000}, NULL);
        app_tick(&a, trace_now_ns());
    } while (worker_events() != before);
    for (int step = 0; step < 5; step++) {
        /* A worker pacing itself reaches the gate a moment later. */
        while (trace_parked() == 0)
            nanosleep(&(struct timespec){0, 1000000}, NULL);
        trace_step();
        while (worker_events() == before) {
            nanosleep(&(struct timespec){0, 1000000}, NULL);
            app_tick(&a, trace_now_ns());
        }
        /* Let any other worker try its luck: it must stay parked. */
        nanosleep(&(struct timespec){0, 50000000}, NULL);
        app_tick(&a, trace_now_ns());
        assert_int_equal(worker_events(), before + 1);
        before = worker_events();
    }
    app_stop(&a);
    check_invariants();
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_prodcons_course_example),
        T(test_prodcons_default_fills),
        T(test_prodcons_threads_flat_out),
        T(test_prodcons_threads_many_workers),
        T(test_prodcons_slow_consumer_blocks_producer),
        T(test_prodcons_processes),
        T(test_prodcons_lockfree_spsc_and_mpmc),
        T(test_prodcons_cleanup),
        T(test_prodcons_step_gate),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
