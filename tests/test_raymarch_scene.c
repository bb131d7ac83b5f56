/*
 * The ray-marching scene through headless runs: frames and figures on every
 * CPU backend, the canvas, the OpenMP lanes, the GPU fallback, raw-volume
 * errors, the snapshot key and a clean stop. Timings are never asserted.
 */
#include "config.h"

#include "testutil.h"

#include "scenetest.h"

#include <dirent.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "app.h"
#include "cli.h"
#include "headless.h"
#include "render.h"
#include "scene.h"
#include "trace.h"

static struct app a;

#define count_dir scenetest_count_dir
#define stat_of(name) scenetest_stat(&a, name)

static int setup(void **state)
{
    (void)state;
    test_watchdog(60);
    return app_init(&a);
}

static int teardown(void **state)
{
    (void)state;
    app_shutdown(&a);
    return 0;
}

/* The index of the scene note whose words contain `words`. */
static unsigned note_id(const char *words)
{
    const struct scene_entry *e = a.scene;
    for (int i = 1; i < e->nnotes; i++)
        if (strstr(e->notes[i], words))
            return (unsigned)i;
    fail_msg("no note '%s'", words);
    return 0;
}

/* A lane of the last run by name, or NULL. */
static const struct history_lane *lane_named(const char *name)
{
    for (int i = 0; i < a.hist.nlanes; i++)
        if (strcmp(a.hist.lane[i].name, name) == 0)
            return &a.hist.lane[i];
    return NULL;
}

/*
 * Run the scene headless with "key=value" settings for at least `secs` and
 * until it has finished two frames and, when run_rounds is set, that many
 * speedup pairs (a loaded or sanitized build renders slowly; 60 s bounds a
 * hang); returns after stop.
 */
static int run_rounds;
static void run(double secs, const char *const *sets)
{
    char *argv[40] = {"conctui", "--headless", "--scene", "raymarch", "--duration", "1"};
    int argc = 6;
    for (int i = 0; sets && sets[i]; i++) {
        argv[argc++] = "--set";
        argv[argc++] = (char *)sets[i];
    }
    struct cli o;
    char err[256];
    assert_int_equal(cli_parse(argc, argv, &o, err, sizeof err), 0);
    assert_int_equal(cli_resolve(&o, err, sizeof err), 0);
    assert_int_equal(app_start_texts(&a, o.entry, o.mode_idx, o.params, o.texts), 0);
    uint64_t start = trace_now_ns(), min = (uint64_t)(secs * 1e9);
    for (;;) {
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
        uint64_t now = trace_now_ns();
        app_tick(&a, now);
        app_stats(&a, now);
        double frames = 0;
        int rounds = 0;
        for (int i = 0; i < a.stats.n; i++) {
            if (strcmp(a.stats.s[i].name, "frames") == 0)
                frames = a.stats.s[i].value;
            if (strcmp(a.stats.s[i].name, "speedup") == 0)
                rounds = a.stats.s[i].rounds;
        }
        if ((now - start >= min && frames >= 2 && rounds >= run_rounds) ||
            now - start > 60000000000ull)
            break;
    }
    app_stop(&a);
}

