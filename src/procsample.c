/*
 * DESIGN: see procsample.h. One pass: for each live thread, pread its stat;
 * a runnable thread also gets its schedstat read (run time against run
 * delay since the last pass), a sleeping one its syscall file. A state word
 * is emitted only when it changes. Threads and processes live in two
 * bounded tables (PS_MAX_THREADS, PS_MAX_PROCS); what does not fit is
 * counted in `lost`. Discovery reads each live process's task directory and
 * either its threads' children files (kept open) or, without them, the
 * entries of the /proc directory not seen by the last scan, whose stat names
 * a followed parent; it looks only at processes one of whose threads ran,
 * came or went since the last look (a sleeping thread clones nothing).
 */
#include "config.h"

#include "procsample.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

#include "i18n.h"

#define SC(n, st)                                                                                  \
    {                                                                                              \
        SYS_##n, #n, TRACE_##st                                                                    \
    }

/* The system calls a thread is commonly found asleep in, and what it waits for there. */
const struct ps_syscall ps_syscalls[] = {
    SC(futex, LOCK),
    SC(read, IO),
    SC(readv, IO),
    SC(pread64, IO),
    SC(preadv, IO),
    SC(write, IO),
    SC(writev, IO),
    SC(pwrite64, IO),
    SC(recvfrom, IO),
    SC(recvmsg, IO),
    SC(recvmmsg, IO),
    SC(sendto, IO),
    SC(sendmsg, IO),
    SC(accept4, IO),
    SC(connect, IO),
    SC(ppoll, IO),
    SC(pselect6, IO),
    SC(epoll_pwait, IO),
    SC(io_uring_enter, IO),
    SC(io_getevents, IO),
    SC(splice, IO),
    SC(fsync, IO),
    SC(fdatasync, IO),
    SC(openat, IO),
    SC(flock, LOCK),
    SC(fcntl, LOCK),
    SC(clock_nanosleep, SLEEP),
    SC(nanosleep, SLEEP),
    SC(wait4, WAIT),
    SC(waitid, WAIT),
    SC(rt_sigsuspend, IDLE),
    SC(rt_sigtimedwait, IDLE),
    SC(msgrcv, WAIT),
    SC(semtimedop, LOCK),
#ifdef SYS_poll
    SC(poll, IO),
#endif
#ifdef SYS_select
    SC(select, IO),
#endif
#ifdef SYS_epoll_wait
    SC(epoll_wait, IO),
#endif
#ifdef SYS_epoll_pwait2
    SC(epoll_pwait2, IO),
#endif
#ifdef SYS_accept
    SC(accept, IO),
#endif
#ifdef SYS_recv
    SC(recv, IO),
#endif
#ifdef SYS_pause
    SC(pause, IDLE),
#endif
#ifdef SYS_futex_waitv
    SC(futex_waitv, LOCK),
#endif
#ifdef SYS_semop
    SC(semop, LOCK),
#endif
};
const int ps_nsyscalls = (int)(sizeof ps_syscalls / sizeof ps_syscalls[0]);

/* The note words: the sampler's own, then each known system call's name (filled at load). */
const char *ps_note_words[PS_NOTES_MAX] = {
    [PS_NOTE_NONE] = "",
    [PS_NOTE_STOPPED] = N_("stopped"),
    [PS_NOTE_ZOMBIE] = N_("exited, not yet reaped"),
    [PS_NOTE_EXITED] = N_("exited"),
    [PS_NOTE_DISK] = N_("uninterruptible wait"),
    [PS_NOTE_PREEMPTED] = N_("preempted"),
};
const int ps_nnotes = PS_NOTES_MAX;

__attribute__((constructor)) static void ps_notes_fill(void)
{
    for (int i = 0; i < ps_nsyscalls && PS_NOTE_SYSCALL0 + i < PS_NOTES_MAX; i++)
        ps_note_words[PS_NOTE_SYSCALL0 + i] = ps_syscalls[i].name;
    for (int i = 0; i < PS_NOTES_MAX; i++)
        if (!ps_note_words[i])
            ps_note_words[i] = "";
}

