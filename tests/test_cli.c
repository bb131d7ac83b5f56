/* Command line and --set parsing: every bad input is a clear usage error. */
#include "config.h"

#include "testutil.h"

#include <string.h>

#include "cli.h"
#include "scene.h"

static int parse(struct cli *o, char *err, const char *a1, const char *a2, const char *a3,
                 const char *a4, const char *a5, const char *a6)
{
    char *argv[8] = {"conctui"};
    int argc = 1;
    const char *args[] = {a1, a2, a3, a4, a5, a6};
    for (int i = 0; i < 6 && args[i]; i++)
        argv[argc++] = (char *)args[i];
    int rc = cli_parse(argc, argv, o, err, 256);
    if (rc == 0)
        rc = cli_resolve(o, err, 256);
    return rc;
}

static void test_cli_headless_ok(void **state)
{
    (void)state;
    struct cli o;
    char err[256];
    assert_int_equal(parse(&o, err, "--headless", "--scene", "prodcons", "--duration", "1.5",
                           "--set=capacity=20"),
                     0);
    assert_true(o.headless);
    assert_true(o.duration == 1.5);
    assert_ptr_equal(o.entry, scene_find("prodcons"));
    assert_int_equal(o.params[scene_param_find(o.entry, "capacity")], 20);
    assert_int_equal(o.params[scene_param_find(o.entry, "producers")], 1);
}

static void test_cli_mode_by_name_and_number(void **state)
{
    (void)state;
    struct cli o;
    char err[256];
    assert_int_equal(parse(&o, err, "--scene", "prodcons", "--mode", "processes", NULL, NULL), 0);
    assert_int_equal(o.mode_idx, 1);
    assert_int_equal(parse(&o, err, "-S", "prodcons", "-m", "3", NULL, NULL), 0);
    assert_int_equal(o.mode_idx, 2);
    assert_int_equal(parse(&o, err, "-S", "prodcons", "-m", "4", NULL, NULL), 2);
    assert_non_null(strstr(err, "1=threads"));
    assert_int_equal(parse(&o, err, "-S", "prodcons", "-m", "", NULL, NULL), 2);
}

static void test_cli_errors(void **state)
{
    (void)state;
    struct cli o;
    char err[256];
    static const char *bad[][6] = {
        {"--bogus"},
        {"--duration"},
        {"--headless", "--scene", "prodcons"},
        {"--headless", "--duration", "1"},
        {"--duration", "abc"},
        {"--duration", "-1"},
        {"--duration", "nan"},
        {"--duration", "1e9"},
        {"--duration", ""},
        {"--width", "5"},
        {"--width", "99999999999999999999"},
        {"--json"},
        {"extra"},
        {"--scene", "nosuch"},
        {"-S", "prodcons", "--set", "capacity=0"},
        {"-S", "prodcons", "--set", "capacity=1025"},
        {"-S", "prodcons", "--set", "capacity="},
        {"-S", "prodcons", "--set", "capacity=12x"},
        {"-S", "prodcons", "--set", "capacity=99999999999999999999999"},
        {"--set", "=3"},
        {"--set", "nokey"},
        {"--set", "nosuch=1"},
    };
    for (unsigned i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        err[0] = '\0';
        int rc = parse(&o, err, bad[i][0], bad[i][1], bad[i][2], bad[i][3], bad[i][4], bad[i][5]);
        if (rc != 2)
            fail_msg("case %u (%s %s) was accepted", i, bad[i][0], bad[i][1] ? bad[i][1] : "");
        assert_true(strlen(err) > 5);
    }
    parse(&o, err, "--scene", "nosuch", NULL, NULL, NULL, NULL);
    assert_non_null(strstr(err, "prodcons")); /* lists the valid scenes */
    parse(&o, err, "--scene", "prodcons", "--set", "nosuch=1", NULL, NULL);
    assert_non_null(strstr(err, "capacity")); /* lists the valid parameters */
    parse(&o, err, "--scene", "prodcons", "--set", "capacity=5000", NULL, NULL);
    assert_non_null(strstr(err, "[1, 1024]"));
}

static void test_cli_scene_table_is_consistent(void **state)
{
    (void)state;
    assert_true(scene_count() >= 1);
    for (int i = 0; scene_table[i]; i++) {
        const struct scene_entry *e = scene_table[i];
        assert_ptr_equal(scene_find(e->name), e);
        assert_true(e->nmodes >= 1 && e->nmodes <= 9);
        assert_true(e->nparams <= SCENE_MAX_PARAMS);
        assert_non_null(e->start);
        assert_non_null(e->stop);
        assert_non_null(e->stats);
        for (int m = 0; m < e->nmodes; m++)
            assert_true(strlen(e->modes[m].narration) > 40);
        for (int p = 0; p < e->nparams; p++) {
            const struct scene_param *sp = &e->params[p];
            assert_true(sp->min <= sp->def && sp->def <= sp->max);
        }
    }
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_cli_headless_ok),
        cmocka_unit_test(test_cli_mode_by_name_and_number),
        cmocka_unit_test(test_cli_errors),
        cmocka_unit_test(test_cli_scene_table_is_consistent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
