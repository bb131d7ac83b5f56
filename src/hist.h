/*
 * hist: latency histograms that do not lie about small counts.
 *
 * The first HIST_RAW values are kept as they are, so while a histogram
 * holds no more than that its percentiles are exact (nearest rank: a value
 * that was recorded). Beyond that, values are counted in log buckets (8 per
 * power of two, each 1/8 of its power of two wide) and a percentile is
 * interpolated linearly within its bucket, between the bucket's edges
 * clamped to the true minimum and maximum: never below the smallest value
 * recorded nor above the largest, exact for a constant, and off by less
 * than one bucket (12.5 %) in the worst case.
 *
 * One writer records; any thread may read at the same time (counters are
 * relaxed atomics and the count is published after the value it counts, so
 * a reader sees a slightly stale but valid histogram). A struct hist may
 * live in shared memory and be written by a child process; all zeroes is
 * an empty histogram.
 */
#ifndef CONCTUI_HIST_H
#define CONCTUI_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define HIST_SUB 8
#define HIST_BUCKETS (HIST_SUB * 62)
#define HIST_RAW 256 /* values kept exactly */

struct hist {
    _Atomic uint64_t count, sum, max;
    _Atomic uint64_t min_inv; /* ~min, so that zeroed memory is empty */
    _Atomic uint64_t b[HIST_BUCKETS];
    _Atomic uint64_t raw[HIST_RAW]; /* the first HIST_RAW values, in arrival order */
};

/* Empty a histogram (no writer may be recording). */
void hist_reset(struct hist *h);
/* Record one value; only the histogram's single writer may call it. */
void hist_record(struct hist *h, uint64_t v);
/* Add src into dst (dst's writer must be the caller). */
void hist_merge(struct hist *dst, const struct hist *src);
/*
 * The value at or below which a fraction p (0..1) of the records fall:
 * exact up to HIST_RAW records, interpolated within a bucket beyond (see
 * above). 0 for an empty histogram.
 */
uint64_t hist_percentile(const struct hist *h, double p);
uint64_t hist_count(const struct hist *h);
uint64_t hist_max(const struct hist *h);
uint64_t hist_min(const struct hist *h); /* 0 when empty */
double hist_mean(const struct hist *h);
/* Bucket index of a value, the value a bucket stands for, its lowest value (tests). */
unsigned hist__bucket(uint64_t v);
uint64_t hist__bucket_mid(unsigned i);
uint64_t hist__bucket_lo(unsigned i);

#endif
