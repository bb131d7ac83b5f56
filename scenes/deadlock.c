/*
 * Scene: the deadlock - dining philosophers (or two bank accounts that
 * transfer to each other) on real threads and real mutexes, with the
 * wait-for graph drawn live beside the lanes.
 *
 * DESIGN
 * Who runs: N worker threads, one per philosopher (two in the bank: one
 * runs transfer(a, b), the other transfer(b, a)). Philosopher i needs fork
 * i (left) and fork i+1 mod N (right): think, take one fork, reach for the
 * other (reach_ms, the window in which the table can close a cycle), take
 * it, eat, put both down. The modes differ only in how the forks are taken:
 * (1) left then right; (2) the lower-numbered fork first, a global lock
 * order; (3) the first fork, then a trylock of the second, and if that
 * fails put the first down and back off for a random time; (4) a waiter, a
 * semaphore of N-1 seats taken before the forks.
 *
 * The locks: each fork is a futex mutex (the three-state mutex glibc's
 * pthread_mutex is built on) with its holder recorded beside it, and each
 * thread records the fork it waits for. A thread that must wait records the
 * fork first, then follows the graph from itself: the fork it wants, that
 * fork's holder, the fork the holder wants, ... If the walk comes back to
 * itself, the cycle has just closed: it is recorded, counted and shown at
 * once. In these protocols a thread waiting for a fork never puts down the
 * forks it holds, so the edges behind the walk cannot have gone away: a
 * cycle found is a real deadlock, and modes 2-4 never find one.
 *
 * Why not pthread_mutex_lock: every wait here is timed, in slices of
 * SLICE_NS. A deadlocked thread wakes each slice, finds its fork still taken
 * and waits again - it stays deadlocked - but it also sees the stop flag and
 * a recovery request. That is how stopping always works and how a deadlock
 * is broken: the thread that closed the cycle is the victim; after
 * recover_ms (or at once on key x) it gives up its wait, puts its fork down
 * and backs off, and the others eat. (A mutex of our own also keeps the
 * thread sanitizer's lock-order check, which would rightly report mode 1's
 * inversion, out of the test builds.)
 *
 * Who owns what: fork words and holders, wait-for slots, each thread's
 * phase, the seat count and the counters are atomics in struct dl_state;
 * each worker writes its own slots and lane. The deadlock record (cycle,
 * count, time) and the 'wait-for graph' lane are written under dl_mu; the
 * lane is one object with several writers, so it is written with
 * trace_emit_at and a timestamp taken under dl_mu. The UI thread reads the
 * atomics for the picture and the record under dl_mu.
 *
 * Locks: the forks (held while eating, in the order of the mode), the seat
 * semaphore (mode 4, taken before any fork) and dl_mu (taken by a waiting
 * thread with its forks held, never while waiting for a fork).
 *
 * Shutdown: stop() sets the stop flag and wakes every fork and the seats;
 * every wait re-checks the flag each SLICE_NS, puts its forks down and
 * leaves; stop() joins every thread.
 */
#include "config.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "futex.h"
#include "hist.h"
#include "i18n.h"
#include "pix.h"
#include "scene.h"
#include "scenes/scenes.h"
#include "trace.h"

#define MAXN 8
#define SLICE_NS 10000000ull /* every wait re-checks stop and recovery this often */

enum { P_N, P_BANK, P_THINK, P_EAT, P_REACH, P_RECOVER };
enum { M_NAIVE, M_ORDERED, M_TRYLOCK, M_WAITER, M_COUNT };
enum {
    N_NONE,
    N_THINKING,
    N_WAITFORK,
    N_REACHING,
    N_EATING,
    N_DEADLOCKED,
    N_BACKOFF,
    N_VICTIM,
    N_SEATWAIT,
    N_PREPARING,
    N_WAITACCOUNT,
    N_HOLDACCOUNT,
    N_MOVING,
    N_NOCYCLE,
    N_CYCLE,
    N_FINISHED,
};

static const char *const dl_notes[] = {
    [N_NONE] = "",
    [N_THINKING] = N_("thinking"),
    [N_WAITFORK] = N_("waits for fork arg"),
    [N_REACHING] = N_("holds fork arg, reaching for the other"),
    [N_EATING] = N_("eating with both forks"),
    [N_DEADLOCKED] = N_("deadlocked: waits for fork arg, in a cycle"),
    [N_BACKOFF] = N_("trylock failed: put its fork down, backing off (arg: retries)"),
    [N_VICTIM] = N_("gave up its wait and its fork: the deadlock is broken"),
    [N_SEATWAIT] = N_("waits for a seat from the waiter"),
    [N_PREPARING] = N_("preparing the next transfer"),
    [N_WAITACCOUNT] = N_("waits for the lock of account arg (0 a, 1 b)"),
    [N_HOLDACCOUNT] = N_("holds account arg's lock, reaching for the other"),
    [N_MOVING] = N_("moving the money, both accounts locked"),
    [N_NOCYCLE] = N_("no cycle"),
    [N_CYCLE] = N_("a cycle: deadlock (arg: threads in it)"),
    [N_FINISHED] = N_("finished"),
};

