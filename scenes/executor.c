/*
 * Scene: executors and futures - what Java's Executor and Python's
 * ThreadPoolExecutor / ProcessPoolExecutor give.
 *
 * DESIGN
 * Who runs: a "main" thread plays the user's program: it submits tasks,
 * polls done(), blocks in result(), map() and as_completed() and writes what
 * they returned into the scene's note. Mode 1 has W pool threads that take
 * tasks from a queue under the executor's mutex. Mode 2 has W forked worker
 * processes that read tasks from one call pipe and write "started" and
 * "result" messages into one result pipe, plus a result-handler thread in
 * the parent that moves pending tasks into the call pipe (never more than W
 * at once, so a task still in the queue can be cancelled) and resolves
 * futures from the messages (Python's queue management thread). The UI
 * thread runs the scene keys: t submits a task and c cancels the pending
 * futures directly (Python's submit() and cancel() may be called from any
 * thread); b asks the main thread for a burst.
 *
 * Who owns what: the futures, the work queue, every counter and histogram
 * and the future-slot and queue-length lanes belong to the executor's mutex
 * (struct ex_state.mu); nothing is touched without it. Those lanes have
 * several writers, serialised by the mutex, and are written with
 * trace_emit_at (ungated) so that nobody ever parks at the freeze gate while
 * holding the mutex. Each worker, the main thread and the result handler own
 * their own lane and emit on it (gated) only outside the mutex; so under
 * freeze and step a stepped worker's transition may bring along the future
 * and queue events it causes. The only atomics are the scene's shared stop
 * flag and parameters (see scene.h); the o key stores a parameter relaxed,
 * as the app does, and the main thread reads it relaxed at its next burst.
 * A child process owns nothing of the parent's: it gets a task as bytes and
 * sends the outcome back as bytes (what pickling over a pipe is in Python).
 *
 * Locks: one mutex, ex_state.mu, with two conditions: `work` (a task is
 * queued, thread pool) and `changed` (a future reached a final state, a
 * request arrived, or stopping). No lock is taken while holding it.
 *
 * Shutdown: stop() sets the stop flag and, under the mutex, cancels every
 * pending future (shutdown(cancel_futures=True)) and broadcasts both
 * conditions; tasks already running see the flag in scene_sleep and resolve
 * as interrupted. Thread pool: the workers are joined. Process pool: the
 * eventfd wakes the result handler, which stops dispatching and closes the
 * call pipe, so idle children read end of file and exit; stop() reaps the
 * children (SIGKILL after a grace period), after which the result pipe
 * reads end of file and the handler returns; a task whose child never
 * reported is resolved as failed ("worker died", Python's
 * BrokenProcessPool). The main thread is joined last, then every
 * descriptor is closed.
 */
#include "config.h"

#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "i18n.h"
#include "scene.h"
#include "scenes/scenes.h"
#include "trace.h"

#define MAXW 8         /* pool workers at most */
#define MAXF 1024      /* futures alive at once */
#define MAXBURST 64    /* tasks in one burst */
#define SLOTS 8        /* future-slot lanes */
#define TEXT_MAX 64    /* a result or an error message */
#define GAUGE_MAX 16   /* the queue-length lane's full height (longer queues clip) */
#define PRINTED_MAX 96 /* what map/as_completed printed, in the note */

enum {
    P_WORKERS,
    P_SLEEP_MS,
    P_TASK_MS,
    P_BURST,
    P_AUTOBURST,
    P_AS_COMPLETED,
    P_FAIL,
    P_TIMEOUT_MS,
    P_PAUSE_MS,
    P_MAIN_SLEEP_MS,
};
enum { M_THREADS, M_PROCESSES };
enum {
    N_NONE,
    /* main thread */
    N_M_SUBMIT,
    N_M_RESULT,
    N_M_RESULT_TIMEOUT,
    N_M_MAP,
    N_M_AS_COMPLETED,
    N_M_GOT,
    N_M_PAUSE,
    N_M_EXIT,
    N_M_SLEEP,
    /* workers */
    N_W_WAIT_COND,
    N_W_WAIT_PIPE,
    N_W_TAKE,
    N_W_SLEEP,
    N_W_RETURN,
    N_W_RAISE,
    N_W_EXIT,
    /* result handler */
    N_H_POLL,
    N_H_SEND,
    N_H_RESOLVE,
    /* futures */
    N_F_PENDING,
    N_F_SENT,
    N_F_RUNNING,
    N_F_DONE,
    N_F_HELLO,
    N_F_CANCELLED,
    N_F_FAILED,
    N_F_INTERRUPTED,
};

static const char *const ex_notes[] = {
    [N_NONE] = "",
    [N_M_SUBMIT] = N_("main: pool.submit() returns a future at once"),
    [N_M_RESULT] = N_("main: blocked in f.result() (arg: task)"),
    [N_M_RESULT_TIMEOUT] = N_("main: blocked in f.result(timeout) (arg: task)"),
    [N_M_MAP] = N_("main: blocked in map(), on the next result in submission order (arg: task)"),
    [N_M_AS_COMPLETED] = N_("main: blocked in as_completed(), on whichever finishes first"),
    [N_M_GOT] = N_("main: a result came back (arg: task)"),
    [N_M_PAUSE] = N_("main: pause between rounds (a key wakes it)"),
    [N_M_EXIT] = N_("main: finished"),
    [N_M_SLEEP] = N_("main: time.sleep(main_sleep_ms) before the second f.done() (arg: task)"),
    [N_W_WAIT_COND] = N_("idle: waiting for a task (condition variable)"),
    [N_W_WAIT_PIPE] = N_("idle: waiting for a task (read on the call pipe)"),
    [N_W_TAKE] = N_("took a task (arg: task)"),
    [N_W_SLEEP] = N_("task: time.sleep() (arg: task)"),
    [N_W_RETURN] = N_("task returned a value (arg: task)"),
    [N_W_RAISE] = N_("task raised an exception (arg: task)"),
    [N_W_EXIT] = N_("worker exited"),
    [N_H_POLL] = N_("result handler: poll() on the result pipe"),
    [N_H_SEND] = N_("result handler: writing a task into the call pipe (arg: task)"),
    [N_H_RESOLVE] = N_("result handler: resolving a future (arg: task)"),
    [N_F_PENDING] = N_("future pending: in the work queue (arg: task)"),
    [N_F_SENT] = N_("future running: in the call pipe, no worker has it yet (arg: task)"),
    [N_F_RUNNING] = N_("future running in a worker (arg: task)"),
    [N_F_DONE] = N_("future done: result() returns the value (arg: task)"),
    [N_F_HELLO] = N_("future done: result() returns 'hello' (arg: task)"),
    [N_F_CANCELLED] = N_("future cancelled: it never ran (arg: task)"),
    [N_F_FAILED] = N_("future failed: result() raises the worker's exception (arg: task)"),
    [N_F_INTERRUPTED] = N_("future failed: interrupted by the pool's shutdown (arg: task)"),
};

enum fut_state { F_PENDING, F_RUNNING, F_DONE, F_CANCELLED, F_FAILED };
enum task_fn { T_HELLO, T_SQUARE };
enum task_status { S_OK, S_RAISED, S_INTERRUPTED, S_DIED };

/* A task as it travels to a worker: by value, over the call pipe in mode 2. */
struct ex_task {
    uint32_t id;  /* task number, from 1 */
    uint16_t idx; /* the future's index in the table */
    uint8_t fn;   /* enum task_fn */
    uint8_t fail; /* raise instead of returning */
    uint64_t arg;
    uint64_t dur_ns; /* scene time the task sleeps */
};

enum { MSG_STARTED, MSG_RESULT };

/* A worker process's report, over the result pipe (one atomic write each). */
struct ex_msg {
    uint32_t kind; /* MSG_STARTED or MSG_RESULT */
    uint32_t id;
    uint16_t idx;
    int16_t worker;
    int32_t status; /* enum task_status */
    uint64_t t_start, t_end;
    char text[TEXT_MAX];
};

