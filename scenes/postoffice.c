/*
 * Scene: the post office, four ways to serve the same customers.
 *
 * Every customer has parcels to send through its own window: a pipe that
 * holds one parcel (4 KiB) to the recipient thread. The recipient takes a
 * parcel out of a window service_us after it lands there, so a sender who
 * puts the next parcel in a full window really waits, in the kernel. The
 * four modes differ only in who waits for the windows and who is told what:
 * one clerk with blocking writes, N clerks with blocking writes, one epoll
 * loop that writes without ever blocking (a full window answers EAGAIN and
 * the loop waits for EPOLLOUT, serving whoever is ready meanwhile), one loop
 * that hands the writes to the kernel (io_uring) and reaps completions,
 * falling back to a thread pool. With heavy=on, customer 0's business is
 * long: once its first parcel is out, whoever serves it computes for
 * HEAVY_X service times (CPU work, not I/O) before going on.
 *
 * DESIGN
 * Who runs: a director thread runs rounds. For each it resets the
 * customers, makes the windows' write ends non-blocking for mode 3 and
 * blocking for the others (one open file each, so the flag is the round's),
 * and wakes its crew of servers (mode 1 one clerk thread, mode 2 N clerk
 * threads, mode 3 one loop thread, mode 4 one loop thread plus, without
 * io_uring, the aio pool threads); the crew serves every customer,
 * reports and parks until the next round, so a running scene keeps a steady
 * set of threads and descriptors. The director then waits until the
 * recipient has taken every parcel, publishes the figures and pauses. It
 * also runs the four-mode comparison ('c' or compare=on) as four rounds in
 * a row, with a crew made for each other mode and freed after its round.
 * The recipient thread drains the windows; a sampler thread reports the
 * gauges. The UI thread only reads the published figures and sets the
 * comparison flag.
 *
 * Who owns what: a customer's server-side fields and parcel buffer belong to
 * the one thread serving it (a clerk takes a customer from the line with a
 * fetch_add; in modes 3 and 4 the loop); the director reads them after
 * joining the servers. Its rx_* fields belong to the recipient; the director
 * reads them after the acquire load of round_done that pairs with the
 * recipient's release. Each lane has one writer at a time: the director
 * (customer lanes at a round's start), then the round's servers (joined
 * before the next round), the recipient, the sampler (gauges).
 *
 * Locks: res_lock guards the published figures (director writes, UI reads);
 * nothing else is taken while it is held. The aio pool has its own lock.
 *
 * Shutdown: stop() sets the stop flag and joins the director. Servers check
 * the flag between parcels (and during the heavy customer's work); a writer
 * blocked on a full window gets out because a stopping recipient takes
 * parcels at once instead of after service_us, and the mode 4 loop reaps
 * what is in flight before it leaves a round. The director then frees its
 * crew: quit, wake, join; each server closes its epoll set or aio queue
 * (joining the pool threads) on the way out. stop() then tells the
 * recipient to quit and joins it and the sampler; release() closes every
 * window and frees the memory.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/timerfd.h>
#include <time.h>
#include <unistd.h>

#include "aio.h"
#include "futex.h"
#include "hist.h"
#include "scene.h"
#include "i18n.h"
#include "scenes/scenes.h"
#include "trace.h"

#define MAX_CUST 400
#define MAX_CLERKS 256
#define HEAVY_X 20  /* the heavy customer's work, in service times */
#define PARCEL 4096 /* one window holds one parcel (and <= PIPE_BUF: writes are whole) */
#define CUST_LANES 4
#define CLERK_LANES 8
#define POOL_LANES 4
#define GAUGE_SAMPLES 10     /* a gauge's value: the mean of this many 1 ms samples */
#define SLICE_NS 20000000ull /* every wait wakes this often to check the stop flag */
#define MAGIC 0x70617263u
#define RLX memory_order_relaxed

enum { P_CUSTOMERS, P_CLERKS, P_PARCELS, P_SERVICE, P_HEAVY, P_URING, P_COMPARE, P_POOL, P_PAUSE };
enum { M_ONE, M_CLERKS, M_REACTOR, M_PROACTOR, M_COUNT };
enum {
    N_NONE,
    N_IN_LINE,
    N_TICKET,
    N_DROPPED,
    N_AT_COUNTER,
    N_IN_FLIGHT,
    N_SERVED,
    N_CALL,
    N_WRITE_BLOCK,
    N_NO_ONE,
    N_EPOLL,
    N_LOOP_WRITE,
    N_URING_WAIT,
    N_POOL_WAIT,
    N_COMPLETION,
    N_POOL_WRITE,
    N_KERNEL,
    N_TAKE,
    N_RECV_WAIT,
    N_PAUSE,
    N_CALLED,
    N_BUSINESS,
    N_HEAVY,
};

static const char *const po_notes[] = {
    [N_NONE] = "",
    [N_IN_LINE] = N_("standing in line"),
    [N_TICKET] = N_("took a ticket, waiting to be called"),
    [N_DROPPED] = N_("parcels dropped in the back yard"),
    [N_AT_COUNTER] = N_("at the counter: being served"),
    [N_IN_FLIGHT] = N_("handed to the OS: it sends, the loop waits for the notice"),
    [N_SERVED] = N_("served"),
    [N_CALL] = N_("calling the next customer"),
    [N_WRITE_BLOCK] = N_("write(): blocked until the window takes the parcel"),
    [N_NO_ONE] = N_("no one left in line"),
    [N_EPOLL] = N_("epoll_wait: which window is free?"),
    [N_LOOP_WRITE] = N_("callbacks: a non-blocking write to each ready window"),
    [N_URING_WAIT] = N_("io_uring_enter: submit, wait for completions"),
    [N_POOL_WAIT] = N_("waiting for completions (eventfd)"),
    [N_COMPLETION] = N_("completion notice: hand in the next parcel"),
    [N_POOL_WRITE] = N_("pool thread: blocking write for the loop"),
    [N_KERNEL] = N_("writes in flight, done by the OS"),
    [N_TAKE] = N_("taking a parcel out of a window"),
    [N_RECV_WAIT] = N_("waiting for parcels to arrive"),
    [N_PAUSE] = N_("round over: pause"),
    [N_CALLED] = N_("called: a parcel goes out whenever its window has room"),
    [N_BUSINESS] = N_("its long business: the server computes for it"),
    [N_HEAVY] = N_("customer 0's long business: computing, nobody else is served here"),
};

struct parcel_hdr {
    uint32_t magic, round, cust, seq;
    uint64_t sum; /* of the payload's 64-bit words */
};

struct po_cust {
    /* server side: the serving thread's */
    _Alignas(64) unsigned char buf[PARCEL];
    uint32_t nparcels, next; /* parcels to send; next sequence number (1-based) */
    uint32_t filled;         /* the sequence number buf holds (mode 3 keeps it over EAGAIN) */
    uint64_t t_called, t_done;
    /* recipient side */
    uint32_t rx_round;
    uint64_t rx_cnt, rx_sum, rx_sumsq, rx_due;
};

/* A lane and the state last emitted on it (by its one writer). */
struct po_lane {
    int id;
    unsigned cur;
};

/* Figures of one completed round. */
struct po_result {
    uint64_t parcels, delivered, violations, loop_writes, worker_writes, eagain;
    double total_ms, throughput, p50, p99, pmax, p50_others, p99_others, heavy_ms;
    double done_p99_others;
    double util, syscalls_pp;
    int threads, uring, heavy;
    uint32_t max_serving;
};

/* The round in progress: counters the servers add to and the sampler reads. */
struct po_round {
    _Atomic uint32_t ncust, next_cust, called, serving, max_serving;
    _Atomic uint64_t handed;
    /* added once per thread when it ends (relaxed fetch_add; read after join) */
    _Atomic uint64_t syscalls, loop_writes, worker_writes, busy_ns, eagain;
    int threads, uring;
    int heavy;         /* customer 0's long business this round (set before go) */
    uint64_t heavy_ns; /* how long it lasts */
};

