/*
 * Scene: a distributed task queue, the shape of Celery.
 *
 * DESIGN
 * Who runs: in conctui's own process, a front thread (the web front: it
 * makes requests at a fixed rate, hands each to the broker and answers the
 * client at once, then notifies the client when the result comes back) and a
 * supervisor thread (it forks the broker and the workers, reaps them, kills a
 * busy worker on request, and adds or retires workers to follow the
 * `workers` parameter). Forked from the supervisor: one broker process
 * (a poll() loop holding the queue) and up to MAXW worker processes. They
 * talk over TCP on 127.0.0.1 (an ephemeral port) with length-prefixed
 * frames. The UI thread only reads counters and posts requests.
 *
 * Trust: only the scene's own processes speak to the broker. tq_start
 * draws a secret from getrandom; the front (a thread) and the forked
 * workers have it in memory. The broker answers each accept with a random
 * nonce, and the first frame must be a HELLO whose proof is SipHash-2-4 of
 * nonce, role and slot under the secret (not replayable on another
 * connection); silent connections are dropped after HANDSHAKE_NS, and a
 * full table evicts the oldest unauthenticated one. After that: SUBMIT
 * from the front only (ids increasing, work bounded), RESULT and ACK only
 * from the worker holding that task; anything else is refused, counted,
 * and closes the connection. Each connection gets FRAMES_PER_TURN frames
 * per loop turn, so none starves the others; the front never blocks in a
 * send while the broker waits for it to read (front_send reads meanwhile).
 *
 * Delivery: acknowledge late. The broker sends a worker one task at a time
 * (prefetch 1, after the worker's READY) and keeps it as unacked until the
 * worker's ACK, which the worker sends after its RESULT. When a worker's
 * connection closes (killed, retired) with a task unacked, the broker puts
 * the task back at the head of the queue: a re-delivery. A worker killed
 * between its RESULT and its ACK makes the task run twice: at-least-once.
 * The front keeps the result table (the result store) keyed by task id and
 * notifies the client of the first result only; later ones are counted as
 * duplicates suppressed, so the client sees every task exactly once. The
 * table is a fixed window of the TWIN most recent ids: an entry is reused
 * only once its task is settled, so its memory does not grow with the run.
 *
 * Who owns what: struct tq_shm (MAP_SHARED, made before any fork) holds the
 * broker's counters (written only by the broker) and one slot per worker
 * (pid and lane written by the supervisor, busy and tasks by the worker in
 * that slot while it lives, by the supervisor after it has reaped it). The
 * front's task table is the front thread's alone; what others read of it
 * are relaxed atomic counters and single-writer histograms. The broker's
 * queue and buffers (struct tq_bmem) are allocated before the fork and used
 * only by the broker's copy. Lanes: front (front thread), broker and the
 * queue gauge (broker), one per worker slot (the slot's living worker, or
 * the supervisor once it has reaped it). Worker lanes beyond the first
 * `workers` are added by the supervisor alone.
 *
 * Locks: none. Every counter is single-writer; readers use relaxed loads.
 *
 * Shutdown: stop() sets the stop flag. Workers see it within 20 ms and
 * leave. The broker reads what is still pending, sends the front the ids it
 * still holds (queued or unacked) and closes. The front reads until the
 * broker's goodbye (or end of file), then reconciles: a task accepted but
 * neither completed nor held by the broker is lost. The supervisor reaps
 * every child (SIGKILL after a grace period) and returns; stop() joins both
 * threads and closes the front's socket and the listening socket.
 */
#include "config.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <arpa/inet.h>
#include <poll.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/random.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "hist.h"
#include "i18n.h"
#include "scene.h"
#include "scenes/scenes.h"
#include "trace.h"

#define MAXW 8               /* worker processes at most */
#define MAXC (MAXW + 8)      /* broker connections at most */
#define QCAP 16384           /* tasks the broker can hold */
#define FRAME_MAX 4096       /* largest frame, header included */
#define HELD_PER_FRAME 256   /* ids per HELD frame */
#define TWIN (1u << 15)      /* the front's window of recent task ids (more than QCAP + MAXC) */
#define FRONT_OUT (1u << 18) /* the broker's buffer towards the front */
#define SLICE_MS 20          /* how often a blocked process looks at the stop flag */
#define DRAIN_NS 3000000000ull
#define HANDSHAKE_NS 1000000000ull   /* a connection not authenticated by then is dropped */
#define FRAMES_PER_TURN 32           /* frames handled per connection per poll turn */
#define WORK_US_MAX 10000000u        /* the longest task a SUBMIT may ask for (task_ms max) */
#define SPAWN_FAILS_MAX 5            /* workers in a row that could not register: stop */
#define SPAWN_BACKOFF_NS 50000000ull /* the first wait after such a failure, doubled each time */

enum { P_WORKERS, P_RATE, P_TASK_MS, P_CPU, P_ACK_MS, P_CHAOS_MS };

enum {
    N_NONE,
    N_FRONT_WAIT,
    N_FRONT_SUBMIT,
    N_FRONT_NOTIFY,
    N_BROKER_POLL,
    N_BROKER_ROUTE,
    N_BROKER_REQUEUE,
    N_WORKER_WAIT,
    N_WORKER_RUN,
    N_WORKER_RUN_IO,
    N_WORKER_RESULT,
    N_WORKER_ACK,
    N_KILLED,
    N_RETIRED,
    N_WORKER_RUN_AGAIN,
    N_WORKER_RUN_IO_AGAIN,
    N_FINISHED,
};

static const char *const tq_notes[] = {
    [N_NONE] = "",
    [N_FRONT_WAIT] = N_("waiting for the next request or a result"),
    [N_FRONT_SUBMIT] = N_("handing a request to the broker"),
    [N_FRONT_NOTIFY] = N_("notifying the client"),
    [N_BROKER_POLL] = N_("waiting in poll()"),
    [N_BROKER_ROUTE] = N_("routing messages"),
    [N_BROKER_REQUEUE] = N_("re-queuing a dead worker's task"),
    [N_WORKER_WAIT] = N_("waiting for a task"),
    [N_WORKER_RUN] = N_("running a task (CPU)"),
    [N_WORKER_RUN_IO] = N_("running a task (waiting on a slow call)"),
    [N_WORKER_RESULT] = N_("storing the result"),
    [N_WORKER_ACK] = N_("result stored, not yet acknowledged"),
    [N_KILLED] = N_("killed (SIGKILL)"),
    [N_RETIRED] = N_("retired"),
    [N_WORKER_RUN_AGAIN] = N_("running a re-delivered task, a killed worker's (CPU; arg: task)"),
    [N_WORKER_RUN_IO_AGAIN] = N_("running a re-delivered task, a killed worker's (waiting on a "
                                 "slow call; arg: task)"),
    [N_FINISHED] = N_("finished"),
};

/* Frame types. */
enum {
    F_HELLO = 1, /* front or worker -> broker: who I am, with the proof (value) */
    F_SUBMIT,    /* front -> broker: a new task */
    F_ACCEPTED,  /* broker -> front: the task is queued */
    F_REJECTED,  /* broker -> front: the queue is full */
    F_READY,     /* worker -> broker: send me one task */
    F_TASK,      /* broker -> worker */
    F_RESULT,    /* worker -> broker -> front */
    F_ACK,       /* worker -> broker: the task may be forgotten */
    F_HELD,      /* broker -> front at shutdown: ids still queued or unacked */
    F_BYE,       /* broker -> front: nothing more follows */
    F_NONCE,     /* broker -> new connection: the challenge (id, value) */
    F_WELCOME,   /* broker -> client: the proof holds */
};

enum { ROLE_NONE, ROLE_FRONT, ROLE_WORKER };

/* Every frame: a 4-byte length, then this, then (HELD only) `value` ids. */
struct tq_msg {
    uint8_t type;
    uint8_t role;
    uint8_t slot;
    uint8_t pad;
    uint32_t work_us;
    uint64_t id;
    uint64_t value; /* RESULT: the task's answer; HELD: number of ids following */
    uint32_t attempt;
    uint32_t pad2;
};

struct tq_rbuf {
    size_t len;
    unsigned char b[FRAME_MAX * 2];
};

struct tq_slot {
    _Atomic int pid;        /* supervisor: the living worker's pid, 0 for none */
    _Atomic int retire;     /* supervisor -> worker: leave when idle */
    _Atomic uint64_t busy;  /* worker: task id held from TASK to ACK, 0 for none */
    _Atomic int registered; /* worker: the broker took its HELLO (reset by the supervisor) */
    _Atomic uint64_t tasks; /* worker: tasks acknowledged, every life of the slot */
    int lane;               /* supervisor, before the fork; -1 until first used */
};

struct tq_shm {
    /* Written by the broker only (relaxed: counters for display). */
    _Atomic uint64_t queued, unacked, accepted, rejected, dispatched, redeliveries, results;
    _Atomic uint64_t refused_conns, refused_frames;
    _Atomic uint32_t connected;
    struct tq_slot slot[MAXW];
};

