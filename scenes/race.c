/*
 * Scene: the lost update - T real threads add 1 to one shared counter N
 * times each, in five ways, and the main thread checks the total against
 * T x N.
 *
 * DESIGN
 * Who runs: one coordinator thread (the 'main' lane) runs rounds, and T
 * worker threads serve them. Between rounds the coordinator keeps an Event
 * clear for pause_ms (key g sets it at once) and the workers wait() on it;
 * then it resets the counter, sets the Event (every waiter is released at
 * the same instant), joins the workers by waiting for `done` to reach T and
 * checks the counter: the updates it misses were lost.
 *
 * The five ways: (1) load, add, store as three separate steps with nothing
 * around them, so two threads that load the same value both store value + 1
 * and one update is lost; (2) one atomic fetch-add; (3) a mutex (the Lock)
 * around the load, add and store; (4) a counter of its own per thread, added
 * up by the main thread at the end; (5) a C copy of CPython's GIL (src/gil.c)
 * with the update split across "bytecodes" as `counter = counter + f()` is:
 * the holder loads the counter, calls f() - where the eval breaker may hand
 * the GIL over - and stores later. With split off it is `counter += 1`,
 * where no hand-off falls between the load and the store.
 *
 * The counter is loaded and stored with relaxed atomics even in mode 1: the
 * loss comes from the three steps, not from undefined behaviour, so the
 * thread sanitizer stays quiet and the compiler cannot merge the steps.
 *
 * Tracing: a round of a million updates cannot be drawn update by update,
 * so a worker shows one 'updating' state for the round, except when every
 * load and store is traced: while the view is frozen (checked every 64
 * updates, so a freeze takes hold within microseconds) or when work_us > 0
 * (each update then lasts at least that long). Every traced load and store
 * is its own transition, emitted just before the step it names, so the
 * freeze gate orders the steps themselves. With turns on (mode 1) the
 * workers also pass a baton at every load and store, A, B, A, B: only the
 * baton's holder reaches the gate, so stepping plays A's load, B's load,
 * A's store, B's store, and one update is lost in four steps.
 *
 * Who owns what: the counter, the Event word, `done`, the baton and the
 * per-thread counters are atomics in struct rc_state; the round's settings
 * (n, turns, split) are written by the coordinator before it sets the Event
 * (release) and read by the workers after their wait (acquire). Each
 * worker's lane is written by that worker only; the main lane by the
 * coordinator. The figures are written by the coordinator under fig_mu and
 * read by the UI thread under it.
 *
 * Locks: `lock` (mode 3) guards nothing but the update itself; the GIL's own
 * locks (mode 5); fig_mu (figures). No code path holds two of them.
 *
 * Shutdown: stop() sets the stop flag and wakes the Event, the baton, the
 * coordinator's pause and its join; every wait is a futex wait of at most
 * WAIT_NS that re-checks the flag, and workers check it every 64 updates
 * (mode 5: before every bytecode's eval-breaker check, and gil_drop lets
 * a waiting thread in to see it). stop() then joins every thread. A round
 * cut short is not checked or counted.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "futex.h"
#include "gil.h"
#include "i18n.h"
#include "rounds.h"
#include "scene.h"
#include "scenes/scenes.h"
#include "trace.h"

#define MAXT 8
#define WAIT_NS 20000000ull /* every wait re-checks the stop flag this often */
#define CHECK_EVERY 64      /* updates between checks of the stop flag and the freeze */
#define TURN_SPINS 2000     /* spins for the baton before sleeping on it */
#define BC_STEPS 12         /* multiply-adds per "bytecode" in mode 5 */

enum { P_THREADS, P_UPDATES, P_WORK, P_TURNS, P_PAUSE, P_SPLIT, P_SWITCH };
enum { M_RACE, M_ATOMIC, M_LOCK, M_LOCAL, M_GIL, M_COUNT };
enum {
    N_EVWAIT = GIL_N_COUNT,
    N_UPDATING,
    N_READ,
    N_WROTE,
    N_FETCH_ADD,
    N_COMPUTING,
    N_LOCKWAIT,
    N_READ_LOCKED,
    N_WROTE_UNLOCK,
    N_READ_OWN,
    N_WROTE_OWN,
    N_EVCLEAR,
    N_SETJOIN,
    N_FINISHED,
};

