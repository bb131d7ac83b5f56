/*
 * The /proc sampler: parsing canned text, the state mapping, a canned /proc
 * tree in a directory (threads appearing, a child process, exits), and real
 * threads of this process read from the real /proc.
 */
#include "config.h"

#include "testutil.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/syscall.h>
#include <time.h>

#include <linux/perf_event.h>

#include "procsample.h"
#include "schedrec.h"

static const char STAT_PY[] =
    "4242 (python3) S 4200 4242 4200 34816 4242 4194304 2512 0 0 0 17 3 0 0 20 0 3 0 "
    "123456 30000000 2000 18446744073709551615 1 1 0 0 0 0 0 16781312 2 0 0 0 17 1 0 0 0 0 0\n";
/* A comm with a space and a closing parenthesis: it ends at the last ')'. */
static const char STAT_ODD[] =
    "77 (a b) c)) R 1 77 77 0 -1 4194304 0 0 0 0 250 125 0 0 20 0 1 0 9 0 0 0 0 0 0 0 0 0 0 0 0 "
    "0 0 0 17 0 0 0 0 0 0\n";

static void test_parse_stat(void **state)
{
    (void)state;
    struct ps_stat st;
    assert_int_equal(ps_parse_stat(STAT_PY, strlen(STAT_PY), &st), 0);
    assert_string_equal(st.comm, "python3");
    assert_int_equal(st.state, 'S');
    assert_int_equal(st.ppid, 4200);
    assert_int_equal(st.pgrp, 4242);
    assert_int_equal(st.utime, 17);
    assert_int_equal(st.stime, 3);
    assert_int_equal(st.processor, 1);
    assert_int_equal(ps_parse_stat(STAT_ODD, strlen(STAT_ODD), &st), 0);
    assert_string_equal(st.comm, "a b) c)");
    assert_int_equal(st.state, 'R');
    assert_int_equal(st.utime, 250);
    assert_int_equal(st.stime, 125);
    assert_int_equal(ps_parse_stat("garbage", 7, &st), -1);
    assert_int_equal(ps_parse_stat("1 (x) S 1 2", 11, &st), -1); /* cut short */
}

static void test_parse_small_files(void **state)
{
    (void)state;
    uint64_t r, d, sl;
    assert_int_equal(ps_parse_schedstat("852747 945014 3\n", &r, &d, &sl), 0);
    assert_int_equal(r, 852747);
    assert_int_equal(d, 945014);
    assert_int_equal(sl, 3);
    assert_int_equal(ps_parse_schedstat("x\n", &r, &d, &sl), -1);
    assert_int_equal(ps_parse_syscall("running\n"), -1);
    assert_int_equal(ps_parse_syscall("202 0x7f 0x80 0x1 0x0 0x0 0x0 0x7ffd 0x7f12\n"), 202);
    assert_int_equal(ps_parse_syscall("-1 0x7ffd 0x7f12\n"), -2); /* blocked outside a call */
    assert_int_equal(ps_parse_syscall(""), -2);
    char w[16];
    const char *wc = "poll_schedule_timeout.constprop.0";
    assert_int_equal(ps_parse_wchan(wc, strlen(wc), w, sizeof w), 15);
    assert_string_equal(w, "poll_schedule_t"); /* cut at the buffer */
    assert_int_equal(ps_parse_wchan("do_nanosleep", 12, w, sizeof w), 12);
    assert_string_equal(w, "do_nanosleep");
    assert_int_equal(ps_parse_wchan("0", 1, w, sizeof w), 0); /* on a CPU, or hidden */
    assert_string_equal(w, "");
    assert_int_equal(ps_parse_wchan("", 0, w, sizeof w), 0);
    assert_int_equal(ps_parse_wchan("a\x1b[2Jb\nrest", 11, w, sizeof w), 6);
    assert_string_equal(w, "a??2Jb"); /* a terminal escape is not passed on */
    assert_int_equal(ps_parse_wchan("futex_wait\xc3\xa9", 12, w, sizeof w), 12);
    assert_string_equal(w, "futex_wait??");
    uint64_t v, nv;
    const char status[] = "Name:\tpython3\nUid:\t1000\t1001\t1002\t1003\nGid:\t5\t5\t5\t5\n"
                          "voluntary_ctxt_switches:\t150\nnonvoluntary_ctxt_switches:\t7\n";
    assert_int_equal(ps_parse_ctxt(status, &v, &nv), 0);
    assert_int_equal(v, 150);
    assert_int_equal(nv, 7);
    long ids[4];
    assert_int_equal(ps_parse_uids(status, "Uid", ids), 0);
    assert_int_equal(ids[0], 1000);
    assert_int_equal(ids[3], 1003);
    assert_int_equal(ps_parse_uids(status, "Gid", ids), 0);
    assert_int_equal(ids[2], 5);
    assert_int_equal(ps_parse_uids("Name:\tx\n", "Uid", ids), -1);
}

