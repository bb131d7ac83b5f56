/*
 * history: what the UI keeps of a run. Rings are drained into one bounded
 * buffer per lane (the oldest events are forgotten first, so memory stays
 * flat however long a scene runs), with running per-state totals.
 *
 * Owned by one thread (the UI or headless driver); not thread-safe.
 */
#ifndef CONCTUI_HISTORY_H
#define CONCTUI_HISTORY_H

#include <stddef.h>
#include <stdint.h>

#include "trace.h"

#define HISTORY_LANE_CAP 32768 /* events kept per live lane, a power of two */

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
/* Time in each state up to `now`, the open span included. */
void history_totals(const struct history_lane *l, uint64_t now, uint64_t out[TRACE_NSTATES]);

#endif