struct tq_task {
    uint64_t id;
    uint32_t work_us, attempt;
};

struct tq_conn {
    int fd;
    int role, slot;
    int authed;        /* the HELLO's proof held */
    uint64_t nonce[2]; /* the challenge sent on accept */
    uint64_t t_accept; /* ns */
    int ready;
    int has_task;
    int resulted;        /* the unacked task's RESULT came */
    struct tq_task task; /* the unacked task */
    struct tq_rbuf in;
    size_t olen, ocap;
    unsigned char *out;
};

/* The broker's memory: allocated before the fork, used by the broker only. */
struct tq_bmem {
    struct tq_task q[QCAP];
    size_t qhead, qlen;
    struct tq_conn c[MAXC];
    int nc;
    int front; /* index in c, -1 until the front said hello */
    unsigned rr;
    unsigned cur; /* broker lane state */
    uint32_t gauge;
    uint32_t redo;                      /* re-delivered tasks whose result has not come back yet */
    uint64_t last_id;                   /* the highest id the front submitted */
    unsigned char out[MAXC][FRONT_OUT]; /* touched only as far as used */
};

/*
 * Front-private per task, in a window of TWIN entries indexed by id modulo
 * TWIN. An entry is reused only once its task is settled (rejected or
 * done); a result for an id no longer in the window is a duplicate. When
 * the next id's entry still holds an unsettled task (the broker has held it
 * for TWIN requests), the front turns the request away itself.
 */
enum { T_ACCEPTED = 1, T_DONE = 2, T_HELD = 4, T_SENT = 8, T_REJECTED = 16 };

struct tq_state {
    struct scene_ctx *ctx;
    uint8_t key[16]; /* the run's secret: from getrandom, inherited by fork, never written out */
    struct tq_shm *shm;
    struct tq_bmem *bm;
    int listen_fd, front_fd;
    uint16_t port;
    int front_lane, broker_lane, gauge_lane, redo_lane;
    pthread_t front, super;
    int front_up, super_up;
    /* supervisor-private */
    pid_t broker_pid;
    int broker_dead;
    int killed[MAXW];   /* slot's worker was sent SIGKILL */
    int restarts[MAXW]; /* replacements of a killed worker in the slot */
    int new_lanes;      /* lanes added for replacements (at most MAXW) */
    uint64_t next_chaos;
    int spawn_fails;     /* workers in a row that exited without registering */
    int spawn_stopped;   /* gave up after SPAWN_FAILS_MAX; cleared when `workers` changes */
    int64_t spawn_want;  /* `workers` when it gave up */
    uint64_t next_spawn; /* ns: no fork before */
    /* front-private */
    uint8_t *tflags; /* TWIN entries each */
    uint64_t *treq, *tid;
    uint64_t next_id;
    struct tq_rbuf fin;
    unsigned fcur;
    /* Read by the UI thread (relaxed; single writer each). */
    _Atomic uint64_t requests, submitted, rejected, completed, duplicates, bad_results;
    _Atomic uint64_t kills, spawned, retired, lost, held_at_stop;
    _Atomic int reconciled; /* release: lost and held_at_stop are final */
    _Atomic uint32_t live;  /* supervisor: worker processes alive */
    _Atomic uint32_t kill_req;
    struct hist req_lat, done_lat; /* ns, written by the front */
};

#define RLX memory_order_relaxed

static inline void bump(_Atomic uint64_t *c, uint64_t v)
{
    atomic_store_explicit(c, atomic_load_explicit(c, RLX) + v, RLX);
}

/* The answer a task must produce, so a wrong or mixed-up result shows. */
static uint64_t tq_answer(uint64_t id)
{
    uint64_t x = id * 0x9e3779b97f4a7c15ull;
    x ^= x >> 31;
    return x * 0xbf58476d1ce4e5b9ull;
}

/* ---- authentication ---- */

/*
 * SipHash-2-4 (Aumasson and Bernstein, public domain reference): a keyed
 * hash, here the proof that a client holds the run's secret. The broker
 * sends each new connection a fresh random nonce; the client's HELLO
 * carries siphash(secret, nonce, role, slot), so a proof seen on one
 * connection is worth nothing on another.
 */
#define SIP_ROTL(x, b) (uint64_t)(((x) << (b)) | ((x) >> (64 - (b))))
#define SIP_ROUND                                                                                  \
    do {                                                                                           \
        v0 += v1;                                                                                  \
        v1 = SIP_ROTL(v1, 13);                                                                     \
        v1 ^= v0;                                                                                  \
        v0 = SIP_ROTL(v0, 32);                                                                     \
        v2 += v3;                                                                                  \
        v3 = SIP_ROTL(v3, 16);                                                                     \
        v3 ^= v2;                                                                                  \
        v0 += v3;                                                                                  \
        v3 = SIP_ROTL(v3, 21);                                                                     \
        v3 ^= v0;                                                                                  \
        v2 += v1;                                                                                  \
        v1 = SIP_ROTL(v1, 17);                                                                     \
        v1 ^= v2;                                                                                  \
        v2 = SIP_ROTL(v2, 32);                                                                     \
    } while (0)

static uint64_t le64(const uint8_t *p)
{
    uint64_t v = 0;
    for (int i = 7; i >= 0; i--)
        v = v << 8 | p[i];
    return v;
}

uint64_t taskqueue_siphash(const uint8_t key[16], const void *data, size_t len)
{
    const uint8_t *in = data;
    uint64_t k0 = le64(key), k1 = le64(key + 8);
    uint64_t v0 = 0x736f6d6570736575ull ^ k0, v1 = 0x646f72616e646f6dull ^ k1;
    uint64_t v2 = 0x6c7967656e657261ull ^ k0, v3 = 0x7465646279746573ull ^ k1;
    size_t end = len - len % 8;
    for (size_t i = 0; i < end; i += 8) {
        uint64_t m = le64(in + i);
        v3 ^= m;
        SIP_ROUND;
        SIP_ROUND;
        v0 ^= m;
    }
    uint64_t b = (uint64_t)len << 56;
    for (size_t i = 0; i < len % 8; i++)
        b |= (uint64_t)in[end + i] << (8 * i);
    v3 ^= b;
    SIP_ROUND;
    SIP_ROUND;
    v0 ^= b;
    v2 ^= 0xff;
    SIP_ROUND;
    SIP_ROUND;
    SIP_ROUND;
    SIP_ROUND;
    return v0 ^ v1 ^ v2 ^ v3;
}

uint64_t taskqueue_proof(const uint8_t key[16], uint64_t n0, uint64_t n1, int role, int slot)
{
    uint8_t b[24];
    for (int i = 0; i < 8; i++) {
        b[i] = (uint8_t)(n0 >> (8 * i));
        b[8 + i] = (uint8_t)(n1 >> (8 * i));
    }
    memcpy(b + 16, "tqhello", 6);
    b[22] = (uint8_t)role;
    b[23] = (uint8_t)slot;
    return taskqueue_siphash(key, b, sizeof b);
}

int taskqueue_credentials(struct scene_ctx *ctx, uint16_t *port, uint8_t key[16])
{
    struct tq_state *st = ctx ? ctx->priv : NULL;
    if (!st || !st->port)
        return -1;
    *port = st->port;
    memcpy(key, st->key, sizeof st->key);
    return 0;
}

/* ---- framing ---- */

