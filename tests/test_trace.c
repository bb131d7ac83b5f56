#include "config.h"

#include "testutil.h"

#include <pthread.h>
#include <string.h>
#include <sys/wait.h>

#include "trace.h"

static int setup(void **state)
{
    (void)state;
    test_watchdog(60);
    assert_int_equal(trace_init(), 0);
    trace_reset();
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    trace_freeze(false);
    trace_reset();
    return 0;
}

static void test_trace_emit_and_drain_in_order(void **state)
{
    (void)state;
    int lane = trace_lane_add("worker", TRACE_LANE_STATE, 0);
    assert_int_equal(lane, 0);
    assert_string_equal(trace_lane(lane)->name, "worker");
    for (unsigned i = 0; i < 100; i++)
        trace_emit(lane, i % TRACE_NSTATES | TRACE_NOTE(3), i);
    struct trace_event ev[200];
    size_t n = trace_drain(lane, ev, 200);
    assert_int_equal(n, 100);
    for (unsigned i = 0; i < 100; i++) {
        assert_int_equal(ev[i].arg, i);
        assert_int_equal(TRACE_STATE_OF(ev[i].state), i % TRACE_NSTATES);
        assert_int_equal(TRACE_NOTE_OF(ev[i].state), 3);
        if (i)
            assert_true(ev[i].t >= ev[i - 1].t);
    }
    assert_int_equal(trace_drain(lane, ev, 200), 0);
}

static void test_trace_timestamps_are_monotonic_ns(void **state)
{
    (void)state;
    int lane = trace_lane_add("clock", TRACE_LANE_STATE, 0);
    uint64_t before = trace_now_ns();
    trace_emit(lane, TRACE_RUN, 0);
    struct timespec d = {0, 20000000};
    nanosleep(&d, NULL);
    trace_emit(lane, TRACE_SLEEP, 0);
    uint64_t after = trace_now_ns();
    struct trace_event ev[2];
    assert_int_equal(trace_drain(lane, ev, 2), 2);
    /* Converted to CLOCK_MONOTONIC: inside [before, after], 20 ms apart. */
    assert_true(ev[0].t + 200000 >= before);
    assert_true(ev[1].t <= after + 200000);
    uint64_t gap = ev[1].t - ev[0].t;
    assert_true(gap >= 19000000 && gap < 200000000);
}

static void test_trace_overflow_is_counted_not_blocking(void **state)
{
    (void)state;
    int lane = trace_lane_add("flood", TRACE_LANE_STATE, 0);
    for (unsigned i = 0; i < TRACE_RING_SIZE + 500; i++)
        trace_emit(lane, TRACE_RUN, i);
    assert_int_equal(trace_dropped(), 500);
    static struct trace_event ev[TRACE_RING_SIZE];
    assert_int_equal(trace_drain(lane, ev, TRACE_RING_SIZE), TRACE_RING_SIZE);
    assert_int_equal(ev[TRACE_RING_SIZE - 1].arg, TRACE_RING_SIZE - 1);
    trace_emit(lane, TRACE_DONE, 7);
    assert_int_equal(trace_drain(lane, ev, 4), 1);
    assert_int_equal(ev[0].arg, 7);
}

#define PER_THREAD 200000

static void *emitter(void *p)
{
    int lane = (int)(intptr_t)p;
    for (unsigned i = 0; i < PER_THREAD; i++)
        trace_emit(lane, TRACE_RUN + (i & 1), i);
    return NULL;
}

/* Two writers and one concurrent drainer: nothing reordered, every loss counted. */
static void test_trace_concurrent_writers(void **state)
{
    (void)state;
    for (int round = 0; round < 5; round++) {
        trace_reset();
        int lanes[2] = {trace_lane_add("a", TRACE_LANE_STATE, 0),
                        trace_lane_add("b", TRACE_LANE_STATE, 0)};
        pthread_t t[2];
        for (int i = 0; i < 2; i++)
            pthread_create(&t[i], NULL, emitter, (void *)(intptr_t)lanes[i]);
        static struct trace_event ev[1024];
        uint64_t next[2] = {0, 0}, received = 0;
        int joined[2] = {0, 0};
        for (int last = 0; !last;) {
            last = joined[0] && joined[1];
            for (int l = 0; l < 2; l++) {
                size_t n;
                while ((n = trace_drain(lanes[l], ev, 1024)) > 0) {
                    for (size_t k = 0; k < n; k++) {
                        assert_true(ev[k].arg >= next[l]);
                        next[l] = ev[k].arg + 1;
                    }
                    received += n;
                }
                if (!joined[l] && pthread_tryjoin_np(t[l], NULL) == 0)
                    joined[l] = 1;
            }
        }
        assert_int_equal(received + trace_dropped(), 2 * PER_THREAD);
        assert_true(next[0] <= PER_THREAD && next[1] <= PER_THREAD);
    }
}

