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
    TL_EMPTY = 1,  /* no data for this column (before the lane began, or future) */
    TL_MIXED = 2,  /* more than one state inside the column */
    TL_CURSOR = 4, /* the sweep cursor is in this column */
    TL_GAP = 8,    /* the blank column just ahead of the sweep cursor */
    TL_PART = 16,  /* the state shown filled less than half of the column */
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

struct tl_view {
    uint64_t t_start;    /* time of column 0 (scroll mode) */
    uint64_t ns_per_col; /* zoom */
    int width;
    int sweep;       /* oscilloscope: columns wrap, newest data overwrites oldest */
    uint64_t now;    /* data beyond now is the future (empty) */
    uint64_t origin; /* sweep mode: time the sweep is aligned to */
};

/* The time interval [*a, *b) column c covers under view v. */
void timeline_column(const struct tl_view *v, int c, uint64_t *a, uint64_t *b);
/* Lay one lane out into v->width cells. */
void timeline_layout(const struct history_lane *l, const struct tl_view *v, struct tl_cell *out);
/* A 1-2-5 zoom step: the next level above (dir > 0) or below ns. */
uint64_t timeline_zoom_step(uint64_t ns_per_col, int dir);
/* Format a duration with a unit that fits ("250ms", "1.5s", "40us"). */
void timeline_fmt_ns(char *buf, unsigned len, uint64_t ns);

#endif