static void test_classify(void **state)
{
    (void)state;
    /* Runnable: run time against run delay. */
    assert_int_equal(TRACE_STATE_OF(ps_classify('R', -2, 900000, 0, false)), TRACE_RUN);
    assert_int_equal(TRACE_STATE_OF(ps_classify('R', -2, 100000, 900000, false)), TRACE_READY);
    assert_int_equal(TRACE_STATE_OF(ps_classify('R', -2, 0, 0, false)), TRACE_RUN);
    /* Runnable, and no run time for longer than a tick: waiting for a CPU. */
    assert_int_equal(TRACE_STATE_OF(ps_classify('R', -2, 0, 0, true)), TRACE_READY);
    /* Asleep: by the system call. */
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', SYS_futex, 0, 0, false)), TRACE_LOCK);
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', SYS_read, 0, 0, false)), TRACE_IO);
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', SYS_recvfrom, 0, 0, false)), TRACE_IO);
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', SYS_epoll_pwait, 0, 0, false)), TRACE_IO);
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', SYS_io_uring_enter, 0, 0, false)), TRACE_IO);
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', SYS_clock_nanosleep, 0, 0, false)),
                     TRACE_SLEEP);
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', SYS_nanosleep, 0, 0, false)), TRACE_SLEEP);
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', SYS_wait4, 0, 0, false)), TRACE_WAIT);
#ifdef SYS_select
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', SYS_select, 0, 0, false)), TRACE_IO);
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', SYS_poll, 0, 0, false)), TRACE_IO);
#endif
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', 99999, 0, 0, false)), TRACE_KERNEL);
    assert_int_equal(TRACE_STATE_OF(ps_classify('D', 99999, 0, 0, false)), TRACE_IO);
    assert_int_equal(TRACE_STATE_OF(ps_classify('S', -1, 0, 0, false)), TRACE_RUN);
    /* Stopped, zombie, dead. */
    unsigned w = ps_classify('T', -2, 0, 0, false);
    assert_int_equal(TRACE_STATE_OF(w), TRACE_IDLE);
    assert_string_equal(ps_note_name(TRACE_NOTE_OF(w)), "stopped");
    assert_int_equal(TRACE_STATE_OF(ps_classify('t', -2, 0, 0, false)), TRACE_IDLE);
    assert_int_equal(TRACE_STATE_OF(ps_classify('Z', -2, 0, 0, false)), TRACE_DONE);
    assert_int_equal(TRACE_STATE_OF(ps_classify('X', -2, 0, 0, false)), TRACE_DONE);
    /* The note names the call. */
    assert_string_equal(ps_note_name(TRACE_NOTE_OF(ps_classify('S', SYS_futex, 0, 0, false))),
                        "futex");
    char buf[32];
    assert_string_equal(ps_syscall_name(SYS_futex, buf, sizeof buf), "futex");
    assert_string_equal(ps_syscall_name(99999, buf, sizeof buf), "syscall 99999");
}

/* A sink that records lanes and events. */
struct rec {
    int nlanes;
    char name[64][32];
    pid_t tid[64];
    int nev;
    int lane[256];
    unsigned word[256];
    uint64_t t[256];
    int room; /* lanes it gives before refusing */
};

