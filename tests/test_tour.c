/*
 * Tours: the built-in tours parse, walk the course in order and say the
 * same in every language; every mistake in a tour file names its line;
 * stepping through a tour restarts a scene only when the set-up changes;
 * the tour, theme and lane-rows options parse.
 */
#include "config.h"

#include "testutil.h"

#include <stdio.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "scene.h"
#include "theme.h"
#include "tour.h"

static void test_tour_builtin_parses(void **state)
{
    (void)state;
    int languages = 0;
    for (const struct tour__text *b = tour__builtin; b->text; b++, languages++) {
        struct tour t;
        char err[256] = "";
        int rc = tour_parse(&t, b->text, b->lang, err, sizeof err);
        if (rc)
            fail_msg("built-in tour '%s': %s", b->lang, err);
        assert_true(t.n >= 10);
        for (int i = 0; i < t.n; i++) {
            assert_non_null(t.step[i].scene);
            assert_non_null(t.step[i].text);
            assert_true(strlen(t.step[i].title) > 0);
        }
        /* It starts at the post office and ends on the GPU. */
        assert_string_equal(t.step[0].scene->name, "postoffice");
        assert_string_equal(t.step[t.n - 1].scene->name, "raymarch");
        tour_free(&t);
    }
    assert_true(languages >= 2);
}

/* Every translation runs the same steps as the English tour; only the words differ. */
static void test_tour_translations_match(void **state)
{
    (void)state;
    struct tour en;
    char err[256];
    assert_int_equal(tour_parse(&en, tour_builtin(""), "en", err, sizeof err), 0);
    for (const struct tour__text *b = tour__builtin; b->text; b++) {
        if (!*b->lang)
            continue;
        struct tour t;
        assert_int_equal(tour_parse(&t, b->text, b->lang, err, sizeof err), 0);
        assert_int_equal(t.n, en.n);
        for (int i = 0; i < en.n; i++) {
            assert_ptr_equal(t.step[i].scene, en.step[i].scene);
            assert_int_equal(t.step[i].mode, en.step[i].mode);
            assert_memory_equal(t.step[i].params, en.step[i].params, sizeof en.step[i].params);
        }
        tour_free(&t);
    }
    assert_ptr_equal(tour_builtin("ko_KR.UTF-8"), tour_builtin("ko"));
    assert_ptr_equal(tour_builtin("xx_YY"), tour_builtin(""));
    tour_free(&en);
}

static void test_tour_inherits(void **state)
{
    (void)state;
    struct tour t;
    char err[256];
    const char *src = "# a comment\n"
                      "\n"
                      "step one\n"
                      "scene prodcons\n"
                      "mode processes\n"
                      "set capacity=3\n"
                      "say first line\n"
                      "say   continues\n"
                      "say\n"
                      "say second paragraph\n"
                      "step two\n"
                      "set producers=2\n"
                      "step three\n"
                      "scene gil\n";
    assert_int_equal(tour_parse(&t, src, "t", err, sizeof err), 0);
    assert_int_equal(t.n, 3);
    const struct scene_entry *pc = scene_find("prodcons");
    int cap = scene_param_find(pc, "capacity"), prod = scene_param_find(pc, "producers");
    assert_int_equal(t.step[0].mode, 1);
    assert_int_equal(t.step[0].params[cap], 3);
    assert_string_equal(t.step[0].text, "first line continues\n\nsecond paragraph");
    /* Step two: same scene and mode, the scene's defaults plus its own set. */
    assert_ptr_equal(t.step[1].scene, pc);
    assert_int_equal(t.step[1].mode, 1);
    assert_int_equal(t.step[1].params[cap], pc->params[cap].def);
    assert_int_equal(t.step[1].params[prod], 2);
    assert_null(t.step[1].text);
    /* Step three: a new scene starts at its first mode. */
    assert_ptr_equal(t.step[2].scene, scene_find("gil"));
    assert_int_equal(t.step[2].mode, 0);
    assert_int_equal(t.step[0].line, 3);
    assert_int_equal(t.step[2].line, 13);
    tour_free(&t);
}