static const char *const rc_notes[] = {
    GIL_NOTE_WORDS,
    [N_EVWAIT] = N_("wait(): blocked on the Event until it is set"),
    [N_UPDATING] = N_("updating the counter (the round's updates, not drawn one by one)"),
    [N_READ] = N_("read: loaded the counter, adding 1 (the window; arg: update number)"),
    [N_WROTE] = N_("write: stored the sum (arg)"),
    [N_FETCH_ADD] = N_("atomic fetch-add: read, add and write in one step (arg: update number)"),
    [N_COMPUTING] = N_("computing f(), outside any shared step"),
    [N_LOCKWAIT] = N_("waiting for the Lock"),
    [N_READ_LOCKED] = N_("holds the Lock: loaded the counter, adding 1"),
    [N_WROTE_UNLOCK] = N_("write: stored the sum (arg), released the Lock"),
    [N_READ_OWN] = N_("read its own counter, adding 1"),
    [N_WROTE_OWN] = N_("write: stored its own counter (arg)"),
    [N_EVCLEAR] = N_("Event clear: the workers wait (arg: updates lost last round)"),
    [N_SETJOIN] = N_("set(): every waiter runs; join(): waiting for them (arg: round)"),
    [N_FINISHED] = N_("finished"),
};

/* Lane names (letters, as a class names the threads). */
static const char *const thread_names[MAXT] = {
    N_("thread A"), N_("thread B"), N_("thread C"), N_("thread D"),
    N_("thread E"), N_("thread F"), N_("thread G"), N_("thread H"),
};

struct rc_state;

struct rc_worker {
    _Alignas(64) _Atomic uint64_t local; /* mode 4: its own counter, on its own line */
    struct rc_state *st;
    struct gil_thread gt; /* gt.lane is the worker's lane, gt.cur its last word */
    int idx;
    _Atomic uint64_t woke_ns;                 /* when its wait() returned, this round */
    _Atomic uint64_t acquisitions, contended; /* mode 3: Lock takes, and those that waited */
    _Atomic uint64_t round_wait_ns;           /* mode 3: time blocked on the Lock, this round */
};

/* The figures, written by the coordinator under fig_mu. */
struct rc_figs {
    uint64_t rounds, expected, actual, lost;
    uint64_t last_expected;
    double last_ms;
    struct rounds ns_per_update, lost_share, spread_us, contended;
};

struct rc_state {
    struct scene_ctx *ctx;
    int mode, nthreads;
    _Alignas(64) _Atomic uint64_t counter;
    _Alignas(64) _Atomic uint32_t ev; /* the Event: generation << 1 | set */
    _Alignas(64) _Atomic uint32_t done;
    _Alignas(64) _Atomic uint32_t turn; /* the baton: whose step it is */
    _Atomic uint32_t turn_sleepers;
    _Alignas(64) _Atomic uint32_t kick; /* key e: bumped to end the pause */
    /* The round's settings: written before the Event is set, read after the wait. */
    uint64_t round_n;
    bool round_turns, round_split;
    pthread_mutex_t lock;
    bool lock_up;
    struct gil gil;
    bool gil_up;
    int main_lane, gil_lane, lost_lane;
    struct rc_worker w[MAXT];
    pthread_t threads[MAXT];
    int nthreads_up;
    pthread_t coord;
    bool coord_up;
    pthread_mutex_t fig_mu;
    struct rc_figs f;
};

#define RLX memory_order_relaxed

static inline void bump(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + v, RLX);
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/* A transition of a worker's lane (every call is a step of the freeze gate). */
static void lane(struct rc_worker *w, unsigned word, uint32_t arg)
{
    w->gt.cur = word;
    trace_emit(w->gt.lane, word, arg);
}

/* The same, only when the word changes. */
static void lane_state(struct rc_worker *w, unsigned word)
{
    if (w->gt.cur != word)
        lane(w, word, 0);
}

/* Wait for the baton; false if stopping. */
static bool turn_wait(struct rc_state *st, int me)
{
    unsigned spins = 0;
    for (;;) {
        /* Acquire pairs with the passer's store: its step is done. */
        uint32_t t = atomic_load_explicit(&st->turn, memory_order_acquire);
        if (t == (uint32_t)me)
            return true;
        if (scene_stopping(st->ctx))
            return false;
        if (spins < TURN_SPINS) {
            spins++;
            cpu_relax();
            continue;
        }
        /* Sleepers up, then re-check (seq_cst both sides): no lost wake-up. */
        atomic_fetch_add(&st->turn_sleepers, 1);
        if (atomic_load(&st->turn) == t)
            futex_wait(&st->turn, t, WAIT_NS);
        atomic_fetch_sub(&st->turn_sleepers, 1);
    }
}

static void turn_pass(struct rc_state *st, int me)
{
    atomic_store(&st->turn, (uint32_t)((me + 1) % st->nthreads));
    if (atomic_load(&st->turn_sleepers))
        futex_wake_all(&st->turn);
}

