/*
 * gil: a global interpreter lock for real threads, in the three shapes
 * Python has had, so scenes can run real work under it.
 *
 * - GIL_NEW is CPython 3.2+ (Python/ceval_gil.c): a `locked` flag guarded by
 *   a mutex and a condition variable. A thread that wants the GIL waits one
 *   switch interval; if no hand-off happened meanwhile it sets the drop
 *   request (the eval breaker). The holder polls it between bytecodes
 *   (gil_check), drops the GIL and, with forced switching, waits until some
 *   other thread has taken it.
 * - GIL_OLD is CPython 2: a plain lock that the holder releases and at once
 *   re-acquires every GIL_OLD_CHECK_INTERVAL checks (ticks); no timeout, no
 *   request, no fairness.
 * - GIL_NONE is free-threaded Python: no lock; only the lane transitions
 *   remain, so a scene runs the same code in every mode.
 *
 * Tracing: each struct gil_thread may own a state lane, and the GIL may own
 * a lane whose arg is the holder's id. The module emits the transitions
 * itself. The GIL lane is written only by whoever holds the GIL's mutex (the
 * lock itself for GIL_OLD), so it has one writer at a time. A thread's lane
 * leaves RUN before the GIL is released and enters it after the GIL is
 * taken, so no two lanes run at once - except in GIL_OLD, where a release at
 * a tick is not shown (the holder nearly always takes the lock straight
 * back, hundreds of thousands of times a second): a thread that loses the
 * lock there shows READY only once it tries to re-take it, which the OS may
 * delay. The GIL lane is exact in every kind.
 *
 * A struct gil may live in shared memory (process_shared) and a struct
 * gil_thread may too; statistics are relaxed atomics readable anywhere.
 */
#ifndef CONCTUI_GIL_H
#define CONCTUI_GIL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "hist.h"

enum gil_kind {
    GIL_NEW,  /* CPython 3.2+: timed waits, drop request, forced switching */
    GIL_OLD,  /* CPython 2: release and re-acquire every 100 ticks */
    GIL_NONE, /* free-threaded: no lock */
};

#define GIL_OLD_CHECK_INTERVAL 100   /* ticks, sys.setcheckinterval's default */
#define GIL_DEFAULT_INTERVAL_US 5000 /* sys.getswitchinterval() == 0.005 */

/*
 * Note ids the module emits. A scene using it starts its own note table with
 * GIL_NOTE_WORDS and numbers its own notes from GIL_N_COUNT.
 */
enum gil_note {
    GIL_N_NONE,
    GIL_N_HOLDS,    /* thread lane, TRACE_RUN */
    GIL_N_WAITING,  /* thread lane, TRACE_READY */
    GIL_N_IO,       /* thread lane, TRACE_IO */
    GIL_N_NOGIL,    /* thread lane, TRACE_RUN, GIL_NONE */
    GIL_N_HELD_BY,  /* GIL lane, TRACE_RUN, arg: the holder */
    GIL_N_DROP_REQ, /* GIL lane, TRACE_RUN, arg: the holder being asked */
    GIL_N_FREE,     /* GIL lane, TRACE_IDLE, arg: the last holder */
    GIL_N_COUNT
};

#define GIL_NOTE_WORDS                                                                             \
    [GIL_N_NONE] = "", [GIL_N_HOLDS] = N_("holds the GIL"),                                        \
    [GIL_N_WAITING] = N_("waiting for the GIL"), [GIL_N_IO] = N_("blocked in I/O, GIL released"),  \
    [GIL_N_NOGIL] = N_("running, no GIL"), [GIL_N_HELD_BY] = N_("held by a thread"),               \
    [GIL_N_DROP_REQ] = N_("drop requested: the holder must hand it over"),                         \
    [GIL_N_FREE] = N_("free")

/* One thread's side: identity, lane, and its waits for the GIL. */
struct gil_thread {
    uint32_t id;  /* shown as the GIL lane's arg; unique among a GIL's threads */
    int lane;     /* the thread's state lane, -1 for none */
    unsigned cur; /* state word last emitted on lane (thread-private) */
    /* Written only by this thread (relaxed), read by anyone. */
    _Atomic uint64_t waits, wait_ns;
    struct hist wait; /* ns per wait for the GIL */
};

struct gil_config {
    enum gil_kind kind;
    bool process_shared;                /* mutexes and conditions across fork */
    int lane;                           /* the GIL lane, -1 for none */
    const _Atomic int64_t *interval_us; /* switch interval, read live; NULL: 5 ms */
    const _Atomic int *scale;           /* stretches the interval (slow motion); NULL: 1 */
};

struct gil {
    enum gil_kind kind;
    int lane;
    const _Atomic int64_t *interval_us;
    const _Atomic int *scale;
    /* GIL_NEW: guards locked and switch_number. GIL_OLD: the GIL itself. */
    pthread_mutex_t mutex;
    pthread_cond_t cond;
    pthread_mutex_t switch_mutex; /* GIL_NEW forced switching */
    pthread_cond_t switch_cond;
    _Atomic int locked;             /* GIL_NEW: written under mutex (relaxed) */
    _Atomic uint32_t last_holder;   /* id + 1; written under switch_mutex (relaxed) */
    _Atomic uint32_t holder;        /* id + 1 of the holder, 0 when free (checks) */
    _Atomic uint64_t switch_number; /* hand-offs to a different thread, under mutex */
    int ticker;                     /* GIL_OLD: touched only by the holder */
    uint64_t drop_t;                /* tick of the pending drop request, under mutex */
    unsigned lane_word;             /* last GIL-lane word and arg, under mutex */
    uint32_t lane_arg;
    bool lane_started;
    /* The eval breaker: set by a waiter, polled by the holder between bytecodes. */
    _Alignas(64) _Atomic int drop_request;
    /* Statistics, written by the holder or under mutex, read by anyone. */
    _Alignas(64) _Atomic uint64_t switches; /* hand-offs, first takes excluded */
    _Atomic uint64_t drop_requests;
    _Atomic uint32_t holders, max_holders; /* an independent witness of exclusion */
    _Atomic uint64_t handoff_max_ns;       /* drop request -> hand-off, worst */
    struct hist handoff;                   /* drop request -> hand-off, ns */
};

/* Set up a GIL (free); 0 or -errno. */
int gil_init(struct gil *g, const struct gil_config *cfg);
/* Destroy it (no thread may be using it). */
void gil_destroy(struct gil *g);
/* Set up a thread's side with its id and lane (-1 for none). */
void gil_thread_init(struct gil_thread *t, uint32_t id, int lane);

/* Take the GIL, waiting as the kind dictates; the lane ends in TRACE_RUN. */
void gil_take(struct gil *g, struct gil_thread *t);
/* Release the GIL for good (thread exit); the lane moves to `state` first. */
void gil_drop(struct gil *g, struct gil_thread *t, unsigned state);
/*
 * The eval-breaker check, called by the holder between bytecodes: if a drop
 * was requested (GIL_NEW) or the ticks ran out (GIL_OLD), hand the GIL over
 * and take it back. True if it let the GIL go.
 */
bool gil_check(struct gil *g, struct gil_thread *t);
/* Around a blocking call: release the GIL (lane TRACE_IO), then take it back. */
void gil_io_begin(struct gil *g, struct gil_thread *t);
void gil_io_end(struct gil *g, struct gil_thread *t);
/* Whether t holds the GIL right now (always false for GIL_NONE). */
bool gil_holds(const struct gil *g, const struct gil_thread *t);
/* The switch interval now in effect, in ns (scale included). */
uint64_t gil_interval_ns(const struct gil *g);

#endif
