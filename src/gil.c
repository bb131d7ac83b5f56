/*
 * gil: CPython's global interpreter lock, new (3.2+) and old (2.x), for
 * real threads.
 *
 * DESIGN
 * Who runs: any number of caller threads (or, with process_shared, threads
 * of several processes) call gil_take, gil_check, gil_io_begin/end and
 * gil_drop. The module starts no thread of its own.
 *
 * Who owns what: in GIL_NEW, `locked`, `switch_number`, `drop_t` and the GIL
 * lane's last word are guarded by `mutex`; `last_holder` is written under
 * `switch_mutex` (CPython's rule: it must be taken before last_holder
 * changes, so a dropper waiting for a switch cannot miss it). In GIL_OLD the
 * GIL is `mutex` itself and everything else belongs to its holder. Each
 * struct gil_thread belongs to its thread.
 *
 * Lock order: mutex, then switch_mutex (take). drop_gil releases mutex
 * before it takes switch_mutex, so the two are never taken the other way.
 *
 * Shutdown: nothing to stop. A thread that wants to exit drops the GIL with
 * gil_drop; a waiter is always woken by the next drop, so as long as every
 * holder eventually drops (scenes check their stop flag between bytecodes
 * and release the GIL around blocking calls) every waiter gets through.
 */
#include "config.h"

#include "gil.h"

#include <errno.h>
#include <string.h>
#include <time.h>

#include "trace.h"

#define RLX memory_order_relaxed

/* Add to a single-writer counter. */
static inline void bump(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + v, RLX);
}

/* Emit on the thread's lane only when its state word really changes. */
static uint64_t thread_state(struct gil_thread *t, unsigned word)
{
    if (t->lane < 0 || word == t->cur)
        return 0;
    t->cur = word;
    return trace_emit(t->lane, word, t->id);
}

/* Emit on the GIL lane; the caller holds the GIL's mutex. */
static void gil_lane(struct gil *g, unsigned word, uint32_t arg)
{
    if (g->lane < 0 || (g->lane_started && word == g->lane_word && arg == g->lane_arg))
        return;
    g->lane_started = true;
    g->lane_word = word;
    g->lane_arg = arg;
    trace_emit(g->lane, word, arg);
}

/* The independent exclusion witness: count holders in and out. */
static void holders_in(struct gil *g, struct gil_thread *t)
{
    /* Relaxed RMWs: one total order on `holders` is all the check needs. */
    uint32_t n = atomic_fetch_add_explicit(&g->holders, 1, RLX) + 1;
    if (n > atomic_load_explicit(&g->max_holders, RLX))
        atomic_store_explicit(&g->max_holders, n, RLX);
    atomic_store_explicit(&g->holder, t->id + 1, RLX);
}

static void holders_out(struct gil *g)
{
    atomic_store_explicit(&g->holder, 0, RLX);
    atomic_fetch_sub_explicit(&g->holders, 1, RLX);
}

/* Account a finished wait for the GIL. */
static void record_wait(struct gil_thread *t, uint64_t t0)
{
    uint64_t ns = trace_dur_ns(t0, trace_ticks());
    hist_record(&t->wait, ns);
    bump(&t->waits, 1);
    bump(&t->wait_ns, ns);
}

uint64_t gil_interval_ns(const struct gil *g)
{
    int64_t us =
        g->interval_us ? atomic_load_explicit(g->interval_us, RLX) : GIL_DEFAULT_INTERVAL_US;
    int f = g->scale ? atomic_load_explicit(g->scale, RLX) : 1;
    if (us < 1)
        us = 1;
    return (uint64_t)us * 1000u * (uint64_t)(f > 0 ? f : 1);
}

int gil_init(struct gil *g, const struct gil_config *cfg)
{
    memset(g, 0, sizeof *g);
    g->kind = cfg->kind;
    g->lane = cfg->lane;
    g->interval_us = cfg->interval_us;
    g->scale = cfg->scale;
    g->ticker = GIL_OLD_CHECK_INTERVAL;
    hist_reset(&g->handoff);
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    pthread_mutexattr_init(&ma);
    pthread_condattr_init(&ca);
    /* Timed waits measure the interval on the monotonic clock, as CPython does. */
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    if (cfg->process_shared) {
        pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
        pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    }
    int rc = pthread_mutex_init(&g->mutex, &ma);
    if (!rc && (rc = pthread_cond_init(&g->cond, &ca)) != 0)
        pthread_mutex_destroy(&g->mutex);
    if (!rc && (rc = pthread_mutex_init(&g->switch_mutex, &ma)) != 0) {
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->mutex);
    }
    if (!rc && (rc = pthread_cond_init(&g->switch_cond, &ca)) != 0) {
        pthread_mutex_destroy(&g->switch_mutex);
        pthread_cond_destroy(&g->cond);
        pthread_mutex_destroy(&g->mutex);
    }
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_destroy(&ca);
    return -rc;
}