struct po_state;

struct po_crew;

/* One server thread; its counters are its own and start again at each round. */
struct po_server {
    struct po_state *st;
    struct po_crew *crew;
    int idx;
    struct po_lane *lane; /* NULL: no lane of its own */
    uint64_t syscalls, writes, busy_ns, eagain;
    uint32_t seen;              /* the last round generation it took part in */
    int ep;                     /* mode 3: the loop's epoll set, kept across rounds */
    struct aio *aio;            /* mode 4: the loop's completion queue, kept across rounds */
    int aio_uring, aio_pool;    /* what it was opened with */
    struct aio_counts aio_base; /* its counts when the round began */
};

/*
 * The servers of one mode: threads that live as long as the crew and park
 * between rounds, so a running scene keeps a steady set of threads and
 * descriptors. The director starts a round by bumping `go` (release, pairs
 * with each server's acquire); each server decrements `left` when done
 * (acq_rel; the director's acquire of zero sees everything they wrote).
 */
struct po_crew {
    struct po_state *st;
    int mode, n, active;
    _Atomic uint32_t go, left;
    _Atomic int quit;
    pthread_t th[MAX_CLERKS];
    struct po_server sv[MAX_CLERKS];
};

struct po_state {
    struct scene_ctx *ctx;
    uint32_t ncust;
    int wr[MAX_CUST], rd[MAX_CUST];
    int nwin;
    struct po_cust *cust;
    struct po_round r;
    uint32_t round_seq; /* director's */
    /* recipient */
    _Atomic uint32_t cur_round, round_done;
    _Atomic uint64_t expected, t_last, rx_round_total, rx_bad;
    uint32_t rx_round_id; /* recipient's */
    _Atomic int recv_quit;
    /* lanes */
    struct po_lane g_wait, g_flight, g_busy, custl[CUST_LANES], clerk[CLERK_LANES];
    struct po_lane loop, kernel, pool[POOL_LANES], recipient;
    uint32_t pick[CUST_LANES]; /* the customers with a lane: first, last and between */
    uint32_t npick;
    int wr_nonblock;              /* director's: the write ends are O_NONBLOCK now */
    int uring_ok, uring_err;      /* start's probe: will mode 4 get io_uring */
    uint64_t pool_t0[POOL_LANES]; /* pool thread k's busy start (its own) */
    _Atomic uint64_t pool_busy_ns;
    /* threads */
    pthread_t director, recv_th, sampler;
    int director_up, recv_up, sampler_up;
    /* 'c' and compare=on: release by the UI thread pairs with the director's exchange */
    _Atomic int cmp_req;
    pthread_mutex_t res_lock;
    struct po_result last, cmp[M_COUNT];
    uint64_t rounds;
    int cmp_valid;
};

/* Emit only real transitions on a lane the current mode has. */
static void lane_set(struct po_lane *l, unsigned state, unsigned note, uint32_t arg)
{
    unsigned w = state | TRACE_NOTE(note);
    if (!l || l->id < 0 || w == l->cur)
        return;
    l->cur = w;
    trace_emit(l->id, w, arg);
}

/* The lane of customer i, if it has one of its own. */
static struct po_lane *cust_lane(struct po_state *st, uint32_t i)
{
    for (uint32_t k = 0; k < st->npick; k++)
        if (st->pick[k] == i)
            return &st->custl[k];
    return NULL;
}

/* Scene time to real time under slow motion. */
static uint64_t stretch(const struct scene_ctx *ctx, uint64_t ns)
{
    int f = atomic_load_explicit(&ctx->sh->slowmo, RLX);
    return ns * (uint64_t)(f > 0 ? f : 1);
}

/* Write a parcel: header plus a payload that depends on who and which. */
static void fill_parcel(struct po_cust *c, uint32_t round, uint32_t cust, uint32_t seq)
{
    struct parcel_hdr h = {MAGIC, round, cust, seq, 0};
    uint64_t x = ((uint64_t)round << 40) ^ ((uint64_t)cust << 20) ^ seq;
    uint64_t *words = (uint64_t *)(c->buf + sizeof h);
    for (size_t k = 0; k < (PARCEL - sizeof h) / 8; k++) {
        x = x * 6364136223846793005ull + 1442695040888963407ull;
        words[k] = x;
        h.sum += x;
    }
    memcpy(c->buf, &h, sizeof h);
}

/* A customer is called: the wait ends, the service begins. */
static void cust_called(struct po_state *st, uint32_t i, unsigned note)
{
    struct po_cust *c = &st->cust[i];
    c->t_called = trace_now_ns();
    atomic_fetch_add_explicit(&st->r.called, 1, RLX);
    uint32_t s = atomic_fetch_add_explicit(&st->r.serving, 1, RLX) + 1;
    uint32_t m = atomic_load_explicit(&st->r.max_serving, RLX);
    while (s > m && !atomic_compare_exchange_weak_explicit(&st->r.max_serving, &m, s, RLX, RLX))
        ;
    lane_set(cust_lane(st, i), note == N_IN_FLIGHT ? TRACE_KERNEL : TRACE_IO, note, 0);
}

/* A customer's last parcel is in its window: it leaves. */
static void cust_done(struct po_state *st, uint32_t i)
{
    st->cust[i].t_done = trace_now_ns();
    atomic_fetch_sub_explicit(&st->r.serving, 1, RLX);
    lane_set(cust_lane(st, i), TRACE_DONE, N_SERVED, 0);
}

/*
 * Customer i's first parcel is out. With heavy=on, customer 0's business is
 * long: the thread serving it computes (CPU work, no I/O) for HEAVY_X
 * service times before it goes on, and serves nobody else meanwhile. Then
 * the lanes go back to what they showed: the customer's `state`/`note`, the
 * server's `sv_note` (running).
 */
static void business(struct po_server *sv, uint32_t i, unsigned state, unsigned note,
                     unsigned sv_note)
{
    struct po_state *st = sv->st;
    if (i != 0 || !st->r.heavy)
        return;
    lane_set(sv->lane, TRACE_RUN, N_HEAVY, i);
    lane_set(cust_lane(st, i), TRACE_RUN, N_BUSINESS, 0);
    scene_spin(st->ctx, st->r.heavy_ns);
    lane_set(cust_lane(st, i), state, note, 0);
    lane_set(sv->lane, TRACE_RUN, sv_note, i);
}

/* Put one parcel in the customer's window with a blocking write(). 0 or -errno. */
static int send_blocking(struct po_server *sv, uint32_t i, unsigned note)
{
    struct po_state *st = sv->st;
    struct po_cust *c = &st->cust[i];
    fill_parcel(c, st->round_seq, i, c->next);
    lane_set(sv->lane, TRACE_IO, note, i);
    atomic_fetch_add_explicit(&st->r.handed, 1, RLX);
    ssize_t n;
    do {
        n = write(st->wr[i], c->buf, PARCEL);
        sv->syscalls++;
        sv->writes++;
    } while (n < 0 && errno == EINTR);
    lane_set(sv->lane, TRACE_RUN, N_CALL, i);
    c->next++;
    return n == PARCEL ? 0 : -EIO;
}

/* Serve one customer to the end, parcel after parcel, on this thread. */
static void serve_sync(struct po_server *sv, uint32_t i, unsigned note)
{
    struct po_state *st = sv->st;
    struct po_cust *c = &st->cust[i];
    uint64_t t0 = trace_now_ns();
    lane_set(sv->lane, TRACE_RUN, N_CALL, i);
    cust_called(st, i, N_AT_COUNTER);
    while (c->next <= c->nparcels && !scene_stopping(st->ctx)) {
        if (send_blocking(sv, i, note) != 0)
            break;
        if (c->next == 2)
            business(sv, i, TRACE_IO, N_AT_COUNTER, N_CALL);
    }
    cust_done(st, i);
    sv->busy_ns += trace_now_ns() - t0;
}

