#include "config.h"

#include "load.h"

#include <ctype.h>
#include <dirent.h>
#include <fcntl.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define ALPHA 0.5    /* weight of the newest sample in the smoothed figures */
#define MAX_KIDS 512 /* descendants followed */

void load_init(struct load *l)
{
    memset(l, 0, sizeof *l);
}

double load_busy_on(int cpus)
{
    return 0.4 + 0.05 * (cpus > 0 ? cpus : 1);
}

double load_busy_off(int cpus)
{
    return 0.6 * load_busy_on(cpus);
}

/* Cores used by others between two samples: their busy ticks over the ticks one CPU had. */
static double other_between(const struct load_sample *a, const struct load_sample *b, double *steal)
{
    *steal = 0;
    if (b->total <= a->total || b->cpus <= 0)
        return 0;
    double per_cpu = (double)(b->total - a->total) / b->cpus;
    double busy = b->busy > a->busy ? (double)(b->busy - a->busy) : 0;
    double self = b->self > a->self ? (double)(b->self - a->self) : 0;
    *steal = b->steal > a->steal ? (double)(b->steal - a->steal) / per_cpu : 0;
    double o = (busy - self) / per_cpu;
    return o > 0 ? o : 0;
}

void load_update(struct load *l, const struct load_sample *s)
{
    l->running = s->running;
    if (l->samples++ == 0) {
        l->first = l->last = *s;
        return;
    }
    if (s->total <= l->last.total) /* no tick passed: nothing to learn yet */
        return;
    double steal, other = other_between(&l->last, s, &steal);
    if (l->samples == 2) {
        l->other = other;
        l->steal = steal;
    } else {
        l->other += ALPHA * (other - l->other);
        l->steal += ALPHA * (steal - l->steal);
    }
    l->last = *s;
    if (l->other >= load_busy_on(s->cpus)) {
        if (!l->busy || l->other > l->busy_peak)
            l->busy_peak = l->other;
        l->busy = true;
        l->calm_since = 0;
    } else if (l->other < load_busy_off(s->cpus)) {
        if (!l->calm_since)
            l->calm_since = s->t_ns ? s->t_ns : 1;
        if (s->t_ns - l->calm_since >= LOAD_HOLD_NS) {
            l->busy = false;
            l->busy_peak = 0;
        }
    } else {
        l->calm_since = 0;
    }
}

double load_run_other(const struct load *l)
{
    if (l->samples < 2)
        return 0;
    double steal;
    return other_between(&l->first, &l->last, &steal);
}

bool load_run_busy(const struct load *l)
{
    return l->samples >= 2 && load_run_other(l) >= load_busy_on(l->last.cpus);
}

/* Read a small /proc file whole; bytes read or -1. */
static ssize_t slurp(const char *path, char *buf, size_t len)
{
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return -1;
    size_t got = 0;
    while (got + 1 < len) {
        ssize_t n = read(fd, buf + got, len - 1 - got);
        if (n <= 0)
            break;
        got += (size_t)n;
    }
    close(fd);
    buf[got] = '\0';
    return (ssize_t)got;
}

/*
 * utime+stime (and, with reaped, cutime+cstime) of /proc/PID/stat, and the
 * parent pid. The command name may hold spaces and parentheses: fields
 * count from the last ')'.
 */
static int proc_ticks(const char *path, bool reaped, uint64_t *ticks, long *ppid)
{
    char buf[1024];
    if (slurp(path, buf, sizeof buf) <= 0)
        return -1;
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    /* After ')': state ppid pgrp session tty tpgid flags minflt cminflt majflt cmajflt
     * utime stime cutime cstime (fields 3..17). */
    char st;
    long pp;
    unsigned long long f[4];
    if (sscanf(p + 1, " %c %ld %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu %llu %llu", &st, &pp,
               &f[0], &f[1], &f[2], &f[3]) != 6)
        return -1;
    *ticks = f[0] + f[1] + (reaped ? f[2] + f[3] : 0);
    if (ppid)
        *ppid = pp;
    return 0;
}

