/*
 * Scene: a program of the user's own (`conctui run -- CMD`, `--attach PID`).
 *
 * DESIGN
 * Who runs: the program, started with fork and exec in a process group of
 * its own (or a process already running, for --attach), and two threads of
 * conctui's: the sampler, which reads /proc for every thread of the program
 * and of every process it starts (src/procsample.c) about `hz` times a
 * second, adds a lane for each thread it finds and emits state changes with
 * trace_emit_at (the sampler is every lane's one writer); and, when the
 * output goes to the panel, the output reader, which reads the program's
 * stdout and stderr from one pipe into a ring of lines.
 *
 * Who owns what: the sampler owns the procsample tables and reaps the
 * program (and any orphan, conctui being a child subreaper while the
 * program runs); `mu` guards what the UI thread reads of them (figures, the
 * status) and the exit status. The output ring belongs to `out_mu`.
 *
 * Shutdown: stop() continues a frozen program, sends SIGTERM to its process
 * group and to every process followed, gives them two seconds (the sampler
 * reaps them meanwhile), then SIGKILL; then stops the sampler and the
 * reader (a byte on a pipe wakes its poll) and joins both. For --attach it
 * only stops its own threads.
 */
#include "config.h"

#include "scenes/program.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"
#include "procsample.h"
#include "schedrec.h"
#include "text.h"
#include "trace.h"

enum { P_HZ };
enum { M_EXACT, M_SAMPLED };

#define OUT_CAP 65536 /* bytes of output kept */
#define GRACE_NS 2000000000ull
#define FIG_THREADS 8 /* threads with a row of figures */
#define PG_GROUPS 255 /* lane groups: one a process (a group id is a byte) */

struct pg {
    struct scene_ctx *ctx;
    struct program_opts opts;
    pid_t pid; /* the program */
    bool ours; /* started by us (not --attach) */
    pthread_t sampler, reader;
    bool sampler_on, reader_on;
    int out_fd;       /* the pipe's read end (-1: none) */
    int wake[2];      /* wakes the reader */
    _Atomic int quit; /* the sampler stops */
    pthread_mutex_t mu;
    struct procsample ps;
    bool ps_open;
    /* Exact mode: the kernel's switch records (sr_on), else why not (sr_why). */
    struct schedrec sr;
    bool sr_on;
    char sr_why[256], wake_why[192];
    struct schedrec_ev *evbuf;
    size_t evcap;
    int more_lane;              /* the gauge of threads without a lane (-1: not yet) */
    pid_t group_pid[PG_GROUPS]; /* the process of each lane group (group i + 1) */
    int ngroups;
    _Atomic uint64_t lane_tid[TRACE_MAX_LANES];  /* each lane's process << 32 | thread */
    _Atomic int32_t lane_waker[TRACE_MAX_LANES]; /* exact mode: who last woke its thread */
    _Atomic int32_t lane_cpu[TRACE_MAX_LANES];   /* exact mode: the CPU it last ran on, + 1 */
    unsigned more_last;
    bool reaped;
    int status;       /* the program's exit status once reaped */
    bool ended_by_us; /* stop() sent the signals */
    bool finished;    /* every thread gone and the program reaped */
    bool frozen;
    /*
     * A step (`.` while frozen): the program continued until one of its
     * threads makes a transition of its own (not out of or into the stop),
     * then stopped again. step_mu keeps a step and f from crossing.
     */
    pthread_mutex_t step_mu;
    bool stepping;
    int step_lane; /* the transition found (-1: none yet) */
    int step_only; /* the lane whose transition the step waits for (-1: any) */
    uint64_t step_t;
    unsigned lane_word[TRACE_MAX_LANES]; /* each lane's last word, for the step */
    bool lane_resumed[TRACE_MAX_LANES];  /* it went from the stop to ready */
    bool stopped;                        /* stop() ran */
    uint64_t t0, t_end;                  /* the run's start, its end (0: running) */
    struct rusage ru0;                   /* the sampler's own CPU at the start */
    uint64_t cpu_self_ns;
    pthread_mutex_t out_mu;
    char out[OUT_CAP]; /* a ring of the output's latest bytes */
    uint64_t out_n;    /* bytes ever written */
};

static struct program_opts next_opts = {.out_fd = -1};

void program_configure(const struct program_opts *o)
{
    next_opts = *o;
}

/* The names of the notes: the sampler's own words and the system calls. */

static const struct scene_param pg_params[] = {
    {"hz", N_("how often the sampler reads /proc (passes a second)"), 50, 10000, 1000, "Hz", 0,
     NULL},
};