/* What every server adds to the round when its part is done. */
static void server_end(struct po_server *sv, bool loop)
{
    struct po_round *r = &sv->st->r;
    atomic_fetch_add_explicit(&r->syscalls, sv->syscalls, RLX);
    atomic_fetch_add_explicit(loop ? &r->loop_writes : &r->worker_writes, sv->writes, RLX);
    atomic_fetch_add_explicit(&r->busy_ns, sv->busy_ns, RLX);
    atomic_fetch_add_explicit(&r->eagain, sv->eagain, RLX);
    lane_set(sv->lane, TRACE_WAIT, N_NO_ONE, 0);
}

/* Modes 1 and 2: a clerk takes the next customer in line until the line is empty. */
static void clerk_round(struct po_server *sv)
{
    struct po_state *st = sv->st;
    uint32_t n = atomic_load_explicit(&st->r.ncust, RLX);
    while (!scene_stopping(st->ctx)) {
        uint32_t i = atomic_fetch_add_explicit(&st->r.next_cust, 1, RLX);
        if (i >= n)
            break;
        serve_sync(sv, i, N_WRITE_BLOCK);
    }
    server_end(sv, false);
}

/*
 * Mode 3: customer i's window has room. Call the customer if this is the
 * first time, then send as much as the window takes: write() until it says
 * EAGAIN (the window is full: wait for EPOLLOUT, serve the others) or the
 * customer has nothing left. 1 when the customer is done.
 */
static int reactor_serve(struct po_server *sv, uint32_t i)
{
    struct po_state *st = sv->st;
    struct po_cust *c = &st->cust[i];
    if (!c->t_called)
        cust_called(st, i, N_CALLED);
    while (c->next <= c->nparcels) {
        if (c->filled != c->next) {
            fill_parcel(c, st->round_seq, i, c->next);
            c->filled = c->next;
        }
        ssize_t w = write(st->wr[i], c->buf, PARCEL);
        sv->syscalls++;
        if (w == PARCEL) {
            sv->writes++;
            atomic_fetch_add_explicit(&st->r.handed, 1, RLX);
            if (++c->next == 2)
                business(sv, i, TRACE_IO, N_CALLED, N_LOOP_WRITE);
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && errno == EAGAIN) {
            sv->eagain++;
            return 0;
        }
        break; /* a broken window: nothing more goes through it */
    }
    epoll_ctl(sv->ep, EPOLL_CTL_DEL, st->wr[i], NULL);
    sv->syscalls++;
    cust_done(st, i);
    return 1;
}

/* The ready windows in ticket order: the post office calls the lowest ticket first. */
static void by_ticket(struct epoll_event *ev, int k)
{
    for (int a = 1; a < k; a++) {
        struct epoll_event e = ev[a];
        int b = a;
        for (; b > 0 && ev[b - 1].data.u32 > e.data.u32; b--)
            ev[b] = ev[b - 1];
        ev[b] = e;
    }
}

/*
 * Mode 3: one loop thread, a reactor. Every window is in the epoll set
 * (level-triggered EPOLLOUT) and every write end is non-blocking: epoll says
 * which windows have room, the loop runs the callback of each (in ticket
 * order), and no write ever waits. The loop waits only in epoll_wait, when
 * no window has room. Only a long callback (heavy) holds the others up.
 */
static void reactor_round(struct po_server *sv)
{
    struct po_state *st = sv->st;
    uint32_t n = atomic_load_explicit(&st->r.ncust, RLX);
    struct epoll_event ev[MAX_CUST];
    if (sv->ep < 0) {
        sv->ep = epoll_create1(EPOLL_CLOEXEC);
        sv->syscalls++;
    }
    uint32_t left = 0;
    for (uint32_t i = 0; sv->ep >= 0 && i < n; i++) {
        struct epoll_event e = {.events = EPOLLOUT, .data.u32 = i};
        left += epoll_ctl(sv->ep, EPOLL_CTL_ADD, st->wr[i], &e) == 0;
        sv->syscalls++;
    }
    while (left > 0 && !scene_stopping(st->ctx)) {
        lane_set(sv->lane, TRACE_IO, N_EPOLL, left);
        int k = epoll_wait(sv->ep, ev, MAX_CUST, (int)(SLICE_NS / 1000000));
        sv->syscalls++;
        if (k <= 0)
            continue;
        uint64_t t0 = trace_now_ns();
        lane_set(sv->lane, TRACE_RUN, N_LOOP_WRITE, (uint32_t)k);
        by_ticket(ev, k);
        for (int j = 0; j < k && !scene_stopping(st->ctx); j++)
            left -= (uint32_t)reactor_serve(sv, ev[j].data.u32);
        sv->busy_ns += trace_now_ns() - t0;
    }
    /* Stopped mid-round: leave the set empty for the next round. */
    for (uint32_t i = 0; left > 0 && i < n; i++)
        if (st->cust[i].next <= st->cust[i].nparcels)
            epoll_ctl(sv->ep, EPOLL_CTL_DEL, st->wr[i], NULL);
    server_end(sv, true);
}

/* The aio pool's threads report here when they start and finish a write. */
static void pool_hook(void *arg, int worker, bool busy)
{
    struct po_state *st = arg;
    if (worker < POOL_LANES) {
        lane_set(&st->pool[worker], busy ? TRACE_IO : TRACE_WAIT, busy ? N_POOL_WRITE : N_NONE, 0);
        if (busy)
            st->pool_t0[worker] = trace_now_ns();
        else
            atomic_fetch_add_explicit(&st->pool_busy_ns, trace_now_ns() - st->pool_t0[worker], RLX);
    }
}

/* Mode 4: hand the customer's next parcel to the OS. */
static int submit_next(struct po_state *st, struct aio *a, uint32_t i)
{
    struct po_cust *c = &st->cust[i];
    fill_parcel(c, st->round_seq, i, c->next);
    atomic_fetch_add_explicit(&st->r.handed, 1, RLX);
    return aio_write(a, st->wr[i], c->buf, PARCEL, i);
}

/* Mode 4: (re)open the loop's completion queue when uring or pool changed. 0 or -errno. */
static int proactor_queue(struct po_server *sv)
{
    struct po_state *st = sv->st;
    struct scene_ctx *ctx = st->ctx;
    int want = scene_param(ctx, P_URING) != 0, pool = (int)scene_param(ctx, P_POOL);
    if (sv->aio && sv->aio_uring == want && sv->aio_pool == pool) {
        aio_counts(sv->aio, &sv->aio_base);
        return 0;
    }
    if (sv->aio) {
        struct aio_counts last;
        aio_close(sv->aio, 2000000000ull, &last);
        sv->aio = NULL;
    }
    int uerr = 0;
    int rc = aio_open(&sv->aio, MAX_CUST, want, pool, pool_hook, st, &uerr);
    if (rc) {
        sv->aio = NULL;
        scene_note(ctx, _("cannot open the completion queue: %s"), strerror(-rc));
        return rc;
    }
    sv->aio_uring = want;
    sv->aio_pool = pool;
    memset(&sv->aio_base, 0, sizeof sv->aio_base);
    bool uring = aio_backend_of(sv->aio) == AIO_URING;
    if (!uring && want)
        scene_note(ctx,
                   _("io_uring unavailable (%s): completions come from a pool of %d threads, "
                     "as libuv does for files"),
                   strerror(uerr), pool);
    else if (!uring)
        scene_note(ctx, _("uring=off: completions come from a pool of %d threads"), pool);
    else
        scene_note(ctx, _("io_uring: the kernel does the writes"));
    return 0;
}

/*
 * Mode 4: one loop thread drops every customer's first parcel in the back
 * yard, then only reaps completions, each followed by that customer's next.
 */