struct ex_future {
    struct ex_task task;
    uint8_t state;   /* enum fut_state */
    uint8_t started; /* a worker began it (mode 2: "running" starts when sent) */
    uint8_t status;  /* enum task_status, once final */
    uint8_t idle_at_submit;
    int refs; /* the executor's until final, plus the holder's */
    int worker;
    int slot; /* future-slot lane index, -1 when not drawn */
    uint32_t starts, resolves;
    uint64_t t_submit, t_start, t_end, t_done, done_seq;
    char text[TEXT_MAX];
    struct ex_future *next; /* work queue or free list */
};

struct ex_state;

struct ex_worker {
    struct ex_state *st;
    int idx, lane;
    unsigned cur;
};

struct ex_state {
    struct scene_ctx *ctx;
    int mode, nw;
    pthread_mutex_t mu;
    pthread_cond_t work, changed;
    struct ex_future fut[MAXF];
    struct ex_future *free_list, *qhead, *qtail;
    int queued, running, idle, inflight, max_queued;
    uint32_t next_id;
    uint64_t done_seq;
    /* requests from the UI thread */
    int burst_req, fail_next;
    /* lanes */
    int main_lane, handler_lane, queue_lane;
    int slot_lane[SLOTS];
    struct ex_future *slot_owner[SLOTS];
    uint64_t slot_freed[SLOTS];
    struct ex_worker w[MAXW], main_w, handler_w;
    /* figures */
    uint64_t submitted, n_done, n_cancelled, n_failed, n_interrupted, n_died, undrawn;
    uint64_t violations, busy_ns[MAXW], t_begin;
    struct hist wait, total, dispatch, ret, wake;
    uint64_t examples, example_hello, example_done_first, example_done_after, timeouts;
    double example_s, handoff_us, result_after_ms;
    uint64_t map_batches, completed_batches, order_violations, wrong_results, out_of_order;
    int checked;
    /* workers */
    pthread_t threads[MAXW + 2];
    int nthreads;
    pid_t pids[MAXW];
    int npids;
    pthread_t main_thread, handler;
    int main_up, handler_up;
    /* mode 2 descriptors: call pipe, result pipe, the handler's wake-up */
    int task_rd, task_wr, res_rd, res_wr, wake_fd;
};

static uint64_t stretch(const struct scene_ctx *ctx, uint64_t ns)
{
    /* Relaxed: a standalone factor the app sets; the next wait uses it. */
    int f = atomic_load_explicit(&ctx->sh->slowmo, memory_order_relaxed);
    return ns * (uint64_t)(f > 0 ? f : 1);
}

/* Emit only real transitions of a worker-owned lane (gated; never under mu). */
static void set_state(struct ex_worker *w, unsigned st, uint32_t arg)
{
    if (st == w->cur && arg == 0)
        return;
    w->cur = st;
    trace_emit(w->lane, st, arg);
}

static bool is_final(const struct ex_future *f)
{
    return f->state >= F_DONE;
}

/* ---- the executor: every function here runs with st->mu held --------------------------- */

static void queue_gauge(struct ex_state *st, uint64_t now)
{
    if (st->queue_lane >= 0)
        trace_emit_at(st->queue_lane, TRACE_GAUGE,
                      (uint32_t)(st->queued > GAUGE_MAX ? GAUGE_MAX : st->queued), now);
    if (st->queued > st->max_queued)
        st->max_queued = st->queued;
}

static void fut_lane(struct ex_state *st, struct ex_future *f, unsigned state, uint64_t now)
{
    if (f->slot >= 0 && st->slot_owner[f->slot] == f)
        trace_emit_at(st->slot_lane[f->slot], state, f->task.id, now);
}

/* The free slot whose last future finished longest ago, so finished states stay visible. */
static int slot_take(struct ex_state *st, struct ex_future *f)
{
    int best = -1;
    for (int s = 0; s < SLOTS; s++) {
        struct ex_future *o = st->slot_owner[s];
        if (st->slot_lane[s] < 0 || (o && !is_final(o)))
            continue;
        if (best < 0 || st->slot_freed[s] < st->slot_freed[best])
            best = s;
    }
    if (best >= 0) {
        if (st->slot_owner[best])
            st->slot_owner[best]->slot = -1;
        st->slot_owner[best] = f;
    }
    return best;
}

static void fut_unref(struct ex_state *st, struct ex_future *f)
{
    if (--f->refs > 0)
        return;
    if (f->slot >= 0 && st->slot_owner[f->slot] == f)
        st->slot_owner[f->slot] = NULL;
    f->slot = -1;
    f->next = st->free_list;
    st->free_list = f;
}

/* Take a queued future off the queue (it must be there). */
static void queue_remove(struct ex_state *st, struct ex_future *f)
{
    struct ex_future **pp = &st->qhead, *prev = NULL;
    while (*pp && *pp != f) {
        prev = *pp;
        pp = &(*pp)->next;
    }
    if (!*pp)
        return;
    *pp = f->next;
    if (st->qtail == f)
        st->qtail = prev;
    f->next = NULL;
    st->queued--;
}

/* A future reaches its one final state; a second resolution is a violation. */
static void fut_resolve(struct ex_state *st, struct ex_future *f, enum fut_state state,
                        enum task_status status, const char *text, uint64_t t_end)
{
    uint64_t now = trace_now_ns();
    if (is_final(f)) {
        st->violations++;
        return;
    }
    if (state == F_CANCELLED && f->started)
        st->violations++;
    f->resolves++;
    if (f->state == F_RUNNING) {
        st->running--;
        if (f->started && f->worker >= 0 && f->worker < MAXW && t_end > f->t_start)
            st->busy_ns[f->worker] += t_end - f->t_start;
        if (f->started && now > t_end)
            hist_record(&st->ret, now - t_end);
    }
    f->state = (uint8_t)state;
    f->status = (uint8_t)status;
    f->t_end = t_end;
    f->t_done = now;
    f->done_seq = ++st->done_seq;
    snprintf(f->text, sizeof f->text, "%s", text);
    unsigned lane_state;
    switch (state) {
    case F_DONE:
        st->n_done++;
        lane_state = TRACE_DONE | TRACE_NOTE(strcmp(text, "hello") ? N_F_DONE : N_F_HELLO);
        break;
    case F_CANCELLED:
        st->n_cancelled++;
        lane_state = TRACE_CANCELLED | TRACE_NOTE(N_F_CANCELLED);
        break;
    default:
        st->n_failed++;
        st->n_interrupted += status == S_INTERRUPTED;
        st->n_died += status == S_DIED;
        lane_state = TRACE_FAILED | TRACE_NOTE(status == S_RAISED ? N_F_FAILED : N_F_INTERRUPTED);
        break;
    }
    hist_record(&st->total, now - f->t_submit);
    fut_lane(st, f, lane_state, now);
    if (f->slot >= 0)
        st->slot_freed[f->slot] = now;
    pthread_cond_broadcast(&st->changed);
    fut_unref(st, f); /* the executor's reference */
}

/* A worker begins a future; a second start, or a start after cancel, is a violation. */
static void fut_start(struct ex_state *st, struct ex_future *f, int worker, uint64_t t_start)
{
    if (f->started || is_final(f)) {
        st->violations++;
        return;
    }
    f->started = 1;
    f->starts++;
    f->worker = worker;
    f->t_start = t_start;
    uint64_t wait = t_start > f->t_submit ? t_start - f->t_submit : 0;
    hist_record(&st->wait, wait);
    if (f->idle_at_submit)
        hist_record(&st->dispatch, wait);
    fut_lane(st, f, TRACE_RUN | TRACE_NOTE(N_F_RUNNING), trace_now_ns());
}