static const struct scene_mode pg_modes[] = {
    {"exact", N_("your program, from the kernel's switch records"),
     N_("Each lane is a thread of the program or of a process it started, named by its command "
        "and thread id. The kernel records every time a thread gets a CPU (run), loses it while "
        "runnable (ready), or gives it up to wait: perf_event_open's context-switch records, to "
        "the nanosecond. What a waiting thread waits in comes from /proc: futex is a lock (a "
        "mutex, a condition variable, the GIL), read, recv, poll, select, epoll_wait and accept "
        "are I/O, nanosleep is sleep, wait4 waits for a child. Where the kernel refuses the "
        "records, the states are sampled from /proc instead, and the status line says why. "
        "Below, the program's output."),
     2 * SCENE_MS},
    {"sampled", N_("your program, sampled from /proc"),
     N_("Each lane is a thread of the program or of a process it started, named by its command "
        "and thread id. The states come from the kernel: /proc says whether the thread is on a "
        "CPU (run), runnable but waiting for one (ready), or asleep, and in which system call: "
        "futex is a lock (a mutex, a condition variable, the GIL), read, recv, poll, select, "
        "epoll_wait and accept are I/O, nanosleep is sleep, wait4 waits for a child. A state "
        "shorter than the sampling period may be missed. Below, the program's output."),
     2 * SCENE_MS},
};

static const struct scene_figure pg_figures[] = {
    {.name = "threads", .label = N_("threads now"), .fmt = FIG_INT, .flags = FIG_HEADLINE},
    {.name = "cpu_cores", .label = N_("CPU used"), .unit = N_("cores"), .flags = FIG_HEADLINE},
    {.name = "sample_hz", .label = N_("sampling rate"), .flags = FIG_HEADLINE},
    {.name = "processes", .label = N_("processes now"), .fmt = FIG_INT},
    {.name = "threads_seen", .label = N_("threads seen"), .fmt = FIG_INT},
    {.name = "threads_unlaned", .label = N_("threads without a lane"), .fmt = FIG_INT},
    {.name = "threads_brief", .label = N_("threads too brief for a lane"), .fmt = FIG_INT},
    {.name = "cpu_s", .label = N_("CPU time")},
    {.name = "lock_handoffs_per_s", .label = N_("lock hand-offs")},
    {.name = "lock_wait_p50", .label = N_("lock wait p50")},
    {.name = "lock_wait_p99", .label = N_("lock wait p99")},
    {.name = "sampler_cpu", .label = N_("sampler's CPU")},
    {.name = "records_per_s", .label = N_("switch records")},
    {.name = "records_lost", .label = N_("switch records lost"), .fmt = FIG_INT},
    {.name = "exit_status", .label = N_("exit status"), .fmt = FIG_INT},
    {.name = "thr_*_cpu_s", .label = N_("CPU"), .flags = FIG_COLUMN},
    {.name = "thr_*_proc_cores",
     .label = N_("process CPU"),
     .unit = N_("cores"),
     .flags = FIG_COLUMN},
    {.name = "thr_*_run", .label = N_("run"), .flags = FIG_COLUMN},
    {.name = "thr_*_ready", .label = N_("ready"), .flags = FIG_COLUMN},
    {.name = "thr_*_lock", .label = N_("lock"), .flags = FIG_COLUMN},
    {.name = "thr_*_io", .label = N_("I/O"), .flags = FIG_COLUMN},
    {.name = "thr_*_sleep", .label = N_("sleep"), .flags = FIG_COLUMN},
    {.name = "thr_*_vcsw", .label = N_("vol. cs"), .fmt = FIG_INT, .flags = FIG_COLUMN},
    {.name = "thr_*_nvcsw", .label = N_("invol. cs"), .fmt = FIG_INT, .flags = FIG_COLUMN},
    {.name = "thr_*_wakeups", .label = N_("woken"), .fmt = FIG_INT, .flags = FIG_COLUMN},
};

/* ---- lanes: the sampler's sink ---- */

static int proc_depth(const struct procsample *s, pid_t pid)
{
    int d = 0;
    for (int guard = 0; guard < 8; guard++) {
        const struct ps_proc *p = NULL;
        for (int i = 0; i < s->nproc; i++)
            if (s->proc[i].pid == pid)
                p = &s->proc[i];
        if (!p || p->ppid == 0 || p->pid == s->pid)
            break;
        d++;
        pid = p->ppid;
    }
    return d;
}

static int sink_lane(void *arg, const struct ps_thread *t, bool main_thread)
{
    struct pg *g = arg;
    /* The last lane is kept for the gauge of the threads that find no lane. */
    if (trace_lane_count() >= TRACE_MAX_LANES - 1) {
        if (g->more_lane < 0) {
            long cpus = sysconf(_SC_NPROCESSORS_ONLN);
            g->more_lane = trace_lane_add("more threads on CPU", TRACE_LANE_GAUGE,
                                          cpus > 0 ? (uint32_t)cpus : 1);
        }
        return -1;
    }
    int depth = proc_depth(&g->ps, t->pid);
    if (depth > 4)
        depth = 4;
    char name[TRACE_NAME_MAX];
    snprintf(name, sizeof name, "%*s%s%s %d", depth * 2, "", main_thread ? "" : "- ", t->comm,
             (int)t->tid);
    /* A group a process: G shows a process's threads as one row. */
    unsigned group = 0;
    for (int i = 0; i < g->ngroups && !group; i++)
        if (g->group_pid[i] == t->pid)
            group = (unsigned)i + 1;
    if (!group && g->ngroups < PG_GROUPS) {
        g->group_pid[g->ngroups++] = t->pid;
        group = (unsigned)g->ngroups;
    }
    int lane = trace_lane_add_group(name, TRACE_LANE_STATE, 0, group);
    if (lane >= 0 && lane < TRACE_MAX_LANES) {
        atomic_store(&g->lane_tid[lane], (uint64_t)(uint32_t)t->pid << 32 | (uint32_t)t->tid);
    }
    return lane;
}

