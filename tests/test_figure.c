/* Figures as people read them: one test per formatting rule, and the scenes' tables. */
#include "config.h"

#include "testutil.h"

#include <locale.h>
#include <stdio.h>
#include <string.h>

#include "figure.h"
#include "grid.h"
#include "scene.h"

static char val[64], unit[48];

static const char *fmt(const struct scene_figure *f, double v, const char *u)
{
    static char both[128];
    figure_format(f, v, u, val, sizeof val, unit, sizeof unit);
    snprintf(both, sizeof both, "%s%s%s", val, unit[0] ? " " : "", unit);
    return both;
}

/* Exact integers with thousands separators where exactness matters. */
static void test_figure_exact_integers(void **state)
{
    (void)state;
    char b[64];
    figure_fmt_int(b, sizeof b, 5000000050000000.0);
    assert_string_equal(b, "5,000,000,050,000,000");
    figure_fmt_int(b, sizeof b, 0);
    assert_string_equal(b, "0");
    figure_fmt_int(b, sizeof b, 999);
    assert_string_equal(b, "999");
    figure_fmt_int(b, sizeof b, 1000);
    assert_string_equal(b, "1,000");
    figure_fmt_int(b, sizeof b, -1234567);
    assert_string_equal(b, "-1,234,567");
    const struct scene_figure exact = {"result", "sum", "", FIG_INT, 0, 0, NULL, NULL, 0};
    assert_string_equal(fmt(&exact, 5000000050000000.0, ""), "5,000,000,050,000,000");
    /* A count under a million is written exactly even without an entry. */
    assert_string_equal(fmt(NULL, 23980, ""), "23,980");
    assert_string_equal(fmt(NULL, 400, "parcels"), "400 parcels");
}

/* Three significant digits, never an exponent. */
static void test_figure_significant_digits(void **state)
{
    (void)state;
    char b[64];
    static const struct {
        double v;
        const char *want;
    } cases[] = {
        {226.754, "227"},     {1.99571, "2.00"},   {0.221555, "0.222"}, {22.1555, "22.2"},
        {0.00266, "0.00266"}, {11773.4, "11,773"}, {-0.5, "-0.500"},    {0.0999, "0.0999"},
        {9.999, "10.0"},      {1e-9, "0"},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        figure_fmt_sig(b, sizeof b, cases[i].v);
        assert_string_equal(b, cases[i].want);
    }
}

/* SI prefixes go on the unit, not on the number. */
static void test_figure_unit_prefixes(void **state)
{
    (void)state;
    assert_string_equal(fmt(NULL, 13400, "ms"), "13.4 s");
    assert_string_equal(fmt(NULL, 807.841, "ms"), "808 ms");
    assert_string_equal(fmt(NULL, 0.053318, "ms"), "53.3 \xc2\xb5s");
    assert_string_equal(fmt(NULL, 94.208, "us"), "94.2 \xc2\xb5s");
    assert_string_equal(fmt(NULL, 5424.52, "ns"), "5.42 \xc2\xb5s");
    assert_string_equal(fmt(NULL, 0, "ms"), "0 ms");
    assert_string_equal(fmt(NULL, 256, "MiB"), "256 MiB");
    assert_string_equal(fmt(NULL, 8192, "MiB"), "8 GiB");
    assert_string_equal(fmt(NULL, 9977540, "samples/s"), "9.98 Msamples/s");
    assert_string_equal(fmt(NULL, 19802600, "samples"), "19.8 Msamples");
    assert_string_equal(fmt(NULL, 2e9, ""), "2.00 G");
    /* a unit given with its prefix is read from its base */
    assert_string_equal(fmt(NULL, 0.0702, "Msamples/s"), "70,200 samples/s");
    assert_string_equal(fmt(NULL, 9.98, "Msamples/s"), "9.98 Msamples/s");
    /* no prefix on shares and ratios */
    assert_string_equal(fmt(NULL, 99.7115, "%"), "99.7 %");
    assert_string_equal(fmt(NULL, 1.26413, "x"), "1.26 x");
    /* a spread is written in the unit its value is shown in */
    assert_true(figure_in_unit(1500, "ms", "s") == 1.5);
    assert_true(figure_in_unit(2.5e6, "samples", "Msamples") == 2.5);
    assert_true(figure_in_unit(3, "x", "x") == 3);
}

