/*
 * Scene: producer–consumer over a bounded queue.
 *
 * DESIGN
 * Who runs: P producer and C consumer workers (threads in modes 1 and 3,
 * forked processes in mode 2) and one sampler thread that reports the queue
 * occupancy as a gauge lane. The UI thread only reads counters.
 *
 * Who owns what: everything the workers share sits in one MAP_SHARED region
 * (struct pc_shm) made before any fork, so the same code serves threads and
 * processes. Producers own their `seq`; each consumer owns its per-producer
 * accumulators; all counters are single-writer relaxed atomics.
 *
 * Locks: modes 1 and 2 have one mutex (process-shared and robust in mode 2)
 * with two condition variables; nothing else is locked. Mode 3 takes no lock:
 * an SPSC ring when P = C = 1, otherwise a bounded MPMC ring (Vyukov), with
 * an eventcount to park a worker that has spun long enough.
 *
 * Shutdown: stop() sets the stop flag, broadcasts both conditions (or wakes
 * both eventcounts), joins every thread and reaps every child (SIGKILL after
 * a grace period), then drains what is left in the queue to check that every
 * item was consumed exactly once.
 */
#include "config.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#include "futex.h"
#include "hist.h"
#include "scene.h"
#include "i18n.h"
#include "scenes/scenes.h"
#include "trace.h"

#ifdef CONCTUI_TRACE_OFF
/* For the tracing-overhead benchmark only: the same scene, emits compiled out. */
#define trace_emit(lane, state, arg) ((void)(lane), (void)(state), (void)(arg), trace_ticks())
#define scene_prodcons scene_prodcons_notrace
#endif

#define MAXW 8
#define MAXK 1024
#define SEQ_BITS 48
#define SEQ_MASK ((1ull << SEQ_BITS) - 1)
#define SPIN_LIMIT 2000
#define SPSC_BATCH 32 /* items between index publications, a power of two */
#define PARK_TIMEOUT_NS 1000000

enum { P_PRODUCERS, P_CONSUMERS, P_CAPACITY, P_PROD_RATE, P_CONS_RATE, P_WORK };
enum { M_THREADS, M_PROCESSES, M_LOCKFREE };
enum {
    N_NONE,
    N_PRODUCING,
    N_FULL,
    N_CONSUMING,
    N_EMPTY,
    N_LOCKWAIT,
    N_PACING,
    N_FINISHED,
};

static const char *const pc_notes[] = {
    [N_NONE] = "",
    [N_PRODUCING] = N_("producing"),
    [N_FULL] = N_("blocked: queue full"),
    [N_CONSUMING] = N_("consuming"),
    [N_EMPTY] = N_("blocked: queue empty"),
    [N_LOCKWAIT] = N_("waiting for the queue lock"),
    [N_PACING] = N_("waiting for the next tick (rate)"),
    [N_FINISHED] = N_("finished"),
};

struct pc_worker {
    _Alignas(64) _Atomic uint64_t items;
    _Atomic uint64_t waits;
    struct hist wait; /* ns blocked on full (producer) or empty (consumer) */
    _Atomic uint64_t blocked_ns;
    uint64_t seq; /* producer: last sequence number made */
    /* consumer: per-producer accounting for the exactly-once/FIFO checks */
    uint64_t last[MAXW];
    _Atomic uint64_t cnt[MAXW], sum[MAXW], sumsq[MAXW];
    _Atomic uint64_t fifo_violations;
    _Atomic uint64_t last_item; /* consumer: the last item it took ("printed") */
    int lane;
    unsigned cur; /* state last emitted */
};

struct mpmc_cell {
    _Atomic uint64_t seq;
    uint64_t val;
};

struct pc_shm {
    /* modes 1 and 2 */
    pthread_mutex_t mu;
    pthread_cond_t not_full, not_empty;
    uint32_t head, count;
    uint64_t buf[MAXK];
    /*
     * mode 3, SPSC: each side's line holds its own index and its cached copy
     * of the other side's, so the shared lines move only when the cached
     * copy runs out (Lamport's ring with cached indices). Each side also
     * publishes its own index only every SPSC_BATCH items, or before it
     * spins, sleeps or wakes the other side (batched publication, as in
     * FastForward and MCRingBuffer), so a cache line crosses between the
     * cores once per batch instead of once per item.
     */
    _Alignas(64) _Atomic uint64_t wpos;
    uint64_t wlocal, rpos_cache; /* producer-private: next slot, consumer's index seen */
    _Alignas(64) _Atomic uint64_t rpos;
    uint64_t rlocal, wpos_cache; /* consumer-private */
    /* mode 3, MPMC */
    _Alignas(64) _Atomic uint64_t enq;
    _Alignas(64) _Atomic uint64_t deq;
    _Alignas(64) struct mpmc_cell cells[MAXK];
    struct evcount not_full_ev, not_empty_ev;
    /* shared by all modes */
    _Alignas(64) _Atomic uint32_t occ; /* occupancy, for the sampler */
    _Atomic uint32_t max_occ;
    _Atomic uint64_t full_at; /* when the queue first held K items (0: never yet) */
    _Alignas(64) _Atomic uint64_t robust_recoveries;
    struct pc_worker prod[MAXW], cons[MAXW];
};

