#include "config.h"

#include "history.h"

#include <stdbool.h>
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
    for (int i = 0; i < h->nlanes; i++) {
        free(h->lane[i].ev);
        free(h->lane[i].sum.b);
    }
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

static unsigned sum_shift(int k)
{
    return HISTORY_SUM_SHIFT + 2u * (unsigned)k;
}

static struct history_bucket *sum_at(const struct history_summary *s, int k, uint64_t j)
{
    return &s->b[(size_t)k * HISTORY_SUM_BUCKETS + (j & (HISTORY_SUM_BUCKETS - 1))];
}

/* Move level k's newest bucket up to j, clearing the buckets it reuses. */
static void sum_advance(struct history_summary *s, int k, uint64_t j)
{
    uint64_t from = s->newest[k]; /* the first bucket index not yet in use */
    if (from > j)
        return;
    /* A level's first use finds its buckets zeroed by calloc; later, only reused ones are cleared.
     */
    if (from > 0) {
        if (j + 1 - from > HISTORY_SUM_BUCKETS)
            from = j + 1 - HISTORY_SUM_BUCKETS;
        for (uint64_t x = from; x <= j; x++)
            memset(sum_at(s, k, x), 0, sizeof(struct history_bucket));
    }
    s->newest[k] = j + 1;
}

/* A forgotten span [t0, t1) in state st (a gauge: value arg) goes into every level. */
static void sum_add(struct history_lane *l, unsigned st, uint32_t arg, uint64_t t0, uint64_t t1)
{
    struct history_summary *s = &l->sum;
    bool gauge = l->kind == TRACE_LANE_GAUGE;
    if (!gauge && (st >= TRACE_NSTATES || t1 <= t0))
        return;
    for (int k = 0; k < HISTORY_SUM_LEVELS; k++) {
        unsigned sh = sum_shift(k);
        uint64_t j0 = t0 >> sh, j1 = (t1 > t0 ? t1 - 1 : t0) >> sh;
        sum_advance(s, k, j1);
        if (j1 - j0 >= HISTORY_SUM_BUCKETS)
            j0 = j1 - HISTORY_SUM_BUCKETS + 1;
        for (uint64_t j = j0; j <= j1; j++) {
            struct history_bucket *b = sum_at(s, k, j);
            if (gauge) {
                if (arg > b->v[0])
                    b->v[0] = arg;
                continue;
            }
            uint64_t lo = j << sh, hi = lo + (1ull << sh);
            uint64_t ov = (t1 < hi ? t1 : hi) - (t0 > lo ? t0 : lo);
            uint64_t unit = 1ull << (2u * (unsigned)k);
            uint64_t add = (ov + unit - 1) / unit;
            b->v[st] = b->v[st] + add > UINT32_MAX ? UINT32_MAX : b->v[st] + (uint32_t)add;
        }
    }
}

/* The oldest kept event is about to be overwritten: summarise its span first. */
static void forget_oldest(struct history_lane *l)
{
    const struct trace_event *old = history_at(l, 0), *next = history_at(l, 1);
    struct history_summary *s = &l->sum;
    if (!s->b) {
        s->b = calloc((size_t)HISTORY_SUM_LEVELS * HISTORY_SUM_BUCKETS, sizeof *s->b);
        s->from = old->t;
    }
    if (s->b)
        sum_add(l, TRACE_STATE_OF(old->state), old->arg, old->t, next->t);
    s->until = next->t;
    l->first++;
}

int history_summary_read(const struct history_lane *l, uint64_t a, uint64_t b,
                         uint64_t dur[TRACE_NSTATES], uint32_t *peak)
{
    const struct history_summary *s = &l->sum;
    if (!s->b || b > s->until)
        b = s->until;
    if (!s->b || a < s->from)
        a = s->from;
    if (a >= b)
        return 0;
    /* The finest level that still holds a, with at most 32 of its buckets in [a, b). */
    int k = 0;
    for (; k < HISTORY_SUM_LEVELS - 1; k++) {
        unsigned sh = sum_shift(k);
        if (s->newest[k] >= HISTORY_SUM_BUCKETS && (a >> sh) < s->newest[k] - HISTORY_SUM_BUCKETS)
            continue;
        if (((b - 1) >> sh) - (a >> sh) < 32)
            break;
    }
    unsigned sh = sum_shift(k);
    uint64_t j0 = a >> sh, j1 = (b - 1) >> sh;
    if (s->newest[k] >= HISTORY_SUM_BUCKETS && j0 < s->newest[k] - HISTORY_SUM_BUCKETS)
        j0 = s->newest[k] - HISTORY_SUM_BUCKETS;
    int any = 0;
    for (uint64_t j = j0; j <= j1 && j < s->newest[k]; j++) {
        const struct history_bucket *bk = sum_at(s, k, j);
        uint64_t lo = j << sh, hi = lo + (1ull << sh);
        uint64_t ov = (b < hi ? b : hi) - (a > lo ? a : lo);
        if (l->kind == TRACE_LANE_GAUGE) {
            if (peak && bk->v[0] > *peak)
                *peak = bk->v[0];
            any = 1;
            continue;
        }
        for (unsigned st = 0; st < TRACE_NSTATES; st++) {
            if (!bk->v[st])
                continue;
            /* This column's share of the bucket's time in st, at least 1 ns. */
            uint64_t t = (uint64_t)bk->v[st] << (2u * (unsigned)k);
            uint64_t part = (uint64_t)((double)t * (double)ov / (double)(hi - lo));
            dur[st] += part ? part : 1;
            any = 1;
        }
    }
    return any;
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
        forget_oldest(l);
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
