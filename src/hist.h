/*
 * hist: log-bucketed latency histograms (8 sub-buckets per power of two, so
 * any reported percentile is within 6.25% of the true value).
 *
 * One writer records; any thread may read at the same time (counters are
 * relaxed atomics, so a reader sees a slightly stale but valid histogram).
 * A struct hist may live in shared memory and be written by a child process.
 */
#ifndef CONCTUI_HIST_H
#define CONCTUI_HIST_H

#include <stdatomic.h>
#include <stdint.h>

#define HIST_SUB 8
#define HIST_BUCKETS (HIST_SUB * 62)

struct hist {
    _Atomic uint64_t count, sum, max;
    _Atomic uint64_t b[HIST_BUCKETS];
};

/* Empty a histogram (no writer may be recording). */
void hist_reset(struct hist *h);
/* Record one value; only the histogram's single writer may call it. */
void hist_record(struct hist *h, uint64_t v);
/* Add src into dst (dst's writer must be the caller). */
void hist_merge(struct hist *dst, const struct hist *src);
/* The value below which a fraction p (0..1) of the records fall. */
uint64_t hist_percentile(const struct hist *h, double p);
uint64_t hist_count(const struct hist *h);
uint64_t hist_max(const struct hist *h);
double hist_mean(const struct hist *h);
/* Bucket index of a value and the value a bucket stands for (tests). */
unsigned hist__bucket(uint64_t v);
uint64_t hist__bucket_mid(unsigned i);

#endif