static void proactor_round(struct po_server *sv)
{
    struct po_state *st = sv->st;
    struct scene_ctx *ctx = st->ctx;
    uint32_t n = atomic_load_explicit(&st->r.ncust, RLX);
    if (proactor_queue(sv) != 0) {
        server_end(sv, true);
        return;
    }
    struct aio *a = sv->aio;
    bool uring = aio_backend_of(a) == AIO_URING;
    st->r.uring = uring;
    st->r.threads = 1 + (uring ? 0 : sv->aio_pool);
    uint32_t left = n;
    uint64_t t0 = trace_now_ns();
    for (uint32_t i = 0; i < n; i++) {
        cust_called(st, i, N_IN_FLIGHT);
        submit_next(st, a, i);
    }
    sv->busy_ns += trace_now_ns() - t0;
    struct aio_done done[64];
    /* Stopping: keep reaping until nothing is in flight, so no buffer is still in use. */
    while (left > 0 && (!scene_stopping(ctx) || aio_inflight(a) > 0)) {
        unsigned fl = aio_inflight(a);
        lane_set(&st->kernel, fl ? TRACE_KERNEL : TRACE_IDLE, fl ? N_KERNEL : N_NONE, fl);
        lane_set(sv->lane, TRACE_IO, uring ? N_URING_WAIT : N_POOL_WAIT, fl);
        int k = aio_wait(a, done, 64, SLICE_NS);
        if (k < 0) {
            scene_note(ctx, _("waiting for completions failed: %s"), strerror(-k));
            break;
        }
        t0 = trace_now_ns();
        if (k > 0)
            lane_set(sv->lane, TRACE_RUN, N_COMPLETION, (uint32_t)k);
        for (int j = 0; j < k; j++) {
            uint32_t i = (uint32_t)done[j].user;
            struct po_cust *c = &st->cust[i];
            if (++c->next == 2 && done[j].res == PARCEL)
                business(sv, i, TRACE_KERNEL, N_IN_FLIGHT, N_COMPLETION);
            if (c->next > c->nparcels || done[j].res != PARCEL || scene_stopping(ctx)) {
                cust_done(st, i);
                left--;
            } else {
                submit_next(st, a, i);
            }
        }
        sv->busy_ns += trace_now_ns() - t0;
    }
    lane_set(&st->kernel, TRACE_IDLE, N_NONE, 0);
    struct aio_counts cnt;
    aio_counts(a, &cnt);
    sv->syscalls += cnt.owner_syscalls - sv->aio_base.owner_syscalls + cnt.worker_syscalls -
                    sv->aio_base.worker_syscalls;
    atomic_fetch_add_explicit(&st->r.worker_writes, cnt.worker_writes - sv->aio_base.worker_writes,
                              RLX);
    server_end(sv, true);
}

/* A server thread: park until the director starts a round, take part, report, repeat. */
static void *server_main(void *p)
{
    struct po_server *sv = p;
    struct po_crew *cr = sv->crew;
    for (;;) {
        /* Acquire pairs with the director's release of go (or quit). */
        uint32_t g = atomic_load_explicit(&cr->go, memory_order_acquire);
        if (atomic_load_explicit(&cr->quit, memory_order_acquire))
            break;
        if (g == sv->seen) {
            futex_wait(&cr->go, g, SLICE_NS);
            continue;
        }
        sv->seen = g;
        if (sv->idx < cr->active) {
            sv->syscalls = sv->writes = sv->busy_ns = sv->eagain = 0;
            if (cr->mode == M_REACTOR)
                reactor_round(sv);
            else if (cr->mode == M_PROACTOR)
                proactor_round(sv);
            else
                clerk_round(sv);
        }
        /* acq_rel: the release half publishes this round's work to the director. */
        if (atomic_fetch_sub_explicit(&cr->left, 1, memory_order_acq_rel) == 1)
            futex_wake_all(&cr->left);
    }
    if (sv->ep >= 0)
        close(sv->ep);
    if (sv->aio) {
        struct aio_counts last;
        aio_close(sv->aio, 2000000000ull, &last);
    }
    return NULL;
}

/* Make sure the crew has n threads (it never shrinks). 0 or -errno. */
static int crew_grow(struct po_crew *cr, int n)
{
    while (cr->n < n) {
        struct po_server *sv = &cr->sv[cr->n];
        int k = cr->n;
        *sv = (struct po_server){.st = cr->st, .crew = cr, .idx = k, .ep = -1};
        sv->lane = cr->mode >= M_REACTOR ? &cr->st->loop
                   : k < CLERK_LANES     ? &cr->st->clerk[k]
                                         : NULL;
        sv->seen = atomic_load_explicit(&cr->go, RLX);
        int rc = pthread_create(&cr->th[k], NULL, server_main, sv);
        if (rc)
            return -rc;
        cr->n++;
    }
    return 0;
}

/* An empty crew for a mode; threads come with the first round. */
static struct po_crew *crew_new(struct po_state *st, int mode)
{
    struct po_crew *cr = calloc(1, sizeof *cr);
    if (cr) {
        cr->st = st;
        cr->mode = mode;
    }
    return cr;
}

/* Tell every server to leave, wake them and join them. */
static void crew_free(struct po_crew *cr)
{
    if (!cr)
        return;
    /* Release pairs with the servers' acquire of quit. */
    atomic_store_explicit(&cr->quit, 1, memory_order_release);
    atomic_fetch_add_explicit(&cr->go, 1, memory_order_release);
    futex_wake_all(&cr->go);
    for (int k = 0; k < cr->n; k++)
        pthread_join(cr->th[k], NULL);
    free(cr);
}

/* Recipient: take one parcel out of window i, check it and count it. */
static void take_parcel(struct po_state *st, uint32_t i, unsigned char *buf)
{
    ssize_t n = read(st->rd[i], buf, PARCEL);
    if (n < 0 && (errno == EAGAIN || errno == EINTR))
        return;
    struct parcel_hdr h;
    memset(&h, 0, sizeof h);
    if (n == PARCEL)
        memcpy(&h, buf, sizeof h);
    uint64_t sum = 0;
    const uint64_t *words = (const uint64_t *)(buf + sizeof h);
    for (size_t k = 0; n == PARCEL && k < (PARCEL - sizeof h) / 8; k++)
        sum += words[k];
    /* Acquire pairs with the director's release: `expected` is this round's. */
    uint32_t round = atomic_load_explicit(&st->cur_round, memory_order_acquire);
    struct po_cust *c = &st->cust[i];
    bool ok = n == PARCEL && h.magic == MAGIC && h.cust == i && h.round == round && h.sum == sum;
    if (!ok) {
        atomic_fetch_add_explicit(&st->rx_bad, 1, RLX);
    } else {
        if (c->rx_round != round) {
            c->rx_round = round;
            c->rx_cnt = c->rx_sum = c->rx_sumsq = 0;
        }
        c->rx_cnt++;
        c->rx_sum += h.seq;
        c->rx_sumsq += (uint64_t)h.seq * h.seq;
    }
    if (st->rx_round_id != round) {
        st->rx_round_id = round;
        atomic_store_explicit(&st->rx_round_total, 0, RLX);
    }
    /* A bad parcel still counts towards the round's end, so the round ends and shows it. */
    uint64_t total = atomic_load_explicit(&st->rx_round_total, RLX) + 1;
    atomic_store_explicit(&st->rx_round_total, total, RLX);
    if (total == atomic_load_explicit(&st->expected, RLX)) {
        atomic_store_explicit(&st->t_last, trace_now_ns(), RLX);
        /* Release pairs with the director's acquire: every rx_* count is visible. */
        atomic_store_explicit(&st->round_done, round, memory_order_release);
        futex_wake_all(&st->round_done);
    }
}

/*
 * The recipient: a parcel that lands in a window is taken out service_us
 * later (at once when stopping), which frees the window for the next one.
 */