/* Words for enums and booleans. */
static void test_figure_words(void **state)
{
    (void)state;
    static const char *const backends[] = {"one thread", "OpenMP", "CUDA"};
    const struct scene_figure be = {"backend", "backend", NULL, FIG_ENUM, 0, 0, NULL, backends, 3};
    const struct scene_figure on = {"uring", "io_uring", NULL, FIG_BOOL, 0, 0, NULL, NULL, 0};
    assert_string_equal(fmt(&be, 1, ""), "OpenMP");
    assert_string_equal(fmt(&be, 2, ""), "CUDA");
    assert_string_equal(fmt(&be, 7, ""), "7"); /* a value without a word: its number */
    assert_string_equal(fmt(&on, 1, ""), "on");
    assert_string_equal(fmt(&on, 0, ""), "off");
    assert_string_equal(figure_word(&be, 0), "one thread");
    assert_null(figure_word(NULL, 0));
    /* the parameter line takes its words from the scene's table */
    const struct scene_entry *rm = scene_find("raymarch");
    assert_string_equal(figure_word(figure_param_words(rm, "backend"), 1), "OpenMP");
    assert_string_equal(figure_word(figure_param_words(rm, "schedule"), 0), "static");
    assert_null(figure_param_words(rm, "tile"));
}

/* A figure that does not apply to the mode or the parameters is not drawn. */
static void test_figure_applies(void **state)
{
    (void)state;
    const struct scene_entry *rx = scene_find("reactor"), *ps = scene_find("parsum");
    const struct scene_figure *u = figure_find(rx, "uring", NULL, 0);
    assert_non_null(u);
    assert_false(figure_applies(u, rx, scene_mode_parse(rx, "reactor"), NULL));
    assert_true(figure_applies(u, rx, scene_mode_parse(rx, "proactor"), NULL));
    const struct scene_figure *arr = figure_find(ps, "array", NULL, 0);
    int64_t params[SCENE_MAX_PARAMS] = {0};
    int i = scene_param_find(ps, "array");
    assert_true(i >= 0);
    params[i] = 0;
    assert_false(figure_applies(arr, ps, 0, params));
    params[i] = 1;
    assert_true(figure_applies(arr, ps, 0, params));
}

/* Labels: the entry's, or the name with spaces; a recording's rec.NAME reads as NAME. */
static void test_figure_labels(void **state)
{
    (void)state;
    char b[96];
    const struct scene_figure f = {
        "wait_p99_others_ms", "wait p99 (others)", NULL, FIG_AUTO, 0, 0, NULL, NULL, 0};
    assert_string_equal(figure_label(&f, f.name, b, sizeof b), "wait p99 (others)");
    assert_string_equal(figure_label(NULL, "exactly_once_violations", b, sizeof b),
                        "exactly once violations");
    assert_string_equal(figure_label(NULL, "rec.total_ms", b, sizeof b), "total ms");
    assert_non_null(figure_find(NULL, "trace_events", NULL, 0));
    assert_non_null(figure_find(NULL, "rec.trace_events", NULL, 0));
}

/* Comparison columns: a pattern with one '*' whose key is a row. */
static void test_figure_columns(void **state)
{
    (void)state;
    char key[32];
    assert_true(figure_match("cmp_*_rps", "cmp_reactor_rps", key, sizeof key));
    assert_string_equal(key, "reactor");
    assert_true(figure_match("cmp_*_p99_ms", "cmp_mode3_p99_ms", key, sizeof key));
    assert_string_equal(key, "mode3");
    assert_false(figure_match("cmp_*_rps", "cmp_rps", key, sizeof key));
    assert_false(figure_match("cmp_*_us", "cmp_reactor_p50_us", key, sizeof key)); /* no '_' */
    assert_false(figure_match("cmp_*_rps", "cmp_reactor_rps_x", key, sizeof key));
    assert_true(figure_match("rps", "rps", NULL, 0));
}