static int set_nodelay(int fd)
{
    int one = 1;
    return setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

/* Append one frame (msg plus n ids) to a byte buffer; false if it does not fit. */
static bool frame_put(unsigned char *buf, size_t *len, size_t cap, const struct tq_msg *m,
                      const uint64_t *ids, uint32_t n)
{
    uint32_t body = (uint32_t)(sizeof *m + n * sizeof(uint64_t));
    if (*len + 4 + body > cap)
        return false;
    memcpy(buf + *len, &body, 4);
    memcpy(buf + *len + 4, m, sizeof *m);
    if (n)
        memcpy(buf + *len + 4 + sizeof *m, ids, n * sizeof(uint64_t));
    *len += 4 + body;
    return true;
}

/* Write a whole buffer to a blocking socket; false on error. */
static bool write_all(int fd, const void *p, size_t n)
{
    const unsigned char *b = p;
    while (n) {
        ssize_t w = send(fd, b, n, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0)
            return false;
        b += w;
        n -= (size_t)w;
    }
    return true;
}

static bool send_msg(int fd, const struct tq_msg *m)
{
    unsigned char b[4 + sizeof *m];
    size_t len = 0;
    frame_put(b, &len, sizeof b, m, NULL, 0);
    return write_all(fd, b, len);
}

/*
 * Take the next whole frame out of a read buffer: 1 with *m (and ids, up to
 * HELD_PER_FRAME, with *nids) filled, 0 if none is complete, -1 if malformed.
 */
static int frame_next(struct tq_rbuf *r, struct tq_msg *m, uint64_t *ids, uint32_t *nids)
{
    if (r->len < 4)
        return 0;
    uint32_t body;
    memcpy(&body, r->b, 4);
    if (body < sizeof *m || body > FRAME_MAX - 4 || (body - sizeof *m) % sizeof(uint64_t))
        return -1;
    if (r->len < 4 + body)
        return 0;
    memcpy(m, r->b + 4, sizeof *m);
    uint32_t n = (uint32_t)((body - sizeof *m) / sizeof(uint64_t));
    if (n > HELD_PER_FRAME)
        return -1;
    if (ids && n)
        memcpy(ids, r->b + 4 + sizeof *m, n * sizeof(uint64_t));
    if (nids)
        *nids = n;
    memmove(r->b, r->b + 4 + body, r->len - 4 - body);
    r->len -= 4 + body;
    return 1;
}

/* Read what is there into r: >0 bytes read, 0 end of file, -1 error, -2 nothing now. */
static ssize_t rbuf_fill(int fd, struct tq_rbuf *r)
{
    for (;;) {
        ssize_t n = recv(fd, r->b + r->len, sizeof r->b - r->len, MSG_DONTWAIT);
        if (n < 0 && errno == EINTR)
            continue;
        if (n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return -2;
        if (n > 0)
            r->len += (size_t)n;
        return n;
    }
}

static int tcp_connect(uint16_t port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons(port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) < 0) {
        close(fd);
        return -1;
    }
    set_nodelay(fd);
    return fd;
}

/* ---- the broker (a forked process) ---- */

static void broker_state(struct tq_state *st, unsigned s, uint32_t arg)
{
    struct tq_bmem *bm = st->bm;
    if (s == bm->cur)
        return;
    bm->cur = s;
    trace_emit(st->broker_lane, s, arg);
}

static void broker_gauge(struct tq_state *st)
{
    struct tq_bmem *bm = st->bm;
    atomic_store_explicit(&st->shm->queued, bm->qlen, RLX);
    if (bm->gauge != (uint32_t)bm->qlen) {
        bm->gauge = (uint32_t)bm->qlen;
        trace_emit(st->gauge_lane, TRACE_GAUGE, bm->gauge);
    }
}

static bool bconn_send(struct tq_conn *c, const struct tq_msg *m, const uint64_t *ids, uint32_t n)
{
    return frame_put(c->out, &c->olen, c->ocap, m, ids, n);
}

/* Write what a connection has pending without blocking; false if it broke. */
static bool bconn_flush(struct tq_conn *c)
{
    while (c->olen) {
        ssize_t w = send(c->fd, c->out, c->olen, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w < 0 && errno == EINTR)
            continue;
        if (w < 0 && (errno == EAGAIN || errno == EWOULDBLOCK))
            return true;
        if (w <= 0)
            return false;
        memmove(c->out, c->out + w, c->olen - (size_t)w);
        c->olen -= (size_t)w;
    }
    return true;
}

static void unacked_count(struct tq_state *st)
{
    struct tq_bmem *bm = st->bm;
    uint64_t n = 0;
    for (int i = 0; i < bm->nc; i++)
        n += bm->c[i].has_task;
    atomic_store_explicit(&st->shm->unacked, n, RLX);
}

/* Hand queued tasks to ready workers, round robin. */
static void broker_dispatch(struct tq_state *st)
{
    struct tq_bmem *bm = st->bm;
    while (bm->qlen) {
        int pick = -1;
        for (int k = 0; k < bm->nc && pick < 0; k++) {
            int i = (int)((bm->rr + (unsigned)k) % (unsigned)bm->nc);
            struct tq_conn *c = &bm->c[i];
            if (c->role == ROLE_WORKER && c->ready && !c->has_task)
                pick = i;
        }
        if (pick < 0)
            break;
        bm->rr = (unsigned)pick + 1;
        struct tq_conn *c = &bm->c[pick];
        struct tq_task t = bm->q[bm->qhead];
        struct tq_msg m = {.type = F_TASK, .id = t.id, .work_us = t.work_us, .attempt = t.attempt};
        if (!bconn_send(c, &m, NULL, 0))
            break;
        bm->qhead = (bm->qhead + 1) % QCAP;
        bm->qlen--;
        c->ready = 0;
        c->has_task = 1;
        c->task = t;
        bump(&st->shm->dispatched, 1);
    }
    unacked_count(st);
    broker_gauge(st);
}

/* Show how many re-delivered tasks are still to finish (the broker's gauge). */
static void broker_redo(struct tq_state *st, int delta)
{
    struct tq_bmem *bm = st->bm;
    if (delta < 0 && bm->redo == 0)
        return;
    bm->redo = (uint32_t)((int)bm->redo + delta);
    if (st->redo_lane >= 0)
        trace_emit(st->redo_lane, TRACE_GAUGE, bm->redo);
}

/* A connection closed: put its unacked task back at the head of the queue. */
static void broker_drop(struct tq_state *st, int i)
{
    struct tq_bmem *bm = st->bm;
    struct tq_conn *c = &bm->c[i];
    if (c->has_task) {
        broker_state(st, TRACE_RUN | TRACE_NOTE(N_BROKER_REQUEUE), (uint32_t)c->task.id);
        bm->qhead = (bm->qhead + QCAP - 1) % QCAP;
        if (c->task.attempt++ == 0)
            broker_redo(st, 1);
        bm->q[bm->qhead] = c->task;
        bm->qlen++;
        bump(&st->shm->redeliveries, 1);
    }
    close(c->fd);
    if (bm->front == i)
        bm->front = -1;
    /* Move the last connection into the hole; the buffers trade places. */
    int last = bm->nc - 1;
    if (i != last) {
        unsigned char *hole = c->out;
        *c = bm->c[last];
        bm->c[last].out = hole;
        if (bm->front == last)
            bm->front = i;
    }
    bm->nc--;
    atomic_store_explicit(&st->shm->connected, (uint32_t)bm->nc, RLX);
    unacked_count(st);
}

/* A frame the broker will not take: counted; the connection is dropped unless it is the front's. */
static bool broker_refuse(struct tq_state *st, struct tq_conn *c)
{
    bump(&st->shm->refused_frames, 1);
    if (c->authed && c->role == ROLE_FRONT)
        return true;
    if (!c->authed)
        bump(&st->shm->refused_conns, 1);
    return false;
}

/* The first frame: a HELLO whose proof answers this connection's nonce. */
static bool broker_hello(struct tq_state *st, int i, const struct tq_msg *m)
{
    struct tq_bmem *bm = st->bm;
    struct tq_conn *c = &bm->c[i];
    uint64_t want = taskqueue_proof(st->key, c->nonce[0], c->nonce[1], m->role, m->slot);
    bool ok =
        m->type == F_HELLO && ((want ^ m->value) == 0) &&
        ((m->role == ROLE_FRONT && bm->front < 0) || (m->role == ROLE_WORKER && m->slot < MAXW));
    if (!ok)
        return broker_refuse(st, c);
    c->authed = 1;
    c->role = m->role;
    c->slot = m->slot;
    if (m->role == ROLE_FRONT)
        bm->front = i;
    struct tq_msg w = {.type = F_WELCOME};
    return bconn_send(c, &w, NULL, 0);
}

/* One frame from connection i; false if the connection must be dropped. */
static bool broker_handle(struct tq_state *st, int i, const struct tq_msg *m)
{
    struct tq_bmem *bm = st->bm;
    struct tq_conn *c = &bm->c[i];
    struct tq_shm *sh = st->shm;
    if (!c->authed)
        return broker_hello(st, i, m);
    switch (m->type) {
    case F_SUBMIT: {
        /* Only the front submits, each id once and in order, with bounded work. */
        if (c->role != ROLE_FRONT || m->id <= bm->last_id || m->work_us > WORK_US_MAX)
            return broker_refuse(st, c);
        bm->last_id = m->id;
        struct tq_msg a = {.id = m->id};
        if (bm->qlen + MAXC >= QCAP) {
            a.type = F_REJECTED;
            bump(&sh->rejected, 1);
        } else {
            a.type = F_ACCEPTED;
            bm->q[(bm->qhead + bm->qlen) % QCAP] =
                (struct tq_task){.id = m->id, .work_us = m->work_us, .attempt = 0};
            bm->qlen++;
            bump(&sh->accepted, 1);
        }
        return bconn_send(c, &a, NULL, 0);
    }
    case F_READY:
        if (c->role != ROLE_WORKER || c->has_task)
            return broker_refuse(st, c);
        c->ready = 1;
        return true;
    case F_RESULT: {
        /* Only from the worker the task was delivered to, once. */
        if (c->role != ROLE_WORKER || !c->has_task || c->task.id != m->id || c->resulted)
            return broker_refuse(st, c);
        c->resulted = 1;
        bump(&sh->results, 1);
        if (c->task.attempt > 0)
            broker_redo(st, -1);
        struct tq_msg r = *m;
        r.slot = (uint8_t)c->slot;
        r.attempt = c->task.attempt;
        if (bm->front >= 0)
            bconn_send(&bm->c[bm->front], &r, NULL, 0);
        return true;
    }
    case F_ACK:
        if (c->role != ROLE_WORKER || !c->has_task || c->task.id != m->id)
            return broker_refuse(st, c);
        c->has_task = 0;
        c->resulted = 0;
        return true;
    default:
        return broker_refuse(st, c);
    }
}

/* Whether a whole frame is waiting in r. */
static bool frame_ready(const struct tq_rbuf *r)
{
    uint32_t body;
    if (r->len < 4)
        return false;
    memcpy(&body, r->b, 4);
    return body > FRAME_MAX - 4 || r->len >= 4 + (size_t)body;
}

/*
 * Read what a connection has sent (one read) and handle at most
 * FRAMES_PER_TURN frames of it, so no connection starves the others; the
 * rest waits for the next turn. False if the connection must be dropped.
 */
static bool broker_read(struct tq_state *st, int i)
{
    struct tq_bmem *bm = st->bm;
    struct tq_conn *c = &bm->c[i];
    bool eof = false;
    if (c->in.len < sizeof c->in.b) {
        ssize_t n = rbuf_fill(c->fd, &c->in);
        eof = n == 0 || n == -1;
    }
    for (int k = 0; k < FRAMES_PER_TURN || eof; k++) {
        struct tq_msg m;
        int rc = frame_next(&bm->c[i].in, &m, NULL, NULL);
        if (rc < 0) {
            bump(&st->shm->refused_frames, 1);
            if (!bm->c[i].authed)
                bump(&st->shm->refused_conns, 1);
            return false;
        }
        if (rc == 0)
            break;
        if (!broker_handle(st, i, &m))
            return false;
    }
    return !eof;
}

/* Drop connection i (an unauthenticated one) and count it refused. */
static void broker_refuse_conn(struct tq_state *st, int i)
{
    bump(&st->shm->refused_conns, 1);
    broker_drop(st, i);
}

static void broker_accept(struct tq_state *st, int lfd)
{
    struct tq_bmem *bm = st->bm;
    for (;;) {
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0)
            return;
        if (bm->nc >= MAXC) {
            /* Full: make room by dropping the oldest connection still unauthenticated. */
            int old = -1;
            for (int i = 0; i < bm->nc; i++)
                if (!bm->c[i].authed && (old < 0 || bm->c[i].t_accept < bm->c[old].t_accept))
                    old = i;
            if (old < 0) {
                bump(&st->shm->refused_conns, 1);
                close(fd);
                continue;
            }
            broker_refuse_conn(st, old);
        }
        set_nodelay(fd);
        struct tq_conn *c = &bm->c[bm->nc];
        unsigned char *out = c->out;
        *c = (struct tq_conn){.fd = fd, .out = out, .ocap = FRONT_OUT, .t_accept = trace_now_ns()};
        if (getrandom(c->nonce, sizeof c->nonce, 0) != (ssize_t)sizeof c->nonce) {
            close(fd);
            continue;
        }
        struct tq_msg n = {.type = F_NONCE, .id = c->nonce[0], .value = c->nonce[1]};
        bconn_send(c, &n, NULL, 0);
        bm->nc++;
        atomic_store_explicit(&st->shm->connected, (uint32_t)bm->nc, RLX);
    }
}