static int rec_lane(void *arg, const struct ps_thread *t, bool main_thread)
{
    struct rec *r = arg;
    if (r->nlanes >= r->room)
        return -1;
    snprintf(r->name[r->nlanes], sizeof r->name[0], "%s%s %d", main_thread ? "" : "  ", t->comm,
             (int)t->tid);
    r->tid[r->nlanes] = t->tid;
    return r->nlanes++;
}

static void rec_emit(void *arg, int lane, unsigned word, uint64_t t)
{
    struct rec *r = arg;
    if (r->nev < 256) {
        r->lane[r->nev] = lane;
        r->word[r->nev] = word;
        r->t[r->nev] = t;
        r->nev++;
    }
}

/* The last state a lane was given. */
static int last_state(const struct rec *r, int lane)
{
    for (int i = r->nev - 1; i >= 0; i--)
        if (r->lane[i] == lane)
            return (int)TRACE_STATE_OF(r->word[i]);
    return -1;
}

static int lane_of(const struct rec *r, pid_t tid)
{
    for (int i = 0; i < r->nlanes; i++)
        if (r->tid[i] == tid)
            return i;
    return -1;
}

static char root[64];

static void put(const char *rel, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", root, rel);
    /* mkdir -p of the directories on the way. */
    for (char *p = path + strlen(root) + 1; (p = strchr(p, '/')) != NULL; p++) {
        *p = '\0';
        mkdir(path, 0755);
        *p = '/';
    }
    FILE *f = fopen(path, "w");
    assert_non_null(f);
    fputs(text, f);
    fclose(f);
}

/* A thread's three files: its stat with state st, its schedstat and its syscall. */
static void put_thread(int pid, int tid, const char *comm, char st, const char *sched,
                       const char *sys, int ppid)
{
    char rel[128], text[512];
    snprintf(text, sizeof text,
             "%d (%s) %c %d %d 0 0 -1 0 0 0 0 0 5 6 0 0 20 0 1 0 9 0 0 0 0 0 0 0 0 0 0 0 0 0 0 "
             "0 17 0 0 0 0 0 0\n",
             tid, comm, st, ppid, pid);
    snprintf(rel, sizeof rel, "%d/task/%d/stat", pid, tid);
    put(rel, text);
    if (tid == pid) {
        snprintf(rel, sizeof rel, "%d/stat", pid);
        put(rel, text);
    }
    snprintf(rel, sizeof rel, "%d/task/%d/schedstat", pid, tid);
    put(rel, sched);
    snprintf(rel, sizeof rel, "%d/task/%d/syscall", pid, tid);
    put(rel, sys);
}

static void rm_rf(const char *dir)
{
    char cmd[128];
    snprintf(cmd, sizeof cmd, "rm -rf '%s'", dir);
    assert_int_equal(system(cmd), 0);
}

static int setup_root(void **state)
{
    (void)state;
    snprintf(root, sizeof root, "/tmp/conctui-ps-XXXXXX");
    assert_non_null(mkdtemp(root));
    return 0;
}

static int teardown_root(void **state)
{
    (void)state;
    rm_rf(root);
    return 0;
}

