/*
 * Tests of the coroutine module and of the event-loop scene through headless
 * runs: the real loop and coroutines run, then the recorded history and the
 * scene's own figures are inspected. Timings are asserted only as loose
 * bounds, or where the scene forces them (a blocking call of known length).
 */
#include "config.h"

#include "testutil.h"

#include "scenetest.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "cli.h"
#include "coro.h"
#include "headless.h"
#include "scene.h"
#include "trace.h"

#if defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define TEST_TSAN 1
#endif
#endif
#if defined(__SANITIZE_THREAD__) && !defined(TEST_TSAN)
#define TEST_TSAN 1
#endif

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
    app_shutdown(&a);
    return 0;
}

static long rss_kib(void)
{
    long size = 0, res = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (!f)
        return -1;
    if (fscanf(f, "%ld %ld", &size, &res) != 2)
        res = -1;
    fclose(f);
    return res * (sysconf(_SC_PAGESIZE) / 1024);
}

static void sleep_ms(long ms)
{
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&d, NULL);
}

/* With EVLOOP_TEST_VERBOSE set, print the figures of every run. */
static void dump_stats(void)
{
    if (!getenv("EVLOOP_TEST_VERBOSE"))
        return;
    for (int i = 0; i < a.stats.n; i++)
        print_message("#   %s %g %s\n", a.stats.s[i].name, a.stats.s[i].value, a.stats.s[i].unit);
}

/* Run the scene headless with "key=value" settings; returns after stop. */
static void run(int mode, double secs, const char *const *sets)
{
    scenetest_run(&a, "evloop", mode, secs, sets);
    dump_stats();
}

/* What every loop run keeps: FIFO resumption, a cleanly closed loop, nothing dropped. */
static void check_loop_invariants(void)
{
    assert_int_equal((int)stat_of("order_violations"), 0);
    assert_int_equal((int)stat_of("loop_closed"), 1);
    assert_int_equal((int)stat_of("os_threads"), 1);
    assert_int_equal((int)stat_of("trace_dropped"), 0);
}

/* ---- the coroutine module ---- */

static uintptr_t count_to(struct coro *co, void *arg, uintptr_t first)
{
    uintptr_t n = (uintptr_t)arg;
    assert_int_equal(first, 7);
    for (uintptr_t i = 0; i < n; i++)
        assert_int_equal(coro_yield(co, i * i), i + 100);
    return 999;
}

/* A generator yields exactly its sequence, then returns its value once. */
static void test_coro_generator_and_send(void **state)
{
    (void)state;
    struct coro *co = coro_create(count_to, (void *)5, 0);
    assert_non_null(co);
    assert_false(coro_done(co));
    assert_int_equal(coro_resume(co, 7), 0);
    for (uintptr_t i = 1; i < 5; i++)
        assert_int_equal(coro_resume(co, i - 1 + 100), i * i);
    assert_int_equal(coro_resume(co, 4 + 100), 999);
    assert_true(coro_done(co));
    coro_destroy(co);
}

static uintptr_t inner_body(struct coro *co, void *arg, uintptr_t first)
{
    (void)arg;
    double x = (double)first * 0.5; /* floating point state survives switches */
    x += (double)coro_yield(co, (uintptr_t)(x * 4));
    return (uintptr_t)(x * 2);
}

static uintptr_t outer_body(struct coro *co, void *arg, uintptr_t first)
{
    (void)arg;
    struct coro *in = coro_create(inner_body, NULL, 32 * 1024);
    assert_non_null(in);
    uintptr_t v = coro_resume(in, first); /* 10 -> 5.0 -> yields 20 */
    uintptr_t w = coro_yield(co, v);
    v = coro_resume(in, w); /* 5.0 + 3 -> returns 16 */
    assert_true(coro_done(in));
    coro_destroy(in);
    return v;
}

/* A coroutine may run another one: control nests and unwinds in order. */
static void test_coro_nested(void **state)
{
    (void)state;
    struct coro *co = coro_create(outer_body, NULL, 64 * 1024);
    assert_int_equal(coro_resume(co, 10), 20);
    assert_int_equal(coro_resume(co, 3), 16);
    assert_true(coro_done(co));
    coro_destroy(co);
    assert_true(coro_measure_switch_ns(1000) > 0);
}

