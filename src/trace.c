/*
 * DESIGN: who touches what.
 *
 * One MAP_SHARED|MAP_ANONYMOUS mapping (struct trace_shm) holds the lane
 * table, one ring per lane and the step gate. It is made once by
 * trace_init() in the parent before any thread or fork, so threads and forked
 * children address it identically and no named object is ever left behind.
 *
 * Writers: exactly one emitter at a time per lane (a thread, a child process,
 * or several threads serialised by a lock the scene holds). The emit path
 * reads the clock, writes the slot and publishes head with a release store;
 * it never locks, allocates or enters the kernel (the gate is a relaxed load
 * of a read-mostly word; it parks only when the user froze the workers).
 *
 * Reader: the UI thread alone drains (trace_drain), converting raw ticks to
 * CLOCK_MONOTONIC ns with anchors it takes itself.
 *
 * Shutdown: scenes stop their workers (which must first unfreeze the gate),
 * then trace_reset()/trace_shutdown() run with no emitter left.
 */
#include "config.h"

#include "trace.h"

#include "futex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <time.h>
#include <unistd.h>

#if defined(__x86_64__) || defined(__i386__)
#include <cpuid.h>
#include <x86intrin.h>
#define TRACE_HAVE_TSC 1
#else
#define TRACE_HAVE_TSC 0
#endif

#define RING_MASK (TRACE_RING_SIZE - 1)
#define LANE_NS 0x8000u /* event's t is already CLOCK_MONOTONIC ns */

struct trace_gate {
    /* Read on every emit, written only when the user freezes or steps. */
    _Alignas(64) _Atomic uint32_t frozen;
    _Atomic uint32_t tokens;    /* transitions allowed through while frozen */
    _Atomic uint32_t seq;       /* futex word: bumped on every gate change */
    _Atomic uint32_t parked;    /* workers waiting at the gate */
    _Atomic uint32_t steps;     /* tokens taken: transitions let through while frozen */
    _Atomic int32_t stepped;    /* the lane of the last one */
    _Atomic uint64_t stepped_t; /* its time, when a sampler took it (0: a worker did) */
};

struct trace_shm {
    struct trace_gate gate;
    int use_tsc;
    /* Written by the drainer as calibration improves, read by any worker. */
    _Atomic double ns_per_tick;
    _Atomic int nlanes;
    struct trace_lane_info lanes[TRACE_MAX_LANES];
    struct trace_ring rings[TRACE_MAX_LANES];
};

static struct trace_shm *shm;

/* Tick → ns anchors, drainer-private: (ticks, ns) pairs read together. */
#define NANCHORS 16
static struct {
    uint64_t tk, ns;
} anchors[NANCHORS];
static unsigned nanchor; /* total anchors taken; newest is (nanchor-1)%N */

static uint64_t mono_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

uint64_t trace_now_ns(void)
{
    return mono_ns();
}

static inline uint64_t ticks(void)
{
#if TRACE_HAVE_TSC
    if (shm->use_tsc)
        return __rdtsc();
#endif
    return mono_ns();
}

uint64_t trace_ticks(void)
{
    return ticks();
}

static inline double slope(void)
{
    return atomic_load_explicit(&shm->ns_per_tick, memory_order_relaxed);
}

uint64_t trace_dur_ns(uint64_t t0, uint64_t t1)
{
    if (t1 <= t0)
        return 0;
    return (uint64_t)((double)(t1 - t0) * slope());
}

/* The TSC is usable only when invariant and the kernel itself trusts it. */
static int tsc_usable(void)
{
#if TRACE_HAVE_TSC
    const char *force = getenv("CONCTUI_CLOCK");
    if (force && strcmp(force, "monotonic") == 0)
        return 0;
    unsigned a, b, c, d;
    if (!__get_cpuid(0x80000007, &a, &b, &c, &d) || !(d & (1u << 8)))
        return 0;
    FILE *f = fopen("/sys/devices/system/clocksource/clocksource0/current_clocksource", "r");
    if (!f)
        return 0;
    char src[32] = "";
    int ok = fgets(src, sizeof src, f) && strncmp(src, "tsc", 3) == 0;
    fclose(f);
    return ok;
#else
    return 0;
#endif
}