/* Phases a thread shows in the picture. */
enum { PH_THINK, PH_SEAT, PH_WAIT1, PH_REACH, PH_WAIT2, PH_EAT, PH_BACKOFF };

struct dl_fork {
    _Alignas(64) _Atomic uint32_t word; /* 0 free, 1 taken, 2 taken with waiters */
    _Atomic int holder;                 /* thread id, -1 when free */
};

struct dl_state;

struct dl_worker {
    _Alignas(64) struct dl_state *st;
    int idx, lane;
    unsigned cur;
    uint64_t rng;
    int held[2], nheld;
    _Atomic int waits_for; /* fork id, -1 */
    _Atomic int phase;
    _Atomic uint64_t meals, retries, waits, seat_waits;
    uint64_t run_retries; /* retries in a row (worker only) */
    _Atomic uint64_t max_run;
    struct hist wait; /* ns per contended wait for a fork */
};

struct dl_state {
    struct scene_ctx *ctx;
    int mode, n;
    bool bank;
    struct dl_fork fork[MAXN];
    _Alignas(64) _Atomic uint32_t seats; /* mode 4: free seats */
    _Atomic uint32_t seat_waiters;
    _Alignas(64) _Atomic int breaking; /* key x: break the deadlock now */
    struct dl_worker w[MAXN];
    pthread_t threads[MAXN];
    int nthreads;
    int graph_lane;
    /* Under dl_mu. */
    pthread_mutex_t dl_mu;
    bool active;
    int cyc_n, cyc_t[MAXN], cyc_f[MAXN], victim;
    uint64_t deadlocks, t_detect, first_ns, deadlocked_ns;
    _Atomic int64_t balance[2]; /* bank: written with both accounts locked */
};

#define RLX memory_order_relaxed

static inline void bump(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + v, RLX);
}

static uint64_t rnd(struct dl_worker *w, uint64_t n)
{
    w->rng ^= w->rng << 13;
    w->rng ^= w->rng >> 7;
    w->rng ^= w->rng << 17;
    return n ? w->rng % n : 0;
}

static void lane(struct dl_worker *w, unsigned word, uint32_t arg)
{
    w->cur = word;
    trace_emit(w->lane, word, arg);
}

/* The 'wait-for graph' lane: one object, written under dl_mu. */
static void graph_lane(struct dl_state *st, unsigned word, uint32_t arg)
{
    trace_emit_at(st->graph_lane, word, arg, trace_now_ns());
}

static int first_fork(const struct dl_state *st, int i)
{
    int l = i, r = (i + 1) % st->n;
    return st->mode == M_ORDERED ? (l < r ? l : r) : l;
}

static int second_fork(const struct dl_state *st, int i)
{
    int l = i, r = (i + 1) % st->n;
    return st->mode == M_ORDERED ? (l < r ? r : l) : r;
}

static bool fork_try(struct dl_fork *f)
{
    uint32_t z = 0;
    /* Acquire: what the last holder wrote is seen. */
    return atomic_compare_exchange_strong_explicit(&f->word, &z, 1, memory_order_acquire, RLX);
}

/* Follow the graph from w: the cycle through w, its length, or 0. */
static int find_cycle(struct dl_state *st, int me, int *ct, int *cf)
{
    int t = me;
    for (int k = 0; k < st->n; k++) {
        int f = atomic_load(&st->w[t].waits_for);
        if (f < 0)
            return 0;
        int h = atomic_load(&st->fork[f].holder);
        if (h < 0)
            return 0;
        ct[k] = t;
        cf[k] = f;
        if (h == me)
            return k + 1;
        t = h;
    }
    return 0;
}

