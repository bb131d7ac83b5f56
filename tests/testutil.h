/* Shared by the cmocka tests: includes in cmocka's required order, and a watchdog. */
#ifndef CONCTUI_TESTUTIL_H
#define CONCTUI_TESTUTIL_H

#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <cmocka.h>
#include <signal.h>
#include <stdlib.h>
#include <unistd.h>

/* A deadlock must fail the test, not hang the suite. */
static inline void test_watchdog_fired(int sig)
{
    (void)sig;
    static const char msg[] = "watchdog: test took too long (deadlock?)\n";
    if (write(2, msg, sizeof msg - 1) < 0) {
    }
    _exit(1);
}

static inline void test_watchdog(unsigned seconds)
{
    signal(SIGALRM, test_watchdog_fired);
    alarm(seconds);
}

#endif