static void *recipient_main(void *p)
{
    struct po_state *st = p;
    struct scene_ctx *ctx = st->ctx;
    uint32_t n = st->ncust;
    int ep = epoll_create1(EPOLL_CLOEXEC);
    int tfd = timerfd_create(CLOCK_MONOTONIC, TFD_CLOEXEC | TFD_NONBLOCK);
    struct epoll_event *ev = calloc(n + 1, sizeof *ev);
    unsigned char *buf = malloc(PARCEL);
    if (ep < 0 || tfd < 0 || !ev || !buf) {
        scene_note(ctx, _("the recipient cannot start: %s"), strerror(errno ? errno : ENOMEM));
        goto out;
    }
    for (uint32_t i = 0; i < n; i++) {
        struct epoll_event e = {.events = EPOLLIN | EPOLLONESHOT, .data.u32 = i};
        epoll_ctl(ep, EPOLL_CTL_ADD, st->rd[i], &e);
    }
    struct epoll_event te = {.events = EPOLLIN, .data.u32 = UINT32_MAX};
    epoll_ctl(ep, EPOLL_CTL_ADD, tfd, &te);
    uint64_t armed = 0;
    /* Acquire pairs with stop()'s release, after every server was joined. */
    while (!atomic_load_explicit(&st->recv_quit, memory_order_acquire)) {
        bool drain = scene_stopping(ctx);
        uint64_t now = trace_now_ns(), next = 0;
        for (uint32_t i = 0; i < n; i++) {
            struct po_cust *c = &st->cust[i];
            if (!c->rx_due)
                continue;
            if (drain || c->rx_due <= now) {
                lane_set(&st->recipient, TRACE_RUN, N_TAKE, i);
                take_parcel(st, i, buf);
                c->rx_due = 0;
                struct epoll_event e = {.events = EPOLLIN | EPOLLONESHOT, .data.u32 = i};
                epoll_ctl(ep, EPOLL_CTL_MOD, st->rd[i], &e);
            } else if (!next || c->rx_due < next) {
                next = c->rx_due;
            }
        }
        if (next != armed) {
            struct itimerspec its = {{0, 0},
                                     {(time_t)(next / 1000000000u), (long)(next % 1000000000u)}};
            timerfd_settime(tfd, TFD_TIMER_ABSTIME, &its, NULL);
            armed = next;
        }
        lane_set(&st->recipient, TRACE_WAIT, N_RECV_WAIT, 0);
        int k = epoll_wait(ep, ev, (int)n + 1, drain ? 1 : (int)(SLICE_NS / 1000000));
        now = trace_now_ns();
        uint64_t svc = stretch(ctx, (uint64_t)scene_param(ctx, P_SERVICE) * 1000);
        for (int j = 0; j < k; j++) {
            uint32_t i = ev[j].data.u32;
            if (i == UINT32_MAX) {
                uint64_t ticks;
                if (read(tfd, &ticks, sizeof ticks) < 0) {
                    /* EAGAIN: the timer was re-armed since it fired. */
                }
                armed = 0;
            } else if (i < n) {
                st->cust[i].rx_due = now + svc;
            }
        }
    }
out:
    lane_set(&st->recipient, TRACE_DONE, N_NONE, 0);
    if (ep >= 0)
        close(ep);
    if (tfd >= 0)
        close(tfd);
    free(ev);
    free(buf);
    return NULL;
}

/*
 * Reports the gauges whenever they change: sampled every millisecond, each
 * value the mean of GAUGE_SAMPLES samples. A column of the timeline shows
 * its peak, and at every round's start all the customers are waiting for
 * the millisecond it takes a loop to call them; the mean shows that as the
 * sliver it is, while one clerk's slowly shrinking line is unchanged.
 */
