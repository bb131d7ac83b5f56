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
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

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

/* Every step of the built-in tours says what its run shows. */
static void test_tour_builtin_expects(void **state)
{
    (void)state;
    for (const struct tour__text *b = tour__builtin; b->text; b++) {
        struct tour t;
        char err[256];
        assert_int_equal(tour_parse(&t, b->text, b->lang, err, sizeof err), 0);
        for (int i = 0; i < t.n; i++)
            if (t.step[i].nexpect == 0)
                fail_msg("tour '%s' step %d (%s) has no expect line", b->lang, i + 1,
                         t.step[i].title);
        tour_free(&t);
    }
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
            /* The same claims are checked, written the same way, for the same time. */
            assert_true(t.step[i].check_s == en.step[i].check_s);
            assert_int_equal(t.step[i].nexpect, en.step[i].nexpect);
            for (int j = 0; j < en.step[i].nexpect; j++)
                assert_string_equal(t.step[i].expect[j].text, en.step[i].expect[j].text);
            /* The same questions, with the same keys and claims (only the words differ). */
            assert_int_equal(t.step[i].ask != NULL, en.step[i].ask != NULL);
            assert_int_equal(t.step[i].nanswers, en.step[i].nanswers);
            for (int j = 0; j < en.step[i].nanswers; j++) {
                assert_int_equal(t.step[i].answer[j].key, en.step[i].answer[j].key);
                assert_string_equal(t.step[i].answer[j].when.text, en.step[i].answer[j].when.text);
            }
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

/* A step's title is kept whole, however long (up to a line's length), its
 * characters never cut in the middle. */
static void test_tour_long_title_whole(void **state)
{
    (void)state;
    static char title[900], src[1100];
    size_t n = 0;
    while (n + 40 < sizeof title)
        n += (size_t)snprintf(title + n, sizeof title - n, "word %zu \xea\xb8\xb4 ", n);
    title[n - 1] = '\0'; /* no space at the end, which the parser trims */
    snprintf(src, sizeof src, "step %s\nscene gil\n", title);
    struct tour t;
    char err[256];
    if (tour_parse(&t, src, "t", err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(t.n, 1);
    assert_true(strlen(title) > 800);
    assert_string_equal(t.step[0].title, title);
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
        {"expect x > 1\n", "t:1: 'expect' before the first step"},
        {"step\n", "t:1: a step needs a title"},
        {"step a\n\n\nstep b\nscene gil\n", "t:1: step 'a' names no scene"},
        {"step a\nrun\n", "t:2: run needs a command"},
        {"step a\nrun sh \"-c\n", "t:2: run: a quote is not closed"},
        {"step a\nscene gil\nrun true\n", "t:3: run is the step's subject"},
        {"step a\nrun true\nscene gil\n", "t:3: run is the step's subject"},
        {"step a\nrun true\nrun false\n", "t:3: run is the step's subject"},
        {"step a\nrun true\nstep b\nsay no scene of its own\n", "t:3: step 'b' names no scene"},
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

static const struct tour_expect *one_expect(struct tour *t, const char *line)
{
    char src[512], err[256];
    snprintf(src, sizeof src, "step a\nscene gil\n%s\n", line);
    if (tour_parse(t, src, "t", err, sizeof err) != 0)
        fail_msg("'%s': %s", line, err);
    assert_int_equal(t->step[0].nexpect, 1);
    return &t->step[0].expect[0];
}

static void test_tour_expect_parses(void **state)
{
    (void)state;
    struct tour t;
    const struct tour_expect *x;

    x = one_expect(&t, "expect cmp_loop_total_ms < 0.3 * cmp_one_total_ms");
    assert_int_equal(x->lhs.kind, TOUR_FIGURE);
    assert_string_equal(x->lhs.name, "cmp_loop_total_ms");
    assert_int_equal(x->op, TOUR_LT);
    assert_true(x->k == 0.3);
    assert_int_equal(x->rhs.kind, TOUR_FIGURE);
    assert_string_equal(x->rhs.name, "cmp_one_total_ms");
    assert_string_equal(x->text, "cmp_loop_total_ms < 0.3 * cmp_one_total_ms");
    assert_int_equal(x->line, 3);
    tour_free(&t);

    x = one_expect(&t, "  expect   lane \"clerk\" io > 60%  ");
    assert_int_equal(x->lhs.kind, TOUR_LANE);
    assert_string_equal(x->lhs.name, "clerk");
    assert_int_equal(x->lhs.states, 1u << TRACE_IO);
    assert_int_equal(x->op, TOUR_GT);
    assert_true(x->k == 60);
    assert_int_equal(x->rhs.kind, TOUR_NUMBER);
    tour_free(&t);

    x = one_expect(&t, "expect lane \"omp thread\" run+ready >= 2 * lane \"main\" sleep");
    assert_string_equal(x->lhs.name, "omp thread");
    assert_int_equal(x->lhs.states, (1u << TRACE_RUN) | (1u << TRACE_READY));
    assert_int_equal(x->op, TOUR_GE);
    assert_true(x->k == 2);
    assert_int_equal(x->rhs.kind, TOUR_LANE);
    assert_string_equal(x->rhs.name, "main");
    assert_int_equal(x->rhs.states, 1u << TRACE_SLEEP);
    tour_free(&t);

    x = one_expect(&t, "expect slowdown ~ 1.0 \u00b1 0.3");
    assert_int_equal(x->op, TOUR_NEAR);
    assert_true(x->k == 1.0 && x->tol == 0.3);
    tour_free(&t);
    x = one_expect(&t, "expect slowdown~1+-0.25");
    assert_int_equal(x->op, TOUR_NEAR);
    assert_true(x->k == 1.0 && x->tol == 0.25);
    tour_free(&t);

    x = one_expect(&t, "expect a <= b");
    assert_int_equal(x->op, TOUR_LE);
    assert_true(x->k == 1);
    assert_int_equal(x->rhs.kind, TOUR_FIGURE);
    tour_free(&t);
    x = one_expect(&t, "expect exactly_once_violations = 0");
    assert_int_equal(x->op, TOUR_EQ);
    assert_true(x->k == 0);
    tour_free(&t);
    x = one_expect(&t, "expect rec.total >= -1.5e3");
    assert_string_equal(x->lhs.name, "rec.total");
    assert_true(x->k == -1500);
    tour_free(&t);
    x = one_expect(&t, "expect speedup > 1.3 unless machine_busy");
    assert_string_equal(x->unless, "machine_busy");
    tour_free(&t);

    /* check: seconds or milliseconds; steps without one say nothing. */
    char err[256];
    assert_int_equal(tour_parse(&t,
                                "step a\nscene gil\ncheck 6s\nstep b\ncheck 1500ms\n"
                                "step c\ncheck 2.5\nstep d\n",
                                "t", err, sizeof err),
                     0);
    assert_true(t.step[0].check_s == 6 && t.step[1].check_s == 1.5 && t.step[2].check_s == 2.5);
    assert_true(t.step[3].check_s == 0);
    assert_int_equal(t.step[3].nexpect, 0);
    tour_free(&t);
}

static void test_tour_expect_errors(void **state)
{
    (void)state;
    static const struct {
        const char *line, *want;
    } bad[] = {
        {"expect", "t:3: expect: a figure or lane"},
        {"expect 5 < x", "a figure or lane \"NAME\" STATE expected, not '5'"},
        {"expect x", "a comparison (< <= > >= = ~) expected, not 'the end of the line'"},
        {"expect x == 3", "after the comparison, not '='"},
        {"expect x != 3", "cannot read '!= 3'"},
        {"expect x > ", "after the comparison, not 'the end of the line'"},
        {"expect x > 3 *", "a figure or lane"},
        {"expect x > 3 * 4", "not '4'"},
        {"expect x > 3 y", "'y' after the expectation's end"},
        {"expect x > 0x10", "cannot read '0x10'"},
        {"expect x > 1e999", "cannot read '1e999'"},
        {"expect x > 3ms", "cannot read '3ms'"},
        {"expect x ~ 1", "~ needs a value and a tolerance"},
        {"expect x ~ 1 +- y", "~ needs a value and a tolerance"},
        {"expect x ~ y +- 1", "~ needs a value and a tolerance"},
        {"expect x ~ 1 +- -1", "~ needs a value and a tolerance"},
        {"expect lane clerk io > 5", "lane needs a quoted lane name"},
        {"expect lane \"\" io > 5", "lane needs a quoted lane name"},
        {"expect lane \"clerk io > 5", "cannot read '\"clerk io > 5'"},
        {"expect lane \"clerk\" > 5", "lane \"clerk\" needs a state"},
        {"expect lane \"clerk\" busy > 5", "no state 'busy'"},
        {"expect lane \"clerk\" io+ > 5", "needs a state"},
        {"expect x > 1 unless", "unless needs a figure"},
        {"expect x > 1 unless lane", "unless needs a figure"},
        {"expect x > 1 unless a b", "'b' after the expectation's end"},
        {"expect a_name_that_is_much_longer_than_forty_seven_bytes_x > 1", "is longer than 47"},
        {"check", "check needs a time"},
        {"check 0", "check needs a time"},
        {"check 601s", "check needs a time"},
        {"check 5 s", "check needs a time"},
        {"check 5min", "check needs a time"},
        {"check -1", "check needs a time"},
        {"check 3s\ncheck 4s", "t:4: the step already has a check time"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tour t;
        char src[300], err[256] = "";
        snprintf(src, sizeof src, "step a\nscene gil\n%s\n", bad[i].line);
        if (tour_parse(&t, src, "t", err, sizeof err) == 0)
            fail_msg("accepted: %s", bad[i].line);
        if (!strstr(err, bad[i].want))
            fail_msg("for %s: got '%s', want '%s'", bad[i].line, err, bad[i].want);
        if (strncmp(err, "t:3: ", 5) && strncmp(err, "t:4: ", 5))
            fail_msg("for %s: no line in '%s'", bad[i].line, err);
        assert_int_equal(t.n, 0);
    }
    /* More expectations than a step holds. */
    char big[4096] = "step a\nscene gil\n";
    for (int i = 0; i <= TOUR_MAX_EXPECT; i++)
        strcat(big, "expect x > 1\n");
    struct tour t;
    char err[256];
    assert_int_equal(tour_parse(&t, big, "t", err, sizeof err), -1);
    assert_non_null(strstr(err, "more than 32 expectations"));
}

/* A run's facts for the evaluator: figures and lanes written here. */
static struct scene_stats eval_stats;
static struct tour_lane_total eval_lanes[5];
static struct tour_facts eval_facts(void)
{
    memset(&eval_stats, 0, sizeof eval_stats);
    scene_stat(&eval_stats, "cmp_one_total_ms", 1000, "ms");
    scene_stat(&eval_stats, "cmp_loop_total_ms", 250, "ms");
    scene_stat(&eval_stats, "slowdown", 1.2, "x");
    scene_stat(&eval_stats, "violations", 0, "");
    scene_stat(&eval_stats, "machine_busy", 1, "");
    scene_stat(&eval_stats, "machine_idle", 0, "");
    memset(eval_lanes, 0, sizeof eval_lanes);
    /* clerk: 70 % io, 20 % run, 10 % idle; clerk 1 the same over twice the time. */
    eval_lanes[0].name = "clerk";
    eval_lanes[0].ns[TRACE_IO] = 70;
    eval_lanes[0].ns[TRACE_RUN] = 20;
    eval_lanes[0].ns[TRACE_IDLE] = 10;
    eval_lanes[1].name = "clerk 1";
    eval_lanes[1].ns[TRACE_IO] = 140;
    eval_lanes[1].ns[TRACE_RUN] = 40;
    eval_lanes[1].ns[TRACE_IDLE] = 20;
    /* Not a clerk: another word, and a gauge. */
    eval_lanes[2].name = "clerks busy";
    eval_lanes[2].ns[TRACE_RUN] = 1000;
    eval_lanes[3].name = "clerk";
    eval_lanes[3].gauge = true;
    eval_lanes[3].ns[TRACE_RUN] = 1000;
    eval_lanes[4].name = "silent";
    return (struct tour_facts){.stats = &eval_stats, .lane = eval_lanes, .nlanes = 5};
}

static void test_tour_expect_eval(void **state)
{
    (void)state;
    static const struct {
        const char *line;
        int pass; /* 1 pass, 0 fail, 2 skipped */
        const char *says;
    } cases[] = {
        {"cmp_loop_total_ms < 0.3 * cmp_one_total_ms", 1,
         "measured 250, wanted < 300 = 0.3 * 1000"},
        {"cmp_loop_total_ms < 0.2 * cmp_one_total_ms", 0,
         "measured 250, wanted < 200 = 0.2 * 1000"},
        {"cmp_loop_total_ms <= 250", 1, "measured 250, wanted <= 250"},
        {"cmp_loop_total_ms < 250", 0, "wanted < 250"},
        {"cmp_loop_total_ms >= 250", 1, NULL},
        {"cmp_loop_total_ms > 250", 0, NULL},
        {"cmp_one_total_ms > cmp_loop_total_ms", 1, "measured 1000, wanted > 250"},
        {"cmp_one_total_ms < cmp_loop_total_ms", 0, NULL},
        {"violations = 0", 1, NULL},
        {"violations = 1", 0, NULL},
        {"slowdown ~ 1.0 +- 0.3", 1, "measured 1.2, wanted 0.7..1.3"},
        {"slowdown ~ 1.0 +- 0.1", 0, "measured 1.2, wanted 0.9..1.1"},
        {"slowdown ~ 1.5 +- 0.3", 1, NULL},
        /* Lanes: "clerk" and "clerk 1" (not "clerks busy", not the gauge): 70 % io. */
        {"lane \"clerk\" io > 60%", 1, "measured 70%, wanted > 60%"},
        {"lane \"clerk\" io > 75%", 0, "measured 70%, wanted > 75%"},
        {"lane \"clerk\" io+run ~ 90 +- 0.001", 1, NULL},
        {"lane \"clerk\" idle < 11", 1, NULL},
        {"lane \"clerk 1\" io ~ 70 +- 0.001", 1, NULL},
        {"lane \"clerk\" io > 3 * lane \"clerk\" run", 1, "wanted > 60% = 3 * 20%"},
        {"lane \"clerk\" io > 4 * lane \"clerk\" run", 0, NULL},
        {"lane \"clerks\" run ~ 100 +- 0.001", 1, NULL},
        {"lane \"cler\" run > 0", 0, "no lane \"cler\""},
        {"lane \"silent\" run >= 0", 0, "lane \"silent\" has no time"},
        {"nosuch < 1", 0, "no figure 'nosuch'"},
        {"slowdown < nosuch", 0, "no figure 'nosuch'"},
        {"slowdown < 1 unless machine_busy", 2, "machine_busy is 1: not checked"},
        {"slowdown < 1 unless machine_idle", 0, "measured 1.2, wanted < 1"},
        {"slowdown > 1 unless machine_idle", 1, NULL},
        {"slowdown > 1 unless machine_gone", 0,
         "measured 1.2, wanted > 1; no figure 'machine_gone'"},
        {"nosuch > 1 unless machine_gone", 0, "no figure 'nosuch'; no figure 'machine_gone'"},
    };
    struct tour_facts f = eval_facts();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tour t;
        char line[200], got[200];
        snprintf(line, sizeof line, "expect %s", cases[i].line);
        const struct tour_expect *x = one_expect(&t, line);
        struct tour_outcome o;
        tour_expect_eval(x, &f, &o);
        tour_outcome_describe(x, &o, got, sizeof got);
        int result = o.skipped ? 2 : o.pass;
        if (result != cases[i].pass)
            fail_msg("%s: got %d (%s), want %d", cases[i].line, result, got, cases[i].pass);
        if (cases[i].says && !strstr(got, cases[i].says))
            fail_msg("%s: says '%s', want '%s'", cases[i].line, got, cases[i].says);
        tour_free(&t);
    }
}

/* The built-in tours ask where the course invites a prediction. */
static void test_tour_builtin_asks(void **state)
{
    (void)state;
    static const char *const want[][2] = {
        {"gil", "threads"}, {"postoffice", "epoll"}, {"race", "race"}, {"deadlock", "naive"}};
    for (const struct tour__text *b = tour__builtin; b->text; b++) {
        struct tour t;
        char err[256];
        assert_int_equal(tour_parse(&t, b->text, b->lang, err, sizeof err), 0);
        for (size_t w = 0; w < sizeof want / sizeof want[0]; w++) {
            bool found = false;
            for (int i = 0; i < t.n; i++) {
                const struct tour_step *s = &t.step[i];
                if (!s->ask || strcmp(s->scene->name, want[w][0]) ||
                    strcmp(s->scene->modes[s->mode].name, want[w][1]))
                    continue;
                found = true;
                assert_in_range(s->nanswers, TOUR_MIN_ANSWERS, TOUR_MAX_ANSWERS);
                assert_true(s->check_s > 0);
            }
            if (!found)
                fail_msg("tour '%s' asks nothing about %s mode %s", b->lang, want[w][0],
                         want[w][1]);
        }
        tour_free(&t);
    }
}

static void test_tour_ask_parses(void **state)
{
    (void)state;
    struct tour t;
    char err[256];
    const char *src = "step a\nscene gil\n"
                      "ask How long do two threads take\n"
                      "ask   against one?\n"
                      "answer 1 \"half the time\" when slowdown < 0.7\n"
                      "answer 3 \"the same, \xea\xb0\x99\xeb\x8b\xa4\" when  slowdown ~ 1 +- 0.3 "
                      "unless machine_busy\n"
                      "answer\t2 \"longer\"   when slowdown > 1.3\n"
                      "say words\n"
                      "step b\n";
    assert_int_equal(tour_parse(&t, src, "t", err, sizeof err), 0);
    const struct tour_step *s = &t.step[0];
    assert_string_equal(s->ask, "How long do two threads take against one?");
    assert_int_equal(s->ask_line, 3);
    assert_int_equal(s->nanswers, 3);
    assert_int_equal(s->answer[0].key, '1');
    assert_string_equal(s->answer[0].text, "half the time");
    assert_string_equal(s->answer[0].when.text, "slowdown < 0.7");
    assert_int_equal(s->answer[0].when.op, TOUR_LT);
    assert_int_equal(s->answer[1].key, '3');
    assert_string_equal(s->answer[1].text, "the same, \xea\xb0\x99\xeb\x8b\xa4");
    assert_string_equal(s->answer[1].when.text, "slowdown ~ 1 +- 0.3 unless machine_busy");
    assert_string_equal(s->answer[1].when.unless, "machine_busy");
    assert_int_equal(s->answer[1].when.line, 6);
    assert_int_equal(s->answer[2].key, '2');
    assert_int_equal(tour_answer_find(s, '2'), 2);
    assert_int_equal(tour_answer_find(s, '4'), -1);
    char keys[16];
    tour_answer_keys(s, keys, sizeof keys);
    assert_string_equal(keys, "1 3 2");
    assert_string_equal(s->text, "words");
    assert_true(tour_check_s(s) == TOUR_CHECK_DEFAULT_S);
    /* The next step asks nothing. */
    assert_null(t.step[1].ask);
    assert_int_equal(t.step[1].nanswers, 0);
    tour_free(&t);
    assert_int_equal(tour_parse(&t,
                                "step a\nscene gil\ncheck 2s\nask Q?\nanswer 1 \"a\" when x > 1\n"
                                "answer 2 \"b\" when x <= 1\n",
                                "t", err, sizeof err),
                     0);
    tour_answer_keys(&t.step[0], keys, sizeof keys);
    assert_string_equal(keys, "1-2");
    assert_true(tour_check_s(&t.step[0]) == 2);
    tour_free(&t);
}

static void test_tour_ask_errors(void **state)
{
    (void)state;
    static const struct {
        const char *src, *want;
    } bad[] = {
        {"answer 1 \"a\" when x > 1\n", "t:3: an answer needs a question first"},
        {"ask\n", "t:3: ask needs a question"},
        {"ask Q?\n", "t:3: a question needs 2 to 4 answers"},
        {"ask Q?\nanswer 1 \"a\" when x > 1\n", "t:3: a question needs 2 to 4 answers"},
        {"ask Q?\nanswer 0 \"a\" when x > 1\n", "t:4: an answer starts with its key, 1 to 4"},
        {"ask Q?\nanswer 5 \"a\" when x > 1\n", "t:4: an answer starts with its key"},
        {"ask Q?\nanswer a \"a\" when x > 1\n", "t:4: an answer starts with its key"},
        {"ask Q?\nanswer 12 \"a\" when x > 1\n", "t:4: an answer starts with its key"},
        {"ask Q?\nanswer 1\n", "t:4: an answer starts with its key"},
        {"ask Q?\nanswer 1 a when x > 1\n", "t:4: answer 1 needs its words in quotes"},
        {"ask Q?\nanswer 1 \"\" when x > 1\n", "t:4: answer 1 needs its words in quotes"},
        {"ask Q?\nanswer 1 \"a when x > 1\n", "t:4: answer 1 needs its words in quotes"},
        {"ask Q?\nanswer 1 \"a\"\n", "t:4: answer 1 needs a claim after its words"},
        {"ask Q?\nanswer 1 \"a\" if x > 1\n", "t:4: answer 1 needs a claim after its words"},
        {"ask Q?\nanswer 1 \"a\" when\n", "t:4: answer 1 needs a claim"},
        {"ask Q?\nanswer 1 \"a\" when x >\n", "t:4: answer 1: a number, a figure"},
        {"ask Q?\nanswer 1 \"a\" when x ~ 1\n", "t:4: answer 1: ~ needs a value"},
        {"ask Q?\nanswer 1 \"a\" when x > 1\nanswer 1 \"b\" when x <= 1\n",
         "t:5: the question already has an answer 1"},
        {"ask Q?\nanswer 1 \"a\" when x > 1\nanswer 2 \"b\" when x <= 1\nask R?\n",
         "t:6: the step already asks a question"},
        {"ask Q?\nanswer 1 \"a\" when x > 1\nanswer 2 \"b\" when x > 2\nanswer 3 \"c\" when x > "
         "3\nanswer 4 \"d\" when x > 4\nanswer 4 \"e\" when x > 5\n",
         "t:8: more than 4 answers"},
        {"ask Q?\nanswer 1 \"a\" when x > 1\nanswer 2 \"b\" when x <= 1\nstep b\nask "
         "R?\nanswer 1 \"a\" when x > 1\n",
         "t:7: a question needs 2 to 4 answers"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        struct tour t;
        char src[600], err[256] = "";
        snprintf(src, sizeof src, "step a\nscene gil\n%s", bad[i].src);
        if (tour_parse(&t, src, "t", err, sizeof err) == 0)
            fail_msg("accepted: %s", bad[i].src);
        if (!strstr(err, bad[i].want))
            fail_msg("for %s: got '%s', want '%s'", bad[i].src, err, bad[i].want);
        assert_int_equal(t.n, 0);
    }
}

/* The answer a run supports: exactly one claim holds, else none is the answer. */
static void test_tour_ask_eval(void **state)
{
    (void)state;
    static const struct {
        const char *answers; /* answer lines */
        int answer, holds;   /* the index supported (-1: none), how many hold */
        bool skipped;
    } cases[] = {
        {"answer 1 \"a\" when slowdown < 0.7\nanswer 2 \"b\" when slowdown ~ 1 +- 0.3\n"
         "answer 3 \"c\" when slowdown > 1.3\n",
         1, 1, false},
        {"answer 1 \"a\" when slowdown < 1\nanswer 2 \"b\" when slowdown >= 1\n", 1, 1, false},
        {"answer 2 \"b\" when slowdown >= 1\nanswer 1 \"a\" when slowdown < 1\n", 0, 1, false},
        /* None, or two: no answer. */
        {"answer 1 \"a\" when slowdown < 1\nanswer 2 \"b\" when slowdown > 2\n", -1, 0, false},
        {"answer 1 \"a\" when slowdown > 1\nanswer 2 \"b\" when slowdown > 0.5\n", -1, 2, false},
        /* A lane share, a comparison of figures. */
        {"answer 1 \"a\" when lane \"clerk\" io > 60%\nanswer 2 \"b\" when lane \"clerk\" io <= "
         "60%\n",
         0, 1, false},
        {"answer 1 \"a\" when cmp_loop_total_ms < 0.2 * cmp_one_total_ms\n"
         "answer 2 \"b\" when cmp_loop_total_ms >= 0.2 * cmp_one_total_ms\n",
         1, 1, false},
        /* A missing figure holds nowhere. */
        {"answer 1 \"a\" when nosuch < 1\nanswer 2 \"b\" when nosuch >= 1\n", -1, 0, false},
        /* A busy machine settles nothing, even when another claim holds. */
        {"answer 1 \"a\" when slowdown < 1 unless machine_busy\nanswer 2 \"b\" when slowdown >= "
         "1\n",
         -1, 1, true},
    };
    struct tour_facts f = eval_facts();
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        struct tour t;
        char src[600], err[256];
        snprintf(src, sizeof src, "step a\nscene gil\nask Q?\n%s", cases[i].answers);
        if (tour_parse(&t, src, "t", err, sizeof err) != 0)
            fail_msg("%s: %s", cases[i].answers, err);
        struct tour_verdict v;
        tour_ask_eval(&t.step[0], &f, &v);
        if (v.answer != cases[i].answer || v.holds != cases[i].holds ||
            v.skipped != cases[i].skipped)
            fail_msg("case %zu: answer %d holds %d skipped %d, want %d %d %d", i, v.answer, v.holds,
                     v.skipped, cases[i].answer, cases[i].holds, cases[i].skipped);
        for (int j = 0; j < t.step[0].nanswers; j++) {
            struct tour_outcome o;
            tour_expect_eval(&t.step[0].answer[j].when, &f, &o);
            assert_int_equal(o.pass, v.out[j].pass);
            assert_true(o.lhs == v.out[j].lhs || (o.lhs != o.lhs && v.out[j].lhs != v.out[j].lhs));
        }
        tour_free(&t);
    }
}

/* Run the app's frame clock until the question is revealed (a bounded wait). */
static void ask_until_revealed(struct app *a)
{
    for (int i = 0; i < 4000 && a->ask == APP_ASK_RUNNING; i++) {
        struct timespec ts = {0, 5000000};
        nanosleep(&ts, NULL);
        app_tick(a, trace_now_ns());
    }
    assert_int_equal(a->ask, APP_ASK_REVEALED);
}

/*
 * On a tour in the TUI a question freezes its run until an answer key; the
 * run then goes on for the step's check time and the verdict is computed
 * from what it measured; skipping runs it without an answer; the score counts.
 */
static void test_tour_ask_in_the_app(void **state)
{
    (void)state;
    test_watchdog(120);
    struct app a;
    struct tour t;
    char err[256];
    /* The race scene loses no update with a lock, always: the verdict is certain. */
    const char *src = "step a\nscene race\nmode lock\ncheck 300ms\n"
                      "ask Will the total be 2N?\n"
                      "answer 1 \"yes\" when actual = expected\n"
                      "answer 2 \"no\" when actual < expected\n"
                      "step b\nsay no question\n";
    assert_int_equal(tour_parse(&t, src, "t", err, sizeof err), 0);
    assert_int_equal(app_init(&a), 0);
    a.tour = &t;
    a.asks = true;
    assert_int_equal(app_tour_goto(&a, 0), 0);
    assert_int_equal(a.ask, APP_ASK_OPEN);
    assert_true(trace_frozen());
    assert_int_equal(app_key_context(&a), KEY_ASK);
    /* Keys that would change the run are refused while the question waits. */
    int64_t mode = a.ctx.mode;
    app_key(&a, '3', 80);
    assert_int_equal(a.ctx.mode, mode);
    assert_non_null(strstr(a.msg, "no answer 3"));
    app_key(&a, 'r', 80);
    assert_non_null(strstr(a.msg, "answer first (1-2)"));
    assert_int_equal(a.ask, APP_ASK_OPEN);
    /* Nothing is revealed while frozen, however long it waits. */
    app_tick(&a, trace_now_ns() + 10000000000ull);
    assert_int_equal(a.ask, APP_ASK_OPEN);
    uint64_t run = a.ctx.t_start;
    app_key(&a, '2', 80); /* wrong */
    assert_int_equal(a.ask, APP_ASK_RUNNING);
    assert_false(trace_frozen());
    assert_int_equal(a.ask_pick, 1);
    assert_int_equal(app_key_context(&a), KEY_LIVE | KEY_TOUR);
    ask_until_revealed(&a);
    assert_true(a.ctx.t_start == run); /* the same run: answering does not restart it */
    assert_true(a.ask_ran >= 300000000ull);
    assert_int_equal(a.ask_verdict.answer, 0);
    assert_int_equal(a.ask_result[0], APP_ANSWER_WRONG);
    int right, settled, skipped;
    app_ask_score(&a, &right, &settled, &skipped);
    assert_true(right == 0 && settled == 1 && skipped == 0);
    /* The next step asks nothing: it runs on at once. */
    app_key(&a, '\n', 80);
    assert_int_equal(a.tour_step, 1);
    assert_int_equal(a.ask, APP_ASK_NONE);
    assert_false(trace_frozen());
    /* Back: asked again on a fresh run; the right answer replaces the wrong one. */
    app_key(&a, '<', 80);
    assert_int_equal(a.ask, APP_ASK_OPEN);
    assert_true(a.ctx.t_start != run);
    app_key(&a, '1', 80);
    ask_until_revealed(&a);
    assert_int_equal(a.ask_result[0], APP_ANSWER_RIGHT);
    app_ask_score(&a, &right, &settled, &skipped);
    assert_true(right == 1 && settled == 1 && skipped == 0);
    /* Enter skips: the run goes, the verdict still shows, counted as skipped. */
    app_tour_goto(&a, 0);
    app_key(&a, '\n', 80);
    assert_int_equal(a.tour_step, 0);
    assert_int_equal(a.ask, APP_ASK_RUNNING);
    assert_int_equal(a.ask_pick, -1);
    ask_until_revealed(&a);
    assert_int_equal(a.ask_verdict.answer, 0);
    app_ask_score(&a, &right, &settled, &skipped);
    assert_true(right == 0 && settled == 0 && skipped == 1);
    /* Leaving an open question unfreezes; a restart drops a running one. */
    app_tour_goto(&a, 0);
    assert_true(trace_frozen());
    app_key(&a, '>', 80);
    assert_int_equal(a.ask, APP_ASK_RUNNING);
    app_restart(&a, a.ctx.mode);
    app_tick(&a, trace_now_ns());
    assert_int_equal(a.ask, APP_ASK_NONE);
    assert_non_null(strstr(a.msg, "restarted before the reveal"));
    app_tour_goto(&a, 0);
    assert_true(trace_frozen());
    app_key(&a, '\n', 80); /* no: Enter on an open question runs it */
    app_key(&a, '\n', 80);
    assert_int_equal(a.tour_step, 1);
    assert_false(trace_frozen());
    app_shutdown(&a);
    tour_free(&t);
    /* Headless (asks off): a question never freezes. */
    assert_int_equal(tour_parse(&t, src, "t", err, sizeof err), 0);
    assert_int_equal(app_init(&a), 0);
    a.tour = &t;
    assert_int_equal(app_tour_goto(&a, 0), 0);
    assert_int_equal(a.ask, APP_ASK_NONE);
    assert_false(trace_frozen());
    app_shutdown(&a);
    tour_free(&t);
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

/* A step that runs a program: its words, the scene it gets, the program run and ended. */
static void test_tour_run_step(void **state)
{
    (void)state;
    test_watchdog(60);
    struct tour t;
    char err[256];
    const char *src = "step a\nrun sh -c \"echo from the step; sleep 30\"\nsay hello\n"
                      "step b\nscene gil\n";
    assert_int_equal(tour_parse(&t, src, "t", err, sizeof err), 0);
    assert_ptr_equal(t.step[0].scene, scene_find("program"));
    assert_string_equal(t.step[0].run[0], "sh");
    assert_string_equal(t.step[0].run[1], "-c");
    assert_string_equal(t.step[0].run[2], "echo from the step; sleep 30");
    assert_null(t.step[0].run[3]);
    assert_null(t.step[1].run);
    struct app a;
    assert_int_equal(app_init(&a), 0);
    a.tour = &t;
    assert_int_equal(app_tour_goto(&a, 0), 0);
    assert_ptr_equal(a.scene, scene_find("program"));
    /* Its output reaches the panel. */
    char out[256] = "";
    for (int i = 0; i < 500 && !strstr(out, "from the step"); i++) {
        usleep(10000);
        a.scene->output(&a.ctx, out, sizeof out);
    }
    assert_non_null(strstr(out, "from the step"));
    /* The next step ends the program (its sleep would last 30 s). */
    assert_int_equal(app_tour_goto(&a, 1), 0);
    assert_ptr_equal(a.scene, scene_find("gil"));
    assert_true(system("pgrep -f 'echo from th[e] step' >/dev/null") != 0);
    app_shutdown(&a);
    tour_free(&t);
}

/* An examples/ word that is not a file here is one of the examples (CONCTUI_EXAMPLES). */
static void test_tour_run_examples(void **state)
{
    (void)state;
    test_watchdog(60);
    char dir[] = "/tmp/conctui-ex.XXXXXX";
    assert_non_null(mkdtemp(dir));
    char path[128];
    snprintf(path, sizeof path, "%s/hello.sh", dir);
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs("echo example ran\n", f);
    fclose(f);
    setenv("CONCTUI_EXAMPLES", dir, 1);
    struct tour t;
    char err[256];
    assert_int_equal(tour_parse(&t, "step a\nrun sh examples/hello.sh\n", "t", err, sizeof err), 0);
    struct app a;
    assert_int_equal(app_init(&a), 0);
    a.tour = &t;
    assert_int_equal(app_tour_goto(&a, 0), 0);
    assert_string_equal(a.run_argv[1], path);
    char out[256] = "";
    for (int i = 0; i < 500 && !strstr(out, "example ran"); i++) {
        usleep(10000);
        a.scene->output(&a.ctx, out, sizeof out);
    }
    assert_non_null(strstr(out, "example ran"));
    app_shutdown(&a);
    tour_free(&t);
    unsetenv("CONCTUI_EXAMPLES");
    unlink(path);
    rmdir(dir);
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
    /* --check: with a tour only, headless, its file before or after it. */
    char *a9[] = {"conctui", "--tour", "--check"};
    assert_int_equal(parse(&o, err, 3, a9), 0);
    assert_true(o.check && o.headless);
    assert_null(o.tour_file);
    char *a10[] = {"conctui", "--tour", "--check", "my.tour", "--duration", "2"};
    assert_int_equal(parse(&o, err, 6, a10), 0);
    assert_string_equal(o.tour_file, "my.tour");
    assert_true(o.duration == 2);
    char *a11[] = {"conctui", "--tour", "a.tour", "--check"};
    assert_int_equal(parse(&o, err, 4, a11), 0);
    assert_string_equal(o.tour_file, "a.tour");
    char *a12[] = {"conctui", "--check"};
    assert_int_equal(parse(&o, err, 2, a12), 2);
    assert_non_null(strstr(err, "--check checks a tour"));
    char *a13[] = {"conctui", "--tour", "--check", "--json"};
    assert_int_equal(parse(&o, err, 4, a13), 2);
    assert_non_null(strstr(err, "--json does not apply"));
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_tour_builtin_parses),
        cmocka_unit_test(test_tour_builtin_expects),
        cmocka_unit_test(test_tour_translations_match),
        cmocka_unit_test(test_tour_expect_parses),
        cmocka_unit_test(test_tour_expect_errors),
        cmocka_unit_test(test_tour_run_step),
        cmocka_unit_test(test_tour_run_examples),
        cmocka_unit_test(test_tour_expect_eval),
        cmocka_unit_test(test_tour_builtin_asks),
        cmocka_unit_test(test_tour_ask_parses),
        cmocka_unit_test(test_tour_ask_errors),
        cmocka_unit_test(test_tour_ask_eval),
        cmocka_unit_test(test_tour_ask_in_the_app),
        cmocka_unit_test(test_tour_inherits),
        cmocka_unit_test(test_tour_errors_name_the_line),
        cmocka_unit_test(test_tour_long_title_whole),
        cmocka_unit_test(test_tour_load_files),
        cmocka_unit_test(test_tour_goto_restarts_only_when_needed),
        cmocka_unit_test(test_tour_options),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
