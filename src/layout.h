/*
 * layout: where each part of the frame goes, from the terminal's size and
 * what each part holds. Pure (rows and columns in, rectangles out), so the
 * rules are tested without a terminal; draw.c measures the content, asks
 * here, and draws into the rectangles.
 *
 * The rules:
 *  - the header, the legend, the parameter line and the status line (one
 *    row, two when its note needs them) take their rows; the time axis
 *    takes the row under the lanes;
 *  - the bottom panel (figures on the left, narration on the right) gets
 *    the rows its content needs, but never more than leaves the lanes half
 *    of the body, and always the stats title and the headline figures;
 *  - the figures column is as wide as its longest line (two or three
 *    columns of figures when that makes the panel shorter and leaves the
 *    narration LAYOUT_NARR_MIN columns); the narration gets the rest of
 *    the width;
 *  - rows the lanes do not need make each lane taller (up to
 *    LAYOUT_LANE_ROWS_MAX rows), and what is still left goes back to the
 *    bottom panel; a scene's picture keeps them all;
 *  - lanes that do not fit scroll, and the last lane row then says how
 *    many more there are.
 */
#ifndef CONCTUI_LAYOUT_H
#define CONCTUI_LAYOUT_H

#include <stdbool.h>

#define LAYOUT_LANE_ROWS_MAX 3
#define LAYOUT_NARR_MIN 30
#define LAYOUT_NARR_MAX 100 /* longer lines are hard to follow from the back of a room */

struct layout_rect {
    int y, x, h, w;
};

struct layout_in {
    int rows, cols;
    int nlanes;       /* lanes to show */
    int lane_rows;    /* rows per lane asked for (the L key); 0: as many as fit */
    int name_w;       /* the lane names' column, its border included */
    int canvas_w;     /* the scene's picture at the right, 0 for none */
    int stats_w;      /* the longest figure line, margins included */
    int stats_lines;  /* lines the figures take in one column (the title not counted) */
    int stats_min;    /* lines that must show: the headline figures (the title not counted) */
    int status_lines; /* 1, or 2 when the status note wraps */
    /* Lines the narration takes wrapped at w columns (its title not counted). */
    int (*narr_lines)(void *arg, int w);
    void *arg;
};

struct layout {
    struct layout_rect header, legend, lanes, axis, canvas, stats, narr, params, status;
    int lane_rows;   /* rows each lane takes */
    int lanes_shown; /* lanes drawn at once */
    int more_y;      /* the row that says more lanes follow, -1 when they all fit */
    int stats_cols;  /* columns of figures */
    int stats_col_w; /* the width of each */
    int timeline_w;  /* columns of the timeline */
};

void layout_compute(const struct layout_in *in, struct layout *out);

#endif
