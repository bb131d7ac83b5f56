#include "config.h"

#include "layout.h"

static int imin(int a, int b)
{
    return a < b ? a : b;
}

static int imax(int a, int b)
{
    return a > b ? a : b;
}

static struct layout_rect rect(int y, int x, int h, int w)
{
    return (struct layout_rect){y, x, h > 0 ? h : 0, w > 0 ? w : 0};
}

void layout_compute(const struct layout_in *in, struct layout *o)
{
    int rows = in->rows, cols = in->cols;
    int status = in->status_lines == 2 ? 2 : 1;
    int nlanes = imax(in->nlanes, 1);
    int ask = in->lane_rows > 0 ? imin(in->lane_rows, LAYOUT_LANE_ROWS_MAX) : 0;
    /* Rows for the lanes and the bottom panel together (the axis row is under the lanes). */
    int avail = rows - 2 - 1 - 1 - status;
    if (avail < 2)
        avail = 2;

    /* The figures column: its content's width, leaving the narration its minimum. */
    int sw = imin(imax(in->stats_w, 16), cols - LAYOUT_NARR_MIN - 3);
    if (sw < 16)
        sw = 16;
    int lanes_need = nlanes * imax(ask, 1);
    if (in->canvas_w > 0 && lanes_need < avail / 2)
        lanes_need = avail / 2; /* the picture beside the lanes wants height too */
    int room = avail - imin(lanes_need, avail / 2);
    int best = 1, best_need = 0;
    for (int ncol = 1; ncol <= 3; ncol++) {
        /* More columns only when one does not fit and the narration keeps a third of the width. */
        if (ncol > 1 &&
            (best_need <= room || ncol * sw + 3 + imax(LAYOUT_NARR_MIN, cols / 3) > cols))
            break;
        int nw = imin(cols - ncol * sw - 3, LAYOUT_NARR_MAX);
        int sl = (in->stats_lines + ncol - 1) / ncol + (ncol > 1); /* a spread may not split */
        int nl = in->narr_lines ? in->narr_lines(in->arg, nw) : 0;
        int need = 1 + imax(sl, nl);
        if (ncol == 1 || need < best_need) {
            best = ncol;
            best_need = need;
        }
    }

    /* A figures border a few columns from the picture's border is drawn in line with it. */
    int cb = cols - in->canvas_w - 1;
    if (in->canvas_w > 0 && best == 1 && sw != cb && sw >= cb - 3 && sw <= cb + 3 &&
        cols - cb - 3 >= LAYOUT_NARR_MIN)
        sw = cb;

    int bottom = imin(best_need, room);
    int bottom_min = imax(1 + in->stats_min, 4);
    bottom = imax(bottom, imin(bottom_min, avail - 1));
    int lanes_h = avail - bottom;

    /* Rows per lane: what was asked, or as many as the free rows give. */
    int lr = ask ? ask : imax(1, imin(LAYOUT_LANE_ROWS_MAX, lanes_h / nlanes));
    if (in->canvas_w > 0 && !ask)
        lr = 1; /* the picture keeps the height */
    if (lr > lanes_h)
        lr = imax(lanes_h, 1);
    int shown, more_y = -1;
    if (nlanes * lr <= lanes_h) {
        shown = nlanes;
        if (!in->canvas_w) { /* the rows no lane needs go to the narration */
            bottom += lanes_h - nlanes * lr;
            lanes_h = nlanes * lr;
        }
    } else {
        shown = imax((lanes_h - 1) / lr, 1);
        more_y = 2 + lanes_h - 1;
        if (shown * lr > lanes_h - 1)
            more_y = -1; /* one lane taller than the room: no row left to say so */
    }

    int canvas = in->canvas_w > 0 ? in->canvas_w : 0;
    o->header = rect(0, 0, 1, cols);
    o->legend = rect(1, 0, 1, cols);
    o->lanes = rect(2, 0, lanes_h, cols - (canvas ? canvas + 1 : 0));
    o->axis = rect(2 + lanes_h, 0, 1, o->lanes.w);
    o->canvas = canvas ? rect(2, cols - canvas, lanes_h + 1, canvas) : rect(2, cols, 0, 0);
    int by = 3 + lanes_h;
    o->stats = rect(by, 0, bottom, best * sw);
    o->narr = rect(by, best * sw + 2, bottom, imin(cols - best * sw - 3, LAYOUT_NARR_MAX));
    o->params = rect(rows - status - 1, 0, 1, cols);
    o->status = rect(rows - status, 0, status, cols);
    o->lane_rows = lr;
    o->lanes_shown = imin(shown, nlanes);
    o->more_y = more_y;
    o->stats_cols = best;
    o->stats_col_w = sw;
    o->timeline_w = cols - in->name_w - (canvas ? canvas + 1 : 0);
}