static void test_canned_tree(void **state)
{
    (void)state;
    char futex[64], rd[64], sleep_[64];
    snprintf(futex, sizeof futex, "%d 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8\n", (int)SYS_futex);
    snprintf(rd, sizeof rd, "%d 0x0 0x2 0x3 0x4 0x5 0x6 0x7 0x8\n", (int)SYS_read);
    snprintf(sleep_, sizeof sleep_, "%d 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8\n",
             (int)SYS_clock_nanosleep);
    put_thread(100, 100, "python3", 'S', "10 10 1\n", futex, 1);
    put_thread(100, 101, "python3", 'R', "10 10 1\n", "running\n", 1);
    struct rec r = {.room = 64};
    struct ps_sink sink = {rec_lane, rec_emit, &r};
    struct procsample s;
    assert_int_equal(ps_open(&s, root, 100, &sink), 0);
    s.scan_every = 1;
    assert_int_equal(r.nlanes, 2);
    assert_string_equal(r.name[0], "python3 100"); /* the main thread first */
    assert_string_equal(r.name[1], "  python3 101");
    /* Thread 101 ran 5 ms, waited 0: run. 100 sleeps in futex: lock. */
    put_thread(100, 101, "python3", 'R', "5000010 10 2\n", "running\n", 1);
    assert_int_equal(ps_sample(&s, 1000), 2);
    assert_int_equal(last_state(&r, 0), TRACE_LOCK);
    assert_int_equal(last_state(&r, 1), TRACE_RUN);
    int nev = r.nev;
    /* Nothing changed: nothing emitted. */
    put_thread(100, 101, "python3", 'R', "9000010 10 3\n", "running\n", 1);
    ps_sample(&s, 2000);
    assert_int_equal(r.nev, nev);
    /* 101 waited for a CPU more than it ran: ready; 100 now reads: io. */
    put_thread(100, 101, "python3", 'R', "9000020 3000000 3\n", "running\n", 1);
    put_thread(100, 100, "python3", 'S', "20 10 2\n", rd, 1); /* it ran, and sleeps elsewhere */
    uint64_t reads = s.reads;
    ps_sample(&s, 3000);
    assert_int_equal(s.reads - reads, 5); /* two stats, two schedstats, one syscall */
    assert_int_equal(last_state(&r, 0), TRACE_IO);
    assert_int_equal(last_state(&r, 1), TRACE_READY);
    /*
     * Not scheduled since: still in the same call. Its schedstat is all that
     * is read (no stat, no syscall); the running thread costs two reads.
     */
    reads = s.reads;
    ps_sample(&s, 3001);
    assert_int_equal(s.reads - reads, 3);
    assert_int_equal(last_state(&r, 0), TRACE_IO);
    /* Woken and run since: its stat is read again, and it runs. */
    put_thread(100, 100, "python3", 'R', "1000020 10 3\n", "running\n", 1);
    ps_sample(&s, 3002);
    assert_int_equal(last_state(&r, 0), TRACE_RUN);
    put_thread(100, 100, "python3", 'S', "1000030 10 4\n", rd, 1);
    ps_sample(&s, 3003);
    assert_int_equal(last_state(&r, 0), TRACE_IO);
    /* A new thread and a child process (found by the /proc scan: no children files here). */
    put_thread(100, 102, "worker", 'S', "1 1 1\n", sleep_, 1);
    put_thread(200, 200, "child", 'S', "1 1 1\n", sleep_, 100);
    put_thread(300, 300, "stranger", 'S', "1 1 1\n", sleep_, 1); /* not ours */
    ps_discover(&s, 4000);
    /* Their lanes come a few passes later, under the name they have by then (an exec's). */
    assert_int_equal(r.nlanes, 2);
    ps_sample(&s, 4100);
    put_thread(200, 200, "execd", 'S', "2 1 2\n", sleep_, 100); /* it ran to exec */
    for (int i = 1; i < PS_PEND_PASSES; i++)
        ps_sample(&s, 4200 + (uint64_t)i);
    /* The new thread of the program has its lane; the child process waits longer. */
    assert_int_equal(r.nlanes, 3);
    assert_true(lane_of(&r, 102) >= 0);
    assert_int_equal(lane_of(&r, 200), -1);
    for (int i = PS_PEND_PASSES; i < PS_PEND_PASSES_CHILD; i++)
        ps_sample(&s, 4200 + (uint64_t)i);
    assert_int_equal(r.nlanes, 4);
    assert_string_equal(r.name[lane_of(&r, 200)], "execd 200");
    /* What they did meanwhile arrives with its own times. */
    assert_int_equal(r.t[r.nev - 1], 4100);
    assert_true(lane_of(&r, 102) >= 0);
    assert_true(lane_of(&r, 200) >= 0);
    assert_int_equal(lane_of(&r, 300), -1);
    assert_int_equal(ps_live_procs(&s), 2);
    ps_sample(&s, 5000);
    assert_int_equal(last_state(&r, lane_of(&r, 102)), TRACE_SLEEP);
    assert_int_equal(last_state(&r, lane_of(&r, 200)), TRACE_SLEEP);
    /* A grandchild, whose parent is the child. */
    put_thread(400, 400, "grandchild", 'T', "1 1 1\n", sleep_, 200);
    ps_discover(&s, 6000);
    for (int i = 0; i < PS_PEND_PASSES_CHILD; i++)
        ps_sample(&s, 6000 + (uint64_t)i);
    assert_int_equal(last_state(&r, lane_of(&r, 400)), TRACE_IDLE);
    /* A thread gone within its first passes gets no lane, only a count. */
    put_thread(100, 103, "brief", 'R', "1 1 1\n", "running\n", 1);
    ps_discover(&s, 6500);
    ps_sample(&s, 6600);
    put("100/task/103/stat", "");
    put("100/task/103/schedstat", "");
    ps_sample(&s, 6700);
    assert_int_equal(lane_of(&r, 103), -1);
    assert_int_equal(s.brief, 1);
    /*
     * The thread 102 exits (its open files read nothing), the child becomes
     * a zombie (it ran to exit: its schedstat grew).
     */
    put("100/task/102/stat", "");
    put("100/task/102/schedstat", "");
    put_thread(200, 200, "execd", 'Z', "3 1 3\n", sleep_, 100);
    ps_sample(&s, 7000);
    assert_int_equal(last_state(&r, lane_of(&r, 102)), TRACE_DONE);
    assert_int_equal(last_state(&r, lane_of(&r, 200)), TRACE_DONE);
    assert_int_equal(ps_live_threads(&s), 3);
    /* Events carry the pass's time. */
    assert_int_equal(r.t[r.nev - 1], 7000);
    ps_close(&s);
}

