/*
 * Property tests of the task queue scene: real front, broker and worker
 * processes over loopback TCP. Workers are killed in the middle of tasks
 * (the chaos parameter and the x key); after the load stops and the queue
 * drains, every task accepted has been reported to the client exactly once
 * and none is lost. Workers follow their parameter live. Quitting leaves no
 * thread, descriptor or child process behind. Nothing is timed against the
 * clock: the tests wait for counts (under a watchdog) and compare counts.
 */
#include "config.h"

#include "testutil.h"

#include "scenetest.h"

#include <arpa/inet.h>
#include <errno.h>
#include <malloc.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdatomic.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "app.h"
#include "scene.h"
#include "trace.h"
#include "scenes/scenes.h"

static struct app a;

#define count_dir scenetest_count_dir
#define stat_of(name) scenetest_stat(&a, name)

static int setup(void **state)
{
    (void)state;
    test_watchdog(120);
    return app_init(&a);
}

static int teardown(void **state)
{
    (void)state;
    app_shutdown(&a);
    return 0;
}

static void nap_ms(long ms)
{
    struct timespec d = {ms / 1000, (ms % 1000) * 1000000};
    nanosleep(&d, NULL);
}

/* Refresh history and figures. */
static void refresh(void)
{
    app_tick(&a, trace_now_ns());
    app_stats(&a, trace_now_ns());
}

/* Wait (the watchdog bounds it) until figure name reaches at least v. */
static void wait_at_least(const char *name, double v)
{
    for (refresh(); stat_of(name) < v; refresh())
        nap_ms(10);
}

/* Start the scene with its defaults overridden by "name=value" pairs. */
static void start(const char *const *sets)
{
    const struct scene_entry *e = scene_find("taskqueue");
    assert_non_null(e);
    int64_t params[SCENE_MAX_PARAMS];
    for (int i = 0; i < e->nparams; i++)
        params[i] = e->params[i].def;
    for (int i = 0; sets && sets[i]; i++) {
        int idx;
        int64_t v;
        char err[200];
        assert_int_equal(scene_param_parse(e, sets[i], &idx, &v, err, sizeof err), 0);
        params[idx] = v;
    }
    assert_int_equal(app_start(&a, e, 0, params), 0);
}

static void set(const char *name, int64_t v)
{
    app_set_param(&a, scene_param_find(a.scene, name), v);
}

/* Stop the load, let every accepted task finish, then stop the scene. */
static void drain_and_stop(void)
{
    set("chaos_ms", 0);
    set("rate", 0);
    if (a.params[scene_param_find(a.scene, "workers")] == 0)
        set("workers", 1);
    /* Drained on two refreshes in a row, 50 ms apart: a request the client was
     * sending when the rate fell to 0 is counted after the first. */
    int calm = 0;
    while (calm < 2) {
        nap_ms(calm ? 50 : 10);
        refresh();
        bool drained = stat_of("completed") >= stat_of("submitted") && stat_of("queued") == 0 &&
                       stat_of("in_flight") == 0;
        calm = drained ? calm + 1 : 0;
    }
    app_stop(&a);
}

/* After a drained stop: each accepted task reached the client exactly once. */
static void check_exactly_once(void)
{
    assert_true(stat_of("submitted") > 0);
    assert_true(stat_of("completed") == stat_of("submitted"));
    assert_int_equal((int)stat_of("lost"), 0);
    assert_int_equal((int)stat_of("held_at_stop"), 0);
    assert_int_equal((int)stat_of("bad_results"), 0);
    /* Every result the broker passed on was either delivered or suppressed. */
    assert_true(stat_of("broker_results") == stat_of("completed") + stat_of("duplicates"));
}