/* A deadlock just closed by w: record it once. */
static void record_deadlock(struct dl_state *st, struct dl_worker *w, int n, const int *ct,
                            const int *cf)
{
    pthread_mutex_lock(&st->dl_mu);
    if (!st->active) {
        uint64_t now = trace_now_ns();
        st->active = true;
        st->cyc_n = n;
        memcpy(st->cyc_t, ct, sizeof(int) * (size_t)n);
        memcpy(st->cyc_f, cf, sizeof(int) * (size_t)n);
        st->victim = w->idx;
        st->t_detect = now;
        if (st->deadlocks++ == 0)
            st->first_ns = now - st->ctx->t_start;
        graph_lane(st, TRACE_LOCK | TRACE_NOTE(N_CYCLE), (uint32_t)n);
        /* "deadlock: 0 -> fork 1 -> 1 -> fork 2 -> ... -> 0" (the cycle's walk). */
        char buf[SCENE_NOTE_MAX];
        const char *what = st->bank ? _("account") : _("fork");
        int len = snprintf(buf, sizeof buf, "%s", _("deadlock:"));
        for (int k = 0; k < n && len > 0 && len < (int)sizeof buf; k++)
            len += snprintf(buf + len, sizeof buf - (size_t)len, " %d -> %s %d ->", ct[k], what,
                            cf[k]);
        if (len > 0 && len < (int)sizeof buf)
            snprintf(buf + len, sizeof buf - (size_t)len, " %d", ct[0]);
        scene_note(st->ctx, "%s", buf);
    }
    pthread_mutex_unlock(&st->dl_mu);
}

/* In a recorded cycle (w's own check, under dl_mu): is w in it, and is it the victim to give up? */
static void cycle_role(struct dl_state *st, struct dl_worker *w, bool *member, bool *give_up)
{
    *member = *give_up = false;
    pthread_mutex_lock(&st->dl_mu);
    if (st->active) {
        for (int k = 0; k < st->cyc_n; k++)
            *member |= st->cyc_t[k] == w->idx;
        if (st->victim == w->idx) {
            int64_t rec = scene_param(st->ctx, P_RECOVER);
            bool due = rec > 0 && trace_now_ns() - st->t_detect >= (uint64_t)rec * SCENE_MS;
            if (due || atomic_exchange(&st->breaking, 0)) {
                *give_up = true;
                st->active = false;
                st->deadlocked_ns += trace_now_ns() - st->t_detect;
                graph_lane(st, TRACE_IDLE | TRACE_NOTE(N_NOCYCLE), 0);
            }
        }
    }
    pthread_mutex_unlock(&st->dl_mu);
}

/*
 * Take fork f, waiting in slices. False if the wait was given up (stop, or
 * w is the victim of a deadlock being broken): w still holds what it held.
 */
static bool fork_take(struct dl_state *st, struct dl_worker *w, int f)
{
    struct dl_fork *fk = &st->fork[f];
    if (!fork_try(fk)) {
        atomic_store(&w->waits_for, f);
        lane(w, TRACE_LOCK | TRACE_NOTE(st->bank ? N_WAITACCOUNT : N_WAITFORK), (uint32_t)f);
        uint64_t t0 = trace_ticks();
        bool checked = false, shown = false;
        /* Exchange to 2: taken (if it was free) and marked as having waiters. */
        while (atomic_exchange_explicit(&fk->word, 2, memory_order_acquire) != 0) {
            if (!checked) {
                /* The moment this wait starts: did it close a cycle? */
                int ct[MAXN], cf[MAXN], n = find_cycle(st, w->idx, ct, cf);
                if (n > 0)
                    record_deadlock(st, w, n, ct, cf);
                checked = true;
            }
            bool member, give_up;
            cycle_role(st, w, &member, &give_up);
            if (member && !shown) {
                lane(w, TRACE_LOCK | TRACE_NOTE(N_DEADLOCKED), (uint32_t)f);
                shown = true;
            }
            if (give_up || scene_stopping(st->ctx)) {
                atomic_store(&w->waits_for, -1);
                if (give_up)
                    lane(w, TRACE_SLEEP | TRACE_NOTE(N_VICTIM), (uint32_t)f);
                return false;
            }
            futex_wait(&fk->word, 2, SLICE_NS);
        }
        hist_record(&w->wait, trace_dur_ns(t0, trace_ticks()));
        bump(&w->waits, 1);
    }
    atomic_store(&fk->holder, w->idx);
    atomic_store(&w->waits_for, -1);
    w->held[w->nheld++] = f;
    return true;
}

static void fork_put(struct dl_state *st, struct dl_worker *w, int f)
{
    struct dl_fork *fk = &st->fork[f];
    atomic_store(&fk->holder, -1);
    /* Release: the next holder sees what this one wrote. */
    if (atomic_exchange_explicit(&fk->word, 0, memory_order_release) == 2)
        futex_wake_all(&fk->word);
    for (int k = 0; k < w->nheld; k++)
        if (w->held[k] == f)
            w->held[k] = w->held[--w->nheld];
}

static void put_all(struct dl_state *st, struct dl_worker *w)
{
    while (w->nheld > 0)
        fork_put(st, w, w->held[w->nheld - 1]);
}