static void *sampler_main(void *p)
{
    struct po_state *st = p;
    int64_t last[3] = {-1, -1, -1}, sum[3] = {0, 0, 0};
    int taken = 0;
    while (!scene_stopping(st->ctx)) {
        struct po_round *r = &st->r;
        int64_t n = atomic_load_explicit(&r->ncust, RLX);
        int64_t called = atomic_load_explicit(&r->called, RLX);
        int64_t fl = (int64_t)atomic_load_explicit(&r->handed, RLX) -
                     (int64_t)atomic_load_explicit(&st->rx_round_total, RLX);
        int64_t v[3] = {n > called ? n - called : 0, fl > 0 ? fl : 0,
                        atomic_load_explicit(&r->serving, RLX)};
        for (int k = 0; k < 3; k++)
            sum[k] += v[k];
        if (++taken == GAUGE_SAMPLES) {
            const struct po_lane *g[3] = {&st->g_wait, &st->g_flight, &st->g_busy};
            for (int k = 0; k < 3; k++) {
                int64_t mean = (sum[k] + GAUGE_SAMPLES / 2) / GAUGE_SAMPLES;
                if (g[k]->id >= 0 && mean != last[k])
                    trace_emit(g[k]->id, TRACE_GAUGE, (uint32_t)mean);
                last[k] = mean;
                sum[k] = 0;
            }
            taken = 0;
        }
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
    return NULL;
}

/* Percentile of a histogram in milliseconds. */
static double pct_ms(const struct hist *h, double q)
{
    return (double)hist_percentile(h, q) / 1e6;
}

/* The figures of a round the recipient has finished. */
static void round_result(struct po_state *st, uint64_t t0, uint64_t parcels, bool heavy,
                         struct po_result *out)
{
    struct po_round *r = &st->r;
    uint64_t tl = atomic_load_explicit(&st->t_last, RLX);
    uint64_t span = tl > t0 ? tl - t0 : 1;
    static _Thread_local struct hist all, others, done_others;
    hist_reset(&all);
    hist_reset(&others);
    hist_reset(&done_others);
    memset(out, 0, sizeof *out);
    for (uint32_t i = 0; i < st->ncust; i++) {
        const struct po_cust *c = &st->cust[i];
        uint64_t w = c->t_called > t0 ? c->t_called - t0 : 0;
        hist_record(&all, w);
        if (!(heavy && i == 0)) {
            hist_record(&others, w);
            hist_record(&done_others, c->t_done > t0 ? c->t_done - t0 : 0);
        }
        uint64_t k = c->nparcels;
        bool ok = c->rx_round == st->round_seq && c->rx_cnt == k && c->rx_sum == k * (k + 1) / 2 &&
                  c->rx_sumsq == k * (k + 1) * (2 * k + 1) / 6;
        out->violations += !ok;
        out->delivered += c->rx_round == st->round_seq ? c->rx_cnt : 0;
    }
    out->parcels = parcels;
    out->heavy = heavy;
    out->total_ms = (double)span / 1e6;
    out->throughput = (double)parcels / ((double)span / 1e9);
    out->p50 = pct_ms(&all, 0.5);
    out->p99 = pct_ms(&all, 0.99);
    out->pmax = (double)hist_max(&all) / 1e6;
    out->p50_others = hist_count(&others) ? pct_ms(&others, 0.5) : 0;
    out->p99_others = hist_count(&others) ? pct_ms(&others, 0.99) : 0;
    out->done_p99_others = hist_count(&done_others) ? pct_ms(&done_others, 0.99) : 0;
    if (heavy)
        out->heavy_ms = (double)(st->cust[0].t_done - st->cust[0].t_called) / 1e6;
    out->threads = r->threads;
    out->uring = r->uring;
    uint64_t busy =
        atomic_load_explicit(&r->busy_ns, RLX) + atomic_load_explicit(&st->pool_busy_ns, RLX);
    out->util = 100.0 * (double)busy / ((double)span * (r->threads > 0 ? r->threads : 1));
    out->syscalls_pp = (double)atomic_load_explicit(&r->syscalls, RLX) / (double)parcels;
    out->loop_writes = atomic_load_explicit(&r->loop_writes, RLX);
    out->worker_writes = atomic_load_explicit(&r->worker_writes, RLX);
    out->eagain = atomic_load_explicit(&r->eagain, RLX);
    out->max_serving = atomic_load_explicit(&r->max_serving, RLX);
}

/*
 * Make the windows' write ends non-blocking (mode 3) or blocking (the
 * others: their writes must wait in the kernel, and io_uring and the pool
 * need a blocking file). Rounds never overlap, so the flag is the round's;
 * it is setup, like opening the windows, and not counted as the mode's calls.
 */
static void windows_nonblock(struct po_state *st, bool on)
{
    if (st->wr_nonblock == (int)on)
        return;
    for (int i = 0; i < st->nwin; i++) {
        int fl = fcntl(st->wr[i], F_GETFL);
        if (fl >= 0)
            fcntl(st->wr[i], F_SETFL, on ? fl | O_NONBLOCK : fl & ~O_NONBLOCK);
    }
    st->wr_nonblock = on;
}

/* Run one round of `mode`: every customer served, every parcel taken. 0, or -1 if stopped. */
static int run_round(struct po_state *st, struct po_crew *cr, struct po_result *out)
{
    int mode = cr->mode;
    struct scene_ctx *ctx = st->ctx;
    uint32_t n = st->ncust;
    uint32_t per = (uint32_t)scene_param(ctx, P_PARCELS);
    bool heavy = scene_param(ctx, P_HEAVY) != 0;
    uint32_t round = ++st->round_seq;
    uint64_t parcels = 0;
    for (uint32_t i = 0; i < n; i++) {
        struct po_cust *c = &st->cust[i];
        c->nparcels = per;
        c->next = 1;
        c->filled = 0;
        c->t_called = c->t_done = 0;
        parcels += c->nparcels;
    }
    struct po_round *r = &st->r;
    atomic_store_explicit(&r->next_cust, 0, RLX);
    atomic_store_explicit(&r->called, 0, RLX);
    atomic_store_explicit(&r->serving, 0, RLX);
    atomic_store_explicit(&r->max_serving, 0, RLX);
    atomic_store_explicit(&r->handed, 0, RLX);
    atomic_store_explicit(&r->syscalls, 0, RLX);
    atomic_store_explicit(&r->loop_writes, 0, RLX);
    atomic_store_explicit(&r->worker_writes, 0, RLX);
    atomic_store_explicit(&r->busy_ns, 0, RLX);
    atomic_store_explicit(&r->eagain, 0, RLX);
    atomic_store_explicit(&st->pool_busy_ns, 0, RLX);
    r->heavy = heavy;
    r->heavy_ns = (uint64_t)HEAVY_X * (uint64_t)scene_param(ctx, P_SERVICE) * 1000;
    windows_nonblock(st, mode == M_REACTOR);
    atomic_store_explicit(&r->ncust, n, RLX);
    int nth = mode == M_CLERKS ? (int)scene_param(ctx, P_CLERKS) : 1;
    nth = nth > (int)n ? (int)n : nth;
    r->threads = nth;
    r->uring = 0;
    atomic_store_explicit(&st->expected, parcels, RLX);
    /* Release pairs with the recipient's acquire of cur_round. */
    atomic_store_explicit(&st->cur_round, round, memory_order_release);
    unsigned wait_note = mode == M_REACTOR ? N_TICKET : mode == M_PROACTOR ? N_DROPPED : N_IN_LINE;
    for (uint32_t k = 0; k < st->npick; k++)
        lane_set(&st->custl[k], TRACE_READY, wait_note, 0);
    int rc = crew_grow(cr, nth);
    if (rc) {
        scene_note(ctx, _("could not start the servers: %s"), strerror(-rc));
        return -1;
    }
    uint64_t t0 = trace_now_ns();
    cr->active = nth;
    atomic_store_explicit(&cr->left, (uint32_t)cr->n, RLX);
    /* Release pairs with each server's acquire of go: the round's setup is visible. */
    atomic_fetch_add_explicit(&cr->go, 1, memory_order_release);
    futex_wake_all(&cr->go);
    uint32_t busy;
    /* Acquire pairs with the servers' acq_rel decrements: their counts are visible. */
    while ((busy = atomic_load_explicit(&cr->left, memory_order_acquire)) != 0)
        futex_wait(&cr->left, busy, SLICE_NS);
    /* Acquire pairs with the recipient's release once it has taken the last parcel. */
    uint32_t seen;
    while ((seen = atomic_load_explicit(&st->round_done, memory_order_acquire)) != round) {
        if (scene_stopping(ctx))
            return -1;
        futex_wait(&st->round_done, seen, SLICE_NS);
    }
    round_result(st, t0, parcels, heavy, out);
    return 0;
}

static const char *const mode_words[M_COUNT] = {"one clerk", "N clerks", "epoll loop",
                                                "completions"};

/* The side-by-side comparison: the four modes, one round each, same workload. */
static int run_compare(struct po_state *st, struct po_crew *live)
{
    struct po_result res[M_COUNT];
    for (int m = 0; m < M_COUNT; m++) {
        scene_note(st->ctx, _("comparing the four modes on one workload: %d of 4 (%s)..."), m + 1,
                   mode_words[m]);
        bool own = m != live->mode;
        struct po_crew *cr = own ? crew_new(st, m) : live;
        int rc = cr ? run_round(st, cr, &res[m]) : -1;
        if (own)
            crew_free(cr);
        if (rc)
            return -1;
    }
    pthread_mutex_lock(&st->res_lock);
    memcpy(st->cmp, res, sizeof res);
    st->cmp_valid = 1;
    pthread_mutex_unlock(&st->res_lock);
    scene_note(st->ctx,
               _("compared (whole round): one clerk %.0f ms, N clerks %.0f ms, epoll loop %.0f ms, "
                 "completions %.0f ms; see the cmp_ figures"),
               res[0].total_ms, res[1].total_ms, res[2].total_ms, res[3].total_ms);
    return 0;
}

/* The director: round after round of the scene's mode, comparisons on request. */
static void *director_main(void *p)
{
    struct po_state *st = p;
    struct scene_ctx *ctx = st->ctx;
    int prev = 0;
    struct po_crew *live = crew_new(st, ctx->mode);
    while (live && !scene_stopping(ctx)) {
        int cmp = (int)scene_param(ctx, P_COMPARE);
        if (cmp && !prev)
            atomic_store_explicit(&st->cmp_req, 1, RLX);
        prev = cmp;
        /* Acquire pairs with the key handler's release. */
        if (atomic_exchange_explicit(&st->cmp_req, 0, memory_order_acquire) &&
            run_compare(st, live))
            break;
        struct po_result res;
        if (run_round(st, live, &res))
            break;
        pthread_mutex_lock(&st->res_lock);
        st->last = res;
        st->rounds++;
        pthread_mutex_unlock(&st->res_lock);
        if (!scene_sleep(ctx, (uint64_t)scene_param(ctx, P_PAUSE) * 1000000))
            break;
    }
    crew_free(live);
    return NULL;
}

/* Declare a lane (and its band group); a full lane table leaves it at -1. */
static void lane_add(struct po_lane *l, const char *name, enum trace_lane_kind kind, uint32_t max,
                     unsigned group)
{
    l->id = trace_lane_add(name, kind, max);
    l->cur = ~0u;
    if (l->id >= 0 && group)
        trace_lane_group(l->id, group);
}

/* Will mode 4 get io_uring? Ask once, with a tiny queue. */
static void probe_uring(struct po_state *st)
{
    st->uring_ok = 0;
    st->uring_err = 0;
    if (!scene_param(st->ctx, P_URING))
        return;
    struct aio *a = NULL;
    if (aio_open(&a, 2, true, 1, NULL, NULL, &st->uring_err) == 0) {
        st->uring_ok = aio_backend_of(a) == AIO_URING;
        aio_close(a, 0, NULL);
    }
}

static void po_stop(struct scene_ctx *ctx);

/* Open the windows, declare the lanes, start the recipient, sampler and director. */
static int po_start(struct scene_ctx *ctx)
{
    struct po_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    ctx->priv = st;
    st->ctx = ctx;
    st->ncust = (uint32_t)scene_param(ctx, P_CUSTOMERS);
    pthread_mutex_init(&st->res_lock, NULL);
    struct po_lane *all[] = {&st->g_wait, &st->g_flight, &st->g_busy,
                             &st->loop,   &st->kernel,   &st->recipient};
    for (size_t k = 0; k < sizeof all / sizeof all[0]; k++)
        all[k]->id = -1;
    for (int k = 0; k < CUST_LANES; k++)
        st->custl[k].id = -1;
    for (int k = 0; k < CLERK_LANES; k++)
        st->clerk[k].id = -1;
    for (int k = 0; k < POOL_LANES; k++)
        st->pool[k].id = -1;
    int rc = 0;
    st->cust = aligned_alloc(64, sizeof *st->cust * st->ncust);
    if (!st->cust) {
        rc = -ENOMEM;
        goto fail;
    }
    memset(st->cust, 0, sizeof *st->cust * st->ncust);
    for (uint32_t i = 0; i < st->ncust; i++) {
        int fds[2];
        if (pipe2(fds, O_CLOEXEC) != 0) {
            rc = -errno;
            goto fail;
        }
        st->rd[i] = fds[0];
        st->wr[i] = fds[1];
        st->nwin++;
        /* One page: the window holds one parcel; a second write waits for the recipient. */
        fcntl(fds[1], F_SETPIPE_SZ, PARCEL);
        fcntl(fds[0], F_SETFL, O_NONBLOCK);
    }
    int mode = ctx->mode;
    char name[TRACE_NAME_MAX];
    lane_add(&st->g_wait, N_("customers waiting"), TRACE_LANE_GAUGE, st->ncust, 0);
    lane_add(&st->g_flight, N_("parcels in flight"), TRACE_LANE_GAUGE, st->ncust, 0);
    /* The first customer, the last and two between: the whole line, front to back. */
    st->npick = st->ncust < CUST_LANES ? st->ncust : CUST_LANES;
    for (uint32_t k = 0; k < st->npick; k++) {
        st->pick[k] = st->npick > 1 ? k * (st->ncust - 1) / (st->npick - 1) : 0;
        snprintf(name, sizeof name, N_("customer %d"), (int)st->pick[k]);
        lane_add(&st->custl[k], name, TRACE_LANE_STATE, 0, 1);
    }
    if (mode == M_ONE)
        lane_add(&st->clerk[0], N_("clerk"), TRACE_LANE_STATE, 0, 0);
    if (mode == M_CLERKS) {
        for (int k = 0; k < CLERK_LANES; k++) {
            snprintf(name, sizeof name, N_("clerk %d"), k);
            lane_add(&st->clerk[k], name, TRACE_LANE_STATE, 0, 2);
        }
        lane_add(&st->g_busy, N_("clerks busy"), TRACE_LANE_GAUGE, st->ncust, 0);
    }
    if (mode == M_REACTOR || mode == M_PROACTOR)
        lane_add(&st->loop, N_("loop"), TRACE_LANE_STATE, 0, 0);
    if (mode == M_PROACTOR) {
        lane_add(&st->kernel, N_("kernel"), TRACE_LANE_STATE, 0, 0);
        /* With io_uring the kernel does the writes: no pool, no pool lanes. */
        probe_uring(st);
        for (int k = 0; !st->uring_ok && k < POOL_LANES && k < scene_param(ctx, P_POOL); k++) {
            snprintf(name, sizeof name, N_("pool %d"), k);
            lane_add(&st->pool[k], name, TRACE_LANE_STATE, 0, 2);
        }
    }
    lane_add(&st->recipient, N_("recipient"), TRACE_LANE_STATE, 0, 0);
    rc = -pthread_create(&st->recv_th, NULL, recipient_main, st);
    st->recv_up = rc == 0;
    if (!rc) {
        rc = -pthread_create(&st->sampler, NULL, sampler_main, st);
        st->sampler_up = rc == 0;
    }
    if (!rc) {
        rc = -pthread_create(&st->director, NULL, director_main, st);
        st->director_up = rc == 0;
    }
    if (rc)
        goto fail;
    return 0;
fail:
    scene_note(ctx, _("could not open the post office: %s"), strerror(-rc));
    po_stop(ctx);
    return rc;
}

/* Stop: director (and its crew), then the recipient and the sampler. */
static void po_stop(struct scene_ctx *ctx)
{
    struct po_state *st = ctx->priv;
    if (!st)
        return;
    scene_request_stop(ctx);
    if (st->director_up)
        pthread_join(st->director, NULL);
    st->director_up = 0;
    /* Release pairs with the recipient's acquire: no server is left to write. */
    atomic_store_explicit(&st->recv_quit, 1, memory_order_release);
    if (st->recv_up)
        pthread_join(st->recv_th, NULL);
    st->recv_up = 0;
    if (st->sampler_up)
        pthread_join(st->sampler, NULL);
    st->sampler_up = 0;
}

/* Close every window and free what start made. */
static void po_free(struct scene_ctx *ctx)
{
    struct po_state *st = ctx->priv;
    if (!st)
        return;
    for (int i = 0; i < st->nwin; i++) {
        close(st->rd[i]);
        close(st->wr[i]);
    }
    free(st->cust);
    pthread_mutex_destroy(&st->res_lock);
    free(st);
    ctx->priv = NULL;
}

/* 'c': run the four modes on the same workload, one after another. */
static int po_key(struct scene_ctx *ctx, int key)
{
    struct po_state *st = ctx->priv;
    if (!st || key != 'c')
        return 0;
    /* Release pairs with the director's acquire exchange. */
    atomic_store_explicit(&st->cmp_req, 1, memory_order_release);
    scene_note(ctx, _("comparison requested: it starts after this round"));
    return 1;
}

/*
 * The comparison first once there is one (its lesson fits a small screen),
 * then the last completed round's figures, the telling ones first.
 */
static void po_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct po_state *st = ctx->priv;
    if (!st)
        return;
    pthread_mutex_lock(&st->res_lock);
    struct po_result r = st->last;
    uint64_t rounds = st->rounds;
    int cmp_valid = st->cmp_valid;
    struct po_result cmp[M_COUNT];
    memcpy(cmp, st->cmp, sizeof cmp);
    pthread_mutex_unlock(&st->res_lock);
    char name[32];
    for (int m = 0; cmp_valid && m < M_COUNT; m++) {
        snprintf(name, sizeof name, "cmp_mode%d_total_ms", m + 1);
        scene_stat(out, name, cmp[m].total_ms, "ms");
    }
    for (int m = 0; cmp_valid && m < M_COUNT; m++) {
        snprintf(name, sizeof name, "cmp_mode%d_p99_ms", m + 1);
        scene_stat(out, name, cmp[m].p99, "ms");
    }
    scene_stat(out, "rounds", (double)rounds, "");
    if (rounds) {
        scene_stat(out, "total_ms", r.total_ms, "ms");
        scene_stat(out, "wait_p99_ms", r.p99, "ms");
        scene_stat(out, "threads", r.threads, "");
        scene_stat(out, "max_serving", r.max_serving, "customers");
        if (r.heavy) {
            /* "Others": everyone but customer 0, whose business is long. */
            scene_stat(out, "heavy_service_ms", r.heavy_ms, "ms");
            scene_stat(out, "wait_p50_others_ms", r.p50_others, "ms");
            scene_stat(out, "wait_p99_others_ms", r.p99_others, "ms");
            scene_stat(out, "done_p99_others_ms", r.done_p99_others, "ms");
        }
        scene_stat(out, "wait_p50_ms", r.p50, "ms");
        scene_stat(out, "wait_max_ms", r.pmax, "ms");
        scene_stat(out, "throughput", r.throughput, "parcels/s");
        scene_stat(out, "loop_writes", (double)r.loop_writes, "");
        scene_stat(out, "worker_writes", (double)r.worker_writes, "");
        scene_stat(out, "eagain", (double)r.eagain, "");
        scene_stat(out, "syscalls_per_parcel", r.syscalls_pp, "");
        scene_stat(out, "utilisation", r.util, "%");
        scene_stat(out, "uring", r.uring, "");
        scene_stat(out, "parcels", (double)r.parcels, "");
        scene_stat(out, "delivered", (double)r.delivered, "");
        scene_stat(out, "exactly_once_violations", (double)r.violations, "");
    }
    scene_stat(out, "bad_parcels", (double)atomic_load_explicit(&st->rx_bad, RLX), "");
    for (int m = 0; cmp_valid && m < M_COUNT; m++) {
        snprintf(name, sizeof name, "cmp_mode%d_parcels_s", m + 1);
        scene_stat(out, name, cmp[m].throughput, "parcels/s");
    }
}

