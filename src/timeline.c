#include "config.h"

#include "timeline.h"

#include <stdio.h>
#include <string.h>

void timeline_column(const struct tl_view *v, int c, uint64_t *a, uint64_t *b)
{
    uint64_t dt = v->ns_per_col ? v->ns_per_col : 1;
    *a = v->t_start + (uint64_t)c * dt;
    *b = *a + dt;
}

uint64_t timeline_live_start(uint64_t t0, uint64_t now, uint64_t ns_per_col, int width)
{
    uint64_t dt = ns_per_col ? ns_per_col : 1, k = now > t0 ? (now - t0) / dt : 0;
    return k + 1 > (uint64_t)width ? t0 + (k + 1 - (uint64_t)width) * dt : t0;
}

/*
 * Which state a column shows when it holds several. A short burst of work
 * must not vanish inside a column of waiting, and a short wait for a lock or
 * for I/O must not vanish inside a column of idling: running beats the
 * waits a lesson is about, which beat the states of having nothing to do.
 * States without a rank here sit between the two. Within a rank the longest
 * time wins. One exception: a wait of rank 2 that fills at least half the
 * column beats a run that fills less than half (see layout_choose).
 */
static int state_rank(unsigned st)
{
    switch (st) {
    case TRACE_RUN:
        return 3;
    case TRACE_READY:
    case TRACE_LOCK:
    case TRACE_IO:
    case TRACE_KERNEL:
        return 2;
    case TRACE_SLEEP:
    case TRACE_IDLE:
    case TRACE_DONE:
        return 0;
    default:
        return 1;
    }
}

/* The state a column with these durations shows (see state_rank), and its flags. */
static void layout_choose(const uint64_t dur[TRACE_NSTATES], const uint16_t notes[TRACE_NSTATES],
                          unsigned seen, struct tl_cell *cell)
{
    uint64_t all = 0;
    int found = 0, rank = 0;
    unsigned kinds = 0;
    cell->state = TRACE_IDLE;
    for (unsigned st = 0; st < TRACE_NSTATES; st++) {
        if (!(seen & (1u << st)))
            continue;
        kinds++;
        all += dur[st];
        int r = state_rank(st);
        if (found && (r < rank || (r == rank && dur[st] <= dur[cell->state])))
            continue;
        found = 1;
        rank = r;
        cell->state = (uint8_t)st;
        cell->note = notes[st];
    }
    if (!found)
        cell->flags |= TL_EMPTY; /* nothing took any time here */
    if (kinds > 1)
        cell->flags |= TL_MIXED;
    if (found && dur[cell->state] * 2 < all)
        cell->flags |= TL_PART;
    /*
     * A brief run inside a column a lesson's wait (I/O, a lock, the ready
     * queue, the kernel) fills more than half of: the wait is what happened
     * there, so it shows (a clerk blocked in write() between short bursts).
     */
    if (cell->state == TRACE_RUN && (cell->flags & TL_PART)) {
        for (unsigned st = 0; st < TRACE_NSTATES; st++) {
            if (state_rank(st) == 2 && dur[st] * 2 >= all) {
                cell->state = (uint8_t)st;
                cell->note = notes[st];
                cell->flags &= (uint8_t)~TL_PART;
                break;
            }
        }
    }
}

/*
 * The states of [a, b) starting from kept index i (the last event <= a), or
 * from the summary of forgotten events when i < 0 (a is before every kept event).
 */
