/* Recordings: round trip against the live run, every reader error, Chrome export. */
#include "config.h"

#include "testutil.h"

#include <stdio.h>
#include <stdlib.h>
#include <errno.h>
#include <fcntl.h>
#include <string.h>

#include "app.h"
#include "cli.h"
#include "headless.h"
#include "record.h"
#include "timeline.h"

static struct app a;
static char path[64];

static int setup(void **state)
{
    (void)state;
    test_watchdog(60);
    snprintf(path, sizeof path, "/tmp/conctui-test-%d.rec", (int)getpid());
    return app_init(&a);
}

static int teardown(void **state)
{
    (void)state;
    app_shutdown(&a);
    unlink(path);
    return 0;
}

static void run_recorded(int mode)
{
    char *argv[] = {"conctui", "--headless",  "--scene",        "prodcons", "--duration",
                    "0.4",     "--set",       "prod_rate=3000", "--set",    "cons_rate=2000",
                    "--set",   "producers=2", "--record",       path};
    struct cli o;
    char err[256];
    assert_int_equal(cli_parse(14, argv, &o, err, sizeof err), 0);
    assert_int_equal(cli_resolve(&o, err, sizeof err), 0);
    o.mode_idx = mode;
    unlink(path); /* a recording never replaces a file: the test's own goes first */
    assert_int_equal(headless_run(&a, &o, NULL), 0);
}

/* Record -> replay gives the same timeline layout as the live run. */
static void test_record_replay_same_layout(void **state)
{
    (void)state;
    for (int mode = 0; mode < 3; mode++) {
        run_recorded(mode);
        static struct history h;
        static struct rec_meta m;
        char err[256];
        assert_int_equal(rec_read(path, &h, &m, err, sizeof err), 0);
        assert_string_equal(m.scene, "prodcons");
        assert_int_equal(h.nlanes, a.hist.nlanes);
        assert_int_equal(h.events, a.hist.events);
        assert_true(m.final.n > 5);
        for (int w = 50; w <= 400; w *= 2) {
            struct tl_view v = {.t_start = a.hist.t0,
                                .ns_per_col = (a.hist.t_end - a.hist.t0) / (uint64_t)w + 1,
                                .width = w,
                                .now = a.hist.t_end};
            for (int i = 0; i < h.nlanes; i++) {
                assert_string_equal(h.lane[i].name, a.hist.lane[i].name);
                struct tl_cell live[400], replay[400];
                timeline_layout(&a.hist.lane[i], &v, live);
                timeline_layout(&h.lane[i], &v, replay);
                assert_memory_equal(live, replay, sizeof live[0] * (size_t)w);
            }
        }
        history_free(&h);
        app_release(&a);
    }
}

/* The column the replay cursor is drawn in (as draw.c lays the window out). */
static long cursor_col(int width)
{
    uint64_t start = timeline_live_start(a.hist.t0, a.view.t_right, a.view.ns_per_col, width);
    if (a.view.cursor < start)
        return -1;
    long c = (long)((a.view.cursor - start) / a.view.ns_per_col);
    return c < width ? c : -1;
}

/* Replay opens where stepping shows: most steps move the cursor; w and s zoom around it. */
static void test_record_replay_stepping_shows(void **state)
{
    (void)state;
    run_recorded(0);
    app_release(&a);
    char err[256];
    assert_int_equal(app_replay(&a, path, err, sizeof err), 0);
    const int width = 100;
    assert_true(a.view.ns_per_col * (uint64_t)width < a.hist.t_end - a.hist.t0);
    assert_true(a.view.cursor >= a.hist.t0); /* on the first event already */
    int moved = 0;
    for (int i = 0; i < 300; i++) {
        long before = cursor_col(width);
        uint64_t t = a.view.cursor, right = a.view.t_right;
        app_key(&a, '.', width);
        assert_true(a.view.cursor >= t);
        long after = cursor_col(width);
        assert_true(after >= 0); /* the cursor stays on screen */
        /* Where the window stayed, a step of a column or more moves the cursor. */
        if (right == a.view.t_right && a.view.cursor - t >= a.view.ns_per_col && after == before)
            fail_msg("a step of a column or more did not move the cursor");
        moved += after != before;
    }
    assert_true(moved >= 100); /* the zoom is the median gap's: about half the steps move */
    /* Zooming keeps the cursor in its column (to a column's rounding). */
    long c = cursor_col(width);
    app_key(&a, 'w', width);
    assert_true(labs(cursor_col(width) - c) <= 1);
    app_key(&a, 's', width);
    app_key(&a, 's', width);
    assert_true(labs(cursor_col(width) - c) <= 1);
    app_release(&a);
}