static const struct scene_param po_params[] = {
    [P_CUSTOMERS] = {"customers", N_("customers, each with its own window"), 1, MAX_CUST, 100, "",
                     SCENE_P_RESTART},
    [P_CLERKS] = {"clerks", N_("mode 2: clerk threads"), 1, MAX_CLERKS, 100, "", 0},
    [P_PARCELS] = {"parcels", N_("parcels per customer"), 1, 64, 4, "", 0},
    [P_SERVICE] = {"service_us", N_("how long a window takes to accept one parcel"), 10, 1000000,
                   20000, "us", 0},
    [P_HEAVY] = {"heavy", N_("customer 0's business is long: 20 service times of CPU work"), 0, 1,
                 0, "", SCENE_P_BOOL},
    [P_URING] = {"uring", N_("mode 4: io_uring (off: the thread-pool fallback)"), 0, 1, 1, "",
                 SCENE_P_BOOL | SCENE_P_RESTART},
    [P_COMPARE] = {"compare", N_("run the four modes side by side (as the c key)"), 0, 1, 0, "",
                   SCENE_P_BOOL},
    [P_POOL] = {"pool", N_("mode 4 fallback: pool threads (libuv has 4)"), 1, 64, 4, "",
                SCENE_P_RESTART},
    [P_PAUSE] = {"pause_ms", N_("pause between rounds"), 0, 60000, 0, "ms", 0},
};