/* ---- the scene ---- */

/* Mode 1: the caller gets the Fibonacci sequence exactly, and the averager each value. */
static void test_evloop_generator_sequence(void **state)
{
    (void)state;
    static const char *const sets[] = {"step_ms=1", "gen_count=12", NULL};
    run(0, 0.6, sets);
    assert_int_equal((int)stat_of("gen_sequence_errors"), 0);
    assert_int_equal((int)stat_of("send_errors"), 0);
    assert_true(stat_of("gen_values") >= 24);
    assert_true(stat_of("gen_restarts") >= 1);
    static const uint32_t fib[12] = {0, 1, 1, 2, 3, 5, 8, 13, 21, 34, 55, 89};
    const struct history_lane *caller = lane_named("caller (main)");
    const struct history_lane *gen = lane_named("fib() generator");
    const struct history_lane *avg = lane_named("averager() coro");
    int got = note_id("got the generator's value"), recv = note_id("received x");
    int nvals = 0, nrecv = 0;
    for (size_t k = 0; k < history_kept(caller); k++) {
        const struct trace_event *e = history_at(caller, k);
        if ((int)TRACE_NOTE_OF(e->state) == got)
            assert_int_equal(e->arg, fib[nvals++ % 12]);
    }
    for (size_t k = 0; k < history_kept(avg); k++) {
        const struct trace_event *e = history_at(avg, k);
        if ((int)TRACE_NOTE_OF(e->state) == recv)
            assert_int_equal(e->arg, fib[nrecv++ % 12]);
    }
    assert_true(nvals >= 24);
    assert_true(nrecv >= nvals - 1 && nrecv <= nvals);
    /* Whenever a coroutine runs, the caller is waiting in next()/send(). */
    const struct history_lane *co[2] = {gen, avg};
    for (int c = 0; c < 2; c++)
        for (size_t k = 0; k < history_kept(co[c]); k++) {
            const struct trace_event *e = history_at(co[c], k);
            if (TRACE_STATE_OF(e->state) != TRACE_RUN)
                continue;
            long i = history_find(caller, e->t);
            assert_true(i >= 0);
            assert_int_equal(TRACE_STATE_OF(history_at(caller, (size_t)i)->state), TRACE_READY);
        }
}

/*
 * Mode 2: tasks resume in exactly the order the loop queued them. Each RUN
 * carries the run number its READY got; sorted by run number, the resumes
 * are in time order.
 */
static void test_evloop_resume_order(void **state)
{
    (void)state;
    static const char *const sets[] = {"tasks=8", "max_sleep_ms=5", NULL};
    run(1, 0.6, sets);
    check_loop_invariants();
    assert_true(stat_of("resumes") > 100);
    /* Stopping cancels the tasks still suspended: their lanes end cancelled, not done. */
    int cancelled = 0;
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "task %d", i);
        unsigned last = TRACE_STATE_OF(lane_named(name)->last.state);
        assert_true(last == TRACE_CANCELLED || last == TRACE_DONE);
        cancelled += last == TRACE_CANCELLED;
    }
    assert_true(cancelled > 0);
    static uint64_t when[1 << 16];
    static bool seen[1 << 16];
    memset(seen, 0, sizeof seen);
    uint32_t maxseq = 0;
    int runs = 0;
    for (int i = 0; i < 8; i++) {
        char name[32];
        snprintf(name, sizeof name, "task %d", i);
        const struct history_lane *l = lane_named(name);
        uint32_t queued = UINT32_MAX;
        for (size_t k = 0; k < history_kept(l); k++) {
            const struct trace_event *e = history_at(l, k);
            unsigned s = TRACE_STATE_OF(e->state);
            if (s == TRACE_READY)
                queued = e->arg;
            if (s == TRACE_RUN && TRACE_NOTE_OF(e->state) == (unsigned)note_id("print(now)")) {
                assert_int_equal(e->arg, queued); /* the one it queued, nobody else */
                assert_true(e->arg < (1u << 16));
                assert_false(seen[e->arg]);
                seen[e->arg] = true;
                when[e->arg] = e->t;
                maxseq = e->arg > maxseq ? e->arg : maxseq;
                runs++;
            }
        }
    }
    uint64_t last = 0;
    int gaps = 0;
    for (uint32_t s = 0; s <= maxseq; s++) {
        if (!seen[s]) {
            gaps++;
            continue;
        }
        assert_true(when[s] >= last);
        last = when[s];
    }
    assert_true(runs > 100);
    assert_int_equal(gaps, 0); /* all tasks have lanes: every run number is there */
}