/* Shutdown: tell the front every id still held, then goodbye, then flush (bounded). */
static void broker_goodbye(struct tq_state *st)
{
    struct tq_bmem *bm = st->bm;
    for (int i = bm->nc - 1; i >= 0; i--)
        for (int k = 0; k < 64; k++) {
            if (!broker_read(st, i)) {
                broker_drop(st, i);
                break;
            }
            if (!frame_ready(&bm->c[i].in))
                break;
        }
    if (bm->front < 0)
        return;
    struct tq_conn *f = &bm->c[bm->front];
    uint64_t ids[HELD_PER_FRAME];
    uint32_t n = 0;
    uint64_t deadline = trace_now_ns() + 2000000000ull;
    size_t qi = 0;
    int wi = 0;
    for (;;) {
        bool more = false;
        uint64_t id = 0;
        if (qi < bm->qlen) {
            id = bm->q[(bm->qhead + qi++) % QCAP].id;
            more = true;
        } else {
            for (; wi < bm->nc && !more; wi++)
                if (bm->c[wi].has_task) {
                    id = bm->c[wi].task.id;
                    more = true;
                }
        }
        if (more)
            ids[n++] = id;
        if (n == HELD_PER_FRAME || (!more && n)) {
            struct tq_msg h = {.type = F_HELD, .value = n};
            while (!bconn_send(f, &h, ids, n)) {
                struct pollfd p = {f->fd, POLLOUT, 0};
                if (trace_now_ns() > deadline || poll(&p, 1, SLICE_MS) < 0 || !bconn_flush(f))
                    return;
            }
            n = 0;
        }
        if (!more)
            break;
    }
    struct tq_msg bye = {.type = F_BYE};
    bconn_send(f, &bye, NULL, 0);
    while (f->olen && trace_now_ns() < deadline) {
        struct pollfd p = {f->fd, POLLOUT, 0};
        if (poll(&p, 1, SLICE_MS) < 0 || !bconn_flush(f))
            break;
    }
}

static void broker_main(struct tq_state *st, int lfd)
{
    struct tq_bmem *bm = st->bm;
    bm->front = -1;
    bm->cur = TRACE_IDLE;
    for (int i = 0; i < MAXC; i++) {
        bm->c[i].out = bm->out[i];
        bm->c[i].ocap = FRONT_OUT;
    }
    if (st->redo_lane >= 0) /* nothing re-delivered yet */
        trace_emit(st->redo_lane, TRACE_GAUGE, 0);
    struct pollfd pf[MAXC + 1];
    while (!scene_stopping(st->ctx)) {
        /* Back-pressure: while the front is slow to read, read nobody. */
        bool choke = bm->front >= 0 && bm->c[bm->front].olen > FRONT_OUT / 2;
        /* A connection silent past the handshake time loses its slot. */
        uint64_t now = trace_now_ns();
        for (int i = bm->nc - 1; i >= 0; i--)
            if (!bm->c[i].authed && now - bm->c[i].t_accept > HANDSHAKE_NS)
                broker_refuse_conn(st, i);
        /* Frames left over from the last turn (the per-turn budget): do not sleep. */
        int timeout = SLICE_MS;
        pf[0] = (struct pollfd){lfd, choke ? 0 : POLLIN, 0};
        for (int i = 0; i < bm->nc; i++) {
            struct tq_conn *c = &bm->c[i];
            bool room = c->in.len < sizeof c->in.b;
            if (!choke && frame_ready(&c->in))
                timeout = 0;
            pf[i + 1] = (struct pollfd){
                c->fd, (short)((!choke && room ? POLLIN : 0) | (c->olen ? POLLOUT : 0)), 0};
        }
        int nfds = bm->nc + 1;
        broker_state(st, TRACE_IO | TRACE_NOTE(N_BROKER_POLL), (uint32_t)bm->qlen);
        int n = poll(pf, (nfds_t)nfds, timeout);
        if (n < 0 || (n == 0 && timeout))
            continue;
        broker_state(st, TRACE_RUN | TRACE_NOTE(N_BROKER_ROUTE), (uint32_t)bm->qlen);
        /* Highest index first: dropping moves the last connection into the hole. */
        for (int i = nfds - 2; i >= 0; i--) {
            short re = pf[i + 1].revents;
            bool ok = true;
            if ((re & (POLLIN | POLLHUP | POLLERR)) || (!choke && frame_ready(&bm->c[i].in)))
                ok = broker_read(st, i);
            if (ok && (re & POLLOUT))
                ok = bconn_flush(&bm->c[i]);
            if (!ok)
                broker_drop(st, i);
        }
        if (pf[0].revents & POLLIN)
            broker_accept(st, lfd);
        broker_dispatch(st);
        for (int i = bm->nc - 1; i >= 0; i--)
            if (bm->c[i].olen && !bconn_flush(&bm->c[i]))
                broker_drop(st, i);
    }
    broker_goodbye(st);
    for (int i = bm->nc - 1; i >= 0; i--)
        close(bm->c[i].fd);
    close(lfd);
    broker_state(st, TRACE_DONE | TRACE_NOTE(N_FINISHED), 0);
}

/* ---- a worker (a forked process) ---- */

struct tq_wctx {
    struct tq_state *st;
    struct tq_slot *slot;
    int lane;
    unsigned cur;
};