/* A valid recording in memory, to break in every way the reader must catch. */
static uint8_t *good;
static size_t good_len;

static void load_good(void)
{
    run_recorded(0);
    app_release(&a);
    FILE *f = fopen(path, "rb");
    assert_non_null(f);
    fseek(f, 0, SEEK_END);
    good_len = (size_t)ftell(f);
    rewind(f);
    good = malloc(good_len);
    assert_int_equal(fread(good, 1, good_len, f), good_len);
    fclose(f);
}

static void put32(uint8_t *p, uint32_t v)
{
    for (int i = 0; i < 4; i++)
        p[i] = (uint8_t)(v >> (8 * i));
}

static uint32_t get32(const uint8_t *p)
{
    return (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 | (uint32_t)p[3] << 24;
}

/* Offset of the first block (after the header body). */
static size_t first_block(const uint8_t *b)
{
    return 20 + get32(b + 12);
}

static void fix_header_crc(uint8_t *b)
{
    put32(b + 16, rec__crc32(b + 20, get32(b + 12)));
}

static void fix_block_crc(uint8_t *b, size_t at)
{
    put32(b + at + 12, rec__crc32(b + at + 24, get32(b + at + 8)));
}

static void expect_error(const uint8_t *buf, size_t len, const char *words)
{
    static struct history h;
    static struct rec_meta m;
    char err[300] = "";
    int rc = rec_read_mem(buf, len, "bad.rec", &h, &m, err, sizeof err);
    if (rc == 0)
        fail_msg("accepted a file that should fail with '%s'", words);
    if (!strstr(err, words) || !strstr(err, "bad.rec: offset "))
        fail_msg("message '%s' lacks '%s'", err, words);
    history_free(&h);
}

static void test_record_reader_errors(void **state)
{
    (void)state;
    load_good();
    static struct history h;
    static struct rec_meta m;
    char err[300];
    assert_int_equal(rec_read_mem(good, good_len, "good.rec", &h, &m, err, sizeof err), 0);
    history_free(&h);

    uint8_t *b = malloc(good_len + 64);
    size_t blk = first_block(good);
#define FRESH() memcpy(b, good, good_len)

    FRESH();
    b[0] = 'X';
    expect_error(b, good_len, "not a conctui recording");
    expect_error(b, 3, "not a conctui recording");
    FRESH();
    put32(b + 8, 99);
    expect_error(b, good_len, "format version 99; this conctui reads versions 1 to 3");
    FRESH();
    put32(b + 12, 1u << 30);
    expect_error(b, good_len, "header length");
    FRESH();
    b[25] ^= 0x40;
    expect_error(b, good_len, "header checksum mismatch");
    expect_error(good, 18, "truncated");
    expect_error(good, blk - 3, "truncated");
    expect_error(good, blk, "end marker is missing");
    expect_error(good, blk + 10, "truncated: a block header");
    expect_error(good, blk + 30, "truncated: a block payload");
    expect_error(good, good_len - 1, "truncated");
    FRESH();
    b[blk] = 'Q';
    expect_error(b, good_len, "bad block magic");
    FRESH();
    put32(b + blk + 8, 1u << 30);
    expect_error(b, good_len, "block payload of");
    FRESH();
    b[blk + 30] ^= 1;
    expect_error(b, good_len, "block checksum mismatch");
    FRESH();
    put32(b + blk + 4, get32(b + blk + 8)); /* more events than bytes allow */
    expect_error(b, good_len, "cannot fit");
    FRESH();
    put32(b + blk + 4, get32(b + blk + 4) - 1); /* one event fewer: bytes left over */
    expect_error(b, good_len, "stray bytes");
    FRESH();
    b[blk + 24] = 60; /* first event: lane 60 of a few */
    fix_block_crc(b, blk);
    expect_error(b, good_len, "names lane 60");
    FRESH();
    b[blk + 25] = 0x0e; /* state 14: neither a state nor a gauge */
    fix_block_crc(b, blk);
    expect_error(b, good_len, "unknown state");
    /* State 11 (failed) is a state in version 2, and unknown to version 1. */
    FRESH();
    assert_int_equal(b[blk + 25] & 0x80, 0); /* the first state word is one byte */
    b[blk + 25] = TRACE_FAILED;
    fix_block_crc(b, blk);
    assert_int_equal(get32(b + 8), REC_VERSION);
    assert_int_equal(rec_read_mem(b, good_len, "new.rec", &h, &m, err, sizeof err), 0);
    history_free(&h);
    put32(b + 8, 1);
    expect_error(b, good_len, "unknown state 11 (format version 1)");
    FRESH();
    memcpy(b + good_len, "junk", 4);
    expect_error(b, good_len + 4, "after the end marker");
    /* A lane count above the limit, with a valid checksum. */
    FRESH();
    size_t lanes_at = 20 + 8 + 1 + good[28] + 1 + good[29 + good[28]];
    b[lanes_at] = 200;
    fix_header_crc(b);
    expect_error(b, good_len, "200 lanes");
    /* Numbers that never end. */
    FRESH();
    memset(b + blk + 24, 0xff, 16);
    fix_block_crc(b, blk);
    expect_error(b, good_len, "number");
    free(b);
    free(good);
    /* Files that are not there or not regular. */
    assert_int_equal(rec_read("/nonexistent/x.rec", &h, &m, err, sizeof err), -1);
    assert_non_null(strstr(err, "/nonexistent/x.rec"));
}

/* Where the end marker starts in a recording (it is the last block). */
static size_t end_block(const uint8_t *b, size_t len)
{
    size_t at = first_block(b);
    while (at + 24 <= len && memcmp(b + at, "END!", 4) != 0)
        at += 24 + get32(b + at + 8);
    assert_true(at + 24 <= len);
    return at;
}

/* Every figure comes back with its spread, many more than a screen holds; old files still read. */
static void test_record_figures_keep_their_spread(void **state)
{
    (void)state;
    run_recorded(0);
    static struct rec_meta m, m2;
    app_meta(&a, &m);
    m.final.n = 0;
    int want = SCENE_MAX_STATS - 40;
    for (int i = 0; i < want; i++) {
        char name[32];
        snprintf(name, sizeof name, "figure_%d", i);
        if (i % 3)
            scene_stat(&m.final, name, i * 1.5, "ms");
        else
            scene_stat_spread(&m.final, name, 1.84 + i, 1.71 + i, 1.93 + i, 9 + i, "x");
    }
    char err[256];
    assert_int_equal(rec_save_history(path, &a.hist, &m, a.hist.t0, err, sizeof err), -1);
    assert_int_equal(errno, EEXIST); /* the recording's file is there: never replaced */
    unlink(path);
    assert_int_equal(rec_save_history(path, &a.hist, &m, a.hist.t0, err, sizeof err), 0);
    static struct history h;
    assert_int_equal(rec_read(path, &h, &m2, err, sizeof err), 0);
    history_free(&h);
    assert_int_equal(m2.final.n, want);
    for (int i = 0; i < want; i++) {
        const struct scene_stat *x = &m.final.s[i], *y = &m2.final.s[i];
        assert_string_equal(x->name, y->name);
        assert_string_equal(x->unit, y->unit);
        assert_true(x->value == y->value && x->lo == y->lo && x->hi == y->hi);
        assert_int_equal(x->rounds, y->rounds);
    }
    /* Replaying shows every figure of the run, spreads included. */
    app_release(&a);
    assert_int_equal(app_replay(&a, path, err, sizeof err), 0);
    app_stats(&a, 0);
    assert_int_equal(a.stats.dropped, 0);
    int seen = 0;
    for (int i = 0; i < a.stats.n; i++) {
        const struct scene_stat *f = &a.stats.s[i];
        int k;
        if (sscanf(f->name, "rec.figure_%d", &k) != 1)
            continue;
        seen++;
        assert_int_equal(f->rounds, k % 3 ? 0 : 9 + k);
        assert_true(f->value == m.final.s[k].value && f->lo == m.final.s[k].lo &&
                    f->hi == m.final.s[k].hi);
    }
    assert_int_equal(seen, want);
    app_release(&a);

    /* A recording from before spreads: the end marker stops after the units. */
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    size_t end = end_block(buf, len);
    uint32_t cut = (uint32_t)want * 20u;
    assert_int_equal(end + 24 + get32(buf + end + 8), len);
    put32(buf + end + 8, get32(buf + end + 8) - cut);
    len -= cut;
    fix_block_crc(buf, end);
    static struct rec_meta m3;
    assert_int_equal(rec_read_mem(buf, len, "old.rec", &h, &m3, err, sizeof err), 0);
    history_free(&h);
    assert_int_equal(m3.final.n, want);
    for (int i = 0; i < want; i++) {
        assert_int_equal(m3.final.s[i].rounds, 0);
        assert_true(m3.final.s[i].value == m.final.s[i].value);
        assert_true(m3.final.s[i].lo == m3.final.s[i].value);
    }
    /* A spread cut short is an error, not a guess. */
    put32(buf + end + 8, get32(buf + end + 8) + 7);
    memset(buf + len, 0, 7);
    fix_block_crc(buf, end);
    expect_error(buf, len + 7, "spreads");
}

/* Headless output gives a figure's spread: in words in text, as figures of their own in JSON. */
static void test_headless_prints_spreads(void **state)
{
    (void)state;
    run_recorded(0);
    a.stats.n = 0;
    scene_stat_spread(&a.stats, "speedup", 1.84, 1.71, 1.93, 9, "x");
    scene_stat(&a.stats, "plain", 3, "ms");
    struct cli o;
    memset(&o, 0, sizeof o);
    o.width = 40;
    for (int json = 0; json < 2; json++) {
        o.json = json;
        char *buf = NULL;
        size_t len = 0;
        FILE *f = open_memstream(&buf, &len);
        headless_print(&a, &o, f);
        fclose(f);
        if (json) {
            assert_non_null(strstr(buf, "\"speedup\":{\"value\":1.84"));
            assert_non_null(strstr(buf, "\"speedup_min\":{\"value\":1.71"));
            assert_non_null(strstr(buf, "\"speedup_max\":{\"value\":1.9299"));
            assert_non_null(strstr(buf, "\"speedup_rounds\":{\"value\":9,"));
            assert_null(strstr(buf, "plain_min"));
            assert_non_null(strstr(buf, "\"machine_busy\":"));
            assert_non_null(strstr(buf, "\"machine_other_cpu\":"));
            assert_non_null(strstr(buf, "\"stats_dropped\":0"));
        } else {
            assert_non_null(strstr(buf, "\nspeedup 1.84 x (1.71-1.93, 9 rounds)\n"));
            assert_non_null(strstr(buf, "\nplain 3 ms\n"));
        }
        free(buf);
    }
}

/* Recordings from before the last four states were added, and with them, both replay. */
static void test_record_reads_both_versions(void **state)
{
    (void)state;
    static const struct {
        const char *file, *scene;
        uint32_t version;
        unsigned has; /* a state only the newer version knows, or 0 */
    } files[] = {
        {"valid-threads.rec", "prodcons", 1, 0},
        {"valid-v2-executor.rec", "executor", 2, TRACE_FAILED},
    };
    const char *top = getenv("top_srcdir");
    for (size_t i = 0; i < sizeof files / sizeof files[0]; i++) {
        char file[512];
        snprintf(file, sizeof file, "%s/tests/corpus/record/%s", top ? top : ".", files[i].file);
        FILE *f = fopen(file, "rb");
        assert_non_null(f);
        uint8_t hdr[12];
        assert_int_equal(fread(hdr, 1, sizeof hdr, f), sizeof hdr);
        fclose(f);
        assert_int_equal(get32(hdr + 8), files[i].version);
        static struct history h;
        static struct rec_meta m;
        char err[300];
        if (rec_read(file, &h, &m, err, sizeof err) != 0)
            fail_msg("%s", err);
        assert_string_equal(m.scene, files[i].scene);
        assert_true(h.events > 0);
        bool seen = false;
        for (int l = 0; l < h.nlanes; l++)
            for (size_t k = 0; k < history_kept(&h.lane[l]); k++)
                seen |= TRACE_STATE_OF(history_at(&h.lane[l], k)->state) == files[i].has;
        assert_true(seen || !files[i].has);
        history_free(&h);
    }
}

/* A lane that comes during the run (a program's new thread) is declared in a LANE block. */
static void test_record_lane_during_run(void **state)
{
    (void)state;
    static struct history h, back;
    static struct rec_meta m, mb;
    memset(&m, 0, sizeof m);
    snprintf(m.scene, sizeof m.scene, "program");
    snprintf(m.mode, sizeof m.mode, "sampled");
    history_init(&h, 1000);
    assert_int_equal(history_lane_add(&h, "sh 10", TRACE_LANE_STATE, 0, 0, 0), 0);
    char err[300];
    unlink(path);
    struct rec_writer *w = rec_open(path, &h, &m, false, err, sizeof err);
    assert_non_null(w);
    h.sink = rec_sink;
    h.sink_arg = w;
    history_append(&h, 0, &(struct trace_event){2000, 0, TRACE_RUN, 0});
    assert_int_equal(history_lane_add(&h, "  sleep 11", TRACE_LANE_STATE, 0, 0, 0), 1);
    history_append(&h, 1, &(struct trace_event){3000, 0, TRACE_SLEEP, 1});
    history_append(&h, 0, &(struct trace_event){4000, 0, TRACE_WAIT, 0});
    history_append(&h, 1, &(struct trace_event){5000, 0, TRACE_DONE, 1});
    assert_int_equal(rec_close(w, 6000, NULL, err, sizeof err), 0);
    FILE *f = fopen(path, "rb");
    uint8_t hdr[12];
    assert_int_equal(fread(hdr, 1, sizeof hdr, f), sizeof hdr);
    fclose(f);
    assert_int_equal(get32(hdr + 8), REC_VERSION_LANES);
    if (rec_read(path, &back, &mb, err, sizeof err) != 0)
        fail_msg("%s", err);
    assert_int_equal(back.nlanes, 2);
    assert_string_equal(back.lane[1].name, "  sleep 11");
    assert_int_equal(history_kept(&back.lane[0]), 2);
    assert_int_equal(history_kept(&back.lane[1]), 2);
    assert_int_equal(history_at(&back.lane[1], 0)->t, 3000);
    history_free(&back);
    /* The same file calling itself version 2 has a block that version does not know. */
    int fd = open(path, O_WRONLY);
    uint8_t v2[4] = {2, 0, 0, 0};
    assert_int_equal(pwrite(fd, v2, 4, 8), 4);
    close(fd);
    assert_int_equal(rec_read(path, &back, &mb, err, sizeof err), -1);
    assert_non_null(strstr(err, "bad block magic"));
    history_free(&h);
}

static void test_record_chrome_export(void **state)
{
    (void)state;
    run_recorded(0);
    char *buf = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&buf, &len);
    struct rec_meta m;
    app_meta(&a, &m);
    assert_int_equal(rec_export_chrome(&a.hist, &m, f), 0);
    fclose(f);
    /* One complete event per state event, one counter per gauge event. */
    uint64_t spans = 0, counters = 0;
    for (int i = 0; i < a.hist.nlanes; i++)
        *(a.hist.lane[i].kind == TRACE_LANE_GAUGE ? &counters : &spans) += a.hist.lane[i].count;
    uint64_t x = 0, c = 0, names = 0;
    for (char *p = buf; (p = strstr(p, "\"ph\":\"")); p += 6) {
        x += p[6] == 'X';
        c += p[6] == 'C';
    }
    for (char *p = buf; (p = strstr(p, "\"thread_name\"")); p++)
        names++;
    assert_int_equal(x, spans);
    assert_int_equal(c, counters);
    assert_int_equal(names, 3); /* producers 0 and 1, consumer 0 */
    assert_non_null(strstr(buf, "\"name\":\"conctui prodcons (threads)\""));
    assert_non_null(strstr(buf, "\"note\":\"producing\""));
    free(buf);
}