struct pc_arg {
    struct scene_ctx *ctx;
    struct pc_shm *q;
    struct pc_worker *w;
    int idx;
};

struct pc_state {
    struct pc_shm *q;
    int np, nc, cap, mode;
    pthread_t threads[2 * MAXW];
    int nthreads;
    pid_t pids[2 * MAXW];
    int npids;
    pthread_t sampler;
    int sampler_up;
    int gauge_lane;
    struct pc_arg args[2 * MAXW];
    /* exactly-once check, done after stop */
    int checked;
    uint64_t leftover_cnt[MAXW], leftover_sum[MAXW], leftover_sumsq[MAXW];
    uint64_t exactly_once_violations, in_queue_at_stop;
};

#define RLX memory_order_relaxed

static inline void bump(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + v, RLX);
}

/* Emit only real transitions; returns the tick of the last one. */
static uint64_t set_state(struct pc_worker *w, unsigned st)
{
    if (st == w->cur)
        return 0;
    w->cur = st;
    return trace_emit(w->lane, st, 0);
}

static void record_wait(struct pc_worker *w, uint64_t t0, uint64_t t1)
{
    uint64_t ns = trace_dur_ns(t0, t1);
    hist_record(&w->wait, ns);
    bump(&w->waits, 1);
    bump(&w->blocked_ns, ns);
}

static void note_occupancy(struct pc_shm *q, uint32_t occ)
{
    atomic_store_explicit(&q->occ, occ, RLX);
    if (occ > atomic_load_explicit(&q->max_occ, RLX))
        atomic_store_explicit(&q->max_occ, occ, RLX);
}

/* The first time the queue is seen full: what "full at 5 s" means. */
static void note_full(struct pc_shm *q)
{
    uint64_t zero = 0;
    if (!atomic_load_explicit(&q->full_at, RLX))
        atomic_compare_exchange_strong_explicit(&q->full_at, &zero, trace_now_ns(), RLX, RLX);
}

static void consume_item(struct pc_worker *w, uint64_t item)
{
    unsigned p = (unsigned)(item >> SEQ_BITS);
    uint64_t s = item & SEQ_MASK;
    if (p >= MAXW)
        return;
    if (s <= w->last[p])
        bump(&w->fifo_violations, 1);
    w->last[p] = s;
    bump(&w->cnt[p], 1);
    bump(&w->sum[p], s);
    bump(&w->sumsq[p], s * s);
    bump(&w->items, 1);
    atomic_store_explicit(&w->last_item, s, RLX);
}

static void lock_queue(struct pc_shm *q, struct pc_worker *w)
{
    int rc = pthread_mutex_trylock(&q->mu);
    if (rc == EBUSY) {
        unsigned before = w->cur;
        set_state(w, TRACE_LOCK | TRACE_NOTE(N_LOCKWAIT));
        rc = pthread_mutex_lock(&q->mu);
        set_state(w, before);
    }
    if (rc == EOWNERDEAD) {
        /* A process died holding the lock; the queue fields are still whole. */
        pthread_mutex_consistent(&q->mu);
        bump(&q->robust_recoveries, 1);
    }
}

/* Mutex + condvar queue (modes 1 and 2): false when stopping. */
static bool locked_put(struct scene_ctx *ctx, struct pc_shm *q, struct pc_worker *w, uint64_t item,
                       int cap)
{
    lock_queue(q, w);
    if (q->count >= (uint32_t)cap && !scene_stopping(ctx)) {
        uint64_t t0 = trace_emit(w->lane, TRACE_WAIT | TRACE_NOTE(N_FULL), q->count);
        w->cur = TRACE_WAIT | TRACE_NOTE(N_FULL);
        while (q->count >= (uint32_t)cap && !scene_stopping(ctx))
            if (pthread_cond_wait(&q->not_full, &q->mu) == EOWNERDEAD)
                pthread_mutex_consistent(&q->mu);
        w->cur = TRACE_RUN | TRACE_NOTE(N_PRODUCING);
        record_wait(w, t0, trace_emit(w->lane, w->cur, q->count));
    }
    if (scene_stopping(ctx)) {
        pthread_mutex_unlock(&q->mu);
        return false;
    }
    q->buf[(q->head + q->count) % (uint32_t)cap] = item;
    q->count++;
    note_occupancy(q, q->count);
    if (q->count == (uint32_t)cap)
        note_full(q);
    pthread_cond_signal(&q->not_empty);
    pthread_mutex_unlock(&q->mu);
    return true;
}