static void worker_state(struct tq_wctx *w, unsigned s, uint32_t arg)
{
    if (s == w->cur)
        return;
    w->cur = s;
    trace_emit(w->lane, s, arg);
}

/* Wait for one frame; 1 got it, 0 asked to leave, -1 the broker went away. */
static int client_recv(struct tq_state *st, _Atomic int *retire, int fd, struct tq_rbuf *r,
                       struct tq_msg *m)
{
    for (;;) {
        int rc = frame_next(r, m, NULL, NULL);
        if (rc)
            return rc;
        if (scene_stopping(st->ctx) || (retire && atomic_load_explicit(retire, RLX)))
            return 0;
        struct pollfd p = {fd, POLLIN, 0};
        if (poll(&p, 1, SLICE_MS) <= 0)
            continue;
        ssize_t n = rbuf_fill(fd, r);
        if (n == 0 || n == -1)
            return -1;
    }
}

static int worker_recv(struct tq_wctx *w, int fd, struct tq_rbuf *r, struct tq_msg *m)
{
    return client_recv(w->st, &w->slot->retire, fd, r, m);
}

/*
 * Prove to the broker that this process is the scene's: answer the nonce
 * with the keyed hash, then wait for the welcome. 1 in, 0 asked to leave,
 * -1 refused or the broker went away.
 */
static int client_hello(struct tq_state *st, _Atomic int *retire, int fd, struct tq_rbuf *r,
                        int role, int slot)
{
    struct tq_msg m;
    int rc = client_recv(st, retire, fd, r, &m);
    if (rc <= 0)
        return rc;
    if (m.type != F_NONCE)
        return -1;
    struct tq_msg hello = {.type = F_HELLO,
                           .role = (uint8_t)role,
                           .slot = (uint8_t)slot,
                           .value = taskqueue_proof(st->key, m.id, m.value, role, slot)};
    if (!send_msg(fd, &hello))
        return -1;
    rc = client_recv(st, retire, fd, r, &m);
    if (rc <= 0)
        return rc;
    return m.type == F_WELCOME ? 1 : -1;
}

static void worker_main(struct tq_state *st, int idx)
{
    struct tq_wctx w = {st, &st->shm->slot[idx], st->shm->slot[idx].lane, TRACE_IDLE};
    struct scene_ctx *ctx = st->ctx;
    struct tq_rbuf r = {.len = 0};
    unsigned end = TRACE_DONE | TRACE_NOTE(N_FINISHED);
    int fd = tcp_connect(st->port);
    if (fd < 0 || client_hello(st, &w.slot->retire, fd, &r, ROLE_WORKER, idx) <= 0)
        goto out;
    atomic_store_explicit(&w.slot->registered, 1, RLX);
    for (;;) {
        struct tq_msg ready = {.type = F_READY}, m;
        if (!send_msg(fd, &ready))
            break;
        worker_state(&w, TRACE_WAIT | TRACE_NOTE(N_WORKER_WAIT), 0);
        int rc = worker_recv(&w, fd, &r, &m);
        if (rc == 0 && !scene_stopping(ctx))
            end = TRACE_DONE | TRACE_NOTE(N_RETIRED);
        if (rc <= 0 || m.type != F_TASK)
            break;
        /* From here to the ACK the task is this worker's: a kill now re-delivers it. */
        atomic_store_explicit(&w.slot->busy, m.id, RLX);
        bool cpu = scene_param(ctx, P_CPU) != 0, again = m.attempt > 0;
        worker_state(&w,
                     cpu ? TRACE_RUN | TRACE_NOTE(again ? N_WORKER_RUN_AGAIN : N_WORKER_RUN)
                         : TRACE_SLEEP |
                               TRACE_NOTE(again ? N_WORKER_RUN_IO_AGAIN : N_WORKER_RUN_IO),
                     (uint32_t)m.id);
        uint64_t ns = (uint64_t)m.work_us * 1000;
        if (ns && !(cpu ? scene_spin(ctx, ns) : scene_sleep(ctx, ns)))
            break;
        worker_state(&w, TRACE_IO | TRACE_NOTE(N_WORKER_RESULT), (uint32_t)m.id);
        struct tq_msg res = {.type = F_RESULT,
                             .id = m.id,
                             .value = tq_answer(m.id),
                             .slot = (uint8_t)idx,
                             .attempt = m.attempt};
        if (!send_msg(fd, &res))
            break;
        int64_t ack_ms = scene_param(ctx, P_ACK_MS);
        if (ack_ms > 0) {
            worker_state(&w, TRACE_SLEEP | TRACE_NOTE(N_WORKER_ACK), (uint32_t)m.id);
            if (!scene_sleep(ctx, (uint64_t)ack_ms * 1000000))
                break;
        }
        struct tq_msg ack = {.type = F_ACK, .id = m.id};
        if (!send_msg(fd, &ack))
            break;
        atomic_store_explicit(&w.slot->busy, 0, RLX);
        bump(&w.slot->tasks, 1);
        if (atomic_load_explicit(&w.slot->retire, RLX)) {
            end = TRACE_DONE | TRACE_NOTE(N_RETIRED);
            break;
        }
    }
out:
    if (fd >= 0)
        close(fd);
    worker_state(&w, end, 0);
}

/* ---- the supervisor (a thread of conctui's process) ---- */

/* Fork a child that runs the broker (slot < 0) or the worker of a slot. */
static pid_t fork_child(struct tq_state *st, int slot)
{
    pid_t parent = getpid();
    pid_t pid = fork();
    if (pid != 0)
        return pid;
    scene_child_enter();
    if (getppid() != parent)
        _exit(1);
    /* The front's end of its connection is not the child's business. */
    close(st->front_fd);
    if (slot < 0) {
        broker_main(st, st->listen_fd);
    } else {
        if (st->listen_fd >= 0)
            close(st->listen_fd);
        worker_main(st, slot);
    }
    _exit(0);
}

static void super_spawn(struct tq_state *st, int s)
{
    struct tq_slot *sl = &st->shm->slot[s];
    char name[TRACE_NAME_MAX];
    if (sl->lane < 0) {
        snprintf(name, sizeof name, N_("worker %d"), s);
        sl->lane = trace_lane_add(name, TRACE_LANE_STATE, 0);
        if (sl->lane < 0)
            return;
    } else if (st->killed[s] && st->new_lanes < MAXW) {
        /*
         * The replacement of a killed worker gets a lane of its own, so the
         * killed one's lane keeps showing where it died (a few, then slots reuse).
         */
        snprintf(name, sizeof name, N_("worker %d #%d"), s, ++st->restarts[s] + 1);
        int lane = trace_lane_add(name, TRACE_LANE_STATE, 0);
        if (lane >= 0) {
            sl->lane = lane;
            st->new_lanes++;
        }
    }
    atomic_store_explicit(&sl->busy, 0, RLX);
    atomic_store_explicit(&sl->retire, 0, RLX);
    atomic_store_explicit(&sl->registered, 0, RLX);
    st->killed[s] = 0;
    pid_t pid = fork_child(st, s);
    if (pid < 0) {
        scene_note(st->ctx, _("could not fork a worker: %s"), strerror(errno));
        return;
    }
    atomic_store_explicit(&sl->pid, pid, RLX);
    bump(&st->spawned, 1);
}

/*
 * A worker left without the broker taking its HELLO (the broker is full or
 * gone): wait before the next fork, twice as long each time, and after
 * SPAWN_FAILS_MAX in a row stop until the `workers` parameter changes.
 */
static void super_spawn_failed(struct tq_state *st, int s)
{
    st->spawn_fails++;
    if (st->spawn_fails >= SPAWN_FAILS_MAX) {
        st->spawn_stopped = 1;
        st->spawn_want = scene_param(st->ctx, P_WORKERS);
        scene_note(st->ctx,
                   _("worker %d could not register with the broker %d times in a row: no more "
                     "workers are started until the workers parameter changes"),
                   s, st->spawn_fails);
        return;
    }
    st->next_spawn = trace_now_ns() + (SPAWN_BACKOFF_NS << (st->spawn_fails - 1));
}

/* Reap whatever has exited; a killed worker's lane says so. */
static void super_reap(struct tq_state *st)
{
    int status;
    if (st->broker_pid > 0 && waitpid(st->broker_pid, &status, WNOHANG) == st->broker_pid) {
        st->broker_pid = 0;
        if (!scene_stopping(st->ctx)) {
            st->broker_dead = 1;
            scene_note(st->ctx, "%s", _("the broker died: no new workers are started"));
        }
    }
    for (int s = 0; s < MAXW; s++) {
        struct tq_slot *sl = &st->shm->slot[s];
        pid_t pid = atomic_load_explicit(&sl->pid, RLX);
        if (pid <= 0 || waitpid(pid, &status, WNOHANG) != pid)
            continue;
        if (WIFSIGNALED(status))
            trace_emit(sl->lane, TRACE_FAILED | TRACE_NOTE(N_KILLED),
                       (uint32_t)atomic_load_explicit(&sl->busy, RLX));
        if (atomic_load_explicit(&sl->registered, RLX))
            st->spawn_fails = 0;
        else if (!scene_stopping(st->ctx) && !atomic_load_explicit(&sl->retire, RLX) &&
                 !st->killed[s])
            super_spawn_failed(st, s);
        if (atomic_load_explicit(&sl->retire, RLX))
            bump(&st->retired, 1);
        atomic_store_explicit(&sl->busy, 0, RLX);
        atomic_store_explicit(&sl->pid, 0, RLX);
    }
}