/* Ellipses: a text that does not fit ends at a word with '…'. */
static void test_figure_ellipsis(void **state)
{
    (void)state;
    int cut;
    const char *s = "the narration gets the width to be read whole";
    int n = grid_fit_len(s, 20, &cut);
    assert_true(cut);
    assert_int_equal(n, (int)strlen("the narration gets"));
    n = grid_fit_len(s, 100, &cut);
    assert_false(cut);
    assert_int_equal(n, (int)strlen(s));
    /* one word longer than the room: cut, with the ellipsis */
    n = grid_fit_len("exactly_once_violations", 10, &cut);
    assert_true(cut);
    assert_int_equal(n, 9);
    /* separators do not end a shortened text */
    n = grid_fit_len("mode 1/3: threads, mutex", 16, &cut);
    assert_true(cut);
    assert_int_equal(n, (int)strlen("mode 1/3"));
    struct grid g = {0};
    assert_int_equal(grid_resize(&g, 1, 30), 0);
    int w = grid_text_fit(&g, 0, 0, 12, "throughput 238 parcels/s", 0, 0);
    char row[128];
    grid_row_utf8(&g, 0, row, sizeof row);
    assert_int_equal(w, 11); /* "throughput" and the ellipsis */
    assert_true(strncmp(row, "throughput\xe2\x80\xa6", strlen("throughput\xe2\x80\xa6")) == 0);
    assert_non_null(strstr(row, "\xe2\x80\xa6"));
    assert_null(strstr(row, "238"));
    /* wide characters: the Korean words keep whole */
    n = grid_fit_len("\xec\xb2\x98\xeb\xa6\xac\xeb\x9f\x89 \xec\xa7\x80\xec\x97\xb0", 7, &cut);
    assert_true(cut);
    assert_int_equal(n, 9); /* 처리량 (6 columns) and the ellipsis */
    grid_free(&g);
}

/* Every scene's table: labels and units, headlines 1-3, enum words, patterns that parse. */
static void test_figure_scene_tables(void **state)
{
    (void)state;
    for (int i = 0; i < scene_count(); i++) {
        const struct scene_entry *e = scene_table[i];
        assert_non_null(e->figures);
        for (int k = 0; k < e->nfigures; k++) {
            const struct scene_figure *f = &e->figures[k];
            assert_non_null(f->name);
            if (!(f->flags & FIG_HIDE)) {
                assert_non_null(f->label);
                assert_true(strlen(f->label) > 0 && strlen(f->label) <= 24); /* short */
            }
            if (f->fmt == FIG_ENUM)
                assert_true(f->nwords > 0 && f->words);
            if (f->flags & FIG_COLUMN)
                assert_non_null(strchr(f->name, '*'));
            if (f->when) {
                char p[64];
                snprintf(p, sizeof p, "%s", f->when);
                char *eq = strchr(p, '=');
                if (eq)
                    *eq = '\0';
                assert_true(scene_param_find(e, p) >= 0);
            }
            for (int m = e->nmodes; f->modes && m < 32; m++)
                assert_false(f->modes & FIG_MODE(m)); /* a mode the scene does not have */
            for (int j = 0; j < k; j++)
                assert_string_not_equal(e->figures[j].name, f->name);
        }
        /* Each mode has one to three headline figures. */
        for (int m = 0; m < e->nmodes; m++) {
            int head = 0;
            for (int k = 0; k < e->nfigures; k++)
                if ((e->figures[k].flags & FIG_HEADLINE) &&
                    figure_applies(&e->figures[k], e, m, NULL))
                    head++;
            assert_true(head >= 1 && head <= 3);
        }
    }
}

int main(void)
{
    setlocale(LC_ALL, "C.UTF-8");
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_figure_exact_integers),
        cmocka_unit_test(test_figure_significant_digits),
        cmocka_unit_test(test_figure_unit_prefixes),
        cmocka_unit_test(test_figure_words),
        cmocka_unit_test(test_figure_labels),
        cmocka_unit_test(test_figure_applies),
        cmocka_unit_test(test_figure_columns),
        cmocka_unit_test(test_figure_ellipsis),
        cmocka_unit_test(test_figure_scene_tables),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
