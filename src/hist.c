#include "config.h"

#include "hist.h"

#include <stdlib.h>
#include <string.h>

#define RLX memory_order_relaxed

/* Single-writer increment: a plain load and store, no locked instruction. */
static inline void add(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + v, RLX);
}

unsigned hist__bucket(uint64_t v)
{
    if (v < HIST_SUB)
        return (unsigned)v;
    unsigned e = 63u - (unsigned)__builtin_clzll(v); /* e >= 3 */
    return (e - 2) * HIST_SUB + (unsigned)((v >> (e - 3)) & (HIST_SUB - 1));
}

uint64_t hist__bucket_mid(unsigned i)
{
    if (i < HIST_SUB)
        return i;
    unsigned e = i / HIST_SUB + 2, sub = i % HIST_SUB;
    uint64_t lo = (uint64_t)(HIST_SUB + sub) << (e - 3);
    uint64_t w = (uint64_t)1 << (e - 3);
    return lo + w / 2;
}

uint64_t hist__bucket_lo(unsigned i)
{
    if (i < HIST_SUB)
        return i;
    unsigned e = i / HIST_SUB + 2, sub = i % HIST_SUB;
    return (uint64_t)(HIST_SUB + sub) << (e - 3);
}

/* One past the highest value of bucket i (saturating at the top). */
static uint64_t bucket_end(unsigned i)
{
    if (i < HIST_SUB)
        return i + 1;
    unsigned e = i / HIST_SUB + 2;
    uint64_t lo = hist__bucket_lo(i), w = (uint64_t)1 << (e - 3);
    return lo > UINT64_MAX - w ? UINT64_MAX : lo + w;
}

void hist_reset(struct hist *h)
{
    memset((void *)h, 0, sizeof *h);
}

void hist_record(struct hist *h, uint64_t v)
{
    uint64_t n = atomic_load_explicit(&h->count, RLX);
    if (n < HIST_RAW)
        atomic_store_explicit(&h->raw[n], v, RLX);
    add(&h->b[hist__bucket(v)], 1);
    add(&h->sum, v);
    if (v > atomic_load_explicit(&h->max, RLX))
        atomic_store_explicit(&h->max, v, RLX);
    if (~v > atomic_load_explicit(&h->min_inv, RLX))
        atomic_store_explicit(&h->min_inv, ~v, RLX);
    /* Release: a reader that sees the count sees the value it counts. */
    atomic_store_explicit(&h->count, n + 1, memory_order_release);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    uint64_t nd = atomic_load_explicit(&dst->count, RLX);
    uint64_t ns = atomic_load_explicit(&src->count, memory_order_acquire);
    if (nd + ns <= HIST_RAW) /* both still exact: so is the sum */
        for (uint64_t i = 0; i < ns; i++)
            atomic_store_explicit(&dst->raw[nd + i], atomic_load_explicit(&src->raw[i], RLX), RLX);
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        uint64_t c = atomic_load_explicit(&src->b[i], RLX);
        if (c)
            add(&dst->b[i], c);
    }
    add(&dst->sum, atomic_load_explicit(&src->sum, RLX));
    uint64_t m = atomic_load_explicit(&src->max, RLX);
    if (m > atomic_load_explicit(&dst->max, RLX))
        atomic_store_explicit(&dst->max, m, RLX);
    m = atomic_load_explicit(&src->min_inv, RLX);
    if (m > atomic_load_explicit(&dst->min_inv, RLX))
        atomic_store_explicit(&dst->min_inv, m, RLX);
    atomic_store_explicit(&dst->count, nd + ns, memory_order_release);
}

uint64_t hist_count(const struct hist *h)
{
    return atomic_load_explicit(&h->count, RLX);
}

uint64_t hist_max(const struct hist *h)
{
    return atomic_load_explicit(&h->max, RLX);
}

uint64_t hist_min(const struct hist *h)
{
    return hist_count(h) ? ~atomic_load_explicit(&h->min_inv, RLX) : 0;
}

double hist_mean(const struct hist *h)
{
    uint64_t n = hist_count(h);
    return n ? (double)atomic_load_explicit(&h->sum, RLX) / (double)n : 0.0;
}

static int cmp_u64(const void *a, const void *b)
{
    uint64_t x = *(const uint64_t *)a, y = *(const uint64_t *)b;
    return (x > y) - (x < y);
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    if (!(p >= 0)) /* NaN too */
        p = 0;
    if (p > 1)
        p = 1;
    uint64_t n = atomic_load_explicit(&h->count, memory_order_acquire);
    if (n == 0)
        return 0;
    if (n <= HIST_RAW) {
        /* Exact: the nearest-rank value among those recorded. */
        uint64_t v[HIST_RAW];
        for (uint64_t i = 0; i < n; i++)
            v[i] = atomic_load_explicit(&h->raw[i], RLX);
        qsort(v, (size_t)n, sizeof v[0], cmp_u64);
        double r = p * (double)n;
        uint64_t k = (uint64_t)r;
        if ((double)k < r)
            k++;
        if (k < 1)
            k = 1;
        if (k > n)
            k = n;
        return v[k - 1];
    }
    uint64_t total = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        total += atomic_load_explicit(&h->b[i], RLX);
    uint64_t min = ~atomic_load_explicit(&h->min_inv, RLX), max = hist_max(h);
    if (total == 0 || min > max)
        return max;
    /* Rank r among total values; the bucket holding it spreads its values evenly. */
    double r = p * (double)total, seen = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        uint64_t c = atomic_load_explicit(&h->b[i], RLX);
        if (c == 0)
            continue;
        if (seen + (double)c < r) {
            seen += (double)c;
            continue;
        }
        uint64_t lo = hist__bucket_lo(i), end = bucket_end(i);
        if (lo < min)
            lo = min;
        double hi = end > max ? (double)max : (double)end;
        double frac = (r - seen) / (double)c;
        double v = (double)lo + frac * (hi - (double)lo);
        if (v < (double)min)
            return min;
        if (v >= (double)max)
            return max;
        return (uint64_t)(v + 0.5) < min ? min : (uint64_t)(v + 0.5);
    }
    return max;
}
