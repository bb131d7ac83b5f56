/*
 * Scene: event loops and coroutines.
 *
 * DESIGN
 * Who runs: mode 1 one "main" thread plays the caller and resumes two
 * coroutines (a generator and a coroutine fed by send) on their own stacks.
 * Modes 2 and 3 one loop thread runs a libuv loop and N coroutines on top of
 * it: every coroutine, timer and poll callback runs on that one thread.
 * Mode 4 runs the same N tasks as N threads. In every mode a probe thread
 * measures one coroutine switch and one thread switch, then exits. The UI
 * thread only reads counters, and for the 'b' key sets one flag.
 *
 * Who owns what: the loop thread owns the uv loop, every handle, the ready
 * queue, the coroutines and the lateness histogram from the moment it
 * starts; start() only initialises them before creating it. Each lane has
 * one writer: the main thread (mode 1), the loop thread (modes 2 and 3,
 * coroutine lanes included, as coroutines run on it) or the lane's own
 * thread (mode 4). Figures the UI reads are relaxed atomics (each one a
 * standalone number; fetch_add where mode 4's threads share a counter).
 *
 * Locks: none in the scene (scene_note takes its own lock, nothing is held
 * around it).
 *
 * Shutdown: stop() sets the stop flag. Mode 4 threads and mode 1 notice it
 * in scene_sleep and return. Modes 2 and 3: stop() then sends the loop's
 * uv_async; its callback, on the loop thread, cancels every coroutine still
 * suspended (resumes it with a cancel value, so its body returns), closes
 * every handle with uv_walk, and uv_run returns once the closes are done;
 * uv_loop_close must then return 0. Coroutines are destroyed on the loop
 * thread after that. stop() joins the main, loop, task and probe threads;
 * release() frees the memory and closes the socket pairs.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>
#include <uv.h>

#include "coro.h"
#include "hist.h"
#include "scene.h"
#include "i18n.h"
#include "scenes/scenes.h"
#include "trace.h"

#define MAX_TASKS 10000
#define MAX_THREADS 2000
#define TASK_LANES 16   /* tasks beyond these share the gauge lanes */
#define GREEN_IO_MAX 64 /* mode 3: tasks that also read (two descriptors each) */
#define LATE_GAUGE_MS 500
#define GAUGE_NS 200000 /* gauges: at most one event per 200 us (10,000 tasks burst) */
#define WAKE_GO 0
#define WAKE_CANCEL UINTPTR_MAX /* a resume value that cancels the coroutine */

enum {
    P_TASKS,
    P_MAX_SLEEP,
    P_WHOLE_S,
    P_WORK_MS,
    P_RUN_S,
    P_BLOCKING,
    P_BLOCK_MS,
    P_STEP_MS,
    P_GEN_COUNT,
    P_STACK_KB
};
enum { M_GENERATOR, M_ASYNCIO, M_GREEN, M_THREADS };
enum {
    N_NONE,
    N_CALLER,
    N_IN_NEXT,
    N_IN_SEND,
    N_GOT_VALUE,
    N_GOT_AVG,
    N_GEN_RUN,
    N_GEN_YIELD,
    N_GEN_DONE,
    N_CO_RECV,
    N_CO_WAIT,
    N_LOOP_SCHED,
    N_LOOP_TASK,
    N_LOOP_POLL,
    N_LOOP_STALLED,
    N_TASK_RUN,
    N_AWAIT_SLEEP,
    N_GREEN_SLEEP,
    N_AWAIT_READ,
    N_GREEN_READ,
    N_READY_TIMER,
    N_READY_IO,
    N_BLOCKING,
    N_TASK_DONE,
    N_CANCELLED,
    N_THREAD_RUN,
    N_THREAD_SLEEP,
    N_THREAD_BLOCK,
    N_READY_LATE,
};

static const char *const ev_notes[] = {
    [N_NONE] = "",
    [N_CALLER] = N_("caller holds control (paced: asleep step_ms so you can follow)"),
    [N_IN_NEXT] = N_("in next(gen): the generator holds control"),
    [N_IN_SEND] = N_("in coro.send(x): the coroutine holds control"),
    [N_GOT_VALUE] = N_("got the generator's value"),
    [N_GOT_AVG] = N_("got the running average back"),
    [N_GEN_RUN] = N_("generator holds control: the next value (paced: asleep step_ms)"),
    [N_GEN_YIELD] = N_("generator suspended at yield (arg: value)"),
    [N_GEN_DONE] = N_("generator returned: StopIteration"),
    [N_CO_RECV] = N_("coroutine: x = yield received x (arg; paced: asleep step_ms)"),
    [N_CO_WAIT] = N_("coroutine suspended at x = yield"),
    [N_LOOP_SCHED] = N_("loop: scheduling (callbacks, ready queue)"),
    [N_LOOP_TASK] = N_("loop: running a task (arg: task)"),
    [N_LOOP_POLL] = N_("loop: in epoll_wait, nothing ready"),
    [N_LOOP_STALLED] = N_("loop stalled: a task called time.sleep()"),
    [N_TASK_RUN] = N_("running on the loop thread: print(now), then work_ms (arg: run number)"),
    [N_AWAIT_SLEEP] = N_("suspended in await asyncio.sleep(arg ms): no thread waits, the loop "
                         "holds its timer"),
    [N_GREEN_SLEEP] = N_("suspended in time.sleep(arg ms), patched: the loop holds its timer"),
    [N_AWAIT_READ] = N_("suspended in await reader.read(): the loop watches the socket"),
    [N_GREEN_READ] = N_("suspended in sock.recv(), patched: the loop watches the socket"),
    [N_READY_TIMER] = N_("ready: timer fired, queued (arg: run number)"),
    [N_READY_IO] = N_("ready: data arrived, queued (arg: run number)"),
    [N_BLOCKING] = N_("this task called time.sleep(arg ms): asleep in the kernel, holding the "
                      "loop thread"),
    [N_TASK_DONE] = N_("finished (run_s passed)"),
    [N_CANCELLED] = N_("cancelled"),
    [N_THREAD_RUN] = N_("thread: print(now), then work_ms"),
    [N_THREAD_SLEEP] = N_("time.sleep(arg ms): this thread asleep in the kernel"),
    [N_THREAD_BLOCK] = N_("the blocking call, time.sleep(arg ms): still only this thread waits"),
    [N_READY_LATE] = N_("ready: its timer was due, but the loop thread was busy (arg: run number)"),
};

struct ev_state;

struct ev_task {
    struct ev_state *st;
    struct coro *co;
    int idx;
    int lane;     /* -1: no lane of its own */
    unsigned cur; /* state last emitted on the lane */
    bool green;   /* mode 3: written with calls that look blocking */
    bool has_io;  /* mode 3: also reads from a socket */
    uv_timer_t timer;
    uv_timer_t peer; /* the far end of the socket, answering after a delay */
    uv_poll_t poll;
    int fd[2];
    uint64_t deadline_ns;  /* when the armed timer is due, in the loop's clock */
    uint64_t suspended_ns; /* when it last suspended (modes 2 and 3) */
    uint32_t seq;          /* run number given when queued */
    struct ev_task *next;  /* ready-queue link */
    uint64_t rng;
    _Atomic uint64_t worst_late;
    pthread_t thread;  /* mode 4 */
    struct hist *late; /* mode 4: this thread's histogram */
};

/* A gauge lane shown at most once per GAUGE_NS; a peak gauge keeps the window's maximum. */
struct ev_gauge {
    int lane;
    bool peak;
    uint32_t shown, pending;
    uint64_t at;
};