static bool locked_get(struct scene_ctx *ctx, struct pc_shm *q, struct pc_worker *w, uint64_t *item,
                       int cap)
{
    lock_queue(q, w);
    if (q->count == 0 && !scene_stopping(ctx)) {
        uint64_t t0 = trace_emit(w->lane, TRACE_WAIT | TRACE_NOTE(N_EMPTY), q->count);
        w->cur = TRACE_WAIT | TRACE_NOTE(N_EMPTY);
        while (q->count == 0 && !scene_stopping(ctx))
            if (pthread_cond_wait(&q->not_empty, &q->mu) == EOWNERDEAD)
                pthread_mutex_consistent(&q->mu);
        w->cur = TRACE_RUN | TRACE_NOTE(N_CONSUMING);
        record_wait(w, t0, trace_emit(w->lane, w->cur, q->count));
    }
    if (scene_stopping(ctx)) {
        pthread_mutex_unlock(&q->mu);
        return false;
    }
    *item = q->buf[q->head];
    q->head = (q->head + 1) % (uint32_t)cap;
    q->count--;
    note_occupancy(q, q->count);
    pthread_cond_signal(&q->not_full);
    pthread_mutex_unlock(&q->mu);
    return true;
}

/* Lock-free attempts; each returns false when the ring is full/empty. */
/* Make the producer's or the consumer's private index visible to the other side. */
static void spsc_publish(struct pc_shm *q, bool producer)
{
    /* Release: the other side that sees the index sees the slots it covers. */
    if (producer)
        atomic_store_explicit(&q->wpos, q->wlocal, memory_order_release);
    else
        atomic_store_explicit(&q->rpos, q->rlocal, memory_order_release);
}

static bool spsc_try_put(struct pc_shm *q, uint64_t item, int cap, uint32_t *seen)
{
    uint64_t w = q->wlocal;
    if (w - q->rpos_cache >= (uint64_t)cap) {
        /* Acquire pairs with the consumer's release of rpos: slots are free. */
        q->rpos_cache = atomic_load_explicit(&q->rpos, memory_order_acquire);
        *seen = (uint32_t)(w - q->rpos_cache);
        if (w - q->rpos_cache >= (uint64_t)cap) {
            spsc_publish(q, true); /* about to wait: let the consumer see everything */
            return false;
        }
    }
    q->buf[w % (uint64_t)cap] = item;
    /* w+1 - rpos_cache bounds the true occupancy from above. */
    uint32_t bound = (uint32_t)(w + 1 - q->rpos_cache);
    if (bound > atomic_load_explicit(&q->max_occ, RLX))
        atomic_store_explicit(&q->max_occ, bound, RLX);
    q->wlocal = w + 1;
    if ((q->wlocal & (SPSC_BATCH - 1)) == 0)
        spsc_publish(q, true);
    return true;
}

static bool spsc_try_get(struct pc_shm *q, uint64_t *item, int cap, uint32_t *seen)
{
    uint64_t r = q->rlocal;
    if (r == q->wpos_cache) {
        /* Acquire pairs with the producer's release of wpos: items are there. */
        q->wpos_cache = atomic_load_explicit(&q->wpos, memory_order_acquire);
        *seen = (uint32_t)(q->wpos_cache - r);
        if (r == q->wpos_cache) {
            spsc_publish(q, false);
            return false;
        }
    }
    *item = q->buf[r % (uint64_t)cap];
    q->rlocal = r + 1;
    if ((q->rlocal & (SPSC_BATCH - 1)) == 0)
        spsc_publish(q, false);
    return true;
}

/* A failed put saw the slot a lap ahead still occupied: the ring was full. */
static bool mpmc_try_put(struct pc_shm *q, uint64_t item, int cap, uint32_t *seen)
{
    *seen = (uint32_t)cap;
    uint64_t pos = atomic_load_explicit(&q->enq, RLX);
    for (;;) {
        struct mpmc_cell *c = &q->cells[pos % (uint64_t)cap];
        /* Acquire pairs with the dequeuer's release of seq: cell is free. */
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - pos);
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->enq, &pos, pos + 1, RLX, RLX)) {
                c->val = item;
                uint64_t d = atomic_load_explicit(&q->deq, RLX);
                uint32_t bound = pos + 1 > d ? (uint32_t)(pos + 1 - d) : 0;
                if (bound > atomic_load_explicit(&q->max_occ, RLX))
                    atomic_store_explicit(&q->max_occ, bound, RLX);
                atomic_store_explicit(&c->seq, pos + 1, memory_order_release);
                return true;
            }
        } else if (dif < 0) {
            return false;
        } else {
            pos = atomic_load_explicit(&q->enq, RLX);
        }
    }
}