const char *ps_note_name(unsigned note)
{
    return note < PS_NOTES_MAX && ps_note_words[note] ? ps_note_words[note] : "";
}

const char *ps_syscall_name(long nr, char *buf, size_t len)
{
    for (int i = 0; i < ps_nsyscalls; i++)
        if (ps_syscalls[i].nr == nr)
            return ps_syscalls[i].name;
    snprintf(buf, len, "syscall %ld", nr);
    return buf;
}

static int syscall_index(long nr)
{
    for (int i = 0; i < ps_nsyscalls; i++)
        if (ps_syscalls[i].nr == nr)
            return i;
    return -1;
}

int ps_parse_stat(const char *buf, size_t len, struct ps_stat *out)
{
    memset(out, 0, sizeof *out);
    /* "pid (comm) S ppid ...": comm may hold spaces and parentheses; it ends at the last ')'. */
    const char *open = memchr(buf, '(', len);
    const char *close = memrchr(buf, ')', len);
    if (!open || !close || close < open)
        return -1;
    size_t n = (size_t)(close - open - 1);
    if (n >= sizeof out->comm)
        n = sizeof out->comm - 1;
    memcpy(out->comm, open + 1, n);
    out->comm[n] = '\0';
    const char *p = close + 1, *end = buf + len;
    /* Fields from 3 (state) on, counted as proc(5) counts them. */
    unsigned long long f[40] = {0};
    int field = 3;
    char st = 0;
    while (p < end && field <= 39) {
        while (p < end && *p == ' ')
            p++;
        if (p >= end || *p == '\n')
            break;
        if (field == 3) {
            st = *p++;
        } else {
            bool neg = *p == '-';
            if (neg)
                p++;
            unsigned long long v = 0;
            while (p < end && (unsigned)(*p - '0') < 10)
                v = v * 10 + (unsigned long long)(*p++ - '0');
            f[field] = neg ? (unsigned long long)-(long long)v : v;
        }
        while (p < end && *p != ' ' && *p != '\n')
            p++;
        field++;
    }
    if (!st || field <= 15)
        return -1;
    out->state = st;
    out->ppid = (pid_t)f[4];
    out->pgrp = (pid_t)f[5];
    out->utime = f[14];
    out->stime = f[15];
    out->processor = field > 39 ? (int)f[39] : -1;
    return 0;
}

int ps_parse_schedstat(const char *buf, uint64_t *run_ns, uint64_t *delay_ns, uint64_t *slices)
{
    /* Three decimal numbers, as "%llu %llu %llu" reads them, without stdio's cost every pass. */
    unsigned long long v[3];
    const char *p = buf;
    for (int i = 0; i < 3; i++) {
        while (*p == ' ' || *p == '\t' || *p == '\n')
            p++;
        if ((unsigned)(*p - '0') >= 10)
            return -1;
        v[i] = 0;
        while ((unsigned)(*p - '0') < 10)
            v[i] = v[i] * 10 + (unsigned long long)(*p++ - '0');
    }
    unsigned long long a = v[0], b = v[1], c = v[2];
    *run_ns = a;
    *delay_ns = b;
    if (slices)
        *slices = c;
    return 0;
}

long ps_parse_syscall(const char *buf)
{
    if (strncmp(buf, "running", 7) == 0)
        return -1;
    char *end;
    errno = 0;
    long nr = strtol(buf, &end, 10);
    if (end == buf || errno || nr < 0)
        return -2;
    return nr;
}