/* Without a blocking call, every timer callback runs close to its deadline. */
static void test_evloop_lateness_bounded(void **state)
{
    (void)state;
    static const char *const sets[] = {"tasks=8", "max_sleep_ms=20", NULL};
    run(1, 1.0, sets);
    check_loop_invariants();
    assert_true(stat_of("wakeups") > 200);
    assert_int_equal((int)stat_of("blocking_calls"), 0);
    /*
     * Bounds on stalls, not on speed: far below the 200 ms a blocking call
     * causes in the next test, with room for a loaded or sanitized build.
     */
    assert_true(stat_of("late_p50") < 10);
    assert_true(stat_of("late_p99") < 50);
    assert_true(stat_of("late_max") < 250);
}

/*
 * blocking=1: task 0 calls time.sleep(200 ms) on the loop thread. Every other
 * task's timer was due within max_sleep of the stall starting, so each one
 * is late by at least block_ms - max_sleep_ms.
 */
static void test_evloop_blocking_call_stalls_everyone(void **state)
{
    (void)state;
    static const char *const sets[] = {"tasks=4", "max_sleep_ms=2", "blocking=1", "block_ms=200",
                                       NULL};
    run(1, 1.0, sets);
    check_loop_invariants();
    assert_true(stat_of("blocking_calls") >= 2);
    assert_true(stat_of("blocked_ms") >= 400);
    assert_true(stat_of("late_max") >= 200 - 2 - 1);
    assert_true(stat_of("late_others_min_worst") >= 200 - 2 - 1);
    /* The loop lane shows the stall, and the tasks behind it stayed queued. */
    const struct history_lane *loop = lane_named("loop thread");
    int stalled = note_id("loop stalled"), stalls = 0;
    for (size_t k = 0; k < history_kept(loop); k++)
        stalls += (int)TRACE_NOTE_OF(history_at(loop, k)->state) == stalled;
    assert_true(stalls >= 2);
}