static bool mpmc_try_get(struct pc_shm *q, uint64_t *item, int cap, uint32_t *seen)
{
    *seen = 0;
    uint64_t pos = atomic_load_explicit(&q->deq, RLX);
    for (;;) {
        struct mpmc_cell *c = &q->cells[pos % (uint64_t)cap];
        uint64_t seq = atomic_load_explicit(&c->seq, memory_order_acquire);
        int64_t dif = (int64_t)(seq - (pos + 1));
        if (dif == 0) {
            if (atomic_compare_exchange_weak_explicit(&q->deq, &pos, pos + 1, RLX, RLX)) {
                *item = c->val;
                atomic_store_explicit(&c->seq, pos + (uint64_t)cap, memory_order_release);
                return true;
            }
        } else if (dif < 0) {
            return false;
        } else {
            pos = atomic_load_explicit(&q->deq, RLX);
        }
    }
}

static inline void cpu_relax(void)
{
#if defined(__x86_64__) || defined(__i386__)
    __builtin_ia32_pause();
#endif
}

/*
 * Lock-free put/get: spin a little (that is running, not blocked), then park
 * on the eventcount and show the worker blocked for as long as it waits.
 */
static bool lockfree_xfer(struct scene_ctx *ctx, struct pc_shm *q, struct pc_worker *w,
                          uint64_t *item, int cap, bool put, bool spsc)
{
    struct evcount *mine = put ? &q->not_full_ev : &q->not_empty_ev;
    struct evcount *theirs = put ? &q->not_empty_ev : &q->not_full_ev;
    unsigned spins = 0;
    uint64_t t0 = 0;
    uint32_t key = 0;
    bool armed = false;
    for (;;) {
        uint32_t seen = put ? (uint32_t)cap : 0;
        bool ok =
            put ? (spsc ? spsc_try_put(q, *item, cap, &seen) : mpmc_try_put(q, *item, cap, &seen))
                : (spsc ? spsc_try_get(q, item, cap, &seen) : mpmc_try_get(q, item, cap, &seen));
        if (ok || scene_stopping(ctx)) {
            if (armed)
                evcount_cancel(mine);
            if (!ok)
                return false;
            if (t0) {
                w->cur = TRACE_RUN | TRACE_NOTE(put ? N_PRODUCING : N_CONSUMING);
                record_wait(w, t0, trace_emit(w->lane, w->cur, 0));
            }
            /* The other side is parked: publish now rather than at the batch's end. */
            if (spsc && atomic_load_explicit(&theirs->waiters, RLX))
                spsc_publish(q, put);
            evcount_notify(theirs);
            return true;
        }
        if (armed) {
            evcount_wait(mine, key, PARK_TIMEOUT_NS);
            armed = false;
        } else if (spins < SPIN_LIMIT) {
            spins++;
            cpu_relax();
        } else {
            if (!t0) {
                if (put)
                    note_full(q);
                w->cur = TRACE_WAIT | TRACE_NOTE(put ? N_FULL : N_EMPTY);
                t0 = trace_emit(w->lane, w->cur, seen);
            }
            /* Arm, then try once more before sleeping: no lost wake-up. */
            key = evcount_prepare(mine);
            armed = true;
        }
    }
}

/* Before a worker sleeps or leaves: a batched ring index must not stay private. */
static void pc_flush(struct pc_arg *a, bool producer)
{
    struct pc_state *st = a->ctx->priv;
    if (st->mode == M_LOCKFREE && st->np == 1 && st->nc == 1) {
        spsc_publish(a->q, producer);
        evcount_notify(producer ? &a->q->not_empty_ev : &a->q->not_full_ev);
    }
}

static bool pc_put(struct pc_arg *a, uint64_t item)
{
    struct pc_state *st = a->ctx->priv;
    if (st->mode == M_LOCKFREE)
        return lockfree_xfer(a->ctx, a->q, a->w, &item, st->cap, true, st->np == 1 && st->nc == 1);
    return locked_put(a->ctx, a->q, a->w, item, st->cap);
}

static bool pc_get(struct pc_arg *a, uint64_t *item)
{
    struct pc_state *st = a->ctx->priv;
    if (st->mode == M_LOCKFREE)
        return lockfree_xfer(a->ctx, a->q, a->w, item, st->cap, false, st->np == 1 && st->nc == 1);
    return locked_get(a->ctx, a->q, a->w, item, st->cap);
}

/* Wait out the rate's period (items/s); 0 means flat out. */
static bool pace(struct pc_arg *a, int64_t rate, bool producer)
{
    if (rate <= 0)
        return !scene_stopping(a->ctx);
    pc_flush(a, producer);
    set_state(a->w, TRACE_SLEEP | TRACE_NOTE(N_PACING));
    return scene_sleep(a->ctx, 1000000000ull / (uint64_t)rate);
}