/* The work of f(): work_us of spinning (read live), or nothing. */
static bool f_work(struct rc_state *st)
{
    int64_t us = scene_param(st->ctx, P_WORK);
    return us <= 0 || scene_spin(st->ctx, (uint64_t)us * 1000u);
}

/* Every load and store traced: while frozen, or when an update lasts work_us. */
static bool fine_now(struct rc_state *st)
{
    return scene_param(st->ctx, P_WORK) > 0 || trace_frozen();
}

/* Mode 1: load, add, store, each its own step. False if stopping. */
static bool run_race(struct rc_state *st, struct rc_worker *w, uint64_t n)
{
    bool turns = st->round_turns, fine = false;
    for (uint64_t i = 0; i < n; i++) {
        if (i % CHECK_EVERY == 0) {
            if (scene_stopping(st->ctx))
                return false;
            fine = fine_now(st);
            if (!fine)
                lane_state(w, TRACE_RUN | TRACE_NOTE(N_UPDATING));
        }
        if (turns && !turn_wait(st, w->idx))
            return false;
        if (fine)
            lane(w, TRACE_RUN | TRACE_NOTE(N_READ), (uint32_t)(i + 1));
        uint64_t v = atomic_load_explicit(&st->counter, RLX);
        if (turns)
            turn_pass(st, w->idx);
        if (!f_work(st))
            return false;
        v += 1;
        if (turns && !turn_wait(st, w->idx))
            return false;
        if (fine)
            lane(w, TRACE_IDLE | TRACE_NOTE(N_WROTE), (uint32_t)v);
        atomic_store_explicit(&st->counter, v, RLX);
        if (turns)
            turn_pass(st, w->idx);
    }
    return true;
}

/* Mode 2: f() first, then one indivisible fetch-add. */
static bool run_atomic(struct rc_state *st, struct rc_worker *w, uint64_t n)
{
    bool fine = false;
    for (uint64_t i = 0; i < n; i++) {
        if (i % CHECK_EVERY == 0) {
            if (scene_stopping(st->ctx))
                return false;
            fine = fine_now(st);
            if (!fine)
                lane_state(w, TRACE_RUN | TRACE_NOTE(N_UPDATING));
        }
        if (scene_param(st->ctx, P_WORK) > 0) {
            lane(w, TRACE_IDLE | TRACE_NOTE(N_COMPUTING), (uint32_t)(i + 1));
            if (!f_work(st))
                return false;
        }
        if (fine)
            lane(w, TRACE_RUN | TRACE_NOTE(N_FETCH_ADD), (uint32_t)(i + 1));
        atomic_fetch_add_explicit(&st->counter, 1, RLX);
    }
    return true;
}

/* Mode 3: `with lock: counter = counter + f()`. */
static bool run_lock(struct rc_state *st, struct rc_worker *w, uint64_t n)
{
    bool fine = false;
    uint64_t acq = 0, cont = 0, wait_ns = 0;
    bool ok = true;
    for (uint64_t i = 0; i < n && ok; i++) {
        if (i % CHECK_EVERY == 0) {
            if (scene_stopping(st->ctx)) {
                ok = false;
                break;
            }
            fine = fine_now(st);
            if (!fine)
                lane_state(w, TRACE_RUN | TRACE_NOTE(N_UPDATING));
        }
        acq++;
        if (pthread_mutex_trylock(&st->lock) != 0) {
            cont++;
            if (fine)
                lane(w, TRACE_LOCK | TRACE_NOTE(N_LOCKWAIT), (uint32_t)(i + 1));
            uint64_t t0 = trace_ticks();
            pthread_mutex_lock(&st->lock);
            wait_ns += trace_dur_ns(t0, trace_ticks());
        }
        if (fine)
            lane(w, TRACE_RUN | TRACE_NOTE(N_READ_LOCKED), (uint32_t)(i + 1));
        uint64_t v = atomic_load_explicit(&st->counter, RLX) + 1;
        ok = f_work(st);
        if (ok && fine)
            lane(w, TRACE_IDLE | TRACE_NOTE(N_WROTE_UNLOCK), (uint32_t)v);
        atomic_store_explicit(&st->counter, v, RLX);
        pthread_mutex_unlock(&st->lock);
    }
    bump(&w->acquisitions, acq);
    bump(&w->contended, cont);
    atomic_store_explicit(&w->round_wait_ns, wait_ns, RLX);
    return ok;
}