/* A plain run stopped mid-load: every accepted task is completed or still held. */
static void test_taskqueue_accounting(void **state)
{
    (void)state;
    static const char *const sets[] = {"rate=200", "task_ms=5", NULL};
    for (int i = 0; i < 2; i++) {
        scenetest_run(&a, "taskqueue", 0, 0.5, sets);
        assert_true(stat_of("submitted") > 0);
        assert_true(stat_of("completed") > 0);
        assert_int_equal((int)stat_of("lost"), 0);
        assert_int_equal((int)stat_of("bad_results"), 0);
        assert_true(stat_of("submitted") == stat_of("completed") + stat_of("held_at_stop"));
        /* Answered at once: the request is answered long before the task is done. */
        assert_true(stat_of("req_p50_us") / 1e3 < stat_of("done_p50_ms"));
        scenetest_lane(&a, "front");
        scenetest_lane(&a, "broker");
        scenetest_lane(&a, "tasks queued");
        scenetest_lane(&a, "worker 0");
    }
}

/* Workers killed mid-task: their tasks are re-delivered, nothing is lost or doubled. */
static void test_taskqueue_kill_exactly_once(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=3",   "rate=100",  "task_ms=20",
                                       "chaos_ms=15", "ack_ms=10", NULL};
    for (int i = 0; i < 2; i++) {
        start(sets);
        wait_at_least("kills", 6);
        wait_at_least("redeliveries", 1);
        drain_and_stop();
        check_exactly_once();
        assert_true(stat_of("redeliveries") >= 1);
        /* The killed workers' lanes say so, drawn failed. */
        int killed = scenetest_note_id(&a, "killed");
        bool seen = false;
        for (int l = 0; l < a.hist.nlanes && !seen; l++)
            for (size_t k = 0; k < history_kept(&a.hist.lane[l]) && !seen; k++)
                seen = history_at(&a.hist.lane[l], k)->state ==
                       (TRACE_FAILED | TRACE_NOTE((unsigned)killed));
        assert_true(seen);
        app_release(&a);
    }
}

/*
 * A kill in the lanes: the killed worker's lane ends "killed" with its task,
 * a replacement starts on a lane of its own afterwards, the re-delivered
 * gauge rises until the task's second run reports, and that run shows on
 * the lane of the worker that took it.
 */
static void test_taskqueue_kill_in_lanes(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=2", "rate=4", "task_ms=300", NULL};
    start(sets);
    for (refresh(); stat_of("kills") < 1; refresh()) {
        app_key(&a, 'x', 80);
        nap_ms(20);
    }
    wait_at_least("redeliveries", 1);
    wait_at_least("spawned", 3);
    drain_and_stop();
    check_exactly_once();
    app_tick(&a, trace_now_ns());
    int killed = scenetest_note_id(&a, "killed");
    scenetest_note_id(&a, "re-delivered task"); /* the rerun's note exists */
    uint64_t t_kill = 0;
    uint32_t task = 0;
    const struct history_lane *dead = NULL, *fresh = NULL;
    for (int l = 0; l < a.hist.nlanes; l++) {
        const struct history_lane *h = &a.hist.lane[l];
        if (strstr(h->name, "#2"))
            fresh = h;
        size_t n = history_kept(h);
        if (n && history_at(h, n - 1)->state == (TRACE_FAILED | TRACE_NOTE(killed))) {
            dead = h;
            /* The killed run began before; the reaping that marks it may come after the rerun. */
            t_kill = history_at(h, n > 1 ? n - 2 : n - 1)->t;
            task = history_at(h, n - 1)->arg;
        }
    }
    assert_non_null(dead);
    assert_non_null(fresh);
    assert_true(task > 0);
    assert_true(history_kept(fresh) > 0 &&
                history_at(fresh, 0)->t >= history_at(dead, history_kept(dead) - 1)->t);
    /* The task's second run, after the kill, on some worker's lane. */
    bool rerun = false;
    for (int l = 0; l < a.hist.nlanes && !rerun; l++) {
        const struct history_lane *h = &a.hist.lane[l];
        for (size_t k = 0; k < history_kept(h) && !rerun; k++) {
            const struct trace_event *e = history_at(h, k);
            unsigned note = TRACE_NOTE_OF(e->state);
            /* Either run note: a CPU task or one waiting on a slow call. */
            rerun = note && (int)note < a.scene->nnotes &&
                    strstr(a.scene->notes[note], "re-delivered task") && e->arg == task &&
                    e->t >= t_kill;
        }
    }
    assert_true(rerun);
    /* The gauge: up while the re-delivered task was pending, back to 0 once it reported. */
    const struct history_lane *g = scenetest_lane(&a, "re-delivered");
    uint32_t peak = 0;
    for (size_t k = 0; k < history_kept(g); k++)
        peak = history_at(g, k)->arg > peak ? history_at(g, k)->arg : peak;
    assert_true(peak >= 1);
    assert_int_equal(history_at(g, history_kept(g) - 1)->arg, 0);
    app_release(&a);
}