static const struct scene_key po_keys[] = {
    {'c', N_("compare: run the four modes on the same workload, figures as cmp_*"), 0},
};

static const struct scene_mode po_modes[] = {
    [M_ONE] = {"one", N_("one clerk, customers in line"),
               N_("One clerk (one thread), synchronous. Customers stand in line; the clerk serves "
                  "the first one, parcel after parcel, with plain blocking write() calls. A window "
                  "holds one parcel, so each further parcel waits in the kernel until the "
                  "recipient has taken the last one: the clerk's lane is blocked on I/O nearly all "
                  "the time, and every customer waits for everyone in front (the customer lanes "
                  "go from the front of the line to the back). Throughput is one parcel per "
                  "service time, and the last customer's wait is the whole round. With heavy on, "
                  "customer 0's long business is added to everyone's wait."),
               .ns_per_col = 100 * SCENE_MS},
    [M_CLERKS] = {"clerks", N_("N clerks, one thread each"),
                  N_("N clerks (N threads), synchronous. The line is shared: each free clerk takes "
                     "the next customer and blocks in write() on that customer's window, exactly "
                     "like mode 1, but N of them block at once, so N windows are busy together. "
                     "With as many clerks as customers nobody waits at all; the price is a thread "
                     "(a stack, a kernel task, a context switch) per clerk. With heavy on, one "
                     "clerk computes for customer 0 for a long time; the others carry on "
                     "(wait_p99_others stays small)."),
                  .ns_per_col = 5 * SCENE_MS},
    [M_REACTOR] = {"epoll", N_("take a ticket, get called (epoll)"),
                   N_("One thread, readiness: a reactor (Node.js, Java NIO, Python's selectors). "
                      "Customers take a ticket; epoll says which windows have room and the loop "
                      "runs their callbacks in ticket order: a non-blocking write() of what the "
                      "window takes. A full window answers EAGAIN and that customer waits for "
                      "EPOLLOUT while the others are served. The loop waits only in epoll_wait, "
                      "so one thread serves everyone at once, about as fast as N clerks (c "
                      "compares). But while a callback runs nobody else is called: turn on heavy "
                      "and customer 0's long business (CPU work) makes everyone wait "
                      "(wait_p99_others)."),
                   .ns_per_col = 5 * SCENE_MS},
    [M_PROACTOR] = {"uring", N_("drop the parcels, get a completion notice"),
                    N_("One thread, completions: a proactor (io_uring on Linux, IOCP on Windows). "
                       "The loop drops every customer's parcel in the back yard at once (one "
                       "io_uring_enter) and only waits for completion notices; the kernel puts "
                       "each parcel in its window when there is room, and each notice's callback "
                       "hands in the next. The loop makes no write() (loop_writes 0): the OS does "
                       "the work. With heavy on, customer 0's long business runs in a completion "
                       "callback: nobody's first parcel waits, the notices behind it do "
                       "(done_p99_others). Without io_uring (uring=off, or blocked) a pool of "
                       "threads writes for the loop, as libuv does for files: its lanes show "
                       "them."),
                    .ns_per_col = 5 * SCENE_MS},
};

/* How the figures read on screen (see struct scene_figure); the JSON keys stay the names. */
static const struct scene_figure po_figures[] = {
    {.name = "throughput", .label = N_("throughput"), .flags = FIG_HEADLINE},
    {.name = "total_ms", .label = N_("time for all parcels"), .flags = FIG_HEADLINE},
    {.name = "wait_p99_ms", .label = N_("wait p99"), .flags = FIG_HEADLINE},
    {.name = "rounds", .label = N_("rounds"), .fmt = FIG_INT},
    {.name = "parcels", .label = N_("parcels"), .fmt = FIG_INT},
    {.name = "delivered", .label = N_("delivered"), .fmt = FIG_INT},
    {.name = "exactly_once_violations", .label = N_("lost or twice"), .fmt = FIG_INT},
    {.name = "wait_p50_ms", .label = N_("wait p50")},
    {.name = "wait_max_ms", .label = N_("wait max")},
    {.name = "wait_p50_others_ms", .label = N_("wait p50 (others)"), .when = "heavy"},
    {.name = "wait_p99_others_ms", .label = N_("wait p99 (others)"), .when = "heavy"},
    {.name = "heavy_service_ms", .label = N_("heavy customer served"), .when = "heavy"},
    {.name = "utilisation", .label = N_("windows busy")},
    {.name = "threads", .label = N_("threads"), .fmt = FIG_INT},
    {.name = "syscalls_per_parcel", .label = N_("syscalls a parcel")},
    {.name = "loop_writes", .label = N_("writes by the loop"), .fmt = FIG_INT},
    {.name = "worker_writes", .label = N_("writes by threads"), .fmt = FIG_INT},
    {.name = "uring", .label = N_("io_uring"), .fmt = FIG_BOOL, .modes = FIG_MODE(M_PROACTOR)},
    {.name = "max_serving", .label = N_("served at once"), .unit = N_("customers")},
    {.name = "bad_parcels", .label = N_("bad parcels"), .fmt = FIG_INT},
    {.name = "cmp_*_total_ms", .label = N_("all parcels"), .flags = FIG_COLUMN},
    {.name = "cmp_*_parcels_s", .label = N_("parcels/s"), .unit = "", .flags = FIG_COLUMN},
    {.name = "cmp_*_p50_ms", .label = NULL, .flags = FIG_HIDE},
    {.name = "cmp_*_p99_ms", .label = N_("wait p99"), .flags = FIG_COLUMN},
};

const struct scene_entry scene_postoffice = {
    .name = "postoffice",
    .title = N_("The post office"),
    .summary = N_("four ways to serve 100 customers: blocking, threads, readiness, completion"),
    .modes = po_modes,
    .nmodes = M_COUNT,
    .params = po_params,
    .nparams = (int)(sizeof po_params / sizeof po_params[0]),
    .keys = po_keys,
    .nkeys = (int)(sizeof po_keys / sizeof po_keys[0]),
    .notes = po_notes,
    .nnotes = (int)(sizeof po_notes / sizeof po_notes[0]),
    .start = po_start,
    .stop = po_stop,
    .release = po_free,
    .key = po_key,
    .stats = po_stats,
    .figures = po_figures,
    .nfigures = (int)(sizeof po_figures / sizeof po_figures[0]),
};