/* Mode 4: a counter of its own; the main thread adds them up. */
static bool run_local(struct rc_state *st, struct rc_worker *w, uint64_t n)
{
    bool fine = false;
    for (uint64_t i = 0; i < n; i++) {
        if (i % CHECK_EVERY == 0) {
            if (scene_stopping(st->ctx))
                return false;
            fine = fine_now(st);
            if (!fine)
                lane_state(w, TRACE_RUN | TRACE_NOTE(N_UPDATING));
        }
        if (fine)
            lane(w, TRACE_RUN | TRACE_NOTE(N_READ_OWN), (uint32_t)(i + 1));
        uint64_t v = atomic_load_explicit(&w->local, RLX) + 1;
        if (!f_work(st))
            return false;
        if (fine)
            lane(w, TRACE_IDLE | TRACE_NOTE(N_WROTE_OWN), (uint32_t)v);
        atomic_store_explicit(&w->local, v, RLX);
    }
    return true;
}

/* Keeps the bytecodes' work observable; never read back. */
static _Atomic uint64_t rc_sink;

/* One "bytecode": a fixed chain of dependent multiply-adds. */
static inline uint64_t bytecode(uint64_t x)
{
    for (int i = 0; i < BC_STEPS; i++)
        x = x * 6364136223846793005ull + 1442695040888963407ull;
    return x;
}

/*
 * Mode 5, under the GIL. split: `counter = counter + f()` - LOAD_GLOBAL
 * counter, LOAD_GLOBAL f, CALL (f's first instruction checks the eval
 * breaker: the GIL may go to the other thread here, with the old value
 * loaded), LOAD_CONST, RETURN_VALUE, BINARY_OP, STORE_GLOBAL counter,
 * JUMP_BACKWARD (checks again). Not split: `counter += 1` - LOAD_GLOBAL,
 * LOAD_CONST, BINARY_OP, STORE_GLOBAL, JUMP_BACKWARD: since Python 3.10
 * only the backward jump checks, so no hand-off falls inside the update.
 */
static bool run_gil(struct rc_state *st, struct rc_worker *w, uint64_t n)
{
    struct gil *g = &st->gil;
    bool split = st->round_split, fine = false;
    uint64_t x = (uint64_t)w->idx + 1;
    gil_take(g, &w->gt);
    bool ok = true;
    for (uint64_t i = 0; i < n; i++) {
        if (i % CHECK_EVERY == 0) {
            if (scene_stopping(st->ctx)) {
                ok = false;
                break;
            }
            fine = fine_now(st);
        }
        x = bytecode(x); /* FOR_ITER */
        if (fine)
            lane(w, TRACE_RUN | TRACE_NOTE(N_READ), (uint32_t)(i + 1));
        uint64_t v = atomic_load_explicit(&st->counter, RLX); /* LOAD_GLOBAL counter */
        x = bytecode(x);
        if (split) {
            x = bytecode(bytecode(x)); /* LOAD_GLOBAL f, CALL */
            gil_check(g, &w->gt);      /* f's RESUME: the eval breaker, inside the update */
            if (!f_work(st)) {
                ok = false;
                break;
            }
            x = bytecode(bytecode(x)); /* LOAD_CONST 1, RETURN_VALUE */
        } else {
            x = bytecode(x); /* LOAD_CONST 1 */
        }
        x = bytecode(x); /* BINARY_OP + */
        v += 1;
        if (fine)
            lane(w, TRACE_RUN | TRACE_NOTE(N_WROTE), (uint32_t)v);
        atomic_store_explicit(&st->counter, v, RLX); /* STORE_GLOBAL counter */
        x = bytecode(x);                             /* JUMP_BACKWARD */
        gil_check(g, &w->gt);
    }
    atomic_store_explicit(&rc_sink, x, RLX);
    gil_drop(g, &w->gt, TRACE_WAIT | TRACE_NOTE(N_EVWAIT));
    return ok;
}

static void *worker_main(void *p)
{
    struct rc_worker *w = p;
    struct rc_state *st = w->st;
    uint32_t seen = 0;
    for (;;) {
        lane_state(w, TRACE_WAIT | TRACE_NOTE(N_EVWAIT));
        /* wait(): acquire pairs with the coordinator's release in set(). */
        uint32_t e = atomic_load_explicit(&st->ev, memory_order_acquire);
        if (scene_stopping(st->ctx))
            break;
        if (!(e & 1) || (e >> 1) == seen) {
            futex_wait(&st->ev, e, WAIT_NS);
            continue;
        }
        seen = e >> 1;
        atomic_store_explicit(&w->woke_ns, trace_now_ns(), RLX);
        uint64_t n = st->round_n;
        bool ok;
        switch (st->mode) {
        case M_RACE:
            ok = run_race(st, w, n);
            break;
        case M_ATOMIC:
            ok = run_atomic(st, w, n);
            break;
        case M_LOCK:
            ok = run_lock(st, w, n);
            break;
        case M_LOCAL:
            ok = run_local(st, w, n);
            break;
        default:
            ok = run_gil(st, w, n);
            break;
        }
        if (!ok)
            break;
        /* Release: the coordinator that counts us sees our stores. */
        atomic_fetch_add_explicit(&st->done, 1, memory_order_release);
        futex_wake_all(&st->done);
    }
    lane_state(w, TRACE_DONE | TRACE_NOTE(N_FINISHED));
    return NULL;
}