/* Mode 4: a seat from the waiter (a counting semaphore), in slices. */
static bool seat_take(struct dl_state *st, struct dl_worker *w)
{
    bool shown = false;
    for (;;) {
        uint32_t s = atomic_load(&st->seats);
        if (s > 0 && atomic_compare_exchange_weak(&st->seats, &s, s - 1))
            return true;
        if (s > 0)
            continue;
        if (scene_stopping(st->ctx))
            return false;
        if (!shown) {
            atomic_store(&w->phase, PH_SEAT);
            lane(w, TRACE_LOCK | TRACE_NOTE(N_SEATWAIT), 0);
            bump(&w->seat_waits, 1);
            shown = true;
        }
        atomic_fetch_add(&st->seat_waiters, 1);
        futex_wait(&st->seats, 0, SLICE_NS);
        atomic_fetch_sub(&st->seat_waiters, 1);
    }
}

static void seat_put(struct dl_state *st)
{
    atomic_fetch_add(&st->seats, 1);
    if (atomic_load(&st->seat_waiters))
        futex_wake_all(&st->seats);
}

/* Sleep ms of scene time; false if stopping. */
static bool nap(struct dl_state *st, uint64_t ms)
{
    return scene_sleep(st->ctx, ms * SCENE_MS);
}

/* One meal (or transfer): false if stopping. */
static bool dine(struct dl_state *st, struct dl_worker *w)
{
    int i = w->idx, f1 = first_fork(st, i), f2 = second_fork(st, i);
    if (st->mode == M_WAITER && !seat_take(st, w))
        return false;
    for (;;) {
        atomic_store(&w->phase, PH_WAIT1);
        if (!fork_take(st, w, f1))
            break;
        atomic_store(&w->phase, PH_REACH);
        lane(w, TRACE_READY | TRACE_NOTE(st->bank ? N_HOLDACCOUNT : N_REACHING), (uint32_t)f1);
        if (!nap(st, (uint64_t)scene_param(st->ctx, P_REACH)))
            break;
        bool got;
        if (st->mode == M_TRYLOCK) {
            got = fork_try(&st->fork[f2]);
            if (got) {
                atomic_store(&st->fork[f2].holder, i);
                w->held[w->nheld++] = f2;
            }
        } else {
            atomic_store(&w->phase, PH_WAIT2);
            got = fork_take(st, w, f2);
        }
        if (!got) {
            /* Trylock failed, or this wait was given up to break a deadlock. */
            put_all(st, w);
            if (scene_stopping(st->ctx))
                break;
            atomic_store(&w->phase, PH_BACKOFF);
            if (st->mode == M_TRYLOCK) {
                bump(&w->retries, 1);
                if (++w->run_retries > atomic_load_explicit(&w->max_run, RLX))
                    atomic_store_explicit(&w->max_run, w->run_retries, RLX);
                lane(w, TRACE_SLEEP | TRACE_NOTE(N_BACKOFF),
                     (uint32_t)atomic_load_explicit(&w->retries, RLX));
            } else {
                /*
                 * The victim of a deadlock: the fork it gave back goes to the
                 * neighbour waiting for it before the victim reaches for it
                 * again, however late that neighbour is scheduled (else the
                 * same cycle closes at once and nobody eats). Up to 1 s.
                 */
                bool calm = true;
                for (int k = 0; k < 1000 && calm && atomic_load(&st->fork[f1].word) == 0; k++)
                    calm = nap(st, 1);
                if (!calm)
                    break;
            }
            uint64_t b = (uint64_t)scene_param(st->ctx, P_REACH) * 2 + 1;
            if (!nap(st, rnd(w, b)))
                break;
            continue;
        }
        w->run_retries = 0;
        atomic_store(&w->phase, PH_EAT);
        lane(w, TRACE_RUN | TRACE_NOTE(st->bank ? N_MOVING : N_EATING), (uint32_t)f2);
        if (st->bank) {
            /* transfer(from = account i, to = the other): both locked. */
            int64_t x = (int64_t)rnd(w, 10) + 1;
            atomic_store_explicit(&st->balance[i], atomic_load_explicit(&st->balance[i], RLX) - x,
                                  RLX);
            atomic_store_explicit(&st->balance[1 - i],
                                  atomic_load_explicit(&st->balance[1 - i], RLX) + x, RLX);
        }
        bool ok = nap(st, (uint64_t)scene_param(st->ctx, P_EAT));
        put_all(st, w);
        if (st->mode == M_WAITER)
            seat_put(st);
        if (ok)
            bump(&w->meals, 1);
        return ok;
    }
    put_all(st, w);
    if (st->mode == M_WAITER)
        seat_put(st);
    return !scene_stopping(st->ctx);
}