struct ev_state {
    struct scene_ctx *ctx;
    int mode, n;
    size_t stack;
    struct ev_task *tasks;
    int main_lane, gen_lane, avg_lane;
    unsigned main_cur, gen_cur, avg_cur;
    struct ev_gauge ready_g, late_g;
    pthread_t main_thread, probe;
    bool main_up, probe_up, stopped;
    int nthreads;
    struct hist *thread_late;
    /* the loop and everything on it: the loop thread's once it runs */
    uv_loop_t loop;
    bool loop_inited, shut;
    uv_async_t stop_async;
    uv_idle_t idle;
    uv_prepare_t prepare;
    uv_check_t check;
    struct ev_task *rq_head, *rq_tail;
    uint32_t enq_seq, run_seq;
    int loop_close_rc;
    struct hist late;
    uint64_t rss0;
    /* figures read by the UI */
    _Atomic uint64_t iters, resumes, prints, done, reads, order_violations;
    _Atomic uint64_t block_calls, blocked_ns, started, cancelled;
    _Atomic uint32_t ready_len, ready_max, running, running_max;
    _Atomic uint64_t rss_per_task;
    _Atomic double coro_ns, thread_ns;
    _Atomic int loop_closed; /* 1 once uv_loop_close returned 0, -1 if it failed */
    _Atomic int block_once;  /* the 'b' key: the next task blocks */
    /* mode 1 */
    _Atomic uint64_t handoffs, gen_values, gen_restarts, gen_errors, send_errors;
    _Atomic uint64_t last_value, last_avg;
};

#define RLX memory_order_relaxed

/* Add to a figure the UI reads. */
static inline void bump(_Atomic uint64_t *c, uint64_t v)
{
    atomic_fetch_add_explicit(c, v, RLX);
}

/* Emit only real transitions on a lane (its one writer calls this). */
static void lane_set(int lane, unsigned *cur, unsigned state, uint32_t arg)
{
    if (lane < 0 || state == *cur)
        return;
    *cur = state;
    trace_emit(lane, state, arg);
}

/* Emit a task's transition on its lane, if it has one. */
static void task_set(struct ev_task *t, unsigned state, uint32_t arg)
{
    lane_set(t->lane, &t->cur, state, arg);
}

/* Emit the loop (or, in mode 1, the caller) thread's transition. */
static void loop_set(struct ev_state *st, unsigned state, uint32_t arg)
{
    lane_set(st->main_lane, &st->main_cur, state, arg);
}

/* xorshift64*: each task's own random numbers, no shared state. */
static uint64_t rnd(uint64_t *s)
{
    *s ^= *s >> 12;
    *s ^= *s << 25;
    *s ^= *s >> 27;
    return *s * 2685821657736338717ull;
}

/*
 * A random sleep of 0..max_sleep_ms; with whole_s, a whole number of
 * seconds, as the course's random.randint(0, 5) draws it.
 */
static uint64_t random_ms(struct ev_task *t)
{
    int64_t max = scene_param(t->st->ctx, P_MAX_SLEEP);
    if (scene_param(t->st->ctx, P_WHOLE_S))
        return rnd(&t->rng) % (uint64_t)(max / 1000 + 1) * 1000u;
    return max > 0 ? rnd(&t->rng) % (uint64_t)(max + 1) : 0;
}

/* The slow-motion factor (timers are stretched by it, like scene_sleep). */
static uint64_t slowmo(const struct scene_ctx *ctx)
{
    int f = atomic_load_explicit(&ctx->sh->slowmo, RLX);
    return f > 0 ? (uint64_t)f : 1;
}

/* The course's end test: if (loop.time() + 1.0) >= end_time: break (end: run_s after start). */
static bool run_over(const struct ev_state *st)
{
    uint64_t f = slowmo(st->ctx);
    uint64_t run = (uint64_t)scene_param(st->ctx, P_RUN_S) * 1000000000ull * f;
    return trace_now_ns() + 1000000000ull * f - st->ctx->t_start >= run;
}

/*
 * The course's print("Loop: {} Time: {}".format(num, datetime.datetime.now())),
 * into the status line; then the task's own work, work_ms of CPU on the
 * thread that runs it (the loop thread, or the task's own thread in mode 4).
 */
static bool print_and_work(struct ev_state *st, struct ev_task *t)
{
    struct timespec ts;
    struct tm tm;
    char when[40] = "";
    clock_gettime(CLOCK_REALTIME, &ts);
    if (localtime_r(&ts.tv_sec, &tm))
        strftime(when, sizeof when, "%Y-%m-%d %H:%M:%S", &tm);
    bump(&st->prints, 1);
    scene_note(st->ctx, "Loop: %d Time: %s.%06ld", t->idx + 1, when, ts.tv_nsec / 1000);
    int64_t work = scene_param(st->ctx, P_WORK_MS);
    if (work <= 0)
        return true;
    uint32_t n = atomic_fetch_add_explicit(&st->running, 1, RLX) + 1;
    uint32_t max = atomic_load_explicit(&st->running_max, RLX);
    while (n > max && !atomic_compare_exchange_weak_explicit(&st->running_max, &max, n, RLX, RLX))
        ;
    bool ok = scene_spin(st->ctx, (uint64_t)work * 1000000ull);
    atomic_fetch_sub_explicit(&st->running, 1, RLX);
    return ok;
}

/* Resident memory of the whole process, in bytes. */
static uint64_t rss_bytes(void)
{
    char buf[128];
    int fd = open("/proc/self/statm", O_RDONLY | O_CLOEXEC);
    if (fd < 0)
        return 0;
    ssize_t n = read(fd, buf, sizeof buf - 1);
    close(fd);
    if (n <= 0)
        return 0;
    buf[n] = '\0';
    unsigned long long size, res;
    if (sscanf(buf, "%llu %llu", &size, &res) != 2)
        return 0;
    return (uint64_t)res * (uint64_t)sysconf(_SC_PAGESIZE);
}

/* Record how much resident memory each task added, once all have run. */
static void note_rss(struct ev_state *st)
{
    uint64_t now = rss_bytes();
    uint64_t per = now > st->rss0 ? (now - st->rss0) / (uint64_t)st->n : 0;
    atomic_store_explicit(&st->rss_per_task, per, RLX);
}

/* Take the 'b' key's request, or block every time when blocking=1 (task 0). */
static bool takes_block(struct ev_state *st, const struct ev_task *t)
{
    if (scene_param(st->ctx, P_BLOCKING) && t->idx == 0)
        return true;
    if (!atomic_load_explicit(&st->block_once, RLX))
        return false;
    /* Acquire pairs with the release store in ev_key; one task wins the request. */
    return atomic_exchange_explicit(&st->block_once, 0, memory_order_acquire) != 0;
}

/* ---- mode 1: a generator and a coroutine fed by send ---------------------------------- */

/*
 * One hand-off's worth of visible time; false when stopping. The lane that
 * holds control is shown asleep (with what it holds control for): the work
 * itself takes nanoseconds, the pause is only there to be followed.
 */
static bool pace(struct ev_state *st)
{
    bump(&st->handoffs, 1);
    return scene_sleep(st->ctx, (uint64_t)scene_param(st->ctx, P_STEP_MS) * 1000000ull);
}