static void test_lanes_run_out(void **state)
{
    (void)state;
    char rel[64];
    for (int t = 500; t < 510; t++)
        put_thread(500, t, "many", 'R', "1 1 1\n", "running\n", 1);
    snprintf(rel, sizeof rel, "500/stat");
    struct rec r = {.room = 4};
    struct ps_sink sink = {rec_lane, rec_emit, &r};
    struct procsample s;
    assert_int_equal(ps_open(&s, root, 500, &sink), 0);
    assert_int_equal(r.nlanes, 4);
    assert_int_equal(s.unlaned, 6);
    for (int t = 500; t < 510; t++)
        put_thread(500, t, "many", 'R', "5000001 1 1\n", "running\n", 1);
    assert_int_equal(ps_sample(&s, 1000), 10);
    assert_int_equal(s.on_cpu_unlaned, 6);
    ps_close(&s);
}

static void test_gone_at_once(void **state)
{
    (void)state;
    struct rec r = {.room = 64};
    struct ps_sink sink = {rec_lane, rec_emit, &r};
    struct procsample s;
    assert_int_equal(ps_open(&s, root, 999, &sink), -ESRCH);
    ps_close(&s);
}

/* Real threads of this process, read from the real /proc. */
/* ---- exact mode: the kernel's switch records ---- */

static size_t rec_put(unsigned char *buf, size_t at, uint32_t type, uint16_t misc, const void *body,
                      size_t blen)
{
    struct perf_event_header h = {.type = type, .misc = misc, .size = (uint16_t)(8 + blen)};
    memcpy(buf + at, &h, sizeof h);
    memcpy(buf + at + 8, body, blen);
    return at + 8 + blen;
}

static size_t put_switch(unsigned char *buf, size_t at, uint16_t misc, uint32_t pid, uint32_t tid,
                         uint64_t t, uint32_t cpu)
{
    unsigned char b[24];
    uint32_t res = 0;
    memcpy(b, &pid, 4);
    memcpy(b + 4, &tid, 4);
    memcpy(b + 8, &t, 8);
    memcpy(b + 16, &cpu, 4);
    memcpy(b + 20, &res, 4);
    return rec_put(buf, at, PERF_RECORD_SWITCH, misc, b, sizeof b);
}