static void test_record_save_recent(void **state)
{
    (void)state;
    run_recorded(2);
    struct rec_meta m;
    app_meta(&a, &m);
    uint64_t since = a.hist.t0 + (a.hist.t_end - a.hist.t0) / 2;
    char err[256];
    /* A planted link, dangling or not, is never written through. */
    char target[96];
    snprintf(target, sizeof target, "%s.target", path);
    unlink(path);
    unlink(target);
    assert_int_equal(symlink(target, path), 0);
    assert_int_equal(rec_save_history(path, &a.hist, &m, since, err, sizeof err), -1);
    assert_int_equal(access(target, F_OK), -1);
    unlink(path);
    assert_int_equal(rec_save_history(path, &a.hist, &m, since, err, sizeof err), 0);
    static struct history h;
    static struct rec_meta m2;
    assert_int_equal(rec_read(path, &h, &m2, err, sizeof err), 0);
    assert_true(h.events > 0 && h.events < a.hist.events);
    for (int i = 0; i < h.nlanes; i++)
        if (h.lane[i].count > 1) /* the one before `since` tells the state at `since` */
            assert_true(history_at(&h.lane[i], 1)->t >= since);
    history_free(&h);
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_record_replay_same_layout),
        T(test_record_reader_errors),
        T(test_record_figures_keep_their_spread),
        T(test_headless_prints_spreads),
        T(test_record_chrome_export),
        T(test_record_replay_stepping_shows),
        T(test_record_reads_both_versions),
        T(test_record_lane_during_run),
        T(test_record_save_recent),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
