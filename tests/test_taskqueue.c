/*
 * Property tests of the task queue scene: real front, broker and worker
 * processes over loopback TCP. Workers are killed in the middle of tasks
 * (the chaos parameter and the x key); after the load stops and the queue
 * drains, every task accepted has been reported to the client exactly once
 * and none is lost. Workers follow their parameter live. Quitting leaves no
 * thread, descriptor or child process behind. Nothing is timed against the
 * clock: the tests wait for counts (under a watchdog) and compare counts.
 */
#include "config.h"

#include "testutil.h"

#include "scenetest.h"

#include <errno.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "app.h"
#include "scene.h"
#include "trace.h"

static struct app a;

#define count_dir scenetest_count_dir
#define stat_of(name) scenetest_stat(&a, name)

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

static void nap_ms(long ms)
{
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&d, NULL);
}

/* Refresh history and figures. */
static void refresh(void)
{
    app_tick(&a, trace_now_ns());
    app_stats(&a, trace_now_ns());
}

/* Wait (the watchdog bounds it) until figure name reaches at least v. */
static void wait_at_least(const char *name, double v)
{
    for (refresh(); stat_of(name) < v; refresh())
        nap_ms(10);
}

/* Start the scene with its defaults overridden by "name=value" pairs. */
static void start(const char *const *sets)
{
    const struct scene_entry *e = scene_find("taskqueue");
    assert_non_null(e);
    int64_t params[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        params[i] = e->params[i].def;
    for (int i = 0; sets && sets[i]; i++) {
        int idx;
        int64_t v;
        char err[200];
        assert_int_equal(scene_param_parse(e, sets[i], &idx, &v, err, sizeof err), 0);
        params[idx] = v;
    }
    assert_int_equal(app_start(&a, e, 0, params), 0);
}

static void set(const char *name, int64_t v)
{
    app_set_param(&a, scene_param_find(a.scene, name), v);
}

/* Stop the load, let every accepted task finish, then stop the scene. */
static void drain_and_stop(void)
{
    set("chaos_ms", 0);
    set("rate", 0);
    if (a.params[scene_param_find(a.scene, "workers")] == 0)
        set("workers", 1);
    refresh();
    while (stat_of("completed") < stat_of("submitted") || stat_of("queued") > 0 ||
           stat_of("in_flight") > 0) {
        nap_ms(10);
        refresh();
    }
    app_stop(&a);
}

/* After a drained stop: each accepted task reached the client exactly once. */
static void check_exactly_once(void)
{
    assert_true(stat_of("submitted") > 0);
    assert_true(stat_of("completed") == stat_of("submitted"));
    assert_int_equal((int)stat_of("lost"), 0);
    assert_int_equal((int)stat_of("held_at_stop"), 0);
    assert_int_equal((int)stat_of("bad_results"), 0);
    /* Every result the broker passed on was either delivered or suppressed. */
    assert_true(stat_of("broker_results") == stat_of("completed") + stat_of("duplicates"));
}

/* A plain run stopped mid-load: every accepted task is completed or still held. */
static void test_taskqueue_accounting(void **state)
{
    (void)state;
    static const char *const sets[] = {"rate=200", "task_ms=5", NULL};
    for (int i = 0; i < 2; i++) {
        scenetest_run(&a, "taskqueue", 0, 0.5, sets);
        assert_true(stat_of("submitted") > 0);
        assert_true(stat_of("completed") > 0);
        assert_int_equal((int)stat_of("lost"), 0);
        assert_int_equal((int)stat_of("bad_results"), 0);
        assert_true(stat_of("submitted") == stat_of("completed") + stat_of("held_at_stop"));
        /* Answered at once: the request is answered long before the task is done. */
        assert_true(stat_of("req_p50_us") / 1e3 < stat_of("done_p50_ms"));
        scenetest_lane(&a, "front");
        scenetest_lane(&a, "broker");
        scenetest_lane(&a, "tasks queued");
        scenetest_lane(&a, "worker 0");
    }
}

/* Workers killed mid-task: their tasks are re-delivered, nothing is lost or doubled. */
static void test_taskqueue_kill_exactly_once(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=3",   "rate=100",  "task_ms=20",
                                       "chaos_ms=15", "ack_ms=10", NULL};
    for (int i = 0; i < 2; i++) {
        start(sets);
        wait_at_least("kills", 6);
        wait_at_least("redeliveries", 1);
        drain_and_stop();
        check_exactly_once();
        assert_true(stat_of("redeliveries") >= 1);
        /* The killed workers' lanes say so, drawn failed. */
        int killed = scenetest_note_id(&a, "killed");
        bool seen = false;
        for (int l = 0; l < a.hist.nlanes && !seen; l++)
            for (size_t k = 0; k < history_kept(&a.hist.lane[l]) && !seen; k++)
                seen = history_at(&a.hist.lane[l], k)->state ==
                       (TRACE_FAILED | TRACE_NOTE((unsigned)killed));
        assert_true(seen);
        app_release(&a);
    }
}

/*
 * A kill in the lanes: the killed worker's lane ends "killed" with its task,
 * a replacement starts on a lane of its own afterwards, the re-delivered
 * gauge rises until the task's second run reports, and that run shows on
 * the lane of the worker that took it.
 */
