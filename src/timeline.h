/*
 * timeline: pure layout. A lane's history and a time window become one cell
 * per column. No terminal, no clock, no globals: the same input always gives
 * the same cells, which is what the tests and replay rely on.
 */
#ifndef CONCTUI_TIMELINE_H
#define CONCTUI_TIMELINE_H

#include <stdint.h>

#include "history.h"

enum {
    TL_EMPTY = 1, /* no data for this column (before the lane began, or future) */
    TL_MIXED = 2, /* more than one state inside the column */
    TL_PART = 4,  /* the state shown filled less than half of the column */
};

struct tl_cell {
    /*
     * The state shown, or TRACE_GAUGE: any running time in the column shows
     * as running, else any wait (ready, lock, I/O, kernel), else the longest.
     */
    uint8_t state;
    uint8_t flags;
    uint16_t note;  /* note of the state shown */
    uint32_t value; /* gauge lanes: the column's peak; state lanes: transitions */
};

/* A window of time: column c covers [t_start + c * ns_per_col, ... + ns_per_col). */
struct tl_view {
    uint64_t t_start;    /* time of column 0 */
    uint64_t ns_per_col; /* zoom */
    int width;
    uint64_t now; /* data beyond now is the future (empty) */
};

#define TL_LABEL_MAX 24

/* A time axis label: its text starts at column col. */
struct tl_label {
    int col;
    char text[TL_LABEL_MAX];
};

/* The time interval [*a, *b) column c covers under view v. */
void timeline_column(const struct tl_view *v, int c, uint64_t *a, uint64_t *b);
/*
 * The live view scrolls: the t_start that puts now in the last of width
 * columns, on whole columns counted from t0 (so a frame one column later
 * shifts every cell by exactly one), or t0 while the run is shorter than the
 * window.
 */
uint64_t timeline_live_start(uint64_t t0, uint64_t now, uint64_t ns_per_col, int width);
/*
 * Labels for view v's time axis, as times since t0: at whole multiples of a
 * 1-2-5 step, strictly increasing, far enough apart for their text, in a unit
 * and with the decimals the step needs ("12.34s", "812.5ms"). Returns how
 * many were written (at most max).
 */
int timeline_axis(const struct tl_view *v, uint64_t t0, struct tl_label *out, int max);
/* One axis label's text: t since the start, for labels step apart. */
void timeline_axis_text(char *buf, unsigned len, uint64_t t, uint64_t step);
/* Lay one lane out into v->width cells. */
void timeline_layout(const struct history_lane *l, const struct tl_view *v, struct tl_cell *out);
/*
 * Several lanes in one row (a process's threads): each column shows the
 * highest-ranked state of the lanes' cells (a run anywhere shows as a run,
 * else a wait, else the rest; see state_rank), whole cells before parts;
 * TL_MIXED when the lanes differ. Gauge cells are left out.
 */
void timeline_merge(struct tl_cell *into, const struct tl_cell *from, int width);
/* A 1-2-5 zoom step: the next level above (dir > 0) or below ns. */
uint64_t timeline_zoom_step(uint64_t ns_per_col, int dir);
/* Format a duration with a unit that fits ("250ms", "1.5s", "40us"). */
void timeline_fmt_ns(char *buf, unsigned len, uint64_t ns);

#endif
