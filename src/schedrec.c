/*
 * schedrec: context-switch records from perf_event_open (see schedrec.h).
 *
 * Each CPU has one event, and so one ring the kernel writes and we read:
 * data_head is the kernel's, data_tail ours. A pass copies what is between
 * them out (records may wrap at the ring's end), gives the space back, and
 * parses the copy; the records of all rings are then put in time order.
 */
#include "config.h"

#include "schedrec.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/perf_event.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>

#include "i18n.h"

#define RING_PAGES 64 /* a power of two: 256 KiB a CPU, about 8000 records (tens of ms) */

static int perf_open(struct perf_event_attr *a, pid_t pid, int cpu)
{
    return (int)syscall(SYS_perf_event_open, a, pid, cpu, -1, PERF_FLAG_FD_CLOEXEC);
}

static void *ring_map(int fd, size_t data_bytes)
{
    long pg = sysconf(_SC_PAGESIZE);
    void *p = mmap(NULL, (size_t)pg + data_bytes, PROT_READ | PROT_WRITE, MAP_SHARED, fd, 0);
    return p == MAP_FAILED ? NULL : p;
}

static void ring_unmap(void *p, size_t data_bytes)
{
    if (p)
        munmap(p, (size_t)sysconf(_SC_PAGESIZE) + data_bytes);
}

static void common_attr(struct perf_event_attr *a)
{
    a->size = sizeof *a;
    a->sample_type = PERF_SAMPLE_TID | PERF_SAMPLE_TIME | PERF_SAMPLE_CPU;
    a->sample_id_all = 1;
    a->inherit = 1; /* every thread and process it starts */
    a->use_clockid = 1;
    a->clockid = CLOCK_MONOTONIC;
    a->disabled = 1;
    a->enable_on_exec = 1;
    a->exclude_kernel = 1; /* what it asks for is the switches, which come anyway */
    a->exclude_hv = 1;
}

static int read_small(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    ssize_t n = read(fd, buf, len - 1);
    close(fd);
    if (n <= 0)
        return -1;
    buf[n] = '\0';
    return 0;
}

/* The sched_wakeup tracepoint: its id and the woken pid's offset in the raw data. */
static int wakeup_point(int *off)
{
    static const char *const dirs[] = {"/sys/kernel/tracing", "/sys/kernel/debug/tracing"};
    char path[160], buf[4096];
    for (size_t i = 0; i < sizeof dirs / sizeof dirs[0]; i++) {
        snprintf(path, sizeof path, "%s/events/sched/sched_wakeup/id", dirs[i]);
        if (read_small(path, buf, sizeof buf) != 0)
            continue;
        int id = atoi(buf);
        snprintf(path, sizeof path, "%s/events/sched/sched_wakeup/format", dirs[i]);
        if (read_small(path, buf, sizeof buf) != 0)
            continue;
        const char *f = strstr(buf, "pid_t pid;");
        const char *o = f ? strstr(f, "offset:") : NULL;
        if (!o || id <= 0)
            continue;
        *off = atoi(o + 7);
        return id;
    }
    return -1;
}

static int paranoid_level(void)
{
    char buf[32];
    return read_small("/proc/sys/kernel/perf_event_paranoid", buf, sizeof buf) == 0 ? atoi(buf)
                                                                                    : 99;
}

