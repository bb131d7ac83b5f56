/*
 * draw: composes one frame of the TUI into a grid (header, lanes, time axis,
 * stats, narration or inspector, status, help). Pure: no terminal, so the
 * whole screen is testable; ui.c puts the grid on the terminal.
 */
#ifndef CONCTUI_DRAW_H
#define CONCTUI_DRAW_H

#include <stdint.h>
#include <wchar.h>

#include "app.h"
#include "grid.h"
#include "timeline.h"

#define DRAW_MIN_COLS 80
#define DRAW_MIN_ROWS 24

struct draw_opts {
    int ascii; /* ASCII glyphs only */
};

/* Columns of the timeline for a terminal `cols` wide (less a scene's picture). */
int draw_timeline_width(const struct app *a, int cols);
/* Compose the frame at time now (ns) for the app's current view. */
void draw_frame(struct app *a, struct grid *g, const struct draw_opts *o, uint64_t now);
/* A lane's name as shown: translated, numbers kept ("clerk 3" through "clerk %d"). */
const char *draw_lane_label(const char *name, char *buf, unsigned len);
/* The glyph of a state cell (not a gauge): its state's, or a half block for a brief run. */
wchar_t draw_cell_glyph(const struct tl_cell *c, int ascii);

#endif
