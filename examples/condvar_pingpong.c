/*
 * A condition variable ping-pong: two threads pass a ball back and forth,
 * each waiting on the condition variable until it is its turn, then
 * holding the ball 50 ms (sleeping) before passing it. Each lane alternates
 * sleep (its turn) and lock (pthread_cond_wait is a futex wait).
 *
 *   cc -O2 -pthread -o condvar_pingpong condvar_pingpong.c && conctui run -- ./condvar_pingpong
 */
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <time.h>

static pthread_mutex_t mu = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t cv = PTHREAD_COND_INITIALIZER;
static int turn; /* whose turn: 0 or 1 */
static int rounds = 40;

static void *player(void *arg)
{
    int me = (int)(long)arg;
    for (int i = 0; i < rounds; i++) {
        pthread_mutex_lock(&mu);
        while (turn != me)
            pthread_cond_wait(&cv, &mu);
        pthread_mutex_unlock(&mu);
        printf("%s\n", me ? "pong" : "ping");
        fflush(stdout);
        struct timespec hold = {0, 50000000};
        nanosleep(&hold, NULL);
        pthread_mutex_lock(&mu);
        turn = !me;
        pthread_cond_signal(&cv);
        pthread_mutex_unlock(&mu);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc > 1)
        rounds = atoi(argv[1]);
    pthread_t a, b;
    pthread_create(&a, NULL, player, (void *)0L);
    pthread_create(&b, NULL, player, (void *)1L);
    pthread_join(a, NULL);
    pthread_join(b, NULL);
    return 0;
}