static void *producer_main(void *p)
{
    struct pc_arg *a = p;
    struct pc_worker *w = a->w;
    for (;;) {
        set_state(w, TRACE_RUN | TRACE_NOTE(N_PRODUCING));
        uint64_t item = ((uint64_t)a->idx << SEQ_BITS) | (w->seq + 1);
        if (!pc_put(a, item))
            break;
        w->seq++;
        bump(&w->items, 1);
        if (!pace(a, scene_param(a->ctx, P_PROD_RATE), true))
            break;
    }
    pc_flush(a, true);
    set_state(w, TRACE_DONE | TRACE_NOTE(N_FINISHED));
    return NULL;
}

static void *consumer_main(void *p)
{
    struct pc_arg *a = p;
    struct pc_worker *w = a->w;
    for (;;) {
        set_state(w, TRACE_RUN | TRACE_NOTE(N_CONSUMING));
        uint64_t item;
        if (!pc_get(a, &item))
            break;
        consume_item(w, item);
        int64_t work = scene_param(a->ctx, P_WORK);
        if (work > 0 && !scene_spin(a->ctx, (uint64_t)work * 1000))
            break;
        if (!pace(a, scene_param(a->ctx, P_CONS_RATE), false))
            break;
    }
    pc_flush(a, false);
    set_state(w, TRACE_DONE | TRACE_NOTE(N_FINISHED));
    return NULL;
}

/* Items in the queue now, read without disturbing the workers' lines much. */
static uint32_t occupancy(const struct pc_state *st)
{
    const struct pc_shm *q = st->q;
    if (st->mode != M_LOCKFREE)
        return atomic_load_explicit(&q->occ, RLX);
    /* Read the consumer's index first: the producer's can only be ahead of it. */
    uint64_t r = atomic_load_explicit(st->np == 1 && st->nc == 1 ? &q->rpos : &q->deq, RLX);
    uint64_t w = atomic_load_explicit(st->np == 1 && st->nc == 1 ? &q->wpos : &q->enq, RLX);
    uint64_t n = w > r ? w - r : 0;
    return n > (uint64_t)st->cap ? (uint32_t)st->cap : (uint32_t)n;
}

/* Reports occupancy as a gauge whenever it changes (sampled every 1 ms). */
static void *sampler_main(void *p)
{
    struct scene_ctx *ctx = p;
    struct pc_state *st = ctx->priv;
    uint32_t last = UINT32_MAX;
    while (!scene_stopping(ctx)) {
        uint32_t occ = occupancy(st);
        if (occ != last)
            trace_emit(st->gauge_lane, TRACE_GAUGE, occ);
        last = occ;
        struct timespec d = {0, 1000000};
        nanosleep(&d, NULL);
    }
    return NULL;
}

static int queue_init(struct pc_shm *q, int cap, bool shared)
{
    pthread_mutexattr_t ma;
    pthread_condattr_t ca;
    pthread_mutexattr_init(&ma);
    pthread_condattr_init(&ca);
    if (shared) {
        pthread_mutexattr_setpshared(&ma, PTHREAD_PROCESS_SHARED);
        pthread_mutexattr_setrobust(&ma, PTHREAD_MUTEX_ROBUST);
        pthread_condattr_setpshared(&ca, PTHREAD_PROCESS_SHARED);
    }
    int rc = pthread_mutex_init(&q->mu, &ma);
    if (!rc)
        rc = pthread_cond_init(&q->not_full, &ca);
    if (!rc)
        rc = pthread_cond_init(&q->not_empty, &ca);
    pthread_mutexattr_destroy(&ma);
    pthread_condattr_destroy(&ca);
    for (int i = 0; i < cap; i++)
        atomic_store_explicit(&q->cells[i].seq, (uint64_t)i, RLX);
    return -rc;
}

static void pc_stop(struct scene_ctx *ctx);

