/* history and timeline: bounded memory, lookups, and the pure layout. */
#include "config.h"

#include "testutil.h"

#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "timeline.h"

static struct history h;

static void ev(int lane, uint64_t t, unsigned st, uint32_t arg)
{
    struct trace_event e = {t, arg, (uint16_t)st, (uint16_t)lane};
    history_append(&h, lane, &e);
}

static int setup(void **state)
{
    (void)state;
    history_init(&h, 1000);
    assert_int_equal(history_lane_add(&h, "w", TRACE_LANE_STATE, 0, 0, 0), 0);
    assert_int_equal(history_lane_add(&h, "g", TRACE_LANE_GAUGE, 0, 10, 0), 1);
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    history_free(&h);
    return 0;
}

static void test_history_totals_and_find(void **state)
{
    (void)state;
    ev(0, 1000, TRACE_RUN, 0);
    ev(0, 1500, TRACE_LOCK, 0);
    ev(0, 1700, TRACE_RUN, 0);
    ev(0, 1600, TRACE_IO, 0); /* out of order: clamped to 1700 */
    const struct history_lane *l = &h.lane[0];
    uint64_t tot[TRACE_NSTATES];
    history_totals(l, 2000, tot);
    assert_int_equal(tot[TRACE_RUN], 500);
    assert_int_equal(tot[TRACE_LOCK], 200);
    assert_int_equal(tot[TRACE_IO], 300);
    assert_int_equal(history_find(l, 999), -1);
    assert_int_equal(history_find(l, 1000), 0);
    assert_int_equal(history_find(l, 1699), 1);
    assert_int_equal(history_find(l, 5000), 3);
    assert_int_equal(l->transitions, 4);
}

static void test_history_memory_is_bounded(void **state)
{
    (void)state;
    for (uint64_t i = 0; i < 3 * HISTORY_LANE_CAP; i++)
        ev(0, 1000 + i * 10, i & 1 ? TRACE_RUN : TRACE_SLEEP, (uint32_t)i);
    const struct history_lane *l = &h.lane[0];
    assert_int_equal(history_kept(l), HISTORY_LANE_CAP);
    assert_int_equal(history_at(l, 0)->arg, 2 * HISTORY_LANE_CAP);
    assert_int_equal(history_at(l, HISTORY_LANE_CAP - 1)->arg, 3 * HISTORY_LANE_CAP - 1);
    /* Totals still cover the whole run, not just what is kept. */
    uint64_t tot[TRACE_NSTATES];
    history_totals(l, 1000 + 3 * HISTORY_LANE_CAP * 10, tot);
    assert_int_equal(tot[TRACE_RUN] + tot[TRACE_SLEEP], 3 * HISTORY_LANE_CAP * 10);
}

/* A lane that emits far more than is kept still shows its whole run, gauges too. */
static void test_history_summary_no_blank(void **state)
{
    (void)state;
    const uint64_t us = 1000, n = 3 * HISTORY_LANE_CAP;
    for (uint64_t i = 0; i < n; i++) {
        ev(0, 1000 + i * 5 * us, i & 1 ? TRACE_SLEEP : TRACE_RUN, 0);
        ev(1, 1000 + i * 5 * us, TRACE_GAUGE, (uint32_t)(i % 10));
    }
    uint64_t end = 1000 + n * 5 * us;
    assert_int_equal(history_kept(&h.lane[0]), HISTORY_LANE_CAP);
    assert_true(history_at(&h.lane[0], 0)->t > 1000 + end / 2);
    struct tl_view v = {
        .t_start = 1000, .ns_per_col = (end - 1000) / 200 + 1, .width = 200, .now = end};
    struct tl_cell c[200];
    timeline_layout(&h.lane[0], &v, c);
    for (int i = 0; i < 200; i++) {
        assert_false(c[i].flags & TL_EMPTY);
        assert_int_equal(c[i].state, TRACE_RUN); /* half of every column ran */
    }
    timeline_layout(&h.lane[1], &v, c);
    for (int i = 0; i < 200; i++) {
        assert_false(c[i].flags & TL_EMPTY);
        assert_int_equal(c[i].value, 9);
    }
    /* Before the lane's first event there is still nothing. */
    v.t_start = 0;
    v.ns_per_col = 500;
    v.width = 4;
    timeline_layout(&h.lane[0], &v, c);
    assert_true(c[0].flags & TL_EMPTY);
    assert_false(c[3].flags & TL_EMPTY);
}

