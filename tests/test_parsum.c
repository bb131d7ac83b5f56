/*
 * Property tests of the parallel-sum scene through the app API: real
 * workers sum, then the scene's own figures and the recorded lanes are
 * inspected. Timings are never asserted, only exactness and who ran when.
 *
 * Timestamps on different lanes can disagree by tens of microseconds (see
 * test_gil.c), so "ran at the same time" means RUN spans on two lanes that
 * overlap by more than OVERLAP_TOL_NS, and "never at the same time" means
 * no overlap longer than that. Workers run for milliseconds per round, far
 * beyond the tolerance, in the modes checked here.
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
#include "scene.h"
#include "trace.h"

#define OVERLAP_TOL_NS 200000
#define MAX_SPANS 20000
#define ROUND_TIMEOUT_NS 60000000000ull

enum { M_SERIAL, M_THREADS, M_LOCKED, M_FALSE, M_GIL, M_PROCS, M_OMP, M_SIMD, M_CUDA, M_COUNT };

static struct app a;

#define count_dir scenetest_count_dir
#define stat_of(name) scenetest_stat(&a, name)

struct span {
    uint64_t a, b;
};

static struct span spans_x[MAX_SPANS], spans_y[MAX_SPANS];

static int setup(void **state)
{
    (void)state;
    test_watchdog(240);
    return app_init(&a);
}

static int teardown(void **state)
{
    (void)state;
    app_shutdown(&a);
    return 0;
}

/* A figure from the last stats, or -1 when the scene has none by that name. */
static double stat_or(const char *name)
{
    for (int i = 0; i < a.stats.n; i++)
        if (strcmp(a.stats.s[i].name, name) == 0)
            return a.stats.s[i].value;
    return -1;
}

/* Whether the history has a lane called name. */
static bool has_lane(const char *name)
{
    for (int i = 0; i < a.hist.nlanes; i++)
        if (strcmp(a.hist.lane[i].name, name) == 0)
            return true;
    return false;
}

/* N(N+1)/2. */
static uint64_t closed_form(uint64_t n)
{
    return n % 2 == 0 ? n / 2 * (n + 1) : (n + 1) / 2 * n;
}