static int pc_start(struct scene_ctx *ctx)
{
    struct pc_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    ctx->priv = st;
    st->mode = ctx->mode;
    st->np = (int)scene_param(ctx, P_PRODUCERS);
    st->nc = (int)scene_param(ctx, P_CONSUMERS);
    st->cap = (int)scene_param(ctx, P_CAPACITY);
    void *m = mmap(NULL, sizeof *st->q, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (m == MAP_FAILED) {
        int err = errno;
        free(st);
        ctx->priv = NULL;
        return -err;
    }
    st->q = m;
    int rc = queue_init(st->q, st->cap, st->mode == M_PROCESSES);
    if (rc)
        goto fail;
    char name[TRACE_NAME_MAX];
    for (int i = 0; i < st->np + st->nc; i++) {
        bool prod = i < st->np;
        int k = prod ? i : i - st->np;
        struct pc_worker *w = prod ? &st->q->prod[k] : &st->q->cons[k];
        snprintf(name, sizeof name, prod ? N_("producer %d") : N_("consumer %d"), k);
        w->lane = trace_lane_add(name, TRACE_LANE_STATE, 0);
        w->cur = TRACE_IDLE;
        st->args[i] = (struct pc_arg){ctx, st->q, w, k};
    }
    st->gauge_lane = trace_lane_add(N_("queue occupancy"), TRACE_LANE_GAUGE, (uint32_t)st->cap);
    if (st->gauge_lane < 0) {
        rc = -ENOSPC;
        goto fail;
    }
    /* Consumers first, so the first items find someone waiting. */
    for (int i = st->np; i < st->np + st->nc && !rc; i++)
        rc = scene_spawn(st->mode == M_PROCESSES, consumer_main, &st->args[i], st->threads,
                         &st->nthreads, st->pids, &st->npids);
    for (int i = 0; i < st->np && !rc; i++)
        rc = scene_spawn(st->mode == M_PROCESSES, producer_main, &st->args[i], st->threads,
                         &st->nthreads, st->pids, &st->npids);
    if (!rc) {
        rc = -pthread_create(&st->sampler, NULL, sampler_main, ctx);
        st->sampler_up = rc == 0;
    }
    if (rc)
        goto fail;
    if (st->mode == M_LOCKFREE)
        scene_note(ctx, _("%s ring, capacity %d"), st->np == 1 && st->nc == 1 ? "SPSC" : "MPMC",
                   st->cap);
    return 0;
fail:
    scene_note(ctx, _("could not start workers: %s"), strerror(-rc));
    pc_stop(ctx);
    return rc;
}

/* After every worker stopped: account for what is left in the queue. */
static void check_exactly_once(struct pc_state *st)
{
    struct pc_shm *q = st->q;
    uint64_t item;
    memset(st->leftover_cnt, 0, sizeof st->leftover_cnt);
    memset(st->leftover_sum, 0, sizeof st->leftover_sum);
    memset(st->leftover_sumsq, 0, sizeof st->leftover_sumsq);
    st->in_queue_at_stop = 0;
    for (;;) {
        bool ok;
        uint32_t seen;
        if (st->mode == M_LOCKFREE && st->np == 1 && st->nc == 1)
            ok = spsc_try_get(q, &item, st->cap, &seen);
        else if (st->mode == M_LOCKFREE)
            ok = mpmc_try_get(q, &item, st->cap, &seen);
        else if ((ok = q->count > 0)) {
            item = q->buf[q->head];
            q->head = (q->head + 1) % (uint32_t)st->cap;
            q->count--;
        }
        if (!ok)
            break;
        unsigned p = (unsigned)(item >> SEQ_BITS);
        uint64_t s = item & SEQ_MASK;
        if (p < MAXW) {
            st->leftover_cnt[p]++;
            st->leftover_sum[p] += s;
            st->leftover_sumsq[p] += s * s;
        }
        st->in_queue_at_stop++;
    }
    st->exactly_once_violations = 0;
    for (int p = 0; p < st->np; p++) {
        uint64_t n = q->prod[p].seq, cnt = st->leftover_cnt[p], sum = st->leftover_sum[p];
        uint64_t sq = st->leftover_sumsq[p];
        for (int c = 0; c < st->nc; c++) {
            cnt += atomic_load(&q->cons[c].cnt[p]);
            sum += atomic_load(&q->cons[c].sum[p]);
            sq += atomic_load(&q->cons[c].sumsq[p]);
        }
        /* 1..n exactly once each has these three sums (mod 2^64). */
        unsigned __int128 nn = n;
        uint64_t want_sum = (uint64_t)(nn * (nn + 1) / 2);
        uint64_t want_sq = (uint64_t)(nn * (nn + 1) * (2 * nn + 1) / 6);
        if (cnt != n || sum != want_sum || sq != want_sq)
            st->exactly_once_violations++;
    }
    st->checked = 1;
}

static void pc_stop(struct scene_ctx *ctx)
{
    struct pc_state *st = ctx->priv;
    if (!st)
        return;
    scene_request_stop(ctx);
    if (st->q) {
        if (st->mode != M_LOCKFREE) {
            pthread_mutex_lock(&st->q->mu);
            pthread_cond_broadcast(&st->q->not_full);
            pthread_cond_broadcast(&st->q->not_empty);
            pthread_mutex_unlock(&st->q->mu);
        }
        evcount_notify_all(&st->q->not_full_ev);
        evcount_notify_all(&st->q->not_empty_ev);
    }
    for (int i = 0; i < st->nthreads; i++)
        pthread_join(st->threads[i], NULL);
    st->nthreads = 0;
    scene_reap(st->pids, &st->npids);
    if (st->sampler_up)
        pthread_join(st->sampler, NULL);
    st->sampler_up = 0;
    if (st->q && !st->checked)
        check_exactly_once(st);
}

static void pc_free(struct scene_ctx *ctx)
{
    struct pc_state *st = ctx->priv;
    if (!st)
        return;
    if (st->q) {
        pthread_mutex_destroy(&st->q->mu);
        pthread_cond_destroy(&st->q->not_full);
        pthread_cond_destroy(&st->q->not_empty);
        munmap(st->q, sizeof *st->q);
    }
    free(st);
    ctx->priv = NULL;
}

static void pc_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct pc_state *st = ctx->priv;
    if (!st || !st->q)
        return;
    struct pc_shm *q = st->q;
    double secs = (double)(trace_now_ns() - ctx->t_start) / 1e9;
    uint64_t produced = 0, consumed = 0, fifo = 0, pblk = 0, cblk = 0, last = 0;
    struct hist full, empty;
    hist_reset(&full);
    hist_reset(&empty);
    for (int i = 0; i < st->np; i++) {
        produced += atomic_load_explicit(&q->prod[i].items, RLX);
        pblk += atomic_load_explicit(&q->prod[i].blocked_ns, RLX);
        hist_merge(&full, &q->prod[i].wait);
    }
    for (int i = 0; i < st->nc; i++) {
        consumed += atomic_load_explicit(&q->cons[i].items, RLX);
        cblk += atomic_load_explicit(&q->cons[i].blocked_ns, RLX);
        fifo += atomic_load_explicit(&q->cons[i].fifo_violations, RLX);
        uint64_t li = atomic_load_explicit(&q->cons[i].last_item, RLX);
        last = li > last ? li : last;
        hist_merge(&empty, &q->cons[i].wait);
    }
    double span = secs > 0 ? secs : 1;
    scene_stat(out, "throughput", (double)consumed / span, "items/s");
    scene_stat(out, "produced", (double)produced, "items");
    scene_stat(out, "consumed", (double)consumed, "items");
    scene_stat(out, "last_item", (double)last, "");
    scene_stat(out, "occupancy", occupancy(st), "items");
    scene_stat(out, "max_occupancy", (double)atomic_load_explicit(&q->max_occ, RLX), "items");
    scene_stat(out, "capacity", st->cap, "items");
    uint64_t full_at = atomic_load_explicit(&q->full_at, RLX);
    if (full_at) /* shown once it happened */
        scene_stat(out, "full_at_s",
                   full_at > ctx->t_start ? (double)(full_at - ctx->t_start) / 1e9 : 0, "s");
    scene_stat(out, "producer_blocked", 100.0 * (double)pblk / 1e9 / span / st->np, "%");
    scene_stat(out, "consumer_blocked", 100.0 * (double)cblk / 1e9 / span / st->nc, "%");
    scene_stat(out, "full_waits", (double)hist_count(&full), "waits");
    scene_stat(out, "full_wait_p50", (double)hist_percentile(&full, 0.5) / 1e6, "ms");
    scene_stat(out, "full_wait_p99", (double)hist_percentile(&full, 0.99) / 1e6, "ms");
    scene_stat(out, "empty_waits", (double)hist_count(&empty), "waits");
    scene_stat(out, "empty_wait_p50", (double)hist_percentile(&empty, 0.5) / 1e6, "ms");
    scene_stat(out, "empty_wait_p99", (double)hist_percentile(&empty, 0.99) / 1e6, "ms");
    scene_stat(out, "fifo_violations", (double)fifo, "");
    if (st->mode == M_PROCESSES)
        scene_stat(out, "lock_recoveries", (double)atomic_load(&q->robust_recoveries), "");
    if (st->checked) {
        scene_stat(out, "left_in_queue", (double)st->in_queue_at_stop, "items");
        scene_stat(out, "exactly_once_violations", (double)st->exactly_once_violations, "");
    }
}

