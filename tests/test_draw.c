/* The TUI without a terminal: app + draw composing frames into a grid. */
#include "config.h"

#include "testutil.h"

#include <locale.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>
#include <wchar.h>

#include "app.h"
#include "draw.h"
#include "grid.h"
#include "keys.h"
#include "scene.h"
#include "trace.h"

static struct app a;
static struct grid g;

static int setup(void **state)
{
    (void)state;
    test_watchdog(60);
    setlocale(LC_ALL, "C.UTF-8");
    assert_int_equal(app_init(&a), 0);
    assert_int_equal(app_start(&a, scene_find("prodcons"), 0, NULL), 0);
    struct timespec d = {0, 300000000};
    nanosleep(&d, NULL);
    app_tick(&a, trace_now_ns());
    app_stats(&a, trace_now_ns());
    return 0;
}

static int teardown(void **state)
{
    (void)state;
    app_shutdown(&a);
    grid_free(&g);
    return 0;
}

static int row_has(int y, const char *s)
{
    char buf[4096];
    grid_row_utf8(&g, y, buf, sizeof buf);
    return strstr(buf, s) != NULL;
}

static int screen_has(const char *s)
{
    for (int y = 0; y < g.rows; y++)
        if (row_has(y, s))
            return 1;
    return 0;
}

static void frame(int rows, int cols)
{
    if (g.rows != rows || g.cols != cols)
        assert_int_equal(grid_resize(&g, rows, cols), 0);
    struct draw_opts o = {0};
    draw_frame(&a, &g, &o, trace_now_ns());
    if (getenv("DRAW_DUMP"))
        for (int y = 0; y < g.rows; y++) {
            char buf[4096];
            grid_row_utf8(&g, y, buf, sizeof buf);
            fprintf(stderr, "%s\n", buf);
        }
}

static void test_draw_too_small(void **state)
{
    (void)state;
    frame(24, 79);
    assert_true(screen_has("Terminal too small: 79x24"));
    assert_true(screen_has("at least 80x24"));
    frame(23, 200);
    assert_true(screen_has("Terminal too small"));
    frame(24, 80);
    assert_false(screen_has("Terminal too small"));
}

static void test_draw_panels_80x24(void **state)
{
    (void)state;
    frame(24, 80);
    assert_true(row_has(0, "prodcons"));
    assert_true(row_has(0, "? help"));
    assert_true(screen_has("producer 0"));
    assert_true(screen_has("consumer 0"));
    assert_true(screen_has("queue occupancy"));
    assert_true(screen_has("Stats"));
    assert_true(screen_has("throughput"));
    assert_true(screen_has("/col"));
    assert_true(row_has(22, "capacity=10"));
    assert_true(row_has(23, "LIVE"));
}

/* The cells x1..x2 of row y as UTF-8 (the right halves of wide characters left out). */
static void cells_utf8(int y, int x1, int x2, char *out, size_t len)
{
    size_t k = 0;
    for (int x = x1; x < x2 && x < g.cols && k + MB_CUR_MAX + 1 < len; x++) {
        wchar_t ch = grid_at(&g, y, x)->ch;
        if (ch == 0)
            continue;
        int n = wctomb(out + k, ch);
        k += n > 0 ? (size_t)n : 0;
    }
    out[k] = '\0';
}

static bool blank(int y, int x1, int x2)
{
    for (int x = x1; x < x2 && x < g.cols; x++)
        if (grid_at(&g, y, x)->ch != L' ')
            return false;
    return true;
}

/*
 * Is a help line on screen: its keys, then its text, wrapped at spaces onto
 * the rows below in the same column (a column ends at three spaces)?
 */
