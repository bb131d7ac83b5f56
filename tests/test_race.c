/*
 * Property tests of the lost-update scene through headless runs: real
 * threads add to one counter, then the scene's totals and the recorded
 * lanes are inspected. No timing is asserted: only counts, which the
 * threads' interleaving decides but never the machine's speed (mode 1's
 * window is widened with work_us so a loaded machine still interleaves).
 */
#include "config.h"

#include "testutil.h"

#include "scenetest.h"

#include <string.h>
#include <time.h>

#include "app.h"
#include "scene.h"
#include "trace.h"

static struct app a;

#define stat_of(name) scenetest_stat(&a, name)
#define note_id(words) scenetest_note_id(&a, words)
#define lane_named(name) scenetest_lane(&a, name)
#define run(mode, secs, sets) scenetest_run(&a, "race", mode, secs, sets)

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

/* What every run keeps: totals add up, per round and over all rounds. */
static void check_totals(void)
{
    double rounds = stat_of("rounds"), expected = stat_of("expected");
    double per_round = (double)(a.params[scene_param_find(a.scene, "threads")] *
                                a.params[scene_param_find(a.scene, "updates")]);
    assert_true(rounds >= 1);
    assert_true(expected == rounds * per_round);
    assert_true(stat_of("actual") + stat_of("lost_updates") == expected);
    assert_true(stat_of("actual") <= expected);
}

/* Mode 1 loses updates when the window between load and store is wide. */
static void test_race_unsynchronised_loses(void **state)
{
    (void)state;
    const char *sets[] = {"updates=2000", "work_us=50", "pause_ms=0", NULL};
    run(0, 3, sets);
    check_totals();
    assert_true(stat_of("lost_updates") > 0);
}

/* Modes 2-4 (atomic, Lock, per-thread counters) never lose one. */
static void test_race_safe_modes_lose_none(void **state)
{
    (void)state;
    const char *sets[] = {"updates=300000", "pause_ms=0", "threads=3", NULL};
    for (int mode = 1; mode <= 3; mode++) {
        run(mode, 1.5, sets);
        check_totals();
        assert_true(stat_of("lost_updates") == 0);
        assert_true(stat_of("actual") == stat_of("expected"));
    }
    /* The same with a window, every load and store traced. */
    const char *slow[] = {"updates=500", "work_us=20", "pause_ms=0", NULL};
    for (int mode = 1; mode <= 3; mode++) {
        run(mode, 1, slow);
        check_totals();
        assert_true(stat_of("lost_updates") == 0);
    }
}

/* Under the GIL: the split update loses some, counter += 1 none, one holder always. */
static void test_race_gil(void **state)
{
    (void)state;
    const char *split[] = {"updates=1000000", "pause_ms=0", NULL};
    run(4, 3, split);
    check_totals();
    assert_true(stat_of("lost_updates") > 0);
    assert_true(stat_of("max_holders") == 1);
    assert_true(stat_of("gil_switches") > 0);
    const char *plain[] = {"updates=1000000", "pause_ms=0", "split=off", NULL};
    run(4, 3, plain);
    check_totals();
    assert_true(stat_of("lost_updates") == 0);
    assert_true(stat_of("max_holders") == 1);
    assert_true(stat_of("gil_switches") > 0);
}

/* Turns: A, B, A, B at every load and store loses exactly one update in two. */
static void test_race_turns_lose_half(void **state)
{
    (void)state;
    const char *sets[] = {"updates=300", "turns=on", "pause_ms=0", NULL};
    run(0, 1.5, sets);
    check_totals();
    assert_true(stat_of("lost_updates") * 2 == stat_of("expected"));
    const char *three[] = {"updates=300", "turns=on", "pause_ms=0", "threads=3", NULL};
    run(0, 1.5, three);
    check_totals();
    /* Three loads of the same value, three stores of it: two of three lost. */
    assert_true(stat_of("lost_updates") * 3 == stat_of("expected") * 2);
}