/* The Event: set() releases every waiter at once; clear() makes them wait. */
static void event_set(struct rc_state *st)
{
    uint32_t e = atomic_load_explicit(&st->ev, RLX);
    /* Release pairs with the workers' acquire: the round's settings are seen. */
    atomic_store_explicit(&st->ev, (((e >> 1) + 1) << 1) | 1u, memory_order_release);
    futex_wake_all(&st->ev);
}

static void event_clear(struct rc_state *st)
{
    atomic_fetch_and_explicit(&st->ev, ~1u, RLX);
}

/* The pause between rounds: pause_ms (stretched by slow motion) or until key e. */
static bool pause_between(struct rc_state *st)
{
    struct scene_ctx *ctx = st->ctx;
    uint32_t k = atomic_load_explicit(&st->kick, memory_order_acquire);
    int f = atomic_load_explicit(&ctx->sh->slowmo, RLX);
    uint64_t end =
        trace_now_ns() + (uint64_t)scene_param(ctx, P_PAUSE) * SCENE_MS * (uint64_t)(f > 0 ? f : 1);
    for (;;) {
        if (scene_stopping(ctx))
            return false;
        if (atomic_load_explicit(&st->kick, memory_order_acquire) != k)
            return true;
        uint64_t now = trace_now_ns();
        if (now >= end)
            return true;
        uint64_t left = end - now < WAIT_NS ? end - now : WAIT_NS;
        futex_wait(&st->kick, k, left);
    }
}

static void *coord_main(void *p)
{
    struct rc_state *st = p;
    struct scene_ctx *ctx = st->ctx;
    uint64_t last_lost = 0;
    int64_t last_n = -1, last_work = -1, last_turns = -1, last_split = -1;
    for (uint32_t round = 1;; round++) {
        trace_emit(st->main_lane, TRACE_SLEEP | TRACE_NOTE(N_EVCLEAR), (uint32_t)last_lost);
        if (!pause_between(st))
            break;
        int64_t n = scene_param(ctx, P_UPDATES), work = scene_param(ctx, P_WORK);
        int64_t turns = st->mode == M_RACE && scene_param(ctx, P_TURNS);
        int64_t split = scene_param(ctx, P_SPLIT);
        if (n != last_n || work != last_work || turns != last_turns || split != last_split) {
            /* Other settings, other figures: the spreads start afresh. */
            pthread_mutex_lock(&st->fig_mu);
            rounds_reset(&st->f.ns_per_update);
            rounds_reset(&st->f.lost_share);
            rounds_reset(&st->f.contended);
            pthread_mutex_unlock(&st->fig_mu);
            last_n = n;
            last_work = work;
            last_turns = turns;
            last_split = split;
        }
        st->round_n = (uint64_t)n;
        st->round_turns = turns != 0;
        st->round_split = split != 0;
        atomic_store_explicit(&st->counter, 0, RLX);
        for (int i = 0; i < st->nthreads; i++)
            atomic_store_explicit(&st->w[i].local, 0, RLX);
        atomic_store_explicit(&st->turn, 0, RLX);
        atomic_store_explicit(&st->done, 0, RLX);
        trace_emit(st->main_lane, TRACE_WAIT | TRACE_NOTE(N_SETJOIN), round);
        uint64_t t0 = trace_now_ns();
        event_set(st);
        for (;;) {
            /* Acquire pairs with each worker's release: its stores are seen. */
            uint32_t d = atomic_load_explicit(&st->done, memory_order_acquire);
            if (d >= (uint32_t)st->nthreads || scene_stopping(ctx))
                break;
            futex_wait(&st->done, d, WAIT_NS);
        }
        if (scene_stopping(ctx))
            break;
        uint64_t t1 = trace_now_ns();
        event_clear(st);
        uint64_t actual = atomic_load_explicit(&st->counter, RLX);
        uint64_t wmin = UINT64_MAX, wmax = 0, blocked = 0;
        for (int i = 0; i < st->nthreads; i++) {
            if (st->mode == M_LOCAL)
                actual += atomic_load_explicit(&st->w[i].local, RLX);
            uint64_t wk = atomic_load_explicit(&st->w[i].woke_ns, RLX);
            wmin = wk < wmin ? wk : wmin;
            wmax = wk > wmax ? wk : wmax;
            blocked += atomic_load_explicit(&st->w[i].round_wait_ns, RLX);
        }
        uint64_t expected = (uint64_t)n * (uint64_t)st->nthreads;
        last_lost = expected > actual ? expected - actual : 0;
        /*
         * The gauge: this round's share lost, in whole percent (any loss
         * shows). Its only writer is this thread; written past the freeze
         * gate, so a stepped round ends on its last store.
         */
        uint32_t pct = (uint32_t)((100 * last_lost + expected - 1) / expected);
        trace_emit_at(st->lost_lane, TRACE_GAUGE, pct, trace_now_ns());
        pthread_mutex_lock(&st->fig_mu);
        st->f.rounds++;
        st->f.expected += expected;
        st->f.actual += actual;
        st->f.lost += last_lost;
        st->f.last_expected = expected;
        st->f.last_ms = (double)(t1 - t0) / 1e6;
        rounds_add(&st->f.ns_per_update, (double)(t1 - t0) / (double)n);
        rounds_add(&st->f.lost_share, 100.0 * (double)last_lost / (double)expected);
        rounds_add(&st->f.spread_us, (double)(wmax - wmin) / 1e3);
        if (st->mode == M_LOCK && t1 > t0)
            rounds_add(&st->f.contended,
                       100.0 * (double)blocked / ((double)(t1 - t0) * st->nthreads));
        pthread_mutex_unlock(&st->fig_mu);
    }
    return NULL;
}