/* Pop the oldest pending future and mark it running (thread pool: taken; mode 2: sent). */
static struct ex_future *queue_pop(struct ex_state *st)
{
    struct ex_future *f = st->qhead;
    if (!f)
        return NULL;
    st->qhead = f->next;
    if (!st->qhead)
        st->qtail = NULL;
    f->next = NULL;
    st->queued--;
    st->running++;
    f->state = F_RUNNING;
    queue_gauge(st, trace_now_ns());
    return f;
}

static int idle_workers(const struct ex_state *st)
{
    return st->mode == M_PROCESSES ? st->nw - st->inflight : st->idle;
}

/* ---- the executor's API: each takes st->mu itself --------------------------------------- */

/*
 * pool.submit(fn, arg): returns a future at once, holding one reference for
 * the caller (ex_release drops it). NULL when the table is full or stopping.
 */
static struct ex_future *ex_submit(struct ex_state *st, enum task_fn fn, uint64_t arg,
                                   uint64_t dur_ns)
{
    pthread_mutex_lock(&st->mu);
    struct ex_future *f = st->free_list;
    if (!f || scene_stopping(st->ctx)) {
        pthread_mutex_unlock(&st->mu);
        return NULL;
    }
    st->free_list = f->next;
    uint32_t id = ++st->next_id;
    int64_t every = scene_param(st->ctx, P_FAIL);
    bool fail = st->fail_next || (every > 0 && id % (uint64_t)every == 0);
    st->fail_next = 0;
    uint64_t now = trace_now_ns();
    memset(f, 0, sizeof *f);
    f->task = (struct ex_task){.id = id,
                               .idx = (uint16_t)(f - st->fut),
                               .fn = (uint8_t)fn,
                               .fail = fail,
                               .arg = arg,
                               .dur_ns = dur_ns};
    f->state = F_PENDING;
    f->refs = 2;
    f->worker = -1;
    f->t_submit = now;
    f->idle_at_submit = idle_workers(st) > st->queued;
    f->slot = slot_take(st, f);
    st->undrawn += f->slot < 0;
    if (st->qtail)
        st->qtail->next = f;
    else
        st->qhead = f;
    st->qtail = f;
    st->queued++;
    st->submitted++;
    fut_lane(st, f, TRACE_READY | TRACE_NOTE(N_F_PENDING), now);
    queue_gauge(st, now);
    if (st->mode == M_THREADS)
        pthread_cond_signal(&st->work);
    pthread_mutex_unlock(&st->mu);
    if (st->mode == M_PROCESSES) {
        uint64_t one = 1;
        if (write(st->wake_fd, &one, sizeof one) < 0) {
            /* The counter cannot overflow at this rate; nothing to do. */
        }
    }
    return f;
}

static void ex_release(struct ex_state *st, struct ex_future *f)
{
    pthread_mutex_lock(&st->mu);
    fut_unref(st, f);
    pthread_mutex_unlock(&st->mu);
}

/* f.done(): never blocks. */
static bool ex_done(struct ex_state *st, struct ex_future *f)
{
    pthread_mutex_lock(&st->mu);
    bool d = is_final(f);
    pthread_mutex_unlock(&st->mu);
    return d;
}

/* f.cancel() for every pending future; running ones cannot be cancelled. */
static int ex_cancel_pending(struct ex_state *st)
{
    int n = 0;
    pthread_mutex_lock(&st->mu);
    while (st->qhead) {
        struct ex_future *f = st->qhead;
        queue_remove(st, f);
        fut_resolve(st, f, F_CANCELLED, S_OK, "CancelledError", trace_now_ns());
        n++;
    }
    queue_gauge(st, trace_now_ns());
    pthread_mutex_unlock(&st->mu);
    return n;
}

static void cond_deadline(struct timespec *ts, uint64_t deadline_ns)
{
    ts->tv_sec = (time_t)(deadline_ns / 1000000000u);
    ts->tv_nsec = (long)(deadline_ns % 1000000000u);
}

/*
 * f.result(timeout) on the main thread, shown blocked on its lane with
 * `note` for as long as it waits: 0 once f is final, ETIMEDOUT, or ECANCELED
 * when the scene is stopping.
 */
static int ex_wait(struct ex_state *st, struct ex_future *f, uint64_t timeout_ns, unsigned note)
{
    struct ex_worker *m = &st->main_w;
    uint32_t id = f->task.id;
    int rc = 0;
    bool waited = false;
    pthread_mutex_lock(&st->mu);
    if (!is_final(f)) {
        waited = true;
        pthread_mutex_unlock(&st->mu);
        set_state(m, TRACE_WAIT | TRACE_NOTE(note), id);
        pthread_mutex_lock(&st->mu);
        uint64_t deadline = timeout_ns ? trace_now_ns() + stretch(st->ctx, timeout_ns) : 0;
        struct timespec ts;
        cond_deadline(&ts, deadline);
        while (!is_final(f) && !scene_stopping(st->ctx) && rc != ETIMEDOUT)
            rc = deadline ? pthread_cond_timedwait(&st->changed, &st->mu, &ts)
                          : pthread_cond_wait(&st->changed, &st->mu);
    }
    if (is_final(f)) {
        /* How long the blocked caller took to notice: condition variable wake-up. */
        uint64_t now = trace_now_ns();
        if (waited)
            hist_record(&st->wake, now > f->t_done ? now - f->t_done : 0);
        rc = 0;
    } else if (rc != ETIMEDOUT) {
        rc = ECANCELED;
    }
    pthread_mutex_unlock(&st->mu);
    if (rc == 0)
        set_state(m, TRACE_RUN | TRACE_NOTE(N_M_GOT), id);
    return rc;
}

/* ---- the task body, the same in a thread and in a child process ------------------------ */

/* Runs one task; its return value or error message goes to out. */
static enum task_status task_run(struct ex_worker *w, const struct ex_task *t, char *out,
                                 size_t len)
{
    struct scene_ctx *ctx = w->st->ctx;
    set_state(w, TRACE_SLEEP | TRACE_NOTE(N_W_SLEEP), t->id);
    if (!scene_sleep(ctx, t->dur_ns)) {
        snprintf(out, len, "interrupted: the pool shut down");
        return S_INTERRUPTED;
    }
    if (t->fail) {
        set_state(w, TRACE_RUN | TRACE_NOTE(N_W_RAISE), t->id);
        if (w->st->mode == M_PROCESSES)
            snprintf(out, len, "ValueError('task %u failed') in worker %d, pid %d", (unsigned)t->id,
                     w->idx + 1, (int)getpid());
        else
            snprintf(out, len, "ValueError('task %u failed') in worker %d", (unsigned)t->id,
                     w->idx + 1);
        return S_RAISED;
    }
    set_state(w, TRACE_RUN | TRACE_NOTE(N_W_RETURN), t->id);
    if (t->fn == T_HELLO)
        snprintf(out, len, "hello");
    else
        snprintf(out, len, "%llu", (unsigned long long)(t->arg * t->arg));
    return S_OK;
}

static enum fut_state final_state(enum task_status s)
{
    return s == S_OK ? F_DONE : F_FAILED;
}

/* ---- mode 1: the thread pool ---------------------------------------------------------- */