static bool help_line_shown(const struct key_item *it)
{
    int lw = grid_text_width(it->label);
    for (int y = 0; y < g.rows; y++)
        for (int x = 0; x + lw < g.cols; x++) {
            char got[4096], cell[1024];
            cells_utf8(y, x, x + lw, cell, sizeof cell);
            if (strcmp(cell, it->label) || (x > 0 && !blank(y, x - 1, x)) ||
                !blank(y, x + lw, x + lw + 1))
                continue;
            int tx = x + lw;
            while (tx < g.cols && blank(y, tx, tx + 1))
                tx++;
            got[0] = '\0';
            for (int r = y;
                 r < g.rows && tx < g.cols && !blank(r, tx, tx + 1) && (r == y || blank(r, x, tx));
                 r++) {
                cells_utf8(r, tx, g.cols, cell, sizeof cell);
                char *end = strstr(cell, "   ");
                if (end)
                    *end = '\0';
                size_t l = strlen(cell);
                while (l && cell[l - 1] == ' ')
                    cell[--l] = '\0';
                snprintf(got + strlen(got), sizeof got - strlen(got), "%s%s", got[0] ? " " : "",
                         cell);
            }
            if (!strcmp(got, it->text))
                return true;
        }
    return false;
}

/*
 * The help at a size: through its pages (PgDn), every line of the key
 * table in force is on some page, whole (wrapped at spaces, never cut).
 * Returns the number of pages.
 */
static int help_shows_every_key(int rows, int cols)
{
    static struct key_item it[KEYS_MAX];
    int n = keys_items(app_bindings, app_nbindings, a.scene, app_key_context(&a), it, KEYS_MAX);
    assert_true(n > 20);
    app_key(&a, '?', 100);
    int np = 0, *found = calloc((size_t)n, sizeof *found);
    for (; np < 8 && a.view.help; np++) {
        frame(rows, cols);
        for (int i = 0; i < n; i++)
            found[i] += help_line_shown(&it[i]);
        app_key(&a, APP_KEY_PGDN, 100);
    }
    assert_false(a.view.help); /* PgDn past the last page closes it */
    assert_int_equal(np, a.geom.help_pages);
    for (int i = 0; i < n; i++)
        if (found[i] != 1)
            fail_msg("%s at %dx%d: \"%s  %s\" is on %d of %d pages", a.scene->name, cols, rows,
                     it[i].label, it[i].text, found[i], np);
    free(found);
    return np;
}

/* At 80x24 the help pages through every key of every scene, the scene's own first. */
static void test_draw_help_every_key_80x24(void **state)
{
    (void)state;
    for (int s = 0; scene_table[s]; s++) {
        assert_int_equal(app_start(&a, scene_table[s], 0, NULL), 0);
        app_tick(&a, trace_now_ns());
        app_stats(&a, trace_now_ns());
        int np = help_shows_every_key(24, 80);
        assert_true(np >= 2); /* 80x24 cannot hold them all */
        if (scene_table[s]->nkeys) {
            app_key(&a, '?', 100);
            frame(24, 80);
            assert_true(screen_has("The scene's own keys"));
            app_key(&a, 'x', 100);
        }
    }
}

/*
 * The legend names the states the lanes have shown: the queue's workers run,
 * wait and sleep, and never reach a barrier, fail or get cancelled; its gauge
 * is there. Entries that do not fit end the row with an ellipsis, never cut.
 */
static void test_draw_legend_lists_what_is_shown(void **state)
{
    (void)state;
    frame(40, 120);
    char row[4096];
    grid_row_utf8(&g, 1, row, sizeof row);
    assert_non_null(strstr(row, "\u2588 run"));
    assert_non_null(strstr(row, "gauge"));
    assert_null(strstr(row, "barrier"));
    assert_null(strstr(row, "cancelled"));
    assert_null(strstr(row, "failed"));
    assert_null(strstr(row, "\u2026"));
    /* Before the first event every state is listed; on a narrow screen cut whole. */
    app_release(&a);
    assert_int_equal(app_start(&a, scene_find("prodcons"), 0, NULL), 0);
    frame(24, 80); /* no app_tick: the lanes are there, no event yet */
    grid_row_utf8(&g, 1, row, sizeof row);
    assert_non_null(
        strstr(row, "\u2588 run \u258c ran briefly \u2592 ready")); /* one space apart */
    char *more = strstr(row, "\u2026");
    assert_non_null(more);
    assert_true(more[-1] == ' ' && more[-2] != ' ');
}