static void test_tour_errors_name_the_line(void **state)
{
    (void)state;
    static const struct {
        const char *src, *want;
    } bad[] = {
        {"", "t:0: no steps"},
        {"# only a comment\n", "t:1: no steps"},
        {"scene gil\n", "t:1: 'scene' before the first step"},
        {"step a\nscene nosuch\n", "t:2: unknown scene 'nosuch'"},
        {"step a\nscene gil\nmode 9\n", "t:3: scene 'gil' has no mode '9'"},
        {"step a\nmode 1\n", "t:2: mode before any scene"},
        {"step a\nset x=1\n", "t:2: set before any scene"},
        {"step a\nscene gil\nset bogus=1\n", "t:3: scene 'gil' has no parameter 'bogus'"},
        {"step a\nscene gil\nset switch_us=1\n", "t:3: switch_us: 1 is out of range"},
        {"step a\nscene gil\nmode 2\nscene prodcons\n", "t:4: scene must come before"},
        {"step a\nscene gil\nsya hello\n", "t:3: unknown word 'sya'"},
        {"step\n", "t:1: a step needs a title"},
        {"step a\n\n\nstep b\nscene gil\n", "t:1: step 'a' names no scene"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tour t;
        char err[256] = "";
        if (tour_parse(&t, bad[i].src, "t", err, sizeof err) == 0)
            fail_msg("accepted: %s", bad[i].src);
        if (!strstr(err, bad[i].want))
            fail_msg("for %s: got '%s', want '%s'", bad[i].src, err, bad[i].want);
        assert_int_equal(t.n, 0);
    }
    /* Too long: a line, and a step's narration. */
    static char big[8192];
    memset(big, 0, sizeof big);
    strcpy(big, "step a\nscene gil\nsay ");
    memset(big + strlen(big), 'x', 2000);
    struct tour t;
    char err[256];
    assert_int_equal(tour_parse(&t, big, "t", err, sizeof err), -1);
    assert_non_null(strstr(err, "t:3: line longer than"));
    memset(big, 0, sizeof big);
    strcpy(big, "step a\nscene gil\n");
    for (int i = 0; i < 10; i++) {
        strcat(big, "say ");
        memset(big + strlen(big), 'y', 500);
        strcat(big, "\n");
    }
    assert_int_equal(tour_parse(&t, big, "t", err, sizeof err), -1);
    assert_non_null(strstr(err, "narration is longer than"));
}

static void test_tour_load_files(void **state)
{
    (void)state;
    struct tour t;
    char err[256], path[] = "/tmp/conctui-test-tour-XXXXXX";
    assert_int_equal(tour_load(&t, "/nonexistent/x.tour", err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.tour: cannot open the tour"));
    int fd = mkstemp(path);
    assert_true(fd >= 0);
    FILE *f = fdopen(fd, "w");
    fputs("step a\nscene gil\nmode nogil\n", f);
    fclose(f);
    assert_int_equal(tour_load(&t, path, err, sizeof err), 0);
    assert_int_equal(t.step[0].mode, 3);
    tour_free(&t);
    f = fopen(path, "w");
    fputs("step a\nscene gil\nmode nogil\nbad\n", f);
    fclose(f);
    assert_int_equal(tour_load(&t, path, err, sizeof err), -1);
    char want[300];
    snprintf(want, sizeof want, "%s:4: unknown word 'bad'", path);
    assert_non_null(strstr(err, want));
    f = fopen(path, "w");
    fwrite("step a\0\n", 1, 8, f);
    fclose(f);
    assert_int_equal(tour_load(&t, path, err, sizeof err), -1);
    assert_non_null(strstr(err, "not a text file"));
    unlink(path);
    assert_int_equal(tour_load(&t, NULL, err, sizeof err), 0);
    assert_true(t.n >= 10);
    tour_free(&t);
}

/* Going through steps: a step with the same set-up keeps the workers running. */
static void test_tour_goto_restarts_only_when_needed(void **state)
{
    (void)state;
    test_watchdog(60);
    struct app a;
    struct tour t;
    char err[256];
    const char *src = "step a\nscene prodcons\nset capacity=4\nsay one\n"
                      "step b\nset capacity=4\nsay the same set-up\n"
                      "step c\nset capacity=5\n"
                      "step d\nscene gil\nset cpu_threads=1\nset io_threads=0\n";
    assert_int_equal(tour_parse(&t, src, "t", err, sizeof err), 0);
    assert_int_equal(app_init(&a), 0);
    a.tour = &t;
    assert_int_equal(app_tour_goto(&a, 0), 0);
    uint64_t started = a.ctx.t_start;
    assert_int_equal(app_key(&a, '\n', 80), APP_CONTINUE);
    assert_int_equal(a.tour_step, 1);
    assert_true(a.ctx.t_start == started);
    assert_int_equal(app_key(&a, '>', 80), APP_CONTINUE);
    assert_int_equal(a.tour_step, 2);
    assert_true(a.ctx.t_start != started);
    assert_int_equal(a.params[scene_param_find(a.scene, "capacity")], 5);
    app_key(&a, '\n', 80);
    assert_ptr_equal(a.scene, scene_find("gil"));
    /* Past the end: a message, the last step stays. */
    app_key(&a, '\n', 80);
    assert_int_equal(a.tour_step, 3);
    assert_non_null(strstr(a.msg, "last step"));
    app_key(&a, '<', 80);
    app_key(&a, APP_KEY_BACKSPACE, 80);
    assert_int_equal(a.tour_step, 1);
    assert_ptr_equal(a.scene, scene_find("prodcons"));
    app_shutdown(&a);
    tour_free(&t);
}

static int parse(struct cli *o, char *err, int argc, char **argv)
{
    int rc = cli_parse(argc, argv, o, err, 256);
    return rc ? rc : cli_resolve(o, err, 256);
}

static void test_tour_options(void **state)
{
    (void)state;
    struct cli o;
    char err[256];
    char *a1[] = {"conctui", "--tour"};
    assert_int_equal(parse(&o, err, 2, a1), 0);
    assert_true(o.tour);
    assert_null(o.tour_file);
    char *a2[] = {"conctui", "--tour", "my.tour", "--headless", "-d", "1"};
    assert_int_equal(parse(&o, err, 6, a2), 0);
    assert_string_equal(o.tour_file, "my.tour");
    char *a3[] = {"conctui", "--tour=x.tour", "--scene", "gil"};
    assert_int_equal(parse(&o, err, 4, a3), 2);
    assert_non_null(strstr(err, "--tour chooses the scenes"));
    char *a4[] = {"conctui", "--tour", "--headless"};
    assert_int_equal(parse(&o, err, 3, a4), 2);
    assert_non_null(strstr(err, "--duration"));
    char *a5[] = {"conctui", "--theme", "contrast", "--lane-rows", "3"};
    assert_int_equal(parse(&o, err, 5, a5), 0);
    assert_ptr_equal(theme_find(o.theme), theme_table[1]);
    assert_int_equal(o.lane_rows, 3);
    char *a6[] = {"conctui", "--theme", "neon"};
    assert_int_equal(parse(&o, err, 3, a6), 2);
    assert_non_null(strstr(err, "no theme 'neon'"));
    char *a7[] = {"conctui", "--lane-rows", "4"};
    assert_int_equal(parse(&o, err, 3, a7), 2);
    char *a8[] = {"conctui", "--lane-rows", "2x"};
    assert_int_equal(parse(&o, err, 3, a8), 2);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tour_builtin_parses),
        cmocka_unit_test(test_tour_translations_match),
        cmocka_unit_test(test_tour_inherits),
        cmocka_unit_test(test_tour_errors_name_the_line),
        cmocka_unit_test(test_tour_load_files),
        cmocka_unit_test(test_tour_goto_restarts_only_when_needed),
        cmocka_unit_test(test_tour_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