static void *thread_worker(void *p)
{
    struct ex_worker *w = p;
    struct ex_state *st = w->st;
    bool shown = false;
    char text[TEXT_MAX];
    pthread_mutex_lock(&st->mu);
    while (!scene_stopping(st->ctx)) {
        if (!st->qhead) {
            if (!shown) {
                pthread_mutex_unlock(&st->mu);
                set_state(w, TRACE_WAIT | TRACE_NOTE(N_W_WAIT_COND), 0);
                shown = true;
                pthread_mutex_lock(&st->mu);
                continue;
            }
            st->idle++;
            pthread_cond_wait(&st->work, &st->mu);
            st->idle--;
            continue;
        }
        struct ex_future *f = queue_pop(st);
        fut_start(st, f, w->idx, trace_now_ns());
        struct ex_task t = f->task;
        pthread_mutex_unlock(&st->mu);
        shown = false;
        set_state(w, TRACE_RUN | TRACE_NOTE(N_W_TAKE), t.id);
        enum task_status s = task_run(w, &t, text, sizeof text);
        uint64_t t_end = trace_now_ns();
        pthread_mutex_lock(&st->mu);
        fut_resolve(st, f, final_state(s), s, text, t_end);
    }
    pthread_mutex_unlock(&st->mu);
    set_state(w, TRACE_DONE | TRACE_NOTE(N_W_EXIT), 0);
    return NULL;
}

/* ---- mode 2: the process pool --------------------------------------------------------- */

static bool write_all(int fd, const void *buf, size_t len)
{
    const char *p = buf;
    while (len) {
        ssize_t n = write(fd, p, len);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0)
            return false;
        p += n;
        len -= (size_t)n;
    }
    return true;
}

/* A forked worker: read a task, report "started", run it, report the outcome. */
static void *process_worker(void *p)
{
    struct ex_worker *w = p;
    struct ex_state *st = w->st;
    /* Only the call pipe's read end and the result pipe's write end are ours. */
    close(st->task_wr);
    close(st->res_rd);
    close(st->wake_fd);
    for (;;) {
        set_state(w, TRACE_WAIT | TRACE_NOTE(N_W_WAIT_PIPE), 0);
        struct ex_task t;
        ssize_t n = read(st->task_rd, &t, sizeof t);
        if (n < 0 && errno == EINTR)
            continue;
        if (n != (ssize_t)sizeof t)
            break; /* end of file: the pool shut down */
        struct ex_msg m = {.kind = MSG_STARTED,
                           .id = t.id,
                           .idx = t.idx,
                           .worker = (int16_t)w->idx,
                           .t_start = trace_now_ns()};
        set_state(w, TRACE_RUN | TRACE_NOTE(N_W_TAKE), t.id);
        if (!write_all(st->res_wr, &m, sizeof m))
            break;
        m.kind = MSG_RESULT;
        m.status = task_run(w, &t, m.text, sizeof m.text);
        m.t_end = trace_now_ns();
        if (!write_all(st->res_wr, &m, sizeof m))
            break;
    }
    set_state(w, TRACE_DONE | TRACE_NOTE(N_W_EXIT), 0);
    return NULL;
}

/* Move pending futures into the call pipe while a worker is free for each. */
static void handler_dispatch(struct ex_state *st)
{
    struct ex_task batch[MAXW];
    int n = 0;
    pthread_mutex_lock(&st->mu);
    while (!scene_stopping(st->ctx) && st->task_wr >= 0 && st->inflight < st->nw && st->qhead) {
        struct ex_future *f = queue_pop(st);
        st->inflight++;
        fut_lane(st, f, TRACE_KERNEL | TRACE_NOTE(N_F_SENT), trace_now_ns());
        batch[n++] = f->task;
    }
    pthread_mutex_unlock(&st->mu);
    for (int i = 0; i < n; i++) {
        set_state(&st->handler_w, TRACE_RUN | TRACE_NOTE(N_H_SEND), batch[i].id);
        if (!write_all(st->task_wr, &batch[i], sizeof batch[i]))
            break; /* every worker is gone; stop() resolves what they held */
    }
}

/* Apply one worker report to its future. */
static void handler_apply(struct ex_state *st, const struct ex_msg *m)
{
    set_state(&st->handler_w, TRACE_RUN | TRACE_NOTE(N_H_RESOLVE), m->id);
    pthread_mutex_lock(&st->mu);
    struct ex_future *f = m->idx < MAXF ? &st->fut[m->idx] : NULL;
    if (!f || f->task.id != m->id || f->state != F_RUNNING) {
        st->violations++; /* a report for a future that is not running */
    } else if (m->kind == MSG_STARTED) {
        fut_start(st, f, m->worker, m->t_start);
    } else {
        char text[TEXT_MAX];
        snprintf(text, sizeof text, "%.*s", TEXT_MAX - 1, m->text);
        enum task_status s = (enum task_status)m->status;
        st->inflight--;
        fut_resolve(st, f, final_state(s), s, text, m->t_end);
    }
    pthread_mutex_unlock(&st->mu);
}

/* Every worker died with the pool still open: Python's BrokenProcessPool. */
static void handler_broken(struct ex_state *st)
{
    pthread_mutex_lock(&st->mu);
    uint64_t now = trace_now_ns();
    for (int i = 0; i < MAXF; i++)
        if (st->fut[i].refs > 0 && st->fut[i].state == F_RUNNING)
            fut_resolve(st, &st->fut[i], F_FAILED, S_DIED, "BrokenProcessPool", now);
    st->inflight = 0;
    pthread_mutex_unlock(&st->mu);
    scene_note(st->ctx, _("every worker process is gone: BrokenProcessPool"));
}

/*
 * The parent's result handler (Python's queue management thread): feeds the
 * call pipe and resolves futures from the result pipe until every worker has
 * closed it.
 */
static void *handler_main(void *p)
{
    struct ex_state *st = p;
    char buf[16 * sizeof(struct ex_msg)];
    size_t have = 0;
    for (;;) {
        if (scene_stopping(st->ctx) && st->task_wr >= 0) {
            /* Idle workers read end of file and exit. */
            pthread_mutex_lock(&st->mu);
            int fd = st->task_wr;
            st->task_wr = -1;
            pthread_mutex_unlock(&st->mu);
            close(fd);
        }
        handler_dispatch(st);
        set_state(&st->handler_w, TRACE_IO | TRACE_NOTE(N_H_POLL), 0);
        struct pollfd pf[2] = {{st->res_rd, POLLIN, 0}, {st->wake_fd, POLLIN, 0}};
        int n = poll(pf, 2, scene_stopping(st->ctx) ? 20 : -1);
        if (n < 0 && errno != EINTR)
            break;
        if (n <= 0)
            continue;
        if (pf[1].revents & POLLIN) {
            uint64_t v;
            if (read(st->wake_fd, &v, sizeof v) < 0) {
                /* EAGAIN: another read took the count already. */
            }
        }
        if (!(pf[0].revents & (POLLIN | POLLHUP | POLLERR)))
            continue;
        ssize_t r = read(st->res_rd, buf + have, sizeof buf - have);
        if (r < 0 && (errno == EINTR || errno == EAGAIN))
            continue;
        if (r <= 0) {
            /* End of file: every worker has exited. */
            if (!scene_stopping(st->ctx))
                handler_broken(st);
            break;
        }
        have += (size_t)r;
        size_t off = 0;
        for (; have - off >= sizeof(struct ex_msg); off += sizeof(struct ex_msg)) {
            struct ex_msg m;
            memcpy(&m, buf + off, sizeof m);
            handler_apply(st, &m);
        }
        memmove(buf, buf + off, have - off);
        have -= off;
    }
    set_state(&st->handler_w, TRACE_DONE | TRACE_NOTE(N_W_EXIT), 0);
    return NULL;
}

/* ---- the main thread: the user's program ---------------------------------------------- */

static void m_state(struct ex_state *st, unsigned state, uint32_t arg)
{
    set_state(&st->main_w, state, arg);
}

/*
 * The course's example as it is written: submit, print(f.done()) at once,
 * time.sleep() as long as the task, print(f.done()) again, then
 * print("Result: " + f.result()). The second done() is a race between two
 * sleeps of the same length: the task's began when a worker took it, main's
 * when main went to sleep; whichever began first ends first. The scene
 * reads done() at that moment and prints what it read, with the two start
 * times that decided it.
 */