/* Add the live children of pid, and theirs, found through /proc/PID/task/TID/children. */
static int add_children(pid_t pid, uint64_t *ticks, int *seen, int depth)
{
    char path[64];
    snprintf(path, sizeof path, "/proc/%d/task", (int)pid);
    DIR *d = opendir(path);
    if (!d)
        return -1;
    int rc = 0;
    struct dirent *de;
    while ((de = readdir(d)) && *seen < MAX_KIDS) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char buf[4096];
        snprintf(path, sizeof path, "/proc/%d/task/%.16s/children", (int)pid, de->d_name);
        if (slurp(path, buf, sizeof buf) < 0) {
            rc = -1; /* a kernel without the children files */
            break;
        }
        for (char *s = buf, *end; *s && *seen < MAX_KIDS; s = end) {
            long kid = strtol(s, &end, 10);
            if (end == s)
                break;
            uint64_t t;
            char kpath[48];
            snprintf(kpath, sizeof kpath, "/proc/%ld/stat", kid);
            if (proc_ticks(kpath, true, &t, NULL) == 0) {
                *ticks += t;
                ++*seen;
                if (depth < 4)
                    add_children((pid_t)kid, ticks, seen, depth + 1);
            }
        }
    }
    closedir(d);
    return rc;
}

/* Without the children files: every process whose parent is us (one level). */
static void add_children_scan(pid_t self, uint64_t *ticks)
{
    DIR *d = opendir("/proc");
    if (!d)
        return;
    struct dirent *de;
    int seen = 0;
    while ((de = readdir(d)) && seen < MAX_KIDS) {
        if (!isdigit((unsigned char)de->d_name[0]))
            continue;
        char path[48];
        snprintf(path, sizeof path, "/proc/%.16s/stat", de->d_name);
        uint64_t t;
        long pp;
        if (proc_ticks(path, true, &t, &pp) == 0 && pp == (long)self) {
            *ticks += t;
            seen++;
        }
    }
    closedir(d);
}

int load_read(struct load_sample *s, uint64_t now_ns)
{
    memset(s, 0, sizeof *s);
    s->t_ns = now_ns;
    char buf[16384];
    if (slurp("/proc/stat", buf, sizeof buf) <= 0)
        return -1;
    unsigned long long v[10] = {0};
    if (sscanf(buf, "cpu %llu %llu %llu %llu %llu %llu %llu %llu %llu %llu", &v[0], &v[1], &v[2],
               &v[3], &v[4], &v[5], &v[6], &v[7], &v[8], &v[9]) < 4)
        return -1;
    /* user nice system idle iowait irq softirq steal (guest is inside user). */
    s->total = v[0] + v[1] + v[2] + v[3] + v[4] + v[5] + v[6] + v[7];
    s->busy = v[0] + v[1] + v[2] + v[5] + v[6] + v[7];
    s->steal = v[7];
    for (const char *p = buf; (p = strstr(p, "\ncpu")); p++)
        if (isdigit((unsigned char)p[4]))
            s->cpus++;
    if (s->cpus == 0)
        s->cpus = 1;
    const char *r = strstr(buf, "\nprocs_running ");
    if (r)
        s->running = atoi(r + 15);
    pid_t self = getpid();
    if (proc_ticks("/proc/self/stat", true, &s->self, NULL) != 0)
        return -1;
    int seen = 0;
    uint64_t kids = 0;
    if (add_children(self, &kids, &seen, 0) != 0) {
        kids = 0;
        add_children_scan(self, &kids);
    }
    s->self += kids;
    return 0;
}

void load_poll(struct load *l, uint64_t now_ns)
{
    if (l->polled_at && now_ns - l->polled_at < LOAD_PERIOD_NS)
        return;
    l->polled_at = now_ns ? now_ns : 1;
    struct load_sample s;
    if (load_read(&s, now_ns) == 0)
        load_update(l, &s);
}
