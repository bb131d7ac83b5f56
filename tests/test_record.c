/* Recordings: round trip against the live run, every reader error, Chrome export. */
#include "config.h"

#include "testutil.h"

#include <errno.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>

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

/* A recording's figures are worked out once, when it opens: refreshing them
 * (four times a second) does not walk its events again, so an idle replay of
 * millions of events costs nothing. */
static void test_record_replay_figures_once(void **state)
{
    (void)state;
    run_recorded(0);
    app_release(&a);
    char err[256];
    assert_int_equal(app_replay(&a, path, err, sizeof err), 0);
    struct scene_stats before = a.stats;
    assert_true(before.n > 5);
    /* Were they worked out again, the events and the recorded figures would show. */
    uint64_t events = a.hist.events;
    a.hist.events = events * 2 + 1;
    a.meta->final.s[0].value += 1000;
    for (int i = 0; i < 20; i++)
        app_stats(&a, trace_now_ns());
    assert_int_equal(a.stats.n, before.n);
    for (int i = 0; i < before.n; i++) {
        assert_string_equal(a.stats.s[i].name, before.s[i].name);
        assert_true(a.stats.s[i].value == before.s[i].value);
    }
    a.hist.events = events;
    app_release(&a);
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

/* The checksums as version 3 writes them: over every header field too. */
static void fix_header_crc(uint8_t *b)
{
    put32(b + 16, rec__crc32_more(rec__crc32(b + 8, 8), b + 20, get32(b + 12)));
}

static void fix_block_crc(uint8_t *b, size_t at)
{
    uint32_t c = rec__crc32_more(rec__crc32(b + at, 12), b + at + 16, 8);
    put32(b + at + 12, rec__crc32_more(c, b + at + 24, get32(b + at + 8)));
}

/* Relabel a recording as an older version, with that version's checksums
 * (over the header body and each payload only). */
static void as_version(uint8_t *b, size_t len, uint32_t version)
{
    put32(b + 8, version);
    put32(b + 16, rec__crc32(b + 20, get32(b + 12)));
    for (size_t at = first_block(b); at + 24 <= len; at += 24 + get32(b + at + 8))
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
    fix_block_crc(b, blk);
    expect_error(b, good_len, "cannot fit");
    FRESH();
    put32(b + blk + 4, get32(b + blk + 4) - 1); /* one event fewer: bytes left over */
    fix_block_crc(b, blk);
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
    as_version(b, good_len, 1);
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
    /* Version 3's checksums cover the header fields: the version, a block's
     * base time, the end marker's t_end. */
    FRESH();
    put32(b + 8, 2);
    expect_error(b, good_len, "header checksum mismatch");
    FRESH();
    b[blk + 20] ^= 0x10; /* the first block's base time */
    expect_error(b, good_len, "block checksum mismatch");
    FRESH();
    b[good_len - 4] ^= 0x01; /* inside the end marker's note or padding */
    expect_error(b, good_len, "block checksum mismatch");
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

    /* A version 2 recording from before spreads: the end marker stops after the units. */
    FILE *fp = fopen(path, "rb");
    assert_non_null(fp);
    static uint8_t buf[1 << 20];
    size_t len = fread(buf, 1, sizeof buf, fp);
    fclose(fp);
    size_t end = end_block(buf, len);
    uint32_t cut = (uint32_t)want * 20u + 2u; /* the spreads, the flags, an empty note */
    assert_int_equal(end + 24 + get32(buf + end + 8), len);
    put32(buf + end + 8, get32(buf + end + 8) - cut);
    len -= cut;
    as_version(buf, len, 2);
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
    as_version(buf, len + 7, 2);
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

static bool same_recording(const struct history *h1, const struct rec_meta *m1,
                           const struct history *h2, const struct rec_meta *m2)
{
    if (h1->nlanes != h2->nlanes || h1->events != h2->events || h1->t0 != h2->t0 ||
        h1->t_end != h2->t_end || m1->t_end != m2->t_end || m1->final.n != m2->final.n ||
        m1->cut_short != m2->cut_short || strcmp(m1->scene, m2->scene) ||
        strcmp(m1->mode, m2->mode) || strcmp(m1->cut_note, m2->cut_note))
        return false;
    for (int i = 0; i < m1->final.n; i++)
        if (strcmp(m1->final.s[i].name, m2->final.s[i].name) ||
            m1->final.s[i].value != m2->final.s[i].value)
            return false;
    for (int l = 0; l < h1->nlanes; l++) {
        const struct history_lane *a1 = &h1->lane[l], *a2 = &h2->lane[l];
        if (strcmp(a1->name, a2->name) || history_kept(a1) != history_kept(a2))
            return false;
        for (size_t k = 0; k < history_kept(a1); k++)
            if (memcmp(history_at(a1, k), history_at(a2, k), sizeof(struct trace_event)))
                return false;
    }
    return true;
}

/* No single flipped bit is taken for a different recording: every header
 * bit, the end marker's every bit and 2000 random others are each refused or
 * read back as the very same events and figures. */
static void test_record_every_bit_checked(void **state)
{
    (void)state;
    load_good();
    static struct history h0, h;
    static struct rec_meta m0, m;
    char err[300];
    assert_int_equal(rec_read_mem(good, good_len, "good.rec", &h0, &m0, err, sizeof err), 0);
    uint8_t *b = malloc(good_len);
    /* The bits to flip: the file header and body, each block's header, the end marker. */
    size_t *bits = malloc(sizeof *bits * (good_len * 8 + 2000));
    size_t n = 0, end_at = 0;
    for (size_t i = 0; i < first_block(good) * 8; i++)
        bits[n++] = i;
    for (size_t at = first_block(good); at + 24 <= good_len; at += 24 + get32(good + at + 8)) {
        for (size_t i = 0; i < 24 * 8; i++)
            bits[n++] = at * 8 + i;
        end_at = at;
    }
    for (size_t i = (end_at + 24) * 8; i < good_len * 8; i++)
        bits[n++] = i;
    srand(23);
    for (int i = 0; i < 2000; i++)
        bits[n++] = ((size_t)rand() * 65536u + (size_t)rand()) % (good_len * 8);
    int refused = 0;
    for (size_t i = 0; i < n; i++) {
        memcpy(b, good, good_len);
        b[bits[i] / 8] ^= (uint8_t)(1u << (bits[i] % 8));
        if (rec_read_mem(b, good_len, "flip.rec", &h, &m, err, sizeof err) != 0) {
            refused++;
            continue;
        }
        if (!same_recording(&h0, &m0, &h, &m))
            fail_msg("flipping bit %zu (byte %zu of %zu) was accepted as another recording",
                     bits[i] % 8, bits[i] / 8, good_len);
        history_free(&h);
    }
    assert_true(n > 2000 + 24 * 8 * 2);
    assert_int_equal(refused, (int)n); /* with every byte covered, each flip is refused */
    history_free(&h0);
    free(bits);
    free(b);
    free(good);
}

/* The i-th event the writer test feeds: two lanes taking turns. */
static struct trace_event nth_event(uint64_t t0, uint32_t i)
{
    return (struct trace_event){.t = t0 + 1000u * i + (i * 7919u) % 900u,
                                .arg = i,
                                .state = (uint16_t)(i % 3 ? TRACE_RUN : TRACE_WAIT),
                                .lane = (uint16_t)(i % 2)};
}

/*
 * A child writes events through a file size limit (SIGXFSZ ignored: writes
 * fail with EFBIG, as on a full disk) and, with close, ends the recording;
 * without, it is killed. Returns the errno the writer reported, or -1.
 */
static int write_limited(const char *file, rlim_t limit, uint32_t events, bool close_it)
{
    pid_t pid = fork();
    assert_true(pid >= 0);
    if (pid == 0) {
        signal(SIGXFSZ, SIG_IGN);
        struct rlimit rl = {limit, limit};
        if (setrlimit(RLIMIT_FSIZE, &rl) != 0)
            _exit(100);
        static struct history h;
        static struct rec_meta m;
        history_init(&h, 1000000);
        history_lane_add(&h, "worker 0", TRACE_LANE_STATE, 0, 0, 16);
        history_lane_add(&h, "worker 1", TRACE_LANE_STATE, 0, 0, 16);
        snprintf(m.scene, sizeof m.scene, "prodcons");
        snprintf(m.mode, sizeof m.mode, "threads");
        char err[300];
        struct rec_writer *w = rec_open(file, &h, &m, true, err, sizeof err);
        if (!w)
            _exit(101);
        int first_failure = -1;
        for (uint32_t i = 0; i < events; i++) {
            struct trace_event e = nth_event(h.t0, i);
            if (rec_event(w, e.lane, &e) != 0 && first_failure < 0)
                first_failure = (int)i;
        }
        int e = rec_error(w);
        if (!close_it)
            raise(SIGKILL);
        /* The run's end is later than the last event the file kept. */
        int rc = rec_close(w, h.t0 + 1000ull * events * 10, NULL, err, sizeof err);
        _exit(rc == 0 ? 0 : first_failure < 0 ? 102 : e == EFBIG ? 3 : 104);
    }
    int st;
    assert_int_equal(waitpid(pid, &st, 0), pid);
    if (WIFSIGNALED(st))
        return WTERMSIG(st) == SIGKILL ? -2 : -1;
    return WEXITSTATUS(st);
}

/* Read back what write_limited wrote: the events are the first ones fed, in
 * whole blocks, and the end marker says whether and why it was cut short. */
static void check_limited(const char *file, rlim_t limit, bool cut, const char *note)
{
    struct stat sb;
    assert_int_equal(stat(file, &sb), 0);
    assert_true((rlim_t)sb.st_size <= limit);
    static struct history h;
    static struct rec_meta m;
    char err[300];
    if (rec_read(file, &h, &m, err, sizeof err) != 0)
        fail_msg("a recording cut short must stay readable: %s", err);
    assert_int_equal(m.cut_short, cut);
    if (!strstr(m.cut_note, note))
        fail_msg("note '%s' lacks '%s'", m.cut_note, note);
    assert_true(h.events > 0 && h.events % REC_BLOCK_EVENTS == 0);
    uint32_t seen[2] = {0};
    uint64_t last = 0;
    for (uint32_t i = 0; i < h.events; i++) {
        struct trace_event want = nth_event(h.t0, i);
        const struct trace_event *got = history_at(&h.lane[want.lane], seen[want.lane]++);
        assert_int_equal(got->t, want.t);
        assert_int_equal(got->arg, want.arg);
        assert_int_equal(got->state, want.state);
        last = want.t > last ? want.t : last;
    }
    /* Cut short, it ends with its last event, not at the end of the run it missed. */
    if (cut)
        assert_int_equal(m.t_end, last);
    else
        assert_true(m.t_end > last);
    history_free(&h);
}

/* A write that fails (the file size limit, like a full disk) cuts the
 * recording short: the writer says so at once, later events are dropped, and
 * the file stays a valid recording of the events before, which says it was
 * cut short and why; a killed writer's file is valid too. */
static void test_record_cut_short(void **state)
{
    (void)state;
    const rlim_t limit = 40000;
    assert_int_equal(write_limited(path, limit, 40000, true), 3);
    check_limited(path, limit, true, "write failed: ");
    /* Killed after the limit: the failure's marker is there already. */
    assert_int_equal(write_limited(path, limit, 40000, false), -2);
    check_limited(path, limit, true, "write failed: ");
    /* Killed with no failure: the file says it was not closed. */
    assert_int_equal(write_limited(path, 1u << 30, 3 * REC_BLOCK_EVENTS + 5, false), -2);
    check_limited(path, 1u << 30, true, "the run ended before the recording was closed");
    /* Closed with no failure: whole, and not cut short. */
    assert_int_equal(write_limited(path, 1u << 30, 3 * REC_BLOCK_EVENTS, true), 0);
    check_limited(path, 1u << 30, false, "");
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
    /* The same file calling itself version 2 is refused (its checksums and its LANE block). */
    int fd = open(path, O_WRONLY);
    uint8_t v2[4] = {2, 0, 0, 0};
    assert_int_equal(pwrite(fd, v2, 4, 8), 4);
    close(fd);
    assert_int_equal(rec_read(path, &back, &mb, err, sizeof err), -1);
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
        // clang-format off
        T(test_record_replay_same_layout),
        T(test_record_reader_errors),
        T(test_record_every_bit_checked),
        T(test_record_cut_short),
        T(test_record_figures_keep_their_spread),
        T(test_headless_prints_spreads),
        T(test_record_chrome_export),
        T(test_record_replay_stepping_shows),
        T(test_record_replay_figures_once),
        T(test_record_reads_both_versions),
        T(test_record_lane_during_run),
        T(test_record_save_recent),
        // clang-format on
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