/* Larger terminals: columns, one page; any other key closes the help and does nothing else. */
static void test_draw_help_overlay(void **state)
{
    (void)state;
    assert_int_equal(help_shows_every_key(40, 120), 1);
    assert_int_equal(help_shows_every_key(50, 200), 1);
    app_key(&a, '?', 100);
    frame(40, 120);
    assert_true(screen_has("Keys: prodcons"));
    assert_true(screen_has("any key closes this help"));
    assert_false(screen_has("page 1/"));
    uint64_t z = a.view.ns_per_col;
    app_key(&a, 'w', 100); /* closes, and does not zoom */
    assert_int_equal(a.view.ns_per_col, z);
    frame(40, 120);
    assert_false(screen_has("Keys: prodcons"));
    /* raymarch's arrows shadow the app's: its help says so, and which keys still do that. */
    assert_int_equal(app_start(&a, scene_find("raymarch"), 0, NULL), 0);
    app_key(&a, '?', 100);
    frame(50, 200);
    static struct key_item it[KEYS_MAX];
    int n = keys_items(app_bindings, app_nbindings, a.scene, KEY_LIVE, it, KEYS_MAX), left = -1;
    for (int i = 0; i < n; i++)
        if (!strcmp(it[i].label, "Left"))
            left = i;
    assert_true(left >= 0 && it[left].scene);
    assert_string_equal(it[left].text, "turn the camera left (yaw) (in place of: scroll back / "
                                       "forward through history; a d still do that)");
    assert_true(help_line_shown(&it[left]));
    assert_true(screen_has(" a d "));
    assert_false(screen_has("a d Left Right"));
}

static void test_draw_keys_change_view(void **state)
{
    (void)state;
    frame(40, 120);
    uint64_t z = a.view.ns_per_col;
    app_key(&a, 'w', draw_timeline_width(&a, 120));
    assert_true(a.view.ns_per_col < z);
    app_key(&a, 's', draw_timeline_width(&a, 120));
    assert_int_equal(a.view.ns_per_col, z);
    app_key(&a, ' ', 100);
    assert_false(a.view.live);
    frame(40, 120);
    assert_true(screen_has("PAUSED"));
    app_key(&a, APP_KEY_END, 100);
    assert_true(a.view.live);
    /* Parameters: select capacity and raise it (restarts the scene). */
    app_key(&a, APP_KEY_DOWN, 100);
    app_key(&a, APP_KEY_DOWN, 100);
    assert_int_equal(a.view.sel_param, 2);
    app_key(&a, '+', 100);
    assert_int_equal(a.params[2], 11);
    assert_true(a.running);
    assert_int_equal(app_key(&a, 'q', 100), APP_QUIT);
}

/* Each scene and mode opens at its own time scale; 0 comes back to it; a restart keeps the zoom. */
static void test_draw_scene_zoom(void **state)
{
    (void)state;
    for (int i = 0; i < scene_count(); i++)
        for (int m = 0; m < scene_table[i]->nmodes; m++) {
            uint64_t z = scene_table[i]->modes[m].ns_per_col;
            assert_true(z >= 1000 && z <= 10000000000ull);
            assert_int_equal(timeline_zoom_step(z, 0), z); /* a rung of the zoom ladder */
        }
    int w = draw_timeline_width(&a, 120);
    assert_int_equal(a.view.ns_per_col, scene_find("prodcons")->modes[0].ns_per_col);
    app_key(&a, 'w', w);
    app_key(&a, 'w', w);
    assert_true(a.view.ns_per_col < scene_find("prodcons")->modes[0].ns_per_col);
    app_key(&a, 'r', w);
    assert_true(a.view.ns_per_col < scene_find("prodcons")->modes[0].ns_per_col);
    app_key(&a, '0', w);
    assert_int_equal(a.view.ns_per_col, scene_find("prodcons")->modes[0].ns_per_col);
    assert_int_equal(app_start(&a, scene_find("gil"), 0, NULL), 0);
    assert_int_equal(a.view.ns_per_col, scene_find("gil")->modes[0].ns_per_col);
    frame(40, 120);
    char z[16], want[24];
    timeline_fmt_ns(z, sizeof z, scene_find("gil")->modes[0].ns_per_col);
    snprintf(want, sizeof want, "%s/col", z);
    assert_true(screen_has(want));
}