/* Kill one worker that is in the middle of a task; false if none is. */
static bool super_kill_busy(struct tq_state *st)
{
    int pick = -1;
    unsigned start = (unsigned)(trace_now_ns() / 1000 % MAXW);
    for (int k = 0; k < MAXW && pick < 0; k++) {
        int s = (int)((start + (unsigned)k) % MAXW);
        struct tq_slot *sl = &st->shm->slot[s];
        if (atomic_load_explicit(&sl->pid, RLX) > 0 && !st->killed[s] &&
            atomic_load_explicit(&sl->busy, RLX))
            pick = s;
    }
    if (pick < 0)
        return false;
    struct tq_slot *sl = &st->shm->slot[pick];
    pid_t pid = atomic_load_explicit(&sl->pid, RLX);
    uint64_t task = atomic_load_explicit(&sl->busy, RLX);
    kill(pid, SIGKILL);
    st->killed[pick] = 1;
    bump(&st->kills, 1);
    scene_note(st->ctx, _("killed worker %d (pid %d) in the middle of task %llu"), pick, (int)pid,
               (unsigned long long)task);
    return true;
}

/* Start or retire workers until as many live as the parameter asks. */
static void super_adjust(struct tq_state *st)
{
    int want = (int)scene_param(st->ctx, P_WORKERS), alive = 0, staying = 0;
    for (int s = 0; s < MAXW; s++) {
        struct tq_slot *sl = &st->shm->slot[s];
        if (atomic_load_explicit(&sl->pid, RLX) > 0) {
            alive++;
            /* A killed worker's slot is refilled once it has been reaped. */
            staying += !atomic_load_explicit(&sl->retire, RLX);
        }
    }
    atomic_store_explicit(&st->live, (uint32_t)alive, RLX);
    if (st->spawn_stopped && want != st->spawn_want)
        st->spawn_stopped = st->spawn_fails = 0;
    bool may_fork = !st->broker_dead && !st->spawn_stopped && trace_now_ns() >= st->next_spawn;
    for (int s = 0; s < MAXW && staying < want && may_fork; s++)
        if (atomic_load_explicit(&st->shm->slot[s].pid, RLX) == 0) {
            super_spawn(st, s);
            staying++;
        }
    /* Retire the highest slots first, idle ones before busy ones. */
    for (int pass = 0; pass < 2 && staying > want; pass++)
        for (int s = MAXW - 1; s >= 0 && staying > want; s--) {
            struct tq_slot *sl = &st->shm->slot[s];
            if (atomic_load_explicit(&sl->pid, RLX) > 0 &&
                !atomic_load_explicit(&sl->retire, RLX) && !st->killed[s] &&
                (pass == 1 || !atomic_load_explicit(&sl->busy, RLX))) {
                atomic_store_explicit(&sl->retire, 1, RLX);
                staying--;
            }
        }
}

static void *super_main(void *p)
{
    struct tq_state *st = p;
    struct scene_ctx *ctx = st->ctx;
    st->broker_pid = fork_child(st, -1);
    close(st->listen_fd);
    st->listen_fd = -1;
    if (st->broker_pid < 0) {
        scene_note(ctx, _("could not fork the broker: %s"), strerror(errno));
        st->broker_pid = 0;
        st->broker_dead = 1;
    }
    while (!scene_stopping(ctx)) {
        super_reap(st);
        super_adjust(st);
        /*
         * While the user has frozen the workers, kills wait: a process
         * killed while parked at the step gate would stay counted there.
         */
        if (trace_frozen()) {
            struct timespec d = {0, 5000000};
            nanosleep(&d, NULL);
            continue;
        }
        /* Relaxed: a kill request carries no data, it is only counted. */
        uint32_t req = atomic_exchange_explicit(&st->kill_req, 0, RLX);
        for (uint32_t i = 0; i < req; i++)
            if (!super_kill_busy(st))
                scene_note(ctx, "%s", _("no worker is in the middle of a task: nothing killed"));
        int64_t chaos = scene_param(ctx, P_CHAOS_MS);
        uint64_t now = trace_now_ns();
        if (chaos <= 0)
            st->next_chaos = 0;
        else if (!st->next_chaos)
            st->next_chaos = now + (uint64_t)chaos * 1000000;
        else if (now >= st->next_chaos && super_kill_busy(st))
            st->next_chaos = now + (uint64_t)chaos * 1000000;
        struct timespec d = {0, 5000000};
        nanosleep(&d, NULL);
    }
    pid_t pids[MAXW + 1];
    int n = 0;
    if (st->broker_pid > 0)
        pids[n++] = st->broker_pid;
    for (int s = 0; s < MAXW; s++) {
        pid_t pid = atomic_load_explicit(&st->shm->slot[s].pid, RLX);
        if (pid > 0)
            pids[n++] = pid;
        atomic_store_explicit(&st->shm->slot[s].pid, 0, RLX);
        atomic_store_explicit(&st->shm->slot[s].busy, 0, RLX);
    }
    st->broker_pid = 0;
    scene_reap(pids, &n);
    atomic_store_explicit(&st->live, 0, RLX);
    return NULL;
}

/* ---- the front (a thread of conctui's process) ---- */

static void front_state(struct tq_state *st, unsigned s, uint32_t arg)
{
    if (s == st->fcur)
        return;
    st->fcur = s;
    trace_emit(st->front_lane, s, arg);
}

/* The window entry of task id, or NULL when the id is no longer (or not yet) in it. */
static uint8_t *front_entry(struct tq_state *st, uint64_t id)
{
    uint32_t k = (uint32_t)(id % TWIN);
    return id && st->tid[k] == id ? &st->tflags[k] : NULL;
}

/* One frame from the broker; true after its goodbye. */
static bool front_handle(struct tq_state *st, const struct tq_msg *m, const uint64_t *ids,
                         uint32_t nids)
{
    uint64_t now = trace_now_ns();
    if (m->type == F_BYE)
        return true;
    if (m->type == F_HELD) {
        for (uint32_t i = 0; i < nids; i++) {
            uint8_t *h = front_entry(st, ids[i]);
            if (h)
                *h |= T_HELD;
        }
        return false;
    }
    uint8_t *f = front_entry(st, m->id);
    uint64_t t0 = f ? st->treq[m->id % TWIN] : now;
    switch (m->type) {
    case F_ACCEPTED:
        if (!f)
            break;
        *f |= T_ACCEPTED;
        bump(&st->submitted, 1);
        hist_record(&st->req_lat, now - t0);
        break;
    case F_REJECTED:
        if (f)
            *f |= T_REJECTED;
        bump(&st->rejected, 1);
        break;
    case F_RESULT:
        if (m->value != tq_answer(m->id))
            bump(&st->bad_results, 1);
        /* Out of the window: its entry was reused, so it was settled long ago. */
        if (!f || (*f & T_DONE)) {
            bump(&st->duplicates, 1);
            break;
        }
        front_state(st, TRACE_RUN | TRACE_NOTE(N_FRONT_NOTIFY), (uint32_t)m->id);
        *f |= T_DONE;
        bump(&st->completed, 1);
        hist_record(&st->done_lat, now - t0);
        break;
    default:
        break;
    }
    return false;
}

/* Read what the broker sent; -1 when it closed or said goodbye. */
static int front_read(struct tq_state *st)
{
    uint64_t ids[HELD_PER_FRAME];
    for (;;) {
        ssize_t n = rbuf_fill(st->front_fd, &st->fin);
        struct tq_msg m;
        uint32_t nids = 0;
        int rc;
        while ((rc = frame_next(&st->fin, &m, ids, &nids)) == 1)
            if (front_handle(st, &m, ids, nids))
                return -1;
        if (rc < 0 || n == 0 || n == -1)
            return -1;
        if (n == -2)
            return 0;
    }
}

/*
 * Send a frame without ever blocking on a broker that is itself waiting for
 * the front to read: while the frame does not fit, read what is coming back.
 */
