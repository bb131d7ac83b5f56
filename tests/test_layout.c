/* The frame's layout rules, without a terminal: sizes and content in, rectangles out. */
#include "config.h"

#include "testutil.h"

#include "layout.h"

struct narr {
    int chars; /* a text this long, wrapped at w: about chars / w lines */
};

static int narr_lines(void *arg, int w)
{
    const struct narr *n = arg;
    return w > 0 ? (n->chars + w - 1) / w : n->chars;
}

static struct layout_in base(int rows, int cols, int nlanes, struct narr *n)
{
    return (struct layout_in){
        .rows = rows,
        .cols = cols,
        .nlanes = nlanes,
        .lane_rows = 0,
        .name_w = 19,
        .canvas_w = 0,
        .stats_w = 36,
        .stats_lines = 20,
        .stats_min = 2,
        .status_lines = 1,
        .narr_lines = narr_lines,
        .arg = n,
    };
}

/* The rows stack without gaps or overlaps and every rectangle is on the screen. */
static void check_geometry(const struct layout_in *in, const struct layout *L)
{
    assert_int_equal(L->header.y, 0);
    assert_int_equal(L->legend.y, 1);
    assert_int_equal(L->lanes.y, 2);
    assert_int_equal(L->axis.y, L->lanes.y + L->lanes.h);
    assert_int_equal(L->stats.y, L->axis.y + 1);
    assert_int_equal(L->narr.y, L->stats.y);
    assert_int_equal(L->params.y, L->stats.y + L->stats.h);
    assert_int_equal(L->status.y, L->params.y + 1);
    assert_int_equal(L->status.y + L->status.h, in->rows);
    assert_true(L->lanes.h >= 1);
    assert_true(L->lane_rows >= 1 && L->lane_rows <= LAYOUT_LANE_ROWS_MAX);
    assert_true(L->lanes_shown * L->lane_rows <= L->lanes.h);
    if (L->more_y >= 0) {
        assert_true(L->more_y >= L->lanes.y + L->lanes_shown * L->lane_rows);
        assert_true(L->more_y < L->lanes.y + L->lanes.h);
    }
    /* the figures and the narration side by side, a border between them */
    assert_true(L->stats.w == L->stats_cols * L->stats_col_w);
    assert_true(L->narr.x == L->stats.w + 2);
    assert_true(L->narr.x + L->narr.w <= in->cols);
    assert_true(L->narr.w >= LAYOUT_NARR_MIN && L->narr.w <= LAYOUT_NARR_MAX);
    assert_int_equal(L->timeline_w, in->cols - in->name_w - (in->canvas_w ? in->canvas_w + 1 : 0));
}

/* At the smallest size the headline figures are on screen, and the lanes keep half the body. */
static void test_layout_80x24(void **state)
{
    (void)state;
    struct narr n = {700};
    struct layout_in in = base(24, 80, 4, &n);
    in.stats_lines = 30;
    in.stats_min = 3;
    struct layout L;
    layout_compute(&in, &L);
    check_geometry(&in, &L);
    assert_true(L.stats.h - 1 >= in.stats_min);
    assert_int_equal(L.lanes_shown, 4);
    assert_int_equal(L.more_y, -1);
    /* Many lanes: they scroll, a row says so, and the headlines still show. */
    in.nlanes = 30;
    layout_compute(&in, &L);
    check_geometry(&in, &L);
    assert_true(L.lanes_shown < 30);
    assert_true(L.more_y >= 0);
    assert_true(L.stats.h - 1 >= in.stats_min);
    assert_true(L.lanes.h >= (24 - 5) / 2);
}

/* Rows no content needs make the lanes taller; what is left goes to the narration. */
static void test_layout_free_rows_to_lanes(void **state)
{
    (void)state;
    struct narr n = {300};
    struct layout_in in = base(40, 120, 3, &n);
    in.stats_lines = 8;
    struct layout L;
    layout_compute(&in, &L);
    check_geometry(&in, &L);
    assert_int_equal(L.lane_rows, LAYOUT_LANE_ROWS_MAX);
    assert_int_equal(L.lanes.h, 3 * LAYOUT_LANE_ROWS_MAX);
    assert_true(L.stats.h - 1 >= 8);
    /* Asked for one row a lane (the L key): one row, the rest to the bottom panel. */
    in.lane_rows = 1;
    layout_compute(&in, &L);
    check_geometry(&in, &L);
    assert_int_equal(L.lane_rows, 1);
    assert_int_equal(L.lanes.h, 3);
    /* A scene's picture keeps the rows beside the lanes. */
    in.lane_rows = 0;
    in.canvas_w = 48;
    layout_compute(&in, &L);
    check_geometry(&in, &L);
    assert_int_equal(L.lane_rows, 1);
    assert_true(L.lanes.h > 3);
    assert_int_equal(L.canvas.h, L.lanes.h + 1);
    assert_int_equal(L.canvas.x, 120 - 48);
}