static void *worker_main(void *p)
{
    struct dl_worker *w = p;
    struct dl_state *st = w->st;
    while (!scene_stopping(st->ctx)) {
        atomic_store(&w->phase, PH_THINK);
        lane(w, TRACE_SLEEP | TRACE_NOTE(st->bank ? N_PREPARING : N_THINKING), 0);
        if (!nap(st, rnd(w, (uint64_t)scene_param(st->ctx, P_THINK) + 1)))
            break;
        if (!dine(st, w))
            break;
    }
    atomic_store(&w->phase, PH_THINK);
    lane(w, TRACE_DONE | TRACE_NOTE(N_FINISHED), 0);
    return NULL;
}

static void dl_stop(struct scene_ctx *ctx);

static const char *const bank_names[2] = {N_("transfer(a, b)"), N_("transfer(b, a)")};

static int dl_start(struct scene_ctx *ctx)
{
    struct dl_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    ctx->priv = st;
    st->ctx = ctx;
    st->mode = ctx->mode;
    st->bank = scene_param(ctx, P_BANK) != 0;
    st->n = st->bank ? 2 : (int)scene_param(ctx, P_N);
    pthread_mutex_init(&st->dl_mu, NULL);
    atomic_store(&st->seats, (uint32_t)(st->n - 1));
    atomic_store(&st->balance[0], 1000);
    atomic_store(&st->balance[1], 1000);
    int rc = 0;
    char name[TRACE_NAME_MAX];
    for (int i = 0; i < st->n && !rc; i++) {
        struct dl_worker *w = &st->w[i];
        if (st->bank)
            snprintf(name, sizeof name, "%s", bank_names[i]);
        else
            snprintf(name, sizeof name, N_("philosopher %d"), i);
        w->lane = trace_lane_add(name, TRACE_LANE_STATE, 0);
        if (w->lane < 0)
            rc = -ENOSPC;
        w->st = st;
        w->idx = i;
        w->rng = 0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) ^ trace_now_ns();
        atomic_store(&w->waits_for, -1);
        hist_reset(&w->wait);
        atomic_store(&st->fork[i].holder, -1);
    }
    st->graph_lane = rc ? -1 : trace_lane_add(N_("wait-for graph"), TRACE_LANE_STATE, 0);
    if (!rc && st->graph_lane < 0)
        rc = -ENOSPC;
    if (!rc)
        graph_lane(st, TRACE_IDLE | TRACE_NOTE(N_NOCYCLE), 0);
    for (int i = 0; i < st->n && !rc; i++) {
        rc = -pthread_create(&st->threads[i], NULL, worker_main, &st->w[i]);
        st->nthreads += rc == 0;
    }
    if (rc) {
        scene_note(ctx, _("could not start workers: %s"), strerror(-rc));
        dl_stop(ctx);
        return rc;
    }
    return 0;
}

static void dl_stop(struct scene_ctx *ctx)
{
    struct dl_state *st = ctx->priv;
    if (!st)
        return;
    scene_request_stop(ctx);
    for (int i = 0; i < st->n; i++)
        futex_wake_all(&st->fork[i].word);
    futex_wake_all(&st->seats);
    for (int i = 0; i < st->nthreads; i++)
        pthread_join(st->threads[i], NULL);
    st->nthreads = 0;
    pthread_mutex_lock(&st->dl_mu);
    if (st->active)
        st->deadlocked_ns += trace_now_ns() - st->t_detect;
    st->active = false;
    pthread_mutex_unlock(&st->dl_mu);
}

static void dl_free(struct scene_ctx *ctx)
{
    struct dl_state *st = ctx->priv;
    if (!st)
        return;
    pthread_mutex_destroy(&st->dl_mu);
    free(st);
    ctx->priv = NULL;
}

static int dl_key(struct scene_ctx *ctx, int key)
{
    struct dl_state *st = ctx->priv;
    if (!st || key != 'x')
        return 0;
    pthread_mutex_lock(&st->dl_mu);
    bool active = st->active;
    pthread_mutex_unlock(&st->dl_mu);
    if (active)
        atomic_store(&st->breaking, 1);
    else
        scene_note(ctx, "%s", _("no deadlock to break"));
    return 1;
}