static bool front_send(struct tq_state *st, const struct tq_msg *m)
{
    unsigned char b[4 + sizeof *m];
    size_t len = 0, off = 0;
    frame_put(b, &len, sizeof b, m, NULL, 0);
    while (off < len) {
        ssize_t w = send(st->front_fd, b + off, len - off, MSG_NOSIGNAL | MSG_DONTWAIT);
        if (w > 0) {
            off += (size_t)w;
            continue;
        }
        if (w < 0 && errno == EINTR)
            continue;
        if (w == 0 || (errno != EAGAIN && errno != EWOULDBLOCK) || scene_stopping(st->ctx))
            return false;
        struct pollfd pf = {st->front_fd, POLLIN | POLLOUT, 0};
        if (poll(&pf, 1, SLICE_MS) > 0 && (pf.revents & POLLIN) && front_read(st) < 0)
            return false;
    }
    return true;
}

/* After the broker's goodbye: every accepted task is completed or still held by it. */
static void front_reconcile(struct tq_state *st)
{
    uint64_t lost = 0, held = 0;
    for (uint32_t k = 0; k < TWIN; k++) {
        uint8_t f = st->tflags[k];
        if (!(f & T_ACCEPTED) || (f & T_DONE))
            continue;
        if (f & T_HELD)
            held++;
        else
            lost++;
    }
    atomic_store_explicit(&st->lost, lost, RLX);
    atomic_store_explicit(&st->held_at_stop, held, RLX);
    /* Release pairs with the acquire in tq_stats: the two figures are final. */
    atomic_store_explicit(&st->reconciled, 1, memory_order_release);
}

static void *front_main(void *p)
{
    struct tq_state *st = p;
    struct scene_ctx *ctx = st->ctx;
    st->fcur = TRACE_IDLE;
    bool open = client_hello(st, NULL, st->front_fd, &st->fin, ROLE_FRONT, 0) > 0;
    if (!open && !scene_stopping(ctx))
        scene_note(ctx, "%s", _("the broker did not take the front's hello"));
    uint64_t next = trace_now_ns();
    while (open && !scene_stopping(ctx)) {
        int64_t rate = scene_param(ctx, P_RATE);
        uint64_t now = trace_now_ns();
        if (rate > 0 && now >= next) {
            /* A request arrives: hand it to the broker and answer when it is queued. */
            uint64_t id = st->next_id;
            uint32_t k = (uint32_t)(id % TWIN);
            uint8_t old = st->tflags[k];
            uint64_t period = 1000000000ull / (uint64_t)rate;
            st->next_id++;
            bump(&st->requests, 1);
            if ((old & T_SENT) && !(old & (T_DONE | T_REJECTED))) {
                /* The window is full of unsettled tasks: the request is turned away. */
                bump(&st->rejected, 1);
                next = next + period < now ? now + period : next + period;
                continue;
            }
            front_state(st, TRACE_RUN | TRACE_NOTE(N_FRONT_SUBMIT), (uint32_t)id);
            st->tid[k] = id;
            st->treq[k] = now;
            st->tflags[k] = T_SENT;
            struct tq_msg m = {.type = F_SUBMIT,
                               .id = id,
                               .work_us = (uint32_t)scene_param(ctx, P_TASK_MS) * 1000};
            if (!front_send(st, &m))
                break;
            next = next + period < now ? now + period : next + period;
            continue;
        }
        /* Wait for a result until the next request is due (at most a slice). */
        uint64_t wait = SLICE_MS * 1000000ull;
        if (rate > 0 && next - now < wait)
            wait = next - now;
        if (rate <= 0)
            next = now;
        front_state(st, TRACE_IO | TRACE_NOTE(N_FRONT_WAIT), 0);
        struct pollfd pf = {st->front_fd, POLLIN, 0};
        struct timespec ts = {(time_t)(wait / 1000000000u), (long)(wait % 1000000000u)};
        if (ppoll(&pf, 1, &ts, NULL) > 0 && front_read(st) < 0)
            open = false;
    }
    /* Stopping: read until the broker's goodbye so every result and held id is in. */
    uint64_t deadline = trace_now_ns() + DRAIN_NS;
    front_state(st, TRACE_IO | TRACE_NOTE(N_FRONT_WAIT), 0);
    while (open && trace_now_ns() < deadline) {
        struct pollfd pf = {st->front_fd, POLLIN, 0};
        if (poll(&pf, 1, SLICE_MS) > 0 && front_read(st) < 0)
            break;
    }
    front_reconcile(st);
    front_state(st, TRACE_DONE | TRACE_NOTE(N_FINISHED), 0);
    return NULL;
}

/* ---- the scene table hooks ---- */

static void tq_stop(struct scene_ctx *ctx);

static int tq_listen(struct tq_state *st)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -errno;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = 0};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof a;
    if (bind(fd, (struct sockaddr *)&a, sizeof a) < 0 || listen(fd, 64) < 0 ||
        getsockname(fd, (struct sockaddr *)&a, &len) < 0) {
        int err = errno;
        close(fd);
        return -err;
    }
    st->listen_fd = fd;
    st->port = ntohs(a.sin_port);
    return 0;
}

static int tq_start(struct scene_ctx *ctx)
{
    struct tq_state *st = calloc(1, sizeof *st);
    if (!st)
        return -ENOMEM;
    ctx->priv = st;
    st->ctx = ctx;
    st->listen_fd = st->front_fd = -1;
    st->next_id = 1;
    if (getrandom(st->key, sizeof st->key, 0) != (ssize_t)sizeof st->key) {
        free(st);
        ctx->priv = NULL;
        return -EIO;
    }
    hist_reset(&st->req_lat);
    hist_reset(&st->done_lat);
    int rc = 0;
    void *m =
        mmap(NULL, sizeof *st->shm, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_ANONYMOUS, -1, 0);
    st->bm = calloc(1, sizeof *st->bm);
    st->tflags = calloc(TWIN, sizeof *st->tflags);
    st->treq = calloc(TWIN, sizeof *st->treq);
    st->tid = calloc(TWIN, sizeof *st->tid);
    if (m == MAP_FAILED || !st->bm || !st->tflags || !st->treq || !st->tid) {
        rc = m == MAP_FAILED ? -errno : -ENOMEM;
        if (m != MAP_FAILED)
            munmap(m, sizeof *st->shm);
        goto fail;
    }
    st->shm = m;
    rc = tq_listen(st);
    if (rc)
        goto fail;
    st->front_fd = tcp_connect(st->port);
    if (st->front_fd < 0) {
        rc = -errno;
        goto fail;
    }
    st->front_lane = trace_lane_add(N_("front"), TRACE_LANE_STATE, 0);
    st->broker_lane = trace_lane_add(N_("broker"), TRACE_LANE_STATE, 0);
    st->gauge_lane = trace_lane_add(N_("tasks queued"), TRACE_LANE_GAUGE, 32);
    st->redo_lane = trace_lane_add(N_("re-delivered"), TRACE_LANE_GAUGE, 4);
    char name[TRACE_NAME_MAX];
    for (int s = 0; s < MAXW; s++) {
        st->shm->slot[s].lane = -1;
        if (s < (int)scene_param(ctx, P_WORKERS)) {
            snprintf(name, sizeof name, N_("worker %d"), s);
            st->shm->slot[s].lane = trace_lane_add(name, TRACE_LANE_STATE, 0);
        }
    }
    if (st->gauge_lane < 0 || st->redo_lane < 0) {
        rc = -ENOSPC;
        goto fail;
    }
    rc = -pthread_create(&st->super, NULL, super_main, st);
    st->super_up = rc == 0;
    if (!rc) {
        rc = -pthread_create(&st->front, NULL, front_main, st);
        st->front_up = rc == 0;
    }
    if (rc)
        goto fail;
    scene_note(ctx, _("broker on 127.0.0.1:%u"), (unsigned)st->port);
    return 0;
fail:
    scene_note(ctx, _("could not start: %s"), strerror(-rc));
    tq_stop(ctx);
    return rc;
}

static void tq_stop(struct scene_ctx *ctx)
{
    struct tq_state *st = ctx->priv;
    if (!st)
        return;
    scene_request_stop(ctx);
    if (st->front_up)
        pthread_join(st->front, NULL);
    st->front_up = 0;
    if (st->super_up)
        pthread_join(st->super, NULL);
    st->super_up = 0;
    if (st->front_fd >= 0)
        close(st->front_fd);
    if (st->listen_fd >= 0)
        close(st->listen_fd);
    st->front_fd = st->listen_fd = -1;
}

static void tq_release(struct scene_ctx *ctx)
{
    struct tq_state *st = ctx->priv;
    if (!st)
        return;
    if (st->shm)
        munmap(st->shm, sizeof *st->shm);
    free(st->bm);
    free(st->tflags);
    free(st->treq);
    free(st->tid);
    free(st);
    ctx->priv = NULL;
}