/* The 'b' key makes exactly one task block, once. */
static void test_evloop_key_blocks_once(void **state)
{
    (void)state;
    const struct scene_entry *e = scene_find("evloop");
    int64_t p[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        p[i] = e->params[i].def;
    p[scene_param_find(e, "max_sleep_ms")] = 5;
    p[scene_param_find(e, "block_ms")] = 150;
    assert_int_equal(app_start(&a, e, 1, p), 0);
    sleep_ms(100);
    app_tick(&a, trace_now_ns());
    assert_int_equal(app_key(&a, 'b', 80), APP_CONTINUE);
    assert_int_equal(a.msg[0], '\0'); /* the scene took the key */
    for (int i = 0; i < 40; i++) {
        sleep_ms(10);
        app_tick(&a, trace_now_ns());
    }
    app_stop(&a);
    dump_stats();
    check_loop_invariants();
    assert_int_equal((int)stat_of("blocking_calls"), 1);
    assert_true(stat_of("late_max") >= 150 - 5 - 1);
}

/* Threads for contrast: a thread that blocks delays nobody else. */
static void test_evloop_threads_do_not_stall(void **state)
{
    (void)state;
    static const char *const sets[] = {"tasks=6", "max_sleep_ms=5", "blocking=1", "block_ms=400",
                                       NULL};
    run(3, 1.0, sets);
    assert_int_equal((int)stat_of("os_threads"), 6);
    assert_true(stat_of("blocking_calls") >= 2);
    /* Stalled by thread 0 they would all be ~400 ms late; allow for a busy machine. */
    assert_true(stat_of("late_others_min_worst") < 200);
    assert_true(stat_of("late_p99") < 100);
    assert_int_equal((int)stat_of("trace_dropped"), 0);
}

/* Green threads: blocking-looking calls yield, side by side with awaits. */
static void test_evloop_green(void **state)
{
    (void)state;
    static const char *const sets[] = {"tasks=6", "max_sleep_ms=5", NULL};
    run(2, 0.6, sets);
    check_loop_invariants();
    assert_true(stat_of("reads") > 50);
    int green_read = note_id("sock.recv()"), await_read = note_id("reader.read()");
    int seen_green = 0, seen_await = 0;
    for (int i = 0; i < a.hist.nlanes; i++) {
        const struct history_lane *l = &a.hist.lane[i];
        for (size_t k = 0; k < history_kept(l); k++) {
            const struct trace_event *e = history_at(l, k);
            if (TRACE_STATE_OF(e->state) != TRACE_IO)
                continue;
            if ((int)TRACE_NOTE_OF(e->state) == green_read) {
                assert_non_null(strstr(l->name, "green"));
                seen_green++;
            }
            if ((int)TRACE_NOTE_OF(e->state) == await_read) {
                assert_non_null(strstr(l->name, "await"));
                seen_await++;
            }
        }
    }
    assert_true(seen_green > 10 && seen_await > 10);
}

/* 10,000 coroutines run on one thread, each costing a few pages, not a thread's stack. */
static void test_evloop_ten_thousand_coroutines(void **state)
{
    (void)state;
#ifdef TEST_TSAN
    /* ThreadSanitizer's fiber state costs milliseconds and megabytes per coroutine. */
    const int n = 100;
#else
    const int n = 10000;
#endif
    const struct scene_entry *e = scene_find("evloop");
    int64_t p[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        p[i] = e->params[i].def;
    p[scene_param_find(e, "tasks")] = n;
    p[scene_param_find(e, "max_sleep_ms")] = 200;
    int threads = count_dir("/proc/self/task");
    long rss0 = rss_kib();
    assert_int_equal(app_start(&a, e, 1, p), 0);
    long peak = 0;
    for (int i = 0; i < 100; i++) {
        sleep_ms(10);
        app_tick(&a, trace_now_ns());
        long r = rss_kib();
        peak = r > peak ? r : peak;
        /* The loop thread and the switch probe (with its partner), nothing per task. */
        assert_true(count_dir("/proc/self/task") <= threads + 3);
    }
    app_stop(&a);
    dump_stats();
    check_loop_invariants();
    assert_int_equal((int)stat_of("tasks_started"), n);
    assert_true(stat_of("resumes") >= n + n / 10);
#ifndef TEST_TSAN
    assert_true(stat_of("rss_per_task") > 0);
    assert_true(stat_of("rss_per_task") <= 24);
    /* Well under one 64 KiB stack per task: only touched pages are resident. */
    assert_true(peak - rss0 < (long)n * 32);
#else
    (void)peak;
    (void)rss0;
#endif
}

/* Quitting mid-run leaves no thread and no descriptor behind, in every mode. */
static void test_evloop_cleanup(void **state)
{
    (void)state;
    static const char *const sets[] = {"tasks=12", "max_sleep_ms=3", "step_ms=2", NULL};
    int threads = count_dir("/proc/self/task"), fds = count_dir("/proc/self/fd");
    for (int mode = 0; mode < 4; mode++) {
        run(mode, 0.25, sets);
        if (mode == 1 || mode == 2)
            check_loop_invariants();
        app_release(&a);
        assert_int_equal(count_dir("/proc/self/task"), threads);
        assert_int_equal(count_dir("/proc/self/fd"), fds);
    }
}

/* The switch costs are measured and shown. */
static void test_evloop_switch_costs(void **state)
{
    (void)state;
    static const char *const sets[] = {"tasks=2", NULL};
    run(1, 0.4, sets);
    double c = stat_of("coro_switch_ns"), t = stat_of("thread_switch_ns");
    print_message("# coroutine switch %.1f ns, thread switch %.1f ns (%s)\n", c, t, coro_backend());
    assert_true(c > 0);
    assert_true(t > 0);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_coro_generator_and_send),
        T(test_coro_nested),
        T(test_evloop_generator_sequence),
        T(test_evloop_resume_order),
        T(test_evloop_lateness_bounded),
        T(test_evloop_blocking_call_stalls_everyone),
        T(test_evloop_key_blocks_once),
        T(test_evloop_threads_do_not_stall),
        T(test_evloop_green),
        T(test_evloop_ten_thousand_coroutines),
        T(test_evloop_cleanup),
        T(test_evloop_switch_costs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