static void dl_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct dl_state *st = ctx->priv;
    if (!st)
        return;
    uint64_t meals = 0, retries = 0, waits = 0, seat = 0, max_run = 0;
    struct hist h;
    hist_reset(&h);
    for (int i = 0; i < st->n; i++) {
        struct dl_worker *w = &st->w[i];
        meals += atomic_load_explicit(&w->meals, RLX);
        retries += atomic_load_explicit(&w->retries, RLX);
        waits += atomic_load_explicit(&w->waits, RLX);
        seat += atomic_load_explicit(&w->seat_waits, RLX);
        uint64_t r = atomic_load_explicit(&w->max_run, RLX);
        max_run = r > max_run ? r : max_run;
        hist_merge(&h, &w->wait);
    }
    pthread_mutex_lock(&st->dl_mu);
    uint64_t deadlocks = st->deadlocks, first = st->first_ns, dl_ns = st->deadlocked_ns;
    if (st->active)
        dl_ns += trace_now_ns() - st->t_detect;
    bool active = st->active;
    pthread_mutex_unlock(&st->dl_mu);
    double secs = (double)(trace_now_ns() - ctx->t_start) / 1e9;
    if (secs <= 0)
        secs = 1;
    const char *unit = st->bank ? "transfers" : "meals";
    scene_stat(out, st->bank ? "transfers" : "meals", (double)meals, unit);
    scene_stat(out, st->bank ? "transfers_per_s" : "meals_per_s", (double)meals / secs, "/s");
    scene_stat(out, "deadlocks", (double)deadlocks, "");
    if (deadlocks)
        scene_stat(out, "first_deadlock", (double)first / 1e9, "s");
    scene_stat(out, "deadlocked_now", active ? 1 : 0, "");
    scene_stat(out, "deadlocked_share", 100.0 * (double)dl_ns / 1e9 / secs, "%");
    scene_stat(out, "lock_waits", (double)waits, "");
    scene_stat(out, "lock_wait_p50", (double)hist_percentile(&h, 0.5) / 1e6, "ms");
    scene_stat(out, "lock_wait_p99", (double)hist_percentile(&h, 0.99) / 1e6, "ms");
    if (st->mode == M_TRYLOCK) {
        scene_stat(out, "retries", (double)retries, "");
        scene_stat(out, "retries_in_a_row_max", (double)max_run, "");
    }
    if (st->mode == M_WAITER)
        scene_stat(out, "seat_waits", (double)seat, "");
    if (st->bank)
        scene_stat(out, "total_balance",
                   (double)(atomic_load_explicit(&st->balance[0], RLX) +
                            atomic_load_explicit(&st->balance[1], RLX)),
                   "");
}

/* ---- the wait-for graph ---- */

#define C_BG 0x101018
#define C_HOLD 0x40c060
#define C_WAIT 0xe0c040
#define C_CYCLE 0xff3030
#define C_FORK 0x9090a0
#define C_SEAT 0x60a0e0

static uint32_t phase_colour(int ph)
{
    switch (ph) {
    case PH_EAT:
        return 0x40e060; /* green: running with both */
    case PH_REACH:
        return 0xe0c040; /* yellow: holds one, wants the other */
    case PH_WAIT1:
    case PH_WAIT2:
    case PH_SEAT:
        return 0xe05050; /* red: blocked */
    default:
        return 0x40a0c0; /* cyan: thinking, backing off */
    }
}

/*
 * Philosophers on an outer circle, forks between them on an inner one.
 * Green line: the fork is held by that thread; yellow dashes: the thread
 * waits for that fork. A cycle is drawn thick in bright red, its threads
 * ringed, from the moment it is detected until it is broken.
 */