static void run_example(struct ex_state *st)
{
    struct scene_ctx *ctx = st->ctx;
    uint64_t dur = (uint64_t)scene_param(ctx, P_SLEEP_MS) * 1000000ull;
    uint64_t timeout = (uint64_t)scene_param(ctx, P_TIMEOUT_MS) * 1000000ull;
    m_state(st, TRACE_RUN | TRACE_NOTE(N_M_SUBMIT), 0);
    struct ex_future *f = ex_submit(st, T_HELLO, 0, dur);
    if (!f) {
        if (!scene_stopping(ctx))
            scene_note(ctx, _("pool.submit(): more than %d futures alive, none taken"), MAXF);
        return;
    }
    bool first = ex_done(st, f);
    uint32_t id = f->task.id;
    const char *b1 = first ? "True" : "False";
    scene_note(ctx, _("printed: %s"), b1);
    /* sleep(5): main's own sleep, by default as long as the task's. */
    uint64_t main_sleep = (uint64_t)scene_param(ctx, P_MAIN_SLEEP_MS) * 1000000ull;
    if (main_sleep)
        m_state(st, TRACE_SLEEP | TRACE_NOTE(N_M_SLEEP), id);
    uint64_t t_sleep = trace_now_ns();
    if (main_sleep && !scene_sleep(ctx, main_sleep)) {
        ex_release(st, f);
        return;
    }
    /* print(f.done()): what the future holds now, whatever result() would later say. */
    pthread_mutex_lock(&st->mu);
    uint64_t t_check = trace_now_ns();
    bool second = is_final(f);
    bool started = f->started;
    uint64_t t_start = f->t_start;
    pthread_mutex_unlock(&st->mu);
    const char *b2 = second ? "True" : "False";
    scene_note(ctx, _("printed: %s, %s"), b1, b2);
    int rc;
    while ((rc = ex_wait(st, f, timeout, timeout ? N_M_RESULT_TIMEOUT : N_M_RESULT)) == ETIMEDOUT) {
        bool d = ex_done(st, f);
        pthread_mutex_lock(&st->mu);
        st->timeouts++;
        pthread_mutex_unlock(&st->mu);
        scene_note(ctx, _("f.result(timeout=%.1f s) raised TimeoutError; f.done() -> %s"),
                   (double)timeout / 1e9, d ? "True" : "False");
    }
    /* A shutdown (which cancels or interrupts the task) ends the program, not the example. */
    if (rc == 0 && !scene_stopping(ctx)) {
        pthread_mutex_lock(&st->mu);
        char text[TEXT_MAX];
        snprintf(text, sizeof text, "%s", f->text);
        enum fut_state s = (enum fut_state)f->state;
        double secs = (double)(trace_now_ns() - f->t_submit) / 1e9;
        if (!started && f->started) {
            started = true;
            t_start = f->t_start;
        }
        /* Positive: the task began its sleep after main began its own. */
        double handoff = started ? ((double)t_start - (double)t_sleep) / 1e3 : 0;
        double after = ((double)f->t_done - (double)t_check) / 1e6;
        pthread_mutex_unlock(&st->mu);
        /* What the program printed, then why the second line reads as it does. */
        if (s == F_DONE && !second)
            scene_note(ctx,
                       _("printed: %s, %s, Result: %s  (the task began %.0f us after main's "
                         "sleep: its result came %.2f ms after the second done())"),
                       b1, b2, text, handoff, after);
        else if (s == F_DONE)
            scene_note(ctx,
                       _("printed: %s, %s, Result: %s  (the task began %.0f us before main's "
                         "sleep: it was done %.2f ms before the second done())"),
                       b1, b2, text, -handoff, -after);
        else if (s == F_CANCELLED)
            scene_note(ctx, _("f.result() raised CancelledError: task #%u was cancelled"),
                       (unsigned)id);
        else
            scene_note(ctx, _("f.result() raised %s"), text);
        pthread_mutex_lock(&st->mu);
        st->examples++;
        st->example_done_first += first;
        st->example_done_after += second;
        st->example_hello += s == F_DONE && strcmp(text, "hello") == 0;
        st->example_s = secs;
        st->handoff_us = handoff;
        st->result_after_ms = after;
        pthread_mutex_unlock(&st->mu);
    }
    ex_release(st, f);
}

/* Mixed durations: a long first task, then short and long ones. */
static uint64_t burst_dur(const struct scene_ctx *ctx, int i)
{
    static const unsigned quarter[8] = {6, 1, 3, 2, 5, 1, 4, 2};
    return (uint64_t)scene_param(ctx, P_TASK_MS) * 1000000ull * quarter[i % 8] / 4;
}

static void printed_add(char *buf, size_t len, const struct ex_future *f)
{
    size_t used = strlen(buf);
    if (used + 8 >= len)
        return;
    const char *word = f->state == F_DONE        ? f->text
                       : f->state == F_CANCELLED ? "cancelled"
                                                 : "raised";
    snprintf(buf + used, len - used, "%s%s", used ? " " : "", word);
}

/* A burst of N tasks, collected with map() or as_completed(). */
static void run_burst(struct ex_state *st)
{
    struct scene_ctx *ctx = st->ctx;
    int n = (int)scene_param(ctx, P_BURST);
    bool completed = scene_param(ctx, P_AS_COMPLETED) != 0;
    struct ex_future *f[MAXBURST];
    int got = 0;
    m_state(st, TRACE_RUN | TRACE_NOTE(N_M_SUBMIT), 0);
    for (; got < n && got < MAXBURST; got++)
        if (!(f[got] = ex_submit(st, T_SQUARE, (uint64_t)got, burst_dur(ctx, got))))
            break;
    if (got == 0)
        return;
    scene_note(ctx, _("submitted %d tasks square(0..%d); collecting with %s"), got, got - 1,
               completed ? "as_completed()" : "map()");
    char printed[PRINTED_MAX] = "";
    bool yielded[MAXBURST] = {false};
    uint64_t last_seq = 0;
    uint64_t bad_order = 0, wrong = 0;
    int k;
    for (k = 0; k < got; k++) {
        int i = k;
        if (completed) {
            /* as_completed(): the finished, not yet yielded future that finished first. */
            bool shown = false;
            uint64_t t_block = 0;
            pthread_mutex_lock(&st->mu);
            for (;;) {
                i = -1;
                for (int j = 0; j < got; j++)
                    if (!yielded[j] && is_final(f[j]) && (i < 0 || f[j]->done_seq < f[i]->done_seq))
                        i = j;
                if (i >= 0 || scene_stopping(ctx))
                    break;
                if (!shown) {
                    pthread_mutex_unlock(&st->mu);
                    m_state(st, TRACE_WAIT | TRACE_NOTE(N_M_AS_COMPLETED), 0);
                    shown = true;
                    pthread_mutex_lock(&st->mu);
                    t_block = trace_now_ns();
                    continue;
                }
                pthread_cond_wait(&st->changed, &st->mu);
            }
            if (i >= 0 && shown && f[i]->t_done >= t_block) {
                uint64_t now = trace_now_ns();
                hist_record(&st->wake, now > f[i]->t_done ? now - f[i]->t_done : 0);
            }
            pthread_mutex_unlock(&st->mu);
            if (i < 0)
                break;
            m_state(st, TRACE_RUN | TRACE_NOTE(N_M_GOT), f[i]->task.id);
        } else if (ex_wait(st, f[i], 0, N_M_MAP) != 0) {
            break;
        }
        yielded[i] = true;
        pthread_mutex_lock(&st->mu);
        /* map yields in submission order, as_completed in completion order. */
        if (completed ? f[i]->done_seq <= last_seq : i != k)
            bad_order++;
        last_seq = f[i]->done_seq;
        char want[24];
        snprintf(want, sizeof want, "%llu", (unsigned long long)((uint64_t)i * (uint64_t)i));
        if ((f[i]->state == F_DONE && (f[i]->task.fail || strcmp(f[i]->text, want) != 0)) ||
            (f[i]->state == F_FAILED && f[i]->status == S_RAISED && !f[i]->task.fail))
            wrong++;
        printed_add(printed, sizeof printed, f[i]);
        pthread_mutex_unlock(&st->mu);
    }
    /* A batch the shutdown cut short (or cancelled) is not counted. */
    bool whole = k == got && !scene_stopping(ctx);
    if (whole)
        scene_note(ctx, _("%s printed: %s"), completed ? "as_completed()" : "map()", printed);
    pthread_mutex_lock(&st->mu);
    if (whole) {
        /* Completions out of submission order: what map() hid and as_completed() shows. */
        for (int j = 1; j < got; j++)
            st->out_of_order += f[j]->done_seq < f[j - 1]->done_seq;
        if (completed)
            st->completed_batches++;
        else
            st->map_batches++;
    }
    st->order_violations += bad_order;
    st->wrong_results += wrong;
    pthread_mutex_unlock(&st->mu);
    for (int j = 0; j < got; j++)
        ex_release(st, f[j]);
}