#define WORD_STOPPED (TRACE_IDLE | TRACE_NOTE(PS_NOTE_STOPPED))

/* Called by the sampler under mu. */
static void sink_emit(void *arg, int lane, unsigned word, uint64_t t_ns)
{
    struct pg *g = arg;
    trace_emit_at(lane, word, 0, t_ns);
    if (lane < 0 || lane >= TRACE_MAX_LANES)
        return;
    unsigned was = g->lane_word[lane];
    g->lane_word[lane] = word;
    /*
     * A thread's first word, leaving or entering the stop, and the wait for
     * a CPU that SIGCONT itself causes, are not the thread's own doing.
     */
    bool resumed = g->lane_resumed[lane];
    g->lane_resumed[lane] = was == WORD_STOPPED && TRACE_STATE_OF(word) == TRACE_READY;
    if (g->stepping && g->step_lane < 0 && was != 0xffff && was != WORD_STOPPED &&
        word != WORD_STOPPED && !resumed && (g->step_only < 0 || g->step_only == lane)) {
        g->step_lane = lane;
        g->step_t = t_ns;
    }
}

/* ---- the program ---- */

static void reap(struct pg *g)
{
    int st;
    pid_t r;
    /* The program, and any orphan handed to us as their subreaper. */
    while ((r = waitpid(-1, &st, WNOHANG)) > 0) {
        if (r == g->pid) {
            pthread_mutex_lock(&g->mu);
            g->reaped = true;
            g->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            pthread_mutex_unlock(&g->mu);
        }
    }
}

static uint64_t thread_cpu_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ull + (uint64_t)ts.tv_nsec;
}

/* Signal the program's process group and every process followed. */
static void signal_all(struct pg *g, int sig)
{
    kill(-g->pid, sig);
    pthread_mutex_lock(&g->mu);
    for (int i = 0; i < g->ps.nproc; i++)
        if (!g->ps.proc[i].gone)
            kill(g->ps.proc[i].pid, sig);
    pthread_mutex_unlock(&g->mu);
}

/* After each pass: begin a step the user asked for, or end the one that found its transition. */
static void step_tick(struct pg *g)
{
    pthread_mutex_lock(&g->step_mu);
    pthread_mutex_lock(&g->mu);
    bool frozen = g->frozen, stepping = g->stepping, found = g->step_lane >= 0;
    int lane = g->step_lane;
    uint64_t t = g->step_t;
    pthread_mutex_unlock(&g->mu);
    if (frozen && stepping && found) {
        signal_all(g, SIGSTOP);
        trace_step_take(lane, t);
        stepping = false;
    } else if (frozen && !stepping && trace_step_pending() > 0) {
        stepping = true;
        lane = -1;
        signal_all(g, SIGCONT);
    } else if (!frozen) {
        stepping = false;
    }
    pthread_mutex_lock(&g->mu);
    g->stepping = stepping;
    if (!stepping)
        g->step_lane = -1;
    else if (!found)
        g->step_lane = lane;
    pthread_mutex_unlock(&g->mu);
    pthread_mutex_unlock(&g->step_mu);
}

static void *sampler_main(void *arg)
{
    struct pg *g = arg;
    struct timespec next;
    clock_gettime(CLOCK_MONOTONIC, &next);
    uint64_t cpu0 = thread_cpu_ns(), status_at = 0;
    for (unsigned pass = 0; !atomic_load_explicit(&g->quit, memory_order_acquire); pass++) {
        uint64_t now = trace_now_ns();
        pthread_mutex_lock(&g->mu);
        /* Exact mode: the records first, so the pass's look at each thread is newer. */
        size_t nev = g->sr_on ? schedrec_read(&g->sr, g->evbuf, g->evcap) : 0;
        int alive = ps_sample(&g->ps, now);
        ps_exact_apply(&g->ps, g->evbuf, nev);
        for (int i = 0; nev && i < g->ps.nth; i++) {
            const struct ps_thread *t = &g->ps.th[i];
            if (t->lane < 0 || t->lane >= TRACE_MAX_LANES)
                continue;
            atomic_store_explicit(&g->lane_cpu[t->lane], t->cpu + 1, memory_order_relaxed);
            if (t->waker)
                atomic_store_explicit(&g->lane_waker[t->lane], t->waker, memory_order_relaxed);
        }
        /* New threads every fourth pass; a new process's first threads come with it. */
        if (pass % 4 == 0)
            ps_discover(&g->ps, now);
        if (now - status_at >= 250000000ull) {
            ps_refresh_status(&g->ps);
            status_at = now;
        }
        if (g->more_lane >= 0 && g->ps.on_cpu_unlaned != g->more_last) {
            g->more_last = g->ps.on_cpu_unlaned;
            trace_emit_at(g->more_lane, TRACE_GAUGE, g->more_last, now);
        }
        g->cpu_self_ns = thread_cpu_ns() - cpu0;
        bool done = alive == 0 && ps_live_threads(&g->ps) == 0;
        pthread_mutex_unlock(&g->mu);
        if (g->ours) {
            reap(g);
            step_tick(g);
        }
        pthread_mutex_lock(&g->mu);
        if (done && (!g->ours || g->reaped) && !g->finished) {
            g->finished = true;
            g->t_end = now;
        }
        pthread_mutex_unlock(&g->mu);
        int64_t hz = scene_param(g->ctx, P_HZ);
        if (hz < 1)
            hz = 1;
        /* Once it ended, a slow pass now and then still reaps stragglers. */
        long period = g->finished ? 20000000L : (long)(1000000000LL / hz);
        next.tv_nsec += period;
        while (next.tv_nsec >= 1000000000L) {
            next.tv_nsec -= 1000000000L;
            next.tv_sec++;
        }
        struct timespec cur;
        clock_gettime(CLOCK_MONOTONIC, &cur);
        /* Fell behind by more than a period: start again from now rather than rush. */
        if (cur.tv_sec > next.tv_sec + 1 ||
            (cur.tv_sec - next.tv_sec) * 1000000000L + (cur.tv_nsec - next.tv_nsec) > period)
            next = cur;
        clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &next, NULL);
    }
    return NULL;
}