/* Start the scene with its defaults changed by name=value pairs, without a driver. */
static void start(const char *const *sets)
{
    const struct scene_entry *e = scene_find("raymarch");
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

/* Drain and refresh the figures until `frames` frames are out (3 s at most). */
static void wait_frames(double frames)
{
    for (int i = 0; i < 600; i++) {
        app_tick(&a, trace_now_ns());
        app_stats(&a, trace_now_ns());
        for (int k = 0; k < a.stats.n; k++)
            if (strcmp(a.stats.s[k].name, "frames") == 0 && a.stats.s[k].value >= frames)
                return;
        nanosleep(&(struct timespec){0, 5000000}, NULL);
    }
    fail_msg("fewer than %g frames in 3 s", frames);
}

/* The current note. */
static void note(char *buf, unsigned len)
{
    scene_note_get(&a.ctx, buf, len);
}

static void test_raymarch_serial_and_openmp_render(void **state)
{
    (void)state;
    static const char *const serial[] = {"backend=0", "width=48", "height=32", "reference=50",
                                         NULL};
    static const char *const omp[] = {"backend=1", "threads=2",    "width=48",
                                      "height=32", "reference=50", NULL};
    run_rounds = 5;
    run(1.0, serial);
    run_rounds = 0;
    assert_true(stat_of("frames") > 0);
    assert_true(stat_of("samples") > 0);
    assert_true(stat_of("samples_per_s") > 0);
    assert_int_equal((int)stat_of("backend"), RENDER_SERIAL);
    /* One thread against one thread, pair by pair: 1.0 within its spread (or close). */
    scenetest_reads_one(&a, "speedup", "one thread");
    app_release(&a);
    run(0.5, omp);
    assert_true(stat_of("frames") > 0);
    assert_true(stat_of("samples") > 0);
    assert_int_equal((int)stat_of("backend"), RENDER_OPENMP);
#ifdef HAVE_OPENMP
    assert_int_equal((int)stat_of("workers"), 2);
#else
    assert_int_equal((int)stat_of("workers"), 1); /* built without OpenMP: one thread */
#endif
    /* Speedup pairs: the same frame on one thread, then on the team. */
    assert_true(scenetest_figure(&a, "one_thread_ms")->rounds >= 1);
    assert_true(stat_of("one_thread_ms") > 0);
    assert_true(stat_of("backend_ms") > 0);
    assert_true(stat_of("speedup") > 0);
    app_release(&a);
}

/*
 * A still picture is not rendered again and again: with the frame-rate cap
 * at 30 and a speedup pair every 500 ms, two seconds of an unchanged view
 * give a handful of frames, not sixty.
 */
static void test_raymarch_still_picture_rests(void **state)
{
    (void)state;
    static const char *const sets[] = {"backend=1", "width=48", "height=32",
                                       "fps=30",    "turn=0",   NULL};
    run(2.0, sets);
    double frames = stat_of("frames");
    assert_true(frames >= 2);
    if (frames > 12)
        fail_msg("%g frames of an unchanged picture in 2 s", frames);
    app_release(&a);
}

/* The canvas hook gives a picture of exactly the size asked, and it is not black. */
static void test_raymarch_canvas(void **state)
{
    (void)state;
    static const char *const sets[] = {"width=40", "height=24", NULL};
    start(sets);
    wait_frames(1);
    enum { W = 30, H = 20 };
    static uint8_t rgb[W * H * 3 + 16];
    memset(rgb, 0, sizeof rgb);
    memset(rgb + W * H * 3, 0xa5, 16);
    struct scene_canvas c = {.w = W, .h = H, .rgb = rgb};
    assert_int_equal(a.scene->canvas(&a.ctx, &c), 0);
    long lit = 0;
    for (int i = 0; i < W * H * 3; i++)
        lit += rgb[i] > 16;
    assert_true(lit > W * H / 10);
    for (int i = 0; i < 16; i++)
        assert_int_equal(rgb[W * H * 3 + i], 0xa5);
    /* The render thread now renders at the canvas's shape, scaled up to enough work. */
    double before = stat_of("frames");
    wait_frames(before + 1);
    int w = (int)stat_of("width"), h = (int)stat_of("height");
    assert_true(w >= 160 && w % W == 0);
    assert_int_equal(h * W, w * H);
    app_release(&a);
}

/* Both OpenMP threads' lanes get tile spans, each tile index once per frame. */
static void test_raymarch_openmp_lanes(void **state)
{
#ifndef HAVE_OPENMP
    skip(); /* no OpenMP team to draw */
#endif
    (void)state;
    static const char *const sets[] = {"backend=1", "threads=2", "schedule=0", "tile=8",
                                       "width=64",  "height=32", NULL};
    run(0.4, sets);
    unsigned tile = note_id("rendering a tile"), barrier = note_id("barrier");
    const char *names[] = {"omp thread 0", "omp thread 1"};
    assert_null(lane_named("omp thread 2"));
    assert_non_null(lane_named("render loop"));
    for (int k = 0; k < 2; k++) {
        const struct history_lane *l = lane_named(names[k]);
        assert_non_null(l);
        size_t runs = 0, barriers = 0;
        uint64_t last = 0;
        for (size_t i = 0; i < history_kept(l); i++) {
            const struct trace_event *e = history_at(l, i);
            assert_true(e->t >= last);
            last = e->t;
            unsigned st = TRACE_STATE_OF(e->state), n = TRACE_NOTE_OF(e->state);
            if (st == TRACE_RUN && n == tile) {
                runs++;
                assert_true(e->arg < 8 * 4);
            }
            barriers += st == TRACE_BARRIER && n == barrier;
            /* A barrier is not a lock: nothing here waits on a lock. */
            assert_int_not_equal(st, TRACE_LOCK);
        }
        assert_true(runs > 0);
        assert_true(barriers > 0);
    }
    app_release(&a);
}

/* Asking for CUDA without a GPU says so and renders with OpenMP. */
static void test_raymarch_cuda_fallback(void **state)
{
    (void)state;
    static const char *const sets[] = {"backend=2", "width=48", "height=32", NULL};
    char why[160], buf[SCENE_NOTE_MAX];
    int gpu = render_cuda_available(why, sizeof why);
    run(0.3, sets);
    assert_true(stat_of("frames") > 0);
    note(buf, sizeof buf);
    if (gpu) {
        assert_int_equal((int)stat_of("backend"), RENDER_CUDA);
        assert_true(stat_of("kernel_ms") > 0);
    } else {
        assert_non_null(strstr(buf, "no GPU"));
        assert_non_null(strstr(buf, "OpenMP"));
        assert_int_equal((int)stat_of("backend"), RENDER_OPENMP);
    }
    app_release(&a);
}

/* --set volume=...: what the command line refuses, with the reason. */
static int resolve(const char *set, char *err, unsigned errlen)
{
    char *argv[] = {"conctui", "--scene", "raymarch", "--set", (char *)set};
    struct cli o;
    int rc = cli_parse(5, argv, &o, err, errlen);
    return rc ? rc : cli_resolve(&o, err, errlen);
}

/*
 * A raw volume: every bad --set volume=FILE,dims=..,type=.. is refused with
 * its reason; a good one loads; one that goes bad after the check, or
 * volume 3 without a file, is named in a note and the scene goes on.
 */
static void test_raymarch_raw_volume(void **state)
{
    (void)state;
    char path[64], set[160], err[300], buf[SCENE_NOTE_MAX];
    snprintf(path, sizeof path, "/tmp/conctui-test-%d.raw", (int)getpid());
    FILE *f = fopen(path, "wb");
    assert_non_null(f);
    for (int i = 0; i < 100; i++)
        fputc(i, f);
    fclose(f);
    static const struct {
        const char *rest, *words;
    } cases[] = {
        {",dims=8x8x8,type=u8", "too short: 100 bytes, expected 512"},
        {",dims=2x2x2,type=u8", "too long"},
        {",dims=8x8,type=u8", "want XxYxZ"},
        {",dims=0x8x8,type=u8", "0x8x8"},
        {",dims=4x5x5,type=u32", "unknown type 'u32'"},
        {",dims=4x5x5", "needs type="},
        {",type=u8", "needs dims="},
        {",dims=4x5x5,type=u8,endian=big", "unknown setting 'endian=big'"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        snprintf(set, sizeof set, "volume=%s%s", path, cases[i].rest);
        assert_int_equal(resolve(set, err, sizeof err), 2);
        if (!strstr(err, cases[i].words))
            fail_msg("'%s': error '%s' lacks '%s'", set, err, cases[i].words);
    }
    assert_int_equal(resolve("volume=/nonexistent.raw,dims=4x5x5,type=u8", err, sizeof err), 2);
    assert_non_null(strstr(err, "cannot open '/nonexistent.raw'"));
    assert_int_equal(resolve("volume=,dims=4x5x5,type=u8", err, sizeof err), 2);

    /* 100 bytes are exactly 4x5x5 u8: that one loads. */
    snprintf(set, sizeof set, "volume=%s,dims=4x5x5,type=u8", path);
    const char *good[] = {set, "width=32", "height=24", NULL};
    run(0.15, good);
    assert_int_equal((int)stat_of("volume"), 3);
    assert_true(stat_of("frames") > 0);
    app_release(&a);

    /* Checked, then gone before the scene reads it: a note, and the built-in volume. */
    snprintf(set, sizeof set, "volume=%s,dims=4x5x5,type=u8", path);
    struct cli o;
    char *argv[] = {"conctui", "--scene", "raymarch", "--set", set, "--set", "width=32"};
    assert_int_equal(cli_parse(7, argv, &o, err, sizeof err), 0);
    assert_int_equal(cli_resolve(&o, err, sizeof err), 0);
    unlink(path);
    assert_int_equal(app_start_texts(&a, o.entry, o.mode_idx, o.params, o.texts), 0);
    wait_frames(1);
    note(buf, sizeof buf);
    if (!strstr(buf, "cannot open") || !strstr(buf, "showing marschner-lobb"))
        fail_msg("note '%s'", buf);
    assert_int_equal((int)stat_of("volume"), 0);
    app_release(&a);

    /* volume=3 as a number names what it needs. */
    static const char *const bare[] = {"volume=3", "width=32", "height=24", NULL};
    run(0.1, bare);
    note(buf, sizeof buf);
    assert_non_null(strstr(buf, "--set volume=FILE,dims=XxYxZ"));
    app_release(&a);
}

/* Keys: the arrows turn the camera, 'p' writes the frame as a PPM and names it. */
static void test_raymarch_keys_and_snapshot(void **state)
{
    (void)state;
    static const char *const sets[] = {"width=24", "height=16", "yaw=0", NULL};
    char dir[64], cwd[512], buf[SCENE_NOTE_MAX];
    snprintf(dir, sizeof dir, "/tmp/conctui-test-%d", (int)getpid());
    assert_int_equal(mkdir(dir, 0700), 0);
    assert_non_null(getcwd(cwd, sizeof cwd));
    assert_int_equal(chdir(dir), 0);
    start(sets);
    wait_frames(1);
    assert_int_equal(app_key(&a, APP_KEY_RIGHT, 80), APP_CONTINUE);
    assert_int_equal(app_key(&a, APP_KEY_RIGHT, 80), APP_CONTINUE);
    wait_frames(stat_of("frames") + 2);
    assert_int_equal((int)stat_of("yaw"), 20);
    assert_int_equal(app_key(&a, 'p', 80), APP_CONTINUE);
    note(buf, sizeof buf);
    assert_non_null(strstr(buf, "conctui-raymarch-1.ppm"));
    struct stat sb;
    assert_int_equal(stat("conctui-raymarch-1.ppm", &sb), 0);
    assert_true(sb.st_size > 24 * 16 * 3);
    assert_int_equal(app_key(&a, 'p', 80), APP_CONTINUE);
    assert_int_equal(stat("conctui-raymarch-2.ppm", &sb), 0);
    app_release(&a);
    unlink("conctui-raymarch-1.ppm");
    unlink("conctui-raymarch-2.ppm");
    assert_int_equal(chdir(cwd), 0);
    rmdir(dir);
}

/* Threads of this process once the count has held still for 50 ms (1 s at most). */
static int settled_threads(void)
{
    int last = count_dir("/proc/self/task"), same = 0;
    for (int i = 0; i < 200 && same < 10; i++) {
        nanosleep(&(struct timespec){0, 5000000}, NULL);
        int now = count_dir("/proc/self/task");
        same = now == last ? same + 1 : 0;
        last = now;
    }
    return last;
}

/* Stopping leaves no thread behind: the render thread and its OpenMP team are gone. */
static void test_raymarch_cleanup(void **state)
{
    (void)state;
    static const char *const sets[] = {"backend=1", "threads=3", "width=32",
                                       "height=24", "fps=0",     NULL};
    /* A first run lets one-time runtime threads (a CUDA runtime's, say) appear. */
    run(0.1, sets);
    app_release(&a);
    int threads = settled_threads(), fds = count_dir("/proc/self/fd");
    for (int i = 0; i < 2; i++) {
        run(0.15, sets);
        app_release(&a);
        /* libgomp retires the team as the render thread exits; give it a moment. */
        int now = 0;
        for (int k = 0; k < 100 && (now = count_dir("/proc/self/task")) != threads; k++)
            nanosleep(&(struct timespec){0, 2000000}, NULL);
        assert_int_equal(now, threads);
        assert_int_equal(count_dir("/proc/self/fd"), fds);
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_raymarch_serial_and_openmp_render),
        T(test_raymarch_canvas),
        T(test_raymarch_openmp_lanes),
        T(test_raymarch_cuda_fallback),
        T(test_raymarch_raw_volume),
        T(test_raymarch_keys_and_snapshot),
        T(test_raymarch_cleanup),
        T(test_raymarch_still_picture_rests),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
