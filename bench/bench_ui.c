/*
 * bench_ui: what the interface costs. CPU per frame for a full 200x50
 * layout and draw; then the real program in a 200x50 pseudo-terminal for a
 * few seconds: bytes it writes per second in steady state and its CPU share,
 * for the queue (100 ms a column) and the GIL (1 ms a column, the live view
 * at its fastest).
 */
#include "config.h"

#include <errno.h>
#include <poll.h>
#include <pty.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/resource.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "scene.h"
#include "trace.h"
#include "ui.h"

static double now_s(void)
{
    return (double)trace_now_ns() / 1e9;
}

/* A busy history: the flat-out queue gives every column several transitions. */
static void frame_cost(void)
{
    struct app a;
    if (app_init(&a) != 0)
        exit(1);
    const struct scene_entry *e = scene_find("prodcons");
    int64_t p[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        p[i] = e->params[i].def;
    p[scene_param_find(e, "producers")] = 4;
    p[scene_param_find(e, "consumers")] = 4;
    p[scene_param_find(e, "prod_rate")] = 2000;
    p[scene_param_find(e, "cons_rate")] = 2000;
    app_start(&a, e, 0, p);
    for (int i = 0; i < 100; i++) {
        struct timespec d = {0, 10000000};
        nanosleep(&d, NULL);
        app_tick(&a, trace_now_ns());
    }
    app_stop(&a);
    a.view.ns_per_col = app_zoom_for(a.hist.t_end - a.hist.t0, 200 - 19);
    FILE *null = fopen("/dev/null", "w");
    setenv("TERM", "xterm-256color", 1);
    double full = ui_bench_frames(&a, null, 50, 200, 300, 1);
    double diff = ui_bench_frames(&a, null, 50, 200, 300, 0);
    fclose(null);
    printf("BENCH ui_frame_full_200x50 %.3f ms\n", full / 1e6);
    printf("BENCH ui_frame_unchanged_200x50 %.3f ms\n", diff / 1e6);
    app_release(&a);
}

/* The real program in a pty running a scene: bytes per second after the first full paint. */
static void terminal_output(const char *prog, const char *scene, double secs)
{
    struct winsize ws = {.ws_row = 50, .ws_col = 200};
    int master;
    char dur[32];
    snprintf(dur, sizeof dur, "%g", secs);
    pid_t pid = forkpty(&master, NULL, NULL, &ws);
    if (pid < 0) {
        perror("bench_ui: forkpty");
        exit(1);
    }
    if (pid == 0) {
        setenv("TERM", "xterm-256color", 1);
        setenv("LANG", "C.UTF-8", 1);
        execl(prog, prog, "--scene", scene, "--duration", dur, (char *)NULL);
        _exit(127);
    }
    double t0 = now_s(), warm = 1.0;
    unsigned long long bytes = 0, total = 0;
    char buf[65536];
    for (;;) {
        struct pollfd pfd = {master, POLLIN, 0};
        if (poll(&pfd, 1, 200) < 0 && errno != EINTR)
            break;
        ssize_t n = read(master, buf, sizeof buf);
        if (n <= 0 && (pfd.revents & (POLLHUP | POLLERR)))
            break;
        if (n > 0) {
            total += (unsigned long long)n;
            if (now_s() - t0 >= warm)
                bytes += (unsigned long long)n;
        }
    }
    struct rusage ru;
    int status;
    wait4(pid, &status, 0, &ru);
    double wall = now_s() - t0;
    double cpu = (double)ru.ru_utime.tv_sec + (double)ru.ru_utime.tv_usec / 1e6 +
                 (double)ru.ru_stime.tv_sec + (double)ru.ru_stime.tv_usec / 1e6;
    close(master);
    /* prodcons keeps the names the figures always had; other scenes add theirs. */
    const char *sfx = strcmp(scene, "prodcons") ? scene : "";
    const char *sep = *sfx ? "_" : "";
    printf("BENCH ui_terminal_bytes_200x50%s%s %.1f KiB/s\n", sep, sfx,
           (double)bytes / (wall - warm) / 1024.0);
    printf("BENCH ui_first_paint_and_total%s%s %.1f KiB\n", sep, sfx, (double)total / 1024.0);
    printf("BENCH ui_process_cpu_share%s%s %.2f %%\n", sep, sfx, 100.0 * cpu / wall);
}

int main(int argc, char **argv)
{
    const char *prog = argc > 1 ? argv[1] : "./conctui";
    frame_cost();
    terminal_output(prog, "prodcons", 6.0);
    /* A millisecond a column: the live view moves fastest here. */
    terminal_output(prog, "gil", 6.0);
    return 0;
}