static void test_schedrec_parse(void **state)
{
    (void)state;
    unsigned char buf[1024];
    size_t n = 0;
    n = put_switch(buf, n, 0, 100, 101, 1000, 1); /* in */
    n = put_switch(buf, n, PERF_RECORD_MISC_SWITCH_OUT | PERF_RECORD_MISC_SWITCH_OUT_PREEMPT, 100,
                   101, 2000, 1);
    n = put_switch(buf, n, PERF_RECORD_MISC_SWITCH_OUT, 100, 102, 3000, 0);
    /* An exit: pid, ppid, tid, ptid, time, then the sample id. */
    unsigned char ex[48] = {0};
    uint32_t v[4] = {100, 1, 102, 100};
    uint64_t et = 4000;
    memcpy(ex, v, sizeof v);
    memcpy(ex + 16, &et, 8);
    n = rec_put(buf, n, PERF_RECORD_EXIT, 0, ex, sizeof ex);
    /* Records the kernel could not write. */
    uint64_t lost_body[2] = {7, 5};
    n = rec_put(buf, n, PERF_RECORD_LOST, 0, lost_body, sizeof lost_body);
    /* A wake-up sample: the waker 101, then raw data whose pid (offset 24) is 102. */
    unsigned char smp[28 + 36] = {0};
    uint32_t ids[2] = {100, 101}, cpu = 1, raw = 36, woken = 102;
    uint64_t wt = 5000;
    memcpy(smp, ids, 8);
    memcpy(smp + 8, &wt, 8);
    memcpy(smp + 16, &cpu, 4);
    memcpy(smp + 24, &raw, 4);
    memcpy(smp + 28 + 24, &woken, 4);
    n = rec_put(buf, n, PERF_RECORD_SAMPLE, 0, smp, sizeof smp);
    size_t good = n;
    /* A damaged header ends the parse. */
    n = rec_put(buf, n, PERF_RECORD_SWITCH, 0, "", 0);
    buf[good + 6] = 2; /* size 2: shorter than a header */

    struct schedrec_ev ev[16];
    uint64_t lost = 0;
    size_t got = schedrec__parse(buf, n, 24, true, ev, 16, &lost);
    assert_int_equal(got, 5);
    assert_int_equal(lost, 5);
    assert_int_equal(ev[0].kind, SR_IN);
    assert_int_equal(ev[0].tid, 101);
    assert_int_equal(ev[0].t, 1000);
    assert_int_equal(ev[0].cpu, 1);
    assert_int_equal(ev[1].kind, SR_OUT_PREEMPT);
    assert_int_equal(ev[2].kind, SR_OUT_BLOCK);
    assert_int_equal(ev[2].tid, 102);
    assert_int_equal(ev[3].kind, SR_EXIT);
    assert_int_equal(ev[3].tid, 102);
    assert_int_equal(ev[3].t, 4000);
    assert_int_equal(ev[4].kind, SR_WAKE);
    assert_int_equal(ev[4].tid, 102);
    assert_int_equal(ev[4].waker, 101);
    assert_int_equal(ev[4].t, 5000);
    /* Without wake-ups asked for, samples are skipped; a short buffer stops at max. */
    assert_int_equal(schedrec__parse(buf, good, 24, false, ev, 16, NULL), 4);
    assert_int_equal(schedrec__parse(buf, good, 24, true, ev, 2, NULL), 2);
    /* A record cut at the end of the data is not read. */
    assert_int_equal(schedrec__parse(buf, 8 + 24 + 10, 24, true, ev, 16, NULL), 1);
}

