/*
 * bench_coro: what a switch costs. One coroutine switch (this build's
 * switch), one swapcontext switch (what glibc's ucontext costs, signal mask
 * system call included) and one switch between two threads on one CPU; then
 * the event-loop scene with 10,000 coroutines on one thread.
 */
#include "config.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <ucontext.h>

#include "app.h"
#include "coro.h"
#include "scene.h"
#include "trace.h"

static ucontext_t uc_main, uc_co;
static volatile unsigned long uc_count;

/* The swapcontext partner: bounces straight back, forever. */
static void uc_body(void)
{
    for (;;) {
        uc_count++;
        swapcontext(&uc_co, &uc_main);
    }
}

/* ns per swapcontext switch, over rounds round trips. */
static double ucontext_switch_ns(unsigned rounds)
{
    static char stack[64 * 1024];
    getcontext(&uc_co);
    uc_co.uc_stack.ss_sp = stack;
    uc_co.uc_stack.ss_size = sizeof stack;
    uc_co.uc_link = NULL;
    makecontext(&uc_co, uc_body, 0);
    swapcontext(&uc_main, &uc_co);
    uint64_t t0 = trace_now_ns();
    for (unsigned i = 0; i < rounds; i++)
        swapcontext(&uc_main, &uc_co);
    return (double)(trace_now_ns() - t0) / (2.0 * rounds);
}

static int cmp(const void *x, const void *y)
{
    double a = *(const double *)x, b = *(const double *)y;
    return a < b ? -1 : a > b;
}

/* Median of five runs of a measurement. */
static double median5(double (*f)(unsigned), unsigned rounds)
{
    double v[5];
    for (int i = 0; i < 5; i++)
        v[i] = f(rounds);
    qsort(v, 5, sizeof v[0], cmp);
    return v[2];
}

static double stat_of(const struct app *a, const char *name)
{
    for (int i = 0; i < a->stats.n; i++)
        if (!strcmp(a->stats.s[i].name, name))
            return a->stats.s[i].value;
    return -1;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    printf("BENCH coro_switch_ns %.1f ns\n", median5(coro_measure_switch_ns, 1000000));
    printf("BENCH ucontext_switch_ns %.1f ns\n", median5(ucontext_switch_ns, 200000));
    printf("BENCH thread_switch_ns %.1f ns\n", median5(coro_measure_thread_switch_ns, 20000));

    uint64_t t0 = trace_now_ns();
    struct coro **co = malloc(10000 * sizeof *co);
    if (!co)
        return 1;
    for (int i = 0; i < 10000; i++)
        co[i] = coro_create(NULL, NULL, 64 * 1024);
    for (int i = 0; i < 10000; i++)
        coro_destroy(co[i]);
    free(co);
    printf("BENCH coro_create_destroy_us %.2f us\n", (double)(trace_now_ns() - t0) / 1e3 / 1e4);

    struct app a;
    if (app_init(&a) != 0)
        return 1;
    const struct scene_entry *e = scene_find("evloop");
    int64_t p[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        p[i] = e->params[i].def;
    p[scene_param_find(e, "tasks")] = 10000;
    p[scene_param_find(e, "max_sleep_ms")] = 100;
    if (app_start(&a, e, 1, p) != 0) {
        fprintf(stderr, "bench_coro: cannot start evloop\n");
        return 1;
    }
    uint64_t end = trace_now_ns() + (uint64_t)(secs * 1e9);
    while (trace_now_ns() < end) {
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
        app_tick(&a, trace_now_ns());
    }
    app_stop(&a);
    printf("BENCH evloop_10k_resumes_per_s %.0f /s\n", stat_of(&a, "resumes_per_s"));
    printf("BENCH evloop_10k_late_p99_ms %.2f ms\n", stat_of(&a, "late_p99"));
    printf("BENCH evloop_10k_rss_per_task_kib %.1f KiB\n", stat_of(&a, "rss_per_task"));
    app_shutdown(&a);
    return 0;
}
