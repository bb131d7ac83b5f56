#include "config.h"

#include "history.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void history_init(struct history *h, uint64_t t0)
{
    memset(h, 0, sizeof *h);
    h->t0 = t0;
    h->t_end = t0;
}

void history_free(struct history *h)
{
    for (int i = 0; i < h->nlanes; i++)
        free(h->lane[i].ev);
    h->nlanes = 0;
}

int history_lane_add(struct history *h, const char *name, unsigned kind, unsigned group,
                     uint32_t gauge_max, uint64_t cap)
{
    uint64_t c = 16;
    while (c < (cap ? cap : HISTORY_LANE_CAP))
        c <<= 1;
    if (h->nlanes >= TRACE_MAX_LANES)
        return -1;
    struct history_lane *l = &h->lane[h->nlanes];
    memset(l, 0, sizeof *l);
    l->ev = malloc(c * sizeof *l->ev);
    if (!l->ev)
        return -1;
    l->cap = c;
    snprintf(l->name, sizeof l->name, "%s", name);
    l->kind = (uint8_t)kind;
    l->group = (uint8_t)group;
    l->gauge_max = gauge_max ? gauge_max : 1;
    return h->nlanes++;
}

void history_append(struct history *h, int lane, const struct trace_event *e)
{
    struct history_lane *l = &h->lane[lane];
    struct trace_event ev = *e;
    if (l->count > 0) {
        if (ev.t < l->last.t)
            ev.t = l->last.t;
        unsigned s = TRACE_STATE_OF(l->last.state);
        if (s < TRACE_NSTATES)
            l->totals[s] += ev.t - l->last.t;
        if (TRACE_STATE_OF(ev.state) != s)
            l->transitions++;
    } else {
        l->transitions++;
    }
    if (l->count - l->first == l->cap)
        l->first++;
    l->ev[l->count & (l->cap - 1)] = ev;
    l->count++;
    l->last = ev;
    h->events++;
    if (ev.t > h->t_end)
        h->t_end = ev.t;
    if (h->sink)
        h->sink(h->sink_arg, lane, &ev);
}

size_t history_drain(struct history *h, uint64_t now)
{
    struct trace_event buf[512];
    size_t total = 0;
    int n = trace_lane_count();
    for (int i = h->nlanes; i < n; i++) {
        const struct trace_lane_info *li = trace_lane(i);
        history_lane_add(h, li->name, li->kind, li->group, li->gauge_max, 0);
    }
    for (int i = 0; i < n && i < h->nlanes; i++) {
        size_t got;
        while ((got = trace_drain(i, buf, sizeof buf / sizeof buf[0])) > 0) {
            for (size_t k = 0; k < got; k++)
                history_append(h, i, &buf[k]);
            total += got;
        }
    }
    if (now > h->t_end)
        h->t_end = now;
    return total;
}

long history_find(const struct history_lane *l, uint64_t t)
{
    size_t n = history_kept(l);
    if (n == 0 || history_at(l, 0)->t > t)
        return -1;
    size_t lo = 0, hi = n; /* invariant: ev[lo].t <= t, answer in [lo, hi) */
    while (hi - lo > 1) {
        size_t mid = lo + (hi - lo) / 2;
        if (history_at(l, mid)->t <= t)
            lo = mid;
        else
            hi = mid;
    }
    return (long)lo;
}

void history_totals(const struct history_lane *l, uint64_t now, uint64_t out[TRACE_NSTATES])
{
    memcpy(out, l->totals, sizeof l->totals);
    if (l->count > 0 && now > l->last.t) {
        unsigned s = TRACE_STATE_OF(l->last.state);
        if (s < TRACE_NSTATES)
            out[s] += now - l->last.t;
    }
}
