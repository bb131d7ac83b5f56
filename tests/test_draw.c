/* The TUI without a terminal: app + draw composing frames into a grid. */
#include "config.h"

#include "testutil.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "draw.h"
#include "grid.h"
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
    assert_non_null(strstr(row, "\u2588 run \u2592 ready")); /* one space apart */
    char *more = strstr(row, "\u2026");
    assert_non_null(more);
    assert_true(more[-1] == ' ' && more[-2] != ' ');
}

static void test_draw_help_overlay(void **state)
{
    (void)state;
    app_key(&a, '?', 100);
    frame(40, 120);
    assert_true(screen_has("Keys"));
    assert_true(screen_has("freeze"));
    app_key(&a, 'x', 100); /* any key closes it */
    frame(40, 120);
    assert_false(screen_has("any key closes"));
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
        T(test_draw_legend_lists_what_is_shown),
        T(test_draw_help_overlay),
        T(test_draw_keys_change_view),
        T(test_draw_freeze_shows_state),
        T(test_draw_click_lane_opens_inspector),
        T(test_draw_mode_switch),
        T(test_grid_wide_characters),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
