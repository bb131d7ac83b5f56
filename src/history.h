/*
 * history: what the UI keeps of a run. Rings are drained into one bounded
 * buffer per lane (the oldest events are forgotten first, so memory stays
 * flat however long a scene runs), with running per-state totals.
 *
 * What a lane forgets goes into its summary: the time it spent in each state
 * per time bucket, at twelve resolutions (65.5 us buckets, then each level
 * four times coarser, up to 4.6 minutes), each a ring of the latest 512
 * buckets before the oldest event still kept. A view of the recent past gets
 * buckets about as fine as its columns, one of the distant past coarse ones,
 * and no lane goes blank however fast it emits.
 *
 * Owned by one thread (the UI or headless driver); not thread-safe.
 */
#ifndef CONCTUI_HISTORY_H
#define CONCTUI_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

#define HISTORY_LANE_CAP 32768 /* events kept per live lane, a power of two */
#define HISTORY_SUM_LEVELS 12
#define HISTORY_SUM_BUCKETS 512 /* per level, a power of two */
#define HISTORY_SUM_SHIFT 16    /* level 0 buckets are 2^16 ns; each level is 4 times wider */

/* A bucket: time per state in units of its width / 2^16 (rounded up); gauges: the peak in v[0]. */
struct history_bucket {
    uint32_t v[TRACE_NSTATES];
};

struct history_summary {
    struct history_bucket *b;            /* LEVELS x BUCKETS, allocated when first needed */
    uint64_t newest[HISTORY_SUM_LEVELS]; /* each level's newest bucket index, plus one (0: none) */
    uint64_t from, until;                /* the forgotten events covered [from, until) */
};

struct history_lane {
    char name[TRACE_NAME_MAX];
    uint8_t kind, group;
    uint32_t gauge_max;
    struct trace_event *ev;         /* ring of cap events */
    uint64_t cap;                   /* a power of two */
    uint64_t first, count;          /* absolute index of the oldest kept, total appended */
    uint64_t totals[TRACE_NSTATES]; /* ns spent per state, closed spans only */
    uint64_t transitions;
    struct trace_event last;
    struct history_summary sum; /* what was forgotten, per time bucket */
};

struct history;
/* Called for every event appended (a recorder listens here). */
typedef void (*history_sink)(void *arg, int lane, const struct trace_event *e);

struct history {
    int nlanes;
    history_sink sink;
    void *sink_arg;
    uint64_t t0;    /* scene start, ns */
    uint64_t t_end; /* latest time the history covers (last drain) */
    uint64_t events;
    struct history_lane lane[TRACE_MAX_LANES];
};

/* Start an empty history at time t0 (ns). */
void history_init(struct history *h, uint64_t t0);
void history_free(struct history *h);
/* Add a lane keeping up to cap events (0: HISTORY_LANE_CAP); its index or -1. */
int history_lane_add(struct history *h, const char *name, unsigned kind, unsigned group,
                     uint32_t gauge_max, uint64_t cap);
/* Append one event to a lane (timestamps are clamped to stay monotonic). */
void history_append(struct history *h, int lane, const struct trace_event *e);
/* Drain every trace ring into the history; now is the drain time in ns. */
size_t history_drain(struct history *h, uint64_t now);
/* Number of events kept for a lane, and the i-th oldest of them. */
static inline size_t history_kept(const struct history_lane *l)
{
    return (size_t)(l->count - l->first);
}
static inline const struct trace_event *history_at(const struct history_lane *l, size_t i)
{
    return &l->ev[(l->first + i) & (l->cap - 1)];
}
/* Index (in kept order) of the last event at or before t, or -1. */
long history_find(const struct history_lane *l, uint64_t t);
/*
 * What the summary says of [a, b) (before the oldest kept event): time per
 * state added to dur (a state present at all gets at least 1 ns), and for a
 * gauge the peak. Returns 0 when the summary has nothing there.
 */
int history_summary_read(const struct history_lane *l, uint64_t a, uint64_t b,
                         uint64_t dur[TRACE_NSTATES], uint32_t *peak);
/* Time in each state up to `now`, the open span included. */
void history_totals(const struct history_lane *l, uint64_t now, uint64_t out[TRACE_NSTATES]);

#endif