size_t ps_parse_wchan(const char *buf, size_t n, char *out, size_t len)
{
    if (!len)
        return 0;
    size_t k = 0;
    for (size_t i = 0; i < n && buf[i] && buf[i] != '\n' && k + 1 < len; i++) {
        unsigned char c = (unsigned char)buf[i];
        bool sym = (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9') ||
                   c == '_' || c == '.';
        out[k++] = (char)(sym ? c : '?');
    }
    out[k] = '\0';
    if (k == 0 || strcmp(out, "0") == 0) {
        out[0] = '\0';
        return 0;
    }
    return k;
}

int ps_parse_ctxt(const char *buf, uint64_t *vol, uint64_t *nonvol)
{
    const char *v = strstr(buf, "\nvoluntary_ctxt_switches:");
    const char *n = strstr(buf, "\nnonvoluntary_ctxt_switches:");
    if (!v || !n)
        return -1;
    *vol = strtoull(strchr(v, ':') + 1, NULL, 10);
    *nonvol = strtoull(strchr(n, ':') + 1, NULL, 10);
    return 0;
}

int ps_parse_uids(const char *buf, const char *key, long ids[4])
{
    char pat[16];
    snprintf(pat, sizeof pat, "\n%s:", key);
    const char *p = strstr(buf, pat);
    if (!p && strncmp(buf, pat + 1, strlen(pat + 1)) == 0)
        p = buf - 1;
    for (int i = 0; i < 4; i++)
        ids[i] = -1;
    if (!p)
        return -1;
    p += strlen(pat);
    for (int i = 0; i < 4; i++) {
        char *end;
        ids[i] = strtol(p, &end, 10);
        if (end == p)
            return -1;
        p = end;
    }
    return 0;
}

unsigned ps_classify(char st, long nr, uint64_t drun, uint64_t ddelay, bool stale)
{
    switch (st) {
    case 'R':
        if (ddelay > drun)
            return TRACE_READY | TRACE_NOTE(drun ? PS_NOTE_PREEMPTED : PS_NOTE_NONE);
        if (stale)
            return TRACE_READY;
        return TRACE_RUN;
    case 'S':
    case 'D':
    case 'I': {
        if (nr == -1)
            return TRACE_RUN; /* woke between the two reads */
        int i = nr >= 0 ? syscall_index(nr) : -1;
        unsigned note = i >= 0 && PS_NOTE_SYSCALL0 + i < PS_NOTES_MAX
                            ? (unsigned)(PS_NOTE_SYSCALL0 + i)
                            : (st == 'D' ? PS_NOTE_DISK : PS_NOTE_NONE);
        if (i >= 0)
            return ps_syscalls[i].state | TRACE_NOTE(note);
        return (st == 'D' ? TRACE_IO : TRACE_KERNEL) | TRACE_NOTE(note);
    }
    case 'T':
    case 't':
        return TRACE_IDLE | TRACE_NOTE(PS_NOTE_STOPPED);
    case 'Z':
        return TRACE_DONE | TRACE_NOTE(PS_NOTE_ZOMBIE);
    default: /* X (dead) and anything unknown */
        return TRACE_DONE | TRACE_NOTE(PS_NOTE_EXITED);
    }
}

/* Read a whole small file at offset 0 into buf (terminated); bytes or -1. */
static ssize_t read_at0(int fd, char *buf, size_t len)
{
    ssize_t n;
    do
        n = pread(fd, buf, len - 1, 0);
    while (n < 0 && errno == EINTR);
    if (n < 0)
        return -1;
    buf[n] = '\0';
    return n;
}

static int open_task(const struct procsample *s, pid_t pid, pid_t tid, const char *file)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%d/task/%d/%s", s->root, (int)pid, (int)tid, file);
    return open(path, O_RDONLY | O_CLOEXEC);
}

static ssize_t read_file(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read_at0(fd, buf, len);
    close(fd);
    return n;
}

static struct ps_thread *thread_find(struct procsample *s, pid_t tid)
{
    for (int i = s->nth - 1; i >= 0; i--)
        if (s->th[i].tid == tid && !s->th[i].gone)
            return &s->th[i];
    return NULL;
}

static struct ps_proc *proc_find(struct procsample *s, pid_t pid)
{
    for (int i = s->nproc - 1; i >= 0; i--)
        if (s->proc[i].pid == pid)
            return &s->proc[i];
    return NULL;
}

static void thread_close(struct ps_thread *t)
{
    if (t->fd_stat >= 0)
        close(t->fd_stat);
    if (t->fd_sched >= 0)
        close(t->fd_sched);
    if (t->fd_sys >= 0)
        close(t->fd_sys);
    if (t->fd_child >= 0)
        close(t->fd_child);
    t->fd_stat = t->fd_sched = t->fd_sys = t->fd_child = -1;
}