/* def fib(n): yields the first n Fibonacci numbers, then returns. */
static uintptr_t gen_fib(struct coro *co, void *arg, uintptr_t first)
{
    struct ev_state *st = arg;
    int64_t n = scene_param(st->ctx, P_GEN_COUNT);
    uint64_t a = 0, b = 1;
    if (first == WAKE_CANCEL)
        return 0;
    for (int64_t i = 0; i < n; i++) {
        lane_set(st->gen_lane, &st->gen_cur, TRACE_SLEEP | TRACE_NOTE(N_GEN_RUN), (uint32_t)i);
        if (!pace(st))
            return 0;
        lane_set(st->gen_lane, &st->gen_cur, TRACE_WAIT | TRACE_NOTE(N_GEN_YIELD), (uint32_t)a);
        if (coro_yield(co, a) == WAKE_CANCEL)
            return 0;
        uint64_t c = a + b;
        a = b;
        b = c;
    }
    lane_set(st->gen_lane, &st->gen_cur, TRACE_DONE | TRACE_NOTE(N_GEN_DONE), 0);
    return 0;
}

/* def averager(): x = yield avg, forever; yields the running mean (rounded down). */
static uintptr_t co_averager(struct coro *co, void *arg, uintptr_t first)
{
    struct ev_state *st = arg;
    uint64_t sum = 0, n = 0, avg = 0;
    if (first == WAKE_CANCEL)
        return 0;
    for (;;) {
        lane_set(st->avg_lane, &st->avg_cur, TRACE_WAIT | TRACE_NOTE(N_CO_WAIT), (uint32_t)avg);
        uintptr_t x = coro_yield(co, avg);
        if (x == WAKE_CANCEL)
            return 0;
        lane_set(st->avg_lane, &st->avg_cur, TRACE_SLEEP | TRACE_NOTE(N_CO_RECV), (uint32_t)x);
        sum += x;
        n++;
        avg = sum / n;
        if (!pace(st))
            return 0;
    }
}

/* The caller: next(gen) for each value, then averager.send(value). */
static void *gen_main(void *p)
{
    struct ev_state *st = p;
    struct coro *gen = NULL, *avg = coro_create(co_averager, st, st->stack);
    uint64_t want_a = 0, want_b = 1, sum = 0, count = 0;
    if (!avg) {
        scene_note(st->ctx, _("could not make a coroutine stack"));
        return NULL;
    }
    lane_set(st->main_lane, &st->main_cur, TRACE_READY | TRACE_NOTE(N_IN_SEND), 0);
    coro_resume(avg, WAKE_GO); /* next(averager): run it to its first yield */
    while (!scene_stopping(st->ctx)) {
        if (!gen) {
            gen = coro_create(gen_fib, st, st->stack);
            if (!gen)
                break;
            want_a = 0;
            want_b = 1;
        }
        lane_set(st->main_lane, &st->main_cur, TRACE_SLEEP | TRACE_NOTE(N_CALLER), 0);
        if (!pace(st))
            break;
        lane_set(st->main_lane, &st->main_cur, TRACE_READY | TRACE_NOTE(N_IN_NEXT), 0);
        uintptr_t v = coro_resume(gen, WAKE_GO);
        if (scene_stopping(st->ctx))
            break;
        if (coro_done(gen)) { /* StopIteration: start a fresh generator */
            coro_destroy(gen);
            gen = NULL;
            bump(&st->gen_restarts, 1);
            continue;
        }
        if (v != want_a)
            bump(&st->gen_errors, 1);
        uint64_t c = want_a + want_b;
        want_a = want_b;
        want_b = c;
        bump(&st->gen_values, 1);
        atomic_store_explicit(&st->last_value, v, RLX);
        lane_set(st->main_lane, &st->main_cur, TRACE_SLEEP | TRACE_NOTE(N_GOT_VALUE), (uint32_t)v);
        if (!pace(st))
            break;
        lane_set(st->main_lane, &st->main_cur, TRACE_READY | TRACE_NOTE(N_IN_SEND), (uint32_t)v);
        uintptr_t mean = coro_resume(avg, v);
        if (scene_stopping(st->ctx))
            break;
        sum += v;
        count++;
        if (mean != sum / count)
            bump(&st->send_errors, 1);
        atomic_store_explicit(&st->last_avg, mean, RLX);
        lane_set(st->main_lane, &st->main_cur, TRACE_RUN | TRACE_NOTE(N_GOT_AVG), (uint32_t)mean);
    }
    /* Cancel both so their bodies return rather than being dropped mid-frame. */
    if (gen && !coro_done(gen))
        coro_resume(gen, WAKE_CANCEL);
    if (!coro_done(avg))
        coro_resume(avg, WAKE_CANCEL);
    coro_destroy(gen);
    coro_destroy(avg);
    lane_set(st->main_lane, &st->main_cur, TRACE_DONE, 0);
    return NULL;
}

/* ---- modes 2 and 3: one libuv loop, N coroutines ------------------------------------- */

static void on_idle(uv_idle_t *h);

/*
 * Put a task on the ready queue (FIFO); the idle handle runs the queue. A
 * task whose timer was due a while ago (the loop thread was busy running
 * another task, or stuck in a blocking call) is shown ready from the moment
 * it was due: that wait is the cost of sharing one thread.
 */
static void ev_ready_at(struct ev_state *st, struct ev_task *t, unsigned note, uint64_t due)
{
    t->seq = st->enq_seq++;
    t->next = NULL;
    if (st->rq_tail)
        st->rq_tail->next = t;
    else
        st->rq_head = t;
    st->rq_tail = t;
    uint32_t len = atomic_load_explicit(&st->ready_len, RLX) + 1;
    atomic_store_explicit(&st->ready_len, len, RLX);
    if (len > atomic_load_explicit(&st->ready_max, RLX))
        atomic_store_explicit(&st->ready_max, len, RLX);
    if (due && t->lane >= 0) {
        t->cur = TRACE_READY | TRACE_NOTE(note);
        trace_emit_at(t->lane, t->cur, t->seq, due);
    } else {
        task_set(t, TRACE_READY | TRACE_NOTE(note), t->seq);
    }
    if (!uv_is_active((uv_handle_t *)&st->idle))
        uv_idle_start(&st->idle, on_idle);
}

static void ev_ready(struct ev_state *st, struct ev_task *t, unsigned note)
{
    ev_ready_at(st, t, note, 0);
}

/*
 * Show a gauge value. Bursts (10,000 tasks queued at once) would overrun the
 * lane's ring, so within GAUGE_NS of the last event a value only waits; a
 * level gauge always shows 0 at once, so an emptied queue is never missed.
 */
static void gauge_set(struct ev_gauge *g, uint32_t v)
{
    if (g->lane < 0)
        return;
    if (g->peak && v < g->pending && g->pending != UINT32_MAX)
        v = g->pending;
    uint64_t now = trace_now_ns();
    if (v != g->shown && (now - g->at >= GAUGE_NS || (!g->peak && v == 0))) {
        trace_emit(g->lane, TRACE_GAUGE, v);
        g->shown = v;
        g->at = now;
        g->pending = UINT32_MAX;
    } else {
        g->pending = v;
    }
}

/* Show the ready-queue length. */
static void show_ready(struct ev_state *st)
{
    gauge_set(&st->ready_g, atomic_load_explicit(&st->ready_len, RLX));
}

