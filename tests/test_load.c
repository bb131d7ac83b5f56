/* Machine load: the busy verdict from synthetic samples, and real /proc readings. */
#include "config.h"

#include "testutil.h"

#include <signal.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>

#include "load.h"

#define HZ 100
#define STEP_NS 250000000ull

/* A machine of `cpus` CPUs over a quarter second: we use `self` cores, others `other`. */
static void step(struct load *l, struct load_sample *s, int cpus, double self, double other,
                 double steal)
{
    uint64_t ticks = HZ / 4;
    s->cpus = cpus;
    s->t_ns += STEP_NS;
    s->total += ticks * (uint64_t)cpus;
    s->busy += (uint64_t)((self + other) * (double)ticks + 0.5);
    s->steal += (uint64_t)(steal * (double)ticks + 0.5);
    s->self += (uint64_t)(self * (double)ticks + 0.5);
    load_update(l, s);
}

static void test_load_idle_machine_is_not_busy(void **state)
{
    (void)state;
    struct load l;
    struct load_sample s = {0};
    load_init(&l);
    for (int i = 0; i < 40; i++) {
        step(&l, &s, 2, 2.0, 0.04 * (i % 3), 0); /* our workers take both CPUs */
        assert_false(l.busy);
    }
    assert_true(l.other < 0.1);
    assert_false(load_run_busy(&l));
    assert_true(load_run_other(&l) < 0.1);
}

static void test_load_two_spinners_make_it_busy(void **state)
{
    (void)state;
    struct load l;
    struct load_sample s = {0};
    load_init(&l);
    step(&l, &s, 2, 0.3, 0, 0);
    step(&l, &s, 2, 0.3, 0, 0);
    assert_false(l.busy);
    for (int i = 0; i < 4; i++)
        step(&l, &s, 2, 0.3, 1.7, 0);
    assert_true(l.busy);
    assert_true(l.other > 1.5 && l.other < 1.8);
    assert_true(load_run_busy(&l));
    /* Many CPUs: two spinners still count, a sliver does not. */
    load_init(&l);
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 8; i++)
        step(&l, &s, 16, 4, 2, 0);
    assert_true(l.busy);
    load_init(&l);
    memset(&s, 0, sizeof s);
    for (int i = 0; i < 8; i++)
        step(&l, &s, 16, 4, 0.3, 0);
    assert_false(l.busy);
}

static void test_load_hysteresis(void **state)
{
    (void)state;
    struct load l;
    struct load_sample s = {0};
    load_init(&l);
    for (int i = 0; i < 6; i++)
        step(&l, &s, 2, 1, 1, 0);
    assert_true(l.busy);
    double peak = l.busy_peak;
    assert_true(peak >= load_busy_on(2));
    /* Between the lines: the verdict holds however long it lasts. */
    double mid = (load_busy_on(2) + load_busy_off(2)) / 2;
    for (int i = 0; i < 40; i++) {
        step(&l, &s, 2, 1, mid, 0);
        assert_true(l.busy);
    }
    /* Below the off line: still busy for LOAD_HOLD_NS, then not. */
    int calm_steps = 0;
    while (l.busy && calm_steps < 100) {
        step(&l, &s, 2, 1, 0, 0);
        calm_steps++;
        /* The warning keeps saying what made it busy, not the calm that ends it. */
        if (l.busy)
            assert_true(l.busy_peak >= peak);
    }
    assert_false(l.busy);
    assert_true(l.busy_peak == 0);
    uint64_t hold = LOAD_HOLD_NS / STEP_NS;
    assert_true((uint64_t)calm_steps >= hold && (uint64_t)calm_steps <= hold + 6);
    /* And from idle, load between the lines does not turn it on. */
    for (int i = 0; i < 40; i++) {
        step(&l, &s, 2, 1, mid, 0);
        assert_false(l.busy);
    }
}

static void test_load_steal_counts_as_others(void **state)
{
    (void)state;
    struct load l;
    struct load_sample s = {0};
    load_init(&l);
    for (int i = 0; i < 8; i++)
        step(&l, &s, 4, 1, 1.2, 1.2); /* the hypervisor runs another guest on our CPUs */
    assert_true(l.busy);
    assert_true(l.steal > 1.1 && l.steal < 1.3);
    /* Samples without a tick between them teach nothing. */
    struct load_sample same = s;
    same.t_ns += 1000;
    double before = l.other;
    load_update(&l, &same);
    assert_true(l.other == before);
}

static uint64_t self_ticks(void)
{
    struct load_sample s;
    assert_int_equal(load_read(&s, 1), 0);
    return s.self;
}

static double cpu_secs(clockid_t c)
{
    struct timespec t;
    clock_gettime(c, &t);
    return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* Real readings: our own CPU time and a live child's both count as ours. */
static void test_load_reads_proc(void **state)
{
    (void)state;
    test_watchdog(60);
    struct load_sample s;
    assert_int_equal(load_read(&s, 1), 0);
    assert_true(s.cpus >= 1 && s.total > 0 && s.busy <= s.total && s.running >= 1);
    long hz = sysconf(_SC_CLK_TCK);
    uint64_t t0 = self_ticks();
    double c0 = cpu_secs(CLOCK_PROCESS_CPUTIME_ID);
    volatile uint64_t x = 0;
    while (cpu_secs(CLOCK_PROCESS_CPUTIME_ID) - c0 < 0.3)
        x++;
    uint64_t t1 = self_ticks();
    assert_true((double)(t1 - t0) >= 0.3 * (double)hz * 0.6);

    int pfd[2];
    assert_int_equal(pipe(pfd), 0);
    pid_t kid = fork();
    assert_true(kid >= 0);
    if (kid == 0) {
        double k0 = cpu_secs(CLOCK_PROCESS_CPUTIME_ID);
        while (cpu_secs(CLOCK_PROCESS_CPUTIME_ID) - k0 < 0.4)
            x++;
        if (write(pfd[1], "x", 1) != 1)
            _exit(1);
        pause();
        _exit(0);
    }
    char c;
    assert_int_equal(read(pfd[0], &c, 1), 1);
    uint64_t t2 = self_ticks(); /* the child is alive: its time is read from /proc/PID/stat */
    kill(kid, SIGKILL);
    waitpid(kid, NULL, 0);
    uint64_t t3 = self_ticks(); /* reaped: it is in our cutime now, not lost */
    assert_true((double)(t2 - t1) >= 0.4 * (double)hz * 0.6);
    assert_true(t3 + 2 >= t2);
    close(pfd[0]);
    close(pfd[1]);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_load_idle_machine_is_not_busy),
        cmocka_unit_test(test_load_two_spinners_make_it_busy),
        cmocka_unit_test(test_load_hysteresis),
        cmocka_unit_test(test_load_steal_counts_as_others),
        cmocka_unit_test(test_load_reads_proc),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