/*
 * A thread of process p ran, came or went: only then can p have new threads
 * or children (a sleeping thread clones and forks nothing; a thread that
 * ends hands its children to another of its process's). The next
 * ps_discover looks at p, and at /proc.
 */
static void proc_active(struct procsample *s, struct ps_proc *p)
{
    if (p)
        p->act = s->passes + 1;
    s->act = s->passes + 1;
}

/* The thread is now in state word `word`: account the span it leaves, tell the sink. */
static void set_word(struct procsample *s, struct ps_thread *t, unsigned word, uint64_t now)
{
    if (word == t->word)
        return;
    if (t->word != 0xffff) {
        unsigned old = TRACE_STATE_OF(t->word);
        uint64_t span = now > t->since ? now - t->since : 0;
        if (old < TRACE_NSTATES)
            t->state_ns[old] += span;
        unsigned st = TRACE_STATE_OF(word);
        if (old == TRACE_LOCK && (st == TRACE_RUN || st == TRACE_READY)) {
            s->lock_to_run++;
            hist_record(&s->lock_wait, span);
        }
    }
    t->since = now;
    t->word = word;
    if (t->lane >= 0) {
        s->sink.emit(s->sink.arg, t->lane, word, now);
    } else if (t->lane == PS_LANE_PENDING) {
        /* Kept until the lane exists; a full buffer keeps the latest in its last place. */
        int k = t->npend < PS_PEND_MAX ? t->npend++ : PS_PEND_MAX - 1;
        t->pend_word[k] = word;
        t->pend_t[k] = now;
    }
}

/* Give a pending thread its lane (named by its command now) and what it did meanwhile. */
static void thread_lane(struct procsample *s, struct ps_thread *t)
{
    t->lane = s->sink.lane ? s->sink.lane(s->sink.arg, t, t->tid == t->pid) : -1;
    if (t->lane < 0) {
        t->lane = -1;
        s->unlaned++;
        return;
    }
    for (int k = 0; k < t->npend; k++)
        s->sink.emit(s->sink.arg, t->lane, t->pend_word[k], t->pend_t[k]);
    t->npend = 0;
}

static void thread_gone(struct procsample *s, struct ps_thread *t, uint64_t now, unsigned word)
{
    if (t->gone)
        return;
    t->gone = true;
    t->end_ns = now;
    thread_close(t);
    if (t->lane == PS_LANE_PENDING) {
        /* Gone within its first passes (a shell's helper): counted, but given no lane. */
        t->lane = -1;
        t->npend = 0;
        s->brief++;
    }
    set_word(s, t, word, now);
    struct ps_proc *p = proc_find(s, t->pid);
    proc_active(s, p);
    if (p && p->nthreads > 0 && --p->nthreads == 0)
        p->gone = true;
}

/*
 * Follow a new thread: open its files, give it a lane at once (lane_now) or
 * after PS_PEND_PASSES passes: a forked child is found before its exec and
 * a thread before it names itself, and the lane keeps the name it is given.
 */
static void thread_add(struct procsample *s, pid_t pid, pid_t tid, uint64_t now, bool lane_now)
{
    if (thread_find(s, tid))
        return;
    if (s->nth >= PS_MAX_THREADS) {
        s->lost++;
        return;
    }
    struct ps_thread *t = &s->th[s->nth];
    memset(t, 0, sizeof *t);
    t->pid = pid;
    t->tid = tid;
    t->lane = -1;
    t->word = t->guess = t->block_word = 0xffff;
    t->cpu = -1;
    t->nr = -1;
    t->fd_child = -1;
    t->start_ns = t->since = now;
    t->fd_stat = open_task(s, pid, tid, "stat");
    if (t->fd_stat < 0)
        return; /* gone already */
    t->fd_sched = open_task(s, pid, tid, "schedstat");
    t->fd_sys = open_task(s, pid, tid, "syscall");
    char buf[1024];
    struct ps_stat st;
    if (read_at0(t->fd_stat, buf, sizeof buf) <= 0 || ps_parse_stat(buf, strlen(buf), &st) != 0) {
        thread_close(t);
        return;
    }
    snprintf(t->comm, sizeof t->comm, "%s", st.comm);
    if (t->fd_sched >= 0 && read_at0(t->fd_sched, buf, sizeof buf) > 0)
        ps_parse_schedstat(buf, &t->run_ns, &t->delay_ns, NULL);
    s->nth++;
    struct ps_proc *p = proc_find(s, pid);
    if (p)
        p->nthreads++;
    proc_active(s, p);
    t->lane = PS_LANE_PENDING;
    if (lane_now)
        thread_lane(s, t);
}