/* How late a task resumed after its timer's deadline: recorded when it runs. */
static void note_lateness(struct ev_state *st, struct ev_task *t, struct hist *h)
{
    if (!t->deadline_ns)
        return; /* not woken by a timer */
    uint64_t now = trace_now_ns();
    uint64_t late = now > t->deadline_ns ? now - t->deadline_ns : 0;
    t->deadline_ns = 0;
    hist_record(h, late);
    if (late > atomic_load_explicit(&t->worst_late, RLX))
        atomic_store_explicit(&t->worst_late, late, RLX);
    if (st->mode != M_THREADS) /* the gauge's writer is the loop thread */
        gauge_set(&st->late_g, (uint32_t)(late / 1000000u));
}

/* Hand the thread to one task until it awaits again (or finishes). */
static void ev_run(struct ev_state *st, struct ev_task *t)
{
    if (t->seq != st->run_seq)
        bump(&st->order_violations, 1);
    st->run_seq = t->seq + 1;
    note_lateness(st, t, &st->late);
    if (t->lane >= 0) /* tasks without a lane would flood the loop's lane */
        loop_set(st, TRACE_RUN | TRACE_NOTE(N_LOOP_TASK), (uint32_t)t->idx + 1);
    task_set(t, TRACE_RUN | TRACE_NOTE(N_TASK_RUN), t->seq);
    bump(&st->resumes, 1);
    coro_resume(t->co, WAKE_GO);
    if (coro_done(t->co))
        bump(&st->done, 1);
    loop_set(st, TRACE_RUN | TRACE_NOTE(N_LOOP_SCHED), 0);
}

/* Idle phase: run every task that was ready when the phase began, in order. */
static void on_idle(uv_idle_t *h)
{
    struct ev_state *st = h->data;
    uint32_t n = atomic_load_explicit(&st->ready_len, RLX);
    while (n-- > 0 && st->rq_head && !st->shut) {
        struct ev_task *t = st->rq_head;
        st->rq_head = t->next;
        if (!st->rq_head)
            st->rq_tail = NULL;
        atomic_store_explicit(&st->ready_len, atomic_load_explicit(&st->ready_len, RLX) - 1, RLX);
        show_ready(st);
        ev_run(st, t);
        if (atomic_load_explicit(&st->resumes, RLX) == (uint64_t)st->n)
            note_rss(st); /* every task has run once: its stack pages are touched */
    }
    show_ready(st);
    if (!st->rq_head)
        uv_idle_stop(h);
}

/* Lateness from which a timer's task is shown ready since its deadline. */
#define LATE_SHOWN_NS 2000000u

/* A task's sleep is over: queue it (its lateness is taken when it runs). */
static void on_timer(uv_timer_t *h)
{
    struct ev_task *t = h->data;
    uint64_t now = trace_now_ns(), due = t->deadline_ns;
    if (due < t->suspended_ns)
        due = t->suspended_ns; /* the loop's clock counts whole milliseconds */
    if (due && now > due + LATE_SHOWN_NS)
        ev_ready_at(t->st, t, N_READY_LATE, due);
    else
        ev_ready(t->st, t, N_READY_TIMER);
    show_ready(t->st);
}

/* The task's socket has data: queue it. */
static void on_readable(uv_poll_t *h, int status, int events)
{
    struct ev_task *t = h->data;
    (void)status;
    (void)events;
    uv_poll_stop(h);
    ev_ready(t->st, t, N_READY_IO);
    show_ready(t->st);
}

/* The far end of a task's socket answers. */
static void on_peer(uv_timer_t *h)
{
    struct ev_task *t = h->data;
    if (write(t->fd[1], "x", 1) < 0) {
        /* A full socket already holds an answer: nothing more to say. */
    }
}

/* Before the loop may block in epoll_wait: count the iteration. */
static void on_prepare(uv_prepare_t *h)
{
    struct ev_state *st = h->data;
    bump(&st->iters, 1);
    if (!st->rq_head)
        loop_set(st, TRACE_IO | TRACE_NOTE(N_LOOP_POLL), 0);
}

/* Right after epoll_wait returned: the loop is running callbacks again. */
static void on_check(uv_check_t *h)
{
    loop_set(h->data, TRACE_RUN | TRACE_NOTE(N_LOOP_SCHED), 0);
}

/*
 * Suspend the running task until its timer fires: arm a timer, yield to the
 * loop. The deadline is taken in the loop's own clock (CLOCK_MONOTONIC in
 * ms), so lateness is how long after the time the loop scheduled it for the
 * task actually continued: a late timer and a long ready queue both count.
 */
static bool ev_sleep(struct ev_task *t, uint64_t ms, unsigned note)
{
    struct ev_state *st = t->st;
    uint64_t real = ms * slowmo(st->ctx);
    uv_update_time(&st->loop);
    t->deadline_ns = (uv_now(&st->loop) + real) * 1000000ull;
    uv_timer_start(&t->timer, on_timer, real, 0);
    /* Suspended: no thread waits for this task; the loop holds its timer. */
    task_set(t, TRACE_IDLE | TRACE_NOTE(note), (uint32_t)ms);
    t->suspended_ns = trace_now_ns();
    return coro_yield(t->co, 0) != WAKE_CANCEL;
}

/* await asyncio.sleep(ms): the suspension point is visible in the code. */
static bool await_sleep(struct ev_task *t, uint64_t ms)
{
    return ev_sleep(t, ms, N_AWAIT_SLEEP);
}

/*
 * gevent's monkey-patched time.sleep(ms): the caller writes an ordinary
 * blocking call; underneath, the same suspension hands the thread to the loop.
 */
static bool green_sleep(struct ev_task *t, uint64_t ms)
{
    return ev_sleep(t, ms, N_GREEN_SLEEP);
}

/*
 * Read one byte from the task's socket; the far end answers after a random
 * delay. A read that would block registers with epoll and yields instead.
 */
static bool ev_read(struct ev_task *t, unsigned note)
{
    struct ev_state *st = t->st;
    uint64_t ms = random_ms(t);
    uv_timer_start(&t->peer, on_peer, ms * slowmo(st->ctx), 0);
    char b;
    while (read(t->fd[0], &b, 1) != 1) {
        if (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)
            return false;
        uv_poll_start(&t->poll, UV_READABLE, on_readable);
        task_set(t, TRACE_IDLE | TRACE_NOTE(note), (uint32_t)ms);
        if (coro_yield(t->co, 0) == WAKE_CANCEL)
            return false;
    }
    bump(&st->reads, 1);
    return true;
}

/* await reader.read(1) */
static bool await_read(struct ev_task *t)
{
    return ev_read(t, N_AWAIT_READ);
}

/* sock.recv(1), monkey-patched: looks blocking, yields underneath. */
static bool green_read(struct ev_task *t)
{
    return ev_read(t, N_GREEN_READ);
}

/* The mistake: a real blocking sleep on the loop thread, inside a task. */
static void blocking_sleep(struct ev_task *t)
{
    struct ev_state *st = t->st;
    int64_t ms = scene_param(st->ctx, P_BLOCK_MS);
    task_set(t, TRACE_SLEEP | TRACE_NOTE(N_BLOCKING), (uint32_t)ms);
    loop_set(st, TRACE_SLEEP | TRACE_NOTE(N_LOOP_STALLED), (uint32_t)t->idx + 1);
    scene_note(st->ctx, _("task %d called time.sleep(%lld ms): the loop thread is stuck in it"),
               t->idx + 1, (long long)ms);
    uint64_t t0 = trace_now_ns();
    scene_sleep(st->ctx, (uint64_t)ms * 1000000ull);
    bump(&st->blocked_ns, trace_now_ns() - t0);
    bump(&st->block_calls, 1);
    loop_set(st, TRACE_RUN | TRACE_NOTE(N_LOOP_TASK), (uint32_t)t->idx + 1);
    task_set(t, TRACE_RUN | TRACE_NOTE(N_TASK_RUN), t->seq);
}