void gil_destroy(struct gil *g)
{
    pthread_cond_destroy(&g->switch_cond);
    pthread_mutex_destroy(&g->switch_mutex);
    pthread_cond_destroy(&g->cond);
    pthread_mutex_destroy(&g->mutex);
}

void gil_thread_init(struct gil_thread *t, uint32_t id, int lane)
{
    memset(t, 0, sizeof *t);
    t->id = id;
    t->lane = lane;
    t->cur = TRACE_IDLE;
    hist_reset(&t->wait);
}

bool gil_holds(const struct gil *g, const struct gil_thread *t)
{
    /* Relaxed: only the thread itself asks about itself, or a reader of stats. */
    return g->kind != GIL_NONE && atomic_load_explicit(&g->holder, RLX) == t->id + 1;
}

/* Wait on g->cond for at most ns; true if the wait timed out. */
static bool timed_wait(struct gil *g, uint64_t ns)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    uint64_t nsec = (uint64_t)ts.tv_nsec + ns % 1000000000u;
    ts.tv_sec += (time_t)(ns / 1000000000u + nsec / 1000000000u);
    ts.tv_nsec = (long)(nsec % 1000000000u);
    return pthread_cond_timedwait(&g->cond, &g->mutex, &ts) == ETIMEDOUT;
}

/* The new GIL's take_gil: wait, ask for a drop after each idle interval. */
static void new_take(struct gil *g, struct gil_thread *t)
{
    uint64_t t0 = 0;
    bool drop_requested = false;
    pthread_mutex_lock(&g->mutex);
    if (atomic_load_explicit(&g->locked, RLX)) {
        /* Shown waiting before the wait; the lane leaves READY only on success. */
        thread_state(t, TRACE_READY | TRACE_NOTE(GIL_N_WAITING));
        t0 = trace_ticks();
        while (atomic_load_explicit(&g->locked, RLX)) {
            uint64_t saved = atomic_load_explicit(&g->switch_number, RLX);
            bool timed_out = timed_wait(g, gil_interval_ns(g));
            /* A whole interval with no hand-off: ask the holder to drop it. */
            if (timed_out && atomic_load_explicit(&g->locked, RLX) &&
                atomic_load_explicit(&g->switch_number, RLX) == saved) {
                /*
                 * Relaxed store, read by the holder's relaxed poll in
                 * gil_check; the holder then takes mutex, which orders
                 * everything else.
                 */
                atomic_store_explicit(&g->drop_request, 1, RLX);
                drop_requested = true;
                bump(&g->drop_requests, 1);
                if (!g->drop_t)
                    g->drop_t = trace_ticks();
                gil_lane(g, TRACE_RUN | TRACE_NOTE(GIL_N_DROP_REQ),
                         atomic_load_explicit(&g->holder, RLX) - 1);
            }
        }
    }
    /* switch_mutex must be held while last_holder changes: see new_drop. */
    pthread_mutex_lock(&g->switch_mutex);
    atomic_store_explicit(&g->locked, 1, RLX);
    holders_in(g, t);
    uint32_t last = atomic_load_explicit(&g->last_holder, RLX);
    if (last != t->id + 1) {
        atomic_store_explicit(&g->last_holder, t->id + 1, RLX);
        bump(&g->switch_number, 1);
        if (last)
            bump(&g->switches, 1);
        if (g->drop_t) {
            uint64_t ns = trace_dur_ns(g->drop_t, trace_ticks());
            hist_record(&g->handoff, ns);
            if (ns > atomic_load_explicit(&g->handoff_max_ns, RLX))
                atomic_store_explicit(&g->handoff_max_ns, ns, RLX);
            g->drop_t = 0;
        }
    }
    pthread_cond_signal(&g->switch_cond);
    pthread_mutex_unlock(&g->switch_mutex);
    if (drop_requested)
        atomic_store_explicit(&g->drop_request, 0, RLX);
    /* Both lanes change under the mutex, so they agree on who holds the GIL. */
    gil_lane(g, TRACE_RUN | TRACE_NOTE(GIL_N_HELD_BY), t->id);
    thread_state(t, TRACE_RUN | TRACE_NOTE(GIL_N_HOLDS));
    pthread_mutex_unlock(&g->mutex);
    if (t0)
        record_wait(t, t0);
}

/*
 * The new GIL's drop_gil. The thread's lane moves to `word` under the mutex,
 * just before the GIL is free: it leaves RUN before anyone else can enter
 * it, and enters I/O only once nothing can delay the release. With force (a
 * yield or a blocking call, not an exit) and a drop request pending, wait
 * until another thread took the GIL.
 */
