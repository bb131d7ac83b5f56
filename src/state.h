/*
 * state: the one vocabulary of worker states shared by every scene, with one
 * name, one colour and one distinct glyph each, so a timeline reads the same
 * in every scene, in colour, in monochrome and in plain ASCII.
 */
#ifndef CONCTUI_STATE_H
#define CONCTUI_STATE_H

#include <stdint.h>
#include <wchar.h>

#include "trace.h"

/*
 * Colours are named, never numbered, outside ui.c. The first eight are the
 * terminal's hues (also used for text); the last four belong to one state
 * each, so a theme gives them whatever hue stays apart from the others.
 */
enum state_colour {
    COLOUR_DEFAULT,
    COLOUR_GREEN,
    COLOUR_YELLOW,
    COLOUR_RED,
    COLOUR_BLUE,
    COLOUR_CYAN,
    COLOUR_MAGENTA,
    COLOUR_GREY,
    COLOUR_WHITE,
    COLOUR_WAIT,
    COLOUR_BARRIER,
    COLOUR_CANCELLED,
    COLOUR_FAILED,
    COLOUR_COUNT
};

struct state_info {
    const char *name;  /* short name for stats and JSON: "run", "io" */
    const char *label; /* words for the legend and the man page */
    wchar_t glyph;     /* Unicode glyph */
    char ascii;        /* plain ASCII glyph (--ascii, no UTF-8 locale) */
    enum state_colour colour;
};

/* Description of a state (TRACE_RUN .. TRACE_FAILED). */
const struct state_info *state_info(unsigned state);
/*
 * The states in the order the legend and the manual list them (related
 * states together: running, the waits, I/O and timers, the ends); i runs
 * from 0 to TRACE_NSTATES - 1.
 */
unsigned state_by_rank(int i);
/* Glyph for a state, Unicode or ASCII. */
wchar_t state_glyph(unsigned state, int ascii);
/* Glyph for a gauge value v out of max (a bar of eight heights). */
wchar_t state_gauge_glyph(uint32_t v, uint32_t max, int ascii);
/* Parse a state name ("run", "lock", ...); -1 when unknown. */
int state_parse(const char *name);

#endif
