/*
 * A mutex convoy: four threads take one mutex in turn, each doing a little
 * work while holding it. Most of their time is waiting for the lock (futex:
 * lock in conctui's lanes), and each hand-off wakes the next waiter.
 *
 *   cc -O2 -pthread -o mutex_convoy mutex_convoy.c && conctui run -- ./mutex_convoy
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

#define THREADS 4

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static long counter;
static double seconds = 5.0;

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* About a millisecond of work. */
static void work(void)
{
    double end = now() + 0.001;
    while (now() < end) {
    }
}

static void *worker(void *arg)
{
    long id = (long)arg, mine = 0;
    double end = now() + seconds;
    while (now() < end) {
        pthread_mutex_lock(&mu);
        work();
        counter++;
        pthread_mutex_unlock(&mu);
        mine++;
    }
    printf("thread %ld: held the lock %ld times\n", id, mine);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        seconds = atof(argv[1]);
    pthread_t th[THREADS];
    for (long i = 0; i < THREADS; i++)
        pthread_create(&th[i], NULL, worker, (void *)i);
    for (int i = 0; i < THREADS; i++)
        pthread_join(th[i], NULL);
    printf("%ld critical sections in %.1f s\n", counter, seconds);
    return 0;
}
