/*
 * Scene: GIL contention - real threads under CPython's GIL algorithm.
 *
 * DESIGN
 * Who runs: N CPU-bound workers (countdowns of "bytecodes", small units of
 * real CPU work with an eval-breaker check after each) and M I/O-bound
 * workers (an echo round trip over a TCP connection on 127.0.0.1 per loop).
 * In modes 1, 2 and 4 they are threads sharing one GIL (new, old, none); in
 * mode 3 each is a forked child process with a GIL of its own. Every I/O
 * worker has an echo thread in the parent standing in for a server across
 * the network: it runs under no GIL, reads a message, waits io_latency_us
 * and writes it back. A coordinator thread in the parent (no GIL, no lane)
 * runs the CPU work in rounds, each measured both ways on the same machine:
 * first the sequential run (CPU worker 0 does every worker's countdown
 * alone, the others idle), then the parallel run (every CPU worker does its
 * own countdown at once); the slowdown is their ratio, round by round. I/O
 * workers run throughout. The UI thread only reads counters.
 *
 * Who owns what: everything workers share sits in one MAP_SHARED region
 * (struct gs_shm) made before any fork, so threads and processes run the
 * same code. Each worker owns its struct gs_worker (single-writer relaxed
 * counters and histograms); the GIL's own fields follow src/gil.c's rules.
 * The GIL lane is written only by whoever holds the GIL's mutex. A round's
 * phase and length are written by the coordinator before it bumps `gen`
 * (release) and read by CPU workers after they acquire it; each CPU worker
 * then counts itself in `done` (release), and the coordinator rewrites the
 * phase only after every one of them did. The rounds' results belong to
 * fig_mu (coordinator writes, stats reads).
 *
 * Locks: the GIL's (see src/gil.c: mutex, then switch_mutex) and fig_mu,
 * never nested. Echo threads take no lock.
 *
 * Shutdown: stop() sets the stop flag, bumps `gen` with a wake (CPU workers
 * between rounds wake and leave) and shuts down the echo ends of every
 * connection, which wakes each echo thread and each I/O worker blocked in a
 * read (they see end of file); an echo thread waiting out the latency sees
 * the flag within 20 ms. CPU workers see the flag within 256 bytecodes and
 * drop the GIL, so every waiter gets it and sees the flag too; the
 * coordinator re-checks it every 20 ms while it waits. stop() joins every
 * thread, reaps every child (SIGKILL after a two-second grace), then closes
 * the sockets.
 */
#include "config.h"

#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "futex.h"
#include "gil.h"
#include "hist.h"
#include "rounds.h"
#include "scene.h"
#include "i18n.h"
#include "scenes/scenes.h"
#include "trace.h"

#define MAXT 8          /* CPU workers, and I/O workers, at most */
#define BYTECODE_NS 50  /* one CPython 3.11 countdown iteration on this class of CPU */
#define BATCH 256       /* bytecodes between stop checks and counter updates */
#define IO_BYTECODES 10 /* interpreter work around each socket call */
#define CALIB_BYTECODES 20000
#define WAIT_NS 20000000ull /* the coordinator and idle workers re-check the stop flag */

enum { P_CPU, P_IO, P_SWITCH, P_COUNTDOWN, P_LATENCY };
enum { M_NEW, M_OLD, M_PROCESSES, M_NOGIL };
enum { N_FINISHED = GIL_N_COUNT, N_NEXT_ROUND, N_SEQ_ALONE };
enum { PH_SEQ, PH_PAR }; /* a round's two halves */

static const char *const gs_notes[] = {
    GIL_NOTE_WORDS,
    [N_FINISHED] = N_("finished"),
    [N_NEXT_ROUND] = N_("countdown done, waiting for the next round"),
    [N_SEQ_ALONE] = N_("idle: cpu 0 runs every countdown alone (the sequential run)"),
};

struct gs_worker {
    struct gil_thread gt;
    _Alignas(64) _Atomic uint64_t bytecodes, countdowns, steps;
    _Atomic uint64_t roundtrips, echo_mismatch;
    _Atomic uint64_t io_with_gil; /* blocking calls entered while holding the GIL */
    struct hist rtt;              /* ns per round trip */
};

struct gs_shm {
    struct gil gil[2 * MAXT]; /* [0] shared by all threads; one per process in mode 3 */
    struct gs_worker w[2 * MAXT];
    /* Rounds: bumped (release) by the coordinator to start a phase, and by stop(). */
    _Alignas(64) _Atomic uint32_t gen;
    /* CPU workers finished with the phase: each adds one (release). */
    _Alignas(64) _Atomic uint32_t done;
    int phase;        /* PH_SEQ or PH_PAR, published by gen */
    uint64_t phase_n; /* bytecodes per countdown in this phase, published by gen */
};