/* The figures column is as wide as its content; the narration takes the rest of the width. */
static void test_layout_widths(void **state)
{
    (void)state;
    struct narr n = {600};
    struct layout_in in = base(50, 200, 3, &n);
    struct layout L;
    layout_compute(&in, &L);
    check_geometry(&in, &L);
    assert_int_equal(L.stats.w, 36);
    assert_int_equal(L.narr.w, LAYOUT_NARR_MAX); /* lines a class can follow */
    in.cols = 120;
    layout_compute(&in, &L);
    assert_int_equal(L.narr.w, 120 - 36 - 3);
    in.cols = 200;
    /* Wider content, a wider column (never so wide that the narration loses its minimum). */
    in.stats_w = 60;
    layout_compute(&in, &L);
    assert_int_equal(L.stats.w, 60);
    in.cols = 80;
    in.rows = 24;
    layout_compute(&in, &L);
    check_geometry(&in, &L);
    assert_int_equal(L.narr.w, LAYOUT_NARR_MIN);
    /* Figures that would not fit in one column spread over two when the width allows. */
    in = base(30, 200, 3, &n);
    in.stats_lines = 50;
    in.stats_w = 40;
    layout_compute(&in, &L);
    check_geometry(&in, &L);
    assert_true(L.stats_cols >= 2);
    assert_true(L.stats.h - 1 >= (50 + L.stats_cols - 1) / L.stats_cols ||
                L.stats.h == 30 - 5 - L.lanes.h);
    /* ... but not when one column already fits: the narration keeps its width. */
    in.stats_lines = 10;
    layout_compute(&in, &L);
    assert_int_equal(L.stats_cols, 1);
}

/* A long narration takes rows from the lanes' spare rows, not from their minimum. */
static void test_layout_narration_rows(void **state)
{
    (void)state;
    struct narr n = {3000};
    struct layout_in in = base(40, 120, 3, &n);
    in.stats_lines = 5;
    struct layout L;
    layout_compute(&in, &L);
    check_geometry(&in, &L);
    assert_int_equal(L.lanes_shown, 3);
    assert_true(L.narr.h - 1 >= narr_lines(&n, L.narr.w) || L.lanes.h <= (40 - 5) / 2 + 1);
    /* A status note on two lines takes a row from the body. */
    in.status_lines = 2;
    struct layout L2;
    layout_compute(&in, &L2);
    check_geometry(&in, &L2);
    assert_int_equal(L2.status.h, 2);
    assert_int_equal(L2.params.y, 40 - 3);
}

/* Every size from the smallest up, any number of lanes: the rules always hold. */
static void test_layout_every_size(void **state)
{
    (void)state;
    struct narr n = {900};
    for (int rows = 24; rows <= 60; rows += 3)
        for (int cols = 80; cols <= 240; cols += 17)
            for (int lanes = 0; lanes <= 40; lanes += 5)
                for (int ask = 0; ask <= 3; ask++) {
                    struct layout_in in = base(rows, cols, lanes, &n);
                    in.lane_rows = ask;
                    in.stats_lines = 5 + lanes;
                    in.stats_min = 3;
                    in.canvas_w = lanes % 10 == 0 ? cols * 2 / 5 : 0;
                    in.status_lines = 1 + (lanes % 2);
                    struct layout L;
                    layout_compute(&in, &L);
                    check_geometry(&in, &L);
                    assert_true(L.stats.h - 1 >= in.stats_min);
                    if (ask && L.lanes.h >= ask)
                        assert_int_equal(L.lane_rows, ask);
                }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_layout_80x24),      cmocka_unit_test(test_layout_free_rows_to_lanes),
        cmocka_unit_test(test_layout_widths),     cmocka_unit_test(test_layout_narration_rows),
        cmocka_unit_test(test_layout_every_size),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