static void out_append(struct pg *g, const char *buf, size_t n)
{
    pthread_mutex_lock(&g->out_mu);
    for (size_t i = 0; i < n; i++)
        g->out[(g->out_n + i) % OUT_CAP] = buf[i];
    g->out_n += n;
    pthread_mutex_unlock(&g->out_mu);
}

static void *reader_main(void *arg)
{
    struct pg *g = arg;
    char buf[4096];
    for (;;) {
        struct pollfd p[2] = {{g->out_fd, POLLIN, 0}, {g->wake[0], POLLIN, 0}};
        if (poll(p, 2, -1) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (p[1].revents)
            break;
        ssize_t n = read(g->out_fd, buf, sizeof buf);
        if (n < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (n <= 0)
            break; /* every writer closed it */
        out_append(g, buf, (size_t)n);
    }
    return NULL;
}

/* The child, between fork and exec: signals as a fresh program has them, its descriptors. */
static void child_exec(struct pg *g, int out_w, int err_w, int go_r)
{
    setpgid(0, 0);
    /* Wait until the parent has opened the switch records on us (exact mode). */
    char go = 0;
    ssize_t got;
    do
        got = read(go_r, &go, 1);
    while (got < 0 && errno == EINTR);
    if (got != 1)
        _exit(127);
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    for (int sig = 1; sig < NSIG; sig++)
        signal(sig, SIG_DFL);
    if (!g->opts.pass_stdin) {
        int fd = open("/dev/null", O_RDONLY);
        if (fd >= 0 && fd != 0) {
            dup2(fd, 0);
            close(fd);
        }
    }
    if (out_w >= 0) {
        dup2(out_w, 1);
        dup2(out_w, 2);
        if (out_w > 2)
            close(out_w);
    } else if (g->opts.out_fd >= 0 && g->opts.out_fd != 1) {
        dup2(g->opts.out_fd, 1);
    }
    execvp(g->opts.argv[0], g->opts.argv);
    int e = errno;
    if (write(err_w, &e, sizeof e) < 0) {
    }
    _exit(127);
}

static void close_pair(int p[2])
{
    for (int i = 0; i < 2; i++)
        if (p[i] >= 0)
            close(p[i]);
    p[0] = p[1] = -1;
}

/* Exact mode: the records opened on the child before its exec, or why not. */
static void exact_open(struct pg *g, pid_t pid)
{
    if (g->ctx->mode != M_EXACT) {
        snprintf(g->sr_why, sizeof g->sr_why, "%s", _("sampled: the sampled mode was chosen"));
        return;
    }
    if (schedrec_open(&g->sr, pid, g->sr_why, sizeof g->sr_why, g->wake_why, sizeof g->wake_why) !=
        0)
        return;
    /* Room for a pass's records: every ring full, or (many CPUs) 64 rings at a time. */
    size_t rings = g->sr.ncpu < 64 ? (size_t)g->sr.ncpu * 2 : 128;
    g->evcap = rings * (g->sr.ring_bytes / 24) + 64;
    g->evbuf = calloc(g->evcap, sizeof *g->evbuf);
    if (!g->evbuf) {
        schedrec_close(&g->sr);
        snprintf(g->sr_why, sizeof g->sr_why, "%s", _("sampled: out of memory"));
        return;
    }
    g->sr_on = true;
}

static int start_program(struct pg *g)
{
    int outp[2] = {-1, -1}, errp[2] = {-1, -1}, gop[2] = {-1, -1};
    if ((g->opts.out_fd < 0 && pipe2(outp, O_CLOEXEC) != 0) || pipe2(errp, O_CLOEXEC) != 0 ||
        pipe2(gop, O_CLOEXEC) != 0) {
        int e = errno;
        close_pair(outp);
        close_pair(errp);
        close_pair(gop);
        return -e;
    }
    /* Orphans of the program come to us, so that none is left running and all are followed. */
    prctl(PR_SET_CHILD_SUBREAPER, 1);
    fflush(NULL);
    pid_t pid = fork();
    if (pid < 0) {
        int e = errno;
        close_pair(outp);
        close_pair(errp);
        close_pair(gop);
        return -e;
    }
    if (pid == 0)
        child_exec(g, outp[1], errp[1], gop[0]);
    setpgid(pid, pid); /* either side may win the race; both set it */
    close(errp[1]);
    close(gop[0]);
    if (outp[1] >= 0)
        close(outp[1]);
    g->out_fd = outp[0];
    exact_open(g, pid);
    if (write(gop[1], "g", 1) != 1) {
    }
    close(gop[1]);
    /* The exec's outcome: end of file when it succeeded, errno when it did not. */
    int e = 0;
    ssize_t n;
    do
        n = read(errp[0], &e, sizeof e);
    while (n < 0 && errno == EINTR);
    close(errp[0]);
    g->pid = pid;
    if (n == (ssize_t)sizeof e) {
        waitpid(pid, NULL, 0);
        return -e;
    }
    return 0;
}

static int pg_start(struct scene_ctx *ctx)
{
    struct pg *g = calloc(1, sizeof *g);
    if (!g)
        return -ENOMEM;
    ctx->priv = g;
    g->ctx = ctx;
    g->opts = next_opts;
    g->out_fd = -1;
    g->wake[0] = g->wake[1] = -1;
    g->more_lane = -1;
    pthread_mutex_init(&g->mu, NULL);
    pthread_mutex_init(&g->out_mu, NULL);
    pthread_mutex_init(&g->step_mu, NULL);
    g->step_lane = g->step_only = -1;
    for (int i = 0; i < TRACE_MAX_LANES; i++)
        g->lane_word[i] = 0xffff;
    g->t0 = trace_now_ns();
    int rc;
    if (g->opts.attach > 0) {
        g->pid = g->opts.attach;
    } else if (!g->opts.argv || !g->opts.argv[0]) {
        return -EINVAL;
    } else {
        g->ours = true;
        if ((rc = start_program(g)) != 0) {
            scene_note(ctx, _("cannot run %s: %s"), g->opts.argv[0], strerror(-rc));
            return rc;
        }
    }
    struct ps_sink sink = {sink_lane, sink_emit, g};
    rc = ps_open(&g->ps, NULL, g->pid, &sink);
    if (rc != 0)
        return rc;
    g->ps_open = true;
    g->ps.exact = g->sr_on;
    if (!g->ours && ctx->mode == M_EXACT)
        snprintf(g->sr_why, sizeof g->sr_why, "%s",
                 _("sampled: exact mode must be there before the program starts, and --attach "
                   "follows one that runs already"));
    /* Which mode is in use, and why. */
    if (g->sr_on && g->wake_why[0])
        scene_note(ctx, _("exact: every switch from perf_event_open; %s"), g->wake_why);
    else if (g->sr_on)
        scene_note(ctx, "%s", _("exact: every switch and wake-up from perf_event_open"));
    else
        scene_note(ctx, "%s", g->sr_why);
    if (g->out_fd >= 0) {
        if (pipe2(g->wake, O_CLOEXEC) != 0)
            return -errno;
        if ((rc = pthread_create(&g->reader, NULL, reader_main, g)) != 0)
            return -rc;
        g->reader_on = true;
    }
    if ((rc = pthread_create(&g->sampler, NULL, sampler_main, g)) != 0)
        return -rc;
    g->sampler_on = true;
    return 0;
}

static bool is_finished(struct pg *g)
{
    pthread_mutex_lock(&g->mu);
    bool f = g->finished;
    pthread_mutex_unlock(&g->mu);
    return f;
}

static void pg_stop(struct scene_ctx *ctx)
{
    struct pg *g = ctx->priv;
    if (!g || g->stopped)
        return;
    g->stopped = true;
    if (g->ours && g->pid > 0 && g->sampler_on && !is_finished(g)) {
        g->ended_by_us = true;
        signal_all(g, SIGCONT);
        signal_all(g, SIGTERM);
        uint64_t until = trace_now_ns() + GRACE_NS;
        while (!is_finished(g) && trace_now_ns() < until) {
            struct timespec d = {0, 10000000};
            nanosleep(&d, NULL);
        }
        if (!is_finished(g)) {
            signal_all(g, SIGKILL);
            for (int i = 0; i < 200 && !is_finished(g); i++) {
                struct timespec d = {0, 10000000};
                nanosleep(&d, NULL);
            }
        }
    }
    if (g->sampler_on) {
        atomic_store_explicit(&g->quit, 1, memory_order_release);
        pthread_join(g->sampler, NULL);
        g->sampler_on = false;
    }
    if (g->ours) {
        reap(g);
        if (!g->reaped && g->pid > 0 && waitpid(g->pid, NULL, WNOHANG) == 0) {
            kill(g->pid, SIGKILL);
            int st;
            if (waitpid(g->pid, &st, 0) == g->pid) {
                g->reaped = true;
                g->status = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
            }
        }
        prctl(PR_SET_CHILD_SUBREAPER, 0);
    }
    if (g->ps_open) {
        /* The last word on every lane: the threads that ended since the last pass. */
        ps_sample(&g->ps, trace_now_ns());
    }
    if (!g->t_end)
        g->t_end = trace_now_ns();
    if (g->reader_on) {
        /* Let the reader take what the program wrote last (its pipe reaches end of file). */
        for (int i = 0; i < 50; i++) {
            struct pollfd p = {g->out_fd, POLLIN, 0};
            if (poll(&p, 1, 0) <= 0 || (p.revents & POLLHUP))
                break;
            struct timespec d = {0, 2000000};
            nanosleep(&d, NULL);
        }
        if (write(g->wake[1], "q", 1) < 0) {
        }
        pthread_join(g->reader, NULL);
        g->reader_on = false;
    }
}

static void pg_release(struct scene_ctx *ctx)
{
    struct pg *g = ctx->priv;
    if (!g)
        return;
    pg_stop(ctx);
    /* A start that failed half way may leave the program running: end it. */
    if (g->ours && g->pid > 0 && !g->reaped) {
        kill(-g->pid, SIGKILL);
        kill(g->pid, SIGKILL);
        waitpid(g->pid, NULL, 0);
        g->reaped = true;
        prctl(PR_SET_CHILD_SUBREAPER, 0);
    }
    if (g->ps_open)
        ps_close(&g->ps);
    if (g->sr_on)
        schedrec_close(&g->sr);
    free(g->evbuf);
    if (g->out_fd >= 0)
        close(g->out_fd);
    for (int i = 0; i < 2; i++)
        if (g->wake[i] >= 0)
            close(g->wake[i]);
    pthread_mutex_destroy(&g->mu);
    pthread_mutex_destroy(&g->out_mu);
    pthread_mutex_destroy(&g->step_mu);
    free(g);
    ctx->priv = NULL;
}

static void pg_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct pg *g = ctx->priv;
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    const struct procsample *s = &g->ps;
    uint64_t now = g->t_end ? g->t_end : trace_now_ns();
    double secs = (double)(now - g->t0) / 1e9;
    long tick = sysconf(_SC_CLK_TCK);
    double cpu = 0;
    for (int i = 0; i < s->nth; i++)
        cpu += (double)(s->th[i].utime + s->th[i].stime) / (double)(tick > 0 ? tick : 100);
    scene_stat(out, "threads", ps_live_threads(s), "");
    scene_stat(out, "cpu_cores", secs > 0 ? cpu / secs : 0, "cores");
    scene_stat(out, "sample_hz", secs > 0 ? (double)s->passes / secs : 0, "Hz");
    scene_stat(out, "processes", ps_live_procs(s), "");
    scene_stat(out, "threads_seen", s->nth, "");
    if (s->unlaned)
        scene_stat(out, "threads_unlaned", (double)s->unlaned, "");
    if (s->brief)
        scene_stat(out, "threads_brief", (double)s->brief, "");
    scene_stat(out, "cpu_s", cpu, "s");
    if (hist_count(&s->lock_wait)) {
        scene_stat(out, "lock_handoffs_per_s", secs > 0 ? (double)s->lock_to_run / secs : 0, "/s");
        scene_stat(out, "lock_wait_p50", (double)hist_percentile(&s->lock_wait, 0.5) / 1e6, "ms");
        scene_stat(out, "lock_wait_p99", (double)hist_percentile(&s->lock_wait, 0.99) / 1e6, "ms");
    }
    scene_stat(out, "sampler_cpu", secs > 0 ? 100.0 * (double)g->cpu_self_ns / 1e9 / secs : 0, "%");
    if (g->sr_on) {
        scene_stat(out, "records_per_s", secs > 0 ? (double)g->sr.events / secs : 0, "/s");
        scene_stat(out, "records_lost", (double)g->sr.lost, "");
    }
    if (g->reaped)
        scene_stat(out, "exit_status", g->status, "");
    /*
     * A row per thread: the first FIG_THREADS followed that lived a while
     * (a shell's helpers come and go in a millisecond or two).
     */
    for (int i = 0, rows = 0; i < s->nth && rows < FIG_THREADS; i++) {
        const struct ps_thread *t = &s->th[i];
        uint64_t lived = (t->gone ? t->end_ns : now) - t->start_ns;
        if (t->lane < 0 || (lived < 50000000ull && t->tid != s->pid))
            continue;
        rows++;
        uint64_t tot[TRACE_NSTATES], sum = 0;
        memcpy(tot, t->state_ns, sizeof tot);
        if (!t->gone && t->word != 0xffff && TRACE_STATE_OF(t->word) < TRACE_NSTATES &&
            now > t->since)
            tot[TRACE_STATE_OF(t->word)] += now - t->since;
        for (int k = 0; k < TRACE_NSTATES; k++)
            sum += tot[k];
        double d = sum ? (double)sum : 1;
        char name[40];
#define ROW(field, v, unit)                                                                        \
    snprintf(name, sizeof name, "thr_%d_%s", (int)t->tid, field);                                  \
    scene_stat(out, name, v, unit)
        ROW("cpu_s", (double)(t->utime + t->stime) / (double)(tick > 0 ? tick : 100), "s");
        if (t->tid == t->pid) {
            /* The whole process, on its main thread's row: its threads' CPU over its life. */
            uint64_t ticks = 0;
            for (int k = 0; k < s->nth; k++)
                if (s->th[k].pid == t->pid)
                    ticks += s->th[k].utime + s->th[k].stime;
            uint64_t born = t->start_ns > g->t0 ? t->start_ns : g->t0; /* the first: 0 */
            uint64_t end = t->gone ? t->end_ns : now;
            double life = end > born ? (double)(end - born) / 1e9 : 0;
            if (life > 0) {
                ROW("proc_cores", (double)ticks / (double)(tick > 0 ? tick : 100) / life, "cores");
            }
        }
        ROW("run", 100.0 * (double)tot[TRACE_RUN] / d, "%");
        ROW("ready", 100.0 * (double)tot[TRACE_READY] / d, "%");
        ROW("lock", 100.0 * (double)tot[TRACE_LOCK] / d, "%");
        ROW("io", 100.0 * (double)tot[TRACE_IO] / d, "%");
        ROW("sleep", 100.0 * (double)tot[TRACE_SLEEP] / d, "%");
        ROW("vcsw", (double)t->vcsw, "");
        ROW("nvcsw", (double)t->nvcsw, "");
        if (g->sr_on && g->sr.wakeups) {
            ROW("wakeups", (double)t->wakeups, "");
        }
#undef ROW
    }
    pthread_mutex_unlock(&g->mu);
}

static void pg_status(struct scene_ctx *ctx, char *buf, unsigned len)
{
    struct pg *g = ctx->priv;
    if (!g)
        return;
    pthread_mutex_lock(&g->mu);
    if (g->finished && g->ours)
        snprintf(buf, len, _("pid %d exited %d"), (int)g->pid, g->status);
    else if (g->finished)
        snprintf(buf, len, _("pid %d ended"), (int)g->pid);
    else if (g->frozen && g->stepping)
        snprintf(buf, len, _("pid %d running to its next transition"), (int)g->pid);
    else if (g->frozen)
        snprintf(buf, len, _("pid %d stopped (SIGSTOP)"), (int)g->pid);
    else if (g->sr_on)
        snprintf(buf, len, _("pid %d, exact"), (int)g->pid);
    else
        snprintf(buf, len, _("pid %d, sampled"), (int)g->pid);
    pthread_mutex_unlock(&g->mu);
}

/* The output's latest bytes, cleaned for the terminal, lines kept. */
static size_t pg_output(struct scene_ctx *ctx, char *buf, size_t len)
{
    struct pg *g = ctx->priv;
    if (!g || len == 0)
        return 0;
    char *raw = malloc(OUT_CAP + 1);
    if (!raw)
        return 0;
    pthread_mutex_lock(&g->out_mu);
    uint64_t n = g->out_n < OUT_CAP ? g->out_n : OUT_CAP;
    if (n > len / 4)
        n = len / 4; /* a cleaned byte may take up to three (U+FFFD) */
    uint64_t from = g->out_n - n;
    for (uint64_t i = 0; i < n; i++)
        raw[i] = g->out[(from + i) % OUT_CAP];
    pthread_mutex_unlock(&g->out_mu);
    raw[n] = '\0';
    /* Cut at the first line start when the ring dropped the start of a line. */
    char *start = raw;
    if (from > 0) {
        char *nl = memchr(raw, '\n', n);
        if (nl)
            start = nl + 1;
    }
    /* Carriage returns end lines as terminals show them; NUL bytes would cut the text. */
    for (char *p = start; p < raw + n; p++)
        if (*p == '\r' || *p == '\0')
            *p = *p == '\r' ? '\n' : '?';
    text_clean(buf, len, start, 1);
    free(raw);
    return strlen(buf);
}

static const char *pg_freeze(struct scene_ctx *ctx, bool on)
{
    struct pg *g = ctx->priv;
    if (!g || is_finished(g))
        return NULL;
    if (!g->ours)
        return _("attached: the view is paused, the program runs on");
    pthread_mutex_lock(&g->step_mu);
    signal_all(g, on ? SIGSTOP : SIGCONT);
    pthread_mutex_lock(&g->mu);
    g->frozen = on;
    g->stepping = false;
    g->step_lane = -1;
    pthread_mutex_unlock(&g->mu);
    pthread_mutex_unlock(&g->step_mu);
    return on ? _("the program's processes are stopped (SIGSTOP); . runs them to the next "
                  "transition, f continues them (SIGCONT)")
              : NULL;
}

static const char *pg_step(struct scene_ctx *ctx, int lane)
{
    struct pg *g = ctx->priv;
    if (!g || is_finished(g))
        return _("the program has ended: nothing to step");
    if (!g->ours)
        return _("attached: conctui does not stop a program it did not start, so it cannot "
                 "step it");
    /* With the inspector on a thread's lane, the step waits for that thread. */
    pthread_mutex_lock(&g->mu);
    g->step_only = lane >= 0 && lane < TRACE_MAX_LANES ? lane : -1;
    pthread_mutex_unlock(&g->mu);
    return NULL;
}

int program_finished(struct scene_ctx *ctx, int *status)
{
    struct pg *g = ctx->priv;
    if (!g)
        return 0;
    pthread_mutex_lock(&g->mu);
    int f = g->finished;
    *status = g->ours && g->reaped ? g->status : -1;
    pthread_mutex_unlock(&g->mu);
    return f;
}

bool program_ended_by_us(struct scene_ctx *ctx)
{
    struct pg *g = ctx->priv;
    return g && g->ended_by_us;
}

/* The inspector's line: the wait channel of the lane's thread, read now. */
static size_t pg_lane_detail(struct scene_ctx *ctx, int lane, char *buf, size_t len)
{
    struct pg *g = ctx->priv;
    if (!g || lane < 0 || lane >= TRACE_MAX_LANES)
        return 0;
    /* Not under mu: the sampler holds it for a whole pass. */
    uint64_t id = atomic_load(&g->lane_tid[lane]);
    pid_t pid = (pid_t)(id >> 32), tid = (pid_t)(uint32_t)id;
    if (tid <= 0)
        return 0;
    char path[64], raw[128], sym[64];
    snprintf(path, sizeof path, "/proc/%d/task/%d/wchan", (int)pid, (int)tid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, raw, sizeof raw) : -1;
    if (fd >= 0)
        close(fd);
    if (n < 0)
        return 0; /* gone */
    if (ps_parse_wchan(raw, (size_t)n, sym, sizeof sym))
        snprintf(buf, len, _("wait channel: %s"), sym);
    else
        snprintf(buf, len, "%s", _("wait channel: none (on a CPU, or not shown)"));
    /* Exact mode: the CPU it last ran on, and who woke it last (with wake-ups). */
    int32_t cpu = atomic_load_explicit(&g->lane_cpu[lane], memory_order_relaxed);
    size_t used = strlen(buf);
    if (cpu > 0 && used < len)
        snprintf(buf + used, len - used, _("; last on CPU %d"), (int)cpu - 1);
    int32_t waker = atomic_load_explicit(&g->lane_waker[lane], memory_order_relaxed);
    used = strlen(buf);
    if (waker > 0 && used < len)
        snprintf(buf + used, len - used, _("; woken last by thread %d"), (int)waker);
    return strlen(buf);
}

int program_attach_check(pid_t pid, char *err, unsigned errlen)
{
    char path[64], buf[4096];
    snprintf(path, sizeof path, "/proc/%d/status", (int)pid);
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    ssize_t n = fd >= 0 ? read(fd, buf, sizeof buf - 1) : -1;
    if (fd >= 0)
        close(fd);
    if (n <= 0) {
        snprintf(err, errlen, _("--attach %d: no such process"), (int)pid);
        return -1;
    }
    buf[n] = '\0';
    /* The kernel's own answer: /proc/PID/syscall is read under ptrace_may_access (attach mode). */
    snprintf(path, sizeof path, "/proc/%d/syscall", (int)pid);
    fd = open(path, O_RDONLY | O_CLOEXEC);
    char tmp[256];
    ssize_t got = fd >= 0 ? read(fd, tmp, sizeof tmp) : -1;
    int e = errno;
    if (fd >= 0)
        close(fd);
    if (got >= 0)
        return 0;
    long uid[4], gid[4];
    ps_parse_uids(buf, "Uid", uid);
    ps_parse_uids(buf, "Gid", gid);
    struct stat sb;
    snprintf(path, sizeof path, "/proc/%d", (int)pid);
    bool root_owned = stat(path, &sb) == 0 && sb.st_uid == 0 && uid[0] != 0;
    uid_t me = getuid();
    if (uid[0] != (long)me || uid[1] != (long)me || uid[2] != (long)me || gid[0] != (long)getgid())
        snprintf(err, errlen,
                 _("--attach %d: not permitted: the process runs as uid %ld (gid %ld) and you "
                   "are uid %ld; the kernel lets a user follow only processes whose real, "
                   "effective and saved ids are all their own. Run conctui as that user, or "
                   "with CAP_SYS_PTRACE (as root)"),
                 (int)pid, uid[1], gid[1], (long)me);
    else if (root_owned)
        snprintf(err, errlen,
                 _("--attach %d: not permitted: the process is not dumpable (it changed its "
                   "credentials, or set PR_SET_DUMPABLE to 0), so only a user with "
                   "CAP_SYS_PTRACE may follow it"),
                 (int)pid);
    else
        snprintf(err, errlen,
                 _("--attach %d: not permitted (%s): a security module (Yama's ptrace_scope, "
                   "SELinux, AppArmor) refuses it; /proc/sys/kernel/yama/ptrace_scope 0, or "
                   "CAP_SYS_PTRACE, would allow it"),
                 (int)pid, strerror(e));
    return -1;
}

const struct scene_entry scene_program = {
    .name = "program",
    .title = N_("your program"),
    .summary = N_("the threads and processes of a program you run, from /proc"),
    .modes = pg_modes,
    .nmodes = 2,
    .params = pg_params,
    .nparams = 1,
    .notes = ps_note_words,
    .nnotes = PS_NOTES_MAX,
    .figures = pg_figures,
    .nfigures = (int)(sizeof pg_figures / sizeof pg_figures[0]),
    .start = pg_start,
    .stop = pg_stop,
    .release = pg_release,
    .stats = pg_stats,
    .status = pg_status,
    .output = pg_output,
    .freeze = pg_freeze,
    .step = pg_step,
    .lane_detail = pg_lane_detail,
};
