/*
 * Property tests of the deadlock scene: real threads and mutexes at the
 * philosophers' table (and the two accounts). What is asserted is what the
 * lock protocols guarantee - the naive order deadlocks, the ordered one and
 * the waiter never do - and that the cycle the scene reports is the one the
 * lanes recorded. The settings make the window wide (no thinking, a long
 * reach), so no assertion depends on the machine's speed; the watchdog
 * bounds how long stopping a deadlocked table may take.
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
#define run(mode, secs, sets) scenetest_run(&a, "deadlock", mode, secs, sets)

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

static void nap_ms(int ms)
{
    nanosleep(&(struct timespec){0, ms * 1000000L}, NULL);
}

static void start(int mode, const char *const *kv)
{
    const struct scene_entry *e = scene_find("deadlock");
    int64_t p[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        p[i] = e->params[i].def;
    for (int i = 0; kv[i]; i += 2)
        p[scene_param_find(e, kv[i])] = strtoll(kv[i + 1], NULL, 10);
    assert_int_equal(app_start(&a, e, mode, p), 0);
}

static double stat_now(const char *name)
{
    app_tick(&a, trace_now_ns());
    app_stats(&a, trace_now_ns());
    return stat_of(name);
}

static const struct trace_event *last_event(const struct history_lane *l)
{
    size_t n = history_kept(l);
    return n ? history_at(l, n - 1) : NULL;
}

/* The last event of a lane with this note, or NULL. */
static const struct trace_event *last_with(const struct history_lane *l, int note)
{
    for (size_t k = history_kept(l); k-- > 0;)
        if ((int)TRACE_NOTE_OF(history_at(l, k)->state) == note)
            return history_at(l, k);
    return NULL;
}

/*
 * Naive order: the table deadlocks, the cycle the graph reports is the one
 * the lanes show (each holds the fork it reached with and waits for the fork
 * the next one holds, all the way round), and stopping returns.
 */
static void test_deadlock_naive_cycle_and_stop(void **state)
{
    (void)state;
    start(0, (const char *const[]){"think_ms", "0", "reach_ms", "50", "recover_ms", "0", NULL});
    while (stat_now("deadlocked_now") != 1)
        nap_ms(5);
    assert_true(stat_of("deadlocks") == 1);
    assert_true(stat_of("first_deadlock") > 0);
    /* Every lane has reported by now (each wakes at least once a slice). */
    nap_ms(100);
    app_tick(&a, trace_now_ns());
    int n = (int)a.params[scene_param_find(a.scene, "philosophers")];
    int dead = note_id("deadlocked: waits"), reach = note_id("reaching for the other");
    int cyc = note_id("a cycle: deadlock");
    const struct trace_event *g = last_event(lane_named("wait-for graph"));
    assert_non_null(g);
    assert_int_equal((int)TRACE_NOTE_OF(g->state), cyc);
    assert_int_equal((int)g->arg, n);
    int holds[8], waits[8];
    char name[32];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "philosopher %d", i);
        const struct history_lane *l = lane_named(name);
        const struct trace_event *x = last_event(l), *r = last_with(l, reach);
        assert_non_null(x);
        assert_non_null(r);
        assert_int_equal((int)TRACE_NOTE_OF(x->state), dead);
        assert_true(r->t <= x->t);
        holds[i] = (int)r->arg;
        waits[i] = (int)x->arg;
        assert_int_equal(holds[i], i);
        assert_int_equal(waits[i], (i + 1) % n);
    }
    /* Follow it: the fork each waits for is held by the next, back to the start. */
    int t = 0, steps = 0;
    do {
        int next = -1;
        for (int j = 0; j < n; j++)
            if (holds[j] == waits[t])
                next = j;
        assert_true(next >= 0);
        t = next;
        steps++;
    } while (t != 0 && steps <= n);
    assert_int_equal(steps, n);
    /* Stopping returns (the watchdog bounds it) and every deadlocked worker is gone. */
    int threads = scenetest_count_dir("/proc/self/task");
    app_stop(&a);
    assert_true(scenetest_count_dir("/proc/self/task") <= threads - n);
}

/* The same with the two accounts: transfer(a, b) against transfer(b, a). */
static void test_deadlock_bank(void **state)
{
    (void)state;
    start(0, (const char *const[]){"bank", "1", "think_ms", "0", "reach_ms", "50", "recover_ms",
                                   "0", NULL});
    while (stat_now("deadlocked_now") != 1)
        nap_ms(5);
    app_stop(&a);
    assert_true(stat_of("total_balance") == 2000);
    const char *sets[] = {"bank=on", "think_ms=0", "reach_ms=2", "eat_ms=0", NULL};
    run(1, 2, sets);
    assert_true(stat_of("deadlocks") == 0);
    assert_true(stat_of("transfers") > 0);
    assert_true(stat_of("total_balance") == 2000);
}

/* Recovery: by itself after recover_ms, again and again, and on key x. */
static void test_deadlock_recovers(void **state)
{
    (void)state;
    const char *sets[] = {"think_ms=0", "reach_ms=30", "recover_ms=100", NULL};
    run(0, 3, sets);
    assert_true(stat_of("deadlocks") >= 2);
    assert_true(stat_of("meals") > 0);
    start(0, (const char *const[]){"think_ms", "0", "reach_ms", "50", "recover_ms", "0", NULL});
    while (stat_now("deadlocked_now") != 1)
        nap_ms(5);
    double meals = stat_of("meals");
    app_key(&a, 'x', 120);
    while (stat_now("meals") == meals)
        nap_ms(5);
    app_stop(&a);
    assert_true(stat_of("deadlocks") >= 1);
}

/* Global order, trylock and the waiter never deadlock, under heavy contention. */
static void test_deadlock_safe_modes(void **state)
{
    (void)state;
    const char *sets[] = {"think_ms=0", "reach_ms=3", "eat_ms=1", "philosophers=6", NULL};
    for (int mode = 1; mode <= 3; mode++) {
        run(mode, mode == 2 ? 2 : 5, sets);
        assert_true(stat_of("deadlocks") == 0);
        assert_true(stat_of("meals") > 0);
        assert_true(stat_of("lock_waits") + (mode == 2 ? stat_of("retries") : 0) > 0);
        if (mode == 2)
            assert_true(stat_of("retries") > 0);
        if (mode == 3)
            assert_true(stat_of("seat_waits") > 0);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_deadlock_naive_cycle_and_stop),
        T(test_deadlock_bank),
        T(test_deadlock_recovers),
        T(test_deadlock_safe_modes),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