/* The summary of the recent past is about as fine as a millisecond column. */
static void test_history_summary_resolution(void **state)
{
    (void)state;
    const uint64_t us = 1000, ms = 1000000;
    uint64_t t = 1000;
    for (; t < 1000 + 400 * ms; t += 5 * us) /* 0-400 ms: 5 us runs, 5 us sleeps */
        ev(0, t, (t / (5 * us)) & 1 ? TRACE_SLEEP : TRACE_RUN, 0);
    ev(0, t, TRACE_IDLE, 0); /* 400-500 ms: idle */
    for (t = 1000 + 500 * ms; t < 1000 + 900 * ms; t += 5 * us)
        ev(0, t, (t / (5 * us)) & 1 ? TRACE_SLEEP : TRACE_RUN, 0);
    const struct history_lane *l = &h.lane[0];
    assert_true(history_at(l, 0)->t > 1000 + 600 * ms); /* the idle stretch was forgotten */
    struct tl_view v = {.t_start = 1000, .ns_per_col = ms, .width = 900, .now = t};
    static struct tl_cell c[900];
    timeline_layout(l, &v, c);
    for (int i = 0; i < 900; i++) {
        assert_false(c[i].flags & TL_EMPTY);
        if (i < 395 || (i >= 505 && i < 895))
            assert_int_equal(c[i].state, TRACE_RUN);
        else if (i >= 405 && i < 495)
            assert_int_equal(c[i].state, TRACE_IDLE);
    }
}

static void test_timeline_layout_column_state(void **state)
{
    (void)state;
    ev(0, 1000, TRACE_RUN, 0);
    ev(0, 1030, TRACE_LOCK, 0); /* column 0: 30 run, 70 lock */
    ev(0, 1100, TRACE_IO, 0);   /* column 1: all io */
    ev(0, 1290, TRACE_DONE, 0); /* column 2: 90 io, 10 done */
    struct tl_view v = {.t_start = 1000, .ns_per_col = 100, .width = 5, .now = 1400};
    struct tl_cell c[5];
    timeline_layout(&h.lane[0], &v, c);
    assert_int_equal(c[0].state, TRACE_LOCK); /* 70 % waiting for the lock beats 30 % run */
    assert_true(c[0].flags & TL_MIXED);
    assert_int_equal(c[1].state, TRACE_IO);
    assert_false(c[1].flags & (TL_MIXED | TL_PART));
    assert_int_equal(c[2].state, TRACE_IO);
    assert_false(c[2].flags & TL_PART);
    assert_int_equal(c[3].state, TRACE_DONE);
    assert_true(c[4].flags & TL_EMPTY); /* beyond now */
    /* Pure: the same input gives the same cells. */
    struct tl_cell again[5];
    timeline_layout(&h.lane[0], &v, again);
    assert_memory_equal(c, again, sizeof c);
}

/* A 1 ms frame inside a 33 ms column of idling: the column shows the run. */
static void test_timeline_brief_run_shows(void **state)
{
    (void)state;
    const uint64_t ms = 1000000;
    for (uint64_t k = 0; k < 4; k++) {
        ev(0, 1000 + k * 33 * ms, TRACE_RUN, 0);
        ev(0, 1000 + k * 33 * ms + ms, TRACE_IDLE, 0);
    }
    struct tl_view v = {.t_start = 1000, .ns_per_col = 33 * ms, .width = 4, .now = 1000 + 132 * ms};
    struct tl_cell c[4];
    timeline_layout(&h.lane[0], &v, c);
    for (int i = 0; i < 4; i++) {
        assert_int_equal(c[i].state, TRACE_RUN);
        assert_true(c[i].flags & TL_PART);
        assert_true(c[i].flags & TL_MIXED);
    }
    /* At 1 ms a column the frame fills its column and the idling is plain idle. */
    v.ns_per_col = ms;
    v.width = 4;
    timeline_layout(&h.lane[0], &v, c);
    assert_int_equal(c[0].state, TRACE_RUN);
    assert_false(c[0].flags & TL_PART);
    assert_int_equal(c[1].state, TRACE_IDLE);
}