/* ns of an axis label ("12.34s", "812.5ms", "40us"). */
static double label_ns(const char *s)
{
    char *end;
    double x = strtod(s, &end);
    return x * (!strncmp(end, "ms", 2) ? 1e6 : !strncmp(end, "us", 2) ? 1e3 : 1e9);
}

/* The axis row of a live frame: labels increase left to right, at every zoom. */
static void test_draw_axis_increases(void **state)
{
    (void)state;
    int w = draw_timeline_width(&a, 120);
    for (int z = 0; z < 8; z++) {
        app_tick(&a, trace_now_ns());
        frame(40, 120);
        int found = 0;
        for (int y = 0; y < g.rows && !found; y++) {
            char buf[4096];
            grid_row_utf8(&g, y, buf, sizeof buf);
            if (!strstr(buf, "/col"))
                continue;
            found = 1;
            double prev = -1;
            int n = 0;
            for (char *p = strstr(buf, "\u2575"); p; p = strstr(p + 1, "\u2575")) {
                double t = label_ns(p + strlen("\u2575"));
                if (p[strlen("\u2575")] == ' ' || p[strlen("\u2575")] == '\0')
                    continue; /* a tick whose label did not fit */
                assert_true(t > prev);
                prev = t;
                n++;
            }
            assert_true(n >= 2);
        }
        assert_true(found);
        app_key(&a, 'w', w);
    }
}

static void test_draw_freeze_shows_state(void **state)
{
    (void)state;
    app_key(&a, 'f', 100);
    frame(40, 120);
    assert_true(screen_has("FROZEN"));
    app_key(&a, 'f', 100);
    frame(40, 120);
    assert_false(screen_has("FROZEN"));
}

static void sleep_ms(long ms)
{
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&d, NULL);
}

/* A step says which lane moved from which state to which, marks it, and the view follows it. */
static void test_draw_step_says_what_moved(void **state)
{
    (void)state;
    int w = draw_timeline_width(&a, 120);
    app_key(&a, '.', w); /* the first press freezes */
    /* One producer and one consumer: at most two threads park (the occupancy sampler never does).
     */
    for (int i = 0; i < 30 && trace_parked() < 2; i++)
        sleep_ms(100);
    sleep_ms(300);
    assert_int_equal(trace_parked(), 2);
    app_key(&a, '.', w);
    for (int i = 0; i < 100 && a.view.step_lane < 0; i++) {
        sleep_ms(20);
        app_tick(&a, trace_now_ns());
    }
    assert_true(a.view.step_lane >= 0);
    const struct history_lane *l = &a.hist.lane[a.view.step_lane];
    assert_int_equal(l->kind, TRACE_LANE_STATE);
    assert_false(a.view.live);
    assert_true(a.view.step_t <= a.view.t_right);
    frame(40, 120);
    char want[64];
    snprintf(want, sizeof want, "%s: ", l->name);
    /* On the status line, beside the view's state (a second line may hold the rest). */
    int sl = row_has(39, want) ? 39 : 38;
    assert_true(row_has(sl, want));
    assert_true(row_has(sl, "\u2192"));
    assert_true(screen_has("\u25b2")); /* the arrow under the step's column */
    /* The frozen time is a figure of its own, and said after unfreezing. */
    app_stats(&a, trace_now_ns());
    int found = 0;
    for (int i = 0; i < a.stats.n; i++)
        found |= !strcmp(a.stats.s[i].name, "frozen") && a.stats.s[i].value > 0.2;
    assert_true(found);
    app_key(&a, 'f', w);
    assert_true(a.view.live);
    frame(40, 120);
    assert_true(row_has(39, "was frozen") || row_has(38, "was frozen"));
}

static void test_draw_click_lane_opens_inspector(void **state)
{
    (void)state;
    frame(40, 120);
    assert_int_equal(a.geom.lane_of_row[0], 0);
    app_click(&a, a.geom.lanes_y, 30);
    assert_int_equal(a.view.focus_lane, 0);
    frame(40, 120);
    assert_true(screen_has("Lane: producer 0"));
    assert_true(screen_has("transitions:"));
    app_click(&a, a.geom.lanes_y, 30);
    assert_int_equal(a.view.focus_lane, -1);
}