static int tq_key(struct scene_ctx *ctx, int key)
{
    struct tq_state *st = ctx->priv;
    if (!st)
        return 0;
    int64_t w = scene_param(ctx, P_WORKERS);
    switch (key) {
    case 'x':
        /* Relaxed: the supervisor only counts requests. */
        atomic_fetch_add_explicit(&st->kill_req, 1, RLX);
        return 1;
    case ']':
        if (w < MAXW)
            atomic_store_explicit(&ctx->sh->param[P_WORKERS], w + 1, RLX);
        return 1;
    case '[':
        if (w > 0)
            atomic_store_explicit(&ctx->sh->param[P_WORKERS], w - 1, RLX);
        return 1;
    default:
        return 0;
    }
}

static void tq_stats(struct scene_ctx *ctx, struct scene_stats *out)
{
    struct tq_state *st = ctx->priv;
    if (!st || !st->shm)
        return;
    struct tq_shm *sh = st->shm;
    double secs = (double)(trace_now_ns() - ctx->t_start) / 1e9;
    double span = secs > 0 ? secs : 1;
    uint64_t submitted = atomic_load_explicit(&st->submitted, RLX);
    uint64_t completed = atomic_load_explicit(&st->completed, RLX);
    scene_stat(out, N_("requests_s"), (double)submitted / span, "req/s");
    scene_stat(out, N_("req_p50_us"), (double)hist_percentile(&st->req_lat, 0.5) / 1e3, "us");
    scene_stat(out, N_("req_p99_us"), (double)hist_percentile(&st->req_lat, 0.99) / 1e3, "us");
    scene_stat(out, N_("done_p50_ms"), (double)hist_percentile(&st->done_lat, 0.5) / 1e6, "ms");
    scene_stat(out, N_("done_p99_ms"), (double)hist_percentile(&st->done_lat, 0.99) / 1e6, "ms");
    scene_stat(out, N_("tasks_s"), (double)completed / span, "tasks/s");
    scene_stat(out, N_("submitted"), (double)submitted, "tasks");
    scene_stat(out, N_("completed"), (double)completed, "tasks");
    scene_stat(out, N_("outstanding"), (double)(submitted - completed), "tasks");
    scene_stat(out, N_("queued"), (double)atomic_load_explicit(&sh->queued, RLX), "tasks");
    scene_stat(out, N_("in_flight"), (double)atomic_load_explicit(&sh->unacked, RLX), "tasks");
    scene_stat(out, N_("redeliveries"), (double)atomic_load_explicit(&sh->redeliveries, RLX), "");
    scene_stat(out, N_("duplicates"), (double)atomic_load_explicit(&st->duplicates, RLX), "");
    scene_stat(out, N_("rejected"), (double)atomic_load_explicit(&st->rejected, RLX), "");
    scene_stat(out, N_("bad_results"), (double)atomic_load_explicit(&st->bad_results, RLX), "");
    scene_stat(out, N_("kills"), (double)atomic_load_explicit(&st->kills, RLX), "");
    scene_stat(out, N_("workers"), (double)atomic_load_explicit(&st->live, RLX), "");
    scene_stat(out, N_("spawned"), (double)atomic_load_explicit(&st->spawned, RLX), "");
    scene_stat(out, N_("retired"), (double)atomic_load_explicit(&st->retired, RLX), "");
    scene_stat(out, N_("broker_results"), (double)atomic_load_explicit(&sh->results, RLX), "");
    scene_stat(out, N_("refused_conns"), (double)atomic_load_explicit(&sh->refused_conns, RLX), "");
    scene_stat(out, N_("refused_frames"), (double)atomic_load_explicit(&sh->refused_frames, RLX),
               "");
    if (atomic_load_explicit(&st->reconciled, memory_order_acquire)) {
        scene_stat(out, N_("held_at_stop"), (double)atomic_load_explicit(&st->held_at_stop, RLX),
                   "tasks");
        scene_stat(out, N_("lost"), (double)atomic_load_explicit(&st->lost, RLX), "tasks");
    }
}

static const struct scene_param tq_params[] = {
    [P_WORKERS] = {"workers", N_("worker processes (changes live)"), 0, MAXW, 3, "", 0},
    [P_RATE] = {"rate", N_("requests per second at the front (0: no new requests)"), 0, 5000, 6,
                "req/s", 0},
    [P_TASK_MS] = {"task_ms", N_("work per task"), 0, 10000, 300, "ms", 0},
    [P_CPU] = {"cpu", N_("tasks burn CPU instead of waiting on a slow call"), 0, 1, 0, "",
               SCENE_P_BOOL},
    [P_ACK_MS] = {"ack_ms", N_("time between storing a result and acknowledging the task"), 0, 5000,
                  0, "ms", 0},
    [P_CHAOS_MS] = {"chaos_ms", N_("kill a busy worker this often (0: never)"), 0, 60000, 0, "ms",
                    0},
};

static const struct scene_key tq_keys[] = {
    {'x', N_("kill a worker in the middle of a task (SIGKILL)"), 0},
    {']', N_("add a worker"), 0},
    {'[', N_("retire a worker (it finishes its task first)"), 0},
};

static const struct scene_mode tq_modes[] = {
    {"celery", N_("front, broker, workers over TCP"),
     N_("A web server must answer in milliseconds, but some work takes seconds: sending "
        "mail, resizing a picture, calling a slow service. So the front does not do it. It "
        "hands the task to a broker, which holds a queue, and answers the client at once "
        "('accepted'); worker processes take tasks from the broker, and the client is told "
        "when the result is in. Compare the request latency (microseconds) with the "
        "completion latency (the task's own time plus the wait in the queue). Every box here "
        "is a real process talking TCP over 127.0.0.1. The broker's promise: a task it has "
        "accepted is not forgotten. It gives a worker one task at a time and keeps it until "
        "the worker acknowledges it, after the result is stored (acknowledge late). Press x "
        "to kill a worker mid-task: its connection closes, the broker puts the task back in "
        "the queue, another worker runs it. That is at-least-once delivery: a worker killed "
        "after storing its result but before its acknowledgement (raise ack_ms) makes the "
        "task run twice, so the result store keeps one result per task id and the client "
        "still hears of each task exactly once. Add and retire workers with ] and [."),
     .ns_per_col = 20 * SCENE_MS},
};

/* How the figures read on screen (see struct scene_figure); the JSON keys stay the names. */
static const struct scene_figure tq_figures[] = {
    {.name = "requests_s", .label = N_("requests"), .flags = FIG_HEADLINE},
    {.name = "tasks_s", .label = N_("tasks done"), .flags = FIG_HEADLINE},
    {.name = "outstanding", .label = N_("not done yet"), .flags = FIG_HEADLINE},
    {.name = "req_p50_us", .label = N_("answer p50")},
    {.name = "req_p99_us", .label = N_("answer p99")},
    {.name = "done_p50_ms", .label = N_("result p50")},
    {.name = "done_p99_ms", .label = N_("result p99")},
    {.name = "submitted", .label = N_("submitted"), .fmt = FIG_INT},
    {.name = "completed", .label = N_("completed"), .fmt = FIG_INT},
    {.name = "queued", .label = N_("in the broker")},
    {.name = "in_flight", .label = N_("unacknowledged")},
    {.name = "redeliveries", .label = N_("redelivered"), .fmt = FIG_INT},
    {.name = "duplicates", .label = N_("run twice"), .fmt = FIG_INT},
    {.name = "rejected", .label = N_("rejected"), .fmt = FIG_INT},
    {.name = "bad_results", .label = N_("bad results"), .fmt = FIG_INT},
    {.name = "kills", .label = N_("workers killed"), .fmt = FIG_INT},
    {.name = "workers", .label = N_("workers"), .fmt = FIG_INT},
    {.name = "spawned", .label = N_("workers started"), .fmt = FIG_INT},
    {.name = "retired", .label = N_("workers retired"), .fmt = FIG_INT},
    {.name = "broker_results", .label = N_("results stored"), .fmt = FIG_INT},
    {.name = "refused_conns", .label = N_("connections refused"), .fmt = FIG_INT},
    {.name = "refused_frames", .label = N_("frames refused"), .fmt = FIG_INT},
    {.name = "held_at_stop", .label = N_("held at stop")},
    {.name = "lost", .label = N_("lost")},
};

const struct scene_entry scene_taskqueue = {
    .name = "taskqueue",
    .title = N_("Distributed task queue"),
    .summary = N_("a web front, a broker and worker processes, with acknowledge-late delivery"),
    .modes = tq_modes,
    .nmodes = 1,
    .params = tq_params,
    .nparams = (int)(sizeof tq_params / sizeof tq_params[0]),
    .keys = tq_keys,
    .nkeys = (int)(sizeof tq_keys / sizeof tq_keys[0]),
    .notes = tq_notes,
    .nnotes = (int)(sizeof tq_notes / sizeof tq_notes[0]),
    .start = tq_start,
    .stop = tq_stop,
    .release = tq_release,
    .key = tq_key,
    .stats = tq_stats,
    .figures = tq_figures,
    .nfigures = (int)(sizeof tq_figures / sizeof tq_figures[0]),
};
