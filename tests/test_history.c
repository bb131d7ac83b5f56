/*
 * history under real fast scenes: lanes that emit far more than is kept
 * still show their whole run, at every zoom, with no blank column between a
 * lane's first drawn cell and now.
 */
#include "config.h"

#include "testutil.h"

#include <string.h>
#include <time.h>

#include "app.h"
#include "timeline.h"
#include "trace.h"

/* Each lane's first event, seen as the history appends it (whatever it forgets later). */
static uint64_t first_t[TRACE_MAX_LANES];

static void sink(void *arg, int lane, const struct trace_event *e)
{
    (void)arg;
    if (!first_t[lane])
        first_t[lane] = e->t;
}

/* Run a scene for secs with small per-lane histories, so that most of the run is summarised. */
static void run_small(struct app *a, const char *name, int mode, const char *const *sets,
                      double secs)
{
    const struct scene_entry *e = scene_find(name);
    assert_non_null(e);
    int64_t p[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        p[i] = e->params[i].def;
    for (; sets && *sets; sets++) {
        int idx;
        int64_t val;
        char err[200];
        assert_int_equal(scene_param_parse(e, *sets, &idx, &val, err, sizeof err), 0);
        p[idx] = val;
    }
    assert_int_equal(app_start(a, e, mode, p), 0);
    /* The lanes are declared by now: give each a history of 1024 events before the first drain. */
    for (int i = 0; i < trace_lane_count(); i++) {
        const struct trace_lane_info *li = trace_lane(i);
        assert_int_equal(
            history_lane_add(&a->hist, li->name, li->kind, li->group, li->gauge_max, 1024), i);
    }
    memset(first_t, 0, sizeof first_t);
    a->hist.sink = sink;
    uint64_t end = a->ctx.t_start + (uint64_t)(secs * 1e9);
    while (trace_now_ns() < end) {
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
        app_tick(a, trace_now_ns());
    }
    app_stop(a);
}

/* Every lane over the last `width` columns at zoom dt: drawn from its first event to now. */
static void check_no_gaps(const struct app *a, uint64_t dt, int width)
{
    static struct tl_cell c[1024];
    uint64_t span = dt * (uint64_t)width, t1 = a->hist.t_end;
    struct tl_view v = {.t_start = t1 > a->hist.t0 + span ? t1 - span : a->hist.t0,
                        .ns_per_col = dt,
                        .width = width,
                        .now = t1};
    for (int i = 0; i < a->hist.nlanes; i++) {
        const struct history_lane *l = &a->hist.lane[i];
        timeline_layout(l, &v, c);
        if (!first_t[i])
            continue;
        int first = first_t[i] <= v.t_start ? 0 : (int)((first_t[i] - v.t_start) / dt);
        for (int x = first; x < width && v.t_start + (uint64_t)x * dt < t1; x++)
            if (c[x].flags & TL_EMPTY)
                fail_msg("%s: blank column %d of %d at %llu ns/col (its first event in column %d)",
                         l->name, x, width, (unsigned long long)dt, first);
    }
}

static int forgotten(const struct app *a)
{
    int n = 0;
    for (int i = 0; i < a->hist.nlanes; i++)
        n += a->hist.lane[i].first > 0;
    return n;
}

static void check_scene(const char *name, int mode, const char *const *sets)
{
    struct app a;
    assert_int_equal(app_init(&a), 0);
    run_small(&a, name, mode, sets, 3.0);
    assert_true(forgotten(&a) > 0); /* the summary is what is under test */
    uint64_t whole = (a.hist.t_end - a.hist.t0) / 100 + 1;
    check_no_gaps(&a, whole, 100);
    for (uint64_t dt = 100000; dt <= 100000000; dt *= 10)
        check_no_gaps(&a, dt, 180);
    app_shutdown(&a);
}

static void test_history_reactor_flat_out(void **state)
{
    (void)state;
    static const char *const sets[] = {"think_us=0", "conns=32", NULL};
    check_scene("reactor", 0, sets);
}

static void test_history_gil_fast_switching(void **state)
{
    (void)state;
    static const char *const sets[] = {"switch_us=100", NULL};
    check_scene("gil", 1, sets);
}

int main(void)
{
    test_watchdog(120);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_history_reactor_flat_out),
        cmocka_unit_test(test_history_gil_fast_switching),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
