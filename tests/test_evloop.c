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

/*
 * Run the scene headless with "key=value" settings; returns after stop.
 * Unless the settings say otherwise, sleeps are in milliseconds and a task
 * does no work beyond its print (the defaults are the course's whole
 * seconds, with visible work).
 */
static void run(int mode, double secs, const char *const *sets)
{
    const char *all[24] = {"whole_s=off", "work_ms=0"};
    int n = 2;
    for (int i = 0; sets && sets[i] && n < 23; i++)
        all[n++] = sets[i];
    all[n] = NULL;
    scenetest_run(&a, "evloop", mode, secs, all);
    dump_stats();
}

/* The scene's defaults with ms sleeps and no work, for runs started through the app. */
static void quick_params(const struct scene_entry *e, int64_t *p)
{
    for (int i = 0; i < e->nparams; i++)
        p[i] = e->params[i].def;
    p[scene_param_find(e, "whole_s")] = 0;
    p[scene_param_find(e, "work_ms")] = 0;
}

/* Time a lane spends in state st, in ns, over its kept history. */
static uint64_t time_in(const struct history_lane *l, unsigned st, int note)
{
    uint64_t sum = 0;
    for (size_t k = 0; k + 1 < history_kept(l); k++) {
        const struct trace_event *e = history_at(l, k);
        if (TRACE_STATE_OF(e->state) == st && (note < 0 || (int)TRACE_NOTE_OF(e->state) == note))
            sum += history_at(l, k + 1)->t - e->t;
    }
    return sum;
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
    /*
     * Whenever a coroutine holds control (drawn asleep: the pacing is a
     * sleep), the caller is waiting in next()/send().
     */
    const struct history_lane *co[2] = {gen, avg};
    int held = 0;
    for (int c = 0; c < 2; c++)
        for (size_t k = 0; k < history_kept(co[c]); k++) {
            const struct trace_event *e = history_at(co[c], k);
            if (TRACE_STATE_OF(e->state) != TRACE_SLEEP)
                continue;
            held++;
            long i = history_find(caller, e->t);
            assert_true(i >= 0);
            assert_int_equal(TRACE_STATE_OF(history_at(caller, (size_t)i)->state), TRACE_READY);
        }
    assert_true(held >= 24);
    /* The pacing is drawn as what it is: the three lanes are hardly ever running. */
    const struct history_lane *all[3] = {caller, gen, avg};
    for (int c = 0; c < 3; c++)
        assert_true(time_in(all[c], TRACE_RUN, -1) * 10 < time_in(all[c], TRACE_SLEEP, -1));
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
        snprintf(name, sizeof name, "task %d", i + 1);
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
        snprintf(name, sizeof name, "task %d", i + 1);
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
    double p50 = stat_of("late_p50"), p99 = stat_of("late_p99");
    assert_true(p50 <= p99);
    /*
     * A ratio, not a time: the same tasks with one 400 ms blocking call on
     * the loop are late by far more than the loop's own scheduling makes
     * them, however loaded the machine.
     */
    static const char *const blocked[] = {"tasks=8", "max_sleep_ms=20", "blocking=1",
                                          "block_ms=400", NULL};
    run(1, 1.0, blocked);
    double stalled = stat_of("late_max");
    assert_true(stalled >= 400 - 20 - 1);
    if (!(p99 < 0.5 * stalled))
        fail_msg("late p99 %.1f ms without a blocking call, %.1f ms max with one", p99, stalled);
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
    quick_params(e, p);
    p[scene_param_find(e, "tasks")] = 8;
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

/*
 * One thread, many tasks, visibly: with work after every print, the loop
 * thread's lane shows each resume (running, with the task's number) and no
 * two tasks ever run at once; a task waiting for its timer is suspended
 * (idle: no thread waits for it), never asleep. The same tasks as threads
 * sleep in the kernel, and their work overlaps.
 */
static void test_evloop_one_thread_vs_threads(void **state)
{
    (void)state;
    static const char *const sets[] = {"tasks=4", "max_sleep_ms=30", "work_ms=20", NULL};
    run(1, 1.2, sets);
    check_loop_invariants();
    assert_int_equal((int)stat_of("running_max"), 1);
    const struct history_lane *loop = lane_named("loop thread");
    int task_note = note_id("loop: running a task");
    int runs[5] = {0};
    for (size_t k = 0; k < history_kept(loop); k++) {
        const struct trace_event *e = history_at(loop, k);
        if (TRACE_STATE_OF(e->state) == TRACE_RUN && (int)TRACE_NOTE_OF(e->state) == task_note) {
            assert_true(e->arg >= 1 && e->arg <= 4);
            runs[e->arg]++;
        }
    }
    uint64_t loop_run = time_in(loop, TRACE_RUN, task_note), tasks_run = 0;
    for (int i = 1; i <= 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "task %d", i);
        const struct history_lane *l = lane_named(name);
        assert_true(runs[i] >= 1);
        assert_int_equal((int)time_in(l, TRACE_SLEEP, -1), 0);
        assert_true(time_in(l, TRACE_IDLE, note_id("await asyncio.sleep")) > 0);
        tasks_run += time_in(l, TRACE_RUN, -1);
    }
    /* Every resume is on the loop thread's lane, with the task's number. */
    assert_true(runs[1] + runs[2] + runs[3] + runs[4] >= stat_of("resumes") - 1);
    /* The tasks' running time is the loop thread's: one thread did all of it. */
    assert_true(tasks_run <= loop_run + loop_run / 10 + 1000000);
    assert_true(tasks_run * 10 >= loop_run * 9);

    run(3, 1.2, sets);
    assert_int_equal((int)stat_of("os_threads"), 4);
    assert_true(stat_of("running_max") >= 2);
    for (int i = 1; i <= 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "thread %d", i);
        assert_true(time_in(lane_named(name), TRACE_SLEEP,
                            note_id("this thread asleep in the kernel")) > 0);
    }
}