static const struct scene_param pc_params[] = {
    [P_PRODUCERS] = {"producers", N_("producer workers"), 1, MAXW, 1, "", SCENE_P_RESTART},
    [P_CONSUMERS] = {"consumers", N_("consumer workers"), 1, MAXW, 1, "", SCENE_P_RESTART},
    [P_CAPACITY] = {"capacity", N_("queue capacity K"), 1, MAXK, 10, "items", SCENE_P_RESTART},
    [P_PROD_RATE] = {"prod_rate", N_("items made per second per producer (0: flat out)"), 0, 100000,
                     4, "items/s", 0},
    [P_CONS_RATE] = {"cons_rate", N_("items taken per second per consumer (0: flat out)"), 0,
                     100000, 2, "items/s", 0},
    [P_WORK] = {"work_us", N_("CPU work per item consumed"), 0, 1000000, 0, "us", 0},
};

static const struct scene_mode pc_modes[] = {
    [M_THREADS] =
        {"threads", N_("threads, mutex + condition variables"),
         N_("Producers and consumers are threads sharing one bounded queue guarded by a "
            "mutex, with two condition variables: 'not full' and 'not empty' (this is "
            "Python's queue.Queue). A producer that finds the queue full sleeps on 'not "
            "full' until a consumer takes an item; a consumer that finds it empty sleeps "
            "on 'not empty'. Watch the gauge: when producers are faster it fills up to K "
            "and the producer lanes turn to 'blocked'; when consumers are faster it stays "
            "near zero and the consumers wait. The defaults, producer 4 items/s and consumer "
            "2/s on a queue of 10, fill it in about 5 s (full_at_s); from then on the "
            "producer waits for room half the time, as Python's queue.Queue(10) does. The "
            "course's own program is prod_rate=1 cons_rate=0: one item a second and a "
            "consumer that takes at once, so the queue never holds more than one item and "
            "it is the consumer that waits."),
         .ns_per_col = 100 * SCENE_MS},
    [M_PROCESSES] = {"processes", N_("processes, queue in shared memory"),
                     N_("The same queue, but every producer and consumer is a separate process "
                        "(what multiprocessing.Queue is for). The queue, its mutex and condition "
                        "variables live in shared memory, marked process-shared; the mutex is "
                        "robust, so a process that dies holding it cannot wedge the others. Each "
                        "lane is a real child process of conctui."),
                     .ns_per_col = 100 * SCENE_MS},
    [M_LOCKFREE] =
        {"lockfree", N_("threads, lock-free ring"),
         N_("No lock at all: with one producer and one consumer the queue is a "
            "single-producer/single-consumer ring where each side owns one index; with "
            "more it is a bounded multi-producer/multi-consumer ring where workers claim "
            "slots with compare-and-swap. A worker that finds the ring full or empty "
            "spins briefly (still running) and only then parks. Set both rates to 0 "
            "(flat out) and compare the throughput with mode 1: that gap is what the "
            "lock costs."),
         .ns_per_col = 100 * SCENE_MS},
};