static void test_exact_apply(void **state)
{
    (void)state;
    char futex[64], running[] = "running\n";
    snprintf(futex, sizeof futex, "%d 0x1 0x2 0x3 0x4 0x5 0x6 0x7 0x8\n", (int)SYS_futex);
    put_thread(100, 100, "python3", 'S', "10 10 1\n", futex, 1);
    put_thread(100, 101, "python3", 'R', "10 10 1\n", running, 1);
    struct rec r = {.room = 64};
    struct ps_sink sink = {rec_lane, rec_emit, &r};
    struct procsample s;
    assert_int_equal(ps_open(&s, root, 100, &sink), 0);
    s.exact = true;
    ps_sample(&s, 1000); /* first words: from the pass */
    assert_int_equal(last_state(&r, 0), TRACE_LOCK);
    assert_int_equal(last_state(&r, 1), TRACE_RUN);
    /* 101 is preempted at 1100, gets its CPU back at 1200; 100 wakes at 1150 and runs at 1300. */
    put_thread(100, 101, "python3", 'R', "5000 20 3\n", running, 1);
    put_thread(100, 100, "python3", 'R', "900 10 2\n", running, 1);
    struct schedrec_ev ev[] = {
        {.t = 1100, .pid = 100, .tid = 101, .kind = SR_OUT_PREEMPT},
        {.t = 1150, .tid = 100, .waker = 101, .kind = SR_WAKE},
        {.t = 1200, .pid = 100, .tid = 101, .kind = SR_IN},
        {.t = 1300, .pid = 100, .tid = 100, .kind = SR_IN},
        {.t = 1310, .pid = 999, .tid = 999, .kind = SR_IN}, /* not ours */
    };
    int nev = r.nev;
    ps_sample(&s, 1400); /* the pass emits nothing itself in exact mode */
    assert_int_equal(r.nev, nev);
    ps_exact_apply(&s, ev, sizeof ev / sizeof ev[0]);
    assert_int_equal(r.nev, nev + 4);
    assert_int_equal(TRACE_STATE_OF(r.word[nev]), TRACE_READY);
    assert_int_equal(r.t[nev], 1100);
    assert_int_equal(TRACE_STATE_OF(r.word[nev + 1]), TRACE_READY); /* woken */
    assert_int_equal(r.lane[nev + 1], 0);
    assert_int_equal(r.t[nev + 1], 1150);
    assert_int_equal(last_state(&r, 0), TRACE_RUN);
    assert_int_equal(last_state(&r, 1), TRACE_RUN);
    assert_int_equal(s.exact_unknown, 1);
    assert_int_equal(s.th[0].wakeups, 1);
    assert_int_equal(s.th[0].waker, 101);
    /* 100 gives its CPU up and the pass finds it in futex: lock, from the record's time. */
    put_thread(100, 100, "python3", 'S', "1000 10 3\n", futex, 1);
    ps_sample(&s, 1600);
    struct schedrec_ev out[] = {{.t = 1500, .pid = 100, .tid = 100, .kind = SR_OUT_BLOCK}};
    ps_exact_apply(&s, out, 1);
    assert_int_equal(last_state(&r, 0), TRACE_LOCK);
    assert_int_equal(r.t[r.nev - 1], 1500);
    /* 101 gives its CPU up, but the pass had seen it running: "in the kernel" for now... */
    ps_sample(&s, 1700);
    struct schedrec_ev out2[] = {{.t = 1650, .pid = 100, .tid = 101, .kind = SR_OUT_BLOCK}};
    ps_exact_apply(&s, out2, 1);
    assert_int_equal(last_state(&r, 1), TRACE_KERNEL);
    /* ...until the next pass reads its wait: renamed from the wait's start. */
    put_thread(100, 101, "python3", 'S', "6000 20 4\n", futex, 1);
    ps_sample(&s, 1800);
    ps_exact_apply(&s, NULL, 0);
    assert_int_equal(last_state(&r, 1), TRACE_LOCK);
    assert_int_equal(r.t[r.nev - 1], 1650);
    /* Its exit, at the record's time. */
    struct schedrec_ev ex[] = {{.t = 1900, .pid = 100, .tid = 101, .kind = SR_EXIT}};
    ps_exact_apply(&s, ex, 1);
    assert_int_equal(last_state(&r, 1), TRACE_DONE);
    assert_int_equal(r.t[r.nev - 1], 1900);
    assert_int_equal(ps_live_threads(&s), 1);
    ps_close(&s);
}

static atomic_int stop_spin;
static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;