/*
 * The blocking call on the loop thread: the task that made it is the one
 * lane asleep (in the kernel, holding the thread); the others show ready
 * from the moment their timers were due.
 */
static void test_evloop_blocker_obvious(void **state)
{
    (void)state;
    static const char *const sets[] = {"tasks=4", "max_sleep_ms=5", "blocking=1", "block_ms=300",
                                       NULL};
    run(1, 1.0, sets);
    check_loop_invariants();
    int blocking = note_id("this task called time.sleep"),
        late = note_id("the loop thread was busy");
    uint64_t blocker = time_in(lane_named("task 1"), TRACE_SLEEP, blocking), late_ns = 0;
    assert_true(blocker > 0);
    for (int i = 2; i <= 4; i++) {
        char name[16];
        snprintf(name, sizeof name, "task %d", i);
        const struct history_lane *l = lane_named(name);
        assert_int_equal((int)time_in(l, TRACE_SLEEP, -1), 0);
        /* Ready behind the stall for most of it (its timer was due, or it was queued). */
        assert_true(time_in(l, TRACE_READY, -1) * 2 > blocker);
        late_ns += time_in(l, TRACE_READY, late);
    }
    /* Shown ready from the moment their timers were due, behind a later stall. */
    assert_true(late_ns > 0);
}