/*
 * The course's task: print the time, then sleep a random 0..max_sleep_ms,
 * until run_s has passed. Mode 3 tasks also read from a socket.
 */
static uintptr_t task_body(struct coro *co, void *arg, uintptr_t first)
{
    struct ev_task *t = arg;
    struct ev_state *st = t->st;
    (void)co;
    if (first == WAKE_CANCEL)
        return 0;
    for (;;) {
        if (!print_and_work(st, t))
            return 0;
        if (run_over(st))
            break;
        uint64_t ms = random_ms(t);
        if (takes_block(st, t)) {
            blocking_sleep(t); /* time.sleep(block_ms) instead of an await ... */
            ms = 0;            /* ... and then one asyncio.sleep(0) to yield at all */
        }
        if (!(t->green ? green_sleep(t, ms) : await_sleep(t, ms)))
            return 0;
        if (t->has_io && !(t->green ? green_read(t) : await_read(t)))
            return 0;
    }
    task_set(t, TRACE_DONE | TRACE_NOTE(N_TASK_DONE), 0);
    return 1;
}

/* Close whatever handle uv_walk finds still open. */
static void close_walk(uv_handle_t *h, void *arg)
{
    (void)arg;
    if (!uv_is_closing(h))
        uv_close(h, NULL);
}

/* On the loop thread: cancel every suspended task and close every handle. */
static void ev_shutdown(struct ev_state *st)
{
    if (st->shut)
        return;
    st->shut = true;
    for (int i = 0; i < st->n; i++) {
        struct ev_task *t = &st->tasks[i];
        if (t->co && !coro_done(t->co)) {
            coro_resume(t->co, WAKE_CANCEL); /* its await returns false; it returns */
            bump(&st->cancelled, 1);
            task_set(t, TRACE_CANCELLED | TRACE_NOTE(N_CANCELLED), 0);
        }
    }
    st->rq_head = st->rq_tail = NULL;
    atomic_store_explicit(&st->ready_len, 0, RLX);
    uv_walk(&st->loop, close_walk, NULL);
}

/* stop() asked, through the async handle. */
static void on_stop(uv_async_t *h)
{
    ev_shutdown(h->data);
}

/* The loop thread: make the coroutines, queue them all, run the loop. */
static void *loop_main(void *p)
{
    struct ev_state *st = p;
    st->rss0 = rss_bytes();
    loop_set(st, TRACE_RUN | TRACE_NOTE(N_LOOP_SCHED), 0);
    for (int i = 0; i < st->n && !scene_stopping(st->ctx); i++) {
        struct ev_task *t = &st->tasks[i];
        t->co = coro_create(task_body, t, st->stack);
        if (!t->co) {
            scene_note(st->ctx, _("could not make coroutine %d: out of memory or mappings"), i);
            break;
        }
        bump(&st->started, 1);
        ev_ready(st, t, N_READY_TIMER); /* asyncio.gather(*tasks): all start ready */
    }
    show_ready(st);
    /* Returns once on_stop has closed every handle (stop() always sends it). */
    uv_run(&st->loop, UV_RUN_DEFAULT);
    st->loop_close_rc = uv_loop_close(&st->loop);
    atomic_store_explicit(&st->loop_closed, st->loop_close_rc == 0 ? 1 : -1, RLX);
    for (int i = 0; i < st->n; i++) {
        coro_destroy(st->tasks[i].co);
        st->tasks[i].co = NULL;
    }
    loop_set(st, TRACE_DONE, 0);
    return NULL;
}

/* Set up the loop and every handle; the loop thread takes them over. */
static int loop_init(struct ev_state *st)
{
    int rc = uv_loop_init(&st->loop);
    if (rc)
        return rc;
    st->loop_inited = true;
    st->stop_async.data = st->idle.data = st->prepare.data = st->check.data = st;
    if ((rc = uv_async_init(&st->loop, &st->stop_async, on_stop)) != 0)
        return rc;
    uv_idle_init(&st->loop, &st->idle);
    uv_prepare_init(&st->loop, &st->prepare);
    uv_check_init(&st->loop, &st->check);
    uv_prepare_start(&st->prepare, on_prepare);
    uv_check_start(&st->check, on_check);
    for (int i = 0; i < st->n; i++) {
        struct ev_task *t = &st->tasks[i];
        t->timer.data = t->peer.data = t->poll.data = t;
        uv_timer_init(&st->loop, &t->timer);
        if (!t->has_io)
            continue;
        if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0, t->fd) != 0)
            return -errno;
        uv_timer_init(&st->loop, &t->peer);
        if ((rc = uv_poll_init(&st->loop, &t->poll, t->fd[0])) != 0)
            return rc;
    }
    return 0;
}

/* ---- mode 4: the same tasks as threads ---------------------------------------------- */

/* One thread per task: print, then a real blocking sleep that stalls only itself. */
static void *thread_main(void *p)
{
    struct ev_task *t = p;
    struct ev_state *st = t->st;
    if (atomic_fetch_add_explicit(&st->started, 1, RLX) + 1 == (uint64_t)st->n)
        note_rss(st); /* the last thread to start: every stack is in use */
    for (;;) {
        task_set(t, TRACE_RUN | TRACE_NOTE(N_THREAD_RUN), 0);
        if (!print_and_work(st, t))
            return NULL;
        if (run_over(st))
            break;
        uint64_t ms = random_ms(t);
        unsigned note = N_THREAD_SLEEP;
        bool block = takes_block(st, t);
        if (block) {
            ms = (uint64_t)scene_param(st->ctx, P_BLOCK_MS);
            note = N_THREAD_BLOCK;
            bump(&st->block_calls, 1);
            scene_note(st->ctx,
                       _("thread %d called time.sleep(%lld ms): only thread %d waits in it"),
                       t->idx + 1, (long long)ms, t->idx + 1);
        }
        task_set(t, TRACE_SLEEP | TRACE_NOTE(note), (uint32_t)ms);
        uint64_t t0 = trace_now_ns();
        t->deadline_ns = t0 + ms * 1000000ull * slowmo(st->ctx);
        bool slept = scene_sleep(st->ctx, ms * 1000000ull);
        if (block) /* measured: how long this thread really was in the blocking call */
            bump(&st->blocked_ns, trace_now_ns() - t0);
        if (!slept)
            return NULL;
        note_lateness(st, t, t->late);
        bump(&st->resumes, 1);
    }
    task_set(t, TRACE_DONE | TRACE_NOTE(N_TASK_DONE), 0);
    bump(&st->done, 1);
    return NULL;
}

/* ---- every mode ------------------------------------------------------------------------ */

/* Measures a coroutine switch and a thread switch once, then exits. */
static void *probe_main(void *p)
{
    struct ev_state *st = p;
    double best = 0;
    for (int r = 0; r < 3 && !scene_stopping(st->ctx); r++) {
        double ns = coro_measure_switch_ns(20000);
        if (ns > 0 && (best == 0 || ns < best))
            best = ns;
    }
    atomic_store_explicit(&st->coro_ns, best, RLX);
    if (!scene_stopping(st->ctx))
        atomic_store_explicit(&st->thread_ns, coro_measure_thread_switch_ns(2000), RLX);
    return NULL;
}