/* A short wait for a lock or for I/O shows inside sleeping or idling, but not over running. */
static void test_timeline_waits_beat_idling(void **state)
{
    (void)state;
    ev(0, 1000, TRACE_SLEEP, 0);
    ev(0, 1050, TRACE_LOCK, 0); /* column 0: 50 sleep, 1 lock, 49 idle */
    ev(0, 1051, TRACE_IDLE, 0);
    ev(0, 1150, TRACE_IO, 0); /* column 1: 50 idle, 10 io, 40 run */
    ev(0, 1160, TRACE_RUN, 0);
    ev(0, 1200, TRACE_IDLE, 0);
    struct tl_view v = {.t_start = 1000, .ns_per_col = 100, .width = 3, .now = 1300};
    struct tl_cell c[3];
    timeline_layout(&h.lane[0], &v, c);
    assert_int_equal(c[0].state, TRACE_LOCK);
    assert_int_equal(c[1].state, TRACE_RUN);
    assert_true(c[1].flags & TL_PART);
    assert_int_equal(c[2].state, TRACE_IDLE);
}

/*
 * Property: wherever a random lane ran at all, its column reads running,
 * unless a lesson's wait (ready, lock, io, kernel) filled at least half of it
 * and the run less than half; then it reads that wait.
 */
static void test_timeline_never_idle_where_it_ran(void **state)
{
    (void)state;
    uint64_t seed = 0x9e3779b97f4a7c15ull, t = 1000;
    enum { N = 4000 };
    static uint64_t at[N];
    static unsigned st[N];
    for (int k = 0; k < N; k++) {
        seed = seed * 6364136223846793005ull + 1442695040888963407ull;
        at[k] = t;
        st[k] = (unsigned)(seed >> 33) % TRACE_DONE; /* any state but done */
        ev(0, t, st[k], 0);
        t += 1 + (seed >> 40) % 700; /* spans of 1 ns to 0.7 us */
    }
    for (uint64_t dt = 10; dt <= 10000; dt *= 10) {
        struct tl_view v = {.t_start = 1000, .ns_per_col = dt, .width = 300, .now = t};
        struct tl_cell c[300];
        timeline_layout(&h.lane[0], &v, c);
        for (int col = 0; col < 300; col++) {
            uint64_t a = 1000 + (uint64_t)col * dt, b = a + dt > t ? t : a + dt;
            int ran = 0;
            uint64_t dur[TRACE_NSTATES] = {0}, all = 0;
            for (int k = 0; k < N && a < b; k++) {
                uint64_t end = k + 1 < N ? at[k + 1] : t;
                if (at[k] < b && end > a) {
                    uint64_t s0 = at[k] > a ? at[k] : a, s1 = end < b ? end : b;
                    dur[st[k]] += s1 - s0;
                    all += s1 - s0;
                    if (st[k] == TRACE_RUN)
                        ran = 1;
                }
            }
            int wait = -1;
            for (unsigned s = 0; s < TRACE_NSTATES; s++)
                if ((s == TRACE_READY || s == TRACE_LOCK || s == TRACE_IO || s == TRACE_KERNEL) &&
                    dur[s] * 2 >= all && wait < 0)
                    wait = (int)s;
            if (a >= t)
                assert_true(c[col].flags & TL_EMPTY);
            else if (ran && (dur[TRACE_RUN] * 2 >= all || wait < 0))
                assert_int_equal(c[col].state, TRACE_RUN);
            else if (ran)
                assert_int_equal(c[col].state, wait);
            else
                assert_int_not_equal(c[col].state, TRACE_RUN);
        }
    }
}

/* A clerk blocked in write() between short bursts reads io, not "ran briefly". */
static void test_timeline_dominant_wait_beats_brief_run(void **state)
{
    (void)state;
    ev(0, 1000, TRACE_RUN, 0);
    ev(0, 1010, TRACE_IO, 0);
    ev(0, 1990, TRACE_RUN, 0);
    ev(0, 2000, TRACE_SLEEP, 0);
    ev(0, 2010, TRACE_RUN, 0);
    ev(0, 2020, TRACE_SLEEP, 0);
    struct tl_view v = {.t_start = 1000, .ns_per_col = 1000, .width = 2, .now = 3000};
    struct tl_cell c[2];
    timeline_layout(&h.lane[0], &v, c);
    assert_int_equal(c[0].state, TRACE_IO);  /* 98 % io, 2 % run */
    assert_int_equal(c[1].state, TRACE_RUN); /* 1 % run inside sleep: ran briefly */
    assert_true(c[1].flags & TL_PART);
}