/* Threads mode: blocked_ms is how long the blocking call really took, not its parameter. */
static void test_evloop_threads_blocked_measured(void **state)
{
    (void)state;
    const struct scene_entry *e = scene_find("evloop");
    int64_t p[SCENE_MAX_PARAMS];
    quick_params(e, p);
    p[scene_param_find(e, "tasks")] = 3;
    p[scene_param_find(e, "max_sleep_ms")] = 5;
    p[scene_param_find(e, "block_ms")] = 150;
    assert_int_equal(app_start(&a, e, 3, p), 0);
    sleep_ms(50);
    assert_int_equal(app_key(&a, 'b', 80), APP_CONTINUE);
    for (app_stats(&a, trace_now_ns()); stat_of("blocked_ms") <= 0; app_stats(&a, trace_now_ns()))
        sleep_ms(10);
    app_tick(&a, trace_now_ns());
    app_stop(&a);
    dump_stats();
    assert_int_equal((int)stat_of("blocking_calls"), 1);
    /* At least the call's length, within a broad margin above it. */
    assert_true(stat_of("blocked_ms") >= 150);
    assert_true(stat_of("blocked_ms") < 150 * 4);
    assert_true(stat_of("blocked_ms") != 150.0);
    /* The thread that made the call is named in the status line. */
    char note[SCENE_NOTE_MAX];
    scene_note_get(&a.ctx, note, sizeof note);
    if (!strstr(note, "called time.sleep(150 ms)") && !strstr(note, "Loop: "))
        fail_msg("note '%s'", note);
}

/*
 * The course's example: two tasks, whole seconds of sleep, a print per
 * resume in the course's format, and the end test one second before run_s.
 */
static void test_evloop_course_example(void **state)
{
    (void)state;
    const struct scene_entry *e = scene_find("evloop");
    assert_int_equal(e->params[scene_param_find(e, "tasks")].def, 2);
    assert_int_equal(e->params[scene_param_find(e, "max_sleep_ms")].def, 5000);
    assert_int_equal(e->params[scene_param_find(e, "whole_s")].def, 1);
    assert_int_equal(e->params[scene_param_find(e, "run_s")].def, 50);
    static const char *const sets[] = {"whole_s=on", "max_sleep_ms=1000", "run_s=4", NULL};
    run(1, 4.6, sets);
    check_loop_invariants();
    assert_int_equal((int)stat_of("tasks_done"), 2);
    char note[SCENE_NOTE_MAX];
    scene_note_get(&a.ctx, note, sizeof note);
    int num, y, mo, d, h, mi;
    double sec;
    if (sscanf(note, "Loop: %d Time: %d-%d-%d %d:%d:%lf", &num, &y, &mo, &d, &h, &mi, &sec) != 7)
        fail_msg("note '%s' is not the course's line", note);
    assert_true(num == 1 || num == 2);
    /* Each task's prints are whole seconds apart (a loose margin for a busy machine). */
    int print = note_id("print(now)"), gaps = 0;
    for (int i = 1; i <= 2; i++) {
        char name[16];
        snprintf(name, sizeof name, "task %d", i);
        const struct history_lane *l = lane_named(name);
        uint64_t last = 0;
        for (size_t k = 0; k < history_kept(l); k++) {
            const struct trace_event *ev = history_at(l, k);
            if (TRACE_STATE_OF(ev->state) != TRACE_RUN || (int)TRACE_NOTE_OF(ev->state) != print)
                continue;
            if (last) {
                uint64_t gap = ev->t - last, whole = (gap + 500000000u) / 1000000000u * 1000000000u;
                uint64_t off = gap > whole ? gap - whole : whole - gap;
                assert_true(off < 250000000u);
                gaps++;
            }
            last = ev->t;
        }
    }
    assert_true(gaps >= 2);
    assert_true(stat_of("prints") >= 4);
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
            /* Suspended: no thread waits for the data; the loop watches the socket. */
            if (TRACE_STATE_OF(e->state) != TRACE_IDLE)
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
    quick_params(e, p);
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
        T(test_evloop_one_thread_vs_threads),
        T(test_evloop_blocker_obvious),
        T(test_evloop_threads_blocked_measured),
        T(test_evloop_course_example),
        T(test_evloop_green),
        T(test_evloop_ten_thousand_coroutines),
        T(test_evloop_cleanup),
        T(test_evloop_switch_costs),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
