/*
 * bench_prodcons: flat-out queue throughput per mode, and what tracing
 * costs (the same scene built with every emit compiled out).
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "app.h"
#include "scene.h"
#include "trace.h"

extern const struct scene_entry scene_prodcons_notrace;

static double run(const struct scene_entry *e, int mode, int cap, int np, int nc, double secs)
{
    struct app a;
    if (app_init(&a) != 0)
        exit(1);
    int64_t p[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        p[i] = e->params[i].def;
    p[scene_param_find(e, "capacity")] = cap;
    p[scene_param_find(e, "producers")] = np;
    p[scene_param_find(e, "consumers")] = nc;
    p[scene_param_find(e, "prod_rate")] = 0;
    p[scene_param_find(e, "cons_rate")] = 0;
    if (app_start(&a, e, mode, p) != 0) {
        fprintf(stderr, "bench_prodcons: cannot start\n");
        exit(1);
    }
    uint64_t end = trace_now_ns() + (uint64_t)(secs * 1e9);
    while (trace_now_ns() < end) {
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
        app_tick(&a, trace_now_ns());
    }
    app_stop(&a);
    double items = 0;
    for (int i = 0; i < a.stats.n; i++)
        if (!strcmp(a.stats.s[i].name, "throughput"))
            items = a.stats.s[i].value;
    app_release(&a);
    return items;
}

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    const struct scene_entry *e = scene_find("prodcons");
    static const struct {
        const char *name;
        int mode, cap;
    } cases[] = {
        {"queue_mutex_k1024", 0, 1024},     {"queue_lockfree_k1024", 2, 1024},
        {"queue_mutex_k10", 0, 10},         {"queue_lockfree_k10", 2, 10},
        {"queue_processes_k1024", 1, 1024},
    };
    for (unsigned i = 0; i < sizeof cases / sizeof cases[0]; i++)
        printf("BENCH %s %.0f items/s\n", cases[i].name,
               run(e, cases[i].mode, cases[i].cap, 1, 1, secs));
    printf("BENCH queue_mpmc_2x2_k1024 %.0f items/s\n", run(e, 2, 1024, 2, 2, secs));

    /* Tracing overhead: alternate traced and untraced runs, compare medians. */
    double on[5], off[5];
    for (int r = 0; r < 5; r++) {
        on[r] = run(e, 0, 10, 1, 1, secs / 2);
        off[r] = run(&scene_prodcons_notrace, 0, 10, 1, 1, secs / 2);
    }
    qsort(on, 5, sizeof on[0], cmp);
    qsort(off, 5, sizeof off[0], cmp);
    printf("BENCH queue_mutex_k10_traced %.0f items/s\n", on[2]);
    printf("BENCH queue_mutex_k10_untraced %.0f items/s\n", off[2]);
    printf("BENCH tracing_overhead %.1f %%\n", 100.0 * (off[2] - on[2]) / off[2]);
    return 0;
}