static void *main_thread(void *p)
{
    struct ex_state *st = p;
    struct scene_ctx *ctx = st->ctx;
    while (!scene_stopping(ctx)) {
        run_example(st);
        if (scene_param(ctx, P_AUTOBURST) && !scene_stopping(ctx))
            run_burst(st);
        /* The pause; a burst asked for by the b key is run as soon as main is here. */
        uint64_t until =
            trace_now_ns() + stretch(ctx, (uint64_t)scene_param(ctx, P_PAUSE_MS) * 1000000ull);
        for (;;) {
            m_state(st, TRACE_SLEEP | TRACE_NOTE(N_M_PAUSE), 0);
            struct timespec ts;
            cond_deadline(&ts, until);
            int take = 0;
            pthread_mutex_lock(&st->mu);
            while (!st->burst_req && !scene_stopping(ctx) && trace_now_ns() < until)
                pthread_cond_timedwait(&st->changed, &st->mu, &ts);
            if (st->burst_req && !scene_stopping(ctx)) {
                st->burst_req--;
                take = 1;
            }
            pthread_mutex_unlock(&st->mu);
            if (!take)
                break;
            run_burst(st);
        }
    }
    m_state(st, TRACE_DONE | TRACE_NOTE(N_M_EXIT), 0);
    return NULL;
}

/* ---- the scene table's hooks ---------------------------------------------------------- */

static void ex_stop(struct scene_ctx *ctx);

static int lane(const char *name)
{
    return trace_lane_add(name, TRACE_LANE_STATE, 0);
}

static int make_pipes(struct ex_state *st)
{
    int tp[2], rp[2];
    if (pipe2(tp, O_CLOEXEC) != 0)
        return -errno;
    if (pipe2(rp, O_CLOEXEC) != 0) {
        int err = errno;
        close(tp[0]);
        close(tp[1]);
        return -err;
    }
    st->task_rd = tp[0];
    st->task_wr = tp[1];
    st->res_rd = rp[0];
    st->res_wr = rp[1];
    fcntl(st->res_rd, F_SETFL, O_NONBLOCK);
    st->wake_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
    return st->wake_fd < 0 ? -errno : 0;
}

static void close_fd(int *fd)
{
    if (*fd >= 0)
        close(*fd);
    *fd = -1;
}

static int ex_start(struct scene_ctx *ctx)
{
    struct ex_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    ctx->priv = st;
    st->ctx = ctx;
    st->mode = ctx->mode;
    st->nw = (int)scene_param(ctx, P_WORKERS);
    st->task_rd = st->task_wr = st->res_rd = st->res_wr = st->wake_fd = -1;
    st->handler_lane = -1;
    st->t_begin = trace_now_ns();
    for (int i = MAXF - 1; i >= 0; i--) {
        st->fut[i].slot = -1;
        st->fut[i].next = st->free_list;
        st->free_list = &st->fut[i];
    }
    pthread_condattr_t ca;
    pthread_condattr_init(&ca);
    pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
    pthread_mutex_init(&st->mu, NULL);
    pthread_cond_init(&st->work, &ca);
    pthread_cond_init(&st->changed, &ca);
    pthread_condattr_destroy(&ca);
    hist_reset(&st->wait);
    hist_reset(&st->total);
    hist_reset(&st->dispatch);
    hist_reset(&st->ret);
    hist_reset(&st->wake);

    char name[TRACE_NAME_MAX];
    st->main_lane = lane(N_("main thread"));
    st->main_w = (struct ex_worker){st, -1, st->main_lane, TRACE_IDLE};
    for (int i = 0; i < st->nw; i++) {
        snprintf(name, sizeof name, st->mode == M_PROCESSES ? N_("process %d") : N_("worker %d"),
                 i + 1);
        st->w[i] = (struct ex_worker){st, i, lane(name), TRACE_IDLE};
    }
    if (st->mode == M_PROCESSES) {
        st->handler_lane = lane(N_("result handler"));
        st->handler_w = (struct ex_worker){st, -1, st->handler_lane, TRACE_IDLE};
    }
    for (int s = 0; s < SLOTS; s++) {
        snprintf(name, sizeof name, N_("future slot %d"), s + 1);
        st->slot_lane[s] = lane(name);
    }
    st->queue_lane = trace_lane_add(N_("queue length"), TRACE_LANE_GAUGE, GAUGE_MAX);
    int rc = st->queue_lane < 0 || st->main_lane < 0 ? -ENOSPC : 0;
    for (int i = 0; i < st->nw; i++)
        rc = st->w[i].lane < 0 ? -ENOSPC : rc;
    if (st->mode == M_PROCESSES && st->handler_lane < 0)
        rc = -ENOSPC;
    if (!rc && st->mode == M_PROCESSES)
        rc = make_pipes(st);
    for (int i = 0; i < st->nw && !rc; i++)
        rc = scene_spawn(st->mode == M_PROCESSES,
                         st->mode == M_PROCESSES ? process_worker : thread_worker, &st->w[i],
                         st->threads, &st->nthreads, st->pids, &st->npids);
    /* The children hold the ends they use; the parent keeps the other two. */
    close_fd(&st->res_wr);
    close_fd(&st->task_rd);
    if (!rc && st->mode == M_PROCESSES) {
        rc = -pthread_create(&st->handler, NULL, handler_main, st);
        st->handler_up = rc == 0;
    }
    if (!rc) {
        rc = -pthread_create(&st->main_thread, NULL, main_thread, st);
        st->main_up = rc == 0;
    }
    if (rc) {
        scene_note(ctx, _("could not start the pool: %s"), strerror(-rc));
        ex_stop(ctx);
        return rc;
    }
    if (st->mode == M_PROCESSES)
        scene_note(ctx,
                   _("%d worker processes; tasks go out over a pipe, results come back "
                     "over another"),
                   st->nw);
    return 0;
}

static void ex_stop(struct scene_ctx *ctx)
{
    struct ex_state *st = ctx->priv;
    if (!st)
        return;
    scene_request_stop(ctx);
    /* shutdown(cancel_futures=True): what has not started never will. */
    ex_cancel_pending(st);
    pthread_mutex_lock(&st->mu);
    pthread_cond_broadcast(&st->work);
    pthread_cond_broadcast(&st->changed);
    pthread_mutex_unlock(&st->mu);
    if (st->wake_fd >= 0) {
        uint64_t one = 1;
        if (write(st->wake_fd, &one, sizeof one) < 0) {
            /* The handler also polls the stop flag every 20 ms. */
        }
    }
    if (!st->handler_up)
        close_fd(&st->task_wr); /* idle children read end of file */
    for (int i = 0; i < st->nthreads; i++)
        pthread_join(st->threads[i], NULL);
    st->nthreads = 0;
    scene_reap(st->pids, &st->npids);
    if (st->handler_up)
        pthread_join(st->handler, NULL);
    st->handler_up = 0;
    if (st->main_up)
        pthread_join(st->main_thread, NULL);
    st->main_up = 0;
    /* A child killed before it reported leaves its future running: resolve it. */
    pthread_mutex_lock(&st->mu);
    uint64_t now = trace_now_ns();
    for (int i = 0; i < MAXF; i++)
        if (st->fut[i].refs > 0 && st->fut[i].state == F_RUNNING)
            fut_resolve(st, &st->fut[i], F_FAILED, S_DIED, "the worker died", now);
    st->checked = 1;
    pthread_mutex_unlock(&st->mu);
    close_fd(&st->task_wr);
    close_fd(&st->task_rd);
    close_fd(&st->res_rd);
    close_fd(&st->res_wr);
    close_fd(&st->wake_fd);
}