/* A kill between the result and the acknowledgement runs a task twice: one is suppressed. */
static void test_taskqueue_duplicates_suppressed(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=2",   "rate=100",  "task_ms=2",
                                       "chaos_ms=10", "ack_ms=30", NULL};
    start(sets);
    wait_at_least("duplicates", 1);
    drain_and_stop();
    check_exactly_once();
    assert_true(stat_of("duplicates") >= 1);
    app_release(&a);
}

/* The x key kills a busy worker; > and < add and retire workers live. */
static void test_taskqueue_keys_and_live_workers(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=2", "rate=50", "task_ms=30", NULL};
    start(sets);
    wait_at_least("workers", 2);
    for (refresh(); stat_of("kills") < 1; refresh()) {
        assert_int_equal(app_key(&a, 'x', 80), APP_CONTINUE);
        nap_ms(20);
    }
    assert_int_equal(app_key(&a, ']', 80), APP_CONTINUE);
    assert_int_equal(app_key(&a, ']', 80), APP_CONTINUE);
    wait_at_least("workers", 4);
    set("workers", 6);
    wait_at_least("workers", 6);
    assert_int_equal(app_key(&a, '[', 80), APP_CONTINUE);
    set("workers", 1);
    for (refresh(); stat_of("workers") > 1; refresh())
        nap_ms(10);
    assert_true(stat_of("retired") >= 5);
    /* With every worker gone the front still answers at once; the queue grows. */
    set("workers", 0);
    for (refresh(); stat_of("workers") > 0; refresh())
        nap_ms(10);
    double before = stat_of("submitted");
    wait_at_least("submitted", before + 5);
    wait_at_least("queued", 2);
    set("workers", 2);
    drain_and_stop();
    check_exactly_once();
    app_release(&a);
}

/* ---- attacks on the broker over 127.0.0.1 ---- */

/* The broker's frame, as on the wire (after a 4-byte length). */
struct wire_msg {
    uint8_t type, role, slot, pad;
    uint32_t work_us;
    uint64_t id, value;
    uint32_t attempt, pad2;
};
enum { W_HELLO = 1, W_SUBMIT, W_READY = 5, W_RESULT = 7, W_NONCE = 11, W_WELCOME };
enum { W_FRONT = 1, W_WORKER };

static int peer_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    assert_true(fd >= 0);
    struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(port)};
    sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    assert_int_equal(connect(fd, (struct sockaddr *)&sa, sizeof sa), 0);
    return fd;
}

static bool peer_send(int fd, const struct wire_msg *m)
{
    unsigned char b[4 + sizeof *m];
    uint32_t len = sizeof *m;
    memcpy(b, &len, 4);
    memcpy(b + 4, m, sizeof *m);
    return send(fd, b, sizeof b, MSG_NOSIGNAL) == (ssize_t)sizeof b;
}

/* One frame: 1, or 0 when the broker closed the connection. */
static int peer_recv(int fd, struct wire_msg *m)
{
    unsigned char b[4 + sizeof *m];
    size_t got = 0;
    while (got < sizeof b) {
        ssize_t n = recv(fd, b + got, sizeof b - got, 0);
        if (n <= 0)
            return 0;
        got += (size_t)n;
    }
    memcpy(m, b + 4, sizeof *m);
    return 1;
}

/* Wait until the broker closes fd (it reads nothing more from it). */
static void peer_closed(int fd)
{
    struct wire_msg m;
    while (peer_recv(fd, &m))
        ;
    close(fd);
}