static void rc_stop(struct scene_ctx *ctx);

static int rc_start(struct scene_ctx *ctx)
{
    struct rc_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    ctx->priv = st;
    st->ctx = ctx;
    st->mode = ctx->mode;
    st->nthreads = (int)scene_param(ctx, P_THREADS);
    pthread_mutex_init(&st->fig_mu, NULL);
    int rc = -pthread_mutex_init(&st->lock, NULL);
    st->lock_up = rc == 0;
    for (int i = 0; i < st->nthreads && !rc; i++) {
        int l = trace_lane_add(thread_names[i], TRACE_LANE_STATE, 0);
        if (l < 0)
            rc = -ENOSPC;
        gil_thread_init(&st->w[i].gt, (uint32_t)i, l);
        st->w[i].gt.cur = TRACE_IDLE;
        st->w[i].st = st;
        st->w[i].idx = i;
    }
    st->main_lane = rc ? -1 : trace_lane_add(N_("main"), TRACE_LANE_STATE, 0);
    st->lost_lane = rc ? -1 : trace_lane_add(N_("lost share"), TRACE_LANE_GAUGE, 100);
    if (!rc && (st->main_lane < 0 || st->lost_lane < 0))
        rc = -ENOSPC;
    if (!rc && st->mode == M_GIL) {
        st->gil_lane = trace_lane_add(N_("GIL"), TRACE_LANE_STATE, 0);
        struct gil_config cfg = {
            .kind = GIL_NEW,
            .lane = st->gil_lane,
            .interval_us = &ctx->sh->param[P_SWITCH],
            .scale = &ctx->sh->slowmo,
        };
        rc = st->gil_lane < 0 ? -ENOSPC : gil_init(&st->gil, &cfg);
        st->gil_up = rc == 0;
    }
    for (int i = 0; i < st->nthreads && !rc; i++) {
        rc = -pthread_create(&st->threads[i], NULL, worker_main, &st->w[i]);
        st->nthreads_up += rc == 0;
    }
    if (!rc) {
        rc = -pthread_create(&st->coord, NULL, coord_main, st);
        st->coord_up = rc == 0;
    }
    if (rc) {
        scene_note(ctx, _("could not start workers: %s"), strerror(-rc));
        rc_stop(ctx);
        return rc;
    }
    if (st->mode == M_GIL)
        scene_note(ctx, "%s",
                   scene_param(ctx, P_SPLIT) ? _("the update: counter = counter + f()")
                                             : _("the update: counter += 1"));
    else if (st->mode == M_RACE && scene_param(ctx, P_TURNS))
        scene_note(ctx, "%s", _("turns: the threads take every load and store in turn"));
    return 0;
}

static void rc_stop(struct scene_ctx *ctx)
{
    struct rc_state *st = ctx->priv;
    if (!st)
        return;
    scene_request_stop(ctx);
    futex_wake_all(&st->ev);
    futex_wake_all(&st->turn);
    futex_wake_all(&st->kick);
    futex_wake_all(&st->done);
    for (int i = 0; i < st->nthreads_up; i++)
        pthread_join(st->threads[i], NULL);
    st->nthreads_up = 0;
    if (st->coord_up)
        pthread_join(st->coord, NULL);
    st->coord_up = false;
}