static void ex_free(struct scene_ctx *ctx)
{
    struct ex_state *st = ctx->priv;
    if (!st)
        return;
    pthread_mutex_destroy(&st->mu);
    pthread_cond_destroy(&st->work);
    pthread_cond_destroy(&st->changed);
    free(st);
    ctx->priv = NULL;
}

static int ex_key(struct scene_ctx *ctx, int key)
{
    struct ex_state *st = ctx->priv;
    if (!st)
        return 0;
    switch (key) {
    case 't': {
        struct ex_future *f =
            ex_submit(st, T_HELLO, 0, (uint64_t)scene_param(ctx, P_SLEEP_MS) * 1000000ull);
        if (!f) {
            scene_note(ctx, _("pool.submit(): more than %d futures alive, none taken"), MAXF);
            return 1;
        }
        pthread_mutex_lock(&st->mu);
        unsigned id = f->task.id;
        int queued = st->queued;
        fut_unref(st, f); /* nobody waits for it */
        pthread_mutex_unlock(&st->mu);
        scene_note(ctx, _("t: pool.submit(task #%u) from the UI thread; %d pending"), id, queued);
        return 1;
    }
    case 'b': {
        pthread_mutex_lock(&st->mu);
        st->burst_req++;
        pthread_cond_broadcast(&st->changed);
        pthread_mutex_unlock(&st->mu);
        scene_note(ctx, _("b: main submits a burst of %lld tasks as soon as it is free"),
                   (long long)scene_param(ctx, P_BURST));
        return 1;
    }
    case 'c': {
        int n = ex_cancel_pending(st);
        pthread_mutex_lock(&st->mu);
        int running = st->running;
        pthread_mutex_unlock(&st->mu);
        scene_note(ctx,
                   _("c: f.cancel() on every pending future: %d cancelled; %d running (a running "
                     "future cannot be cancelled)"),
                   n, running);
        return 1;
    }
    case 'x':
        pthread_mutex_lock(&st->mu);
        st->fail_next = 1;
        pthread_mutex_unlock(&st->mu);
        scene_note(ctx, _("x: the next task submitted raises an exception in its worker"));
        return 1;
    case 'o': {
        int64_t v = !scene_param(ctx, P_AS_COMPLETED);
        /* Relaxed: a standalone setting, read by main at its next burst (and by the app). */
        atomic_store_explicit(&ctx->sh->param[P_AS_COMPLETED], v, memory_order_relaxed);
        scene_note(ctx, v ? _("o: bursts are collected with as_completed(): completion order")
                          : _("o: bursts are collected with map(): submission order"));
        return 1;
    }
    default:
        return 0;
    }
}

static double ms(uint64_t ns)
{
    return (double)ns / 1e6;
}

static void ex_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct ex_state *st = ctx->priv;
    if (!st)
        return;
    pthread_mutex_lock(&st->mu);
    uint64_t now = trace_now_ns(), busy = 0;
    for (int i = 0; i < MAXW; i++)
        busy += st->busy_ns[i];
    for (int i = 0; i < MAXF; i++) {
        const struct ex_future *f = &st->fut[i];
        if (f->refs > 0 && f->state == F_RUNNING && f->started && now > f->t_start)
            busy += now - f->t_start;
    }
    double span = (double)(now - st->t_begin) * st->nw;
    scene_stat(out, N_("workers"), st->nw, "");
    scene_stat(out, N_("queue"), st->queued, "tasks");
    scene_stat(out, N_("max_queue"), st->max_queued, "tasks");
    scene_stat(out, N_("running"), st->running, "tasks");
    scene_stat(out, N_("utilisation"), span > 0 ? 100.0 * (double)busy / span : 0, "%");
    scene_stat(out, N_("submitted"), (double)st->submitted, "tasks");
    scene_stat(out, N_("done"), (double)st->n_done, "tasks");
    scene_stat(out, N_("cancelled"), (double)st->n_cancelled, "tasks");
    scene_stat(out, N_("failed"), (double)st->n_failed, "tasks");
    scene_stat(out, N_("interrupted"), (double)st->n_interrupted, "tasks");
    scene_stat(out, N_("worker_died"), (double)st->n_died, "tasks");
    scene_stat(out, N_("wait_p50"), ms(hist_percentile(&st->wait, 0.5)), "ms");
    scene_stat(out, N_("wait_p99"), ms(hist_percentile(&st->wait, 0.99)), "ms");
    scene_stat(out, N_("latency_p50"), ms(hist_percentile(&st->total, 0.5)), "ms");
    scene_stat(out, N_("latency_p99"), ms(hist_percentile(&st->total, 0.99)), "ms");
    scene_stat(out, N_("dispatch_n"), (double)hist_count(&st->dispatch), "tasks");
    scene_stat(out, N_("dispatch_p50"), ms(hist_percentile(&st->dispatch, 0.5)) * 1e3, "us");
    scene_stat(out, N_("dispatch_p99"), ms(hist_percentile(&st->dispatch, 0.99)) * 1e3, "us");
    scene_stat(out, N_("return_p50"), ms(hist_percentile(&st->ret, 0.5)) * 1e3, "us");
    scene_stat(out, N_("wake_p50"), ms(hist_percentile(&st->wake, 0.5)) * 1e3, "us");
    scene_stat(out, N_("examples"), (double)st->examples, "");
    scene_stat(out, N_("example_done_first"), (double)st->example_done_first, "");
    scene_stat(out, N_("example_done_after"), (double)st->example_done_after, "");
    scene_stat(out, N_("example_hello"), (double)st->example_hello, "");
    scene_stat(out, N_("example_s"), st->example_s, "s");
    scene_stat(out, N_("handoff_us"), st->handoff_us, "us");
    scene_stat(out, N_("result_after_check_ms"), st->result_after_ms, "ms");
    scene_stat(out, N_("timeouts"), (double)st->timeouts, "");
    scene_stat(out, N_("map_batches"), (double)st->map_batches, "");
    scene_stat(out, N_("completed_batches"), (double)st->completed_batches, "");
    scene_stat(out, N_("out_of_order"), (double)st->out_of_order, "");
    scene_stat(out, N_("order_violations"), (double)st->order_violations, "");
    scene_stat(out, N_("wrong_results"), (double)st->wrong_results, "");
    scene_stat(out, N_("undrawn"), (double)st->undrawn, "futures");
    if (st->checked) {
        uint64_t left = st->submitted - st->n_done - st->n_cancelled - st->n_failed;
        scene_stat(out, N_("unresolved"), (double)left, "tasks");
    }
    scene_stat(out, N_("exactly_once_violations"), (double)st->violations, "");
    pthread_mutex_unlock(&st->mu);
}