struct gs_arg {
    struct scene_ctx *ctx;
    struct gil *gil;
    struct gs_worker *w;
    int fd;               /* I/O worker: its end of the socketpair; echo: the other end */
    void *(*run)(void *); /* the worker's entry (cpu_main or io_main) */
};

struct gs_state {
    struct gs_shm *shm;
    int mode, ncpu, nio, ngil;
    unsigned steps; /* LCG steps per bytecode */
    double step_ns; /* measured cost of one step, eval-breaker check included */
    pthread_t threads[2 * MAXT], echo[MAXT];
    int nthreads, necho;
    pid_t pids[2 * MAXT];
    int npids;
    int fds[MAXT][2]; /* [i][0] worker end, [i][1] echo end; -1 when closed */
    struct gs_arg args[2 * MAXT], echo_args[MAXT];
    uint64_t t_begin, t_end; /* ns: workers started, workers stopped */
    pthread_t coord;
    int coord_up;
    pthread_mutex_t fig_mu;
    /* Under fig_mu: each round's parallel time over its sequential time, and both times. */
    struct rounds slow, seq_ms, par_ms;
};

#define RLX memory_order_relaxed

/* Add to a single-writer counter. */
static inline void bump(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + v, RLX);
}

/* One "bytecode": a fixed chain of dependent multiply-adds (real CPU work). */
static inline uint64_t bytecode(uint64_t x, unsigned steps)
{
    for (unsigned i = 0; i < steps; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

/* Keeps the work observable; relaxed stores, never read back (pairs with nothing). */
static _Atomic uint64_t gs_sink;

/* Publish a worker's result so the compiler cannot drop its bytecodes. */
static void sink(uint64_t x)
{
    atomic_store_explicit(&gs_sink, x, RLX);
}

/* The LCG steps per bytecode at the current slow-motion factor. */
static unsigned steps_now(const struct scene_ctx *ctx, const struct gs_state *st)
{
    int f = atomic_load_explicit(&ctx->sh->slowmo, RLX);
    return st->steps * (unsigned)(f > 0 ? f : 1);
}

/* Run n bytecodes with an eval-breaker check after each; false if stopping. */
static bool interpret(struct scene_ctx *ctx, struct gil *g, struct gs_worker *w, uint64_t n,
                      uint64_t *x)
{
    const struct gs_state *st = ctx->priv;
    while (n > 0) {
        unsigned k = n < BATCH ? (unsigned)n : BATCH, steps = steps_now(ctx, st);
        for (unsigned i = 0; i < k; i++) {
            *x = bytecode(*x, steps);
            gil_check(g, &w->gt);
        }
        n -= k;
        bump(&w->bytecodes, k);
        bump(&w->steps, (uint64_t)k * steps);
        if (scene_stopping(ctx))
            return false;
    }
    return true;
}

/* A worker's lane when it holds no GIL (between rounds, at the end). */
static void lane_state(struct gil_thread *t, unsigned word)
{
    if (t->lane >= 0 && word != t->cur) {
        t->cur = word;
        trace_emit(t->lane, word, t->id);
    }
}

/*
 * A CPU-bound thread: `while n > 0: n -= 1`, once per round in the parallel
 * run; in the sequential run worker 0 does it for every CPU worker, one
 * countdown after another, and the others stay idle.
 */
static void *cpu_main(void *p)
{
    struct gs_arg *a = p;
    const struct gs_state *st = a->ctx->priv;
    struct gs_shm *q = st->shm;
    uint64_t x = a->w->gt.id + 1;
    uint32_t seen = 0;
    bool stopped = false;
    for (;;) {
        /* Acquire pairs with the coordinator's release of gen: phase and phase_n are set. */
        uint32_t g = atomic_load_explicit(&q->gen, memory_order_acquire);
        if (scene_stopping(a->ctx))
            break;
        if (g == seen) {
            futex_wait(&q->gen, seen, WAIT_NS);
            continue;
        }
        seen = g;
        int phase = q->phase;
        uint64_t n = q->phase_n;
        int count = phase == PH_PAR ? 1 : a->w->gt.id == 0 ? st->ncpu : 0;
        if (count == 0)
            lane_state(&a->w->gt, TRACE_IDLE | TRACE_NOTE(N_SEQ_ALONE));
        for (int k = 0; k < count && !stopped; k++) {
            if (k == 0)
                gil_take(a->gil, &a->w->gt);
            if (!interpret(a->ctx, a->gil, a->w, n, &x))
                stopped = true;
            else
                bump(&a->w->countdowns, 1);
            if (k + 1 == count || stopped)
                gil_drop(a->gil, &a->w->gt, TRACE_IDLE | TRACE_NOTE(N_NEXT_ROUND));
        }
        /* Release: the coordinator that counts us sees our counters. */
        atomic_fetch_add_explicit(&q->done, 1, memory_order_release);
        futex_wake_all(&q->done);
        if (stopped)
            break;
    }
    sink(x);
    lane_state(&a->w->gt, TRACE_DONE | TRACE_NOTE(N_FINISHED));
    return NULL;
}

/* One phase of a round on every CPU worker; its wall time in ms, or -1 if stopping. */
static double run_phase(struct scene_ctx *ctx, struct gs_state *st, int phase, uint64_t n)
{
    struct gs_shm *q = st->shm;
    q->phase = phase;
    q->phase_n = n;
    atomic_store_explicit(&q->done, 0, RLX); /* published by gen's release */
    uint64_t t0 = trace_now_ns();
    /* Release pairs with the workers' acquire of gen. */
    atomic_fetch_add_explicit(&q->gen, 1, memory_order_release);
    futex_wake_all(&q->gen);
    for (;;) {
        /* Acquire pairs with each worker's release: its counters are final. */
        uint32_t d = atomic_load_explicit(&q->done, memory_order_acquire);
        if (d >= (uint32_t)st->ncpu)
            break;
        if (scene_stopping(ctx))
            return -1;
        futex_wait(&q->done, d, WAIT_NS);
    }
    return scene_stopping(ctx) ? -1 : (double)(trace_now_ns() - t0) / 1e6;
}

/*
 * The coordinator: rounds of the same countdowns run sequentially, then in
 * parallel, forever. What changes the comparison (countdown length, switch
 * interval, slow motion) starts the rounds afresh.
 */
static void *coord_main(void *p)
{
    struct scene_ctx *ctx = p;
    struct gs_state *st = ctx->priv;
    int64_t last_k = -1, last_sw = -1;
    int last_f = -1;
    while (!scene_stopping(ctx)) {
        int64_t k = scene_param(ctx, P_COUNTDOWN), sw = scene_param(ctx, P_SWITCH);
        int f = atomic_load_explicit(&ctx->sh->slowmo, RLX);
        if (k != last_k || sw != last_sw || f != last_f) {
            pthread_mutex_lock(&st->fig_mu);
            rounds_reset(&st->slow);
            rounds_reset(&st->seq_ms);
            rounds_reset(&st->par_ms);
            pthread_mutex_unlock(&st->fig_mu);
            last_k = k;
            last_sw = sw;
            last_f = f;
        }
        uint64_t n = (uint64_t)k * 1000u;
        double seq = run_phase(ctx, st, PH_SEQ, n);
        if (seq < 0)
            break;
        double par = run_phase(ctx, st, PH_PAR, n);
        if (par < 0)
            break;
        /* A change during the round makes its two halves different work: not counted. */
        if (scene_param(ctx, P_COUNTDOWN) != k || scene_param(ctx, P_SWITCH) != sw ||
            atomic_load_explicit(&ctx->sh->slowmo, RLX) != f || seq <= 0)
            continue;
        pthread_mutex_lock(&st->fig_mu);
        rounds_add(&st->slow, par / seq);
        rounds_add(&st->seq_ms, seq);
        rounds_add(&st->par_ms, par);
        pthread_mutex_unlock(&st->fig_mu);
    }
    return NULL;
}

/* Move exactly len bytes (short reads and writes resumed); false on EOF or error. */
static bool xfer(int fd, void *buf, size_t len, bool out)
{
    char *b = buf;
    while (len > 0) {
        ssize_t n = out ? send(fd, b, len, MSG_NOSIGNAL) : recv(fd, b, len, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        b += n;
        len -= (size_t)n;
    }
    return true;
}

/* One blocking socket call with the GIL released around it, as CPython does. */
static bool io_call(struct gil *g, struct gs_worker *w, int fd, void *buf, size_t len, bool out)
{
    gil_io_begin(g, &w->gt);
    if (gil_holds(g, &w->gt))
        bump(&w->io_with_gil, 1);
    bool ok = xfer(fd, buf, len, out);
    gil_io_end(g, &w->gt);
    return ok;
}

/* An I/O-bound thread: send a message, wait for the echo, over and over. */
static void *io_main(void *p)
{
    struct gs_arg *a = p;
    struct gs_worker *w = a->w;
    uint64_t x = w->gt.id + 1, seq = 0;
    gil_take(a->gil, &w->gt);
    while (!scene_stopping(a->ctx)) {
        if (!interpret(a->ctx, a->gil, w, IO_BYTECODES, &x))
            break;
        uint64_t t0 = trace_ticks(), msg = ++seq, reply = 0;
        if (!io_call(a->gil, w, a->fd, &msg, sizeof msg, true))
            break;
        if (!interpret(a->ctx, a->gil, w, IO_BYTECODES, &x))
            break;
        if (!io_call(a->gil, w, a->fd, &reply, sizeof reply, false))
            break;
        hist_record(&w->rtt, trace_dur_ns(t0, trace_ticks()));
        bump(&w->roundtrips, 1);
        if (reply != msg)
            bump(&w->echo_mismatch, 1);
    }
    sink(x);
    gil_drop(a->gil, &w->gt, TRACE_DONE | TRACE_NOTE(N_FINISHED));
    return NULL;
}

/*
 * A server across the network: echo every message back after io_latency_us
 * (read live), under no GIL, until end of file.
 */
static void *echo_main(void *p)
{
    struct gs_arg *a = p;
    uint64_t msg;
    while (xfer(a->fd, &msg, sizeof msg, false)) {
        int64_t us = scene_param(a->ctx, P_LATENCY);
        if (us > 0 && !scene_sleep(a->ctx, (uint64_t)us * 1000u))
            break;
        if (!xfer(a->fd, &msg, sizeof msg, true))
            break;
    }
    return NULL;
}

/*
 * nio TCP connections on 127.0.0.1: fds[i][0] the worker's end, fds[i][1]
 * the server's (echo) end. The listening socket is closed once all are in.
 */
static int tcp_pairs(struct gs_state *st)
{
    int l = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0), rc = 0, one = 1;
    if (l < 0)
        return -errno;
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof sa;
    if (bind(l, (struct sockaddr *)&sa, sizeof sa) != 0 || listen(l, MAXT) != 0 ||
        getsockname(l, (struct sockaddr *)&sa, &len) != 0)
        rc = -errno;
    for (int i = 0; i < st->nio && !rc; i++) {
        int c = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (c < 0) {
            rc = -errno;
            break;
        }
        st->fds[i][0] = c;
        if (connect(c, (struct sockaddr *)&sa, sizeof sa) != 0 ||
            (st->fds[i][1] = accept4(l, NULL, NULL, SOCK_CLOEXEC)) < 0) {
            rc = -errno;
            break;
        }
        /* One small message each way per round trip: send it now (no Nagle delay). */
        setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        setsockopt(st->fds[i][1], IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    close(l);
    return rc;
}

/*
 * The per-step cost of the CPU loop, measured once at start: the median of
 * five runs of CALIB_BYTECODES bytecodes with eval-breaker checks on an
 * uncontended GIL of this mode. It sizes a bytecode and is shown as
 * bytecode_ns; the slowdown is measured by running the work both ways.
 */
static void calibrate(struct gs_state *st, enum gil_kind kind)
{
    struct gil g;
    struct gil_thread t;
    struct gil_config cfg = {.kind = kind, .lane = -1};
    if (gil_init(&g, &cfg) != 0)
        kind = GIL_NONE;
    gil_thread_init(&t, 0, -1);
    /* Steps per bytecode so that one bytecode costs about BYTECODE_NS. */
    uint64_t x = 1, best = UINT64_MAX;
    for (int r = 0; r < 3; r++) {
        uint64_t t0 = trace_now_ns();
        x = bytecode(x, 1u << 16);
        uint64_t d = trace_now_ns() - t0;
        best = d < best ? d : best;
    }
    double ns = (double)best / (double)(1u << 16);
    st->steps = ns > 0 ? (unsigned)(BYTECODE_NS / ns + 0.5) : 32;
    if (st->steps < 1)
        st->steps = 1;
    double runs[5];
    if (kind != GIL_NONE)
        gil_take(&g, &t);
    for (int r = 0; r < 5; r++) {
        uint64_t t0 = trace_now_ns();
        for (int i = 0; i < CALIB_BYTECODES; i++) {
            x = bytecode(x, st->steps);
            gil_check(&g, &t);
        }
        runs[r] = (double)(trace_now_ns() - t0) / ((double)CALIB_BYTECODES * st->steps);
    }
    if (kind != GIL_NONE) {
        gil_drop(&g, &t, TRACE_IDLE);
        gil_destroy(&g);
    }
    for (int i = 1; i < 5; i++)
        for (int j = i; j > 0 && runs[j] < runs[j - 1]; j--) {
            double tmp = runs[j];
            runs[j] = runs[j - 1];
            runs[j - 1] = tmp;
        }
    st->step_ns = runs[2];
    sink(x);
}

/* A worker in a child process: keep only its own socket, then run. */
static void *child_main(void *p)
{
    struct gs_arg *a = p;
    struct gs_state *st = a->ctx->priv;
    for (int i = 0; i < st->nio; i++)
        for (int k = 0; k < 2; k++)
            if (st->fds[i][k] >= 0 && st->fds[i][k] != a->fd)
                close(st->fds[i][k]);
    return a->run(a);
}

static void gs_stop(struct scene_ctx *ctx);

/* Declare the lanes and set up the GILs and worker records. */
static int gs_setup(struct scene_ctx *ctx, struct gs_state *st)
{
    static const enum gil_kind kinds[] = {
        [M_NEW] = GIL_NEW, [M_OLD] = GIL_OLD, [M_PROCESSES] = GIL_NEW, [M_NOGIL] = GIL_NONE};
    char name[TRACE_NAME_MAX];
    int nw = st->ncpu + st->nio;
    for (int i = 0; i < nw; i++) {
        bool cpu = i < st->ncpu;
        snprintf(name, sizeof name, cpu ? N_("cpu %d") : N_("io %d"), cpu ? i : i - st->ncpu);
        int lane = trace_lane_add(name, TRACE_LANE_STATE, 0);
        if (lane < 0)
            return -ENOSPC;
        gil_thread_init(&st->shm->w[i].gt, (uint32_t)i, lane);
        hist_reset(&st->shm->w[i].rtt);
    }
    int gil_lane = -1;
    if (st->mode == M_NEW || st->mode == M_OLD) {
        gil_lane = trace_lane_add(N_("GIL"), TRACE_LANE_STATE, 0);
        if (gil_lane < 0)
            return -ENOSPC;
    }
    struct gil_config cfg = {
        .kind = kinds[st->mode],
        .process_shared = st->mode == M_PROCESSES,
        .lane = gil_lane,
        .interval_us = &ctx->sh->param[P_SWITCH],
        .scale = &ctx->sh->slowmo,
    };
    int ngil = st->mode == M_PROCESSES ? nw : 1;
    for (; st->ngil < ngil; st->ngil++) {
        int rc = gil_init(&st->shm->gil[st->ngil], &cfg);
        if (rc)
            return rc;
    }
    for (int i = 0; i < nw; i++) {
        struct gil *g = &st->shm->gil[st->mode == M_PROCESSES ? i : 0];
        int io = i - st->ncpu;
        st->args[i] = (struct gs_arg){ctx, g, &st->shm->w[i], io >= 0 ? st->fds[io][0] : -1, NULL};
    }
    return 0;
}

static int gs_start(struct scene_ctx *ctx)
{
    struct gs_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    ctx->priv = st;
    st->mode = ctx->mode;
    st->ncpu = (int)scene_param(ctx, P_CPU);
    st->nio = (int)scene_param(ctx, P_IO);
    for (int i = 0; i < MAXT; i++)
        st->fds[i][0] = st->fds[i][1] = -1;
    int rc = 0;
    void *m =
        mmap(NULL, sizeof *st->shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        rc = -errno;
        goto fail;
    }
    st->shm = m;
    pthread_mutex_init(&st->fig_mu, NULL);
    rc = tcp_pairs(st);
    if (!rc)
        rc = gs_setup(ctx, st);
    if (rc)
        goto fail;
    calibrate(st, st->mode == M_OLD ? GIL_OLD : st->mode == M_NOGIL ? GIL_NONE : GIL_NEW);
    st->t_begin = trace_now_ns();
    /* Children first (mode 3), so no thread of ours exists when we fork. */
    for (int i = 0; i < st->ncpu + st->nio && !rc; i++) {
        st->args[i].run = i < st->ncpu ? cpu_main : io_main;
        bool proc = st->mode == M_PROCESSES;
        rc = scene_spawn(proc, proc ? child_main : st->args[i].run, &st->args[i], st->threads,
                         &st->nthreads, st->pids, &st->npids);
    }
    for (int i = 0; i < st->nio && !rc; i++) {
        if (st->mode == M_PROCESSES) {
            close(st->fds[i][0]);
            st->fds[i][0] = -1;
        }
        st->echo_args[i] = (struct gs_arg){ctx, NULL, NULL, st->fds[i][1], NULL};
        rc = -pthread_create(&st->echo[i], NULL, echo_main, &st->echo_args[i]);
        if (!rc)
            st->necho++;
    }
    if (!rc && st->ncpu > 0) {
        rc = -pthread_create(&st->coord, NULL, coord_main, ctx);
        st->coord_up = !rc;
    }
    if (rc)
        goto fail;
    scene_note(ctx, _("bytecode = %u multiply-adds, %.0f ns measured"), st->steps,
               st->step_ns * st->steps);
    return 0;
fail:
    scene_note(ctx, _("could not start workers: %s"), strerror(-rc));
    gs_stop(ctx);
    return rc;
}

static void gs_stop(struct scene_ctx *ctx)
{
    struct gs_state *st = ctx->priv;
    if (!st)
        return;
    scene_request_stop(ctx);
    if (st->shm) {
        /* Wake CPU workers waiting for a round (they see the flag). */
        atomic_fetch_add_explicit(&st->shm->gen, 1, memory_order_release);
        futex_wake_all(&st->shm->gen);
    }
    if (st->coord_up)
        pthread_join(st->coord, NULL);
    st->coord_up = 0;
    /* End of file for every echo thread and every I/O worker blocked in a read. */
    for (int i = 0; i < MAXT; i++)
        if (st->fds[i][1] >= 0)
            shutdown(st->fds[i][1], SHUT_RDWR);
    for (int i = 0; i < st->nthreads; i++)
        pthread_join(st->threads[i], NULL);
    st->nthreads = 0;
    scene_reap(st->pids, &st->npids);
    for (int i = 0; i < st->necho; i++)
        pthread_join(st->echo[i], NULL);
    st->necho = 0;
    for (int i = 0; i < MAXT; i++)
        for (int k = 0; k < 2; k++)
            if (st->fds[i][k] >= 0) {
                close(st->fds[i][k]);
                st->fds[i][k] = -1;
            }
    if (st->t_begin && !st->t_end)
        st->t_end = trace_now_ns();
}

static void gs_free(struct scene_ctx *ctx)
{
    struct gs_state *st = ctx->priv;
    if (!st)
        return;
    if (st->shm) {
        for (int i = 0; i < st->ngil; i++)
            gil_destroy(&st->shm->gil[i]);
        munmap(st->shm, sizeof *st->shm);
    }
    pthread_mutex_destroy(&st->fig_mu);
    free(st);
    ctx->priv = NULL;
}

static void gs_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct gs_state *st = ctx->priv;
    if (!st || !st->shm || !st->t_begin)
        return;
    struct gs_shm *q = st->shm;
    uint64_t now = st->t_end ? st->t_end : trace_now_ns();
    double secs = (double)(now - st->t_begin) / 1e9;
    if (secs <= 0)
        secs = 1e-9;
    uint64_t countdowns = 0, trips = 0, wait_ns = 0, io_gil = 0, mismatch = 0;
    struct hist wait, rtt;
    hist_reset(&wait);
    hist_reset(&rtt);
    for (int i = 0; i < st->ncpu + st->nio; i++) {
        struct gs_worker *w = &q->w[i];
        if (i < st->ncpu) {
            countdowns += atomic_load_explicit(&w->countdowns, RLX);
        }
        trips += atomic_load_explicit(&w->roundtrips, RLX);
        io_gil += atomic_load_explicit(&w->io_with_gil, RLX);
        mismatch += atomic_load_explicit(&w->echo_mismatch, RLX);
        wait_ns += atomic_load_explicit(&w->gt.wait_ns, RLX);
        hist_merge(&wait, &w->gt.wait);
        hist_merge(&rtt, &w->rtt);
    }
    uint64_t switches = 0, drops = 0, handoff_max = 0;
    uint32_t max_holders = 0;
    struct hist handoff;
    hist_reset(&handoff);
    for (int i = 0; i < st->ngil; i++) {
        struct gil *g = &q->gil[i];
        switches += atomic_load_explicit(&g->switches, RLX);
        drops += atomic_load_explicit(&g->drop_requests, RLX);
        uint64_t h = atomic_load_explicit(&g->handoff_max_ns, RLX);
        handoff_max = h > handoff_max ? h : handoff_max;
        uint32_t mh = atomic_load_explicit(&g->max_holders, RLX);
        max_holders = mh > max_holders ? mh : max_holders;
        hist_merge(&handoff, &g->handoff);
    }
    if (st->ncpu > 0) {
        /* The same countdowns run in parallel over run sequentially, round by round. */
        pthread_mutex_lock(&st->fig_mu);
        scene_stat_rounds(out, "slowdown", &st->slow, "x");
        scene_stat_rounds(out, "sequential", &st->seq_ms, "ms");
        scene_stat_rounds(out, "parallel", &st->par_ms, "ms");
        pthread_mutex_unlock(&st->fig_mu);
        scene_stat(out, "countdowns_per_s", (double)countdowns / secs, "/s");
        scene_stat(out, "countdowns", (double)countdowns, "");
    }
    scene_stat(out, "bytecode_ns", st->step_ns * st->steps, "ns");
    if (st->mode != M_NOGIL) {
        scene_stat(out, "gil_switches_per_s", (double)switches / secs, "/s");
        scene_stat(out, "gil_switches", (double)switches, "");
        scene_stat(out, "drop_requests", (double)drops, "");
        scene_stat(out, "handoff_p99", (double)hist_percentile(&handoff, 0.99) / 1e6, "ms");
        scene_stat(out, "handoff_max", (double)handoff_max / 1e6, "ms");
        scene_stat(out, "gil_wait_ms", (double)wait_ns / 1e6, "ms");
        scene_stat(out, "gil_wait_share",
                   100.0 * (double)wait_ns / 1e9 / secs / (st->ncpu + st->nio), "%");
        scene_stat(out, "gil_waits", (double)hist_count(&wait), "");
        scene_stat(out, "gil_wait_p50", (double)hist_percentile(&wait, 0.5) / 1e6, "ms");
        scene_stat(out, "gil_wait_p99", (double)hist_percentile(&wait, 0.99) / 1e6, "ms");
        scene_stat(out, "max_holders", max_holders, "");
    }
    if (st->nio > 0) {
        scene_stat(out, "io_latency", (double)scene_param(ctx, P_LATENCY) / 1000.0, "ms");
        scene_stat(out, "io_roundtrips_per_s", (double)trips / secs, "/s");
        scene_stat(out, "io_roundtrips", (double)trips, "");
        scene_stat(out, "io_rtt_p50", (double)hist_percentile(&rtt, 0.5) / 1e6, "ms");
        scene_stat(out, "io_rtt_p99", (double)hist_percentile(&rtt, 0.99) / 1e6, "ms");
        scene_stat(out, "io_blocked_with_gil", (double)io_gil, "");
        scene_stat(out, "echo_mismatches", (double)mismatch, "");
    }
    scene_stat(out, "switch_interval", (double)scene_param(ctx, P_SWITCH) / 1000.0, "ms");
}

static const struct scene_param gs_params[] = {
    [P_CPU] = {"cpu_threads", N_("CPU-bound workers (countdown loops)"), 0, MAXT, 1, "",
               SCENE_P_RESTART},
    [P_IO] = {"io_threads", N_("I/O-bound workers (echo round trips over TCP on 127.0.0.1)"), 0,
              MAXT, 1, "", SCENE_P_RESTART},
    [P_SWITCH] = {"switch_us", N_("switch interval (sys.setswitchinterval)"), 100, 500000,
                  GIL_DEFAULT_INTERVAL_US, "us", 0},
    [P_COUNTDOWN] = {"countdown_k", N_("countdown length per CPU worker, thousands of bytecodes"),
                     1, 100000, 1000, "k", 0},
    [P_LATENCY] = {"io_latency_us",
                   N_("the echo server answers after this delay (a server across the network)"), 0,
                   1000000, 0, "us", 0},
};

static const struct scene_mode gs_modes[] = {
    [M_NEW] = {"threads", N_("threads under the GIL (Python 3.2+)"),
               N_("Each worker is a real thread running small units of CPU work ('bytecodes') "
                  "under a C copy of CPython 3's GIL, and only the holder runs. A thread that "
                  "wants the GIL waits one switch interval, then sets a drop request; the holder "
                  "sees it at its next bytecode and hands over. So two CPU-bound threads take "
                  "turns: every round runs the same countdowns one after another on one thread, "
                  "then on all the threads at once, and 'slowdown' is the second time over the "
                  "first (near 1x: no faster). An I/O thread releases the GIL around every send "
                  "and receive, but next to a CPU-bound thread it must wait up to a whole "
                  "interval to get it back after each one: its round trips fall by an order of "
                  "magnitude or more (the convoy effect). Threads still help I/O: with "
                  "io_latency_us the server answers after a delay, each thread waits for its "
                  "reply with the GIL released, the waits overlap, and 8 I/O threads make many "
                  "times the round trips of one. The echo server runs outside the GIL, like a "
                  "server on another machine."),
               .ns_per_col = SCENE_MS},
    [M_OLD] = {"oldgil", N_("threads under the old GIL (Python 2)"),
               N_("Python 2's GIL: a plain lock that the holder releases and at once re-acquires "
                  "every 100 ticks, with no timeout, no drop request and no fairness. On several "
                  "cores the holder usually grabs the lock back before the woken waiter gets "
                  "going; the waiter fails and sleeps again, thousands of times a second. That "
                  "battle costs system calls and cache traffic: David Beazley measured two "
                  "CPU-bound threads running about twice as slow as the same work done "
                  "sequentially. The switch interval does not apply in this mode."),
               .ns_per_col = SCENE_MS},
    [M_PROCESSES] = {"processes", N_("processes, one GIL each (multiprocessing)"),
                     N_("Every worker is a separate child process with its own interpreter and its "
                        "own GIL, as with multiprocessing. No worker ever waits for another's GIL, "
                        "so CPU-bound work runs in parallel on all cores and the slowdown falls "
                        "toward 1/N. I/O workers no longer queue behind CPU-bound ones, so their "
                        "round trips are as quick as when alone. The price in real Python is that "
                        "data is copied (pickled) between processes instead of shared."),
                     .ns_per_col = SCENE_MS},
    [M_NOGIL] = {"nogil", N_("threads, no GIL (free-threaded 3.13+)"),
                 N_("Free-threaded Python (3.13t and later) has no GIL: threads run bytecode on "
                    "every core at once. Two CPU-bound threads now finish in about half the time "
                    "on two cores, and an I/O thread runs as soon as its reply arrives. The switch "
                    "interval does nothing here. In real Python the price is slower single-thread "
                    "code and finer-grained locking inside the interpreter."),
                 .ns_per_col = SCENE_MS},
};

/* How the figures read on screen (see struct scene_figure); the JSON keys stay the names. */
static const struct scene_figure gs_figures[] = {
    {.name = "slowdown", .label = N_("slowdown"), .flags = FIG_HEADLINE},
    {.name = "gil_switches_per_s", .label = N_("GIL switch rate"), .flags = FIG_HEADLINE},
    {.name = "io_rtt_p99", .label = N_("I/O round trip p99"), .flags = FIG_HEADLINE},
    {.name = "countdowns_per_s", .label = N_("countdown rate")},
    {.name = "countdowns", .label = N_("countdowns"), .fmt = FIG_INT},
    {.name = "bytecode_ns", .label = N_("one bytecode")},
    {.name = "gil_switches", .label = N_("GIL switches"), .fmt = FIG_INT},
    {.name = "drop_requests", .label = N_("drop requests"), .fmt = FIG_INT},
    {.name = "handoff_p99", .label = N_("hand-off p99")},
    {.name = "handoff_max", .label = N_("hand-off max")},
    {.name = "gil_wait_ms", .label = N_("waiting for the GIL")},
    {.name = "gil_wait_share", .label = N_("share waiting")},
    {.name = "gil_waits", .label = N_("GIL waits"), .fmt = FIG_INT},
    {.name = "gil_wait_p50", .label = N_("GIL wait p50")},
    {.name = "gil_wait_p99", .label = N_("GIL wait p99")},
    {.name = "max_holders", .label = N_("most holders"), .fmt = FIG_INT},
    {.name = "io_roundtrips_per_s", .label = N_("I/O round-trip rate")},
    {.name = "io_roundtrips", .label = N_("I/O round trips"), .fmt = FIG_INT},
    {.name = "io_rtt_p50", .label = N_("I/O round trip p50")},
    {.name = "io_blocked_with_gil", .label = N_("I/O holding the GIL"), .fmt = FIG_INT},
    {.name = "echo_mismatches", .label = N_("echo mismatches"), .fmt = FIG_INT},
    {.name = "switch_interval", .label = N_("switch interval")},
};

const struct scene_entry scene_gil = {
    .name = "gil",
    .title = N_("GIL contention"),
    .summary = N_("real threads under CPython's global interpreter lock"),
    .modes = gs_modes,
    .nmodes = (int)(sizeof gs_modes / sizeof gs_modes[0]),
    .params = gs_params,
    .nparams = (int)(sizeof gs_params / sizeof gs_params[0]),
    .notes = gs_notes,
    .nnotes = (int)(sizeof gs_notes / sizeof gs_notes[0]),
    .start = gs_start,
    .stop = gs_stop,
    .release = gs_free,
    .stats = gs_stats,
    .figures = gs_figures,
    .nfigures = (int)(sizeof gs_figures / sizeof gs_figures[0]),
};
