/*
 * bench_record: what recordings cost. Writes a 10-million-event recording
 * (eight lanes of state changes with realistic gaps), then opens it again:
 * bytes per event on disk, write cost per event, time to open.
 *
 * bench_record [DIR [events [keep]]]: in DIR (default /tmp), events events;
 * with "keep" the file stays and its path is printed (a large recording to
 * replay, as docs/PERFORMANCE.md does).
 */
#include "config.h"

#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "record.h"
#include "trace.h"

#define LANES 8

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    char path[256], err[300];
    unsigned long long events = argc > 2 ? strtoull(argv[2], NULL, 10) : 10000000ull;
    bool keep = argc > 3 && strcmp(argv[3], "keep") == 0;
    if (events == 0)
        events = 1;
    snprintf(path, sizeof path, "%s/conctui-bench-%d.rec", argc > 1 ? argv[1] : "/tmp",
             (int)getpid());
    static struct history h;
    static struct rec_meta m;
    history_init(&h, 1000000000ull);
    for (int i = 0; i < LANES; i++) {
        char name[32];
        snprintf(name, sizeof name, "worker %d", i);
        history_lane_add(&h, name, TRACE_LANE_STATE, 0, 0, 16);
    }
    snprintf(m.scene, sizeof m.scene, "bench");
    snprintf(m.mode, sizeof m.mode, "synthetic");
    struct rec_writer *w = rec_open(path, &h, &m, false, err, sizeof err);
    if (!w) {
        fprintf(stderr, "bench_record: %s\n", err);
        return 1;
    }
    /* Gaps of 0.2-50 us, states cycling, small args: like a busy scene. */
    uint64_t t = h.t0, seed = 88172645463325252ull;
    double t0 = now_s();
    for (uint64_t i = 0; i < events; i++) {
        seed ^= seed << 13, seed ^= seed >> 7, seed ^= seed << 17;
        t += 200 + seed % 50000;
        struct trace_event e = {t, (uint32_t)(i & 1023), (uint16_t)(i % 5), 0};
        rec_event(w, (int)(i % LANES), &e);
    }
    if (rec_close(w, t, NULL, err, sizeof err) != 0) {
        fprintf(stderr, "bench_record: %s\n", err);
        return 1;
    }
    double wrote = now_s() - t0;
    struct stat st;
    stat(path, &st);
    printf("BENCH record_bytes_per_event %.2f bytes\n", (double)st.st_size / (double)events);
    printf("BENCH record_write_cost %.1f ns/event\n", wrote * 1e9 / (double)events);
    static struct history back;
    t0 = now_s();
    if (rec_read(path, &back, &m, err, sizeof err) != 0) {
        fprintf(stderr, "bench_record: %s\n", err);
        return 1;
    }
    double opened = now_s() - t0;
    if (events == 10000000ull)
        printf("BENCH record_open_10M_events %.3f s\n", opened);
    else
        printf("BENCH record_open_%llu_events %.3f s\n", events, opened);
    printf("BENCH record_read_cost %.1f ns/event\n", opened * 1e9 / (double)back.events);
    history_free(&back);
    if (keep)
        printf("kept %s\n", path);
    else
        unlink(path);
    return 0;
}