static void layout_state(const struct history_lane *l, long i, uint64_t a, uint64_t b,
                         struct tl_cell *cell)
{
    uint64_t dur[TRACE_NSTATES] = {0};
    uint16_t notes[TRACE_NSTATES] = {0};
    size_t n = history_kept(l);
    unsigned seen = 0;
    if (i < 0) {
        if (history_summary_read(l, a, b, dur, NULL))
            for (unsigned st = 0; st < TRACE_NSTATES; st++)
                seen |= dur[st] ? 1u << st : 0;
        i = 0;
    }
    for (size_t k = (size_t)i; k < n; k++) {
        const struct trace_event *e = history_at(l, k);
        if (e->t >= b)
            break;
        uint64_t s = e->t > a ? e->t : a;
        uint64_t end = k + 1 < n ? history_at(l, k + 1)->t : b;
        if (end > b)
            end = b;
        unsigned st = TRACE_STATE_OF(e->state);
        if (e->t >= a)
            cell->value++;
        if (st >= TRACE_NSTATES || end <= s)
            continue;
        seen |= 1u << st;
        dur[st] += end - s;
        notes[st] = (uint16_t)TRACE_NOTE_OF(e->state);
    }
    layout_choose(dur, notes, seen, cell);
}

/* A gauge's peak over [a, b), from index i or, when i < 0, the summary first. */
static void layout_gauge(const struct history_lane *l, long i, uint64_t a, uint64_t b,
                         struct tl_cell *cell)
{
    size_t n = history_kept(l);
    uint32_t peak = 0;
    int any = 0;
    if (i < 0) {
        any = history_summary_read(l, a, b, NULL, &peak);
        i = 0;
    }
    for (size_t k = (size_t)i; k < n; k++) {
        const struct trace_event *e = history_at(l, k);
        if (e->t >= b)
            break;
        any = 1;
        if (e->arg > peak)
            peak = e->arg;
    }
    cell->state = TRACE_GAUGE;
    cell->value = peak;
    if (!any)
        cell->flags |= TL_EMPTY;
}

/*
 * Index of the last event at or before a, starting from a hint that was
 * right for an earlier time: walk forward a little, else binary search.
 */
static long find_from(const struct history_lane *l, long hint, uint64_t a)
{
    size_t n = history_kept(l);
    if (hint < 0 || (size_t)hint >= n || history_at(l, (size_t)hint)->t > a)
        return history_find(l, a);
    for (int step = 0; step < 16; step++) {
        if ((size_t)hint + 1 >= n || history_at(l, (size_t)hint + 1)->t > a)
            return hint;
        hint++;
    }
    return history_find(l, a);
}

void timeline_layout(const struct history_lane *l, const struct tl_view *v, struct tl_cell *out)
{
    long hint = -1;
    for (int c = 0; c < v->width; c++) {
        struct tl_cell *cell = &out[c];
        memset(cell, 0, sizeof *cell);
        uint64_t a, b;
        timeline_column(v, c, &a, &b);
        if (a >= v->now) {
            cell->flags |= TL_EMPTY;
            continue;
        }
        if (b > v->now)
            b = v->now;
        /* i < 0: the column begins before the oldest kept event (the lane began, or
         * its older events were forgotten and summarised, inside or before it). */
        long i = find_from(l, hint, a);
        hint = i;
        if (l->kind == TRACE_LANE_GAUGE)
            layout_gauge(l, i, a, b, cell);
        else
            layout_state(l, i, a, b, cell);
    }
}

uint64_t timeline_zoom_step(uint64_t ns, int dir)
{
    static const uint64_t steps[] = {1, 2, 5};
    uint64_t lo = 1000, hi = 10000000000ull; /* 1 us .. 10 s per column */
    uint64_t best;
    /* Snap to the 1-2-5 ladder, then move one rung. */
    uint64_t ladder[64];
    int n = 0;
    for (uint64_t dec = lo; dec <= hi && n < 60; dec *= 10)
        for (int k = 0; k < 3 && dec * steps[k] <= hi; k++)
            ladder[n++] = dec * steps[k];
    int at = 0;
    for (int k = 0; k < n; k++)
        if (ladder[k] <= ns)
            at = k;
    at += dir > 0 ? 1 : dir < 0 ? -1 : 0;
    if (at < 0)
        at = 0;
    if (at >= n)
        at = n - 1;
    best = ladder[at];
    return best;
}