static int dl_canvas(struct scene_ctx *ctx, struct scene_canvas *c)
{
    struct dl_state *st = ctx->priv;
    if (!st || c->w < 16 || c->h < 16)
        return -1;
    int room = (c->h - 24) / 2;
    c->ncaption = room < 0 ? 0 : room > SCENE_CAPTION_MAX ? SCENE_CAPTION_MAX : room;
    pthread_mutex_lock(&st->dl_mu);
    bool active = st->active;
    int cn = st->cyc_n, ct[MAXN], cf[MAXN];
    memcpy(ct, st->cyc_t, sizeof ct);
    memcpy(cf, st->cyc_f, sizeof cf);
    uint64_t deadlocks = st->deadlocks;
    pthread_mutex_unlock(&st->dl_mu);
    struct scene_caption k[SCENE_CAPTION_MAX] = {{{0}, 0}};
    snprintf(k[0].text, sizeof k[0].text, "%s",
             st->bank ? _("circles: transfers; squares: accounts")
                      : _("circles: philosophers; squares: forks"));
    snprintf(k[1].text, sizeof k[1].text, "%s", _("holds the lock"));
    k[1].rgb = C_HOLD;
    snprintf(k[2].text, sizeof k[2].text, "%s", _("waits for the lock"));
    k[2].rgb = C_WAIT;
    if (active)
        snprintf(k[3].text, sizeof k[3].text, _("cycle: deadlock (%llu so far)"),
                 (unsigned long long)deadlocks);
    else
        snprintf(k[3].text, sizeof k[3].text, _("no cycle (%llu deadlocks so far)"),
                 (unsigned long long)deadlocks);
    k[3].rgb = C_CYCLE;
    memcpy(c->caption, k, sizeof k);
    struct pix p = {c->rgb, c->w, c->h - 2 * c->ncaption};
    for (int i = 0; i < p.w * p.h; i++)
        pix_put(&p, i % p.w, i / p.w, active ? 0x201014 : C_BG);
    int n = st->n;
    double cx = p.w / 2.0, cy = p.h / 2.0;
    double rad = (p.w < p.h ? p.w : p.h) / 2.0 - 4;
    if (rad < 6)
        rad = 6;
    int node = rad >= 24 ? 3 : rad >= 14 ? 2 : 1; /* a thread's disc, in pixels */
    int tx[MAXN], ty[MAXN], fx[MAXN], fy[MAXN];
    for (int i = 0; i < n; i++) {
        double a = -M_PI / 2 + 2 * M_PI * i / n;
        double b = a - M_PI / n; /* fork i sits between thread i-1 and thread i */
        tx[i] = (int)(cx + rad * cos(a) + 0.5);
        ty[i] = (int)(cy + rad * sin(a) + 0.5);
        fx[i] = (int)(cx + rad * 0.5 * cos(b) + 0.5);
        fy[i] = (int)(cy + rad * 0.5 * sin(b) + 0.5);
    }
    int holder[MAXN], wants[MAXN], phase[MAXN];
    for (int i = 0; i < n; i++) {
        holder[i] = atomic_load_explicit(&st->fork[i].holder, RLX);
        wants[i] = atomic_load_explicit(&st->w[i].waits_for, RLX);
        phase[i] = atomic_load_explicit(&st->w[i].phase, RLX);
    }
    if (st->mode == M_WAITER) {
        pix_disc(&p, (int)cx, (int)cy, 2, C_SEAT);
        for (int i = 0; i < n; i++)
            if (phase[i] == PH_SEAT)
                pix_line(&p, tx[i], ty[i], (int)cx, (int)cy, C_SEAT, true);
    }
    for (int f = 0; f < n; f++)
        if (holder[f] >= 0 && holder[f] < n)
            pix_line(&p, fx[f], fy[f], tx[holder[f]], ty[holder[f]], C_HOLD, false);
    for (int i = 0; i < n; i++)
        if (wants[i] >= 0 && wants[i] < n)
            pix_line(&p, tx[i], ty[i], fx[wants[i]], fy[wants[i]], C_WAIT, true);
    if (active) {
        /* The cycle: each thread to the fork it waits for, the fork to its holder. */
        for (int k2 = 0; k2 < cn; k2++) {
            int t = ct[k2], f = cf[k2], h = ct[(k2 + 1) % cn];
            for (int d = 0; d <= 1; d++) {
                pix_line(&p, tx[t] + d, ty[t], fx[f] + d, fy[f], C_CYCLE, false);
                pix_line(&p, fx[f] + d, fy[f], tx[h] + d, ty[h], C_CYCLE, false);
            }
        }
    }
    int fs = node > 1 ? 1 : 0;
    for (int f = 0; f < n; f++)
        for (int y = -fs; y <= fs; y++)
            for (int x = -fs; x <= fs; x++)
                pix_put(&p, fx[f] + x, fy[f] + y, holder[f] >= 0 ? C_HOLD : C_FORK);
    for (int i = 0; i < n; i++) {
        pix_disc(&p, tx[i], ty[i], node, phase_colour(phase[i]));
        bool in = false;
        for (int k2 = 0; active && k2 < cn; k2++)
            in |= ct[k2] == i;
        if (in)
            pix_ring(&p, tx[i], ty[i], node + 2, C_CYCLE);
        pix_number(&p, tx[i] + (tx[i] >= (int)cx ? node + 3 : -node - 6), ty[i] - 2, i, 0xd0d0d0);
    }
    return 0;
}

static const struct scene_param dl_params[] = {
    [P_N] = {"philosophers", N_("philosophers N at the table (as many forks)"), 2, MAXN, 5, "",
             SCENE_P_RESTART},
    [P_BANK] = {"bank",
                N_("two accounts instead: one thread runs transfer(a, b), the other transfer(b, "
                   "a)"),
                0, 1, 0, "", SCENE_P_BOOL | SCENE_P_RESTART},
    [P_THINK] = {"think_ms", N_("thinking time between meals, at most (random)"), 0, 10000, 40,
                 "ms", 0},
    [P_EAT] = {"eat_ms", N_("eating time with both forks"), 0, 10000, 20, "ms", 0},
    [P_REACH] = {"reach_ms",
                 N_("time between taking the first fork and reaching for the second (the "
                    "window)"),
                 0, 10000, 20, "ms", 0},
    [P_RECOVER] = {"recover_ms", N_("a deadlock is broken after this long (0: only by key x)"), 0,
                   600000, 2000, "ms", 0},
};