static int64_t params_of(const struct scene_entry *e, int64_t *p, const char *const *kv)
{
    for (int i = 0; i < e->nparams; i++)
        p[i] = e->params[i].def;
    for (int i = 0; kv[i]; i += 2)
        p[scene_param_find(e, kv[i])] = strtoll(kv[i + 1], NULL, 10);
    return 0;
}

static void nap_ms(int ms)
{
    nanosleep(&(struct timespec){0, ms * 1000000L}, NULL);
}

/* The last event of a lane (drained so far). */
static const struct trace_event *last_event(const char *name)
{
    const struct history_lane *l = lane_named(name);
    size_t n = history_kept(l);
    return n ? history_at(l, n - 1) : NULL;
}

/* Drain until every worker waits on the Event and main keeps it clear. */
static void wait_for_event_wait(int evwait, int evclear)
{
    for (;;) {
        app_tick(&a, trace_now_ns());
        const struct trace_event *x = last_event("thread A"), *y = last_event("thread B");
        const struct trace_event *m = last_event("main");
        if (x && y && m && TRACE_NOTE_OF(x->state) == (unsigned)evwait &&
            TRACE_NOTE_OF(y->state) == (unsigned)evwait &&
            TRACE_NOTE_OF(m->state) == (unsigned)evclear)
            return;
        nap_ms(5);
    }
}

/* Events recorded on the lanes the freeze gate orders (the gauge is written past it). */
static uint64_t gated_events(void)
{
    app_tick(&a, trace_now_ns());
    return history_kept(lane_named("thread A")) + history_kept(lane_named("thread B")) +
           history_kept(lane_named("main"));
}

static double rounds_now(void)
{
    app_stats(&a, trace_now_ns());
    return stat_of("rounds");
}

/* wait() blocks until set(): with the Event held clear nothing runs; key e runs one round. */
static void test_race_event_key(void **state)
{
    (void)state;
    const struct scene_entry *e = scene_find("race");
    int64_t p[SCENE_MAX_PARAMS];
    params_of(e, p, (const char *const[]){"updates", "1000", "pause_ms", "600000", NULL});
    assert_int_equal(app_start(&a, e, 0, p), 0);
    int evwait = note_id("wait(): blocked"), evclear = note_id("Event clear");
    wait_for_event_wait(evwait, evclear);
    nap_ms(200);
    assert_true(rounds_now() == 0);
    app_key(&a, 'g', 120);
    while (rounds_now() < 1)
        nap_ms(5);
    wait_for_event_wait(evwait, evclear);
    assert_true(rounds_now() == 1);
    /* Each worker left its wait once, after main's set(). */
    int setjoin = note_id("set(): every waiter");
    const struct history_lane *m = lane_named("main");
    uint64_t t_set = 0;
    for (size_t k = 0; k < history_kept(m); k++)
        if (TRACE_NOTE_OF(history_at(m, k)->state) == (unsigned)setjoin)
            t_set = history_at(m, k)->t;
    assert_true(t_set > 0);
    const char *names[] = {"thread A", "thread B"};
    for (int i = 0; i < 2; i++) {
        const struct history_lane *l = lane_named(names[i]);
        int left = 0;
        for (size_t k = 1; k < history_kept(l); k++)
            if (TRACE_NOTE_OF(history_at(l, k - 1)->state) == (unsigned)evwait &&
                TRACE_NOTE_OF(history_at(l, k)->state) != (unsigned)evwait)
                left++;
        assert_int_equal(left, 1);
    }
    app_stop(&a);
    assert_true(stat_of("lost_updates") + stat_of("actual") == 2000);
}

/*
 * Freeze and step: with turns on and one update each, the steps after
 * main's set() are A's load, B's load, A's store, B's store, and the round
 * ends one update short.
 */
