/*
 * futex: wait/wake on a 32-bit word that may live in memory shared with
 * forked children (so never FUTEX_PRIVATE), plus an eventcount built on it.
 */
#ifndef CONCTUI_FUTEX_H
#define CONCTUI_FUTEX_H

#include <limits.h>
#include <linux/futex.h>
#include <stdatomic.h>
#include <stdint.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

/* Sleep while *w == val, at most timeout_ns (0 = no limit). */
static inline void futex_wait(_Atomic uint32_t *w, uint32_t val, uint64_t timeout_ns)
{
    struct timespec ts = {(time_t)(timeout_ns / 1000000000u), (long)(timeout_ns % 1000000000u)};
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAIT, val, timeout_ns ? &ts : NULL, NULL, 0);
}

static inline void futex_wake_all(_Atomic uint32_t *w)
{
    syscall(SYS_futex, (uint32_t *)w, FUTEX_WAKE, INT_MAX, NULL, NULL, 0);
}

/*
 * An eventcount: waiters sleep until a notifier bumps seq. The notifier's
 * check of `waiters` is a relaxed load with no fence, because it runs once
 * per item on a lock-free queue's hot path. x86 may let that load pass the
 * notifier's own publishing store, so a waiter that armed in that instant
 * can miss its wake-up; waiters therefore sleep with a timeout and re-check,
 * which bounds a lost wake-up to the timeout. Waiters only park after
 * spinning, so in steady flat-out running nobody parks at all.
 */
struct evcount {
    _Atomic uint32_t seq;
    _Atomic uint32_t waiters;
};

static inline uint32_t evcount_prepare(struct evcount *e)
{
    uint32_t key = atomic_load_explicit(&e->seq, memory_order_acquire);
    atomic_fetch_add_explicit(&e->waiters, 1, memory_order_seq_cst);
    return key;
}

static inline void evcount_cancel(struct evcount *e)
{
    /* A notifier may have cleared the count already: never go below zero. */
    uint32_t n = atomic_load_explicit(&e->waiters, memory_order_relaxed);
    while (n > 0 && !atomic_compare_exchange_weak_explicit(
                        &e->waiters, &n, n - 1, memory_order_relaxed, memory_order_relaxed))
        ;
}

/* Sleep until notified (or the timeout); the notifier has cleared our count. */
static inline void evcount_wait(struct evcount *e, uint32_t key, uint64_t timeout_ns)
{
    futex_wait(&e->seq, key, timeout_ns);
}

/*
 * Wake the waiters, if any. The exchange lets exactly one notifier make the
 * system call for a group of parked waiters: the others see zero and move
 * on, so a busy producer does not pay a futex call per item while the
 * consumer it woke is still getting back on a CPU.
 */
static inline void evcount_notify(struct evcount *e)
{
    if (atomic_load_explicit(&e->waiters, memory_order_relaxed) == 0)
        return;
    if (atomic_exchange_explicit(&e->waiters, 0, memory_order_acq_rel) == 0)
        return;
    atomic_fetch_add_explicit(&e->seq, 1, memory_order_release);
    futex_wake_all(&e->seq);
}

/* Wake everyone regardless of the waiter count (used when stopping). */
static inline void evcount_notify_all(struct evcount *e)
{
    atomic_fetch_add_explicit(&e->seq, 1, memory_order_release);
    futex_wake_all(&e->seq);
}

#endif