static void *parked_worker(void *p)
{
    int lane = (int)(intptr_t)p;
    for (unsigned i = 0; i < 5; i++)
        trace_emit(lane, TRACE_RUN, i);
    return NULL;
}

/* While frozen, each step lets exactly one transition through. */
static void test_trace_step_gate(void **state)
{
    (void)state;
    int lane = trace_lane_add("gated", TRACE_LANE_STATE, 0);
    trace_freeze(true);
    pthread_t t;
    pthread_create(&t, NULL, parked_worker, (void *)(intptr_t)lane);
    while (trace_parked() == 0)
        sched_yield();
    struct trace_event ev[8];
    assert_int_equal(trace_drain(lane, ev, 8), 0);
    for (unsigned step = 1; step <= 3; step++) {
        trace_step();
        size_t got = 0;
        while (got == 0)
            got = trace_drain(lane, ev, 8);
        assert_int_equal(got, 1);
        assert_int_equal(ev[0].arg, step - 1);
        while (trace_parked() == 0)
            sched_yield();
        assert_int_equal(trace_drain(lane, ev, 8), 0);
    }
    trace_freeze(false);
    pthread_join(t, NULL);
    assert_int_equal(trace_drain(lane, ev, 8), 2);
}

/* A forked child emits into the same rings with the same call. */
static void test_trace_child_process_emits(void **state)
{
    (void)state;
    int lane = trace_lane_add("child", TRACE_LANE_STATE, 0);
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        for (unsigned i = 0; i < 1000; i++)
            trace_emit(lane, TRACE_IO, i);
        _exit(0);
    }
    int status;
    assert_int_equal(waitpid(pid, &status, 0), pid);
    static struct trace_event ev[2000];
    assert_int_equal(trace_drain(lane, ev, 2000), 1000);
    assert_int_equal(ev[999].arg, 999);
    assert_int_equal(TRACE_STATE_OF(ev[0].state), TRACE_IO);
}

/* Work timed elsewhere keeps its own timestamps, mixed with live events. */
static void test_trace_emit_at_keeps_time(void **state)
{
    (void)state;
    int lane = trace_lane_add("gpu", TRACE_LANE_STATE, 0);
    uint64_t now = trace_now_ns();
    trace_emit_at(lane, TRACE_KERNEL, 7, now - 5000000);
    trace_emit_at(lane, TRACE_IDLE, 8, now - 1000000);
    trace_emit(lane, TRACE_RUN, 9);
    struct trace_event ev[4];
    assert_int_equal(trace_drain(lane, ev, 4), 3);
    assert_int_equal(ev[0].t, now - 5000000);
    assert_int_equal(ev[0].lane, lane);
    assert_int_equal(ev[1].t, now - 1000000);
    assert_int_equal(TRACE_STATE_OF(ev[0].state), TRACE_KERNEL);
    assert_true(ev[2].t + 200000 >= now);
}

static void test_trace_lane_table_full(void **state)
{
    (void)state;
    for (int i = 0; i < TRACE_MAX_LANES; i++)
        assert_int_equal(trace_lane_add("x", TRACE_LANE_STATE, 0), i);
    assert_int_equal(trace_lane_add("one too many", TRACE_LANE_STATE, 0), -1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_trace_emit_and_drain_in_order, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_timestamps_are_monotonic_ns, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_overflow_is_counted_not_blocking, setup,
                                        teardown),
        cmocka_unit_test_setup_teardown(test_trace_concurrent_writers, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_step_gate, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_child_process_emits, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_emit_at_keeps_time, setup, teardown),
        cmocka_unit_test_setup_teardown(test_trace_lane_table_full, setup, teardown),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