static void rc_free(struct scene_ctx *ctx)
{
    struct rc_state *st = ctx->priv;
    if (!st)
        return;
    if (st->gil_up)
        gil_destroy(&st->gil);
    if (st->lock_up)
        pthread_mutex_destroy(&st->lock);
    pthread_mutex_destroy(&st->fig_mu);
    free(st);
    ctx->priv = NULL;
}

static int rc_key(struct scene_ctx *ctx, int key)
{
    struct rc_state *st = ctx->priv;
    if (!st || key != 'g')
        return 0;
    /* Release pairs with the coordinator's acquire of kick. */
    atomic_fetch_add_explicit(&st->kick, 1, memory_order_release);
    futex_wake_all(&st->kick);
    return 1;
}

static void rc_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct rc_state *st = ctx->priv;
    if (!st)
        return;
    pthread_mutex_lock(&st->fig_mu);
    struct rc_figs f = st->f;
    pthread_mutex_unlock(&st->fig_mu);
    scene_stat(out, "rounds", (double)f.rounds, "");
    scene_stat(out, "expected", (double)f.expected, "updates");
    scene_stat(out, "actual", (double)f.actual, "updates");
    scene_stat(out, "lost_updates", (double)f.lost, "updates");
    scene_stat(out, "lost_share_all",
               f.expected ? 100.0 * (double)f.lost / (double)f.expected : 0.0, "%");
    scene_stat_rounds(out, "lost_share", &f.lost_share, "%");
    scene_stat_rounds(out, "ns_per_update", &f.ns_per_update, "ns");
    if (f.rounds && f.last_ms > 0)
        scene_stat(out, "updates_per_s", (double)f.last_expected / (f.last_ms / 1e3), "/s");
    scene_stat_rounds(out, "event_release_spread", &f.spread_us, "us");
    if (st->mode == M_LOCK) {
        uint64_t acq = 0, cont = 0;
        for (int i = 0; i < st->nthreads; i++) {
            acq += atomic_load_explicit(&st->w[i].acquisitions, RLX);
            cont += atomic_load_explicit(&st->w[i].contended, RLX);
        }
        scene_stat(out, "lock_acquisitions", (double)acq, "");
        scene_stat(out, "lock_contended", (double)cont, "");
        scene_stat_rounds(out, "contention", &f.contended, "%");
    }
    if (st->mode == M_GIL && st->gil_up) {
        uint64_t waits = 0, wait_ns = 0;
        for (int i = 0; i < st->nthreads; i++) {
            waits += atomic_load_explicit(&st->w[i].gt.waits, RLX);
            wait_ns += atomic_load_explicit(&st->w[i].gt.wait_ns, RLX);
        }
        scene_stat(out, "gil_switches", (double)atomic_load_explicit(&st->gil.switches, RLX), "");
        scene_stat(out, "gil_waits", (double)waits, "");
        scene_stat(out, "gil_wait_ms", (double)wait_ns / 1e6, "ms");
        scene_stat(out, "max_holders", (double)atomic_load_explicit(&st->gil.max_holders, RLX), "");
    }
}

static const struct scene_param rc_params[] = {
    [P_THREADS] = {"threads", N_("worker threads T"), 2, MAXT, 2, "", SCENE_P_RESTART},
    [P_UPDATES] = {"updates", N_("updates per thread per round (the expected total is T x this)"),
                   1, 100000000, 1000000, "", 0},
    [P_WORK] = {"work_us",
                N_("f(): work inside each update, widening the window (every load and store is "
                   "then traced)"),
                0, 1000000, 0, "us", 0},
    [P_TURNS] = {"turns",
                 N_("mode 1: the threads take every load and store in turn: A, B, A, B (the worst "
                    "interleaving)"),
                 0, 1, 0, "", SCENE_P_BOOL},
    [P_PAUSE] = {"pause_ms",
                 N_("the Event stays clear this long between rounds (key g sets it at once)"), 0,
                 600000, 200, "ms", 0},
    [P_SPLIT] = {"split", N_("mode 5: counter = counter + f() (on) or counter += 1 (off)"), 0, 1, 1,
                 "", SCENE_P_BOOL},
    [P_SWITCH] = {"switch_us", N_("mode 5: the GIL's switch interval"), 100, 500000,
                  GIL_DEFAULT_INTERVAL_US, "us", 0},
};

static const struct scene_key rc_keys[] = {
    {'g', N_("set the Event now: the waiting workers start the next round together"), 0},
};