static void ev_stop(struct scene_ctx *ctx);

/* Declare the lanes every mode shows. */
static int add_lanes(struct ev_state *st)
{
    char name[TRACE_NAME_MAX];
    st->main_lane = st->gen_lane = st->avg_lane = st->ready_g.lane = st->late_g.lane = -1;
    if (st->mode == M_GENERATOR) {
        st->main_lane = trace_lane_add(N_("caller (main)"), TRACE_LANE_STATE, 0);
        st->gen_lane = trace_lane_add(N_("fib() generator"), TRACE_LANE_STATE, 0);
        st->avg_lane = trace_lane_add(N_("averager() coro"), TRACE_LANE_STATE, 0);
        return st->avg_lane < 0 ? -ENOSPC : 0;
    }
    if (st->mode != M_THREADS)
        st->main_lane = trace_lane_add(N_("loop thread"), TRACE_LANE_STATE, 0);
    for (int i = 0; i < st->n; i++) {
        struct ev_task *t = &st->tasks[i];
        t->lane = -1;
        t->cur = TRACE_IDLE;
        if (i >= TASK_LANES)
            continue;
        /* Shown through the catalogue, numbers taken out (see draw_lane_label). */
        const char *fmt = st->mode == M_THREADS ? N_("thread %d")
                          : st->mode == M_GREEN
                              ? (t->green ? N_("green task %d") : N_("await task %d"))
                              : N_("task %d");
        snprintf(name, sizeof name, fmt, i + 1);
        t->lane = trace_lane_add(name, TRACE_LANE_STATE, 0);
    }
    if (st->mode != M_THREADS) {
        uint32_t qmax = st->n < 64 ? (uint32_t)st->n : 64;
        snprintf(name, sizeof name, N_("ready queue (%d)"), st->n);
        st->ready_g.lane = trace_lane_add(name, TRACE_LANE_GAUGE, qmax);
        st->late_g.lane = trace_lane_add(N_("lateness ms"), TRACE_LANE_GAUGE, LATE_GAUGE_MS);
        st->late_g.peak = true;
        if (st->late_g.lane < 0)
            return -ENOSPC;
    }
    return 0;
}

/* Make the tasks, declare the lanes and start the threads for the mode. */
static int ev_start(struct scene_ctx *ctx)
{
    struct ev_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    ctx->priv = st;
    st->ctx = ctx;
    st->mode = ctx->mode;
    st->n = (int)scene_param(ctx, P_TASKS);
    if (st->mode == M_THREADS && st->n > MAX_THREADS) {
        scene_note(ctx, _("threads mode runs at most %d threads"), MAX_THREADS);
        st->n = MAX_THREADS;
    }
    if (st->mode == M_GENERATOR)
        st->n = 0;
    st->stack = coro_stack_bytes((size_t)scene_param(ctx, P_STACK_KB) * 1024u);
    st->main_cur = st->gen_cur = st->avg_cur = TRACE_IDLE;
    st->ready_g.shown = st->late_g.shown = UINT32_MAX;
    st->ready_g.pending = st->late_g.pending = UINT32_MAX;
    hist_reset(&st->late);
    int rc = 0;
    if (st->n > 0 && !(st->tasks = calloc((size_t)st->n, sizeof *st->tasks))) {
        rc = -ENOMEM;
        goto fail;
    }
    for (int i = 0; i < st->n; i++) {
        struct ev_task *t = &st->tasks[i];
        t->st = st;
        t->idx = i;
        t->fd[0] = t->fd[1] = -1;
        t->rng = (0x9e3779b97f4a7c15ull * (uint64_t)(i + 1) ^ trace_now_ns()) | 1;
        t->green = st->mode == M_GREEN && (i & 1);
        t->has_io = st->mode == M_GREEN && i < GREEN_IO_MAX;
    }
    if ((rc = add_lanes(st)) != 0)
        goto fail;
    if (st->mode == M_GENERATOR) {
        rc = -pthread_create(&st->main_thread, NULL, gen_main, st);
        st->main_up = rc == 0;
    } else if (st->mode == M_THREADS) {
        if (!(st->thread_late = calloc((size_t)st->n, sizeof *st->thread_late))) {
            rc = -ENOMEM;
            goto fail;
        }
        pthread_attr_t attr;
        pthread_attr_init(&attr);
        pthread_attr_setstacksize(&attr, st->stack < 65536 ? 65536 : st->stack);
        st->rss0 = rss_bytes();
        for (int i = 0; i < st->n; i++) {
            st->tasks[i].late = &st->thread_late[i];
            hist_reset(st->tasks[i].late);
        }
        for (int i = 0; i < st->n && !rc; i++) {
            rc = -pthread_create(&st->tasks[i].thread, &attr, thread_main, &st->tasks[i]);
            if (!rc)
                st->nthreads++;
        }
        pthread_attr_destroy(&attr);
    } else {
        if ((rc = loop_init(st)) != 0)
            goto fail;
        rc = -pthread_create(&st->main_thread, NULL, loop_main, st);
        st->main_up = rc == 0;
    }
    if (!rc) {
        rc = -pthread_create(&st->probe, NULL, probe_main, st);
        st->probe_up = rc == 0;
    }
    if (rc)
        goto fail;
    if (st->mode == M_ASYNCIO || st->mode == M_GREEN)
        scene_note(ctx, _("%d coroutines on one thread, %zu KiB stacks (%s switch)"), st->n,
                   st->stack / 1024, coro_backend());
    return 0;
fail:
    scene_note(ctx, _("could not start: %s"), strerror(-rc));
    ev_stop(ctx);
    return rc;
}

/* Stop the loop (through its async handle) and join every thread. */
static void ev_stop(struct scene_ctx *ctx)
{
    struct ev_state *st = ctx->priv;
    if (!st || st->stopped)
        return;
    st->stopped = true;
    scene_request_stop(ctx);
    if (st->loop_inited && st->main_up) {
        uv_async_send(&st->stop_async); /* the loop thread shuts itself down */
    } else if (st->loop_inited) {
        /* The loop thread never ran: shut the loop down here instead. */
        ev_shutdown(st);
        uv_run(&st->loop, UV_RUN_DEFAULT);
        st->loop_close_rc = uv_loop_close(&st->loop);
        atomic_store_explicit(&st->loop_closed, st->loop_close_rc == 0 ? 1 : -1, RLX);
    }
    if (st->main_up)
        pthread_join(st->main_thread, NULL);
    st->main_up = false;
    for (int i = 0; i < st->nthreads; i++)
        pthread_join(st->tasks[i].thread, NULL);
    st->nthreads = 0;
    if (st->probe_up)
        pthread_join(st->probe, NULL);
    st->probe_up = false;
}

/* Free the tasks and close their sockets (after stop). */
static void ev_free(struct scene_ctx *ctx)
{
    struct ev_state *st = ctx->priv;
    if (!st)
        return;
    for (int i = 0; i < st->n && st->tasks; i++)
        for (int k = 0; k < 2; k++)
            if (st->tasks[i].fd[k] >= 0)
                close(st->tasks[i].fd[k]);
    free(st->tasks);
    free(st->thread_late);
    free(st);
    ctx->priv = NULL;
}

