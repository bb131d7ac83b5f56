/*
 * trace: the event record, per-lane rings and the step gate.
 *
 * Every worker reports its state transitions with trace_emit(). Each lane
 * owns one single-producer/single-consumer ring: the lane's worker writes,
 * the UI thread drains. The rings live in one MAP_SHARED mapping made before
 * any fork, so a child process emits with exactly the same call.
 */
#ifndef CONCTUI_TRACE_H
#define CONCTUI_TRACE_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* The shared state vocabulary; every scene maps its workers onto these. */
enum trace_state {
    TRACE_RUN = 0,   /* running on a CPU */
    TRACE_READY,     /* runnable: wants the CPU, the GIL or a lock */
    TRACE_LOCK,      /* blocked on a lock another worker holds */
    TRACE_IO,        /* blocked on I/O */
    TRACE_SLEEP,     /* sleeping / waiting for a timer */
    TRACE_KERNEL,    /* in the kernel / in flight (proactor, GPU) */
    TRACE_IDLE,      /* nothing to do, waiting on no one */
    TRACE_DONE,      /* finished */
    TRACE_WAIT,      /* waits for another worker: work, data, room or a result */
    TRACE_BARRIER,   /* at a barrier, until every member arrives */
    TRACE_CANCELLED, /* cancelled before it ran (a future, a task) */
    TRACE_FAILED,    /* finished with an error (raised, interrupted, died) */
    TRACE_NSTATES,
    TRACE_GAUGE = 15 /* gauge lanes only: arg is the value */
};

/* A state word: low 4 bits the state, the rest a scene-defined note id. */
#define TRACE_NOTE(n) ((unsigned)(n) << 4)
#define TRACE_STATE_OF(w) ((unsigned)(w)&0xfu)
#define TRACE_NOTE_OF(w) ((unsigned)(w) >> 4)

enum trace_lane_kind { TRACE_LANE_STATE, TRACE_LANE_GAUGE };

#define TRACE_MAX_LANES 64
#define TRACE_RING_SIZE 32768 /* events per lane ring, a power of two */
#define TRACE_NAME_MAX 24

/* One recorded transition. t is in raw clock ticks until drained. */
struct trace_event {
    uint64_t t;
    uint32_t arg;
    uint16_t state; /* TRACE_STATE | TRACE_NOTE */
    uint16_t lane;
};

/*
 * One lane's ring. head is written only by the lane's writer, tail only by
 * the drainer; they sit on separate cache lines so neither bounces.
 */
struct trace_ring {
    _Alignas(64) _Atomic uint64_t head;
    uint64_t tail_cache;      /* writer-private copy of tail */
    _Atomic uint64_t dropped; /* events lost to a full ring (writer only) */
    _Alignas(64) _Atomic uint64_t tail;
    _Alignas(64) struct trace_event ev[TRACE_RING_SIZE];
};

struct trace_lane_info {
    char name[TRACE_NAME_MAX];
    uint8_t kind;  /* enum trace_lane_kind */
    uint8_t group; /* lanes with the same non-zero group: one row when grouped (G) */
    uint32_t gauge_max;
};

/* Raw clock ticks (TSC where invariant, else CLOCK_MONOTONIC ns). */
uint64_t trace_ticks(void);
/* Duration in ns between two values returned by trace_emit/trace_ticks. */
uint64_t trace_dur_ns(uint64_t t0, uint64_t t1);
/* CLOCK_MONOTONIC now, in ns. */
uint64_t trace_now_ns(void);

/* Map the shared rings and gate; call once before any worker or fork. */
int trace_init(void);
/* Unmap everything (after every worker has stopped). */
void trace_shutdown(void);
/* Forget all lanes (between scene runs; no worker may be emitting). */
void trace_reset(void);
/* Declare a lane; returns its id or -1 when the table is full. */
int trace_lane_add(const char *name, enum trace_lane_kind kind, uint32_t gauge_max);
/*
 * The same, in a group from the start (a lane added while the run is drawn:
 * the drainer may see it at once).
 */
int trace_lane_add_group(const char *name, enum trace_lane_kind kind, uint32_t gauge_max,
                         unsigned group);
/* Put a lane in a group (G draws a group's lanes as one row), 0 for none. */
void trace_lane_group(int lane, unsigned group);
int trace_lane_count(void);
const struct trace_lane_info *trace_lane(int lane);

/* Record a transition of `lane` to `state`; returns the event's tick. */
uint64_t trace_emit(int lane, unsigned state, uint32_t arg);
/*
 * Record a transition that happened at t_ns (CLOCK_MONOTONIC), for work
 * timed elsewhere and reported afterwards (GPU blocks, OpenMP tiles). The
 * lane's single writer must keep its events in time order. Not gated.
 */
void trace_emit_at(int lane, unsigned state, uint32_t arg, uint64_t t_ns);

/* Drain up to max events of one lane, converted to monotonic ns. */
size_t trace_drain(int lane, struct trace_event *out, size_t max);
/* Total events dropped because rings were full. */
uint64_t trace_dropped(void);

/* The step gate: while frozen, workers stop in trace_emit before recording. */
void trace_freeze(bool on);
bool trace_frozen(void);
/* While frozen, let exactly one transition through. */
void trace_step(void);
/* Number of workers currently parked at the gate (gauge lanes never park). */
unsigned trace_parked(void);
/* Steps taken so far (tokens a worker took), and the lane of the last one (-1: none). */
uint32_t trace_steps(int *lane);
/*
 * For a source that is not gated (a program's sampler, which stops the
 * program itself): the tokens waiting, and taking one for the transition it
 * saw on `lane` at t_ns (false: there was none). The time of the last step
 * taken so (0 when a gated worker took it).
 */
uint32_t trace_step_pending(void);
bool trace_step_take(int lane, uint64_t t_ns);
uint64_t trace_step_time(void);

/* Throw a lane's pending events away unread (benchmarks). */
void trace__discard(int lane);
/* Convert a drained tick to ns (used by tests and the drainer). */
uint64_t trace__ticks_to_ns(uint64_t ticks);

#endif