static const struct scene_mode rc_modes[] = {
    [M_RACE] =
        {"race", N_("unsynchronised: load, add, store"),
         N_("Each thread does counter = counter + 1 as three steps: load the counter into a "
            "register, add 1, store it back. If B loads between A's load and A's store, both "
            "store the same value and one update is lost: watch 'actual' fall short of "
            "'expected'. To see it step by step: set turns on, freeze (f), press g, and step "
            "(.): A's load, B's load, A's store, B's store, and one update is gone. The Event: "
            "between rounds the workers wait() on it, and set() releases them together."),
         .ns_per_col = 10 * SCENE_MS},
    [M_ATOMIC] =
        {"atomic", N_("atomic fetch-add"),
         N_("The same updates with one atomic instruction (lock xadd): the processor reads, "
            "adds and writes the cache line while no other core may touch it. Nothing is "
            "lost, and each update is one step: there is no window to step into. The cost is "
            "the cache line going back and forth between the cores (ns_per_update)."),
         .ns_per_col = 10 * SCENE_MS},
    [M_LOCK] = {"lock", N_("a Lock around the update"),
                N_("with lock: counter = counter + 1 (threading.Lock is a mutex). Only the holder "
                   "loads and stores, so nothing is lost; a thread that finds the Lock taken waits "
                   "(red when traced), and 'contention' is the share of the threads' time spent "
                   "waiting for it. "
                   "Compare ns_per_update with modes 1, 2 and 4: that is what the Lock costs."),
                .ns_per_col = 10 * SCENE_MS},
    [M_LOCAL] =
        {"local", N_("a counter per thread, summed at the end"),
         N_("Share nothing: each thread adds to a counter of its own (on its own cache line) "
            "and the main thread adds them up after join(). Nothing is lost and nothing waits: "
            "the fastest way, when the work allows it."),
         .ns_per_col = 10 * SCENE_MS},
    [M_GIL] = {"gil", N_("under the GIL: counter = counter + f()"),
               N_("The GIL lets one thread run at a time, yet updates are still lost: counter = "
                  "counter + f() loads the counter, then calls f(), and a call is where the "
                  "interpreter may hand the GIL to the other thread, which then adds for a whole "
                  "switch interval before the first stores its stale sum over all of it. Real "
                  "Python 3.11 loses 29-35 percent of 2 million such updates from 2 threads; plain "
                  "counter "
                  "+= 1 loses none since 3.10 (no hand-off between its load and its store): set "
                  "split off to see that. Neither is a promise: use a Lock."),
               .ns_per_col = 2 * SCENE_MS},
};

/* How the figures read on screen (see struct scene_figure); the JSON keys stay the names. */
static const struct scene_figure rc_figures[] = {
    {.name = "lost_updates", .label = N_("updates lost"), .fmt = FIG_INT, .flags = FIG_HEADLINE},
    {.name = "lost_share", .label = N_("lost per round"), .flags = FIG_HEADLINE},
    {.name = "ns_per_update", .label = N_("time per update"), .flags = FIG_HEADLINE},
    {.name = "expected", .label = N_("expected total"), .fmt = FIG_INT},
    {.name = "actual", .label = N_("actual total"), .fmt = FIG_INT},
    {.name = "lost_share_all", .label = N_("lost, all rounds")},
    {.name = "rounds", .label = N_("rounds"), .fmt = FIG_INT},
    {.name = "updates_per_s", .label = N_("update rate")},
    {.name = "event_release_spread", .label = N_("Event release spread")},
    {.name = "lock_acquisitions", .label = N_("lock acquisitions"), .fmt = FIG_INT},
    {.name = "lock_contended", .label = N_("lock contended"), .fmt = FIG_INT},
    {.name = "contention", .label = N_("contention")},
    {.name = "gil_switches", .label = N_("GIL switches"), .fmt = FIG_INT},
    {.name = "gil_waits", .label = N_("GIL waits"), .fmt = FIG_INT},
    {.name = "gil_wait_ms", .label = N_("waiting for the GIL")},
    {.name = "max_holders", .label = N_("most holders"), .fmt = FIG_INT},
};

const struct scene_entry scene_race = {
    .name = "race",
    .title = N_("The lost update"),
    .summary =
        N_("threads add to one counter: unsynchronised, atomic, a Lock, per thread, the GIL"),
    .modes = rc_modes,
    .nmodes = M_COUNT,
    .params = rc_params,
    .nparams = (int)(sizeof rc_params / sizeof rc_params[0]),
    .keys = rc_keys,
    .nkeys = (int)(sizeof rc_keys / sizeof rc_keys[0]),
    .notes = rc_notes,
    .nnotes = (int)(sizeof rc_notes / sizeof rc_notes[0]),
    .start = rc_start,
    .stop = rc_stop,
    .release = rc_free,
    .key = rc_key,
    .stats = rc_stats,
    .figures = rc_figures,
    .nfigures = (int)(sizeof rc_figures / sizeof rc_figures[0]),
};
