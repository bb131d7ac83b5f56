/*
 * grid: a screen as a plain array of cells. The frame is composed here,
 * without a terminal, so it can be tested and diffed; ui.c copies only the
 * cells that changed to ncurses.
 */
#ifndef CONCTUI_GRID_H
#define CONCTUI_GRID_H

#include <stdint.h>
#include <wchar.h>

#include "state.h"

enum grid_attr {
    GRID_BOLD = 1,
    GRID_REVERSE = 2,
    GRID_DIM = 4,
    GRID_UNDERLINE = 8,
    GRID_RGB = 16, /* a picture cell: rgb_fg over rgb_bg (upper half block) */
};

/* ch == 0 marks the right half of a double-width character. */
struct grid_cell {
    wchar_t ch;
    uint8_t colour;          /* enum state_colour */
    uint8_t attr;            /* enum grid_attr */
    uint32_t rgb_fg, rgb_bg; /* 0xRRGGBB, for GRID_RGB cells */
};

struct grid {
    int rows, cols;
    struct grid_cell *c;
};

int grid_resize(struct grid *g, int rows, int cols);
void grid_free(struct grid *g);
void grid_clear(struct grid *g);
struct grid_cell *grid_at(struct grid *g, int y, int x);
void grid_put(struct grid *g, int y, int x, wchar_t ch, unsigned colour, unsigned attr);
void grid_fill(struct grid *g, int y, int x, int w, wchar_t ch, unsigned colour, unsigned attr);
/* Write UTF-8 text clipped to maxw columns; returns the columns used. */
int grid_text(struct grid *g, int y, int x, int maxw, const char *s, unsigned colour,
              unsigned attr);
/*
 * Write UTF-8 text in at most maxw columns without cutting a word: text
 * that does not fit ends at a word with an ellipsis (a single word too long
 * for the room is cut with one). Returns the columns used.
 */
int grid_text_fit(struct grid *g, int y, int x, int maxw, const char *s, unsigned colour,
                  unsigned attr);
/*
 * Bytes of s that fit in maxw columns with an ellipsis after them, ending at
 * a word (see grid_text_fit); *cut is set when the text had to be shortened.
 */
int grid_fit_len(const char *s, int maxw, int *cut);
/* The ellipsis: "…" where the locale can show it, "~" otherwise. */
wchar_t grid_ellipsis(void);
/* Display width of UTF-8 text (wcwidth per character). */
int grid_text_width(const char *s);
/*
 * Word-wrap UTF-8 text into lines of at most w columns; calls emit for each
 * line (pointer into s, byte length). Returns the number of lines.
 */
int grid_wrap(const char *s, int w, void (*emit)(void *arg, const char *line, int len), void *arg);
/* A picture cell: the top pixel's colour over the bottom pixel's. */
void grid_put_rgb(struct grid *g, int y, int x, uint32_t top, uint32_t bottom);
/* A row of the grid as UTF-8 (for tests and headless dumps). */
void grid_row_utf8(const struct grid *g, int y, char *buf, unsigned len);

#endif
