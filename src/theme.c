#include "config.h"

#include "theme.h"

#include <string.h>

#include "grid.h"
#include "i18n.h"

/* ANSI colour numbers, as curses numbers them (COLOR_BLACK .. COLOR_WHITE). */
enum { BLACK, RED, GREEN, YELLOW, BLUE, MAGENTA, CYAN, WHITE };

/*
 * The state colours on a 256-colour terminal are picked so that every pair
 * of states differs by at least THEME_MIN_DELTA_E (CIEDE2000) and every state
 * stands off the background; tests/test_theme.c checks both for each theme.
 * On an eight-colour terminal some states share a colour and the glyphs tell
 * them apart.
 */

/* The terminal's own text and background; colours that read on dark and light ones alike. */
static const struct theme theme_default = {
    .name = "default",
    .help = N_("the terminal's own background, mid-tone colours"),
    .colour = true,
    .fg = -1,
    .bg = -1,
    .c8 = {-1, GREEN, YELLOW, RED, BLUE, CYAN, MAGENTA, WHITE, -1, BLUE, YELLOW, WHITE, RED},
    /* green, gold, red, blue, sea green, purple, grey, text; slate, orange, mauve, crimson */
    .c256 = {-1, 76, 178, 196, 32, 36, 165, 243, -1, 61, 208, 139, 161},
};

/*
 * White on black, bright colours, everything bold and nothing dim: for
 * projectors and bright rooms.
 */
static const struct theme theme_contrast = {
    .name = "contrast",
    .help = N_("high contrast: bright bold colours on black"),
    .colour = true,
    .bold = true,
    .no_dim = true,
    .fg = WHITE,
    .bg = BLACK,
    .c8 = {WHITE, GREEN, YELLOW, RED, CYAN, CYAN, MAGENTA, WHITE, WHITE, BLUE, YELLOW, WHITE, RED},
    /* green, yellow, red, azure, cyan, magenta, grey, white; lilac, orange, khaki, rose */
    .c256 = {15, 46, 226, 196, 33, 51, 201, 246, 255, 183, 208, 143, 204},
};

/*
 * Okabe and Ito's palette, told apart with any colour vision: bluish green
 * (run), orange (ready), vermillion (lock), blue (I/O), sky blue (sleep),
 * reddish purple (kernel), yellow (wait). Twelve states are more than any
 * palette keeps apart for every eye: the other states differ in lightness,
 * and the glyphs carry the meaning. Eight-colour terminals keep the default set.
 */
static const struct theme theme_cbsafe = {
    .name = "cbsafe",
    .help = N_("colour-blind safe (Okabe-Ito palette)"),
    .colour = true,
    .fg = -1,
    .bg = -1,
    .c8 = {-1, GREEN, YELLOW, RED, BLUE, CYAN, MAGENTA, WHITE, -1, BLUE, YELLOW, WHITE, RED},
    .c256 = {-1, 36, 214, 166, 25, 74, 175, 245, -1, 227, 94, 97, 161},
};

static const struct theme theme_mono = {
    .name = "mono",
    .help = N_("no colour: glyphs and brightness only"),
    .colour = false,
    .fg = -1,
    .bg = -1,
};

const struct theme *const theme_table[] = {&theme_default, &theme_contrast, &theme_cbsafe,
                                           &theme_mono, NULL};

const struct theme *theme_find(const char *name)
{
    for (int i = 0; theme_table[i]; i++)
        if (strcmp(theme_table[i]->name, name) == 0)
            return theme_table[i];
    return NULL;
}

int theme_index(const struct theme *t)
{
    for (int i = 0; t && theme_table[i]; i++)
        if (theme_table[i] == t)
            return i;
    return 0;
}

unsigned theme_cell_attr(const struct theme *t, bool colour, unsigned colour_name, unsigned attr)
{
    unsigned a = attr & (GRID_BOLD | GRID_REVERSE | GRID_DIM | GRID_UNDERLINE);
    /* Without colour, the state colours become brightness so RUN still stands out. */
    if ((!colour && colour_name == COLOUR_GREEN) || (t && t->bold && colour_name))
        a |= GRID_BOLD;
    if (t && t->no_dim)
        a &= ~(unsigned)GRID_DIM;
    return a;
}