static void test_timeline_before_first_event_is_empty(void **state)
{
    (void)state;
    ev(0, 1250, TRACE_RUN, 0);
    struct tl_view v = {.t_start = 1000, .ns_per_col = 100, .width = 4, .now = 1400};
    struct tl_cell c[4];
    timeline_layout(&h.lane[0], &v, c);
    assert_true(c[0].flags & TL_EMPTY);
    assert_false(c[2].flags & TL_EMPTY);
    assert_int_equal(c[2].state, TRACE_RUN);
    assert_int_equal(c[3].state, TRACE_RUN);
}

static void test_timeline_gauge_peak(void **state)
{
    (void)state;
    ev(1, 1000, TRACE_GAUGE, 2);
    ev(1, 1010, TRACE_GAUGE, 9);
    ev(1, 1020, TRACE_GAUGE, 3);
    struct tl_view v = {.t_start = 1000, .ns_per_col = 100, .width = 2, .now = 1200};
    struct tl_cell c[2];
    timeline_layout(&h.lane[1], &v, c);
    assert_int_equal(c[0].state, TRACE_GAUGE);
    assert_int_equal(c[0].value, 9);
    assert_int_equal(c[1].value, 3);
}

static void test_timeline_live_view_scrolls(void **state)
{
    (void)state;
    /* Shorter than the window: it starts at t0 and grows to the right. */
    assert_int_equal(timeline_live_start(1000, 1450, 100, 10), 1000);
    /* Longer: now is in the last column, and columns sit on whole multiples from t0. */
    assert_int_equal(timeline_live_start(1000, 2250, 100, 10), 1300);
    assert_int_equal(timeline_live_start(1000, 2299, 100, 10), 1300);
    assert_int_equal(timeline_live_start(1000, 2300, 100, 10), 1400);
    ev(0, 1000, TRACE_RUN, 0);
    ev(0, 1500, TRACE_SLEEP, 0);
    struct tl_view v = {.t_start = 1300, .ns_per_col = 100, .width = 10, .now = 2250};
    struct tl_cell c[10];
    timeline_layout(&h.lane[0], &v, c);
    assert_int_equal(c[0].state, TRACE_RUN);   /* 1300..1400 */
    assert_int_equal(c[2].state, TRACE_SLEEP); /* 1500..1600 */
    assert_false(c[9].flags & TL_EMPTY);       /* 2200..2300 holds now */
    /* One column later every cell moves one to the left. */
    struct tl_cell d[10];
    v.t_start += 100;
    v.now += 100;
    timeline_layout(&h.lane[0], &v, d);
    assert_memory_equal(&c[1], &d[0], 8 * sizeof c[0]);
}

/* Parse a label back to ns ("12.345s", "812.5ms", "40us"). */
static uint64_t label_ns(const char *s)
{
    char *end;
    double x = strtod(s, &end);
    double u = !strcmp(end, "s") ? 1e9 : !strcmp(end, "ms") ? 1e6 : !strcmp(end, "us") ? 1e3 : -1;
    assert_true(u > 0);
    return (uint64_t)(x * u + 0.5);
}

/* Axis labels increase strictly, never repeat, sit where their time is and fit between each other.
 */
static void test_timeline_axis_labels(void **state)
{
    (void)state;
    const uint64_t t0 = 5000;
    for (uint64_t dt = 1000; dt <= 10000000000ull; dt = timeline_zoom_step(dt, 1)) {
        for (uint64_t at = 0; at <= 700000000000ull; at = at * 7 + 123456789) {
            struct tl_view v = {.ns_per_col = dt, .width = 181};
            v.t_start = timeline_live_start(t0, t0 + at, dt, v.width);
            struct tl_label lab[64];
            int n = timeline_axis(&v, t0, lab, 64);
            assert_true(n >= 2);
            for (int i = 0; i < n; i++) {
                uint64_t t = label_ns(lab[i].text);
                uint64_t col_t = v.t_start - t0 + (uint64_t)lab[i].col * dt;
                assert_int_equal(t, col_t); /* the label names its column's start */
                if (i > 0) {
                    assert_true(t > label_ns(lab[i - 1].text));
                    assert_string_not_equal(lab[i].text, lab[i - 1].text);
                    assert_true(lab[i].col - lab[i - 1].col >= (int)strlen(lab[i - 1].text) + 2);
                }
            }
            if (at == 0)
                at = 1;
        }
        if (dt == 10000000000ull)
            break;
    }
    char buf[TL_LABEL_MAX];
    timeline_axis_text(buf, sizeof buf, 12340000000ull, 10000000ull);
    assert_string_equal(buf, "12.34s");
    timeline_axis_text(buf, sizeof buf, 12500000000ull, 500000000ull);
    assert_string_equal(buf, "12.5s");
    timeline_axis_text(buf, sizeof buf, 12000000000ull, 2000000000ull);
    assert_string_equal(buf, "12s");
    timeline_axis_text(buf, sizeof buf, 812500000ull, 500000ull);
    assert_string_equal(buf, "812.5ms");
    timeline_axis_text(buf, sizeof buf, 40000ull, 20000ull);
    assert_string_equal(buf, "0.04ms");
}

