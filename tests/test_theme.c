/*
 * Themes and glyphs: every pair of state colours stays apart in every theme,
 * every state stands off the background, the projector theme draws nothing
 * dim, and without colour every state still has a glyph of its own.
 *
 * "Apart" is measured the way the eye sees it: each xterm-256 colour is
 * turned into sRGB, then CIELAB (D65), and two colours are compared with
 * CIEDE2000 (Sharma, Wu and Dalal, 2005). A difference of about 2 is just
 * noticeable side by side; THEME_MIN_DELTA_E is ten times that, two colours
 * that a class tells apart from the back of a room on single glyphs.
 */
#include "config.h"

#include "testutil.h"

#include <locale.h>
#include <math.h>
#include <string.h>
#include <wchar.h>

#include "grid.h"
#include "state.h"
#include "theme.h"
#include "trace.h"

#define THEME_MIN_DELTA_E 20.0    /* between any two states */
#define THEME_MIN_BG_DELTA_E 25.0 /* between a state and the background */

struct rgb {
    double r, g, b;
};
struct lab {
    double l, a, b;
};

/* The xterm-256 palette: 16 system colours (xterm's defaults), a 6x6x6 cube, 24 greys. */
static struct rgb xterm(int i)
{
    static const unsigned char sys[16][3] = {
        {0, 0, 0},       {205, 0, 0},   {0, 205, 0},   {205, 205, 0},
        {0, 0, 238},     {205, 0, 205}, {0, 205, 205}, {229, 229, 229},
        {127, 127, 127}, {255, 0, 0},   {0, 255, 0},   {255, 255, 0},
        {92, 92, 255},   {255, 0, 255}, {0, 255, 255}, {255, 255, 255},
    };
    static const int lv[6] = {0, 95, 135, 175, 215, 255};
    assert_true(i >= 0 && i < 256);
    if (i < 16)
        return (struct rgb){sys[i][0], sys[i][1], sys[i][2]};
    if (i < 232) {
        i -= 16;
        return (struct rgb){lv[i / 36], lv[i / 6 % 6], lv[i % 6]};
    }
    double g = 8 + 10 * (i - 232);
    return (struct rgb){g, g, g};
}

static double lin(double c)
{
    c /= 255;
    return c <= 0.04045 ? c / 12.92 : pow((c + 0.055) / 1.055, 2.4);
}

static double f_lab(double t)
{
    return t > 216.0 / 24389 ? cbrt(t) : (24389.0 / 27 * t + 16) / 116;
}

static struct lab to_lab(struct rgb c)
{
    double r = lin(c.r), g = lin(c.g), b = lin(c.b);
    double x = (0.4124 * r + 0.3576 * g + 0.1805 * b) / 0.95047;
    double y = 0.2126 * r + 0.7152 * g + 0.0722 * b;
    double z = (0.0193 * r + 0.1192 * g + 0.9505 * b) / 1.08883;
    return (struct lab){116 * f_lab(y) - 16, 500 * (f_lab(x) - f_lab(y)),
                        200 * (f_lab(y) - f_lab(z))};
}

static double deg(double r)
{
    return r * 180 / M_PI;
}

static double rad(double d)
{
    return d * M_PI / 180;
}