static const struct scene_param ex_params[] = {
    [P_WORKERS] = {"workers", N_("pool size W"), 1, MAXW, 3, "", SCENE_P_RESTART},
    [P_SLEEP_MS] = {"sleep_ms", N_("the example task: time.sleep(sleep_ms), return 'hello'"), 1,
                    600000, 5000, "ms", 0},
    [P_TASK_MS] = {"task_ms", N_("burst tasks sleep 1/4 to 2 times this, mixed"), 1, 600000, 1000,
                   "ms", 0},
    [P_BURST] = {"burst", N_("tasks in a burst (b)"), 1, MAXBURST, 6, "tasks", 0},
    [P_AUTOBURST] = {"autoburst", N_("every round also submits a burst after the example"), 0, 1, 0,
                     "", SCENE_P_BOOL},
    [P_AS_COMPLETED] = {"as_completed",
                        N_("collect bursts in completion order (on) or with map() (off)"), 0, 1, 0,
                        "", SCENE_P_BOOL},
    [P_FAIL] = {"fail", N_("every Nth task raises an exception (0: none)"), 0, 1000, 0, "", 0},
    [P_TIMEOUT_MS] = {"timeout_ms", N_("the example's f.result(timeout) (0: wait for ever)"), 0,
                      600000, 0, "ms", 0},
    [P_PAUSE_MS] = {"pause_ms", N_("main's pause between rounds"), 0, 600000, 3000, "ms", 0},
    [P_MAIN_SLEEP_MS] = {"main_sleep_ms",
                         N_("the example's time.sleep() in main between the two f.done()"), 0,
                         600000, 5000, "ms", 0},
};

static const struct scene_key ex_keys[] = {
    {'t', N_("submit one more example task from the UI thread (nobody waits for it)"), 0},
    {'b', N_("main submits a burst of `burst` tasks with mixed durations"), 0},
    {'c', N_("cancel every pending future (running ones cannot be cancelled)"), 0},
    {'x', N_("the next task submitted raises an exception in its worker"), 0},
    {'o', N_("collect bursts with map() or as_completed()"), 0},
};

static const struct scene_mode ex_modes[] = {
    [M_THREADS] = {"threads", N_("ThreadPoolExecutor: a pool of threads"),
                   N_("The course's program on a pool of 3 threads: main submits a task that "
                      "sleeps 5 s and returns 'hello', prints f.done() at once (False: submit() "
                      "only queued it), sleeps 5 s itself, prints f.done() again, then "
                      "print('Result: ' + f.result()); the status line shows what it printed. The "
                      "second done() is a race between two 5 s sleeps: the task's began when a "
                      "worker took it, main's when main went to sleep. An idle thread takes the "
                      "task within microseconds, about when main's sleep begins (handoff_us, a "
                      "few microseconds either way), so here the answer changes from round to "
                      "round (example_done_after counts the Trues). Python answers True: its "
                      "submit() starts the worker thread and waits until it runs, and under the "
                      "GIL that thread reaches time.sleep() first. A future is pending (in the "
                      "queue), running, then done, cancelled or failed (result() raises the "
                      "worker's exception). Press b for a burst of tasks of mixed lengths: with "
                      "map() main prints the results in submission order, waiting on the slow "
                      "first one; with as_completed() (o) in the order they finish. t submits "
                      "more tasks than workers, c cancels the pending ones, x makes one fail."),
                   .ns_per_col = 100 * SCENE_MS},
    [M_PROCESSES] =
        {"processes", N_("ProcessPoolExecutor: a pool of forked processes"),
         N_("The same program on a pool of worker processes. A process shares no memory "
            "with main: the task travels as bytes over a pipe, and the value or the "
            "exception comes back over another, where the result handler thread reads "
            "it and resolves the future (Python pickles both ways). So the hand-off "
            "takes longer: two threads and a process must wake, there and back; the "
            "task's sleep usually begins tens of microseconds after main's (handoff_us) "
            "and the second done() reads False, as Python's does every time (its first "
            "submit() starts the worker processes and a feeder thread pickles the task, "
            "so there the task begins milliseconds after main's sleep). The status line "
            "says each round which sleep began first. The handler only sends a task "
            "when a worker is free, so queued tasks can still be cancelled. Compare "
            "dispatch_p50 (submit to start, with a worker idle) with mode 1: the price "
            "of the pipe and of waking another process. In Python the prize is one GIL "
            "per process (see the gil scene)."),
         .ns_per_col = 100 * SCENE_MS},
};

/* How the figures read on screen (see struct scene_figure); the JSON keys stay the names. */
static const struct scene_figure ex_figures[] = {
    {.name = "done", .label = N_("results"), .fmt = FIG_INT, .flags = FIG_HEADLINE},
    {.name = "queue", .label = N_("waiting in the queue"), .flags = FIG_HEADLINE},
    {.name = "latency_p50", .label = N_("submit to result p50"), .flags = FIG_HEADLINE},
    {.name = "workers", .label = N_("pool size"), .fmt = FIG_INT},
    {.name = "max_queue", .label = N_("most in the queue")},
    {.name = "running", .label = N_("running")},
    {.name = "utilisation", .label = N_("workers busy")},
    {.name = "submitted", .label = N_("submitted"), .fmt = FIG_INT},
    {.name = "cancelled", .label = N_("cancelled"), .fmt = FIG_INT},
    {.name = "failed", .label = N_("raised"), .fmt = FIG_INT},
    {.name = "interrupted", .label = N_("interrupted"), .fmt = FIG_INT},
    {.name = "worker_died", .label = N_("lost with a worker"), .fmt = FIG_INT},
    {.name = "wait_p50", .label = N_("queue wait p50")},
    {.name = "wait_p99", .label = N_("queue wait p99")},
    {.name = "latency_p99", .label = N_("submit to result p99")},
    {.name = "dispatch_n", .label = N_("dispatched"), .fmt = FIG_INT},
    {.name = "dispatch_p50", .label = N_("dispatch p50")},
    {.name = "dispatch_p99", .label = N_("dispatch p99")},
    {.name = "return_p50", .label = N_("result back p50")},
    {.name = "wake_p50", .label = N_("wake-up p50")},
    {.name = "examples", .label = N_("examples"), .fmt = FIG_INT},
    {.name = "example_done_first", .label = N_("example: done() false"), .fmt = FIG_INT},
    {.name = "example_done_after", .label = N_("example: done() true"), .fmt = FIG_INT},
    {.name = "example_hello", .label = N_("example: 'hello'"), .fmt = FIG_INT},
    {.name = "example_s", .label = N_("example took")},
    {.name = "timeouts", .label = N_("timeouts"), .fmt = FIG_INT},
    {.name = "map_batches", .label = N_("map() bursts"), .fmt = FIG_INT},
    {.name = "completed_batches", .label = N_("as_completed() bursts"), .fmt = FIG_INT},
    {.name = "out_of_order", .label = N_("out of submit order"), .fmt = FIG_INT},
    {.name = "order_violations", .label = N_("order violations"), .fmt = FIG_INT},
    {.name = "wrong_results", .label = N_("wrong results"), .fmt = FIG_INT},
    {.name = "undrawn", .label = N_("futures not drawn"), .fmt = FIG_INT},
    {.name = "unresolved", .label = N_("unresolved"), .fmt = FIG_INT},
    {.name = "exactly_once_violations", .label = N_("lost or twice"), .fmt = FIG_INT},
};

const struct scene_entry scene_executor = {
    .name = "executor",
    .title = N_("Executors and futures"),
    .summary = N_("a pool of workers: submit() returns a future, result() waits for it"),
    .modes = ex_modes,
    .nmodes = 2,
    .params = ex_params,
    .nparams = (int)(sizeof ex_params / sizeof ex_params[0]),
    .keys = ex_keys,
    .nkeys = (int)(sizeof ex_keys / sizeof ex_keys[0]),
    .notes = ex_notes,
    .nnotes = (int)(sizeof ex_notes / sizeof ex_notes[0]),
    .start = ex_start,
    .stop = ex_stop,
    .release = ex_free,
    .key = ex_key,
    .stats = ex_stats,
    .figures = ex_figures,
    .nfigures = (int)(sizeof ex_figures / sizeof ex_figures[0]),
};