int schedrec_open(struct schedrec *r, pid_t pid, char *why, size_t len, char *wake_why, size_t wlen)
{
    memset(r, 0, sizeof *r);
    for (int i = 0; i < SCHEDREC_MAX_CPUS; i++)
        r->fd[i] = r->wfd[i] = -1;
    why[0] = wake_why[0] = '\0';
    long n = sysconf(_SC_NPROCESSORS_CONF);
    if (n < 1 || n > SCHEDREC_MAX_CPUS) {
        snprintf(why, len, _("sampled: %ld CPUs, more than exact mode follows (%d)"), n,
                 SCHEDREC_MAX_CPUS);
        return -E2BIG;
    }
    r->ncpu = (int)n;
    r->ring_bytes = (size_t)RING_PAGES * (size_t)sysconf(_SC_PAGESIZE);
    if (!(r->tmp = malloc(r->ring_bytes))) {
        snprintf(why, len, "%s", _("sampled: out of memory"));
        return -ENOMEM;
    }
    int rc = 0;
    for (int c = 0; c < r->ncpu; c++) {
        struct perf_event_attr a;
        memset(&a, 0, sizeof a);
        common_attr(&a);
        a.type = PERF_TYPE_SOFTWARE;
        a.config = PERF_COUNT_SW_DUMMY;
        a.context_switch = 1;
        a.task = 1; /* exits */
        r->fd[c] = perf_open(&a, pid, c);
        if (r->fd[c] < 0) {
            rc = -errno;
            /* A CPU that is offline has no events: the others still tell everything. */
            if (rc == -ENODEV && c > 0) {
                rc = 0;
                continue;
            }
            break;
        }
        if (!(r->ring[c] = ring_map(r->fd[c], r->ring_bytes))) {
            rc = -errno;
            snprintf(why, len,
                     _("sampled: mapping the kernel's records failed (%s); "
                       "kernel.perf_event_mlock_kb limits them"),
                     strerror(-rc));
            schedrec_close(r);
            return rc;
        }
    }
    if (rc != 0) {
        if (rc == -EACCES || rc == -EPERM)
            snprintf(why, len,
                     _("sampled: perf_event_open refused (kernel.perf_event_paranoid is %d); "
                       "2 or less, CAP_PERFMON or root allows exact mode"),
                     paranoid_level());
        else if (rc == -ENOSYS || rc == -ENOENT)
            snprintf(why, len, "%s", _("sampled: this kernel has no perf events"));
        else
            snprintf(why, len, _("sampled: perf_event_open: %s"), strerror(-rc));
        schedrec_close(r);
        return rc;
    }
    /* Wake-ups: where the tracepoint is visible and its raw data allowed. */
    int off = 0, id = wakeup_point(&off);
    if (id < 0) {
        snprintf(wake_why, wlen, "%s",
                 _("wake-ups not recorded: tracefs is not mounted "
                   "(mount -t tracefs nodev /sys/kernel/tracing)"));
        return 0;
    }
    for (int c = 0; c < r->ncpu; c++) {
        if (r->fd[c] < 0)
            continue;
        struct perf_event_attr a;
        memset(&a, 0, sizeof a);
        common_attr(&a);
        a.type = PERF_TYPE_TRACEPOINT;
        a.config = (uint64_t)id;
        a.sample_period = 1;
        a.sample_type |= PERF_SAMPLE_RAW;
        a.exclude_kernel = 0; /* a tracepoint is in the kernel */
        r->wfd[c] = perf_open(&a, pid, c);
        if (r->wfd[c] < 0 || !(r->wring[c] = ring_map(r->wfd[c], r->ring_bytes))) {
            int e = errno;
            for (int k = 0; k <= c; k++) {
                ring_unmap(r->wring[k], r->ring_bytes);
                r->wring[k] = NULL;
                if (r->wfd[k] >= 0)
                    close(r->wfd[k]);
                r->wfd[k] = -1;
            }
            snprintf(wake_why, wlen,
                     _("wake-ups not recorded: the sched_wakeup tracepoint was refused (%s); "
                       "root or CAP_PERFMON allows it"),
                     strerror(e));
            return 0;
        }
    }
    r->wakeups = true;
    r->wake_pid_off = off;
    return 0;
}

void schedrec_close(struct schedrec *r)
{
    free(r->tmp);
    r->tmp = NULL;
    for (int c = 0; c < SCHEDREC_MAX_CPUS; c++) {
        ring_unmap(r->ring[c], r->ring_bytes);
        ring_unmap(r->wring[c], r->ring_bytes);
        r->ring[c] = r->wring[c] = NULL;
        if (r->fd[c] >= 0)
            close(r->fd[c]);
        if (r->wfd[c] >= 0)
            close(r->wfd[c]);
        r->fd[c] = r->wfd[c] = -1;
    }
}

struct sample_id {
    uint32_t pid, tid;
    uint64_t time;
    uint32_t cpu, res;
};