static void test_race_four_steps_lose_one(void **state)
{
    (void)state;
    const struct scene_entry *e = scene_find("race");
    int64_t p[SCENE_MAX_PARAMS];
    params_of(e, p,
              (const char *const[]){"updates", "1", "turns", "1", "pause_ms", "600000", NULL});
    assert_int_equal(app_start(&a, e, 0, p), 0);
    int evwait = note_id("wait(): blocked"), evclear = note_id("Event clear");
    int rd = note_id("read: loaded"), wr = note_id("write: stored the sum");
    wait_for_event_wait(evwait, evclear);
    trace_freeze(true);
    app_key(&a, 'g', 120);
    int steps = 0;
    while (rounds_now() < 1) {
        assert_true(steps < 20);
        while (trace_parked() == 0)
            nap_ms(1);
        if (steps < 4) {
            /* Until A's store, one thread at a time holds the baton and waits at the gate. */
            nap_ms(20);
            assert_int_equal(trace_parked(), 1);
        }
        uint64_t before = gated_events();
        trace_step();
        while (gated_events() == before)
            nap_ms(1);
        /* A step lets exactly one transition through. */
        nap_ms(20);
        assert_true(gated_events() == before + 1);
        steps++;
    }
    /* The loads and stores in the order they were stepped. */
    struct {
        uint64_t t;
        int who, note;
        uint32_t arg;
    } seq[8];
    int n = 0;
    const char *names[] = {"thread A", "thread B"};
    for (int i = 0; i < 2; i++) {
        const struct history_lane *l = lane_named(names[i]);
        for (size_t k = 0; k < history_kept(l); k++) {
            const struct trace_event *x = history_at(l, k);
            int note = (int)TRACE_NOTE_OF(x->state);
            if ((note == rd || note == wr) && n < 8)
                seq[n++] = (typeof(seq[0])){x->t, i, note, x->arg};
        }
    }
    assert_int_equal(n, 4);
    for (int i = 0; i < n; i++)
        for (int j = i + 1; j < n; j++)
            if (seq[j].t < seq[i].t) {
                typeof(seq[0]) tmp = seq[i];
                seq[i] = seq[j];
                seq[j] = tmp;
            }
    int want_who[4] = {0, 1, 0, 1}, want_note[4] = {rd, rd, wr, wr};
    for (int i = 0; i < 4; i++) {
        assert_int_equal(seq[i].who, want_who[i]);
        assert_int_equal(seq[i].note, want_note[i]);
    }
    /* Both stored 1: the same sum twice. */
    assert_int_equal(seq[2].arg, 1);
    assert_int_equal(seq[3].arg, 1);
    assert_true(stat_of("expected") == 2);
    assert_true(stat_of("actual") == 1);
    assert_true(stat_of("lost_updates") == 1);
    trace_freeze(false);
    app_stop(&a);
}

/* Stopping returns with the workers in every kind of wait (Event, baton, frozen gate). */
static void test_race_stop_anywhere(void **state)
{
    (void)state;
    const struct scene_entry *e = scene_find("race");
    int64_t p[SCENE_MAX_PARAMS];
    params_of(e, p, (const char *const[]){"turns", "1", "work_us", "100", "pause_ms", "0", NULL});
    int threads = scenetest_count_dir("/proc/self/task");
    for (int mode = 0; mode < e->nmodes; mode++) {
        assert_int_equal(app_start(&a, e, mode, p), 0);
        nap_ms(100);
        if (mode % 2)
            trace_freeze(true);
        nap_ms(50);
        app_stop(&a);
        assert_false(trace_frozen());
        scenetest_no_children();
        assert_int_equal(scenetest_count_dir("/proc/self/task"), threads);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_race_unsynchronised_loses),
        T(test_race_safe_modes_lose_none),
        T(test_race_gil),
        T(test_race_turns_lose_half),
        T(test_race_event_key),
        T(test_race_four_steps_lose_one),
        T(test_race_stop_anywhere),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