static void test_draw_mode_switch(void **state)
{
    (void)state;
    app_key(&a, '3', 100);
    assert_int_equal(a.ctx.mode, 2);
    frame(30, 100);
    assert_true(row_has(0, "lock-free"));
    app_key(&a, '9', 100);
    assert_int_equal(a.ctx.mode, 2);
    frame(30, 100);
    assert_true(screen_has("has 3 modes"));
}

/* A figure measured over rounds shows its median and spread; a busy machine is said. */
static void test_draw_figures_with_spread(void **state)
{
    (void)state;
    a.stats.n = a.stats.dropped = 0;
    scene_stat(&a.stats, "plain_ms", 12.5, "ms");
    scene_stat_spread(&a.stats, "speedup", 1.84, 1.71, 1.93, 9, "x");
    scene_stat_spread(&a.stats, "slowdown_of_many", 0.52, 0.2, 0.9, 7, "x");
    a.load.busy = false;
    for (int cols = 80; cols <= 160; cols += 40) {
        frame(24, cols);
        assert_true(screen_has("1.84 x"));
        assert_true(screen_has("(1.71-1.93, 9 rounds)"));
        assert_false(screen_has("(1.71-1.93, 9 rounds)!"));
        assert_true(screen_has("slowdown of many")); /* no table entry: the name with spaces */
        assert_true(screen_has("(0.200-0.900, 7 rounds)!")); /* a wide spread is marked */
        assert_true(screen_has("wide spread"));
        assert_false(screen_has("machine busy"));
        assert_false(screen_has("not shown"));
    }
    a.load.busy = true;
    a.load.other = 1.5;
    a.load.busy_peak = 1.5;
    a.load.last.cpus = 2;
    frame(24, 160);
    assert_true(screen_has("(1.71-1.93, 9 rounds)!"));
    assert_true(screen_has("! machine busy"));
    assert_true(row_has(23, "machine busy: other programs use 1.5 of 2 CPUs"));
    /* A message still shows with it: the status takes a second line. */
    app_message(&a, "a message that must stay readable on an 80-column line");
    frame(24, 80);
    assert_true(screen_has("machine busy"));
    assert_true(row_has(23, "a message that must stay readable on an 80-column line"));
    a.load.busy = false;
}

/* Figures that do not fit on screen, or in the list, are counted, never dropped silently. */
static void test_draw_figures_not_shown(void **state)
{
    (void)state;
    a.stats.n = 0;
    for (int i = 0; i < 60; i++) {
        char name[32];
        snprintf(name, sizeof name, "fig_%02d", i);
        scene_stat(&a.stats, name, i, "ms");
    }
    a.stats.dropped = 3;
    frame(24, 80);
    int shown = 0;
    for (int i = 0; i < 60; i++) {
        char name[32];
        snprintf(name, sizeof name, "fig %02d ", i);
        shown += screen_has(name);
    }
    char want[64];
    snprintf(want, sizeof want, "%d figures not shown", 60 - shown + 3);
    assert_true(shown > 3);
    assert_true(screen_has(want));
    a.stats.dropped = 0;
    a.stats.n = 2;
    frame(24, 80);
    assert_false(screen_has("not shown"));
}

/* The colour of the status line's note at its first character. */
static unsigned note_colour(const char *text)
{
    for (int y = g.rows - 2; y < g.rows; y++) {
        char buf[4096];
        grid_row_utf8(&g, y, buf, sizeof buf);
        const char *p = strstr(buf, text);
        if (!p)
            continue;
        /* the row is ASCII up to the note here: bytes are columns */
        return grid_at(&g, y, (int)(p - buf))->colour;
    }
    fail_msg("no '%s' in the status line", text);
    return 0;
}