/*
 * Read ticks and ns as close together as we can: the midpoint of two tick
 * reads around the clock read, keeping the tightest of a few tries so a
 * preemption in the middle cannot skew the mapping.
 */
static void anchor_read(uint64_t *tk, uint64_t *ns)
{
    uint64_t best = UINT64_MAX;
    *tk = *ns = 0;
    for (int i = 0; i < 5; i++) {
        uint64_t a = ticks(), n = mono_ns(), b = ticks();
        if (b - a < best) {
            best = b - a;
            *tk = a + (b - a) / 2;
            *ns = n;
        }
    }
}

static void anchor_take(void)
{
    uint64_t tk, ns;
    anchor_read(&tk, &ns);
    unsigned i = nanchor % NANCHORS;
    anchors[i].tk = tk;
    anchors[i].ns = ns;
    nanchor++;
    if (nanchor > 1 && shm->use_tsc) {
        /* The longest baseline we still hold gives the best slope. */
        unsigned old = nanchor > NANCHORS ? nanchor % NANCHORS : 0;
        if (tk > anchors[old].tk && ns > anchors[old].ns)
            atomic_store_explicit(&shm->ns_per_tick,
                                  (double)(ns - anchors[old].ns) / (double)(tk - anchors[old].tk),
                                  memory_order_relaxed);
    }
}

uint64_t trace__ticks_to_ns(uint64_t x)
{
    if (!shm->use_tsc)
        return x;
    unsigned n = nanchor < NANCHORS ? nanchor : NANCHORS;
    /* Walk from the newest anchor back to the segment holding x. */
    for (unsigned k = 0; k < n; k++) {
        unsigned i = (nanchor - 1 - k) % NANCHORS;
        if (anchors[i].tk > x)
            continue;
        if (k == 0)
            return anchors[i].ns + (uint64_t)((double)(x - anchors[i].tk) * slope());
        unsigned j = (i + 1) % NANCHORS;
        double f = (double)(x - anchors[i].tk) / (double)(anchors[j].tk - anchors[i].tk);
        return anchors[i].ns + (uint64_t)(f * (double)(anchors[j].ns - anchors[i].ns));
    }
    unsigned o = (nanchor - n) % NANCHORS;
    uint64_t back = (uint64_t)((double)(anchors[o].tk - x) * slope());
    return back < anchors[o].ns ? anchors[o].ns - back : 0;
}