static void *spinner(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_spin)) {
    }
    return NULL;
}

static void *sleeper(void *arg)
{
    (void)arg;
    while (!atomic_load(&stop_spin)) {
        struct timespec d = {0, 50000000};
        nanosleep(&d, NULL);
    }
    return NULL;
}

static void *locker(void *arg)
{
    (void)arg;
    pthread_mutex_lock(&mu);
    pthread_mutex_unlock(&mu);
    return NULL;
}

/* The threads of this process now, as /proc lists them. */
static int tasks_now(void)
{
    DIR *d = opendir("/proc/self/task");
    int n = 0;
    struct dirent *de;
    while (d && (de = readdir(d)) != NULL)
        n += de->d_name[0] != '.';
    if (d)
        closedir(d);
    return n;
}

static void test_real_threads(void **state)
{
    (void)state;
    struct rec r = {.room = 64};
    struct ps_sink sink = {rec_lane, rec_emit, &r};
    pthread_mutex_lock(&mu);
    pthread_t th[3];
    assert_int_equal(pthread_create(&th[0], NULL, spinner, NULL), 0);
    assert_int_equal(pthread_create(&th[1], NULL, sleeper, NULL), 0);
    assert_int_equal(pthread_create(&th[2], NULL, locker, NULL), 0);
    struct timespec d = {0, 50000000};
    nanosleep(&d, NULL); /* everyone in place */
    struct procsample s;
    assert_int_equal(ps_open(&s, NULL, getpid(), &sink), 0);
    assert_true(r.nlanes >= 4);
    /* Count what each lane showed over many passes. */
    int seen[64][TRACE_NSTATES] = {{0}};
    for (int pass = 0; pass < 50; pass++) {
        int from = r.nev;
        ps_sample(&s, (uint64_t)pass + 1);
        (void)from;
        for (int l = 0; l < r.nlanes; l++) {
            int st = last_state(&r, l);
            if (st >= 0)
                seen[l][st]++;
        }
        struct timespec p = {0, 1000000};
        nanosleep(&p, NULL);
    }
    /* The sleeper slept, the locker waited on the lock; the spinner was on a CPU or waiting for
     * one. */
    int sleeping = 0, locked = 0, busy = 0;
    for (int l = 1; l < r.nlanes; l++) {
        sleeping += seen[l][TRACE_SLEEP] > 40;
        locked += seen[l][TRACE_LOCK] > 40;
        busy += seen[l][TRACE_RUN] + seen[l][TRACE_READY] > 40;
    }
    assert_true(sleeping >= 1);
    assert_true(locked >= 1);
    assert_true(busy >= 1);
    /* The main thread, asleep in nanosleep between passes, never shows as the spinner does. */
    int before = tasks_now(); /* the three, and any thread of a sanitizer's runtime */
    pthread_mutex_unlock(&mu);
    atomic_store(&stop_spin, 1);
    for (int i = 0; i < 3; i++)
        pthread_join(th[i], NULL);
    /* A joined thread may still be leaving the kernel (its tid is cleared before it exits):
     * it is seen gone within a few passes of leaving /proc. */
    for (uint64_t pass = 100;
         pass < 2100 && (tasks_now() != before - 3 || ps_live_threads(&s) != before - 3); pass++) {
        ps_sample(&s, pass);
        struct timespec p = {0, 1000000};
        nanosleep(&p, NULL);
    }
    assert_int_equal(ps_live_threads(&s), before - 3);
    ps_close(&s);
}

int main(void)
{
    test_watchdog(60);
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_stat),
        cmocka_unit_test(test_parse_small_files),
        cmocka_unit_test(test_classify),
        cmocka_unit_test_setup_teardown(test_canned_tree, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_lanes_run_out, setup_root, teardown_root),
        cmocka_unit_test_setup_teardown(test_gone_at_once, setup_root, teardown_root),
        cmocka_unit_test(test_real_threads),
        cmocka_unit_test(test_schedrec_parse),
        cmocka_unit_test_setup_teardown(test_exact_apply, setup_root, teardown_root),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