static void test_timeline_zoom_ladder(void **state)
{
    (void)state;
    assert_int_equal(timeline_zoom_step(1000000, 1), 2000000);
    assert_int_equal(timeline_zoom_step(2000000, 1), 5000000);
    assert_int_equal(timeline_zoom_step(5000000, -1), 2000000);
    assert_int_equal(timeline_zoom_step(3000000, 0), 2000000);
    assert_int_equal(timeline_zoom_step(1000, -1), 1000);
    assert_int_equal(timeline_zoom_step(10000000000ull, 1), 10000000000ull);
    char buf[16];
    timeline_fmt_ns(buf, sizeof buf, 1500000000ull);
    assert_string_equal(buf, "1.5s");
    timeline_fmt_ns(buf, sizeof buf, 250000000ull);
    assert_string_equal(buf, "250ms");
    timeline_fmt_ns(buf, sizeof buf, 0);
    assert_string_equal(buf, "0s");
}

/* A group's row: a run in any lane shows, else a wait, else the rest; empty cells give way. */
static void test_timeline_merge(void **state)
{
    (void)state;
    static const struct tl_cell lane1[5] = {
        {.state = TRACE_LOCK, .value = 1},
        {.state = TRACE_SLEEP, .value = 1},
        {.flags = TL_EMPTY},
        {.state = TRACE_RUN, .flags = TL_PART, .value = 2},
        {.state = TRACE_IO},
    };
    struct tl_cell a[5];
    memcpy(a, lane1, sizeof a);
    const struct tl_cell b[5] = {
        {.state = TRACE_RUN, .value = 1},
        {.state = TRACE_READY},
        {.state = TRACE_IO, .value = 3},
        {.state = TRACE_RUN},
        {.flags = TL_EMPTY},
    };
    timeline_merge(a, b, 5);
    assert_int_equal(a[0].state, TRACE_RUN); /* one thread ran: the process ran */
    assert_true(a[0].flags & TL_MIXED);
    assert_int_equal(a[0].value, 2);           /* the transitions of both */
    assert_int_equal(a[1].state, TRACE_READY); /* a wait beats sleeping */
    assert_int_equal(a[2].state, TRACE_IO);    /* an empty cell gives way */
    assert_false(a[2].flags & TL_EMPTY);
    assert_int_equal(a[3].state, TRACE_RUN); /* a whole run beats a part of one */
    assert_false(a[3].flags & TL_PART);
    assert_int_equal(a[4].state, TRACE_IO); /* nothing to merge */
    assert_false(a[4].flags & TL_MIXED);
    /* Merging is the same whichever lane comes first. */
    struct tl_cell c[5];
    memcpy(c, b, sizeof c);
    timeline_merge(c, lane1, 5);
    for (int i = 0; i < 5; i++)
        assert_int_equal(c[i].state, a[i].state);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_history_totals_and_find),
        T(test_history_memory_is_bounded),
        T(test_history_summary_no_blank),
        T(test_history_summary_resolution),
        T(test_timeline_layout_column_state),
        T(test_timeline_brief_run_shows),
        T(test_timeline_waits_beat_idling),
        T(test_timeline_never_idle_where_it_ran),
        T(test_timeline_dominant_wait_beats_brief_run),
        T(test_timeline_before_first_event_is_empty),
        T(test_timeline_gauge_peak),
        T(test_timeline_live_view_scrolls),
        T(test_timeline_axis_labels),
        T(test_timeline_zoom_ladder),
        T(test_timeline_merge),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