int trace_init(void)
{
    if (shm)
        return 0;
    void *p = mmap(NULL, sizeof *shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    if (p == MAP_FAILED)
        return -errno;
    shm = p;
    shm->use_tsc = tsc_usable();
    atomic_store_explicit(&shm->ns_per_tick, 1.0, memory_order_relaxed);
    nanchor = 0;
    anchor_take();
    if (shm->use_tsc) {
        /* A short first baseline; later anchors refine it while running. */
        struct timespec d = {0, 5000000};
        nanosleep(&d, NULL);
        anchor_take();
    }
    return 0;
}

void trace_shutdown(void)
{
    if (!shm)
        return;
    munmap(shm, sizeof *shm);
    shm = NULL;
}

void trace_reset(void)
{
    int n = atomic_load_explicit(&shm->nlanes, memory_order_relaxed);
    for (int i = 0; i < n; i++) {
        struct trace_ring *r = &shm->rings[i];
        atomic_store_explicit(&r->head, 0, memory_order_relaxed);
        atomic_store_explicit(&r->tail, 0, memory_order_relaxed);
        atomic_store_explicit(&r->dropped, 0, memory_order_relaxed);
        r->tail_cache = 0;
    }
    memset(shm->lanes, 0, sizeof shm->lanes);
    atomic_store_explicit(&shm->nlanes, 0, memory_order_relaxed);
}

int trace_lane_add(const char *name, enum trace_lane_kind kind, uint32_t gauge_max)
{
    return trace_lane_add_group(name, kind, gauge_max, 0);
}

int trace_lane_add_group(const char *name, enum trace_lane_kind kind, uint32_t gauge_max,
                         unsigned group)
{
    int n = atomic_load_explicit(&shm->nlanes, memory_order_relaxed);
    if (n >= TRACE_MAX_LANES)
        return -1;
    struct trace_lane_info *l = &shm->lanes[n];
    snprintf(l->name, sizeof l->name, "%s", name);
    l->kind = (uint8_t)kind;
    l->group = (uint8_t)group;
    l->gauge_max = gauge_max ? gauge_max : 1;
    /* Release: a drainer that sees the new count sees the lane's name. */
    atomic_store_explicit(&shm->nlanes, n + 1, memory_order_release);
    return n;
}

void trace_lane_group(int lane, unsigned group)
{
    if (lane >= 0 && lane < TRACE_MAX_LANES)
        shm->lanes[lane].group = (uint8_t)group;
}

int trace_lane_count(void)
{
    return shm ? atomic_load_explicit(&shm->nlanes, memory_order_acquire) : 0;
}

const struct trace_lane_info *trace_lane(int lane)
{
    return &shm->lanes[lane];
}

static void gate_pass(struct trace_gate *g, int lane)
{
    atomic_fetch_add_explicit(&g->parked, 1, memory_order_relaxed);
    for (;;) {
        /* Acquire pairs with the release bump in freeze/step. */
        uint32_t seq = atomic_load_explicit(&g->seq, memory_order_acquire);
        if (!atomic_load_explicit(&g->frozen, memory_order_relaxed))
            break;
        uint32_t tok = atomic_load_explicit(&g->tokens, memory_order_relaxed);
        if (tok > 0 && atomic_compare_exchange_weak_explicit(
                           &g->tokens, &tok, tok - 1, memory_order_acq_rel, memory_order_relaxed)) {
            atomic_store_explicit(&g->stepped, lane, memory_order_relaxed);
            atomic_store_explicit(&g->stepped_t, 0, memory_order_relaxed);
            /* Release: whoever sees the new count sees the lane. */
            atomic_fetch_add_explicit(&g->steps, 1, memory_order_release);
            break;
        }
        futex_wait(&g->seq, seq, 0);
    }
    atomic_fetch_sub_explicit(&g->parked, 1, memory_order_relaxed);
}

/* Append one event to a lane's ring; the writer's half of the SPSC protocol. */
static inline void ring_put(int lane, uint64_t t, unsigned state, uint32_t arg, unsigned flags)
{
    struct trace_ring *r = &shm->rings[lane];
    uint64_t h = atomic_load_explicit(&r->head, memory_order_relaxed);
    if (__builtin_expect(h - r->tail_cache >= TRACE_RING_SIZE, 0)) {
        /* Acquire pairs with the drainer's release of tail: slots are free. */
        r->tail_cache = atomic_load_explicit(&r->tail, memory_order_acquire);
        if (h - r->tail_cache >= TRACE_RING_SIZE) {
            uint64_t d = atomic_load_explicit(&r->dropped, memory_order_relaxed);
            atomic_store_explicit(&r->dropped, d + 1, memory_order_relaxed);
            return;
        }
    }
    struct trace_event *e = &r->ev[h & RING_MASK];
    e->t = t;
    e->arg = arg;
    e->state = (uint16_t)state;
    e->lane = (uint16_t)((unsigned)lane | flags);
    /* Release: the drainer that sees head+1 sees the slot written. */
    atomic_store_explicit(&r->head, h + 1, memory_order_release);
}

uint64_t trace_emit(int lane, unsigned state, uint32_t arg)
{
    /*
     * Relaxed: a worker that misses a freeze by one event is harmless. Gauges
     * (samplers, not workers) are not held: a step always moves a worker.
     */
    if (__builtin_expect(atomic_load_explicit(&shm->gate.frozen, memory_order_relaxed), 0) &&
        shm->lanes[lane].kind != TRACE_LANE_GAUGE)
        gate_pass(&shm->gate, lane);
    uint64_t t = ticks();
    ring_put(lane, t, state, arg, 0);
    return t;
}

void trace_emit_at(int lane, unsigned state, uint32_t arg, uint64_t t_ns)
{
    ring_put(lane, t_ns, state, arg, LANE_NS);
}

size_t trace_drain(int lane, struct trace_event *out, size_t max)
{
    struct trace_ring *r = &shm->rings[lane];
    if (lane == 0 || nanchor == 0)
        anchor_take();
    uint64_t tail = atomic_load_explicit(&r->tail, memory_order_relaxed);
    uint64_t head = atomic_load_explicit(&r->head, memory_order_acquire);
    size_t n = 0;
    while (tail != head && n < max) {
        out[n] = r->ev[tail & RING_MASK];
        if (out[n].lane & LANE_NS)
            out[n].lane &= (uint16_t)~LANE_NS;
        else
            out[n].t = trace__ticks_to_ns(out[n].t);
        n++;
        tail++;
    }
    /* Release: the writer that sees this tail may reuse the slots read. */
    atomic_store_explicit(&r->tail, tail, memory_order_release);
    return n;
}

void trace__discard(int lane)
{
    struct trace_ring *r = &shm->rings[lane];
    atomic_store_explicit(&r->tail, atomic_load_explicit(&r->head, memory_order_acquire),
                          memory_order_release);
}

uint64_t trace_dropped(void)
{
    uint64_t sum = 0;
    int n = trace_lane_count();
    for (int i = 0; i < n; i++)
        sum += atomic_load_explicit(&shm->rings[i].dropped, memory_order_relaxed);
    return sum;
}

static void gate_bump(struct trace_gate *g)
{
    atomic_fetch_add_explicit(&g->seq, 1, memory_order_release);
    futex_wake_all(&g->seq);
}

void trace_freeze(bool on)
{
    struct trace_gate *g = &shm->gate;
    atomic_store_explicit(&g->tokens, 0, memory_order_relaxed);
    atomic_store_explicit(&g->frozen, on, memory_order_relaxed);
    gate_bump(g);
}

bool trace_frozen(void)
{
    return atomic_load_explicit(&shm->gate.frozen, memory_order_relaxed);
}

void trace_step(void)
{
    struct trace_gate *g = &shm->gate;
    atomic_fetch_add_explicit(&g->tokens, 1, memory_order_relaxed);
    gate_bump(g);
}

uint32_t trace_step_pending(void)
{
    return atomic_load_explicit(&shm->gate.tokens, memory_order_relaxed);
}

bool trace_step_take(int lane, uint64_t t_ns)
{
    struct trace_gate *g = &shm->gate;
    uint32_t tok = atomic_load_explicit(&g->tokens, memory_order_relaxed);
    while (tok > 0) {
        if (atomic_compare_exchange_weak_explicit(&g->tokens, &tok, tok - 1, memory_order_acq_rel,
                                                  memory_order_relaxed)) {
            atomic_store_explicit(&g->stepped, lane, memory_order_relaxed);
            atomic_store_explicit(&g->stepped_t, t_ns, memory_order_relaxed);
            atomic_fetch_add_explicit(&g->steps, 1, memory_order_release);
            return true;
        }
    }
    return false;
}

uint64_t trace_step_time(void)
{
    return atomic_load_explicit(&shm->gate.steps, memory_order_acquire)
               ? atomic_load_explicit(&shm->gate.stepped_t, memory_order_relaxed)
               : 0;
}

unsigned trace_parked(void)
{
    return atomic_load_explicit(&shm->gate.parked, memory_order_relaxed);
}

uint32_t trace_steps(int *lane)
{
    uint32_t n = atomic_load_explicit(&shm->gate.steps, memory_order_acquire);
    if (lane)
        *lane = n ? atomic_load_explicit(&shm->gate.stepped, memory_order_relaxed) : -1;
    return n;
}
