#include "config.h"

#include "theme.h"

#include <string.h>

#include "i18n.h"

/* ANSI colour numbers, as curses numbers them (COLOR_BLACK .. COLOR_WHITE). */
enum { BLACK, RED, GREEN, YELLOW, BLUE, MAGENTA, CYAN, WHITE };

static const struct theme theme_default = {
    .name = "default",
    .help = N_("the terminal's eight colours"),
    .colour = true,
    .fg = -1,
    .bg = -1,
    .c8 = {-1, GREEN, YELLOW, RED, BLUE, CYAN, MAGENTA, WHITE, WHITE},
    .c256 = {-1, GREEN, YELLOW, RED, BLUE, CYAN, MAGENTA, WHITE, WHITE},
};

/* White on black, bright colours, everything bold: for projectors and bright rooms. */
static const struct theme theme_contrast = {
    .name = "contrast",
    .help = N_("high contrast: bright bold colours on black"),
    .colour = true,
    .bold = true,
    .fg = WHITE,
    .bg = BLACK,
    .c8 = {WHITE, GREEN, YELLOW, RED, CYAN, CYAN, MAGENTA, WHITE, WHITE},
    .c256 = {15, 46, 226, 196, 45, 51, 201, 250, 15},
};

/*
 * Okabe and Ito's palette, told apart with any colour vision: bluish green
 * (run), orange (ready), vermillion (lock), blue (I/O), sky blue (sleep),
 * reddish purple (kernel). Eight-colour terminals keep the default set; the
 * glyphs carry the meaning there.
 */
static const struct theme theme_cbsafe = {
    .name = "cbsafe",
    .help = N_("colour-blind safe (Okabe-Ito palette)"),
    .colour = true,
    .fg = -1,
    .bg = -1,
    .c8 = {-1, GREEN, YELLOW, RED, BLUE, CYAN, MAGENTA, WHITE, WHITE},
    .c256 = {-1, 36, 214, 166, 25, 74, 175, 245, 255},
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