static const struct scene_key dl_keys[] = {
    {'x', N_("break the deadlock: the thread that closed the cycle gives its fork back"), 0},
};

static const struct scene_mode dl_modes[] = {
    [M_NAIVE] =
        {"naive", N_("each takes its left fork, then its right"),
         N_("Every philosopher takes the left fork, then reaches for the right one. If all of "
            "them hold their left fork at once, each waits for a fork its neighbour holds and "
            "none will ever put one down: a cycle in the wait-for graph, a deadlock. The graph "
            "beside the lanes turns red the moment the last wait closes the cycle; after "
            "recover_ms (or on key x) the thread that closed it gives its fork back. The same "
            "happens with bank on: transfer(a, b) locks a then b, transfer(b, a) locks b then "
            "a."),
         .ns_per_col = 20 * SCENE_MS},
    [M_ORDERED] =
        {"ordered", N_("a global lock order: the lower fork first"),
         N_("Number the forks and always take the lower number first. The last philosopher "
            "then reaches for fork 0 before fork N-1, like everyone's left-right turned "
            "around, so the waits can never go all the way round the table: no cycle, no "
            "deadlock, however long it runs. For the accounts: lock the lower account first, "
            "whichever way the money goes."),
         .ns_per_col = 20 * SCENE_MS},
    [M_TRYLOCK] =
        {"trylock", N_("trylock the second fork, back off if taken"),
         N_("Take the first fork, then only try the second (acquire(blocking=False)). If it is "
            "taken, put the first down, wait a random while and start again. Nobody waits "
            "while holding a fork, so there is no deadlock, but there is waste: count the "
            "retries. Without the random back-off all could retry in step forever (a "
            "livelock)."),
         .ns_per_col = 20 * SCENE_MS},
    [M_WAITER] =
        {"waiter", N_("a waiter seats at most N-1"),
         N_("A waiter (a semaphore of N-1 seats) lets at most N-1 philosophers reach for forks "
            "at once. With one chair empty, at least one seated philosopher can always get "
            "both forks, so the cycle can never close, though each still takes left then "
            "right."),
         .ns_per_col = 20 * SCENE_MS},
};

static const char *const dl_no_yes[] = {N_("no"), N_("yes")};

/* How the figures read on screen (see struct scene_figure); the JSON keys stay the names. */
static const struct scene_figure dl_figures[] = {
    {.name = "deadlocks", .label = N_("deadlocks"), .fmt = FIG_INT, .flags = FIG_HEADLINE},
    {.name = "meals_per_s", .label = N_("meal rate"), .flags = FIG_HEADLINE},
    {.name = "transfers_per_s", .label = N_("transfer rate"), .flags = FIG_HEADLINE},
    {.name = "lock_wait_p99", .label = N_("lock wait p99")},
    {.name = "meals", .label = N_("meals"), .fmt = FIG_INT},
    {.name = "transfers", .label = N_("transfers"), .fmt = FIG_INT},
    {.name = "first_deadlock", .label = N_("first deadlock after")},
    {.name = "deadlocked_now",
     .label = N_("deadlocked now"),
     .fmt = FIG_ENUM,
     .words = dl_no_yes,
     .nwords = 2},
    {.name = "deadlocked_share", .label = N_("time deadlocked")},
    {.name = "lock_waits", .label = N_("lock waits"), .fmt = FIG_INT},
    {.name = "lock_wait_p50", .label = N_("lock wait p50")},
    {.name = "retries", .label = N_("retries"), .fmt = FIG_INT},
    {.name = "retries_in_a_row_max", .label = N_("most retries in a row"), .fmt = FIG_INT},
    {.name = "seat_waits", .label = N_("waits for a seat"), .fmt = FIG_INT},
    {.name = "total_balance", .label = N_("total balance"), .fmt = FIG_INT},
};

const struct scene_entry scene_deadlock = {
    .name = "deadlock",
    .title = N_("Deadlock"),
    .summary = N_("dining philosophers and two accounts: the wait-for graph and its cycle"),
    .modes = dl_modes,
    .nmodes = M_COUNT,
    .params = dl_params,
    .nparams = (int)(sizeof dl_params / sizeof dl_params[0]),
    .keys = dl_keys,
    .nkeys = (int)(sizeof dl_keys / sizeof dl_keys[0]),
    .notes = dl_notes,
    .nnotes = (int)(sizeof dl_notes / sizeof dl_notes[0]),
    .start = dl_start,
    .stop = dl_stop,
    .release = dl_free,
    .key = dl_key,
    .stats = dl_stats,
    .canvas = dl_canvas,
    .figures = dl_figures,
    .nfigures = (int)(sizeof dl_figures / sizeof dl_figures[0]),
};
