/*
 * Two threads passing a byte back and forth through two pipes as fast as
 * they can for SECONDS (default 2): every pass is a wake-up and two context
 * switches, so `conctui run` in exact mode receives as many switch records
 * as the machine makes. Prints the round trips it made.
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>
#include <unistd.h>

static int ab[2], ba[2];
static volatile int stop;

static void *echo(void *arg)
{
    (void)arg;
    char c;
    while (read(ab[0], &c, 1) == 1 && c != 'q')
        if (write(ba[1], &c, 1) != 1)
            break;
    return NULL;
}

int main(int argc, char **argv)
{
    double secs = argc > 1 ? atof(argv[1]) : 2.0;
    if (pipe(ab) != 0 || pipe(ba) != 0)
        return 1;
    pthread_t t;
    if (pthread_create(&t, NULL, echo, NULL) != 0)
        return 1;
    struct timespec t0, now;
    clock_gettime(CLOCK_MONOTONIC, &t0);
    long trips = 0;
    char c = 'x';
    for (;;) {
        if (write(ab[1], &c, 1) != 1 || read(ba[0], &c, 1) != 1)
            break;
        trips++;
        if ((trips & 1023) == 0) {
            clock_gettime(CLOCK_MONOTONIC, &now);
            if ((double)(now.tv_sec - t0.tv_sec) + (double)(now.tv_nsec - t0.tv_nsec) / 1e9 >= secs)
                break;
        }
    }
    c = 'q';
    if (write(ab[1], &c, 1) != 1)
        return 1;
    pthread_join(t, NULL);
    printf("round_trips %ld\n", trips);
    return 0;
}