static void test_taskqueue_kill_in_lanes(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=2", "rate=4", "task_ms=300", NULL};
    start(sets);
    for (refresh(); stat_of("kills") < 1; refresh()) {
        app_key(&a, 'x', 80);
        nap_ms(20);
    }
    wait_at_least("redeliveries", 1);
    wait_at_least("spawned", 3);
    drain_and_stop();
    check_exactly_once();
    app_tick(&a, trace_now_ns());
    int killed = scenetest_note_id(&a, "killed");
    scenetest_note_id(&a, "re-delivered task"); /* the rerun's note exists */
    uint64_t t_kill = 0;
    uint32_t task = 0;
    const struct history_lane *dead = NULL, *fresh = NULL;
    for (int l = 0; l < a.hist.nlanes; l++) {
        const struct history_lane *h = &a.hist.lane[l];
        if (strstr(h->name, "#2"))
            fresh = h;
        size_t n = history_kept(h);
        if (n && history_at(h, n - 1)->state == (TRACE_FAILED | TRACE_NOTE(killed))) {
            dead = h;
            /* The killed run began before; the reaping that marks it may come after the rerun. */
            t_kill = history_at(h, n > 1 ? n - 2 : n - 1)->t;
            task = history_at(h, n - 1)->arg;
        }
    }
    assert_non_null(dead);
    assert_non_null(fresh);
    assert_true(task > 0);
    assert_true(history_kept(fresh) > 0 &&
                history_at(fresh, 0)->t >= history_at(dead, history_kept(dead) - 1)->t);
    /* The task's second run, after the kill, on some worker's lane. */
    bool rerun = false;
    for (int l = 0; l < a.hist.nlanes && !rerun; l++) {
        const struct history_lane *h = &a.hist.lane[l];
        for (size_t k = 0; k < history_kept(h) && !rerun; k++) {
            const struct trace_event *e = history_at(h, k);
            unsigned note = TRACE_NOTE_OF(e->state);
            /* Either run note: a CPU task or one waiting on a slow call. */
            rerun = note && (int)note < a.scene->nnotes &&
                    strstr(a.scene->notes[note], "re-delivered task") && e->arg == task &&
                    e->t >= t_kill;
        }
    }
    assert_true(rerun);
    /* The gauge: up while the re-delivered task was pending, back to 0 once it reported. */
    const struct history_lane *g = scenetest_lane(&a, "re-delivered");
    uint32_t peak = 0;
    for (size_t k = 0; k < history_kept(g); k++)
        peak = history_at(g, k)->arg > peak ? history_at(g, k)->arg : peak;
    assert_true(peak >= 1);
    assert_int_equal(history_at(g, history_kept(g) - 1)->arg, 0);
    app_release(&a);
}

/* A kill between the result and the acknowledgement runs a task twice: one is suppressed. */
static void test_taskqueue_duplicates_suppressed(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=2",   "rate=100",  "task_ms=2",
                                       "chaos_ms=10", "ack_ms=30", NULL};
    start(sets);
    wait_at_least("duplicates", 1);
    drain_and_stop();
    check_exactly_once();
    assert_true(stat_of("duplicates") >= 1);
    app_release(&a);
}

/* The x key kills a busy worker; > and < add and retire workers live. */
static void test_taskqueue_keys_and_live_workers(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=2", "rate=50", "task_ms=30", NULL};
    start(sets);
    wait_at_least("workers", 2);
    for (refresh(); stat_of("kills") < 1; refresh()) {
        assert_int_equal(app_key(&a, 'x', 80), APP_CONTINUE);
        nap_ms(20);
    }
    assert_int_equal(app_key(&a, ']', 80), APP_CONTINUE);
    assert_int_equal(app_key(&a, ']', 80), APP_CONTINUE);
    wait_at_least("workers", 4);
    set("workers", 6);
    wait_at_least("workers", 6);
    assert_int_equal(app_key(&a, '[', 80), APP_CONTINUE);
    set("workers", 1);
    for (refresh(); stat_of("workers") > 1; refresh())
        nap_ms(10);
    assert_true(stat_of("retired") >= 5);
    /* With every worker gone the front still answers at once; the queue grows. */
    set("workers", 0);
    for (refresh(); stat_of("workers") > 0; refresh())
        nap_ms(10);
    double before = stat_of("submitted");
    wait_at_least("submitted", before + 5);
    wait_at_least("queued", 2);
    set("workers", 2);
    drain_and_stop();
    check_exactly_once();
    app_release(&a);
}

/* Quitting mid-load, with kills, leaves no thread, descriptor or child behind. */
static void test_taskqueue_cleanup(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=4", "rate=300", "task_ms=20", "chaos_ms=20", NULL};
    int threads = count_dir("/proc/self/task"), fds = count_dir("/proc/self/fd");
    for (int i = 0; i < 3; i++) {
        scenetest_run(&a, "taskqueue", 0, 0.3, sets);
        assert_int_equal((int)stat_of("lost"), 0);
        app_release(&a);
        assert_int_equal(count_dir("/proc/self/task"), threads);
        assert_int_equal(count_dir("/proc/self/fd"), fds);
        scenetest_no_children();
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_taskqueue_accounting),
        T(test_taskqueue_kill_exactly_once),
        T(test_taskqueue_kill_in_lanes),
        T(test_taskqueue_duplicates_suppressed),
        T(test_taskqueue_keys_and_live_workers),
        T(test_taskqueue_cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
