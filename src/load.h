/*
 * load: how much of the machine other programs take, so a figure measured
 * while they compete for the CPUs is said to be unreliable.
 *
 * Only unprivileged /proc reads: the busy CPU time of every CPU and the
 * steal time (/proc/stat), the run queue (procs_running), and the CPU time
 * of this process and its live and reaped children (/proc/self/stat and
 * /proc/PID/stat of each child). Other programs' share is the machine's
 * busy time less ours, steal included, in cores. Sampling costs a few
 * small reads and happens at most every LOAD_PERIOD_NS.
 */
#ifndef CONCTUI_LOAD_H
#define CONCTUI_LOAD_H

#include <stdbool.h>
#include <stdint.h>

#define LOAD_PERIOD_NS 250000000ull /* sample at most four times a second */
#define LOAD_HOLD_NS 2000000000ull  /* busy stays said 2 s after the load falls */

/* One reading of the counters (clock ticks, summed over every CPU). */
struct load_sample {
    uint64_t t_ns;  /* when it was taken */
    uint64_t total; /* every tick of every CPU */
    uint64_t busy;  /* ticks neither idle nor waiting for I/O (steal included) */
    uint64_t steal; /* ticks the hypervisor gave to other guests */
    uint64_t self;  /* ticks this process and its children used */
    int cpus;       /* CPUs counted in total */
    int running;    /* runnable tasks on the machine (procs_running) */
};

struct load {
    struct load_sample first, last; /* the run's first and latest samples */
    int samples;
    double other;        /* cores other programs used (smoothed), steal included */
    double steal;        /* cores stolen (smoothed) */
    int running;         /* latest run queue */
    bool busy;           /* the verdict, with hysteresis */
    double busy_peak;    /* the most `other` reached while busy (what the warning says) */
    uint64_t calm_since; /* when `other` fell below the off line (0: it has not) */
    uint64_t polled_at;  /* when load_poll last read /proc */
};

/* Start over (a new run). */
void load_init(struct load *l);
/* Read the counters now; 0, or -1 when /proc cannot be read. */
int load_read(struct load_sample *s, uint64_t now_ns);
/*
 * Take one sample into l (pure: no I/O). Busy turns on when other programs
 * use at least load_busy_on(cpus) cores and off only after they have used
 * less than load_busy_off(cpus) for LOAD_HOLD_NS.
 */
void load_update(struct load *l, const struct load_sample *s);
/* load_read and load_update, unless the last sample is under LOAD_PERIOD_NS old. */
void load_poll(struct load *l, uint64_t now_ns);
double load_busy_on(int cpus);
double load_busy_off(int cpus);
/* Cores other programs used on average since the first sample (0 before two samples). */
double load_run_other(const struct load *l);
/* Whether that run average reaches load_busy_on. */
bool load_run_busy(const struct load *l);

#endif