/* 'b': the next task to run calls a blocking sleep instead of awaiting one. */
static int ev_key(struct scene_ctx *ctx, int key)
{
    struct ev_state *st = ctx->priv;
    if (key != 'b' || !st)
        return 0;
    if (st->mode == M_GENERATOR) {
        scene_note(ctx, _("b: the blocking call belongs to modes 2-4"));
        return 1;
    }
    /* Release pairs with the acquire exchange in takes_block. */
    atomic_store_explicit(&st->block_once, 1, memory_order_release);
    scene_note(ctx, _("the next task to run calls time.sleep(%lld ms) instead of awaiting"),
               (long long)scene_param(ctx, P_BLOCK_MS));
    return 1;
}

/* Lateness over every task (mode 4: merged from each thread's histogram). */
static void lateness(struct ev_state *st, struct hist *out, double *others_min_worst)
{
    hist_reset(out);
    if (st->mode == M_THREADS)
        for (int i = 0; i < st->n; i++)
            hist_merge(out, st->tasks[i].late);
    else
        hist_merge(out, &st->late);
    uint64_t min = UINT64_MAX;
    for (int i = 1; i < st->n; i++) {
        uint64_t w = atomic_load_explicit(&st->tasks[i].worst_late, RLX);
        min = w < min ? w : min;
    }
    *others_min_worst = min == UINT64_MAX ? 0 : (double)min / 1e6;
}

/* The figures: switch costs, then the mode's own. */
static void ev_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct ev_state *st = ctx->priv;
    if (!st)
        return;
    double secs = (double)(trace_now_ns() - ctx->t_start) / 1e9;
    double span = secs > 0 ? secs : 1;
    scene_stat(out, "coro_switch_ns", atomic_load_explicit(&st->coro_ns, RLX), "ns");
    scene_stat(out, "thread_switch_ns", atomic_load_explicit(&st->thread_ns, RLX), "ns");
    if (st->mode == M_GENERATOR) {
        scene_stat(out, "handoffs", (double)atomic_load_explicit(&st->handoffs, RLX), "");
        scene_stat(out, "gen_values", (double)atomic_load_explicit(&st->gen_values, RLX), "");
        scene_stat(out, "gen_restarts", (double)atomic_load_explicit(&st->gen_restarts, RLX), "");
        scene_stat(out, "last_value", (double)atomic_load_explicit(&st->last_value, RLX), "");
        scene_stat(out, "last_average", (double)atomic_load_explicit(&st->last_avg, RLX), "");
        scene_stat(out, "gen_sequence_errors", (double)atomic_load_explicit(&st->gen_errors, RLX),
                   "");
        scene_stat(out, "send_errors", (double)atomic_load_explicit(&st->send_errors, RLX), "");
        return;
    }
    struct hist *h = malloc(sizeof *h);
    if (!h)
        return;
    double others;
    lateness(st, h, &others);
    uint64_t resumes = atomic_load_explicit(&st->resumes, RLX);
    scene_stat(out, "tasks", st->n, "");
    scene_stat(out, "os_threads", st->mode == M_THREADS ? st->n : 1, "");
    scene_stat(out, "tasks_started", (double)atomic_load_explicit(&st->started, RLX), "");
    scene_stat(out, "tasks_done", (double)atomic_load_explicit(&st->done, RLX), "");
    scene_stat(out, "prints", (double)atomic_load_explicit(&st->prints, RLX), "");
    scene_stat(out, "resumes", (double)resumes, "");
    scene_stat(out, "resumes_per_s", (double)resumes / span, "/s");
    scene_stat(out, "running_max", atomic_load_explicit(&st->running_max, RLX), "tasks");
    if (st->mode != M_THREADS) {
        scene_stat(out, "loop_iters_per_s", (double)atomic_load_explicit(&st->iters, RLX) / span,
                   "/s");
        scene_stat(out, "ready_queue", atomic_load_explicit(&st->ready_len, RLX), "tasks");
        scene_stat(out, "ready_queue_max", atomic_load_explicit(&st->ready_max, RLX), "tasks");
        scene_stat(out, "order_violations",
                   (double)atomic_load_explicit(&st->order_violations, RLX), "");
    }
    if (st->mode == M_GREEN)
        scene_stat(out, "reads", (double)atomic_load_explicit(&st->reads, RLX), "");
    scene_stat(out, "wakeups", (double)hist_count(h), "");
    scene_stat(out, "late_p50", (double)hist_percentile(h, 0.5) / 1e6, "ms");
    scene_stat(out, "late_p99", (double)hist_percentile(h, 0.99) / 1e6, "ms");
    scene_stat(out, "late_max", (double)hist_max(h) / 1e6, "ms");
    scene_stat(out, "late_others_min_worst", others, "ms");
    scene_stat(out, "blocking_calls", (double)atomic_load_explicit(&st->block_calls, RLX), "");
    scene_stat(out, "blocked_ms", (double)atomic_load_explicit(&st->blocked_ns, RLX) / 1e6, "ms");
    scene_stat(out, "stack", (double)st->stack / 1024, "KiB");
    scene_stat(out, "rss_per_task", (double)atomic_load_explicit(&st->rss_per_task, RLX) / 1024,
               "KiB");
    if (st->mode != M_THREADS && atomic_load_explicit(&st->loop_closed, RLX))
        scene_stat(out, "loop_closed", atomic_load_explicit(&st->loop_closed, RLX), "");
    free(h);
}

static const struct scene_param ev_params[] = {
    [P_TASKS] = {"tasks", N_("coroutines (or threads) N"), 1, MAX_TASKS, 2, "", SCENE_P_RESTART},
    [P_MAX_SLEEP] = {"max_sleep_ms", N_("each task sleeps a random 0..this"), 0, 60000, 5000, "ms",
                     0},
    [P_WHOLE_S] = {"whole_s",
                   N_("sleeps are whole seconds, random.randint(0, max_sleep_ms/1000), as in the "
                      "course"),
                   0, 1, 1, "", SCENE_P_BOOL},
    [P_WORK_MS] = {"work_ms",
                   N_("CPU work after each print, on the thread that runs the task (0: the print "
                      "only)"),
                   0, 5000, 200, "ms", 0},
    [P_RUN_S] = {"run_s", N_("tasks finish after this long"), 1, 3600, 50, "s", 0},
    [P_BLOCKING] = {"blocking", N_("task 1 calls time.sleep(block_ms) instead of awaiting"), 0, 1,
                    0, "", SCENE_P_BOOL},
    [P_BLOCK_MS] = {"block_ms", N_("length of the blocking call"), 1, 10000, 1000, "ms", 0},
    [P_STEP_MS] = {"step_ms", N_("mode 1: time each side holds control"), 1, 5000, 400, "ms", 0},
    [P_GEN_COUNT] = {"gen_count", N_("mode 1: values per generator"), 1, 40, 10, "", 0},
    [P_STACK_KB] = {"stack_kb", N_("stack per coroutine (and thread)"), 16, 1024, 64, "KiB",
                    SCENE_P_RESTART},
};

static const struct scene_key ev_keys[] = {
    {'b', N_("one task calls time.sleep(block_ms) instead of awaiting: the whole loop stalls"), 0},
};