/* CIEDE2000 colour difference (kL = kC = kH = 1). */
static double de2000(struct lab p, struct lab q)
{
    double c1 = hypot(p.a, p.b), c2 = hypot(q.a, q.b), cb = (c1 + c2) / 2;
    double g = 0.5 * (1 - sqrt(pow(cb, 7) / (pow(cb, 7) + pow(25, 7))));
    double a1 = (1 + g) * p.a, a2 = (1 + g) * q.a;
    double c1p = hypot(a1, p.b), c2p = hypot(a2, q.b);
    double h1 = c1p == 0 ? 0 : fmod(deg(atan2(p.b, a1)) + 360, 360);
    double h2 = c2p == 0 ? 0 : fmod(deg(atan2(q.b, a2)) + 360, 360);
    double dl = q.l - p.l, dc = c2p - c1p, dh = 0;
    if (c1p * c2p != 0) {
        dh = h2 - h1;
        if (dh > 180)
            dh -= 360;
        else if (dh < -180)
            dh += 360;
    }
    double dhh = 2 * sqrt(c1p * c2p) * sin(rad(dh / 2));
    double lb = (p.l + q.l) / 2, cbp = (c1p + c2p) / 2, hb = h1 + h2;
    if (c1p * c2p != 0) {
        if (fabs(h1 - h2) <= 180)
            hb = (h1 + h2) / 2;
        else
            hb = h1 + h2 < 360 ? (h1 + h2 + 360) / 2 : (h1 + h2 - 360) / 2;
    }
    double t = 1 - 0.17 * cos(rad(hb - 30)) + 0.24 * cos(rad(2 * hb)) +
               0.32 * cos(rad(3 * hb + 6)) - 0.20 * cos(rad(4 * hb - 63));
    double dt = 30 * exp(-pow((hb - 275) / 25, 2));
    double rc = 2 * sqrt(pow(cbp, 7) / (pow(cbp, 7) + pow(25, 7)));
    double sl = 1 + 0.015 * pow(lb - 50, 2) / sqrt(20 + pow(lb - 50, 2));
    double sc = 1 + 0.045 * cbp, sh = 1 + 0.015 * cbp * t, rt = -sin(rad(2 * dt)) * rc;
    return sqrt(pow(dl / sl, 2) + pow(dc / sc, 2) + pow(dhh / sh, 2) + rt * (dc / sc) * (dhh / sh));
}

/* The metric itself, against Sharma, Wu and Dalal's published test pairs. */
static void test_theme_ciede2000_reference(void **state)
{
    (void)state;
    static const struct {
        struct lab p, q;
        double de;
    } ref[] = {
        {{50, 2.6772, -79.7751}, {50, 0, -82.7485}, 2.0425},
        {{50, 0, 0}, {50, -1, 2}, 2.3669},
        {{50, 2.5, 0}, {73, 25, -18}, 27.1492},
        {{50, 2.5, 0}, {61, -5, 29}, 22.8977},
        {{50, 2.5, 0}, {56, -27, -3}, 31.9030},
        {{50, 2.5, 0}, {58, 24, 15}, 19.4535},
        {{60.2574, -34.0099, 36.2677}, {60.4626, -34.1751, 39.4387}, 1.2644},
    };
    for (size_t i = 0; i < sizeof ref / sizeof ref[0]; i++) {
        assert_true(fabs(de2000(ref[i].p, ref[i].q) - ref[i].de) < 1e-3);
        assert_true(fabs(de2000(ref[i].q, ref[i].p) - ref[i].de) < 1e-3);
    }
    /* sRGB white is L* 100 and neutral; black is 0. */
    struct lab w = to_lab(xterm(15)), k = to_lab(xterm(0));
    assert_true(fabs(w.l - 100) < 0.1 && fabs(w.a) < 0.1 && fabs(w.b) < 0.1);
    assert_true(fabs(k.l) < 1e-9);
}

/* The threshold catches what a class could not tell apart: the old projector io and sleep. */
static void test_theme_threshold_catches_old_pairs(void **state)
{
    (void)state;
    assert_true(de2000(to_lab(xterm(45)), to_lab(xterm(51))) < THEME_MIN_DELTA_E);
    /* ... and the old default's idle and done were both white. */
    assert_true(de2000(to_lab(xterm(7)), to_lab(xterm(7))) < THEME_MIN_DELTA_E);
}

/*
 * The on-screen colour of a state in theme t on a 256-colour terminal, where
 * the terminal's own text colour is fg (for a theme that keeps it).
 */
static struct rgb state_rgb(const struct theme *t, unsigned s, struct rgb fg)
{
    short c = t->c256[state_info(s)->colour];
    if (c < 0)
        c = t->fg;
    return c < 0 ? fg : xterm(c);
}