/* How the figures read on screen (see struct scene_figure); the JSON keys stay the names. */
static const struct scene_figure pc_figures[] = {
    {.name = "throughput", .label = N_("throughput"), .flags = FIG_HEADLINE},
    {.name = "producer_blocked", .label = N_("producers blocked"), .flags = FIG_HEADLINE},
    {.name = "consumer_blocked", .label = N_("consumers blocked"), .flags = FIG_HEADLINE},
    {.name = "produced", .label = N_("produced"), .fmt = FIG_INT},
    {.name = "consumed", .label = N_("consumed"), .fmt = FIG_INT},
    {.name = "last_item", .label = N_("last item"), .fmt = FIG_INT},
    {.name = "occupancy", .label = N_("in the queue")},
    {.name = "max_occupancy", .label = N_("most in the queue")},
    {.name = "capacity", .label = N_("capacity")},
    {.name = "full_waits", .label = N_("waits on full"), .unit = "", .fmt = FIG_INT},
    {.name = "full_wait_p50", .label = N_("full wait p50")},
    {.name = "full_wait_p99", .label = N_("full wait p99")},
    {.name = "empty_waits", .label = N_("waits on empty"), .unit = "", .fmt = FIG_INT},
    {.name = "empty_wait_p50", .label = N_("empty wait p50")},
    {.name = "empty_wait_p99", .label = N_("empty wait p99")},
    {.name = "fifo_violations", .label = N_("out of order"), .fmt = FIG_INT},
    {.name = "lock_recoveries", .label = N_("lock recoveries"), .fmt = FIG_INT},
    {.name = "left_in_queue", .label = N_("left in the queue")},
    {.name = "exactly_once_violations", .label = N_("lost or twice"), .fmt = FIG_INT},
};

const struct scene_entry scene_prodcons = {
    .name = "prodcons",
    .title = N_("Producer-consumer"),
    .summary = N_("a bounded queue between producers and consumers"),
    .modes = pc_modes,
    .nmodes = 3,
    .params = pc_params,
    .nparams = (int)(sizeof pc_params / sizeof pc_params[0]),
    .notes = pc_notes,
    .nnotes = (int)(sizeof pc_notes / sizeof pc_notes[0]),
    .start = pc_start,
    .stop = pc_stop,
    .release = pc_free,
    .stats = pc_stats,
    .figures = pc_figures,
    .nfigures = (int)(sizeof pc_figures / sizeof pc_figures[0]),
};