static const struct scene_mode ev_modes[] = {
    [M_GENERATOR] =
        {"generator", N_("generator and send: who holds control"),
         N_("One thread, three stacks. The caller calls next() on a Fibonacci generator: "
            "control jumps onto the generator's own stack, it computes a value and "
            "yields it, and control jumps back with the value. The caller then sends "
            "that value into an averager coroutine (x = yield avg), which wakes up with "
            "it, updates its mean and yields the mean back. Exactly one lane holds "
            "control at any moment: a coroutine is a function that can stop in the middle "
            "and be continued later, not a second thread. When the generator returns, that "
            "is StopIteration, and the caller starts a fresh one. The work itself takes "
            "nanoseconds (coro_switch_ns), so the lane holding control pauses step_ms at "
            "each step for you to follow it, and is drawn asleep for that pause; the "
            "others wait in next() or send() (ready) or are suspended at yield (idle)."),
         .ns_per_col = 50 * SCENE_MS},
    [M_ASYNCIO] = {"asyncio", N_("asyncio: one loop thread, N coroutines"),
                   N_("The course's example: two tasks print 'Loop: N Time: ...' (the status "
                      "line shows each line as it is printed), then await asyncio.sleep() of a "
                      "random whole 0-5 s, until 50 s have passed. Each print is followed by "
                      "work_ms of CPU work so that the runs show at this zoom (set work_ms=0 for "
                      "the course's program exactly). One OS thread runs a libuv loop: its lane "
                      "shows every resume, with the task's number, and epoll_wait in between. A "
                      "task runs until it awaits, which arms a timer and hands the thread back; "
                      "the task is then suspended (idle dots): no thread is asleep for it, the "
                      "loop holds its timer. Only one task runs at a time (running_max 1): when "
                      "two timers are due together, one task waits ready until the other awaits. "
                      "Concurrency is about structure, not parallelism. Press b: one task calls "
                      "time.sleep() instead of awaiting, and its lane is the one asleep, in the "
                      "kernel, holding the loop thread; every other task shows ready from the "
                      "moment its timer was due, and runs late by up to the whole sleep (the "
                      "lateness gauge). It is the post office again: one clerk, and one customer "
                      "who takes forever at the counter holds up the whole queue."),
                   .ns_per_col = 100 * SCENE_MS},
    [M_GREEN] = {"green", N_("green threads: blocking-looking calls that yield"),
                 N_("gevent's idea, next to asyncio's. Await tasks write 'await sleep()' and "
                    "'await reader.read()': every point where they may give up the thread is "
                    "marked. Green tasks write plain 'time.sleep()' and 'sock.recv()', code that "
                    "looks blocking; the calls are patched so that underneath they do exactly "
                    "what await does: arm a timer or register the socket with epoll, and switch "
                    "to the loop. Both kinds share one thread and one loop, and their lanes look "
                    "the same: the difference is only in what the code lets you see. The price of "
                    "green threads is that any call might switch; the price of await is that it "
                    "spreads through every caller. A call that is not patched (b) still blocks "
                    "everyone."),
                 .ns_per_col = 100 * SCENE_MS},
    [M_THREADS] = {"threads", N_("threads for contrast: N OS threads"),
                   N_("The same tasks as OS threads, each printing, working and then calling "
                      "a real blocking sleep: a sleeping thread is asleep in the kernel (z), "
                      "where a waiting coroutine in mode 2 is only a suspended frame (dots) "
                      "and the loop thread does the waiting for all of them. There is no loop "
                      "lane: the kernel is the scheduler, so two threads' work can overlap "
                      "(running_max 2 or more on two cores), and a thread that blocks for a "
                      "long time (b, or blocking=1) delays no one else; blocked_ms is how long "
                      "its calls really took. Compare the lateness figures with mode 2. The "
                      "price is memory and switches: each thread has its own kernel-scheduled "
                      "stack, and a switch between threads goes through the kernel "
                      "(thread_switch_ns) where a coroutine switch is a few instructions "
                      "(coro_switch_ns)."),
                   .ns_per_col = 100 * SCENE_MS},
};

/* How the figures read on screen (see struct scene_figure); the JSON keys stay the names. */
static const char *const ev_no_yes[] = {N_("no"), N_("yes")};
static const struct scene_figure ev_figures[] = {
    {.name = "coro_switch_ns", .label = N_("coroutine switch"), .flags = FIG_HEADLINE},
    {.name = "thread_switch_ns", .label = N_("thread switch"), .flags = FIG_HEADLINE},
    {.name = "handoffs",
     .label = N_("hand-offs"),
     .fmt = FIG_INT,
     .flags = FIG_HEADLINE,
     .modes = FIG_MODE(M_GENERATOR)},
    {.name = "late_p99",
     .label = N_("late p99"),
     .flags = FIG_HEADLINE,
     .modes = FIG_MODE(M_ASYNCIO) | FIG_MODE(M_GREEN) | FIG_MODE(M_THREADS)},
    {.name = "gen_values", .label = N_("values sent"), .fmt = FIG_INT},
    {.name = "gen_restarts", .label = N_("generators restarted"), .fmt = FIG_INT},
    {.name = "last_value", .label = N_("last value"), .fmt = FIG_INT},
    {.name = "last_average", .label = N_("last average")},
    {.name = "gen_sequence_errors", .label = N_("sequence errors"), .fmt = FIG_INT},
    {.name = "send_errors", .label = N_("send errors"), .fmt = FIG_INT},
    {.name = "tasks", .label = N_("tasks"), .fmt = FIG_INT},
    {.name = "os_threads", .label = N_("OS threads"), .fmt = FIG_INT},
    {.name = "tasks_started", .label = N_("started"), .fmt = FIG_INT},
    {.name = "tasks_done", .label = N_("finished"), .fmt = FIG_INT},
    {.name = "prints", .label = N_("prints"), .fmt = FIG_INT},
    {.name = "resumes", .label = N_("resumes"), .fmt = FIG_INT},
    {.name = "resumes_per_s", .label = N_("resume rate")},
    {.name = "loop_iters_per_s", .label = N_("loop turns")},
    {.name = "ready_queue", .label = N_("ready")},
    {.name = "ready_queue_max", .label = N_("most ready")},
    {.name = "order_violations", .label = N_("order violations"), .fmt = FIG_INT},
    {.name = "reads", .label = N_("reads"), .fmt = FIG_INT},
    {.name = "wakeups", .label = N_("wake-ups"), .fmt = FIG_INT},
    {.name = "late_p50", .label = N_("late p50")},
    {.name = "late_max", .label = N_("late max")},
    {.name = "late_others_min_worst", .label = N_("late max (others)")},
    {.name = "blocking_calls", .label = N_("blocking calls"), .fmt = FIG_INT},
    {.name = "blocked_ms", .label = N_("loop blocked")},
    {.name = "stack", .label = N_("stack a task")},
    {.name = "rss_per_task", .label = N_("memory a task")},
    {.name = "loop_closed",
     .label = N_("loop closed"),
     .fmt = FIG_ENUM,
     .words = ev_no_yes,
     .nwords = (int)(sizeof ev_no_yes / sizeof ev_no_yes[0])},
};

const struct scene_entry scene_evloop = {
    .name = "evloop",
    .title = N_("Event loops and coroutines"),
    .summary = N_("generators, send, asyncio, green threads: one thread juggling many tasks"),
    .modes = ev_modes,
    .nmodes = 4,
    .params = ev_params,
    .nparams = (int)(sizeof ev_params / sizeof ev_params[0]),
    .keys = ev_keys,
    .nkeys = (int)(sizeof ev_keys / sizeof ev_keys[0]),
    .notes = ev_notes,
    .nnotes = (int)(sizeof ev_notes / sizeof ev_notes[0]),
    .start = ev_start,
    .stop = ev_stop,
    .release = ev_free,
    .key = ev_key,
    .stats = ev_stats,
    .figures = ev_figures,
    .nfigures = (int)(sizeof ev_figures / sizeof ev_figures[0]),
};