void timeline_fmt_ns(char *buf, unsigned len, uint64_t ns)
{
    static const struct {
        uint64_t div;
        const char *unit;
    } u[] = {{1000000000ull, "s"}, {1000000ull, "ms"}, {1000ull, "us"}, {1, "ns"}};
    if (ns == 0) {
        snprintf(buf, len, "0s");
        return;
    }
    for (unsigned i = 0; i < 4; i++) {
        if (ns >= u[i].div || u[i].div == 1) {
            double x = (double)ns / (double)u[i].div;
            if (x == (double)(uint64_t)x)
                snprintf(buf, len, "%llu%s", (unsigned long long)x, u[i].unit);
            else if (x < 100)
                snprintf(buf, len, "%.3g%s", x, u[i].unit);
            else
                snprintf(buf, len, "%.0f%s", x, u[i].unit);
            return;
        }
    }
}

/* A label's text: t in the unit u (ns in one), with the decimals the step needs. */
static int axis_text(char *buf, unsigned len, uint64_t t, uint64_t step, uint64_t u,
                     const char *unit)
{
    unsigned d = 0;
    uint64_t scale = 1;
    while (d < 9 && (step * scale) % u != 0) {
        d++;
        scale *= 10;
    }
    if (d == 0)
        return snprintf(buf, len, "%llu%s", (unsigned long long)(t / u), unit);
    uint64_t frac = (t % u) * scale / u;
    return snprintf(buf, len, "%llu.%0*llu%s", (unsigned long long)(t / u), (int)d,
                    (unsigned long long)frac, unit);
}

void timeline_axis_text(char *buf, unsigned len, uint64_t t, uint64_t step)
{
    if (step >= 1000000ull)
        axis_text(buf, len, t, step, 1000000000ull, "s");
    else if (step >= 1000ull)
        axis_text(buf, len, t, step, 1000000ull, "ms");
    else
        axis_text(buf, len, t, step, 1000ull, "us");
}

int timeline_axis(const struct tl_view *v, uint64_t t0, struct tl_label *out, int max)
{
    uint64_t dt = v->ns_per_col ? v->ns_per_col : 1;
    uint64_t first = v->t_start > t0 ? v->t_start - t0 : 0;
    uint64_t last = first + dt * (uint64_t)(v->width > 0 ? v->width : 1);
    /* The smallest 1-2-5 step, a whole number of columns, that leaves room for the widest label. */
    uint64_t step = 0;
    for (uint64_t dec = 1; dec <= 100000000000000ull && !step; dec *= 10) {
        static const uint64_t m[] = {1, 2, 5};
        for (int k = 0; k < 3 && !step; k++) {
            uint64_t s = dec * m[k];
            if (s % dt || s / dt < 4)
                continue;
            char buf[TL_LABEL_MAX];
            int w = 0;
            timeline_axis_text(buf, sizeof buf, last / s * s, s);
            w = (int)strlen(buf);
            if (s / dt >= (uint64_t)w + 2)
                step = s;
        }
    }
    if (!step)
        return 0;
    int n = 0;
    for (uint64_t t = (first + step - 1) / step * step; t < last && n < max; t += step) {
        out[n].col = (int)((t - first) / dt);
        timeline_axis_text(out[n].text, sizeof out[n].text, t, step);
        n++;
    }
    return n;
}

void timeline_merge(struct tl_cell *into, const struct tl_cell *from, int width)
{
    for (int c = 0; c < width; c++) {
        struct tl_cell *a = &into[c];
        const struct tl_cell *b = &from[c];
        if (b->flags & TL_EMPTY || b->state == TRACE_GAUGE)
            continue;
        if (a->flags & TL_EMPTY) {
            *a = *b;
            continue;
        }
        int ra = state_rank(a->state), rb = state_rank(b->state);
        /* A whole cell beats a part of one of the same rank. */
        bool take = rb > ra || (rb == ra && (a->flags & TL_PART) && !(b->flags & TL_PART));
        uint32_t moves = a->value + b->value;
        if (take || a->state != b->state) {
            if (take)
                *a = *b;
            a->flags |= TL_MIXED;
        }
        a->value = moves;
    }
}
