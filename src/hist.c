#include "config.h"

#include "hist.h"

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

void hist_reset(struct hist *h)
{
    memset((void *)h, 0, sizeof *h);
}

void hist_record(struct hist *h, uint64_t v)
{
    add(&h->b[hist__bucket(v)], 1);
    add(&h->count, 1);
    add(&h->sum, v);
    if (v > atomic_load_explicit(&h->max, RLX))
        atomic_store_explicit(&h->max, v, RLX);
}

void hist_merge(struct hist *dst, const struct hist *src)
{
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        uint64_t c = atomic_load_explicit(&src->b[i], RLX);
        if (c)
            add(&dst->b[i], c);
    }
    add(&dst->count, atomic_load_explicit(&src->count, RLX));
    add(&dst->sum, atomic_load_explicit(&src->sum, RLX));
    uint64_t m = atomic_load_explicit(&src->max, RLX);
    if (m > atomic_load_explicit(&dst->max, RLX))
        atomic_store_explicit(&dst->max, m, RLX);
}

uint64_t hist_count(const struct hist *h)
{
    return atomic_load_explicit(&h->count, RLX);
}

uint64_t hist_max(const struct hist *h)
{
    return atomic_load_explicit(&h->max, RLX);
}

double hist_mean(const struct hist *h)
{
    uint64_t n = hist_count(h);
    return n ? (double)atomic_load_explicit(&h->sum, RLX) / (double)n : 0.0;
}

uint64_t hist_percentile(const struct hist *h, double p)
{
    uint64_t total = 0;
    for (unsigned i = 0; i < HIST_BUCKETS; i++)
        total += atomic_load_explicit(&h->b[i], RLX);
    if (total == 0)
        return 0;
    if (p < 0)
        p = 0;
    if (p > 1)
        p = 1;
    uint64_t rank = (uint64_t)(p * (double)total + 0.5);
    if (rank < 1)
        rank = 1;
    uint64_t seen = 0, max = hist_max(h);
    for (unsigned i = 0; i < HIST_BUCKETS; i++) {
        seen += atomic_load_explicit(&h->b[i], RLX);
        if (seen >= rank) {
            uint64_t v = hist__bucket_mid(i);
            return max && v > max ? max : v;
        }
    }
    return max;
}