/* Connect and authenticate as the scene's own process would; the HELLO sent goes to *hello. */
static int peer_auth(const uint8_t key[16], uint16_t port, int role, int slot,
                     struct wire_msg *hello)
{
    int fd = peer_connect(port);
    struct wire_msg m;
    assert_int_equal(peer_recv(fd, &m), 1);
    assert_int_equal(m.type, W_NONCE);
    struct wire_msg h = {.type = W_HELLO, .role = (uint8_t)role, .slot = (uint8_t)slot};
    h.value = taskqueue_proof(key, m.id, m.value, role, slot);
    assert_true(peer_send(fd, &h));
    assert_int_equal(peer_recv(fd, &m), 1);
    assert_int_equal(m.type, W_WELCOME);
    if (hello)
        *hello = h;
    return fd;
}

/* SipHash-2-4's published test vector (key 00..0f, message 00..0e). */
static void test_taskqueue_siphash_vector(void **state)
{
    (void)state;
    uint8_t key[16], msg[15];
    for (int i = 0; i < 16; i++)
        key[i] = (uint8_t)i;
    for (int i = 0; i < 15; i++)
        msg[i] = (uint8_t)i;
    assert_true(taskqueue_siphash(key, msg, sizeof msg) == 0xa129ca6149be45e5ull);
    assert_true(taskqueue_siphash(key, msg, 0) == 0x726fdb47dd0e0e31ull);
}

/*
 * Without the run's secret nothing is taken: a SUBMIT asking for 2^32-1 us,
 * a RESULT, a HELLO with a made-up proof and a HELLO replayed from another
 * connection are each refused and counted, and the connection is closed.
 */
static void test_taskqueue_unauthenticated_refused(void **state)
{
    (void)state;
    static const char *const sets[] = {"rate=50", "task_ms=5", NULL};
    start(sets);
    uint16_t port;
    uint8_t key[16];
    assert_int_equal(taskqueue_credentials(&a.ctx, &port, key), 0);
    wait_at_least("completed", 3);
    struct wire_msg m, nonce;
    int fd = peer_connect(port);
    assert_int_equal(peer_recv(fd, &nonce), 1);
    m = (struct wire_msg){.type = W_SUBMIT, .id = 1u << 30, .work_us = UINT32_MAX};
    assert_true(peer_send(fd, &m));
    peer_closed(fd);
    fd = peer_connect(port);
    m = (struct wire_msg){.type = W_RESULT, .id = 2, .value = 42};
    assert_true(peer_send(fd, &m));
    peer_closed(fd);
    fd = peer_connect(port);
    assert_int_equal(peer_recv(fd, &nonce), 1);
    m = (struct wire_msg){.type = W_HELLO, .role = W_WORKER, .slot = 1, .value = nonce.id};
    assert_true(peer_send(fd, &m));
    peer_closed(fd);
    /* A proof seen on one connection does not open another. */
    struct wire_msg hello;
    int good = peer_auth(key, port, W_WORKER, 7, &hello);
    fd = peer_connect(port);
    assert_true(peer_send(fd, &hello));
    peer_closed(fd);
    close(good);
    refresh();
    assert_true(stat_of("refused_frames") >= 4);
    assert_true(stat_of("refused_conns") >= 4);
    drain_and_stop();
    check_exactly_once();
    app_release(&a);
}

static _Atomic int flood_stop;
static uint16_t flood_port;

/* Send RESULT frames as fast as the broker takes them, reconnecting when it hangs up. */
static void *flood_main(void *p)
{
    (void)p;
    unsigned char b[36 * 256];
    for (int i = 0; i < 256; i++) {
        struct wire_msg m = {.type = W_RESULT, .id = (uint64_t)i + 1, .value = 7};
        uint32_t len = sizeof m;
        memcpy(b + 36 * i, &len, 4);
        memcpy(b + 36 * i + 4, &m, sizeof m);
    }
    while (!atomic_load(&flood_stop)) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        struct sockaddr_in sa = {.sin_family = AF_INET, .sin_port = htons(flood_port)};
        sa.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
        if (fd >= 0 && connect(fd, (struct sockaddr *)&sa, sizeof sa) == 0)
            while (!atomic_load(&flood_stop) && send(fd, b, sizeof b, MSG_NOSIGNAL) > 0)
                ;
        if (fd >= 0)
            close(fd);
    }
    return NULL;
}

