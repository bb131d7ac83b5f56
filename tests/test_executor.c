/*
 * Property tests of the executor scene through the app API: the course's
 * example (done() False at once; after main's own sleep, whatever the race
 * between the two sleeps gave, agreeing with its figures; "hello"),
 * every submitted task resolved exactly once (done, cancelled or failed),
 * map() in submission order and as_completed() in completion order, the
 * keys (submit, burst, cancel, fail, order), and no thread, child or
 * descriptor left behind. Runs wait for counted events, never for the
 * clock; the only times compared are lower bounds a sleep must respect.
 */
#include "config.h"

#include "testutil.h"

#include "scenetest.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "app.h"
#include "scene.h"
#include "trace.h"

enum { MODE_THREADS, MODE_PROCESSES };

static struct app a;

#define count_dir scenetest_count_dir
#define stat_of(name) scenetest_stat(&a, name)
#define note_id(words) scenetest_note_id(&a, words)
#define lane_named(name) scenetest_lane(&a, name)

static int setup(void **state)
{
    (void)state;
    test_watchdog(120);
    return app_init(&a);
}

static int teardown(void **state)
{
    (void)state;
    app_release(&a);
    app_shutdown(&a);
    return 0;
}

/* Start the scene with its defaults overridden by "key=value" settings. */
static void start(int mode, const char *const *sets)
{
    const struct scene_entry *e = scene_find("executor");
    assert_non_null(e);
    int64_t params[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        params[i] = e->params[i].def;
    for (int k = 0; sets && sets[k]; k++) {
        int idx;
        int64_t v;
        char err[200];
        if (scene_param_parse(e, sets[k], &idx, &v, err, sizeof err) != 0)
            fail_msg("%s", err);
        params[idx] = v;
    }
    app_release(&a);
    assert_int_equal(app_start(&a, e, mode, params), 0);
}

static void refresh(void)
{
    app_tick(&a, trace_now_ns());
    app_stats(&a, trace_now_ns());
}

/* Let the scene run until a figure reaches min (the watchdog bounds the wait). */
static void wait_stat(const char *name, double min)
{
    for (refresh(); stat_of(name) < min; refresh())
        nanosleep(&(struct timespec){0, 5000000}, NULL);
}

static void note_has(const char *words)
{
    char note[SCENE_NOTE_MAX];
    scene_note_get(&a.ctx, note, sizeof note);
    if (!strstr(note, words))
        fail_msg("note '%s' lacks '%s'", note, words);
}

/* After stop: every submitted task is accounted for exactly once. */
static void check_exactly_once(void)
{
    assert_int_equal((int)stat_of("exactly_once_violations"), 0);
    assert_int_equal((int)stat_of("unresolved"), 0);
    assert_true(stat_of("submitted") == stat_of("done") + stat_of("cancelled") + stat_of("failed"));
    assert_int_equal((int)stat_of("order_violations"), 0);
    assert_int_equal((int)stat_of("wrong_results"), 0);
    assert_int_equal((int)stat_of("worker_died"), 0);
    assert_int_equal((int)stat_of("queue"), 0);
    assert_int_equal((int)stat_of("running"), 0);
    /*
     * Nobody here is ever blocked on a lock another holds (the executor's
     * mutex is held only for moments): a worker waiting for a task and main
     * waiting for a result wait for another worker, and are drawn so.
     */
    int cond = note_id("waiting for a task (condition variable)");
    int pipe = note_id("waiting for a task (read on the call pipe)");
    for (int i = 0; i < a.hist.nlanes; i++) {
        const struct history_lane *l = &a.hist.lane[i];
        for (size_t k = 0; l->kind == TRACE_LANE_STATE && k < history_kept(l); k++) {
            unsigned w = history_at(l, k)->state;
            assert_int_not_equal(TRACE_STATE_OF(w), TRACE_LOCK);
            if ((int)TRACE_NOTE_OF(w) == cond || (int)TRACE_NOTE_OF(w) == pipe)
                assert_int_equal(TRACE_STATE_OF(w), TRACE_WAIT);
        }
    }
}

/* A lane's longest span in state `st` with note `note`: its start and end; false if none. */
static bool longest_span(const struct history_lane *l, unsigned st, int note, uint64_t *t0,
                         uint64_t *t1)
{
    uint64_t best = 0;
    size_t n = history_kept(l);
    for (size_t k = 0; k + 1 < n; k++) {
        const struct trace_event *e = history_at(l, k);
        if (TRACE_STATE_OF(e->state) == st && (int)TRACE_NOTE_OF(e->state) == note) {
            uint64_t d = history_at(l, k + 1)->t - e->t;
            if (d > best) {
                best = d;
                *t0 = e->t;
                *t1 = history_at(l, k + 1)->t;
            }
        }
    }
    return best > 0;
}

/* On a failure: what a lane holds. */
static void dump_lane(const struct history_lane *l)
{
    for (size_t k = 0; k < history_kept(l); k++) {
        const struct trace_event *e = history_at(l, k);
        print_message("%s: t=%llu state=%u note=%u arg=%u\n", l->name, (unsigned long long)e->t,
                      TRACE_STATE_OF(e->state), TRACE_NOTE_OF(e->state), e->arg);
    }
}

/*
 * The course's program as written: the second done() is read after main's
 * own sleep, before result(), so it says what the future held then. If it
 * read False, main then blocked in result(); if True, result() returned at
 * once. Which one it is depends on which sleep began first; the figures
 * that decide it must agree with the answer printed.
 */
static void check_second_done(const char *b1)
{
    bool after = stat_of("example_done_after") > 0;
    double gap = stat_of("result_after_check_ms");
    char want[64];
    snprintf(want, sizeof want, "printed: %s, %s, Result: hello", b1, after ? "True" : "False");
    note_has(want);
    /* True: the future was done before the check; False: it resolved after it. */
    if (after)
        assert_true(gap <= 0);
    else
        assert_true(gap > 0);
    /* main slept as long as the task before the second done(). */
    uint64_t s0 = 0, s1 = 0;
    const struct history_lane *m = lane_named("main thread");
    if (!longest_span(m, TRACE_SLEEP, note_id("before the second f.done()"), &s0, &s1)) {
        dump_lane(m);
        fail_msg("main never slept before the second done()");
    }
    /* Blocked in result() only when the second done() said False, and only after the sleep. */
    uint64_t r0 = 0, r1 = 0;
    bool blocked = longest_span(m, TRACE_WAIT, note_id("blocked in f.result()"), &r0, &r1);
    if (blocked)
        assert_true(r0 >= s1);
    if (after)
        assert_false(blocked);
}

/* The course's example with its own numbers: a pool of 3, sleep 5 s, "hello". */
static void test_executor_default_example(void **state)
{
    (void)state;
    const struct scene_entry *e = scene_find("executor");
    assert_int_equal(e->params[scene_param_find(e, "workers")].def, 3);
    assert_int_equal(e->params[scene_param_find(e, "sleep_ms")].def, 5000);
    for (int mode = MODE_THREADS; mode <= MODE_PROCESSES; mode++) {
        start(mode, NULL);
        wait_stat("examples", 1);
        app_stop(&a);
        app_tick(&a, trace_now_ns());
        assert_int_equal((int)stat_of("workers"), 3);
        assert_int_equal((int)stat_of("example_done_first"), 0);
        assert_int_equal((int)stat_of("example_hello"), 1);
        /* submit, main's 5 s sleep, result(): at least the sleep. */
        assert_true(stat_of("example_s") >= 5.0);
        check_second_done("False");
        /* The worker's sleep: the task's 5 s, in some worker. */
        uint64_t w0 = 0, w1 = 0;
        bool slept = false;
        for (int i = 1; i <= 3 && !slept; i++) {
            char name[16];
            snprintf(name, sizeof name, mode == MODE_THREADS ? "worker %d" : "process %d", i);
            slept = longest_span(lane_named(name), TRACE_SLEEP, note_id("time.sleep()"), &w0, &w1);
        }
        assert_true(slept);
        /* The future's slot went pending -> running (or sent) -> ... -> done with "hello". */
        const struct history_lane *f = lane_named("future slot 1");
        assert_true(history_kept(f) >= 3);
        assert_int_equal(TRACE_STATE_OF(history_at(f, 0)->state), TRACE_READY);
        bool hello = false;
        for (size_t k = 1; k < history_kept(f); k++)
            hello |= history_at(f, k)->state == (TRACE_DONE | TRACE_NOTE(note_id("'hello'")));
        assert_true(hello);
        check_exactly_once();
    }
}

/* The same example on both pools, shortened, several rounds. */
static void test_executor_example_both_pools(void **state)
{
    (void)state;
    static const char *const sets[] = {"sleep_ms=150", "main_sleep_ms=150", "pause_ms=20", NULL};
    for (int mode = MODE_THREADS; mode <= MODE_PROCESSES; mode++) {
        start(mode, sets);
        wait_stat("examples", 3);
        app_stop(&a);
        app_tick(&a, trace_now_ns());
        assert_int_equal((int)stat_of("example_done_first"), 0);
        assert_true(stat_of("example_done_after") <= stat_of("examples"));
        assert_true(stat_of("example_hello") == stat_of("examples"));
        assert_true(stat_of("example_s") >= 0.15);
        /* The task began its sleep at most one hand-off away from main's. */
        assert_true(stat_of("handoff_us") < stat_of("example_s") * 1e6 / 10);
        /* Only tasks that found a worker already waiting count as dispatches. */
        assert_true(stat_of("dispatch_n") <= stat_of("submitted"));
        check_exactly_once();
    }
    /* main sleeping well past the task's end: no race, done() reads True every round. */
    static const char *const late[] = {"sleep_ms=50", "main_sleep_ms=250", "pause_ms=0", NULL};
    for (int mode = MODE_THREADS; mode <= MODE_PROCESSES; mode++) {
        start(mode, late);
        wait_stat("examples", 2);
        app_stop(&a);
        assert_true(stat_of("example_done_after") == stat_of("examples"));
        assert_true(stat_of("result_after_check_ms") < 0);
        check_exactly_once();
    }
}

/* map(): results in submission order although tasks finish out of order. */
static void test_executor_map_order(void **state)
{
    (void)state;
    static const char *const sets[] = {
        "sleep_ms=5", "main_sleep_ms=0", "pause_ms=600000",  "autoburst=on",
        "task_ms=80", "burst=6",         "as_completed=off", NULL};
    for (int mode = MODE_THREADS; mode <= MODE_PROCESSES; mode++) {
        start(mode, sets);
        /* A round's burst, then two more from the b key while main pauses. */
        for (int n = 1; n <= 3; n++) {
            wait_stat("map_batches", n);
            note_has("map() printed: 0 1 4 9 16 25");
            if (n < 3)
                app_key(&a, 'b', 80);
        }
        app_stop(&a);
        assert_int_equal((int)stat_of("completed_batches"), 0);
        /* The first task is the slowest: some finished before it, map waited. */
        assert_true(stat_of("out_of_order") > 0);
        check_exactly_once();
    }
}

/* as_completed(): results in the order the futures finished. */
static void test_executor_as_completed_order(void **state)
{
    (void)state;
    static const char *const sets[] = {
        "sleep_ms=5", "main_sleep_ms=0", "pause_ms=0",      "autoburst=on",
        "task_ms=80", "burst=8",         "as_completed=on", NULL};
    for (int mode = MODE_THREADS; mode <= MODE_PROCESSES; mode++) {
        start(mode, sets);
        wait_stat("completed_batches", 3);
        app_stop(&a);
        assert_int_equal((int)stat_of("map_batches"), 0);
        assert_true(stat_of("out_of_order") > 0);
        check_exactly_once();
    }
}

/* Failing tasks: result() raises the worker's exception; the rest are untouched. */
static void test_executor_failures(void **state)
{
    (void)state;
    static const char *const every[] = {"sleep_ms=20", "main_sleep_ms=0", "pause_ms=600000",
                                        "fail=1", NULL};
    static const char *const some[] = {
        "sleep_ms=5", "main_sleep_ms=0", "pause_ms=0", "autoburst=on",
        "task_ms=10", "burst=10",        "fail=3",     NULL};
    for (int mode = MODE_THREADS; mode <= MODE_PROCESSES; mode++) {
        start(mode, every);
        wait_stat("examples", 1);
        note_has("f.result() raised ValueError('task 1 failed') in worker");
        if (mode == MODE_PROCESSES)
            note_has("pid");
        app_stop(&a);
        assert_int_equal((int)stat_of("example_hello"), 0);
        assert_int_equal((int)stat_of("failed"), 1);
        /* The failed future is drawn failed, not done. */
        assert_int_equal(lane_named("future slot 1")->last.state,
                         TRACE_FAILED | TRACE_NOTE(note_id("raises the worker's exception")));
        check_exactly_once();

        start(mode, some);
        wait_stat("submitted", 60);
        app_stop(&a);
        assert_true(stat_of("failed") - stat_of("interrupted") >= 10);
        assert_true(stat_of("done") >= 20);
        check_exactly_once();
    }
}

/* result(timeout): TimeoutError while the task runs, then the value. */
static void test_executor_timeout(void **state)
{
    (void)state;
    static const char *const sets[] = {"sleep_ms=300", "main_sleep_ms=0", "timeout_ms=40",
                                       "pause_ms=0", NULL};
    start(MODE_THREADS, sets);
    wait_stat("examples", 1);
    app_stop(&a);
    assert_true(stat_of("timeouts") >= 1);
    assert_int_equal((int)stat_of("example_hello"), (int)stat_of("examples"));
    uint64_t m0 = 0, m1 = 0;
    assert_true(longest_span(lane_named("main thread"), TRACE_WAIT,
                             note_id("blocked in f.result(timeout)"), &m0, &m1));
    check_exactly_once();
}

/* Keys: t submits, c cancels only what is pending, x fails the next, o and b. */
static void test_executor_keys(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=1", "sleep_ms=600000", NULL};
    for (int mode = MODE_THREADS; mode <= MODE_PROCESSES; mode++) {
        start(mode, sets);
        /* The one worker is busy with the example for ten minutes. */
        wait_stat("running", 1);
        for (int i = 0; i < 5; i++)
            assert_int_equal(app_key(&a, 't', 80), APP_CONTINUE);
        assert_int_equal(a.msg[0], '\0');
        refresh();
        assert_int_equal((int)stat_of("submitted"), 6);
        assert_int_equal((int)stat_of("queue"), 5);
        assert_int_equal(app_key(&a, 'c', 80), APP_CONTINUE);
        refresh();
        note_has("5 cancelled; 1 running");
        assert_int_equal((int)stat_of("cancelled"), 5);
        assert_int_equal((int)stat_of("queue"), 0);
        assert_int_equal((int)stat_of("running"), 1);
        /* Cancelled futures show as cancelled on their slots. */
        app_tick(&a, trace_now_ns());
        const struct history_lane *l = lane_named("future slot 6");
        assert_int_equal(l->last.state, TRACE_CANCELLED | TRACE_NOTE(note_id("cancelled")));
        int order = scene_param_find(a.scene, "as_completed");
        assert_int_equal(app_key(&a, 'o', 80), APP_CONTINUE);
        app_tick(&a, trace_now_ns());
        assert_int_equal((int)a.params[order], 1);
        assert_int_equal(app_key(&a, 'o', 80), APP_CONTINUE);
        app_tick(&a, trace_now_ns());
        assert_int_equal((int)a.params[order], 0);
        app_stop(&a);
        /* The running one is interrupted by the shutdown, nothing else. */
        assert_int_equal((int)stat_of("interrupted"), 1);
        assert_int_equal(lane_named("future slot 1")->last.state,
                         TRACE_FAILED | TRACE_NOTE(note_id("interrupted by the pool's shutdown")));
        check_exactly_once();
    }
    static const char *const quick[] = {"sleep_ms=5", "main_sleep_ms=0", "pause_ms=600000",
                                        "task_ms=5", NULL};
    start(MODE_THREADS, quick);
    wait_stat("examples", 1);
    /* x then b: the burst's first task raises; main (in its pause) runs the burst. */
    assert_int_equal(app_key(&a, 'x', 80), APP_CONTINUE);
    assert_int_equal(app_key(&a, 'b', 80), APP_CONTINUE);
    wait_stat("map_batches", 1);
    note_has("map() printed: raised 1 4 9 16 25");
    app_stop(&a);
    assert_int_equal((int)stat_of("failed"), 1);
    check_exactly_once();
}

/* A bigger pool and many tasks, looped: the exactly-once check under churn. */
static void test_executor_churn(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=8",  "sleep_ms=1",   "main_sleep_ms=0",
                                       "pause_ms=0", "autoburst=on", "task_ms=2",
                                       "burst=40",   "fail=7",       NULL};
    for (int round = 0; round < 2; round++)
        for (int mode = MODE_THREADS; mode <= MODE_PROCESSES; mode++) {
            start(mode, sets);
            wait_stat("submitted", 300);
            /* Cancel whatever is pending at a random moment. */
            app_key(&a, 't', 80);
            app_key(&a, 'c', 80);
            wait_stat("submitted", 400);
            app_stop(&a);
            check_exactly_once();
        }
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

/* Quitting mid-task leaves no thread, child process or descriptor behind. */
static void test_executor_cleanup(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=4", "autoburst=on", "task_ms=60000", NULL};
    app_release(&a);
    int threads = count_dir("/proc/self/task"), fds = count_dir("/proc/self/fd");
    for (int mode = MODE_THREADS; mode <= MODE_PROCESSES; mode++) {
        start(mode, sets);
        wait_stat("running", 1);
        app_key(&a, 't', 80);
        app_stop(&a);
        check_exactly_once();
        assert_true(stat_of("interrupted") >= 1);
        app_release(&a);
        assert_int_equal(settle_tasks(threads), threads);
        assert_int_equal(count_dir("/proc/self/fd"), fds);
        scenetest_no_children();
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_executor_default_example),
        T(test_executor_example_both_pools),
        T(test_executor_map_order),
        T(test_executor_as_completed_order),
        T(test_executor_failures),
        T(test_executor_timeout),
        T(test_executor_keys),
        T(test_executor_churn),
        T(test_executor_cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
