/*
 * theme: how the named colours look. The glyphs never change, so every
 * state reads the same in any theme (and without colour); a theme only
 * picks the terminal colours: the usual eight, a high-contrast set for
 * projectors, a colour-blind-safe palette (Okabe and Ito), or none.
 */
#ifndef CONCTUI_THEME_H
#define CONCTUI_THEME_H

#include <stdbool.h>

#include "state.h"

struct theme {
    const char *name;
    const char *help;
    bool colour;              /* false: glyphs and brightness only */
    bool bold;                /* every coloured cell bold (reads from the back of a room) */
    bool no_dim;              /* no dim text: dim greys vanish on a projector */
    short fg, bg;             /* text colours, -1 the terminal's own */
    short c8[COLOUR_COUNT];   /* colours on an 8-colour terminal (-1: the text colour) */
    short c256[COLOUR_COUNT]; /* colours on a 256-colour terminal */
};

/* The themes, default first; NULL-terminated. */
extern const struct theme *const theme_table[];
/* A theme by name, NULL if there is none. */
const struct theme *theme_find(const char *name);
/* Its index in theme_table (0 for NULL). */
int theme_index(const struct theme *t);
/*
 * The attributes (enum grid_attr) a cell with colour colour_name and
 * attributes attr gets on screen in theme t, on a terminal that shows
 * colour or not: a theme may make coloured cells bold and forbid dim text.
 */
unsigned theme_cell_attr(const struct theme *t, bool colour, unsigned colour_name, unsigned attr);

#endif