/* A flood of RESULT frames does not cut the front off: tasks go on completing, none is lost. */
static void test_taskqueue_result_flood(void **state)
{
    (void)state;
    static const char *const sets[] = {"rate=200", "task_ms=2", NULL};
    start(sets);
    uint8_t key[16];
    assert_int_equal(taskqueue_credentials(&a.ctx, &flood_port, key), 0);
    wait_at_least("completed", 5);
    atomic_store(&flood_stop, 0);
    pthread_t t;
    assert_int_equal(pthread_create(&t, NULL, flood_main, NULL), 0);
    wait_at_least("refused_frames", 50);
    double done = stat_of("completed");
    wait_at_least("completed", done + 200);
    atomic_store(&flood_stop, 1);
    pthread_join(t, NULL);
    drain_and_stop();
    check_exactly_once();
    assert_int_equal((int)stat_of("duplicates"), 0);
    app_release(&a);
}

/* A RESULT for a task delivered to another worker is refused, even from an authenticated peer. */
static void test_taskqueue_forged_result_refused(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=1", "rate=2", "task_ms=1500", NULL};
    start(sets);
    uint16_t port;
    uint8_t key[16];
    assert_int_equal(taskqueue_credentials(&a.ctx, &port, key), 0);
    wait_at_least("in_flight", 1); /* task 1 is worker 0's */
    int fd = peer_auth(key, port, W_WORKER, 5, NULL);
    struct wire_msg m = {.type = W_RESULT, .id = 1, .value = 42, .slot = 0};
    assert_true(peer_send(fd, &m));
    peer_closed(fd);
    /* Nor may a second front submit, even with the secret. */
    fd = peer_connect(port);
    struct wire_msg n;
    assert_int_equal(peer_recv(fd, &n), 1);
    m = (struct wire_msg){.type = W_HELLO, .role = W_FRONT};
    m.value = taskqueue_proof(key, n.id, n.value, W_FRONT, 0);
    assert_true(peer_send(fd, &m));
    peer_closed(fd);
    refresh();
    assert_true(stat_of("refused_frames") >= 2);
    drain_and_stop();
    check_exactly_once();
    assert_int_equal((int)stat_of("duplicates"), 0);
    assert_int_equal((int)stat_of("bad_results"), 0);
    app_release(&a);
}

/*
 * A broker that cannot take another worker (every slot held by an
 * authenticated connection): ] forks a few workers, backing off, then stops
 * with a note; changing the parameter tries again.
 */
static void test_taskqueue_spawn_backoff(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=3", "rate=5", "task_ms=5", NULL};
    start(sets);
    uint16_t port;
    uint8_t key[16];
    assert_int_equal(taskqueue_credentials(&a.ctx, &port, key), 0);
    wait_at_least("workers", 3);
    int fds[16], n = 0;
    /* The front and three workers hold four of the sixteen slots. */
    for (; n < 12; n++)
        fds[n] = peer_auth(key, port, W_WORKER, 7, NULL);
    refresh();
    double spawned = stat_of("spawned");
    assert_int_equal(app_key(&a, ']', 80), APP_CONTINUE);
    nap_ms(2000);
    refresh();
    double forks = stat_of("spawned") - spawned;
    assert_true(forks >= 1);
    assert_true(forks <= 6);
    char note[256];
    scene_note_get(&a.ctx, note, sizeof note);
    assert_non_null(strstr(note, "could not register"));
    for (int i = 0; i < n; i++)
        close(fds[i]);
    set("workers", 5);
    wait_at_least("workers", 5);
    drain_and_stop();
    check_exactly_once();
    app_release(&a);
}

