/*
 * Two threads that compute and never wait: a fixed amount of arithmetic
 * each (argv[1] million steps, default 400), then the wall time from the
 * threads' start to their join, "wall_s SECONDS". bench_run.sh times it
 * alone and under `conctui run` to find the sampler's cost to the program.
 */
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static long steps = 400;

static void *spin(void *arg)
{
    uint64_t x = (uint64_t)(uintptr_t)arg | 1;
    for (long i = 0; i < steps * 1000000; i++) {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
    }
    return (void *)(uintptr_t)(x & 1);
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        steps = atol(argv[1]);
    pthread_t t[2];
    double t0 = now();
    for (int i = 0; i < 2; i++)
        if (pthread_create(&t[i], NULL, spin, (void *)(uintptr_t)(i + 7)))
            return 1;
    uintptr_t sum = 0;
    for (int i = 0; i < 2; i++) {
        void *r;
        pthread_join(t[i], &r);
        sum += (uintptr_t)r;
    }
    printf("wall_s %.6f (%lu)\n", now() - t0, (unsigned long)sum);
    return 0;
}