static void new_drop(struct gil *g, struct gil_thread *t, bool force, unsigned word)
{
    if (force)
        atomic_store_explicit(&g->last_holder, t->id + 1, RLX);
    pthread_mutex_lock(&g->mutex);
    thread_state(t, word);
    holders_out(g);
    atomic_store_explicit(&g->locked, 0, RLX);
    gil_lane(g, TRACE_IDLE | TRACE_NOTE(GIL_N_FREE), t->id);
    pthread_cond_signal(&g->cond);
    pthread_mutex_unlock(&g->mutex);
    if (force && atomic_load_explicit(&g->drop_request, RLX)) {
        pthread_mutex_lock(&g->switch_mutex);
        /* Not switched yet: wait (once, like CPython) for the taker's signal. */
        if (atomic_load_explicit(&g->last_holder, RLX) == t->id + 1) {
            atomic_store_explicit(&g->drop_request, 0, RLX);
            pthread_cond_wait(&g->switch_cond, &g->switch_mutex);
        }
        pthread_mutex_unlock(&g->switch_mutex);
    }
}

/* The old GIL's acquire: a plain blocking lock; true if it had to wait. */
static bool old_take(struct gil *g, struct gil_thread *t)
{
    uint64_t t0 = 0;
    if (pthread_mutex_trylock(&g->mutex) != 0) {
        thread_state(t, TRACE_READY | TRACE_NOTE(GIL_N_WAITING));
        t0 = trace_ticks();
        pthread_mutex_lock(&g->mutex);
    }
    holders_in(g, t);
    uint32_t last = atomic_load_explicit(&g->last_holder, RLX);
    if (last != t->id + 1) {
        atomic_store_explicit(&g->last_holder, t->id + 1, RLX);
        bump(&g->switch_number, 1);
        if (last)
            bump(&g->switches, 1);
    }
    gil_lane(g, TRACE_RUN | TRACE_NOTE(GIL_N_HELD_BY), t->id);
    thread_state(t, TRACE_RUN | TRACE_NOTE(GIL_N_HOLDS));
    if (t0)
        record_wait(t, t0);
    return t0 != 0;
}

/*
 * The old GIL's release. `shown` (I/O, exit) moves the thread's lane to word
 * and marks the GIL lane free; a tick release shows nothing, since the holder
 * nearly always takes the lock straight back.
 */
static void old_drop(struct gil *g, struct gil_thread *t, bool shown, unsigned word)
{
    holders_out(g);
    if (shown) {
        thread_state(t, word);
        gil_lane(g, TRACE_IDLE | TRACE_NOTE(GIL_N_FREE), t->id);
    }
    pthread_mutex_unlock(&g->mutex);
}

void gil_take(struct gil *g, struct gil_thread *t)
{
    switch (g->kind) {
    case GIL_NEW:
        new_take(g, t);
        break;
    case GIL_OLD:
        old_take(g, t);
        break;
    case GIL_NONE:
        thread_state(t, TRACE_RUN | TRACE_NOTE(GIL_N_NOGIL));
        break;
    }
}

void gil_drop(struct gil *g, struct gil_thread *t, unsigned state)
{
    if (g->kind == GIL_NEW)
        new_drop(g, t, false, state);
    else if (g->kind == GIL_OLD)
        old_drop(g, t, true, state);
    else
        thread_state(t, state);
}

bool gil_check(struct gil *g, struct gil_thread *t)
{
    if (g->kind == GIL_NEW) {
        /* Relaxed poll of the eval breaker; pairs with the waiter's store. */
        if (__builtin_expect(!atomic_load_explicit(&g->drop_request, RLX), 1))
            return false;
        new_drop(g, t, true, TRACE_READY | TRACE_NOTE(GIL_N_WAITING));
        new_take(g, t);
        return true;
    }
    if (g->kind == GIL_OLD) {
        if (--g->ticker > 0)
            return false;
        g->ticker = GIL_OLD_CHECK_INTERVAL;
        /* Give another thread a chance; usually this one takes it straight back. */
        old_drop(g, t, false, 0);
        return old_take(g, t);
    }
    return false;
}

void gil_io_begin(struct gil *g, struct gil_thread *t)
{
    unsigned word = TRACE_IO | TRACE_NOTE(GIL_N_IO);
    if (g->kind == GIL_NEW)
        new_drop(g, t, true, word);
    else if (g->kind == GIL_OLD)
        old_drop(g, t, true, word);
    else
        thread_state(t, word);
}

void gil_io_end(struct gil *g, struct gil_thread *t)
{
    gil_take(g, t);
}
