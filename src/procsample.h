/*
 * procsample: what the kernel says a program's threads are doing, read from
 * /proc without special privileges.
 *
 * Each pass reads every followed thread's /proc/PID/task/TID/stat (the
 * scheduler state), and then either its schedstat (a runnable thread: on a
 * CPU, or waiting for one) or its syscall file (a sleeping thread: in which
 * system call). The files stay open and are read again with pread at offset
 * 0, so a pass costs two system calls a thread. The state maps onto the
 * trace vocabulary:
 *
 *   R, run time grew more than run delay since the last pass   -> run
 *   R, run delay (schedstat's second field) grew more           -> ready
 *   S or D in futex                                             -> lock
 *   S or D in read, recv*, poll, select, epoll_wait, accept, connect,
 *     io_uring_enter, ... (a known I/O call)                    -> io
 *   S in nanosleep, clock_nanosleep                             -> sleep
 *   S in wait4, waitid                                          -> wait
 *   S in pause, rt_sigsuspend, rt_sigtimedwait                  -> idle
 *   D elsewhere                                                 -> io (disk wait)
 *   S elsewhere                                                 -> kernel
 *   T, t (stopped, traced)                                      -> idle, "stopped"
 *   Z, X, or gone                                               -> done
 *
 * A state shorter than the time between passes may be missed, and a
 * transition is placed at the pass that saw it (up to one period late).
 *
 * Processes are found as they appear: the children files of every followed
 * thread when the kernel has them (CONFIG_PROC_CHILDREN), else new entries
 * of /proc whose parent is followed. The /proc root is a parameter so tests
 * run the sampler on canned text in a directory.
 *
 * One thread owns a sampler; it is not thread-safe.
 */
#ifndef CONCTUI_PROCSAMPLE_H
#define CONCTUI_PROCSAMPLE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "hist.h"
#include "schedrec.h"
#include "trace.h"

/* Note ids (TRACE_NOTE) the sampler puts beside a state: 0 none, then these, then system calls. */
enum ps_note {
    PS_NOTE_NONE = 0,
    PS_NOTE_STOPPED,
    PS_NOTE_ZOMBIE,
    PS_NOTE_EXITED,
    PS_NOTE_DISK,
    PS_NOTE_PREEMPTED,
    PS_NOTE_SYSCALL0 /* PS_NOTE_SYSCALL0 + i: ps_syscalls[i] */
};

/* What one line of /proc/.../stat says (the fields the sampler uses). */
struct ps_stat {
    char comm[17];
    char state;
    pid_t ppid, pgrp;
    uint64_t utime, stime; /* clock ticks */
    int processor;
};

int ps_parse_stat(const char *buf, size_t len, struct ps_stat *out);
/* schedstat: time on a CPU, time runnable but waiting for one (ns), time slices. */
int ps_parse_schedstat(const char *buf, uint64_t *run_ns, uint64_t *delay_ns, uint64_t *slices);
/* The syscall file: its number, -1 for "running", -2 when unreadable. */
long ps_parse_syscall(const char *buf);
/*
 * The wchan file: the kernel function a sleeping thread waits in, kept to
 * the characters a symbol has (letters, digits, '_', '.'; anything else
 * becomes '?') and cut at len - 1; 0 and nothing written when there is none
 * ("0": on a CPU, or not shown to this user), else its length.
 */
size_t ps_parse_wchan(const char *buf, size_t n, char *out, size_t len);
/* status: voluntary and nonvoluntary context switches. */
int ps_parse_ctxt(const char *buf, uint64_t *vol, uint64_t *nonvol);
/* status: the Uid line's real, effective, saved and filesystem ids (-1 when absent). */
int ps_parse_uids(const char *buf, const char *key, long ids[4]);

/* A system call the sampler knows by name. */
struct ps_syscall {
    long nr;
    const char *name;
    unsigned state; /* what a thread sleeping in it is doing */
};
extern const struct ps_syscall ps_syscalls[];
extern const int ps_nsyscalls;
/* Name of a system call number ("syscall 123" for one not in the table). */
const char *ps_syscall_name(long nr, char *buf, size_t len);
/* The note words for each note id, PS_NOTE_SYSCALL0.. the system calls' names. */
const char *ps_note_name(unsigned note);
#define PS_NOTES_MAX 64                         /* REC_MAX_NOTES: recordings keep them all */
extern const char *ps_note_words[PS_NOTES_MAX]; /* filled when the program loads */
extern const int ps_nnotes;

/*
 * The state word (state | TRACE_NOTE) for a thread in stat state `st`, in
 * system call nr (when sleeping), whose run time and run delay grew by
 * drun and ddelay ns since the last pass; stale: runnable, and its run time
 * has not grown for longer than PS_TICK_NS (it waits for a CPU).
 */
unsigned ps_classify(char st, long nr, uint64_t drun, uint64_t ddelay, bool stale);
/* A scheduler tick at the slowest common rate (250 Hz), and a little more. */
#define PS_TICK_NS 4500000ull

#define PS_LANE_PENDING (-2) /* a lane comes after PS_PEND_PASSES passes */
#define PS_PEND_PASSES 10
/*
 * A child process's threads wait longer: a launcher's helpers (a shell
 * script's subshells and commands, such as a version manager's shim runs
 * before the interpreter) live tens of milliseconds and would each take a
 * lane of their own.
 */