/* Run parsum in `mode` with "key=value" settings until figure `until` reaches `want`. */
static void run_until(int mode, const char *const *sets, const char *until, double want)
{
    const struct scene_entry *e = scene_find("parsum");
    assert_non_null(e);
    int64_t p[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        p[i] = e->params[i].def;
    for (int i = 0; sets && sets[i]; i++) {
        int idx;
        int64_t v;
        char err[128];
        if (scene_param_parse(e, sets[i], &idx, &v, err, sizeof err) != 0)
            fail_msg("%s: %s", sets[i], err);
        p[idx] = v;
    }
    assert_int_equal(app_start(&a, e, mode, p), 0);
    uint64_t end = trace_now_ns() + ROUND_TIMEOUT_NS;
    for (;;) {
        struct timespec d = {0, 5000000};
        nanosleep(&d, NULL);
        uint64_t now = trace_now_ns();
        app_tick(&a, now);
        app_stats(&a, now);
        if (stat_of(until) >= want)
            break;
        if (now > end)
            fail_msg("mode %d: %s only %g in %llu s", mode, until, stat_of(until),
                     (unsigned long long)(ROUND_TIMEOUT_NS / 1000000000u));
    }
    app_stop(&a);
}

/* Run parsum until `rounds` rounds are done; then stop. */
static void run_rounds(int mode, const char *const *sets, int rounds)
{
    run_until(mode, sets, "rounds", rounds);
}

/* The last round's sum is N(N+1)/2 and no round so far was wrong. */
static void expect_exact(uint64_t n)
{
    if (stat_of("wrong_results") != 0)
        fail_msg("%g wrong results", stat_of("wrong_results"));
    assert_true(stat_of("exact") == 1);
    assert_true(stat_of("n") == (double)n);
    assert_true(stat_of("result") == (double)closed_form(n));
    assert_true(stat_of("expected") == (double)closed_form(n));
}

/* Lane walks need every event: skipped when a ring overflowed on a loaded machine. */
static bool history_complete(void)
{
    return stat_of("trace_dropped") == 0;
}

static const struct history_lane *lane_named(const char *name)
{
    for (int i = 0; i < a.hist.nlanes; i++)
        if (strcmp(a.hist.lane[i].name, name) == 0)
            return &a.hist.lane[i];
    return NULL;
}

/* RUN spans of a lane, in time order. */
static size_t run_spans(const struct history_lane *l, struct span *out)
{
    size_t n = 0, kept = history_kept(l);
    for (size_t k = 0; k < kept && n < MAX_SPANS; k++) {
        const struct trace_event *e = history_at(l, k);
        if (TRACE_STATE_OF(e->state) != TRACE_RUN)
            continue;
        uint64_t s = e->t, f = k + 1 < kept ? history_at(l, k + 1)->t : a.hist.t_end;
        if (f > s)
            out[n++] = (struct span){s, f};
    }
    return n;
}

/* Worst single overlap of two sorted span lists. */
static uint64_t worst_overlap(const struct span *x, size_t nx, const struct span *y, size_t ny)
{
    uint64_t worst = 0;
    for (size_t i = 0, j = 0; i < nx && j < ny;) {
        uint64_t s = x[i].a > y[j].a ? x[i].a : y[j].a, f = x[i].b < y[j].b ? x[i].b : y[j].b;
        if (f > s && f - s > worst)
            worst = f - s;
        if (x[i].b < y[j].b)
            i++;
        else
            j++;
    }
    return worst;
}

/* Whether a lane was ever in state st. */
static bool lane_was(const struct history_lane *l, unsigned st)
{
    for (size_t k = 0; k < history_kept(l); k++)
        if (TRACE_STATE_OF(history_at(l, k)->state) == st)
            return true;
    return false;
}

/* The longest time workers 0 and 1 were both running (both lanes must exist and run). */
static uint64_t workers_overlap(void)
{
    const struct history_lane *x = lane_named("worker 0"), *y = lane_named("worker 1");
    assert_non_null(x);
    assert_non_null(y);
    size_t nx = run_spans(x, spans_x), ny = run_spans(y, spans_y);
    assert_true(nx > 0);
    assert_true(ny > 0);
    return worst_overlap(spans_x, nx, spans_y, ny);
}

/* The default problem: 1 + ... + 100,000,000, exact, shown exactly in the note. */
static void test_parsum_default_exact(void **state)
{
    (void)state;
    static const char *const sets[] = {"threads=2", "pause_ms=0", NULL};
    run_rounds(M_THREADS, sets, 1);
    expect_exact(100000000);
    assert_true(stat_of("result") == 5000000050000000.0);
    char note[SCENE_NOTE_MAX];
    scene_note_get(&a.ctx, note, sizeof note);
    assert_non_null(strstr(note, "= 5000000050000000 exact"));
}

/* Every mode, from registers and from the array, gives N(N+1)/2 exactly. */
static void test_parsum_every_mode_exact(void **state)
{
    (void)state;
    for (int mode = 0; mode < M_COUNT; mode++)
        for (int arr = 0; arr < 2; arr++)
            for (int pad = 0; pad < (mode == M_FALSE ? 2 : 1); pad++) {
                const char *sets[] = {"n=3000001",
                                      "size_mib=8",
                                      "threads=3",
                                      "pause_ms=0",
                                      "lock_block=4096",
                                      arr ? "array=on" : "array=off",
                                      pad ? "padded=on" : "padded=off",
                                      NULL};
                run_rounds(mode, sets, 2);
                expect_exact(arr ? 8u << 17 : 3000001);
            }
}

/* Workers 0 and 1 run at the same time where the mode allows it. */
static void test_parsum_concurrent(void **state)
{
    (void)state;
    static const struct {
        int mode;
        const char *n;
    } cases[] = {
        {M_THREADS, "n=60000000"}, {M_FALSE, "n=20000000"}, {M_PROCS, "n=60000000"},
        {M_OMP, "n=60000000"},     {M_SIMD, "n=400000000"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        const char *sets[] = {cases[i].n, "threads=2", "padded=on", "pause_ms=0", NULL};
        run_rounds(cases[i].mode, sets, 2);
        expect_exact(strtoull(cases[i].n + 2, NULL, 10));
        if (cases[i].mode == M_OMP && !lane_named("worker 1"))
            continue; /* built without OpenMP: one thread, as the note says */
        if (!history_complete())
            continue;
        uint64_t both = workers_overlap();
        if (both <= OVERLAP_TOL_NS)
            fail_msg("mode %d: workers 0 and 1 overlapped only %llu ns", cases[i].mode,
                     (unsigned long long)both);
        /*
         * A worker done with its part waits for the next round (OpenMP: at
         * the region's barrier first); nobody here waits on a lock, and main
         * waits for the workers rather than for a lock.
         */
        for (int w = 0; w < 2; w++) {
            const struct history_lane *l = lane_named(w ? "worker 1" : "worker 0");
            assert_true(lane_was(l, TRACE_WAIT));
            assert_false(lane_was(l, TRACE_LOCK));
            assert_int_equal(lane_was(l, TRACE_BARRIER), cases[i].mode == M_OMP);
        }
        assert_false(lane_was(lane_named("main"), TRACE_LOCK));
    }
}

/* Under the GIL the workers take turns: never two running at once. */
static void test_parsum_gil_one_runner(void **state)
{
    (void)state;
    static const char *const sets[] = {"n=60000000", "threads=2", "pause_ms=0", NULL};
    run_rounds(M_GIL, sets, 2);
    expect_exact(60000000);
    assert_true(stat_of("gil_max_holders") == 1);
    assert_true(stat_of("gil_switches") > 0);
    if (!history_complete())
        skip();
    uint64_t worst = workers_overlap();
    if (worst > OVERLAP_TOL_NS)
        fail_msg("workers 0 and 1 both held the GIL for %llu ns", (unsigned long long)worst);
}

/* The locked accumulator has one holder at a time and still sums exactly. */
static void test_parsum_locked(void **state)
{
    (void)state;
    static const char *const sets[] = {"n=20000000", "threads=4", "lock_block=4096", "pause_ms=0",
                                       NULL};
    run_rounds(M_LOCKED, sets, 2);
    expect_exact(20000000);
    assert_true(stat_of("max_holders") == 1);
}

/* The sweep measures T = 1 .. 2 x cores and leaves a chart and a serial fraction. */
static void test_parsum_sweep(void **state)
{
    (void)state;
    static const char *const sets[] = {"n=4000000", "sweep=on", "pause_ms=0", NULL};
    run_until(M_THREADS, sets, "sweeps", 1);
    expect_exact(4000000);
    assert_true(stat_of("sweeps") >= 1);
    /* Every point is a median of several baseline/parallel pairs, with its range. */
    for (int t = 1; t <= 2; t++) {
        char name[32];
        snprintf(name, sizeof name, "speedup_T%d", t);
        const struct scene_stat *s = scenetest_figure(&a, name);
        assert_true(s->rounds >= 3);
        assert_true(s->lo <= s->value && s->value <= s->hi && s->value > 0);
    }
    double f = stat_of("serial_fraction");
    assert_true(f >= 0 && f <= 1);
    /* The chart draws, with its axis titles and legend under it when there is room. */
    static uint8_t rgb[60 * 40 * 3];
    struct scene_canvas c = {.w = 60, .h = 40, .rgb = rgb};
    assert_int_equal(a.scene->canvas(&a.ctx, &c), 0);
    assert_int_equal(c.ncaption, SCENE_CAPTION_MAX);
    for (int i = 0; i < c.ncaption; i++)
        assert_true(c.caption[i].text[0] != 0);
    /* The ideal line, Amdahl's curve and the measured points each have a swatch. */
    int swatches = 0;
    for (int i = 0; i < c.ncaption; i++)
        swatches += c.caption[i].rgb != 0;
    assert_int_equal(swatches, 3);
    /* A small chart keeps its picture and drops words. */
    struct scene_canvas small = {.w = 60, .h = 22, .rgb = rgb};
    assert_int_equal(a.scene->canvas(&a.ctx, &small), 0);
    assert_true(small.ncaption <= 1);
}

/*
 * One worker against the one-thread baseline: the same loop on another
 * thread, measured side by side, reads 1.0 within its spread (or close).
 */
static void test_parsum_serial_reads_one(void **state)
{
    (void)state;
    /* Long enough rounds that handing the work to a pool thread (a wake-up, a few
     * ms on a loaded machine) is small beside the sum itself. */
    static const char *const sets[] = {"n=100000000", "pause_ms=0", NULL};
    run_rounds(M_SERIAL, sets, 6);
    expect_exact(100000000);
    scenetest_reads_one(&a, "speedup", "one worker");
}

/* The GPU mode sums exactly on a GPU, or on CPU threads with a note without one. */
static void test_parsum_cuda_or_fallback(void **state)
{
    (void)state;
    static const char *const sets[] = {"n=5000000", "pause_ms=0", NULL};
    run_rounds(M_CUDA, sets, 2);
    expect_exact(5000000);
    char note[SCENE_NOTE_MAX];
    scene_note_get(&a.ctx, note, sizeof note);
    assert_true(note[0] != 0);
    if (stat_or("gpu_kernel") < 0) {
        /* No GPU: said so, what runs instead, and no empty gpu lane. */
        assert_non_null(strstr(note, "no GPU"));
        assert_non_null(strstr(note, "CPU threads"));
        assert_false(has_lane("gpu"));
        assert_true(stat_of("on_gpu") == 0);
        assert_true(stat_or("serial_fraction") < 0);
    }
}

/* Stopping mid-round leaves no thread (OpenMP's pool aside), child or descriptor behind. */
static void test_parsum_cleanup(void **state)
{
    (void)state;
    int threads = count_dir("/proc/self/task"), fds = count_dir("/proc/self/fd");
    for (int mode = 0; mode < M_COUNT; mode++) {
        if (mode == M_OMP)
            continue;
        const struct scene_entry *e = scene_find("parsum");
        int64_t p[SCENE_MAX_PARAMS];
        for (int i = 0; i < e->nparams; i++)
            p[i] = e->params[i].def;
        p[scene_param_find(e, "n")] = 3000000000ll; /* seconds of work: stopped midway */
        p[scene_param_find(e, "threads")] = 3;
        assert_int_equal(app_start(&a, e, mode, p), 0);
        struct timespec d = {0, 50000000};
        nanosleep(&d, NULL);
        app_tick(&a, trace_now_ns());
        app_stop(&a);
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
        T(test_parsum_default_exact),    T(test_parsum_every_mode_exact),
        T(test_parsum_concurrent),       T(test_parsum_gil_one_runner),
        T(test_parsum_locked),           T(test_parsum_sweep),
        T(test_parsum_cuda_or_fallback), T(test_parsum_cleanup),
        T(test_parsum_serial_reads_one),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