static void check_theme(const struct theme *t, struct rgb fg, struct rgb bg, const char *where)
{
    struct lab back = to_lab(t->bg < 0 ? bg : xterm(t->bg));
    for (unsigned i = 0; i < TRACE_NSTATES; i++) {
        struct lab li = to_lab(state_rgb(t, i, fg));
        double d = de2000(li, back);
        if (d < THEME_MIN_BG_DELTA_E)
            fail_msg("theme %s %s: %s is %.1f from the background", t->name, where,
                     state_info(i)->name, d);
        for (unsigned j = i + 1; j < TRACE_NSTATES; j++) {
            d = de2000(li, to_lab(state_rgb(t, j, fg)));
            if (d < THEME_MIN_DELTA_E)
                fail_msg("theme %s %s: %s and %s are only %.1f apart", t->name, where,
                         state_info(i)->name, state_info(j)->name, d);
        }
    }
}

/* Every pair of states, in every theme with colour, on dark and light terminals. */
static void test_theme_state_colours_apart(void **state)
{
    (void)state;
    int themed = 0;
    for (int k = 0; theme_table[k]; k++) {
        const struct theme *t = theme_table[k];
        if (!t->colour)
            continue;
        themed++;
        /* A theme that keeps the terminal's colours must read on a dark and a light one. */
        check_theme(t, xterm(7), xterm(0), "on a dark terminal");
        check_theme(t, xterm(0), xterm(15), "on a light terminal");
    }
    assert_int_equal(themed, 3);
}

/* Without colour the glyph alone says the state: all distinct, one column, printable. */
static void test_theme_glyphs_distinct(void **state)
{
    (void)state;
    assert_non_null(setlocale(LC_ALL, "C.UTF-8"));
    for (unsigned i = 0; i < TRACE_NSTATES; i++) {
        wchar_t u = state_glyph(i, 0), a = state_glyph(i, 1);
        assert_int_equal(wcwidth(u), 1);
        assert_true(a > ' ' && a < 127);
        /* '|' separates the lane names and ends headless rows. */
        assert_int_not_equal(a, '|');
        assert_int_not_equal(u, L'|');
        for (unsigned j = i + 1; j < TRACE_NSTATES; j++) {
            if (state_glyph(j, 0) == u || state_glyph(j, 1) == a)
                fail_msg("%s and %s share a glyph", state_info(i)->name, state_info(j)->name);
        }
        assert_int_equal(state_parse(state_info(i)->name), (int)i);
    }
    /* The legend lists each state once. */
    unsigned seen = 0;
    for (int r = 0; r < TRACE_NSTATES; r++)
        seen |= 1u << state_by_rank(r);
    assert_int_equal(seen, (1u << TRACE_NSTATES) - 1);
}

/* The projector theme draws nothing dim; the default keeps dim for secondary text. */
static void test_theme_contrast_never_dim(void **state)
{
    (void)state;
    const struct theme *c = theme_find("contrast"), *d = theme_find("default");
    assert_non_null(c);
    assert_non_null(d);
    for (unsigned attr = 0; attr < 16; attr++)
        for (unsigned colour = 0; colour < COLOUR_COUNT; colour++)
            for (int on = 0; on < 2; on++)
                assert_int_equal(theme_cell_attr(c, on, colour, attr) & GRID_DIM, 0);
    assert_int_equal(theme_cell_attr(d, true, 0, GRID_DIM), GRID_DIM);
    /* Coloured cells are bold in contrast; without colour, running still stands out. */
    assert_true(theme_cell_attr(c, true, COLOUR_RED, 0) & GRID_BOLD);
    assert_true(theme_cell_attr(theme_find("mono"), false, COLOUR_GREEN, 0) & GRID_BOLD);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_theme_ciede2000_reference),
        cmocka_unit_test(test_theme_threshold_catches_old_pairs),
        cmocka_unit_test(test_theme_state_colours_apart),
        cmocka_unit_test(test_theme_glyphs_distinct),
        cmocka_unit_test(test_theme_contrast_never_dim),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