/* The threads of a live process that are not followed yet (lane_now: give them lanes at once). */
static void scan_tasks(struct procsample *s, struct ps_proc *p, uint64_t now, bool lane_now)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%d/task", s->root, (int)p->pid);
    DIR *d = opendir(path);
    if (!d)
        return;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        pid_t tid = (pid_t)atoi(de->d_name);
        if (!thread_find(s, tid)) {
            thread_add(s, p->pid, tid, now, lane_now);
            if (p->gone && p->nthreads > 0)
                p->gone = false;
        }
    }
    closedir(d);
}

/* Follow a process and its threads. */
static void proc_add(struct procsample *s, pid_t pid, pid_t ppid, uint64_t now, bool lane_now)
{
    if (proc_find(s, pid))
        return;
    if (s->nproc >= PS_MAX_PROCS) {
        s->lost++;
        return;
    }
    struct ps_proc *p = &s->proc[s->nproc++];
    memset(p, 0, sizeof *p);
    p->pid = pid;
    p->ppid = ppid;
    /* The main thread first, so it gets the process's first lane. */
    thread_add(s, pid, pid, now, lane_now);
    scan_tasks(s, p, now, lane_now);
    if (p->nthreads == 0)
        p->gone = true;
}

int ps_open(struct procsample *s, const char *root, pid_t pid, const struct ps_sink *sink)
{
    memset(s, 0, sizeof *s);
    snprintf(s->root, sizeof s->root, "%s", root ? root : "/proc");
    s->pid = pid;
    s->sink = *sink;
    s->th = calloc(PS_MAX_THREADS, sizeof *s->th);
    s->proc = calloc(PS_MAX_PROCS, sizeof *s->proc);
    if (!s->th || !s->proc) {
        ps_close(s);
        return -ENOMEM;
    }
    char path[256];
    snprintf(path, sizeof path, "%s/%d", s->root, (int)pid);
    if (access(path, F_OK) != 0)
        return -ESRCH;
    snprintf(path, sizeof path, "%s/%d/task/%d/children", s->root, (int)pid, (int)pid);
    s->children_files = access(path, R_OK) == 0;
    s->scan_every = 4;
    proc_add(s, pid, 0, 0, true);
    return s->nth > 0 ? 0 : -ESRCH;
}

void ps_close(struct procsample *s)
{
    for (int i = 0; s->th && i < s->nth; i++)
        thread_close(&s->th[i]);
    free(s->th);
    free(s->proc);
    free(s->seen_pids);
    s->th = NULL;
    s->proc = NULL;
    s->seen_pids = NULL;
    s->nth = s->nproc = 0;
}

/* The passes a new thread waits for its lane: longer in a child process. */
static uint64_t pend_passes(const struct procsample *s, const struct ps_thread *t)
{
    return t->pid == s->pid ? PS_PEND_PASSES : PS_PEND_PASSES_CHILD;
}