static uint32_t u32_at(const unsigned char *p)
{
    uint32_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

static uint64_t u64_at(const unsigned char *p)
{
    uint64_t v;
    memcpy(&v, p, sizeof v);
    return v;
}

size_t schedrec__parse(const unsigned char *data, size_t n, int wake_pid_off, bool wake,
                       struct schedrec_ev *out, size_t max, uint64_t *lost)
{
    size_t got = 0, at = 0;
    while (at + sizeof(struct perf_event_header) <= n && got < max) {
        struct perf_event_header h;
        memcpy(&h, data + at, sizeof h);
        if (h.size < sizeof h || at + h.size > n)
            break; /* damaged: stop at it */
        const unsigned char *b = data + at + sizeof h;
        size_t blen = h.size - sizeof h;
        struct schedrec_ev *e = &out[got];
        switch (h.type) {
        case PERF_RECORD_SWITCH:
            if (blen >= 24) {
                e->pid = (pid_t)u32_at(b);
                e->tid = (pid_t)u32_at(b + 4);
                e->t = u64_at(b + 8);
                e->cpu = (int)u32_at(b + 16);
                e->waker = 0;
                if (!(h.misc & PERF_RECORD_MISC_SWITCH_OUT))
                    e->kind = SR_IN;
                else if (h.misc & PERF_RECORD_MISC_SWITCH_OUT_PREEMPT)
                    e->kind = SR_OUT_PREEMPT;
                else
                    e->kind = SR_OUT_BLOCK;
                got++;
            }
            break;
        case PERF_RECORD_EXIT:
            if (blen >= 24) {
                e->pid = (pid_t)u32_at(b);
                e->tid = (pid_t)u32_at(b + 8);
                e->t = u64_at(b + 16);
                e->cpu = -1;
                e->waker = 0;
                e->kind = SR_EXIT;
                got++;
            }
            break;
        case PERF_RECORD_LOST:
            if (blen >= 16 && lost)
                *lost += u64_at(b + 8);
            break;
        case PERF_RECORD_SAMPLE:
            /* A wake-up: the waker's ids and time, its CPU, then the raw tracepoint data. */
            if (wake && blen >= 28) {
                uint32_t raw = u32_at(b + 24);
                if (wake_pid_off >= 0 && (size_t)wake_pid_off + 4 <= raw && 28 + raw <= blen) {
                    e->waker = (pid_t)u32_at(b + 4);
                    e->t = u64_at(b + 8);
                    e->cpu = (int)u32_at(b + 16);
                    e->tid = (pid_t)u32_at(b + 28 + wake_pid_off);
                    e->pid = 0; /* the woken thread's process is not in the record */
                    e->kind = SR_WAKE;
                    got++;
                }
            }
            break;
        default:
            break;
        }
        at += h.size;
    }
    return got;
}

/* Copy a ring's new records out (they may wrap), give the space back, parse them. */
static size_t ring_take(struct schedrec *r, void *ring, bool wake, unsigned char *tmp,
                        struct schedrec_ev *out, size_t max)
{
    struct perf_event_mmap_page *m = ring;
    const unsigned char *data = (const unsigned char *)ring + sysconf(_SC_PAGESIZE);
    uint64_t head = __atomic_load_n(&m->data_head, __ATOMIC_ACQUIRE);
    uint64_t tail = m->data_tail;
    size_t n = (size_t)(head - tail);
    if (n > r->ring_bytes)
        n = r->ring_bytes;
    size_t off = (size_t)(tail % r->ring_bytes), first = r->ring_bytes - off;
    if (first > n)
        first = n;
    memcpy(tmp, data + off, first);
    memcpy(tmp + first, data, n - first);
    __atomic_store_n(&m->data_tail, head, __ATOMIC_RELEASE);
    return schedrec__parse(tmp, n, r->wake_pid_off, wake, out, max, &r->lost);
}

static int ev_cmp(const void *a, const void *b)
{
    const struct schedrec_ev *x = a, *y = b;
    if (x->t != y->t)
        return x->t < y->t ? -1 : 1;
    /* At the same instant: a thread leaves its CPU before another takes it. */
    return (x->kind == SR_IN) - (y->kind == SR_IN);
}

size_t schedrec_read(struct schedrec *r, struct schedrec_ev *out, size_t max)
{
    unsigned char *tmp = r->tmp;
    if (!tmp)
        return 0;
    size_t got = 0, most = r->ring_bytes / 24; /* the records a full ring can hold */
    /*
     * A ring is taken only whole: with less room left than it can hold, it
     * and the rest wait for the next call, starting where this one stopped.
     */
    for (int k = 0; k < r->ncpu && max - got >= most; k++) {
        int c = (r->next + k) % r->ncpu;
        if (r->ring[c])
            got += ring_take(r, r->ring[c], false, tmp, out + got, max - got);
        if (r->wring[c] && max - got >= most)
            got += ring_take(r, r->wring[c], true, tmp, out + got, max - got);
        r->next = (c + 1) % r->ncpu;
    }
    r->events += got;
    qsort(out, got, sizeof *out, ev_cmp);
    return got;
}