/* Idle connections that never say hello do not keep a new worker out, nor make it fork in a loop.
 */
static void test_taskqueue_idle_connections(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=3", "rate=5", "task_ms=5", NULL};
    start(sets);
    uint16_t port;
    uint8_t key[16];
    assert_int_equal(taskqueue_credentials(&a.ctx, &port, key), 0);
    wait_at_least("workers", 3);
    int fds[12];
    for (int i = 0; i < 12; i++)
        fds[i] = peer_connect(port);
    refresh();
    double spawned = stat_of("spawned");
    assert_int_equal(app_key(&a, ']', 80), APP_CONTINUE);
    wait_at_least("workers", 4);
    /* The idle ones are dropped after the handshake time, and counted. */
    wait_at_least("refused_conns", 12);
    refresh();
    assert_true(stat_of("spawned") - spawned <= 6);
    for (int i = 0; i < 12; i++)
        peer_closed(fds[i]);
    drain_and_stop();
    check_exactly_once();
    app_release(&a);
}

/*
 * The heap in use, less the view history's summaries (each lane's is made
 * once, when its ring of events first wraps). Right after a refresh, which
 * is where the history allocates.
 */
static size_t heap_less_history(void)
{
    refresh();
    size_t used = mallinfo2().uordblks;
    for (int l = 0; l < a.hist.nlanes; l++)
        if (a.hist.lane[l].sum.b)
            used -= (size_t)HISTORY_SUM_LEVELS * HISTORY_SUM_BUCKETS * sizeof *a.hist.lane[l].sum.b;
    return used;
}

/*
 * The front's memory does not grow with the number of requests: the heap in
 * use after another 40000 requests is what it was (the result store is a
 * window of recent task ids, not a table of every id ever made).
 */
static void test_taskqueue_front_memory_flat(void **state)
{
    (void)state;
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
    /* A sanitizer's allocator is not glibc's: mallinfo2 does not see it. */
    skip();
#endif
    static const char *const sets[] = {"workers=8", "rate=5000", "task_ms=0", NULL};
    start(sets);
    wait_at_least("completed", 5000);
    size_t before = heap_less_history();
    double n = stat_of("submitted");
    wait_at_least("submitted", n + 40000);
    size_t after = heap_less_history();
    /* 9 bytes a request would be 360 KB; allow a tenth of that for everything else. */
    assert_true(after < before + 36000);
    drain_and_stop();
    check_exactly_once();
    app_release(&a);
}

/* Quitting mid-load, with kills, leaves no thread, descriptor or child behind. */
static void test_taskqueue_cleanup(void **state)
{
    (void)state;
    static const char *const sets[] = {"workers=4", "rate=300", "task_ms=20", "chaos_ms=20", NULL};
    int threads = count_dir("/proc/self/task"), fds = count_dir("/proc/self/fd");
    for (int i = 0; i < 3; i++) {
        scenetest_run(&a, "taskqueue", 0, 0.3, sets);
        assert_int_equal((int)stat_of("lost"), 0);
        app_release(&a);
        assert_int_equal(count_dir("/proc/self/task"), threads);
        assert_int_equal(count_dir("/proc/self/fd"), fds);
        scenetest_no_children();
    }
}

int main(void)
{
#define T(f) cmocka_unit_test_setup_teardown(f, setup, teardown)
    const struct CMUnitTest tests[] = {
        T(test_taskqueue_accounting),
        T(test_taskqueue_kill_exactly_once),
        T(test_taskqueue_kill_in_lanes),
        T(test_taskqueue_duplicates_suppressed),
        T(test_taskqueue_keys_and_live_workers),
        T(test_taskqueue_siphash_vector),
        T(test_taskqueue_unauthenticated_refused),
        T(test_taskqueue_result_flood),
        T(test_taskqueue_forged_result_refused),
        T(test_taskqueue_spawn_backoff),
        T(test_taskqueue_idle_connections),
        T(test_taskqueue_front_memory_flat),
        T(test_taskqueue_cleanup),
    };
    return cmocka_run_group_tests(tests, NULL, NULL);
}