int ps_sample(struct procsample *s, uint64_t now)
{
    char buf[1024];
    int alive = 0;
    s->passes++;
    s->on_cpu_unlaned = 0;
    for (int i = 0; i < s->nth; i++) {
        struct ps_thread *t = &s->th[i];
        if (t->gone)
            continue;
        /*
         * schedstat first: a thread asleep at the last pass that has not been
         * scheduled since (no run time, no run delay, no new slice) cannot
         * have changed state, call or name (all of that takes a CPU), nor
         * exited (so does that), so its stat line, the dear read (the
         * kernel formats some fifty fields), is not needed. What it misses,
         * a thread woken but not yet on a CPU, the run delay tells once it
         * runs (below).
         */
        uint64_t drun = 0, ddelay = 0;
        bool ran = true; /* scheduled since the last pass (unknown: assume so) */
        bool have_sched = false;
        uint64_t r = 0, d = 0, sl = 0;
        if (t->fd_sched >= 0 && read_at0(t->fd_sched, buf, sizeof buf) > 0) {
            s->reads++;
            if (ps_parse_schedstat(buf, &r, &d, &sl) == 0) {
                have_sched = true;
                drun = r > t->run_ns ? r - t->run_ns : 0;
                ddelay = d > t->delay_ns ? d - t->delay_ns : 0;
                ran = sl != t->slices || drun > 0 || ddelay > 0;
            }
        }
        bool was_asleep = t->last_st == 'S' || t->last_st == 'D';
        if (have_sched && !ran && was_asleep && t->word != 0xffff) {
            t->seen++;
            alive++;
            if (t->lane == PS_LANE_PENDING && t->seen >= pend_passes(s, t))
                thread_lane(s, t);
            continue;
        }
        struct ps_stat st;
        ssize_t n = read_at0(t->fd_stat, buf, sizeof buf);
        s->reads++;
        if (n <= 0 || ps_parse_stat(buf, (size_t)n, &st) != 0) {
            thread_gone(s, t, now, TRACE_DONE | TRACE_NOTE(PS_NOTE_EXITED));
            continue;
        }
        if (have_sched) {
            t->run_ns = r;
            t->delay_ns = d;
            t->slices = sl;
        }
        t->utime = st.utime;
        t->stime = st.stime;
        t->seen++;
        if (t->lane == PS_LANE_PENDING)
            snprintf(t->comm, sizeof t->comm, "%s", st.comm); /* after an exec, its new name */
        long nr = -2;
        if (st.state == 'S' || st.state == 'D') {
            /*
             * Asleep and not scheduled since a pass that saw it asleep: still
             * in the same call. Reading the syscall file (a ptrace check, a
             * wait for the thread to be off its CPU) is the dearest read.
             */
            if (!ran && t->nr >= 0 && t->last_st == st.state) {
                nr = t->nr;
            } else if (t->fd_sys >= 0 && read_at0(t->fd_sys, buf, sizeof buf) > 0) {
                s->reads++;
                nr = ps_parse_syscall(buf);
                t->nr = nr >= 0 ? nr : -1;
            }
        }
        t->last_st = st.state;
        if (ran || st.state == 'R')
            proc_active(s, proc_find(s, t->pid));
        /*
         * A thread on a CPU has its run time brought up to date at every
         * scheduler tick; runnable with none added for longer than a tick at
         * 250 Hz, it is waiting for a CPU (the kernel adds that wait to its
         * run delay only once it gets one).
         */
        unsigned prev = TRACE_STATE_OF(t->word);
        if (st.state != 'R' || drun > 0 || (prev != TRACE_RUN && prev != TRACE_READY))
            t->grew_at = now;
        bool stale = st.state == 'R' && now - t->grew_at > PS_TICK_NS;
        unsigned word = ps_classify(st.state, nr, drun, ddelay, stale);
        if (TRACE_STATE_OF(word) == TRACE_DONE) {
            thread_gone(s, t, now, word);
            continue;
        }
        alive++;
        if (t->lane == -1 && TRACE_STATE_OF(word) == TRACE_RUN)
            s->on_cpu_unlaned++;
        /*
         * Asleep at the last pass, on a CPU now: the kernel's counters say
         * when. It waited `ddelay` for a CPU after its wake-up and has run
         * `drun` since, so it began to run drun ago, ready before that.
         */
        /*
         * Exact mode: past its first word, the records say when a thread
         * changes; the pass says what it waits in (or that it stopped).
         */
        t->guess = word;
        if (!s->exact || t->word == 0xffff) {
            if (was_asleep && t->word != 0xffff && TRACE_STATE_OF(word) == TRACE_RUN && drun > 0 &&
                now - t->since > drun + ddelay + 1) {
                uint64_t t_run = now - drun;
                if (ddelay > 0)
                    set_word(s, t, TRACE_READY, t_run - ddelay);
                set_word(s, t, word, t_run);
            }
            set_word(s, t, word, now);
        }
        if (t->lane == PS_LANE_PENDING && t->seen >= pend_passes(s, t))
            thread_lane(s, t);
    }
    return alive;
}