#define PS_PEND_PASSES_CHILD 60
#define PS_PEND_MAX 8

/* One followed thread. */
struct ps_thread {
    pid_t pid, tid;
    int lane;  /* -1: none (the lanes ran out), PS_LANE_PENDING: not yet */
    int npend; /* states seen before the lane came */
    unsigned pend_word[PS_PEND_MAX];
    uint64_t pend_t[PS_PEND_MAX];
    int fd_stat, fd_sched, fd_sys;
    int fd_child;  /* its children file, opened at its first look (-1: not open) */
    unsigned word; /* the state word last emitted (0xffff: none yet) */
    bool gone;
    char comm[17];
    uint64_t run_ns, delay_ns; /* schedstat at the last read */
    uint64_t slices;           /* times it was given a CPU (schedstat's third field) */
    char last_st;              /* its stat state at the last pass */
    uint64_t utime, stime;     /* ticks, from stat */
    uint64_t vcsw, nvcsw;      /* from status, refreshed by ps_refresh_status */
    uint64_t start_ns, end_ns;
    long nr;                          /* the system call it last slept in (-1: none) */
    uint64_t seen;                    /* passes that read it */
    uint64_t since;                   /* when it entered its current state (ns) */
    uint64_t grew_at;                 /* the last pass that saw its run time grow (ns) */
    uint64_t state_ns[TRACE_NSTATES]; /* time seen in each state, closed spans */
    /* Exact mode. */
    unsigned guess;      /* the state the last pass read from /proc (0xffff: none) */
    unsigned block_word; /* the last way it was seen asleep or waiting (0xffff: none) */
    int batch_last;      /* the index of its last record in the batch being applied */
    uint64_t batch;      /* the last batch with a record of it */
    uint64_t wakeups;    /* times it was woken */
    pid_t waker;         /* the thread that woke it last (0: none seen) */
    int cpu;             /* the CPU it last ran on (-1: not seen) */
};

/* One followed process. */
struct ps_proc {
    pid_t pid, ppid;
    bool gone;
    int nthreads; /* live threads followed */
    uint64_t act; /* the pass after which one of its threads last ran, came or went */
};

struct ps_sink {
    /* A new lane for a thread; its id or -1 when there is no room. */
    int (*lane)(void *arg, const struct ps_thread *t, bool main_thread);
    /* The thread's lane goes to state word `word` at t_ns. */
    void (*emit)(void *arg, int lane, unsigned word, uint64_t t_ns);
    void *arg;
};

#define PS_MAX_THREADS 4096
#define PS_MAX_PROCS 1024

struct procsample {
    char root[128]; /* "/proc" */
    pid_t pid;      /* the program */
    struct ps_sink sink;
    struct ps_thread *th;
    int nth;
    struct ps_proc *proc;
    int nproc;
    bool children_files; /* the kernel has task/TID/children */
    unsigned scan_every; /* without them, /proc is scanned every this many ps_discover calls */
    pid_t *seen_pids;    /* /proc entries looked at by the last scan (no children files) */
    int nseen, seen_cap;
    uint64_t passes, reads, scans;
    uint64_t act;            /* the pass after which a followed thread last ran, came or went */
    uint64_t disc_at;        /* the pass after the last ps_discover: activity since asks a look */
    uint64_t dir_at;         /* the same for the last scan of /proc */
    uint64_t unlaned;        /* threads followed without a lane */
    uint64_t brief;          /* threads gone before their lane came (PS_PEND_PASSES...) */
    uint64_t lost;           /* threads or processes not followed: the tables were full */
    unsigned on_cpu_unlaned; /* threads without a lane seen running in the last pass */
    uint64_t lock_to_run;    /* lock waits that ended on a CPU: hand-offs of a lock */
    /*
     * Exact mode: the states come from the kernel's switch records
     * (ps_exact_apply); passes still find, name and end threads, and read
     * what a sleeping thread waits in (its guess), which names the waits.
     */
    bool exact;
    uint64_t exact_unknown; /* records of threads not (yet) followed */
    uint64_t batches;       /* batches applied */
    struct hist lock_wait;  /* how long each lock wait lasted (ns) */
};

/* Follow pid (and everything it starts) under root ("/proc"). 0 or -errno. */
int ps_open(struct procsample *s, const char *root, pid_t pid, const struct ps_sink *sink);
void ps_close(struct procsample *s);
/* One pass over every followed thread at time now (ns); returns the threads alive. */
int ps_sample(struct procsample *s, uint64_t now);
/* Look for new threads and processes (a directory scan or two). */
void ps_discover(struct procsample *s, uint64_t now);
/* Read every live thread's status file (context switches): figures, not every pass. */
void ps_refresh_status(struct procsample *s);
/*
 * Exact mode: apply a batch of switch records, oldest first, read before
 * the pass that ran just now (so each thread's guess is newer than its
 * records).
 */
void ps_exact_apply(struct procsample *s, const struct schedrec_ev *ev, size_t n);
/* Live threads and processes. */
int ps_live_threads(const struct procsample *s);
int ps_live_procs(const struct procsample *s);

#endif