/* Errors are red, information is not; a save says the span it saved. */
static void test_draw_status_colours(void **state)
{
    (void)state;
    char dir[] = "/tmp/conctui-test-XXXXXX", old[4096];
    assert_non_null(mkdtemp(dir));
    assert_non_null(getcwd(old, sizeof old));
    assert_int_equal(chdir(dir), 0);
    app_key(&a, 'S', 100);
    assert_int_equal(chdir(old), 0);
    assert_int_equal(a.msg_kind, APP_MSG_INFO);
    double secs = 0;
    char path[256] = "";
    assert_int_equal(sscanf(a.msg, "saved the last %lf s to %255s", &secs, path), 2);
    /* the run is well under the 30 s the key saves at most: the span said is the run's */
    assert_true(secs > 0 && secs < 30);
    frame(24, 120);
    assert_int_not_equal(note_colour("saved the last"), COLOUR_RED);
    char full[512];
    snprintf(full, sizeof full, "%s/%s", dir, path);
    assert_int_equal(unlink(full), 0);
    assert_int_equal(rmdir(dir), 0);
    app_error(&a, "could not save: %s", "disk full");
    frame(24, 120);
    assert_int_equal(note_colour("could not save"), COLOUR_RED);
    app_warn(&a, "key '%lc' does nothing here; ? shows the keys", (wint_t)'y');
    frame(24, 120);
    assert_int_equal(note_colour("does nothing here"), COLOUR_YELLOW);
    /* A note too long for one line goes on a second one, whole or ending in an ellipsis. */
    app_message(&a, "%s",
                "a long note that says a great deal about what just happened in the "
                "scene and why, more than one line of eighty columns can hold at once");
    frame(24, 80);
    assert_true(row_has(23, "a long note"));
    assert_true(row_has(21, "capacity=")); /* the parameter line moved up a row */
}

/* Headline figures come first, in words; the narration turns pages with e. */
static void test_draw_headlines_and_pages(void **state)
{
    (void)state;
    app_stats(&a, trace_now_ns());
    frame(24, 80);
    int y = -1;
    for (int r = 0; r < g.rows; r++)
        if (row_has(r, " Stats"))
            y = r;
    assert_true(y > 0);
    assert_true(row_has(y + 1, " throughput "));
    assert_true(row_has(y + 1, "items/s"));
    assert_true(screen_has("producers blocked"));
    assert_false(screen_has("producer_blocked"));
    /* the narration: every page differs, and after the last comes the first */
    char first[4096], next[4096];
    grid_row_utf8(&g, y + 1, first, sizeof first);
    a.view.lane_rows = 3; /* tall lanes leave the narration few rows: it has pages */
    frame(24, 80);
    assert_true(screen_has(", e: more"));
    for (int r = 0; r < g.rows; r++)
        if (row_has(r, " Stats"))
            y = r;
    grid_row_utf8(&g, y + 1, first, sizeof first);
    int pages = 0;
    do {
        app_key(&a, 'e', 100);
        frame(24, 80);
        grid_row_utf8(&g, y + 1, next, sizeof next);
        pages++;
    } while (strcmp(first, next) && pages < 50);
    assert_true(pages >= 2 && pages < 50);
    a.view.lane_rows = 0;
}

static void test_grid_wide_characters(void **state)
{
    (void)state;
    assert_int_equal(grid_resize(&g, 2, 10), 0);
    int w = grid_text(&g, 0, 0, 10, "\xea\xb0\x80\xeb\x82\x98x", 0, 0); /* 가나x */
    assert_int_equal(w, 5);
    assert_int_equal(grid_at(&g, 0, 1)->ch, 0);
    assert_int_equal(grid_text_width("\xea\xb0\x80\xeb\x82\x98x"), 5);
    /* A wide character that does not fit is not cut in half. */
    w = grid_text(&g, 1, 0, 3, "\xea\xb0\x80\xeb\x82\x98", 0, 0);
    assert_int_equal(w, 2);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_draw_too_small),
        T(test_draw_panels_80x24),
        T(test_draw_help_overlay),
        T(test_draw_help_every_key_80x24),
        T(test_draw_keys_change_view),
        T(test_draw_scene_zoom),
        T(test_draw_axis_increases),
        T(test_draw_freeze_shows_state),
        T(test_draw_step_says_what_moved),
        T(test_draw_click_lane_opens_inspector),
        T(test_draw_mode_switch),
        T(test_grid_wide_characters),
        T(test_draw_figures_with_spread),
        T(test_draw_figures_not_shown),
        T(test_draw_legend_lists_what_is_shown),
        T(test_draw_status_colours),
        T(test_draw_headlines_and_pages),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