/* A state that is not on a CPU nor waiting for one: how a thread that gave its CPU up waits. */
static bool word_waits(unsigned word)
{
    unsigned st = TRACE_STATE_OF(word);
    return word != 0xffff && st != TRACE_RUN && st != TRACE_READY && st != TRACE_DONE;
}

/*
 * A thread with no record in this batch has not moved since its last one:
 * when it waits and the pass now names the wait otherwise (the pass that
 * saw it give its CPU up had seen it still running), the wait is renamed
 * from its start.
 */
static void exact_rename(struct procsample *s)
{
    for (int i = 0; i < s->nth; i++) {
        struct ps_thread *t = &s->th[i];
        if (!t->gone && t->batch != s->batches && word_waits(t->word) && word_waits(t->guess) &&
            t->guess != t->word) {
            set_word(s, t, t->guess, t->since);
            t->block_word = t->guess;
        }
    }
}

void ps_exact_apply(struct procsample *s, const struct schedrec_ev *ev, size_t n)
{
    if (!s->exact)
        return;
    s->batches++;
    struct ps_thread **who = n ? malloc(n * sizeof *who) : NULL;
    if (!who) {
        exact_rename(s);
        return;
    }
    /* Whose each record is, and each thread's last record in the batch. */
    struct ps_thread *last = NULL;
    for (size_t i = 0; i < n; i++) {
        struct ps_thread *t = last && last->tid == ev[i].tid ? last : thread_find(s, ev[i].tid);
        who[i] = t && !t->gone ? t : NULL;
        if (who[i]) {
            who[i]->batch_last = (int)i;
            who[i]->batch = s->batches;
            last = who[i];
        } else {
            s->exact_unknown++;
        }
    }
    for (size_t i = 0; i < n; i++) {
        struct ps_thread *t = who[i];
        if (!t || t->gone)
            continue;
        uint64_t at = ev[i].t > t->since ? ev[i].t : t->since;
        unsigned word;
        switch (ev[i].kind) {
        case SR_IN:
            word = TRACE_RUN;
            t->cpu = ev[i].cpu;
            break;
        case SR_OUT_PREEMPT:
            word = TRACE_READY | TRACE_NOTE(PS_NOTE_PREEMPTED);
            break;
        case SR_WAKE:
            t->wakeups++;
            t->waker = ev[i].waker;
            if (!word_waits(t->word))
                continue;
            word = TRACE_READY;
            break;
        case SR_OUT_BLOCK:
            /*
             * Still waiting at the pass that just ran: what /proc said it waits
             * in. Back on a CPU since: the way it waited last time (threads
             * tend to wait in one place), else only "in the kernel".
             */
            if (t->batch_last == (int)i && word_waits(t->guess))
                word = t->guess;
            else if (t->block_word != 0xffff)
                word = t->block_word;
            else
                word = TRACE_KERNEL;
            t->block_word = word;
            break;
        case SR_EXIT:
            thread_gone(s, t, at, TRACE_DONE | TRACE_NOTE(PS_NOTE_EXITED));
            continue;
        default:
            continue;
        }
        set_word(s, t, word, at);
    }
    free(who);
    exact_rename(s);
}

static bool followed_parent(struct procsample *s, pid_t ppid)
{
    struct ps_proc *p = proc_find(s, ppid);
    return p && !p->gone;
}

static int cmp_pid(const void *a, const void *b)
{
    pid_t x = *(const pid_t *)a, y = *(const pid_t *)b;
    return (x > y) - (x < y);
}

