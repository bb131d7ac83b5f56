/*
 * schedrec: the kernel's own record of when a program's threads go on and
 * off a CPU (perf_event_open context-switch records), for `conctui run`'s
 * exact mode. One software "dummy" event per CPU on the program's first
 * thread, inherited by every thread and process it starts, each with its
 * ring of records mapped; where the scheduler's sched_wakeup tracepoint can
 * be opened too (tracefs mounted, and raw tracepoint data allowed), each
 * wake-up as well, with who woke whom.
 *
 * It needs no privilege where perf_event_paranoid is 2 or less (the
 * kernel's default; Debian's is 3, where root or CAP_PERFMON is needed) and
 * must be opened before the program runs: schedrec_open on a child stopped
 * before its exec, the events enabled by the exec.
 */
#ifndef CONCTUI_SCHEDREC_H
#define CONCTUI_SCHEDREC_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define SCHEDREC_MAX_CPUS 256

/* What happened to a thread. */
enum schedrec_kind {
    SR_IN,          /* it got a CPU */
    SR_OUT_PREEMPT, /* it lost its CPU while runnable */
    SR_OUT_BLOCK,   /* it gave its CPU up: it sleeps, waits or stopped */
    SR_WAKE,        /* it was woken (by `waker`) */
    SR_EXIT,        /* it exited */
};

struct schedrec_ev {
    uint64_t t; /* CLOCK_MONOTONIC ns */
    pid_t pid, tid;
    pid_t waker; /* SR_WAKE: the thread that woke it */
    int cpu;
    enum schedrec_kind kind;
};

struct schedrec {
    int ncpu;
    int fd[SCHEDREC_MAX_CPUS];
    void *ring[SCHEDREC_MAX_CPUS];
    int wfd[SCHEDREC_MAX_CPUS]; /* the wake-up tracepoint (-1: none) */
    void *wring[SCHEDREC_MAX_CPUS];
    bool wakeups;       /* wake-ups are recorded */
    int wake_pid_off;   /* the woken pid's offset in the tracepoint's raw data */
    size_t ring_bytes;  /* each ring's data area */
    uint64_t events;    /* records read */
    uint64_t lost;      /* records the kernel could not write (full rings) */
    int next;           /* the ring the next read starts at */
    unsigned char *tmp; /* one ring's records, copied out */
};

/*
 * Open the records for pid (a child that has not exec'd yet). 0, or -errno
 * with why set to words for the status line (translated): what refused and
 * what would allow it. *wake_why says why wake-ups are not recorded ("" when
 * they are).
 */
int schedrec_open(struct schedrec *r, pid_t pid, char *why, size_t len, char *wake_why,
                  size_t wlen);
/*
 * Take the records written since the last call, oldest first: every ring's
 * when max holds them (room for two full rings is enough to make progress;
 * the rest come at the next call). The number taken.
 */
size_t schedrec_read(struct schedrec *r, struct schedrec_ev *out, size_t max);
void schedrec_close(struct schedrec *r);

/* Parse a raw record area (for tests): the events it holds, appended to out. */
size_t schedrec__parse(const unsigned char *data, size_t n, int wake_pid_off, bool wake,
                       struct schedrec_ev *out, size_t max, uint64_t *lost);

#endif