/* Without children files: entries of /proc not seen last time whose parent is followed. */
static void scan_proc_dir(struct procsample *s, uint64_t now)
{
    DIR *d = opendir(s->root);
    if (!d)
        return;
    pid_t *now_pids = NULL;
    int n = 0, cap = 0;
    struct dirent *de;
    while ((de = readdir(d)) != NULL) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        if (n == cap) {
            int nc = cap ? cap * 2 : 512;
            pid_t *np = realloc(now_pids, (size_t)nc * sizeof *np);
            if (!np)
                break;
            now_pids = np;
            cap = nc;
        }
        now_pids[n++] = (pid_t)atoi(de->d_name);
    }
    closedir(d);
    qsort(now_pids, (size_t)n, sizeof *now_pids, cmp_pid);
    /* New pids in ascending order: a parent is usually older (smaller) than its child. */
    char path[256], buf[1024];
    for (int i = 0; i < n; i++) {
        pid_t pid = now_pids[i];
        if (s->seen_pids && bsearch(&pid, s->seen_pids, (size_t)s->nseen, sizeof pid, cmp_pid))
            continue;
        if (proc_find(s, pid))
            continue;
        snprintf(path, sizeof path, "%s/%d/stat", s->root, (int)pid);
        struct ps_stat st;
        ssize_t len = read_file(path, buf, sizeof buf);
        if (len > 0 && ps_parse_stat(buf, (size_t)len, &st) == 0 && followed_parent(s, st.ppid))
            proc_add(s, pid, st.ppid, now, false);
    }
    free(s->seen_pids);
    s->seen_pids = now_pids;
    s->nseen = n;
}

void ps_discover(struct procsample *s, uint64_t now)
{
    s->scans++;
    uint64_t since = s->disc_at;
    s->disc_at = s->passes + 1;
    int np = s->nproc;
    for (int i = 0; i < np; i++)
        if (!s->proc[i].gone && s->proc[i].act >= since)
            scan_tasks(s, &s->proc[i], now, false);
    if (!s->children_files) {
        /* The whole of /proc is the dearest look: every scan_every calls, if anything ran. */
        if ((s->scans - 1) % (s->scan_every ? s->scan_every : 1) == 0 && s->act >= s->dir_at) {
            s->dir_at = s->passes + 1;
            scan_proc_dir(s, now);
        }
        return;
    }
    char buf[4096];
    for (int i = 0; i < s->nth; i++) {
        struct ps_thread *t = &s->th[i];
        if (t->gone)
            continue;
        const struct ps_proc *tp = proc_find(s, t->pid);
        if (tp && tp->act < since)
            continue;
        if (t->fd_child < 0)
            t->fd_child = open_task(s, t->pid, t->tid, "children");
        ssize_t len = t->fd_child >= 0 ? read_at0(t->fd_child, buf, sizeof buf) : -1;
        if (len <= 0)
            continue;
        char *p = buf;
        while (*p) {
            char *end;
            long c = strtol(p, &end, 10);
            if (end == p)
                break;
            if (c > 0 && !proc_find(s, (pid_t)c))
                proc_add(s, (pid_t)c, t->pid, now, false);
            p = end;
        }
    }
}

void ps_refresh_status(struct procsample *s)
{
    char path[256], buf[4096];
    for (int i = 0; i < s->nth; i++) {
        struct ps_thread *t = &s->th[i];
        if (t->gone)
            continue;
        snprintf(path, sizeof path, "%s/%d/task/%d/status", s->root, (int)t->pid, (int)t->tid);
        if (read_file(path, buf, sizeof buf) > 0)
            ps_parse_ctxt(buf, &t->vcsw, &t->nvcsw);
    }
}

int ps_live_threads(const struct procsample *s)
{
    int n = 0;
    for (int i = 0; i < s->nth; i++)
        n += !s->th[i].gone;
    return n;
}

int ps_live_procs(const struct procsample *s)
{
    int n = 0;
    for (int i = 0; i < s->nproc; i++)
        n += !s->proc[i].gone;
    return n;
}
